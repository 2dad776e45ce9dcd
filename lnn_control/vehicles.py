"""The vehicles a policy can drive, and what their command means to each.

Every policy, pilot, bag and node carries the same command, float32 [vx, vy, vz, yaw_rate]
(m/s and rad/s, heading frame: x forward along the yaw, z up), so collect, train and eval work
the same for every vehicle:

- "drone": a quadrotor; all four components are flown.
- "rover": a wheeled ground robot (differential drive); only vx (forward speed along the
  ground) and yaw_rate are driven, vy and vz are ignored (it cannot move sideways or up), and
  its expert always commands them 0. On ROS it is a `Twist` with only `linear.x` and `angular.z`.
"""
from __future__ import annotations

import numpy as np

VEHICLES = ("drone", "rover")
#: The command components (indices into [vx, vy, vz, yaw_rate]) a vehicle cannot drive.
IGNORED_COMMAND_AXES = {"drone": (), "rover": (1, 2)}


def driven_axes(vehicle: str) -> list[int]:
    """The command components (indices into [vx, vy, vz, yaw_rate]) `vehicle` drives."""
    return [axis for axis in range(4) if axis not in IGNORED_COMMAND_AXES[vehicle]]


def drive_only(command: np.ndarray, vehicle: str) -> np.ndarray:
    """`command` [..., 4] with the components `vehicle` cannot drive set to 0 (in place; returned)."""
    command[..., list(IGNORED_COMMAND_AXES[vehicle])] = 0.0
    return command


def check_vehicle(value, where: str = "vehicle") -> str:
    """`value` if it names a vehicle; else a ValueError naming `where` and the valid names."""
    if value not in VEHICLES:
        raise ValueError(f"{where}: {value!r} is not a vehicle; valid: {', '.join(VEHICLES)}")
    return value
