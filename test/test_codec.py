"""The one message codec: every fixture goes through both paths that read messages.

A fixture is an rclpy message, serialised to CDR bytes as it travels over DDS or sits in a bag.
- node path: the bytes deserialised by rclpy and decoded as `policy_node` / `sim_node` decode
  them (`lnn_control.codec` on the rclpy message);
- bag path: the same bytes written into a real rosbag2 bag and read back by `read_bag` (rosbags
  deserialises them; the codec decodes).
Both must agree: the same array for a message one accepts, the same refusal (reason) for one it
refuses; the bag reader drops a refused message, and a bag with no usable message left on a
topic is a BagError naming the bag, the topic and the reason.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from geometry_msgs.msg import Twist, TwistStamped
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Writer
from sensor_msgs.msg import CompressedImage, Image, Imu

from lnn_control import codec
from lnn_control.data import BagError, BagTopics, read_bag
from lnn_control.data import messages as m
from lnn_control.ros.conversions import rgb_to_image, seconds_to_stamp, vector_to_imu

STAMP_S = 12.25
RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)   # channels differ everywhere


def _raw_image(pixels: np.ndarray, encoding: str, padding: int = 0) -> Image:
    """An Image holding `pixels` (H x W x C) byte for byte, each row followed by `padding` bytes."""
    height, width, channels = pixels.shape
    rows = np.concatenate([pixels.reshape(height, width * channels), np.full((height, padding), 77, np.uint8)], axis=1)
    msg = Image(height=height, width=width, encoding=encoding, step=width * channels + padding)
    msg.header.stamp = seconds_to_stamp(STAMP_S)
    msg.data = rows.tobytes()
    return msg


def _changed(msg, **fields):
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


def _compressed(rgb: np.ndarray, extension: str, fmt: str | None = None, cut: slice | None = None) -> CompressedImage:
    ok, data = cv2.imencode(extension, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    payload = data.tobytes()[cut] if cut is not None else data.tobytes()
    msg = CompressedImage(format=extension[1:] if fmt is None else fmt, data=payload)
    msg.header.stamp = seconds_to_stamp(STAMP_S)
    return msg


def _imu(values=(0.1, -0.2, 0.3, 1.0, -2.0, 9.81), **covariance) -> Imu:
    msg = vector_to_imu(np.array(values, np.float64), seconds_to_stamp(STAMP_S), "imu_link")
    for name, value in covariance.items():
        getattr(msg, name)[0] = value
    return msg


def _twist(values=(1.5, -0.5, 0.25, -0.75)) -> Twist:
    twist = Twist()
    twist.linear.x, twist.linear.y, twist.linear.z = values[:3]
    twist.angular.z = values[3]
    return twist


SMOOTH = np.dstack([np.full((48, 64), 250, np.uint8), np.tile(np.arange(64, dtype=np.uint8) * 3, (48, 1)),
                    np.full((48, 64), 20, np.uint8)])
# name -> (message, expected RGB or None where the codec refuses it, the refusal reason)
IMAGES = {
    "rgb8": (_raw_image(RGB, "rgb8"), RGB, None),
    "bgr8 with row padding": (_raw_image(np.ascontiguousarray(RGB[:, :, ::-1]), "bgr8", padding=5), RGB, None),
    "rgba8": (_raw_image(np.dstack([RGB, np.full(RGB.shape[:2], 9, np.uint8)]), "rgba8"), RGB, None),
    "bgra8 with row padding": (_raw_image(np.dstack([RGB[:, :, ::-1], np.full(RGB.shape[:2], 9, np.uint8)]), "bgra8",
                                          padding=3), RGB, None),
    "mono8": (_raw_image(RGB[:, :, :1].copy(), "mono8", padding=1), np.repeat(RGB[:, :, :1], 3, axis=2), None),
    "upper-case RGB8": (_raw_image(RGB, "RGB8"), RGB, None),
    "16UC1": (_changed(_raw_image(RGB, "rgb8"), encoding="16UC1"), None, "unsupported image encoding"),
    "yuv422": (_changed(_raw_image(RGB, "rgb8"), encoding="yuv422"), None, "unsupported image encoding"),
    "no encoding": (_changed(_raw_image(RGB, "rgb8"), encoding=""), None, "unsupported image encoding"),
    "zero height": (_changed(_raw_image(RGB, "rgb8"), height=0), None, "empty image"),
    "zero width": (_changed(_raw_image(RGB, "rgb8"), width=0), None, "empty image"),
    "step shorter than a row": (_changed(_raw_image(RGB, "rgb8"), step=20), None, "step shorter than a row"),
    "step longer than the data": (_changed(_raw_image(RGB, "rgb8"), step=22), None, "data size is not step*height"),
    "height beyond the data": (_changed(_raw_image(RGB, "rgb8"), height=6), None, "data size is not step*height"),
    "truncated data": (_changed(_raw_image(RGB, "rgb8"), data=bytes(50)), None, "data size is not step*height"),
    "trailing bytes": (_changed(_raw_image(RGB, "rgb8"), data=RGB.tobytes() + b"\0\0"), None,
                       "data size is not step*height"),
    "no data": (_changed(_raw_image(RGB, "rgb8"), data=b""), None, "data size is not step*height"),
}
COMPRESSED = {
    "png": (_compressed(RGB, ".png"), RGB, None),
    "png, format from image_transport": (_compressed(RGB, ".png", "rgb8; png compressed bgr8"), RGB, None),
    "png, no format": (_compressed(RGB, ".png", ""), RGB, None),
    "jpeg": (_compressed(SMOOTH, ".jpg"), SMOOTH, None),
    "jpeg, format from image_transport": (_compressed(SMOOTH, ".jpg", "rgb8; jpeg compressed bgr8"), SMOOTH, None),
    "truncated png": (_compressed(RGB, ".png", cut=slice(0, 40)), None, "truncated compressed image"),
    "truncated jpeg": (_compressed(SMOOTH, ".jpg", cut=slice(0, 300)), None, "truncated compressed image"),
    "png with its head cut off": (_compressed(RGB, ".png", cut=slice(10, None)), None, "undecodable compressed image"),
    "garbage between jpeg markers": (CompressedImage(format="jpeg", data=b"\xff\xd8 not a jpeg \xff\xd9"), None,
                                     "undecodable compressed image"),
    "empty": (CompressedImage(format="png", data=b""), None, "undecodable compressed image"),
    "theora": (_compressed(RGB, ".png", "theora"), None, "unsupported compressed format"),
    "compressedDepth": (_compressed(RGB, ".png", "16UC1; compressedDepth png"), None, "unsupported compressed format"),
    "no format, no signature": (CompressedImage(format="", data=b"hello"), None, "unsupported compressed format"),
}
IMUS = {
    "gyro then accelerometer": (_imu(), np.array([0.1, -0.2, 0.3, 1.0, -2.0, 9.81], np.float32), None),
    "NaN gyro": (_imu((math.nan, 0, 0, 0, 0, 9.81)), None, "non-finite IMU values"),
    "Inf gyro z": (_imu((0, 0, math.inf, 0, 0, 9.81)), None, "non-finite IMU values"),
    "-Inf accelerometer": (_imu((0, 0, 0, 0, -math.inf, 9.81)), None, "non-finite IMU values"),
    "beyond float32": (_imu((0, 0, 0, 1e300, 0, 9.81)), None, "non-finite IMU values"),
    "no angular velocity": (_imu(angular_velocity_covariance=-1.0), None, "IMU reading not provided"),
    "no linear acceleration": (_imu(linear_acceleration_covariance=-1.0), None, "IMU reading not provided"),
}
COMMANDS = {
    "Twist": (_twist(), np.array([1.5, -0.5, 0.25, -0.75], np.float32), None),
    "NaN yaw rate": (_twist((0.0, 0.0, 0.0, math.nan)), None, "non-finite command values"),
    "Inf vx": (_twist((math.inf, 0.0, 0.0, 0.0)), None, "non-finite command values"),
}


def _node_path(msg, decode):
    """What the node does with the message's bytes as they arrive: rclpy deserialises, the codec decodes."""
    received = deserialize_message(serialize_message(msg), type(msg))
    return decode(received)


