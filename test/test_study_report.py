"""`make study`'s report, on episode logs written here: pooling over trainings, pairing, goals."""
from __future__ import annotations

import json

import pytest

from lnn_control.eval.episode_log import EpisodeLog
from lnn_control.eval.episode_record import EpisodeRecord
from lnn_control.make_model.study.report import write_report
from lnn_control.make_model.study.steps import StudyPlan, model_label, parse_label, units
from lnn_control.policy import PolicySpec, build_network, save_checkpoint

PLAN = StudyPlan(models=(("cfc", "imitable"), ("mlp", "imitable")), training_seeds=(0, 1), worlds=("forest", "orchard"),
                 world_episodes=10, condition_episodes=10)


def _record(policy, world, condition, seed, success, lost_s=0.0):
    return EpisodeRecord(policy=policy, world=world, condition=condition, episode=seed - 10000, seed=seed,
                         success=success, collision=False, timeout=not success, time_s=20.0, path_length_m=20.0,
                         mean_abs_jerk_m_s3=None, distance_to_target_m=0.5 if success else 9.0, steps=400, wall_s=1.0,
                         target_in_view_fraction=0.9 if success else 0.4, target_out_of_view_at_end_s=lost_s,
                         max_tilt_deg=5.0 if success else 20.0)


def test_labels_round_trip():
    assert parse_label(model_label("cfc", "imitable", 2)) == ("cfc", "imitable", 2)
    assert parse_label("expert") is None


def _trained(path, outcome_distance: float) -> None:
    """A checkpoint as a finished training leaves it: two expert demonstrations in its provenance
    (and a DAgger rollout, which is not one), the second ending `outcome_distance` from the target."""
    def bag(name, source, distance):
        return {"path": f"runs/study/bags/imitable/{name}", "frames": 300, "sequences": 1,
                "facts": {"lnn_control.source": source,
                          "lnn_control.outcome": json.dumps({"success": True, "distance_to_target": distance})}}
    bags = [bag("forest_000000", "expert", 0.7), bag("forest_000001", "expert", outcome_distance),
            bag("dagger_1", "dagger", 3.0)]
    save_checkpoint(path, build_network(PolicySpec(kind="mlp")), provenance={"bags": bags})


def _log(out, run, unit) -> EpisodeLog:
    return EpisodeLog(out / "eval" / run / unit)


