"""`TrainConfig`: the training configuration (config/train.yaml), validated at load.

Sections mirror the YAML: topics, alignment, data, optim, augment, dagger (and the top-level
seed and ensemble). Every key is optional (a missing one keeps its default). The file is read and checked
with `lnn_control.config_file`: each key is a field of its section's dataclass, checked by the
field's type and the bounds or options of its `setting(...)`; an unknown section or key, or a
bad value, is a `ConfigError` (a ValueError) whose one-line message names the file and the
field, e.g. `train.yaml: optim.batch_size: expected an integer, got 'many'`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any

from lnn_control.config_file import Fields, read_yaml, setting
from lnn_control.data import AlignmentConfig, BagTopics
from lnn_control.policy.spec import MAX_ENSEMBLE


@dataclass(frozen=True)
class DataConfig:
    """Windows cut from the aligned sequences, and the validation split (by bag)."""

    sequence_length: int = setting(32, low=1)  # frames per window
    stride: int = setting(16, low=1)  # frames between window starts
    val_fraction: float = setting(0.2, low=0, below=1)
    cache_dir: str | None = None
    use_cache: bool = True


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warm-up then cosine decay to lr_min_ratio * lr; early stopping."""

    epochs: int = setting(30, low=1)
    batch_size: int = setting(16, low=1)  # windows per optimiser step
    tbptt_steps: int = setting(16, low=1)  # frames the gradient flows through at most
    lr: float = setting(3e-3, above=0)
    weight_decay: float = setting(1e-4, low=0)
    grad_clip: float = setting(1.0, above=0)  # max global gradient norm
    warmup_epochs: int = setting(1, low=0)
    lr_min_ratio: float = setting(0.05, low=0, high=1)
    patience: int = setting(8, low=1)  # epochs without a better validation loss
    # the image encoder's arithmetic in training batches (the core, head, loss and validation stay
    # float32): fp32; bf16 (autocast); auto: bf16 where the device computes it natively (a CPU
    # with AMX or AVX-512 BF16, a GPU that supports it), else fp32
    encoder_precision: str = setting("fp32", options=("fp32", "bf16", "auto"))


@dataclass(frozen=True)
class AugmentConfig:
    """Training-batch augmentation: strengths (>= 0) and probabilities (in [0, 1])."""

    brightness: float = setting(0.2, low=0)
    contrast: float = setting(0.2, low=0)
    image_noise: float = setting(0.02, low=0)  # pixel noise std, fraction of full scale
    imu_noise: float = setting(0.02, low=0)  # in units of the training data's IMU std
    hflip: float = setting(0.0, low=0, high=1)
    greyscale: float = setting(0.0, low=0, high=1)
    # probability a frame is dropped (`augment.drop_frames`); the frame_drops shift at severity s: 0.5 s
    frame_drops: float = setting(0.0, low=0, high=1)


@dataclass(frozen=True)
class DaggerConfig:
    """DAgger rounds: rollouts of the learner (world name or YAML path), labelled by the expert."""

    world: str = "forest"
    episodes_per_round: int = setting(8, low=1)
    epochs_per_round: int = setting(10, low=1)
    expert_mix: float = setting(0.0, low=0, high=1)
    max_seconds: float | None = setting(None, above=0)  # None: the world's time limit
    storage: str = setting("mcap", options=("mcap", "sqlite3"))
    # the expert that labels the rollouts: a name of lnn_control.sim.expert.TEACHERS (test_train checks)
    teacher: str = setting("privileged", options=("privileged", "imitable"))


@dataclass(frozen=True)
class InterventionConfig:
    """Training from an operator's takeovers (`train --interventions`, HG-DAgger): the commands
    flown while `topic` (std_msgs/Bool, policy_node's ~/intervention) said an operator was flying
    are the labels. `policy_weight` is how much a frame the policy flew itself counts: 0 (the
    default, HG-DAgger's choice) learns only from the corrections, the policy's own frames
    still feed the recurrent state; 1 counts them as demonstrations too, as though the
    operator approved of everything they did not take over from."""

    topic: str = "policy_node/intervention"
    policy_weight: float = setting(0.0, low=0, high=1)


@dataclass(frozen=True)
class TrainConfig:
    """`ensemble`: train K members on one shared encoder (`PolicySpec.ensemble`), each on its own
    bootstrap resample of the training windows (see `behavior_cloning`); None: 1 member from
    scratch, the parent's number when fine-tuning (`--init`)."""

    seed: int = 0
    ensemble: int | None = setting(None, low=1, high=MAX_ENSEMBLE)
    topics: BagTopics = field(default_factory=BagTopics)
    alignment: AlignmentConfig = field(default_factory=AlignmentConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    dagger: DaggerConfig = field(default_factory=DaggerConfig)
    interventions: InterventionConfig = field(default_factory=InterventionConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    def replace(self, section: str | None = None, **changes) -> TrainConfig:
        """A copy with `changes` to a section (or top-level fields when section is None)."""
        if section is None:
            return dataclasses.replace(self, **changes)
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **changes)})


def load_config(path=None) -> TrainConfig:
    """The config in `path` (YAML) over the defaults; None gives the defaults.

    Raises FileNotFoundError naming the file, or ConfigError naming the file and the field."""
    if path is None:
        return TrainConfig()
    return config_from_dict(read_yaml(path, "training config") or {}, str(path))


def config_from_dict(values: Any, source: str = "training config") -> TrainConfig:
    """The config in the document `values` (the YAML's content); errors name `source` and the field."""
    return Fields(source).dataclass("", TrainConfig, values)
