"""Fly one closed-loop episode: reset the world from the seed, let the pilot command the drone
until success, collision or the time limit, and measure the flight."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import gymnasium as gym
import numpy as np

from lnn_control.eval.episode_record import EpisodeRecord, mean_abs_jerk, path_length_m
from lnn_control.eval.pilots import Pilot
from lnn_control.eval.plan import EpisodeJob
from lnn_control.eval.video import VideoRecorder, side_by_side


def fly_episode(env: gym.Env, pilot: Pilot, job: EpisodeJob, video_path: Optional[Path] = None) -> EpisodeRecord:
    """Fly `job` in `env` (already wrapped in the job's shifts) with `pilot`. With `video_path`,
    `env` must render "rgb_array" and the episode is also written there as MP4."""
    started = time.perf_counter()
    observation, info = env.reset(seed=job.seed)
    pilot.reset(job.seed)
    positions = [np.asarray(info["position"], np.float64)]
    commands, command_times = [], []
    recorder = VideoRecorder(video_path, fps=env.metadata.get("render_fps", 20)) if video_path else None
    try:
        while True:
            command = np.asarray(pilot.act(observation, env), np.float32)
            if recorder:
                recorder.add(side_by_side(env.render(), observation["image"], _caption(job, info, command)))
            commands.append(command)
            command_times.append(float(info["sim_time"]))
            observation, _, terminated, truncated, info = env.step(command)
            positions.append(np.asarray(info["position"], np.float64))
            if terminated or truncated:
                break
        if recorder:
            recorder.add(side_by_side(env.render(), observation["image"], _caption(job, info, command)))
    finally:
        if recorder:
            recorder.close()
    success, collision = bool(info["success"]), bool(info["collision"])
    return EpisodeRecord(
        policy=job.policy, world=job.world, condition=job.condition.name, episode=job.episode, seed=job.seed,
        success=success, collision=collision and not success,
        timeout=bool(info["timeout"]) and not (success or collision),
        time_s=float(info["sim_time"]), path_length_m=path_length_m(np.array(positions)),
        mean_abs_jerk_m_s3=mean_abs_jerk(np.array(commands), np.array(command_times)),
        distance_to_target_m=float(info["distance_to_target"]), steps=len(commands),
        wall_s=time.perf_counter() - started)


def _caption(job: EpisodeJob, info: dict, command: np.ndarray) -> list[str]:
    outcome = next((word for word in ("success", "collision", "timeout") if info[word]), "").upper()
    return [f"{job.policy} | {job.world} | {job.condition.name} | seed {job.seed}",
            f"t {info['sim_time']:5.1f} s  target {info['distance_to_target']:5.1f} m  "
            f"cmd {command[0]:+.1f} {command[1]:+.1f} {command[2]:+.1f} {command[3]:+.1f}  {outcome}"]
