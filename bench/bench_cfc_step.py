"""Per-step latency of a CfC at batch 1 on one thread: lnn_control's fused `CfC.step` vs ncps.

AutoNCP(19, 4) wiring, 32 inputs, the same weights in both (ours loads the ncps state_dict).
ncps has no single-step call, so its step is `forward` on a length-1 sequence with the
elapsed time as timespan, under `torch.inference_mode` — what an ncps user runs per frame.
Implementations are timed in alternating rounds so drift hits both alike; the speed-up
is the ratio of medians measured in this run.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from ncps.torch import CfC as NcpsCfC
from ncps.wirings import AutoNCP

from lnn_control.benchmarks import bench_arguments, report
from lnn_control.policy import CfC

INPUTS, UNITS, OUTPUTS = 32, 19, 4


def per_call_seconds(step, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    args = bench_arguments(__doc__.splitlines()[0])
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ncps_cfc = NcpsCfC(INPUTS, AutoNCP(UNITS, OUTPUTS)).eval()
    ours = CfC(INPUTS, AutoNCP(UNITS, OUTPUTS)).eval()
    ours.load_state_dict(ncps_cfc.state_dict())

    x = torch.randn(1, INPUTS)
    dt = torch.full((1, 1), 0.8)
    state = {"ncps": torch.zeros(1, UNITS), "ours": torch.zeros(1, UNITS), "forward": torch.zeros(1, UNITS)}

    def ncps_step():
        _, state["ncps"] = ncps_cfc(x[:, None], state["ncps"], dt)

    def our_forward():
        _, state["forward"] = ours(x[:, None], state["forward"], dt)

    def our_step():
        _, state["ours"] = ours.step(x, state["ours"], 0.8)

    candidates = {"ncps CfC.forward (length-1 sequence)": ncps_step,
                  "lnn_control CfC.forward (length-1 sequence)": our_forward,
                  "lnn_control CfC.step (fused)": our_step}
    rounds, calls = (3, 200) if args.quick else (10, 1000)
    times = {name: [] for name in candidates}
    with torch.inference_mode():
        for step in candidates.values():
            per_call_seconds(step, 100)  # warm-up
        for _ in range(rounds):
            for name, step in candidates.items():
                times[name] += per_call_seconds(step, calls)
    # the three carried their states through the same inputs: they must agree
    difference = float(max((state["ours"] - state["ncps"]).abs().max(), (state["forward"] - state["ncps"]).abs().max()))

    reference = float(np.median(times["ncps CfC.forward (length-1 sequence)"]))
    rows = []
    for name, samples in times.items():
        median = float(np.median(samples))
        rows.append({"implementation": name, "median_us": median * 1e6,
                     "p99_us": float(np.percentile(samples, 99)) * 1e6,
                     "speedup_vs_ncps": reference / median, "steps": len(samples)})
    rows[-1]["max_state_difference_vs_ncps"] = difference
    report("cfc_step", rows, args.out,
           f"CfC AutoNCP({UNITS}, {OUTPUTS}) with {INPUTS} inputs, batch 1, torch.set_num_threads(1), "
           f"inference_mode; {rounds} alternating rounds x {calls} timed calls each; speed-up = ratio of medians "
           "within this run")


if __name__ == "__main__":
    main()
