"""The operator takeover's rules (lnn_control.ros.teleop), without ROS (times in seconds)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lnn_control.ros.teleop import TeleopMux

POLICY = np.array([1.0, 0.0, 0.0, 0.1])
OPERATOR = np.array([0.0, 0.5, -0.2, -0.3])


def _held(now: float = 10.0, timeout: float = 0.5) -> TeleopMux:
    mux = TeleopMux(timeout)
    mux.deadman(True, now)
    assert mux.operator_command(OPERATOR, now) is None
    return mux


def test_the_operator_flies_while_the_deadman_is_held_and_their_command_is_fresh():
    mux = _held()
    command, operator = mux.select(POLICY, 10.2)
    assert operator and np.array_equal(command, OPERATOR)
    assert mux.takeovers == 1


@pytest.mark.parametrize("case", ["no deadman yet", "deadman released", "deadman stale", "command stale",
                                  "no command yet"])
def test_otherwise_the_policy_flies(case):
    mux = TeleopMux(0.5)
    if case != "no deadman yet":
        mux.deadman(case != "deadman released", 9.0 if case == "deadman stale" else 10.0)
    if case != "no command yet":
        mux.operator_command(OPERATOR, 9.0 if case == "command stale" else 10.0)
    command, operator = mux.select(POLICY, 10.1)
    assert not operator and np.array_equal(command, POLICY) and mux.takeovers == 0


def test_a_joystick_that_stops_publishing_hands_back_after_the_timeout():
    mux = _held(now=10.0)
    assert mux.select(POLICY, 10.5)[1], "exactly the timeout old is still fresh"
    assert not mux.select(POLICY, 10.51)[1]
    mux.deadman(True, 10.6)    # the deadman alone does not bring the operator back: their command is old
    assert not mux.select(POLICY, 10.6)[1]
    mux.operator_command(OPERATOR, 10.7)
    assert mux.select(POLICY, 10.7)[1] and mux.takeovers == 2


def test_a_non_finite_operator_command_is_refused_and_stands_as_zero():
    mux = _held()
    reason = mux.operator_command([0.1, math.nan, 0.0, 0.0], 10.1)
    assert reason and "not 4 finite numbers" in reason and mux.refused == 1
    command, operator = mux.select(POLICY, 10.2)
    assert operator and np.array_equal(command, np.zeros(4)), "hover, neither the policy nor the old command"
    assert mux.operator_command([0.1, 0.2, 0.3], 10.3) is not None, "three numbers are refused too"
    mux.operator_command(OPERATOR, 10.4)
    assert np.array_equal(mux.select(POLICY, 10.5)[0], OPERATOR)


def test_not_allowed_means_the_given_command_and_ends_the_takeover():
    mux = _held()
    assert mux.select(POLICY, 10.1)[1]
    command, operator = mux.select(np.zeros(4), 10.2, allowed=False)
    assert not operator and np.array_equal(command, np.zeros(4))
    assert mux.select(POLICY, 10.3)[1] and mux.takeovers == 2


def test_a_clock_jumping_back_is_not_fresh():
    assert not _held(now=10.0).select(POLICY, 9.0)[1]


def test_takeover_time_runs_from_the_first_decision_to_the_first_after_it():
    mux = _held(now=10.0, timeout=0.5)
    mux.select(POLICY, 10.1)
    assert mux.takeover_s(10.3) == pytest.approx(0.2), "the takeover in progress counts"
    mux.deadman(False, 10.4)
    mux.select(POLICY, 10.45)
    assert mux.takeover_s(12.0) == pytest.approx(0.35)
    mux.deadman(True, 13.0)
    mux.operator_command(OPERATOR, 13.0)
    for now in (13.0, 13.05, 13.1):
        mux.select(POLICY, now)
    mux.select(POLICY, 13.7)    # both stale by now
    assert mux.takeovers == 2 and mux.takeover_s(20.0) == pytest.approx(0.35 + 0.7)