def test_the_report_pools_trainings_pairs_them_and_checks_the_goals(tmp_path):
    out = tmp_path / "out"
    seeds = range(10000, 10010)
    for training in (0, 1):
        cfc, mlp = model_label("cfc", "imitable", training), model_label("mlp", "imitable", training)
        for seed in seeds:
            # forest: the CfC reaches all 10 of both trainings, the MLP 9 of training 0 and 5 of training 1
            _log(out, "worlds", cfc).append(_record(cfc, "forest", "none", seed, True))
            mlp_ok = seed - 10000 < (9 if training == 0 else 5)
            _log(out, "worlds", mlp).append(_record(mlp, "forest", "none", seed, mlp_ok, lost_s=0.0 if mlp_ok else 3.0))
            _log(out, "worlds", cfc).append(_record(cfc, "orchard", "none", seed, seed % 2 == 0))
            _log(out, "worlds", mlp).append(_record(mlp, "orchard", "none", seed, True))
            # the suite flies the forest without shift again (the same episodes: counted once) and fog
            _log(out, "suite", cfc).append(_record(cfc, "forest", "none", seed, True))
            _log(out, "suite", cfc).append(_record(cfc, "forest", "fog", seed, seed < 10007))
        _trained(out / "checkpoints" / f"{cfc}.pt", outcome_distance=0.5)
        for run in ("worlds", "suite", "severity"):  # the CfC's evaluations are complete, the MLP's are not
            (out / "eval" / run / cfc).mkdir(parents=True, exist_ok=True)
            (out / "eval" / run / cfc / "results.json").write_text("{}")
    _log(out, "worlds", "expert").append(_record("expert", "forest", "none", 10000, True))
    (out / "steps.json").write_text(json.dumps({"steps": {name: {"seconds": seconds} for name, seconds in (
        ("train_cfc_imitable_s0", 3000.0), ("train_cfc_imitable_s1", 4000.0), ("eval_worlds_cfc_imitable_s0", 9.0))}}))
    written = write_report(PLAN, out)
    report = json.loads(written[0].read_text())
    rows = {(r["group"], r["world"], r["condition"]): r for r in report["rows"]}
    cfc, mlp = rows[("cfc_imitable", "forest", "none")], rows[("mlp_imitable", "forest", "none")]
    assert cfc["episodes"] == 20 and cfc["success_rate"] == 1.0 and cfc["trainings"] == 2
    assert mlp["success_rate"] == 14 / 20 and (mlp["training_min"], mlp["training_max"]) == (0.5, 0.9)
    assert mlp["failures_target_lost"] == mlp["failures_traced"] == 6
    assert mlp["target_in_view"] == pytest.approx((14 * 0.9 + 6 * 0.4) / 20)
    assert mlp["max_tilt_deg"] == pytest.approx((14 * 5.0 + 6 * 20.0) / 20)
    fog = rows[("cfc_imitable", "forest", "fog")]
    assert fog["retention"] == 0.7
    [forest_pool] = [p for p in report["pooled"] if p["pool"] == "forest, no shift"]
    assert (forest_pool["pairs"], forest_pool["only_a"], forest_pool["only_b"]) == (20, 6, 0)
    assert forest_pool["p_value"] == 2 * 0.5 ** 6
    goals = {g["group"]: g for g in report["goals"]}
    assert goals["cfc_imitable"]["forest_met"] and not goals["cfc_imitable"]["new_worlds_met"]
    assert goals["cfc_imitable"]["suite_retention_met"] is False and goals["mlp_imitable"]["new_worlds_met"]
    assert goals["mlp_imitable"]["suite_retention_met"] is None  # no shift flown: not measured, not "not met"
    text = written[1].read_text()
    assert "| mlp_imitable | forest | none | 0% | 30% | 6 of 6 | 75% | 10 deg |" in text
    assert "| forest | 100% [" in text and "cfc_imitable" in text and "(not met)" in text
    assert all(path.stat().st_size > 1000 for path in written[2:])
    progress = {u["unit"]: u for u in report["progress"]["units"]}
    assert list(progress) == ["cfc_imitable_s0", "mlp_imitable_s0", "cfc_imitable_s1", "mlp_imitable_s1", "expert"]
    assert progress["cfc_imitable_s1"]["complete"] and not progress["mlp_imitable_s1"]["complete"]
    assert progress["mlp_imitable_s0"]["trained"] is False and progress["expert"]["trained"] is None
    assert progress["mlp_imitable_s0"]["evaluations"]["worlds"] == {"episodes": 20, "of": 20, "complete": False}
    assert [progress["expert"]["evaluations"][run]["of"] for run in ("worlds", "suite", "severity")] == [
        2 * 10, 17 * 10, (1 + 6 * 2) * 10]   # 2 worlds; no shift and the suite's 16; no shift and 6 shifts x 2
    assert (report["progress"]["complete"], report["progress"]["of"]) == (2, 5)
    assert "**A partial study: 2 of 5 units complete.**" in text
    assert "| mlp_imitable_s0 | no | 20 of 20 flown | - | - |" in text
    assert "| expert | - | 1 of 20 flown | - | - |" in text
    # left: the MLP's two trainings, and every episode of the incomplete evaluations not yet flown, at the
    # record's pace: the trainings' median (of 3000 s and 4000 s, the upper) and the episodes' 1 s each
    left = report["progress"]["left"]
    assert (left["trainings"], left["episodes"]) == (2, 2 * (170 + 130) + 19 + 170 + 130)
    assert (left["training_s"], left["episode_s"]) == (4000.0, 1.0)
    assert left["core_s"] == 2 * 4000.0 + left["episodes"] * 1.0
    assert f"Left: 2 training(s) and {left['episodes']} evaluation episodes: about 2.5 h of one core" in text
    assert report["demonstrations"] == {"imitable": {"trainings": 2, "demonstration_sets": 1}}
    assert "imitable teacher: 2 training(s), all on the same demonstrations" in text
    # a training whose demonstrations ended elsewhere (another machine flew them differently) is told apart
    _trained(out / "checkpoints" / "cfc_imitable_s1.pt", outcome_distance=0.5000001)
    report = json.loads(write_report(PLAN, out)[0].read_text())
    assert report["demonstrations"] == {"imitable": {"trainings": 2, "demonstration_sets": 2}}


