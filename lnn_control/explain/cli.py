"""`lnn-control explain`: the command line made into an `ExplainRun`, and its report: the table of
attention AUCs, or one line naming what was wrong."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from lnn_control.eval.plan import PolicySource, WorldSource, parse_conditions
from lnn_control.exit_status import SUCCESS, failed, interrupted
from lnn_control.explain.report import ATTENTION_JSON, ATTENTION_MD
from lnn_control.explain.run import ExplainRun, explain

COMMAND = "lnn-control explain"


def run_cli(args) -> int:
    try:
        run = ExplainRun(policies=tuple(PolicySource.parse(p) for p in args.policy),
                         world=WorldSource.parse(args.world), conditions=parse_conditions(args.shift, []),
                         episodes=args.episodes, first_seed=args.seed,
                         methods=tuple(dict.fromkeys(args.method or ["vbp"])), out_dir=Path(args.out),
                         every=args.every, window=args.ig_window, ig_steps=args.ig_steps,
                         time_limit_s=args.time_limit, command=shlex.join(["lnn-control", *sys.argv[1:]]))
        summary = explain(run)
    except (ValueError, FileNotFoundError) as error:
        return failed(COMMAND, error)
    except KeyboardInterrupt:
        return interrupted(COMMAND, "nothing was written (attention.json is written at the end)")
    for row in summary["rows"]:
        ci = row["attention_auc_ci"]
        auc = "-" if row["attention_auc"] is None else f"{row['attention_auc']:.3f}"
        print(f"{row['policy']:<18} {row['condition']:<14} {row['method']:<4} frames {row['frames']:>5}  "
              f"attention AUC {auc}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""))
    print(f"\nresults: {args.out}/{ATTENTION_JSON}, {ATTENTION_MD}, attention.png, wiring.png, neurons.png")
    return SUCCESS
