"""Reading and writing rosbag2 bags: every storage, image encoding and command type; bad bags."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import yaml
from bag_factory import frame_cmd, frame_rgb, storage_file, write_bag

from lnn_control.cli import main
from lnn_control.data import AlignmentConfig, BagError, BagTopics, EpisodeBagWriter, align, load_bag, read_bag
from lnn_control.data import messages as m

ENCODINGS = ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "jpeg", "png"]


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_storage_and_image_encoding_decodes_to_rgb(tmp_path, storage, encoding):
    bag = write_bag(tmp_path / "bag", storage=storage, encoding=encoding, frames=6)
    streams = read_bag(bag)
    assert streams.images.shape == (6, 48, 64, 3) and streams.images.dtype == np.uint8
    expected = frame_rgb(4)
    if encoding == "mono8":
        expected = np.repeat(cv2.cvtColor(expected, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    error = np.abs(streams.images[4].astype(int) - expected.astype(int)).mean()
    assert error < (3.0 if encoding == "jpeg" else 0.01)
    np.testing.assert_allclose(streams.cmd[4], frame_cmd(4), atol=1e-6)


def test_images_are_resized_to_the_policy_input(tmp_path):
    bag = write_bag(tmp_path / "bag", frames=3, image_size=(96, 128))
    assert read_bag(bag, image_size=(48, 64)).images.shape == (3, 48, 64, 3)


@pytest.mark.parametrize("cmd_type", [m.TWIST, m.TWIST_STAMPED])
def test_twist_and_twist_stamped_topics_chosen_by_name_with_or_without_slash(tmp_path, cmd_type):
    bag = write_bag(tmp_path / "bag", cmd_type=cmd_type, image_topic="/front/image", imu_topic="/vn100/imu",
                    cmd_topic="/mavros/cmd", frames=5)
    streams = read_bag(bag, BagTopics(image="front/image", imu="/vn100/imu", cmd="mavros/cmd"))
    np.testing.assert_allclose(streams.cmd, np.stack([frame_cmd(i) for i in range(5)]), atol=1e-6)


def test_alignment_takes_imu_at_or_before_and_command_after_each_frame(tmp_path):
    # IMU at 2x the camera rate (one reading at each frame, one half-way), command 10 ms after each frame
    bag = write_bag(tmp_path / "bag", frames=20, gap_after=9, gap_s=1.0)
    sequences, report = align(read_bag(bag), AlignmentConfig(max_gap_s=0.5))
    assert [len(s) for s in sequences] == [10, 10] and report.kept == 20
    first, second = sequences
    np.testing.assert_allclose(first.imu[:, 0], np.arange(10))          # the reading at the frame, not the later one
    np.testing.assert_allclose(second.cmd[:, 0], 0.01 * np.arange(10, 20), atol=1e-6)
    np.testing.assert_allclose(first.dt[1:], 0.05, atol=1e-6)
    assert first.dt[0] == pytest.approx(0.05)


def test_frames_without_a_command_in_tolerance_are_dropped(tmp_path):
    bag = write_bag(tmp_path / "bag", frames=10, cmd_delay_s=0.08)
    sequences, report = align(read_bag(bag), AlignmentConfig(cmd_tolerance_s=0.02))
    assert sequences == [] and report.no_cmd == 10
    sequences, _ = align(read_bag(bag), AlignmentConfig(cmd_tolerance_s=0.1))
    assert sum(len(s) for s in sequences) == 10


def test_sensors_with_disagreeing_clocks_align_on_log_times(tmp_path):
    bag = write_bag(tmp_path / "bag", frames=10, imu_clock_offset_s=5.0)
    sequences, report = align(read_bag(bag))
    assert sequences == [] and report.no_imu == 10  # every IMU header stamp is 5 s "later" than the frames
    sequences, report = align(load_bag(bag, cache_dir=tmp_path / "cache"), AlignmentConfig(stamps="log"))
    assert report.kept == 10
    np.testing.assert_allclose(sequences[0].imu[:, 0], np.arange(10))
    np.testing.assert_allclose(sequences[0].cmd[:, 0], 0.01 * np.arange(10), atol=1e-6)


def test_episode_writer_puts_facts_in_metadata_and_standard_types(tmp_path):
    bag = tmp_path / "episode"
    odom = {"position": [1, 2, 3], "quaternion_xyzw": [0, 0, 0, 1], "body_velocity": [1, 0, 0],
            "body_rates": [0, 0, 0.1]}
    with EpisodeBagWriter(bag) as writer:
        writer.set_facts({"world": "forest", "seed": 7, "outcome": {"success": True}})
        for i in range(4):
            writer.write_frame(i * 50_000_000, frame_rgb(i), np.zeros(6), frame_cmd(i), odom)
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["storage_identifier"] == "mcap"
    assert info["custom_data"] == {"lnn_control.world": "forest", "lnn_control.seed": "7",
                                   "lnn_control.outcome": '{"success": true}'}
    types = {t["topic_metadata"]["name"]: t["topic_metadata"]["type"] for t in info["topics_with_message_count"]}
    assert types == {"camera/image_raw": m.IMAGE, "imu/data": m.IMU, "cmd_vel": m.TWIST, "odom": m.ODOMETRY}
    streams = read_bag(bag)
    assert streams.facts["lnn_control.world"] == "forest" and np.array_equal(streams.images[2], frame_rgb(2))


def test_cache_maps_decoded_arrays_and_notices_a_changed_bag(tmp_path):
    bag = write_bag(tmp_path / "bag", encoding="jpeg", frames=5)
    first = load_bag(bag, cache_dir=tmp_path / "cache")
    second = load_bag(bag, cache_dir=tmp_path / "cache")
    assert not isinstance(first.images, np.memmap) and isinstance(second.images, np.memmap)
    np.testing.assert_array_equal(first.images, second.images)
    f = storage_file(bag)
    f.write_bytes(f.read_bytes())  # new mtime: the entry for the old file no longer applies
    assert not isinstance(load_bag(bag, cache_dir=tmp_path / "cache").images, np.memmap)


def _damage(bag, how):
    f = storage_file(bag)
    data = bytearray(f.read_bytes())
    if how == "truncate":
        f.write_bytes(data[: len(data) // 2])
    else:
        start = 1000  # record/page structure (flipped pixel bytes carry no checksum and go unnoticed)
        data[start:start + 3000] = bytes((b * 7 + 13) % 256 for b in data[start:start + 3000])
        f.write_bytes(data)


def _bad_bag(tmp_path, problem):
    if problem == "not a bag":
        (tmp_path / "bag").mkdir()
        (tmp_path / "bag" / "notes.txt").write_text("hello")
        return tmp_path / "bag", "not a rosbag2 bag"
    if problem == "missing topic":
        return write_bag(tmp_path / "bag", frames=3, imu_topic="/other/imu"), "topics there: camera/image_raw"
    if problem == "unsupported encoding":
        bag = write_bag(tmp_path / "bag", encoding="16UC1", frames=3)
        return bag, "image encoding '16UC1' is not supported"
    storage, how = problem.split()
    bag = write_bag(tmp_path / "bag", storage=storage, frames=40)
    _damage(bag, how)
    return bag, "corrupt"


BAD = ["not a bag", "missing topic", "unsupported encoding", "mcap truncate", "sqlite3 truncate", "mcap corrupt",
       "sqlite3 corrupt"]


@pytest.mark.parametrize("problem", BAD)
def test_bad_bag_is_one_line_naming_the_bag_and_the_problem(tmp_path, problem, capsys):
    bag, phrase = _bad_bag(tmp_path, problem)
    with pytest.raises(BagError, match=phrase) as caught:
        read_bag(bag)
    assert str(bag) in str(caught.value) and "\n" not in str(caught.value)
    if problem not in ("unsupported encoding", "missing topic"):  # inspect-bag lists whatever is there
        assert main(["inspect-bag", str(bag)]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("lnn-control inspect-bag: ") and str(bag) in err
        assert "\n" not in err and "Traceback" not in err


def test_inspect_bag_prints_topics_counts_rates_and_gaps(tmp_path, capsys):
    bag = write_bag(tmp_path / "bag", frames=30, gap_after=14, gap_s=1.0, facts={"lnn_control.world": "forest"})
    assert main(["inspect-bag", str(bag)]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("camera/image_raw"))
    assert line.split()[1:4] == ["sensor_msgs/msg/Image", "30", f"{29 / (29 * 0.05 + 1.0):.2f}"]
    assert "gap on camera/image_raw: 1.050 s" in out and "fact lnn_control.world: forest" in out


def test_collect_style_mcap_is_what_rosbag2_expects(tmp_path):
    """Read back with the independent `mcap` library: ros2 profile, ros2msg schemas, CDR channels."""
    from mcap.reader import make_reader

    bag = tmp_path / "episode"
    odom = {"position": [0, 0, 1], "quaternion_xyzw": [0, 0, 0, 1], "body_velocity": [0, 0, 0], "body_rates": [0, 0, 0]}
    with EpisodeBagWriter(bag) as writer:
        writer.write_frame(0, frame_rgb(0), np.zeros(6), frame_cmd(0), odom)
    with storage_file(bag).open("rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        assert reader.get_header().profile == "ros2"
        assert {s.name: s.encoding for s in summary.schemas.values()} == {
            m.IMAGE: "ros2msg", m.IMU: "ros2msg", m.TWIST: "ros2msg", m.ODOMETRY: "ros2msg"}
        assert {c.message_encoding for c in summary.channels.values()} == {"cdr"}
