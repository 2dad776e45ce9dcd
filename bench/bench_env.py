"""Simulation speed: env steps/s at the default camera size on one core, physics-only and
render-only rates, reset time, and AsyncVectorEnv throughput with 1 and 2 workers."""
from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

from lnn_control.benchmarks import bench_arguments, report  # noqa: E402


def _cruise_actions(count: int, seed: int = 0) -> np.ndarray:
    """Forward flight with slowly varying lateral/yaw commands (what a pilot sends)."""
    rng = np.random.default_rng(seed)
    actions = np.zeros((count, 4), np.float32)
    actions[:, 0] = 1.5
    actions[:, 1:] = np.cumsum(rng.normal(0, 0.05, (count, 3)), axis=0).clip(-0.5, 0.5)
    return actions


def env_steps_per_s(world: str, steps: int) -> tuple[float, float]:
    """(env steps/s including resets at episode ends, mean reset time in ms) for one env."""
    from lnn_control.envs import make_env

    env = make_env(world)
    env.reset(seed=0)
    actions = _cruise_actions(steps)
    resets, reset_time = 0, 0.0
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            t = time.perf_counter()
            env.reset()
            reset_time += time.perf_counter() - t
            resets += 1
    elapsed = time.perf_counter() - start
    t = time.perf_counter()
    for seed in range(5):
        env.reset(seed=seed)
    mean_reset_ms = (time.perf_counter() - t) / 5 * 1000
    env.close()
    return steps / elapsed, mean_reset_ms


def physics_and_render_rates(world: str, steps: int) -> tuple[float, float]:
    """(physics steps/s with the controller, camera frames/s at the default size)."""
    from lnn_control.sim import Simulator

    sim = Simulator(world, seed=0)
    sim.set_command([1.0, 0.0, 0.0, 0.1])
    start = time.perf_counter()
    sim.step_physics(steps)
    physics = steps / (time.perf_counter() - start)
    frames = max(steps // 10, 50)
    start = time.perf_counter()
    for _ in range(frames):
        sim.render_camera()
    render = frames / (time.perf_counter() - start)
    sim.close()
    return physics, render


def vector_steps_per_s(world: str, workers: int, steps: int) -> float:
    """Total env steps/s of an AsyncVectorEnv with `workers` sub-environments."""
    env_id = {"forest": "lnn_control/ForestNav-v0", "urban": "lnn_control/UrbanNav-v0"}[world]
    vec = gym.vector.AsyncVectorEnv([lambda: gym.make(env_id) for _ in range(workers)])
    vec.reset(seed=list(range(workers)))
    actions = _cruise_actions(steps)
    start = time.perf_counter()
    for action in actions:
        vec.step(np.repeat(action[None], workers, axis=0))
    rate = steps * workers / (time.perf_counter() - start)
    vec.close()
    return rate


def main() -> None:
    args = bench_arguments(__doc__.splitlines()[0])
    steps = 300 if args.quick else 2000
    rows = []
    single_core = hasattr(os, "sched_setaffinity")
    affinity = os.sched_getaffinity(0) if single_core else None
    if single_core:
        os.sched_setaffinity(0, {min(affinity)})
    for world in ("forest", "urban"):
        env_rate, reset_ms = env_steps_per_s(world, steps)
        physics, render = physics_and_render_rates(world, steps * 6)
        rows.append({"world": world, "measure": "env steps/s (1 core, 64x48 camera, 20 Hz)", "value": env_rate})
        rows.append({"world": world, "measure": "physics steps/s (240 Hz, controller, no camera)", "value": physics})
        rows.append({"world": world, "measure": "camera frames/s (64x48, TinyRenderer)", "value": render})
        rows.append({"world": world, "measure": "reset ms (build world)", "value": reset_ms})
    if single_core:
        os.sched_setaffinity(0, affinity)
    vector_steps = 200 if args.quick else 1000
    one = vector_steps_per_s("forest", 1, vector_steps)
    two = vector_steps_per_s("forest", 2, vector_steps)
    rows.append({"world": "forest", "measure": "AsyncVectorEnv 1 worker, env steps/s", "value": one})
    rows.append({"world": "forest", "measure": "AsyncVectorEnv 2 workers, env steps/s", "value": two})
    rows.append({"world": "forest", "measure": "AsyncVectorEnv scaling 2 vs 1", "value": two / one})
    report("env", rows, args.out,
           f"{steps} env steps per world of forward flight with varying lateral/yaw commands, resets included, "
           f"process pinned to one core; physics {steps * 6} steps; vector env {vector_steps} steps per worker "
           f"({os.cpu_count()} cores on this machine).")


if __name__ == "__main__":
    main()
