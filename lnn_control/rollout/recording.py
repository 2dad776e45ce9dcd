"""Record episodes as rosbag2 bags: the observer behind `collect` and DAgger.

Each control step writes, at the simulated time of the frame: the camera image, the IMU
reading, the odometry (world-frame pose, body-frame twist) and the command that followed the
frame — the pilot's label on `cmd_vel` (the expert's, in a DAgger rollout) and, with
`record_flown`, the command actually flown on `policy/cmd_vel` — so training reads every bag
the same way; with `record_interventions`, whether an operator flew it, on
`policy_node/intervention` (std_msgs/Bool), as a robot's bag of a corrected flight holds it.
At the end the episode's facts and its outcome (`Outcome.to_dict()`) go into the bag's
metadata `custom_data`.

    with BagRecorder(bag, facts) as recorder:
        outcome = fly(env, pilot, seed, observers=[recorder])

A recording that does not finish (an exception inside the `with`) removes the half-written bag.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np

from lnn_control.data.bag_writer import EpisodeBagWriter
from lnn_control.envs.outcome import Outcome
from lnn_control.rollout.fly import ObserverBase
from lnn_control.rollout.pilots import Decision


class BagRecorder(ObserverBase):
    """Writes one episode to the new bag directory `bag` (see the module docstring)."""

    def __init__(self, bag, facts: dict, storage: str = "mcap", record_flown: bool = False,
                 record_interventions: bool = False):
        self.bag = Path(bag)
        self.facts = dict(facts)
        self.record_flown = record_flown
        self.record_interventions = record_interventions
        self._writer = EpisodeBagWriter(self.bag, storage=storage)

    def __enter__(self) -> BagRecorder:
        self._writer.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._writer.__exit__(exc_type, exc, tb)
        finally:
            if exc_type is not None:
                shutil.rmtree(self.bag, ignore_errors=True)

    def started(self, env: gym.Env, observation: dict, info: dict, seed: int) -> None:
        self.facts["seed"] = seed

    def decided(self, env: gym.Env, observation: dict, info: dict, decision: Decision) -> None:
        sim = env.unwrapped.sim
        self._writer.write_frame(int(round(sim.time * 1e9)), observation["image"], observation["imu"],
                                 decision.taught, odometry(sim),
                                 executed_cmd=decision.command if self.record_flown else None,
                                 intervention=decision.intervention if self.record_interventions else None)

    def ended(self, env: gym.Env, observation: dict, info: dict, outcome: Outcome) -> None:
        self._writer.set_facts({**self.facts, "outcome": outcome.to_dict()})


def odometry(sim) -> dict:
    """The simulator's state as `EpisodeBagWriter` odometry: pose in the world frame (m,
    quaternion x y z w), twist in the body frame (m/s, rad/s)."""
    position, quaternion = sim.pose
    return {"position": position, "quaternion_xyzw": quaternion,
            "body_velocity": sim.rotation.T @ np.asarray(sim.velocity), "body_rates": sim.body_rates}
