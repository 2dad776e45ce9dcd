"""Shared pytest fixtures."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property-based tests draw their examples from a fixed seed in the suite (a run never differs
# from the last); `--hypothesis-profile=explore` draws new, more examples.
settings.register_profile("ci", derandomize=True, deadline=None, database=None)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.load_profile("ci")

REPO_ROOT = Path(__file__).resolve().parent.parent
_domain_ids = itertools.count(start=(os.getpid() % 50) + 20)


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def ros_domain_id(monkeypatch) -> int:
    """A ROS_DOMAIN_ID of this test's own (set in os.environ for child processes too)."""
    domain = next(_domain_ids) % 100 + 100
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    monkeypatch.setenv("ROS_LOCALHOST_ONLY", "1")
    return domain
