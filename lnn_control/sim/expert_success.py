"""Measure the privileged expert (and a straight-line pilot, for contrast) on many seeds.

    python -m lnn_control.sim.expert_success --world forest --episodes 100 [--seed 0]

Episodes run the simulator without rendering (the expert does not look at images); seed s
is the same world as `env.reset(seed=s)`. Prints one line per world with success,
collision and timeout rates, and the share of episodes whose straight start-to-target line
is blocked by an obstacle (how much the obstacles matter); `--json FILE` writes the numbers.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

from lnn_control.sim.expert import ExpertPilot
from lnn_control.sim.simulator import PHYSICS_HZ, Simulator
from lnn_control.sim.world import Layout

CONTROL_HZ = 20


def fly_episode(sim: Simulator, pilot) -> str:
    """Fly one episode at 20 Hz with `pilot()` -> command; 'success', 'collision' or 'timeout'
    (the episode's duration is `sim.time` afterwards)."""
    steps = PHYSICS_HZ // CONTROL_HZ
    while True:
        sim.set_command(pilot())
        sim.step_physics(steps)
        outcome = sim.outcome()
        for result in ("success", "collision", "timeout"):
            if outcome[result]:
                return result


def straight_line_pilot(sim: Simulator, speed_m_s: float = 1.8):
    """Flies straight at the target, nose first, ignoring obstacles."""

    def act() -> np.ndarray:
        to_target = sim.target_position - sim.position
        heading = math.atan2(to_target[1], to_target[0])
        yaw_error = math.remainder(heading - sim.yaw, math.tau)
        along = speed_m_s * max(math.cos(yaw_error), 0.0)
        return np.array([along, 0.0, np.clip(to_target[2], -0.6, 0.6), np.clip(2 * yaw_error, -1, 1)])

    return act


def line_blocked(layout: Layout, half_width_m: float = 0.3) -> bool:
    """Whether the straight start-to-target segment passes within `half_width_m` of an obstacle."""
    return any(fp.distance_to_segment(layout.start_position, layout.target_position) < half_width_m
               for fp in layout.flight_band_footprints())


def measure(world: str, episodes: int, first_seed: int) -> dict:
    sim = Simulator(world, seed=first_seed)
    expert = ExpertPilot(sim)
    counts = {"expert": {}, "straight_line": {}}
    blocked = 0
    failures = []
    success_times = []
    started = time.perf_counter()
    for seed in range(first_seed, first_seed + episodes):
        sim.reset(seed=seed)
        blocked += line_blocked(sim.layout)
        expert.reset()
        result = fly_episode(sim, expert.act)
        counts["expert"][result] = counts["expert"].get(result, 0) + 1
        if result == "success":
            success_times.append(sim.time)
        else:
            failures.append({"seed": seed, "result": result})
        sim.reset(seed=seed)
        result = fly_episode(sim, straight_line_pilot(sim))
        counts["straight_line"][result] = counts["straight_line"].get(result, 0) + 1
    sim.close()
    rates = {pilot: {k: c.get(k, 0) / episodes for k in ("success", "collision", "timeout")}
             for pilot, c in counts.items()}
    return {"world": world, "episodes": episodes, "first_seed": first_seed, "rates": rates,
            "line_blocked_rate": blocked / episodes, "expert_failures": failures,
            "expert_mean_time_to_target_s": float(np.mean(success_times)) if success_times else None,
            "wall_time_s": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", action="append", help="forest, urban or a YAML path (repeatable)")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="first seed; episode i uses seed + i")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    results = []
    for world in args.world or ["forest", "urban"]:
        r = measure(world, args.episodes, args.seed)
        results.append(r)
        e, s = r["rates"]["expert"], r["rates"]["straight_line"]
        print(f"{world}: seeds {args.seed}..{args.seed + args.episodes - 1}: expert success {e['success']:.1%} "
              f"(collision {e['collision']:.1%}, timeout {e['timeout']:.1%}, mean time to target "
              f"{r['expert_mean_time_to_target_s'] or float('nan'):.1f} s); straight-line pilot success "
              f"{s['success']:.1%}; straight line blocked in {r['line_blocked_rate']:.1%}; "
              f"expert failures {[(f['seed'], f['result']) for f in r['expert_failures']]} "
              f"[{r['wall_time_s']:.0f} s]", flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
