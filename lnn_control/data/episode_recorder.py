"""Fly one episode in a NavEnv and record it as a rosbag2 bag, for `collect` and for DAgger.

A pilot maps the observation to (command flown, command labelled). For expert demonstrations
both are the expert's; in a DAgger rollout the learner flies and the expert labels, and the
bag's `cmd_vel` holds the label while `policy/cmd_vel` holds what was flown — so training
reads every bag the same way. Each control step writes, at the simulated time of the frame:
the camera image, the IMU reading, the odometry (world-frame pose, body-frame twist) and the
command that followed the frame.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from lnn_control.data.bag_writer import EpisodeBagWriter

# (observation, env) -> (command flown, command recorded on cmd_vel); float32 [4] each
Pilot = Callable[[dict, object], tuple[np.ndarray, np.ndarray]]


def record_episode(env, seed: int, bag: Path, pilot: Pilot, facts: dict, storage: str = "mcap",
                   max_seconds: Optional[float] = None, record_flown: bool = False) -> dict:
    """Run one episode from `env.reset(seed=seed)` until it ends (or `max_seconds` of simulated
    time), writing the bag at `bag`; returns the outcome (success, collision, timeout,
    cut_short (ended by max_seconds), distance_to_target, sim_time, frames). A failure removes the half-written bag."""
    bag = Path(bag)
    try:
        with EpisodeBagWriter(bag, storage=storage) as writer:
            outcome = _fly(env, seed, writer, pilot, max_seconds, record_flown)
            writer.set_facts({**facts, "seed": seed, "outcome": outcome})
    except BaseException:
        shutil.rmtree(bag, ignore_errors=True)
        raise
    return outcome


def _fly(env, seed: int, writer: EpisodeBagWriter, pilot: Pilot, max_seconds: Optional[float],
         record_flown: bool) -> dict:
    sim = env.unwrapped.sim
    obs, info = env.reset(seed=seed)
    frames = 0
    while True:
        flown, label = pilot(obs, env)
        t_ns = int(round(sim.time * 1e9))
        writer.write_frame(t_ns, obs["image"], obs["imu"], label, _odometry(sim),
                           executed_cmd=flown if record_flown else None)
        frames += 1
        obs, _, terminated, truncated, info = env.step(flown)
        cut_short = max_seconds is not None and info["sim_time"] >= max_seconds - 1e-9
        if terminated or truncated or cut_short:
            break
    return {"success": bool(info["success"]), "collision": bool(info["collision"]),
            "timeout": bool(info["timeout"]), "cut_short": bool(cut_short and not (terminated or truncated)),
            "distance_to_target": float(info["distance_to_target"]), "sim_time": float(info["sim_time"]),
            "frames": frames}


def _odometry(sim) -> dict:
    position, quaternion = sim.pose
    return {"position": position, "quaternion_xyzw": quaternion,
            "body_velocity": sim.rotation.T @ np.asarray(sim.velocity), "body_rates": sim.body_rates}
