"""`lnn-control train`: bags (from `collect` or a real robot) → a trained policy checkpoint.

Also runs under `torchrun --nproc_per_node N -m lnn_control.cli train ...` (DDP).
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from lnn_control.data import BagError, find_bags, load_bags
from lnn_control.exit_status import FAILED, INTERRUPTED, SUCCESS, failed, interrupted
from lnn_control.policy import CheckpointError, PolicySpec
from lnn_control.train.config import TrainConfig, load_config
from lnn_control.train.distributed import DistContext, setup_distributed, teardown_distributed
from lnn_control.train.interventions import weigh_interventions
from lnn_control.train.provenance import provenance

COMMAND = "lnn-control train"


def config_from_args(args) -> TrainConfig:
    """config/train.yaml-style file (or the defaults) with the command-line overrides."""
    config = load_config(args.config)
    topics = {k: v for k, v in (("image", args.image_topic), ("imu", args.imu_topic), ("cmd", args.cmd_topic)) if v}
    if topics:
        config = replace(config, topics=replace(config.topics, **topics))
    if args.epochs is not None:
        if args.epochs < 1:
            raise ValueError(f"--epochs must be at least 1, got {args.epochs}")
        config = config.replace("optim", epochs=args.epochs)
    if args.seed is not None:
        config = config.replace(seed=args.seed)
    if args.interventions and config.topics.intervention is None:
        config = config.replace("topics", intervention=config.interventions.topic)
    if args.ensemble is not None:
        if args.ensemble < 1:
            raise ValueError(f"--ensemble must be at least 1 member, got {args.ensemble}")
        config = config.replace(ensemble=args.ensemble)
    if args.lr is not None:
        if not args.lr > 0:
            raise ValueError(f"--lr must be a positive learning rate, got {args.lr}")
        config = config.replace("optim", lr=args.lr)
    return config


def parent_checkpoint(args, config: TrainConfig) -> tuple[PolicySpec, dict | None, dict | None]:
    """(the spec to train, the parent's weights or None, the parent for the provenance or None):
    `--init` gives the parent's spec; `--model`, `--units`, `--vehicle` and the ensemble size
    (`--ensemble`, the config's `ensemble`) must then be the parent's or be left out."""
    if args.init is None:
        if args.keep_normalization:
            raise ValueError("--keep-normalization needs --init (a parent checkpoint to keep it from)")
        sizes = {} if args.units is None else {"units": args.units}
        try:
            spec = PolicySpec(kind=args.model or "cfc", ensemble=config.ensemble or 1, vehicle=args.vehicle or "drone",
                              **sizes)
        except ValueError as error:
            if not sizes:
                raise
            raise ValueError(f"--units {args.units}: {error}") from None
        return spec, None, None
    from lnn_control.policy import load_checkpoint
    from lnn_control.policy.digest import file_sha256

    net, header = load_checkpoint(args.init)
    if args.model is not None and args.model != net.spec.kind:
        raise ValueError(f"--init {args.init} is a {net.spec.kind} policy; --model {args.model} cannot start from it "
                         f"(leave --model out, or train a {args.model} from scratch)")
    if args.units is not None and args.units != net.spec.units:
        raise ValueError(f"--init {args.init} has {net.spec.units} units; --units {args.units} cannot start from it "
                         f"(leave --units out, or train from scratch)")
    if args.vehicle is not None and args.vehicle != net.spec.vehicle:
        raise ValueError(f"--init {args.init} drives a {net.spec.vehicle}; --vehicle {args.vehicle} cannot start "
                         f"from it")
    if config.ensemble is not None and config.ensemble != net.spec.ensemble:
        raise ValueError(f"--init {args.init} has {net.spec.ensemble} ensemble member(s); an ensemble of "
                         f"{config.ensemble} cannot start from it (leave the ensemble size out, or train from scratch)")
    parent = {"path": str(Path(args.init).resolve()), "sha256": file_sha256(args.init), "kind": net.spec.kind,
              "training": (header.get("training") or {}).get("method")}
    return net.spec, net.state_dict(), parent


def load_training_bags(paths, config: TrainConfig, spec: PolicySpec, skip_bad: bool, ctx: DistContext):
    """Usable bags; bad ones are reported (one line each) when skipped, else the first raises."""
    def load():
        return load_bags(find_bags(paths), config.topics, (spec.image_height, spec.image_width), config.alignment,
                         cache_dir=config.data.cache_dir, use_cache=config.data.use_cache, skip_bad=skip_bad,
                         progress=ctx.is_main)

    if ctx.distributed:  # rank 0 decodes into the cache first; the others then map its arrays
        import torch.distributed as dist
        if ctx.is_main:
            try:
                good, bad = load()
            finally:
                dist.barrier()  # also on failure: the others then fail on the same bag, not hang
        else:
            dist.barrier()
            good, bad = load()
    else:
        good, bad = load()
    if ctx.is_main:
        for bag in good:
            for dropped in bag.dropped:
                print(f"{COMMAND}: {dropped.describe(bag.path)}", file=sys.stderr)
        for _, problem in bad:
            print(f"{COMMAND}: skipped bad bag: {problem}", file=sys.stderr)
    if not good:
        raise BagError(f"no usable bag among {len(bad)} given" if bad else "no bags given")
    return good, bad


def run_cli(args) -> int:
    from lnn_control.train.behavior_cloning import train_policy

    ctx = DistContext()
    try:
        config = config_from_args(args)
        spec, initial_state, parent = parent_checkpoint(args, config)
        start = {"initial_state": initial_state, "keep_normalization": args.keep_normalization,
                 "freeze_encoder": args.freeze_encoder}
        ctx = setup_distributed()
        good, bad = load_training_bags(args.bags, config, spec, args.skip_bad, ctx)
        if args.interventions:
            weigh_interventions(good, config.interventions.policy_weight)
        if args.dagger:
            from lnn_control.train.dagger import run_dagger
            result = run_dagger(good, bad, spec, config, Path(args.out), rounds=args.dagger, ctx=ctx, parent=parent,
                                **start)
        else:
            result = train_policy(good, spec, config, Path(args.out),
                                  provenance=provenance(good, bad, config, parent), ctx=ctx, **start)
    except (BagError, CheckpointError, ValueError, FileNotFoundError, FileExistsError) as error:
        return failed(COMMAND, error) if ctx.is_main else FAILED
    except KeyboardInterrupt:
        return interrupted(COMMAND, _kept(Path(args.out), args.dagger)) if ctx.is_main else INTERRUPTED
    finally:
        teardown_distributed()
    if ctx.is_main:
        print(f"wrote {result.checkpoint} (best epoch {result.best_epoch} of {len(result.history)}, loss "
              f"{result.best_loss:.5f}; {result.frames} frames from {result.bags} bags"
              f"{f', {len(bad)} bad bags skipped' if bad else ''}); log {result.log_csv}, curve {result.curve_png}")
    return SUCCESS


def _kept(out: Path, dagger_rounds: int) -> str:
    """What an interrupted training left: the best checkpoint so far, DAgger's rollouts."""
    kept = f"the best checkpoint so far is {out}" if out.is_file() else f"no checkpoint was written to {out}"
    if dagger_rounds:
        kept += f"; DAgger rollouts flown so far are under {out.stem}.dagger/ next to it (remove them to train " \
                f"again to the same --out)"
    return kept
