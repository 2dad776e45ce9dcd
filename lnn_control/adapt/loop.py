"""Learning on the job, in simulation: fly with an operator who corrects, fine-tune on the corrections, repeat.

Round 0 measures the given policy; each round k = 1..K then:
1. flies `flights` episodes of the world (under its shifts) with the policy and a
   `SimulatedOperator` watching (world seeds `seeds.ADAPTATION + 1000 k + i`), each recorded as
   a bag with the takeover flag on `policy_node/intervention`, as a robot's corrected flight is;
2. fine-tunes the policy (`train_policy` from its weights, keeping its IMU normalisation) on
   every round's corrections so far, HG-DAgger style: the operator's commands are the labels,
   the policy's own frames count `policy_weight` (0 by default: only the corrections teach);
3. flies the fine-tuned policy alone (no operator) on held-out seeds (from seeds.EVALUATION)
   of the same world and shifts: success without takeovers.
Takeovers per minute are counted over the round's corrected flights. The forest without shift
is flown by the first and the last policy, to see what the adaptation made it forget.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from lnn_control import seeds
from lnn_control.data import load_bags
from lnn_control.envs.outcome import Outcome
from lnn_control.envs.shifts import Condition
from lnn_control.eval.evaluation import EvalRun, evaluate
from lnn_control.eval.plan import NO_SHIFT, EvalPlan, PolicySource, WorldSource, plan_vehicle
from lnn_control.policy import load_checkpoint, load_policy
from lnn_control.policy.digest import file_sha256
from lnn_control.rollout import PolicyPilot
from lnn_control.rollout.collect import RecordingJob, record, world_label
from lnn_control.rollout.operator import OperatorRules, SimulatedOperator
from lnn_control.rollout.runner import run_jobs
from lnn_control.train.behavior_cloning import train_policy
from lnn_control.train.config import TrainConfig
from lnn_control.train.interventions import weigh_interventions
from lnn_control.train.provenance import provenance


@dataclass(frozen=True)
class AdaptPlan:
    """What `lnn-control adapt` does: the world and its shifts, how many rounds of how many
    corrected flights, how many held-out episodes, and the fine-tuning's config."""

    policy: Path
    world: str
    shifts: tuple[tuple[str, float], ...]
    rounds: int
    flights: int
    heldout_episodes: int
    first_seed: int
    config: TrainConfig
    rules: OperatorRules = OperatorRules()
    max_seconds: float = 40.0       # simulated seconds per flight, corrected or held out
    workers: int = 1

    @property
    def vehicle(self) -> str:
        """What the policy drives (its checkpoint's spec): the flights and measurements drive it."""
        return plan_vehicle((PolicySource.parse(str(self.policy)),), None)


@dataclass(frozen=True)
class CorrectedFlight:
    """One corrected flight's outcome, its takeovers and the seconds the operator flew."""

    outcome: Outcome
    takeovers: int
    intervention_s: float


class CorrectedFlights:
    """Worker: flies the policy in `checkpoint` (bytes) with a simulated operator on each job."""

    def __init__(self, checkpoint: bytes, rules: OperatorRules, facts: dict):
        with tempfile.TemporaryDirectory(prefix="lnn_adapt_") as scratch:
            path = Path(scratch) / "policy.pt"
            path.write_bytes(checkpoint)
            self.policy = load_policy(path)
        self.rules = rules
        self.facts = facts

    def run(self, job: RecordingJob) -> tuple[Path, CorrectedFlight]:
        operator = SimulatedOperator(PolicyPilot(self.policy), self.rules)
        outcome = record(job, operator, {**self.facts, "source": "corrected flight"}, record_interventions=True)
        return job.bag, CorrectedFlight(outcome, operator.takeovers, operator.intervention_s)

    def close(self) -> None:
        pass


