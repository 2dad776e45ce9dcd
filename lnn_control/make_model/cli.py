"""The command line of `make model`: `python -m lnn_control.make_model [options]`.

Reads the recipe off the options, runs the pipeline and writes the model card; exits by the
rule of lnn_control.exit_status (its lines begin `make model:`).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from dataclasses import asdict, replace
from pathlib import Path

from lnn_control.exit_status import SUCCESS, failed, help_text, interrupted
from lnn_control.make_model.card import MadeRun, bar_verdicts, write_cards
from lnn_control.make_model.pipeline import Pipeline
from lnn_control.make_model.recipe import QUICK, Recipe, training_config
from lnn_control.paths import share_path
from lnn_control.vehicles import VEHICLES

PROG = "python -m lnn_control.make_model"
COMMAND = "make model"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Collect forest demonstrations with the expert, train the CfC policy (NCP, DAgger)\n"
                    "and LSTM/GRU/MLP baselines of the same size the same way, evaluate them all in\n"
                    "closed loop (forest, urban, standard shift suite) and write the models, the model\n"
                    "card and the out-of-distribution study.",
        epilog=help_text(COMMAND), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="where the models and cards go (default: the package's models/)")
    parser.add_argument("--work", default="runs/make_model", help="bags, logs, checkpoints and evaluations")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="parallel processes for collection, training and evaluation")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in a few minutes: tiny data, one epoch, a few episodes (not a usable model)")
    defaults = Recipe()
    parser.add_argument("--episodes", type=int, default=None,
                        help=f"expert demonstrations (default {defaults.episodes})")
    parser.add_argument("--dagger", type=int, default=None, help=f"DAgger rounds (default {defaults.dagger_rounds})")
    parser.add_argument("--eval-episodes", type=int, default=None,
                        help=f"episodes per policy in forest and urban (default {defaults.eval_episodes})")
    parser.add_argument("--suite-episodes", type=int, default=None,
                        help=f"episodes per policy and shift condition (default {defaults.suite_episodes}; "
                             "0 skips the suite)")
    parser.add_argument("--config", default=None, help=f"training config (default {defaults.train_config})")
    parser.add_argument("--vehicle", choices=VEHICLES, default=None,
                        help="drone (default) or rover: a rover's files are named cfc_rover_forest.pt, "
                             "rover_ood_study.md, ...")
    parser.add_argument("--kinds", default=None, metavar="cfc,KIND,...",
                        help=f"the kinds trained, the CfC first (default {','.join(defaults.kinds)})")
    parser.add_argument("--skip-eval", action="store_true", help="stop after training (no evaluation, no card)")
    return parser


def recipe_from_args(args) -> Recipe:
    """The recipe (QUICK with --quick) with the sizes given; ValueError naming a bad one."""
    recipe = QUICK if args.quick else Recipe()
    changes = {"episodes": args.episodes, "dagger_rounds": args.dagger, "eval_episodes": args.eval_episodes,
               "suite_episodes": args.suite_episodes, "train_config": args.config, "vehicle": args.vehicle,
               "kinds": tuple(args.kinds.split(",")) if args.kinds else None}
    recipe = replace(recipe, **{k: v for k, v in changes.items() if v is not None})
    for name in ("episodes", "eval_episodes"):
        if getattr(recipe, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(recipe, name)}")
    for name in ("dagger_rounds", "suite_episodes"):
        if getattr(recipe, name) < 0:
            flag = name.replace("_rounds", "").replace("_", "-")
            raise ValueError(f"--{flag} must be 0 or more, got {getattr(recipe, name)}")
    return recipe


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        recipe = recipe_from_args(args)
        if args.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {args.workers}")
        work, out = Path(args.work), Path(args.out) if args.out else share_path("models")
        config = training_config(recipe, work)
        pipeline = Pipeline(recipe, work, out, args.workers, config, " ".join([PROG, *map(shlex.quote, argv)]))
        print(f"[make model] recipe: {json.dumps(asdict(recipe))}; work in {work}, models to {out}", flush=True)
        pipeline.train_all(pipeline.collect())
        if args.skip_eval:
            print(f"[make model] trained; checkpoints in {work / 'checkpoints'} (--skip-eval: not shipped)")
            return SUCCESS
        pipeline.evaluate_all()
        written = pipeline.ship()
        pipeline.save()  # the wall seconds up to now, for the card
        made = MadeRun.read(work, out)
        written += write_cards(made)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        return failed(COMMAND, error)
    except KeyboardInterrupt:
        return interrupted(COMMAND, f"the finished steps are kept in {args.work} ({args.work}/steps.json lists "
                                    "them); the same command continues from them")
    print(bar_verdicts(made.results["bars"], made))
    print("[make model] wrote " + ", ".join(str(p) for p in written))
    return SUCCESS
