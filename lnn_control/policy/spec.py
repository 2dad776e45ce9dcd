"""`PolicySpec`: everything needed to rebuild a policy network (stored in every checkpoint)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from lnn_control.vehicles import check_vehicle

KINDS = ("cfc", "lstm", "gru", "mlp", "ltc")
WIRINGS = ("ncp", "fully_connected")
CFC_MODES = ("default", "pure", "no_gate")
COMMAND_FIELDS = ("vx", "vy", "vz", "yaw_rate")
IMU_FIELDS = ("gx", "gy", "gz", "ax", "ay", "az")
MAX_ENSEMBLE = 32  # members of an ensemble policy at most


@dataclass(frozen=True)
class PolicySpec:
    """A policy's architecture, input size and command limits.

    Inputs: RGB uint8 images `image_height` x `image_width`, IMU [gx, gy, gz, ax, ay, az]
    (rad/s, m/s^2, body frame FLU) and the elapsed time dt (s). The core sees dt in units of
    `nominal_dt` (s), so a step at the nominal rate has timespan 1 and a dropped frame 2.
    Output: [vx, vy, vz, yaw_rate] (m/s, rad/s, heading frame), |v| <= max_linear_speed per
    axis and |yaw_rate| <= max_yaw_rate.

    Cores: "cfc" (NCP-wired CfC with `units` neurons, `motor_neurons` of them outputs, or a
    fully connected CfC with `wiring="fully_connected"`), "ltc" (ncps LTC, same wiring),
    "lstm", "gru", "mlp" (two hidden layers, no memory) with `hidden_size` units; a
    `hidden_size` of None is resolved by `match_parameter_count` to the CfC's size.

    `ensemble`: the number of members K. Every member has its own core and head on the one
    shared image + IMU encoder; the policy's command is the members' mean and their
    disagreement its uncertainty (see `PolicyNetwork` and `Policy.uncertainty`). 1 (the
    default, and what a checkpoint without the field holds) is a single policy.

    `vehicle`: what the commands drive (`lnn_control.vehicles`): "drone" (the default, and what
    a checkpoint without the field holds) or "rover" (only vx and yaw_rate are driven).
    """

    kind: str = "cfc"
    image_height: int = 48
    image_width: int = 64
    max_linear_speed: float = 2.0
    max_yaw_rate: float = 1.0
    nominal_dt: float = 0.05
    image_features: int = 24
    imu_features: int = 8
    units: int = 19
    motor_neurons: int = 4
    wiring: str = "ncp"
    sparsity: float = 0.5
    wiring_seed: int = 22222
    cfc_mode: str = "default"
    hidden_size: int | None = None
    ensemble: int = 1
    vehicle: str = "drone"

    def __post_init__(self):
        _choice("kind", self.kind, KINDS)
        _choice("wiring", self.wiring, WIRINGS)
        _choice("cfc_mode", self.cfc_mode, CFC_MODES)
        for name in ("image_height", "image_width", "image_features", "imu_features", "units", "motor_neurons"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"PolicySpec.{name} must be a positive integer, got {value!r}")
        if self.image_height < 16 or self.image_width < 16:
            raise ValueError(f"PolicySpec image size must be at least 16x16 pixels, got "
                             f"{self.image_height}x{self.image_width}")
        for name in ("max_linear_speed", "max_yaw_rate", "nominal_dt"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"PolicySpec.{name} must be a positive number, got {value!r}")
        if self.hidden_size is not None and (not isinstance(self.hidden_size, int) or self.hidden_size < 1):
            raise ValueError(f"PolicySpec.hidden_size must be a positive integer or None, got {self.hidden_size!r}")
        if self.kind in ("cfc", "ltc") and self.wiring == "ncp" and self.motor_neurons >= self.units - 2:
            raise ValueError(f"PolicySpec.motor_neurons ({self.motor_neurons}) must be less than units - 2 "
                             f"({self.units - 2}) for an NCP wiring")
        members = self.ensemble
        if not isinstance(members, int) or isinstance(members, bool) or not 1 <= members <= MAX_ENSEMBLE:
            raise ValueError(f"PolicySpec.ensemble must be an integer from 1 to {MAX_ENSEMBLE} members, "
                             f"got {self.ensemble!r}")
        check_vehicle(self.vehicle, "PolicySpec.vehicle")
        if not 0.1 <= self.sparsity <= 0.9:
            raise ValueError(f"PolicySpec.sparsity must be in [0.1, 0.9], got {self.sparsity!r}")

    @property
    def core_input_size(self) -> int:
        """Features entering the recurrent core: image features, IMU features, timespan."""
        return self.image_features + self.imu_features + 1

    @property
    def limits(self) -> tuple[float, float, float, float]:
        """Bounds of |vx|, |vy|, |vz| (m/s) and |yaw_rate| (rad/s)."""
        s = float(self.max_linear_speed)
        return (s, s, s, float(self.max_yaw_rate))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "policy spec") -> PolicySpec:
        """Build from a dict (e.g. a checkpoint header); an unknown key is an error naming it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{source}: unknown policy spec field {unknown[0]!r} (known: {sorted(known)})")
        return cls(**values)

    def with_changes(self, **changes) -> PolicySpec:
        return replace(self, **changes)


def _choice(name: str, value, options) -> None:
    if value not in options:
        raise ValueError(f"PolicySpec.{name} must be one of {list(options)}, got {value!r}")
