"""From episode records to the rows of results.json: rates with Wilson intervals, times, path
lengths relative to the expert on the same seed, smoothness, and paired tests.

- rates count every episode of the row; `*_ci` are 95% Wilson intervals;
- `mean_time_to_target_s` averages the successful episodes (None without any);
- `path_length_vs_expert` averages path / expert's path over the seeds where both this policy
  and the expert succeeded (`path_ratio_episodes` of them; None without any);
- `mean_abs_jerk_m_s3` averages the episodes' mean |jerk| of the commanded linear velocity;
- `mean_target_in_view_fraction`: the share of decisions made with the target in the camera's
  view, averaged over episodes; `failures_target_lost` of the `failures_traced` unsuccessful
  episodes ended with the target out of view for the last `LOST_S` seconds or more;
  `median_max_tilt_deg` of the body from level;
- comparisons: for each world x condition and each pair of policies, the exact McNemar test
  on the seeds both flew; shift effects: for each policy and world, each shifted condition
  against no shift, paired on seeds the same way;
- slow-down effects: for each policy flown also with slow-down (NAME and NAME+slow_down), its
  success and collisions without and with it, paired on the same world, condition and seed
  (exact McNemar tests), in distribution (the forest without a shift) and over every other
  cell pooled (out of distribution);
- for policies with an uncertainty, `ood_detection` and `failure_prediction` (`eval.detection`).
"""
from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable

from lnn_control.eval.detection import REFERENCE_WORLD, uncertainty_rows
from lnn_control.eval.episode_record import LOST_S, EpisodeRecord
from lnn_control.eval.plan import NO_SHIFT, REFERENCE, SLOWED_SUFFIX, EvalPlan
from lnn_control.eval.stats import mcnemar_exact, wilson_interval


def summarize(plan: EvalPlan, records: Iterable[EpisodeRecord]) -> dict:
    """The content of results.json: {"rows": [...], "comparisons": [...], "shift_effects": [...],
    "slow_down_effects": [...], "ood_detection": [...], "failure_prediction": [...],
    "slow_down_calibration": [...]}."""
    by_cell = _by_cell(plan, records)
    rows = []
    for world in plan.worlds:
        for condition in plan.conditions:
            expert = {r.seed: r for r in by_cell.get((REFERENCE, world.label, condition.name), [])}
            for policy in plan.policies:
                episodes = by_cell.get((policy.label, world.label, condition.name), [])
                rows.append(_row(policy.label, world.label, condition, episodes, expert))
    return {"rows": rows, "comparisons": _comparisons(plan, by_cell), "shift_effects": _shift_effects(plan, by_cell),
            "slow_down_effects": _slow_down_effects(plan, by_cell), **uncertainty_rows(plan, by_cell)}


def _by_cell(plan: EvalPlan, records: Iterable[EpisodeRecord]) -> dict[tuple, list[EpisodeRecord]]:
    """Records of this plan's seeds grouped by (policy, world, condition), in seed order."""
    seeds = set(plan.seeds)
    cells: dict[tuple, list[EpisodeRecord]] = defaultdict(list)
    for record in records:
        if record.seed in seeds and record.episode < plan.episodes:
            cells[(record.policy, record.world, record.condition)].append(record)
    return {cell: sorted(found, key=lambda r: r.seed) for cell, found in cells.items()}


def _row(policy: str, world: str, condition, episodes: list[EpisodeRecord], expert: dict) -> dict:
    n = len(episodes)
    row = {"policy": policy, "world": world, "condition": condition.name,
           "shifts": dict(condition.shifts), "episodes": n}
    for outcome in ("success", "collision", "timeout"):
        count = sum(bool(getattr(r, outcome)) for r in episodes)
        row[f"{outcome}_rate"] = count / n if n else None
        row[f"{outcome}_ci"] = list(wilson_interval(count, n))
    successes = [r for r in episodes if r.success]
    row["mean_time_to_target_s"] = _mean(r.time_s for r in successes)
    row["mean_path_length_m"] = _mean(r.path_length_m for r in episodes)
    ratios = [r.path_length_m / expert[r.seed].path_length_m for r in successes
              if r.seed in expert and expert[r.seed].success and expert[r.seed].path_length_m > 0]
    row["path_length_vs_expert"] = _mean(ratios)
    row["path_ratio_episodes"] = len(ratios)
    row["mean_abs_jerk_m_s3"] = _mean(r.mean_abs_jerk_m_s3 for r in episodes if r.mean_abs_jerk_m_s3 is not None)
    row["mean_target_in_view_fraction"] = _mean(r.target_in_view_fraction for r in episodes
                                                if r.target_in_view_fraction is not None)
    failures = [r for r in episodes if not r.success and r.target_out_of_view_at_end_s is not None]
    row["failures_target_lost"] = sum(r.target_out_of_view_at_end_s >= LOST_S for r in failures)
    row["failures_traced"] = len(failures)
    row["median_max_tilt_deg"] = _median(r.max_tilt_deg for r in episodes if r.max_tilt_deg is not None)
    row["seeds"] = [r.seed for r in episodes]
    return row


