"""`lnn-control eval` and `demo` end to end on real PyBullet episodes: paired seeds, workers,
durable episode log, --resume after a kill, videos, errors. Episodes are cut to 2 simulated
seconds (--time-limit) to keep the suite fast."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from lnn_control.cli import main
from lnn_control.policy import PolicySpec, build_network, save_checkpoint

FAST = ["--time-limit", "2"]
STEPS_PER_EPISODE = 40  # 2 s at 20 Hz


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """An untrained (random-weight) CfC checkpoint made with the policy API."""
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "cfc_untrained.pt", build_network(PolicySpec(kind="cfc")))


def _episodes(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]


def _outcome(record: dict) -> tuple:
    """A record without its wall-clock time (everything the simulation determines)."""
    return tuple(sorted((k, v) for k, v in record.items() if k != "wall_s"))


def test_eval_flies_every_policy_world_condition_on_shared_seeds_with_two_workers(tmp_path, checkpoint, capsys):
    out = tmp_path / "run"
    code = main(["eval", "--policy", str(checkpoint), "--policy", "random", "--shift", "fog:0.5",
                 "--episodes", "2", "--seed", "7", "--workers", "2", "--video", "--out", str(out), *FAST])
    assert code == 0
    records = _episodes(out)
    # 2 requested policies + the expert flown as path-length reference, x 2 conditions x 2 seeds
    assert len(records) == 3 * 2 * 2
    seeds = {}
    for r in records:
        seeds.setdefault((r["policy"], r["condition"]), []).append(r["seed"])
        assert r["steps"] == STEPS_PER_EPISODE or r["success"] or r["collision"]
    assert all(sorted(s) == [7, 8] for s in seeds.values())
    results = json.loads((out / "results.json").read_text())
    assert [(r["policy"], r["condition"]) for r in results["rows"]] == [
        ("cfc_untrained", "none"), ("random", "none"), ("cfc_untrained", "fog:0.5"), ("random", "fog:0.5")]
    assert all(r["episodes"] == 2 and r["world"] == "forest" and len(r["success_ci"]) == 2 for r in results["rows"])
    assert {c["policy_a"] for c in results["comparisons"]} == {"cfc_untrained"}
    assert (out / "results.png").stat().st_size > 5000
    assert "Wilson" in (out / "results.md").read_text()
    assert "cfc_untrained" in capsys.readouterr().out
    for condition in ("none", "fog-0.5"):  # one video per condition: chase view beside the camera
        video = cv2.VideoCapture(str(out / "videos" / f"forest_{condition}.mp4"))
        frames = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
        ok, frame = video.read()
        assert ok and frame.shape == (240, 640, 3) and frames == STEPS_PER_EPISODE + 1


def _first_frame_blocks(video_path: Path):
    """The video's first frame as means of 16 x 16 blocks (640 x 240 -> 40 x 15): what the
    codec's quantisation noise averages out of."""
    video = cv2.VideoCapture(str(video_path))
    ok, frame = video.read()
    assert ok, video_path
    return cv2.resize(frame, (40, 15), interpolation=cv2.INTER_AREA).astype(int)


def test_saliency_videos_draw_the_policys_map_over_the_camera_pane_only(tmp_path, checkpoint):
    frames = {}
    for name, extra in (("plain", []), ("vbp", ["--saliency"]), ("ig", ["--saliency", "ig"])):
        out = tmp_path / name
        assert main(["eval", "--policy", str(checkpoint), "--episodes", "1", "--video", *extra, "--out", str(out),
                     "--time-limit", "1"]) == 0
        frames[name] = _first_frame_blocks(out / "videos" / "forest_none.mp4")
    chase, camera = (slice(None), slice(0, 19)), (slice(2, None), slice(21, None))  # blocks clear of seam, title
    for method in ("vbp", "ig"):
        assert abs(frames[method][chase] - frames["plain"][chase]).mean() < 1.5
        assert abs(frames[method][camera] - frames["plain"][camera]).mean() > 3.0
    assert abs(frames["vbp"][camera] - frames["ig"][camera]).mean() > 3.0


