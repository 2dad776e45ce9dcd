"""Property-based tests (hypothesis): whatever bytes arrive, only the documented errors come out.

- the codec, on rclpy messages with random fields and random, truncated or mutated data:
  a well-formed array, or `InvalidMessage` with a reason and a text;
- the bag reader, on real MCAP and sqlite3 bags whose storage file is truncated, mutated or
  replaced by random bytes, and on mutated metadata.yaml: `BagStreams`, or `BagError` (one
  line naming the bag);
- the checkpoint loader, on a real checkpoint file truncated, mutated or random:
  a policy, or `CheckpointError` (one line naming the file).

The examples are drawn from a fixed seed in the suite (conftest's "ci" profile), so a run
never differs from the last; `pytest test/test_fuzz.py --hypothesis-profile=explore` draws
new ones, many more.
"""
from __future__ import annotations

import math
import shutil

import cv2
import numpy as np
import pytest
from bag_factory import storage_file, write_bag
from geometry_msgs.msg import Twist
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import CompressedImage, Image, Imu

from lnn_control import codec
from lnn_control.data import BagError, read_bag
from lnn_control.policy import CheckpointError, PolicySpec, build_network, load_checkpoint, save_checkpoint

ENCODINGS = [*codec.RAW_ENCODINGS, "RGB8", "Mono8", "16UC1", "yuv422", "bayer_rggb8", "", "rgb8 "]
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
# examples for the tests that read a bag or a checkpoint per example (each costs milliseconds)
FILE_EXAMPLES = 60 if settings.default.max_examples <= 100 else settings.default.max_examples
small = st.integers(min_value=0, max_value=24)
uint32 = st.integers(min_value=0, max_value=2**32 - 1)


def _mutated(payload: bytes, data: st.DataObject) -> bytes:
    """`payload` truncated, with bytes overwritten, or with bytes inserted, as hypothesis chooses."""
    how = data.draw(st.sampled_from(["truncate", "overwrite", "insert", "random"]))
    if how == "random" or not payload:
        return data.draw(st.binary(max_size=4 * len(payload) + 64))
    at = data.draw(st.integers(min_value=0, max_value=len(payload) - 1))
    if how == "truncate":
        return payload[:at]
    chunk = data.draw(st.binary(min_size=1, max_size=64))
    return payload[:at] + chunk + payload[at + (len(chunk) if how == "overwrite" else 0):]


def _refused_or_well_formed(decode, msg, check):
    try:
        value = decode(msg)
    except codec.InvalidMessage as refused:
        assert refused.reason and str(refused)
        return
    check(value)


def _rgb_check(width=None, height=None):
    def check(rgb):
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.flags.c_contiguous
        if width is not None:
            assert rgb.shape[:2] == (height, width)
    return check


@given(encoding=st.sampled_from(ENCODINGS), width=small, height=small, step=small.map(lambda s: s * 4),
       data=st.binary(max_size=2000))
def test_raw_images_of_any_fields_are_decoded_or_refused(encoding, width, height, step, data):
    msg = Image(encoding=encoding, width=width, height=height, step=step, data=data)
    _refused_or_well_formed(codec.image_to_rgb, msg, _rgb_check(width, height))


@given(width=uint32, height=uint32, step=uint32, data=st.binary(max_size=64))
def test_raw_images_with_huge_sizes_are_refused_without_allocating(width, height, step, data):
    msg = Image(encoding="rgb8", width=width, height=height, step=step, data=data)
    _refused_or_well_formed(codec.image_to_rgb, msg, _rgb_check(width, height))


@given(data=st.data(), encoding=st.sampled_from(list(codec.RAW_ENCODINGS)))
def test_mutated_raw_image_data_is_decoded_or_refused(data, encoding):
    channels = codec.RAW_ENCODINGS[encoding][0]
    payload = bytes(np.random.default_rng(0).integers(0, 256, 6 * 8 * channels, dtype=np.uint8))
    msg = Image(encoding=encoding, width=8, height=6, step=8 * channels, data=_mutated(payload, data))
    _refused_or_well_formed(codec.image_to_rgb, msg, _rgb_check(8, 6))


def _encoded(extension: str) -> bytes:
    y, x = np.mgrid[0:24, 0:32]
    rgb = np.dstack([x * 8, y * 10, (x + y) * 4]).astype(np.uint8)
    return cv2.imencode(extension, rgb)[1].tobytes()


