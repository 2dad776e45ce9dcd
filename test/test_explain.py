"""`lnn-control explain`: the scores (attention AUC, SSIM, the bootstrap over episodes) on maps
whose answer is known, and the command end to end on the shipped CfC and LSTM in the forest."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lnn_control.cli import main
from lnn_control.envs.shifts import Condition
from lnn_control.explain.report import success_prediction
from lnn_control.explain.run import changes_only_the_image
from lnn_control.explain.scores import (
    attention_auc,
    centre_prior,
    cluster_bootstrap_interval,
    peak_on_target,
    structural_similarity,
)


@pytest.fixture
def mask() -> np.ndarray:
    mask = np.zeros((48, 64), bool)
    mask[20:26, 30:37] = True
    return mask


def test_the_attention_auc_of_the_mask_itself_is_one_and_of_its_inverse_zero(mask):
    assert attention_auc(mask.astype(float), mask) == 1.0
    assert attention_auc(1.0 - mask, mask) == 0.0
    assert attention_auc(np.full(mask.shape, 0.3), mask) == 0.5          # a map telling nothing apart
    blurred = np.exp(-((np.arange(48)[:, None] - 23) ** 2 + (np.arange(64)[None] - 33) ** 2) / 50.0)
    assert 0.95 < attention_auc(blurred, mask) < 1.0                     # a blob on the target, wider than it
    elsewhere = np.roll(blurred, 25, axis=1)
    assert attention_auc(elsewhere, mask) < 0.5                          # a blob beside it: worse than chance


def test_the_attention_auc_needs_target_and_other_pixels(mask):
    with pytest.raises(ValueError, match="0 target pixels"):
        attention_auc(np.ones(mask.shape), np.zeros(mask.shape, bool))
    with pytest.raises(ValueError, match="shape"):
        attention_auc(np.ones((10, 10)), mask)


def test_ssim_is_one_for_the_same_map_and_lower_for_another(mask):
    rng = np.random.default_rng(0)
    saliency = rng.random(mask.shape).astype(np.float32)
    assert structural_similarity(saliency, saliency) == pytest.approx(1.0, abs=1e-5)
    assert structural_similarity(saliency, rng.random(mask.shape)) < 0.2
    assert structural_similarity(mask, np.roll(mask, 3, axis=1)) < structural_similarity(mask, np.roll(mask, 1, axis=1))


def test_the_centre_prior_finds_a_centred_target_and_misses_one_in_a_corner(mask):
    prior = centre_prior(*mask.shape)
    assert prior.shape == mask.shape and prior.max() == prior[23, 31] == prior[24, 32]
    assert attention_auc(prior, mask) > 0.9                              # the target near the middle
    corner = np.zeros(mask.shape, bool)
    corner[:5, :5] = True
    assert attention_auc(prior, corner) < 0.05


def test_the_pointing_game_asks_where_the_map_peaks(mask):
    blob_beside = np.zeros(mask.shape)
    blob_beside[20:26, 38:45] = 1.0                                      # a red car just right of the target
    blob_beside[23, 41] = 2.0
    spill = blob_beside + 0.5 * mask                                     # its blur spilling onto the target
    assert attention_auc(spill, mask) > 0.95                             # the AUC says "on the target"...
    assert not peak_on_target(spill, mask)                               # ...the peak says beside it
    assert peak_on_target(mask.astype(float), mask)
    near = np.zeros(mask.shape)
    near[23, 37] = 1.0                                                   # one pixel right of the target
    assert peak_on_target(near, mask) and not peak_on_target(near, mask, tolerance_px=0)


def _episode(condition: str, auc: float, outcome: str) -> dict:
    return {"policy": "p", "condition": condition, "outcome": outcome, "attention_auc": {"vbp": auc}}


def test_success_prediction_compares_episodes_within_a_condition_too():
    # fog lowers attention and success alike: over all episodes attention seems to predict
    # success, within each condition it predicts the opposite
    episodes = [_episode("none", 0.9, "success"), _episode("none", 0.95, "timeout"), _episode("none", 0.92, "success"),
                _episode("fog", 0.6, "collision"), _episode("fog", 0.5, "success"), _episode("fog", 0.55, "timeout"),
                _episode("fog", 0.4, "timeout")]
    episodes.append({**_episode("fog", 0.0, "timeout"), "attention_auc": {"vbp": None}})   # no frame in view
    (row,) = success_prediction(episodes, ("vbp",))
    assert (row["episodes"], row["successes"]) == (7, 3)
    assert row["auroc"] == pytest.approx(7 / 12)         # of 3 x 4 pairs: 7 won
    assert row["auroc"] and row["auroc_ci"][0] <= row["auroc"] <= row["auroc_ci"][1]
    assert row["auroc_within_conditions"] == pytest.approx(1 / 5)   # none: 0 of 2 pairs won, fog: 1 of 3
    (one_outcome,) = success_prediction([_episode("none", 0.9, "success")] * 3, ("vbp",))
    assert one_outcome["auroc"] is None and one_outcome["auroc_within_conditions"] is None


def test_the_bootstrap_resamples_whole_episodes():
    assert cluster_bootstrap_interval([[0.7, 0.8]]) is None                # one episode: nothing to resample
    lo, hi = cluster_bootstrap_interval([[0.6] * 50, [0.9] * 2, [0.8] * 10])
    pooled = (0.6 * 50 + 0.9 * 2 + 0.8 * 10) / 62
    assert 0.6 <= lo < pooled < hi <= 0.9
    assert cluster_bootstrap_interval([[0.5], [0.5], [0.5]]) == (0.5, 0.5)


def test_a_clean_frame_exists_only_for_shifts_of_the_image():
    assert changes_only_the_image(Condition("fog:0.5", (("fog", 0.5),)))
    assert changes_only_the_image(Condition("x", (("dim", 0.5), ("camera_noise", 0.5))))
    assert not changes_only_the_image(Condition("none", ()))
    assert not changes_only_the_image(Condition("autumn:1", (("autumn", 1.0),)))
    assert not changes_only_the_image(Condition("x", (("fog", 0.5), ("latency", 0.5))))


def _explain(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lnn_control.cli", "explain", *args], capture_output=True,
                          text=True, timeout=600)


def test_explain_scores_the_shipped_policies_and_draws_them(repo_root, tmp_path):
    out = tmp_path / "explain"
    result = _explain(["--policy", str(repo_root / "models/cfc_forest.pt"),
                       "--policy", str(repo_root / "models/baselines/lstm_forest.pt"), "--shift", "fog:0.5",
                       "--episodes", "2", "--time-limit", "1.0", "--method", "vbp", "--method", "ig", "--every", "4",
                       "--ig-window", "3", "--ig-steps", "4", "--out", str(out)])
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "attention.json").read_text())
    rows = report["rows"]
    assert [(r["policy"], r["condition"], r["method"]) for r in rows] == [
        (p, c, m) for c in ("none", "fog:0.5") for p in ("cfc_forest", "lstm_forest") for m in ("vbp", "ig")]
    for row in rows:
        assert row["world"] == "forest" and row["episodes"] == 2
        assert row["frames"] > 0, f"no explained frame with the target in view: {row}"
        assert 0.0 <= row["attention_auc"] <= 1.0 and 0.0 <= row["centre_prior_auc"] <= 1.0
        assert 0.0 <= row["peak_on_target"] <= 1.0 and 0.0 <= row["centre_prior_peak_on_target"] <= 1.0
        assert row["attention_auc_ci"] is None or row["attention_auc_ci"][0] <= row["attention_auc_ci"][1]
        fog = row["condition"] == "fog:0.5"
        assert (row["attention_ssim_vs_clean"] is not None) == fog
        if fog:
            assert -1.0 <= row["attention_ssim_vs_clean"] <= 1.0
    assert len(report["episodes"]) == 2 * 2 * 2 and report["method"]["seeds"] == [10000, 10001]
    assert [(r["policy"], r["method"], r["episodes"]) for r in report["success_prediction"]] == [
        (p, m, 4) for p in ("cfc_forest", "lstm_forest") for m in ("vbp", "ig")]
    markdown = (out / "attention.md").read_text()
    assert "| cfc_forest | fog:0.5 | ig |" in markdown
    assert "## Does attention on the target predict success?" in markdown
    for figure in ("attention.png", "wiring.png", "neurons.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", figure
    assert "attention AUC" in result.stdout


def test_explain_refuses_what_it_cannot_explain_in_one_line(tmp_path, capsys):
    assert main(["explain", "--policy", "expert", "--episodes", "1", "--out", str(tmp_path / "x")]) == 1
    assert capsys.readouterr().err.strip() == ("lnn-control explain: --policy 'expert': only a checkpoint has "
                                               "attention to explain")
    assert main(["explain", "--policy", str(tmp_path / "missing.pt"), "--episodes", "1",
                 "--out", str(tmp_path / "x")]) == 1
    assert "missing.pt" in capsys.readouterr().err.strip()
    assert not (tmp_path / "x").exists()
    with pytest.raises(SystemExit) as usage:
        main(["explain", "--help"])
    assert usage.value.code == 0 and "--method" in capsys.readouterr().out
