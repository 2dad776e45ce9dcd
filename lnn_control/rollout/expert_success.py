"""Measure the privileged expert (and a straight-line pilot, for contrast) on many seeds.

    python -m lnn_control.rollout.expert_success --world forest --episodes 100 [--seed 0] [--vehicle rover]

Episodes are flown with `fly` in the gymnasium environment, as evaluation flies them; seed s
is the world of `env.reset(seed=s)`. Prints one line per world with success, collision and
timeout rates, and the share of episodes whose straight start-to-target line is blocked by an
obstacle at the vehicle's height (how much the obstacles matter); `--json FILE` writes the numbers.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from lnn_control.envs import make_env
from lnn_control.rollout.fly import fly
from lnn_control.rollout.pilots import ExpertPilot, StraightLinePilot
from lnn_control.sim import Layout
from lnn_control.sim.world.geometry import GROUND_BAND_M
from lnn_control.vehicles import VEHICLES

ENDINGS = ("success", "collision", "timeout")


def line_blocked(layout: Layout, half_width_m: float = 0.3, vehicle: str = "drone") -> bool:
    """Whether the straight start-to-target segment passes within `half_width_m` of an obstacle
    (of a part at the rover's height, for a rover)."""
    footprints = layout.footprints_in_band(GROUND_BAND_M) if vehicle == "rover" else layout.flight_band_footprints()
    return any(fp.distance_to_segment(layout.start_position, layout.target_position) < half_width_m
               for fp in footprints)


def measure(world: str, episodes: int, first_seed: int, vehicle: str | None = None) -> dict:
    env = make_env(world, vehicle=vehicle)
    vehicle = env.unwrapped.vehicle
    pilots = {"expert": ExpertPilot(), "straight_line": StraightLinePilot()}
    counts = {name: dict.fromkeys(ENDINGS, 0) for name in pilots}
    blocked = 0
    failures = []
    success_times = []
    started = time.perf_counter()
    try:
        for seed in range(first_seed, first_seed + episodes):
            for name, pilot in pilots.items():
                outcome = fly(env, pilot, seed)
                ending = next(e for e in ENDINGS if getattr(outcome, e))
                counts[name][ending] += 1
                if name == "expert":
                    blocked += line_blocked(env.unwrapped.sim.layout, vehicle=vehicle)
                    if outcome.success:
                        success_times.append(outcome.time_s)
                    else:
                        failures.append({"seed": seed, "result": ending})
    finally:
        env.close()
    rates = {name: {k: c[k] / episodes for k in ENDINGS} for name, c in counts.items()}
    return {"world": world, "vehicle": vehicle, "episodes": episodes, "first_seed": first_seed, "rates": rates,
            "line_blocked_rate": blocked / episodes, "expert_failures": failures,
            "expert_mean_time_to_target_s": float(np.mean(success_times)) if success_times else None,
            "wall_time_s": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", action="append", help="forest, urban or a YAML path (repeatable)")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="first seed; episode i uses seed + i")
    parser.add_argument("--vehicle", choices=VEHICLES, default=None, help="drone or rover (default: the world's)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    results = []
    for world in args.world or ["forest", "urban"]:
        r = measure(world, args.episodes, args.seed, args.vehicle)
        results.append(r)
        e, s = r["rates"]["expert"], r["rates"]["straight_line"]
        print(f"{world} ({r['vehicle']}): seeds {args.seed}..{args.seed + args.episodes - 1}: "
              f"expert success {e['success']:.1%} "
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