PAYLOADS = {"jpeg": _encoded(".jpg"), "png": _encoded(".png")}


@given(data=st.data(), kind=st.sampled_from(["jpeg", "png"]),
       fmt=st.sampled_from(["jpeg", "png", "", "rgb8; jpeg compressed bgr8", "16UC1; compressedDepth png", "theora"]))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_mutated_compressed_images_are_decoded_or_refused(data, kind, fmt):
    msg = CompressedImage(format=fmt, data=_mutated(PAYLOADS[kind], data))
    _refused_or_well_formed(codec.compressed_to_rgb, msg, _rgb_check())


@given(fmt=st.text(max_size=12), data=st.binary(max_size=300))
def test_random_compressed_images_are_refused(fmt, data):
    _refused_or_well_formed(codec.compressed_to_rgb, CompressedImage(format=fmt, data=data), _rgb_check())


@given(values=st.lists(floats, min_size=6, max_size=6), gyro_cov=floats, accel_cov=floats)
def test_imu_readings_are_finite_vectors_or_refused(values, gyro_cov, accel_cov):
    msg = Imu()
    msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = values[:3]
    msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z = values[3:]
    msg.angular_velocity_covariance[0], msg.linear_acceleration_covariance[0] = gyro_cov, accel_cov

    def check(vector):
        assert vector.dtype == np.float32 and vector.shape == (6,) and np.isfinite(vector).all()
        assert gyro_cov != -1.0 and accel_cov != -1.0
    _refused_or_well_formed(codec.imu_to_vector, msg, check)


@given(values=st.lists(floats, min_size=6, max_size=6))
def test_commands_are_finite_vectors_or_refused(values):
    twist = Twist()
    twist.linear.x, twist.linear.y, twist.linear.z = values[:3]
    twist.angular.x, twist.angular.y, twist.angular.z = values[3:]

    def check(command):
        assert command.dtype == np.float32 and command.shape == (4,) and np.isfinite(command).all()
        assert all(math.isfinite(v) for v in values[:3] + values[5:])
    _refused_or_well_formed(codec.twist_to_command, twist, check)


# -- bags --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pristine_bags(tmp_path_factory):
    root = tmp_path_factory.mktemp("pristine")
    return {storage: write_bag(root / storage, storage=storage, encoding="png", frames=12)
            for storage in ("mcap", "sqlite3")}


def _read_bag_or_bag_error(bag):
    try:
        streams = read_bag(bag)
    except BagError as error:
        text = str(error)
        assert str(bag) in text and "\n" not in text
        return
    assert len(streams.images) == len(streams.image_stamps) > 0 and np.isfinite(streams.imu).all()


@given(data=st.data(), storage=st.sampled_from(["mcap", "sqlite3"]))
@settings(max_examples=FILE_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_damaged_bag_storage_is_read_or_one_bag_error(pristine_bags, tmp_path, data, storage):
    bag = tmp_path / f"bag_{storage}"
    shutil.rmtree(bag, ignore_errors=True)
    shutil.copytree(pristine_bags[storage], bag)
    stored = storage_file(bag)
    stored.write_bytes(_mutated(stored.read_bytes(), data))
    _read_bag_or_bag_error(bag)


@given(data=st.data())
@settings(max_examples=FILE_EXAMPLES // 2, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_damaged_bag_metadata_is_read_or_one_bag_error(pristine_bags, tmp_path, data):
    bag = tmp_path / "bag_meta"
    shutil.rmtree(bag, ignore_errors=True)
    shutil.copytree(pristine_bags["mcap"], bag)
    metadata = bag / "metadata.yaml"
    metadata.write_bytes(_mutated(metadata.read_bytes(), data))
    _read_bag_or_bag_error(bag)


# -- checkpoints -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pristine_checkpoint(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("checkpoint") / "policy.pt"
    return save_checkpoint(path, build_network(PolicySpec(kind="mlp"))).read_bytes()


@given(data=st.data())
@settings(max_examples=FILE_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_damaged_checkpoints_load_or_give_one_checkpoint_error(pristine_checkpoint, tmp_path, data):
    path = tmp_path / "damaged.pt"
    path.write_bytes(_mutated(pristine_checkpoint, data))
    try:
        net, header = load_checkpoint(path)
    except CheckpointError as error:
        text = str(error)
        assert text.startswith(f"{path}: ") and "\n" not in text
        return
    assert header["kind"] == "mlp" and net.spec.kind == "mlp"