def _bag(path, image=None, imu=None, cmd=None):
    """A real MCAP bag holding `image`/`imu`/`cmd` (rclpy messages, serialised by rclpy) where
    given, and one good message of each of the other topics, all 10 ms apart."""
    image = image if image is not None else _raw_image(RGB, "rgb8")
    imu = imu if imu is not None else _imu()
    cmd = cmd if cmd is not None else _twist()
    writer = Writer(path, version=Writer.VERSION_LATEST)
    writer.open()
    t0 = int(STAMP_S * 1e9)
    for k, (topic, msg) in enumerate([("imu/data", imu), ("camera/image_raw", image), ("cmd_vel", cmd)]):
        typename = {Image: m.IMAGE, CompressedImage: m.COMPRESSED_IMAGE, Imu: m.IMU, Twist: m.TWIST,
                    TwistStamped: m.TWIST_STAMPED}[type(msg)]
        connection = writer.add_connection(topic, typename, typestore=m.TYPESTORE)
        writer.write(connection, t0 + k * 10_000_000, serialize_message(msg))
    writer.close()
    return path


def _both_paths(tmp_path, msg, expected, reason, decode, slot: str, value_of):
    """Run `msg` through the node path and the bag path; check they agree with the fixture."""
    bag = _bag(tmp_path / "bag", **{slot: msg})
    if expected is None:
        with pytest.raises(codec.InvalidMessage) as refused:
            _node_path(msg, decode)
        assert refused.value.reason == reason
        with pytest.raises(BagError) as caught:
            read_bag(bag, BagTopics(), image_size=RGB.shape[:2])
        text = str(caught.value)
        assert str(bag) in text and "no usable message" in text and reason in text and "\n" not in text
        return
    decoded = _node_path(msg, decode)
    assert decoded.dtype == expected.dtype and decoded.shape == expected.shape
    streams = read_bag(bag, BagTopics(), image_size=expected.shape[:2] if slot == "image" else RGB.shape[:2])
    assert streams.dropped == []
    np.testing.assert_array_equal(value_of(streams), decoded)
    if slot == "image" and "jp" in str(getattr(msg, "format", "")):   # JPEG is lossy: close to the original
        assert np.abs(decoded.astype(int) - expected.astype(int)).mean() < 3
    else:
        np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize("name", list(IMAGES))
