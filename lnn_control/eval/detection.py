"""How well a policy's uncertainty says it is out of its depth: results.json's `ood_detection`
and `failure_prediction` rows, from the episode records of policies that have an uncertainty
(`Policy.uncertainty`, an ensemble's disagreement; the others get no rows).

- `ood_detection`: for each world x condition other than the reference (the forest without a
  shift, where the policies were trained), the AUROC of the episodes' mean uncertainty for
  telling that cell's episodes (positives) from the same policy's reference episodes
  (negatives); 95% interval by bootstrap, positives and negatives resampled apart.
- `failure_prediction`: the AUROC of each decision's uncertainty for "a failure begins within
  the next `HORIZON_S` s": the collision that ends the episode, or the start of a stretch of
  `LOST_S` or more with the target out of view (`target_lost_intervals_s`). Decisions made
  while the target is already lost are left out (the failure has happened; predicting it is
  moot). Per policy x world x condition and pooled over all of a policy's episodes (world and
  condition "all"); 95% interval by bootstrap over whole episodes.
- `slow_down_calibration`: for each policy flown without slow-down, the slow-down curve
  (`SlowDown.calibrated`) that its decisions in the reference cell call for: what to pass to
  `eval --slow-down` or policy_node's `uncertainty_low` / `uncertainty_stop` (calibrate on seeds
  that are not the ones the curve is then measured on).
"""
from __future__ import annotations

import numpy as np

from lnn_control.eval.episode_record import LOST_S, EpisodeRecord
from lnn_control.eval.plan import NO_SHIFT, EvalPlan
from lnn_control.eval.stats import bootstrap_auroc
from lnn_control.policy.slow_down import SlowDown

HORIZON_S = 2.0          # s: a decision is positive when a failure begins this soon after it
REFERENCE_WORLD = "forest"
TIME_TOLERANCE_S = 1e-6  # decision times rebuilt from the trace's start and period, compared with logged times
ALL = "all"


def uncertainty_rows(plan: EvalPlan, by_cell: dict[tuple, list[EpisodeRecord]]) -> dict[str, list[dict]]:
    """{"ood_detection": [...], "failure_prediction": [...], "slow_down_calibration": [...]} for the
    plan's policies with uncertainty."""
    ood, failure, calibration = [], [], []
    for policy in plan.policies:
        cells = {(world.label, condition.name): [r for r in by_cell.get((policy.label, world.label, condition.name),
                                                                        []) if r.uncertainty_trace is not None]
                 for world in plan.worlds for condition in plan.conditions}
        if not any(cells.values()):
            continue
        reference = cells.get((REFERENCE_WORLD, NO_SHIFT.name), [])
        for (world, condition), episodes in cells.items():
            if episodes and reference and (world, condition) != (REFERENCE_WORLD, NO_SHIFT.name):
                ood.append(_ood_row(policy.label, world, condition, episodes, reference))
            if episodes:
                failure.append(_failure_row(policy.label, world, condition, episodes))
        failure.append(_failure_row(policy.label, ALL, ALL, [r for found in cells.values() for r in found]))
        if reference and policy.slow_down is None:
            calibration.append(_calibration_row(policy.label, reference))
    return {"ood_detection": ood, "failure_prediction": failure, "slow_down_calibration": calibration}


def _ood_row(policy: str, world: str, condition: str, episodes: list[EpisodeRecord],
             reference: list[EpisodeRecord]) -> dict:
    scores = [r.uncertainty_mean for r in episodes] + [r.uncertainty_mean for r in reference]
    positive = [True] * len(episodes) + [False] * len(reference)
    value, interval = bootstrap_auroc(scores, positive, np.arange(len(scores)), stratified=True)
    return {"policy": policy, "world": world, "condition": condition, "episodes": len(episodes),
            "reference_episodes": len(reference), "auroc": value, "auroc_ci": interval,
            "mean_uncertainty": float(np.mean(scores[:len(episodes)])),
            "reference_mean_uncertainty": float(np.mean(scores[len(episodes):]))}


def _failure_row(policy: str, world: str, condition: str, episodes: list[EpisodeRecord]) -> dict:
    scores, positive, clusters = [], [], []
    for index, record in enumerate(episodes):
        step_scores, step_positive = failure_labels(record)
        scores.append(step_scores)
        positive.append(step_positive)
        clusters.append(np.full(len(step_scores), index))
    scores, positive, clusters = (np.concatenate(parts) for parts in (scores, positive, clusters))
    value, interval = bootstrap_auroc(scores, positive, clusters)
    return {"policy": policy, "world": world, "condition": condition, "episodes": len(episodes),
            "steps": int(len(scores)), "positive_steps": int(positive.sum()), "horizon_s": HORIZON_S,
            "auroc": value, "auroc_ci": interval}


def _calibration_row(policy: str, reference: list[EpisodeRecord]) -> dict:
    values = np.concatenate([np.asarray(r.uncertainty_trace["values"], np.float64) for r in reference])
    curve = SlowDown.calibrated(values)
    return {"policy": policy, "world": REFERENCE_WORLD, "condition": NO_SHIFT.name, "episodes": len(reference),
            "decisions": int(values.size), "max_uncertainty": float(values.max()),
            "low": curve.low, "stop": curve.stop, "slow_down": str(curve)}


def failure_labels(record: EpisodeRecord) -> tuple[np.ndarray, np.ndarray]:
    """(uncertainty, whether a failure begins within `HORIZON_S`) of each decision of `record`
    made while the target was not already lost (see the module docstring)."""
    trace = record.uncertainty_trace
    values = np.asarray(trace["values"], np.float64)
    times = trace["start_s"] + trace["period_s"] * np.arange(len(values))
    lost = [tuple(interval) for interval in (record.target_lost_intervals_s or [])]
    onsets = [start for start, _ in lost] + ([record.time_s] if record.collision else [])
    positive = np.zeros(len(values), bool)
    eps = TIME_TOLERANCE_S
    for onset in onsets:
        positive |= (times <= onset + eps) & (onset - times <= HORIZON_S + eps)
    already_lost = np.zeros(len(values), bool)
    for start, end in lost:
        already_lost |= (times >= start - eps) & (times < end - eps)
    kept = ~already_lost
    return values[kept], positive[kept]


def describe() -> str:
    """One paragraph for results.md saying how the rows are measured."""
    return (f"Uncertainty: the members' disagreement of an ensemble policy (mean over command components of "
            f"their std over the limit; 0 = all agree). Out-of-distribution detection: the AUROC of the episodes' "
            f"mean uncertainty for telling each world x condition from the same policy's {REFERENCE_WORLD} "
            f"episodes without a shift (0.5 = chance, 1 = every shifted episode more uncertain than every "
            f"reference one). Failure prediction: the AUROC of each decision's uncertainty for a collision or "
            f"the target lost ({LOST_S:g} s or more out of view) beginning within the next {HORIZON_S:g} s; "
            f"decisions made with the target already lost left out. Intervals: 95% percentile bootstrap over "
            f"episodes.")

