"""The inputs of one policy step, checked the same way by every runtime (torch and ONNX).

- image: RGB uint8 H x W x 3, any size, resized to the policy's size by area averaging
  (`cv2.INTER_AREA`), made C-contiguous;
- imu: 6 numbers [gx, gy, gz] rad/s, [ax, ay, az] m/s^2, body frame FLU; a non-finite
  component (a NaN/Inf from a driver) is replaced by that component's last finite value (0
  before any), so a bad IMU sample never makes a NaN command;
- dt: seconds since the previous step, finite and > 0.
Wrong types, shapes or values raise ValueError saying what was wrong. numpy and cv2 only.
"""
from __future__ import annotations

import math

import cv2
import numpy as np


def check_image(image, height: int, width: int) -> np.ndarray:
    """`image` as a C-contiguous uint8 `height` x `width` x 3 RGB array (resized if needed)."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array (H x W x 3 uint8 RGB), got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must have dtype uint8 (RGB 0..255), got {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape H x W x 3 (RGB), got {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty: shape {image.shape}")
    if image.shape[:2] != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if not image.flags.c_contiguous or not image.flags.writeable:  # e.g. a flipped view, a ROS buffer
        image = np.array(image, order="C")
    return image


class ImuSanitizer:
    """Replaces non-finite IMU components by their last finite values; `reset()` forgets them."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._last = np.zeros(6, np.float32)

    def __call__(self, imu) -> np.ndarray:
        """float32 [6] from `imu` (6 numbers, or [1, 6])."""
        try:
            values = np.asarray(imu, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"imu must be 6 numbers [gx, gy, gz, ax, ay, az], got {imu!r}") from None
        if values.shape not in ((6,), (1, 6)):
            raise ValueError(f"imu must be 6 numbers [gx, gy, gz, ax, ay, az], got shape {values.shape}")
        values = values.reshape(6)
        values = np.where(np.isfinite(values), values, self._last).astype(np.float32)
        self._last = values
        return values


def check_dt(dt) -> float:
    """`dt` as float seconds, finite and > 0."""
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise ValueError(f"dt must be a number of seconds, got {dt!r}") from None
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"dt must be finite and > 0 seconds since the previous step, got {value}")
    return value
