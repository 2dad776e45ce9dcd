"""`lnn-control eval`: every policy x world x condition, N paired episodes each, into --out DIR.

The command line made into an `EvalRun` (lnn_control.eval.evaluation, which says what DIR
holds) and its report: the console table, or one line naming what was wrong.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from lnn_control.eval.episode_log import EPISODES, RunDirectoryError
from lnn_control.eval.evaluation import VIDEO_DIR, EvalRun, evaluate
from lnn_control.eval.plan import EvalPlan, PolicySource, WorldSource, parse_conditions, plan_vehicle
from lnn_control.eval.tables import console_table
from lnn_control.exit_status import SUCCESS, failed, interrupted
from lnn_control.policy import CheckpointError, read_header
from lnn_control.policy.slow_down import SlowDown
from lnn_control.rollout.runner import BackendUnavailableError

COMMAND = "lnn-control eval"
DEFAULT_CURVE = "default"   # --slow-down without a value


def slowed_variants(policies: tuple[PolicySource, ...], curve: SlowDown) -> tuple[PolicySource, ...]:
    """Each ensemble checkpoint among `policies` once more, flown with the slow-down `curve`;
    ValueError when none is an ensemble (the others have no uncertainty to slow down on)."""
    ensembles = tuple(p for p in policies
                      if p.kind == "checkpoint" and read_header(p.path)["spec"].get("ensemble", 1) > 1)
    if not ensembles:
        raise ValueError("--slow-down needs an ensemble policy (train --ensemble K): none of the --policy "
                         "checkpoints has an uncertainty to slow down on")
    return tuple(p.slowed(curve.low, curve.stop) for p in ensembles)


def run_cli(args) -> int:
    try:
        plan = plan_from_args(args)
        summary = evaluate(EvalRun(plan=plan, out_dir=Path(args.out), workers=args.workers, backend=args.backend,
                                   resume=args.resume, time_limit_s=args.time_limit,
                                   video_conditions=[c.name for c in plan.conditions] if args.video else (),
                                   saliency=args.saliency,
                                   command=shlex.join(["lnn-control", *sys.argv[1:]])))
    except (ValueError, FileNotFoundError, CheckpointError, RunDirectoryError, BackendUnavailableError) as error:
        return failed(COMMAND, error)
    except KeyboardInterrupt:
        return interrupted(COMMAND, f"finished episodes are in {Path(args.out) / EPISODES}, continue with --resume")
    print(console_table(summary))
    print(f"\nresults: {args.out}/results.json, results.md, results.png"
          + (f", {VIDEO_DIR}/*.mp4" if args.video else ""))
    return SUCCESS


def plan_from_args(args) -> EvalPlan:
    policies = tuple(PolicySource.parse(p) for p in args.policy)
    if args.slow_down is not None:
        policies += slowed_variants(policies, SlowDown() if args.slow_down == DEFAULT_CURVE
                                    else SlowDown.parse(args.slow_down))
    return EvalPlan(policies=policies,
                    worlds=tuple(WorldSource.parse(w) for w in (args.world or ["forest"])),
                    conditions=parse_conditions(args.shift, args.suite),
                    episodes=args.episodes, first_seed=args.seed, vehicle=plan_vehicle(policies, args.vehicle),
                    reference=not args.no_reference)

