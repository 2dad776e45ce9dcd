"""Distribution-shift wrappers for the navigation environments, and named suites of them.

Every shift is a gymnasium wrapper with a severity in [0, 1]: 0 leaves the environment
exactly as it is, 1 is the strongest version the shift models. Shifts compose: wrap one in
another, or let `apply_shifts` wrap them in a fixed physical order (the world first, then the
body's dynamics, then light on its way to the camera, the sensors, and last the timing of the
observation stream), so a condition means the same thing whatever order it is written in.

Random shifts draw from a generator of their own, seeded from the seed given to
`env.reset(seed=...)` and the shift's name: the same env seed gives the same shift, and a
shift never draws from the environment's generator (so the world layout is unchanged).

Observations are the environment's dict: "image" uint8 HxWx3 RGB, "imu" float32
[gx, gy, gz, ax, ay, az] (rad/s, m/s^2, body frame FLU), "dt" float32 [1] seconds since the
previous observation.

What each shift reaches into (NavEnv / Simulator hooks): world shifts set an entry of
`env.unwrapped.world_overrides` (applied at every reset); wind calls
`sim.apply_external_force`; fog renders the depth with `sim.render_camera(with_depth=True)`;
motion blur reads `sim.body_rates`. Everything else only rewrites the observation dict or
the timing of steps.
"""
from __future__ import annotations

import abc
import math
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator, Sequence

import cv2
import gymnasium as gym
import numpy as np
import yaml

DEFAULT_SEVERITY = 0.5

# Stages: the order in which apply_shifts wraps (lowest innermost).
_WORLD, _DYNAMICS, _ATMOSPHERE, _ILLUMINATION, _OPTICS, _SENSOR, _DROPS, _LATENCY = range(8)


def _check_severity(name: str, severity: float) -> float:
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
    stage: ClassVar[int]

    def __init__(self, env: gym.Env, severity: float = DEFAULT_SEVERITY):
        super().__init__(env)
        self.severity = _check_severity(self.name, severity)
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


# ---------------------------------------------------------------------------------------------
# The world: season, obstacle density, target, distractors (a new world config, same seeds)
# ---------------------------------------------------------------------------------------------


class WorldShift(Shift):
    """A change of the world description, in effect from the next reset (build-time shift)."""

    stage = _WORLD

    def __init__(self, env: gym.Env, severity: float = DEFAULT_SEVERITY):
        super().__init__(env, severity)
        if self.severity > 0.0:
            base = env.unwrapped
            base.world_overrides[self.name] = self.overrides(base.current_world())

    @abc.abstractmethod
    def overrides(self, world) -> dict:
        """`WorldConfig.with_overrides` keyword arguments for this shift at this severity."""


def _blend(colour: Sequence[float], toward: Sequence[float], weight: float) -> list[float]:
    return [round((1.0 - weight) * c + weight * t, 4) for c, t in zip(colour, toward)]


class Season(WorldShift):
    """Season: each listed palette entry blends toward the season's colours, with weight
    severity * coverage (how much of that surface the season repaints at severity 1). The
    number of colours per entry is kept, so a seed draws the same layout: geometry and depth
    are unchanged, only colours differ."""

    # palette entry -> (coverage in [0, 1], season colours)
    season_colours: ClassVar[dict[str, tuple[float, tuple[tuple[float, float, float], ...]]]]

    def overrides(self, world):
        palette = {}
        for key, colours in world.palette.items():
            if key in self.season_colours:
                coverage, targets = self.season_colours[key]
                weight = coverage * self.severity
                palette[key] = [_blend(c, targets[i % len(targets)], weight) for i, c in enumerate(colours)]
        return {"palette": palette}


class Autumn(Season):
    """Autumn: orange, red and yellow foliage, fallen leaves over most of the ground, a paler sky."""

    name = "autumn"
    season_colours = {
        "foliage": (1.0, ((0.82, 0.42, 0.10), (0.70, 0.20, 0.08), (0.88, 0.66, 0.16))),
        "ground": (0.7, ((0.46, 0.33, 0.18),)),
        "sky": (1.0, ((0.74, 0.78, 0.84),)),
    }


class Winter(Season):
    """Winter: snow on the ground, rocks and canopies, darker wet trunks, an overcast sky."""

    name = "winter"
    season_colours = {
        "foliage": (0.85, ((0.82, 0.85, 0.88),)),
        "ground": (0.9, ((0.93, 0.94, 0.97),)),
        "rock": (0.8, ((0.86, 0.88, 0.91),)),
        "trunk": (0.6, ((0.26, 0.22, 0.20),)),
        "sky": (1.0, ((0.80, 0.82, 0.85),)),
    }


