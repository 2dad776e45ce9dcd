"""The policy node's failsafe: when it may fly the policy, and bounding what it commands.

No ROS here: times are float seconds on the node's clock (ROS time, so simulated time
under `use_sim_time`), which keeps the rules testable without a running node.

States, in order of precedence:
- `disabled`: switched off through `~/enable`;
- `invalid`: the latest camera or IMU message could not be used (until the next valid one);
- `stale`: no valid camera or IMU message for longer than `watchdog_timeout`
  (or none yet, or the clock jumped backwards);
- `running`: the policy's commands go out.
In every state but `running` the node commands zero velocity (hover). Leaving `running`
marks the recurrent state for a reset, so the policy restarts from a clean state when
input returns after a gap.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from lnn_control.vehicles import drive_only


class NodeState(enum.StrEnum):
    RUNNING = "running"
    STALE = "stale"
    INVALID = "invalid"
    DISABLED = "disabled"


@dataclass
class InputMonitor:
    """One input stream (camera or IMU): when it last delivered a usable message, and
    why the latest message was refused if it was."""

    name: str
    last_valid_time: float | None = None
    fault: str | None = None
    valid_count: int = 0
    invalid_count: int = 0

    def age(self, now: float) -> float:
        """Seconds since the last valid message (inf if none yet)."""
        return math.inf if self.last_valid_time is None else now - self.last_valid_time


class Failsafe:
    """Decides the node's state from its inputs, and remembers whether the policy's
    recurrent state must be reset before the next step."""

    def __init__(self, watchdog_timeout: float):
        self.watchdog_timeout = watchdog_timeout
        self.enabled = True
        self.camera = InputMonitor("camera")
        self.imu = InputMonitor("imu")
        self._reset_pending = True

    def message_valid(self, monitor: InputMonitor, now: float) -> None:
        """Record a usable message; input returning after a gap or a fault asks for a reset."""
        if monitor.fault is not None or not 0.0 <= monitor.age(now) <= self.watchdog_timeout:
            self._reset_pending = True
        monitor.last_valid_time = now
        monitor.fault = None
        monitor.valid_count += 1

    def message_invalid(self, monitor: InputMonitor, reason: str) -> None:
        """Record a refused message: zero commands until the next valid one."""
        monitor.fault = reason
        monitor.invalid_count += 1
        self._reset_pending = True

    def set_enabled(self, enabled: bool) -> None:
        if enabled != self.enabled:
            self._reset_pending = True
        self.enabled = enabled

    def request_reset(self) -> None:
        """Ask for a reset of the recurrent state before the next step (`~/reset`)."""
        self._reset_pending = True

    def state(self, now: float) -> tuple[NodeState, str]:
        """The node's state at `now` and a one-line reason; anything but running asks for a reset."""
        state, reason = self._evaluate(now)
        if state is not NodeState.RUNNING:
            self._reset_pending = True
        return state, reason

    def take_reset(self) -> bool:
        """True once after a reset was asked for (the caller resets the policy)."""
        pending, self._reset_pending = self._reset_pending, False
        return pending

    def _evaluate(self, now: float) -> tuple[NodeState, str]:
        if not self.enabled:
            return NodeState.DISABLED, "disabled through ~/enable"
        for monitor in (self.camera, self.imu):
            if monitor.fault is not None:
                return NodeState.INVALID, f"invalid {monitor.name} message: {monitor.fault}"
        for monitor in (self.camera, self.imu):
            age = monitor.age(now)
            if monitor.last_valid_time is None:
                return NodeState.STALE, f"no {monitor.name} message received yet"
            if age < 0.0:
                return NodeState.STALE, f"clock jumped back {-age:.3f} s since the last {monitor.name} message"
            if age > self.watchdog_timeout:
                return NodeState.STALE, (f"no {monitor.name} message for {age:.3f} s "
                                         f"(watchdog_timeout {self.watchdog_timeout} s)")
        return NodeState.RUNNING, "running"


def bound_command(cmd: np.ndarray, max_linear_speed: float, max_yaw_rate: float,
                  vehicle: str = "drone") -> np.ndarray | None:
    """`cmd` [vx, vy, vz, yaw_rate] clipped per axis to ±max_linear_speed (m/s) and
    ±max_yaw_rate (rad/s), the components `vehicle` does not drive (a rover's vy and vz) set to
    exactly 0; None if it is not 4 finite numbers.

    float64, the type of `geometry_msgs/Twist`, so a clipped value equals its limit exactly.
    """
    cmd = np.asarray(cmd, dtype=np.float64).reshape(-1)
    if cmd.shape != (4,) or not np.all(np.isfinite(cmd)):
        return None
    limits = np.array([max_linear_speed] * 3 + [max_yaw_rate])
    return drive_only(np.clip(cmd, -limits, limits), vehicle)
