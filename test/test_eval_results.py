"""From episode records to results.json / .md / .png, the episode log, and per-episode metrics
(no simulator: records are made by hand so every number can be checked)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lnn_control.envs.shifts import Condition
from lnn_control.eval.episode_log import EpisodeLog, RunDirectoryError, open_run
from lnn_control.eval.episode_record import EpisodeRecord, mean_abs_jerk
from lnn_control.eval.plan import EvalPlan, PolicySource, WorldSource, parse_conditions
from lnn_control.eval.results import write_results
from lnn_control.eval.summary import summarize

FOG = Condition("fog:0.5", (("fog", 0.5),))


def _plan(episodes=4, policies=("random",)):
    return EvalPlan(policies=tuple(PolicySource(p, p) for p in policies), worlds=(WorldSource("forest", "forest"),),
                    conditions=(Condition("none", ()), FOG), episodes=episodes, first_seed=100)


def _record(policy, condition, episode, outcome, path=10.0, time_s=5.0, jerk=1.0):
    return EpisodeRecord(policy=policy, world="forest", condition=condition, episode=episode, seed=100 + episode,
                         success=outcome == "success", collision=outcome == "collision", timeout=outcome == "timeout",
                         time_s=time_s, path_length_m=path, mean_abs_jerk_m_s3=jerk, distance_to_target_m=0.0,
                         steps=100, wall_s=0.1)


def _method(plan):
    return {"command": "lnn-control eval ...", "date": "2026-01-01", "workers": 1, "backend": "process",
            "wall_s": 1.0, "episodes": plan.episodes, "seeds": list(plan.seeds)}


def test_jerk_of_known_flights():
    t = np.arange(50) * 0.05
    steady = np.tile([1.0, 0.0, 0.0, 0.3], (50, 1))
    assert mean_abs_jerk(steady, t) == pytest.approx(0.0)
    ramp = np.stack([2.0 * t, 0 * t, 0 * t, 0 * t], axis=1)          # constant acceleration: no jerk
    assert mean_abs_jerk(ramp, t) == pytest.approx(0.0, abs=1e-9)
    parabola = np.stack([t**2, 0 * t, 0 * t, 0 * t], axis=1)           # d2v/dt2 = 2 m/s^3 everywhere
    assert mean_abs_jerk(parabola, t) == pytest.approx(2.0)
    assert mean_abs_jerk(steady[:2], t[:2]) is None


def test_summary_rows_follow_the_design_schema_and_count_correctly():
    plan = _plan(policies=("random",))
    records = [_record("random", "none", i, o, path=12.0, time_s=4.0 + i)
               for i, o in enumerate(["success", "success", "collision", "timeout"])]
    records += [_record("expert", "none", i, "success", path=10.0 if i else 0.0) for i in range(4)]
    records += [_record("random", "fog:0.5", i, "collision") for i in range(4)]
    summary = summarize(plan, records)
    none, fog = summary["rows"]           # the expert is only the reference: no row of its own
    assert (none["policy"], none["world"], none["condition"], none["episodes"]) == ("random", "forest", "none", 4)
    assert none["success_rate"] == 0.5 and none["collision_rate"] == 0.25 and none["timeout_rate"] == 0.25
    assert none["success_ci"] == pytest.approx([0.1500, 0.8500], abs=1e-4)
    assert none["mean_time_to_target_s"] == pytest.approx(4.5)
    # seed 100's expert path is 0 (unusable), seed 101: 12 / 10
    assert none["path_length_vs_expert"] == pytest.approx(1.2) and none["path_ratio_episodes"] == 1
    assert fog["success_rate"] == 0.0 and fog["mean_time_to_target_s"] is None and fog["path_length_vs_expert"] is None
    assert fog["shifts"] == {"fog": 0.5}
    effect, = summary["shift_effects"]
    assert (effect["condition"], effect["only_a"], effect["only_b"], effect["pairs"]) == ("fog:0.5", 2, 0, 4)


def test_paired_comparison_uses_only_shared_seeds():
    plan = _plan(episodes=8, policies=("expert", "random"))
    records = [_record("expert", "none", i, "success") for i in range(8)]
    records += [_record("random", "none", i, "collision") for i in range(7)]   # seed 107 not flown yet
    first = summarize(plan, records)["comparisons"][0]
    assert (first["policy_a"], first["policy_b"], first["pairs"], first["only_a"], first["only_b"]) == \
        ("expert", "random", 7, 7, 0)
    assert first["p_value"] == pytest.approx(2 / 2**7)


def test_results_files_are_written_and_readable(tmp_path):
    plan = _plan(policies=("expert", "random"))
    records = [_record(p, c, i, "success" if (p == "expert" or i % 2) else "collision")
               for p in ("expert", "random") for c in ("none", "fog:0.5") for i in range(4)]
    paths = write_results(tmp_path, summarize(plan, records), _method(plan))
    data = json.loads(paths["json"].read_text())
    assert {"policy", "world", "condition", "episodes", "success_rate", "success_ci", "collision_rate",
            "timeout_rate", "mean_time_to_target_s"} <= set(data["rows"][0])
    assert len(data["rows"]) == 4 and data["method"]["seeds"] == [100, 101, 102, 103]
    table = paths["md"].read_text()
    assert "| random | forest | fog:0.5 (fog 0.5) | 4 | 50% [15%, 85%]" in table
    assert "Wilson" in table and "same seeds" in table and "McNemar" in table
    png = paths["png"].read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_episode_log_appends_durably_and_survives_a_torn_line(tmp_path):
    log = EpisodeLog(tmp_path)
    first, second = _record("random", "none", 0, "success"), _record("random", "none", 1, "collision")
    log.append(first)
    with log.path.open("a") as stream:
        stream.write('{"policy": "random", "wor')        # a crash in the middle of a write
    assert log.read() == [first]
    log.append(second)
    assert log.read() == [first, second]
    assert len(log.path.read_text().splitlines()) == 3


def test_open_run_refuses_to_mix_runs(tmp_path):
    plan = _plan()
    log = open_run(tmp_path, plan.identity(), resume=False)
    log.append(_record("random", "none", 0, "success"))
    with pytest.raises(RunDirectoryError, match="--resume"):
        open_run(tmp_path, plan.identity(), resume=False)
    assert open_run(tmp_path, plan.identity(), resume=True).read()
    other = EvalPlan(policies=plan.policies, worlds=plan.worlds, conditions=plan.conditions, episodes=4, first_seed=7)
    with pytest.raises(RunDirectoryError, match="first_seed"):
        open_run(tmp_path, other.identity(), resume=True)
    with pytest.raises(RunDirectoryError, match="no run to continue"):
        open_run(tmp_path / "empty", plan.identity(), resume=True)


def test_conditions_from_shifts_and_suites(repo_root):
    suite = f"{repo_root}/config/eval_suites.yaml:quick"
    conditions = parse_conditions(["fog:0.5", "wind"], [suite])
    assert [c.name for c in conditions] == ["none", "fog:0.5", "wind:0.5", "autumn", "fog_wind"]
    assert dict(conditions[-1].shifts) == {"fog": 0.5, "wind": 0.5}
    assert [c.name for c in parse_conditions([], ["eval_suites.yaml:quick"])] == ["none", "autumn", "fog_wind"]
    with pytest.raises(ValueError, match="fgo"):
        parse_conditions(["fgo:0.5"], [])


def test_plan_flies_the_expert_as_reference_and_shares_seeds():
    plan = _plan(episodes=3, policies=("random",))
    jobs = plan.jobs(video_conditions=["none", "fog:0.5"])
    assert len(jobs) == 3 * 2 * 2
    seeds = {}
    for job in jobs:
        seeds.setdefault((job.world, job.condition.name, job.episode), set()).add((job.policy, job.seed))
    assert all({s for _, s in found} == {100 + key[2]} and len(found) == 2 for key, found in seeds.items())
    assert [(j.policy, j.condition.name) for j in jobs if j.video] == [("random", "none"), ("random", "fog:0.5")]
    with pytest.raises(ValueError, match="at least 1"):
        _plan(episodes=0)
    with pytest.raises(FileNotFoundError, match="neither expert nor random"):
        PolicySource.parse("no_such_model.pt")
