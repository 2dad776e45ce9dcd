"""`lnn-control collect`: the privileged expert flies episodes; each becomes a rosbag2 bag.

Episode i flies the world built from seed `seed + i` and is written to
`OUT/<world>_<seed>` (MCAP by default). Episode facts (world, seed, shifts, outcome, source)
are in the bag's metadata `custom_data`. Episodes run in `--workers` processes; a bag that
is already complete in OUT is kept and not flown again, so an interrupted run can be resumed.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tqdm import tqdm

from lnn_control.data.episode_recorder import record_episode
from lnn_control.exit_status import SUCCESS, failed, interrupted


@dataclass(frozen=True)
class EpisodeJob:
    world: str
    seed: int
    bag: Path
    shifts: tuple = ()
    storage: str = "mcap"
    max_seconds: Optional[float] = None


def world_label(world: str) -> str:
    """'forest' for forest, the file stem for a world YAML path."""
    return Path(world).stem if world.endswith((".yaml", ".yml")) else world


def expert_pilot(obs, env):
    from lnn_control.envs import expert_action
    cmd = expert_action(env)
    return cmd, cmd


def fly_expert_episode(job: EpisodeJob) -> dict:
    """Worker: build the env, fly the expert for one episode, write its bag; returns the outcome."""
    from lnn_control.envs import make_env

    env = make_env(job.world, shifts=list(job.shifts))
    try:
        facts = {"world": job.world, "shifts": [f"{n}:{s:g}" for n, s in job.shifts], "source": "expert",
                 "control_hz": round(1.0 / env.unwrapped.control_period_s, 6)}
        return record_episode(env, job.seed, job.bag, expert_pilot, facts, job.storage, job.max_seconds)
    finally:
        env.close()


def run_episodes(jobs: list[EpisodeJob], fly, workers: int = 1, progress: bool = True, desc: str = "episodes"):
    """Run `fly(job)` for every job, in `workers` processes; [(job, outcome)] in job order."""
    results = {}
    bar = tqdm(total=len(jobs), desc=desc, unit="episode",
               disable=None if progress else True)  # None: shown on a terminal only
    if workers <= 1:
        for job in jobs:
            results[job.bag] = fly(job)
            bar.update()
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(fly, job): job for job in jobs}
            for future in as_completed(futures):
                results[futures[future].bag] = future.result()
                bar.update()
    bar.close()
    return [(job, results[job.bag]) for job in jobs]


def plan_jobs(world: str, episodes: int, out: Path, seed: int, shifts, storage: str,
              max_seconds: Optional[float]) -> tuple[list[EpisodeJob], list[Path]]:
    """(jobs still to fly, complete bags already in `out`); a half-written bag is an error."""
    jobs, done = [], []
    for i in range(episodes):
        bag = out / f"{world_label(world)}_{seed + i:06d}"
        if (bag / "metadata.yaml").is_file():
            done.append(bag)
        elif bag.exists():
            raise FileExistsError(f"{bag}: exists but is not a complete bag (no metadata.yaml); remove it first")
        else:
            jobs.append(EpisodeJob(world, seed + i, bag, tuple(shifts), storage, max_seconds))
    return jobs, done


def run_cli(args) -> int:
    from lnn_control.envs import parse_shift

    try:
        if args.episodes < 1 or args.workers < 1:
            raise ValueError(f"--episodes and --workers must be at least 1, got {args.episodes} and {args.workers}")
        if args.max_seconds is not None and args.max_seconds <= 0:
            raise ValueError(f"--max-seconds must be positive, got {args.max_seconds}")
        shifts = [parse_shift(text) for text in args.shift]
        out = Path(args.out)
        jobs, done = plan_jobs(args.world, args.episodes, out, args.seed, shifts, args.storage, args.max_seconds)
        if jobs:  # fail on a bad world before starting workers
            from lnn_control.sim import WorldConfig
            WorldConfig.load(args.world)
        out.mkdir(parents=True, exist_ok=True)
        results = run_episodes(jobs, fly_expert_episode, args.workers, desc=f"collect {world_label(args.world)}")
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        return failed("lnn-control collect", error)
    except KeyboardInterrupt:
        return interrupted("lnn-control collect", f"the complete bags in {args.out} are kept; remove a bag cut short "
                                                  f"(it has no metadata.yaml), then the same command flies the rest")
    outcomes = [outcome for _, outcome in results]
    successes = sum(o["success"] for o in outcomes)
    collisions = sum(o["collision"] for o in outcomes)
    print(f"collected {len(outcomes)} episodes into {out} ({successes} reached the target, {collisions} collided, "
          f"{sum(o['frames'] for o in outcomes)} frames)"
          + (f"; kept {len(done)} complete bags already there" if done else ""))
    return SUCCESS
