"""What every distribution shift is: a gymnasium wrapper with a severity and its own generator.

A `Shift` has a `name`, a severity in [0, 1] (0 leaves the environment exactly as it is, 1 is
the strongest version the shift models) and a `Stage`, its place in the physical order that
`apply_shifts` wraps in. Random shifts draw from `self.rng`, seeded at every
`reset(seed=...)` from that seed and the shift's name: the same env seed gives the same shift,
and a shift never draws from the environment's generator (so the world layout is unchanged).

The families' bases: `WorldShift` (a new world description from the next reset),
`ImageShift` (the camera image) and `ImuShift` (every IMU reading of the control period).
Observations are NavEnv's dict: "image" uint8 HxWx3 RGB, "imu" float32 [gx, gy, gz, ax, ay, az]
(rad/s, m/s^2, body frame FLU), "dt" float32 [1] seconds since the previous observation.
"""
from __future__ import annotations

import abc
import zlib
from enum import IntEnum
from typing import ClassVar

import gymnasium as gym
import numpy as np

DEFAULT_SEVERITY = 0.5


class Stage(IntEnum):
    """Where a shift acts, in the order `apply_shifts` wraps (lowest innermost): the world first,
    then the body's dynamics, light on its way to the camera, the optics, the sensors, and last
    the timing of the observation stream."""

    WORLD = 0
    DYNAMICS = 1
    ATMOSPHERE = 2
    ILLUMINATION = 3
    OPTICS = 4
    SENSOR = 5
    DROPS = 6
    LATENCY = 7


def check_severity(name: str, severity: float) -> float:
    """`severity` as a float in [0, 1]; a ValueError naming the shift otherwise."""
    try:
        value = float(severity)
    except (TypeError, ValueError):
        raise ValueError(f"shift {name!r}: severity {severity!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"shift {name!r}: severity {value} is outside [0, 1]")
    return value


class Shift(gym.Wrapper, abc.ABC):
    """Base class: a named shift of given severity with its own seeded random generator."""

    name: ClassVar[str]
    stage: ClassVar[Stage]
    #: The vehicles (`lnn_control.vehicles`) the shift means something for; another is an error.
    vehicles: ClassVar[tuple[str, ...]] = ("drone", "rover")

    def __init__(self, env: gym.Env, severity: float = DEFAULT_SEVERITY):
        super().__init__(env)
        vehicle = env.unwrapped.vehicle
        if vehicle not in self.vehicles:
            raise ValueError(f"shift {self.name!r} does not apply to a {vehicle} (it is for a "
                             f"{' or '.join(self.vehicles)}; see lnn_control.envs.shifts)")
        self.severity = check_severity(self.name, severity)
        self.rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.rng = np.random.default_rng([int(seed), zlib.crc32(self.name.encode())])
        obs, info = self.env.reset(seed=seed, options=options)
        self.start_episode()
        return self.observe(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self.observe(obs), reward, terminated, truncated, info

    def start_episode(self) -> None:
        """Draw this episode's random parameters (after the inner reset)."""

    def observe(self, obs: dict) -> dict:
        """The observation the wrapped env's user sees (a new dict; the input is not modified)."""
        return obs


class WorldShift(Shift):
    """A change of the world description, in effect from the next reset (build-time shift):
    it sets `env.unwrapped.world_overrides[name]`, which NavEnv applies at every reset."""

    stage = Stage.WORLD

    def __init__(self, env: gym.Env, severity: float = DEFAULT_SEVERITY):
        super().__init__(env, severity)
        if self.severity > 0.0:
            base = env.unwrapped
            base.world_overrides[self.name] = self.overrides(base.current_world())

    @abc.abstractmethod
    def overrides(self, world) -> dict:
        """`WorldConfig.with_overrides` keyword arguments for this shift at this severity."""


class ImageShift(Shift):
    """A shift of the camera image only."""

    def observe(self, obs: dict) -> dict:
        if self.severity == 0.0:
            return obs
        return {**obs, "image": self.shift_image(obs["image"])}

    @abc.abstractmethod
    def shift_image(self, image: np.ndarray) -> np.ndarray:
        """The shifted uint8 HxWx3 RGB image."""


class ImuShift(Shift):
    """A shift of the IMU readings: the frame's obs["imu"] and every reading of the control
    period in info["imu_samples"] (NavEnv), shifted together, so the last sample stays obs["imu"]."""

    stage = Stage.SENSOR

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        return self._shift_stream(obs, info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        obs, info = self._shift_stream(obs, info)
        return obs, reward, terminated, truncated, info

    def _shift_stream(self, obs: dict, info: dict) -> tuple[dict, dict]:
        if self.severity == 0.0:
            return obs, info
        samples = self.shift_imu(info["imu_samples"])
        return {**obs, "imu": samples[-1].copy()}, {**info, "imu_samples": samples}

    @abc.abstractmethod
    def shift_imu(self, readings: np.ndarray) -> np.ndarray:
        """Shifted float32 readings [k, 6] (oldest first) from readings [k, 6]."""
