"""Uncertainty without ROS: the slow-down curve, AUROC with bootstrap intervals, the failure
labels of a decision, results.json's ood_detection / failure_prediction rows, and eval with
--slow-down end to end on real PyBullet episodes (cut to 2 simulated seconds)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from lnn_control.cli import main
from lnn_control.envs.shifts import Condition
from lnn_control.eval.detection import HORIZON_S, failure_labels
from lnn_control.eval.episode import SightLog
from lnn_control.eval.episode_record import EpisodeRecord, uncertainty_fields
from lnn_control.eval.plan import EvalPlan, PolicySource, WorldSource
from lnn_control.eval.results import write_results
from lnn_control.eval.stats import auroc, bootstrap_auroc
from lnn_control.eval.summary import summarize
from lnn_control.eval.tables import results_markdown
from lnn_control.policy import PolicySpec, build_network, save_checkpoint
from lnn_control.policy.slow_down import SlowDown

FOG = Condition("fog:0.5", (("fog", 0.5),))


def test_the_slow_down_curve_is_flat_then_linear_then_zero():
    curve = SlowDown(low=0.1, stop=0.3)
    assert [curve.scale(u) for u in (0.0, 0.1, 0.2, 0.25, 0.3, 0.9)] == pytest.approx([1, 1, 0.5, 0.25, 0, 0])
    assert curve.scale(math.nan) == 0.0, "an uncertainty that is not a number stops the drone"
    command = np.array([1.8, -0.4, 0.3, 0.9])
    np.testing.assert_allclose(curve.limit(command, 0.05, 2.0, 1.0), command, rtol=1e-6)
    np.testing.assert_allclose(curve.limit(command, 0.2, 2.0, 1.0), [1.0, -0.4, 0.3, 0.9], rtol=1e-6)
    np.testing.assert_array_equal(curve.limit(command, 0.3, 2.0, 1.0), np.zeros(4))
    assert SlowDown.parse("0.02:0.4") == SlowDown(0.02, 0.4)
    for bad in ("0.4:0.2", "0.1", "a:b", "-0.1:0.2"):
        with pytest.raises(ValueError, match="slow-down"):
            SlowDown.parse(bad)


def test_auroc_counts_ties_as_half_and_needs_both_classes():
    assert auroc([0.1, 0.2, 0.3, 0.4], [False, False, True, True]) == 1.0
    assert auroc([0.1, 0.2, 0.3, 0.4], [True, True, False, False]) == 0.0
    assert auroc([0.5] * 4, [True, False, True, False]) == 0.5
    assert auroc([0.1, 0.3, 0.2], [False, True, True]) == 1.0
    assert auroc([0.1, 0.2], [True, True]) is None
    assert auroc([0.1, 0.2, 0.2], [False, True, False], weights=[3, 1, 1]) == pytest.approx(0.875)
    rng = np.random.default_rng(0)
    scores = np.r_[rng.normal(0, 1, 40), rng.normal(1, 1, 40)]
    labels = np.r_[np.zeros(40, bool), np.ones(40, bool)]
    value, (lo, hi) = bootstrap_auroc(scores, labels, np.arange(80), stratified=True)
    assert value == auroc(scores, labels) and lo < value < hi and value > 0.5
    _, (lo_many, hi_many) = bootstrap_auroc(np.tile(scores, 4), np.tile(labels, 4), np.arange(320), stratified=True)
    assert hi_many - lo_many < hi - lo, "four times the episodes, a narrower interval"
    assert bootstrap_auroc([0.1, 0.2], [True, True], [0, 1]) == (None, None)


def _record(condition, episode, uncertainty, policy="ens", collision=False, time_s=3.0, lost=None):
    steps = int(round(time_s / 0.05))
    values = uncertainty if isinstance(uncertainty, list) else [uncertainty] * steps
    return EpisodeRecord(policy=policy, world="forest", condition=condition, episode=episode, seed=100 + episode,
                         success=not collision, collision=collision, timeout=False, time_s=time_s,
                         path_length_m=5.0, mean_abs_jerk_m_s3=1.0, distance_to_target_m=0.0, steps=steps,
                         wall_s=0.1, target_lost_intervals_s=lost,
                         **uncertainty_fields(values, [0.05 * i for i in range(len(values))]))


def test_a_calibrated_curve_slows_the_top_five_percent_and_stops_above_the_largest():
    values = np.linspace(0.0, 0.1, 1001)
    curve = SlowDown.calibrated(np.append(values, [np.nan, np.inf]))   # non-finite ones are ignored
    assert curve == SlowDown(0.095, 0.125)
    assert np.mean([curve.scale(v) < 1.0 for v in values]) == pytest.approx(0.05, abs=0.002)
    assert min(curve.scale(v) for v in values) > 0.0, "no in-distribution decision hovers"
    assert SlowDown.parse(str(curve)) == curve
    assert SlowDown.calibrated([0.0, 0.0]).stop > 0.0, "all members agreeing still gives low < stop"
    with pytest.raises(ValueError, match="finite uncertainty"):
        SlowDown.calibrated([np.nan])


def test_a_decision_is_positive_when_a_failure_begins_within_the_horizon():
    values = [0.01 * i for i in range(100)]   # decisions at 0.00, 0.05, ... 4.95 s
    record = _record("none", 0, values, collision=True, time_s=5.0, lost=[[1.0, 3.5]])
    scores, positive = failure_labels(record)
    times = np.round(np.array(scores) * 5, 2)   # score i was given at 0.05 i s
    assert not np.any((times >= 1.0) & (times < 3.5)), "decisions with the target already lost are left out"
    np.testing.assert_array_equal(positive, ((times <= 1.0) & (times >= 1.0 - HORIZON_S))
                                  | (times >= 5.0 - HORIZON_S))


def test_uncertainty_rows_separate_shifted_episodes_and_skip_policies_without_uncertainty(tmp_path):
    plan = EvalPlan(policies=(PolicySource("ens", "checkpoint"), PolicySource("random", "random")),
                    worlds=(WorldSource("forest", "forest"),), conditions=(Condition("none", ()), FOG),
                    episodes=6, first_seed=100)
    records = [_record("none", i, 0.02 + 0.001 * i) for i in range(6)]
    records += [_record("fog:0.5", i, 0.05 + 0.01 * i, collision=i < 3) for i in range(6)]
    records += [EpisodeRecord(**{**r.to_dict(), "policy": "random", "uncertainty_mean": None,
                                 "uncertainty_max": None, "uncertainty_trace": None}) for r in records]
    summary = summarize(plan, records)
    [ood] = summary["ood_detection"]
    assert (ood["policy"], ood["condition"], ood["episodes"], ood["reference_episodes"]) == ("ens", "fog:0.5", 6, 6)
    assert ood["auroc"] == 1.0 and ood["auroc_ci"][1] == 1.0
    rows = {(r["world"], r["condition"]): r for r in summary["failure_prediction"]}
    assert set(rows) == {("forest", "none"), ("forest", "fog:0.5"), ("all", "all")}
    assert all(r["policy"] == "ens" for r in rows.values())
    assert rows[("forest", "none")]["auroc"] is None, "no failure among those episodes"
    # the 3 collisions at 3 s: the decisions at 1.00, 1.05 ... 2.95 s
    assert rows[("all", "all")]["positive_steps"] == 3 * round(HORIZON_S / 0.05)
    assert rows[("all", "all")]["auroc"] > 0.5
    [calibration] = summary["slow_down_calibration"]   # from the forest episodes without a shift only
    assert (calibration["policy"], calibration["episodes"], calibration["decisions"]) == ("ens", 6, 6 * 60)
    assert calibration["max_uncertainty"] == pytest.approx(0.025)
    assert calibration["slow_down"] == str(SlowDown.calibrated(np.repeat([0.02 + 0.001 * i for i in range(6)], 60)))
    paths = write_results(tmp_path, summary, {"command": "test", "date": "today", "workers": 1, "backend": "process",
                                               "wall_s": 1.0, "episodes": 6, "seeds": list(plan.seeds)})
    assert "out-of-distribution detection" in paths["md"].read_text()
    assert f"`{calibration['slow_down']}`" in paths["md"].read_text()
    assert paths["uncertainty_png"].stat().st_size > 5000
    assert json.loads(paths["json"].read_text())["ood_detection"][0]["auroc"] == 1.0


def test_slow_down_effects_pair_each_policy_with_its_slowed_twin_in_and_out_of_distribution():
    slowed = PolicySource("ens", "checkpoint").slowed(0.03, 0.08)
    plan = EvalPlan(policies=(PolicySource("ens", "checkpoint"), slowed),
                    worlds=(WorldSource("forest", "forest"),), conditions=(Condition("none", ()), FOG),
                    episodes=8, first_seed=100)
    records = [_record("none", i, 0.02) for i in range(8)]                       # 8 successes
    records += [_record("fog:0.5", i, 0.06, collision=i < 6) for i in range(8)]  # 6 collisions
    records += [EpisodeRecord(**{**r.to_dict(), "policy": slowed.label}) for r in records[:7]]   # one seed less
    records += [EpisodeRecord(**{**r.to_dict(), "policy": slowed.label, "collision": False, "success": False,
                                 "timeout": True}) for r in records[8:16]]   # in fog it hovers: no collision
    summary = summarize(plan, records)
    effects = {e["scope"]: e for e in summary["slow_down_effects"]}
    assert set(effects) == {"in distribution", "out of distribution"}
    inside, outside = effects["in distribution"], effects["out of distribution"]
    assert (inside["policy"], inside["slowed"], inside["pairs"]) == ("ens", "ens+slow_down", 7)
    assert (inside["success_without"], inside["success_with"], inside["success_p_value"]) == (7, 7, 1.0)
    assert (outside["pairs"], outside["collision_without"], outside["collision_with"]) == (8, 6, 0)
    assert (outside["success_without"], outside["success_with"]) == (2, 0)
    assert outside["collision_p_value"] == pytest.approx(2 / 2 ** 6)
    [calibration] = summary["slow_down_calibration"]
    assert calibration["policy"] == "ens", "the slowed twin proposes no thresholds of its own"
    markdown = results_markdown(summary, {"command": "test", "date": "today", "workers": 1, "backend": "process",
                                          "wall_s": 1.0, "episodes": 8, "seeds": list(plan.seeds)})
    assert "| ens | out of distribution | 8 | 2 / 0 | 0.5 | 6 / 0 | 0.0312 |" in markdown


def test_the_target_is_lost_after_two_seconds_out_of_view():
    sight = SightLog()
    sight.times_s = [0.1 * i for i in range(60)]
    sight.in_view = [True] * 10 + [False] * 5 + [True] * 5 + [False] * 25 + [True] * 5 + [False] * 10
    assert sight.lost_intervals(end_s=6.0) == [[pytest.approx(2.0), pytest.approx(4.5)]]
    assert sight.lost_intervals(end_s=7.0) == [[pytest.approx(2.0), pytest.approx(4.5)],
                                              [pytest.approx(5.0), pytest.approx(7.0)]]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    return (save_checkpoint(folder / "ensemble.pt", build_network(PolicySpec(ensemble=3))),
            save_checkpoint(folder / "single.pt", build_network(PolicySpec())))


def test_eval_records_uncertainty_and_flies_the_slowed_ensemble_too(tmp_path, checkpoints, capsys):
    ensemble, single = checkpoints
    out = tmp_path / "run"
    # the untrained members disagree (about 0.3): a stop at 0.01 keeps the slowed one hovering
    assert main(["eval", "--policy", str(ensemble), "--policy", str(single), "--shift", "fog:0.5", "--episodes", "1",
                 "--seed", "7", "--slow-down", "0.0:0.01", "--out", str(out), "--time-limit", "2"]) == 0
    records = {(r["policy"], r["condition"]): r
               for r in map(json.loads, (out / "episodes.jsonl").read_text().splitlines())}
    assert set(records) == {(p, c) for p in ("ensemble", "single", "ensemble+slow_down", "expert")
                            for c in ("none", "fog:0.5")}
    flown = records[("ensemble", "none")]
    trace = flown["uncertainty_trace"]
    assert len(trace["values"]) == flown["steps"] and trace["period_s"] == pytest.approx(0.05)
    assert flown["uncertainty_max"] >= flown["uncertainty_mean"] > 0.01
    assert records[("single", "none")]["uncertainty_trace"] is None
    assert records[("ensemble+slow_down", "none")]["path_length_m"] < 0.2 * flown["path_length_m"], "it hovered"
    results = json.loads((out / "results.json").read_text())
    assert {(r["policy"], r["condition"]) for r in results["ood_detection"]} == {
        ("ensemble", "fog:0.5"), ("ensemble+slow_down", "fog:0.5")}
    assert {r["policy"] for r in results["failure_prediction"]} == {"ensemble", "ensemble+slow_down"}
    assert [(e["scope"], e["pairs"]) for e in results["slow_down_effects"]] == [
        ("in distribution", 1), ("out of distribution", 1)]
    assert [r["policy"] for r in results["slow_down_calibration"]] == ["ensemble"]
    assert (out / "uncertainty.png").is_file()
    capsys.readouterr()
    assert main(["eval", "--policy", str(single), "--episodes", "1", "--slow-down", "--out", str(tmp_path / "x")]) == 1
    assert "--slow-down needs an ensemble policy" in capsys.readouterr().err
