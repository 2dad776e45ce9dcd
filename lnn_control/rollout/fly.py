"""The one episode loop: reset the world from the seed, let the pilot decide, step, until the
episode ends; observers watch every step.

    outcome = fly(env, pilot, seed, observers=[BagRecorder(...), ...], max_seconds=None, stop=None)

For each control step, in this order: every observer's `observed(env, observation, info)` (the
observation the pilot is about to see: publish it, film it), the pilot's decision, every
observer's `decided(env, observation, info, decision)` (record the frame with the label, log
the command), then `env.step(decision.command)`. The episode ends when the environment says
so (success, collision, time limit), after `max_seconds` of simulated time, or when `stop()`
returns true (checked after each step); then every observer's `ended(env, observation, info,
outcome)`. The outcome (`Outcome.from_flight`) is made here, once per episode, from the last
`info` and the positions after each decision. `env` is any wrapping of a `NavEnv` (shifts
included).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import gymnasium as gym

from lnn_control.envs.outcome import Outcome
from lnn_control.rollout.pilots import Decision, Pilot


class Observer(Protocol):
    """Watches an episode; every method is optional (see `ObserverBase`)."""

    def started(self, env: gym.Env, observation: dict, info: dict, seed: int) -> None: ...

    def observed(self, env: gym.Env, observation: dict, info: dict) -> None: ...

    def decided(self, env: gym.Env, observation: dict, info: dict, decision: Decision) -> None: ...

    def ended(self, env: gym.Env, observation: dict, info: dict, outcome: Outcome) -> None: ...


class ObserverBase:
    """An observer that does nothing: subclass it and override what you need."""

    def started(self, env: gym.Env, observation: dict, info: dict, seed: int) -> None:
        pass

    def observed(self, env: gym.Env, observation: dict, info: dict) -> None:
        pass

    def decided(self, env: gym.Env, observation: dict, info: dict, decision: Decision) -> None:
        pass

    def ended(self, env: gym.Env, observation: dict, info: dict, outcome: Outcome) -> None:
        pass


def fly(env: gym.Env, pilot: Pilot, seed: int, observers: Sequence[Observer] = (),
        max_seconds: float | None = None, stop: Callable[[], bool] | None = None) -> Outcome:
    """Fly one episode of `env` from `env.reset(seed=seed)` with `pilot`; its outcome."""
    observation, info = env.reset(seed=seed)
    pilot.reset(env, seed)
    positions = [info["position"]]
    for observer in observers:
        observer.started(env, observation, info, seed)
    while True:
        for observer in observers:
            observer.observed(env, observation, info)
        decision = pilot.act(observation, env)
        for observer in observers:
            observer.decided(env, observation, info, decision)
        observation, _, terminated, truncated, info = env.step(decision.command)
        positions.append(info["position"])
        if terminated or truncated:
            stopped = False
            break
        if (max_seconds is not None and info["sim_time"] >= max_seconds - 1e-9) or (stop is not None and stop()):
            stopped = True
            break
    outcome = Outcome.from_flight(info, positions, stopped)
    for observer in observers:
        observer.ended(env, observation, info, outcome)
    return outcome
