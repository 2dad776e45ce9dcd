"""The policy node's failsafe rules and IMU-at-frame lookup, without ROS (times in seconds)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lnn_control.ros.failsafe import Failsafe, NodeState, bound_command
from lnn_control.ros.imu_history import ImuHistory


def _fed(now: float = 10.0, timeout: float = 0.5) -> Failsafe:
    failsafe = Failsafe(timeout)
    failsafe.message_valid(failsafe.camera, now)
    failsafe.message_valid(failsafe.imu, now)
    return failsafe


def test_no_input_yet_is_stale():
    state, reason = Failsafe(0.5).state(0.0)
    assert state is NodeState.STALE and "no camera message received yet" in reason


def test_fresh_inputs_run_until_one_is_older_than_the_timeout():
    failsafe = _fed(now=10.0)
    assert failsafe.state(10.5)[0] is NodeState.RUNNING
    failsafe.message_valid(failsafe.camera, 10.4)
    state, reason = failsafe.state(10.51)
    assert state is NodeState.STALE and "no imu message for 0.510 s" in reason


def test_an_invalid_message_stops_until_the_next_valid_one():
    failsafe = _fed()
    failsafe.message_invalid(failsafe.imu, "NaN")
    state, reason = failsafe.state(10.01)
    assert state is NodeState.INVALID and reason == "invalid imu message: NaN"
    failsafe.message_valid(failsafe.imu, 10.02)
    assert failsafe.state(10.03)[0] is NodeState.RUNNING
    assert (failsafe.imu.valid_count, failsafe.imu.invalid_count) == (2, 1)


def test_disabled_wins_over_everything():
    failsafe = _fed()
    failsafe.message_invalid(failsafe.camera, "bad")
    failsafe.set_enabled(False)
    assert failsafe.state(99.0)[0] is NodeState.DISABLED


def test_clock_going_backwards_is_stale():
    state, reason = _fed(now=10.0).state(9.0)
    assert state is NodeState.STALE and "clock jumped back" in reason


@pytest.mark.parametrize("interrupt", [
    lambda f: f.state(11.0),                            # a gap seen by the watchdog
    lambda f: f.message_invalid(f.camera, "bad"),       # a refused message
    lambda f: f.set_enabled(False),                     # switched off
    lambda f: f.request_reset(),                        # ~/reset
])
def test_recurrent_state_is_reset_once_after_any_interruption(interrupt):
    failsafe = _fed()
    assert failsafe.take_reset()  # the very first step starts from a clean state
    assert not failsafe.take_reset()
    failsafe.state(10.1)
    assert not failsafe.take_reset(), "running normally must not reset"
    interrupt(failsafe)
    failsafe.set_enabled(True)
    failsafe.message_valid(failsafe.camera, 11.0)
    failsafe.message_valid(failsafe.imu, 11.0)
    assert failsafe.take_reset()
    assert not failsafe.take_reset()


def test_input_returning_after_a_gap_resets_even_between_watchdog_checks():
    failsafe = _fed(now=10.0)
    failsafe.take_reset()
    failsafe.message_valid(failsafe.imu, 10.9)  # 0.9 s without IMU, never noticed by state()
    assert failsafe.take_reset()


def test_commands_are_clipped_per_axis_and_non_finite_ones_refused():
    bounded = bound_command(np.array([3.0, -0.1, -9.0, 2.0], np.float32), 0.3, 0.5)
    assert bounded.tolist() == [0.3, pytest.approx(-0.1), -0.3, 0.5]
    assert np.all(np.abs(bounded[:3]) <= 0.3) and abs(bounded[3]) <= 0.5
    for bad in ([math.nan, 0, 0, 0], [0, 0, 0, math.inf], [0, 0, 0], [0, 0, 0, 0, 0]):
        assert bound_command(np.array(bad, np.float64), 1.0, 1.0) is None
    assert bound_command(np.zeros(4), 0.0, 0.0).tolist() == [0.0] * 4


def test_a_rovers_command_keeps_only_forward_speed_and_yaw_rate():
    bounded = bound_command(np.array([3.0, -0.7, 0.4, -2.0]), 0.5, 1.0, "rover")
    assert bounded.tolist() == [0.5, 0.0, 0.0, -1.0]
    assert bound_command(np.array([0.2, math.nan, 0.0, 0.0]), 0.5, 1.0, "rover") is None, "non-finite is refused"
    assert bound_command(np.array([0.2, -0.7, 0.4, 0.1]), 0.5, 1.0, "drone").tolist() == \
        [0.2, -0.5, 0.4, 0.1]


def test_imu_is_interpolated_at_the_frame_time():
    history = ImuHistory()
    assert history.at(1.0, max_gap=0.5) is None
    for k in range(5):
        history.add(1.0 + 0.005 * k, np.full(6, float(k)))
    np.testing.assert_allclose(history.at(1.0075, max_gap=0.5), np.full(6, 1.5))
    np.testing.assert_allclose(history.at(1.010, max_gap=0.5), np.full(6, 2.0))
    assert history.at(1.010, max_gap=0.5).dtype == np.float32
    np.testing.assert_array_equal(history.at(2.0, max_gap=0.5), np.full(6, 4.0))   # newest, never extrapolated
    np.testing.assert_array_equal(history.at(0.9, max_gap=0.5), np.full(6, 0.0))   # oldest, close enough
    np.testing.assert_array_equal(history.at(0.1, max_gap=0.5), np.full(6, 4.0))   # clocks disagree: newest


def test_imu_history_restarts_when_time_goes_back_and_is_bounded():
    history = ImuHistory(max_samples=3)
    for k in range(5):
        history.add(float(k), np.full(6, float(k)))
    assert len(history) == 3
    history.add(1.0, np.ones(6))
    assert len(history) == 1
