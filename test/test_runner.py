"""The backends' workers run at the caller's priority: Ray starts its own at niceness 15, and
there they starved beside any other load (importing torch took 77 s instead of 5 on a busy
2-core machine)."""
from __future__ import annotations

import os
import sys

import pytest

from lnn_control.rollout.runner import run_jobs


class NicenessWorker:
    """Answers every job with the niceness of the process it runs in."""

    def run(self, job: int) -> tuple[int, int]:
        return job, os.nice(0)

    def close(self) -> None:
        pass


@pytest.mark.parametrize("backend", ["process", "ray"])
def test_workers_run_at_the_callers_niceness(backend, monkeypatch):
    if backend == "ray":
        pytest.importorskip("ray", reason="Ray is an optional extra (pip install -r requirements/extras.txt)")
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
        monkeypatch.delenv("RAY_worker_niceness", raising=False)
        from ray import cloudpickle
        cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray's workers cannot import test modules
    results = []
    run_jobs([0, 1], NicenessWorker, (), 2, backend, results.append)
    assert sorted(results) == [(0, os.nice(0)), (1, os.nice(0))]