class Density(WorldShift):
    """Denser obstacles: the world's obstacle counts times 1 + 1.5 * severity, and the least gap
    between obstacles times 1 - 0.35 * severity (the gap, not the counts, limits how many fit:
    1.6 m -> 1.04 m in the forest at severity 1, still over twice the drone's 0.4 m width).
    The target and start are drawn before the obstacles, so they stay where they were."""

    name = "density"

    def overrides(self, world):
        return {"density_scale": world.density_scale * (1.0 + 1.5 * self.severity),
                "field": {"min_gap": world.min_gap_m * (1.0 - 0.35 * self.severity)}}


class TargetAppearance(WorldShift):
    """A different-looking target: its colour blends toward its complement (fully at severity 1),
    its size shrinks to 1 - 0.5 * severity, and from severity 0.5 on its shape changes
    (sphere -> box, otherwise -> sphere). Position and obstacles are unchanged."""

    name = "target_appearance"

    def overrides(self, world):
        target = world.target
        complement = [1.0 - c for c in target.color]
        changes = {
            "color": _blend(target.color, complement, self.severity),
            "size": target.size_m * (1.0 - 0.5 * self.severity),
        }
        if self.severity >= 0.5:
            changes["shape"] = "box" if target.shape == "sphere" else "sphere"
        return {"target": changes}


class Distractors(WorldShift):
    """Target look-alikes (same shape and colour, no collision) scattered in the field:
    round(12 * severity) more than the world has. They are drawn after the obstacles, so
    the obstacles, start and target stay where they were."""

    name = "distractors"
    count_at_full = 12

    def overrides(self, world):
        return {"distractors": world.distractors + round(self.count_at_full * self.severity)}


# ---------------------------------------------------------------------------------------------
# Images: light, fog, optics, sensor noise
# ---------------------------------------------------------------------------------------------


class ImageShift(Shift):
    """A shift of the camera image only."""

    def observe(self, obs: dict) -> dict:
        if self.severity == 0.0:
            return obs
        return {**obs, "image": self.shift_image(obs["image"])}

    @abc.abstractmethod
    def shift_image(self, image: np.ndarray) -> np.ndarray:
        """The shifted uint8 HxWx3 RGB image."""


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


class ChannelGain(ImageShift):
    """Light level or colour: each RGB channel scaled, blending from 1 at severity 0 to `full_gain`."""

    stage = _ILLUMINATION
    full_gain: ClassVar[tuple[float, float, float]]

    def shift_image(self, image):
        gain = 1.0 + self.severity * (np.asarray(self.full_gain, np.float32) - 1.0)
        return _to_uint8(image.astype(np.float32) * gain)


class Dim(ChannelGain):
    """Dusk / overcast: the image darkens to a quarter of its brightness at severity 1."""

    name = "dim"
    full_gain = (0.25, 0.25, 0.25)


class Bright(ChannelGain):
    """Glare / over-exposure: brightness x2.5 at severity 1, saturating at 255."""

    name = "bright"
    full_gain = (2.5, 2.5, 2.5)


class WarmLight(ChannelGain):
    """Low colour temperature (about 3000 K seen by a 6500 K white balance) at severity 1."""

    name = "warm_light"
    full_gain = (1.0, 0.78, 0.52)


class CoolLight(ChannelGain):
    """High colour temperature (about 12000 K seen by a 6500 K white balance) at severity 1."""

    name = "cool_light"
    full_gain = (0.72, 0.84, 1.0)


class Fog(Shift):
    """Homogeneous fog from the depth buffer (Koschmieder): pixel = I*t + airlight*(1-t), t = exp(-b*d).

    The extinction b = 3.912 / visibility, with a meteorological visibility of 15 m / severity
    (15 m at severity 1, 30 m at 0.5), so far pixels fade to the fog colour first and the sky
    (depth at the far plane) becomes fog. The depth comes from the simulator's current pose,
    so fog must wrap inside the timing shifts (apply_shifts does).
    """

    name = "fog"
    stage = _ATMOSPHERE
    airlight_rgb = (200.0, 204.0, 210.0)
    visibility_at_full_m = 15.0

    def observe(self, obs):
        if self.severity == 0.0:
            return obs
        extinction_per_m = 3.912 * self.severity / self.visibility_at_full_m
        depth_m = frame_depth_m(self.env)
        transmission = np.exp(-extinction_per_m * np.nan_to_num(depth_m, posinf=1e6))[..., None]
        airlight = np.asarray(self.airlight_rgb, np.float32)
        image = obs["image"].astype(np.float32) * transmission + airlight * (1.0 - transmission)
        return {**obs, "image": _to_uint8(image)}


