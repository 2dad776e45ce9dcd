"""Slowing down where the policy is unsure: speed limits that shrink as its uncertainty rises.

The curve, for an uncertainty u (`Policy.uncertainty`, dimensionless, 0 = an ensemble's
members agree) and the two thresholds `low` < `stop`:

    scale(u) = 1                         for u <= low
             = (stop - u) / (stop - low) for low < u < stop   (linear, from 1 down to 0)
             = 0                         for u >= stop, or u not finite

The linear speed limit becomes scale(u) x max_linear_speed (each of |vx|, |vy|, |vz| is
clipped to it), so the drone slows as the members disagree and has come to a stop by
`stop`; the yaw-rate limit stays, so it may still turn to look around, until u reaches `stop`,
where the whole command is zero (hover). Used by `policy_node` (`slow_down:=true`) and by
evaluation's `PolicyPilot` (`lnn-control eval --slow-down`), so the same rule is measured in
simulation that flies on the robot.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Defaults from the first K = 5 CfC ensemble (config/model_recipe.yaml, shortened): low a little above
# the 95th percentile of its uncertainty in the forest without a shift, stop above the largest seen there.
# The scale of disagreement depends on the model: calibrate both on your model's in-distribution flights
# (`SlowDown.calibrated`; every evaluation's results.md proposes the pair from its forest flights without
# a shift, `slow_down_calibration`).
DEFAULT_LOW = 0.03
DEFAULT_STOP = 0.08
CALIBRATION_QUANTILE = 0.95   # low: this quantile of the in-distribution decisions' uncertainty
STOP_MARGIN = 1.25            # stop: this many times the largest in-distribution uncertainty


@dataclass(frozen=True)
class SlowDown:
    """The slow-down curve between `low` and `stop` (dimensionless uncertainties, 0 <= low < stop)."""

    low: float = DEFAULT_LOW
    stop: float = DEFAULT_STOP

    def __post_init__(self):
        if not (math.isfinite(self.low) and math.isfinite(self.stop) and 0.0 <= self.low < self.stop):
            raise ValueError(f"slow-down thresholds need 0 <= low < stop, got low {self.low!r} and stop {self.stop!r}")

    @classmethod
    def parse(cls, text: str) -> SlowDown:
        """'LOW:STOP' (e.g. '0.05:0.25'); ValueError naming the text if it is not that."""
        try:
            low, stop = (float(part) for part in text.split(":"))
        except ValueError:
            raise ValueError(f"slow-down {text!r}: expected LOW:STOP, two uncertainties such as "
                             f"{DEFAULT_LOW:g}:{DEFAULT_STOP:g}") from None
        return cls(low, stop)

    @classmethod
    def calibrated(cls, uncertainties) -> SlowDown:
        """The curve for a policy whose decisions in flights like its training ones (in
        distribution) had these uncertainties: full speed up to their `CALIBRATION_QUANTILE`
        quantile, stopped at `STOP_MARGIN` times the largest, so an in-distribution flight slows
        down in about 5% of its decisions and never hovers. ValueError if none is finite."""
        values = np.asarray(uncertainties, np.float64).ravel()
        values = values[np.isfinite(values)]
        if values.size == 0:
            raise ValueError("slow-down calibration needs at least one finite uncertainty")
        low = float(np.quantile(values, CALIBRATION_QUANTILE))
        stop = STOP_MARGIN * float(values.max())
        return cls(round(low, 4), round(max(stop, low + 1e-4), 4))

    def __str__(self) -> str:
        """'LOW:STOP', as `parse` and `eval --slow-down` take it."""
        return f"{self.low:g}:{self.stop:g}"

    def scale(self, uncertainty: float) -> float:
        """The factor on the linear speed limit, 1 (unsure of nothing) to 0 (stopped)."""
        if not math.isfinite(uncertainty) or uncertainty >= self.stop:
            return 0.0
        if uncertainty <= self.low:
            return 1.0
        return (self.stop - uncertainty) / (self.stop - self.low)

    def limit(self, command, uncertainty: float, max_linear_speed: float, max_yaw_rate: float) -> np.ndarray:
        """`command` [vx, vy, vz, yaw_rate] (m/s, rad/s) within the limits this uncertainty leaves:
        zero at or above `stop`."""
        scale = self.scale(uncertainty)
        if scale == 0.0:
            return np.zeros(4, np.float32)
        linear = scale * max_linear_speed
        bounds = np.array([linear, linear, linear, max_yaw_rate], np.float64)
        return np.clip(np.asarray(command, np.float64).reshape(4), -bounds, bounds).astype(np.float32)
