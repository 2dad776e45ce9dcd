"""ROS 2 message <-> numpy conversion for the policy's inputs and outputs, without cv_bridge.

Every reader validates what it is given and raises `InvalidMessage` (a `ValueError`) with
the reason, so a node can drop a bad message and fall back to its failsafe instead of dying.

Arrays follow the library's conventions: images HxWx3 uint8 RGB; IMU float32
[gx, gy, gz, ax, ay, az] (rad/s, m/s^2, body frame FLU); commands float32
[vx, vy, vz, yaw_rate] (m/s, rad/s, heading frame).
"""
from __future__ import annotations

import cv2
import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist, TwistStamped
from sensor_msgs.msg import CompressedImage, Image, Imu

#: Image encodings the policy node reads: name -> (channels, channel order to take for RGB).
IMAGE_ENCODINGS = {
    "rgb8": (3, (0, 1, 2)),
    "bgr8": (3, (2, 1, 0)),
    "rgba8": (4, (0, 1, 2)),
    "bgra8": (4, (2, 1, 0)),
    "mono8": (1, (0, 0, 0)),
}

_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
_PNG_START, _PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"


class InvalidMessage(ValueError):
    """A message the node cannot use; the text says why."""


def stamp_to_seconds(stamp: Time) -> float:
    """A `builtin_interfaces/Time` as float seconds (0.0 means "not stamped")."""
    return stamp.sec + stamp.nanosec * 1e-9


def seconds_to_stamp(seconds: float) -> Time:
    """Float seconds (>= 0) as a `builtin_interfaces/Time`."""
    nanoseconds = int(round(seconds * 1e9))
    return Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def image_to_rgb(msg: Image) -> np.ndarray:
    """A `sensor_msgs/Image` (rgb8, bgr8, rgba8, bgra8 or mono8; any size, row padding
    allowed) as a contiguous HxWx3 uint8 RGB array.

    Raises `InvalidMessage` on an unsupported encoding, an empty image, a `step` shorter
    than a row, or a `data` length other than `step * height`.
    """
    if msg.encoding not in IMAGE_ENCODINGS:
        raise InvalidMessage(f"unsupported image encoding {msg.encoding!r} (supported: {', '.join(IMAGE_ENCODINGS)})")
    channels, rgb_order = IMAGE_ENCODINGS[msg.encoding]
    height, width, step = msg.height, msg.width, msg.step
    if height == 0 or width == 0:
        raise InvalidMessage(f"empty image ({width}x{height})")
    if step < width * channels:
        raise InvalidMessage(f"step {step} is shorter than a row of {width} {msg.encoding} pixels ({width * channels} bytes)")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size != step * height:
        raise InvalidMessage(f"data holds {data.size} bytes, expected step*height = {step}*{height} = {step * height}")
    pixels = data.reshape(height, step)[:, : width * channels].reshape(height, width, channels)
    return np.ascontiguousarray(pixels[:, :, rgb_order])


def compressed_to_rgb(msg: CompressedImage) -> np.ndarray:
    """A `sensor_msgs/CompressedImage` (JPEG or PNG, as image_transport's compressed
    plugin sends it) as an HxWx3 uint8 RGB array.

    Raises `InvalidMessage` when the data is empty, truncated (no JPEG end marker or PNG
    IEND chunk) or cannot be decoded.
    """
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise InvalidMessage("empty compressed image")
    raw = data[:8].tobytes()
    if raw.startswith(_JPEG_START) and data[-2:].tobytes() != _JPEG_END:
        raise InvalidMessage(f"truncated JPEG ({data.size} bytes, no end-of-image marker)")
    if raw.startswith(_PNG_START) and data[-8:].tobytes() != _PNG_END:
        raise InvalidMessage(f"truncated PNG ({data.size} bytes, no IEND chunk)")
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise InvalidMessage(f"cannot decode {msg.format or 'compressed'} image: {exc}") from exc
    if bgr is None or bgr.size == 0:
        raise InvalidMessage(f"cannot decode {msg.format or 'compressed'} image ({data.size} bytes)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def imu_to_vector(msg: Imu) -> np.ndarray:
    """A `sensor_msgs/Imu` as float32 [gx, gy, gz, ax, ay, az] (rad/s, m/s^2, the message's frame).

    Raises `InvalidMessage` on NaN/Inf, or when the message marks angular velocity or
    linear acceleration as not provided (covariance[0] == -1, REP-145).
    """
    if msg.angular_velocity_covariance[0] == -1.0:
        raise InvalidMessage("IMU message has no angular velocity (angular_velocity_covariance[0] = -1)")
    if msg.linear_acceleration_covariance[0] == -1.0:
        raise InvalidMessage("IMU message has no linear acceleration (linear_acceleration_covariance[0] = -1)")
    gyro, accel = msg.angular_velocity, msg.linear_acceleration
    vector = np.array([gyro.x, gyro.y, gyro.z, accel.x, accel.y, accel.z], dtype=np.float64)
    if not np.all(np.isfinite(vector)) or np.any(np.abs(vector) > np.finfo(np.float32).max):
        raise InvalidMessage(f"IMU message holds non-finite values {vector.tolist()}")
    return vector.astype(np.float32)


def command_to_twist(cmd: np.ndarray) -> Twist:
    """float [vx, vy, vz, yaw_rate] (m/s, rad/s) as a `geometry_msgs/Twist`."""
    twist = Twist()
    twist.linear.x, twist.linear.y, twist.linear.z = (float(v) for v in cmd[:3])
    twist.angular.z = float(cmd[3])
    return twist


def command_to_twist_stamped(cmd: np.ndarray, stamp: Time, frame_id: str) -> TwistStamped:
    """float [vx, vy, vz, yaw_rate] as a `geometry_msgs/TwistStamped` in `frame_id` at `stamp`."""
    msg = TwistStamped(twist=command_to_twist(cmd))
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def twist_to_command(twist: Twist) -> np.ndarray:
    """A `geometry_msgs/Twist` as float32 [vx, vy, vz, yaw_rate] (roll and pitch rates dropped)."""
    return np.array([twist.linear.x, twist.linear.y, twist.linear.z, twist.angular.z], dtype=np.float32)


def rgb_to_image(rgb: np.ndarray, stamp: Time, frame_id: str, encoding: str = "rgb8") -> Image:
    """An HxWx3 uint8 RGB array as a `sensor_msgs/Image` in `encoding` (one of `IMAGE_ENCODINGS`)."""
    if encoding not in IMAGE_ENCODINGS:
        raise ValueError(f"unsupported image encoding {encoding!r} (supported: {', '.join(IMAGE_ENCODINGS)})")
    rgb = np.asarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB array, got shape {rgb.shape}")
    channels, _ = IMAGE_ENCODINGS[encoding]
    if encoding == "mono8":
        pixels = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None]
    else:
        pixels = rgb[:, :, ::-1] if encoding.startswith("bgr") else rgb
        if channels == 4:
            pixels = np.concatenate([pixels, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding=encoding, is_bigendian=0,
                step=rgb.shape[1] * channels)
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.data = np.ascontiguousarray(pixels).tobytes()
    return msg


def vector_to_imu(imu: np.ndarray, stamp: Time, frame_id: str) -> Imu:
    """float [gx, gy, gz, ax, ay, az] (rad/s, m/s^2) as a `sensor_msgs/Imu` without orientation
    (orientation_covariance[0] = -1, REP-145)."""
    msg = Imu()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = (float(v) for v in imu[:3])
    msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z = (float(v) for v in imu[3:6])
    msg.orientation_covariance[0] = -1.0
    return msg
