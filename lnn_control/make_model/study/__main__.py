"""`make study`: `python -m lnn_control.make_model.study [--work runs/study] [--out models/study] [--workers 2]`.

Runs the study's steps (`study.steps`: collect, train, eval; each resumable) and writes its
report (`study.report`); exits by the rule of lnn_control.exit_status (lines begin `make study:`).
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from lnn_control.exit_status import SUCCESS, failed, help_text, interrupted
from lnn_control.make_model.study import steps as study_steps
from lnn_control.make_model.study.report import write_report
from lnn_control.make_model.study.steps import COMMAND, QUICK, Study, StudyPlan
from lnn_control.paths import share_path

PROG = "python -m lnn_control.make_model.study"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=study_steps.__doc__,
        epilog=help_text(COMMAND), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="runs/study", help="bags, checkpoints, evaluations, logs, steps.json")
    parser.add_argument("--out", default=None, help="where the study's tables and plots go (default: models/study)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="parallel processes")
    parser.add_argument("--quick", action="store_true", help="a smoke run in minutes (not a study)")
    parser.add_argument("--report-only", action="store_true", help="only write the report from --work")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        if args.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {args.workers}")
        plan = QUICK if args.quick else StudyPlan()
        work, out = Path(args.work), Path(args.out) if args.out else share_path("models") / "study"
        study = Study(plan, work, args.workers, " ".join([PROG, *map(shlex.quote, argv)]))
        if not args.report_only:
            study.collect()
            study.train_all()
            study.evaluate_all()
        study.steps.save()
        written = write_report(plan, work, out)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        return failed(COMMAND, error)
    except KeyboardInterrupt:
        return interrupted(COMMAND, f"the finished steps are kept in {args.work}; the same command continues them")
    print("[make study] wrote " + ", ".join(str(p) for p in written))
    return SUCCESS


if __name__ == "__main__":
    sys.exit(main())
