"""`make model`: the shipped CfC policy and its baselines, made from nothing.

    python -m lnn_control.train.make_model [--quick] [--out models] [--work runs/make_model] [--workers 2]

Every step is an ordinary `lnn-control` command (printed, logged under --work, and written
into the model card), so anyone can rerun any part by hand:

1. collect: the privileged expert flies `episodes` forest episodes, default season, no shift
   (world seeds 0..episodes-1), one rosbag2 bag each;
2. train: the CfC (NCP wiring) by behaviour cloning on those bags, then `dagger_rounds`
   DAgger rounds (config/model_recipe.yaml); LSTM, GRU and MLP baselines sized to the CfC's
   parameter count, trained on the same bags with the same recipe and the same number of
   DAgger rounds (each labels its own rollouts, on the same rollout seeds);
3. eval: CfC, LSTM, GRU, MLP and the expert on forest and urban (`eval_episodes` each), and
   under the standard shift suite in the forest (`suite_episodes` per condition), on world
   seeds from 10000 on, which training never flies (collect uses 0.., DAgger 1000000..);
   then forest and urban again on a second draw of seeds from 20000 on, which no choice of
   the recipe ever looked at, pooled with the first in the card;
4. ship: `--out`/cfc_forest.pt, `--out`/baselines/{lstm,gru,mlp}_forest.pt, the model card
   `--out`/cfc_forest.md with the training curve and the evaluation, and the
   out-of-distribution study table and plot (`--out`/ood_study.md, ood_study.png).

Steps that finished are not redone when the command runs again with the same --work
(collect and eval resume; a trained checkpoint is kept), so an interrupted run continues.
`--work`/steps.json keeps every step's command and wall time across invocations, so the card
still says what each step cost when a later invocation kept or resumed it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import yaml

from lnn_control import seeds
from lnn_control.paths import share_path

KINDS = ("cfc", "lstm", "gru", "mlp")
EVAL_FIRST_SEED = seeds.EVALUATION
SECOND_DRAW_FIRST_SEED = seeds.SECOND_DRAW
BARS = {"forest": 0.90, "urban": 0.60}  # least success rate the shipped CfC must reach, per world


@dataclass(frozen=True)
class Recipe:
    """How much of everything: demonstrations, DAgger rounds, evaluation episodes."""

    episodes: int = 300          # expert demonstrations in the forest (world seeds 0..episodes-1)
    dagger_rounds: int = 3
    eval_episodes: int = 100     # per policy x world (forest, urban), no shift: the bars ask for >= 50
    suite_episodes: int = 10     # per policy x condition of the standard suite, forest
    eval_time_limit_s: float = 40.0  # simulated s per evaluation episode (the expert needs < 30)
    train_seed: int = 0
    train_config: str = "config/model_recipe.yaml"
    epochs: int | None = None     # None: the training config's optim.epochs
    dagger_episodes: int | None = None  # None: the config's dagger.episodes_per_round
    dagger_epochs: int | None = None    # None: the config's dagger.epochs_per_round


QUICK = Recipe(episodes=4, dagger_rounds=1, eval_episodes=2, suite_episodes=1, eval_time_limit_s=5.0, epochs=1,
               dagger_episodes=1, dagger_epochs=1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lnn_control.train.make_model",
        description="Collect forest demonstrations with the expert, train the CfC policy (NCP, DAgger) and "
                    "LSTM/GRU/MLP baselines of the same size the same way, evaluate them all in closed loop "
                    "(forest, urban, standard shift suite) and write the models, the model card and the "
                    "out-of-distribution study.")
    parser.add_argument("--out", default=None, help="where the models and cards go (default: the package's models/)")
    parser.add_argument("--work", default="runs/make_model", help="bags, logs, checkpoints and evaluations")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="parallel processes for collection, training and evaluation")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in a few minutes: tiny data, one epoch, a few episodes (not a usable model)")
    defaults = Recipe()
    parser.add_argument("--episodes", type=int, default=None,
                        help=f"expert demonstrations (default {defaults.episodes})")
    parser.add_argument("--dagger", type=int, default=None, help=f"DAgger rounds (default {defaults.dagger_rounds})")
    parser.add_argument("--eval-episodes", type=int, default=None,
                        help=f"episodes per policy in forest and urban (default {defaults.eval_episodes})")
    parser.add_argument("--suite-episodes", type=int, default=None,
                        help=f"episodes per policy and shift condition (default {defaults.suite_episodes}; "
                             "0 skips the suite)")
    parser.add_argument("--config", default=None, help=f"training config (default {defaults.train_config})")
    parser.add_argument("--skip-eval", action="store_true", help="stop after training (no evaluation, no card)")
    return parser


def recipe_from_args(args) -> Recipe:
    recipe = QUICK if args.quick else Recipe()
    changes = {"episodes": args.episodes, "dagger_rounds": args.dagger, "eval_episodes": args.eval_episodes,
               "suite_episodes": args.suite_episodes, "train_config": args.config}
    recipe = replace(recipe, **{k: v for k, v in changes.items() if v is not None})
    for name in ("episodes", "eval_episodes"):
        if getattr(recipe, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(recipe, name)}")
    for name in ("dagger_rounds", "suite_episodes"):
        if getattr(recipe, name) < 0:
            flag = name.replace("_rounds", "").replace("_", "-")
            raise ValueError(f"--{flag} must be 0 or more, got {getattr(recipe, name)}")
    return recipe


class Pipeline:
    """The steps of `make model`, each an `lnn-control` command run as a child process."""

    def __init__(self, recipe: Recipe, work: Path, out: Path, workers: int, argv: list[str]):
        self.recipe = recipe
        self.work = work
        self.out = out
        self.workers = workers
        self.argv = argv
        self.logs = work / "logs"
        self.steps: list[dict] = []  # {"name", "command", "seconds", "log"} of every step of this make
        self.started = time.perf_counter()
        record = work / "steps.json"
        earlier = json.loads(record.read_text()) if record.is_file() else {}
        self.step_records: dict[str, dict] = earlier.get("steps", {})  # by name, of every invocation
        self.earlier_wall_s: float = earlier.get("wall_s", 0.0)
        self.invocations: int = earlier.get("invocations", 0) + 1
        self._record_lock = threading.Lock()

    # -- running commands --------------------------------------------------------------------

    def lnn_control(self, name: str, args: list[str], resumes: bool = False) -> dict:
        """Run `lnn-control ARGS` (one torch thread per process), its output into logs/NAME.log;
        `resumes`: it continues the work of an earlier invocation, whose seconds count too."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        command = "lnn-control " + shlex.join(args)
        print(f"[make model] {name}: {command}  (log {log})", flush=True)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        started = time.perf_counter()
        with log.open("w") as stream:
            done = subprocess.run([sys.executable, "-m", "lnn_control.cli", *args], stdout=stream,
                                  stderr=subprocess.STDOUT, env=env)
        seconds = time.perf_counter() - started
        step = {"name": name, "command": command, "seconds": round(seconds, 1), "log": str(log)}
        earlier = self.step_records.get(name)
        if resumes and earlier:
            step["seconds"] = round(earlier["seconds"] + seconds, 1)
        self.record(step)
        if done.returncode != 0:
            tail = log.read_text().strip().splitlines()[-5:]
            raise RuntimeError(f"{name} failed (exit {done.returncode}, {seconds:.0f} s); the end of {log}:\n"
                               + "\n".join(tail))
        print(f"[make model] {name}: done in {seconds:.0f} s", flush=True)
        return step

    def record(self, step: dict) -> None:
        """Add `step` to this make's steps and to --work/steps.json."""
        with self._record_lock:  # trainings finish in threads of their own
            self.steps.append(step)
            self.step_records[step["name"]] = step
            self.work.mkdir(parents=True, exist_ok=True)
            (self.work / "steps.json").write_text(json.dumps(
                {"steps": self.step_records, "wall_s": round(self.wall_s(), 1), "invocations": self.invocations},
                indent=1))

    def wall_s(self) -> float:
        """Wall-clock seconds of every invocation with this --work so far."""
        return self.earlier_wall_s + time.perf_counter() - self.started

    # -- steps ---------------------------------------------------------------------------------

    def train_config(self) -> Path:
        """The training config used for every model: the recipe's, with --quick's reductions."""
        source = Path(self.recipe.train_config)
        if not source.is_absolute() and not source.is_file():
            source = share_path(*source.parts)
        from lnn_control.train.config import config_from_dict, load_config
        load_config(source)  # a missing, unreadable or invalid file: an error naming it, before anything runs
        values = yaml.safe_load(source.read_text()) or {}
        dagger = dict(values.get("dagger") or {})
        if self.recipe.dagger_episodes is not None:
            dagger["episodes_per_round"] = self.recipe.dagger_episodes
        if self.recipe.dagger_epochs is not None:
            dagger["epochs_per_round"] = self.recipe.dagger_epochs
        if dagger:
            values["dagger"] = dagger
        values["seed"] = self.recipe.train_seed
        config_from_dict(values, str(source))  # fail here, naming the recipe file, not in four trainings
        path = self.work / "train_config.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# made by make_model from {source}\n" + yaml.safe_dump(values, sort_keys=False))
        return path

    def collect(self) -> Path:
        bags = self.work / "bags" / "forest"
        resumes = bags.is_dir() and any(bags.iterdir())
        self.lnn_control("collect", ["collect", "--world", "forest", "--episodes", str(self.recipe.episodes),
                                     "--out", str(bags), "--workers", str(self.workers), "--seed", "0"],
                         resumes=resumes)
        return bags

    def checkpoint(self, kind: str) -> Path:
        return self.work / "checkpoints" / f"{kind}_forest.pt"

    def train_all(self, bags: Path, config: Path) -> None:
        """Train every kind (up to `workers` at once); a checkpoint already finished is kept."""
        def train(kind: str):
            checkpoint = self.checkpoint(kind)
            done = checkpoint.with_suffix(".done")
            if done.is_file() and checkpoint.is_file():
                print(f"[make model] train_{kind}: kept {checkpoint} (finished earlier)", flush=True)
                if f"train_{kind}" in self.step_records:
                    self.record(self.step_records[f"train_{kind}"])
                return
            for leftover in (checkpoint, checkpoint.with_name(checkpoint.stem + ".dagger")):
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                elif leftover.exists():
                    leftover.unlink()
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            args = ["train", "--bags", str(bags), "--model", kind, "--out", str(checkpoint), "--config", str(config),
                    "--dagger", str(self.recipe.dagger_rounds)]
            if self.recipe.epochs is not None:
                args += ["--epochs", str(self.recipe.epochs)]
            self.lnn_control(f"train_{kind}", args)
            done.write_text("finished\n")

        with ThreadPoolExecutor(max(1, self.workers)) as pool:
            for future in [pool.submit(train, kind) for kind in KINDS]:
                future.result()

    def evaluate(self, name: str, worlds: list[str], episodes: int, suite: str | None,
                 first_seed: int = EVAL_FIRST_SEED) -> dict:
        out = self.work / "eval" / name
        args = ["eval", *[a for kind in KINDS for a in ("--policy", str(self.checkpoint(kind)))], "--policy", "expert"]
        args += [a for world in worlds for a in ("--world", world)]
        if suite:
            args += ["--suite", suite]
        args += ["--episodes", str(episodes), "--seed", str(first_seed), "--workers", str(self.workers),
                 "--time-limit", f"{self.recipe.eval_time_limit_s:g}", "--out", str(out)]
        if (out / "run.json").is_file():
            args.append("--resume")
        self.lnn_control(f"eval_{name}", args, resumes="--resume" in args)
        return json.loads((out / "results.json").read_text())

    # -- shipping --------------------------------------------------------------------------------

    def ship(self, bars: dict, second: dict, suite: dict | None, config: Path) -> list[Path]:
        """Copy the checkpoints and curves into --out, write the card and the OOD study."""
        from lnn_control.policy import load_checkpoint

        (self.out / "baselines").mkdir(parents=True, exist_ok=True)
        shipped = {}
        for kind in KINDS:
            target = self.out / (f"{kind}_forest.pt" if kind == "cfc" else f"baselines/{kind}_forest.pt")
            shutil.copyfile(self.checkpoint(kind), target)
            curve = self.checkpoint(kind).with_name(f"{kind}_forest.loss.png")
            if curve.is_file():
                shutil.copyfile(curve, target.with_name(f"{kind}_forest.loss.png"))
            shipped[kind] = target
        headers = {kind: load_checkpoint(path)[1] for kind, path in shipped.items()}
        rows = bars["rows"] + ([r for r in suite["rows"] if r["condition"] != "none"] if suite else [])
        shutil.copyfile(self.work / "eval" / "bars" / "results.png", self.out / "eval_forest_urban.png")
        if suite:
            shutil.copyfile(self.work / "eval" / "suite" / "results.png", self.out / "ood_study.png")
        (self.out / "eval").mkdir(exist_ok=True)
        for run, name in (("bars", "forest_urban"), ("second_draw", f"forest_urban_seeds{SECOND_DRAW_FIRST_SEED}"),
                          ("suite", "shift_suite")):
            if (self.work / "eval" / run / "results.md").is_file() and (run != "suite" or suite):
                for suffix in ("md", "json"):
                    shutil.copyfile(self.work / "eval" / run / f"results.{suffix}",
                                    self.out / "eval" / f"{name}.{suffix}")
        card = self.out / "cfc_forest.md"
        card.write_text(model_card(self, headers, shipped, rows, bars, second, suite, config))
        study = self.out / "ood_study.md"
        study.write_text(ood_table(rows))
        return [*shipped.values(), card, study]


