"""The recent IMU samples, to give the policy the IMU state at a camera frame's time."""
from __future__ import annotations

from collections import deque

import numpy as np


class ImuHistory:
    """IMU vectors [gx, gy, gz, ax, ay, az] (rad/s, m/s^2) with their times (s), newest last."""

    def __init__(self, max_samples: int = 400):
        self._samples: deque[tuple[float, np.ndarray]] = deque(maxlen=max_samples)

    def __len__(self) -> int:
        return len(self._samples)

    def add(self, time: float, imu: np.ndarray) -> None:
        """Append a sample; one older than the newest (time went back) starts a new history."""
        if self._samples and time < self._samples[-1][0]:
            self._samples.clear()
        self._samples.append((time, np.asarray(imu, dtype=np.float32)))

    def clear(self) -> None:
        self._samples.clear()

    def at(self, time: float, max_gap: float) -> np.ndarray | None:
        """The IMU state at `time`: linearly interpolated between the samples around it,
        the nearest end sample when `time` lies outside the history by at most `max_gap`
        seconds (never extrapolated), else the newest sample (clocks disagree); None if empty."""
        if not self._samples:
            return None
        first_time, first = self._samples[0]
        last_time, last = self._samples[-1]
        if time >= last_time:
            return last
        if time <= first_time:
            return first if first_time - time <= max_gap else last
        newer_time, newer = last_time, last
        for older_time, older in reversed(self._samples):  # frames are usually near the newest end
            if older_time <= time:
                weight = (time - older_time) / (newer_time - older_time)
                return ((1.0 - weight) * older + weight * newer).astype(np.float32)
            newer_time, newer = older_time, older
        return first
