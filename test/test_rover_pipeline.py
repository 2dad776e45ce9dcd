"""collect, train and eval for the rover: the same commands with `--vehicle rover` (real PyBullet
episodes, real bags, a real training)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from rover_checkpoint import sideways_rover_checkpoint

from lnn_control.cli import main
from lnn_control.data import read_bag, read_facts
from lnn_control.make_model.pipeline import model_name, shipped_checkpoint
from lnn_control.make_model.recipe import Recipe
from lnn_control.policy import PolicySpec, build_network, read_header, save_checkpoint

TINY = """
data: {sequence_length: 8, stride: 4, val_fraction: 0.34}
optim: {batch_size: 4, tbptt_steps: 4, warmup_epochs: 0}
"""


def test_collect_train_and_eval_drive_a_rover(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LNN_CONTROL_CACHE", str(tmp_path / "cache"))
    demos = tmp_path / "demos"
    assert main(["collect", "--world", "forest", "--vehicle", "rover", "--episodes", "3", "--out", str(demos),
                 "--max-seconds", "2", "--workers", "2"]) == 0
    bags = sorted(demos.iterdir())
    assert read_facts(bags[0])["lnn_control.vehicle"] == "rover"
    streams = read_bag(bags[0])
    assert np.abs(streams.cmd[:, 0]).max() > 0.1                 # it drives forward ...
    np.testing.assert_array_equal(streams.cmd[:, 1:3], 0.0)      # ... and never sideways or up
    assert abs(streams.imu[:, 5].mean() - 9.81) < 0.5            # standing on its wheels

    (tmp_path / "tiny.yaml").write_text(TINY)
    checkpoint = tmp_path / "rover.pt"
    assert main(["train", "--bags", str(demos), "--vehicle", "rover", "--epochs", "1", "--config",
                 str(tmp_path / "tiny.yaml"), "--out", str(checkpoint)]) == 0
    assert read_header(checkpoint)["spec"]["vehicle"] == "rover"

    out = tmp_path / "eval"
    assert main(["eval", "--policy", str(checkpoint), "--world", "urban", "--episodes", "1", "--time-limit", "1",
                 "--out", str(out)]) == 0                          # the vehicle comes from the checkpoint
    assert json.loads((out / "results.json").read_text())["method"]["vehicle"] == "rover"
    assert json.loads((out / "run.json").read_text())["vehicle"] == "rover"    # part of what --resume checks
    capsys.readouterr()


def test_eval_refuses_a_mixed_or_contradicted_vehicle_naming_the_policies(tmp_path, capsys):
    rover = sideways_rover_checkpoint(tmp_path / "rover.pt")
    drone = save_checkpoint(tmp_path / "drone.pt", build_network(PolicySpec(kind="mlp")))
    common = ["--world", "forest", "--episodes", "1", "--time-limit", "1"]
    assert main(["eval", "--policy", str(rover), "--policy", str(drone), *common, "--out", str(tmp_path / "a")]) == 1
    error = capsys.readouterr().err
    assert "drive different vehicles" in error and "rover a rover" in error and "drone a drone" in error
    assert main(["eval", "--policy", str(rover), "--vehicle", "drone", *common, "--out", str(tmp_path / "b")]) == 1
    assert "--vehicle drone: policy rover drives a rover" in capsys.readouterr().err


def test_fine_tuning_keeps_the_parents_vehicle(tmp_path, capsys):
    rover = sideways_rover_checkpoint(tmp_path / "rover.pt")
    assert main(["train", "--bags", str(tmp_path), "--init", str(rover), "--vehicle", "drone",
                 "--out", str(tmp_path / "x.pt")]) == 1
    assert "drives a rover; --vehicle drone cannot start from it" in capsys.readouterr().err


def test_make_model_names_a_rovers_files_apart_from_the_drones(tmp_path):
    drone, rover = Recipe(), Recipe(vehicle="rover", kinds=("cfc", "mlp"))
    assert model_name("cfc", drone) == "cfc_forest" and model_name("cfc", rover) == "cfc_rover_forest"
    assert shipped_checkpoint(tmp_path, "cfc", rover) == tmp_path / "cfc_rover_forest.pt"
    assert shipped_checkpoint(tmp_path, "mlp", rover) == tmp_path / "baselines" / "mlp_rover_forest.pt"
    assert shipped_checkpoint(tmp_path, "mlp", drone) == tmp_path / "baselines" / "mlp_forest.pt"
    assert Recipe(**json.loads(json.dumps({"vehicle": "rover", "kinds": ["cfc", "mlp"]}))).kinds == ("cfc", "mlp")
    with pytest.raises(ValueError, match="kinds must start with cfc"):
        Recipe(kinds=("mlp", "cfc"))


def test_explain_and_adapt_drive_what_their_policy_drives(tmp_path, capsys):
    from lnn_control.adapt.loop import AdaptPlan
    from lnn_control.train.config import load_config

    rover = sideways_rover_checkpoint(tmp_path / "rover.pt")
    drone = save_checkpoint(tmp_path / "drone.pt", build_network(PolicySpec(kind="mlp")))
    plan = AdaptPlan(policy=rover, world="forest", shifts=(), rounds=1, flights=1, heldout_episodes=1, first_seed=0,
                     config=load_config(None))
    assert plan.vehicle == "rover"
    assert main(["explain", "--policy", str(rover), "--policy", str(drone), "--episodes", "1", "--time-limit", "1",
                 "--out", str(tmp_path / "explain")]) == 1
    assert "drive different vehicles" in capsys.readouterr().err
