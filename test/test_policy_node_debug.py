"""policy_node with debug:=true over real DDS: the saliency overlay and the labelled neuron state
come on ~/debug/*, at most debug_rate a second, while commands keep flowing. Wall clock, input
from a thread (as on a robot); only what must happen eventually is asserted, within generous
deadlines, and the rate bound only as an upper bound over what arrived."""
from __future__ import annotations

import time

import numpy as np
import pytest
from ros_domains import domain_of_its_own
from sensor_msgs.msg import Image
from std_msgs.msg import Float32MultiArray
from test_policy_node import POLICY_NODE, Feeder, RobotSide, _scene, _zero

from lnn_control.codec import image_to_rgb

DEBUG_RATE_HZ = 2.0


class DebugRobot(RobotSide):
    def __init__(self, parameters, log_path, domain):
        self.saliency: list[tuple[float, np.ndarray, str]] = []
        self.states: list[tuple[list[str], np.ndarray]] = []
        super().__init__(parameters, log_path, domain)

    def connect(self, node) -> None:
        super().connect(node)
        self.saliency_subscription = node.create_subscription(
            Image, "/policy_node/debug/saliency",
            lambda msg: self._record(self.saliency, (time.monotonic(), image_to_rgb(msg), msg.header.frame_id)), 100)
        self.state_subscription = node.create_subscription(
            Float32MultiArray, "/policy_node/debug/state",
            lambda msg: self._record(self.states, ([d.label for d in msg.layout.dim], np.array(msg.data))), 100)


@pytest.fixture
def robot(checkpoint, tmp_path):
    parameters = {"model_path": checkpoint, "control_rate": 20.0, "debug": True, "debug_rate": DEBUG_RATE_HZ}
    with domain_of_its_own() as domain:
        robot = DebugRobot(parameters, tmp_path / "policy_node.log", domain)
        try:
            robot.wait_until_matched()
            robot.wait_for(lambda: robot.saliency_subscription.get_publisher_count()
                           and robot.state_subscription.get_publisher_count(), "the debug topics to match")
            yield robot
        finally:
            robot.stop()


def test_debug_publishes_the_saliency_overlay_and_the_labelled_state(robot):
    assert POLICY_NODE.exists()
    feeder = Feeder(robot)
    try:
        robot.wait_for(lambda: len(robot.saliency) >= 3 and len(robot.states) >= 3, "three debug messages of each")
        first = robot.count()
        robot.wait_for(lambda: sum(not _zero(c.value) for c in robot.commands[first:]) >= 10,
                       "commands to keep flowing with debug on")
    finally:
        feeder.close()
    with robot.lock:
        saliency, states = list(robot.saliency), list(robot.states)
    for _, rgb, frame_id in saliency:
        assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8 and frame_id == "camera"
    # the overlay is not any frame as sent (the feeder sends seven scenes): the map tints it
    scenes = [_scene(k).astype(int) for k in range(7)]
    assert all(min(abs(rgb.astype(int) - scene).mean() for scene in scenes) > 0.5 for _, rgb, _ in saliency)
    labels, values = states[-1]
    assert len(labels) == len(values) == 19 and np.isfinite(values).all() and np.any(values != 0)
    assert [label.split()[0] for label in labels] == ["inter"] * 9 + ["command"] * 6 + ["motor"] * 4
    assert sorted(int(label.split()[1]) for label in labels) == list(range(19))
    # never faster than debug_rate: n messages span at least (n - 1) periods (less a scheduling allowance)
    arrivals = [t for t, _, _ in saliency]
    assert arrivals[-1] - arrivals[0] >= (len(arrivals) - 1) / DEBUG_RATE_HZ * 0.5
