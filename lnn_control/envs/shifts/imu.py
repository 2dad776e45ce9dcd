"""IMU shifts: extra white noise, a constant bias per episode.

Readings are float32 [gx, gy, gz, ax, ay, az]: rad/s and m/s^2, body frame FLU. Both shift
every reading of the control period (`ImuShift`), not only the frame's.
"""
from __future__ import annotations

import numpy as np

from lnn_control.envs.shifts.base import ImuShift


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