# -- the model card ------------------------------------------------------------------------------


def model_card(pipeline: Pipeline, headers: dict, shipped: dict, rows: list[dict], bars: dict, second: dict,
               suite: dict | None, config: Path) -> str:
    recipe = pipeline.recipe
    cfc = headers["cfc"]
    training = cfc["training"] or {}
    provenance = cfc.get("provenance") or {}
    config_values = training.get("config") or {}
    demos = [b for b in provenance.get("bags", []) if bag_fact(b, "source") == "expert"]
    dagger = [b for b in provenance.get("bags", []) if bag_fact(b, "source") == "dagger"]
    expert_ok = sum(bool((bag_fact(b, "outcome") or {}).get("success")) for b in demos)
    learner_ok = sum(bool((bag_fact(b, "outcome") or {}).get("success")) for b in dagger)
    lines = [
        "# cfc_forest — the shipped CfC policy",
        "",
        "Camera (RGB 64x48) + IMU + elapsed time -> heading-frame velocity command [vx, vy, vz, yaw_rate], "
        "a closed-form continuous-time network (CfC) with NCP wiring, trained by imitation of the privileged "
        "expert in the forest world only (default season, no shifts). Load with "
        "`lnn_control.policy.load_policy(\"models/cfc_forest.pt\")`.",
        "",
        "## How it was made",
        "",
        f"Made by `{command_line(pipeline.argv)}` (`make model` runs it without arguments).", "",
        f"Ran on {platform.machine()} with {os.cpu_count()} CPU core(s) ({pipeline.workers} worker processes), "
        f"{pipeline.wall_s() / 60:.0f} min wall clock in all"
        + (f" over {pipeline.invocations} invocations (later ones kept or resumed the finished steps)"
           if pipeline.invocations > 1 else "") + ". The commands it ran:",
        "",
        "| step | command | wall (s) |",
        "|---|---|---:|",
    ]
    for step in pipeline.steps:
        lines.append(f"| {step['name']} | `{step['command']}` | {step['seconds']:.0f} |")
    lines += [
        "",
        f"Training config: `{config}` (a copy of `{recipe.train_config}`"
        f"{' with the --quick reductions' if recipe.epochs else ''}), embedded in the checkpoint header too.",
        "",
        "## Data",
        "",
        f"- Demonstrations: {len(demos)} expert episodes in `forest` (world seeds 0..{recipe.episodes - 1}), "
        f"{sum(b['frames'] for b in demos)} frames at 20 Hz; the expert reached the target in {expert_ok} of them.",
        f"- DAgger: {recipe.dagger_rounds} round(s), {len(dagger)} learner rollouts in all (world seeds from "
        f"1000000 on; with probability {config_values.get('dagger', {}).get('expert_mix')} per step the "
        f"expert's command was flown instead of the learner's), every frame labelled with the expert's command; "
        f"{sum(b['frames'] for b in dagger)} frames; {learner_ok} of the rollouts reached the target.",
        f"- Validation: {config_values.get('data', {}).get('val_fraction')} "
        "of the bags held out whole (seeded split).",
        "- Never in training: the urban world, every shift, and the evaluation seeds "
        f"({EVAL_FIRST_SEED}..{EVAL_FIRST_SEED + max(recipe.eval_episodes, recipe.suite_episodes) - 1} and "
        f"{SECOND_DRAW_FIRST_SEED}..{SECOND_DRAW_FIRST_SEED + recipe.eval_episodes - 1}).",
        "",
        "## Sizes",
        "",
        "| model | file | core + head parameters | all parameters | file size |",
        "|---|---|---:|---:|---:|",
    ]
    for kind, header in headers.items():
        spec = header["spec"]
        size = "NCP, %d units (%d motor)" % (spec["units"], spec["motor_neurons"]) if kind == "cfc" \
            else f"hidden {spec['hidden_size']}"
        shown = shipped[kind].relative_to(pipeline.out.parent) if shipped[kind].is_relative_to(pipeline.out.parent) \
            else shipped[kind]
        lines.append(f"| {kind} ({size}) | `{shown}` "
                     f"| {header['core_parameter_count']} | {header['parameter_count']} "
                     f"| {shipped[kind].stat().st_size / 1024:.0f} KiB |")
    lines += [
        "",
        "Every model has the same image encoder (4 strided convolutions -> 24 features) and IMU encoder; "
        "the baselines' hidden sizes are chosen so their core + head match the CfC's within 10%.",
        "",
        "## Training curve",
        "",
        f"![CfC training and validation loss](cfc_forest.loss.png)",
        "",
        f"Best checkpoint: epoch {training.get('best_epoch')} ({training.get('best_loss_is', 'validation')} loss "
        f"{training.get('best_loss', float('nan')):.5f}, MSE of command / limits). Stages after the first are "
        "DAgger rounds (the aggregate grows, so validation loss is not comparable across stages).",
        "",
        "## Evaluation (closed loop, seeds never used in training)",
        "",
        f"Episodes end at success, collision or {recipe.eval_time_limit_s:g} s of simulated time (the expert "
        "needs under 30 s). Success rates with 95% Wilson intervals; every policy flies the same seeds.",
        "",
        bar_verdicts(bars),
        "",
        outcome_table(bars["rows"]),
        "",
        "Success by world and condition (the out-of-distribution study; forest rows other than `none` are "
        "the standard shift suite at severity 0.5):",
        "",
        ood_table(rows),
        "",
        "![success by world and condition](eval_forest_urban.png)",
    ]
    if suite:
        lines += ["", "![success under the standard shift suite, forest](ood_study.png)"]
    draws = [pipeline.work / "eval" / run for run in ("bars", "second_draw")]
    lines += [
        "",
        f"## A second draw of seeds ({SECOND_DRAW_FIRST_SEED} on)",
        "",
        "Recipe changes were chosen on other seeds (10000-10049, 30000-30199), so the same checkpoints "
        f"also flew forest and urban on seeds {SECOND_DRAW_FIRST_SEED}-"
        f"{SECOND_DRAW_FIRST_SEED + recipe.eval_episodes - 1}, which no choice looked at "
        f"(`eval/forest_urban_seeds{SECOND_DRAW_FIRST_SEED}.md`):",
        "",
        ood_table(second["rows"]),
        "",
        "Both draws together (McNemar p of each model against the CfC on the shared seeds):",
        "",
        pooled_table(pooled_outcomes(draws), bars["rows"]),
    ]
    lines += ["", "## What it does not do (measured while making it)", "", failure_summary(bars), "",
              "What the recipe rests on (trials while making it, CfC, forest, closed loop on seeds 10000 on "
              "unless a line says otherwise):",
              "",
              "- The image encoder layer-normalises its projection before the tanh. Without it, training drove "
              "all 24 image features into tanh's flat tails (standard deviation 0 over frames): predictions did "
              "not change when the frames were shuffled, the policy flew on its IMU alone. With it, shuffling "
              "the frames drops the open-loop R^2 of vx from 0.70 to 0.06 and of yaw_rate from 0.84 to 0.06.",
              "- The expert keeps the target within 25 degrees of its nose. When it turned to its direction of "
              "motion instead, the target left the camera on detours; learners lost it (at 10-28 m) and flew "
              "on at full speed: most failures were such timeouts.",
              "- The target is 1.6 m across: at 0.8 m it covered under a pixel beyond ~20 m (seen in 28-53% of "
              "the frames 20-35 m away), so the first half of most flights was blind.",
              "- More demonstrations: with 100 of them cloning overfit after ~14 epochs (validation 0.0044); "
              "300 reached 0.0026. With the fixes above, 100 demonstrations + 3 DAgger rounds gave 70% "
              "[52%, 83%] over 30 forest episodes (0.8 m target).",
              "- Training windows of 128 frames (6.4 s, back-propagated in chunks of 32) instead of 32 (1.6 s), "
              "a slower final approach of the expert (0.5 m/s per metre, was 0.8) and 10% expert steps in the "
              "DAgger rollouts (was 25%), together: 82% [69%, 90%] -> 92% [81%, 97%] over 50 forest episodes "
              "on seeds 10000-10049, where these changes were chosen among trials (so that figure flatters them). "
              "Before, 5 of the 9 failures came within 1.3-3.8 m of the target and flew on past it; in a trial "
              "with boulders in the forest and short windows, the target was lost behind them at 7-23 m "
              "(the state had never been trained to hold it longer than 1.6 s).",
              "- DAgger rounds of 48 rollouts instead of 24 (3 rounds either way), chosen on 200 forest seeds "
              "30000-30199 that no evaluation here uses: the CfC reached 96% [93%, 98%] there against 86% "
              "[81%, 90%] with rounds of 24 (paired, McNemar p = 0.0002); 5 rounds of 24 gave 92% [87%, 95%]. "
              "In the city, 24% against 20% over 50 (no clear difference). With 24 per round the learner "
              "reached the target in 66 of its 72 rollouts, so few of its own mistakes were labelled (the likely "
              "reason).",
              "- The urban world keeps buildings and walls off the line of sight from the start to the target "
              "(`target.sight_clear_of` in sim_worlds/urban.yaml). Before, they hid the whole target from the "
              "start in 43 of 100 layouts (seeds 10000-10099): the CfC shipped before this one reached 1 of "
              "those 43 and 20 of the other 57 (its MLP 2 and 19, the expert all), so no camera policy could "
              "have met the 60% bar there. That CfC with the target in sight: 40% [31%, 50%] (was 21%). The city "
              "is easier to cross now: a privileged straight-line pilot reaches 77% of urban targets (seeds 0-99; "
              "42% in the forest; `python -m lnn_control.sim.expert_success`).",
              "- The forest's colours vary widely (`palette.jitter` 0.25 per channel in sim_worlds/forest.yaml, "
              "was 0.04; the target's colour never varies). With the target in sight, 42 of that CfC's 52 urban "
              "collisions were into buildings, 23 of them brick-red ones (one facade colour in four): it homed "
              "on anything red (with the forest's red sphere as the urban target it reached 31%, without the brick "
              "colour 46%). One CfC each, this recipe, paired on seeds 30000-30099 (no table here uses "
              "them): jitter 0.25 gave urban 57% [47%, 66%] against 37% [28%, 47%] with 0.04 (McNemar "
              "p = 0.0008) and, in the forest as it was (jitter 0.04), 92% against 96% (p = 0.34); jitter 0.12 gave "
              "urban 40%, forest 72% (one training each: the spread between trainings is large).",
              "- Tried for urban, not kept (before the sight-line change, so every urban figure in this line is "
              "lower): windows in grey (augment.greyscale 0.3) gave urban 30% but forest 66%; boulders 2.5-5 m "
              "wide in the forest (4 per world, short windows) gave urban 12%; with this recipe, three grey blocks "
              "3-7 m wide and 4-9 m high in every training forest gave urban 14% (24% without, same 50 seeds 30000 "
              "on) and forest 90% (98%). Flat faces seen in training did not teach the policy to go around "
              "buildings."]
    lines += ["", "Full tables with collision/timeout rates, path length, smoothness and paired tests (McNemar on "
              "shared seeds): `eval/forest_urban.md`" + (" and `eval/shift_suite.md`" if suite else "")
              + " next to this card (their .json: every row with its seeds)."]
    return "\n".join(lines) + "\n"


