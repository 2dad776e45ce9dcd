"""attention.json and attention.md: the attention scores of an explain run, with how they were measured.

attention.json is `{"rows": [...], "episodes": [...], "method": {...}}`. A row is one policy x world
x condition x saliency method: `frames` (explained frames with the target in view), `episodes`,
`attention_auc` (mean over the frames) with `attention_auc_ci` (95%, bootstrap over episodes),
`attention_ssim_vs_clean` with its interval where the condition changes only the image (null
otherwise), `peak_on_target` (the share of frames whose map peaks on the target, the pointing game)
with its interval, `centre_prior_auc` and `centre_prior_peak_on_target` with intervals (the centre
prior on the same frames: what a map must beat) and `success_rate`. An episode is one flight: its
outcome, its explained frames and each method's mean AUC over them. `success_prediction` answers
whether attention predicts success episode by episode: per policy and method, the AUROC of the
episodes' mean attention AUC for "the flight succeeded", over all the run's episodes (with a
bootstrap interval) and within conditions (only pairs of one condition compared, so a shift that
lowers both attention and success does not make the answer).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lnn_control.eval.stats import auroc, bootstrap_auroc
from lnn_control.explain.scores import cluster_bootstrap_interval

ATTENTION_JSON = "attention.json"
ATTENTION_MD = "attention.md"


def episode_row(policy: str, world: str, condition: str, seed: int, outcome, frames, methods) -> dict:
    """One flight's line of attention.json's `episodes`."""
    return {"policy": policy, "world": world, "condition": condition, "seed": seed,
            "outcome": _ending(outcome), "time_s": outcome.time_s, "frames": len(frames),
            "attention_auc": {m: (float(np.mean([f.auc[m] for f in frames])) if frames else None) for m in methods},
            "centre_prior_auc": float(np.mean([f.centre_prior_auc for f in frames])) if frames else None}


def summary_rows(run, frames: dict, episodes: list[dict]) -> list[dict]:
    """The rows of attention.json from each flight's explained frames, keyed (policy, condition, seed)."""
    rows = []
    for condition in run.conditions:
        for policy in run.policies:
            flights = [frames[(policy.label, condition.name, seed)] for seed in run.seeds]
            outcomes = [e["outcome"] for e in episodes if e["policy"] == policy.label
                        and e["condition"] == condition.name]
            # the centre prior scores the same frames whatever the method: once per policy and condition
            priors = [[f.centre_prior_auc for f in flight] for flight in flights]
            prior_pointing = [[float(f.centre_prior_on_target) for f in flight] for flight in flights]
            prior = {"centre_prior_auc": _pooled_mean(priors), "centre_prior_auc_ci": _interval(priors),
                     "centre_prior_peak_on_target": _pooled_mean(prior_pointing),
                     "centre_prior_peak_on_target_ci": _interval(prior_pointing)}
            for method in run.methods:
                aucs = [[f.auc[method] for f in flight] for flight in flights]
                pointing = [[float(f.on_target[method]) for f in flight] for flight in flights]
                ssims = [[f.ssim_vs_clean[method] for f in flight if method in f.ssim_vs_clean] for flight in flights]
                compared = any(ssims)
                rows.append({
                    "policy": policy.label, "world": run.world.label, "condition": condition.name, "method": method,
                    "episodes": len(flights), "frames": sum(map(len, aucs)),
                    "attention_auc": _pooled_mean(aucs),
                    "attention_auc_ci": _interval(aucs),
                    "attention_ssim_vs_clean": _pooled_mean(ssims) if compared else None,
                    "attention_ssim_ci": _interval(ssims) if compared else None,
                    "peak_on_target": _pooled_mean(pointing),
                    "peak_on_target_ci": _interval(pointing),
                    **prior,
                    "success_rate": outcomes.count("success") / len(outcomes),
                })
    return rows


def success_prediction(episodes: list[dict], methods: tuple[str, ...]) -> list[dict]:
    """Per policy and method: does an episode's mean attention AUC tell its success? `auroc`
    over all episodes with frames (95% bootstrap interval over episodes) and `auroc_within_conditions`
    (success/failure pairs of the same condition only; null where no condition has both)."""
    rows = []
    for policy in dict.fromkeys(e["policy"] for e in episodes):
        for method in methods:
            scored = [e for e in episodes if e["policy"] == policy and e["attention_auc"][method] is not None]
            scores = [e["attention_auc"][method] for e in scored]
            succeeded = [e["outcome"] == "success" for e in scored]
            value, interval = bootstrap_auroc(scores, succeeded, clusters=range(len(scored)))
            rows.append({"policy": policy, "method": method, "episodes": len(scored),
                         "successes": sum(succeeded), "auroc": value, "auroc_ci": interval,
                         "auroc_within_conditions": _within_conditions(scored, method)})
    return rows


