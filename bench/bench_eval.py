"""Evaluation throughput: closed-loop episodes per minute with 1 and 2 worker processes.

The same plan each time — an untrained CfC checkpoint and the expert, forest, no shift and
fog 0.5, episodes capped at 10 simulated seconds — run through `lnn-control eval`'s own code
(`evaluate`) into a fresh folder. Wall time includes starting the workers and writing
results.json/.md/.png; one worker runs in the calling process, two are spawned processes.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from lnn_control import seeds  # noqa: E402
from lnn_control.benchmarks import bench_arguments, report  # noqa: E402
from lnn_control.envs.shifts import Condition  # noqa: E402
from lnn_control.eval.episode_log import EpisodeLog  # noqa: E402
from lnn_control.eval.evaluation import EvalRun, evaluate  # noqa: E402
from lnn_control.eval.plan import NO_SHIFT, EvalPlan, PolicySource, WorldSource  # noqa: E402
from lnn_control.policy import PolicySpec, build_network, save_checkpoint  # noqa: E402

TIME_LIMIT_S = 10.0


def measure(plan: EvalPlan, workers: int, scratch: Path) -> dict:
    out = scratch / f"workers_{workers}"
    start = time.perf_counter()
    evaluate(EvalRun(plan=plan, out_dir=out, workers=workers, time_limit_s=TIME_LIMIT_S, command="bench_eval"))
    wall_s = time.perf_counter() - start
    episodes = EpisodeLog(out).read()
    steps = sum(e.steps for e in episodes)
    return {"workers": workers, "episodes": len(episodes), "sim_steps": steps, "wall_s": wall_s,
            "episodes_per_min": 60.0 * len(episodes) / wall_s, "steps_per_s": steps / wall_s}


def main() -> None:
    args = bench_arguments(__doc__.splitlines()[0])
    torch.set_num_threads(1)
    episodes = 2 if args.quick else 6
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as scratch:
        scratch = Path(scratch)
        checkpoint = save_checkpoint(scratch / "cfc_untrained.pt", build_network(PolicySpec(kind="cfc")))
        plan = EvalPlan(policies=(PolicySource.parse(str(checkpoint)), PolicySource.parse("expert")),
                        worlds=(WorldSource.parse("forest"),),
                        conditions=(NO_SHIFT, Condition("fog:0.5", (("fog", 0.5),))),
                        episodes=episodes, first_seed=seeds.EVALUATION)
        rows = [measure(plan, workers, scratch) for workers in (1, 2)]
    for row in rows:
        row["speedup"] = row["episodes_per_min"] / rows[0]["episodes_per_min"]
    report("eval_throughput", rows, args.out,
           method=f"`lnn-control eval` code path, untrained CfC + expert x forest x (none, fog 0.5) x {episodes} "
                  f"seeds = {2 * 2 * episodes} episodes, time limit {TIME_LIMIT_S:g} s simulated; wall time "
                  f"includes worker start-up and writing results; {os.cpu_count()} cores, 1 torch thread per worker.")


if __name__ == "__main__":
    main()