def bag_fact(bag: dict, name: str):
    """A fact of a training bag from a checkpoint's provenance (`lnn_control.NAME`, JSON text)."""
    value = (bag.get("facts") or {}).get(f"lnn_control.{name}")
    try:
        return json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return value


def command_line(argv: list[str]) -> str:
    return " ".join(["python -m lnn_control.train.make_model", *map(shlex.quote, argv)])


def bar_rows(bars: dict):
    """(world, required success rate, the CfC's row without shift) for each world with a bar."""
    for world, required in BARS.items():
        row = next((r for r in bars["rows"] if r["policy"] == "cfc_forest" and r["world"] == world
                    and r["condition"] == "none"), None)
        if row is not None and row["episodes"]:
            yield world, required, row


def bar_verdicts(bars: dict) -> str:
    """One line per bar: the CfC's success on forest and urban against the required rate."""
    return "\n".join(f"- {world}: {_pct(row['success_rate'])} success "
                     f"[{_pct(row['success_ci'][0])}, {_pct(row['success_ci'][1])}] over {row['episodes']} "
                     f"episodes — bar {_pct(required)}: {'met' if row['success_rate'] >= required else 'NOT met'}"
                     for world, required, row in bar_rows(bars))


def failure_summary(bars: dict) -> str:
    """How the shipped CfC's episodes that did not reach the target ended, per world with a bar."""
    return "\n".join(f"- {world}: {_pct(row['collision_rate'])} of the episodes end in a collision, "
                     f"{_pct(row['timeout_rate'])} in a timeout (the target passed or lost and not found again)."
                     for world, _, row in bar_rows(bars))


