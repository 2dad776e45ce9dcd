"""How an episode ended and what the flight measured: the one outcome type.

The environment's `info` says at every step how the episode stands (`success`, `collision`,
`timeout`: at most one true, decided by the simulator); `Outcome.from_flight` turns the last
`info` and the positions flown into the episode's outcome. `lnn_control.rollout.fly` makes it
so, once per episode; the bags' custom_data (`lnn_control.outcome`), `sim_node`'s
`episode/outcome` messages and `lnn-control eval`'s episode records all carry its fields
(`to_dict()`), under the same names.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Outcome:
    """The end of one episode. At most one of `success`, `collision`, `timeout`, `stopped` is
    true (in that order of precedence); none while the episode is still running.

    - `success`: came within the target's success radius; `collision`: touched anything (the
      ground included); `timeout`: reached the world's time limit; `stopped`: ended by whoever
      flew it before any of those (a cap on simulated time, a reset request);
    - `time_s`: simulated seconds flown; `distance_to_target_m`: at the end (m);
    - `path_length_m`: distance flown (m, world frame, through the positions after each
      decision); `steps`: decisions the pilot made (a frame dropped by a shift is flown on the
      held command, within the step of the decision before it).
    """

    success: bool
    collision: bool
    timeout: bool
    stopped: bool
    time_s: float
    distance_to_target_m: float
    path_length_m: float
    steps: int

    @classmethod
    def from_flight(cls, info: dict, positions, stopped: bool) -> Outcome:
        """The outcome of an episode whose last environment step gave `info`; `positions` (N x 3,
        m, world) are the drone's at the reset and after each decision's step; `stopped`: the
        caller ended it (it counts only if nothing else ended it)."""
        ended = info["success"] or info["collision"] or info["timeout"]
        return cls(success=bool(info["success"]), collision=bool(info["collision"]), timeout=bool(info["timeout"]),
                   stopped=stopped and not ended, time_s=float(info["sim_time"]),
                   distance_to_target_m=float(info["distance_to_target"]),
                   path_length_m=path_length_m(np.array(positions)), steps=len(positions) - 1)

    @property
    def ended(self) -> bool:
        return self.success or self.collision or self.timeout or self.stopped

    def to_dict(self) -> dict:
        return asdict(self)


def path_length_m(positions) -> float:
    """Length (m) of the polyline through `positions` (N x 3, world frame)."""
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    if len(positions) < 2:
        return 0.0
    return float(np.linalg.norm(np.diff(positions, axis=0), axis=1).sum())
