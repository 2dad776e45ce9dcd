"""policy_node as `ros2 run` starts it, over real DDS: commands, bounds, failsafe, services, parameters.

The node runs in its own process (`policy_node --ros-args -p ...`); this process plays the
robot: a test rclpy node publishes camera, IMU (and /clock) messages from a feeder thread,
and records `cmd_vel` and `/diagnostics`. One node process serves each test class (start-up
costs seconds); each class has its own ROS_DOMAIN_ID. The policy is a random-weight CfC
checkpoint written to a temporary folder.
"""
from __future__ import annotations

import itertools
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist, TwistStamped
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, Image, Imu
from std_srvs.srv import SetBool, Trigger

from lnn_control.paths import share_path
from lnn_control.policy import PolicySpec, build_network, load_policy, save_checkpoint
from lnn_control.ros.conversions import rgb_to_image, seconds_to_stamp, vector_to_imu

POLICY_NODE = Path(sys.executable).parent / "policy_node"
IMU_AT_REST = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 9.81], np.float32)
_class_domains = itertools.count((os.getpid() % 29) + 200)  # 200..228: apart from conftest's 100..199


def _scene(seed: int, height: int = 48, width: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A random-weight CfC policy (no trained model ships yet)."""
    import torch

    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("policy") / "random_cfc.pt", build_network(PolicySpec(kind="cfc")))


class RobotSide:
    """The node under test in its own process, and a test node talking to it over DDS."""

    def __init__(self, parameters: dict[str, object], log_path: Path, domain: int):
        self.stamped = bool(parameters.get("stamped", False))
        self.compressed = parameters.get("image_transport") == "compressed"
        self.sim_time = bool(parameters.get("use_sim_time", False))
        self.log_path = log_path
        argv = [str(POLICY_NODE), "--ros-args"]
        for name, value in parameters.items():
            argv += ["-p", f"{name}:={str(value).lower() if isinstance(value, bool) else value}"]
        self._log = open(log_path, "w")
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)

        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("policy_node_test", context=self.context)
        self._lock = threading.Lock()
        self.commands: list[tuple[float, np.ndarray, object]] = []   # (monotonic s, command, header)
        self.diagnostics: list[dict[str, str]] = []
        self.node.create_subscription(TwistStamped if self.stamped else Twist, "cmd_vel", self._on_cmd, 100)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.image_publisher = self.node.create_publisher(
            CompressedImage if self.compressed else Image,
            "camera/image_raw/compressed" if self.compressed else "camera/image_raw", qos_profile_sensor_data)
        self.imu_publisher = self.node.create_publisher(Imu, "imu/data", qos_profile_sensor_data)
        self.clock_publisher = self.node.create_publisher(Clock, "/clock", 10)
        self.reset_client = self.node.create_client(Trigger, "/policy_node/reset")
        self.enable_client = self.node.create_client(SetBool, "/policy_node/enable")
        self.parameter_client = self.node.create_client(SetParameters, "/policy_node/set_parameters")
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self._spinner.start()
        self._wait_until_connected()

    # -- plumbing -----------------------------------------------------------------------------

    def _on_cmd(self, msg) -> None:
        twist, header = (msg.twist, msg.header) if self.stamped else (msg, None)
        with self._lock:
            # float64 as on the wire: a command clipped to a limit equals it exactly
            command = np.array([twist.linear.x, twist.linear.y, twist.linear.z, twist.angular.z])
            self.commands.append((time.monotonic(), command, header))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith("policy_node"):
                with self._lock:
                    self.diagnostics.append({kv.key: kv.value for kv in status.values} | {"message": status.message})

    def _wait_until_connected(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"policy_node exited with {self.process.returncode}:\n{self.log()}")
            if (self.image_publisher.get_subscription_count() and self.imu_publisher.get_subscription_count()
                    and self.node.count_publishers("cmd_vel") and self.reset_client.service_is_ready()
                    and self.enable_client.service_is_ready() and self.parameter_client.service_is_ready()):
                return
            time.sleep(0.05)
        raise AssertionError(f"policy_node did not come up within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def close(self) -> int | None:
        """SIGINT the node (kill it if it hangs); its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.executor.shutdown(timeout_sec=1)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._log.close()
        return self.process.returncode

    # -- what a robot sends -----------------------------------------------------------------

    def image_message(self, rgb: np.ndarray, stamp: float, encoding: str = "rgb8"):
        if self.compressed:
            ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            msg = CompressedImage(format="png", data=png.tobytes())
            msg.header.stamp = seconds_to_stamp(stamp)
            return msg
        return rgb_to_image(rgb, seconds_to_stamp(stamp), "camera", encoding)

    def imu_message(self, imu: np.ndarray, stamp: float) -> Imu:
        return vector_to_imu(imu, seconds_to_stamp(stamp), "imu")

    def publish_clock(self, sim_time: float) -> None:
        self.clock_publisher.publish(Clock(clock=seconds_to_stamp(sim_time)))

    # -- what a test asks ---------------------------------------------------------------------

    def commands_since(self, since: float) -> list[np.ndarray]:
        with self._lock:
            return [cmd for t, cmd, _ in self.commands if t >= since]

    def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            if self.process.poll() is not None:
                raise AssertionError(f"policy_node died ({self.process.returncode}) waiting for {what}:\n{self.log()}")
            time.sleep(0.01)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; node log:\n{self.log()[-3000:]}")

    def call(self, client, request, timeout: float = 5.0):
        future = client.call_async(request)
        return self.wait_for(lambda: future.result() if future.done() else None, timeout,
                             f"a response from {client.srv_name}")

    def set_parameter(self, name: str, value):
        request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
        return self.call(self.parameter_client, request).results[0]

    def latest_diagnostics(self, since: float, timeout: float = 3.0) -> dict[str, str]:
        def fresh():
            with self._lock:
                count = len(self.diagnostics)
            return count > before and self.diagnostics[-1]

        with self._lock:
            before = len(self.diagnostics)
        time.sleep(max(0.0, since - time.monotonic()))
        return self.wait_for(fresh, timeout, "a /diagnostics message")


class Feeder:
    """Publishes camera frames (20 Hz) and IMU (100 Hz) in real time from a thread; each stream
    can be switched to silence or to a message maker producing bad messages."""

    def __init__(self, robot: RobotSide, camera_hz: float = 20.0, imu_hz: float = 100.0):
        self.robot = robot
        self.camera_period, self.imu_period = 1.0 / camera_hz, 1.0 / imu_hz
        self.camera = self.good_camera
        self.imu = self.good_imu
        self.encoding, self.size = "rgb8", (48, 64)
        self._frame = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def good_camera(self, stamp: float):
        self._frame += 1
        return self.robot.image_message(_scene(self._frame % 7, *self.size), stamp, self.encoding)

    def good_imu(self, stamp: float):
        return self.robot.imu_message(IMU_AT_REST + 0.01 * math.sin(stamp), stamp)

    def _run(self) -> None:
        next_camera = next_imu = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_imu:
                next_imu += self.imu_period
                if self.imu is not None:
                    self.robot.imu_publisher.publish(self.imu(time.time()))
            if now >= next_camera:
                next_camera += self.camera_period
                if self.camera is not None:
                    self.robot.image_publisher.publish(self.camera(time.time()))
            time.sleep(max(0.0, min(next_imu, next_camera) - time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _robot(parameters: dict, tmp_path_factory):
    """A RobotSide on a ROS_DOMAIN_ID of its own (set for the node's process too), closed at the end."""
    domain = next(_class_domains) % 29 + 200
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROS_DOMAIN_ID", str(domain))
        patch.setenv("ROS_LOCALHOST_ONLY", "1")
        robot = RobotSide(parameters, tmp_path_factory.mktemp("policy_node") / "policy_node.log", domain)
        try:
            yield robot
        finally:
            robot.close()


LIMITS = {"max_linear_speed": 0.3, "max_yaw_rate": 0.2}
WATCHDOG = 0.3
SLACK = 0.15  # s: DDS delivery and scheduling of two Python processes on a busy 2-core machine
FRAME_ID = "fcu"


@pytest.fixture(scope="class")
def raw_robot(checkpoint, tmp_path_factory):
    yield from _robot({"model_path": checkpoint, "control_rate": 20.0, "watchdog_timeout": WATCHDOG, **LIMITS},
                      tmp_path_factory)


@pytest.fixture(scope="class")
def sim_time_robot(checkpoint, tmp_path_factory):
    yield from _robot({"model_path": checkpoint, "control_rate": 0.0, "image_transport": "compressed",
                       "stamped": True, "frame_id": FRAME_ID, "use_sim_time": True, "watchdog_timeout": 0.5},
                      tmp_path_factory)


def _within_limits(cmd: np.ndarray, limits=LIMITS) -> bool:
    return bool(np.all(np.isfinite(cmd)) and np.all(np.abs(cmd[:3]) <= limits["max_linear_speed"])
                and abs(cmd[3]) <= limits["max_yaw_rate"])


class TestRawImagesAtControlRate:
    """sensor_msgs/Image, Twist, a 20 Hz control timer, real time, tight limits."""

    @pytest.fixture
    def robot(self, raw_robot):
        return raw_robot

    @pytest.fixture
    def feeder(self, robot):
        feeder = Feeder(robot)
        yield feeder
        feeder.close()

    def _running(self, robot: RobotSide, timeout: float = 5.0) -> None:
        """Wait until the node commands something other than zero (the policy flies)."""
        start = time.monotonic()
        robot.wait_for(lambda: any(np.any(c != 0) for c in robot.commands_since(start)), timeout, "non-zero commands")

    def _zero_after(self, robot: RobotSide, start: float, within: float, hold: float = 0.5) -> float:
        """Seconds from `start` until every command is zero, checked to hold for `hold` s."""
        def first_zero_for_good():
            with robot._lock:
                recent = [(t, c) for t, c, _ in robot.commands if t >= start]
            last_nonzero = max((t for t, c in recent if np.any(c != 0)), default=start)
            zeros_after = [t for t, c in recent if t > last_nonzero]
            return (zeros_after[0],) if len(zeros_after) >= 2 else None
        settled = robot.wait_for(first_zero_for_good, within + 2.0, "zero commands")[0] - start
        hold_start = time.monotonic()
        time.sleep(hold)
        held = robot.commands_since(hold_start)
        assert len(held) >= hold * 20 * 0.6, f"zero commands must keep coming at the control rate, got {len(held)} in {hold} s"
        assert all(np.all(c == 0) for c in held)
        assert settled <= within, f"commands became zero only {settled:.3f} s after the fault (allowed {within} s)"
        return settled

    def test_commands_flow_at_the_control_rate_and_stay_within_the_limits(self, robot, feeder):
        self._running(robot)
        start = time.monotonic()
        time.sleep(1.5)
        commands = robot.commands_since(start)
        assert 15 <= len(commands) <= 40, f"{len(commands)} commands in 1.5 s at control_rate 20 Hz"
        assert all(_within_limits(c) for c in commands)
        assert sum(np.any(c != 0) for c in commands) >= len(commands) // 2
        assert len({tuple(c) for c in commands}) > 1, "the policy should react to changing frames"

    @pytest.mark.parametrize("encoding, size", [("bgr8", (48, 64)), ("rgba8", (120, 160)), ("bgra8", (30, 40)),
                                                ("mono8", (96, 128))])
    def test_every_encoding_and_size_is_flown(self, robot, feeder, encoding, size):
        self._running(robot)
        before = robot.latest_diagnostics(time.monotonic())
        feeder.encoding, feeder.size = encoding, size
        time.sleep(0.3)
        start = time.monotonic()
        time.sleep(1.2)
        commands = robot.commands_since(start)
        assert len(commands) >= 12 and all(_within_limits(c) for c in commands)
        assert sum(np.any(c != 0) for c in commands) >= len(commands) - 1
        after = robot.latest_diagnostics(time.monotonic())
        assert after["invalid_camera_messages"] == before["invalid_camera_messages"]
        feeder.encoding, feeder.size = "rgb8", (48, 64)

    @pytest.mark.parametrize("silent", ["camera", "imu", "both"])
    def test_silence_gives_zero_velocity_within_the_watchdog(self, robot, feeder, silent):
        self._running(robot)
        start = time.monotonic()
        if silent in ("camera", "both"):
            feeder.camera = None
        if silent in ("imu", "both"):
            feeder.imu = None
        # the watchdog timeout, plus up to one control period to notice it
        self._zero_after(robot, start, within=WATCHDOG + 0.05 + SLACK)
        assert robot.latest_diagnostics(time.monotonic())["state"] == "stale"
        feeder.camera, feeder.imu = feeder.good_camera, feeder.good_imu
        self._running(robot)

    @staticmethod
    def _bad_image(change: dict):
        def make(stamp: float) -> Image:
            msg = rgb_to_image(_scene(1), seconds_to_stamp(stamp), "camera", "rgb8")
            for field, value in change.items():
                setattr(msg, field, value)
            return msg
        return make

    @staticmethod
    def _bad_imu(axis: str, value: float):
        def make(stamp: float) -> Imu:
            msg = vector_to_imu(IMU_AT_REST, seconds_to_stamp(stamp), "imu")
            setattr(msg.linear_acceleration if axis.startswith("a") else msg.angular_velocity, axis[1], value)
            return msg
        return make

    @pytest.mark.parametrize("stream, kind", [
        ("camera", "unsupported encoding"), ("camera", "step/size mismatch"), ("camera", "truncated data"),
        ("camera", "empty image"), ("imu", "NaN gyro"), ("imu", "Inf accelerometer"),
    ])
    def test_each_kind_of_bad_message_gives_zero_and_the_node_survives(self, robot, feeder, stream, kind):
        makers = {
            "unsupported encoding": self._bad_image({"encoding": "32FC1"}),
            "step/size mismatch": self._bad_image({"step": 64 * 3 + 4}),
            "truncated data": self._bad_image({"data": bytes(100)}),
            "empty image": self._bad_image({"height": 0, "width": 0, "step": 0, "data": b""}),
            "NaN gyro": self._bad_imu("gx", math.nan),
            "Inf accelerometer": self._bad_imu("az", math.inf),
        }
        self._running(robot)
        start = time.monotonic()
        setattr(feeder, stream, makers[kind])
        # the next bad message (camera 50 ms, IMU 10 ms apart) + one control period
        self._zero_after(robot, start, within=0.05 + 0.05 + SLACK)
        diagnostics = robot.latest_diagnostics(time.monotonic())
        assert diagnostics["state"] == "invalid" and f"invalid {stream} message" in diagnostics["message"]
        assert int(diagnostics[f"invalid_{stream}_messages"]) > 0
        assert robot.process.poll() is None
        setattr(feeder, stream, getattr(feeder, f"good_{stream}"))
        self._running(robot)
        assert all(_within_limits(c) for c in robot.commands_since(start))
        assert "refusing" in robot.log()

    def test_disable_gives_zero_until_enabled_again(self, robot, feeder):
        self._running(robot)
        response = robot.call(robot.enable_client, SetBool.Request(data=False))
        assert response.success and "disabled" in response.message
        self._zero_after(robot, time.monotonic() - 0.001, within=SLACK)
        assert robot.latest_diagnostics(time.monotonic())["state"] == "disabled"
        response = robot.call(robot.enable_client, SetBool.Request(data=True))
        assert response.success and response.message == "enabled"
        self._running(robot, timeout=1.0)
        assert robot.latest_diagnostics(time.monotonic())["state"] == "running"

    def test_reset_service_answers(self, robot, feeder):
        self._running(robot)
        response = robot.call(robot.reset_client, Trigger.Request())
        assert response.success and "cleared" in response.message
        self._running(robot, timeout=1.0)

    def test_limits_change_at_run_time_and_bad_values_are_refused_with_a_reason(self, robot, feeder):
        self._running(robot)
        assert robot.set_parameter("max_linear_speed", 0.05).successful
        assert robot.set_parameter("max_yaw_rate", 0).successful   # an integer is taken as 0.0
        time.sleep(0.15)
        start = time.monotonic()
        time.sleep(0.5)
        tight = {"max_linear_speed": 0.05, "max_yaw_rate": 0.0}
        commands = robot.commands_since(start)
        assert len(commands) >= 5 and all(_within_limits(c, tight) for c in commands)
        refused = robot.set_parameter("max_linear_speed", -1.0)
        assert not refused.successful and "out of range" in refused.reason
        refused = robot.set_parameter("watchdog_timeout", "soon")
        assert not refused.successful and "type" in refused.reason.lower()
        refused = robot.set_parameter("model_path", "/elsewhere.pt")
        assert not refused.successful and "read-only" in refused.reason.lower()
        refused = robot.set_parameter("frame_id", "")
        assert not refused.successful and "frame_id: must not be empty" in refused.reason
        for name, value in LIMITS.items():
            assert robot.set_parameter(name, value).successful

    def test_diagnostics_report_rates_latency_and_state(self, robot, feeder):
        self._running(robot)
        time.sleep(1.0)
        diagnostics = robot.latest_diagnostics(time.monotonic())
        assert diagnostics["state"] == "running" and diagnostics["message"] == "running"
        assert 12 <= float(diagnostics["camera_rate_hz"]) <= 28
        assert 40 <= float(diagnostics["imu_rate_hz"]) <= 140
        assert 0 < float(diagnostics["step_latency_mean_ms"]) <= float(diagnostics["step_latency_max_ms"]) < 200

    def test_sigint_publishes_zero_and_exits_cleanly(self, robot, feeder):
        self._running(robot)  # and input keeps coming: only the shutdown itself can command zero
        robot.process.send_signal(signal.SIGINT)
        assert robot.process.wait(timeout=10) == 0
        time.sleep(0.2)
        with robot._lock:
            last = robot.commands[-1][1]
        assert np.all(last == 0)
        assert "Traceback" not in robot.log() and "shutting down" in robot.log()


class TestCompressedStampedSimTime:
    """sensor_msgs/CompressedImage (PNG), TwistStamped, a step on every frame, use_sim_time:
    the test drives /clock and steps the node frame by frame, comparing its commands with the
    same policy run here."""

    @pytest.fixture
    def robot(self, sim_time_robot):
        return sim_time_robot

    @pytest.fixture
    def policy(self, checkpoint):
        return load_policy(checkpoint)

    def _frame(self, robot: RobotSide, sim_time: float, image: np.ndarray, imu=IMU_AT_REST, timeout: float = 3.0):
        """Clock, IMU and a frame at `sim_time`; the node's command for that frame (and its header)."""
        robot.publish_clock(sim_time)
        robot.imu_publisher.publish(robot.imu_message(imu, sim_time))
        time.sleep(0.03)  # clock and IMU first (separate topics are not ordered), and any zero from the
        # failsafe timer woken by the clock jump comes before the frame's command
        with robot._lock:
            count = len(robot.commands)
        robot.image_publisher.publish(robot.image_message(image, sim_time))
        robot.wait_for(lambda: len(robot.commands) > count, timeout, f"the command for the frame at {sim_time}")
        with robot._lock:
            _, command, header = robot.commands[count]
        return command, header

    def test_steps_on_every_frame_with_dt_from_the_stamps_in_sim_time(self, robot, policy):
        image = _scene(3)
        stamps = [50.0, 50.05, 50.15, 50.175]  # 50 ms, a dropped frame (100 ms), 25 ms
        expected_dts = [policy.spec.nominal_dt, 0.05, 0.1, 0.025]
        policy.reset()
        for k, (stamp, dt) in enumerate(zip(stamps, expected_dts)):
            command, header = self._frame(robot, stamp, image, timeout=10.0 if k == 0 else 3.0)
            expected = policy.step(image, IMU_AT_REST, dt)
            np.testing.assert_allclose(command, expected, atol=1e-5, err_msg=f"frame {k} (dt {dt})")
            assert header.frame_id == FRAME_ID
            assert stamps[0] <= header.stamp.sec + header.stamp.nanosec * 1e-9 <= stamp + 1e-6

    def test_reset_service_restarts_the_recurrent_state(self, robot, policy):
        image = _scene(4)
        for k in range(5):
            steady, _ = self._frame(robot, 60.0 + 0.05 * k, image)
        response = robot.call(robot.reset_client, Trigger.Request())
        assert response.success
        after_reset, _ = self._frame(robot, 60.25, image)
        policy.reset()
        fresh = policy.step(image, IMU_AT_REST, policy.spec.nominal_dt)
        np.testing.assert_allclose(after_reset, fresh, atol=1e-5)
        assert not np.allclose(steady, fresh, atol=1e-4), "five steps should have moved the state"

    def test_a_gap_in_the_stamps_restarts_the_recurrent_state(self, robot, policy):
        image = _scene(5)
        for k in range(3):
            self._frame(robot, 70.0 + 0.05 * k, image)
        after_gap, _ = self._frame(robot, 75.0, image)  # 4.9 s later: past the 0.5 s watchdog
        policy.reset()
        np.testing.assert_allclose(after_gap, policy.step(image, IMU_AT_REST, policy.spec.nominal_dt), atol=1e-5)

    def test_input_returning_after_a_bad_frame_restarts_the_recurrent_state(self, robot, policy):
        image = _scene(7)
        for k in range(3):
            self._frame(robot, 90.0 + 0.05 * k, image)
        ok, png = cv2.imencode(".png", image)
        bad = CompressedImage(format="png", data=png.tobytes()[:100])
        bad.header.stamp = seconds_to_stamp(90.15)
        robot.publish_clock(90.15)
        robot.image_publisher.publish(bad)
        time.sleep(0.05)
        # 0.1 s after the last good frame: well within the watchdog, but the bad frame was a fault
        after_fault, _ = self._frame(robot, 90.2, image)
        policy.reset()
        np.testing.assert_allclose(after_fault, policy.step(image, IMU_AT_REST, policy.spec.nominal_dt), atol=1e-5)

    @pytest.mark.parametrize("bad", ["truncated", "garbage", "empty"])
    def test_bad_compressed_images_give_zero_at_the_control_rate(self, robot, bad):
        self._frame(robot, 80.0, _scene(6))
        ok, png = cv2.imencode(".png", _scene(6))
        data = {"truncated": png.tobytes()[:200], "garbage": b"\xff\xd8 not a jpeg \xff\xd9", "empty": b""}[bad]
        msg = CompressedImage(format="png", data=data)
        msg.header.stamp = seconds_to_stamp(80.05)
        start = time.monotonic()
        robot.image_publisher.publish(msg)
        for k in range(1, 40):  # sim time goes on: the failsafe timer runs on it
            robot.publish_clock(80.05 + 0.01 * k)
            robot.imu_publisher.publish(robot.imu_message(IMU_AT_REST, 80.05 + 0.01 * k))
            time.sleep(0.01)
        commands = robot.commands_since(start)
        assert len(commands) >= 3 and all(np.all(c == 0) for c in commands), commands
        assert robot.process.poll() is None
        command, _ = self._frame(robot, 80.5, _scene(6))
        assert np.any(command != 0) and np.all(np.isfinite(command))


def test_a_missing_model_stops_the_node_with_one_clear_line(ros_domain_id, tmp_path):
    missing = tmp_path / "no_such_model.pt"
    result = subprocess.run([str(POLICY_NODE), "--ros-args", "-p", f"model_path:={missing}"],
                            capture_output=True, text=True, timeout=60)
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 1 and "FATAL" in lines[0] and str(missing) in lines[0] and "no such file" in lines[0]


def test_the_default_model_path_is_the_shipped_model(ros_domain_id):
    if share_path("models", "cfc_forest.pt").is_file():
        pytest.skip("a trained model ships: the node would start")
    result = subprocess.run([str(POLICY_NODE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"model_path {share_path('models', 'cfc_forest.pt')}: no such file" in result.stderr


def test_a_corrupt_model_stops_the_node_with_one_clear_line(ros_domain_id, tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"this is not a checkpoint")
    result = subprocess.run([str(POLICY_NODE), "--ros-args", "-p", f"model_path:={corrupt}"],
                            capture_output=True, text=True, timeout=60)
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 1 and "FATAL" in lines[0] and str(corrupt) in lines[0] and "cannot load" in lines[0]


@pytest.mark.parametrize("argument, reason", [
    ("control_rate:=-3", "out of range"),
    ("image_transport:=theora", "bad parameter image_transport: 'theora' is not one of raw, compressed"),
    ("watchdog_timeout:=0.0", "out of range"),
])
def test_bad_parameters_stop_the_node_with_the_reason(ros_domain_id, tmp_path, checkpoint, argument, reason):
    result = subprocess.run([str(POLICY_NODE), "--ros-args", "-p", f"model_path:={checkpoint}", "-p", argument],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and reason in result.stderr and "Traceback" not in result.stderr


def test_the_parameter_file_matches_the_node_defaults(repo_root):
    import yaml

    from lnn_control.ros.policy_node import PARAMETERS

    params = yaml.safe_load((repo_root / "config" / "policy_node.yaml").read_text())["policy_node"]["ros__parameters"]
    assert params == PARAMETERS.defaults()


def test_the_launch_file_starts_the_node_with_the_parameter_file(ros_domain_id, repo_root, checkpoint, tmp_path):
    from launch_xml import read_launch

    [node] = read_launch(repo_root / "launch" / "policy.launch.xml", {"lnn_control": repo_root},
                         {"model_path": str(checkpoint), "max_yaw_rate": "0.5"})
    log_path = tmp_path / "launched.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(node.command([POLICY_NODE.parent], tmp_path), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while "loaded" not in log_path.read_text() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            process.send_signal(signal.SIGINT)
            returncode = process.wait(timeout=10)
    text = log_path.read_text()
    assert returncode == 0, text
    assert f"policy {checkpoint} loaded; stepping on every frame, limits 2 m/s, 0.5 rad/s, watchdog 0.5 s" in text