def outcome_table(rows: list[dict]) -> str:
    """Success, collision and timeout rates and time to target per policy x world x condition."""
    lines = ["| policy | world | condition | episodes | success [95% CI] | collision | timeout | time to target (s) |",
             "|---|---|---|---:|---|---:|---:|---:|"]
    for r in rows:
        if not r["episodes"]:
            continue
        time_s = "-" if r["mean_time_to_target_s"] is None else f"{r['mean_time_to_target_s']:.1f}"
        lines.append(f"| {r['policy']} | {r['world']} | {r['condition']} | {r['episodes']} "
                     f"| {_pct(r['success_rate'])} [{_pct(r['success_ci'][0])}, {_pct(r['success_ci'][1])}] "
                     f"| {_pct(r['collision_rate'])} | {_pct(r['timeout_rate'])} | {time_s} |")
    return "\n".join(lines)


def pooled_outcomes(eval_dirs: list[Path]) -> dict[tuple[str, str], dict[int, bool]]:
    """(world, policy) -> {seed: success} over the no-shift episodes of these `lnn-control eval
    --out` folders (read through their episode logs, which skip a line torn by a crash)."""
    from lnn_control.eval.episode_log import EpisodeLog

    outcomes: dict[tuple[str, str], dict[int, bool]] = {}
    for eval_dir in eval_dirs:
        for episode in EpisodeLog(eval_dir).read():
            if episode.condition == "none":
                outcomes.setdefault((episode.world, episode.policy), {})[episode.seed] = episode.success
    return outcomes


