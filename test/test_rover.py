"""The rover: a differential-drive vehicle in the same worlds (real PyBullet physics and rendering)."""
from __future__ import annotations

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import lnn_control.envs  # noqa: F401  (registers the environment ids)
from lnn_control.envs import ROVER_ENV_IDS, make_env
from lnn_control.policy import PolicySpec
from lnn_control.rollout.fly import fly
from lnn_control.rollout.pilots import ExpertPilot
from lnn_control.sim import ExpertPlanner, Simulator, WorldConfig, generate_layout
from lnn_control.sim.world.geometry import GROUND_BAND_M

ROVER_FOREST = WorldConfig.load("forest").with_overrides(vehicle="rover")


@pytest.fixture
def rover():
    sim = Simulator(ROVER_FOREST, seed=3)
    yield sim
    sim.close()


def drive(sim: Simulator, command, seconds: float) -> None:
    sim.set_command(command)
    sim.step_physics(int(round(seconds * 240)))


def test_the_rover_starts_at_rest_on_its_wheels_and_the_ground_is_no_collision(rover):
    start = rover.position.copy()
    drive(rover, [0, 0, 0, 0], 1.0)
    assert rover.position[2] == pytest.approx(rover.rover.chassis_height_m, abs=0.01)
    assert np.linalg.norm(rover.position[:2] - start[:2]) < 0.01
    assert not rover.outcome()["collision"]
    assert rover.read_imu()[5] == pytest.approx(9.81, abs=0.3)   # az: standing level


def test_it_tracks_forward_speed_and_yaw_rate_and_ignores_vy_and_vz(rover):
    drive(rover, [1.0, 0, 0, 0], 2.0)
    assert rover.heading_velocity[0] == pytest.approx(1.0, abs=0.05)
    assert abs(rover.heading_velocity[1]) < 0.05 and abs(rover.body_rates[2]) < 0.05
    drive(rover, [0.5, 0, 0, 0.8], 2.0)
    assert rover.body_rates[2] == pytest.approx(0.8, abs=0.08)
    assert rover.heading_velocity[0] == pytest.approx(0.5, abs=0.08)
    before = rover.position.copy()
    drive(rover, [0.0, 1.5, 1.5, 0.0], 1.5)                   # sideways and up: a rover cannot
    assert np.linalg.norm(rover.position - before) < 0.15
    assert rover.position[2] == pytest.approx(rover.rover.chassis_height_m, abs=0.01)


def test_driving_into_a_trunk_is_a_collision(rover):
    trunk = min((part for obstacle in rover.layout.obstacles for part in obstacle.parts
                 if part.shape == "cylinder" and part.in_band(GROUND_BAND_M)),
                key=lambda part: math.hypot(*part.position[:2]))
    bearing = math.atan2(trunk.position[1], trunk.position[0])
    for _ in range(300):  # turn to face the nearest trunk, then drive at it
        error = math.remainder(bearing - rover.yaw, math.tau)
        drive(rover, [0.0 if abs(error) > 0.05 else 1.0, 0, 0, float(np.clip(3 * error, -1, 1))], 0.1)
        if rover.outcome()["collision"]:
            break
    assert rover.outcome()["collision"]
    assert math.hypot(*(rover.position[:2] - np.array(trunk.position[:2]))) < trunk.size[0] + 0.5


def test_a_rover_world_keeps_the_drones_layout_with_the_target_on_the_ground():
    drone, rover = generate_layout(WorldConfig.load("forest"), 5), generate_layout(ROVER_FOREST, 5)
    assert drone.obstacles == rover.obstacles
    assert rover.target_position[:2] == drone.target_position[:2]
    assert rover.target_position[2] == pytest.approx(ROVER_FOREST.target.size_m / 2)
    assert rover.start_position == (0.0, 0.0, 0.0)
    # the rover plans on trunks, not canopies: fewer, smaller outlines at its height
    assert len(rover.footprints_in_band(GROUND_BAND_M)) < len(rover.flight_band_footprints())


def test_its_camera_sees_the_target_from_rover_height(rover):
    camera = rover.camera_config
    eye_height = rover.position[2] + camera.position_m[2]
    assert 0.2 < eye_height < 0.35
    assert rover.target_mask().any()          # seed 3: the target is in view at the start


def test_a_simulator_keeps_its_vehicle(rover):
    with pytest.raises(ValueError, match="for a drone, this simulator drives a rover"):
        rover.reset(world=WorldConfig.load("forest"))
    with pytest.raises(ValueError, match="not a rover"):
        Simulator("forest", seed=0).set_wheel_friction(0.5)


@pytest.mark.parametrize("world", sorted(ROVER_ENV_IDS))
def test_the_rover_env_ids_pass_the_gymnasium_checker(world):
    env = gym.make(ROVER_ENV_IDS[world])
    assert env.unwrapped.vehicle == "rover"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checker's advice on unbounded IMU boxes and action scaling
        check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("world, seeds", [("forest", range(10000, 10003)), ("urban", range(10000, 10002))])
def test_the_expert_drives_the_rover_to_the_target(world, seeds):
    env = make_env(world, vehicle="rover")
    for seed in seeds:
        outcome = fly(env, ExpertPilot(), seed)
        assert outcome.success, (world, seed, outcome)
    expert = env.unwrapped.expert_planner()
    command = expert.act()
    assert command[1] == 0.0 and command[2] == 0.0   # a rover's expert commands no vy, vz
    env.close()


def test_the_rover_expert_cruises_slower_than_the_drones():
    sim = Simulator(ROVER_FOREST, seed=0)
    assert ExpertPlanner(sim).cruise_speed < ExpertPlanner(Simulator("forest", seed=0)).cruise_speed
    sim.close()


def test_a_policy_spec_names_its_vehicle():
    assert PolicySpec().vehicle == "drone"
    assert PolicySpec(vehicle="rover").to_dict()["vehicle"] == "rover"
    assert PolicySpec.from_dict({"kind": "cfc"}).vehicle == "drone"   # a checkpoint from before the field
    with pytest.raises(ValueError, match="PolicySpec.vehicle: 'boat' is not a vehicle"):
        PolicySpec(vehicle="boat")


def test_a_rover_policy_commands_no_vy_vz_and_its_uncertainty_ignores_them():
    import torch

    from lnn_control.policy import Policy, build_network
    from lnn_control.policy.disagreement import disagreement

    torch.manual_seed(0)
    net = build_network(PolicySpec(kind="mlp", vehicle="rover", ensemble=3))
    policy = Policy(net.eval())
    image, imu = np.full((48, 64, 3), 90, np.uint8), np.array([0, 0, 0, 0, 0, 9.81], np.float32)
    command = policy.step(image, imu, 0.05)
    assert command[1] == 0.0 and command[2] == 0.0 and policy.uncertainty is not None
    # members that differ only in vy and vz do not disagree about anything a rover drives
    sideways = np.array([[1.0, -2.0, 2.0, 0.5], [1.0, 2.0, -2.0, 0.5]])
    assert disagreement(sideways, (2.0, 2.0, 2.0, 1.0), "rover") == 0.0
    assert disagreement(sideways, (2.0, 2.0, 2.0, 1.0), "drone") == pytest.approx(0.5)
