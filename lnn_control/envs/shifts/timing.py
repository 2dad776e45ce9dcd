"""Timing shifts: dropped camera frames and observation latency.

They change which observation arrives after a step, never the simulation: "dt" (s) reports
the time since the previous delivered observation, and the IMU readings of the period
(`IMU_STREAM_KEYS` in info) always travel with the frame they belong to. Steps are control
periods (50 ms at 20 Hz).
"""
from __future__ import annotations

from collections import deque

import numpy as np

from lnn_control.envs.shifts.base import Shift, Stage

IMU_STREAM_KEYS = ("imu_samples", "imu_sample_times")


def imu_stream(info: dict) -> dict:
    """The IMU readings of the control period in `info` (NavEnv), which belong with the frame."""
    return {key: info[key] for key in IMU_STREAM_KEYS if key in info}


class FrameDrops(Shift):
    """Dropped camera frames: with probability 0.5 * severity a frame never arrives, the last
    command is held, and the next frame that arrives reports the whole elapsed time in its dt
    (at most 4 frames in a row are dropped). Every delivered frame is the simulator's current one;
    `info["dropped_frames"]` says how many were dropped before it. The IMU is not dropped: the
    IMU stream in info (`IMU_STREAM_KEYS`) holds the readings of the whole elapsed time.
    """

    name = "frame_drops"
    stage = Stage.DROPS
    drop_probability_at_full = 0.5
    max_consecutive_drops = 4

    def step(self, action):
        if self.severity == 0.0:
            return self.env.step(action)
        obs, reward, terminated, truncated, info = self.env.step(action)
        elapsed_s = float(obs["dt"][0])
        streams = [imu_stream(info)]
        drops = 0
        while (
            not (terminated or truncated)
            and drops < self.max_consecutive_drops
            and self.rng.random() < self.drop_probability_at_full * self.severity
        ):
            obs, more_reward, terminated, truncated, info = self.env.step(action)
            elapsed_s += float(obs["dt"][0])
            streams.append(imu_stream(info))
            reward += more_reward
            drops += 1
        joined_stream = {key: np.concatenate([stream[key] for stream in streams]) for key in streams[0]}
        info = {**info, **joined_stream, "dropped_frames": drops}
        return {**obs, "dt": np.array([elapsed_s], np.float32)}, reward, terminated, truncated, info


class Latency(Shift):
    """Observation latency: every observation arrives round(4 * severity) control steps late
    (up to 200 ms at 20 Hz). At reset the drone hovers (zero command) for that many steps, so
    the first observation is the one from the start and no frame is ever repeated; `info` and
    the episode's time are the true, current ones (the hover counts towards the time limit),
    except the IMU stream of the period (`IMU_STREAM_KEYS`), which arrives with its observation."""

    name = "latency"
    stage = Stage.LATENCY
    max_delay_steps = 4

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        delay = round(self.max_delay_steps * self.severity)
        self.pending = deque()
        hover = np.zeros(self.action_space.shape, self.action_space.dtype)
        for _ in range(delay):
            newer, _, terminated, truncated, newer_info = self.env.step(hover)
            self.pending.append((newer, imu_stream(newer_info)))
            if terminated or truncated:
                break
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if not self.pending:
            return obs, reward, terminated, truncated, info
        self.pending.append((obs, imu_stream(info)))
        delayed_obs, delayed_imu_stream = self.pending.popleft()
        return delayed_obs, reward, terminated, truncated, {**info, **delayed_imu_stream}
