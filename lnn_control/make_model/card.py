"""The model card (--out/cfc_forest.md) and the out-of-distribution study (--out/ood_study.md);
a rover's are --out/cfc_rover_forest.md and --out/rover_ood_study.md.

Both are made from this run's files only (`MadeRun.read`): --work/steps.json (the commands,
their wall seconds, the machine, the recipe), the evaluations' results.json and episode logs
under --work/eval, and the shipped checkpoints' headers (architecture, training, provenance).
What was tried while choosing the recipe, and what it gave, comes from other trainings than
this run's: the card links to models/TRIALS.md for it and repeats none of its figures.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from lnn_control.eval.episode_log import EpisodeLog
from lnn_control.eval.results import RESULTS_JSON
from lnn_control.eval.stats import mcnemar_exact, wilson_interval
from lnn_control.eval.tables import percent, rate_with_interval
from lnn_control.make_model.pipeline import (
    SHIFT_SUITES,
    SHIPPED_EVALUATIONS,
    SHIPPED_PLOTS,
    STEPS,
    eval_dir,
    eval_step,
    model_name,
    shipped_checkpoint,
    shipped_name,
)
from lnn_control.make_model.recipe import Recipe
from lnn_control.paths import share_path
from lnn_control.policy import read_header
from lnn_control.train.behavior_cloning import artifact_paths
from lnn_control.train.provenance import bag_fact

STUDY = "ood_study.md"
TRIALS = ("models", "TRIALS.md")  # the history of the recipe's trials, in the share folder
#: Least success rate the shipped CfC must reach, per vehicle and world (the rover has none yet).
BARS = {"drone": {"forest": 0.90, "urban": 0.60}}
REFERENCE = "cfc_forest"  # the drone's policy the others are compared with (a run's: `MadeRun.reference`)


@dataclass(frozen=True)
class MadeRun:
    """The files of one `make model` run that its card is made from."""

    work: Path                # --work
    out: Path                 # --out
    steps: dict               # --work/steps.json
    headers: dict[str, dict]  # kind -> the header of its shipped checkpoint
    results: dict[str, dict]  # evaluation run of the latest invocation -> its results.json

    @classmethod
    def read(cls, work: Path, out: Path) -> MadeRun:
        steps = json.loads((work / STEPS).read_text())
        results = {run: json.loads((eval_dir(work, run) / RESULTS_JSON).read_text())
                   for run in SHIPPED_EVALUATIONS if eval_step(run) in steps["latest"]["steps"]}
        recipe = Recipe(**steps["latest"]["recipe"])
        headers = {kind: read_header(shipped_checkpoint(out, kind, recipe)) for kind in recipe.kinds}
        return cls(work, out, steps, headers, results)

    @property
    def recipe(self) -> Recipe:
        return Recipe(**self.steps["latest"]["recipe"])

    @property
    def reference(self) -> str:
        """The CfC's label in the evaluations: the policy the others are compared with."""
        return model_name("cfc", self.recipe)

    def shipped(self, name: str) -> str:
        """A shipped file's name (SHIPPED_PLOTS, SHIPPED_EVALUATIONS) with the recipe's prefix."""
        return shipped_name(name, self.recipe)

    def study_rows(self) -> list[dict]:
        """The result rows of the study: forest and urban without shift, then the suite's shifts."""
        suite = self.results.get("suite", {"rows": []})["rows"]
        return self.results["bars"]["rows"] + [r for r in suite if r["condition"] != "none"]

    def shown(self, kind: str) -> Path:
        """The shipped checkpoint of `kind`, relative to the folder holding --out when inside it."""
        path = shipped_checkpoint(self.out, kind, self.recipe)
        return path.relative_to(self.out.parent) if path.is_relative_to(self.out.parent) else path


def write_cards(run: MadeRun) -> list[Path]:
    """Write the model card and the study table into --out; their paths."""
    card, study = run.out / f"{run.reference}.md", run.out / run.shipped(STUDY)
    card.write_text(model_card(run))
    study.write_text(ood_table(run.study_rows()) + "\n")
    return [card, study]


