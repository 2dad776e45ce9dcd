"""Sequence datasets for training: bags → aligned sequences → fixed-length windows.

```python
bags, bad = load_bags(find_bags(["runs/bags"]), topics, image_size=(48, 64), skip_bad=True)
windows = SequenceWindows([s for b in bags for s in b.sequences], length=32, stride=16)
batch = windows.batch([0, 5, 7])   # images [B,T,H,W,3] uint8, imu [B,T,6], dt [B,T], cmd [B,T,4], mask [B,T]
```
A sequence shorter than the window is padded at its end (mask 0, dt the last real dt, so the
padding never influences earlier outputs of a causal model); a longer one gives windows every
`stride` frames plus one that ends on its last frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lnn_control.data.alignment import AlignmentConfig, AlignmentReport, Sequence, align
from lnn_control.data.bag_reader import BagError, BagTopics, DroppedMessages
from lnn_control.data.cache import load_bag


@dataclass
class BagData:
    """One bag's aligned sequences, the messages the reader dropped, what alignment dropped,
    and its metadata facts."""

    path: Path
    sequences: list[Sequence]
    report: AlignmentReport
    facts: dict
    dropped: list[DroppedMessages]

    @property
    def frames(self) -> int:
        return sum(len(s) for s in self.sequences)


def load_bags(bags, topics: BagTopics = BagTopics(), image_size: tuple[int, int] = (48, 64),
              alignment: AlignmentConfig = AlignmentConfig(), cache_dir=None, use_cache: bool = True,
              skip_bad: bool = False, progress: bool = False) -> tuple[list[BagData], list[tuple[Path, str]]]:
    """(usable bags, [(bad bag, problem), ...]). Without `skip_bad` the first bad bag raises
    its BagError; a bag whose frames all fail alignment is a bad bag too."""
    good, bad = [], []
    bar = tqdm(list(map(Path, bags)), desc="reading bags", unit="bag", leave=False,
               disable=None if progress else True)  # None: shown on a terminal only
    for bag in bar:
        try:
            streams = load_bag(bag, topics, image_size, cache_dir=cache_dir, use_cache=use_cache)
            sequences, report = align(streams, alignment)
            if not sequences:
                raise BagError(f"{bag}: no usable frames: of {report.frames} camera frames {report.no_imu} have no "
                               f"IMU reading within {alignment.imu_tolerance_s} s before them and {report.no_cmd} no "
                               f"command within {alignment.cmd_tolerance_s} s after them")
            good.append(BagData(bag, sequences, report, dict(streams.facts), list(streams.dropped)))
        except BagError as error:
            if not skip_bad:
                raise
            bad.append((bag, str(error)))
    return good, bad


def imu_statistics(sequences: list[Sequence]) -> tuple[np.ndarray, np.ndarray]:
    """Per-component mean and standard deviation (floored at 1e-3) of the IMU over all frames.
    Always finite: non-finite readings (which the reader drops already) are left out, and a
    component with no finite reading gets mean 0, std 1."""
    imu = np.concatenate([np.asarray(s.imu, np.float64).reshape(-1, 6) for s in sequences])
    finite = np.isfinite(imu)
    count = finite.sum(axis=0)
    values = np.where(finite, imu, 0.0)
    mean = np.divide(values.sum(axis=0), count, out=np.zeros(6), where=count > 0)
    spread = np.where(finite, (imu - mean) ** 2, 0.0).sum(axis=0)
    std = np.sqrt(np.divide(spread, count, out=np.ones(6), where=count > 0))
    return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)


class SequenceWindows:
    """Fixed-length windows over sequences (see the module docstring)."""

    def __init__(self, sequences: list[Sequence], length: int, stride: int):
        if length < 1 or stride < 1:
            raise ValueError(f"window length and stride must be positive, got {length} and {stride}")
        self.sequences = sequences
        self.length = length
        self.index: list[tuple[int, int]] = []
        for number, sequence in enumerate(sequences):
            last_start = max(0, len(sequence) - length)
            starts = list(range(0, last_start + 1, stride))
            if starts[-1] != last_start:
                starts.append(last_start)
            if sequence.weight is not None:  # a window no frame of which counts teaches nothing
                starts = [s for s in starts if np.any(sequence.weight[s:s + length] > 0)]
            self.index.extend((number, start) for start in starts)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def frames(self) -> int:
        return sum(len(s) for s in self.sequences)

    def batch(self, window_ids) -> dict[str, np.ndarray]:
        """Stacked windows: images uint8 [B,T,H,W,3], imu float32 [B,T,6], dt float32 [B,T],
        cmd float32 [B,T,4], mask float32 [B,T] (0 on padding, else the frame's weight: 1 unless
        the sequence weighs its frames)."""
        parts = [self._window(*self.index[i]) for i in window_ids]
        return {key: np.stack([p[key] for p in parts]) for key in parts[0]}

    def _window(self, number: int, start: int) -> dict[str, np.ndarray]:
        sequence = self.sequences[number]
        stop = min(start + self.length, len(sequence))
        real = stop - start
        pad = self.length - real
        window = {
            "images": np.asarray(sequence.images[start:stop]),
            "imu": np.asarray(sequence.imu[start:stop], np.float32),
            "dt": np.asarray(sequence.dt[start:stop], np.float32),
            "cmd": np.asarray(sequence.cmd[start:stop], np.float32),
            "mask": (np.ones(real, np.float32) if sequence.weight is None
                     else np.asarray(sequence.weight[start:stop], np.float32)),
        }
        if pad:
            window = {key: np.concatenate([value, np.repeat(value[-1:], pad, axis=0)])
                      for key, value in window.items()}
            window["mask"][real:] = 0.0
        return window
