"""The steps of `make model`, each an ordinary `lnn-control` command run as a child process.

collect (the expert's forest demonstrations) -> train (every kind of `KINDS`, up to --workers
at once, behaviour cloning then DAgger) -> eval (`bars`: forest and urban from seeds.EVALUATION
on; `suite`: the standard shift suite in the forest; `second_draw`: forest and urban again
from seeds.SECOND_DRAW on) -> ship (copy the checkpoints, curves, plots and evaluation tables
into --out). What --work holds:

    bags/forest/                  the demonstrations (`lnn-control collect --out`)
    checkpoints/KIND_forest.pt    each trained model (+ .done once its training finished)
    eval/RUN/                     each evaluation (`lnn-control eval --out`)
    logs/STEP.log                 each step's output
    train_config.yaml             the training config every model gets (recipe.training_config)
    steps.json                    the record of the steps (below)

A step that finished is not redone when `make model` runs again with the same --work (collect
and eval resume, a finished checkpoint is kept). steps.json keeps, across invocations, every
step's command, log and wall seconds (a resumed step's seconds add up), the invocations' wall
seconds in all and their number, and `latest`: the last invocation's command line, recipe,
training config, workers, machine and the names of its steps in order (what the model card
says was run).
"""
from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from lnn_control import seeds
from lnn_control.eval.episode_log import MANIFEST
from lnn_control.eval.results import RESULTS_JSON, RESULTS_MD, RESULTS_PNG
from lnn_control.make_model.recipe import Recipe
from lnn_control.paths import share_path
from lnn_control.train.behavior_cloning import artifact_paths
from lnn_control.train.dagger import dagger_dir

STEPS = "steps.json"
SHIFT_SUITES = {"drone": "standard", "rover": "rover"}  # the suite of config/eval_suites.yaml flown in the forest
# evaluation run under --work/eval -> its results' name under --out/eval
SHIPPED_EVALUATIONS = {"bars": "forest_urban", "second_draw": f"forest_urban_seeds{seeds.SECOND_DRAW}",
                       "suite": "shift_suite"}
SHIPPED_PLOTS = {"bars": "eval_forest_urban.png", "suite": "ood_study.png"}  # evaluation run -> its plot in --out
# (a rover's shipped files are these names with the recipe's prefix, `rover_`)


def eval_dir(work: Path, run: str) -> Path:
    """--work/eval/RUN: the `lnn-control eval --out` folder of evaluation RUN."""
    return work / "eval" / run


def remove_cut_off_training(checkpoint: Path) -> None:
    """What a training to `checkpoint` left when it was cut off — the checkpoint of its last
    finished round and its DAgger rollouts — so that it starts again from nothing."""
    for leftover in (checkpoint, dagger_dir(checkpoint)):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        elif leftover.exists():
            leftover.unlink()


def eval_step(run: str) -> str:
    """The name of the step that flies evaluation RUN."""
    return f"eval_{run}"


def model_name(kind: str, recipe: Recipe) -> str:
    """The name of a trained KIND (its checkpoint's stem, its label in evaluations): cfc_forest,
    mlp_forest, ...; cfc_rover_forest for a rover."""
    return f"{kind}_{recipe.prefix}forest"


def shipped_name(name: str, recipe: Recipe) -> str:
    """The name under --out of a shipped evaluation or plot (SHIPPED_EVALUATIONS, SHIPPED_PLOTS):
    a rover's begins with the recipe's prefix."""
    return recipe.prefix + name


def shipped_checkpoint(out: Path, kind: str, recipe: Recipe) -> Path:
    """Where the trained KIND ships: --out/cfc_forest.pt, the baselines under --out/baselines/
    (cfc_rover_forest.pt, baselines/mlp_rover_forest.pt for a rover)."""
    name = f"{model_name(kind, recipe)}.pt"
    return out / (name if kind == "cfc" else f"baselines/{name}")


STOP_GRACE_S = 60.0   # s a step stopped at the deadline has to end by itself before it is killed


class OutOfTime(Exception):
    """A step was not started, or was stopped, because the invocation's time budget ran out."""


