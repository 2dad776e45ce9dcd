"""launch/sim.launch.xml and launch/policy.launch.xml, started as `ros2 launch` would, over real DDS.

Each launch file is read with test/launch_xml.py; each node runs in its own process with the
exact argv `ros2 launch` builds (console script, `--ros-args`, `-r __node:=`, `--params-file`,
remaps), on this test's own ROS_DOMAIN_ID; every process is stopped at the end.

- policy path: sim_node + policy_node (a random-weight CfC: no trained model is needed to
  check the plumbing) in lockstep on simulated time: frames and commands flow both ways,
  commands stay within the limits, the drone moves; a test subscriber records the loop to a
  rosbag2 MCAP bag (the data package's EpisodeBagWriter) and `lnn-control train` trains on it;
- expert path: sim_node with `autopilot:=expert` (the privileged expert flies inside the sim
  node): an episode outcome with success arrives over DDS, in simulated time;
- shipped-model path: sim_node + policy_node with models/cfc_forest.pt, nothing else: the
  policy reaches the target over DDS on an evaluation seed it reached in `lnn-control eval`.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, Imu
from std_msgs.msg import String

from launch_xml import read_launch
from lnn_control.paths import share_path
from lnn_control.policy import PolicySpec, build_network, save_checkpoint
from lnn_control.codec import image_to_rgb, imu_to_vector, twist_to_command
from lnn_control.ros.conversions import stamp_to_seconds

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    import torch

    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("policy") / "random_cfc.pt", build_network(PolicySpec(kind="cfc")))


class Launched:
    """The nodes of a launch file as processes, and a test node listening to the loop."""

    def __init__(self, launch_file: Path, arguments: dict, scratch: Path, repo_root: Path, domain: int,
                 only: set[str] | None = None):
        nodes = read_launch(launch_file, {"lnn_control": repo_root}, arguments)
        self.logs: dict[str, Path] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        for node in nodes:
            if only is not None and node.name not in only:
                continue
            self.logs[node.name] = scratch / f"{node.name}.log"
            with open(self.logs[node.name], "w") as log:
                self.processes[node.name] = subprocess.Popen(node.command([BIN], scratch), stdout=log,
                                                             stderr=subprocess.STDOUT)
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("launch_test", context=self.context)
        self.lock = threading.Lock()
        self.frames: dict[float, dict] = {}     # stamp s -> image, imu, odom
        self.commands: list[np.ndarray] = []
        self.outcomes: list[dict] = []
        self.clock: list[float] = []
        sub = self.node.create_subscription
        sub(Image, "camera/image_raw", lambda m: self._frame(m, "image", image_to_rgb(m)), qos_profile_sensor_data)
        sub(Imu, "imu/data", lambda m: self._frame(m, "imu", imu_to_vector(m)), qos_profile_sensor_data)
        sub(Odometry, "odom", lambda m: self._frame(m, "odom", m), 100)
        sub(Twist, "cmd_vel", self._command, 100)
        sub(Clock, "/clock", self._clock, 100)
        sub(String, "episode/outcome", lambda m: self.outcomes.append(json.loads(m.data)),
            QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.spinner = threading.Thread(target=self._spin, daemon=True)
        self.spinner.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:
                return

    def _frame(self, msg, key: str, value) -> None:
        with self.lock:
            self.frames.setdefault(stamp_to_seconds(msg.header.stamp), {})[key] = value

    def _clock(self, msg: Clock) -> None:
        with self.lock:
            if not self.clock:
                self.first_clock_wall = time.monotonic()
            self.clock.append(stamp_to_seconds(msg.clock))

    def _command(self, msg: Twist) -> None:
        with self.lock:
            self.commands.append(twist_to_command(msg))

    def wait(self, condition, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                assert process.poll() is None, f"{name} exited: {self.logs[name].read_text()}"
            with self.lock:
                if condition():
                    return True
            time.sleep(0.1)
        return False

    def stop(self) -> dict[str, int]:
        for process in self.processes.values():
            process.send_signal(signal.SIGINT)
        codes = {}
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        self.context.try_shutdown()
        self.spinner.join(timeout=5)
        return codes


def test_sim_launch_closes_the_loop_with_the_policy_node_and_the_recording_trains(
        ros_domain_id, repo_root, checkpoint, tmp_path):
    launched = Launched(repo_root / "launch" / "sim.launch.xml",
                        {"model_path": str(checkpoint), "seed": "3", "real_time_factor": "0.0"},
                        tmp_path, repo_root, ros_domain_id)
    try:
        complete = lambda: sum(len(f) == 3 for f in launched.frames.values()) >= 80  # noqa: E731
        assert launched.wait(complete, 60), (
            f"{len(launched.frames)} frames, {len(launched.commands)} commands\n"
            + "\n".join(log.read_text() for log in launched.logs.values()))
    finally:
        codes = launched.stop()
    assert codes == {"sim_node": 0, "policy_node": 0}, codes
    with launched.lock:
        frames = {t: f for t, f in sorted(launched.frames.items()) if len(f) == 3}
        commands = np.array(launched.commands)
    stamps = np.array(list(frames))
    # simulated time at 20 Hz, as /clock says
    assert np.all(np.diff(stamps) > 0) and np.median(np.diff(stamps)) == pytest.approx(0.05)
    assert launched.clock and max(launched.clock) >= stamps[-1] - 1e-9
    first, last = frames[stamps[0]]["image"], frames[stamps[-1]]["image"]
    assert first.shape == (48, 64, 3)
    # the policy answers the frames (lockstep: one command per frame, bar the in-flight one)
    assert len(commands) >= len(frames) - 2
    assert np.all(np.abs(commands[:, :3]) <= 2.0 + 1e-6) and np.all(np.abs(commands[:, 3]) <= 1.0 + 1e-6)
    assert np.abs(commands).max() > 1e-3, "the policy only ever sent zero"
    # ... and the drone flies them
    positions = np.array([[f["odom"].pose.pose.position.x, f["odom"].pose.pose.position.y,
                           f["odom"].pose.pose.position.z] for f in frames.values()])
    assert np.linalg.norm(positions - positions[0], axis=1).max() > 0.1
    assert not np.array_equal(first, last)

    # recorder path: the recorded loop is a rosbag2 bag that `lnn-control train` trains on
    from lnn_control.data.bag_writer import EpisodeBagWriter

    bag = tmp_path / "bags" / "sim_loop"
    bag.parent.mkdir()
    with EpisodeBagWriter(bag) as writer:
        for (t, frame), command in zip(frames.items(), commands):
            odom = frame["odom"]
            pose, twist = odom.pose.pose, odom.twist.twist
            writer.write_frame(int(round(t * 1e9)), frame["image"], frame["imu"], command, {
                "position": [pose.position.x, pose.position.y, pose.position.z],
                "quaternion_xyzw": [pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w],
                "body_velocity": [twist.linear.x, twist.linear.y, twist.linear.z],
                "body_rates": [twist.angular.x, twist.angular.y, twist.angular.z]})
    out = tmp_path / "retrained.pt"
    result = subprocess.run([str(BIN / "lnn-control"), "train", "--bags", str(bag.parent), "--model", "cfc",
                             "--out", str(out), "--epochs", "1", "--seed", "0"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    from lnn_control.policy import load_policy

    assert load_policy(out).spec.kind == "cfc"


def test_sim_launch_with_the_expert_reaches_the_target_over_dds(ros_domain_id, repo_root, checkpoint, tmp_path):
    launched = Launched(repo_root / "launch" / "sim.launch.xml",
                        {"model_path": str(checkpoint), "seed": "24", "autopilot": "expert"},
                        tmp_path, repo_root, ros_domain_id, only={"sim_node"})
    try:
        assert launched.wait(lambda: any(o["success"] for o in launched.outcomes), 60), (
            launched.outcomes, launched.logs["sim_node"].read_text())
        wall_s = time.monotonic() - launched.first_clock_wall
        with launched.lock:
            odometry = [(t, f["odom"].pose.pose.position) for t, f in sorted(launched.frames.items()) if "odom" in f]
    finally:
        codes = launched.stop()
    assert codes == {"sim_node": 0}
    success = next(o for o in launched.outcomes if o["success"])
    assert not success["collision"] and success["distance_to_target_m"] < 1.5
    assert 0 < success["time_s"] < 60 and success["path_length_m"] > 5.0
    # faster than real time: the episode's simulated seconds took fewer wall seconds
    assert wall_s < success["time_s"], (wall_s, success)
    assert len(odometry) > 20


SHIPPED_MODEL = share_path("models", "cfc_forest.pt")


@pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason=f"no shipped model at {SHIPPED_MODEL}")
def test_sim_launch_with_the_shipped_model_reaches_the_target_over_dds(ros_domain_id, repo_root, tmp_path):
    launched = Launched(repo_root / "launch" / "sim.launch.xml",
                        {"model_path": str(SHIPPED_MODEL), "seed": "10001", "real_time_factor": "0.0"},
                        tmp_path, repo_root, ros_domain_id)
    try:
        assert launched.wait(lambda: bool(launched.outcomes), 90), "\n".join(
            log.read_text()[-2000:] for log in launched.logs.values())
    finally:
        codes = launched.stop()
    assert codes == {"sim_node": 0, "policy_node": 0}, codes
    outcome = launched.outcomes[0]
    assert outcome["success"] and not outcome["collision"], outcome
    assert outcome["seed"] == 10001 and outcome["path_length_m"] > 5.0


def test_policy_launch_remaps_for_mavros(ros_domain_id, repo_root, checkpoint, tmp_path):
    """policy.launch.xml with MAVROS topics: TwistStamped on /mavros/setpoint_velocity/cmd_vel."""
    [node] = read_launch(repo_root / "launch" / "policy.launch.xml", {"lnn_control": repo_root},
                         {"model_path": str(checkpoint), "cmd_topic": "/mavros/setpoint_velocity/cmd_vel",
                          "imu_topic": "/mavros/imu/data", "image_topic": "/camera/color/image_raw",
                          "stamped": "true"})
    argv = node.command([BIN], tmp_path)
    assert argv[argv.index("--ros-args") + 1:][:2] == ["-r", "__node:=policy_node"]
    assert "cmd_vel:=/mavros/setpoint_velocity/cmd_vel" in argv and "imu/data:=/mavros/imu/data" in argv
    assert node.params["stamped"] is True
