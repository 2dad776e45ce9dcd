"""What the policy node reports on `/diagnostics`: input rates, step latency and its state."""
from __future__ import annotations

import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from lnn_control.ros.failsafe import NodeState

_LEVELS = {
    NodeState.RUNNING: DiagnosticStatus.OK,
    NodeState.DISABLED: DiagnosticStatus.OK,
    NodeState.STALE: DiagnosticStatus.WARN,
    NodeState.INVALID: DiagnosticStatus.WARN,
}


class WindowStats:
    """Events and their durations (ms) since the last report; `take()` starts a new window."""

    def __init__(self, start_time: float):
        self._clear(start_time)

    def _clear(self, start_time: float) -> None:
        self._start = start_time
        self._count = 0
        self._total_ms = 0.0
        self._max_ms = 0.0

    def add(self, duration_ms: float = 0.0) -> None:
        self._count += 1
        self._total_ms += duration_ms
        self._max_ms = max(self._max_ms, duration_ms)

    def take(self, now: float) -> dict[str, float]:
        """rate (events/s over the window), mean_ms and max_ms; then an empty window from `now`."""
        span = now - self._start
        stats = {
            "rate": self._count / span if span > 0 else math.nan,
            "mean_ms": self._total_ms / self._count if self._count else math.nan,
            "max_ms": self._max_ms if self._count else math.nan,
        }
        self._clear(now)
        return stats


def diagnostic_array(stamp, name: str, hardware_id: str, state: NodeState, reason: str,
                     values: dict[str, object]) -> DiagnosticArray:
    """One `DiagnosticStatus` for the node: level OK when running or disabled, WARN when
    stale or invalid; `values` become key/value pairs (floats with 4 significant digits)."""
    status = DiagnosticStatus(level=_LEVELS[state], name=name, hardware_id=hardware_id,
                              message=f"{state.value}: {reason}" if state is not NodeState.RUNNING else state.value)
    status.values = [KeyValue(key="state", value=state.value)] + [
        KeyValue(key=key, value=f"{value:.4g}" if isinstance(value, float) else str(value))
        for key, value in values.items()
    ]
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array
