"""`TrainConfig`: the training configuration (config/train.yaml), validated at load.

Sections mirror the YAML: topics, alignment, data, optim, augment, dagger. An unknown
section or key, or a value of the wrong type, is a ValueError naming the file and the field.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional

import yaml

from lnn_control.data import AlignmentConfig, BagTopics


@dataclass(frozen=True)
class DataConfig:
    sequence_length: int = 32
    stride: int = 16
    val_fraction: float = 0.2
    cache_dir: Optional[str] = None
    use_cache: bool = True


@dataclass(frozen=True)
class OptimConfig:
    epochs: int = 30
    batch_size: int = 16
    tbptt_steps: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    warmup_epochs: int = 1
    lr_min_ratio: float = 0.05
    patience: int = 8


@dataclass(frozen=True)
class AugmentConfig:
    brightness: float = 0.2
    contrast: float = 0.2
    image_noise: float = 0.02
    imu_noise: float = 0.02
    hflip: float = 0.0
    greyscale: float = 0.0


@dataclass(frozen=True)
class DaggerConfig:
    world: str = "forest"
    episodes_per_round: int = 8
    epochs_per_round: int = 10
    expert_mix: float = 0.0
    max_seconds: Optional[float] = None
    storage: str = "mcap"


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    topics: BagTopics = field(default_factory=BagTopics)
    alignment: AlignmentConfig = field(default_factory=AlignmentConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    dagger: DaggerConfig = field(default_factory=DaggerConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    def replace(self, section: str | None = None, **changes) -> "TrainConfig":
        """A copy with `changes` to a section (or top-level fields when section is None)."""
        if section is None:
            return dataclasses.replace(self, **changes)
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **changes)})


_SECTIONS = {f.name: f for f in fields(TrainConfig)}


def load_config(path=None) -> TrainConfig:
    """The config in `path` (YAML) over the defaults; None gives the defaults."""
    if path is None:
        return TrainConfig()
    path = Path(path)
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise FileNotFoundError(f"{path}: cannot read training config: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {' '.join(str(error).split())}") from None
    return config_from_dict(values, str(path))


def config_from_dict(values: dict, source: str = "training config") -> TrainConfig:
    if not isinstance(values, dict):
        raise ValueError(f"{source}: expected a mapping of sections, got {type(values).__name__}")
    built = {}
    for name, value in values.items():
        if name not in _SECTIONS:
            raise ValueError(f"{source}: unknown field {name!r} (known: {sorted(_SECTIONS)})")
        if name == "seed":
            built[name] = _check(source, "seed", value, int)
            continue
        cls = _SECTIONS[name].default_factory
        if not isinstance(value, dict):
            raise ValueError(f"{source}: {name} must be a mapping, got {value!r}")
        built[name] = _section(cls, value, f"{source}", name)
    return TrainConfig(**built)


def _section(cls, values: dict, source: str, section: str):
    known = {f.name: f for f in fields(cls)}
    checked = {}
    for key, value in values.items():
        if key not in known:
            raise ValueError(f"{source}: unknown field {section}.{key} (known: {sorted(known)})")
        default = known[key].default
        kind = type(default) if default is not None else None
        checked[key] = _check(source, f"{section}.{key}", value, kind)
    try:
        section_config = cls(**checked)
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None
    _validate(section_config, source, section)
    return section_config


def _check(source: str, name: str, value, kind):
    if value is None or kind is None:
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{source}: {name} must be {kind.__name__}, got {value!r}")
    if kind is float and not math.isfinite(value):
        raise ValueError(f"{source}: {name} must be finite, got {value!r}")
    return value


def _validate(config, source: str, section: str) -> None:
    rules = {
        "data": [("sequence_length", lambda v: v >= 1), ("stride", lambda v: v >= 1),
                 ("val_fraction", lambda v: 0 <= v < 1)],
        "optim": [("epochs", lambda v: v >= 1), ("batch_size", lambda v: v >= 1), ("tbptt_steps", lambda v: v >= 1),
                  ("lr", lambda v: v > 0), ("weight_decay", lambda v: v >= 0), ("grad_clip", lambda v: v > 0),
                  ("warmup_epochs", lambda v: v >= 0), ("lr_min_ratio", lambda v: 0 <= v <= 1),
                  ("patience", lambda v: v >= 1)],
        "augment": [(k, lambda v: v >= 0) for k in ("brightness", "contrast", "image_noise", "imu_noise")]
        + [(k, lambda v: 0 <= v <= 1) for k in ("hflip", "greyscale")],
        "dagger": [("episodes_per_round", lambda v: v >= 1), ("epochs_per_round", lambda v: v >= 1),
                   ("expert_mix", lambda v: 0 <= v <= 1), ("max_seconds", lambda v: v is None or v > 0),
                   ("storage", lambda v: v in ("mcap", "sqlite3"))],
    }
    for key, ok in rules.get(section, []):
        value = getattr(config, key)
        if not ok(value):
            raise ValueError(f"{source}: {section}.{key} has an invalid value {value!r}")
