"""Run episode jobs on a backend and hand each result back the moment it finishes.

A worker is an object made from `worker_class(*worker_args)` with `run(job) -> result` and
`close()`; it may keep environments and policies between jobs. Backends: "process" — the
calling process for one worker, otherwise a pool of K spawned worker processes; "ray" — K Ray
actors, on a local Ray instance or the cluster in RAY_ADDRESS (Ray is an optional extra:
requirements/extras.txt). Every backend runs the same worker class, so it flies the same
episodes; results arrive in completion order. `collect` and `eval` both run here.
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence

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


def run_jobs(jobs: Sequence, worker_class: type, worker_args: tuple, workers: int, backend: str,
             on_result: Callable[[object], None]) -> None:
    """Run `jobs` on `workers` workers (`worker_class(*worker_args)`) on `backend`, calling
    `on_result` in this process for each finished job (in completion order)."""
    check_backend(backend, workers)
    if not jobs:
        return
    if backend == "ray":
        results = _on_ray(jobs, worker_class, worker_args, workers)
    else:
        results = _in_processes(jobs, worker_class, worker_args, workers)
    for result in results:
        on_result(result)


def _in_processes(jobs: Sequence, worker_class: type, worker_args: tuple, workers: int) -> Iterator:
    if workers == 1:
        worker = worker_class(*worker_args)
        try:
            for job in jobs:
                yield worker.run(job)
        finally:
            worker.close()
        return
    # spawn, not fork: PyBullet clients and torch thread pools must not be inherited.
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(workers, len(jobs)), initializer=_start_pool_worker,
                      initargs=(worker_class, worker_args)) as pool:
        yield from pool.imap_unordered(_run_in_pool_worker, jobs, chunksize=1)


_pool_worker = None  # one per pool process, made by the pool's initializer


def _start_pool_worker(worker_class: type, worker_args: tuple) -> None:
    global _pool_worker
    _pool_worker = worker_class(*worker_args)


def _run_in_pool_worker(job):
    return _pool_worker.run(job)


def _import_ray():
    try:
        import ray
    except ImportError as error:
        raise BackendUnavailableError(f"--backend ray needs Ray ({error}); install the optional extra: "
                                      f"pip install -r requirements/extras.txt") from None
    return ray


def _on_ray(jobs: Sequence, worker_class: type, worker_args: tuple, workers: int) -> Iterator:
    ray = _import_ray()
    from ray.util import ActorPool

    started_here = not ray.is_initialized()
    if started_here:
        if os.environ.get("RAY_ADDRESS"):
            ray.init()  # join the cluster
        else:
            # Ray starts its workers at niceness 15; ours are the work itself, as the processes
            # backend's are, and at 15 they starve beside any other load (torch's import alone went
            # from 5 s to 77 s on a busy 2-core machine). RAY_worker_niceness set by the user wins.
            os.environ.setdefault("RAY_worker_niceness", "0")
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        actor = ray.remote(num_cpus=1)(worker_class)
        pool = ActorPool([actor.remote(*worker_args) for _ in range(min(workers, len(jobs)))])
        yield from pool.map_unordered(lambda worker, job: worker.run.remote(job), jobs)
    finally:
        if started_here:
            ray.shutdown()
