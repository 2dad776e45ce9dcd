"""`make study` end to end at its smallest (one model, one training, --quick sizes): each unit is
kept in --out as it finishes, a fresh --work (another machine, with --out committed) goes on from
there without collecting, training or flying anything again, an evaluation cut off is resumed,
and a record of another plan is refused."""
from __future__ import annotations

import json
import shutil

from lnn_control.eval.episode_log import EpisodeLog
from lnn_control.make_model.study.__main__ import main

UNIT = "cfc_imitable_s0"


def test_a_fresh_work_folder_continues_the_study_from_its_record(tmp_path, capsys):
    out = tmp_path / "study"
    small = ["--quick", "--models", "cfc:imitable", "--seeds", "0", "--severities", "none", "--workers", "2",
             "--out", str(out)]
    assert main([*small, "--work", str(tmp_path / "machine_a")]) == 0
    first = json.loads((out / "steps.json").read_text())
    assert set(first["steps"]) == {"collect_imitable", f"train_{UNIT}", f"eval_worlds_{UNIT}", f"eval_suite_{UNIT}",
                                   "eval_worlds_expert", "eval_suite_expert"}
    flown = EpisodeLog(out / "eval" / "worlds" / UNIT).read()
    expert = EpisodeLog(out / "eval" / "worlds" / "expert").read()
    assert {r.policy for r in flown} == {UNIT} and {r.policy for r in expert} == {"expert"}  # no reference flown
    assert sorted((r.world, r.seed) for r in flown) == sorted((r.world, r.seed) for r in expert)  # paired
    report = json.loads((out / "study.json").read_text())
    assert report["progress"]["complete"] == report["progress"]["of"] == 2
    assert {r["group"] for r in report["rows"]} == {"cfc_imitable", "expert"}
    checkpoint = (out / "checkpoints" / f"{UNIT}.pt").read_bytes()

    # another machine: only --out is there; nothing is collected, trained or flown again
    assert main([*small, "--work", str(tmp_path / "machine_b")]) == 0
    second = json.loads((out / "steps.json").read_text())
    assert second["steps"] == first["steps"] and second["invocations"] == 2
    assert not (tmp_path / "machine_b" / "bags").exists()
    assert (out / "checkpoints" / f"{UNIT}.pt").read_bytes() == checkpoint

    # the record moved to another folder (a clone elsewhere), with an evaluation cut off there (its
    # results not written, some episodes flown): that evaluation is resumed, and nothing else runs
    moved = tmp_path / "clone" / "study"
    shutil.copytree(out, moved)
    small[small.index(str(out))] = str(moved)
    out = moved
    suite = out / "eval" / "suite" / UNIT
    (suite / "results.json").unlink()
    lines = (suite / "episodes.jsonl").read_text().splitlines(keepends=True)
    (suite / "episodes.jsonl").write_text("".join(lines[:len(lines) // 2]))
    assert main([*small, "--work", str(tmp_path / "machine_c")]) == 0
    third = json.loads((out / "steps.json").read_text())
    assert third["latest"]["steps"] == [f"eval_suite_{UNIT}"]
    assert "--resume" in third["steps"][f"eval_suite_{UNIT}"]["command"]
    assert len((suite / "episodes.jsonl").read_text().splitlines()) == len(lines)

    # a record of another plan is not mixed with this one
    capsys.readouterr()
    assert main([*small, "--world-episodes", "3", "--work", str(tmp_path / "machine_c")]) == 1
    error = capsys.readouterr().err
    assert "world_episodes" in error and "steps.json" in error