def _comparisons(plan: EvalPlan, by_cell: dict) -> list[dict]:
    found = []
    for world in plan.worlds:
        for condition in plan.conditions:
            for a, b in itertools.combinations([p.label for p in plan.policies], 2):
                found.extend(_paired({"world": world.label, "condition": condition.name, "policy_a": a, "policy_b": b},
                                     by_cell.get((a, world.label, condition.name), []),
                                     by_cell.get((b, world.label, condition.name), [])))
    return found


def _shift_effects(plan: EvalPlan, by_cell: dict) -> list[dict]:
    found = []
    for policy in plan.policies:
        for world in plan.worlds:
            baseline = by_cell.get((policy.label, world.label, NO_SHIFT.name), [])
            for condition in plan.conditions:
                if condition.name == NO_SHIFT.name:
                    continue
                found.extend(_paired({"policy": policy.label, "world": world.label, "condition": condition.name},
                                     baseline, by_cell.get((policy.label, world.label, condition.name), [])))
    return found


IN_DISTRIBUTION = "in distribution"
OUT_OF_DISTRIBUTION = "out of distribution"


def _slow_down_effects(plan: EvalPlan, by_cell: dict) -> list[dict]:
    found = []
    for slowed in (p for p in plan.policies if p.slow_down is not None):
        policy = slowed.label.removesuffix(SLOWED_SUFFIX)
        scopes = {IN_DISTRIBUTION: [], OUT_OF_DISTRIBUTION: []}
        for world in plan.worlds:
            for condition in plan.conditions:
                reference = (world.label, condition.name) == (REFERENCE_WORLD, NO_SHIFT.name)
                flown = {r.seed: r for r in by_cell.get((policy, world.label, condition.name), [])}
                scopes[IN_DISTRIBUTION if reference else OUT_OF_DISTRIBUTION] += [
                    (flown[r.seed], r) for r in by_cell.get((slowed.label, world.label, condition.name), [])
                    if r.seed in flown]
        for scope, pairs in scopes.items():
            if not pairs:
                continue
            row = {"policy": policy, "slowed": slowed.label, "scope": scope, "pairs": len(pairs)}
            for outcome in ("success", "collision"):
                test = mcnemar_exact([getattr(a, outcome) for a, _ in pairs], [getattr(b, outcome) for _, b in pairs])
                row.update({f"{outcome}_without": test.both + test.only_a, f"{outcome}_with": test.both + test.only_b,
                            f"{outcome}_p_value": test.p_value})
            found.append(row)
    return found


def _paired(labels: dict, first: list[EpisodeRecord], second: list[EpisodeRecord]) -> list[dict]:
    """[labels + exact McNemar result on the shared seeds], or [] when no seed is shared."""
    first_by_seed = {r.seed: r.success for r in first}
    shared = [(first_by_seed[r.seed], r.success) for r in second if r.seed in first_by_seed]
    if not shared:
        return []
    test = mcnemar_exact([a for a, _ in shared], [b for _, b in shared])
    return [{**labels, "pairs": test.pairs, "success_a": test.both + test.only_a, "success_b": test.both + test.only_b,
             "only_a": test.only_a, "only_b": test.only_b, "p_value": test.p_value}]


def _median(values: Iterable[float]) -> float | None:
    values = sorted(float(v) for v in values)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else 0.5 * (values[middle - 1] + values[middle])


def _mean(values: Iterable[float]) -> float | None:
    values = [float(v) for v in values]
    if not values:
        return None
    value = math.fsum(values) / len(values)
    return value if math.isfinite(value) else None
