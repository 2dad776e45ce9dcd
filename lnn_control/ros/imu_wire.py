"""A serialized `sensor_msgs/Imu` read straight from its CDR bytes, for the policy node's 200 Hz stream.

rclpy turns every message into Python objects (a Header, a Time, a Quaternion, two Vector3s,
three 9-element covariance arrays) before a callback sees it; for an IMU reading that costs
far more than the reading is worth (`bench/bench_policy_node.py`). With a raw subscription the
node reads the few fields it uses from the bytes instead, and hands them to `codec.imu_to_vector`
in the shape of a message, so the decoding rules stay the codec's own.

Layout (plain CDR, XCDR1, little endian — what ROS 2's DDS layers send): a 4-byte encapsulation
header `00 01 00 00`, then, aligned from the end of that header: stamp sec (int32), nanosec
(uint32), frame_id (uint32 length including its NUL, the bytes), then 37 float64 aligned to 8:
orientation (4), orientation_covariance (9), angular_velocity (3), angular_velocity_covariance
(9), linear_acceleration (3), linear_acceleration_covariance (9). Anything else (another
encapsulation, too few bytes) is `None`: the caller deserialises it the ordinary way.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

CDR_LE = b"\x00\x01"
_HEADER = struct.Struct("<iII")              # sec, nanosec, frame_id length
_DOUBLES = struct.Struct("<37d")
_GYRO, _GYRO_COV, _ACCEL, _ACCEL_COV = 13, 16, 25, 28   # offsets into the 37 doubles


@dataclass(slots=True)
class Vector3:
    x: float
    y: float
    z: float


@dataclass(slots=True)
class Stamp:
    sec: int
    nanosec: int


@dataclass(slots=True)
class Header:
    stamp: Stamp


@dataclass(slots=True)
class ImuReading:
    """The fields of a `sensor_msgs/Imu` the node reads, named as in the message."""

    header: Header
    angular_velocity: Vector3
    angular_velocity_covariance: tuple[float]    # its first element only (REP-145: -1 = not provided)
    linear_acceleration: Vector3
    linear_acceleration_covariance: tuple[float]


def read_imu(data: bytes) -> ImuReading | None:
    """The reading in the serialized Imu `data`, or None when it is not plain little-endian CDR
    of a whole message."""
    if data[:2] != CDR_LE or len(data) < 4 + _HEADER.size:
        return None
    sec, nanosec, name_length = _HEADER.unpack_from(data, 4)
    start = 4 + ((_HEADER.size + name_length + 7) & ~7)   # the doubles align to 8 after the header
    if len(data) < start + _DOUBLES.size:
        return None
    d = _DOUBLES.unpack_from(data, start)
    return ImuReading(Header(Stamp(sec, nanosec)), Vector3(*d[_GYRO:_GYRO + 3]), (d[_GYRO_COV],),
                      Vector3(*d[_ACCEL:_ACCEL + 3]), (d[_ACCEL_COV],))
