"""Arrays -> ROS 2 messages (rclpy types) for what the nodes publish, and time stamps, without cv_bridge.

Reading messages (camera, IMU, commands) goes through `lnn_control.codec`, the rules the bag
reader uses too. Arrays follow the library's conventions: images HxWx3 uint8 RGB; IMU float32
[gx, gy, gz, ax, ay, az] (rad/s, m/s^2, body frame FLU); commands float32 [vx, vy, vz,
yaw_rate] (m/s, rad/s, heading frame).
"""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist, TwistStamped
from sensor_msgs.msg import Image, Imu

from lnn_control.codec import rgb_to_raw


def stamp_to_seconds(stamp: Time) -> float:
    """A `builtin_interfaces/Time` as float seconds (0.0 means "not stamped")."""
    return stamp.sec + stamp.nanosec * 1e-9


def seconds_to_stamp(seconds: float) -> Time:
    """Float seconds (>= 0) as a `builtin_interfaces/Time`."""
    nanoseconds = int(round(seconds * 1e9))
    return Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


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


def rgb_to_image(rgb: np.ndarray, stamp: Time, frame_id: str, encoding: str = "rgb8") -> Image:
    """An HxWx3 uint8 RGB array as a `sensor_msgs/Image` in `encoding` (one of `codec.RAW_ENCODINGS`)."""
    pixels = rgb_to_raw(rgb, encoding)
    height, width, channels = pixels.shape
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=0, step=width * channels)
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.data = pixels.tobytes()
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
