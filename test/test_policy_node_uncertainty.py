"""policy_node with an ensemble policy, over real DDS: `~/uncertainty` with every command, and
`slow_down:=true` hovering while the members disagree past `uncertainty_stop`; a single policy
cannot slow down. The node runs in a process of its own (test/ros_harness.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist
from rclpy.qos import qos_profile_sensor_data
from ros_domains import domain_of_its_own
from ros_harness import NodesUnderTest, matched, ros_argv
from sensor_msgs.msg import Image, Imu
from std_msgs.msg import Float32

from lnn_control.policy import PolicySpec, build_network, save_checkpoint
from lnn_control.ros.conversions import rgb_to_image, vector_to_imu

POLICY_NODE = Path(sys.executable).parent / "policy_node"
IMU_AT_REST = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 9.81], np.float32)
PERIOD_NS = 50_000_000
START_S = 180.0     # wall s for the node to start and DDS to match
FRAMES = 6


class EnsembleRobot(NodesUnderTest):
    """policy_node under test; the test side sends frames and keeps commands and uncertainties."""

    def __init__(self, parameters: dict, log_path: Path, domain: int):
        self.commands: list[np.ndarray] = []
        self.uncertainties: list[float] = []
        super().__init__(domain, "uncertainty_test", {"policy_node": (ros_argv(POLICY_NODE, parameters), log_path)})

    def connect(self, node) -> None:
        self.cmd_subscription = node.create_subscription(Twist, "cmd_vel", self._on_cmd, 1000)
        self.uncertainty_subscription = node.create_subscription(
            Float32, "/policy_node/uncertainty", lambda msg: self._record(self.uncertainties, msg.data), 1000)
        self.image_publisher = node.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        self.imu_publisher = node.create_publisher(Imu, "imu/data", qos_profile_sensor_data)

    def _on_cmd(self, msg: Twist) -> None:
        self._record(self.commands, np.array([msg.linear.x, msg.linear.y, msg.linear.z, msg.angular.z]))

    def fly_frames(self, count: int) -> None:
        """Send `count` frames a control period apart (an IMU reading before each), until the
        node has published an uncertainty for each (a best-effort frame lost is sent again)."""
        rng = np.random.default_rng(0)
        start = self.node.get_clock().now().nanoseconds
        for k in range(count):
            stamp = start + k * PERIOD_NS
            time_msg = Time(sec=stamp // 10**9, nanosec=stamp % 10**9)
            image = rgb_to_image(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), time_msg, "camera")
            imu = vector_to_imu(IMU_AT_REST, time_msg, "imu")
            wanted = k + 1

            def send(imu=imu, image=image):
                self.imu_publisher.publish(imu)
                self.image_publisher.publish(image)

            send()
            self.wait_for(lambda wanted=wanted: len(self.uncertainties) >= wanted, f"uncertainty {wanted}",
                          every=1.0, then=send)


def _robot(parameters: dict, tmp_path: Path, domain: int) -> EnsembleRobot:
    robot = EnsembleRobot(parameters, tmp_path / "policy_node.log", domain)
    robot.wait_for(lambda: matched([robot.cmd_subscription, robot.uncertainty_subscription, robot.image_publisher,
                                    robot.imu_publisher]), "the node to start and DDS to match", timeout=START_S)
    return robot


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory) -> Path:
    """An untrained ensemble of 3: its members disagree (uncertainty around 0.3)."""
    import torch

    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "ensemble.pt", build_network(PolicySpec(ensemble=3)))


def test_uncertainty_comes_with_every_command_and_slow_down_hovers_past_the_stop(tmp_path, ensemble):
    with domain_of_its_own() as domain:
        robot = _robot({"model_path": str(ensemble)}, tmp_path, domain)
        try:
            robot.fly_frames(FRAMES)
            with robot.lock:
                uncertainties, flown = list(robot.uncertainties), [c for c in robot.commands if np.any(c != 0)]
        finally:
            robot.stop()
        assert len(uncertainties) >= FRAMES and all(np.isfinite(uncertainties))
        assert all(0.0 < u <= 1.0 for u in uncertainties), uncertainties
        assert flown, "without slow_down the untrained members' mean command is flown"

        slow = tmp_path / "slow"
        slow.mkdir()
        parameters = {"model_path": str(ensemble), "slow_down": True, "uncertainty_low": 0.0,
                      "uncertainty_stop": 0.5 * min(uncertainties)}
        robot = _robot(parameters, slow, domain)
        try:
            robot.fly_frames(FRAMES)
            with robot.lock:
                commands, uncertainties = list(robot.commands), list(robot.uncertainties)
        finally:
            robot.stop()
        assert min(uncertainties) > parameters["uncertainty_stop"]
        assert commands and all(np.all(c == 0) for c in commands), "past uncertainty_stop the node hovers"


@pytest.mark.parametrize("extra, reason", [
    ([], "slow_down:=true needs an ensemble policy"),
    (["-p", "uncertainty_low:=0.3", "-p", "uncertainty_stop:=0.2"], "must be greater than uncertainty_low"),
    (["-p", "uncertainty_stop:=1.5"], "bad parameter uncertainty_stop: 1.5 is out of range [0, 1]"),
])
def test_slow_down_that_cannot_work_stops_the_node_with_the_reason(ros_domain_id, tmp_path, ensemble, extra, reason):
    model = ensemble
    if not extra:
        model = save_checkpoint(tmp_path / "single.pt", build_network(PolicySpec()))
    result = subprocess.run([str(POLICY_NODE), "--ros-args", "-p", f"model_path:={model}", "-p", "slow_down:=true",
                             *extra], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and reason in result.stderr and "Traceback" not in result.stderr, result.stderr
