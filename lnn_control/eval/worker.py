"""The episode worker: flies `EpisodeJob`s one after another, keeping environments and loaded
policies between them. The same class runs in the main process, in a process pool, and as a
Ray actor, so every backend flies exactly the same episodes.

Checkpoints travel as bytes (not paths), so a worker on another machine needs no shared file
system; videos come back as bytes for the same reason. Temporary files live only while they are
read or written, so a worker stopped at any moment leaves none behind.
"""
from __future__ import annotations

import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym

from lnn_control.envs import make_env
from lnn_control.eval.episode import fly_episode
from lnn_control.eval.episode_record import EpisodeRecord
from lnn_control.eval.plan import EpisodeJob, EvalPlan
from lnn_control.policy import load_policy
from lnn_control.policy.saliency import SaliencyMaker
from lnn_control.policy.slow_down import SlowDown
from lnn_control.rollout import ExpertPilot, Pilot, PolicyPilot, RandomPilot

CACHED_ENVS = 4  # PyBullet worlds kept per worker (one per world x condition x render mode)


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker needs besides the jobs: policy kinds, checkpoint bytes by label, the
    slow-down curves (low, stop) of the policies flown with one, an optional time limit (s)
    replacing the worlds' own, the saliency method drawn over the camera pane of videos
    (None: none), and the vehicle every episode drives."""

    pilot_kinds: dict[str, str]
    checkpoints: dict[str, bytes]
    time_limit_s: float | None = None
    saliency: str | None = None
    slow_downs: dict[str, tuple[float, float]] = field(default_factory=dict)
    vehicle: str = "drone"

    @classmethod
    def for_plan(cls, plan: EvalPlan, time_limit_s: float | None = None, saliency: str | None = None) -> WorkerSettings:
        return cls(pilot_kinds={p.label: p.kind for p in plan.flown_policies},
                   checkpoints={p.label: Path(p.path).read_bytes()
                                for p in plan.flown_policies if p.kind == "checkpoint"},
                   time_limit_s=time_limit_s, saliency=saliency,
                   slow_downs={p.label: p.slow_down for p in plan.flown_policies if p.slow_down is not None},
                   vehicle=plan.vehicle)


@dataclass(frozen=True)
class EpisodeResult:
    record: EpisodeRecord
    video_mp4: bytes | None = None


class EpisodeWorker:
    def __init__(self, settings: WorkerSettings, torch_threads: int = 1):
        import torch

        torch.set_num_threads(torch_threads)  # workers are processes: one core each
        self.settings = settings
        self._envs: OrderedDict[tuple, gym.Env] = OrderedDict()
        self._pilots: dict[str, Pilot] = {}

    def run(self, job: EpisodeJob) -> EpisodeResult:
        env = self._env(job.world_spec, job.condition.shifts, render=job.video)
        pilot = self._pilot(job.policy)
        if not job.video:
            return EpisodeResult(fly_episode(env, pilot, job))
        with tempfile.TemporaryDirectory(prefix="lnn_eval_") as scratch:
            video_path = Path(scratch) / "episode.mp4"
            saliency = None
            if self.settings.saliency is not None and isinstance(pilot, PolicyPilot):
                saliency = SaliencyMaker(pilot.policy.net, (self.settings.saliency,))
            record = fly_episode(env, pilot, job, video_path=video_path, saliency=saliency)
            return EpisodeResult(record, video_path.read_bytes())

    def close(self) -> None:
        while self._envs:
            self._envs.popitem()[1].close()

    def _env(self, world_spec: str, shifts: tuple, render: bool) -> gym.Env:
        key = (world_spec, shifts, render)
        if key in self._envs:
            self._envs.move_to_end(key)
            return self._envs[key]
        self._envs[key] = make_env(world_spec, shifts=list(shifts), render_mode="rgb_array" if render else None,
                                   time_limit_s=self.settings.time_limit_s, vehicle=self.settings.vehicle)
        while len(self._envs) > CACHED_ENVS:
            self._envs.popitem(last=False)[1].close()
        return self._envs[key]

    def _pilot(self, label: str) -> Pilot:
        if label not in self._pilots:
            kind = self.settings.pilot_kinds[label]
            if kind == "expert":
                self._pilots[label] = ExpertPilot()
            elif kind == "random":
                self._pilots[label] = RandomPilot()
            else:
                with tempfile.TemporaryDirectory(prefix="lnn_eval_") as scratch:
                    path = Path(scratch) / f"{label}.pt"
                    path.write_bytes(self.settings.checkpoints[label])
                    curve = self.settings.slow_downs.get(label)
                    self._pilots[label] = PolicyPilot(load_policy(path), SlowDown(*curve) if curve else None)
        return self._pilots[label]