def test_a_pilot_plan_changes_only_what_it_names_and_bad_options_are_refused(capsys):
    from lnn_control.make_model.study.__main__ import build_parser, plan_of

    parser = build_parser()
    pilot = plan_of(parser.parse_args(["--models", "cfc:imitable,mlp:imitable", "--seeds", "0,1",
                                       "--world-episodes", "20", "--demonstrations", "200", "--dagger-rounds", "2",
                                       "--epochs", "3", "--severities", "1"]))
    assert pilot.models == (("cfc", "imitable"), ("mlp", "imitable"))
    assert pilot.training_seeds == (0, 1) and pilot.world_episodes == 20
    assert (pilot.episodes, pilot.dagger_rounds, pilot.epochs, pilot.severities) == (200, 2, 3, (1.0,))
    assert plan_of(parser.parse_args(["--severities", "none"])).severities == ()
    assert plan_of(parser.parse_args(["--dagger-rounds", "0"])).dagger_rounds == 0
    assert pilot.condition_episodes == StudyPlan().condition_episodes and pilot.worlds == StudyPlan().worlds
    assert units(pilot) == ["cfc_imitable_s0", "mlp_imitable_s0", "cfc_imitable_s1", "mlp_imitable_s1", "expert"]
    assert units(StudyPlan())[:8] == ["cfc_imitable_s0", "mlp_imitable_s0", "cfc_imitable_s1", "mlp_imitable_s1",
                                      "cfc_imitable_s2", "mlp_imitable_s2", "lstm_imitable_s0", "gru_imitable_s0"]
    assert units(StudyPlan())[-4:] == ["cfc_privileged_s0", "cfc_privileged_s1", "cfc_privileged_s2", "expert"]
    assert pilot.encoder_precision is None
    assert plan_of(parser.parse_args(["--encoder-precision", "auto"])).encoder_precision == "auto"
    for bad in (["--models", "transformer:imitable"], ["--models", "cfc"], ["--seeds", "0,x"],
                ["--world-episodes", "0"], ["--severities", "1.5"], ["--dagger-rounds", "x"], ["--dagger-rounds", "-1"],
                ["--encoder-precision", "fp16"]):
        try:
            parser.parse_args(bad)
        except SystemExit as exit:
            assert exit.code == 2
        else:
            raise AssertionError(f"{bad} was accepted")
        assert bad[1].split(",")[-1] in capsys.readouterr().err


def test_the_training_configs_carry_the_seed_the_teacher_and_the_plans_encoder_precision(tmp_path):
    from dataclasses import replace

    from lnn_control.make_model.study.steps import Study
    from lnn_control.train.config import load_config

    recipe = load_config("config/model_recipe.yaml")
    made = Study(replace(PLAN, encoder_precision="bf16"), tmp_path, tmp_path / "out", 1, "test").config("imitable", 1)
    config = load_config(made)
    assert (config.seed, config.dagger.teacher, config.optim.encoder_precision) == (1, "imitable", "bf16")
    assert config.optim.epochs == recipe.optim.epochs and config.augment == recipe.augment
    assert load_config(Study(PLAN, tmp_path, tmp_path / "out", 1, "test").config("imitable", 0)).optim \
        .encoder_precision == recipe.optim.encoder_precision