def _within_conditions(episodes: list[dict], method: str) -> float | None:
    """The AUROC over the success/failure pairs of one condition (each condition's AUROC weighted
    by its number of pairs); None when no condition has both outcomes."""
    pairs = wins = 0.0
    for condition in dict.fromkeys(e["condition"] for e in episodes):
        flown = [e for e in episodes if e["condition"] == condition]
        succeeded = [e["outcome"] == "success" for e in flown]
        value = auroc([e["attention_auc"][method] for e in flown], succeeded)
        if value is not None:
            weight = sum(succeeded) * (len(flown) - sum(succeeded))
            pairs, wins = pairs + weight, wins + weight * value
    return wins / pairs if pairs else None


def write_report(out_dir: Path, summary: dict, method: dict) -> dict[str, Path]:
    paths = {"json": out_dir / ATTENTION_JSON, "md": out_dir / ATTENTION_MD}
    paths["json"].write_text(json.dumps({**summary, "method": method}, indent=2, allow_nan=False) + "\n")
    paths["md"].write_text(attention_markdown(summary, method))
    return paths


def attention_markdown(summary: dict, method: dict) -> str:
    lines = ["# Attention on the target", "",
             f"`{method['command']}` ({method['date']}; {len(method['seeds'])} episodes per policy and condition, "
             f"seeds {method['seeds'][0]}-{method['seeds'][-1]}, world {method['world']}; a map for every "
             f"{method['every']}th frame with the target in view"
             + (f"; integrated gradients over {method['ig_window']} frames, {method['ig_steps']} points"
                if "ig" in method["methods"] else "") + ").", "",
             f"Attention AUC: {method['attention_auc']} (1: all on the target, 0.5: no better than chance). "
             f"Interval: {method['interval']}. SSIM vs clean: {method['ssim_vs_clean']}.", "",
             f"Peak on target: {method['peak_on_target']}. Centre prior: the same scores, on the same frames, "
             "of a map that only ever looks at the image centre; a policy's attention is on the target beyond "
             "where the target sits in the view only where it scores above the prior.", "",
             "| policy | condition | method | episodes | frames | attention AUC [95% CI] | centre prior AUC "
             "| peak on target [95% CI] | centre prior peak | SSIM vs clean [95% CI] | success |",
             "|---|---|---|---:|---:|---|---|---|---|---|---:|"]
    for row in summary["rows"]:
        lines.append(f"| {row['policy']} | {row['condition']} | {row['method']} | {row['episodes']} | {row['frames']} "
                     f"| {_with_interval(row['attention_auc'], row['attention_auc_ci'])} "
                     f"| {_with_interval(row['centre_prior_auc'], None)} "
                     f"| {_share_with_interval(row['peak_on_target'], row['peak_on_target_ci'])} "
                     f"| {_share_with_interval(row['centre_prior_peak_on_target'], None)} "
                     f"| {_with_interval(row['attention_ssim_vs_clean'], row['attention_ssim_ci'])} "
                     f"| {row['success_rate']:.0%} |")
    lines += ["", "## Does attention on the target predict success?", "",
              "AUROC of an episode's mean attention AUC for \"the flight succeeded\" (0.5: it tells nothing; "
              "above: flights that looked at the target more often succeeded). Over all the run's episodes "
              "(interval: 95% bootstrap over episodes) and within conditions (only a success and a failure of "
              "the same condition compared). '-': the episodes had one outcome only.", "",
              "| policy | method | episodes | successes | AUROC [95% CI] | AUROC within conditions |",
              "|---|---|---:|---:|---|---|"]
    for row in summary["success_prediction"]:
        lines.append(f"| {row['policy']} | {row['method']} | {row['episodes']} | {row['successes']} "
                     f"| {_with_interval(row['auroc'], row['auroc_ci'])} "
                     f"| {_with_interval(row['auroc_within_conditions'], None)} |")
    lines += ["", "Figures: attention.png (frames with each policy's map), wiring.png (the NCP), neurons.png "
              "(each neuron's state and effective time constant over one flight)."]
    return "\n".join(lines) + "\n"


def _ending(outcome) -> str:
    """"success", "collision", "timeout" or "stopped": how the flight ended (`Outcome`)."""
    return next((word for word in ("success", "collision", "timeout", "stopped") if getattr(outcome, word)), "unended")


def _pooled_mean(groups: list[list[float]]) -> float | None:
    values = [v for g in groups for v in g]
    return float(np.mean(values)) if values else None


def _interval(groups: list[list[float]]) -> list[float] | None:
    interval = cluster_bootstrap_interval(groups)
    return list(interval) if interval else None


def _share_with_interval(value: float | None, interval: list[float] | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" + (f" [{interval[0]:.0%}, {interval[1]:.0%}]" if interval else "")


def _with_interval(value: float | None, interval: list[float] | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")
