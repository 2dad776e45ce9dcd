"""The shipped CfC policy (models/cfc_forest.pt) flies forest episodes in closed loop.

It sees only what a real drone would (camera, IMU, elapsed time), on world seeds training
never used, with the evaluation's 40 s time limit. Issue #7 asks that it reach the target in
most episodes: it must in at least 8 of these 10 (its card measures 93% over 100 forest
episodes; on these ten seeds the evaluation saw all 10).
Skipped, saying why, only while no model is shipped.
"""
from __future__ import annotations

import pytest

from lnn_control import seeds
from lnn_control.paths import share_path

MODEL = share_path("models", "cfc_forest.pt")
SEEDS = range(seeds.EVALUATION, seeds.EVALUATION + 10)  # never flown in training (lnn_control/seeds.py)
TIME_LIMIT_S = 40.0            # as in the model card's evaluation; the expert needs under 30 s
LEAST_SUCCESSES = 8             # most of the 10, two short of what the evaluation saw

pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason=f"no shipped model: {MODEL} is absent "
                                "(make it with `make model`)")


def test_shipped_model_is_small_and_loads_without_pickled_code():
    import json

    import torch

    from lnn_control.policy import load_checkpoint

    assert MODEL.stat().st_size < 4 * 1024 * 1024
    torch.load(MODEL, weights_only=True)  # raises on anything but tensors and plain containers
    net, header = load_checkpoint(MODEL)
    assert header["kind"] == "cfc" and header["spec"]["wiring"] == "ncp"
    assert header["training"] is not None and header["provenance"]["bags"]
    facts = [bag["facts"] for bag in header["provenance"]["bags"]]
    worlds = {fact["lnn_control.world"] for fact in facts}
    assert worlds == {"forest"}, f"trained on worlds {worlds}, expected the forest only"
    assert all(json.loads(fact["lnn_control.shifts"]) == [] for fact in facts), "trained under a shift"


def test_shipped_model_steers_by_its_camera():
    """The same IMU readings with another flight's camera frames give other commands: the image
    path is alive (a policy whose image features had saturated flew on its IMU alone)."""
    import numpy as np
    import torch

    from lnn_control.envs import expert_action, make_env
    from lnn_control.policy import load_policy

    torch.set_num_threads(1)
    flights = []
    env = make_env("forest")
    try:
        for seed in (SEEDS[0], SEEDS[1]):
            obs, _ = env.reset(seed=seed)
            frames = []
            for _ in range(60):
                frames.append((obs["image"], obs["imu"], float(obs["dt"][0])))
                obs, *_ = env.step(expert_action(env))
            flights.append(frames)
    finally:
        env.close()
    policy = load_policy(MODEL)

    def commands(images, readings):
        policy.reset()
        return np.array([policy.step(image, imu, dt) for image, (_, imu, dt) in zip(images, readings, strict=True)])

    own = commands([f[0] for f in flights[0]], flights[0])
    swapped = commands([f[0] for f in flights[1]], flights[0])
    difference = np.abs(own - swapped).mean(axis=0)
    assert difference[1] > 0.05 or difference[3] > 0.05, f"mean |command change| {difference} (vx, vy, vz, yaw)"


@pytest.mark.timeout(900)  # a hang guard: about 20 s on a quiet 2-core machine
def test_shipped_model_reaches_the_target_in_forest_episodes():
    import torch

    from lnn_control.envs import make_env
    from lnn_control.policy import load_policy
    from lnn_control.sim import WorldConfig

    torch.set_num_threads(1)
    policy = load_policy(MODEL)
    env = make_env(WorldConfig.load("forest").with_overrides(time_limit_s=TIME_LIMIT_S))
    outcomes = []
    try:
        for seed in SEEDS:
            obs, info = env.reset(seed=seed)
            policy.reset()
            done = False
            while not done:
                command = policy.step(obs["image"], obs["imu"], float(obs["dt"][0]))
                assert command.shape == (4,) and abs(command).max() <= 2.0 + 1e-6
                obs, _, terminated, truncated, info = env.step(command)
                done = terminated or truncated
            outcomes.append("success" if info["success"] else "collision" if info["collision"] else "timeout")
    finally:
        env.close()
    assert outcomes.count("success") >= LEAST_SUCCESSES, f"outcomes on seeds {list(SEEDS)}: {outcomes}"
