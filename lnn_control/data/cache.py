"""Decoded-bag cache: decode a bag's images once, read them back memory-mapped afterwards.

An entry is a folder of .npy arrays (the `BagStreams`) plus meta.json (facts, dropped
messages), named by a hash of
what determines the decoded result: the bag's resolved path, the names, sizes and
modification times of its files, the topics and the image size. A changed bag therefore gets
a new entry; old entries are never trusted for changed input. Entries are written to a
temporary folder and renamed into place, so concurrent processes (DDP ranks, workers) never
read half an entry. The default location is $LNN_CONTROL_CACHE or ~/.cache/lnn_control/decoded.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from lnn_control.data.bag_reader import BagStreams, BagTopics, DroppedMessages, read_bag

CACHE_VERSION = 4
ARRAYS = ("image_stamps", "images", "imu_stamps", "imu", "cmd_stamps", "cmd", "image_log_stamps",
          "imu_log_stamps", "cmd_log_stamps", "intervention_stamps", "intervention", "intervention_log_stamps")


def default_cache_dir() -> Path:
    return Path(os.environ.get("LNN_CONTROL_CACHE") or Path.home() / ".cache" / "lnn_control" / "decoded")


def cache_key(bag: Path, topics: BagTopics, image_size: tuple[int, int]) -> str:
    bag = bag.resolve()
    files = [bag] if bag.is_file() else sorted(p for p in bag.iterdir() if p.is_file())
    identity = {
        "version": CACHE_VERSION, "bag": str(bag), "topics": asdict(topics), "image_size": list(image_size),
        "files": [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files],
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]


def load_bag(bag, topics: BagTopics = BagTopics(), image_size: tuple[int, int] = (48, 64),
             cache_dir: Path | str | None = None, use_cache: bool = True) -> BagStreams:
    """`read_bag` through the cache: the first call decodes and stores, later calls map the
    stored arrays (no decoding). BagError as `read_bag`."""
    bag = Path(bag)
    if not use_cache or not bag.exists():
        return read_bag(bag, topics, image_size)
    entry = Path(cache_dir or default_cache_dir()) / cache_key(bag, topics, image_size)
    if (entry / "meta.json").is_file():
        try:
            arrays = {name: np.load(entry / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
            meta = json.loads((entry / "meta.json").read_text())
            return BagStreams(**arrays, facts=meta["facts"], dropped=[DroppedMessages(**d) for d in meta["dropped"]])
        except (OSError, ValueError, KeyError, TypeError):
            shutil.rmtree(entry, ignore_errors=True)  # a damaged entry is decoded again
    streams = read_bag(bag, topics, image_size)
    _store(entry, streams)
    return streams


def _store(entry: Path, streams: BagStreams) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=entry.name + ".", dir=entry.parent))
    try:
        for name in ARRAYS:
            np.save(partial / f"{name}.npy", getattr(streams, name))
        meta = {"facts": streams.facts, "dropped": [asdict(d) for d in streams.dropped]}
        (partial / "meta.json").write_text(json.dumps(meta))
        os.rename(partial, entry)
    except OSError:  # another process stored it first, or the cache is not writable
        shutil.rmtree(partial, ignore_errors=True)
