"""Arrays -> rclpy messages for what the nodes publish, and stamps (decoding: test_codec.py)."""
from __future__ import annotations

import numpy as np
import pytest
from geometry_msgs.msg import Twist

from lnn_control import codec
from lnn_control.ros.conversions import (
    command_to_twist,
    command_to_twist_stamped,
    rgb_to_image,
    seconds_to_stamp,
    stamp_to_seconds,
    vector_to_imu,
)

STAMP = seconds_to_stamp(12.25)


@pytest.mark.parametrize("encoding", list(codec.RAW_ENCODINGS))
def test_rgb_to_image_fills_the_header_and_layout(encoding):
    rgb = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    msg = rgb_to_image(rgb, STAMP, "camera", encoding)
    assert (msg.encoding, msg.header.frame_id, msg.header.stamp) == (encoding, "camera", STAMP)
    assert (msg.height, msg.width, msg.step) == (5, 7, 7 * codec.RAW_ENCODINGS[encoding][0])


def test_any_size_is_written_and_read():
    big = np.zeros((480, 640, 3), np.uint8)
    big[100, 200] = (1, 2, 3)
    out = codec.image_to_rgb(rgb_to_image(big, STAMP, "camera", "bgra8"))
    assert out.shape == (480, 640, 3) and tuple(out[100, 200]) == (1, 2, 3)


def test_an_unknown_encoding_or_a_non_rgb_array_is_refused():
    with pytest.raises(ValueError, match="unsupported image encoding 'yuv422'"):
        rgb_to_image(np.zeros((2, 2, 3), np.uint8), STAMP, "camera", "yuv422")
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        rgb_to_image(np.zeros((2, 2), np.uint8), STAMP, "camera")


def test_imu_vector_is_gyro_then_accelerometer_without_orientation():
    imu = np.array([0.1, -0.2, 0.3, 1.0, -2.0, 9.81], np.float32)
    msg = vector_to_imu(imu, STAMP, "imu_link")
    assert msg.orientation_covariance[0] == -1.0 and msg.header.frame_id == "imu_link"
    np.testing.assert_array_equal(codec.imu_to_vector(msg), imu)


def test_commands_map_to_twist_linear_xyz_and_angular_z():
    cmd = np.array([1.5, -0.5, 0.25, -0.75], np.float32)
    twist = command_to_twist(cmd)
    assert (twist.linear.x, twist.linear.y, twist.linear.z) == (1.5, -0.5, 0.25)
    assert (twist.angular.x, twist.angular.y, twist.angular.z) == (0.0, 0.0, -0.75)
    np.testing.assert_array_equal(codec.twist_to_command(twist), cmd)
    stamped = command_to_twist_stamped(cmd, STAMP, "base_link")
    assert stamped.header.frame_id == "base_link" and stamped.header.stamp == STAMP
    assert stamped.twist == twist and isinstance(stamped.twist, Twist)


def test_stamps_convert_both_ways():
    assert stamp_to_seconds(STAMP) == 12.25
    assert (STAMP.sec, STAMP.nanosec) == (12, 250_000_000)
    assert stamp_to_seconds(seconds_to_stamp(3.999999999)) == pytest.approx(3.999999999, abs=1e-9)
    assert codec.stamp_ns(STAMP) == 12_250_000_000
