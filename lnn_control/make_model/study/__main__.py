"""`make study`: `python -m lnn_control.make_model.study [--work runs/study] [--out models/study] [--workers 2]`.

Runs the study's units (`study.steps`: train and evaluate each model, then the expert; each kept
in --out as it finishes) and writes its report (`study.report`) from --out; exits by the rule of
lnn_control.exit_status (lines begin `make study:`).
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from lnn_control.exit_status import SUCCESS, failed, help_text, interrupted
from lnn_control.make_model.study import steps as study_steps
from lnn_control.make_model.study.report import write_report
from lnn_control.make_model.study.steps import COMMAND, QUICK, Study, StudyPlan
from lnn_control.paths import share_path
from lnn_control.policy.spec import KINDS

PROG = "python -m lnn_control.make_model.study"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=study_steps.__doc__,
        epilog=help_text(COMMAND), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="runs/study",
                        help="what any machine makes again: demonstrations, trainings under way, logs")
    parser.add_argument("--out", default=None,
                        help="the study's record, to keep and continue from anywhere: finished checkpoints, "
                             "evaluations, steps.json, and the report (default: models/study)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="parallel processes")
    parser.add_argument("--quick", action="store_true", help="a smoke run in minutes (not a study)")
    parser.add_argument("--report-only", action="store_true", help="only write the report from --out")
    parser.add_argument("--hours", type=_hours, metavar="H",
                        help="this sitting's time budget: no training starts that would not finish within it at "
                             "the pace of the record's trainings, and at the end what is under way stops as "
                             "Ctrl-C stops it (an evaluation keeps every episode flown; a training cut off starts "
                             "again next time); then the report is written (default: until the study is done)")
    parser.add_argument("--encoder-precision", choices=("fp32", "bf16", "auto"), default=None,
                        help="the trainings' optim.encoder_precision (default: the training config's, fp32): "
                             "bf16 computes the image encoder in bfloat16, about twice as fast where the CPU "
                             "has AMX or AVX-512 BF16; auto picks it there (models/eval/bc_pilot/ flew both)")
    smaller = parser.add_argument_group(
        "a smaller study (a pilot: fewer models, trainings or episodes than the default plan)")
    smaller.add_argument("--models", type=_models, metavar="KIND:TEACHER,...",
                         help="the (kind, teacher) pairs to train, e.g. cfc:imitable,mlp:imitable "
                              "(default: " + ",".join(f"{k}:{t}" for k, t in StudyPlan.models) + ")")
    smaller.add_argument("--seeds", type=_seeds, metavar="S,...",
                         help=f"training seeds (default: {','.join(map(str, StudyPlan.training_seeds))})")
    smaller.add_argument("--world-episodes", type=_positive, metavar="N",
                         help=f"episodes per model and world (default: {StudyPlan.world_episodes})")
    smaller.add_argument("--condition-episodes", type=_positive, metavar="N",
                         help=f"episodes per model and shift condition (default: {StudyPlan.condition_episodes})")
    smaller.add_argument("--severities", type=_severities, metavar="S,...",
                         help="severities of the severity curves besides the suite's 0.5 (default: "
                              f"{','.join(f'{s:g}' for s in StudyPlan.severities)}; 'none' for no curves)")
    smaller.add_argument("--demonstrations", type=_positive, metavar="N",
                         help=f"expert demonstrations per teacher (default: {StudyPlan.episodes})")
    smaller.add_argument("--epochs", type=_positive, metavar="N",
                         help="behaviour-cloning epochs of every training (default: the training config's)")
    smaller.add_argument("--dagger-rounds", type=_whole, metavar="R",
                         help=f"DAgger rounds of every training (default: {StudyPlan.dagger_rounds}; "
                              "0: behaviour cloning only)")
    return parser


def _models(text: str) -> tuple[tuple[str, str], ...]:
    """KIND:TEACHER pairs; the teacher is checked by the collect step (`lnn-control collect --teacher`)."""
    pairs = []
    for item in text.split(","):
        kind, _, teacher = item.strip().partition(":")
        if kind not in KINDS or not teacher:
            raise argparse.ArgumentTypeError(
                f"{item!r} is not KIND:TEACHER with KIND one of {', '.join(KINDS)} (e.g. cfc:imitable)")
        pairs.append((kind, teacher))
    return tuple(dict.fromkeys(pairs))


def _seeds(text: str) -> tuple[int, ...]:
    try:
        values = tuple(dict.fromkeys(int(item) for item in text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if any(value < 0 for value in values):
        raise argparse.ArgumentTypeError(f"training seeds must be >= 0, got {text!r}")
    return values


def _positive(text: str) -> int:
    return _whole(text, least=1)


def _whole(text: str, least: int = 0) -> int:
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise argparse.ArgumentTypeError(f"must be a whole number >= {least}, got {text!r}")
    return value


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of hours > 0, got {text!r}")
    return value


def _severities(text: str) -> tuple[float, ...]:
    if text.strip() == "none":
        return ()
    try:
        values = tuple(dict.fromkeys(float(item) for item in text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers or 'none'") from None
    if any(not 0.0 < value <= 1.0 for value in values):
        raise argparse.ArgumentTypeError(f"severities must lie in (0, 1], got {text!r}")
    return values


def plan_of(args: argparse.Namespace) -> StudyPlan:
    """The default plan (or --quick's) with the pilot options applied."""
    plan = QUICK if args.quick else StudyPlan()
    changes = {field: value for field, value in (
        ("models", args.models), ("training_seeds", args.seeds), ("world_episodes", args.world_episodes),
        ("condition_episodes", args.condition_episodes), ("severities", args.severities),
        ("episodes", args.demonstrations), ("dagger_rounds", args.dagger_rounds),
        ("epochs", args.epochs), ("encoder_precision", args.encoder_precision)) if value is not None}
    return replace(plan, **changes)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    out = Path(args.out) if args.out else share_path("models") / "study"
    try:
        if args.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {args.workers}")
        plan = plan_of(args)
        work = Path(args.work)
        study = Study(plan, work, out, args.workers, " ".join([PROG, *map(shlex.quote, argv)]), hours=args.hours)
        done = args.report_only or study.run()
        if not args.report_only:
            study.steps.save()
        if not done:
            print(f"[make study] the time budget (--hours {args.hours:g}) has run out or cannot hold a training: "
                  f"every finished unit and every episode flown are kept in {out}; the same command continues",
                  flush=True)
        try:
            written = write_report(plan, out)
        except FileNotFoundError:
            if done:
                raise
            return SUCCESS   # the budget ran out before the first episode: nothing to report on
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        return failed(COMMAND, error)
    except KeyboardInterrupt:
        return interrupted(COMMAND, f"the finished trainings and every episode flown are kept in {out}; the same "
                                    "command continues them (a training cut off starts again)")
    print("[make study] wrote " + ", ".join(str(p) for p in written))
    return SUCCESS


if __name__ == "__main__":
    sys.exit(main())
