"""Run episode jobs on a backend and hand each result back the moment it finishes.

Backends: "process" — the main process for one worker, otherwise a pool of K spawned worker
processes; "ray" — K Ray actors, on a local Ray instance or the cluster in RAY_ADDRESS (Ray is
an optional extra: requirements/extras.txt). All run `EpisodeWorker`, so they fly the same
episodes; results arrive in completion order.
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Callable, Iterator, Sequence

from lnn_control.eval.plan import EpisodeJob
from lnn_control.eval.worker import EpisodeResult, EpisodeWorker, WorkerSettings

BACKENDS = ("process", "ray")


class BackendUnavailableError(RuntimeError):
    """The chosen backend cannot run here (e.g. Ray not installed)."""


def check_backend(backend: str, workers: int) -> None:
    """Raise (ValueError, BackendUnavailableError) unless `workers` workers can run on `backend` here."""
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "ray":
        _import_ray()


def run_jobs(jobs: Sequence[EpisodeJob], settings: WorkerSettings, workers: int, backend: str,
             on_result: Callable[[EpisodeResult], None]) -> None:
    """Fly `jobs` with `workers` workers on `backend`, calling `on_result` in this process for
    each finished episode (in completion order)."""
    check_backend(backend, workers)
    if not jobs:
        return
    results = _on_ray(jobs, settings, workers) if backend == "ray" else _in_processes(jobs, settings, workers)
    for result in results:
        on_result(result)


def _in_processes(jobs: Sequence[EpisodeJob], settings: WorkerSettings, workers: int) -> Iterator[EpisodeResult]:
    if workers == 1:
        worker = EpisodeWorker(settings)
        try:
            for job in jobs:
                yield worker.run(job)
        finally:
            worker.close()
        return
    # spawn, not fork: PyBullet clients and torch thread pools must not be inherited.
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(workers, len(jobs)), initializer=_start_pool_worker, initargs=(settings,)) as pool:
        yield from pool.imap_unordered(_run_in_pool_worker, jobs, chunksize=1)


_pool_worker: EpisodeWorker | None = None  # one per pool process, made by the pool's initializer


def _start_pool_worker(settings: WorkerSettings) -> None:
    global _pool_worker
    _pool_worker = EpisodeWorker(settings)


def _run_in_pool_worker(job: EpisodeJob) -> EpisodeResult:
    return _pool_worker.run(job)


def _import_ray():
    try:
        import ray
    except ImportError as error:
        raise BackendUnavailableError(f"--backend ray needs Ray ({error}); install the optional extra: "
                                      f"pip install -r requirements/extras.txt") from None
    return ray


def _on_ray(jobs: Sequence[EpisodeJob], settings: WorkerSettings, workers: int) -> Iterator[EpisodeResult]:
    ray = _import_ray()
    from ray.util import ActorPool

    started_here = not ray.is_initialized()
    if started_here:
        if os.environ.get("RAY_ADDRESS"):
            ray.init()  # join the cluster
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        actor = ray.remote(num_cpus=1)(EpisodeWorker)
        pool = ActorPool([actor.remote(settings) for _ in range(min(workers, len(jobs)))])
        yield from pool.map_unordered(lambda worker, job: worker.run.remote(job), jobs)
    finally:
        if started_here:
            ray.shutdown()
