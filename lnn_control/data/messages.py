"""ROS 2 messages <-> arrays, for bags read and written with `rosbags` (no rclpy, no cv_bridge).

Decoding (what a recorded robot bag may hold):
- `sensor_msgs/msg/Image` in rgb8, bgr8, rgba8, bgra8, mono8 (alpha dropped, mono repeated)
  and `sensor_msgs/msg/CompressedImage` in jpeg or png → RGB uint8 H x W x 3;
- `sensor_msgs/msg/Imu` → float32 [gx, gy, gz, ax, ay, az] (rad/s, m/s^2) taken in the
  message's frame, which the policy assumes is the body frame FLU;
- `geometry_msgs/msg/Twist` and `TwistStamped` → float32 [vx, vy, vz, yaw_rate]
  (linear.x/y/z m/s, angular.z rad/s), the heading-frame command.
Encoding builds the standard messages `collect` writes (Image rgb8, Imu, Twist, Odometry).
"""
from __future__ import annotations

import cv2
import numpy as np
from rosbags.typesys import Stores, get_typestore

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
IMU = "sensor_msgs/msg/Imu"
TWIST = "geometry_msgs/msg/Twist"
TWIST_STAMPED = "geometry_msgs/msg/TwistStamped"
ODOMETRY = "nav_msgs/msg/Odometry"

IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)
IMU_TYPES = (IMU,)
CMD_TYPES = (TWIST, TWIST_STAMPED)
RAW_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")
COMPRESSED_FORMATS = ("jpeg", "png")

# ROS 2 Kilted definitions (the distribution this package targets); the standard messages used
# here have the same layout in every ROS 2 release.
TYPESTORE = get_typestore(Stores.ROS2_KILTED)


class UnsupportedEncodingError(ValueError):
    """An image encoding or compression format this reader does not decode."""


def stamp_ns(msg) -> int:
    """The message's header stamp in nanoseconds (0 when the sender left it unset)."""
    stamp = msg.header.stamp
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


_TO_RGB = {"rgb8": None, "bgr8": cv2.COLOR_BGR2RGB, "rgba8": cv2.COLOR_RGBA2RGB, "bgra8": cv2.COLOR_BGRA2RGB,
           "mono8": cv2.COLOR_GRAY2RGB}


def image_to_rgb(msg, msgtype: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """RGB uint8 H x W x 3 from an Image or CompressedImage message; with `size` (height,
    width), resized to it by area averaging (before the colour conversion, which is cheaper)."""
    if msgtype == COMPRESSED_IMAGE:
        return _resized(_decode_compressed(msg), size)
    encoding = msg.encoding.lower()
    channels = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}.get(encoding)
    if channels is None:
        raise UnsupportedEncodingError(f"image encoding {msg.encoding!r} is not supported "
                                       f"(supported: {', '.join(RAW_ENCODINGS)})")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    data = np.asarray(msg.data, dtype=np.uint8)
    if step < width * channels or data.size < height * step:
        raise ValueError(f"{msg.encoding} image {width}x{height} with step {step} has only {data.size} bytes")
    pixels = data[:height * step].reshape(height, step)[:, :width * channels]
    pixels = _resized(np.ascontiguousarray(pixels).reshape(height, width, channels), size)
    if pixels.ndim == 2:  # cv2.resize drops a single channel
        pixels = pixels[:, :, None]
    conversion = _TO_RGB[encoding]
    return np.ascontiguousarray(pixels) if conversion is None else cv2.cvtColor(pixels, conversion)


