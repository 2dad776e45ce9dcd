"""Latency of a full policy step (validation, IMU sanitising, CNN, core, head) on one core: torch, export, ensembles.

Random-weight policies of each kind at the default spec (48x64 input), each by the torch
runtime (`Policy.step`) and, in a second table, by the torch-free runtime of its export
(`OnnxPolicy.step`: `lnn-control export`, onnxruntime, one thread); also the CfC policy
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

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lnn_control.benchmarks import bench_arguments, report
from lnn_control.policy import Policy, PolicySpec, build_network, load_onnx_policy, save_checkpoint
from lnn_control.policy.export import export_policy

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
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        def runtimes(kind: str, net) -> dict[str, tuple[str, list, int]]:
            """The torch and the onnxruntime case of one random-weight network: label -> (runtime, policies,
            parameters)."""
            checkpoint = save_checkpoint(Path(scratch) / f"{kind}.pt", net)
            exported = load_onnx_policy(export_policy(checkpoint, Path(scratch) / kind)[0])
            return {kind: ("torch", [Policy(net)], net.parameter_count()),
                    f"{kind} (export)": ("onnxruntime", [exported], net.parameter_count())}

        nets = {kind: build_network(PolicySpec(kind=kind)) for kind in ("cfc", "lstm", "gru", "mlp")}
        small = {label: case for kind, net in nets.items() for label, case in runtimes(kind, net).items()}
        ensemble = build_network(PolicySpec(ensemble=ENSEMBLE))
        small[f"cfc ensemble of {ENSEMBLE}"] = ("torch", [Policy(ensemble)], ensemble.parameter_count())
        whole = [build_network(PolicySpec()) for _ in range(ENSEMBLE)]
        small[f"{ENSEMBLE} whole cfc policies"] = ("torch", [Policy(n) for n in whole],
                                                   sum(n.parameter_count() for n in whole))
        large = runtimes("cfc", nets["cfc"])
        for (height, width), cases in (((48, 64), small), ((480, 640), large)):
            frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(steps)]
            policies = {label: case[1] for label, case in cases.items()}
            time_cases(policies, frames[:20], imu, 1)  # warm-up
            for label, samples in time_cases(policies, frames, imu, repeats).items():
                wall, cpu = np.array(samples).T * 1e3
                rows.append({"policy": label, "runtime": cases[label][0], "input": f"{height}x{width}",
                             "median_ms": float(np.median(wall)), "p99_ms": float(np.percentile(wall, 99)),
                             "cpu_median_ms": float(np.median(cpu)), "parameters": cases[label][2],
                             "steps": len(samples)})
    by = {(row["policy"], row["input"]): row for row in rows}
    single = by[("cfc", "48x64")]["cpu_median_ms"]
    for row in rows:
        row["vs_cfc"] = row["cpu_median_ms"] / single if row["input"] == "48x64" else None
        torch_row = by.get((row["policy"].removesuffix(" (export)"), row["input"]))
        row["speedup_vs_torch"] = (torch_row["cpu_median_ms"] / row["cpu_median_ms"]
                                   if row["runtime"] == "onnxruntime" else None)
    report("policy_step", rows, args.out,
           "Policy.step (torch) and OnnxPolicy.step (the export, onnxruntime) at batch 1, one thread each, random "
           "weights, default spec 48x64 (the last rows add the resize from 480x640); "
           f"{repeats} episodes x {steps} steps, every case of an input size interleaved frame by frame; "
           f"goals: the export as fast as torch or faster (speedup_vs_torch, CPU time), the ensemble of {ENSEMBLE} "
           f"within 2x of one cfc policy (vs_cfc, CPU time)")


if __name__ == "__main__":
    main()
