"""policy_node driving a rover, over real DDS: planar commands whoever makes them, and the vehicle
read from the model (checkpoint or export) or refused when it disagrees.

The node runs in its own process (`policy_node --ros-args -p ...`) on a ROS_DOMAIN_ID of its own;
this process plays the robot and the operator. The policy is an untrained rover checkpoint whose
head drives vy and vz hard (test/rover_checkpoint.py), so a node that let them through would
publish them. On the wall clock, as on a robot: while a test waits, it sends a camera frame and
an IMU reading (and the operator's messages, when it has them) every 50 ms, and every wait returns
as soon as what it waits for has come, within a generous deadline.
"""
from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from geometry_msgs.msg import Twist
from rclpy.qos import qos_profile_sensor_data
from ros_domains import domain_of_its_own
from ros_harness import NodesUnderTest, matched, ros_argv, start_process, stop_processes
from rover_checkpoint import sideways_rover_checkpoint
from sensor_msgs.msg import Image, Imu
from std_msgs.msg import Bool

from lnn_control.paths import share_path
from lnn_control.policy import load_policy
from lnn_control.ros.conversions import rgb_to_image, seconds_to_stamp, vector_to_imu

POLICY_NODE = Path(sys.executable).parent / "policy_node"
WAIT_S = 300.0                 # wall s: the longest any one wait may take (it returns as soon as it can)
FEED_S = 0.05                  # wall s between the frames (and IMU readings) a wait sends
IMU_AT_REST = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 9.81], np.float32)
# the operator's joystick: forward, sideways, down, and roll/pitch rates a rover cannot fly either
OPERATOR_LINEAR, OPERATOR_ANGULAR = (0.25, 0.5, -0.5), (0.3, -0.3, 0.125)
OPERATOR_FLOWN = (0.25, 0.0, 0.0, 0.0, 0.0, 0.125)


def _scene(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(48, 64, 3), dtype=np.uint8)


def _twist(msg: Twist) -> tuple[float, ...]:
    """linear x, y, z and angular x, y, z, as on the wire (float64)."""
    return (msg.linear.x, msg.linear.y, msg.linear.z, msg.angular.x, msg.angular.y, msg.angular.z)


def _planar(twist: tuple[float, ...]) -> bool:
    """Only linear.x and angular.z: linear.y, linear.z, angular.x, angular.y exactly 0."""
    return twist[1:5] == (0.0, 0.0, 0.0, 0.0)


class RoverSide(NodesUnderTest):
    """policy_node in its own process; this side sends the rover's camera and IMU (and the
    operator's deadman and command) and records every cmd_vel, all six components."""

    wait_s = WAIT_S

    def __init__(self, parameters: dict, log_path: Path, domain: int):
        self.twists: list[tuple[float, ...]] = []
        self.feeding = True                       # whether waits send camera frames and IMU readings
        self.operator: Twist | None = None        # what waits send on teleop/cmd_vel, deadman held (None: nothing)
        self._frame = 0
        super().__init__(domain, "rover_test", {"policy_node": (ros_argv(POLICY_NODE, parameters), log_path)})

    def connect(self, node) -> None:
        self.cmd_subscription = node.create_subscription(
            Twist, "cmd_vel", lambda m: self._record(self.twists, _twist(m)), 1000)
        self.image_publisher = node.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        self.imu_publisher = node.create_publisher(Imu, "imu/data", qos_profile_sensor_data)
        self.teleop_publisher = node.create_publisher(Twist, "teleop/cmd_vel", 10)
        self.enable_publisher = node.create_publisher(Bool, "teleop/enable", 10)

    def feed(self) -> None:
        """One control period's messages, stamped now (wall clock)."""
        if self.operator is not None:
            self.enable_publisher.publish(Bool(data=True))
            self.teleop_publisher.publish(self.operator)
        if self.feeding:
            stamp = seconds_to_stamp(time.time())
            self._frame += 1
            self.imu_publisher.publish(vector_to_imu(IMU_AT_REST, stamp, "imu"))
            self.image_publisher.publish(rgb_to_image(_scene(self._frame % 7), stamp, "camera"))

    def count(self) -> int:
        with self.lock:
            return len(self.twists)

    def wait_feeding(self, predicate, what: str):
        """`wait_for(predicate)`, sending a period's messages every FEED_S meanwhile."""
        return self.wait_for(predicate, what, every=FEED_S, then=self.feed)


