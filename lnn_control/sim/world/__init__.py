"""Worlds: a YAML description (sim_worlds/*.yaml) plus a seed gives one concrete layout.

    world = WorldConfig.load("forest")        # schema: validated, errors name file and field
    layout = generate_layout(world, seed=3)   # layout: same world and seed, same layout

Modules: `schema` (WorldConfig and its sections, loading and validation), `geometry`
(Part, Footprint: primitives and their plan view), `layout` (Layout, Obstacle,
generate_layout). Frames and units: world frame, z up, metres, radians (degrees in the YAML).
"""
from lnn_control.sim.world.geometry import FLIGHT_BAND_M, Footprint, Part
from lnn_control.sim.world.layout import Layout, Obstacle, generate_layout
from lnn_control.sim.world.schema import (
    KIND_COLOURS,
    KIND_PARAMETERS,
    PALETTE_KEYS,
    TARGET_SHAPES,
    ObstacleKind,
    TargetConfig,
    WorldConfig,
    WorldConfigError,
)

__all__ = [
    "FLIGHT_BAND_M", "Footprint", "KIND_COLOURS", "KIND_PARAMETERS", "Layout", "Obstacle", "ObstacleKind",
    "PALETTE_KEYS", "Part", "TARGET_SHAPES", "TargetConfig", "WorldConfig", "WorldConfigError", "generate_layout",
]