def model_card(run: MadeRun) -> str:
    """The model card's markdown."""
    sections = (_summary, _how_it_was_made, _data, _sizes, _training_curve, _evaluation, _second_draw, _limits)
    return "\n".join(line for section in sections for line in section(run)) + "\n"


# -- the sections ----------------------------------------------------------------------------------


def _summary(run: MadeRun) -> list[str]:
    spec = run.headers["cfc"]["spec"]
    bags = run.headers["cfc"]["provenance"]["bags"]
    worlds = sorted({bag_fact(b, "world") for b in bags})
    shifts = sorted({shift for b in bags for shift in bag_fact(b, "shifts") or []})
    vehicle = run.recipe.vehicle
    return [f"# {run.reference} — the shipped {'' if vehicle == 'drone' else vehicle + ' '}CfC policy", "",
            f"Camera (RGB {spec['image_width']}x{spec['image_height']}) + IMU + elapsed time -> heading-frame "
            f"velocity command [vx, vy, vz, yaw_rate]"
            + ("" if vehicle == "drone" else f" (a {vehicle} drives vx and yaw_rate only)")
            + f", a closed-form continuous-time network (CfC) with {spec['wiring'].upper()} wiring, trained by "
            "imitation of the privileged expert in the "
            f"{' and '.join(worlds)} world only ("
            + ("default season, no shifts" if not shifts else "shifts " + ", ".join(shifts)) + "). Load with "
            f"`lnn_control.policy.load_policy(\"{run.shown('cfc')}\")`.", ""]


def _how_it_was_made(run: MadeRun) -> list[str]:
    latest, invocations = run.steps["latest"], run.steps["invocations"]
    lines = ["## How it was made", "",
             f"Made by `{latest['command']}` ("
             + ("`make model` runs it without arguments" if run.recipe.vehicle == "drone"
                else "`make rover` runs it with the Makefile's arguments") + ").", "",
             f"Ran on {latest['machine']} with {latest['cpu_count']} CPU core(s) ({latest['workers']} worker "
             f"processes), {run.steps['wall_s'] / 60:.0f} min wall clock in all"
             + (f" over {invocations} invocations (later ones kept or resumed the finished steps)"
                if invocations > 1 else "") + ". The commands it ran:", "",
             "| step | command | wall (s) |",
             "|---|---|---:|"]
    for name in latest["steps"]:
        step = run.steps["steps"][name]
        lines.append(f"| {name} | `{step['command']}` | {step['seconds']:.0f} |")
    recipe = run.recipe
    return lines + ["", f"Training config: `{latest['train_config']}` (a copy of `{recipe.train_config}`"
                        f"{' with the --quick reductions' if recipe.reduced else ''}), embedded in the checkpoint "
                        "header too.", ""]


def _data(run: MadeRun) -> list[str]:
    header = run.headers["cfc"]
    config = (header["training"] or {}).get("config") or {}
    bags = header["provenance"]["bags"]
    demos = [b for b in bags if bag_fact(b, "source") == "expert"]
    rollouts = [b for b in bags if bag_fact(b, "source") == "dagger"]
    rates = " or ".join(f"{hz:g}" for hz in sorted({bag_fact(b, "control_hz") for b in demos}))
    lines = ["## Data", "",
             f"- Demonstrations: {len(demos)} expert episodes in "
             f"{', '.join(f'`{w}`' for w in sorted({bag_fact(b, 'world') for b in demos}))} (world seeds "
             f"{seed_ranges(bag_fact(b, 'seed') for b in demos)}), {sum(b['frames'] for b in demos)} frames at "
             f"{rates} Hz; the expert reached the target in {_successes(demos)} of them."]
    if rollouts:
        lines.append(
            f"- DAgger: {header['provenance'].get('dagger_rounds')} round(s), {len(rollouts)} learner rollouts in "
            f"all (world seeds from {min(bag_fact(b, 'seed') for b in rollouts)} on; with probability "
            f"{config.get('dagger', {}).get('expert_mix')} per step the expert's command was flown instead of the "
            f"learner's), every frame labelled with the expert's command; {sum(b['frames'] for b in rollouts)} "
            f"frames; {_successes(rollouts)} of the rollouts reached the target.")
    else:
        lines.append("- DAgger: none (behaviour cloning only).")
    lines.append(f"- Validation: {config.get('data', {}).get('val_fraction')} of the bags held out whole "
                 "(seeded split).")
    trained_worlds = {bag_fact(b, "world") for b in bags}
    unseen = sorted({r["world"] for res in run.results.values() for r in res["rows"]} - trained_worlds)
    evaluated = {s for res in run.results.values() for s in res["method"]["seeds"]}
    also_trained = evaluated & {bag_fact(b, "seed") for b in bags}
    line = ("- Never in training: " + "".join(f"the {w} world, " for w in unseen)
            + ("every shift, " if not any(bag_fact(b, "shifts") for b in bags) else "")
            + f"and the evaluation seeds ({seed_ranges(evaluated - also_trained)}).")
    if also_trained:
        line += f" Evaluation seeds that training flew too: {seed_ranges(also_trained)}."
    return lines + [line, ""]


