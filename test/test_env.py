"""Gymnasium environments: registration, spaces, env_checker, determinism, episode ends."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import lnn_control.envs as envs
from lnn_control.envs import NavEnv, expert_action, make_env
from lnn_control.sim import WorldConfig, generate_layout


@pytest.mark.filterwarnings("ignore:.*(symmetric and normalized|infinity).*:UserWarning")
@pytest.mark.parametrize("env_id", ["lnn_control/ForestNav-v0", "lnn_control/UrbanNav-v0"])
def test_registered_envs_pass_the_gymnasium_checker(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    check_env(env.unwrapped)
    obs, info = env.reset(seed=0)
    assert obs["image"].shape == (48, 64, 3) and obs["image"].dtype == np.uint8
    assert obs["imu"].shape == (6,) and obs["imu"].dtype == np.float32
    assert obs["dt"].tolist() == [np.float32(0.05)]
    assert set(info) >= {"success", "collision", "distance_to_target", "timeout", "sim_time", "position"}
    frame = env.render()
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    env.close()


def test_same_seed_and_actions_give_the_same_images_and_world_matches_the_simulator_seed():
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(15, 4)).astype(np.float32)
    runs = []
    for _ in range(2):
        env = make_env("forest")
        obs, _ = env.reset(seed=42)
        frames = [obs["image"]] + [env.step(a)[0]["image"] for a in actions]
        runs.append((np.stack(frames), env.unwrapped.sim.position.copy(), env.unwrapped.sim.layout))
        env.close()
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][2].seed == 42 and runs[0][2] == runs[1][2]
    assert not np.array_equal(runs[0][0][0], runs[0][0][-1])  # the view changed while flying


@pytest.mark.filterwarnings("ignore:.*(symmetric and normalized|infinity).*:UserWarning")
def test_imu_rate_gives_the_readings_of_each_control_period():
    env = NavEnv("forest", imu_rate_hz=240)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert info["imu_samples"].shape == (1, 6) and info["imu_sample_times"].tolist() == [0.0]
    np.testing.assert_array_equal(info["imu_samples"][-1], obs["imu"])
    for step in range(1, 4):
        obs, _, _, _, info = env.step(np.array([1.0, 0, 0, 0.5], np.float32))
        samples, times = info["imu_samples"], info["imu_sample_times"]
        assert samples.shape == (12, 6) and samples.dtype == np.float32
        np.testing.assert_allclose(times, 0.05 * (step - 1) + np.arange(1, 13) / 240, atol=1e-9)
        assert times[-1] == info["sim_time"]
        np.testing.assert_array_equal(samples[-1], obs["imu"])
    env.close()
    default = NavEnv("forest")     # default: the frame's reading only
    default.reset(seed=3)
    info = default.step(np.zeros(4, np.float32))[-1]
    assert info["imu_samples"].shape == (1, 6) and info["imu_sample_times"].tolist() == [info["sim_time"]]
    default.close()
    for rate, problem in ((50, "divide the physics rate"), (30, "be a multiple of control_hz")):
        with pytest.raises(ValueError, match=f"imu_rate_hz {rate} must {problem}"):
            NavEnv("forest", imu_rate_hz=rate)


def _steps_to_timeout(env) -> int:
    env.reset(seed=1)
    for step in range(1, 60):  # noqa: B007 (the step that ended it is returned)
        _, _, terminated, truncated, info = env.step(np.zeros(4, np.float32))
        if terminated or truncated:
            break
    env.close()
    assert truncated and not terminated and info["timeout"]
    return step


def test_time_limit_truncates_and_collision_terminates():
    world = WorldConfig.load("forest").with_overrides(time_limit_s=1.0)
    assert _steps_to_timeout(NavEnv(world)) == 20
    assert _steps_to_timeout(make_env(world, time_limit_s=2.0)) == 40  # the argument replaces the world's limit
    env = NavEnv(world)
    env.reset(seed=1)
    for _ in range(40):
        _, reward, terminated, truncated, info = env.step(np.array([0, 0, -2.0, 0], np.float32))
        if terminated:
            break
    assert terminated and info["collision"] and not info["success"] and reward < -5
    env.close()


def test_expert_reaches_the_target_through_the_env():
    env = make_env("urban")
    obs, info = env.reset(seed=7)
    start_distance = info["distance_to_target"]
    for _ in range(1200):
        obs, reward, terminated, truncated, info = env.step(expert_action(env))
        if terminated or truncated:
            break
    assert info["success"] and terminated and not info["collision"]
    assert info["sim_time"] < 1.5 * start_distance + 10
    env.close()


def test_world_overrides_apply_at_reset_for_shift_wrappers():
    env = make_env("forest")
    obs_plain, _ = env.reset(seed=3)
    unwrapped = env.unwrapped
    unwrapped.world_overrides["sky"] = {"palette": {"sky": [[1.0, 0.0, 1.0]], "jitter": 0.0}}
    obs_magenta, _ = env.reset(seed=3)
    _, depth_m = unwrapped.sim.render_camera(with_depth=True)
    sky = depth_m >= unwrapped.sim.camera_config.far_m
    assert 0.1 < sky.mean() < 0.9
    assert np.all(obs_magenta["image"][sky] == [255, 0, 255])
    assert not np.any(np.all(obs_plain["image"] == [255, 0, 255], axis=-1))
    # a palette change keeps the geometry of the seed's world
    assert _geometry(unwrapped.sim.layout.obstacles) == _geometry(generate_layout(unwrapped.base_world, 3).obstacles)
    assert unwrapped.control_period_s == pytest.approx(0.05)
    assert unwrapped.sim.mass_kg > 0.5
    env.close()


def _geometry(obstacles):
    return [(part.shape, part.position, part.size) for obstacle in obstacles for part in obstacle.parts]


def test_actions_are_clipped_to_the_limits_and_bad_arguments_fail():
    env = make_env("forest", max_linear_speed=1.0)
    env.reset(seed=0)
    for _ in range(60):
        env.step(np.array([5.0, 0, 0, 0], np.float32))
    assert env.unwrapped.sim.heading_velocity[0] == pytest.approx(1.0, abs=0.1)
    env.close()
    with pytest.raises(ValueError, match="control_hz"):
        NavEnv("forest", control_hz=7)
    with pytest.raises(FileNotFoundError, match="mars"):
        make_env("mars")
    assert set(envs.ENV_IDS) == {"forest", "urban"}
