"""The steps of `make study`, the out-of-distribution study with statistical power: each an
ordinary, resumable `lnn-control` command (`python -m lnn_control.make_model.study --help`).

The paper's protocol: every study model is trained in the forest only (default season, no
shift, no other world), then flown where it was trained and where it never was.

The study is many hours of a 2-core machine, more than one sitting, so it is made of units that
finish one by one and are kept in OUT (default models/study), the study's record: a later
invocation, on this machine or on a fresh clone elsewhere with OUT committed, goes on from there.
A unit is one trained model — collect its teacher's forest demonstrations into --work if they
are not there (`lnn-control collect`: the same seeds give the same bags on any machine), train
it (`lnn-control train --seed S --dagger R`), then fly its three evaluations — or the expert,
flown once. Units run `workers` at a time, one core each, in the order of `units`. Every unit flies the same world seeds
(`seeds.EVALUATION` on), so any two models' episodes pair up; each model's evaluations fly it
alone (`eval --no-reference`), the expert's episodes are those of its own unit. Evaluations:
`worlds` — forest, urban and the worlds no model is trained in, no shift; `suite` — the standard
shift suite (config/eval_suites.yaml) in the forest; `severity` — the severity-curve shifts at
the other severities, in the forest. The report (`study.report`) is written from OUT alone.

    OUT/checkpoints/LABEL.pt     each finished training (LABEL: KIND_TEACHER_sSEED), its loss curve
    OUT/eval/RUN/LABEL/          each unit's evaluation RUN (`lnn-control eval --out`; resumed)
    OUT/steps.json               every step's command and seconds, over every invocation and machine,
                                 and the plan, which a later invocation must repeat
    OUT/study.json, .md, .png    the report
    --work/bags/TEACHER/         the demonstrations; --work/checkpoints/: trainings under way (one
                                 cut off starts again); --work/configs/, logs/
"""
from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from lnn_control import seeds
from lnn_control.config_file import read_yaml
from lnn_control.eval.episode_log import MANIFEST
from lnn_control.eval.plan import parse_conditions
from lnn_control.eval.results import RESULTS_JSON
from lnn_control.make_model.pipeline import STEPS, OutOfTime, StepLog, remove_cut_off_training
from lnn_control.paths import share_path
from lnn_control.train.behavior_cloning import artifact_paths

COMMAND = "make study"
SEVERITY_SHIFTS = ("wind", "fog", "dim", "camera_noise", "latency", "frame_drops")
RUNS = ("worlds", "suite", "severity")
STANDARD_SUITE = f"{share_path('config', 'eval_suites.yaml')}:standard"   # flown in the forest at 0.5
EXPERT = "expert"


@dataclass(frozen=True)
class StudyPlan:
    """What the study trains and flies.

    `models`: (kind, teacher) pairs, each trained once per training seed; the first is the
    study's main group (the CfC with the imitable teacher), the next the one it is held against
    first (the same-size MLP, which matched it in every earlier measurement); the privileged
    teacher's CfC measures what the teacher changes. `world_episodes` per model and world,
    `condition_episodes` per model and shift condition (pooled over the trainings of a kind that
    is training seeds x that many paired episodes)."""

    models: tuple[tuple[str, str], ...] = (("cfc", "imitable"), ("mlp", "imitable"), ("lstm", "imitable"),
                                           ("gru", "imitable"), ("cfc", "privileged"))
    training_seeds: tuple[int, ...] = (0, 1, 2)
    worlds: tuple[str, ...] = ("forest", "urban", "orchard", "quarry", "park")
    world_episodes: int = 30
    condition_episodes: int = 12
    severities: tuple[float, ...] = (0.25, 1.0)   # the suite flies 0.5
    episodes: int = 300                           # demonstrations per teacher
    dagger_rounds: int = 3
    eval_time_limit_s: float = 40.0
    train_config: str = "config/model_recipe.yaml"
    epochs: int | None = None                     # None: the training config's
    dagger_episodes: int | None = None
    dagger_epochs: int | None = None
    encoder_precision: str | None = None          # optim.encoder_precision; None: the training config's

    @property
    def teachers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(teacher for _, teacher in self.models))


QUICK = StudyPlan(models=(("cfc", "imitable"), ("mlp", "imitable"), ("cfc", "privileged")), training_seeds=(0, 1),
                  worlds=("forest", "orchard"), world_episodes=2, condition_episodes=1, severities=(1.0,), episodes=4,
                  dagger_rounds=1, eval_time_limit_s=3.0, epochs=1, dagger_episodes=1, dagger_epochs=1)


