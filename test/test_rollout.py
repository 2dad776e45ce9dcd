"""The rollout layer: the one episode loop, its pilots and observers, the one outcome type."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lnn_control.data import read_bag, read_facts
from lnn_control.envs import make_env
from lnn_control.envs.outcome import path_length_m
from lnn_control.policy import Policy, PolicySpec, build_network
from lnn_control.rollout import (
    BagRecorder,
    Decision,
    ExpertPilot,
    LearnerPilot,
    ObserverBase,
    PolicyPilot,
    RandomPilot,
    fly,
)


class Journal(ObserverBase):
    """Writes down every call, and the positions and commands of the flight."""

    def __init__(self):
        self.calls: list[str] = []
        self.positions: list[np.ndarray] = []
        self.commands: list[np.ndarray] = []

    def started(self, env, observation, info, seed):
        self.calls.append(f"started {seed}")
        self.positions.append(info["position"])

    def observed(self, env, observation, info):
        self.calls.append("observed")

    def decided(self, env, observation, info, decision):
        self.calls.append("decided")
        self.commands.append(decision.command)

    def ended(self, env, observation, info, outcome):
        self.calls.append("ended")
        self.positions.append(info["position"])


@pytest.fixture(scope="module")
def env():
    env = make_env("forest", time_limit_s=8.0)
    yield env
    env.close()


def test_the_expert_flies_an_episode_and_observers_see_every_step_in_order(env):
    journal = Journal()
    outcome = fly(env, ExpertPilot(), 3, observers=[journal])
    assert outcome.ended and sum([outcome.success, outcome.collision, outcome.timeout, outcome.stopped]) == 1
    assert journal.calls[0] == "started 3" and journal.calls[-1] == "ended"
    assert journal.calls[1:-1] == ["observed", "decided"] * outcome.steps
    assert outcome.steps == len(journal.commands) > 20
    assert outcome.time_s == pytest.approx(outcome.steps * 0.05)
    assert outcome.path_length_m > 1.0 and outcome.distance_to_target_m >= 0.0
    info_final = journal.positions[-1]
    np.testing.assert_allclose(env.unwrapped.sim.position, info_final, atol=1e-6)


def test_the_same_seed_flies_the_same_episode(env):
    first, second = (fly(env, RandomPilot(), 11) for _ in range(2))
    assert first == second


def test_outcome_flags_are_exclusive_and_match_the_env_info(env):
    class Dive:
        def reset(self, env, seed):
            pass

        def act(self, observation, env):
            return Decision(np.array([0.0, 0.0, -2.0, 0.0]))
    journal = Journal()
    outcome = fly(env, Dive(), 5, observers=[journal])
    assert outcome.collision and not (outcome.success or outcome.timeout or outcome.stopped)
    hover = fly(make_env("forest", time_limit_s=1.0), RandomPilot(), 5)  # random commands rarely crash in 1 s
    assert hover.timeout or hover.collision
    assert sum([hover.success, hover.collision, hover.timeout]) == 1


def test_max_seconds_and_stop_end_an_episode_as_stopped(env):
    capped = fly(env, ExpertPilot(), 4, max_seconds=1.0)
    assert capped.stopped and capped.steps == 20 and capped.time_s == pytest.approx(1.0)
    assert not (capped.success or capped.collision or capped.timeout)
    steps = []
    stopped = fly(env, ExpertPilot(), 4, stop=lambda: steps.append(1) or len(steps) >= 7)
    assert stopped.stopped and stopped.steps == 7


def test_path_length_is_the_polyline_through_the_positions_after_each_step():
    assert path_length_m(np.array([[0, 0, 1], [3, 4, 1], [3, 4, 2]])) == pytest.approx(6.0)
    assert path_length_m(np.zeros((1, 3))) == 0.0


def test_a_recorded_episode_is_a_bag_with_the_outcome_in_its_metadata(env, tmp_path):
    bag = tmp_path / "episode"
    with BagRecorder(bag, {"world": "forest", "source": "expert"}) as recorder:
        outcome = fly(env, ExpertPilot(), 6, observers=[recorder], max_seconds=1.0)
    facts = read_facts(bag)
    assert facts["lnn_control.seed"] == "6" and facts["lnn_control.source"] == "expert"
    assert json.loads(facts["lnn_control.outcome"]) == outcome.to_dict()
    streams = read_bag(bag)
    assert len(streams.images) == outcome.steps == 20
    np.testing.assert_array_equal(streams.image_stamps, np.arange(20) * 50_000_000)


def test_a_flight_that_fails_leaves_no_half_written_bag(env, tmp_path):
    class Broken:
        def reset(self, env, seed):
            self.steps = 0

        def act(self, observation, env):
            self.steps += 1
            if self.steps > 5:
                raise RuntimeError("pilot failed")
            return Decision(np.zeros(4))
    bag = tmp_path / "episode"
    with pytest.raises(RuntimeError, match="pilot failed"), BagRecorder(bag, {}) as recorder:
        fly(env, Broken(), 1, observers=[recorder])
    assert not bag.exists()


class Decisions(ObserverBase):
    def __init__(self):
        self.decisions: list[Decision] = []

    def decided(self, env, observation, info, decision):
        self.decisions.append(decision)


def test_the_learner_flies_and_the_expert_labels(env):
    policy = Policy(build_network(PolicySpec(kind="mlp")).eval())
    learner, expert, mixed = Decisions(), Decisions(), Decisions()
    fly(env, LearnerPilot(policy, expert_mix=0.0), 2, observers=[learner], max_seconds=0.5)
    fly(env, ExpertPilot(), 2, observers=[expert], max_seconds=0.05)
    first = learner.decisions[0]
    np.testing.assert_array_equal(first.label, expert.decisions[0].command)   # same state, the expert's label
    assert not np.allclose(first.command, first.label) and first.taught is first.label
    fly(env, LearnerPilot(policy, expert_mix=1.0), 2, observers=[mixed], max_seconds=0.5)
    assert all(np.array_equal(d.command, d.label) for d in mixed.decisions)


def test_a_policy_pilot_sees_only_the_observation(env):
    policy = Policy(build_network(PolicySpec(kind="cfc")).eval())
    outcome = fly(env, PolicyPilot(policy), 9, max_seconds=0.5)
    assert outcome.steps == 10
