"""The privileged expert pilot: reaches targets that a straight line would crash on, smoothly."""
from __future__ import annotations

import numpy as np
import pytest

from lnn_control.sim import ExpertPilot, Simulator
from lnn_control.sim.expert_success import fly_episode, line_blocked, straight_line_pilot


def _blocked_seeds(sim, count):
    seeds = []
    for seed in range(100):
        sim.reset(seed=seed)
        if line_blocked(sim.layout):
            seeds.append(seed)
        if len(seeds) == count:
            return seeds
    raise AssertionError("no world with an obstacle on the straight line")


@pytest.mark.parametrize("world", ["forest", "urban"])
def test_expert_succeeds_where_the_straight_line_is_blocked(world):
    sim = Simulator(world, seed=0)
    expert = ExpertPilot(sim)
    straight_failures = 0
    for seed in _blocked_seeds(sim, 3):
        sim.reset(seed=seed)
        straight_failures += fly_episode(sim, straight_line_pilot(sim)) != "success"
        sim.reset(seed=seed)
        expert.reset()
        assert fly_episode(sim, expert.act) == "success", f"{world} seed {seed}"
    assert straight_failures >= 2
    sim.close()


def test_expert_commands_are_smooth_bounded_and_deterministic():
    runs = []
    for _ in range(2):
        sim = Simulator("forest", seed=9)
        expert = ExpertPilot(sim)
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
    expert = ExpertPilot(sim)
    sim.reset(seed=2)  # no explicit expert.reset(): act() notices the new layout
    assert fly_episode(sim, expert.act) == "success"
    assert expert.layout_seed == 2
    sim.close()
