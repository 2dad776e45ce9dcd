"""ROS_DOMAIN_IDs for tests: each ROS test (or test class) gets one that no other test uses
while it runs, on this machine, in this run or in any other run at the same time.

A domain is claimed with an exclusive `flock` on a file in the system's temporary folder; the
kernel drops the lock when the claiming process ends, however it ends, so a crashed run never
keeps a domain. Domains are handed out in turn (starting at a random one), so a test does not
inherit the domain the previous test has just released.
"""
from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

#: 0 is every ROS 2 program's default; from 102 on the DDS ports reach Linux's ephemeral port range.
DOMAINS = range(1, 100)
LOCK_DIR = Path(tempfile.gettempdir()) / "lnn_control_ros_domains"
_turn = itertools.count(random.randrange(len(DOMAINS)))


class DomainClaim:
    """A claimed ROS_DOMAIN_ID; `release()` (or the end of this process) frees it."""

    def __init__(self, domain: int, fd: int):
        self.domain = domain
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops the lock
            self._fd = None


def claim_domain() -> DomainClaim:
    """The next ROS_DOMAIN_ID in turn that no other test holds."""
    LOCK_DIR.mkdir(exist_ok=True)
    for _ in range(len(DOMAINS)):
        domain = DOMAINS[next(_turn) % len(DOMAINS)]
        fd = os.open(LOCK_DIR / f"{domain}.lock", os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return DomainClaim(domain, fd)
    raise RuntimeError(f"every ROS_DOMAIN_ID in {DOMAINS} is held by a running test (locks in {LOCK_DIR})")


def ros_environment(domain: int) -> dict[str, str]:
    """The environment that puts this process's children on `domain`, discovering on this host only
    (`ROS_AUTOMATIC_DISCOVERY_RANGE`; ROS 2 Kilted no longer reads `ROS_LOCALHOST_ONLY`)."""
    return {"ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}


@contextlib.contextmanager
def domain_of_its_own() -> Iterator[int]:
    """A claimed ROS_DOMAIN_ID, set in os.environ (for child processes too) until the block ends;
    released then."""
    claim = claim_domain()
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in ros_environment(claim.domain).items():
                patch.setenv(name, value)
            patch.delenv("ROS_LOCALHOST_ONLY", raising=False)
            yield claim.domain
    finally:
        claim.release()
