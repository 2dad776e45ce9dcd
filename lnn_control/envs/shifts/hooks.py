"""What shifts read from under the wrappers: the NavEnv and its Simulator.

Only these functions reach past the observation dict: fog renders the depth, motion blur
reads the body rates, wind reads the velocity and drag and applies a force (the Simulator's
hooks for shifts). World shifts use NavEnv's `world_overrides` and `current_world()` directly.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np


def simulator(env: gym.Env):
    """The Simulator under the wrappers."""
    return env.unwrapped.sim


def frame_depth_m(env: gym.Env) -> np.ndarray:
    """Depth (m) of the frame in the latest observation of `env`, HxW float32."""
    _, depth_m = simulator(env).render_camera(with_depth=True)
    return depth_m


def drag_coefficient(env: gym.Env) -> float:
    """The body's quadratic air-drag coefficient, N / (m/s)^2."""
    return float(simulator(env).quadrotor.body_drag_coefficient)


def nominal_dt_s(env: gym.Env) -> float:
    """The control period of the environment (s)."""
    return float(env.unwrapped.control_period_s)
