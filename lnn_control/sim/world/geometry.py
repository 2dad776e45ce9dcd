"""Primitives of a world and their plan view: the geometry the generator and the expert plan on.

A `Part` is one primitive (cylinder, box, sphere) in the world frame; seen from above, a part
that reaches into the flight band (`FLIGHT_BAND_M`, the heights the drone flies through) is
a `Footprint`: a disc or an axis-aligned rectangle, with distances to points, segments and
other footprints.

Frames and units: world frame, z up, metres; yaw in radians about z. Plan-view points are
(x, y, ...) sequences: anything after x and y (a z) is ignored.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from lnn_control.config_file import RGB, Range

#: Heights (m) that the drone flies through: a part overlapping this band is an obstacle
#: in the plan view (expert planner, spacing of the generator).
FLIGHT_BAND_M = (0.2, 3.2)
#: Heights (m) a rover's body occupies: for its expert, a part is an obstacle if it reaches
#: into this band (a tree's trunk, not its canopy). Layouts are spaced by the flight band for
#: every vehicle, so a world and seed give the same layout to a drone and a rover.
GROUND_BAND_M = (0.0, 0.6)


@dataclass(frozen=True)
class Part:
    """One primitive: shape 'cylinder' (size = radius, height), 'box' (size = half extents x, y, z)
    or 'sphere' (size = radius,); `position` is its centre (m, world), `yaw` about z (rad)."""

    shape: str
    position: tuple[float, float, float]
    size: tuple[float, ...]
    color: RGB
    yaw: float = 0.0

    def footprint(self) -> Footprint:
        """The part's outline seen from above."""
        x, y, _ = self.position
        if self.shape == "box":
            hx, hy = self.size[0], self.size[1]
            if abs(math.sin(2 * self.yaw)) > 1e-6:  # rotated box: its bounding circle
                return Footprint(x, y, radius=math.hypot(hx, hy))
            if abs(math.sin(self.yaw)) > 0.5:
                hx, hy = hy, hx
            return Footprint(x, y, half_x=hx, half_y=hy)
        return Footprint(x, y, radius=self.size[0])

    def z_extent(self) -> Range:
        """Lowest and highest z (m) of the part."""
        z = self.position[2]
        if self.shape == "cylinder":
            half = self.size[1] / 2
        elif self.shape == "box":
            half = self.size[2]
        else:
            half = self.size[0]
        return z - half, z + half

    def in_flight_band(self) -> bool:
        """Whether the part reaches into `FLIGHT_BAND_M` (and so is an obstacle in the plan view)."""
        return self.in_band(FLIGHT_BAND_M)

    def in_band(self, band: Range) -> bool:
        """Whether the part reaches into the heights `band` (low, high), m."""
        low, high = self.z_extent()
        return low < band[1] and high > band[0]


@dataclass(frozen=True)
class Footprint:
    """A disc (radius) or an axis-aligned rectangle (half_x, half_y) centred at (x, y), metres."""

    x: float
    y: float
    radius: float = 0.0
    half_x: float = 0.0
    half_y: float = 0.0

    @property
    def is_disc(self) -> bool:
        return self.radius > 0.0

    def distance_to_point(self, px: float, py: float) -> float:
        """Distance (m) from the outline to a point (negative inside a disc, 0 inside a box)."""
        if self.is_disc:
            return math.hypot(px - self.x, py - self.y) - self.radius
        dx = max(abs(px - self.x) - self.half_x, 0.0)
        dy = max(abs(py - self.y) - self.half_y, 0.0)
        return math.hypot(dx, dy)

    def distance_to_segment(self, a, b) -> float:
        """Distance (m) from the outline to the plan-view segment a-b ((x, y, ...) points; 0 where
        they cross, negative inside a disc)."""
        ax, ay, bx, by = a[0], a[1], b[0], b[1]
        if self.is_disc:
            return _point_segment_distance(self.x, self.y, ax, ay, bx, by) - self.radius
        x0, x1, y0, y1 = self.x - self.half_x, self.x + self.half_x, self.y - self.half_y, self.y + self.half_y
        if _segment_crosses_box(ax, ay, bx, by, x0, x1, y0, y1):
            return 0.0
        corners = ((x0, y0), (x0, y1), (x1, y0), (x1, y1))
        return min(min(self.distance_to_point(ax, ay), self.distance_to_point(bx, by)),
                   min(_point_segment_distance(cx, cy, ax, ay, bx, by) for cx, cy in corners))

    def gap_to(self, other: Footprint) -> float:
        """Clearance (m) between two outlines (<= 0 when they overlap)."""
        if self.is_disc and other.is_disc:
            return math.hypot(self.x - other.x, self.y - other.y) - self.radius - other.radius
        if self.is_disc:
            return other.distance_to_point(self.x, self.y) - self.radius
        if other.is_disc:
            return self.distance_to_point(other.x, other.y) - other.radius
        dx = max(abs(self.x - other.x) - self.half_x - other.half_x, 0.0)
        dy = max(abs(self.y - other.y) - self.half_y - other.half_y, 0.0)
        return math.hypot(dx, dy)


def _point_segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """Distance (m) from point p to the segment a-b."""
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0.0 else min(max(((px - ax) * dx + (py - ay) * dy) / length2, 0.0), 1.0)
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def _segment_crosses_box(ax: float, ay: float, bx: float, by: float, x0: float, x1: float, y0: float,
                         y1: float) -> bool:
    """Whether segment a-b meets the axis-aligned box [x0, x1] x [y0, y1] (slab clipping)."""
    t_in, t_out = 0.0, 1.0
    for start, delta, low, high in ((ax, bx - ax, x0, x1), (ay, by - ay, y0, y1)):
        if delta == 0.0:
            if not low <= start <= high:
                return False
            continue
        t0, t1 = sorted(((low - start) / delta, (high - start) / delta))
        t_in, t_out = max(t_in, t0), min(t_out, t1)
        if t_in > t_out:
            return False
    return True
