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
from lnn_control.eval.plan import EvalPlan, PolicySource, WorldSource, parse_conditions
from lnn_control.eval.tables import console_table
from lnn_control.exit_status import SUCCESS, failed, interrupted
from lnn_control.rollout.runner import BackendUnavailableError

COMMAND = "lnn-control eval"


def run_cli(args) -> int:
    try:
        plan = plan_from_args(args)
        summary = evaluate(EvalRun(plan=plan, out_dir=Path(args.out), workers=args.workers, backend=args.backend,
                                   resume=args.resume, time_limit_s=args.time_limit,
                                   video_conditions=[c.name for c in plan.conditions] if args.video else (),
                                   saliency=args.saliency,
                                   command=shlex.join(["lnn-control", *sys.argv[1:]])))
    except (ValueError, FileNotFoundError, RunDirectoryError, BackendUnavailableError) as error:
        return failed(COMMAND, error)
    except KeyboardInterrupt:
        return interrupted(COMMAND, f"finished episodes are in {Path(args.out) / EPISODES}, continue with --resume")
    print(console_table(summary))
    print(f"\nresults: {args.out}/results.json, results.md, results.png"
          + (f", {VIDEO_DIR}/*.mp4" if args.video else ""))
    return SUCCESS


def plan_from_args(args) -> EvalPlan:
    return EvalPlan(policies=tuple(PolicySource.parse(p) for p in args.policy),
                    worlds=tuple(WorldSource.parse(w) for w in (args.world or ["forest"])),
                    conditions=parse_conditions(args.shift, args.suite),
                    episodes=args.episodes, first_seed=args.seed)