@pytest.fixture(scope="module")
def rover_checkpoint(tmp_path_factory) -> Path:
    return sideways_rover_checkpoint(tmp_path_factory.mktemp("rover") / "sideways_rover.pt")


@contextlib.contextmanager
def _rover(parameters: dict, tmp_path_factory):
    with domain_of_its_own() as domain:
        rover = RoverSide(parameters, tmp_path_factory.mktemp("rover_node") / "policy_node.log", domain)
        try:
            endpoints = [rover.cmd_subscription, rover.image_publisher, rover.imu_publisher,
                         rover.teleop_publisher, rover.enable_publisher]
            rover.wait_for(lambda: matched(endpoints), "the node to start and DDS to match its topics", timeout=180.0)
            yield rover
        finally:
            rover.stop()


@pytest.fixture(scope="class")
def rover(rover_checkpoint, tmp_path_factory):
    # vehicle left at '' (the default): the node takes the model's, the rover
    with _rover({"model_path": rover_checkpoint, "control_rate": 0.0, "teleop": True}, tmp_path_factory) as rover:
        yield rover


class TestRoverMode:
    """A rover checkpoint, vehicle from the model, teleop on, stepping on every frame."""

    def test_the_network_drives_sideways_and_down_and_the_runtime_keeps_it_planar(self, rover_checkpoint):
        # the node is given a network whose own vy and vz are large on every frame (its head's
        # bias); the runtime already zeroes them for a rover, and the node does again (its own
        # mask is what keeps the operator's commands planar, below)
        policy = load_policy(rover_checkpoint)
        assert policy.spec.vehicle == "rover"
        assert torch.tanh(policy.net.head.bias[1]) > 0.99 and torch.tanh(policy.net.head.bias[2]) < -0.99
        commands = np.array([policy.step(_scene(k % 7), IMU_AT_REST, 0.05) for k in range(10)])
        assert np.all(commands[:, 0] > 0.5) and np.all(commands[:, 1:3] == 0.0), commands

    def test_the_startup_line_names_the_vehicle(self, rover, rover_checkpoint):
        rover.wait_for(lambda: "loaded" in rover.log(), "the start-up line")
        assert (f"policy {rover_checkpoint} loaded (torch runtime) for the rover; stepping on every frame, "
                "limits 2 m/s (vx only: linear.y, linear.z 0), 1 rad/s") in rover.log()

    def test_the_policy_drives_only_forward_speed_and_yaw_rate(self, rover):
        rover.feeding, rover.operator = True, None
        first = rover.count()
        rover.wait_feeding(lambda: sum(twist != (0.0,) * 6 for twist in rover.twists[first:]) >= 20,
                           "20 non-zero commands")
        with rover.lock:
            twists = rover.twists[first:]
        assert all(_planar(t) for t in twists), [t for t in twists if not _planar(t)][:5]
        driven = [t for t in twists if t != (0.0,) * 6]
        assert all(0.5 < t[0] <= 2.0 for t in driven), driven[:5]   # the head's bias drives forward
        assert len({t[5] for t in driven}) > 1, "the yaw rate should follow the frames"

    def test_the_operators_command_passes_planar(self, rover):
        rover.feeding = True
        rover.operator = Twist()
        (rover.operator.linear.x, rover.operator.linear.y, rover.operator.linear.z) = OPERATOR_LINEAR
        (rover.operator.angular.x, rover.operator.angular.y, rover.operator.angular.z) = OPERATOR_ANGULAR
        first = rover.count()
        try:
            rover.wait_feeding(lambda: sum(t == OPERATOR_FLOWN for t in rover.twists[first:]) >= 10,
                               "10 of the operator's commands on cmd_vel")
        finally:
            rover.operator = None
        with rover.lock:
            twists = rover.twists[first:]
        assert all(_planar(t) for t in twists), [t for t in twists if not _planar(t)][:5]

    def test_the_failsafe_zero_is_all_zero(self, rover):
        rover.operator = None
        rover.feeding = True
        first = rover.count()
        rover.wait_feeding(lambda: any(t != (0.0,) * 6 for t in rover.twists[first:]), "the policy to drive")
        rover.feeding = False
        silent = rover.count()

        def zeros_for_good():   # ten zeros in a row, the last of what came
            tail = rover.twists[silent:][-10:]
            return len(tail) == 10 and all(t == (0.0,) * 6 for t in tail)
        rover.wait_for(zeros_for_good, "zero commands once the camera and IMU fell silent")
        with rover.lock:
            assert all(_planar(t) for t in rover.twists[first:])


