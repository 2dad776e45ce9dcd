"""`make model` end to end at --quick size: collect, train four kinds with DAgger, evaluate, ship.

The real pipeline (child `lnn-control` processes, bags, checkpoints, closed-loop evaluation),
with tiny numbers, into a temporary --out: the shipped files exist and load, the card says how
each step ran and how the CfC's episodes ended, and the study table has every policy and
every condition of the standard suite.
"""
from __future__ import annotations

import json

import pytest

from lnn_control.envs import load_suite
from lnn_control.eval.episode_log import EpisodeLog
from lnn_control.eval.episode_record import EpisodeRecord
from lnn_control.make_model.card import MadeRun, failure_summary, model_card, pooled_outcomes, pooled_table
from lnn_control.make_model.cli import main
from lnn_control.paths import share_path
from lnn_control.policy import load_checkpoint


@pytest.mark.timeout(1500)  # a hang guard: about 130 s on a quiet 2-core machine, several times that under load
def test_quick_make_model_ships_loadable_models_a_card_and_the_study(tmp_path, monkeypatch):
    monkeypatch.setenv("LNN_CONTROL_CACHE", str(tmp_path / "cache"))
    out, work = tmp_path / "models", tmp_path / "work"
    assert main(["--quick", "--out", str(out), "--work", str(work)]) == 0

    shipped = {"cfc": out / "cfc_forest.pt",
               **{k: out / "baselines" / f"{k}_forest.pt" for k in ("lstm", "gru", "mlp")}}
    counts = {}
    for kind, path in shipped.items():
        net, header = load_checkpoint(path)
        assert header["kind"] == kind and header["provenance"]["dagger_rounds"] == 1
        assert header["training"]["config"]["dagger"]["max_seconds"] == 3.0   # --quick: 3 s rollouts
        counts[kind] = header["core_parameter_count"]
    assert max(counts.values()) <= 1.1 * min(counts.values())  # the same parameter budget

    card = (out / "cfc_forest.md").read_text()
    for step in ("collect", "train_cfc", "train_lstm", "train_gru", "train_mlp", "eval_bars", "eval_suite",
                 "eval_second_draw"):
        assert f"| {step} | `lnn-control " in card
    assert "--seed 20000" in card and (out / "eval" / "forest_urban_seeds20000.md").is_file()
    assert "| world | episodes | cfc_forest | lstm_forest | gru_forest | mlp_forest | expert |" in card
    assert "| forest | 4 | " in card  # both draws of two episodes pooled
    assert "- forest: " in card and "bar 90%: NOT met" in card  # two episodes of 3 s reach nothing
    assert "of the episodes end in a collision" in card
    assert "world seeds 0..3" in card and "on seeds 20000..20001" in card   # from the bags and results
    assert "[models/TRIALS.md](" in card and "jitter" not in card           # the trials' history: linked
    assert model_card(MadeRun.read(work, out)) == card                      # made from the run's files alone

    # Run again on the same --work: nothing is redone, and the card keeps every step's cost.
    first = json.loads((work / "steps.json").read_text())
    assert main(["--quick", "--out", str(out), "--work", str(work)]) == 0
    again = json.loads((work / "steps.json").read_text())
    assert again["invocations"] == 2 and again["wall_s"] > first["wall_s"]
    assert again["steps"]["train_cfc"] == first["steps"]["train_cfc"]                    # kept, not retrained
    assert again["steps"]["eval_bars"]["seconds"] >= first["steps"]["eval_bars"]["seconds"]  # resumed: adds up
    card = (out / "cfc_forest.md").read_text()
    assert "over 2 invocations" in card and f"| train_cfc | `{first['steps']['train_cfc']['command']}` |" in card

    study = (out / "ood_study.md").read_text().splitlines()
    assert study[0] == "| world | condition | episodes | cfc_forest | lstm_forest | gru_forest | mlp_forest | expert |"
    suite = load_suite(share_path("config", "eval_suites.yaml"), "standard")
    conditions = {line.split(" | ")[1] for line in study[2:]}
    assert conditions == {condition.name for condition in suite}