class MotionBlur(ImageShift):
    """Linear motion blur along the image-plane motion caused by the body's rotation.

    Streak length in pixels = severity * (2 + 6 * min(|w|, 1 rad/s)), where w is the body's
    true (pitch, yaw) rate: a streak of up to 2 px from frame vibration at rest, up to 8 px
    while turning at 1 rad/s (a long exposure on a small, vibrating camera). Horizontal for yaw, vertical for pitch. Reads the simulator's
    current state, so it must wrap inside the timing shifts (apply_shifts does).
    """

    name = "motion_blur"
    stage = _OPTICS

    def shift_image(self, image):
        _, pitch_rate, yaw_rate = (float(w) for w in simulator(self.env).body_rates)
        rate = math.hypot(pitch_rate, yaw_rate)
        length_px = self.severity * (2.0 + 6.0 * min(rate, 1.0))
        angle = math.atan2(pitch_rate, yaw_rate) if rate > 1e-3 else 0.0
        return _blur_along(image, length_px, angle)


def _blur_along(image: np.ndarray, length_px: float, angle_rad: float) -> np.ndarray:
    """Average of the image over a line of `length_px` pixels at `angle_rad` (0 = horizontal)."""
    size = 2 * int(math.ceil(length_px / 2.0)) + 1
    kernel = np.zeros((size, size), np.float32)
    centre = size // 2
    for s in np.linspace(-length_px / 2.0, length_px / 2.0, 4 * size):
        kernel[int(round(centre - s * math.sin(angle_rad))), int(round(centre + s * math.cos(angle_rad)))] += 1.0
    kernel /= kernel.sum()
    return _to_uint8(cv2.filter2D(image.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT))


class CameraNoise(ImageShift):
    """Sensor read noise: independent Gaussian noise per pixel and channel, sigma 20 levels at severity 1."""

    name = "camera_noise"
    stage = _SENSOR
    sigma_at_full = 20.0

    def shift_image(self, image):
        noise = self.rng.normal(0.0, self.sigma_at_full * self.severity, size=image.shape)
        return _to_uint8(image.astype(np.float32) + noise)


# ---------------------------------------------------------------------------------------------
# IMU
# ---------------------------------------------------------------------------------------------


class ImuShift(Shift):
    """A shift of the IMU readings: the frame's obs["imu"] and every reading of the control
    period in info["imu_samples"] (NavEnv), shifted together, so the last sample stays obs["imu"]."""

    stage = _SENSOR

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


class ImuNoise(ImuShift):
    """Extra white noise on the IMU, independent per reading: sigma 0.1 rad/s (gyro) and
    1.0 m/s^2 (accel) at severity 1."""

    name = "imu_noise"
    sigma_at_full = np.array([0.1, 0.1, 0.1, 1.0, 1.0, 1.0], np.float32)

    def shift_imu(self, readings):
        noise = self.rng.normal(0.0, 1.0, size=readings.shape) * self.sigma_at_full * self.severity
        return (readings + noise).astype(np.float32)


class ImuBias(ImuShift):
    """A constant IMU bias per episode: +-0.1 rad/s per gyro axis and +-0.8 m/s^2 per accelerometer
    axis at severity 1, the signs drawn per episode from the seed."""

    name = "imu_bias"
    bias_at_full = np.array([0.1, 0.1, 0.1, 0.8, 0.8, 0.8], np.float32)

    def start_episode(self):
        signs = self.rng.choice([-1.0, 1.0], size=6)
        self.bias = (signs * self.bias_at_full * self.severity).astype(np.float32)

    def shift_imu(self, readings):
        return (readings + self.bias).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Dynamics
# ---------------------------------------------------------------------------------------------


