"""Latency of a full `Policy.step` (validation, IMU sanitising, CNN, core, head) on one core.

Random-weight policies of each kind at the default spec (48x64 input); also the CfC policy
fed a 480x640 frame, which adds the resize. Median and p99 over many steps with a fresh
random frame each step (frames are made before timing).
"""
from __future__ import annotations

import time

import numpy as np
import torch

from lnn_control.benchmarks import bench_arguments, report
from lnn_control.policy import Policy, PolicySpec, build_network


def time_policy(policy: Policy, frames: list[np.ndarray], imu: np.ndarray, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        policy.reset()
        for frame in frames:
            start = time.perf_counter()
            policy.step(frame, imu, 0.05)
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    args = bench_arguments(__doc__.splitlines()[0])
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    imu = np.array([0.01, -0.02, 0.0, 0.1, 0.0, 9.81], np.float32)
    steps, repeats = (100, 2) if args.quick else (250, 8)
    cases = [(kind, (48, 64)) for kind in ("cfc", "lstm", "gru", "mlp")] + [("cfc", (480, 640))]
    rows = []
    for kind, (height, width) in cases:
        policy = Policy(build_network(PolicySpec(kind=kind)))
        frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(steps)]
        time_policy(policy, frames[:20], imu, 1)  # warm-up
        samples = time_policy(policy, frames, imu, repeats)
        rows.append({"policy": kind, "input": f"{height}x{width}", "median_ms": float(np.median(samples)) * 1e3,
                     "p99_ms": float(np.percentile(samples, 99)) * 1e3,
                     "parameters": policy.net.parameter_count(), "steps": len(samples)})
    report("policy_step", rows, args.out,
           "Policy.step at batch 1, torch.set_num_threads(1), random weights, default spec 48x64 "
           f"(the last row adds the resize from 480x640); {repeats} episodes x {steps} steps; goal: median <= 1 ms")


if __name__ == "__main__":
    main()