def _sizes(run: MadeRun) -> list[str]:
    lines = ["## Sizes", "",
             "| model | file | core + head parameters | all parameters | file size |",
             "|---|---|---:|---:|---:|"]
    for kind, header in run.headers.items():
        spec = header["spec"]
        size = f"NCP, {spec['units']} units ({spec['motor_neurons']} motor)" if kind == "cfc" \
            else f"hidden {spec['hidden_size']}"
        lines.append(f"| {kind} ({size}) | `{run.shown(kind)}` | {header['core_parameter_count']} "
                     f"| {header['parameter_count']} "
                     f"| {shipped_checkpoint(run.out, kind, run.recipe).stat().st_size / 1024:.0f} KiB |")
    spec, cfc_core = run.headers["cfc"]["spec"], run.headers["cfc"]["core_parameter_count"]
    spread = max(abs(h["core_parameter_count"] - cfc_core) / cfc_core for h in run.headers.values())
    return lines + ["", f"Every model has the same image encoder (strided convolutions -> {spec['image_features']} "
                        f"features) and IMU encoder (-> {spec['imu_features']} features); the baselines' hidden sizes "
                        f"are chosen so their core + head match the CfC's (here within {spread:.1%}).", ""]


def _training_curve(run: MadeRun) -> list[str]:
    training = run.headers["cfc"]["training"] or {}
    _, curve = artifact_paths(shipped_checkpoint(run.out, "cfc", run.recipe))
    return ["## Training curve", "",
            f"![CfC training and validation loss]({curve.name})", "",
            f"Best checkpoint: epoch {training.get('best_epoch')} ({training.get('best_loss_is', 'validation')} loss "
            f"{training.get('best_loss', float('nan')):.5f}, MSE of command / limits). Stages after the first are "
            "DAgger rounds (the aggregate grows, so validation loss is not comparable across stages).", ""]


def _evaluation(run: MadeRun) -> list[str]:
    bars = run.results["bars"]
    limit = bars["method"]["time_limit_s"]
    expert = [f"{r['world']} {r['mean_time_to_target_s']:.1f} s" for r in bars["rows"]
              if r["policy"] == "expert" and r["condition"] == "none" and r["mean_time_to_target_s"] is not None]
    lines = ["## Evaluation (closed loop, seeds never used in training)", "",
             "Episodes end at success, collision or "
             + (f"{limit:g} s of simulated time" if limit is not None else "the world's time limit")
             + (f" (the expert's mean time to the target: {', '.join(expert)})" if expert else "")
             + ". Success rates with 95% Wilson intervals; every policy flies the same seeds.", "",
             bar_verdicts(bars, run), "",
             outcome_table(bars["rows"]), ""]
    suite = run.results.get("suite")
    if suite:
        severities = sorted({s for r in suite["rows"] for s in r["shifts"].values()})
        lines.append(f"Success by world and condition (the out-of-distribution study; forest rows other than `none` "
                     f"are the `{SHIFT_SUITES[run.recipe.vehicle]}` shift suite at severity "
                     f"{' / '.join(f'{s:g}' for s in severities)}):")
    else:
        lines.append("Success by world and condition (the out-of-distribution study):")
    lines += ["", ood_table(run.study_rows()), "",
              f"![success by world and condition]({run.shipped(SHIPPED_PLOTS['bars'])})", ""]
    if suite:
        lines += [f"![success under the {SHIFT_SUITES[run.recipe.vehicle]} shift suite, forest]"
                  f"({run.shipped(SHIPPED_PLOTS['suite'])})", ""]
    return lines


