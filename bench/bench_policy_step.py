"""Latency of a full `Policy.step` (validation, IMU sanitising, CNN, core, head) on one core.

Random-weight policies of each kind at the default spec (48x64 input); also the CfC policy
fed a 480x640 frame, which adds the resize. Then the two ways to carry uncertainty with K = 5:
an ensemble of 5 CfC cores + heads on one shared encoder (`PolicySpec(ensemble=5)`, the one
lnn_control trains), and 5 whole CfC policies stepped one after another. Median and p99 over
many steps with a fresh random frame each step (frames are made before timing), in wall-clock
time and in this thread's CPU time (`cpu_median_ms`: what the step costs, whatever else the
machine runs; on a loaded machine a step of a few ms is often preempted, and its wall time
then says more about the load than the step). The 48x64 cases are timed interleaved, frame by
frame, so a machine whose load changes slows them alike; `vs_cfc` is each CPU-time median
over the single CfC policy's.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from lnn_control.benchmarks import bench_arguments, report
from lnn_control.policy import Policy, PolicySpec, build_network

ENSEMBLE = 5


def time_cases(cases: dict[str, list[Policy]], frames: list[np.ndarray], imu: np.ndarray,
               repeats: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, thread CPU) seconds per step of each case (a case steps all its policies on the
    frame), interleaved."""
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in cases}
    for _ in range(repeats):
        for policies in cases.values():
            for policy in policies:
                policy.reset()
        for frame in frames:
            for label, policies in cases.items():
                start, start_cpu = time.perf_counter(), time.thread_time()
                for policy in policies:
                    policy.step(frame, imu, 0.05)
                times[label].append((time.perf_counter() - start, time.thread_time() - start_cpu))
    return times


def main() -> None:
    args = bench_arguments(__doc__.splitlines()[0])
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    imu = np.array([0.01, -0.02, 0.0, 0.1, 0.0, 9.81], np.float32)
    steps, repeats = (100, 2) if args.quick else (250, 8)
    small = {kind: [Policy(build_network(PolicySpec(kind=kind)))] for kind in ("cfc", "lstm", "gru", "mlp")}
    small[f"cfc ensemble of {ENSEMBLE}"] = [Policy(build_network(PolicySpec(ensemble=ENSEMBLE)))]
    small[f"{ENSEMBLE} whole cfc policies"] = [Policy(build_network(PolicySpec())) for _ in range(ENSEMBLE)]
    large = {"cfc": [Policy(build_network(PolicySpec()))]}
    rows = []
    for (height, width), cases in (((48, 64), small), ((480, 640), large)):
        frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(steps)]
        time_cases(cases, frames[:20], imu, 1)  # warm-up
        for label, samples in time_cases(cases, frames, imu, repeats).items():
            wall, cpu = np.array(samples).T * 1e3
            rows.append({"policy": label, "input": f"{height}x{width}", "median_ms": float(np.median(wall)),
                         "p99_ms": float(np.percentile(wall, 99)), "cpu_median_ms": float(np.median(cpu)),
                         "parameters": sum(p.net.parameter_count() for p in cases[label]), "steps": len(samples)})
    single = next(row["cpu_median_ms"] for row in rows if row["policy"] == "cfc" and row["input"] == "48x64")
    for row in rows:
        row["vs_cfc"] = row["cpu_median_ms"] / single if row["input"] == "48x64" else None
    report("policy_step", rows, args.out,
           "Policy.step at batch 1, torch.set_num_threads(1), random weights, default spec 48x64 "
           f"(the last row adds the resize from 480x640); {repeats} episodes x {steps} steps, the 48x64 cases "
           f"interleaved; goals: median <= 1 ms, the ensemble of {ENSEMBLE} within 2x of one cfc policy "
           f"(vs_cfc, CPU time)")


if __name__ == "__main__":
    main()
