"""Whether the camera sees the target, and the imitable teacher that acts on it."""
from __future__ import annotations

import numpy as np
import pybullet as pb
import pytest

from lnn_control.sim import ExpertPlanner, Simulator, WorldConfig
from lnn_control.sim.visibility import target_in_view


@pytest.fixture
def open_field():
    """A world with no obstacles, the target 15 m straight ahead of the start."""
    world = WorldConfig.load("forest").with_overrides(
        obstacles=[], target={"distance": [15, 15], "bearing_deg": [0, 0]}, start={"yaw_jitter_deg": 0})
    sim = Simulator(world, seed=0)
    yield sim
    sim.close()


def _fly(sim, command, seconds: float, expert=None) -> list[np.ndarray]:
    """Fly `command` for `seconds` (20 Hz steps), asking `expert` for its command every step."""
    asked = []
    for _ in range(int(round(seconds * 20))):
        if expert is not None:
            asked.append(expert.act())
        sim.set_command(command)
        sim.step_physics(12)
    return asked


def test_the_target_is_seen_ahead_not_behind_and_not_through_a_wall(open_field):
    sim = open_field
    assert target_in_view(sim)
    _fly(sim, np.array([0, 0, 0, 1.0]), 3.4)          # turn about 180 degrees
    assert abs(np.remainder(sim.yaw - np.pi, 2 * np.pi) - np.pi) > 2.5 and not target_in_view(sim)
    _fly(sim, np.array([0, 0, 0, 1.0]), 3.4)          # and back
    assert target_in_view(sim)
    midway = (np.asarray(sim.position) + np.asarray(sim.target_position)) / 2
    wall = pb.createMultiBody(0, pb.createCollisionShape(pb.GEOM_BOX, halfExtents=[0.2, 2.0, 2.0],
                                                         physicsClientId=sim.client),
                              basePosition=midway.tolist(), physicsClientId=sim.client)
    assert not target_in_view(sim)
    pb.removeBody(wall, physicsClientId=sim.client)
    assert target_in_view(sim)


def test_the_imitable_teacher_slows_and_turns_to_where_it_last_saw_the_target(open_field):
    sim = open_field
    bearing = float(np.arctan2(*(np.asarray(sim.target_position) - sim.position)[1::-1]))
    imitable = ExpertPlanner(sim, lost_target_s=1.0, search_speed_m_s=0.4)
    privileged = ExpertPlanner(sim)
    # turn away and hold: the target is out of view from about 0.8 s on
    _fly(sim, np.array([0, 0, 0, 1.0]), 3.2, expert=imitable)
    privileged.act()
    turned_away = sim.yaw
    asked = _fly(sim, np.zeros(4), 1.0, expert=imitable)
    searching = asked[-1]
    assert not target_in_view(sim)
    assert np.hypot(searching[0], searching[1]) <= 0.4 + 1e-6, searching
    # it turns towards the heading it last saw the target along (the start's bearing)
    back = np.remainder(bearing - turned_away + np.pi, 2 * np.pi) - np.pi
    assert np.sign(searching[3]) == np.sign(back) and abs(searching[3]) > 0.5
    fast = [privileged.act() for _ in range(10)][-1]
    assert np.hypot(fast[0], fast[1]) > 1.0, "the privileged expert flies on at the target it knows"


def test_the_target_mask_covers_the_target_ahead_and_is_empty_behind(open_field):
    sim = open_field
    mask = sim.target_mask()
    assert mask.shape == (sim.camera_config.height, sim.camera_config.width) and mask.dtype == bool
    assert mask.any() and mask.mean() < 0.2
    rows, cols = np.nonzero(mask)
    # straight ahead, level: the target sits about the middle columns of the image
    assert abs(cols.mean() - (sim.camera_config.width - 1) / 2) < 0.15 * sim.camera_config.width
    rgb = sim.render_camera()
    target_rgb = np.round(np.asarray(sim.world.target.color) * 255)
    assert np.abs(rgb[mask].astype(float) - target_rgb).mean() < 60, "the masked pixels show the target's colour"
    _fly(sim, np.array([0, 0, 0, 1.0]), 3.4)          # turn about 180 degrees
    assert not sim.target_mask().any()
