"""An ensemble's uncertainty: how much its members' commands disagree (torch-free: both
runtimes, `Policy` and the exported `OnnxPolicy`, use it)."""
from __future__ import annotations

import numpy as np


def disagreement(commands: np.ndarray, limits) -> float:
    """The members' disagreement: the mean over command components j = vx, vy, vz, yaw_rate of
    the population std over members of `commands` [K, 4], divided by the component's limit[j];
    dimensionless, 0 = all agree, 1 the most possible (half at +limit, half at -limit)."""
    return float(np.mean(np.std(np.asarray(commands, np.float64), axis=0) / np.asarray(limits, np.float64)))