def test_killed_run_resumes_to_the_same_results_as_an_uninterrupted_one(tmp_path):
    args = ["--policy", "random", "--policy", "expert", "--shift", "wind:0.5", "--episodes", "2",
            "--workers", "1", *FAST]
    whole = tmp_path / "whole"
    assert main(["eval", *args, "--out", str(whole)]) == 0

    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "lnn_control.cli", "eval", *args, "--out", str(killed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = killed / "episodes.jsonl"
    try:
        # a generous deadline for the child to start (it returns as soon as two episodes are on disk);
        # the kill follows within one poll, while the child is one of its eight episodes
        deadline = time.monotonic() + 300
        while not (log.is_file() and len(log.read_text().splitlines()) >= 2) and time.monotonic() < deadline:
            assert process.poll() is None, "the eval run ended before it could be killed"
            time.sleep(0.01)
    finally:
        os.kill(process.pid, signal.SIGKILL)  # no chance to clean up: only what was already on disk survives
        process.wait()
    flown_before = len(_episodes(killed))
    assert 2 <= flown_before < 8 and not (killed / "results.json").exists()

    assert main(["eval", *args, "--out", str(killed)]) == 1  # refuses to overwrite without --resume
    assert main(["eval", *args, "--out", str(killed), "--resume"]) == 0
    method = json.loads((killed / "results.json").read_text())["method"]
    assert method["episodes_flown_now"] == 8 - flown_before
    assert sorted(map(_outcome, _episodes(killed))) == sorted(map(_outcome, _episodes(whole)))
    assert json.loads((killed / "results.json").read_text())["rows"] == \
        json.loads((whole / "results.json").read_text())["rows"]


def test_resume_can_add_episodes_but_not_change_the_plan(tmp_path, capsys):
    out = tmp_path / "run"
    base = ["eval", "--policy", "expert", "--workers", "1", "--out", str(out), *FAST]
    assert main([*base, "--episodes", "1"]) == 0
    assert main([*base, "--episodes", "2", "--resume"]) == 0
    assert len(_episodes(out)) == 2
    assert main([*base, "--episodes", "2", "--resume", "--seed", "5"]) == 1
    assert "first_seed" in capsys.readouterr().err


def test_no_reference_flies_only_the_requested_policies_and_resumes_only_so(tmp_path, capsys):
    out = tmp_path / "run"
    base = ["eval", "--policy", "expert", "--shift", "wind:0.5", "--workers", "1", "--out", str(out), *FAST]
    other = ["eval", "--policy", "random", "--episodes", "2", "--workers", "1", "--out", str(tmp_path / "other"),
             *FAST]
    assert main([*other, "--no-reference"]) == 0
    assert [r["policy"] for r in _episodes(tmp_path / "other")] == ["random", "random"]
    [row] = json.loads((tmp_path / "other" / "results.json").read_text())["rows"]
    assert row["path_length_vs_expert"] is None and row["path_ratio_episodes"] == 0
    assert main([*other, "--resume"]) == 1  # the expert as reference would change the plan
    assert "policies" in capsys.readouterr().err
    # the expert asked for is flown once, with or without the flag, and such runs pair by seed
    assert main([*base, "--episodes", "2", "--no-reference"]) == 0
    assert sorted((r["policy"], r["seed"]) for r in _episodes(out)) == [
        ("expert", 10000), ("expert", 10000), ("expert", 10001), ("expert", 10001)]


@pytest.mark.parametrize("extra, words", [
    (["--policy", "no_such.pt"], ["no_such.pt", "expert", "random"]),
    (["--policy", "expert", "--shift", "fgo"], ["'fgo'", "fog"]),
    (["--policy", "expert", "--world", "mars.yaml"], ["mars.yaml", "forest", "urban"]),
    (["--policy", "expert", "--suite", "config/eval_suites.yaml:nope"], ["nope", "quick"]),
    (["--policy", "expert", "--workers", "0"], ["--workers", "0"]),
    (["--policy", "expert", "--saliency"], ["--saliency", "--video"]),
    (["--policy", "random", "--video", "--saliency", "ig"], ["--saliency", "'random'", "checkpoint"]),
])
def test_user_errors_give_one_line_and_exit_code_1(tmp_path, capsys, extra, words):
    assert main(["eval", *extra, "--episodes", "1", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("lnn-control eval: ") and "\n" not in err and "Traceback" not in err
    for word in words:
        assert word in err
    assert not (tmp_path / "x").exists()  # nothing half-made


def test_a_file_that_is_not_a_checkpoint_is_refused_before_flying(tmp_path, capsys):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["eval", "--policy", str(bad), "--episodes", "1", "--out", str(tmp_path / "x")]) == 1
    assert "model.pt" in capsys.readouterr().err
    assert not (tmp_path / "x" / "episodes.jsonl").exists()


def test_demo_says_clearly_that_no_trained_model_is_shipped(tmp_path, capsys):
    assert main(["demo", "--model", str(tmp_path / "models" / "cfc_forest.pt"), "--out", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert "no trained model" in err.lower() and "cfc_forest.pt" in err and "make model" in err


def test_demo_flies_a_model_under_the_quick_suite_and_writes_table_plot_and_one_video(tmp_path, checkpoint, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--model", str(checkpoint), "--episodes", "1", "--out", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {r["policy"] for r in rows} == {"cfc_untrained", "expert"}
    assert [r["condition"] for r in rows[::2]] == ["none", "autumn", "fog_wind"]
    assert all(r["policy"] in printed and r["condition"] in printed for r in rows)
    assert (out / "results.png").is_file() and [p.name for p in (out / "videos").iterdir()] == ["forest_fog_wind.mp4"]


def test_ray_backend_flies_the_same_episodes_as_processes(tmp_path, checkpoint):
    pytest.importorskip("ray", reason="Ray is an optional extra (pip install -r requirements/extras.txt)")
    args = ["--policy", str(checkpoint), "--episodes", "2", "--workers", "2", *FAST]
    assert main(["eval", *args, "--backend", "ray", "--out", str(tmp_path / "ray")]) == 0
    assert main(["eval", *args, "--workers", "1", "--out", str(tmp_path / "local")]) == 0
    assert sorted(map(_outcome, _episodes(tmp_path / "ray"))) == sorted(map(_outcome, _episodes(tmp_path / "local")))


def test_ray_backend_without_ray_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    args = ["eval", "--policy", "expert", "--episodes", "1", "--backend", "ray", "--out", str(tmp_path / "x")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("lnn-control eval: --backend ray needs Ray") and "requirements/extras.txt" in err
