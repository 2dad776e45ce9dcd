"""The one set of rules for reading ROS 2 camera, IMU and command messages as arrays.

The policy node (live rclpy messages) and the bag reader (messages deserialised by
`rosbags`) both decode through this module: they hand over message objects with the
standard field names, so a message the node accepts is one training accepts, and a message
the node refuses is one training drops. No ROS library is imported here.

The rules:
- `sensor_msgs/Image`: encoding rgb8, bgr8, rgba8, bgra8 or mono8, in any letter case (alpha
  is dropped, mono repeated into the three channels); width and height > 0; `step` at least a
  row of pixels (bytes beyond it are row padding, skipped); `data` exactly `step * height`
  bytes, as sensor_msgs defines it.
- `sensor_msgs/CompressedImage`: `format` names jpeg (or jpg) or png, as image_transport
  writes it ("jpeg", "png", "rgb8; jpeg compressed bgr8"), or is empty; compressedDepth (a
  depth image, not a camera frame) is refused. `data` starts with the JPEG or PNG signature,
  ends with its end marker (JPEG end-of-image, PNG IEND: a message cut short is refused, not
  half decoded) and decodes.
- `sensor_msgs/Imu`: angular velocity and linear acceleration both provided (covariance[0]
  is not -1, REP-145) and finite within float32; orientation is not used.
- `geometry_msgs/Twist` (or the `twist` of a TwistStamped): linear x, y, z and angular z
  finite within float32; roll and pitch rates are not used.

Arrays: images H x W x 3 uint8 RGB; IMU float32 [gx, gy, gz, ax, ay, az] (rad/s, m/s^2, in
the message's frame, which the policy takes as body FLU); commands float32 [vx, vy, vz,
yaw_rate] (m/s, rad/s, heading frame).

Every reader raises `InvalidMessage` (a ValueError) whose text says what is wrong and whose
`reason` is a short fixed phrase for counting refusals by kind; `UnsupportedEncoding`, a
subclass, is an encoding or format this module does not read at all.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

#: Raw image encodings read: name -> (bytes per pixel, cv2 conversion to RGB or None).
RAW_ENCODINGS = {
    "rgb8": (3, None),
    "bgr8": (3, cv2.COLOR_BGR2RGB),
    "rgba8": (4, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, cv2.COLOR_BGRA2RGB),
    "mono8": (1, cv2.COLOR_GRAY2RGB),
}
COMPRESSED_FORMATS = ("jpeg", "png")

_SIGNATURES = {"jpeg": (b"\xff\xd8", b"\xff\xd9"), "png": (b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82")}
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class InvalidMessage(ValueError):
    """A message that cannot be used. `str()` says what is wrong with this message;
    `reason` is a short fixed phrase naming the kind of problem (for counting)."""

    def __init__(self, detail: str, reason: str):
        super().__init__(detail)
        self.reason = reason


class UnsupportedEncoding(InvalidMessage):
    """An image encoding or compression format this module does not decode."""


def message_bytes(data) -> np.ndarray:
    """A message's `data` field (bytes, array.array from rclpy, numpy from rosbags) as a
    flat uint8 array, without copying where the buffer allows it."""
    if isinstance(data, np.ndarray):
        return data.reshape(-1).astype(np.uint8, copy=False)
    return np.frombuffer(data, dtype=np.uint8)


def raw_layout(msg) -> tuple[str, int, int]:
    """(encoding in lower case, width, height) of a `sensor_msgs/Image`: what a camera
    stream keeps constant from frame to frame."""
    return str(msg.encoding).lower(), int(msg.width), int(msg.height)


def image_to_rgb(msg) -> np.ndarray:
    """A `sensor_msgs/Image` as a contiguous H x W x 3 uint8 RGB array. InvalidMessage as
    the module docstring says."""
    encoding, width, height = raw_layout(msg)
    if encoding not in RAW_ENCODINGS:
        raise UnsupportedEncoding(f"image encoding {msg.encoding!r} is not supported "
                                  f"(supported: {', '.join(RAW_ENCODINGS)})", "unsupported image encoding")
    channels, conversion = RAW_ENCODINGS[encoding]
    step = int(msg.step)
    if width <= 0 or height <= 0:
        raise InvalidMessage(f"empty image ({width}x{height})", "empty image")
    if step < width * channels:
        raise InvalidMessage(f"step {step} is shorter than a row of {width} {encoding} pixels "
                             f"({width * channels} bytes)", "step shorter than a row")
    data = message_bytes(msg.data)
    if data.size != step * height:
        raise InvalidMessage(f"data holds {data.size} bytes, expected step*height = {step}*{height} = "
                             f"{step * height}", "data size is not step*height")
    pixels = np.ascontiguousarray(data.reshape(height, step)[:, :width * channels].reshape(height, width, channels))
    return pixels if conversion is None else cv2.cvtColor(pixels, conversion)


def compressed_format(msg) -> str:
    """'jpeg' or 'png': the compression a `sensor_msgs/CompressedImage` declares (an empty
    `format` is told by the data's signature); UnsupportedEncoding for anything else."""
    declared = str(msg.format).lower()
    if "compresseddepth" in declared:
        raise UnsupportedEncoding(f"compressed image format {msg.format!r} is a depth image, not a camera frame",
                                  "unsupported compressed format")
    if "jpeg" in declared or "jpg" in declared:
        return "jpeg"
    if "png" in declared:
        return "png"
    if declared.strip() == "":
        head = message_bytes(msg.data)[:8].tobytes()
        for name, (start, _) in _SIGNATURES.items():
            if head.startswith(start):
                return name
    raise UnsupportedEncoding(f"compressed image format {msg.format!r} is not supported "
                              f"(supported: {', '.join(COMPRESSED_FORMATS)})", "unsupported compressed format")


def compressed_to_rgb(msg) -> np.ndarray:
    """A `sensor_msgs/CompressedImage` (JPEG or PNG) as an H x W x 3 uint8 RGB array.
    InvalidMessage as the module docstring says."""
    kind = compressed_format(msg)
    data = message_bytes(msg.data)
    start, end = _SIGNATURES[kind]
    if data.size == 0:
        raise InvalidMessage("empty compressed image", "undecodable compressed image")
    if data[:len(start)].tobytes() != start:
        raise InvalidMessage(f"{kind} data of {data.size} bytes does not start with the {kind} signature",
                             "undecodable compressed image")
    if data[-len(end):].tobytes() != end:
        marker = "end-of-image marker" if kind == "jpeg" else "IEND chunk"
        raise InvalidMessage(f"truncated {kind} ({data.size} bytes, no {marker})", "truncated compressed image")
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as error:
        raise InvalidMessage(f"{kind} image of {data.size} bytes does not decode: {error}",
                             "undecodable compressed image") from None
    if bgr is None or bgr.size == 0:
        raise InvalidMessage(f"{kind} image of {data.size} bytes does not decode", "undecodable compressed image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An H x W x 3 image at `size` (height, width), by area averaging (as the policy runtime
    resizes); the image itself when it has that size already."""
    if rgb.shape[:2] == tuple(size):
        return rgb
    return cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def imu_to_vector(msg) -> np.ndarray:
    """A `sensor_msgs/Imu` as float32 [gx, gy, gz, ax, ay, az] (rad/s, m/s^2, the message's
    frame). InvalidMessage when a part is marked as not provided or a value is not finite."""
    if float(msg.angular_velocity_covariance[0]) == -1.0:
        raise InvalidMessage("IMU message has no angular velocity (angular_velocity_covariance[0] = -1)",
                             "IMU reading not provided")
    if float(msg.linear_acceleration_covariance[0]) == -1.0:
        raise InvalidMessage("IMU message has no linear acceleration (linear_acceleration_covariance[0] = -1)",
                             "IMU reading not provided")
    gyro, accel = msg.angular_velocity, msg.linear_acceleration
    return _finite_float32([gyro.x, gyro.y, gyro.z, accel.x, accel.y, accel.z], "IMU", "non-finite IMU values")


def twist_to_command(twist) -> np.ndarray:
    """A `geometry_msgs/Twist` as float32 [vx, vy, vz, yaw_rate] (m/s, rad/s; roll and pitch
    rates dropped). InvalidMessage when a value is not finite."""
    return _finite_float32([twist.linear.x, twist.linear.y, twist.linear.z, twist.angular.z], "command",
                           "non-finite command values")


def _finite_float32(values: list, what: str, reason: str) -> np.ndarray:
    values = [float(v) for v in values]   # plain floats: a few numbers, checked faster than by numpy
    if not all(math.isfinite(v) and abs(v) <= _FLOAT32_MAX for v in values):
        raise InvalidMessage(f"{what} message holds non-finite values {values}", reason)
    return np.array(values, dtype=np.float32)


def rgb_to_raw(rgb: np.ndarray, encoding: str = "rgb8") -> np.ndarray:
    """The pixels of an H x W x 3 uint8 RGB array as `encoding` (one of `RAW_ENCODINGS`)
    lays them out: H x W x channels, contiguous, alpha 255. What `image_to_rgb` reads back
    (mono8 as the grey level)."""
    if encoding not in RAW_ENCODINGS:
        raise ValueError(f"unsupported image encoding {encoding!r} (supported: {', '.join(RAW_ENCODINGS)})")
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 uint8 RGB array, got {rgb.dtype} of shape {rgb.shape}")
    if encoding == "mono8":
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None]
    pixels = rgb[:, :, ::-1] if encoding.startswith("bgr") else rgb
    if RAW_ENCODINGS[encoding][0] == 4:
        pixels = np.concatenate([pixels, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(pixels)


def stamp_ns(stamp) -> int:
    """A `builtin_interfaces/Time` as integer nanoseconds (0 means "not stamped")."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
