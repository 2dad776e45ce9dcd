"""Distribution shifts: each changes what it claims and only that; suites load and validate."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet as pb
import pytest
from gymnasium.utils.env_checker import check_env

from lnn_control.envs import make_env
from lnn_control.envs.shifts import SHIFTS, Condition, apply_shifts, load_suite, parse_shift, wind_force_n

REPO = Path(__file__).resolve().parent.parent
SUITES = REPO / "config" / "eval_suites.yaml"


# --------------------------------------------------------------------------- parsing and suites


def test_parse_shift_reads_name_and_severity():
    assert parse_shift("fog:0.25") == ("fog", 0.25)
    assert parse_shift(" wind : 1 ") == ("wind", 1.0)
    assert parse_shift("latency") == ("latency", 0.5)


@pytest.mark.parametrize(
    "text, words",
    [
        ("fgo:0.5", ["'fgo'", "fog", "wind", "autumn"]),
        ("fog:1.5", ["fog", "1.5", "[0, 1]"]),
        ("fog:lots", ["fog", "lots"]),
    ],
)
def test_parse_shift_errors_name_the_problem(text, words):
    with pytest.raises(ValueError) as err:
        parse_shift(text)
    for word in words:
        assert word in str(err.value)


def test_standard_suite_has_none_and_every_shift_family_at_moderate_severity():
    conditions = load_suite(SUITES, "standard")
    by_name = {c.name: c for c in conditions}
    assert by_name["none"].shifts == ()
    used = {shift for c in conditions for shift, _ in c}
    families = {"autumn", "winter", "dim", "bright", "fog", "motion_blur", "camera_noise", "imu_noise",
                "imu_bias", "wind", "latency", "frame_drops", "density", "target_appearance", "distractors"}
    assert families <= used <= set(SHIFTS)
    assert all(0.3 <= severity <= 0.7 for c in conditions for _, severity in c)


def test_quick_suite_is_small_and_starts_in_distribution():
    conditions = load_suite(SUITES, "quick")
    assert 2 <= len(conditions) <= 3
    assert conditions[0] == Condition("none", ())
    assert list(conditions[2]) == [("fog", 0.5), ("wind", 0.5)]


@pytest.mark.parametrize(
    "text, words",
    [
        ("suites:\n  s:\n    conditions:\n      c: {fgo: 0.5}\n",
         ["suites.s.conditions.c.fgo", "unknown shift", "fog"]),
        ("suites:\n  s:\n    conditions:\n      c: {fog: 2}\n", ["suites.s.conditions.c.fog", "2"]),
        ("suites:\n  s:\n    condition:\n      c: {}\n", ["suites.s", "conditions"]),
        ("suite: {}\n", ["suite: unknown key", "suites"]),
        ("- fog\n", ["(top level)", "expected a mapping"]),
        ("suites: {s: {conditions: {c: {fog: 0.5}}}\n", ["line 2, column 1", "not valid YAML"]),
        ("suites:\n  other:\n    conditions: {c: {}}\n", ["no suite 's'", "other"]),
    ],
)
def test_suite_errors_name_file_and_field(tmp_path, text, words):
    path = tmp_path / "suites.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        load_suite(path, "s")
    assert str(path) in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_missing_suite_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.yaml"):
        load_suite(tmp_path / "nowhere.yaml", "standard")


def test_apply_shifts_rejects_unknown_and_repeated_shifts():
    from lnn_control.envs import NavEnv

    env = NavEnv("forest")
    with pytest.raises(ValueError, match="'smog'.*fog"):
        apply_shifts(env, [("smog", 0.5)])
    with pytest.raises(ValueError, match="twice"):
        apply_shifts(env, [("fog", 0.5), ("fog", 0.2)])
    env.close()


# --------------------------------------------------------------------------- closed-loop episodes

SEED = 11
PERIOD_S = 0.05
# A fixed command sequence (heading frame: forward, a little climb, turning left then right).
ACTIONS = [np.array([1.5, 0.0, 0.1 * (i % 3 - 1), 0.6 if i < 6 else -0.6], np.float32) for i in range(12)]


@dataclass
class Episode:
    observations: list[dict]
    infos: list[dict]
    env: object


_open_envs: list = []


@pytest.fixture(autouse=True)
def close_envs_after_each_test():
    opened = len(_open_envs)
    yield
    while len(_open_envs) > opened:
        _open_envs.pop().close()


def fly(shifts=(), actions=ACTIONS, seed=SEED, **env_kwargs) -> Episode:
    """Reset `make_env("forest", shifts, **env_kwargs)` with `seed` and apply `actions`; the env
    stays open until the end of the test (or of the module, for the baseline fixture)."""
    env = make_env("forest", shifts=list(shifts), **env_kwargs)
    _open_envs.append(env)
    obs, info = env.reset(seed=seed)
    observations, infos = [obs], [info]
    for action in actions:
        obs, _, terminated, truncated, info = env.step(action)
        observations.append(obs)
        infos.append(info)
        assert not (terminated or truncated), "test trajectory must stay clear of obstacles"
    return Episode(observations, infos, env)


@pytest.fixture(scope="module")
def baseline() -> Episode:
    episode = fly()
    _open_envs.remove(episode.env)
    yield episode
    episode.env.close()


def stacked(episode: Episode, key: str) -> np.ndarray:
    return np.stack([obs[key] for obs in episode.observations])


def positions(episode: Episode) -> np.ndarray:
    return np.stack([info["position"] for info in episode.infos])


def camera_with_depth(env):
    return env.unwrapped.sim.render_camera(with_depth=True)


@pytest.mark.parametrize("name", sorted(SHIFTS))
def test_severity_zero_changes_nothing(name, baseline):
    vehicle = "drone" if "drone" in SHIFTS[name].vehicles else "rover"
    reference = baseline if vehicle == "drone" else fly(vehicle="rover")
    shifted = fly([(name, 0.0)], vehicle=vehicle)
    for key in ("image", "imu", "dt"):
        np.testing.assert_array_equal(stacked(shifted, key), stacked(reference, key), err_msg=f"{name}: {key}")
    np.testing.assert_array_equal(positions(shifted), positions(reference))


@pytest.mark.parametrize("vehicle", ["drone", "rover"])
def test_a_shift_for_another_vehicle_is_refused_by_name(vehicle):
    other = next(name for name, shift in SHIFTS.items() if vehicle not in shift.vehicles)
    with pytest.raises(ValueError, match=f"shift '{other}' does not apply to a {vehicle}"):
        make_env("forest", shifts=[(other, 0.5)], vehicle=vehicle)


def test_shifted_episode_is_deterministic_given_the_seed_and_independent_of_order():
    condition = [("camera_noise", 0.5), ("imu_noise", 0.5), ("imu_bias", 0.5), ("wind", 0.5), ("frame_drops", 0.5),
                 ("fog", 0.5), ("latency", 0.5)]
    first, again, reordered = fly(condition), fly(condition), fly(condition[::-1])
    other_seed = fly(condition, seed=SEED + 1)
    for key in ("image", "imu", "dt"):
        np.testing.assert_array_equal(stacked(first, key), stacked(again, key))
        np.testing.assert_array_equal(stacked(first, key), stacked(reordered, key))
    assert not np.array_equal(stacked(first, "imu"), stacked(other_seed, "imu"))


@pytest.mark.parametrize("vehicle", ["drone", "rover"])
def test_every_shift_at_once_passes_the_gymnasium_checker(vehicle):
    env = make_env("forest", shifts=[(name, 0.5) for name, shift in SHIFTS.items() if vehicle in shift.vehicles],
                   vehicle=vehicle)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checker's advice on wrapped envs and unbounded IMU boxes
        check_env(env, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("suite", ["standard", "quick"])
def test_every_suite_condition_builds_and_steps(suite):
    for condition in load_suite(SUITES, suite):
        env = make_env("forest", shifts=condition.shifts)
        obs, _ = env.reset(seed=SEED)
        obs, *_ = env.step(ACTIONS[0])
        assert env.observation_space.contains(obs), condition.name
        env.close()


# --------------------------------------------------------------------------- the world


def layout_geometry(env) -> list:
    layout = env.unwrapped.sim.layout
    return [(part.shape, part.position, part.size, part.yaw)
            for obstacle in layout.obstacles for part in obstacle.parts]


@pytest.mark.parametrize("world", ["forest", "urban"])
@pytest.mark.parametrize("season", ["autumn", "winter"])
def test_season_changes_colours_not_geometry(season, world):
    plain, shifted = make_env(world), make_env(world, shifts=[(season, 0.8)])
    base_obs, _ = plain.reset(seed=SEED)
    obs, _ = shifted.reset(seed=SEED)
    (base_rgb, base_depth), (rgb, depth) = camera_with_depth(plain), camera_with_depth(shifted)
    np.testing.assert_array_equal(depth, base_depth)
    assert layout_geometry(shifted) == layout_geometry(plain)
    np.testing.assert_array_equal(obs["imu"], base_obs["imu"])
    ground = depth < 8.0  # nearby pixels in the lower image: the ground
    image, base_image = rgb.astype(float), base_rgb.astype(float)
    if season == "autumn":  # green or grey -> brown leaf litter: red gains on blue
        red_over_blue = (image[..., 0] - image[..., 2])[ground].mean()
        assert red_over_blue > (base_image[..., 0] - base_image[..., 2])[ground].mean() + 10
    else:  # snow: a much brighter ground
        assert image[ground].mean() > base_image[ground].mean() + 60
    plain.close()
    shifted.close()


def test_density_adds_obstacles_and_keeps_start_and_target(baseline):
    shifted = fly([("density", 1.0)], actions=[])
    base_sim, sim = baseline.env.unwrapped.sim, shifted.env.unwrapped.sim
    assert sim.world.density_scale == pytest.approx(2.5 * base_sim.world.density_scale)
    assert sim.world.min_gap_m == pytest.approx(0.65 * base_sim.world.min_gap_m)
    assert len(sim.layout.obstacles) > 1.5 * len(base_sim.layout.obstacles)
    assert sim.layout.target_position == base_sim.layout.target_position
    assert sim.layout.start_position == base_sim.layout.start_position


def test_target_appearance_changes_the_target_look_only(baseline):
    shifted = fly([("target_appearance", 1.0)], actions=[])
    base_sim, sim = baseline.env.unwrapped.sim, shifted.env.unwrapped.sim
    target, base_target = sim.world.target, base_sim.world.target
    assert target.shape != base_target.shape
    assert target.size_m == pytest.approx(0.5 * base_target.size_m)
    assert np.abs(np.subtract(target.color, base_target.color)).sum() > 1.0
    assert sim.layout.target_position == base_sim.layout.target_position
    assert layout_geometry(shifted.env) == layout_geometry(baseline.env)


def test_distractors_add_target_look_alikes_and_keep_the_layout(baseline):
    shifted = fly([("distractors", 0.5)], actions=[])
    base_sim, sim = baseline.env.unwrapped.sim, shifted.env.unwrapped.sim
    assert len(sim.layout.distractors) == len(base_sim.layout.distractors) + 6
    assert all(part.color == sim.world.target.color for part in sim.layout.distractors)
    assert layout_geometry(shifted.env) == layout_geometry(baseline.env)
    assert sim.layout.target_position == base_sim.layout.target_position


def test_distractors_keep_ground_and_sky_colours(baseline):
    shifted = fly([("distractors", 0.5)], actions=[])
    base_layout, layout = baseline.env.unwrapped.sim.layout, shifted.env.unwrapped.sim.layout
    assert (layout.ground_color, layout.sky_color) == (base_layout.ground_color, base_layout.sky_color)


# --------------------------------------------------------------------------- images


def assert_only_images_changed(shifted: Episode, baseline: Episode):
    np.testing.assert_array_equal(stacked(shifted, "imu"), stacked(baseline, "imu"))
    np.testing.assert_array_equal(stacked(shifted, "dt"), stacked(baseline, "dt"))
    np.testing.assert_array_equal(positions(shifted), positions(baseline))
    assert not np.array_equal(stacked(shifted, "image"), stacked(baseline, "image"))


def test_fog_hazes_far_pixels_more_than_near_ones(baseline):
    shifted = fly([("fog", 0.5)])
    assert_only_images_changed(shifted, baseline)
    _, depth = camera_with_depth(baseline.env)
    image, base = stacked(shifted, "image")[-1].astype(float), stacked(baseline, "image")[-1].astype(float)
    fog_colour = np.array([200.0, 204.0, 210.0])
    towards_fog = fog_colour - base
    contrast = (towards_fog**2).sum(axis=2)
    haze = ((image - base) * towards_fog).sum(axis=2) / np.maximum(contrast, 1.0)  # 0 = clear, 1 = all fog
    visible = contrast > 40.0**2
    near, far = visible & (depth < 3.0), visible & (depth > 10.0) & (depth < depth.max())
    assert near.sum() > 20 and far.sum() > 20
    assert haze[far].mean() > haze[near].mean() + 0.4
    expected = 1.0 - np.exp(-3.912 * 0.5 / 15.0 * depth)  # Koschmieder, visibility 30 m
    assert np.abs(haze - expected)[visible].mean() < 0.05
    sky = image[depth >= depth.max()]  # at the far plane: all fog
    assert len(sky) > 0
    np.testing.assert_allclose(sky, np.broadcast_to(fog_colour, sky.shape), atol=1.0)


@pytest.mark.parametrize("name, colour_gain", [
    ("dim", (0.55, 0.55, 0.55)), ("warm_light", (1.0, 0.868, 0.712)), ("cool_light", (0.832, 0.904, 1.0))])
def test_lighting_scales_the_colour_channels(name, colour_gain, baseline):
    shifted = fly([(name, 0.6)])
    assert_only_images_changed(shifted, baseline)
    image, base = stacked(shifted, "image").astype(float), stacked(baseline, "image").astype(float)
    gain = image.reshape(-1, 3).sum(axis=0) / base.reshape(-1, 3).sum(axis=0)
    np.testing.assert_allclose(gain, colour_gain, atol=0.01)


def test_bright_light_over_exposes(baseline):
    shifted = fly([("bright", 0.6)])
    assert_only_images_changed(shifted, baseline)
    image, base = stacked(shifted, "image"), stacked(baseline, "image")
    assert image.astype(float).mean() > 1.4 * base.mean()
    assert (image == 255).mean() > (base == 255).mean() + 0.2


def sharpness(images: np.ndarray) -> float:
    """Mean absolute difference between neighbouring pixels, across and down."""
    images = images.astype(float)
    return float(np.abs(np.diff(images, axis=2)).mean() + np.abs(np.diff(images, axis=1)).mean())


def test_motion_blur_softens_images(baseline):
    shifted = fly([("motion_blur", 0.7)])
    assert_only_images_changed(shifted, baseline)
    assert sharpness(stacked(shifted, "image")) < 0.8 * sharpness(stacked(baseline, "image"))
    assert abs(stacked(shifted, "image").astype(float).mean() - stacked(baseline, "image").mean()) < 2


def test_camera_noise_adds_zero_mean_pixel_noise(baseline):
    shifted = fly([("camera_noise", 0.5)])
    assert_only_images_changed(shifted, baseline)
    difference = stacked(shifted, "image").astype(float) - stacked(baseline, "image")
    assert abs(difference.mean()) < 1.0
    assert 7.0 < difference.std() < 11.0  # sigma 10 grey levels at severity 0.5 (less where clipped)


# --------------------------------------------------------------------------- IMU


def assert_only_imu_changed(shifted: Episode, baseline: Episode):
    np.testing.assert_array_equal(stacked(shifted, "image"), stacked(baseline, "image"))
    np.testing.assert_array_equal(stacked(shifted, "dt"), stacked(baseline, "dt"))
    np.testing.assert_array_equal(positions(shifted), positions(baseline))


def test_imu_noise_adds_zero_mean_noise(baseline):
    shifted = fly([("imu_noise", 1.0)])
    assert_only_imu_changed(shifted, baseline)
    difference = stacked(shifted, "imu") - stacked(baseline, "imu")
    assert 0.05 < difference[:, :3].std() < 0.15 and 0.5 < difference[:, 3:].std() < 1.5
    sigma = np.array([0.1] * 3 + [1.0] * 3)
    assert np.all(np.abs(difference.mean(axis=0)) < 4 * sigma / np.sqrt(len(difference)))  # zero mean


def test_imu_bias_shifts_the_mean_by_a_constant(baseline):
    shifted = fly([("imu_bias", 0.5)])
    assert_only_imu_changed(shifted, baseline)
    difference = stacked(shifted, "imu") - stacked(baseline, "imu")
    np.testing.assert_allclose(difference, np.broadcast_to(difference[0], difference.shape), atol=1e-5)
    np.testing.assert_allclose(np.abs(difference[0]), [0.05] * 3 + [0.4] * 3, atol=1e-5)


def imu_stream(episode: Episode) -> tuple[np.ndarray, np.ndarray]:
    """All IMU readings [n, 6] of the episode's infos, and their times [n] (s), in order."""
    return (np.concatenate([info["imu_samples"] for info in episode.infos]),
            np.concatenate([info["imu_sample_times"] for info in episode.infos]))


