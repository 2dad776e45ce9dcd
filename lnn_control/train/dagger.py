"""DAgger: roll out the learner in the simulator, label its states with the expert, retrain.

Round 0 is behaviour cloning on the given bags. In each round k = 1..K, the current policy
flies `dagger.episodes_per_round` episodes of `dagger.world` (with probability
`dagger.expert_mix` per step the expert's command is flown instead); every step is labelled
with the command of the expert `dagger.teacher` ("privileged" or "imitable", see
`sim.expert`) for the state the learner reached. The rollouts are
written as ordinary bags (`cmd_vel` = the expert's label, `policy/cmd_vel` = what was flown)
under `<checkpoint stem>.dagger/round_<k>/`, loaded like any other bag, added to the
aggregate, and the policy is retrained on it, continuing from its current weights for
`dagger.epochs_per_round` epochs. Rollout seeds: `seeds.dagger_rollout_seed` (from 1_000_000
on, apart from the demonstrations' and the evaluations'). Under torchrun, episode i is flown by
process i mod N.
"""
from __future__ import annotations

from pathlib import Path

from lnn_control.data import load_bags
from lnn_control.envs.outcome import Outcome
from lnn_control.policy import Policy, PolicySpec
from lnn_control.rollout import LearnerPilot
from lnn_control.rollout.collect import RecordingJob, record, world_label
from lnn_control.seeds import dagger_rollout_seed
from lnn_control.train.behavior_cloning import TrainResult, train_policy
from lnn_control.train.config import TrainConfig
from lnn_control.train.distributed import DistContext, all_reduce_sum
from lnn_control.train.provenance import provenance


def dagger_dir(checkpoint: Path) -> Path:
    """NAME.dagger/ beside checkpoint NAME.pt: the learner's DAgger rollouts, a folder per round."""
    return checkpoint.with_name(checkpoint.stem + ".dagger")


def run_dagger(bags, bad, spec: PolicySpec, config: TrainConfig, out: Path, rounds: int,
               ctx: DistContext = DistContext(), progress: bool = True, parent: dict | None = None,
               initial_state: dict | None = None, keep_normalization: bool = False,
               freeze_encoder: bool = False) -> TrainResult:
    """Behaviour cloning on `bags` (from `initial_state`, the weights of `parent`, when given),
    then `rounds` DAgger rounds; the final policy is at `out`. `keep_normalization` and
    `freeze_encoder` hold for every round (see `train_policy`)."""
    if rounds < 0:
        raise ValueError(f"--dagger must be 0 or more rounds, got {rounds}")
    rollouts = dagger_dir(out)
    if rounds and rollouts.exists():
        raise FileExistsError(f"{rollouts}: DAgger rollouts of an earlier run are there; remove it or choose "
                              f"another --out")
    start = {"keep_normalization": keep_normalization, "freeze_encoder": freeze_encoder}
    result = train_policy(bags, spec, config, out, provenance=provenance(bags, bad, config, parent), ctx=ctx,
                          progress=progress, initial_state=initial_state, **start)
    aggregate = list(bags)
    for round_index in range(1, rounds + 1):
        round_dir = rollouts / f"round_{round_index:02d}"
        seeds = [dagger_rollout_seed(config.seed, round_index, i) for i in range(config.dagger.episodes_per_round)]
        jobs = [RecordingJob(config.dagger.world, seed, round_dir / f"{world_label(config.dagger.world)}_{seed:07d}",
                             storage=config.dagger.storage, max_seconds=config.dagger.max_seconds,
                             teacher=config.dagger.teacher, vehicle=spec.vehicle) for seed in seeds]
        outcomes = fly_learner(jobs[ctx.rank::ctx.world_size], result.net, config, round_index)
        successes, collisions = all_reduce_sum([sum(o.success for o in outcomes),
                                                sum(o.collision for o in outcomes)], ctx)  # also a barrier
        if ctx.is_main and progress:
            print(f"dagger round {round_index}: the learner flew {len(jobs)} episodes ({int(successes)} reached the "
                  f"target, {int(collisions)} collided), written to {round_dir}")
        new, _ = load_bags([job.bag for job in jobs], config.topics, (spec.image_height, spec.image_width),
                           config.alignment, cache_dir=config.data.cache_dir, use_cache=config.data.use_cache)
        aggregate.extend(new)
        result = train_policy(aggregate, result.net.spec, config, out, epochs=config.dagger.epochs_per_round,
                              initial_state=result.net.state_dict(),
                              provenance={**provenance(aggregate, bad, config, parent), "dagger_rounds": round_index},
                              ctx=ctx, progress=progress, previous_history=result.history, stage=round_index,
                              **start)
    return result


def fly_learner(jobs: list[RecordingJob], net, config: TrainConfig, round_index: int) -> list[Outcome]:
    """Fly `net` on each job's episode, expert-labelled, writing each job's bag; outcomes."""
    pilot = LearnerPilot(Policy(net.eval()), expert_mix=config.dagger.expert_mix)
    facts = {"source": "dagger", "dagger_round": round_index, "expert_mix": config.dagger.expert_mix,
             "learner_kind": net.spec.kind}
    return [record(job, pilot, facts, record_flown=True) for job in jobs]
