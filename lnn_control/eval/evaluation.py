"""An evaluation run: every episode of a plan, flown into one folder, then its results.

```python
summary = evaluate(EvalRun(plan=plan, out_dir=Path("runs/eval"), workers=2))
```
Writes OUT/run.json and OUT/episodes.jsonl as it goes (one line per finished episode, so an
interrupted run loses nothing and `resume=True` continues it), then OUT/results.json,
results.md, results.png, and for the filmed conditions OUT/videos/<world>_<condition>.mp4.
Used by `lnn-control eval`, `lnn-control demo` and bench/bench_eval.py.
"""
from __future__ import annotations

import re
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from lnn_control.eval.episode_log import EpisodeLog, open_run
from lnn_control.eval.plan import EpisodeJob, EvalPlan
from lnn_control.eval.results import write_results
from lnn_control.eval.summary import summarize
from lnn_control.eval.worker import EpisodeResult, EpisodeWorker, WorkerSettings
from lnn_control.policy import CheckpointError, load_policy
from lnn_control.policy.saliency import METHODS
from lnn_control.rollout.runner import check_backend, run_jobs

VIDEO_DIR = "videos"


@dataclass(frozen=True)
class EvalRun:
    """An evaluation to make: the plan, and how and where to run it. `time_limit_s`: simulated
    seconds per episode (None: each world's own); `saliency`: a method of `policy.saliency.METHODS`
    whose map the videos show over the camera pane; `command`: how it was started, for results.json."""

    plan: EvalPlan
    out_dir: Path
    workers: int = 1
    backend: str = "process"
    resume: bool = False
    video_conditions: Collection[str] = ()
    time_limit_s: float | None = None
    saliency: str | None = None
    command: str = "lnn-control eval"


def evaluate(run: EvalRun) -> dict:
    """Fly every episode of `run.plan` not yet on disk, then write and return the results.
    ValueError (a bad time limit or checkpoint), RunDirectoryError (the folder holds another
    plan, or a run without `resume`), BackendUnavailableError: nothing was flown."""
    if run.time_limit_s is not None and not run.time_limit_s > 0:
        raise ValueError(f"--time-limit must be a positive number of seconds, got {run.time_limit_s}")
    _check_saliency(run)
    check_backend(run.backend, run.workers)
    _check_checkpoints(run.plan)
    identity = {**run.plan.identity(), "time_limit_s": run.time_limit_s}
    log = open_run(run.out_dir, identity, run.resume)
    jobs = pending_jobs(run, log)
    total = len(run.plan.jobs())
    started = time.perf_counter()
    with tqdm(total=total, initial=total - len(jobs), desc="episodes", unit="ep", dynamic_ncols=True) as progress:
        def on_result(result: EpisodeResult) -> None:
            log.append(result.record)
            if result.video_mp4 is not None:
                path = video_path(run.out_dir, result.record.world, result.record.condition)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(result.video_mp4)
            progress.update()

        settings = WorkerSettings.for_plan(run.plan, run.time_limit_s, run.saliency)
        run_jobs(jobs, EpisodeWorker, (settings,), run.workers, run.backend, on_result)
    summary = summarize(run.plan, log.read())
    write_results(run.out_dir, summary, _method(run, jobs, time.perf_counter() - started))
    return summary


def pending_jobs(run: EvalRun, log: EpisodeLog) -> list[EpisodeJob]:
    """The plan's episodes not on disk yet; a filmed episode whose video is missing is flown again."""
    done = {record.key for record in log.read()}
    def missing_video(job: EpisodeJob) -> bool:
        return job.video and not video_path(run.out_dir, job.world, job.condition.name).is_file()

    return [job for job in run.plan.jobs(run.video_conditions) if job.key not in done or missing_video(job)]


def video_path(out_dir: Path, world: str, condition: str) -> Path:
    """OUT/videos/<world>_<condition>.mp4, with characters unsafe in a file name replaced by '-'."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{world}_{condition}")
    return Path(out_dir) / VIDEO_DIR / f"{safe}.mp4"


def _check_saliency(run: EvalRun) -> None:
    if run.saliency is None:
        return
    if run.saliency not in METHODS:
        raise ValueError(f"--saliency {run.saliency!r} is not one of {', '.join(METHODS)}")
    if not run.video_conditions:
        raise ValueError("--saliency draws on the videos: it needs --video")
    filmed = run.plan.policies[0]
    if filmed.kind != "checkpoint":
        raise ValueError(f"--saliency: the filmed policy (the first, {filmed.label!r}) has no network to explain; "
                         "put a checkpoint first")


def _check_checkpoints(plan: EvalPlan) -> None:
    """Load each checkpoint once here, so a bad file stops the run before any worker starts."""
    for policy in plan.policies:
        if policy.kind == "checkpoint":
            try:
                load_policy(policy.path)
            except CheckpointError as error:
                raise ValueError(str(error)) from None


def _method(run: EvalRun, jobs: list[EpisodeJob], wall_s: float) -> dict:
    """results.json's `method`: how the results were measured (`wall_s`: this invocation's seconds)."""
    return {"command": run.command, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "episodes": run.plan.episodes,
            "seeds": list(run.plan.seeds), "vehicle": run.plan.vehicle, "time_limit_s": run.time_limit_s,
            "workers": run.workers,
            "backend": run.backend, "episodes_flown_now": len(jobs), "wall_s": wall_s,
            "policies": [p.to_dict() for p in run.plan.flown_policies],
            "reference": "expert (path length yardstick, same seeds and conditions)"}