@dataclass(frozen=True)
class Evaluation:
    """One of the evaluations every unit flies: RUN's worlds, its shift conditions (`--shift`
    and `--suite` texts as `lnn-control eval` takes them; no shift is always flown too) and the
    episodes per world and condition."""

    run: str
    worlds: tuple[str, ...]
    episodes: int
    shifts: tuple[str, ...] = ()
    suites: tuple[str, ...] = ()

    def planned_episodes(self) -> int:
        """Episodes the evaluation flies in all, for one unit."""
        return len(self.worlds) * len(parse_conditions(self.shifts, self.suites)) * self.episodes

    def args(self) -> list[str]:
        """Its `lnn-control eval` options (worlds, conditions, episodes)."""
        return [*(a for world in self.worlds for a in ("--world", world)),
                *(a for suite in self.suites for a in ("--suite", suite)),
                *(a for shift in self.shifts for a in ("--shift", shift)), "--episodes", str(self.episodes)]


def evaluations(plan: StudyPlan) -> list[Evaluation]:
    """The evaluations of every unit, in the order flown: `worlds`, `suite`, and `severity`
    unless the plan has no other severities than the suite's."""
    found = [Evaluation("worlds", plan.worlds, plan.world_episodes),
             Evaluation("suite", ("forest",), plan.condition_episodes, suites=(STANDARD_SUITE,))]
    if plan.severities:
        found.append(Evaluation("severity", ("forest",), plan.condition_episodes,
                                shifts=tuple(f"{name}:{s:g}" for name in SEVERITY_SHIFTS for s in plan.severities)))
    return found


def units(plan: StudyPlan) -> list[str]:
    """Every unit's label, in the order they are done: the plan's models two groups at a time
    (the first two, then the next two, ...), each pair seed by seed, the expert last — so the
    main comparison has all its trainings, paired, before the next groups start."""
    pairs = [plan.models[i:i + 2] for i in range(0, len(plan.models), 2)]
    models = [model_label(kind, teacher, seed) for pair in pairs for seed in plan.training_seeds
              for kind, teacher in pair]
    return models + [EXPERT]


def model_label(kind: str, teacher: str, seed: int) -> str:
    return f"{kind}_{teacher}_s{seed}"


def checkpoint_path(out: Path, label: str) -> Path:
    """OUT/checkpoints/LABEL.pt: study model LABEL's finished training, kept with the record."""
    return out / "checkpoints" / f"{label}.pt"


def eval_path(out: Path, run: str, label: str) -> Path:
    """OUT/eval/RUN/LABEL: unit LABEL's evaluation RUN (LABEL "expert" for the expert's)."""
    return out / "eval" / run / label


