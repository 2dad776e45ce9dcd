"""The recipe of `make model`: which models, how much of everything, and their training config.

`Recipe()` makes the shipped models; `QUICK` is `--quick`, a smoke run of a few minutes (tiny
data, one epoch, a few short episodes: not a usable model). Every model is trained with the
same config, `training_config`: the recipe's file (config/model_recipe.yaml, which says why
each value is what it is) with the recipe's training seed and reductions.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from lnn_control.config_file import read_yaml
from lnn_control.paths import share_path
from lnn_control.train.config import config_from_dict, load_config

KINDS = ("cfc", "lstm", "gru", "mlp")  # the CfC and its baselines, trained and evaluated alike


@dataclass(frozen=True)
class Recipe:
    """How much of everything: demonstrations, DAgger rounds, evaluation episodes; the vehicle
    (`lnn_control.vehicles`) and the kinds of policy trained (the CfC first)."""

    episodes: int = 300          # expert demonstrations in the forest (world seeds 0..episodes-1)
    dagger_rounds: int = 3
    eval_episodes: int = 100     # per policy x world (forest, urban), no shift, in each draw of seeds
    suite_episodes: int = 10     # per policy x condition of the standard suite, forest (0: no suite)
    eval_time_limit_s: float = 40.0  # simulated seconds per evaluation episode
    train_seed: int = 0
    train_config: str = "config/model_recipe.yaml"
    epochs: int | None = None     # None: the training config's optim.epochs
    dagger_episodes: int | None = None  # None: the config's dagger.episodes_per_round
    dagger_epochs: int | None = None    # None: the config's dagger.epochs_per_round
    dagger_seconds: float | None = None  # None: the config's dagger.max_seconds (simulated s per rollout)
    vehicle: str = "drone"
    kinds: tuple[str, ...] = KINDS

    def __post_init__(self):
        object.__setattr__(self, "kinds", tuple(self.kinds))  # a list when read back from steps.json
        if not self.kinds or self.kinds[0] != "cfc" or any(kind not in KINDS for kind in self.kinds):
            raise ValueError(f"kinds must start with cfc and name only {', '.join(KINDS)}, got {list(self.kinds)}")

    @property
    def prefix(self) -> str:
        """What the shipped files' names begin with: nothing for the drone, 'rover_' for a rover."""
        return "" if self.vehicle == "drone" else f"{self.vehicle}_"

    @property
    def reduced(self) -> bool:
        """Whether the recipe overrides the training config's epochs or DAgger sizes (--quick)."""
        return any(v is not None for v in (self.epochs, self.dagger_episodes, self.dagger_epochs, self.dagger_seconds))


QUICK = Recipe(episodes=4, dagger_rounds=1, eval_episodes=2, suite_episodes=1, eval_time_limit_s=3.0, epochs=1,
               dagger_episodes=1, dagger_epochs=1, dagger_seconds=3.0)


def training_config(recipe: Recipe, work: Path) -> Path:
    """Write `work`/train_config.yaml, the config every model is trained with: the recipe's
    file (a relative path not found here is taken from the package's share folder) with the
    recipe's seed and DAgger reductions. A missing, unreadable or invalid file is an error
    naming it, before anything runs."""
    source = Path(recipe.train_config)
    if not source.is_absolute() and not source.is_file():
        source = share_path(*source.parts)
    load_config(source)
    values = read_yaml(source, "training config") or {}
    dagger = dict(values.get("dagger") or {})
    if recipe.dagger_episodes is not None:
        dagger["episodes_per_round"] = recipe.dagger_episodes
    if recipe.dagger_epochs is not None:
        dagger["epochs_per_round"] = recipe.dagger_epochs
    if recipe.dagger_seconds is not None:
        dagger["max_seconds"] = recipe.dagger_seconds
    if dagger:
        values["dagger"] = dagger
    values["seed"] = recipe.train_seed
    config_from_dict(values, str(source))  # fail here, naming the recipe file, not in four trainings
    path = work / "train_config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# made by make_model from {source}\n" + yaml.safe_dump(values, sort_keys=False))
    return path
