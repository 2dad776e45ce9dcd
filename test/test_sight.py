"""What an evaluation records of the drone's view: the target in view, lost at the end, tilt."""
from __future__ import annotations

import numpy as np

from lnn_control.envs import make_env
from lnn_control.envs.shifts import Condition
from lnn_control.eval.episode import fly_episode
from lnn_control.eval.plan import EpisodeJob, EvalPlan, PolicySource, WorldSource
from lnn_control.eval.summary import summarize
from lnn_control.rollout import Decision, ExpertPilot


class Spinner:
    """Turns on the spot: the target leaves the view within a second and stays away for long."""

    def reset(self, env, seed):
        pass

    def act(self, observation, env):
        return Decision(np.array([0.0, 0.0, 0.0, 0.3]))


def test_the_expert_keeps_the_target_in_view_and_a_spinner_loses_it():
    env = make_env("forest", time_limit_s=8.0)
    job = EpisodeJob(policy="expert", world="forest", world_spec="forest", condition=Condition("none", ()),
                     episode=0, seed=3)
    expert = fly_episode(env, ExpertPilot(), job)
    spinner = fly_episode(env, Spinner(), EpisodeJob(**{**job.__dict__, "policy": "spinner"}))
    env.close()
    assert expert.target_in_view_fraction > 0.8 and expert.target_out_of_view_at_end_s < 0.5
    assert 0.0 < spinner.target_in_view_fraction < 0.5 and spinner.timeout
    assert spinner.target_out_of_view_at_end_s >= 2.0, spinner
    assert 0.0 <= expert.max_tilt_deg < 30.0 and spinner.max_tilt_deg < 5.0
    plan = EvalPlan(policies=(PolicySource("spinner", "random"), PolicySource("expert", "expert")),
                    worlds=(WorldSource("forest", "forest"),), conditions=(Condition("none", ()),), episodes=1,
                    first_seed=3)
    rows = {row["policy"]: row for row in summarize(plan, [expert, spinner])["rows"]}
    assert rows["spinner"]["failures_target_lost"] == rows["spinner"]["failures_traced"] == 1
    assert rows["expert"]["failures_traced"] == 0
