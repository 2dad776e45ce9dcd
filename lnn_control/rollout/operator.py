"""A simulated operator: a person watching the learner fly, who takes over when it is about to fail.

HG-DAgger's human, played by the privileged expert with a reaction delay. Every step the
learner decides (its recurrent state keeps following the flight, so it can take back
smoothly) and the operator judges the situation: trouble is a time to collision under
`ttc_s` (flying on at the present velocity, `sim.expert.ExpertPlanner.time_to_collision`) or
the target out of the camera's view for longer than `lost_s` (`sim.visibility`) or, with
`uncertainty_above` set and an ensemble learner, the learner's own uncertainty above it (an
operator who watches the policy's alarm, as EnsembleDAgger asks for help). Trouble that
lasts `reaction_s` makes the operator take over: the expert flies (the decision says
`intervention=True`) for at least `hold_s`, and hands back once the trouble has passed. A
takeover is counted when it starts.
"""
from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym

from lnn_control.envs import expert_action
from lnn_control.rollout.pilots import Decision, Pilot
from lnn_control.sim.visibility import target_in_view


@dataclass(frozen=True)
class OperatorRules:
    """When the simulated operator takes over and hands back (seconds)."""

    ttc_s: float = 1.0        # time to collision below this is trouble
    lost_s: float = 1.5       # the target out of the camera's view longer than this is trouble
    reaction_s: float = 0.4   # trouble must last this long before the operator acts
    hold_s: float = 3.0       # the operator flies at least this long once it took over
    uncertainty_above: float | None = None   # the learner's uncertainty (dimensionless) above this is
                                             # trouble; None: the operator does not look at it


class SimulatedOperator:
    """Flies `learner`, taking over with the expert by `rules` (see the module docstring).
    `takeovers` and `intervention_s` count this episode's takeovers and the seconds flown by
    the operator; `flight_s` the seconds flown in all.

    With `learner` None the operator only watches: `watch(env)` says each step what they would
    fly and whether they have taken over, for a pilot elsewhere (sim_node publishes it as a
    joystick would, on `teleop/cmd_vel` and `teleop/enable`)."""

    def __init__(self, learner: Pilot | None, rules: OperatorRules = OperatorRules()):
        self.learner = learner
        self.rules = rules
        self._reset_counts()

    def _reset_counts(self) -> None:
        self.takeovers = 0
        self.intervention_s = 0.0
        self.flight_s = 0.0
        self._trouble_since: float | None = None
        self._flying_since: float | None = None
        self._last_seen = 0.0
        self._last_time: float | None = None

    def reset(self, env: gym.Env, seed: int) -> None:
        if self.learner is not None:
            self.learner.reset(env, seed)
        self._reset_counts()

    def act(self, observation: dict, env: gym.Env) -> Decision:
        learner = self.learner.act(observation, env)
        operator = self.watch(env, learner.uncertainty)
        if operator.intervention:
            return Decision(operator.command, intervention=True, uncertainty=learner.uncertainty)
        return Decision(learner.command, uncertainty=learner.uncertainty)

    def watch(self, env: gym.Env, uncertainty: float | None = None) -> Decision:
        """One step of the operator's watch over the present state of `env` (and the learner's
        `uncertainty` about its decision, if it has one): the expert's command, with
        `intervention` true while the operator has taken over."""
        sim = env.unwrapped.sim
        now = sim.time
        step_s = 0.0 if self._last_time is None else now - self._last_time
        self._last_time = now
        expert = expert_action(env)          # every step, so that the expert's planner follows the flight
        if target_in_view(sim):
            self._last_seen = now
        alarmed = (self.rules.uncertainty_above is not None and uncertainty is not None
                   and not uncertainty <= self.rules.uncertainty_above)   # NaN alarms too
        trouble = (env.unwrapped.expert_planner().time_to_collision() < self.rules.ttc_s
                   or now - self._last_seen > self.rules.lost_s or alarmed)
        self._trouble_since = (self._trouble_since if self._trouble_since is not None else now) if trouble else None
        if self._flying_since is None:
            if trouble and now - self._trouble_since >= self.rules.reaction_s:
                self._flying_since = now
                self.takeovers += 1
        elif now - self._flying_since >= self.rules.hold_s and not trouble:
            self._flying_since = None
        self.flight_s += step_s
        if self._flying_since is None:
            return Decision(expert)
        self.intervention_s += step_s
        return Decision(expert, intervention=True)
