"""policy_node's IMU reader (`ros/imu_wire.py`) reads from the serialized bytes what rclpy's
deserialisation gives, and leaves to it what it does not read."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Imu

from lnn_control.codec import InvalidMessage, imu_to_vector
from lnn_control.ros.imu_wire import read_imu

DOUBLES = st.floats(allow_nan=True, allow_infinity=True, width=64)


def _message(frame_id: str, values: list[float], gyro_cov: float, accel_cov: float, sec: int, nanosec: int) -> Imu:
    msg = Imu()
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.header.frame_id = frame_id
    msg.orientation.w = 0.5
    msg.orientation_covariance[0] = -1.0
    msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = values[:3]
    msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z = values[3:]
    msg.angular_velocity_covariance[0] = gyro_cov
    msg.linear_acceleration_covariance[0] = accel_cov
    msg.angular_velocity_covariance[8] = msg.linear_acceleration_covariance[8] = 7.0
    return msg


def _decoded(msg) -> tuple:
    """What the node takes from a message: the stamp and imu_to_vector's vector, or its refusal."""
    stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
    try:
        return stamp, imu_to_vector(msg).tolist()
    except InvalidMessage as refusal:
        return stamp, str(refusal)


@given(frame_id=st.text(alphabet="abcxyz_/0", max_size=19), values=st.lists(DOUBLES, min_size=6, max_size=6),
       gyro_cov=st.sampled_from([0.0, -1.0, 0.01]), accel_cov=st.sampled_from([0.0, -1.0, 0.5]),
       sec=st.integers(-2**31, 2**31 - 1), nanosec=st.integers(0, 999_999_999))
def test_the_bytes_read_as_rclpy_deserialises_them(frame_id, values, gyro_cov, accel_cov, sec, nanosec):
    data = serialize_message(_message(frame_id, values, gyro_cov, accel_cov, sec, nanosec))
    reading = read_imu(data)
    assert reading is not None
    fast, slow = _decoded(reading), _decoded(deserialize_message(data, Imu))
    assert fast[0] == slow[0]
    if isinstance(slow[1], str):
        assert fast[1] == slow[1]
    else:
        assert np.array_equal(fast[1], slow[1]) and all(math.isfinite(v) for v in fast[1])


@pytest.mark.parametrize("change", [
    lambda data: b"\x00\x00" + data[2:],        # big-endian CDR: left to rclpy
    lambda data: b"\x00\x07" + data[2:],        # XCDR2: left to rclpy
    lambda data: data[:-1],                     # cut short
    lambda data: data[:10],
    lambda data: b"",
])
def test_what_it_does_not_read_is_none(change):
    data = serialize_message(_message("imu", [0.0] * 5 + [9.81], 0.0, 0.0, 1, 2))
    assert read_imu(change(data)) is None
