"""Write a run's results: DIR/results.json, DIR/results.md, DIR/results.png, and
DIR/uncertainty.png when a policy had an uncertainty."""
from __future__ import annotations

import json
from pathlib import Path

from lnn_control.eval.plots import plot_success, plot_uncertainty
from lnn_control.eval.tables import results_markdown

RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
RESULTS_PNG = "results.png"
UNCERTAINTY_PNG = "uncertainty.png"


def write_results(out_dir: str | Path, summary: dict, method: dict) -> dict[str, Path]:
    """results.json is `summary` (rows: policy, world, condition, episodes, success_rate,
    success_ci, collision_rate, timeout_rate, mean_time_to_target_s and more; paired tests;
    uncertainty rows) plus `method`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / RESULTS_JSON, "md": out_dir / RESULTS_MD, "png": out_dir / RESULTS_PNG}
    paths["json"].write_text(json.dumps({**summary, "method": method}, indent=2, allow_nan=False) + "\n")
    paths["md"].write_text(results_markdown(summary, method))
    plot_success(summary["rows"], paths["png"])
    if summary.get("ood_detection") or summary.get("failure_prediction"):
        paths["uncertainty_png"] = plot_uncertainty(summary, out_dir / UNCERTAINTY_PNG)
    return paths
