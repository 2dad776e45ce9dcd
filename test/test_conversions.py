"""Message <-> array conversion of the ROS layer: every encoding, padding, and every way a message can be bad."""
from __future__ import annotations

import math
import re

import cv2
import numpy as np
import pytest
from geometry_msgs.msg import Twist
from sensor_msgs.msg import CompressedImage, Image, Imu

from lnn_control.ros.conversions import (IMAGE_ENCODINGS, InvalidMessage, command_to_twist, command_to_twist_stamped,
                                         compressed_to_rgb, image_to_rgb, imu_to_vector, rgb_to_image,
                                         seconds_to_stamp, stamp_to_seconds, twist_to_command, vector_to_imu)

STAMP = seconds_to_stamp(12.25)


@pytest.fixture
def rgb() -> np.ndarray:
    """A 5x7 image whose channels differ everywhere, so a swapped channel order shows."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


def _raw_image(pixels: np.ndarray, encoding: str, padding: int = 0) -> Image:
    """An Image holding `pixels` (HxWxC) byte for byte, each row followed by `padding` bytes."""
    height, width, channels = pixels.shape
    rows = np.concatenate([pixels.reshape(height, width * channels), np.full((height, padding), 77, np.uint8)], axis=1)
    msg = Image(height=height, width=width, encoding=encoding, step=width * channels + padding)
    msg.data = rows.tobytes()
    return msg


@pytest.mark.parametrize("encoding, to_raw", [
    ("rgb8", lambda rgb: rgb),
    ("bgr8", lambda rgb: rgb[:, :, ::-1]),
    ("rgba8", lambda rgb: np.dstack([rgb, np.full(rgb.shape[:2], 9, np.uint8)])),
    ("bgra8", lambda rgb: np.dstack([rgb[:, :, ::-1], np.full(rgb.shape[:2], 9, np.uint8)])),
])
@pytest.mark.parametrize("padding", [0, 5])
def test_color_encodings_read_as_rgb_with_row_padding(rgb, encoding, to_raw, padding):
    out = image_to_rgb(_raw_image(np.ascontiguousarray(to_raw(rgb)), encoding, padding))
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, rgb)


def test_mono8_is_grey_in_all_three_channels():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4, 1) * 20
    out = image_to_rgb(_raw_image(grey, "mono8", padding=3))
    assert out.shape == (3, 4, 3)
    for channel in range(3):
        np.testing.assert_array_equal(out[:, :, channel], grey[:, :, 0])


@pytest.mark.parametrize("encoding", list(IMAGE_ENCODINGS))
def test_rgb_to_image_round_trips(rgb, encoding):
    msg = rgb_to_image(rgb, STAMP, "camera", encoding)
    assert (msg.encoding, msg.header.frame_id, msg.header.stamp) == (encoding, "camera", STAMP)
    assert msg.step == rgb.shape[1] * IMAGE_ENCODINGS[encoding][0]
    out = image_to_rgb(msg)
    if encoding == "mono8":
        np.testing.assert_array_equal(out[:, :, 0], cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    else:
        np.testing.assert_array_equal(out, rgb)


def test_any_size_is_read():
    big = np.zeros((480, 640, 3), np.uint8)
    big[100, 200] = (1, 2, 3)
    out = image_to_rgb(rgb_to_image(big, STAMP, "camera", "bgra8"))
    assert out.shape == (480, 640, 3) and tuple(out[100, 200]) == (1, 2, 3)


@pytest.mark.parametrize("change, reason", [
    (dict(encoding="16UC1"), "unsupported image encoding '16UC1'"),
    (dict(encoding="yuv422"), "unsupported image encoding"),
    (dict(encoding=""), "unsupported image encoding ''"),
    (dict(height=0), "empty image"),
    (dict(width=0), "empty image"),
    (dict(step=20), "step 20 is shorter than a row of 7 rgb8 pixels (21 bytes)"),
    (dict(step=22), "data holds 105 bytes, expected step*height = 22*5 = 110"),
    (dict(height=6), "expected step*height = 21*6"),
    (dict(data=b"\x00" * 50), "data holds 50 bytes"),
    (dict(data=b""), "data holds 0 bytes"),
])
def test_bad_images_are_refused_with_the_reason(rgb, change, reason):
    msg = rgb_to_image(rgb, STAMP, "camera", "rgb8")
    for field, value in change.items():
        setattr(msg, field, value)
    with pytest.raises(InvalidMessage, match=re.escape(reason)):
        image_to_rgb(msg)


@pytest.mark.parametrize("extension", [".jpg", ".png"])
def test_compressed_images_decode_to_rgb(extension):
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:, :32] = (250, 10, 10)  # red left half: a swapped channel order would read blue
    ok, data = cv2.imencode(extension, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    out = compressed_to_rgb(CompressedImage(format=extension[1:], data=data.tobytes()))
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    away_from_the_edge = np.r_[0:28, 36:64]  # JPEG blurs the red/black boundary
    np.testing.assert_allclose(out[:, away_from_the_edge].astype(int), rgb[:, away_from_the_edge].astype(int), atol=12)


@pytest.mark.parametrize("extension", [".jpg", ".png"])
def test_truncated_or_garbage_compressed_images_are_refused(extension):
    ok, data = cv2.imencode(extension, np.full((48, 64, 3), 100, np.uint8))
    payload = data.tobytes()
    for bad, reason in [(payload[: len(payload) // 2], "truncated"), (b"", "empty compressed image"),
                        (b"not an image at all", "cannot decode")]:
        with pytest.raises(InvalidMessage, match=reason):
            compressed_to_rgb(CompressedImage(format=extension[1:], data=bad))


def test_imu_vector_is_gyro_then_accelerometer():
    imu = np.array([0.1, -0.2, 0.3, 1.0, -2.0, 9.81], np.float32)
    msg = vector_to_imu(imu, STAMP, "imu_link")
    assert msg.orientation_covariance[0] == -1.0 and msg.header.frame_id == "imu_link"
    out = imu_to_vector(msg)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, imu)


@pytest.mark.parametrize("field, axis, value", [
    ("angular_velocity", "x", math.nan), ("angular_velocity", "z", math.inf),
    ("linear_acceleration", "y", -math.inf), ("linear_acceleration", "z", math.nan),
    ("linear_acceleration", "x", 1e300),  # finite, but not as float32
])
def test_non_finite_imu_is_refused(field, axis, value):
    msg = vector_to_imu(np.zeros(6), STAMP, "imu")
    setattr(getattr(msg, field), axis, value)
    with pytest.raises(InvalidMessage, match="non-finite"):
        imu_to_vector(msg)


@pytest.mark.parametrize("covariance", ["angular_velocity_covariance", "linear_acceleration_covariance"])
def test_imu_without_gyro_or_accelerometer_is_refused(covariance):
    msg = vector_to_imu(np.zeros(6), STAMP, "imu")
    getattr(msg, covariance)[0] = -1.0
    with pytest.raises(InvalidMessage, match="covariance"):
        imu_to_vector(msg)


def test_commands_map_to_twist_linear_xyz_and_angular_z():
    cmd = np.array([1.5, -0.5, 0.25, -0.75], np.float32)
    twist = command_to_twist(cmd)
    assert (twist.linear.x, twist.linear.y, twist.linear.z) == (1.5, -0.5, 0.25)
    assert (twist.angular.x, twist.angular.y, twist.angular.z) == (0.0, 0.0, -0.75)
    np.testing.assert_array_equal(twist_to_command(twist), cmd)
    stamped = command_to_twist_stamped(cmd, STAMP, "base_link")
    assert stamped.header.frame_id == "base_link" and stamped.header.stamp == STAMP
    assert stamped.twist == twist and isinstance(stamped.twist, Twist)


def test_stamps_convert_both_ways():
    assert stamp_to_seconds(STAMP) == 12.25
    assert (STAMP.sec, STAMP.nanosec) == (12, 250_000_000)
    assert stamp_to_seconds(seconds_to_stamp(3.999999999)) == pytest.approx(3.999999999, abs=1e-9)


def test_a_message_without_data_fields_set_is_refused():
    with pytest.raises(InvalidMessage):
        image_to_rgb(Image())
    with pytest.raises(InvalidMessage):
        compressed_to_rgb(CompressedImage())
    assert imu_to_vector(Imu()).tolist() == [0.0] * 6
