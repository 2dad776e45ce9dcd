"""Sequence datasets: windows, padding masks, IMU statistics, several bags with bad ones among them."""
from __future__ import annotations

import numpy as np
import pytest
from bag_factory import write_bag

from lnn_control.data import BagError, SequenceWindows, align, find_bags, imu_statistics, load_bags, read_bag


def test_windows_cover_every_frame_and_pad_short_sequences(tmp_path):
    sequences, _ = align(read_bag(write_bag(tmp_path / "bag", frames=23, gap_after=17)))
    assert [len(s) for s in sequences] == [18, 5]
    windows = SequenceWindows(sequences, length=8, stride=5)
    assert windows.index == [(0, 0), (0, 5), (0, 10), (1, 0)]
    batch = windows.batch(range(len(windows)))
    assert batch["images"].shape == (4, 8, 48, 64, 3) and batch["cmd"].shape == (4, 8, 4)
    np.testing.assert_array_equal(batch["mask"][3], [1] * 5 + [0] * 3)
    assert (batch["dt"] > 0).all()
    np.testing.assert_allclose(batch["imu"][2, :, 0], np.arange(10, 18))  # last window ends on the last frame


def test_imu_statistics_over_all_frames(tmp_path):
    sequences, _ = align(read_bag(write_bag(tmp_path / "bag", frames=10)))
    mean, std = imu_statistics(sequences)
    assert mean[0] == pytest.approx(4.5) and mean[5] == pytest.approx(9.81)
    assert std[0] == pytest.approx(np.arange(10).std()) and std[1] == pytest.approx(1e-3)


def test_folders_of_bags_and_skip_bad(tmp_path):
    write_bag(tmp_path / "runs" / "a", frames=6)
    write_bag(tmp_path / "runs" / "b", storage="sqlite3", frames=6)
    write_bag(tmp_path / "runs" / "c", frames=6, cmd_topic="/teleop/cmd")
    bags = find_bags([tmp_path / "runs"])
    assert [b.name for b in bags] == ["a", "b", "c"]
    with pytest.raises(BagError, match="'cmd_vel' not in bag"):
        load_bags(bags, use_cache=False)
    good, bad = load_bags(bags, use_cache=False, skip_bad=True)
    assert [g.path.name for g in good] == ["a", "b"] and [b.name for b, _ in bad] == ["c"]
    assert good[0].frames == 6 and "teleop/cmd" in bad[0][1]


def test_a_takeover_flag_goes_with_the_command_that_answered_the_frame():
    """On a robot the node publishes the flag with each command, a few ms after the frame it
    answers: frame k takes the flag sent with command k, not the one sent before it."""
    import numpy as np

    from lnn_control.data.alignment import align
    from lnn_control.data.bag_reader import BagStreams

    frames = np.arange(10, dtype=np.int64) * 50_000_000            # 20 Hz, ns
    answers = frames + 3_000_000                                   # each command 3 ms after its frame
    flying = np.array([False, False, True, True, True, False, False, True, False, False])
    streams = BagStreams(image_stamps=frames, images=np.zeros((10, 4, 4, 3), np.uint8),
                         imu_stamps=frames, imu=np.zeros((10, 6), np.float32),
                         cmd_stamps=answers, cmd=np.zeros((10, 4), np.float32),
                         image_log_stamps=frames, imu_log_stamps=frames, cmd_log_stamps=answers,
                         intervention_stamps=answers, intervention=flying, intervention_log_stamps=answers)
    [sequence], _ = align(streams)
    np.testing.assert_array_equal(sequence.intervention, flying)
