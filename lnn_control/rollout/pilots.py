"""Pilots: what flies an episode, one decision per observation.

A pilot is reset at the start of each episode (after the environment) and then, for every
observation, decides the `command` to fly — float32 [vx, vy, vz, yaw_rate] in the heading
frame (m/s, rad/s) — and optionally the `label` it would teach: the command a recorded bag
should hold as the demonstration (DAgger: the expert's, while the learner flies). Pilots that
fly the privileged expert read the state of the environment (`env.unwrapped`); the others see
only the observation, as a real drone would.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import gymnasium as gym
import numpy as np

from lnn_control.envs import expert_action

if TYPE_CHECKING:  # the policy's runtime (torch) is loaded only by those who fly one
    from lnn_control.policy import Policy
    from lnn_control.policy.slow_down import SlowDown


@dataclass(frozen=True)
class Decision:
    """What a pilot decided for one observation: the `command` flown, the `label` a recording
    keeps as the demonstration (None: the command itself), whether an operator who had
    taken over from the policy flew it (`intervention`), and the policy's `uncertainty` about
    it (`Policy.uncertainty`: dimensionless, 0 = an ensemble's members agree; None when the
    pilot has no measure of it)."""

    command: np.ndarray
    label: np.ndarray | None = None
    intervention: bool = False
    uncertainty: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "command", np.asarray(self.command, np.float32).reshape(4))
        if self.label is not None:
            object.__setattr__(self, "label", np.asarray(self.label, np.float32).reshape(4))

    @property
    def taught(self) -> np.ndarray:
        """The command a recording keeps on `cmd_vel`."""
        return self.command if self.label is None else self.label


class Pilot(Protocol):
    def reset(self, env: gym.Env, seed: int) -> None: ...

    def act(self, observation: dict, env: gym.Env) -> Decision: ...


class PolicyPilot:
    """A trained policy, seeing only what a real drone would: camera, IMU and elapsed time.
    With `slow_down` (an ensemble's), its speed limits shrink as its uncertainty rises and it
    hovers above the curve's `stop`, as `policy_node` does with `slow_down:=true`."""

    def __init__(self, policy: Policy, slow_down: SlowDown | None = None):
        if slow_down is not None and policy.spec.ensemble == 1:
            raise ValueError("slowing down needs a policy with an uncertainty: an ensemble (train --ensemble K)")
        self.policy = policy
        self.slow_down = slow_down

    def reset(self, env: gym.Env, seed: int) -> None:
        self.policy.reset()

    def act(self, observation: dict, env: gym.Env) -> Decision:
        command = self.policy.step(observation["image"], observation["imu"], float(observation["dt"][0]))
        uncertainty = self.policy.uncertainty
        if self.slow_down is not None:
            spec = self.policy.spec
            command = self.slow_down.limit(command, uncertainty, spec.max_linear_speed, spec.max_yaw_rate)
        return Decision(command, uncertainty=uncertainty)


class ExpertPilot:
    """The privileged expert (it knows the world's layout and the target's position)."""

    def reset(self, env: gym.Env, seed: int) -> None:
        pass

    def act(self, observation: dict, env: gym.Env) -> Decision:
        return Decision(expert_action(env))


class RandomPilot:
    """Independent uniform commands within the action space, reproducible from the seed: the
    floor every learned policy should clear."""

    def __init__(self):
        self.rng = np.random.default_rng()

    def reset(self, env: gym.Env, seed: int) -> None:
        self.rng = np.random.default_rng([int(seed), zlib.crc32(b"random pilot")])

    def act(self, observation: dict, env: gym.Env) -> Decision:
        space = env.action_space
        return Decision(self.rng.uniform(space.low, space.high).astype(np.float32))


class LearnerPilot:
    """DAgger's pilot: the learner flies, the expert labels every state it reaches. With
    probability `expert_mix` per step (drawn from the episode's seed) the expert's command is
    flown instead."""

    def __init__(self, policy: Policy, expert_mix: float = 0.0):
        self.policy = policy
        self.expert_mix = expert_mix
        self.rng = np.random.default_rng()

    def reset(self, env: gym.Env, seed: int) -> None:
        self.policy.reset()
        self.rng = np.random.default_rng(seed)

    def act(self, observation: dict, env: gym.Env) -> Decision:
        label = expert_action(env)
        flown = self.policy.step(observation["image"], observation["imu"], float(observation["dt"][0]))
        return Decision(label if self.rng.random() < self.expert_mix else flown, label)


class StraightLinePilot:
    """Flies (or drives: a rover's command has vz = 0) straight at the target, nose first,
    ignoring obstacles (privileged: it knows where the target is). The contrast that shows how
    much the obstacles matter."""

    def __init__(self, speed_m_s: float = 1.8):
        self.speed_m_s = speed_m_s

    def reset(self, env: gym.Env, seed: int) -> None:
        pass

    def act(self, observation: dict, env: gym.Env) -> Decision:
        sim = env.unwrapped.sim
        to_target = sim.target_position - sim.position
        heading = math.atan2(to_target[1], to_target[0])
        yaw_error = math.remainder(heading - sim.yaw, math.tau)
        along = self.speed_m_s * max(math.cos(yaw_error), 0.0)
        climb = 0.0 if sim.vehicle == "rover" else np.clip(to_target[2], -0.6, 0.6)
        return Decision(np.array([along, 0.0, climb, np.clip(2 * yaw_error, -1, 1)], np.float32))