def test_imu_shifts_apply_to_every_reading_of_the_imu_stream():
    actions = ACTIONS[:6]
    plain = fly(actions=actions, imu_rate_hz=120)
    biased = fly([("imu_bias", 0.5)], actions=actions, imu_rate_hz=120)
    noisy = fly([("imu_noise", 1.0)], actions=actions, imu_rate_hz=120)
    for shifted in (biased, noisy):
        for obs, info in zip(shifted.observations, shifted.infos, strict=True):
            np.testing.assert_array_equal(info["imu_samples"][-1], obs["imu"])
    readings, times = imu_stream(plain)
    assert len(readings) == 1 + 6 * len(actions)
    np.testing.assert_array_equal(imu_stream(biased)[1], times)
    bias = imu_stream(biased)[0] - readings
    np.testing.assert_allclose(bias, np.broadcast_to(bias[0], bias.shape), atol=1e-5)  # the episode's bias
    np.testing.assert_allclose(np.abs(bias[0]), [0.05] * 3 + [0.4] * 3, atol=1e-5)
    noise = imu_stream(noisy)[0] - readings
    assert 0.05 < noise[:, :3].std() < 0.15 and 0.5 < noise[:, 3:].std() < 1.5
    assert np.all(np.abs(np.diff(noise, axis=0)) > 0)  # a new draw for every reading


