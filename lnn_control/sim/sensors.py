"""The vehicles' sensors: a forward camera fixed to the body and an IMU, with their configs.

Camera: pinhole, rendered by PyBullet (TinyRenderer by default; `renderer="egl"` loads the
EGL plugin for hardware OpenGL and fails loudly if it cannot). Mounted at `position_m` in
the body frame (FLU), looking along body +x, pitched up by `pitch_deg`; it moves and tilts
with the body. Left out (None), the mount is the vehicle's (`CAMERA_MOUNTS`: the drone's at
its nose, the rover's at the front of its chassis, 0.25 m above the ground); `mounted` fills it
in. Pixels PyBullet leaves empty (nothing within `far_m`) show the sky colour.

IMU: gyro (rad/s) and accelerometer specific force (m/s^2), body frame FLU, from the
simulated motion: the body's angular velocity, and the finite difference of its velocity
over the last physics step minus gravity (hovering level reads az = +9.81). Each axis adds a
constant bias drawn per episode (`*_bias_std`) and white noise per reading (`*_noise_std`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pybullet as pb

from lnn_control.sim.quadrotor import GRAVITY_M_S2

RENDERERS = ("tiny", "egl")
#: The camera mount of each vehicle: (position m, body frame FLU; pitch deg, positive looks up).
CAMERA_MOUNTS = {"drone": ((0.13, 0.0, 0.02), 5.0), "rover": ((0.2, 0.0, 0.14), 5.0)}


@dataclass(frozen=True)
class CameraConfig:
    """Forward camera: image size (pixels), horizontal field of view, mount, clip planes."""

    width: int = 64
    height: int = 48
    horizontal_fov_deg: float = 90.0
    pitch_deg: float | None = None               # mount pitch, positive looks up; None: the vehicle's
    position_m: tuple[float, float, float] | None = None   # body frame FLU; None: the vehicle's
    near_m: float = 0.05
    far_m: float = 60.0
    renderer: str = "tiny"

    def __post_init__(self):
        if self.width < 8 or self.height < 8:
            raise ValueError(f"CameraConfig: width/height must be >= 8 pixels, got {self.width}x{self.height}")
        if not 10.0 <= self.horizontal_fov_deg <= 170.0:
            raise ValueError(f"CameraConfig.horizontal_fov_deg: {self.horizontal_fov_deg} is outside [10, 170]")
        if not 0.0 < self.near_m < self.far_m:
            raise ValueError(f"CameraConfig: need 0 < near_m < far_m, got {self.near_m}, {self.far_m}")
        if self.renderer not in RENDERERS:
            raise ValueError(f"CameraConfig.renderer: {self.renderer!r} is not one of {', '.join(RENDERERS)}")

    @property
    def vertical_fov_deg(self) -> float:
        half = math.atan(math.tan(math.radians(self.horizontal_fov_deg) / 2) * self.height / self.width)
        return math.degrees(2 * half)


@dataclass(frozen=True)
class ImuConfig:
    """IMU noise (std per reading) and bias (std of the per-episode constant), per axis."""

    gyro_noise_std: float = 0.005        # rad/s
    accel_noise_std: float = 0.05        # m/s^2
    gyro_bias_std: float = 0.002         # rad/s
    accel_bias_std: float = 0.02         # m/s^2

    def __post_init__(self):
        for name in ("gyro_noise_std", "accel_noise_std", "gyro_bias_std", "accel_bias_std"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise ValueError(f"ImuConfig.{name}: expected a number >= 0, got {value!r}")


def mounted(config: CameraConfig, vehicle: str) -> CameraConfig:
    """`config` with the mount it leaves out (None) taken from `CAMERA_MOUNTS[vehicle]`."""
    position, pitch = CAMERA_MOUNTS[vehicle]
    return replace(config, position_m=position if config.position_m is None else tuple(config.position_m),
                   pitch_deg=pitch if config.pitch_deg is None else config.pitch_deg)


class Camera:
    """Renders RGB (uint8 HxWx3) and metric depth (float32 HxW, m along the optical axis)."""

    def __init__(self, config: CameraConfig, client: int):
        if config.position_m is None or config.pitch_deg is None:
            raise ValueError("Camera: the mount must be given (see `mounted`)")
        self.config = config
        self.client = client
        self.projection = pb.computeProjectionMatrixFOV(
            config.vertical_fov_deg, config.width / config.height, config.near_m, config.far_m)
        pitch = math.radians(config.pitch_deg)
        self.axis_body = np.array([math.cos(pitch), 0.0, math.sin(pitch)])     # optical axis
        self.up_body = np.array([-math.sin(pitch), 0.0, math.cos(pitch)])
        self.position_body = np.array(config.position_m)
        self.renderer = pb.ER_TINY_RENDERER
        if config.renderer == "egl":
            self.renderer = pb.ER_BULLET_HARDWARE_OPENGL

    def render(self, body_position: np.ndarray, rotation: np.ndarray, sky_color, with_depth: bool = False):
        """The view from the body pose; `rotation` is body-to-world. RGB, or (RGB, depth_m)."""
        eye = body_position + rotation @ self.position_body
        view = pb.computeViewMatrix(eye, eye + rotation @ self.axis_body, rotation @ self.up_body)
        return render_view(self.client, self.config.width, self.config.height, view, self.projection,
                           self.renderer, self.config.near_m, self.config.far_m, sky_color, with_depth)

    def render_object_ids(self, body_position: np.ndarray, rotation: np.ndarray) -> np.ndarray:
        """PyBullet's segmentation mask of the view from the body pose: int32 HxW, the unique
        id of the body seen at each pixel (-1 where nothing was hit within the far plane)."""
        eye = body_position + rotation @ self.position_body
        view = pb.computeViewMatrix(eye, eye + rotation @ self.axis_body, rotation @ self.up_body)
        _, _, _, _, segmentation = pb.getCameraImage(
            self.config.width, self.config.height, view, self.projection, renderer=self.renderer, shadow=0,
            physicsClientId=self.client)
        ids = np.asarray(segmentation, dtype=np.int32).reshape(self.config.height, self.config.width)
        return np.where(ids < 0, -1, ids & ((1 << 24) - 1))  # the low 24 bits: the body, above: its link


def render_view(client, width, height, view, projection, renderer, near, far, sky_color, with_depth):
    """Render and post-process one PyBullet view: sky fill and (optionally) metric depth."""
    _, _, rgba, depth_buffer, _ = pb.getCameraImage(
        width, height, view, projection, renderer=renderer, shadow=0,
        flags=pb.ER_NO_SEGMENTATION_MASK, physicsClientId=client)
    rgb = np.array(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3].copy()
    depth_buffer = np.asarray(depth_buffer, dtype=np.float32).reshape(height, width)
    sky = depth_buffer >= 0.99999
    rgb[sky] = np.round(np.asarray(sky_color) * 255).astype(np.uint8)
    if not with_depth:
        return rgb
    depth_m = (far * near / (far - (far - near) * depth_buffer)).astype(np.float32)
    depth_m[sky] = far
    return rgb, depth_m


class Imu:
    """Body-frame gyro and specific-force accelerometer with per-episode bias and white noise."""

    def __init__(self, config: ImuConfig):
        self.config = config
        self.rng = np.random.default_rng(0)
        self.bias = np.zeros(6)

    def reset(self, rng: np.random.Generator) -> None:
        """New episode: take the noise generator and draw the biases from it."""
        c = self.config
        self.rng = rng
        self.bias = np.concatenate([rng.normal(0.0, c.gyro_bias_std, 3), rng.normal(0.0, c.accel_bias_std, 3)])

    def read(self, rotation: np.ndarray, body_rates: np.ndarray, accel_w: np.ndarray) -> np.ndarray:
        """[gx, gy, gz, ax, ay, az] float32 from the true body rates (rad/s, body) and the world
        acceleration (m/s^2); `rotation` is body-to-world."""
        c = self.config
        specific_force = rotation.T @ (accel_w + np.array([0.0, 0.0, GRAVITY_M_S2]))
        noise = self.rng.normal(0.0, 1.0, 6) * np.repeat([c.gyro_noise_std, c.accel_noise_std], 3)
        return (np.concatenate([body_rates, specific_force]) + self.bias + noise).astype(np.float32)