def _ended_before(process: subprocess.Popen, deadline: float | None) -> bool:
    """Wait for `process` until `deadline` (time.monotonic(); None: for as long as it runs);
    whether it ended by then."""
    try:
        process.wait(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
        return True
    except subprocess.TimeoutExpired:
        return False


def _stop(process: subprocess.Popen) -> None:
    """Stop a step as Ctrl-C does (SIGINT: it keeps what it has done; SIGTERM where SIGINT is
    ignored, as in a job a shell script started in the background, whose steps inherit that),
    killed if it has not ended within STOP_GRACE_S."""
    if process.poll() is None:
        ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        process.send_signal(signal.SIGTERM if ignored else signal.SIGINT)
    _end(process)


def _end(process: subprocess.Popen) -> None:
    """Let `process` end by itself within STOP_GRACE_S, else kill it."""
    if not _ended_before(process, time.monotonic() + STOP_GRACE_S):
        process.kill()
        process.wait()


class StepLog:
    """Runs steps (`lnn-control` commands) into `work` and keeps the record of them, `record`
    (default --work/steps.json); `tool` names it in what it prints ("make model"); `latest` is
    what this invocation records besides its command, machine and steps; `deadline`
    (time.monotonic() seconds, None: none) is when its steps stop (run_step)."""

    def __init__(self, tool: str, work: Path, command: str, latest: dict, record: Path | None = None,
                 deadline: float | None = None):
        self.tool = tool
        self.work = work
        self.logs = work / "logs"
        self.started = time.perf_counter()
        self.record_path = record or work / STEPS
        earlier = json.loads(self.record_path.read_text()) if self.record_path.is_file() else {}
        self.earlier_latest: dict = earlier.get("latest", {})
        self.steps: dict[str, dict] = earlier.get("steps", {})  # by name, of every invocation
        self.earlier_wall_s: float = earlier.get("wall_s", 0.0)
        self.invocations: int = earlier.get("invocations", 0) + 1
        self.latest = {"command": command, **latest, "machine": platform.machine(), "cpu_count": os.cpu_count(),
                       "steps": []}
        self._record_lock = threading.Lock()  # trainings finish in threads of their own
        self.deadline = deadline

    # -- running commands --------------------------------------------------------------------

    def run_step(self, name: str, args: list[str], resumes: bool = False) -> dict:
        """Run `lnn-control ARGS` (one torch thread per process), its output into logs/NAME.log;
        `resumes`: it continues the work of an earlier invocation, whose seconds count too.
        RuntimeError naming the log when the command fails (its last lines are printed);
        OutOfTime when `deadline` (time.monotonic() seconds) has passed before it starts or while
        it runs: then it is stopped as Ctrl-C stops it (`_stop`), and its seconds so far are kept
        in the record, marked "stopped"."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise OutOfTime(f"{name} not started: the time budget has run out")
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        command = "lnn-control " + shlex.join(args)
        print(f"[{self.tool}] {name}: {command}  (log {log})", flush=True)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        started = time.perf_counter()
        with log.open("w") as stream:
            process = subprocess.Popen([sys.executable, "-m", "lnn_control.cli", *args], stdout=stream,
                                       stderr=subprocess.STDOUT, env=env)
            try:
                out_of_time = not _ended_before(process, self.deadline)
            except BaseException:   # Ctrl-C: the terminal has sent the step its SIGINT too
                _end(process)
                raise
            if out_of_time:
                _stop(process)
        seconds = time.perf_counter() - started
        step = {"name": name, "command": command, "seconds": round(seconds, 1), "log": str(log)}
        earlier = self.steps.get(name)
        if resumes and earlier:
            step["seconds"] = round(earlier["seconds"] + seconds, 1)
        if out_of_time:
            step["stopped"] = True
            self.record(step)
            print(f"[{self.tool}] {name}: stopped after {seconds:.0f} s, the time budget has run out", flush=True)
            raise OutOfTime(f"{name} stopped after {seconds:.0f} s: the time budget has run out")
        self.record(step)
        if process.returncode != 0:
            print(f"[{self.tool}] {name}: the end of {log}:", *log.read_text().strip().splitlines()[-5:], sep="\n",
                  flush=True)
            raise RuntimeError(f"{name} failed (exit {process.returncode}, {seconds:.0f} s); its output: {log}")
        print(f"[{self.tool}] {name}: done in {seconds:.0f} s", flush=True)
        return step

    def record(self, step: dict) -> None:
        """Add `step` to the record and write it; to this invocation's steps unless the time
        budget stopped it (kept for the invocation that resumes it, not listed as done)."""
        with self._record_lock:
            if not step.get("stopped"):
                self.latest["steps"].append(step["name"])
            self.steps[step["name"]] = step
            self.save()

    def save(self) -> None:
        """Write the record (--work/steps.json by default), with the wall seconds up to now."""
        self.record_path.parent.mkdir(parents=True, exist_ok=True)
        self.record_path.write_text(json.dumps(
            {"steps": self.steps, "wall_s": round(self.wall_s(), 1), "invocations": self.invocations,
             "latest": self.latest}, indent=1))

    def wall_s(self) -> float:
        """Wall-clock seconds of every invocation with this --work so far."""
        return self.earlier_wall_s + time.perf_counter() - self.started


class Pipeline(StepLog):
    """The steps of `make model` into `work`, shipped to `out`, with `workers` processes."""

    def __init__(self, recipe: Recipe, work: Path, out: Path, workers: int, config: Path, command: str):
        """`config`: the training config of every model (recipe.training_config); `command`: the
        command line of this invocation, for the record."""
        super().__init__("make model", work, command, {"recipe": asdict(recipe), "train_config": str(config),
                                                         "workers": workers})
        self.recipe = recipe
        self.out = out
        self.workers = workers
        self.config = config

    def collect(self) -> Path:
        """The expert's `recipe.episodes` forest demonstrations (world seeds from 0); their folder."""
        bags = self.work / "bags" / "forest"
        resumes = bags.is_dir() and any(bags.iterdir())
        self.run_step("collect", ["collect", "--world", "forest", "--episodes", str(self.recipe.episodes),
                                  "--out", str(bags), "--workers", str(self.workers),
                                  "--seed", str(seeds.DEMONSTRATIONS), "--vehicle", self.recipe.vehicle],
                      resumes=resumes)
        return bags

    def checkpoint(self, kind: str) -> Path:
        return self.work / "checkpoints" / f"{model_name(kind, self.recipe)}.pt"

    def train_all(self, bags: Path) -> None:
        """Train every kind (up to `workers` at once); a checkpoint already finished is kept."""
        def train(kind: str):
            checkpoint = self.checkpoint(kind)
            done = checkpoint.with_suffix(".done")
            if done.is_file() and checkpoint.is_file():
                print(f"[make model] train_{kind}: kept {checkpoint} (finished earlier)", flush=True)
                if f"train_{kind}" in self.steps:
                    self.record(self.steps[f"train_{kind}"])
                return
            remove_cut_off_training(checkpoint)
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            args = ["train", "--bags", str(bags), "--model", kind, "--out", str(checkpoint),
                    "--config", str(self.config), "--dagger", str(self.recipe.dagger_rounds),
                    "--vehicle", self.recipe.vehicle]
            if self.recipe.epochs is not None:
                args += ["--epochs", str(self.recipe.epochs)]
            self.run_step(f"train_{kind}", args)
            done.write_text("finished\n")

        with ThreadPoolExecutor(max(1, self.workers)) as pool:
            for future in [pool.submit(train, kind) for kind in self.recipe.kinds]:
                future.result()

    def evaluate_all(self) -> None:
        """The evaluations: `bars`, `suite` (unless recipe.suite_episodes is 0), `second_draw`."""
        both = ["forest", "urban"]
        self.evaluate("bars", both, self.recipe.eval_episodes, None, seeds.EVALUATION)
        if self.recipe.suite_episodes:
            self.evaluate("suite", ["forest"], self.recipe.suite_episodes,
                          f"{share_path('config', 'eval_suites.yaml')}:{SHIFT_SUITES[self.recipe.vehicle]}",
                          seeds.EVALUATION)
        self.evaluate("second_draw", both, self.recipe.eval_episodes, None, seeds.SECOND_DRAW)

    def evaluate(self, run: str, worlds: list[str], episodes: int, suite: str | None, first_seed: int) -> None:
        """Every trained model and the expert in `worlds` (and under `suite`), `episodes` each
        from world seed `first_seed` on, into --work/eval/RUN (resumed when it is there)."""
        out = eval_dir(self.work, run)
        args = ["eval", *[a for kind in self.recipe.kinds for a in ("--policy", str(self.checkpoint(kind)))],
                "--policy", "expert", "--vehicle", self.recipe.vehicle]
        args += [a for world in worlds for a in ("--world", world)]
        if suite:
            args += ["--suite", suite]
        args += ["--episodes", str(episodes), "--seed", str(first_seed), "--workers", str(self.workers),
                 "--time-limit", f"{self.recipe.eval_time_limit_s:g}", "--out", str(out)]
        if (out / MANIFEST).is_file():
            args.append("--resume")
        self.run_step(eval_step(run), args, resumes="--resume" in args)

    def ship(self) -> list[Path]:
        """Copy the checkpoints with their loss curves, the evaluations' plots and their
        results (.md, .json) of this invocation into --out; the files written."""
        written = []
        for kind in self.recipe.kinds:
            target = shipped_checkpoint(self.out, kind, self.recipe)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.checkpoint(kind), target)
            written.append(target)
            _, curve = artifact_paths(self.checkpoint(kind))
            if curve.is_file():
                shutil.copyfile(curve, target.with_name(curve.name))
        (self.out / "eval").mkdir(exist_ok=True)
        for run, name in SHIPPED_EVALUATIONS.items():
            if eval_step(run) not in self.latest["steps"]:
                continue
            if run in SHIPPED_PLOTS:
                shutil.copyfile(eval_dir(self.work, run) / RESULTS_PNG,
                                self.out / shipped_name(SHIPPED_PLOTS[run], self.recipe))
            for results in (RESULTS_MD, RESULTS_JSON):
                shutil.copyfile(eval_dir(self.work, run) / results,
                                (self.out / "eval" / shipped_name(name, self.recipe)).with_suffix(Path(results).suffix))
        return written