def test_latency_and_frame_drops_keep_the_imu_stream_with_its_frame():
    shifted = fly([("imu_noise", 0.5), ("latency", 0.5), ("frame_drops", 1.0)], imu_rate_hz=120)
    assert any(info["dropped_frames"] for info in shifted.infos[1:])
    for obs, info in zip(shifted.observations, shifted.infos, strict=True):
        np.testing.assert_array_equal(info["imu_samples"][-1], obs["imu"])
    for obs, info in zip(shifted.observations[1:], shifted.infos[1:], strict=True):
        assert len(info["imu_samples"]) == round(float(obs["dt"][0]) * 120)  # dropped frames, not readings
    _, times = imu_stream(shifted)
    np.testing.assert_allclose(np.diff(times), 1 / 120, rtol=1e-6)  # no gap, no repeat


# --------------------------------------------------------------------------- dynamics and timing


def test_wind_pushes_the_drone_off_the_same_trajectory(baseline):
    shifted = fly([("wind", 1.0)])
    np.testing.assert_array_equal(shifted.observations[0]["image"], baseline.observations[0]["image"])
    np.testing.assert_array_equal(stacked(shifted, "dt"), stacked(baseline, "dt"))
    drift_m = np.linalg.norm(positions(shifted) - positions(baseline), axis=1)
    assert drift_m[0] == 0.0 and drift_m[-1] > 0.05
    sim = shifted.env.unwrapped.sim
    assert 0.02 < np.linalg.norm(sim.external_force_n) / (sim.mass_kg * 9.81) < 0.8


