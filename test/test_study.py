"""`make study` end to end at its smallest (one model, one training, --quick sizes): each unit is
kept in --out as it finishes, a fresh --work (another machine, with --out committed) goes on from
there without collecting, training or flying anything again, an evaluation cut off is resumed,
a time budget (--hours) stops what is under way and starts no training it cannot hold, and a
record of another plan is refused."""
from __future__ import annotations

import json
import shutil

from lnn_control.eval.episode_log import EpisodeLog
from lnn_control.make_model.study.__main__ import main

UNIT = "cfc_imitable_s0"


def test_a_fresh_work_folder_continues_the_study_from_its_record(tmp_path, capsys):
    out = tmp_path / "study"
    small = ["--quick", "--models", "cfc:imitable", "--seeds", "0", "--severities", "none", "--world-episodes", "1",
             "--workers", "2", "--out", str(out)]
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

    # --hours: at the end of the budget an evaluation under way stops as Ctrl-C stops it, keeping its
    # episodes and its seconds; the next invocation resumes it
    (suite / "results.json").unlink()
    (suite / "episodes.jsonl").write_text("".join(lines[:len(lines) // 2]))
    capsys.readouterr()
    assert main([*small, "--work", str(tmp_path / "machine_c"), "--hours", "0.0005"]) == 0   # 1.8 s
    assert "the time budget (--hours 0.0005) has run out or cannot hold a training" in capsys.readouterr().out
    stopped = json.loads((out / "steps.json").read_text())
    assert stopped["steps"][f"eval_suite_{UNIT}"]["stopped"] and stopped["latest"]["steps"] == []
    assert not (suite / "results.json").exists()
    assert len(lines) // 2 <= len((suite / "episodes.jsonl").read_text().splitlines()) < len(lines)
    assert main([*small, "--work", str(tmp_path / "machine_c")]) == 0
    resumed = json.loads((out / "steps.json").read_text())["steps"][f"eval_suite_{UNIT}"]
    assert "stopped" not in resumed and resumed["seconds"] > stopped["steps"][f"eval_suite_{UNIT}"]["seconds"]
    assert len((suite / "episodes.jsonl").read_text().splitlines()) == len(lines)

    # a training is not started when the budget is shorter than the record's trainings take
    (out / "checkpoints" / f"{UNIT}.pt").unlink()
    record = json.loads((out / "steps.json").read_text())
    record["steps"][f"train_{UNIT}"]["seconds"] = 3600.0
    (out / "steps.json").write_text(json.dumps(record))
    capsys.readouterr()
    assert main([*small, "--work", str(tmp_path / "machine_d"), "--hours", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert f"train_{UNIT}: not started — a training takes about 60 min" in printed
    assert "the time budget (--hours 0.5) has run out or cannot hold a training" in printed
    assert json.loads((out / "steps.json").read_text())["latest"]["steps"] == []
    assert not (tmp_path / "machine_d" / "bags").exists()

    # a record of another plan is not mixed with this one
    capsys.readouterr()
    assert main([*small, "--world-episodes", "3", "--work", str(tmp_path / "machine_c")]) == 1
    error = capsys.readouterr().err
    assert "world_episodes" in error and "steps.json" in error
