"""The steps of `make study`, the out-of-distribution study with statistical power: each a resumable
`lnn-control` command (`python -m lnn_control.make_model.study --help`).

The paper's protocol: every study model is trained in the forest only (default season, no
shift, no other world), then flown where it was trained and where it never was. Steps (each an
ordinary `lnn-control` command, logged, recorded in --work/steps.json, redone only if it did
not finish, as `make model`'s are):

1. collect: the expert's forest demonstrations, once per teacher (`sim.expert.TEACHERS`);
2. train: every (kind, teacher) of `StudyPlan.models` with each training seed of
   `StudyPlan.training_seeds` (`lnn-control train --seed S --dagger R`: different
   initialisation, shuffling and DAgger rollouts per seed, the same demonstrations);
3. eval (all models together, the same world seeds for every one, so paired):
   `worlds` — forest, urban and the worlds no model is trained in, no shift;
   `suite` — the standard shift suite (config/eval_suites.yaml) in the forest;
   `severity` — the severity-curve shifts at the other severities, in the forest;
4. report (`study_report`): the tables and plots under --out, from the episode logs alone.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from lnn_control import seeds
from lnn_control.config_file import read_yaml
from lnn_control.eval.episode_log import MANIFEST
from lnn_control.make_model.pipeline import StepLog, eval_dir, eval_step
from lnn_control.paths import share_path

COMMAND = "make study"
SEVERITY_SHIFTS = ("wind", "fog", "dim", "camera_noise", "latency", "frame_drops")


@dataclass(frozen=True)
class StudyPlan:
    """What the study trains and flies.

    `models`: (kind, teacher) pairs, each trained once per training seed; the first teacher
    listed for the CfC is the study's main one, the others measure what the teacher changes.
    `world_episodes` per model and world, `condition_episodes` per model and shift condition
    (pooled over the trainings of a kind that is training seeds x that many paired episodes)."""

    models: tuple[tuple[str, str], ...] = (("cfc", "imitable"), ("lstm", "imitable"), ("gru", "imitable"),
                                           ("mlp", "imitable"), ("cfc", "privileged"))
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

    def labels(self) -> list[str]:
        """Every trained model's label (its checkpoint's stem): KIND_TEACHER_sSEED."""
        return [model_label(kind, teacher, seed) for kind, teacher in self.models for seed in self.training_seeds]


QUICK = StudyPlan(models=(("cfc", "imitable"), ("mlp", "imitable"), ("cfc", "privileged")), training_seeds=(0, 1),
                  worlds=("forest", "orchard"), world_episodes=2, condition_episodes=1, severities=(1.0,), episodes=4,
                  dagger_rounds=1, eval_time_limit_s=5.0, epochs=1, dagger_episodes=1, dagger_epochs=1)


def model_label(kind: str, teacher: str, seed: int) -> str:
    return f"{kind}_{teacher}_s{seed}"


def parse_label(label: str) -> tuple[str, str, int] | None:
    """(kind, teacher, training seed) of a study model's label, None for others (the expert)."""
    parts = label.rsplit("_", 2)
    if len(parts) != 3 or not parts[2].startswith("s") or not parts[2][1:].isdigit():
        return None
    return parts[0], parts[1], int(parts[2][1:])


class Study:
    """The study's steps into `work` with `workers` processes (make model's `Pipeline` runs them)."""

    def __init__(self, plan: StudyPlan, work: Path, workers: int, command: str):
        self.plan = plan
        self.work = work
        self.workers = workers
        self.steps = StepLog(COMMAND, work, command, {"study": asdict(plan), "workers": workers})

    def bags(self, teacher: str) -> Path:
        return self.work / "bags" / teacher

    def checkpoint(self, label: str) -> Path:
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
        path.write_text(f"# made by make study from {source}\n" + yaml.safe_dump(values, sort_keys=False))
        return path

    def collect(self) -> None:
        for teacher in self.plan.teachers:
            bags = self.bags(teacher)
            self.steps.run_step(f"collect_{teacher}", [
                "collect", "--world", "forest", "--episodes", str(self.plan.episodes), "--out", str(bags),
                "--workers", str(self.workers), "--seed", str(seeds.DEMONSTRATIONS), "--teacher", teacher],
                resumes=bags.is_dir() and any(bags.iterdir()))

    def train_all(self) -> None:
        """Every model of the plan, up to `workers` at once; a finished checkpoint is kept."""
        from concurrent.futures import ThreadPoolExecutor

        def train(kind: str, teacher: str, seed: int) -> None:
            label = model_label(kind, teacher, seed)
            checkpoint = self.checkpoint(label)
            done = checkpoint.with_suffix(".done")
            if done.is_file() and checkpoint.is_file():
                return
            _remove(checkpoint, checkpoint.with_name(checkpoint.stem + ".dagger"))
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            args = ["train", "--bags", str(self.bags(teacher)), "--model", kind, "--out", str(checkpoint),
                    "--config", str(self.config(teacher, seed)), "--dagger", str(self.plan.dagger_rounds)]
            if self.plan.epochs is not None:
                args += ["--epochs", str(self.plan.epochs)]
            self.steps.run_step(f"train_{label}", args)
            done.write_text("finished\n")

        jobs = [(kind, teacher, seed) for seed in self.plan.training_seeds for kind, teacher in self.plan.models]
        with ThreadPoolExecutor(max(1, self.workers)) as pool:
            for future in [pool.submit(train, *job) for job in jobs]:
                future.result()

    def evaluate_all(self) -> None:
        plan = self.plan
        suite = f"{share_path('config', 'eval_suites.yaml')}:standard"
        self.evaluate("worlds", list(plan.worlds), plan.world_episodes, [])
        self.evaluate("suite", ["forest"], plan.condition_episodes, ["--suite", suite])
        shifts = [a for name in SEVERITY_SHIFTS for s in plan.severities for a in ("--shift", f"{name}:{s:g}")]
        if shifts:
            self.evaluate("severity", ["forest"], plan.condition_episodes, shifts)

    def evaluate(self, run: str, worlds: list[str], episodes: int, conditions: list[str]) -> None:
        out = eval_dir(self.work, run)
        args = ["eval", *[a for label in self.plan.labels() for a in ("--policy", str(self.checkpoint(label)))],
                "--policy", "expert", *[a for world in worlds for a in ("--world", world)], *conditions,
                "--episodes", str(episodes), "--seed", str(seeds.EVALUATION), "--workers", str(self.workers),
                "--time-limit", f"{self.plan.eval_time_limit_s:g}", "--out", str(out)]
        if (out / MANIFEST).is_file():
            args.append("--resume")
        self.steps.run_step(eval_step(run), args, resumes="--resume" in args)


def _remove(*paths: Path) -> None:
    import shutil

    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