def test_slip_takes_the_rovers_grip_and_its_wheels_spin():
    calm, slipping = fly(vehicle="rover"), fly([("slip", 1.0)], vehicle="rover")
    np.testing.assert_array_equal(slipping.observations[0]["image"], calm.observations[0]["image"])
    drift_m = np.linalg.norm(positions(slipping) - positions(calm), axis=1)
    assert drift_m[0] == 0.0 and drift_m[-1] > 0.05
    for episode, spin_at_most in ((calm, 0.15), (slipping, None)):
        sim = episode.env.unwrapped.sim
        wheel_speed = np.mean([state[1] for state in pb.getJointStates(sim.body, [0, 1], physicsClientId=sim.client)])
        # wheel rim speed over ground speed: ~1 when rolling, more when spinning on a slippery ground
        spin = wheel_speed * sim.rover.wheel_radius_m / max(float(sim.heading_velocity[0]), 1e-3) - 1.0
        if spin_at_most is not None:
            assert abs(spin) < spin_at_most
            calm_spin = spin
        else:
            assert spin > calm_spin + 0.05


def test_wind_force_is_the_change_of_drag_on_airspeed():
    drag = 0.05  # N / (m/s)^2
    hovering_in_wind = wind_force_n(np.zeros(3), np.array([6.0, 0.0, 0.0]), drag)
    np.testing.assert_allclose(hovering_in_wind, [drag * 36.0, 0.0, 0.0])
    drifting_with_wind = wind_force_n(np.array([0.0, 3.0, 0.0]), np.array([0.0, 3.0, 0.0]), drag)
    np.testing.assert_allclose(drifting_with_wind, [0.0, drag * 9.0, 0.0])  # no drag left to cancel
    np.testing.assert_array_equal(wind_force_n(np.array([1.0, 2.0, 0.0]), np.zeros(3), drag), np.zeros(3))