def _resized(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None or image.shape[:2] == tuple(size):
        return image
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def _decode_compressed(msg) -> np.ndarray:
    # image_transport writes e.g. "jpeg", "png" or "rgb8; jpeg compressed bgr8"
    fmt = msg.format.lower()
    if not any(name in fmt for name in ("jpeg", "jpg", "png")):
        raise UnsupportedEncodingError(f"compressed image format {msg.format!r} is not supported "
                                       f"(supported: {', '.join(COMPRESSED_FORMATS)})")
    data = np.asarray(msg.data, dtype=np.uint8)
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if decoded is None:
        raise ValueError(f"compressed image ({msg.format}) of {data.size} bytes does not decode")
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def imu_to_array(msg) -> np.ndarray:
    """float32 [gx, gy, gz, ax, ay, az] (rad/s, m/s^2) from an Imu message."""
    g, a = msg.angular_velocity, msg.linear_acceleration
    return np.array([g.x, g.y, g.z, a.x, a.y, a.z], np.float32)


def cmd_to_array(msg, msgtype: str) -> np.ndarray:
    """float32 [vx, vy, vz, yaw_rate] (m/s, rad/s) from a Twist or TwistStamped message."""
    twist = msg.twist if msgtype == TWIST_STAMPED else msg
    return np.array([twist.linear.x, twist.linear.y, twist.linear.z, twist.angular.z], np.float32)


# -- encoding ---------------------------------------------------------------------------------

def _header(t_ns: int, frame_id: str):
    types = TYPESTORE.types
    stamp = types["builtin_interfaces/msg/Time"](sec=int(t_ns // 1_000_000_000), nanosec=int(t_ns % 1_000_000_000))
    return types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def _vector3(values):
    return TYPESTORE.types["geometry_msgs/msg/Vector3"](x=float(values[0]), y=float(values[1]), z=float(values[2]))


def image_message(rgb: np.ndarray, t_ns: int, frame_id: str = "camera"):
    """sensor_msgs/Image rgb8 from an RGB uint8 H x W x 3 array."""
    height, width = rgb.shape[:2]
    return TYPESTORE.types[IMAGE](header=_header(t_ns, frame_id), height=height, width=width, encoding="rgb8",
                                  is_bigendian=0, step=width * 3,
                                  data=np.ascontiguousarray(rgb, dtype=np.uint8).reshape(-1))


def imu_message(imu: np.ndarray, t_ns: int, frame_id: str = "base_link"):
    """sensor_msgs/Imu from [gx, gy, gz, ax, ay, az]; no orientation (covariance[0] = -1, REP-145)."""
    types = TYPESTORE.types
    orientation_cov = np.zeros(9, np.float64)
    orientation_cov[0] = -1.0
    return types[IMU](header=_header(t_ns, frame_id),
                      orientation=types["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
                      orientation_covariance=orientation_cov,
                      angular_velocity=_vector3(imu[:3]), angular_velocity_covariance=np.zeros(9, np.float64),
                      linear_acceleration=_vector3(imu[3:]),
                      linear_acceleration_covariance=np.zeros(9, np.float64))


def twist_message(cmd: np.ndarray):
    """geometry_msgs/Twist from [vx, vy, vz, yaw_rate]."""
    return TYPESTORE.types[TWIST](linear=_vector3(cmd[:3]), angular=_vector3((0.0, 0.0, cmd[3])))


def twist_stamped_message(cmd: np.ndarray, t_ns: int, frame_id: str = "base_link"):
    """geometry_msgs/TwistStamped from [vx, vy, vz, yaw_rate]."""
    return TYPESTORE.types[TWIST_STAMPED](header=_header(t_ns, frame_id), twist=twist_message(cmd))


def odometry_message(position, quaternion_xyzw, body_velocity, body_rates, t_ns: int,
                     frame_id: str = "world", child_frame_id: str = "base_link"):
    """nav_msgs/Odometry: pose in `frame_id` (m, quaternion x y z w), twist in the body frame
    `child_frame_id` (m/s, rad/s), as REP-105 defines."""
    types = TYPESTORE.types
    point = types["geometry_msgs/msg/Point"](x=float(position[0]), y=float(position[1]), z=float(position[2]))
    q = types["geometry_msgs/msg/Quaternion"](x=float(quaternion_xyzw[0]), y=float(quaternion_xyzw[1]),
                                              z=float(quaternion_xyzw[2]), w=float(quaternion_xyzw[3]))
    pose = types["geometry_msgs/msg/PoseWithCovariance"](pose=types["geometry_msgs/msg/Pose"](position=point,
                                                                                            orientation=q),
                                                         covariance=np.zeros(36, np.float64))
    twist = types["geometry_msgs/msg/TwistWithCovariance"](
        twist=types[TWIST](linear=_vector3(body_velocity), angular=_vector3(body_rates)),
        covariance=np.zeros(36, np.float64))
    return types[ODOMETRY](header=_header(t_ns, frame_id), child_frame_id=child_frame_id, pose=pose, twist=twist)


def compressed_image_message(rgb: np.ndarray, t_ns: int, fmt: str = "jpeg", frame_id: str = "camera"):
    """sensor_msgs/CompressedImage (jpeg or png) from an RGB uint8 array, as image_transport writes it."""
    ok, data = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"cv2 could not encode a {rgb.shape} image as {fmt}")
    return TYPESTORE.types[COMPRESSED_IMAGE](header=_header(t_ns, frame_id), format=fmt,
                                             data=data.reshape(-1).astype(np.uint8))