def _second_draw(run: MadeRun) -> list[str]:
    second = run.results["second_draw"]
    drawn = second["method"]["seeds"]
    worlds = " and ".join(dict.fromkeys(r["world"] for r in second["rows"]))
    return [f"## A second draw of seeds ({min(drawn)} on)", "",
            f"The same checkpoints also flew {worlds} on seeds {seed_ranges(drawn)} "
            f"(`eval/{run.shipped(SHIPPED_EVALUATIONS['second_draw'])}.md`), on which no choice of the recipe was made "
            f"([models/TRIALS.md]({_trials_link(run)}) says which seeds the trials used):", "",
            ood_table(second["rows"]), "",
            "Both draws together (McNemar p of each model against the CfC on the shared seeds):", "",
            pooled_table(pooled_outcomes([eval_dir(run.work, r) for r in ("bars", "second_draw")]),
                         run.results["bars"]["rows"], run.reference), ""]


def _limits(run: MadeRun) -> list[str]:
    tables = [f"`eval/{run.shipped(SHIPPED_EVALUATIONS[r])}.md`" for r in ("bars", "suite") if r in run.results]
    return ["## What it does not do (measured while making it)", "",
            failure_summary(run.results["bars"], run.reference), "",
            "## What the recipe rests on", "",
            f"What was tried while choosing this recipe, on which seeds, what it gave and the commands to redo it: "
            f"[models/TRIALS.md]({_trials_link(run)}). Those figures come from other trainings than this one, so "
            "this card repeats none of them.", "",
            "Full tables with collision/timeout rates, path length, smoothness and paired tests (McNemar on shared "
            f"seeds): {' and '.join(tables)} next to this card (their .json: every row with its seeds)."]


def _trials_link(run: MadeRun) -> str:
    return Path(os.path.relpath(share_path(*TRIALS), run.out)).as_posix()


def _successes(bags: list[dict]) -> int:
    return sum(bool((bag_fact(b, "outcome") or {}).get("success")) for b in bags)


# -- the tables ----------------------------------------------------------------------------------


def bar_rows(bars: dict, run: MadeRun):
    """(world, required success rate, the CfC's row without shift) for each world with a bar."""
    for world, required in BARS.get(run.recipe.vehicle, {}).items():
        row = next((r for r in bars["rows"] if r["policy"] == run.reference and r["world"] == world
                    and r["condition"] == "none"), None)
        if row is not None and row["episodes"]:
            yield world, required, row


def bar_verdicts(bars: dict, run: MadeRun) -> str:
    """One line per bar: the CfC's success on forest and urban against the required rate."""
    return "\n".join(f"- {world}: {percent(row['success_rate'])} success "
                     f"[{percent(row['success_ci'][0])}, {percent(row['success_ci'][1])}] over {row['episodes']} "
                     f"episodes — bar {percent(required)}: {'met' if row['success_rate'] >= required else 'NOT met'}"
                     for world, required, row in bar_rows(bars, run))


def failure_summary(bars: dict, reference: str) -> str:
    """How the episodes of policy `reference` that did not reach the target ended, per world
    without a shift (whether or not the world has a bar: a rover has none)."""
    return "\n".join(f"- {r['world']}: {percent(r['collision_rate'])} of the episodes end in a collision, "
                     f"{percent(r['timeout_rate'])} in a timeout (the target passed or lost and not found again)."
                     for r in bars["rows"] if r["policy"] == reference and r["condition"] == "none" and r["episodes"])


