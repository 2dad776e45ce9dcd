"""Layouts: the concrete world that a world description and a seed give.

`generate_layout(world, seed)` draws the target and the start pose, then places obstacles
kind by kind (each at the first of up to 20 random spots where it keeps `min_gap` from the
others, stays clear of the start and the target and, for kinds in `target.sight_clear_of`,
off the line of sight), then the colours of ground and sky; target look-alikes and ground
patches come from generators of their own, so they never move anything else. The same world
and seed always give the same layout, bit for bit.

Frames and units: world frame, z up, metres, radians. The start is at (x, y) = (0, 0); the
obstacle field extends along +x.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lnn_control.config_file import RGB, Range
from lnn_control.sim.world.geometry import Footprint, Part
from lnn_control.sim.world.schema import KIND_COLOURS, ObstacleKind, WorldConfig

#: Random spots tried for each obstacle before it is left out.
TRIES_PER_OBSTACLE = 20


@dataclass(frozen=True)
class Obstacle:
    """An obstacle of a kind, made of parts; `footprints` are those of its parts in the flight band."""

    kind: str
    parts: tuple[Part, ...]
    footprints: tuple[Footprint, ...]


@dataclass(frozen=True)
class Layout:
    """A concrete world: obstacles, start pose, target, decorations, colours (all world frame)."""

    seed: int
    obstacles: tuple[Obstacle, ...]
    start_position: tuple[float, float, float]   # a rover's is on the ground (z = 0)
    start_yaw: float
    target_position: tuple[float, float, float]
    distractors: tuple[Part, ...]
    ground_patches: tuple[Part, ...]
    ground_color: RGB
    sky_color: RGB
    bounds: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax of the obstacle field

    def flight_band_footprints(self) -> list[Footprint]:
        return [fp for obstacle in self.obstacles for fp in obstacle.footprints]

    def footprints_in_band(self, band: Range) -> list[Footprint]:
        """The outlines of the obstacles' parts that reach into the heights `band` (low, high), m."""
        return [part.footprint() for obstacle in self.obstacles for part in obstacle.parts if part.in_band(band)]


def generate_layout(world: WorldConfig, seed: int) -> Layout:
    """Draw the layout of `world` for `seed` (deterministic: same world and seed, same layout)."""
    rng = np.random.default_rng(int(seed))
    start, start_yaw, target = _draw_start_and_target(world, rng)
    bounds = (-world.field_behind_m, world.field_length_m, -world.field_half_width_m, world.field_half_width_m)
    area_100m2 = (bounds[1] - bounds[0]) * (bounds[3] - bounds[2]) / 100.0
    keep_clear = [Footprint(start[0], start[1], radius=world.start_clearance_m),
                  Footprint(target[0], target[1], radius=max(world.target.clearance_m, 1e-3))]
    obstacles = _place_obstacles(world, rng, bounds, area_100m2, (start, target), keep_clear)
    placed = [fp for obstacle in obstacles for fp in obstacle.footprints]
    ground_color, sky_color = _pick_color(world, "ground", rng), _pick_color(world, "sky", rng)
    # Decorations come from generators of their own: they never move obstacles or colours.
    distractor_rng = np.random.default_rng([int(seed), 2])
    distractors = tuple(_distractor(world, distractor_rng, bounds, placed + keep_clear)
                        for _ in range(world.distractors))
    patch_rng = np.random.default_rng([int(seed), 1])
    patches = tuple(_ground_patch(world, patch_rng, bounds)
                    for _ in range(int(round(world.ground_patches_per_100m2 * area_100m2))))
    return Layout(
        seed=int(seed), obstacles=obstacles, start_position=start, start_yaw=start_yaw,
        target_position=target, distractors=distractors, ground_patches=patches,
        ground_color=ground_color, sky_color=sky_color, bounds=bounds,
    )


def _draw_start_and_target(world: WorldConfig, rng: np.random.Generator):
    """(start position, start yaw (rad), target position): the target at a drawn distance and
    bearing from the start, the start facing it within the yaw jitter."""
    tc = world.target
    distance = rng.uniform(*tc.distance_m)
    bearing = math.radians(rng.uniform(*tc.bearing_deg))
    target = (distance * math.cos(bearing), distance * math.sin(bearing), _target_height(world, rng))
    start = (0.0, 0.0, 0.0 if world.vehicle == "rover" else world.start_altitude_m)
    start_yaw = bearing + math.radians(rng.uniform(-1.0, 1.0) * world.start_yaw_jitter_deg)
    return start, start_yaw, target