def test_raw_images_decode_the_same_on_the_node_and_in_bags(tmp_path, name):
    msg, expected, reason = IMAGES[name]
    _both_paths(tmp_path, msg, expected, reason, codec.image_to_rgb, "image", lambda s: s.images[0])


@pytest.mark.parametrize("name", list(COMPRESSED))
def test_compressed_images_decode_the_same_on_the_node_and_in_bags(tmp_path, name):
    msg, expected, reason = COMPRESSED[name]
    _both_paths(tmp_path, msg, expected, reason, codec.compressed_to_rgb, "image", lambda s: s.images[0])


@pytest.mark.parametrize("name", list(IMUS))
def test_imu_readings_decode_the_same_on_the_node_and_in_bags(tmp_path, name):
    msg, expected, reason = IMUS[name]
    _both_paths(tmp_path, msg, expected, reason, codec.imu_to_vector, "imu", lambda s: s.imu[0])


@pytest.mark.parametrize("name", list(COMMANDS))
def test_commands_decode_the_same_on_the_node_and_in_bags(tmp_path, name):
    msg, expected, reason = COMMANDS[name]
    _both_paths(tmp_path, msg, expected, reason, codec.twist_to_command, "cmd", lambda s: s.cmd[0])


def test_twist_stamped_commands_decode_through_their_twist(tmp_path):
    stamped = TwistStamped(twist=_twist())
    stamped.header.stamp = seconds_to_stamp(STAMP_S + 0.02)
    streams = read_bag(_bag(tmp_path / "bag", cmd=stamped), image_size=RGB.shape[:2])
    np.testing.assert_array_equal(streams.cmd[0], _node_path(stamped.twist, codec.twist_to_command))
    assert streams.cmd_stamps[0] == int(round((STAMP_S + 0.02) * 1e9))


def test_refusals_say_what_is_wrong():
    cases = [
        (codec.image_to_rgb, IMAGES["16UC1"][0], "image encoding '16UC1' is not supported (supported: rgb8, bgr8"),
        (codec.image_to_rgb, IMAGES["step shorter than a row"][0],
         "step 20 is shorter than a row of 7 rgb8 pixels (21 bytes)"),
        (codec.image_to_rgb, IMAGES["step longer than the data"][0],
         "data holds 105 bytes, expected step*height = 22*5 = 110"),
        (codec.compressed_to_rgb, COMPRESSED["truncated png"][0], "truncated png (40 bytes, no IEND chunk)"),
        (codec.compressed_to_rgb, COMPRESSED["truncated jpeg"][0],
         "truncated jpeg (300 bytes, no end-of-image marker)"),
        (codec.imu_to_vector, IMUS["NaN gyro"][0], "IMU message holds non-finite values [nan, 0.0, 0.0"),
        (codec.imu_to_vector, IMUS["no linear acceleration"][0], "linear_acceleration_covariance[0] = -1"),
        (codec.twist_to_command, COMMANDS["Inf vx"][0], "command message holds non-finite values [inf"),
    ]
    for decode, msg, text in cases:
        with pytest.raises(codec.InvalidMessage) as refused:
            decode(msg)
        assert text in str(refused.value)
    assert issubclass(codec.UnsupportedEncoding, codec.InvalidMessage) and issubclass(codec.InvalidMessage, ValueError)


def test_a_message_with_no_fields_set_is_refused_or_read_as_zeros():
    with pytest.raises(codec.InvalidMessage):
        codec.image_to_rgb(Image())
    with pytest.raises(codec.InvalidMessage):
        codec.compressed_to_rgb(CompressedImage())
    assert codec.imu_to_vector(Imu()).tolist() == [0.0] * 6
    assert codec.twist_to_command(Twist()).tolist() == [0.0] * 4


@pytest.mark.parametrize("encoding", list(codec.RAW_ENCODINGS))
def test_what_the_nodes_publish_reads_back(encoding):
    """rgb_to_image (sim_node's camera) and the bag writer's image_message pack pixels the same way."""
    node_msg = rgb_to_image(RGB, seconds_to_stamp(STAMP_S), "camera", encoding)
    bag_msg = m.image_message(RGB, int(STAMP_S * 1e9), encoding=encoding)
    assert bytes(node_msg.data) == bag_msg.data.tobytes() and node_msg.step == bag_msg.step
    decoded = codec.image_to_rgb(node_msg)
    if encoding == "mono8":
        np.testing.assert_array_equal(decoded[:, :, 0], cv2.cvtColor(RGB, cv2.COLOR_RGB2GRAY))
    else:
        np.testing.assert_array_equal(decoded, RGB)
