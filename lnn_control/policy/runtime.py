"""The stateful runtime: one camera frame + IMU reading + elapsed time in, one command out."""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from lnn_control.policy.checkpoint import load_checkpoint
from lnn_control.policy.network import PolicyNetwork
from lnn_control.policy.spec import PolicySpec


class Policy:
    """Runs a `PolicyNetwork` one step at a time, keeping its recurrent state between steps.

    `step(image, imu, dt)`:
    - image: RGB uint8 H x W x 3, any size (resized to the spec's size with area averaging);
    - imu: 6 numbers [gx, gy, gz] rad/s, [ax, ay, az] m/s^2, body frame FLU. Non-finite
      components (a NaN/Inf from a driver) are replaced by that component's last finite value
      (0 before any), so a bad IMU sample never makes a NaN command;
    - dt: seconds since the previous step, finite and > 0 (a dropped frame is a longer dt);
    returns float32 [vx, vy, vz, yaw_rate] (m/s, rad/s, heading frame), within the limits.
    Wrong types, shapes or values raise ValueError saying what was wrong.

    The network runs where its weights are (CPU is fastest at batch 1); `Policy` reads the
    network's current weights on every step, so it can follow a network being trained.

    An ensemble (K > 1 members on one shared encoder) returns the members' mean command, and
    after each step `uncertainty` is their disagreement, dimensionless:

        uncertainty = mean over j of [ std over members k of cmd[k, j] ] / limit[j]

    for the command components j = vx, vy, vz, yaw_rate (population std of the K members'
    commands, each within ±limit[j], so 0 = all members agree and 1 is the most possible: half
    at +limit, half at -limit). A single policy has no measure of it: `uncertainty` is None
    (also before the first step and after `reset`).
    """

    def __init__(self, net: PolicyNetwork):
        self.net = net
        self.reset()

    @property
    def spec(self) -> PolicySpec:
        return self.net.spec

    def reset(self) -> None:
        """Forget the recurrent state and the last good IMU reading (start of an episode)."""
        self._state = None
        self._last_imu = np.zeros(6, np.float32)
        self.uncertainty: float | None = None

    def step(self, image, imu, dt) -> np.ndarray:
        image = self._check_image(image)
        imu = self._sanitize_imu(imu)
        dt = _check_dt(dt)
        timespan = dt / self.spec.nominal_dt
        device = self.net.limits.device
        with torch.inference_mode():
            features = self.net.encode(torch.from_numpy(image)[None].to(device), torch.from_numpy(imu)[None].to(device),
                                       torch.tensor([dt], dtype=torch.float64, device=device))
            features = features.cpu().numpy()
            if self.net.ensemble_size == 1:
                y, self._state = self.net.core.step(features, timespan, self._state)
                return self.net.command(torch.from_numpy(y).to(device)).cpu().numpy()[0].astype(np.float32)
            states = self._state or (None,) * self.net.ensemble_size
            commands, new_states = [], []
            for (core, head), state in zip(self.net.members(), states, strict=True):
                y, state = core.step(features, timespan, state)
                commands.append(self.net.command(torch.from_numpy(y).to(device), head))
                new_states.append(state)
            self._state = tuple(new_states)
            commands = torch.cat(commands).cpu().numpy()  # [K, 4]
        self.uncertainty = disagreement(commands, self.spec.limits)
        return commands.mean(axis=0).astype(np.float32)

    def _check_image(self, image) -> np.ndarray:
        if not isinstance(image, np.ndarray):
            raise ValueError(f"image must be a numpy array (H x W x 3 uint8 RGB), got {type(image).__name__}")
        if image.dtype != np.uint8:
            raise ValueError(f"image must have dtype uint8 (RGB 0..255), got {image.dtype}")
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must have shape H x W x 3 (RGB), got {image.shape}")
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError(f"image is empty: shape {image.shape}")
        height, width = self.spec.image_height, self.spec.image_width
        if image.shape[:2] != (height, width):
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        if not image.flags.c_contiguous or not image.flags.writeable:  # e.g. a flipped view, a ROS buffer
            image = np.array(image, order="C")
        return image

    def _sanitize_imu(self, imu) -> np.ndarray:
        try:
            values = np.asarray(imu, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"imu must be 6 numbers [gx, gy, gz, ax, ay, az], got {imu!r}") from None
        if values.shape not in ((6,), (1, 6)):
            raise ValueError(f"imu must be 6 numbers [gx, gy, gz, ax, ay, az], got shape {values.shape}")
        values = values.reshape(6)
        finite = np.isfinite(values)
        values = np.where(finite, values, self._last_imu).astype(np.float32)
        self._last_imu = values
        return values


def disagreement(commands: np.ndarray, limits) -> float:
    """The members' disagreement (see `Policy`): the mean over command components of the std
    over members of `commands` [K, 4] divided by the component's limit; dimensionless, 0 = all agree."""
    return float(np.mean(np.std(np.asarray(commands, np.float64), axis=0) / np.asarray(limits, np.float64)))


def _check_dt(dt) -> float:
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise ValueError(f"dt must be a number of seconds, got {dt!r}") from None
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"dt must be finite and > 0 seconds since the previous step, got {value}")
    return value


def load_policy(path, map_location: str | None = "cpu") -> Policy:
    """The runtime for the checkpoint at `path` (CheckpointError naming the file if unusable)."""
    net, _ = load_checkpoint(path, map_location=map_location)
    return Policy(net)