def _target_height(world: WorldConfig, rng: np.random.Generator) -> float:
    """z (m) of the target's (or a look-alike's) centre: drawn from the target's altitude for a
    drone; resting on the ground for a rover (the draw is made anyway, so that the rest of the
    layout is the drone's)."""
    altitude = rng.uniform(*world.target.altitude_m)
    return world.target.size_m / 2 if world.vehicle == "rover" else altitude


def _place_obstacles(world: WorldConfig, rng: np.random.Generator, bounds, area_100m2: float, sight_line,
                     keep_clear: list[Footprint]) -> tuple[Obstacle, ...]:
    """Each kind in turn: count_per_100m2 * density_scale * area obstacles, each at the first
    random spot where it fits (see the module docstring), or left out."""
    placed: list[Footprint] = []
    obstacles = []
    for kind in world.obstacles:
        count = int(round(kind.count_per_100m2 * world.density_scale * area_100m2))
        sight_half_width = world.target.size_m / 2 if kind.kind in world.target.sight_clear_of else None
        for _ in range(count):
            for _attempt in range(TRIES_PER_OBSTACLE):
                x, y = rng.uniform(bounds[0], bounds[1]), rng.uniform(bounds[2], bounds[3])
                obstacle = _build_obstacle(kind, x, y, rng, world)
                if sight_half_width is not None and _hides(obstacle, sight_line, sight_half_width):
                    continue
                if _fits(obstacle.footprints, placed, keep_clear, world.min_gap_m):
                    placed.extend(obstacle.footprints)
                    obstacles.append(obstacle)
                    break
    return tuple(obstacles)


def _hides(obstacle: Obstacle, sight_line, half_width_m: float) -> bool:
    """Whether the obstacle reaches into the strip of `half_width_m` around the segment `sight_line`."""
    start, target = sight_line
    return any(fp.distance_to_segment(start, target) < half_width_m for fp in obstacle.footprints)


def _fits(candidate: tuple[Footprint, ...], placed: list[Footprint], keep_clear: list[Footprint], gap: float) -> bool:
    """Whether the candidate's footprints stay out of `keep_clear` and `gap` (m) from every placed one."""
    for fp in candidate:
        if any(fp.gap_to(other) < 0.0 for other in keep_clear):
            return False
        if any(fp.gap_to(other) < gap for other in placed):
            return False
    return True


def _pick_color(world: WorldConfig, key: str, rng: np.random.Generator) -> RGB:
    """One of the palette's colours for `key`, each channel moved by up to +-color_jitter."""
    choices = world.palette[key]
    base = np.array(choices[int(rng.integers(len(choices)))])
    jittered = np.clip(base + rng.uniform(-1.0, 1.0, 3) * world.color_jitter, 0.0, 1.0)
    return tuple(float(c) for c in jittered)


@dataclass(frozen=True)
class _Draw:
    """What every obstacle draws before its shape: its centre (x, y) (m), a size (m) from each of
    the kind's ranges, its colours, and a quarter turn (0 or pi/2 rad: urban objects are axis
    aligned). `ranges` and `rng` serve the shapes that draw more."""

    x: float
    y: float
    size: dict[str, float]
    colour: dict[str, RGB]
    quarter_turn: float
    ranges: dict[str, Range]
    rng: np.random.Generator


def _build_obstacle(kind: ObstacleKind, x: float, y: float, rng: np.random.Generator, world: WorldConfig) -> Obstacle:
    size = {key: rng.uniform(*value) for key, value in kind.params.items()}
    colour = {key: _pick_color(world, key, rng) for key in KIND_COLOURS[kind.kind]}
    quarter_turn = float(rng.integers(2)) * math.pi / 2
    parts = _SHAPES[kind.kind](_Draw(x, y, size, colour, quarter_turn, kind.params, rng))
    return Obstacle(kind.kind, parts, tuple(p.footprint() for p in parts if p.in_flight_band()))


