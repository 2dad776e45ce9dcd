"""The simulated quadrotor, its controller, camera and IMU (real PyBullet)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lnn_control.sim import CameraConfig, ImuConfig, Simulator, WorldConfig

CONTROL_STEPS = 12  # 240 Hz physics / 20 Hz control


@pytest.fixture(scope="module")
def open_world():
    """The forest without obstacles: ground and sky only."""
    return WorldConfig.load("forest").with_overrides(obstacles=[])


@pytest.fixture
def sim(open_world):
    simulator = Simulator(open_world, seed=1, imu=ImuConfig(0.0, 0.0, 0.0, 0.0))
    yield simulator
    simulator.close()


def _fly(sim, command, seconds):
    sim.set_command(command)
    sim.step_physics(int(round(seconds * 240)))


def _pitch_down_deg(sim) -> float:
    return math.degrees(math.asin(-sim.rotation[2, 0]))


def test_hover_holds_position_and_imu_reads_gravity(sim):
    start = sim.position.copy()
    _fly(sim, [0, 0, 0, 0], 2.0)
    assert np.linalg.norm(sim.position - start) < 0.05
    imu = sim.read_imu()
    assert imu.dtype == np.float32 and imu.shape == (6,)
    np.testing.assert_allclose(imu[:3], 0.0, atol=1e-3)
    np.testing.assert_allclose(imu[3:], [0.0, 0.0, 9.81], atol=0.05)


def test_forward_command_tilts_the_body_and_the_camera_then_tracks_the_speed(sim):
    hover_ground = _ground_fraction(sim)
    sim.set_command([2.0, 0, 0, 0])
    sim.step_physics(60)  # 0.25 s: accelerating
    assert _pitch_down_deg(sim) > 8.0
    assert _ground_fraction(sim) > hover_ground + 0.05  # the camera tilts with the body
    _fly(sim, [2.0, 0, 0, 0], 3.0)
    np.testing.assert_allclose(sim.heading_velocity, [2.0, 0.0, 0.0], atol=0.08)
    assert abs(_pitch_down_deg(sim)) < 5.0


def _ground_fraction(sim) -> float:
    rgb = sim.render_camera()
    sky = np.round(np.array(sim.layout.sky_color) * 255)
    return float(np.mean(np.any(rgb != sky, axis=2)))


def test_heading_frame_lateral_vertical_and_yaw_rate(sim):
    yaw0 = sim.yaw
    _fly(sim, [0.0, 1.0, 0.5, 0.0], 3.0)
    np.testing.assert_allclose(sim.heading_velocity, [0.0, 1.0, 0.5], atol=0.1)
    left = np.array([-math.sin(yaw0), math.cos(yaw0)])
    assert sim.velocity[:2] @ left > 0.9  # heading-frame +y is the drone's left
    _fly(sim, [0, 0, 0, 0.5], 3.0)
    assert math.remainder(sim.yaw - yaw0, math.tau) == pytest.approx(1.5, abs=0.15)
    assert sim.read_imu()[2] == pytest.approx(0.5, abs=0.05)  # gyro z reads the yaw rate


def test_motor_limits_bound_the_climb_rate_and_acceleration(sim):
    params = sim.quadrotor
    max_accel = 4 * params.max_rotor_thrust_n / params.mass_kg - 9.81
    previous = sim.velocity[2]
    sim.set_command([0, 0, 100.0, 0])  # far beyond the limits: thrust saturates
    for _ in range(48):
        sim.step_physics(1)
        assert (sim.velocity[2] - previous) / sim.physics_dt <= max_accel + 0.5
        previous = sim.velocity[2]
    assert np.all(sim._rotors.speeds_rad_s <= params.max_rotor_speed_rad_s + 1e-6)


def test_external_force_pushes_the_drone_until_changed_and_steady_wind_is_rejected(sim):
    start = sim.position.copy()
    sim.apply_external_force([0.0, 1.0, 0.0])  # 1 N: a stiff breeze on a 0.7 kg drone
    _fly(sim, [0, 0, 0, 0], 1.0)
    assert sim.position[1] - start[1] > 0.2 and sim.velocity[1] > 0.2
    _fly(sim, [0, 0, 0, 0], 4.0)  # the velocity loop's integral leans into the wind
    assert abs(sim.velocity[1]) < 0.1
    sim.apply_external_force([0.0, 0.0, 0.0])
    _fly(sim, [0, 0, 0, 0], 1.0)
    assert sim.velocity[1] < -0.1  # pushed back while the integral unwinds
    _fly(sim, [0, 0, 0, 0], 5.0)
    assert abs(sim.velocity[1]) < 0.05


def test_ground_contact_is_a_collision_and_reaching_the_target_is_success(open_world):
    sim = Simulator(open_world, seed=2)
    _fly(sim, [0, 0, -2.0, 0], 2.0)
    assert sim.outcome()["collision"] and not sim.outcome()["success"]
    sim.reset(seed=2)
    assert not sim.outcome()["collision"]
    for _ in range(800):
        to_target = sim.target_position - sim.position
        c, s = math.cos(sim.yaw), math.sin(sim.yaw)
        direction = to_target / max(np.linalg.norm(to_target), 1.0) * 1.5
        sim.set_command([c * direction[0] + s * direction[1], -s * direction[0] + c * direction[1], direction[2], 0])
        sim.step_physics(CONTROL_STEPS)
        if sim.outcome()["success"]:
            break
    outcome = sim.outcome()
    assert outcome["success"] and not outcome["collision"]
    assert outcome["distance_to_target"] <= 1.0
    sim.close()


def test_obstacle_contact_is_a_collision():
    sim = Simulator("urban", seed=0)
    building = next(o for o in sim.layout.obstacles if o.kind == "building").parts[0]
    to_building = np.array(building.position[:2]) - sim.position[:2]
    heading = math.atan2(to_building[1], to_building[0])
    for _ in range(1200):
        yaw_error = math.remainder(heading - sim.yaw, math.tau)
        sim.set_command([2.0 if abs(yaw_error) < 0.2 else 0.0, 0, 0, np.clip(2 * yaw_error, -1, 1)])
        sim.step_physics(CONTROL_STEPS)
        if sim.outcome()["collision"]:
            break
    assert sim.outcome()["collision"]
    sim.close()


def test_urban_target_is_in_sight_of_the_start_past_buildings_and_walls():
    """Rays from the start to the target's centre and edges meet no building or wall (PyBullet's
    own ray test on the built world), for every one of these seeds."""
    import pybullet as pb

    sim = Simulator("urban", seed=0)
    large = {"building", "wall"}
    for seed in range(8):
        sim.reset(seed=seed)
        ids = iter(sim.obstacle_ids)
        kind_of = {next(ids): obstacle.kind for obstacle in sim.layout.obstacles for _ in obstacle.parts}
        start, target = np.array(sim.position), sim.target_position
        r = sim.world.target.size_m / 2
        ends = [target + offset for offset in ([0, 0, 0], [0, r, 0], [0, -r, 0], [0, 0, r])]
        hits = pb.rayTestBatch([start.tolist()] * len(ends), [e.tolist() for e in ends], physicsClientId=sim.client)
        assert not [kind_of.get(hit[0]) for hit in hits if kind_of.get(hit[0]) in large], seed
    sim.close()


def test_camera_image_depth_and_configuration(open_world):
    camera = CameraConfig(width=80, height=60, horizontal_fov_deg=70.0, pitch_deg=-10.0)
    sim = Simulator(open_world, seed=3, camera=camera)
    rgb, depth = sim.render_camera(with_depth=True)
    assert rgb.shape == (60, 80, 3) and rgb.dtype == np.uint8
    assert depth.shape == (60, 80) and depth.dtype == np.float32
    assert np.all(depth[0] == camera.far_m)  # top row: sky, at the far plane
    # bottom-centre pixel: the ground, at the depth (along the optical axis) geometry predicts
    row = 59
    tan_half_v = math.tan(math.radians(camera.vertical_fov_deg) / 2)
    below_axis = math.atan(tan_half_v * (row + 0.5 - 30) / 30)
    below_horizon = below_axis + math.radians(10.0)
    eye_height = sim.position[2] + sim.camera_config.position_m[2]  # the drone's mount (left out above)
    expected = eye_height / math.sin(below_horizon) * math.cos(below_axis)
    assert depth[row, 40] == pytest.approx(expected, rel=0.05)
    assert np.array_equal(sim.render_camera(), rgb)
    with pytest.raises(ValueError, match="horizontal_fov_deg"):
        CameraConfig(horizontal_fov_deg=200)
    with pytest.raises(ValueError, match="renderer"):
        CameraConfig(renderer="vulkan")
    sim.close()


def test_imu_bias_and_noise_are_seeded_and_configurable(open_world):
    config = ImuConfig(gyro_noise_std=0.01, accel_noise_std=0.1, gyro_bias_std=0.05, accel_bias_std=0.3)
    readings = []
    for _ in range(2):
        sim = Simulator(open_world, seed=5, imu=config)
        readings.append(np.array([sim.read_imu() for _ in range(400)]))
        sim.close()
    np.testing.assert_array_equal(readings[0], readings[1])
    mean, std = readings[0].mean(axis=0), readings[0].std(axis=0)
    np.testing.assert_allclose(std, [0.01] * 3 + [0.1] * 3, rtol=0.2)
    assert np.any(np.abs(mean[:3]) > 0.005) and np.any(np.abs(mean[3:] - [0, 0, 9.81]) > 0.05)
    with pytest.raises(ValueError, match="gyro_noise_std"):
        ImuConfig(gyro_noise_std=-1)


def test_egl_renderer_draws_the_same_scene_as_tiny_renderer():
    views = []
    for renderer in ("tiny", "egl"):
        sim = Simulator("forest", seed=1, camera=CameraConfig(renderer=renderer))
        rgb, depth = sim.render_camera(with_depth=True)
        views.append((rgb, depth < sim.camera_config.far_m))
        sim.close()
    (tiny_rgb, tiny_hit), (egl_rgb, egl_hit) = views
    assert egl_rgb.shape == tiny_rgb.shape
    assert np.mean(tiny_hit != egl_hit) < 0.1  # the same objects in the same places
    assert np.mean(~egl_hit[:24]) > 0.05  # and some sky between the trees
