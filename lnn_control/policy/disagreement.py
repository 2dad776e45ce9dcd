"""An ensemble's uncertainty: how much its members' commands disagree (torch-free: both
runtimes, `Policy` and the exported `OnnxPolicy`, use it)."""
from __future__ import annotations

import numpy as np

from lnn_control.vehicles import driven_axes


def disagreement(commands: np.ndarray, limits, vehicle: str = "drone") -> float:
    """The members' disagreement: the mean over the command components j that `vehicle` drives
    (a drone vx, vy, vz, yaw_rate; a rover vx, yaw_rate) of the population std over members of
    `commands` [K, 4], divided by the component's limit[j]; dimensionless, 0 = all agree, 1 the
    most possible (half at +limit, half at -limit)."""
    axes = driven_axes(vehicle)
    spread = np.std(np.asarray(commands, np.float64)[:, axes], axis=0)
    return float(np.mean(spread / np.asarray(limits, np.float64)[axes]))
