"""The shifts by name, parsed from 'name:severity' and applied in physical order.

`apply_shifts` wraps innermost first by `Stage`, then by name within a stage, so a condition
means the same thing whatever order its shifts are written in.
"""
from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym

from lnn_control.envs.shifts.base import DEFAULT_SEVERITY, Shift, check_severity
from lnn_control.envs.shifts.dynamics import Slip, Wind
from lnn_control.envs.shifts.image import Bright, CameraNoise, CoolLight, Dim, Fog, MotionBlur, WarmLight
from lnn_control.envs.shifts.imu import ImuBias, ImuNoise
from lnn_control.envs.shifts.timing import FrameDrops, Latency
from lnn_control.envs.shifts.world import Autumn, Density, Distractors, TargetAppearance, Winter

SHIFTS: dict[str, type[Shift]] = {
    cls.name: cls
    for cls in (
        Autumn,
        Winter,
        Density,
        TargetAppearance,
        Distractors,
        Fog,
        Dim,
        Bright,
        WarmLight,
        CoolLight,
        MotionBlur,
        CameraNoise,
        ImuNoise,
        ImuBias,
        Wind,
        Slip,
        FrameDrops,
        Latency,
    )
}


def _unknown_shift(name: str) -> ValueError:
    return ValueError(f"unknown shift {name!r}; valid shifts: {', '.join(sorted(SHIFTS))}")


def parse_shift(text: str) -> tuple[str, float]:
    """'fog:0.5' -> ('fog', 0.5); 'fog' -> ('fog', DEFAULT_SEVERITY)."""
    name, sep, severity_text = str(text).strip().partition(":")
    name = name.strip()
    if name not in SHIFTS:
        raise _unknown_shift(name)
    if not sep:
        return name, DEFAULT_SEVERITY
    return name, check_severity(name, severity_text.strip())


def apply_shifts(env: gym.Env, shifts: Sequence[tuple[str, float]]) -> gym.Env:
    """`env` wrapped in the named shifts [(name, severity), ...], innermost first in physical
    order (see the module docstring), so the order the shifts are listed in does not matter."""
    classes = []
    for name, severity in shifts:
        if name not in SHIFTS:
            raise _unknown_shift(name)
        classes.append((SHIFTS[name], severity))
    if len({cls for cls, _ in classes}) != len(classes):
        raise ValueError(f"a shift appears twice in {list(shifts)}")
    for cls, severity in sorted(classes, key=lambda pair: (pair[0].stage, pair[0].name)):
        env = cls(env, severity)
    return env
