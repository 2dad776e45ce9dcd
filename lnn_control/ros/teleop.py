"""The operator's takeover in the policy node: which command goes out, the policy's or the operator's.

A mux as twist_mux makes one (an input with priority over another, a timeout per input, and a
lock topic), with HG-DAgger's semantics (Kelly et al. 2019): while the operator holds the
deadman they fly the drone entirely, and the policy keeps following the flight so that it can
take back smoothly when they let go.

No ROS here: times are float seconds on the node's clock (simulated time under `use_sim_time`),
commands float [vx, vy, vz, yaw_rate] (m/s, rad/s, heading frame), so the rules are tested
without a running node.

The rules:
- the operator flies while the deadman (`teleop/enable`) was last held (True) and that message
  is at most `timeout` old, AND their latest command (`teleop/cmd_vel`) is at most `timeout`
  old: a joystick that stops publishing, or a deadman released or no longer repeated, hands
  back within `timeout`;
- an operator command that is not 4 finite numbers is refused and stands as zero (hover) for
  its `timeout`: the operator asked for control, so neither their previous command nor the
  policy's may fly instead;
- a message stamped in the future of the node's clock (the clock jumped back) is not fresh;
- the caller may forbid a takeover for one decision (`allowed=False`: the node is disabled
  through `~/enable`, or shutting down): zero stays zero;
- a takeover is counted when it starts; its time runs from the first decision it made to the
  first decision after it ended.
"""
from __future__ import annotations

import math

import numpy as np

from lnn_control.ros.failsafe import bound_command

ZERO_COMMAND = np.zeros(4)
ZERO_COMMAND.setflags(write=False)


class TeleopMux:
    """Chooses between the policy's command and the operator's (the rules are in the module
    docstring). `takeovers` counts takeovers so far, `takeover_s(now)` their total time (s),
    `refused` the operator commands refused as non-finite."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.takeovers = 0
        self.refused = 0
        self._deadman = False
        self._deadman_time = -math.inf
        self._command = ZERO_COMMAND
        self._command_time = -math.inf
        self._flying_since: float | None = None
        self._finished_s = 0.0

    def deadman(self, held: bool, now: float) -> None:
        """A `teleop/enable` message arrived at `now`."""
        self._deadman, self._deadman_time = bool(held), now

    def operator_command(self, command, now: float) -> str | None:
        """A `teleop/cmd_vel` command arrived at `now`; why it was refused (None if it was not)."""
        self._command_time = now
        vector = np.asarray(command, dtype=np.float64).reshape(-1)
        if bound_command(vector, math.inf, math.inf) is None:
            self._command = ZERO_COMMAND
            self.refused += 1
            return f"operator command {vector.tolist()} is not 4 finite numbers: hovering"
        self._command = vector
        return None

    def flying(self, now: float) -> bool:
        """Whether the operator has the drone at `now`: deadman held and fresh, command fresh."""
        return self._deadman and self._fresh(self._deadman_time, now) and self._fresh(self._command_time, now)

    def select(self, policy_command: np.ndarray, now: float, allowed: bool = True) -> tuple[np.ndarray, bool]:
        """The command to publish at `now` and whether it is the operator's; counts the takeovers."""
        flying = allowed and self.flying(now)
        if flying and self._flying_since is None:
            self._flying_since = now
            self.takeovers += 1
        elif not flying and self._flying_since is not None:
            self._finished_s += max(0.0, now - self._flying_since)
            self._flying_since = None
        return (self._command, True) if flying else (policy_command, False)

    def takeover_s(self, now: float) -> float:
        """Seconds the operator has flown in all, the takeover in progress included."""
        ongoing = 0.0 if self._flying_since is None else max(0.0, now - self._flying_since)
        return self._finished_s + ongoing

    def _fresh(self, received: float, now: float) -> bool:
        return 0.0 <= now - received <= self.timeout