def _tree(d: _Draw) -> tuple[Part, ...]:
    """A cylinder trunk and a sphere canopy centred on its top."""
    h, r, cr = d.size["trunk_height"], d.size["trunk_radius"], d.size["canopy_radius"]
    return (Part("cylinder", (d.x, d.y, h / 2), (r, h), d.colour["trunk"]),
            Part("sphere", (d.x, d.y, h), (cr,), d.colour["foliage"]))


def _bush(d: _Draw) -> tuple[Part, ...]:
    """A sphere sunk to 70% of its radius."""
    r = d.size["radius"]
    return (Part("sphere", (d.x, d.y, 0.7 * r), (r,), d.colour["foliage"]),)


def _rock(d: _Draw) -> tuple[Part, ...]:
    """A flattish box, narrower in y by a drawn 0.6-1.0, at a random yaw."""
    s = d.size["size"]
    return (Part("box", (d.x, d.y, 0.3 * s), (s / 2, s / 2 * d.rng.uniform(0.6, 1.0), 0.4 * s), d.colour["rock"],
                 yaw=float(d.rng.uniform(0, math.pi))),)


def _building(d: _Draw) -> tuple[Part, ...]:
    """A box on the ground, its two sides drawn from the footprint range separately."""
    fx, fy, h = d.size["footprint"], d.rng.uniform(*d.ranges["footprint"]), d.size["height"]
    return (Part("box", (d.x, d.y, h / 2), (fx / 2, fy / 2, h / 2), d.colour["facade"]),)


def _wall(d: _Draw) -> tuple[Part, ...]:
    """A thin box on the ground, along x or turned by 90 degrees."""
    length, t, h = d.size["length"], d.size["thickness"], d.size["height"]
    return (Part("box", (d.x, d.y, h / 2), (length / 2, t / 2, h / 2), d.colour["wall"], yaw=d.quarter_turn),)


def _pole(d: _Draw) -> tuple[Part, ...]:
    """A cylinder on the ground."""
    r, h = d.size["radius"], d.size["height"]
    return (Part("cylinder", (d.x, d.y, h / 2), (r, h), d.colour["pole"]),)


def _car(d: _Draw) -> tuple[Part, ...]:
    """A box on the ground, along x or turned by 90 degrees."""
    length, w, h = d.size["length"], d.size["width"], d.size["height"]
    return (Part("box", (d.x, d.y, h / 2), (length / 2, w / 2, h / 2), d.colour["car"], yaw=d.quarter_turn),)


#: Obstacle kind -> the parts it is made of (the kinds of schema.KIND_PARAMETERS).
_SHAPES: dict[str, Callable[[_Draw], tuple[Part, ...]]] = {
    "tree": _tree, "bush": _bush, "rock": _rock, "building": _building, "wall": _wall, "pole": _pole, "car": _car,
}


def _ground_patch(world: WorldConfig, rng: np.random.Generator, bounds) -> Part:
    """A flat box (2 cm high, no collision) in a ground colour: texture for the camera's motion cues."""
    x, y = rng.uniform(bounds[0], bounds[1]), rng.uniform(bounds[2], bounds[3])
    half = rng.uniform(*world.ground_patch_size_m, size=2) / 2
    return Part("box", (x, y, 0.0), (half[0], half[1], 0.02), _pick_color(world, "ground", rng),
                yaw=float(rng.uniform(0, math.pi)))


def _distractor(world: WorldConfig, rng: np.random.Generator, bounds, avoid: list[Footprint]) -> Part:
    """A target look-alike (no collision shape) placed in the field, at least 5 m ahead of the
    field's back edge and 0.5 m from every outline in `avoid` (within 50 tries)."""
    tc = world.target
    r = tc.size_m / 2
    position = (0.0, 0.0, 0.0)
    for _attempt in range(50):
        x, y = rng.uniform(bounds[0] + 5.0, bounds[1]), rng.uniform(bounds[2], bounds[3])
        position = (x, y, _target_height(world, rng))
        if all(Footprint(x, y, radius=r).gap_to(fp) > 0.5 for fp in avoid):
            break
    size = {"sphere": (r,), "box": (r, r, r), "cylinder": (r, tc.size_m)}[tc.shape]
    return Part(tc.shape, position, size, tc.color)
