"""Gymnasium environments (registered on import) and distribution-shift wrappers.

    import gymnasium as gym, lnn_control.envs
    env = gym.make("lnn_control/ForestNav-v0")            # or lnn_control/UrbanNav-v0
    env = gym.make("lnn_control/ForestRover-v0")          # a rover (or UrbanRover-v0)
    env = make_env("forest", shifts=[("fog", 0.5)])       # world name or YAML path, with shifts
    obs, info = env.reset(seed=3)
    obs, reward, terminated, truncated, info = env.step(expert_action(env))
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import gymnasium as gym
import numpy as np

from lnn_control.envs.nav_env import NavEnv
from lnn_control.envs.shifts import SHIFTS, Condition, apply_shifts, load_suite, parse_shift
from lnn_control.sim import TEACHERS, WorldConfig

ENV_IDS = {"forest": "lnn_control/ForestNav-v0", "urban": "lnn_control/UrbanNav-v0"}
ROVER_ENV_IDS = {"forest": "lnn_control/ForestRover-v0", "urban": "lnn_control/UrbanRover-v0"}

for _ids, _vehicle in ((ENV_IDS, "drone"), (ROVER_ENV_IDS, "rover")):
    for _world, _env_id in _ids.items():
        if _env_id not in gym.registry:
            gym.register(id=_env_id, entry_point="lnn_control.envs.nav_env:NavEnv",
                         kwargs={"world": _world, "vehicle": _vehicle})


def make_env(world: WorldConfig | str | Path = "forest", shifts: Sequence[tuple[str, float]] = (),
             render_mode: str | None = None, **kwargs) -> gym.Env:
    """A NavEnv for `world` ("forest", "urban", a YAML path or a WorldConfig), wrapped in `shifts`
    [(name, severity), ...] (see lnn_control.envs.shifts). kwargs go to NavEnv (camera, imu,
    vehicle, ...)."""
    return apply_shifts(NavEnv(world, render_mode=render_mode, **kwargs), list(shifts))


def expert_action(env: gym.Env) -> np.ndarray:
    """The privileged expert's command (float32 [vx, vy, vz, yaw_rate], heading frame) for the
    current state of `env` (any wrapping of a NavEnv)."""
    return env.unwrapped.expert_action()


__all__ = ["Condition", "ENV_IDS", "NavEnv", "ROVER_ENV_IDS", "SHIFTS", "TEACHERS", "apply_shifts", "expert_action",
           "load_suite",
           "make_env", "parse_shift"]
