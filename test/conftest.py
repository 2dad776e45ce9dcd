"""Shared pytest fixtures."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from ros_domains import domain_of_its_own

# Property-based tests draw their examples from a fixed seed in the suite (a run never differs
# from the last); `--hypothesis-profile=explore` draws new, more examples.
settings.register_profile("ci", derandomize=True, deadline=None, database=None)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.load_profile("ci")

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def ros_domain_id() -> Iterator[int]:
    """A ROS_DOMAIN_ID of this test's own, held by no other test running now (set in os.environ
    for child processes too); released after the test's other fixtures have stopped its processes."""
    with domain_of_its_own() as domain:
        yield domain


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """A random-weight CfC policy (seed 0): what the node tests run, to check the plumbing rather
    than the flying. Made without touching torch's global random state."""
    import torch

    from lnn_control.policy import PolicySpec, build_network, save_checkpoint

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = build_network(PolicySpec(kind="cfc"))
    return save_checkpoint(tmp_path_factory.mktemp("policy") / "random_cfc.pt", network)