class Wind(Shift):
    """Wind: the air moves, and the body's quadratic air drag acts on its airspeed.

    The wind is a steady 6 m/s * severity horizontally, in a direction drawn per episode, plus
    gusts: an Ornstein-Uhlenbeck process per axis (time constant 1 s, standard deviation
    2 m/s * severity horizontally, a third of that vertically). Each control step the wind's
    extra force -c|v - w|(v - w) + c|v|v (c: the quadrotor's drag coefficient, v: its velocity,
    w: the wind; the simulator already applies -c|v|v) is applied to the body as an external
    world-frame force and held for the step. At severity 1 a hovering Hummingbird feels about
    1.8 N from the steady wind, a quarter of its weight; at 0.5 a quarter of that.
    """

    name = "wind"
    stage = _DYNAMICS
    steady_speed_at_full_m_s = 6.0
    gust_sigma_at_full_m_s = np.array([2.0, 2.0, 2.0 / 3.0])
    gust_time_constant_s = 1.0

    def start_episode(self):
        heading = self.rng.uniform(0.0, 2.0 * math.pi)
        speed = self.steady_speed_at_full_m_s * self.severity
        self.steady_wind_m_s = speed * np.array([math.cos(heading), math.sin(heading), 0.0])
        self.gust_sigma_m_s = self.gust_sigma_at_full_m_s * self.severity
        self.gust_m_s = self.rng.normal(0.0, 1.0, size=3) * self.gust_sigma_m_s

    def step(self, action):
        if self.severity > 0.0:
            decay = math.exp(-nominal_dt_s(self.env) / self.gust_time_constant_s)
            innovation = self.rng.normal(0.0, 1.0, size=3) * self.gust_sigma_m_s * math.sqrt(1.0 - decay**2)
            self.gust_m_s = decay * self.gust_m_s + innovation
            sim = simulator(self.env)
            sim.apply_external_force(wind_force_n(sim.velocity, self.steady_wind_m_s + self.gust_m_s,
                                                  drag_coefficient(self.env)))
        return super().step(action)


def wind_force_n(velocity_m_s: np.ndarray, wind_m_s: np.ndarray, drag_n_per_m2_s2: float) -> np.ndarray:
    """The change of quadratic drag (N, world) when the air moves at `wind_m_s` instead of resting."""
    airspeed = np.asarray(velocity_m_s, float) - wind_m_s
    ground = np.asarray(velocity_m_s, float)
    return drag_n_per_m2_s2 * (-np.linalg.norm(airspeed) * airspeed + np.linalg.norm(ground) * ground)


# ---------------------------------------------------------------------------------------------
# Timing of the observation stream
# ---------------------------------------------------------------------------------------------


class FrameDrops(Shift):
    """Dropped camera frames: with probability 0.5 * severity a frame never arrives, the last
    command is held, and the next frame that arrives reports the whole elapsed time in its dt
    (at most 4 frames in a row are dropped). Every delivered frame is the simulator's current one;
    `info["dropped_frames"]` says how many were dropped before it. The IMU is not dropped: the
    IMU stream in info (`IMU_STREAM_KEYS`) holds the readings of the whole elapsed time.
    """

    name = "frame_drops"
    stage = _DROPS
    drop_probability_at_full = 0.5
    max_consecutive_drops = 4

    def step(self, action):
        if self.severity == 0.0:
            return self.env.step(action)
        obs, reward, terminated, truncated, info = self.env.step(action)
        elapsed_s = float(obs["dt"][0])
        streams = [imu_stream(info)]
        drops = 0
        while (
            not (terminated or truncated)
            and drops < self.max_consecutive_drops
            and self.rng.random() < self.drop_probability_at_full * self.severity
        ):
            obs, more_reward, terminated, truncated, info = self.env.step(action)
            elapsed_s += float(obs["dt"][0])
            streams.append(imu_stream(info))
            reward += more_reward
            drops += 1
        joined_stream = {key: np.concatenate([stream[key] for stream in streams]) for key in streams[0]}
        info = {**info, **joined_stream, "dropped_frames": drops}
        return {**obs, "dt": np.array([elapsed_s], np.float32)}, reward, terminated, truncated, info


class Latency(Shift):
    """Observation latency: every observation arrives round(4 * severity) control steps late
    (up to 200 ms at 20 Hz). At reset the drone hovers (zero command) for that many steps, so
    the first observation is the one from the start and no frame is ever repeated; `info` and
    the episode's time are the true, current ones (the hover counts towards the time limit),
    except the IMU stream of the period (`IMU_STREAM_KEYS`), which arrives with its observation."""

    name = "latency"
    stage = _LATENCY
    max_delay_steps = 4

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        delay = round(self.max_delay_steps * self.severity)
        self.pending = deque()
        hover = np.zeros(self.action_space.shape, self.action_space.dtype)
        for _ in range(delay):
            newer, _, terminated, truncated, newer_info = self.env.step(hover)
            self.pending.append((newer, imu_stream(newer_info)))
            if terminated or truncated:
                break
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if not self.pending:
            return obs, reward, terminated, truncated, info
        self.pending.append((obs, imu_stream(info)))
        delayed_obs, delayed_imu_stream = self.pending.popleft()
        return delayed_obs, reward, terminated, truncated, {**info, **delayed_imu_stream}


