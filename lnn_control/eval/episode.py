"""Fly one evaluation episode (`lnn_control.rollout.fly`) and turn it into an episode record:
its outcome, the smoothness of its commands, what the drone's camera saw of the target and
how far the body tilted, the policy's uncertainty at each decision, and optionally a video."""
from __future__ import annotations

import math
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from lnn_control.eval.episode_record import LOST_S, EpisodeRecord, mean_abs_jerk, uncertainty_fields
from lnn_control.eval.plan import EpisodeJob
from lnn_control.eval.video import EpisodeFilm
from lnn_control.policy.saliency import SaliencyMaker
from lnn_control.rollout import Decision, ObserverBase, Pilot, fly
from lnn_control.sim.visibility import target_in_view


class CommandLog(ObserverBase):
    """The commands flown (float32 [4]), the policy's uncertainty about each (None without
    one), and the simulated times (s) they were issued at."""

    def __init__(self):
        self.commands: list[np.ndarray] = []
        self.uncertainties: list[float | None] = []
        self.times_s: list[float] = []

    def decided(self, env, observation: dict, info: dict, decision: Decision) -> None:
        self.commands.append(decision.command)
        self.uncertainties.append(decision.uncertainty)
        self.times_s.append(float(info["sim_time"]))


class SightLog(ObserverBase):
    """At every decision: whether the target is in the camera's view (`sim.visibility`) and
    the body's tilt from level (deg)."""

    def __init__(self):
        self.in_view: list[bool] = []
        self.times_s: list[float] = []
        self.tilts_deg: list[float] = []

    def decided(self, env, observation: dict, info: dict, decision: Decision) -> None:
        sim = env.unwrapped.sim
        self.in_view.append(target_in_view(sim))
        self.times_s.append(float(info["sim_time"]))
        self.tilts_deg.append(math.degrees(math.acos(float(np.clip(sim.rotation[2, 2], -1.0, 1.0)))))

    def summary(self, end_s: float) -> dict:
        """The record's sight fields for an episode that ended at `end_s` (simulated s)."""
        seen = [t for t, visible in zip(self.times_s, self.in_view, strict=True) if visible]
        return {"target_in_view_fraction": float(np.mean(self.in_view)) if self.in_view else None,
                "target_out_of_view_at_end_s": (end_s - seen[-1]) if seen else end_s,
                "max_tilt_deg": max(self.tilts_deg, default=None),
                "target_lost_intervals_s": self.lost_intervals(end_s)}

    def lost_intervals(self, end_s: float) -> list[list[float]]:
        """[start, end] (s) of the stretches of `LOST_S` or more without the target in view."""
        stretches, start = [], None
        for t, visible in zip(self.times_s, self.in_view, strict=True):
            if not visible and start is None:
                start = t
            elif visible and start is not None:
                stretches.append([start, t])
                start = None
        if start is not None:
            stretches.append([start, end_s])
        return [[a, b] for a, b in stretches if b - a >= LOST_S - 1e-9]


def fly_episode(env: gym.Env, pilot: Pilot, job: EpisodeJob, video_path: Path | None = None,
                saliency: SaliencyMaker | None = None) -> EpisodeRecord:
    """Fly `job` in `env` (already wrapped in the job's shifts) with `pilot`. With `video_path`,
    `env` must render "rgb_array" and the episode is also written there as MP4 (with `saliency`,
    the pilot's network's map over the camera pane)."""
    started = time.perf_counter()
    commands, sight = CommandLog(), SightLog()
    if video_path is None:
        outcome = fly(env, pilot, job.seed, observers=[commands, sight])
    else:
        fps = env.metadata.get("render_fps", 20)
        with EpisodeFilm(video_path, fps, lambda info, command: _caption(job, info, command), saliency) as film:
            outcome = fly(env, pilot, job.seed, observers=[commands, sight, film])
    return EpisodeRecord.from_outcome(
        outcome, policy=job.policy, world=job.world, condition=job.condition.name, episode=job.episode, seed=job.seed,
        mean_abs_jerk_m_s3=mean_abs_jerk(np.array(commands.commands), np.array(commands.times_s)),
        wall_s=time.perf_counter() - started, **sight.summary(outcome.time_s),
        **uncertainty_fields(commands.uncertainties, commands.times_s))


def _caption(job: EpisodeJob, info: dict, command: np.ndarray) -> list[str]:
    outcome = next((word for word in ("success", "collision", "timeout") if info[word]), "").upper()
    return [f"{job.policy} | {job.world} | {job.condition.name} | seed {job.seed}",
            f"t {info['sim_time']:5.1f} s  target {info['distance_to_target']:5.1f} m  "
            f"cmd {command[0]:+.1f} {command[1]:+.1f} {command[2]:+.1f} {command[3]:+.1f}  {outcome}"]
