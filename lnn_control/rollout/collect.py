"""`lnn-control collect`: the privileged expert flies episodes; each becomes a rosbag2 bag.

Episode i flies the world built from seed `seed + i` and is written to
`OUT/<world>_<seed>` (MCAP by default). Episode facts (world, seed, shifts, source, control
rate) and the outcome are in the bag's metadata `custom_data`. Episodes run in `--workers`
processes; a bag that is already complete in OUT is kept and not flown again, so an
interrupted run can be resumed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from lnn_control.envs import TEACHERS, make_env, parse_shift
from lnn_control.envs.outcome import Outcome
from lnn_control.exit_status import SUCCESS, failed, interrupted
from lnn_control.rollout.fly import fly
from lnn_control.rollout.pilots import ExpertPilot, Pilot
from lnn_control.rollout.recording import BagRecorder
from lnn_control.rollout.runner import run_jobs


@dataclass(frozen=True)
class RecordingJob:
    """One episode to fly and record: `world` (name or YAML path), world `seed`, `shifts`
    [(name, severity)], the new bag directory, its storage, an optional cap on simulated
    seconds, the expert that flies or labels it (`envs.TEACHERS`), and the vehicle
    (`lnn_control.vehicles`; None: the world's own)."""

    world: str
    seed: int
    bag: Path
    shifts: tuple = ()
    storage: str = "mcap"
    max_seconds: float | None = None
    teacher: str = "privileged"
    vehicle: str | None = None


def world_label(world: str) -> str:
    """'forest' for forest, the file stem for a world YAML path."""
    return Path(world).stem if world.endswith((".yaml", ".yml")) else world


def record(job: RecordingJob, pilot: Pilot, facts: dict, record_flown: bool = False,
           record_interventions: bool = False) -> Outcome:
    """Fly `job` with `pilot` in a new environment, recording it to `job.bag`; the outcome."""
    env = make_env(job.world, shifts=list(job.shifts), teacher=job.teacher, vehicle=job.vehicle)
    try:
        facts = {"world": job.world, "shifts": [f"{n}:{s:g}" for n, s in job.shifts], **facts,
                 "teacher": job.teacher, "vehicle": env.unwrapped.vehicle,
                 "control_hz": round(1.0 / env.unwrapped.control_period_s, 6)}
        with BagRecorder(job.bag, facts, job.storage, record_flown, record_interventions) as recorder:
            return fly(env, pilot, job.seed, observers=[recorder], max_seconds=job.max_seconds)
    finally:
        env.close()


class ExpertRecorder:
    """Worker: flies the expert on each job and records its bag."""

    def run(self, job: RecordingJob) -> tuple[RecordingJob, Outcome]:
        return job, record(job, ExpertPilot(), {"source": "expert"})

    def close(self) -> None:
        pass


def plan_jobs(world: str, episodes: int, out: Path, seed: int, shifts, storage: str, max_seconds: float | None,
              teacher: str = "privileged", vehicle: str | None = None) -> tuple[list[RecordingJob], list[Path]]:
    """(jobs still to fly, complete bags already in `out`); a half-written bag is an error."""
    jobs, done = [], []
    for i in range(episodes):
        bag = out / f"{world_label(world)}_{seed + i:06d}"
        if (bag / "metadata.yaml").is_file():
            done.append(bag)
        elif bag.exists():
            raise FileExistsError(f"{bag}: exists but is not a complete bag (no metadata.yaml); remove it first")
        else:
            jobs.append(RecordingJob(world, seed + i, bag, tuple(shifts), storage, max_seconds, teacher, vehicle))
    return jobs, done


def run_cli(args) -> int:
    try:
        if args.episodes < 1 or args.workers < 1:
            raise ValueError(f"--episodes and --workers must be at least 1, got {args.episodes} and {args.workers}")
        if args.max_seconds is not None and args.max_seconds <= 0:
            raise ValueError(f"--max-seconds must be positive, got {args.max_seconds}")
        if args.teacher not in TEACHERS:
            raise ValueError(f"--teacher {args.teacher!r} is not one of {', '.join(TEACHERS)}")
        shifts = [parse_shift(text) for text in args.shift]
        out = Path(args.out)
        jobs, done = plan_jobs(args.world, args.episodes, out, args.seed, shifts, args.storage, args.max_seconds,
                               args.teacher, args.vehicle)
        if jobs:  # fail on a bad world before starting workers
            from lnn_control.sim import WorldConfig
            WorldConfig.load(args.world)
        out.mkdir(parents=True, exist_ok=True)
        outcomes = []
        with tqdm(total=len(jobs), desc=f"collect {world_label(args.world)}", unit="episode",
                  disable=None) as bar:  # None: shown on a terminal only
            def on_result(result: tuple[RecordingJob, Outcome]) -> None:
                outcomes.append(result[1])
                bar.update()
            run_jobs(jobs, ExpertRecorder, (), args.workers, "process", on_result)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        return failed("lnn-control collect", error)
    except KeyboardInterrupt:
        return interrupted("lnn-control collect", f"the complete bags in {args.out} are kept (a bag cut short is "
                                                  f"removed); the same command flies the rest")
    print(f"collected {len(outcomes)} episodes into {out} ({sum(o.success for o in outcomes)} reached the target, "
          f"{sum(o.collision for o in outcomes)} collided, {sum(o.steps for o in outcomes)} frames)"
          + (f"; kept {len(done)} complete bags already there" if done else ""))
    return SUCCESS
