"""ROS 2 message types and builders for bags written with `rosbags` (no rclpy, no cv_bridge).

What a bag may hold, by type name: `IMAGE_TYPES` for the camera (decoded by
`lnn_control.codec`, the rules the policy node uses too), `IMU_TYPES`, `CMD_TYPES`. The
builders make the standard messages `collect` writes (Image rgb8, CompressedImage, Imu,
Twist, TwistStamped, Odometry) from arrays.
"""
from __future__ import annotations

import cv2
import numpy as np
from rosbags.typesys import Stores, get_typestore

from lnn_control.codec import rgb_to_raw

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
IMU = "sensor_msgs/msg/Imu"
TWIST = "geometry_msgs/msg/Twist"
TWIST_STAMPED = "geometry_msgs/msg/TwistStamped"
ODOMETRY = "nav_msgs/msg/Odometry"
BOOL = "std_msgs/msg/Bool"

IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)
IMU_TYPES = (IMU,)
CMD_TYPES = (TWIST, TWIST_STAMPED)
FLAG_TYPES = (BOOL,)

# ROS 2 Kilted definitions (the distribution this package targets); the standard messages used
# here have the same layout in every ROS 2 release.
TYPESTORE = get_typestore(Stores.ROS2_KILTED)


def _header(t_ns: int, frame_id: str):
    types = TYPESTORE.types
    stamp = types["builtin_interfaces/msg/Time"](sec=int(t_ns // 1_000_000_000), nanosec=int(t_ns % 1_000_000_000))
    return types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def _vector3(values):
    return TYPESTORE.types["geometry_msgs/msg/Vector3"](x=float(values[0]), y=float(values[1]), z=float(values[2]))


def image_message(rgb: np.ndarray, t_ns: int, frame_id: str = "camera", encoding: str = "rgb8"):
    """sensor_msgs/Image in `encoding` (one of `codec.RAW_ENCODINGS`) from an RGB uint8 H x W x 3 array."""
    pixels = rgb_to_raw(rgb, encoding)
    height, width, channels = pixels.shape
    return TYPESTORE.types[IMAGE](header=_header(t_ns, frame_id), height=height, width=width, encoding=encoding,
                                  is_bigendian=0, step=width * channels, data=pixels.reshape(-1))


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


def bool_message(value: bool):
    """std_msgs/Bool."""
    return TYPESTORE.types[BOOL](data=bool(value))


def compressed_image_message(rgb: np.ndarray, t_ns: int, fmt: str = "jpeg", frame_id: str = "camera"):
    """sensor_msgs/CompressedImage (jpeg or png) from an RGB uint8 array, as image_transport writes it."""
    ok, data = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"cv2 could not encode a {rgb.shape} image as {fmt}")
    return TYPESTORE.types[COMPRESSED_IMAGE](header=_header(t_ns, frame_id), format=fmt,
                                             data=data.reshape(-1).astype(np.uint8))
