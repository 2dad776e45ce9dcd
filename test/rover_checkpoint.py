"""An untrained rover policy for the ROS tests of the rover: no shipped rover model is needed.

`sideways_rover_checkpoint(path)` writes a random-weight CfC checkpoint (seed 0) whose spec says
`vehicle="rover"` and whose head's bias drives vy and vz hard (tanh(±3): about ±0.99 of the
limit whatever the frame), so a node that let the policy's raw vy and vz through would publish
them: what the planar-command tests need to be able to fail.
"""
from __future__ import annotations

from pathlib import Path

#: The head's bias (pre-tanh) on [vx, vy, vz, yaw_rate]: forward, and strongly sideways and down.
HEAD_BIAS = (1.0, 3.0, -3.0, 0.0)


def sideways_rover_checkpoint(path: Path) -> Path:
    """The checkpoint at `path` (written without touching torch's global random state)."""
    import torch

    from lnn_control.policy import PolicySpec, build_network, save_checkpoint

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = build_network(PolicySpec(kind="cfc", vehicle="rover"))
    with torch.no_grad():
        network.head.bias.copy_(torch.tensor(HEAD_BIAS))
    return save_checkpoint(path, network)
