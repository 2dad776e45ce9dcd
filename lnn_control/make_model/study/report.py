"""The report of `make study`: tables and plots from the study's record (OUT) alone.

How far the study has got comes first: each unit (a trained model, or the expert) with its
training and its evaluations, complete or how many episodes are flown; every table below is of
what has been flown, so until every unit is complete it is a partial study and says so.

For each model group (kind and teacher, its trainings pooled) and each world x condition:
success pooled over trainings x world seeds with its 95% Wilson interval, the mean and range of
the trainings' own success rates, collisions, timeouts, and how many failures ended with the
target out of the camera's view. Paired comparisons pair training seed i of one group with
training seed i of another on the same world seeds (exact McNemar on all those pairs); the
retention of a shift is its pooled success over the group's forest success without shift.
Writes OUT/study.json, OUT/study.md, OUT/worlds.png and OUT/severity.png.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from pathlib import Path

from lnn_control.eval.episode_log import EpisodeLog
from lnn_control.eval.plan import parse_conditions
from lnn_control.eval.results import RESULTS_JSON
from lnn_control.eval.stats import mcnemar_exact, wilson_interval
from lnn_control.eval.tables import percent, rate_with_interval
from lnn_control.make_model.pipeline import STEPS
from lnn_control.make_model.study.steps import (
    RUNS,
    SEVERITY_SHIFTS,
    STANDARD_SUITE,
    StudyPlan,
    checkpoint_path,
    eval_path,
    evaluations,
    parse_label,
    training_pace,
    units,
)
from lnn_control.policy import read_header
from lnn_control.train.provenance import bag_fact

LOST_S = 2.0        # s out of view at the end: a failure with the target lost
GOALS = {"forest": 0.95, "urban": 0.80, "new_world": 0.80, "retention": 0.80}
SUITE_SHIFTS = [c.name for c in parse_conditions([], [STANDARD_SUITE])
                if c.shifts]   # the shift conditions whose retention the goal asks for


def write_report(plan: StudyPlan, out: Path) -> list[Path]:
    episodes = _episodes(plan, out)
    if not episodes:
        raise FileNotFoundError(f"{out}: no study evaluation to report on (eval/worlds, eval/suite, eval/severity)")
    groups = [f"{kind}_{teacher}" for kind, teacher in plan.models]
    main = groups[0]
    cells = _cells(episodes)
    rows = [_row(group, cell, found) for (group, *cell), found in sorted(cells.items()) if group in groups + ["expert"]]
    by = {(r["group"], r["world"], r["condition"]): r for r in rows}
    for row in rows:
        base = by.get((row["group"], "forest", "none"))
        row["retention"] = (row["success_rate"] / base["success_rate"]
                            if base and base["success_rate"] and row["world"] == "forest" and row["condition"] != "none"
                            else None)
    comparisons = [_compare(main, other, cell, cells) for other in groups[1:] for cell in _cell_names(cells)
                   if (main, *cell) in cells and (other, *cell) in cells]
    pooled = [_pooled(main, other, cells, name, keep) for other in groups[1:] for name, keep in _POOLS.items()]
    steps = _steps(out)
    report = {"plan": plan.__dict__ | {"models": [list(m) for m in plan.models]}, "main": main, "groups": groups,
              "rows": rows, "comparisons": [c for c in comparisons if c], "pooled": [p for p in pooled if p],
              "goals": [_goals(group, by, plan) for group in groups],
              "progress": _progress(plan, out, episodes, steps), "demonstrations": _demonstrations(plan, out),
              "steps": steps}
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "study.json", out / "study.md", out / "worlds.png", out / "severity.png"]
    written[0].write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    written[1].write_text(_markdown(report))
    _plot_worlds(report, written[2])
    _plot_severity(report, written[3])
    return written


def _episodes(plan: StudyPlan, out: Path) -> list[dict]:
    """Every episode record of the plan's evaluations flown so far (OUT/eval/RUN/UNIT/), as dicts
    with the run's name and the unit's."""
    found = []
    for run in RUNS:
        for unit in units(plan):
            log = EpisodeLog(eval_path(out, run, unit))
            if log.path.is_file():
                found += [{**record.to_dict(), "run": run, "unit": unit} for record in log.read()]
    return found


def _demonstrations(plan: StudyPlan, out: Path) -> dict:
    """Per teacher: how many finished trainings, and how many different sets of demonstrations
    they learned from, told apart by each bag's name, frames and outcome (to the last digit of its
    final distance to the target) in the checkpoint's provenance. One set: the demonstrations,
    collected again on each machine the study ran on, came out the same."""
    sets: dict[str, list[str]] = defaultdict(list)
    for unit in units(plan):
        parsed, checkpoint = parse_label(unit), checkpoint_path(out, unit)
        if parsed is None or not checkpoint.is_file():
            continue
        bags = [(Path(bag["path"]).name, bag["frames"], bag_fact(bag, "outcome"))
                for bag in read_header(checkpoint)["provenance"]["bags"] if bag_fact(bag, "source") == "expert"]
        sets[parsed[1]].append(hashlib.sha256(json.dumps(bags, sort_keys=True).encode()).hexdigest())
    return {teacher: {"trainings": len(found), "demonstration_sets": len(set(found))}
            for teacher, found in sorted(sets.items())}


def _progress(plan: StudyPlan, out: Path, episodes: list[dict], steps: dict) -> dict:
    """Each unit of the plan: trained (None for the expert, who is not), and each evaluation's
    episodes flown (of `episodes`, the record's) of those planned, and whether it is complete
    (its results written); then what is left, and how long it takes at the record's pace."""
    flown = defaultdict(int)
    for e in episodes:
        flown[(e["run"], e["unit"])] += 1
    rows = []
    for unit in units(plan):
        runs = {ev.run: {"episodes": flown[(ev.run, unit)], "of": ev.planned_episodes(),
                         "complete": (eval_path(out, ev.run, unit) / RESULTS_JSON).is_file()}
                for ev in evaluations(plan)}
        trained = None if parse_label(unit) is None else checkpoint_path(out, unit).is_file()
        rows.append({"unit": unit, "trained": trained, "evaluations": runs,
                     "complete": trained is not False and all(e["complete"] for e in runs.values())})
    return {"units": rows, "complete": sum(r["complete"] for r in rows), "of": len(rows),
            "left": _left(rows, episodes, steps)}


def _left(rows: list[dict], episodes: list[dict], steps: dict) -> dict:
    """The trainings and evaluation episodes still to do, and their seconds of one core at the
    pace of the record so far: the median seconds of its trainings and the mean wall seconds of
    its episodes (None until it has both). The machines that made the record set the pace."""
    trainings = sum(row["trained"] is False for row in rows)
    left = sum(max(0, e["of"] - e["episodes"]) for row in rows for e in row["evaluations"].values()
               if not e["complete"])
    training_s = training_pace(steps.get("steps", {}))
    episode_s = [e["wall_s"] for e in episodes if e.get("wall_s") is not None]
    flying_s = sum(episode_s) / len(episode_s) if episode_s else None
    core_s = (None if (trainings and training_s is None) or (left and flying_s is None)
              else trainings * (training_s or 0.0) + left * (flying_s or 0.0))
    return {"trainings": trainings, "episodes": left, "training_s": training_s, "episode_s": flying_s,
            "core_s": core_s}


def _cells(episodes: list[dict]) -> dict[tuple, list[dict]]:
    """(group, world, condition) -> episodes, each tagged with its training seed (-1: the expert).
    An episode flown by two evaluations (the forest without shift is in all three) counts once:
    the same model, world, condition and seed fly the same episode."""
    cells: dict[tuple, dict[tuple, dict]] = defaultdict(dict)
    for e in episodes:
        parsed = parse_label(e["policy"])
        group, training = (f"{parsed[0]}_{parsed[1]}", parsed[2]) if parsed else (e["policy"], -1)
        cells[(group, e["world"], e["condition"])].setdefault((training, e["seed"]), {**e, "training": training})
    return {cell: list(found.values()) for cell, found in cells.items()}


def _cell_names(cells) -> list[tuple[str, str]]:
    return sorted({(world, condition) for _, world, condition in cells})


def _row(group: str, cell: tuple[str, str], found: list[dict]) -> dict:
    n = len(found)
    successes = sum(e["success"] for e in found)
    per_training = defaultdict(list)
    for e in found:
        per_training[e["training"]].append(e["success"])
    rates = [sum(v) / len(v) for v in per_training.values()]
    failures = [e for e in found if not e["success"] and e.get("target_out_of_view_at_end_s") is not None]
    return {"group": group, "world": cell[0], "condition": cell[1], "episodes": n, "trainings": len(per_training),
            "success_rate": successes / n, "success_ci": list(wilson_interval(successes, n)),
            "training_mean": sum(rates) / len(rates), "training_min": min(rates), "training_max": max(rates),
            "collision_rate": sum(e["collision"] for e in found) / n,
            "timeout_rate": sum(e["timeout"] for e in found) / n,
            "failures_target_lost": sum(e["target_out_of_view_at_end_s"] >= LOST_S for e in failures),
            "failures_traced": len(failures),
            "target_in_view": _mean(e.get("target_in_view_fraction") for e in found),
            "max_tilt_deg": _mean(e.get("max_tilt_deg") for e in found)}


def _mean(values) -> float | None:
    """The mean of the values that were recorded (None where none was)."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _pairs(a: str, b: str, cells, keep) -> tuple[list[bool], list[bool]]:
    """Paired outcomes of groups `a` and `b`: same training seed, world, condition, world seed."""
    first, second = [], []
    for (group, world, condition), found in cells.items():
        if group != a or not keep(world, condition) or (b, world, condition) not in cells:
            continue
        other = {(e["training"], e["seed"]): e["success"] for e in cells[(b, world, condition)]}
        for e in found:
            if (e["training"], e["seed"]) in other:
                first.append(e["success"])
                second.append(other[(e["training"], e["seed"])])
    return first, second


def _compare(a: str, b: str, cell: tuple[str, str], cells) -> dict | None:
    first, second = _pairs(a, b, cells, lambda w, c: (w, c) == cell)
    if not first:
        return None
    test = mcnemar_exact(first, second)
    return {"a": a, "b": b, "world": cell[0], "condition": cell[1], "pairs": test.pairs, "only_a": test.only_a,
            "only_b": test.only_b, "success_a": sum(first) / len(first), "success_b": sum(second) / len(second),
            "p_value": test.p_value}


_POOLS = {  # name -> which (world, condition) cells it pools
    "forest, no shift": lambda w, c: w == "forest" and c == "none",
    "urban": lambda w, c: w == "urban" and c == "none",
    "new worlds": lambda w, c: w not in ("forest", "urban") and c == "none",
    "every shift (forest)": lambda w, c: w == "forest" and c != "none",
}


def _pooled(a: str, b: str, cells, name: str, keep) -> dict | None:
    first, second = _pairs(a, b, cells, keep)
    if not first:
        return None
    test = mcnemar_exact(first, second)
    return {"a": a, "b": b, "pool": name, "pairs": test.pairs, "success_a": sum(first) / len(first),
            "success_a_ci": list(wilson_interval(sum(first), len(first))), "success_b": sum(second) / len(second),
            "success_b_ci": list(wilson_interval(sum(second), len(second))), "only_a": test.only_a,
            "only_b": test.only_b, "p_value": test.p_value}


def _goals(group: str, by: dict, plan: StudyPlan) -> dict:
    """The issue's goals for one model group: met, not met, or not measured (None)."""
    def rate(world, condition="none"):
        row = by.get((group, world, condition))
        return row["success_rate"] if row else None

    forest, urban = rate("forest"), rate("urban")
    new = {w: rate(w) for w in plan.worlds if w not in ("forest", "urban")}
    retention = {r["condition"]: r["retention"] for (g, w, c), r in by.items()
                 if g == group and w == "forest" and c != "none" and r["retention"] is not None and ":" not in c}
    return {"group": group, "forest": forest, "forest_met": None if forest is None else forest >= GOALS["forest"],
            "urban": urban, "urban_met": None if urban is None else urban >= GOALS["urban"],
            "new_worlds": new, "new_worlds_met": _all_met(new.values(), len(new), GOALS["new_world"]),
            "suite_retention": retention,
            "suite_retention_met": _all_met(retention.values(), len(SUITE_SHIFTS), GOALS["retention"])}


def _all_met(values, expected: int, goal: float) -> bool | None:
    """Whether every one of `expected` values meets `goal`: False as soon as a measured one does
    not, None (not measured) while some are missing, True when all are there and meet it."""
    measured = [v for v in values if v is not None]
    if any(v < goal for v in measured):
        return False
    return True if len(measured) == expected else None


def _steps(out: Path) -> dict:
    record = out / STEPS
    return json.loads(record.read_text()) if record.is_file() else {}


# -- markdown ------------------------------------------------------------------------------------

def _markdown(report: dict) -> str:
    plan, rows = report["plan"], report["rows"]
    steps = report["steps"]
    groups = report["groups"] + ["expert"]
    lines = ["# Out-of-distribution study", "", _method(report, steps), ""]
    lines += _progress_lines(report["progress"])
    lines += ["## Success by world (no shift)", "",
              "Pooled success [95% Wilson] over all trainings x world seeds; in brackets after it the mean and "
              "range of the trainings' own rates.", ""]
    lines += _grid(rows, groups, [(w, "none") for w in plan["worlds"]], lambda w, c: w)
    suite = sorted({r["condition"] for r in rows if r["world"] == "forest" and ":" not in r["condition"]},
                   key=lambda c: (c != "none", c))
    lines += ["", "## The standard shift suite (forest, severity 0.5)", "",
              "Pooled success; retention (the share of the group's own forest success it keeps) after it.", ""]
    lines += _grid(rows, groups, [("forest", c) for c in suite], lambda w, c: c, retention=True)
    lines += ["", "## Severity curves (forest)", "", "![severity curves](severity.png)", ""]
    curve_conditions = sorted({r["condition"] for r in rows if ":" in r["condition"]})
    lines += _grid(rows, groups, [("forest", c) for c in curve_conditions], lambda w, c: c)
    lines += ["", "## The CfC against the others, paired", "",
              f"`{report['main']}` against each other group: pairs share the training seed, world, condition and "
              "world seed; exact McNemar on all of them.", "",
              "| pooled over | other | pairs | CfC | other | CfC only | other only | p |",
              "|---|---|---:|---|---|---:|---:|---:|"]
    for p in report["pooled"]:
        lines.append(f"| {p['pool']} | {p['b']} | {p['pairs']} "
                     f"| {rate_with_interval(p['success_a'], p['success_a_ci'])} "
                     f"| {rate_with_interval(p['success_b'], p['success_b_ci'])} | {p['only_a']} | {p['only_b']} "
                     f"| {p['p_value']:.3g} |")
    lines += ["", "## Goals", "",
              "Forest >= 95%, urban >= 80%, every new world >= 80%, every shift of the standard suite keeping "
              ">= 80% of the group's forest success.", "",
              "| group | forest | urban | new worlds | suite retention (worst) |", "|---|---|---|---|---|"]
    for g in report["goals"]:
        worst = min(g["suite_retention"].items(), key=lambda kv: kv[1]) if g["suite_retention"] else None
        new = ", ".join(f"{w} {percent(v)}" for w, v in g["new_worlds"].items())
        lines.append(f"| {g['group']} | {percent(g['forest'])} {_met(g['forest_met'])} | {percent(g['urban'])} "
                     f"{_met(g['urban_met'])} | {new} {_met(g['new_worlds_met'])} | "
                     f"{(worst[0] + ' ' + percent(worst[1])) if worst else '-'} {_met(g['suite_retention_met'])} |")
    lines += ["", "## How the failures ended", "",
              f"Collisions, timeouts, and the failures that ended with the target out of the camera's view for the "
              f"last {LOST_S:g} s or more (target lost), pooled; the mean share of decisions made with the target "
              "in the camera's view, and the mean of each episode's largest body tilt.", "",
              "| group | world | condition | collision | timeout | failures with the target lost | target in view "
              "| max tilt |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["group"] in report["groups"] + ["expert"]:
            in_view = "-" if r.get("target_in_view") is None else percent(r["target_in_view"])
            tilt = "-" if r.get("max_tilt_deg") is None else f"{r['max_tilt_deg']:.0f} deg"
            lines.append(f"| {r['group']} | {r['world']} | {r['condition']} | {percent(r['collision_rate'])} "
                         f"| {percent(r['timeout_rate'])} | {r['failures_target_lost']} of {r['failures_traced']} "
                         f"| {in_view} | {tilt} |")
    return "\n".join(lines) + "\n"


def _method(report: dict, steps: dict) -> str:
    plan = report["plan"]
    hours = steps.get("wall_s", 0.0) / 3600
    return ("Every model trained in the forest only (default season, no shift): "
            f"{plan['episodes']} expert demonstrations per teacher, behaviour cloning "
            f"({plan['epochs'] or 'the config' + chr(39) + 's'} epochs) then "
            f"{plan['dagger_rounds'] or 'no'} DAgger rounds (config {plan['train_config']}), "
            f"{len(plan['training_seeds'])} trainings per group "
            f"(training seeds {', '.join(map(str, plan['training_seeds']))}). World seeds from 10000 on, the same for "
            f"every model: {plan['world_episodes']} per model and world, {plan['condition_episodes']} per model and "
            f"shift condition; episodes end at success, collision or {plan['eval_time_limit_s']:g} s. "
            f"{len(steps.get('steps', {}))} steps, {hours:.1f} h of wall clock over "
            f"{steps.get('invocations', 0)} invocation(s) "
            f"(steps.json lists every command). {_demonstration_text(report['demonstrations'])}")


def _demonstration_text(demonstrations: dict) -> str:
    """What the trainings of each teacher learned from: the same demonstrations, or not."""
    texts = []
    for teacher, found in demonstrations.items():
        same = ("all on the same demonstrations (each bag's frames and outcome alike)"
                if found["demonstration_sets"] == 1 else
                f"on {found['demonstration_sets']} different sets of demonstrations (collected again on a machine "
                "that flew them differently)")
        texts.append(f"{teacher} teacher: {found['trainings']} training(s), {same}")
    return ("Demonstrations: " + "; ".join(texts) + ".") if texts else ""


def _progress_lines(progress: dict) -> list[str]:
    done, of = progress["complete"], progress["of"]
    lines = ["## Progress", ""]
    if done < of:
        lines += [f"**A partial study: {done} of {of} units complete.** Every table below is of the episodes flown "
                  "so far; a group with fewer trainings than the plan's has wider intervals, and the paired tests "
                  "pair only the trainings both groups have. The same command continues it.", ""]
        lines += [_left_text(progress["left"]), ""]
    else:
        lines += [f"All {of} units complete.", ""]
    runs = [run for run in RUNS if run in progress["units"][0]["evaluations"]]
    lines += ["| unit | trained | " + " | ".join(runs) + " |", "|---|---|" + "---|" * len(runs)]
    for unit in progress["units"]:
        trained = {None: "-", True: "yes", False: "no"}[unit["trained"]]
        cells = [("complete" if e["complete"] else f"{e['episodes']} of {e['of']} flown" if e["episodes"] else "-")
                 for e in (unit["evaluations"][run] for run in runs)]
        lines.append(f"| {unit['unit']} | {trained} | " + " | ".join(cells) + " |")
    return lines + [""]


def _left_text(left: dict) -> str:
    text = f"Left: {left['trainings']} training(s) and {left['episodes']} evaluation episodes"
    if left["core_s"] is None:
        return text + "."
    pace = []
    if left["training_s"] is not None:
        pace.append(f"a training {left['training_s'] / 60:.0f} min, the median of the record's")
    if left["episode_s"] is not None:
        pace.append(f"an episode {left['episode_s']:.1f} s, the mean of those flown")
    return (f"{text}: about {left['core_s'] / 3600:.1f} h of one core at the pace of the machines that made the "
            f"record ({'; '.join(pace)}), half that with `--workers 2` on two cores, plus collecting the "
            "demonstrations on a machine that has none.")


def _grid(rows, groups, cells, title, retention: bool = False) -> list[str]:
    """One row per (world, condition) of `cells`, named by `title`, one column per group."""
    by = {(r["group"], r["world"], r["condition"]): r for r in rows}
    lines = ["| " + " | ".join(["", *groups]) + " |", "|---|" + "---|" * len(groups)]
    for world, condition in cells:
        texts = []
        for group in groups:
            r = by.get((group, world, condition))
            if r is None:
                texts.append("-")
                continue
            text = rate_with_interval(r["success_rate"], r["success_ci"])
            if r["trainings"] > 1:
                text += f" ({percent(r['training_mean'])}, {percent(r['training_min'])}-{percent(r['training_max'])})"
            if retention and r.get("retention") is not None:
                text += f", kept {percent(r['retention'])}"
            texts.append(text)
        lines.append("| " + " | ".join([title(world, condition), *texts]) + " |")
    return lines


def _met(value) -> str:
    return "" if value is None else ("(met)" if value else "(not met)")


# -- plots ---------------------------------------------------------------------------------------

def _color(report: dict, group: str) -> str:
    """One colour per group in every plot, whichever groups have been flown so far."""
    return f"C{(report['groups'] + ['expert']).index(group)}"


def _plot_title(progress: dict) -> str:
    if progress["complete"] < progress["of"]:
        return f"partial study: {progress['complete']} of {progress['of']} units complete"
    return f"all {progress['of']} units complete"


def _plot_worlds(report: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    worlds = report["plan"]["worlds"]
    by = {(r["group"], r["world"]): r for r in report["rows"] if r["condition"] == "none"}
    groups = [g for g in report["groups"] + ["expert"] if any((g, world) in by for world in worlds)]  # flown ones
    fig, ax = plt.subplots(figsize=(1.6 * len(worlds) + 2, 4), dpi=100)
    width = 0.8 / len(groups)
    for k, group in enumerate(groups):
        xs, ys, lo, hi = [], [], [], []
        for i, world in enumerate(worlds):
            r = by.get((group, world))
            if r:
                xs.append(i + (k - len(groups) / 2 + 0.5) * width)
                ys.append(r["success_rate"])
                lo.append(r["success_rate"] - r["success_ci"][0])
                hi.append(r["success_ci"][1] - r["success_rate"])
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=group, color=_color(report, group))
    ax.set_xticks(range(len(worlds)), worlds)
    ax.set_ylabel("success (pooled, 95% CI)")
    ax.set_title(_plot_title(report["progress"]), fontsize=9)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, ncol=3)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_severity(report: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    by = {(r["group"], r["condition"]): r for r in report["rows"] if r["world"] == "forest"}
    fig, axes = plt.subplots(2, math.ceil(len(SEVERITY_SHIFTS) / 2), figsize=(11, 6), dpi=100, squeeze=False)
    for axis, shift in zip(axes.flat, SEVERITY_SHIFTS, strict=False):
        for group in report["groups"]:
            points = []
            for severity, condition in [(0.0, "none"), *[(s, f"{shift}:{s:g}") for s in (0.25, 0.5, 1.0)]]:
                r = by.get((group, condition if severity != 0.5 else shift))
                if r:
                    points.append((severity, r["training_mean"], r["training_min"], r["training_max"]))
            if points:
                xs, mean, low, high = zip(*points, strict=True)
                line, = axis.plot(xs, mean, marker="o", label=group, color=_color(report, group))
                axis.fill_between(xs, low, high, color=line.get_color(), alpha=0.15)
        axis.set_title(shift)
        axis.set_ylim(0, 1.05)
        axis.set_xlabel("severity")
        axis.grid(alpha=0.3)
    axes.flat[0].set_ylabel("success (mean over trainings, range shaded)")
    fig.suptitle(_plot_title(report["progress"]), fontsize=9)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