def test_latency_delivers_the_observations_of_earlier_steps():
    delay = 2  # round(4 * 0.5) control steps
    shifted = fly([("latency", 0.5)])
    hover = [np.zeros(4, np.float32)] * delay
    reference = fly(actions=hover + ACTIONS)  # what the sensors saw, hover pre-roll included
    for key in ("image", "imu", "dt"):
        np.testing.assert_array_equal(stacked(shifted, key), stacked(reference, key)[: len(ACTIONS) + 1])
    np.testing.assert_array_equal(positions(shifted)[1:], positions(reference)[delay + 1:])


def test_frame_drops_lengthen_dt_and_deliver_the_true_current_frame():
    shifted = fly([("frame_drops", 1.0)])
    drops = [info["dropped_frames"] for info in shifted.infos[1:]]
    assert any(drops) and max(drops) <= 4
    dt = stacked(shifted, "dt")[1:, 0]
    np.testing.assert_allclose(dt, PERIOD_S * (1 + np.array(drops)), rtol=1e-6)
    held = [action for action, n in zip(ACTIONS, drops, strict=False) for _ in range(1 + n)]
    reference = fly(actions=held)  # the same commands, each held through its dropped frames
    delivered = np.cumsum(1 + np.array(drops))
    for key in ("image", "imu"):
        np.testing.assert_array_equal(stacked(shifted, key)[1:], stacked(reference, key)[delivered])
    np.testing.assert_array_equal(positions(shifted)[1:], positions(reference)[delivered])