IMU_STREAM_KEYS = ("imu_samples", "imu_sample_times")


def imu_stream(info: dict) -> dict:
    """The IMU readings of the control period in `info` (NavEnv), which belong with the frame."""
    return {key: info[key] for key in IMU_STREAM_KEYS if key in info}


# ---------------------------------------------------------------------------------------------
# Hooks into the environment and simulator (issue #4's NavEnv / Simulator)
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Registry, parsing, suites
# ---------------------------------------------------------------------------------------------

SHIFTS: dict[str, type[Shift]] = {
    cls.name: cls
    for cls in (
        Autumn,
        Winter,
        Density,
        TargetAppearance,
        Distractors,
        Fog,
        Dim,
        Bright,
        WarmLight,
        CoolLight,
        MotionBlur,
        CameraNoise,
        ImuNoise,
        ImuBias,
        Wind,
        FrameDrops,
        Latency,
    )
}


def _unknown_shift(name: str) -> ValueError:
    return ValueError(f"unknown shift {name!r}; valid shifts: {', '.join(sorted(SHIFTS))}")


def parse_shift(text: str) -> tuple[str, float]:
    """'fog:0.5' -> ('fog', 0.5); 'fog' -> ('fog', DEFAULT_SEVERITY)."""
    name, sep, severity_text = str(text).strip().partition(":")
    name = name.strip()
    if name not in SHIFTS:
        raise _unknown_shift(name)
    if not sep:
        return name, DEFAULT_SEVERITY
    return name, _check_severity(name, severity_text.strip())


def apply_shifts(env: gym.Env, shifts: Sequence[tuple[str, float]]) -> gym.Env:
    """`env` wrapped in the named shifts, innermost first in physical order (see module doc),
    then by name within a stage, so the order the shifts are listed in does not matter."""
    classes = []
    for name, severity in shifts:
        if name not in SHIFTS:
            raise _unknown_shift(name)
        classes.append((SHIFTS[name], severity))
    if len({cls for cls, _ in classes}) != len(classes):
        raise ValueError(f"a shift appears twice in {list(shifts)}")
    for cls, severity in sorted(classes, key=lambda pair: (pair[0].stage, pair[0].name)):
        env = cls(env, severity)
    return env


@dataclass(frozen=True)
class Condition:
    """A named evaluation condition: the shifts applied together. Iterating gives the shifts."""

    name: str
    shifts: tuple[tuple[str, float], ...]

    def __iter__(self) -> Iterator[tuple[str, float]]:
        return iter(self.shifts)

    def __len__(self) -> int:
        return len(self.shifts)


def load_suite(path: str | Path, name: str = "standard") -> list[Condition]:
    """The conditions of suite `name` in the YAML file `path` (see config/eval_suites.yaml).

    Raises FileNotFoundError, or ValueError naming the file and the offending field.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"suite file {path} not found")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None

    def fail(field: str, problem: str) -> ValueError:
        return ValueError(f"{path}: {field}: {problem}")

    if not isinstance(document, dict) or set(document) != {"suites"}:
        raise fail("(top level)", "expected exactly one key, 'suites'")
    suites = document["suites"]
    if not isinstance(suites, dict) or not suites:
        raise fail("suites", "expected a mapping of suite names to suites")
    if name not in suites:
        raise fail("suites", f"no suite {name!r}; suites in this file: {', '.join(map(str, suites))}")
    suite = suites[name]
    field = f"suites.{name}"
    if not isinstance(suite, dict) or not set(suite) <= {"description", "conditions"} or "conditions" not in suite:
        raise fail(field, "expected keys 'conditions' (required) and 'description'")
    conditions = suite["conditions"]
    if not isinstance(conditions, dict) or not conditions:
        raise fail(f"{field}.conditions", "expected a non-empty mapping of condition names to {shift: severity}")
    return [_condition(fail, f"{field}.conditions.{cname}", str(cname), spec) for cname, spec in conditions.items()]


def _condition(fail, field: str, name: str, spec: Any) -> Condition:
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise fail(field, "expected a mapping {shift: severity} ({} for no shift)")
    shifts = []
    for shift, severity in spec.items():
        if shift not in SHIFTS:
            raise fail(f"{field}.{shift}", f"unknown shift; valid shifts: {', '.join(sorted(SHIFTS))}")
        if isinstance(severity, bool) or not isinstance(severity, (int, float)) or not 0 <= severity <= 1:
            raise fail(f"{field}.{shift}", f"severity {severity!r} is not a number in [0, 1]")
        shifts.append((str(shift), float(severity)))
    return Condition(name, tuple(shifts))
