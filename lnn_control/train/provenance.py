"""The provenance a trained checkpoint carries: which bags it learned from, which were skipped.

`provenance(bags, skipped, config)` is the header's `provenance` (the bags with their frames,
sequences, episode facts and dropped messages; the skipped bags with the problem; the topics
read); `bag_fact` reads one episode fact of such a bag back.
"""
from __future__ import annotations

import json
from dataclasses import asdict

from lnn_control.data import BagData
from lnn_control.data.bag_writer import CUSTOM_DATA_PREFIX
from lnn_control.train.config import TrainConfig


def provenance(bags: list[BagData], skipped: list[tuple], config: TrainConfig, parent: dict | None = None) -> dict:
    """The checkpoint header's `provenance` for training on `bags`; `skipped`: (path, problem)
    of the bags left out; `parent`: the checkpoint a fine-tuning started from (path, sha256,
    kind), None for a training from scratch."""
    bag_rows = [{"path": str(b.path), "frames": b.frames, "sequences": len(b.sequences), "facts": b.facts,
                 "dropped_messages": [asdict(d) for d in b.dropped]} for b in bags]
    return {"parent": parent, "bags": bag_rows,
            "skipped_bags": [{"path": str(path), "problem": problem} for path, problem in skipped],
            "topics": {"image": config.topics.image, "imu": config.topics.imu, "cmd": config.topics.cmd}}


def bag_fact(bag: dict, name: str):
    """The episode fact `name` (e.g. "source", "seed", "outcome") of one bag of a `provenance`;
    None when the bag does not have it. Facts are stored as text, structured ones as JSON."""
    value = (bag.get("facts") or {}).get(CUSTOM_DATA_PREFIX + name)
    try:
        return json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return value