def run_rounds(plan: AdaptPlan, out: Path, report) -> list[dict]:
    """Every round of `plan` into `out` (see the module docstring); `report(rounds)` is called
    after each with the rounds so far. The rounds' records."""
    policy = Path(plan.policy).resolve()
    condition = Condition(_condition_name(plan.shifts), plan.shifts)
    rounds = [{"round": 0, "policy": str(policy), "sha256": file_sha256(policy),
               **_heldout(plan, policy, condition, out / "round_00" / "heldout")}]
    rounds[0]["forest"] = _forest(plan, policy, out / "round_00" / "forest")
    report(rounds)
    corrections: list[Path] = []
    for k in range(1, plan.rounds + 1):
        folder = out / f"round_{k:02d}"
        flights = _fly_corrected(plan, policy, folder / "bags", k)
        corrections += [flight_job.bag for flight_job, _ in flights]
        policy = _fine_tune(plan, policy, corrections, folder / "policy.pt")
        minutes = sum(f.outcome.time_s for _, f in flights) / 60.0
        takeovers = sum(f.takeovers for _, f in flights)
        rounds.append({"round": k, "policy": str(policy), "sha256": file_sha256(policy), "flights": len(flights),
                       "flight_minutes": minutes, "takeovers": takeovers,
                       "takeovers_per_minute": takeovers / minutes if minutes else None,
                       "operator_share": (sum(f.intervention_s for _, f in flights) / (60.0 * minutes)
                                          if minutes else None),
                       "flights_reached": sum(f.outcome.success for _, f in flights),
                       "corrected_bags": len(corrections),
                       **_heldout(plan, policy, condition, folder / "heldout")})
        if k == plan.rounds:
            rounds[-1]["forest"] = _forest(plan, policy, folder / "forest")
        report(rounds)
    return rounds


def _condition_name(shifts) -> str:
    return ",".join(f"{name}:{severity:g}" for name, severity in shifts) or NO_SHIFT.name


def _fly_corrected(plan: AdaptPlan, policy: Path, bags: Path, round_index: int):
    jobs = []
    for i in range(plan.flights):
        seed = seeds.ADAPTATION + 1000 * round_index + i
        bag = bags / f"{world_label(plan.world)}_{seed:06d}"
        if not (bag / "metadata.yaml").is_file():
            jobs.append(RecordingJob(plan.world, seed, bag, plan.shifts, max_seconds=plan.max_seconds,
                                     vehicle=plan.vehicle))
    facts = {"adapt_round": round_index, "policy": str(policy)}
    results: dict[Path, CorrectedFlight] = {}
    run_jobs(jobs, CorrectedFlights, (policy.read_bytes(), plan.rules, facts), plan.workers, "process",
             lambda result: results.__setitem__(*result))
    return [(job, results[job.bag]) for job in jobs]


def _fine_tune(plan: AdaptPlan, parent: Path, bags: list[Path], out: Path) -> Path:
    net, _ = load_checkpoint(parent)
    config = plan.config
    topics = replace(config.topics, intervention=config.interventions.topic)
    good, bad = load_bags(bags, topics, (net.spec.image_height, net.spec.image_width), config.alignment,
                          cache_dir=config.data.cache_dir, use_cache=config.data.use_cache, skip_bad=True)
    weigh_interventions(good, config.interventions.policy_weight)
    parent_record = {"path": str(parent), "sha256": file_sha256(parent), "kind": net.spec.kind}
    train_policy(good, net.spec, config, out, initial_state=net.state_dict(), keep_normalization=True,
                 provenance=provenance(good, bad, config, parent_record), progress=False)
    return out


def _heldout(plan: AdaptPlan, policy: Path, condition: Condition, folder: Path) -> dict:
    """Success without takeovers on the held-out seeds of the adaptation world and shifts."""
    row = _evaluate(plan, policy, plan.world, condition, folder)
    return {"heldout_success": row["success_rate"], "heldout_ci": row["success_ci"],
            "heldout_collision": row["collision_rate"], "heldout_episodes": row["episodes"]}


def _forest(plan: AdaptPlan, policy: Path, folder: Path) -> dict:
    row = _evaluate(plan, policy, "forest", NO_SHIFT, folder)
    return {"success": row["success_rate"], "ci": row["success_ci"], "episodes": row["episodes"]}


def _evaluate(plan: AdaptPlan, policy: Path, world: str, condition: Condition, folder: Path) -> dict:
    eval_plan = EvalPlan(policies=(PolicySource.parse(str(policy)),), worlds=(WorldSource.parse(world),),
                         conditions=(condition,), episodes=plan.heldout_episodes, first_seed=plan.first_seed,
                         vehicle=plan.vehicle)
    summary = evaluate(EvalRun(plan=eval_plan, out_dir=folder, workers=plan.workers, resume=folder.is_dir(),
                               time_limit_s=plan.max_seconds, command="lnn-control adapt"))
    return next(r for r in summary["rows"] if r["policy"] == eval_plan.policies[0].label)

