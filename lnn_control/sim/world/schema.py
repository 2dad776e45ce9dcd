"""World descriptions (sim_worlds/*.yaml): the schema, validated into `WorldConfig`.

`WorldConfig.load("forest")` reads sim_worlds/forest.yaml (or any YAML path) with
`lnn_control.config_file`: validation is strict, and an unknown key or a bad value raises
`WorldConfigError` (a `ConfigError`) whose one-line message names the file and the field, e.g.
`forest.yaml: obstacles[0].trunk_radius: expected [low, high], got 'x'`. The schema, the
defaults and the bounds are documented in sim_worlds/README.md; the layout drawn from a world
and a seed is `lnn_control.sim.world.layout`.

Frames and units: world frame, z up, metres; degrees in the YAML and in the `*_deg` fields.
Ranges are (low, high), drawn uniformly by the layout generator; colours RGB in [0, 1].
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lnn_control.config_file import RGB, ConfigError, Fields, Range, read_yaml
from lnn_control.paths import share_path
from lnn_control.vehicles import VEHICLES

#: Obstacle kinds and the ranges of their sizes (m) when the YAML leaves them out; the parts
#: each kind is made of are in lnn_control.sim.world.layout.
KIND_PARAMETERS: dict[str, dict[str, Range]] = {
    "tree": {"trunk_radius": (0.12, 0.3), "trunk_height": (3.0, 6.0), "canopy_radius": (1.0, 2.0)},
    "bush": {"radius": (0.4, 0.9)},
    "rock": {"size": (0.4, 1.0)},
    "building": {"footprint": (4.0, 10.0), "height": (6.0, 18.0)},
    "wall": {"length": (4.0, 10.0), "thickness": (0.25, 0.4), "height": (2.5, 4.0)},
    "pole": {"radius": (0.08, 0.15), "height": (3.0, 6.0)},
    "car": {"length": (3.8, 4.8), "width": (1.7, 1.9), "height": (1.4, 1.6)},
}
#: The palette entries each obstacle kind is coloured from (the palette must have them).
KIND_COLOURS = {
    "tree": ("trunk", "foliage"), "bush": ("foliage",), "rock": ("rock",), "building": ("facade",),
    "wall": ("wall",), "pole": ("pole",), "car": ("car",),
}
PALETTE_KEYS = ("ground", "sky", "trunk", "foliage", "rock", "facade", "wall", "pole", "car")
TARGET_SHAPES = ("sphere", "box", "cylinder")


class WorldConfigError(ConfigError):
    """A world YAML file with an unknown key or a bad value; the message names file and field."""


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
    vehicle: str
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
    def load(cls, name_or_path: str | Path) -> WorldConfig:
        """`"forest"`/`"urban"` (a file in sim_worlds/) or a path to a YAML file.

        Raises FileNotFoundError, or WorldConfigError naming the file and the field.
        """
        path = Path(name_or_path)
        if path.suffix not in (".yaml", ".yml"):
            path = share_path("sim_worlds", f"{name_or_path}.yaml")
        return cls.from_dict(read_yaml(path, "world file", WorldConfigError), file=str(path))

    @classmethod
    def from_dict(cls, document: Any, file: str = "<dict>") -> WorldConfig:
        """Validate a world document (the YAML's content); errors name `file` and the field."""
        return _parse_world(Fields(file, WorldConfigError), document)

    def with_overrides(self, **fields: Any) -> WorldConfig:
        """A validated copy with top-level fields replaced; mappings are merged key by key.

        Example: `world.with_overrides(palette={"foliage": [[0.8, 0.4, 0.1]]}, density_scale=1.5,
        target={"color": [0.2, 0.4, 1.0]}, distractors=4)`. Keys are the YAML's keys.
        """
        document = _deep_merge(self.source, fields)
        return _parse_world(Fields(f"{self.file} (with overrides)", WorldConfigError), document)


def _deep_merge(base: dict, update: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _parse_world(f: Fields, doc: Any) -> WorldConfig:
    top = {"name", "vehicle", "field", "start", "target", "time_limit_s", "palette", "obstacles", "distractors",
           "density_scale"}
    doc = f.mapping("", doc, top, {"name", "field", "start", "target", "time_limit_s", "palette", "obstacles"})
    name = f.text("name", doc["name"])
    fld = f.mapping("field", doc["field"], {"length", "half_width", "behind", "min_gap", "ground_patches_per_100m2",
                                            "ground_patch_size"}, {"length", "half_width"})
    start = f.mapping("start", doc["start"], {"altitude", "yaw_jitter_deg", "clearance"}, {"altitude"})
    start_altitude = f.number("start.altitude", start["altitude"], 0.5, 20.0)
    target = _parse_target(f, doc["target"], start_altitude)
    pal = f.mapping("palette", doc["palette"], set(PALETTE_KEYS) | {"jitter"}, {"ground", "sky"})
    palette = {key: f.colors(f"palette.{key}", pal[key]) for key in PALETTE_KEYS if key in pal}
    obstacles = f.items("obstacles", doc["obstacles"], lambda name, raw: _parse_obstacle(f, name, raw, palette),
                        "obstacle kinds")
    length = f.number("field.length", fld["length"], 1.0, 1000.0)
    if target.distance_m[1] > length:
        raise f.error("target.distance",
                      f"the farthest target ({target.distance_m[1]} m) lies beyond field.length ({length} m)")
    return WorldConfig(
        name=name,
        file=f.file,
        vehicle=f.choice("vehicle", doc.get("vehicle", "drone"), VEHICLES),
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
        distractors=f.integer("distractors", doc.get("distractors", 0), 0, 100),
        palette=palette,
        color_jitter=f.number("palette.jitter", pal.get("jitter", 0.05), 0.0, 0.5),
        obstacles=obstacles,
        source=copy.deepcopy(doc),
    )


def _parse_target(f: Fields, raw: Any, start_altitude_m: float) -> TargetConfig:
    tgt = f.mapping("target", raw, {"distance", "bearing_deg", "altitude", "shape", "size", "color",
                                    "success_radius", "clearance", "sight_clear_of"}, {"distance"})
    return TargetConfig(
        distance_m=f.range("target.distance", tgt["distance"], 1.0, 500.0),
        bearing_deg=f.range("target.bearing_deg", tgt.get("bearing_deg", [0.0, 0.0]), -180.0, 180.0),
        altitude_m=f.range("target.altitude", tgt.get("altitude", start_altitude_m), 0.5, 20.0),
        shape=f.choice("target.shape", tgt.get("shape", "sphere"), TARGET_SHAPES),
        size_m=f.number("target.size", tgt.get("size", 0.5), 0.05, 5.0),
        color=f.color("target.color", tgt.get("color", [1.0, 0.1, 0.1])),
        success_radius_m=f.number("target.success_radius", tgt.get("success_radius", 1.0), 0.1, 10.0),
        clearance_m=f.number("target.clearance", tgt.get("clearance", 1.5), 0.0, 50.0),
        sight_clear_of=f.items("target.sight_clear_of", tgt.get("sight_clear_of", []),
                               lambda name, kind: f.choice(name, kind, tuple(KIND_PARAMETERS)), "obstacle kinds"),
    )


def _parse_obstacle(f: Fields, name: str, raw: Any, palette: dict[str, tuple[RGB, ...]]) -> ObstacleKind:
    """One entry of `obstacles`: its kind, density and size ranges (the kind's defaults where left out)."""
    if not isinstance(raw, dict) or "kind" not in raw:
        raise f.error(name, "expected a mapping with a 'kind'")
    kind = f.choice(f"{name}.kind", raw["kind"], tuple(KIND_PARAMETERS))
    defaults = KIND_PARAMETERS[kind]
    f.mapping(name, raw, {"kind", "count_per_100m2", *defaults}, {"count_per_100m2"})
    for key in KIND_COLOURS[kind]:
        if key not in palette:
            raise f.error(f"palette.{key}", f"required by obstacle kind {kind!r} ({name})")
    params = {key: f.range(f"{name}.{key}", raw.get(key, default), 0.01, 100.0) for key, default in defaults.items()}
    return ObstacleKind(kind, f.number(f"{name}.count_per_100m2", raw["count_per_100m2"], 0.0, 50.0), params)
