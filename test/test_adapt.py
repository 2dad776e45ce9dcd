"""Learning on the job in simulation: a simulated operator corrects, the corrections train."""
from __future__ import annotations

import json

import numpy as np

from lnn_control.cli import main
from lnn_control.data import BagTopics, align, read_bag
from lnn_control.envs import make_env
from lnn_control.policy import read_header
from lnn_control.policy.digest import file_sha256
from lnn_control.rollout import BagRecorder, Decision, ObserverBase, fly
from lnn_control.rollout.operator import OperatorRules, SimulatedOperator


class Spinner:
    """A learner that turns on the spot: the target leaves the view and stays away."""

    def reset(self, env, seed):
        pass

    def act(self, observation, env):
        return Decision(np.array([0.0, 0.0, 0.0, 0.6]))


class Decisions(ObserverBase):
    def __init__(self):
        self.decisions = []

    def decided(self, env, observation, info, decision):
        self.decisions.append(decision)


def test_the_operator_takes_over_from_a_learner_in_trouble_and_the_bag_says_when(tmp_path):
    env = make_env("forest", time_limit_s=12.0)
    operator = SimulatedOperator(Spinner(), OperatorRules(lost_s=1.0, reaction_s=0.4, hold_s=2.0))
    seen = Decisions()
    bag = tmp_path / "corrected"
    with BagRecorder(bag, {"source": "test"}, record_interventions=True) as recorder:
        outcome = fly(env, operator, 3, observers=[recorder, seen])
    env.close()
    flags = np.array([d.intervention for d in seen.decisions])
    assert operator.takeovers >= 1 and flags.any() and not flags[:10].any()
    first = int(np.argmax(flags))
    assert first * 0.05 >= 1.0 + 0.4 - 0.05, "it reacts only after the target was lost for lost_s + reaction_s"
    assert operator.intervention_s > 1.5 and outcome.ended
    streams = read_bag(bag, BagTopics(intervention="policy_node/intervention"))
    np.testing.assert_array_equal(streams.intervention, flags)
    [sequence] = align(streams)[0]
    np.testing.assert_array_equal(sequence.intervention, flags)
    np.testing.assert_allclose(sequence.cmd[flags][0], seen.decisions[first].command, atol=1e-6)


class Doubter:
    """A learner that hovers, sure of itself for 1 s, then unsure."""

    def reset(self, env, seed):
        self.steps = 0

    def act(self, observation, env):
        self.steps += 1
        return Decision(np.zeros(4), uncertainty=0.01 if self.steps <= 20 else 0.2)


def test_the_operator_takes_over_on_the_learners_uncertainty_when_told_to(tmp_path):
    env = make_env("forest", time_limit_s=3.0)
    watching = SimulatedOperator(Doubter(), OperatorRules(ttc_s=0.0, lost_s=60.0, reaction_s=0.4,
                                                         uncertainty_above=0.1))
    seen = Decisions()
    fly(env, watching, 3, observers=[seen])
    flags = np.array([d.intervention for d in seen.decisions])
    assert watching.takeovers == 1 and not flags[:28].any() and flags[30:].all(), np.flatnonzero(flags)
    assert [d.uncertainty for d in seen.decisions[:2]] == [0.01, 0.01], "the learner's uncertainty is kept"
    blind = SimulatedOperator(Doubter(), OperatorRules(ttc_s=0.0, lost_s=60.0))
    fly(env, blind, 3)
    env.close()
    assert blind.takeovers == 0


def test_adapt_corrects_fine_tunes_and_reports(tmp_path, checkpoint, monkeypatch):
    monkeypatch.setenv("LNN_CONTROL_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "adapt"
    code = main(["adapt", "--policy", str(checkpoint), "--world", "forest", "--rounds", "1", "--episodes", "2",
                 "--heldout", "2", "--epochs", "1", "--time-limit", "6", "--out", str(out)])
    assert code == 0
    report = json.loads((out / "adapt.json").read_text())
    before, after = report["rounds"]
    assert before["round"] == 0 and after["round"] == 1 and after["flights"] == 2
    assert after["takeovers"] >= 1 and after["takeovers_per_minute"] > 0, "an untrained policy needs correcting"
    assert 0 < after["operator_share"] <= 1 and after["heldout_episodes"] == 2
    header = read_header(after["policy"])
    assert header["provenance"]["parent"]["sha256"] == file_sha256(checkpoint)
    assert header["training"]["start"]["keep_normalization"] is True
    assert "forest" in after and (out / "adapt.md").read_text().count("\n| ") >= 2
    assert (out / "adapt.png").stat().st_size > 1000
    # the corrected flights are bags a robot's would be: train --init --interventions reads them
    retrained = tmp_path / "again.pt"
    assert main(["train", "--bags", str(out / "round_01" / "bags"), "--init", str(checkpoint), "--interventions",
                 "--epochs", "1", "--out", str(retrained)]) == 0
    assert read_header(retrained)["provenance"]["parent"]["sha256"] == file_sha256(checkpoint)
