"""World shifts: season, obstacle density, target appearance, distractors.

Each gives `WorldConfig.with_overrides` arguments (a new, validated world description) that
NavEnv applies at every reset; the layout's seeds are unchanged, so what a shift does not
change (the target's position, the obstacles' places) stays where it was. Colours are RGB
in [0, 1].
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from lnn_control.envs.shifts.base import WorldShift


def _blend(colour: Sequence[float], toward: Sequence[float], weight: float) -> list[float]:
    """`colour` moved toward `toward` by `weight` in [0, 1], rounded to 4 decimals."""
    return [round((1.0 - weight) * c + weight * t, 4) for c, t in zip(colour, toward, strict=True)]


class Season(WorldShift):
    """Season: each listed palette entry blends toward the season's colours, with weight
    severity * coverage (how much of that surface the season repaints at severity 1). The
    number of colours per entry is kept, so a seed draws the same layout: geometry and depth
    are unchanged, only colours differ."""

    # palette entry -> (coverage in [0, 1], season colours)
    season_colours: ClassVar[dict[str, tuple[float, tuple[tuple[float, float, float], ...]]]]

    def overrides(self, world):
        palette = {}
        for key, colours in world.palette.items():
            if key in self.season_colours:
                coverage, targets = self.season_colours[key]
                weight = coverage * self.severity
                palette[key] = [_blend(c, targets[i % len(targets)], weight) for i, c in enumerate(colours)]
        return {"palette": palette}


class Autumn(Season):
    """Autumn: orange, red and yellow foliage, fallen leaves over most of the ground, a paler sky."""

    name = "autumn"
    season_colours = {
        "foliage": (1.0, ((0.82, 0.42, 0.10), (0.70, 0.20, 0.08), (0.88, 0.66, 0.16))),
        "ground": (0.7, ((0.46, 0.33, 0.18),)),
        "sky": (1.0, ((0.74, 0.78, 0.84),)),
    }


class Winter(Season):
    """Winter: snow on the ground, rocks and canopies, darker wet trunks, an overcast sky."""

    name = "winter"
    season_colours = {
        "foliage": (0.85, ((0.82, 0.85, 0.88),)),
        "ground": (0.9, ((0.93, 0.94, 0.97),)),
        "rock": (0.8, ((0.86, 0.88, 0.91),)),
        "trunk": (0.6, ((0.26, 0.22, 0.20),)),
        "sky": (1.0, ((0.80, 0.82, 0.85),)),
    }


class Density(WorldShift):
    """Denser obstacles: the world's obstacle counts times 1 + 1.5 * severity, and the least gap
    between obstacles times 1 - 0.35 * severity (the gap, not the counts, limits how many fit:
    1.6 m -> 1.04 m in the forest at severity 1, still over twice the drone's 0.4 m width).
    The target and start are drawn before the obstacles, so they stay where they were."""

    name = "density"

    def overrides(self, world):
        return {"density_scale": world.density_scale * (1.0 + 1.5 * self.severity),
                "field": {"min_gap": world.min_gap_m * (1.0 - 0.35 * self.severity)}}


class TargetAppearance(WorldShift):
    """A different-looking target: its colour blends toward its complement (fully at severity 1),
    its size shrinks to 1 - 0.5 * severity, and from severity 0.5 on its shape changes
    (sphere -> box, otherwise -> sphere). Position and obstacles are unchanged."""

    name = "target_appearance"

    def overrides(self, world):
        target = world.target
        complement = [1.0 - c for c in target.color]
        changes = {
            "color": _blend(target.color, complement, self.severity),
            "size": target.size_m * (1.0 - 0.5 * self.severity),
        }
        if self.severity >= 0.5:
            changes["shape"] = "box" if target.shape == "sphere" else "sphere"
        return {"target": changes}


class Distractors(WorldShift):
    """Target look-alikes (same shape and colour, no collision) scattered in the field:
    round(12 * severity) more than the world has. They are drawn after the obstacles, so
    the obstacles, start and target stay where they were."""

    name = "distractors"
    count_at_full = 12

    def overrides(self, world):
        return {"distractors": world.distractors + round(self.count_at_full * self.severity)}
