"""World descriptions (sim_worlds/*.yaml) and the layouts generated from them.

A world is a YAML file plus a seed: `WorldConfig.load("forest")` validates the file, and
`generate_layout(world, seed)` turns it into concrete primitives (cylinders, boxes, spheres),
a start pose and a target — the same seed always gives the same layout. The schema is
documented in sim_worlds/README.md.

Frames and units: world frame, z up, metres, radians inside the code (degrees in the YAML).
The start is at the origin (x, y) = (0, 0); the obstacle field extends along +x.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lnn_control.paths import share_path

RGB = tuple[float, float, float]
Range = tuple[float, float]

#: Obstacle kinds and their parameters: name -> (default value, description). Ranges are
#: [low, high] drawn uniformly; colours come from the palette entries named in `_KIND_COLOURS`.
_KIND_PARAMETERS: dict[str, dict[str, Any]] = {
    "tree": {"trunk_radius": (0.12, 0.3), "trunk_height": (3.0, 6.0), "canopy_radius": (1.0, 2.0)},
    "bush": {"radius": (0.4, 0.9)},
    "rock": {"size": (0.4, 1.0)},
    "building": {"footprint": (4.0, 10.0), "height": (6.0, 18.0)},
    "wall": {"length": (4.0, 10.0), "thickness": (0.25, 0.4), "height": (2.5, 4.0)},
    "pole": {"radius": (0.08, 0.15), "height": (3.0, 6.0)},
    "car": {"length": (3.8, 4.8), "width": (1.7, 1.9), "height": (1.4, 1.6)},
}
_KIND_COLOURS = {
    "tree": ("trunk", "foliage"), "bush": ("foliage",), "rock": ("rock",), "building": ("facade",),
    "wall": ("wall",), "pole": ("pole",), "car": ("car",),
}
PALETTE_KEYS = ("ground", "sky", "trunk", "foliage", "rock", "facade", "wall", "pole", "car")
TARGET_SHAPES = ("sphere", "box", "cylinder")

#: Heights (m) that the drone flies through: a part overlapping this band is an obstacle
#: in the plan view (expert planner, spacing of the generator).
FLIGHT_BAND_M = (0.2, 3.2)


class WorldConfigError(ValueError):
    """A world YAML file with an unknown key or a bad value; the message names file and field."""


# ------------------------------------------------------------------------------------------
# Configuration (validated dataclasses)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObstacleKind:
    """One obstacle kind: `count_per_100m2` obstacles per 100 m^2 of field, sizes in `params`."""

    kind: str
    count_per_100m2: float
    params: dict[str, Range]


@dataclass(frozen=True)
class TargetConfig:
    """The target: distance (m) and bearing (deg, from +x) from the start, altitude (m), look.

    `sight_clear_of`: obstacle kinds never placed on the line of sight from the start to the
    target (a strip as wide as the target), so that none of them hides it at the start.
    """

    distance_m: Range
    bearing_deg: Range
    altitude_m: Range
    shape: str
    size_m: float
    color: RGB
    success_radius_m: float
    clearance_m: float
    sight_clear_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorldConfig:
    """A validated world description. Build it with `load` (file) or `from_dict`.

    `source` keeps the validated document so that `with_overrides` can re-validate a copy.
    """

    name: str
    file: str
    field_length_m: float
    field_half_width_m: float
    field_behind_m: float
    min_gap_m: float
    ground_patches_per_100m2: float
    ground_patch_size_m: Range
    density_scale: float
    start_altitude_m: float
    start_yaw_jitter_deg: float
    start_clearance_m: float
    time_limit_s: float
    target: TargetConfig
    distractors: int
    palette: dict[str, tuple[RGB, ...]]
    color_jitter: float
    obstacles: tuple[ObstacleKind, ...]
    source: dict = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def load(cls, name_or_path: str | Path) -> "WorldConfig":
        """`"forest"`/`"urban"` (a file in sim_worlds/) or a path to a YAML file.

        Raises FileNotFoundError, or WorldConfigError naming the file and the field.
        """
        path = Path(name_or_path)
        if path.suffix not in (".yaml", ".yml"):
            path = share_path("sim_worlds", f"{name_or_path}.yaml")
        if not path.is_file():
            raise FileNotFoundError(f"world file {path} not found (worlds: forest, urban, or a YAML path)")
        try:
            document = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise WorldConfigError(f"{path}: not valid YAML ({exc})") from None
        return cls.from_dict(document, file=str(path))

    @classmethod
    def from_dict(cls, document: Any, file: str = "<dict>") -> "WorldConfig":
        """Validate a world document (the YAML's content); errors name `file` and the field."""
        return _parse_world(_Fields(file), document)

    def with_overrides(self, **fields: Any) -> "WorldConfig":
        """A validated copy with top-level fields replaced; mappings are merged key by key.

        Example: `world.with_overrides(palette={"foliage": [[0.8, 0.4, 0.1]]}, density_scale=1.5,
        target={"color": [0.2, 0.4, 1.0]}, distractors=4)`. Keys are the YAML's keys.
        """
        document = _deep_merge(self.source, fields)
        return _parse_world(_Fields(f"{self.file} (with overrides)"), document)


def _deep_merge(base: dict, update: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class _Fields:
    """Reads typed fields out of nested mappings, raising WorldConfigError naming file and field."""

    def __init__(self, file: str):
        self.file = file

    def error(self, name: str, problem: str) -> WorldConfigError:
        return WorldConfigError(f"{self.file}: {name}: {problem}")

    def mapping(self, name: str, value: Any, allowed: set[str], required: set[str] = frozenset()) -> dict:
        if not isinstance(value, dict):
            raise self.error(name, f"expected a mapping, got {value!r}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.error(f"{name}.{unknown[0]}" if name else str(unknown[0]),
                             f"unknown key; valid keys: {', '.join(sorted(allowed))}")
        missing = sorted(required - set(value))
        if missing:
            raise self.error(f"{name}.{missing[0]}" if name else missing[0], "required key is missing")
        return value

    def number(self, name: str, value: Any, low: float = -math.inf, high: float = math.inf) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error(name, f"expected a number, got {value!r}")
        if not low <= value <= high:
            raise self.error(name, f"{value} is outside [{low}, {high}]")
        return float(value)

    def range(self, name: str, value: Any, low: float = -math.inf, high: float = math.inf) -> Range:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value, value]
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise self.error(name, f"expected [low, high], got {value!r}")
        lo, hi = (self.number(name, v, low, high) for v in value)
        if lo > hi:
            raise self.error(name, f"low {lo} is above high {hi}")
        return lo, hi

    def color(self, name: str, value: Any) -> RGB:
        if not isinstance(value, (list, tuple)) or len(value) != 3:
            raise self.error(name, f"expected an RGB colour [r, g, b] in [0, 1], got {value!r}")
        return tuple(self.number(name, v, 0.0, 1.0) for v in value)

    def colors(self, name: str, value: Any) -> tuple[RGB, ...]:
        if isinstance(value, (list, tuple)) and value and not isinstance(value[0], (list, tuple)):
            value = [value]
        if not isinstance(value, (list, tuple)) or not value:
            raise self.error(name, f"expected a colour or a list of colours, got {value!r}")
        return tuple(self.color(f"{name}[{i}]", v) for i, v in enumerate(value))

    def choice(self, name: str, value: Any, options: tuple[str, ...]) -> str:
        if value not in options:
            raise self.error(name, f"{value!r} is not one of {', '.join(options)}")
        return value

    def kinds(self, name: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.error(name, f"expected a list of obstacle kinds, got {value!r}")
        return tuple(self.choice(f"{name}[{i}]", kind, tuple(_KIND_PARAMETERS)) for i, kind in enumerate(value))


def _parse_world(f: _Fields, doc: Any) -> WorldConfig:
    top = {"name", "field", "start", "target", "time_limit_s", "palette", "obstacles", "distractors",
           "density_scale"}
    doc = f.mapping("", doc, top, {"name", "field", "start", "target", "time_limit_s", "palette", "obstacles"})
    if not isinstance(doc["name"], str) or not doc["name"]:
        raise f.error("name", f"expected a non-empty string, got {doc['name']!r}")
    fld = f.mapping("field", doc["field"], {"length", "half_width", "behind", "min_gap", "ground_patches_per_100m2",
                                            "ground_patch_size"}, {"length", "half_width"})
    start = f.mapping("start", doc["start"], {"altitude", "yaw_jitter_deg", "clearance"}, {"altitude"})
    start_altitude = f.number("start.altitude", start["altitude"], 0.5, 20.0)
    tgt = f.mapping("target", doc["target"], {"distance", "bearing_deg", "altitude", "shape", "size", "color",
                                              "success_radius", "clearance", "sight_clear_of"}, {"distance"})
    distance = f.range("target.distance", tgt["distance"], 1.0, 500.0)
    target = TargetConfig(
        distance_m=distance,
        bearing_deg=f.range("target.bearing_deg", tgt.get("bearing_deg", [0.0, 0.0]), -180.0, 180.0),
        altitude_m=f.range("target.altitude", tgt.get("altitude", start_altitude), 0.5, 20.0),
        shape=f.choice("target.shape", tgt.get("shape", "sphere"), TARGET_SHAPES),
        size_m=f.number("target.size", tgt.get("size", 0.5), 0.05, 5.0),
        color=f.color("target.color", tgt.get("color", [1.0, 0.1, 0.1])),
        success_radius_m=f.number("target.success_radius", tgt.get("success_radius", 1.0), 0.1, 10.0),
        clearance_m=f.number("target.clearance", tgt.get("clearance", 1.5), 0.0, 50.0),
        sight_clear_of=f.kinds("target.sight_clear_of", tgt.get("sight_clear_of", [])),
    )
    pal = f.mapping("palette", doc["palette"], set(PALETTE_KEYS) | {"jitter"}, {"ground", "sky"})
    palette = {key: f.colors(f"palette.{key}", pal[key]) for key in PALETTE_KEYS if key in pal}
    obstacles = []
    raw_obstacles = doc["obstacles"]
    if not isinstance(raw_obstacles, list):
        raise f.error("obstacles", f"expected a list of obstacle kinds, got {raw_obstacles!r}")
    for i, raw in enumerate(raw_obstacles):
        name = f"obstacles[{i}]"
        if not isinstance(raw, dict) or "kind" not in raw:
            raise f.error(name, "expected a mapping with a 'kind'")
        kind = f.choice(f"{name}.kind", raw["kind"], tuple(_KIND_PARAMETERS))
        defaults = _KIND_PARAMETERS[kind]
        f.mapping(name, raw, {"kind", "count_per_100m2", *defaults}, {"count_per_100m2"})
        for key in _KIND_COLOURS[kind]:
            if key not in palette:
                raise f.error(f"palette.{key}", f"required by obstacle kind {kind!r} ({name})")
        params = {key: f.range(f"{name}.{key}", raw.get(key, default), 0.01, 100.0)
                  for key, default in defaults.items()}
        obstacles.append(ObstacleKind(kind, f.number(f"{name}.count_per_100m2", raw["count_per_100m2"], 0.0, 50.0),
                                      params))
    length = f.number("field.length", fld["length"], 1.0, 1000.0)
    if distance[1] > length:
        raise f.error("target.distance", f"the farthest target ({distance[1]} m) lies beyond field.length ({length} m)")
    return WorldConfig(
        name=doc["name"],
        file=f.file,
        field_length_m=length,
        field_half_width_m=f.number("field.half_width", fld["half_width"], 1.0, 500.0),
        field_behind_m=f.number("field.behind", fld.get("behind", 3.0), 0.0, 100.0),
        min_gap_m=f.number("field.min_gap", fld.get("min_gap", 1.5), 0.0, 20.0),
        ground_patches_per_100m2=f.number("field.ground_patches_per_100m2", fld.get("ground_patches_per_100m2", 0.0),
                                          0.0, 50.0),
        ground_patch_size_m=f.range("field.ground_patch_size", fld.get("ground_patch_size", [1.0, 4.0]), 0.1, 50.0),
        density_scale=f.number("density_scale", doc.get("density_scale", 1.0), 0.0, 10.0),
        start_altitude_m=start_altitude,
        start_yaw_jitter_deg=f.number("start.yaw_jitter_deg", start.get("yaw_jitter_deg", 0.0), 0.0, 180.0),
        start_clearance_m=f.number("start.clearance", start.get("clearance", 2.0), 0.0, 50.0),
        time_limit_s=f.number("time_limit_s", doc["time_limit_s"], 1.0, 3600.0),
        target=target,
        distractors=int(f.number("distractors", doc.get("distractors", 0), 0, 100)),
        palette=palette,
        color_jitter=f.number("palette.jitter", pal.get("jitter", 0.05), 0.0, 0.5),
        obstacles=tuple(obstacles),
        source=copy.deepcopy(doc),
    )


# ------------------------------------------------------------------------------------------
# Layout: the concrete world drawn from a config and a seed
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One primitive: shape 'cylinder' (size = radius, height), 'box' (size = half extents x, y, z)
    or 'sphere' (size = radius,); `position` is its centre (m, world), `yaw` about z (rad)."""

    shape: str
    position: tuple[float, float, float]
    size: tuple[float, ...]
    color: RGB
    yaw: float = 0.0

    def footprint(self) -> "Footprint":
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
        z = self.position[2]
        if self.shape == "cylinder":
            half = self.size[1] / 2
        elif self.shape == "box":
            half = self.size[2]
        else:
            half = self.size[0]
        return z - half, z + half


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

    def gap_to(self, other: "Footprint") -> float:
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
    start_position: tuple[float, float, float]
    start_yaw: float
    target_position: tuple[float, float, float]
    distractors: tuple[Part, ...]
    ground_patches: tuple[Part, ...]
    ground_color: RGB
    sky_color: RGB
    bounds: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax of the obstacle field

    def flight_band_footprints(self) -> list[Footprint]:
        return [fp for obstacle in self.obstacles for fp in obstacle.footprints]


def generate_layout(world: WorldConfig, seed: int) -> Layout:
    """Draw the layout of `world` for `seed` (deterministic: same world and seed, same layout)."""
    rng = np.random.default_rng(int(seed))
    tc = world.target
    distance = rng.uniform(*tc.distance_m)
    bearing = math.radians(rng.uniform(*tc.bearing_deg))
    target = (distance * math.cos(bearing), distance * math.sin(bearing), rng.uniform(*tc.altitude_m))
    start = (0.0, 0.0, world.start_altitude_m)
    start_yaw = bearing + math.radians(rng.uniform(-1.0, 1.0) * world.start_yaw_jitter_deg)
    bounds = (-world.field_behind_m, world.field_length_m, -world.field_half_width_m, world.field_half_width_m)
    area_100m2 = (bounds[1] - bounds[0]) * (bounds[3] - bounds[2]) / 100.0
    keep_clear = [Footprint(start[0], start[1], radius=world.start_clearance_m),
                  Footprint(target[0], target[1], radius=max(tc.clearance_m, 1e-3))]

    sight_half_width = tc.size_m / 2
    placed: list[Footprint] = []
    obstacles = []
    for kind in world.obstacles:
        count = int(round(kind.count_per_100m2 * world.density_scale * area_100m2))
        off_sight_line = kind.kind in tc.sight_clear_of
        for _ in range(count):
            for _attempt in range(20):
                x, y = rng.uniform(bounds[0], bounds[1]), rng.uniform(bounds[2], bounds[3])
                obstacle = _build_obstacle(kind, x, y, rng, world)
                if off_sight_line and any(fp.distance_to_segment(start, target) < sight_half_width
                                          for fp in obstacle.footprints):
                    continue
                if _fits(obstacle.footprints, placed, keep_clear, world.min_gap_m):
                    placed.extend(obstacle.footprints)
                    obstacles.append(obstacle)
                    break
    ground_color, sky_color = _pick_color(world, "ground", rng), _pick_color(world, "sky", rng)
    # Decorations come from generators of their own: they never move obstacles or colours.
    distractor_rng = np.random.default_rng([int(seed), 2])
    distractors = tuple(_distractor(world, distractor_rng, bounds, placed + keep_clear)
                        for _ in range(world.distractors))
    patch_rng = np.random.default_rng([int(seed), 1])
    patches = tuple(_ground_patch(world, patch_rng, bounds)
                    for _ in range(int(round(world.ground_patches_per_100m2 * area_100m2))))
    return Layout(
        seed=int(seed), obstacles=tuple(obstacles), start_position=start, start_yaw=start_yaw,
        target_position=target, distractors=distractors, ground_patches=patches,
        ground_color=ground_color, sky_color=sky_color, bounds=bounds,
    )


def _fits(candidate: tuple[Footprint, ...], placed: list[Footprint], keep_clear: list[Footprint], gap: float) -> bool:
    for fp in candidate:
        if any(fp.gap_to(other) < 0.0 for other in keep_clear):
            return False
        if any(fp.gap_to(other) < gap for other in placed):
            return False
    return True


def _pick_color(world: WorldConfig, key: str, rng: np.random.Generator) -> RGB:
    choices = world.palette[key]
    base = np.array(choices[int(rng.integers(len(choices)))])
    jittered = np.clip(base + rng.uniform(-1.0, 1.0, 3) * world.color_jitter, 0.0, 1.0)
    return tuple(float(c) for c in jittered)


def _in_band(part: Part) -> bool:
    low, high = part.z_extent()
    return low < FLIGHT_BAND_M[1] and high > FLIGHT_BAND_M[0]


def _build_obstacle(kind: ObstacleKind, x: float, y: float, rng: np.random.Generator, world: WorldConfig) -> Obstacle:
    draw = {key: rng.uniform(*value) for key, value in kind.params.items()}
    color = {key: _pick_color(world, key, rng) for key in _KIND_COLOURS[kind.kind]}
    yaw_quarter = float(rng.integers(2)) * math.pi / 2  # urban objects are axis aligned
    k = kind.kind
    if k == "tree":
        h, r, cr = draw["trunk_height"], draw["trunk_radius"], draw["canopy_radius"]
        parts = (Part("cylinder", (x, y, h / 2), (r, h), color["trunk"]),
                 Part("sphere", (x, y, h), (cr,), color["foliage"]))
    elif k == "bush":
        r = draw["radius"]
        parts = (Part("sphere", (x, y, 0.7 * r), (r,), color["foliage"]),)
    elif k == "rock":
        s = draw["size"]
        parts = (Part("box", (x, y, 0.3 * s), (s / 2, s / 2 * rng.uniform(0.6, 1.0), 0.4 * s), color["rock"],
                      yaw=float(rng.uniform(0, math.pi))),)
    elif k == "building":
        fx, fy, h = draw["footprint"], rng.uniform(*kind.params["footprint"]), draw["height"]
        parts = (Part("box", (x, y, h / 2), (fx / 2, fy / 2, h / 2), color["facade"]),)
    elif k == "wall":
        length, t, h = draw["length"], draw["thickness"], draw["height"]
        parts = (Part("box", (x, y, h / 2), (length / 2, t / 2, h / 2), color["wall"], yaw=yaw_quarter),)
    elif k == "pole":
        r, h = draw["radius"], draw["height"]
        parts = (Part("cylinder", (x, y, h / 2), (r, h), color["pole"]),)
    else:  # car
        length, w, h = draw["length"], draw["width"], draw["height"]
        parts = (Part("box", (x, y, h / 2), (length / 2, w / 2, h / 2), color["car"], yaw=yaw_quarter),)
    return Obstacle(k, parts, tuple(p.footprint() for p in parts if _in_band(p)))


def _ground_patch(world: WorldConfig, rng: np.random.Generator, bounds) -> Part:
    """A flat box (2 cm high, no collision) in a ground colour: texture for the camera's motion cues."""
    x, y = rng.uniform(bounds[0], bounds[1]), rng.uniform(bounds[2], bounds[3])
    half = rng.uniform(*world.ground_patch_size_m, size=2) / 2
    return Part("box", (x, y, 0.0), (half[0], half[1], 0.02), _pick_color(world, "ground", rng),
                yaw=float(rng.uniform(0, math.pi)))


def _distractor(world: WorldConfig, rng: np.random.Generator, bounds, avoid: list[Footprint]) -> Part:
    """A target look-alike (no collision shape) placed in the field, away from obstacles."""
    tc = world.target
    r = tc.size_m / 2
    position = (0.0, 0.0, 0.0)
    for _attempt in range(50):
        x, y = rng.uniform(bounds[0] + 5.0, bounds[1]), rng.uniform(bounds[2], bounds[3])
        position = (x, y, rng.uniform(*tc.altitude_m))
        if all(Footprint(x, y, radius=r).gap_to(fp) > 0.5 for fp in avoid):
            break
    size = {"sphere": (r,), "box": (r, r, r), "cylinder": (r, tc.size_m)}[tc.shape]
    return Part(tc.shape, position, size, tc.color)
