"""Image shifts: light level and colour, fog, motion blur, camera noise.

Images are uint8 HxWx3 RGB; intensities below are in levels of 0-255. Fog and motion blur
read the simulator's current state (depth, body rates), so they must wrap inside the timing
shifts, which `apply_shifts` does (`Stage`).
"""
from __future__ import annotations

import math
from typing import ClassVar

import cv2
import numpy as np

from lnn_control.envs.shifts.base import ImageShift, Shift, Stage
from lnn_control.envs.shifts.hooks import frame_depth_m, simulator


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


class ChannelGain(ImageShift):
    """Light level or colour: each RGB channel scaled, blending from 1 at severity 0 to `full_gain`."""

    stage = Stage.ILLUMINATION
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
    stage = Stage.ATMOSPHERE
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
    while turning at 1 rad/s (a long exposure on a small, vibrating camera). Horizontal for
    yaw, vertical for pitch. Reads the simulator's current state, so it must wrap inside the
    timing shifts (apply_shifts does).
    """

    name = "motion_blur"
    stage = Stage.OPTICS

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
    stage = Stage.SENSOR
    sigma_at_full = 20.0

    def shift_image(self, image):
        noise = self.rng.normal(0.0, self.sigma_at_full * self.severity, size=image.shape)
        return _to_uint8(image.astype(np.float32) + noise)
