"""results.md: the evaluation as tables a person reads, saying how it was measured."""
from __future__ import annotations

from lnn_control.eval.detection import describe as describe_uncertainty
from lnn_control.policy.slow_down import CALIBRATION_QUANTILE, STOP_MARGIN

SIGNIFICANCE = 0.05


def results_markdown(summary: dict, method: dict) -> str:
    """Markdown for `summary` (from `summarize`) and `method` (how the run was made)."""
    rows = summary["rows"]
    lines = ["# Closed-loop evaluation", "", _how_measured(method), "",
             "| policy | world | condition | episodes | success [95% CI] | collision | timeout "
             "| time to target (s) | path / expert | mean abs jerk (m/s^3) |",
             "|---|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append("| " + " | ".join([
            row["policy"], row["world"], _condition(row), str(row["episodes"]),
            rate_with_interval(row["success_rate"], row["success_ci"]),
            percent(row["collision_rate"]), percent(row["timeout_rate"]),
            _number(row["mean_time_to_target_s"], 1),
            _ratio(row["path_length_vs_expert"], row["path_ratio_episodes"]),
            _number(row["mean_abs_jerk_m_s3"], 1)]) + " |")
    if any(row.get("failures_traced") for row in rows):
        lines += ["", "## What the vehicle's camera saw", "",
                  "Target in view: the share of decisions made with the target in the camera's field of view and "
                  "not hidden (geometry and ray tests, `lnn_control/sim/visibility.py`), averaged over episodes. "
                  "Failures with the target lost: unsuccessful episodes that ended with the target out of view "
                  "for the last 2 s or more. Tilt: the body's largest angle from level in an episode (median).", "",
                  "| policy | world | condition | target in view | failures with the target lost | max tilt (deg) |",
                  "|---|---|---|---:|---:|---:|"]
        for row in rows:
            lost = f"{row['failures_target_lost']} of {row['failures_traced']}" if row.get("failures_traced") else "-"
            lines.append(f"| {row['policy']} | {row['world']} | {_condition(row)} "
                         f"| {percent(row.get('mean_target_in_view_fraction'))} | {lost} "
                         f"| {_number(row.get('median_max_tilt_deg'), 0)} |")
    if summary["comparisons"]:
        lines += ["", "## Paired comparisons (same seeds)", "",
                  f"Exact McNemar test on the seeds both policies flew: 'A only' counts seeds where A "
                  f"succeeded and B did not. A difference is called real at p < {SIGNIFICANCE}.", "",
                  "| world | condition | A | B | successes A / B | A only | B only | p | verdict |",
                  "|---|---|---|---|---:|---:|---:|---:|---|"]
        for c in summary["comparisons"]:
            lines.append(f"| {c['world']} | {c['condition']} | {c['policy_a']} | {c['policy_b']} "
                         f"| {c['success_a']} / {c['success_b']} of {c['pairs']} | {c['only_a']} | {c['only_b']} "
                         f"| {c['p_value']:.3g} | {_verdict(c, c['policy_a'], c['policy_b'])} |")
    if summary["shift_effects"]:
        lines += ["", "## Effect of each shift (same policy, same seeds, against no shift)", "",
                  "| policy | world | condition | successes none / shifted | lost | gained | p | verdict |",
                  "|---|---|---|---:|---:|---:|---:|---|"]
        for e in summary["shift_effects"]:
            lines.append(f"| {e['policy']} | {e['world']} | {e['condition']} | {e['success_a']} / {e['success_b']} "
                         f"of {e['pairs']} | {e['only_a']} | {e['only_b']} | {e['p_value']:.3g} "
                         f"| {_verdict(e, 'no shift', e['condition'])} |")
    if summary.get("slow_down_effects"):
        lines += ["", "## Slowing down (the same policy without and with --slow-down, same seeds)", "",
                  "In distribution: the forest without a shift; out of distribution: every other world x condition "
                  "of this run, pooled. Exact McNemar tests on the paired episodes.", "",
                  "| policy | scope | pairs | successes without / with | p | collisions without / with | p |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for e in summary["slow_down_effects"]:
            lines.append(f"| {e['policy']} | {e['scope']} | {e['pairs']} | {e['success_without']} / "
                         f"{e['success_with']} | {e['success_p_value']:.3g} | {e['collision_without']} / "
                         f"{e['collision_with']} | {e['collision_p_value']:.3g} |")
    lines += _uncertainty_tables(summary)
    return "\n".join(lines) + "\n"


def _uncertainty_tables(summary: dict) -> list[str]:
    ood, failure = summary.get("ood_detection") or [], summary.get("failure_prediction") or []
    if not ood and not failure:
        return []
    lines = ["", "## Uncertainty: out-of-distribution detection and failure prediction", "", describe_uncertainty()]
    if ood:
        lines += ["", "| policy | world | condition | episodes / reference | mean uncertainty / reference "
                      "| AUROC [95% CI] |", "|---|---|---|---:|---:|---|"]
        for row in ood:
            lines.append(f"| {row['policy']} | {row['world']} | {row['condition']} "
                         f"| {row['episodes']} / {row['reference_episodes']} "
                         f"| {row['mean_uncertainty']:.3f} / {row['reference_mean_uncertainty']:.3f} "
                         f"| {auroc_with_interval(row)} |")
    if failure:
        lines += ["", "| policy | world | condition | episodes | decisions (failure within "
                      f"{failure[0]['horizon_s']:g} s) | AUROC [95% CI] |", "|---|---|---|---:|---:|---|"]
        for row in failure:
            lines.append(f"| {row['policy']} | {row['world']} | {row['condition']} | {row['episodes']} "
                         f"| {row['steps']} ({row['positive_steps']}) | {auroc_with_interval(row)} |")
    calibration = summary.get("slow_down_calibration") or []
    if calibration:
        lines += ["", f"Slow-down thresholds these flights call for (`lnn_control/policy/slow_down.py`: low = "
                      f"the {CALIBRATION_QUANTILE:.0%} quantile of the decisions' uncertainty in the forest without "
                      f"a shift, stop = {STOP_MARGIN:g} x their largest; measure them on other seeds):", "",
                  "| policy | episodes | decisions | largest uncertainty | `--slow-down LOW:STOP` |",
                  "|---|---:|---:|---:|---|"]
        for row in calibration:
            lines.append(f"| {row['policy']} | {row['episodes']} | {row['decisions']} "
                         f"| {row['max_uncertainty']:.4f} | `{row['slow_down']}` |")
    return lines


def auroc_with_interval(row: dict) -> str:
    """'0.93 [0.85, 0.99]', or '-' where one class had no sample."""
    if row["auroc"] is None:
        return "-"
    return f"{row['auroc']:.2f} [{row['auroc_ci'][0]:.2f}, {row['auroc_ci'][1]:.2f}]"


def console_table(summary: dict) -> str:
    """The main table in fixed-width columns, for the terminal."""
    lines = [f"{'policy':<16} {'world':<8} {'condition':<16} {'n':>3} {'success [95% CI]':<20} "
             f"{'collide':>7} {'timeout':>7} {'t_goal s':>8} {'path/exp':>8} {'jerk':>7}"]
    for row in summary["rows"]:
        ci = f"{row['success_rate']:.0%} [{row['success_ci'][0]:.0%},{row['success_ci'][1]:.0%}]" \
            if row["episodes"] else "-"
        lines.append(f"{row['policy'][:16]:<16} {row['world'][:8]:<8} {row['condition'][:16]:<16} {row['episodes']:>3} "
                     f"{ci:<20} {percent(row['collision_rate']):>7} {percent(row['timeout_rate']):>7} "
                     f"{_number(row['mean_time_to_target_s']):>8} {_number(row['path_length_vs_expert'], 2):>8} "
                     f"{_number(row['mean_abs_jerk_m_s3']):>7}")
    return "\n".join(lines)


def _how_measured(method: dict) -> str:
    seeds = method["seeds"]
    return (
        f"Each policy flew {method['episodes']} episode(s) per world and condition on world seeds "
        f"{seeds[0]}..{seeds[-1]}, the same seeds for every policy, so comparisons are paired. "
        f"An episode ends in success (reached the target), collision, or timeout (the world's time "
        f"limit). Rates are over all episodes, with 95% Wilson score intervals. Time to target "
        f"averages the successful episodes. Path / expert is the mean ratio of the path flown to "
        f"the expert's path on the same seed and condition, over seeds where both succeeded (count "
        f"in parentheses). Mean abs jerk is the mean norm of the second time derivative of the "
        f"commanded linear velocity (lower is smoother). Conditions name their shifts and "
        f"severities (0 = none, 1 = strongest). Made by `{method['command']}` on {method['date']} "
        f"({method['workers']} {method['backend']} worker(s), {method['wall_s']:.0f} s wall clock "
        f"for the episodes run in this invocation).")


def _condition(row: dict) -> str:
    shifts = row["shifts"]
    if not shifts:
        return row["condition"]
    spelled = " + ".join(f"{name} {severity:g}" for name, severity in shifts.items())
    return row["condition"] if row["condition"] == spelled else f"{row['condition']} ({spelled})"


def _verdict(test: dict, name_a: str, name_b: str) -> str:
    if test["p_value"] >= SIGNIFICANCE:
        return "no clear difference"
    better = name_a if test["only_a"] > test["only_b"] else name_b
    return f"{better} better"


def percent(value: float | None) -> str:
    """A fraction as a whole percentage: 0.934 -> '93%'; None -> '-'."""
    return "-" if value is None else f"{100 * value:.0f}%"


def rate_with_interval(rate: float, interval) -> str:
    """A rate and its 95% interval (fractions), as the tables show them: '93% [86%, 97%]'."""
    return f"{percent(rate)} [{percent(interval[0])}, {percent(interval[1])}]"


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(value: float | None, count: int) -> str:
    return "-" if value is None else f"{value:.2f} ({count})"
