"""Align a bag's IMU and command streams on its camera frames, and cut it into sequences.

The rule, for each camera frame with stamp t (`stamps: header`, the default: header stamps, and
for Twist, which has none, its log time; `stamps: log`: every message's bag log time, for bags
whose sensors stamp with clocks that disagree):
- IMU: the latest IMU reading stamped at or before t (what the robot knew when the frame
  arrived), if it is at most `imu_tolerance_s` old;
- command: the first command stamped at or after t (the command that followed the frame),
  if it comes at most `cmd_tolerance_s` after t;
- dt: t minus the previous frame's stamp (s); the first frame of a sequence gets the bag's
  median frame period;
- intervention (when the bag's takeover flag was read): the flag that went with that command —
  the first flag stamped at or after t (policy_node publishes it with each command it sends),
  the last one where none follows, False in a bag with none.
A frame without an IMU reading or a command in tolerance is dropped, and so is a frame whose
stamp does not increase. The stream is cut into separate sequences wherever consecutive kept
frames are more than `max_gap_s` apart (a pause in recording, dropped frames, a dropped
frame's neighbours); sequences shorter than `min_frames` are discarded.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lnn_control.config_file import check_fields, setting
from lnn_control.data.bag_reader import BagStreams

NS = 1e-9


@dataclass(frozen=True)
class AlignmentConfig:
    """Tolerances (s) of the alignment rule (see the module docstring); checked when built, by
    the rules that the training config's `alignment` section is checked by."""

    imu_tolerance_s: float = setting(0.1, above=0)
    cmd_tolerance_s: float = setting(0.1, above=0)
    max_gap_s: float = setting(0.5, above=0)
    min_frames: int = setting(2, low=1)
    stamps: str = setting("header", options=("header", "log"))

    def __post_init__(self):
        check_fields(self)


@dataclass
class Sequence:
    """Consecutive aligned frames: images uint8 [T, H, W, 3], imu float32 [T, 6],
    dt float32 [T] (s), cmd float32 [T, 4], stamps int64 [T] (ns); intervention bool [T]
    (an operator was flying the frame's command) or None when the bag's flag was not read;
    weight float32 [T], how much each frame's command counts in training (1 by default)."""

    images: np.ndarray
    imu: np.ndarray
    dt: np.ndarray
    cmd: np.ndarray
    stamps: np.ndarray
    intervention: np.ndarray | None = None
    weight: np.ndarray | None = None

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
    log = config.stamps == "log"
    t, image_order = _timeline(streams.image_log_stamps if log else streams.image_stamps)
    imu_t, imu_order = _timeline(streams.imu_log_stamps if log else streams.imu_stamps)
    cmd_t, cmd_order = _timeline(streams.cmd_log_stamps if log else streams.cmd_stamps)
    imu_index = np.searchsorted(imu_t, t, side="right") - 1
    has_imu = imu_index >= 0
    imu_age = np.where(has_imu, t - imu_t[np.clip(imu_index, 0, None)], np.iinfo(np.int64).max)
    has_imu &= imu_age <= config.imu_tolerance_s / NS

    cmd_index = np.searchsorted(cmd_t, t, side="left")
    has_cmd = cmd_index < len(cmd_t)
    cmd_delay = np.where(has_cmd, cmd_t[np.clip(cmd_index, None, len(cmd_t) - 1)] - t, np.iinfo(np.int64).max)
    has_cmd &= cmd_delay <= config.cmd_tolerance_s / NS

    increasing = np.ones(len(t), bool)
    increasing[1:] = np.diff(t) > 0
    keep = np.flatnonzero(has_imu & has_cmd & increasing)
    report = {"frames": len(t), "no_imu": int((~has_imu).sum()), "no_cmd": int((has_imu & ~has_cmd).sum())}
    if len(keep) == 0:
        return [], AlignmentReport(kept=0, sequences=0, **report)

    flags = _intervention_at(streams, log, t) if len(streams.intervention_stamps) else None
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
        sequences.append(Sequence(images=_rows(streams.images, image_order[part]),
                                  imu=streams.imu[imu_order[imu_index[part]]], dt=dt,
                                  cmd=streams.cmd[cmd_order[cmd_index[part]]], stamps=t[part],
                                  intervention=None if flags is None else flags[part]))
    kept = sum(len(s) for s in sequences)
    return sequences, AlignmentReport(kept=kept, sequences=len(sequences), **report)


def _intervention_at(streams: BagStreams, log: bool, t: np.ndarray) -> np.ndarray:
    """The takeover flag of the command answering each frame time `t`: the first flag at or after
    it (the node publishes one with each command), the last flag where none follows."""
    flag_t, order = _timeline(streams.intervention_log_stamps if log else streams.intervention_stamps)
    index = np.minimum(np.searchsorted(flag_t, t, side="left"), len(flag_t) - 1)
    return streams.intervention[order[index]]


def _timeline(stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stamps sorted, the order that sorts them); streams come sorted by header stamp already."""
    order = np.argsort(stamps, kind="stable")
    return np.asarray(stamps)[order], order


def _rows(array: np.ndarray, index: np.ndarray) -> np.ndarray:
    """array[index], as a view when the rows are consecutive (a memory-mapped cache entry then
    stays on disk, shared by every process, instead of being copied into each one)."""
    if len(index) == 1 or bool(np.all(np.diff(index) == 1)):
        return array[index[0]:index[-1] + 1]
    return array[index]
