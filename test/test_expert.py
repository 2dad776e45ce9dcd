"""The privileged expert pilot: reaches targets that a straight line would crash on, smoothly."""
from __future__ import annotations

import numpy as np
import pytest

from lnn_control.envs import make_env
from lnn_control.rollout import ExpertPilot, StraightLinePilot, fly
from lnn_control.rollout.expert_success import line_blocked
from lnn_control.sim import ExpertPlanner, Simulator, generate_layout


def _blocked_seeds(world, count):
    seeds = [seed for seed in range(100) if line_blocked(generate_layout(world, seed))]
    assert len(seeds) >= count, "too few worlds with an obstacle on the straight line"
    return seeds[:count]


@pytest.mark.parametrize("world", ["forest", "urban"])
def test_expert_succeeds_where_the_straight_line_is_blocked(world):
    env = make_env(world)
    straight_failures = 0
    for seed in _blocked_seeds(env.unwrapped.base_world, 3):
        straight_failures += not fly(env, StraightLinePilot(), seed).success
        assert fly(env, ExpertPilot(), seed).success, f"{world} seed {seed}"
    assert straight_failures >= 2
    env.close()


def test_expert_commands_are_smooth_bounded_and_deterministic():
    runs = []
    for _ in range(2):
        sim = Simulator("forest", seed=9)
        expert = ExpertPlanner(sim)
        commands = []
        while not sim.outcome()["success"] and len(commands) < 1200:
            commands.append(expert.act())
            sim.set_command(commands[-1])
            sim.step_physics(12)
        runs.append(np.array(commands))
        sim.close()
    np.testing.assert_array_equal(runs[0], runs[1])
    commands = runs[0]
    assert commands.dtype == np.float32
    assert np.all(np.abs(commands[:, :3]) <= 2.0) and np.all(np.abs(commands[:, 3]) <= 1.0)
    step_change = np.abs(np.diff(commands, axis=0))
    assert step_change[:, :3].max() < 0.6 and step_change[:, 3].max() < 0.6
    assert np.mean(np.linalg.norm(commands[:, :2], axis=1)) > 1.0  # it does not dawdle


def test_expert_follows_a_reset_of_the_simulator():
    sim = Simulator("urban", seed=1)
    expert = ExpertPlanner(sim)
    sim.reset(seed=2)  # no explicit expert.reset(): act() notices the new layout
    while not any(sim.outcome()[ending] for ending in ("success", "collision", "timeout")):
        sim.set_command(expert.act())
        sim.step_physics(12)
    assert sim.outcome()["success"] and expert.layout_seed == 2
    sim.close()
