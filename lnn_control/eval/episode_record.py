"""What one evaluated episode leaves behind, and the per-episode metrics computed from its flight.

One `EpisodeRecord` is one line of the episode log (JSON). Units: seconds of simulated time,
metres in the world frame, m/s^3 for jerk.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, fields

import numpy as np

from lnn_control.envs.outcome import Outcome

LOST_S = 2.0   # s: the target out of view this long (or longer) is lost
TRACE_DIGITS = 4   # decimals of the uncertainty trace's values


@dataclass(frozen=True)
class EpisodeRecord:
    """The outcome and metrics of policy `policy` flying episode `episode` (world seed `seed`)
    of `world` under `condition`.

    - `success`, `collision`, `timeout`, `time_s`, `path_length_m`, `distance_to_target_m`,
      `steps`: the episode's `Outcome` (how it ended, exactly one of the three; what was flown);
    - `mean_abs_jerk_m_s3`: mean |d^2 v_cmd / dt^2| of the commanded linear velocity (None for
      episodes shorter than three commands);
    - `wall_s`: wall-clock seconds;
    - what the flight looked like from the drone (`eval.episode.SightLog`; None in records
      written before they were kept): `target_in_view_fraction` of the decisions made with the
      target in the camera's view (`sim.visibility`), `target_out_of_view_at_end_s` since the
      target was last in view when the episode ended (0 if it was then), `max_tilt_deg` of the
      body from level, `target_lost_intervals_s`: [start, end] (simulated s) of every stretch
      of `LOST_S` or more with the target out of view (start: the first decision without it,
      end: the next with it, or the episode's end);
    - the policy's uncertainty (`Policy.uncertainty`, dimensionless; None for a policy without
      one, and in older records): `uncertainty_mean` and `uncertainty_max` over the decisions,
      and `uncertainty_trace` = {"start_s", "period_s", "values"}: decision i, at simulated time
      start_s + i * period_s, had uncertainty values[i] (rounded to `TRACE_DIGITS` decimals).
    """

    policy: str
    world: str
    condition: str
    episode: int
    seed: int
    success: bool
    collision: bool
    timeout: bool
    time_s: float
    path_length_m: float
    mean_abs_jerk_m_s3: float | None
    distance_to_target_m: float
    steps: int
    wall_s: float
    target_in_view_fraction: float | None = None
    target_out_of_view_at_end_s: float | None = None
    max_tilt_deg: float | None = None
    target_lost_intervals_s: list | None = None
    uncertainty_mean: float | None = None
    uncertainty_max: float | None = None
    uncertainty_trace: dict | None = None

    @property
    def key(self) -> tuple[str, str, str, int]:
        """Identifies the episode within a run: (policy, world, condition, episode index)."""
        return self.policy, self.world, self.condition, self.episode

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_outcome(cls, outcome: Outcome, *, policy: str, world: str, condition: str, episode: int, seed: int,
                     mean_abs_jerk_m_s3: float | None, wall_s: float, **measured) -> EpisodeRecord:
        """The record of an episode that ended with `outcome` (evaluation never stops one early)."""
        if outcome.stopped:
            raise ValueError(f"episode {episode} of {policy} was stopped early: it has no evaluation record")
        return cls(policy=policy, world=world, condition=condition, episode=episode, seed=seed,
                   success=outcome.success, collision=outcome.collision, timeout=outcome.timeout,
                   time_s=outcome.time_s, path_length_m=outcome.path_length_m, mean_abs_jerk_m_s3=mean_abs_jerk_m_s3,
                   distance_to_target_m=outcome.distance_to_target_m, steps=outcome.steps, wall_s=wall_s, **measured)

    @classmethod
    def from_dict(cls, values: dict) -> EpisodeRecord:
        required = [f.name for f in fields(cls) if f.default is MISSING]
        missing = [name for name in required if name not in values]
        if missing:
            raise ValueError(f"episode record lacks field {missing[0]!r}")
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


def uncertainty_fields(uncertainties: list[float | None], times_s: list[float]) -> dict:
    """The record's uncertainty fields from each decision's uncertainty and simulated time (s,
    evenly spaced by the control period); all None unless every decision had one."""
    if not uncertainties or any(u is None for u in uncertainties):
        return {"uncertainty_mean": None, "uncertainty_max": None, "uncertainty_trace": None}
    values = np.asarray(uncertainties, np.float64)
    period = round(float(np.median(np.diff(times_s))), 9) if len(times_s) > 1 else 0.0
    return {"uncertainty_mean": float(values.mean()), "uncertainty_max": float(values.max()),
            "uncertainty_trace": {"start_s": float(times_s[0]), "period_s": period,
                                  "values": [round(float(v), TRACE_DIGITS) for v in values]}}


def mean_abs_jerk(commands: np.ndarray, times_s: np.ndarray) -> float | None:
    """Mean |jerk| (m/s^3) of the commanded linear velocity: the norm of the second time
    derivative of [vx, vy, vz] (m/s), by finite differences over the times (s) each command
    was issued. None when fewer than three commands were issued."""
    velocity = np.asarray(commands, dtype=np.float64).reshape(len(commands), -1)[:, :3]
    times_s = np.asarray(times_s, dtype=np.float64).reshape(-1)
    if len(velocity) != len(times_s):
        raise ValueError(f"{len(velocity)} commands but {len(times_s)} command times")
    if len(velocity) < 3:
        return None
    step_s = np.diff(times_s)
    if np.any(step_s <= 0):
        raise ValueError("command times must increase strictly")
    acceleration = np.diff(velocity, axis=0) / step_s[:, None]
    jerk = np.diff(acceleration, axis=0) / (0.5 * (step_s[1:] + step_s[:-1]))[:, None]
    value = float(np.linalg.norm(jerk, axis=1).mean())
    return value if math.isfinite(value) else None