def outcome_table(rows: list[dict]) -> str:
    """Success, collision and timeout rates and time to target per policy x world x condition."""
    lines = ["| policy | world | condition | episodes | success [95% CI] | collision | timeout | time to target (s) |",
             "|---|---|---|---:|---|---:|---:|---:|"]
    for r in rows:
        if not r["episodes"]:
            continue
        time_s = "-" if r["mean_time_to_target_s"] is None else f"{r['mean_time_to_target_s']:.1f}"
        lines.append(f"| {r['policy']} | {r['world']} | {r['condition']} | {r['episodes']} "
                     f"| {rate_with_interval(r['success_rate'], r['success_ci'])} "
                     f"| {percent(r['collision_rate'])} | {percent(r['timeout_rate'])} | {time_s} |")
    return "\n".join(lines)


def ood_table(rows: list[dict]) -> str:
    """Success [95% Wilson interval] per world x condition (rows) and policy (columns)."""
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    cells = {(r["world"], r["condition"], r["policy"]): r for r in rows}
    keys = list(dict.fromkeys((r["world"], r["condition"]) for r in rows))
    lines = ["| world | condition | episodes | " + " | ".join(policies) + " |",
             "|---|---|---:|" + "---|" * len(policies)]
    for world, condition in keys:
        present = [cells.get((world, condition, p)) for p in policies]
        n = max((c["episodes"] for c in present if c), default=0)
        lines.append(f"| {world} | {condition} | {n} | " + " | ".join(
            "-" if c is None or not c["episodes"] else rate_with_interval(c["success_rate"], c["success_ci"])
            for c in present) + " |")
    return "\n".join(lines)


def pooled_outcomes(eval_dirs: list[Path]) -> dict[tuple[str, str], dict[int, bool]]:
    """(world, policy) -> {seed: success} over the no-shift episodes of these `lnn-control eval
    --out` folders (read through their episode logs, which skip a line torn by a crash)."""
    outcomes: dict[tuple[str, str], dict[int, bool]] = {}
    for folder in eval_dirs:
        for episode in EpisodeLog(folder).read():
            if episode.condition == "none":
                outcomes.setdefault((episode.world, episode.policy), {})[episode.seed] = episode.success
    return outcomes


def pooled_table(outcomes: dict[tuple[str, str], dict[int, bool]], order: list[dict],
                 reference: str = REFERENCE) -> str:
    """Success [95% Wilson] per world (rows) and policy (columns) over all pooled episodes, with
    the exact McNemar p-value of each policy against `reference` on the seeds both flew; worlds
    and policies in the order of the result rows `order` (episode logs are in finishing order)."""
    worlds = [w for w in dict.fromkeys(r["world"] for r in order) if any(w == key[0] for key in outcomes)]
    policies = [p for p in dict.fromkeys(r["policy"] for r in order) if any(p == key[1] for key in outcomes)]
    lines = ["| world | episodes | " + " | ".join(policies) + " |", "|---|---:|" + "---|" * len(policies)]
    for world in worlds:
        base = outcomes.get((world, reference), {})
        cells = []
        for policy in policies:
            runs = outcomes.get((world, policy), {})
            cell = rate_with_interval(sum(runs.values()) / max(len(runs), 1),
                                      wilson_interval(sum(runs.values()), len(runs)))
            shared = sorted(set(runs) & set(base))
            if policy != reference and shared:
                p = mcnemar_exact([base[s] for s in shared], [runs[s] for s in shared]).p_value
                cell += f", p = {p:.2g}"
            cells.append(cell)
        n = max((len(outcomes.get((world, p), {})) for p in policies), default=0)
        lines.append(f"| {world} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def seed_ranges(seeds) -> str:
    """World seeds as their runs of consecutive numbers: [0, 1, 2, 7] -> '0..2 and 7'."""
    ordered = sorted(set(seeds))
    runs: list[list[int]] = []
    for seed in ordered:
        if runs and seed == runs[-1][-1] + 1:
            runs[-1].append(seed)
        else:
            runs.append([seed])
    spans = [f"{r[0]}..{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs]
    return ", ".join(spans[:-1]) + " and " + spans[-1] if len(spans) > 1 else "".join(spans)
