"""`lnn-control adapt`: fly with a simulated operator who corrects, fine-tune on the corrections, repeat."""
from __future__ import annotations

import shlex
import sys
from dataclasses import asdict
from pathlib import Path

from lnn_control.adapt.loop import AdaptPlan, run_rounds
from lnn_control.adapt.report import write_report
from lnn_control.envs import parse_shift
from lnn_control.exit_status import SUCCESS, failed, interrupted
from lnn_control.policy import CheckpointError
from lnn_control.rollout.operator import OperatorRules
from lnn_control.train.config import load_config

COMMAND = "lnn-control adapt"


def plan_from_args(args) -> AdaptPlan:
    for name in ("rounds", "episodes", "heldout", "epochs", "workers"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if not args.lr > 0:
        raise ValueError(f"--lr must be a positive learning rate, got {args.lr}")
    if not args.time_limit > 0:
        raise ValueError(f"--time-limit must be a positive number of seconds, got {args.time_limit}")
    config = load_config(args.config).replace("optim", epochs=args.epochs, lr=args.lr, warmup_epochs=0,
                                              patience=args.epochs).replace("data", val_fraction=0.0)
    config = config.replace("interventions", policy_weight=args.policy_weight)
    policy = Path(args.policy)
    if not policy.is_file():
        raise FileNotFoundError(f"--policy {policy}: no such checkpoint")
    if args.takeover_uncertainty is not None and not args.takeover_uncertainty >= 0:
        raise ValueError(f"--takeover-uncertainty must be a number >= 0, got {args.takeover_uncertainty}")
    return AdaptPlan(policy=policy, world=args.world, shifts=tuple(parse_shift(s) for s in args.shift),
                     rounds=args.rounds, flights=args.episodes, heldout_episodes=args.heldout, first_seed=args.seed,
                     config=config, workers=args.workers, max_seconds=args.time_limit,
                     rules=OperatorRules(uncertainty_above=args.takeover_uncertainty))


def run_cli(args) -> int:
    out = Path(args.out)
    try:
        plan = plan_from_args(args)
        method = {"command": shlex.join(["lnn-control", *sys.argv[1:]]), "policy": str(plan.policy),
                  "world": plan.world, "condition": ",".join(f"{n}:{s:g}" for n, s in plan.shifts) or "no shift",
                  "rounds": plan.rounds, "flights": plan.flights, "heldout_episodes": plan.heldout_episodes,
                  "first_seed": plan.first_seed, "rules": asdict(plan.rules), "policy_weight": args.policy_weight,
                  "epochs": args.epochs, "lr": args.lr, "max_seconds": plan.max_seconds}
        rounds = run_rounds(plan, out, lambda rounds: write_report(out, method, rounds))
    except (CheckpointError, ValueError, FileNotFoundError, RuntimeError) as error:
        return failed(COMMAND, error)
    except KeyboardInterrupt:
        return interrupted(COMMAND, f"the rounds finished so far are in {out} (adapt.json); finished flights and "
                                    f"held-out episodes are kept, and the same command continues from them")
    last = rounds[-1]
    print(f"held-out success {rounds[0]['heldout_success']:.0%} before, {last['heldout_success']:.0%} after round "
          f"{last['round']}; results: {out}/adapt.json, adapt.md, adapt.png")
    return SUCCESS