def training_pace(steps: dict[str, dict]) -> float | None:
    """The median seconds of the finished trainings in a study's steps (steps.json's "steps";
    not one stopped by the time budget), None before the first has finished."""
    seconds = sorted(step["seconds"] for name, step in steps.items()
                     if name.startswith("train_") and not step.get("stopped"))
    return seconds[len(seconds) // 2] if seconds else None


def parse_label(label: str) -> tuple[str, str, int] | None:
    """(kind, teacher, training seed) of a study model's label, None for others (the expert)."""
    parts = label.rsplit("_", 2)
    if len(parts) != 3 or not parts[2].startswith("s") or not parts[2][1:].isdigit():
        return None
    return parts[0], parts[1], int(parts[2][1:])


class Study:
    """The study's units into `out` (the record) and `work` (what any machine makes again), with
    `workers` processes; ValueError when `out` holds a study of another plan."""

    def __init__(self, plan: StudyPlan, work: Path, out: Path, workers: int, command: str,
                 hours: float | None = None):
        self.plan = plan
        self.work = work
        self.out = out
        self.workers = workers
        deadline = None if hours is None else time.monotonic() + hours * 3600   # the budget (--hours)
        self.steps = StepLog(COMMAND, work, command, {"study": asdict(plan), "workers": workers},
                             record=out / STEPS, deadline=deadline)
        earlier, now = self.steps.earlier_latest.get("study"), json.loads(json.dumps(asdict(plan)))
        if earlier is not None and earlier != now:
            changed = sorted(name for name, value in now.items() if earlier.get(name) != value)
            raise ValueError(f"{out / STEPS}: {out} holds a study of another plan (it differs in "
                             f"{', '.join(changed)}); give the options it was made with, or another --out")
        self._collected: dict[str, threading.Lock] = {teacher: threading.Lock() for teacher in plan.teachers}

    def bags(self, teacher: str) -> Path:
        return self.work / "bags" / teacher

    def training(self, label: str) -> Path:
        """--work/checkpoints/LABEL.pt: where the training writes, until it has finished."""
        return self.work / "checkpoints" / f"{label}.pt"

    def config(self, teacher: str, seed: int) -> Path:
        """--work/configs/TEACHER_sSEED.yaml: the training config with this seed and teacher (and
        the plan's encoder precision, if it names one)."""
        source = Path(self.plan.train_config)
        if not source.is_absolute() and not source.is_file():
            source = share_path(*source.parts)
        values = read_yaml(source, "training config") or {}
        dagger = dict(values.get("dagger") or {}, teacher=teacher)
        if self.plan.dagger_episodes is not None:
            dagger["episodes_per_round"] = self.plan.dagger_episodes
        if self.plan.dagger_epochs is not None:
            dagger["epochs_per_round"] = self.plan.dagger_epochs
        values.update(seed=seed, dagger=dagger)
        if self.plan.encoder_precision is not None:
            values["optim"] = dict(values.get("optim") or {}, encoder_precision=self.plan.encoder_precision)
        path = self.work / "configs" / f"{teacher}_s{seed}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{threading.get_ident()}")  # another unit's training may read it
        partial.write_text(f"# made by make study from {source}\n" + yaml.safe_dump(values, sort_keys=False))
        partial.replace(path)
        return path

    def run(self) -> bool:
        """Every unit not yet in OUT, `workers` at once; whether all are done (False: the time
        budget ran out first, and what was under way then was stopped). The first failure starts
        no further unit (those under way finish) and is raised."""
        from concurrent.futures import ThreadPoolExecutor, as_completed

        done = True
        with ThreadPoolExecutor(max(1, self.workers)) as pool:
            futures = [pool.submit(self.unit, label) for label in units(self.plan)]
            try:
                for future in as_completed(futures):
                    done = future.result() and done
            finally:
                for future in futures:
                    future.cancel()
        return done

    def unit(self, label: str) -> bool:
        """Unit LABEL, or what of it the time budget allows; whether it is done."""
        try:
            if label != EXPERT and not self.train(*parse_label(label)):
                return False
            self.evaluate(label)
        except OutOfTime:
            return False
        return True

    def collect(self, teacher: str) -> None:
        """TEACHER's forest demonstrations into --work, once (later calls find them)."""
        with self._collected[teacher]:
            bags = self.bags(teacher)
            if f"collect_{teacher}" in self.steps.latest["steps"]:
                return
            self.steps.run_step(f"collect_{teacher}", [
                "collect", "--world", "forest", "--episodes", str(self.plan.episodes), "--out", str(bags),
                "--workers", str(self.workers), "--seed", str(seeds.DEMONSTRATIONS), "--teacher", teacher],
                resumes=bags.is_dir() and any(bags.iterdir()))

    def train(self, kind: str, teacher: str, seed: int) -> bool:
        """Train KIND_TEACHER_sSEED into --work, then keep it (and its loss curve) in OUT; a model
        already in OUT is not trained again. Whether it is in OUT: False when the time budget
        leaves less than a training takes at the record's pace (`training_pace`)."""
        label = model_label(kind, teacher, seed)
        kept = checkpoint_path(self.out, label)
        if kept.is_file():
            return True
        pace = training_pace(self.steps.steps)
        if self.steps.deadline is not None and pace is not None:
            left = self.steps.deadline - time.monotonic()
            if left < pace:
                print(f"[{COMMAND}] train_{label}: not started — a training takes about {pace / 60:.0f} min at the "
                      f"record's pace, {max(0.0, left) / 60:.0f} min of the time budget are left", flush=True)
                return False
        self.collect(teacher)
        checkpoint = self.training(label)
        remove_cut_off_training(checkpoint)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        args = ["train", "--bags", str(self.bags(teacher)), "--model", kind, "--out", str(checkpoint),
                "--config", str(self.config(teacher, seed)), "--dagger", str(self.plan.dagger_rounds)]
        if self.plan.epochs is not None:
            args += ["--epochs", str(self.plan.epochs)]
        self.steps.run_step(f"train_{label}", args)
        kept.parent.mkdir(parents=True, exist_ok=True)
        _, curve = artifact_paths(checkpoint)
        if curve.is_file():
            shutil.copyfile(curve, kept.with_name(curve.name))
        shutil.copyfile(checkpoint, kept.with_suffix(".partial"))
        kept.with_suffix(".partial").replace(kept)   # whole, or not there
        return True

    def evaluate(self, label: str) -> None:
        """Unit LABEL's evaluations into OUT/eval/RUN/LABEL (each resumed where it stopped)."""
        policy = EXPERT if label == EXPERT else str(checkpoint_path(self.out, label))
        for evaluation in evaluations(self.plan):
            out = eval_path(self.out, evaluation.run, label)
            if (out / RESULTS_JSON).is_file():
                continue
            args = ["eval", "--policy", policy, "--no-reference", *evaluation.args(),
                    "--seed", str(seeds.EVALUATION), "--workers", "1",
                    "--time-limit", f"{self.plan.eval_time_limit_s:g}", "--out", str(out)]
            if (out / MANIFEST).is_file():
                args.append("--resume")
            self.steps.run_step(f"eval_{evaluation.run}_{label}", args, resumes="--resume" in args)
