"""Pilots: what flies an evaluation episode — a trained policy, the privileged expert, or
uniform random commands (the floor every learned policy should clear).

A pilot is reset at the start of each episode with the episode's seed and then gives one
command per observation: float32 [vx, vy, vz, yaw_rate] in the heading frame (m/s, rad/s).
"""
from __future__ import annotations

import zlib
from typing import Protocol

import gymnasium as gym
import numpy as np

from lnn_control.envs import expert_action
from lnn_control.policy import Policy


class Pilot(Protocol):
    def reset(self, seed: int) -> None: ...

    def act(self, observation: dict, env: gym.Env) -> np.ndarray: ...


class PolicyPilot:
    """A trained policy, seeing only what a real drone would: camera, IMU and elapsed time."""

    def __init__(self, policy: Policy):
        self.policy = policy

    def reset(self, seed: int) -> None:
        self.policy.reset()

    def act(self, observation: dict, env: gym.Env) -> np.ndarray:
        return self.policy.step(observation["image"], observation["imu"], float(observation["dt"][0]))


class ExpertPilot:
    """The privileged expert (it knows the world's layout and the target's position)."""

    def reset(self, seed: int) -> None:
        pass

    def act(self, observation: dict, env: gym.Env) -> np.ndarray:
        return expert_action(env)


class RandomPilot:
    """Independent uniform commands within the action space, reproducible from the seed."""

    def __init__(self):
        self.rng = np.random.default_rng()

    def reset(self, seed: int) -> None:
        self.rng = np.random.default_rng([int(seed), zlib.crc32(b"random pilot")])

    def act(self, observation: dict, env: gym.Env) -> np.ndarray:
        space = env.action_space
        return self.rng.uniform(space.low, space.high).astype(np.float32)
