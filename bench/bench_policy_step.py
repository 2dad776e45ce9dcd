"""Latency of a full policy step (validation, IMU sanitising, CNN, core, head) on one core: torch vs export.

Random-weight policies of each kind at the default spec (48x64 input), each run by the torch
runtime (`Policy.step`) and by the torch-free runtime of its export (`OnnxPolicy.step`:
`lnn-control export`, onnxruntime, one thread); also the CfC policy fed a 480x640 frame, which
adds the resize. Median and p99 over many steps with a fresh random frame each step (frames are
made before timing); the two runtimes of a case take turns episode by episode, so both see the
same load.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lnn_control.benchmarks import bench_arguments, report
from lnn_control.policy import Policy, PolicySpec, build_network, load_onnx_policy, save_checkpoint
from lnn_control.policy.export import export_policy


def time_episode(policy, frames: list[np.ndarray], imu: np.ndarray) -> list[float]:
    policy.reset()
    times = []
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
    with tempfile.TemporaryDirectory() as scratch:
        for kind, (height, width) in cases:
            net = build_network(PolicySpec(kind=kind))
            checkpoint = save_checkpoint(Path(scratch) / f"{kind}.pt", net)
            runtimes = {"torch": Policy(net),
                        "onnxruntime": load_onnx_policy(export_policy(checkpoint, Path(scratch) / kind)[0])}
            frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(steps)]
            samples = {name: [] for name in runtimes}
            for policy in runtimes.values():
                time_episode(policy, frames[:20], imu)  # warm-up
            for _ in range(repeats):
                for name, policy in runtimes.items():
                    samples[name] += time_episode(policy, frames, imu)
            medians = {name: float(np.median(times)) * 1e3 for name, times in samples.items()}
            for name, times in samples.items():
                rows.append({"policy": kind, "input": f"{height}x{width}", "runtime": name,
                             "median_ms": medians[name], "p99_ms": float(np.percentile(times, 99)) * 1e3,
                             "speedup_vs_torch": medians["torch"] / medians[name],
                             "parameters": net.parameter_count(), "steps": len(times)})
    report("policy_step", rows, args.out,
           "Policy.step (torch) and OnnxPolicy.step (its export, onnxruntime) at batch 1, one thread each, random "
           "weights, default spec 48x64 (the last rows add the resize from 480x640); "
           f"{repeats} episodes x {steps} steps per runtime, taking turns; goal: the export as fast as torch or faster")


if __name__ == "__main__":
    main()
