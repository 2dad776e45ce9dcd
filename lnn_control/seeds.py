"""World seeds, in one place: which seeds training flies, which evaluation flies, and which were
spent choosing the recipe, so that no evaluation ever flies a world that training saw.

A world is a YAML file plus a seed (same seed, same layout). The ranges:

- `DEMONSTRATIONS`: `lnn-control collect` (episode i flies seed `first + i`, from 0 by default);
  `make model` collects its demonstrations here.
- `dagger_rollout_seed`: DAgger rollouts, from 1_000_000 on, apart by training seed and round.
- `EVALUATION`: `lnn-control eval` and `demo` start here by default; the model card's draw.
- `SECOND_DRAW`: the model card's second draw, which no choice of the recipe looked at.
- `RECIPE_TRIALS`: where recipe changes were compared (models/TRIALS.md tells which and how);
  no table of the card uses them.
- `ADAPTATION`: the flights an operator corrects in `lnn-control adapt` (round k, flight i:
  `ADAPTATION + 1000 k + i`); its held-out episodes fly from `EVALUATION` on.
Each range is 10_000 seeds wide, far more than any run flies.
"""
from __future__ import annotations

DEMONSTRATIONS = 0
EVALUATION = 10_000
SECOND_DRAW = 20_000
RECIPE_TRIALS = 30_000
ADAPTATION = 40_000
RANGE_WIDTH = 10_000
DAGGER_ROLLOUTS = 1_000_000


def dagger_rollout_seed(training_seed: int, round_index: int, episode: int) -> int:
    """The world seed of DAgger rollout `episode` (0..99) in round `round_index` (1..99) of a
    training run with seed `training_seed`."""
    if not 0 <= episode < 100 or not 0 <= round_index < 100:
        raise ValueError(f"DAgger rollouts are numbered 0..99 per round, rounds 0..99; got round {round_index}, "
                         f"episode {episode}")
    return DAGGER_ROLLOUTS + 10_000 * training_seed + 100 * round_index + episode
