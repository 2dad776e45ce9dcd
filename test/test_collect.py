"""`collect`: expert episodes become MCAP bags in simulated time; DAgger rollouts become bags too."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lnn_control.cli import main
from lnn_control.data import BagTopics, align, read_bag, read_facts
from lnn_control.policy import read_header


def test_collect_writes_one_bag_per_episode_with_facts_in_metadata(tmp_path, capsys):
    out = tmp_path / "demos"
    argv = ["collect", "--world", "forest", "--episodes", "2", "--out", str(out), "--seed", "40",
            "--workers", "2", "--max-seconds", "1.5"]
    assert main(argv) == 0
    bags = sorted(out.iterdir())
    assert [b.name for b in bags] == ["forest_000040", "forest_000041"]
    facts = read_facts(bags[0])
    assert facts["lnn_control.world"] == "forest" and facts["lnn_control.seed"] == "40"
    outcome = json.loads(facts["lnn_control.outcome"])
    assert outcome["stopped"] and outcome["steps"] == 30 and not outcome["collision"]
    assert outcome["time_s"] == pytest.approx(1.5) and outcome["path_length_m"] > 0.5
    streams = read_bag(bags[0])
    np.testing.assert_array_equal(streams.image_stamps, np.arange(30) * 50_000_000)  # simulated time, 20 Hz
    assert streams.images.shape == (30, 48, 64, 3) and streams.images.std() > 5
    assert abs(streams.imu[:, 5].mean() - 9.81) < 1.0 and np.abs(streams.cmd).max() > 0.1
    sequences, report = align(streams)
    assert report.kept == 30 and len(sequences) == 1
    np.testing.assert_allclose(sequences[0].dt, 0.05, atol=1e-6)
    capsys.readouterr()
    assert main(argv) == 0 and "kept 2 complete bags" in capsys.readouterr().out  # resumable


def test_bad_world_is_one_line(tmp_path, capsys):
    assert main(["collect", "--world", "moon", "--episodes", "1", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lnn-control collect: ") and err.count("\n") == 1 and "moon" in err


def test_dagger_round_rolls_out_the_learner_and_trains_on_the_aggregate(tmp_path, monkeypatch):
    monkeypatch.setenv("LNN_CONTROL_CACHE", str(tmp_path / "cache"))
    demos = tmp_path / "demos"
    assert main(["collect", "--episodes", "2", "--out", str(demos), "--max-seconds", "1"]) == 0
    (tmp_path / "tiny.yaml").write_text("data: {sequence_length: 8, stride: 8}\n"
                                        "dagger: {episodes_per_round: 1, epochs_per_round: 1, max_seconds: 1.0}\n")
    out = tmp_path / "policy.pt"
    assert main(["train", "--bags", str(demos), "--model", "mlp", "--out", str(out), "--epochs", "1",
                 "--dagger", "1", "--config", str(tmp_path / "tiny.yaml")]) == 0
    rollouts = sorted((tmp_path / "policy.dagger" / "round_01").iterdir())
    assert len(rollouts) == 1
    facts = read_facts(rollouts[0])
    assert facts["lnn_control.source"] == "dagger" and facts["lnn_control.learner_kind"] == "mlp"
    flown = read_bag(rollouts[0], BagTopics(cmd="policy/cmd_vel")).cmd
    labels = read_bag(rollouts[0]).cmd
    assert flown.shape == labels.shape == (20, 4) and not np.allclose(flown, labels)
    header = read_header(out)
    assert header["provenance"]["dagger_rounds"] == 1
    assert len(header["provenance"]["bags"]) == 3  # 2 demonstrations + 1 rollout
