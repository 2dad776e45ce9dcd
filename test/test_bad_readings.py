"""Bad readings in bags never stop training: the reader drops what it cannot use and says so.

Real MCAP bags (test/bag_factory.py) with a glitch written into them: a NaN gyro reading, a NaN
command, a frame whose size or encoding changes mid-bag, duplicated and out-of-order stamps.
`read_bag` drops exactly those messages and counts them by topic and reason; `train` and
`inspect-bag` report them one line each and train on the rest; only a bag with nothing usable
on a topic is an error (one line naming the bag), and `--skip-bad` still skips it.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from bag_factory import T0_NS, frame_cmd, frame_rgb, write_bag

from lnn_control.cli import main
from lnn_control.data import BagError, imu_statistics, load_bag, load_bags, read_bag
from lnn_control.data import messages as m
from lnn_control.data.alignment import Sequence
from lnn_control.policy import read_header

TINY = ("data: {sequence_length: 8, stride: 4, val_fraction: 0.34}\n"
        "optim: {batch_size: 4, tbptt_steps: 4, warmup_epochs: 0}\n")


def nan_gyro_at(index: int):
    def edit(kind, i, msg):
        if kind == "imu" and i == index:
            msg.angular_velocity.z = math.nan
        return msg
    return edit


def test_a_nan_gyro_reading_is_dropped_and_reported_with_topic_time_and_reason(tmp_path):
    bag = write_bag(tmp_path / "bag", frames=20, edit=nan_gyro_at(7))
    streams = read_bag(bag)
    assert len(streams.imu) == 39 and np.isfinite(streams.imu).all() and len(streams.images) == 20
    [dropped] = streams.dropped
    assert (dropped.topic, dropped.reason, dropped.count, dropped.total) == ("imu/data", "non-finite IMU values", 1, 40)
    assert dropped.first_s == pytest.approx(7 * 0.025)           # IMU reading 7, 25 ms apart
    line = dropped.describe(bag)
    assert line.startswith(f"{bag}: dropped 1 of 40 messages on 'imu/data': non-finite IMU values (first at 0.175 s")
    assert "nan" in line and "\n" not in line


def test_three_bags_one_with_a_nan_gyro_train_and_the_report_names_bag_topic_and_reason(tmp_path, monkeypatch,
                                                                                       capsys):
    monkeypatch.setenv("LNN_CONTROL_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    bags = tmp_path / "bags"
    for name in ("a", "b", "c"):
        write_bag(bags / name, frames=24, edit=nan_gyro_at(11) if name == "b" else None)
    (tmp_path / "tiny.yaml").write_text(TINY)
    out = tmp_path / "m.pt"
    code = main(["train", "--bags", str(bags), "--model", "cfc", "--out", str(out), "--epochs", "1",
                 "--config", str(tmp_path / "tiny.yaml")])
    err = capsys.readouterr().err
    assert code == 0, err
    lines = [line for line in err.splitlines() if "dropped" in line]
    assert lines == [f"lnn-control train: {bags / 'b'}: dropped 1 of 48 messages on 'imu/data': non-finite IMU "
                     f"values (first at 0.275 s: IMU message holds non-finite values [5.5, 0.0, nan, 0.0, 0.0, "
                     f"9.8100004196167])"]
    header = read_header(out)
    normalization = np.array(header["normalization"]["imu_mean"] + header["normalization"]["imu_std"])
    assert np.isfinite(normalization).all()
    provenance = {b["path"]: b for b in header["provenance"]["bags"]}
    assert provenance[str(bags / "b")]["dropped_messages"][0]["reason"] == "non-finite IMU values"
    assert provenance[str(bags / "a")]["dropped_messages"] == []
    # the cached decode keeps what was dropped
    assert load_bag(bags / "b", cache_dir=tmp_path / "cache").dropped == read_bag(bags / "b").dropped


def _resized_frame(index: int, height: int, width: int):
    def edit(kind, i, msg):
        if kind == "image" and i == index:
            stamp = msg.header.stamp
            msg = m.image_message(frame_rgb(i, height, width), stamp.sec * 1_000_000_000 + stamp.nanosec)
        return msg
    return edit


def test_a_frame_that_changes_size_or_encoding_mid_bag_is_dropped(tmp_path):
    streams = read_bag(write_bag(tmp_path / "size", frames=12, edit=_resized_frame(5, 24, 32)))
    assert len(streams.images) == 11
    [dropped] = streams.dropped
    assert dropped.reason == "frame layout differs from the bag's" and dropped.topic == "camera/image_raw"
    assert dropped.example == "32x24 rgb8, most frames are 64x48 rgb8"

    def bgr_frame(kind, i, msg):
        if kind == "image" and i == 3:
            msg.encoding = "bgr8"       # same bytes, other channel order: a driver switching mode
        return msg
    streams = read_bag(write_bag(tmp_path / "encoding", frames=12, edit=bgr_frame))
    assert len(streams.images) == 11 and streams.dropped[0].example == "64x48 bgr8, most frames are 64x48 rgb8"


def test_duplicated_and_out_of_order_stamps_are_dropped(tmp_path):
    def glitch(kind, i, msg):
        if kind == "imu" and i == 9:      # the same stamp as reading 8
            msg.header.stamp.nanosec -= 25_000_000
        if kind == "image" and i == 6:    # a frame stamped before the previous one
            msg.header.stamp.nanosec -= 80_000_000
        return msg
    bag = write_bag(tmp_path / "bag", frames=12, edit=glitch)
    streams = read_bag(bag)
    assert np.all(np.diff(streams.image_stamps) > 0) and np.all(np.diff(streams.imu_stamps) > 0)
    dropped = {d.topic: d for d in streams.dropped}
    assert set(dropped) == {"camera/image_raw", "imu/data"}
    assert all(d.reason == "stamp not after the previous message's" and d.count == 1 for d in dropped.values())
    assert len(streams.images) == 11 and len(streams.imu) == 23
    assert (T0_NS + 6 * 50_000_000 - 80_000_000) not in streams.image_stamps


def test_a_nan_command_is_dropped_and_its_frame_has_no_label(tmp_path):
    def nan_command(kind, i, msg):
        if kind == "cmd" and i == 4:
            msg.angular.z = math.nan
        return msg
    bag = write_bag(tmp_path / "bag", frames=10, edit=nan_command)
    streams = read_bag(bag)
    assert len(streams.cmd) == 9 and np.isfinite(streams.cmd).all()
    assert streams.dropped[0].reason == "non-finite command values"
    [bag_data], _ = load_bags([bag], use_cache=False)
    # as for any frame whose command was lost, frame 4 takes the first command after it within
    # cmd_tolerance_s (0.1 s): frame 5's, 60 ms later
    [sequence] = bag_data.sequences
    np.testing.assert_allclose(sequence.cmd[4], frame_cmd(5), atol=1e-6)


def test_a_bag_with_nothing_usable_is_one_line_and_skip_bad_trains_on_the_others(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LNN_CONTROL_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    bags = tmp_path / "bags"
    write_bag(bags / "good_1", frames=24)
    write_bag(bags / "good_2", frames=24)

    def every_gyro_nan(kind, i, msg):
        if kind == "imu":
            msg.angular_velocity.x = math.nan
        return msg
    broken = write_bag(bags / "broken", frames=24, edit=every_gyro_nan)
    with pytest.raises(BagError) as caught:
        read_bag(broken)
    assert str(caught.value).startswith(f"{broken}: no usable message on 'imu/data': all 48 dropped: 48 non-finite "
                                        f"IMU values")
    (tmp_path / "tiny.yaml").write_text(TINY)
    args = ["train", "--bags", str(bags), "--model", "mlp", "--out", str(tmp_path / "m.pt"), "--epochs", "1",
            "--config", str(tmp_path / "tiny.yaml")]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"lnn-control train: {broken}: no usable message on 'imu/data'") and "\n" not in err
    assert main(args + ["--skip-bad"]) == 0
    err = capsys.readouterr().err
    assert f"lnn-control train: skipped bad bag: {broken}: no usable message" in err
    assert len(read_header(tmp_path / "m.pt")["provenance"]["bags"]) == 2


def test_inspect_bag_reports_what_training_would_drop(tmp_path, capsys):
    bag = write_bag(tmp_path / "bag", frames=20, edit=nan_gyro_at(3))
    assert main(["inspect-bag", str(bag)]) == 0
    out = capsys.readouterr().out
    assert f"{bag}: dropped 1 of 40 messages on 'imu/data': non-finite IMU values (first at 0.075 s" in out
    clean = write_bag(tmp_path / "clean", frames=5)
    assert main(["inspect-bag", str(clean)]) == 0
    assert "every camera, IMU and command message is usable" in capsys.readouterr().out


def test_imu_statistics_are_finite_whatever_the_readings():
    def sequence(imu):
        imu = np.asarray(imu, np.float32)
        n = len(imu)
        return Sequence(images=np.zeros((n, 2, 2, 3), np.uint8), imu=imu, dt=np.full(n, 0.05, np.float32),
                        cmd=np.zeros((n, 4), np.float32), stamps=np.arange(n, dtype=np.int64))
    readings = np.tile(np.array([0.0, 0.1, 0.2, 0.0, 0.0, 9.81], np.float32), (4, 1))
    readings[1, 0] = np.nan
    readings[2, 3] = np.inf
    readings[:, 4] = np.nan        # a component never finite
    mean, std = imu_statistics([sequence(readings)])
    assert np.isfinite(mean).all() and np.isfinite(std).all() and np.all(std >= 1e-3)
    np.testing.assert_allclose(mean, [0.0, 0.1, 0.2, 0.0, 0.0, 9.81], rtol=1e-6)
    assert std[4] == 1.0 and mean[4] == 0.0