def _run_node(*parameters: str) -> subprocess.CompletedProcess:
    argv = [str(POLICY_NODE), "--ros-args"] + [word for p in parameters for word in ("-p", p)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


def _one_fatal_line(result: subprocess.CompletedProcess) -> str:
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "FATAL" in lines[0], result.stdout + result.stderr
    return lines[0]


def test_a_vehicle_other_than_the_checkpoints_stops_the_node_naming_both(ros_domain_id, rover_checkpoint,
                                                                         checkpoint):
    line = _one_fatal_line(_run_node(f"model_path:={rover_checkpoint}", "vehicle:=drone"))
    assert (f"bad parameter vehicle: 'drone', but model_path {rover_checkpoint} is a rover policy (its spec's "
            f"vehicle is 'rover')") in line
    line = _one_fatal_line(_run_node(f"model_path:={checkpoint}", "vehicle:=rover"))
    assert f"bad parameter vehicle: 'rover', but model_path {checkpoint} is a drone policy" in line


def test_an_unknown_vehicle_stops_the_node_with_the_choices(ros_domain_id, rover_checkpoint):
    result = _run_node(f"model_path:={rover_checkpoint}", "vehicle:=boat")
    assert result.returncode == 1
    assert "bad parameter vehicle: 'boat' is not one of '', drone, rover" in result.stderr


def test_an_export_carries_the_vehicle_to_the_node(ros_domain_id, rover_checkpoint, tmp_path):
    """The ONNX export keeps the checkpoint's spec: the torch-free runtime knows it drives a rover,
    and the node refuses it as a drone."""
    from lnn_control.policy.export import export_policy
    from lnn_control.policy.onnx_runtime import load_onnx_policy

    export = tmp_path / "sideways_rover_onnx"
    export_policy(rover_checkpoint, export)
    assert load_onnx_policy(export).spec.vehicle == "rover"
    line = _one_fatal_line(_run_node(f"model_path:={export}", "vehicle:=drone"))
    assert f"bad parameter vehicle: 'drone', but model_path {export} is a rover policy" in line


def test_an_empty_model_path_for_a_rover_is_the_shipped_rover_model(ros_domain_id, tmp_path):
    shipped = share_path("models", "cfc_rover_forest.pt")
    if not shipped.is_file():
        result = _run_node("vehicle:=rover")
        assert f"model_path {shipped}: no such file" in _one_fatal_line(result)
        return
    log_path = tmp_path / "policy_node.log"
    process = start_process(ros_argv(POLICY_NODE, {"vehicle": "rover"}), log_path)
    try:
        deadline = time.monotonic() + 180.0
        while "loaded" not in log_path.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        returncode = stop_processes({"policy_node": process})["policy_node"]
    assert returncode == 0 and f"policy {shipped} loaded (torch runtime) for the rover" in log_path.read_text()