@pytest.mark.parametrize("text, problem", [("optim: {epochs: [\n", "line 2, column 1: not valid YAML"),
                                           ("optim: {epoch: 3}\n", "optim.epoch: unknown key"),
                                           (None, "cannot read training config")])
def test_a_bad_recipe_stops_before_anything_runs(tmp_path, capsys, text, problem):
    recipe = tmp_path / "recipe.yaml"
    if text is not None:
        recipe.write_text(text)
    assert main(["--config", str(recipe), "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out")]) == 1
    message = capsys.readouterr().err
    assert f"make model: {recipe}: {problem}" in message and "Traceback" not in message
    assert not (tmp_path / "work" / "bags").exists() and not (tmp_path / "out").exists()


def test_pooled_table_counts_both_draws_and_pairs_seeds(tmp_path):
    def log(name, episodes):
        episode_log = EpisodeLog(tmp_path / name)
        for number, (p, c, s, ok) in enumerate(episodes):
            episode_log.append(EpisodeRecord(policy=p, world="urban", condition=c, episode=number, seed=s, success=ok,
                                             collision=not ok, timeout=False, time_s=10.0, path_length_m=20.0,
                                             mean_abs_jerk_m_s3=None, distance_to_target_m=0.5, steps=200, wall_s=1.0))
        with episode_log.path.open("a") as torn:   # a resumed eval can leave a line cut short
            torn.write('{"policy": "cfc_forest", "world": "ur')
        return tmp_path / name

    first = log("a", [("cfc_forest", "none", s, True) for s in range(8)]
                + [("mlp_forest", "none", s, s < 2) for s in range(8)] + [("cfc_forest", "fog", 0, False)])
    second = log("b", [("cfc_forest", "none", 100 + s, s < 4) for s in range(8)]
                 + [("mlp_forest", "none", 100 + s, False) for s in range(8)])
    outcomes = pooled_outcomes([first, second])
    assert len(outcomes[("urban", "cfc_forest")]) == 16          # the shifted episode is left out
    order = [{"world": "urban", "policy": p} for p in ("mlp_forest", "cfc_forest")]
    header, _, row = pooled_table(outcomes, order).splitlines()
    assert header == "| world | episodes | mlp_forest | cfc_forest |"
    # cfc 12/16, mlp 2/16; discordant pairs 10 to 0: exact two-sided p = 2 * 0.5**10
    assert row.startswith("| urban | 16 | 12% [") and "| 75% [" in row and "p = 0.002" in row


def test_the_failure_summary_has_every_world_of_the_reference_without_a_shift():
    """A rover's worlds have no bar: its card still says how its failed episodes ended (it was an
    empty section in the first shipped rover card)."""
    def row(policy, world, condition, episodes, collision, timeout):
        return {"policy": policy, "world": world, "condition": condition, "episodes": episodes,
                "collision_rate": collision, "timeout_rate": timeout}

    bars = {"rows": [row("cfc_rover_forest", "forest", "none", 40, 0.25, 0.10),
                     row("mlp_rover_forest", "forest", "none", 40, 0.38, 0.02),
                     row("cfc_rover_forest", "forest", "fog", 4, 1.0, 0.0),
                     row("cfc_rover_forest", "urban", "none", 40, 0.25, 0.125),
                     row("cfc_rover_forest", "city_copy", "none", 0, 0.0, 0.0)]}
    assert failure_summary(bars, "cfc_rover_forest").splitlines() == [
        "- forest: 25% of the episodes end in a collision, 10% in a timeout (the target passed or lost and not "
        "found again).",
        "- urban: 25% of the episodes end in a collision, 12% in a timeout (the target passed or lost and not "
        "found again)."]
