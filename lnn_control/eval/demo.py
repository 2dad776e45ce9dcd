"""`lnn-control demo`: fly the shipped CfC policy in the forest, in distribution and under the
"quick" suite's shifts, next to the expert; print the table, write the plot and one video.

Sized to finish in under three minutes on a two-core laptop. Running it again in the same
--out continues (or just re-reports) the earlier demo.
"""
from __future__ import annotations

import os
from pathlib import Path

from lnn_control import seeds
from lnn_control.config_file import read_yaml
from lnn_control.eval.episode_log import EPISODES, MANIFEST, RunDirectoryError
from lnn_control.eval.evaluation import VIDEO_DIR, EvalRun, evaluate
from lnn_control.eval.plan import EvalPlan, PolicySource, WorldSource, parse_conditions
from lnn_control.eval.tables import console_table
from lnn_control.exit_status import SUCCESS, failed, interrupted
from lnn_control.paths import share_path
from lnn_control.rollout.runner import BackendUnavailableError

SHIPPED_MODEL = ("models", "cfc_forest.pt")
SUITE = ("config", "eval_suites.yaml")
FALLBACK_SHIFTS = ["fog:0.5", "wind:0.5"]  # when no "quick" suite is installed
DEFAULT_EPISODES = 5
FIRST_SEED = seeds.EVALUATION
COMMAND = "lnn-control demo"


def run_cli(args) -> int:
    model = Path(args.model) if args.model else share_path(*SHIPPED_MODEL)
    if not model.is_file():
        return failed(COMMAND, f"no trained model to fly: {model} not found. No trained model is shipped yet; "
                               f"make one with `make model`, or fly your own checkpoint with "
                               f"`lnn-control demo --model FILE.pt`")
    out_dir = Path(args.out)
    try:
        plan = EvalPlan(policies=(PolicySource.parse(str(model)), PolicySource.parse("expert")),
                        worlds=(WorldSource.parse("forest"),), conditions=_conditions(),
                        episodes=args.episodes or DEFAULT_EPISODES, first_seed=FIRST_SEED)
        filmed = [plan.conditions[-1].name]  # the strongest shift of the suite: one video
        run = EvalRun(plan=plan, out_dir=out_dir, workers=min(2, os.cpu_count() or 1),
                      resume=(out_dir / MANIFEST).is_file(), video_conditions=filmed,
                      time_limit_s=args.time_limit, command=COMMAND)
        print(f"demo: {model.name} and the expert, forest, conditions {', '.join(c.name for c in plan.conditions)}, "
              f"{plan.episodes} episodes each (same seeds), {run.workers} workers")
        summary = evaluate(run)
    except (ValueError, FileNotFoundError, RunDirectoryError, BackendUnavailableError) as error:
        return failed(COMMAND, error)
    except KeyboardInterrupt:
        return interrupted(COMMAND, f"finished episodes are in {out_dir / EPISODES}; the same command continues them")
    print(console_table(summary))
    print(f"\ntable: {out_dir / 'results.md'}\nplot:  {out_dir / 'results.png'}\n"
          f"video: {out_dir / VIDEO_DIR} (chase view beside the drone camera, condition {filmed[0]})")
    return SUCCESS


def _conditions():
    suite = share_path(*SUITE)
    if suite.is_file() and "quick" in (read_yaml(suite, "evaluation suites") or {}).get("suites", {}):
        return parse_conditions([], [f"{suite}:quick"])
    return parse_conditions(FALLBACK_SHIFTS, [])