def pooled_table(outcomes: dict[tuple[str, str], dict[int, bool]], order: list[dict],
                 reference: str = "cfc_forest") -> str:
    """Success [95% Wilson] per world (rows) and policy (columns) over all pooled episodes, with
    the exact McNemar p-value of each policy against `reference` on the seeds both flew; worlds
    and policies in the order of the result rows `order` (episode logs are in finishing order)."""
    from lnn_control.eval.stats import mcnemar_exact, wilson_interval

    worlds = [w for w in dict.fromkeys(r["world"] for r in order) if any(w == key[0] for key in outcomes)]
    policies = [p for p in dict.fromkeys(r["policy"] for r in order) if any(p == key[1] for key in outcomes)]
    lines = ["| world | episodes | " + " | ".join(policies) + " |", "|---|---:|" + "---|" * len(policies)]
    for world in worlds:
        base = outcomes.get((world, reference), {})
        cells = []
        for policy in policies:
            runs = outcomes.get((world, policy), {})
            lo, hi = wilson_interval(sum(runs.values()), len(runs))
            cell = f"{_pct(sum(runs.values()) / max(len(runs), 1))} [{_pct(lo)}, {_pct(hi)}]"
            shared = sorted(set(runs) & set(base))
            if policy != reference and shared:
                p = mcnemar_exact([base[s] for s in shared], [runs[s] for s in shared]).p_value
                cell += f", p = {p:.2g}"
            cells.append(cell)
        n = max((len(outcomes.get((world, p), {})) for p in policies), default=0)
        lines.append(f"| {world} | {n} | " + " | ".join(cells) + " |")
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
            "-" if c is None or not c["episodes"] else
            f"{_pct(c['success_rate'])} [{_pct(c['success_ci'][0])}, {_pct(c['success_ci'][1])}]"
            for c in present) + " |")
    return "\n".join(lines)


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        recipe = recipe_from_args(args)
        if args.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {args.workers}")
        out = Path(args.out) if args.out else share_path("models")
        pipeline = Pipeline(recipe, Path(args.work), out, args.workers, argv)
        config = pipeline.train_config()
        print(f"[make model] recipe: {json.dumps(asdict(recipe))}; work in {pipeline.work}, models to {out}",
              flush=True)
        bags = pipeline.collect()
        pipeline.train_all(bags, config)
        if args.skip_eval:
            print(f"[make model] trained; checkpoints in {pipeline.work / 'checkpoints'} (--skip-eval: not shipped)")
            return 0
        bars = pipeline.evaluate("bars", ["forest", "urban"], recipe.eval_episodes, None)
        suite = None
        if recipe.suite_episodes:
            suite = pipeline.evaluate("suite", ["forest"], recipe.suite_episodes,
                                      f"{share_path('config', 'eval_suites.yaml')}:standard")
        second = pipeline.evaluate("second_draw", ["forest", "urban"], recipe.eval_episodes, None,
                                   first_seed=SECOND_DRAW_FIRST_SEED)
        written = pipeline.ship(bars, second, suite, config)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"make model: {error}", file=sys.stderr)
        return 1
    print(bar_verdicts(bars))
    print("[make model] wrote " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
