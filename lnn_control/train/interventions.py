"""Learning from an operator's takeovers (HG-DAgger, Kelly et al. 2019): who flew each frame decides
how much its command teaches.

A bag of a corrected flight holds the takeover flag (`policy_node`'s `~/intervention`,
std_msgs/Bool) next to the commands flown; alignment gives every frame the flag in force
(`Sequence.intervention`). While an operator was flying, the command is theirs: a label to
learn, weight 1. While the policy flew itself, its frames still feed the recurrent state, and
their commands weigh `policy_weight`: 0 learns only from the corrections (HG-DAgger), 1
counts them as demonstrations too, as though the operator approved of all they did not
correct.
"""
from __future__ import annotations

import numpy as np

from lnn_control.data import BagData


def weigh_interventions(bags: list[BagData], policy_weight: float) -> None:
    """Weigh each frame by who flew it: 1 where the operator had taken over, `policy_weight`
    where the policy flew itself. Nothing to learn from (no takeover in any bag, and the
    policy's own frames weigh 0) is a ValueError."""
    for sequence in (s for bag in bags for s in bag.sequences):
        sequence.weight = np.where(sequence.intervention, 1.0, policy_weight).astype(np.float32)
    if not any(np.any(s.weight > 0) for bag in bags for s in bag.sequences):
        raise ValueError(f"--interventions: no operator took over in any of the {len(bags)} bags, and the policy's "
                         f"own frames weigh 0 (interventions.policy_weight): nothing to learn from")
