"""Align a bag's IMU and command streams on its camera frames, and cut it into sequences.

The rule, for each camera frame with header stamp t:
- IMU: the latest IMU reading stamped at or before t (what the robot knew when the frame
  arrived), if it is at most `imu_tolerance_s` old;
- command: the first command stamped at or after t (the command that followed the frame),
  if it comes at most `cmd_tolerance_s` after t;
- dt: t minus the previous frame's stamp (s); the first frame of a sequence gets the bag's
  median frame period.
A frame without an IMU reading or a command in tolerance is dropped, and so is a frame whose
stamp does not increase. The stream is cut into separate sequences wherever consecutive kept
frames are more than `max_gap_s` apart (a pause in recording, dropped frames, a dropped
frame's neighbours); sequences shorter than `min_frames` are discarded.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lnn_control.data.bag_reader import BagStreams

NS = 1e-9


@dataclass(frozen=True)
class AlignmentConfig:
    """Tolerances (s) of the alignment rule (see the module docstring)."""

    imu_tolerance_s: float = 0.1
    cmd_tolerance_s: float = 0.1
    max_gap_s: float = 0.5
    min_frames: int = 2

    def __post_init__(self):
        for name in ("imu_tolerance_s", "cmd_tolerance_s", "max_gap_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"alignment.{name} must be a positive number of seconds, got {value!r}")
        if not isinstance(self.min_frames, int) or self.min_frames < 1:
            raise ValueError(f"alignment.min_frames must be a positive integer, got {self.min_frames!r}")


@dataclass
class Sequence:
    """Consecutive aligned frames: images uint8 [T, H, W, 3], imu float32 [T, 6],
    dt float32 [T] (s), cmd float32 [T, 4], stamps int64 [T] (ns)."""

    images: np.ndarray
    imu: np.ndarray
    dt: np.ndarray
    cmd: np.ndarray
    stamps: np.ndarray

    def __len__(self) -> int:
        return len(self.stamps)


@dataclass(frozen=True)
class AlignmentReport:
    frames: int
    kept: int
    sequences: int
    no_imu: int
    no_cmd: int


def align(streams: BagStreams, config: AlignmentConfig = AlignmentConfig()) -> tuple[list[Sequence], AlignmentReport]:
    """Sequences of aligned frames from one bag's streams, and what was dropped."""
    t = streams.image_stamps
    imu_index = np.searchsorted(streams.imu_stamps, t, side="right") - 1
    has_imu = imu_index >= 0
    imu_age = np.where(has_imu, t - streams.imu_stamps[np.clip(imu_index, 0, None)], np.iinfo(np.int64).max)
    has_imu &= imu_age <= config.imu_tolerance_s / NS

    cmd_index = np.searchsorted(streams.cmd_stamps, t, side="left")
    has_cmd = cmd_index < len(streams.cmd_stamps)
    cmd_delay = np.where(has_cmd, streams.cmd_stamps[np.clip(cmd_index, None, len(streams.cmd_stamps) - 1)] - t,
                         np.iinfo(np.int64).max)
    has_cmd &= cmd_delay <= config.cmd_tolerance_s / NS

    increasing = np.ones(len(t), bool)
    increasing[1:] = np.diff(t) > 0
    keep = np.flatnonzero(has_imu & has_cmd & increasing)
    report = dict(frames=len(t), no_imu=int((~has_imu).sum()), no_cmd=int((has_imu & ~has_cmd).sum()))
    if len(keep) == 0:
        return [], AlignmentReport(kept=0, sequences=0, **report)

    periods = np.diff(t[keep]) * NS
    nominal = float(np.median(periods)) if len(periods) else config.max_gap_s
    # a dropped frame leaves a longer dt (as at run time); only gaps over max_gap_s cut
    cuts = np.flatnonzero(periods > config.max_gap_s) + 1
    sequences = []
    for part in np.split(keep, cuts):
        if len(part) < config.min_frames:
            continue
        dt = np.empty(len(part), np.float32)
        dt[0] = nominal
        dt[1:] = np.diff(t[part]) * NS
        sequences.append(Sequence(images=_rows(streams.images, part), imu=streams.imu[imu_index[part]], dt=dt,
                                  cmd=streams.cmd[cmd_index[part]], stamps=t[part]))
    kept = sum(len(s) for s in sequences)
    return sequences, AlignmentReport(kept=kept, sequences=len(sequences), **report)


def _rows(array: np.ndarray, index: np.ndarray) -> np.ndarray:
    """array[index], as a view when the rows are consecutive (a memory-mapped cache entry then
    stays on disk, shared by every process, instead of being copied into each one)."""
    if index[-1] - index[0] + 1 == len(index):
        return array[index[0]:index[-1] + 1]
    return array[index]
