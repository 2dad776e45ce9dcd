"""policy_node as `ros2 run` starts it, over real DDS: commands, bounds, failsafe, services, parameters.

The node runs in its own process (`policy_node --ros-args -p ...`); this process plays the
robot: a test rclpy node publishes camera, IMU and /clock messages and records `cmd_vel` and
`/diagnostics`. One node process serves each test class (start-up costs seconds), on a
ROS_DOMAIN_ID of its own. The policy is a random-weight CfC checkpoint written to a temporary
folder.

No test depends on how fast this machine is. Two classes run the node on simulated time
(`use_sim_time:=true`, `stamped:=true`): the test publishes /clock itself, so the control
timer, the failsafe's timer, the watchdog and dt all run on time the test steps, and every
command carries the node's clock in its header. The test steps the clock and waits for the
command stamped at that time (a generous wall-clock deadline, left as soon as it comes), so
"one command per control period" or "zero from the first period past the watchdog" are exact
statements about simulated time. The one allowance: a camera or IMU message and the /clock
message sent after it are on different topics, and when both wait, the node's executor takes
/clock first, so the node may take the message one control period later than it was sent.
Nothing is sent twice while the node may still take the first copy. One class runs on the wall
clock, as on a robot, and asserts only what must happen eventually, within a generous deadline.
"""
from __future__ import annotations

import contextlib
import math
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist, TwistStamped
from rcl_interfaces.srv import SetParameters
from rclpy.qos import qos_profile_sensor_data
from ros_domains import domain_of_its_own
from ros_harness import STOP_S, NodesUnderTest, matched, parameter_request, ros_argv, start_process, stop_processes
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, Image, Imu
from std_srvs.srv import SetBool, Trigger

from lnn_control.paths import share_path
from lnn_control.policy import load_policy
from lnn_control.ros.conversions import rgb_to_image, seconds_to_stamp, vector_to_imu

POLICY_NODE = Path(sys.executable).parent / "policy_node"
IMU_AT_REST = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 9.81], np.float32)
PERIOD = 50_000_000        # ns: the 20 Hz control period, and the failsafe's 20 Hz when control_rate is 0
WAIT_S = 300.0             # wall s: the longest any one wait may take (it returns as soon as it can)
START_S = 180.0            # wall s for the node to start and DDS to match both ends
RESEND_S = 1.0             # wall s: a wait sends its best-effort /clock (and frame) again this often
BURST_PERIODS = 200        # /clock periods sent back to back by the burst test


def _scene(seed: int, height: int = 48, width: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def _time(ns: int) -> Time:
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _ns(stamp: Time) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def _seconds(ns: int) -> float:
    return ns * 1e-9


@dataclass
class Command:
    value: np.ndarray          # [vx, vy, vz, yaw_rate], float64 as on the wire
    stamp: int | None          # header stamp, ns (TwistStamped)
    frame_id: str | None
    wall: float                # time.monotonic() at arrival


@dataclass
class Report:
    stamp: int                 # header stamp, ns (the node's clock)
    values: dict[str, str]     # the status's key/values, plus "message"
    wall: float


class RobotSide(NodesUnderTest):
    """The node under test in its own process, and a test node talking to it over DDS."""

    wait_s = WAIT_S

    def __init__(self, parameters: dict[str, object], log_path: Path, domain: int):
        self.stamped = bool(parameters.get("stamped", False))
        self.compressed = parameters.get("image_transport") == "compressed"
        self.sim_time = bool(parameters.get("use_sim_time", False))
        self.clock_ns = 0                      # the last /clock value sent
        self.input_ns = 0                      # the clock when the last camera and IMU messages were sent
        self.flying = False                    # whether the node flew the last frame (a test's own bookkeeping)
        self.commands: list[Command] = []
        self.reports: list[Report] = []
        super().__init__(domain, "policy_node_test", {"policy_node": (ros_argv(POLICY_NODE, parameters), log_path)})

    # -- plumbing -----------------------------------------------------------------------------

    def connect(self, node) -> None:
        self.cmd_subscription = node.create_subscription(
            TwistStamped if self.stamped else Twist, "cmd_vel", self._on_cmd, 1000)
        self.diagnostics_subscription = node.create_subscription(
            DiagnosticArray, "/diagnostics", self._on_diagnostics, 100)
        self.image_publisher = node.create_publisher(
            CompressedImage if self.compressed else Image,
            "camera/image_raw/compressed" if self.compressed else "camera/image_raw", qos_profile_sensor_data)
        self.imu_publisher = node.create_publisher(Imu, "imu/data", qos_profile_sensor_data)
        self.clock_publisher = node.create_publisher(Clock, "/clock", 10)
        self.reset_client = node.create_client(Trigger, "/policy_node/reset")
        self.enable_client = node.create_client(SetBool, "/policy_node/enable")
        self.parameter_client = node.create_client(SetParameters, "/policy_node/set_parameters")

    def _on_cmd(self, msg) -> None:
        twist, header = (msg.twist, msg.header) if self.stamped else (msg, None)
        # float64 as on the wire: a command clipped to a limit equals it exactly
        value = np.array([twist.linear.x, twist.linear.y, twist.linear.z, twist.angular.z])
        self._record(self.commands, Command(value, _ns(header.stamp) if header else None,
                                            header.frame_id if header else None, time.monotonic()))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith("policy_node"):
                values = {kv.key: kv.value for kv in status.values} | {"message": status.message}
                self._record(self.reports, Report(_ns(msg.header.stamp), values, time.monotonic()))

    def wait_until_matched(self) -> None:
        """Until DDS has matched every topic and service of the test with the node's."""
        endpoints = [self.image_publisher, self.imu_publisher, self.cmd_subscription, self.diagnostics_subscription,
                     self.reset_client, self.enable_client, self.parameter_client]
        if self.sim_time:
            endpoints.append(self.clock_publisher)
        self.wait_for(lambda: matched(endpoints), "the node to start and DDS to match its topics and services",
                      timeout=START_S)

    # -- what a robot sends -------------------------------------------------------------------

    def image_message(self, rgb: np.ndarray, stamp: int, encoding: str = "rgb8"):
        if self.compressed:
            ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            msg = CompressedImage(format="png", data=png.tobytes())
            msg.header.stamp = _time(stamp)
            return msg
        return rgb_to_image(rgb, _time(stamp), "camera", encoding)

    def imu_message(self, imu: np.ndarray, stamp: int) -> Imu:
        return vector_to_imu(imu, _time(stamp), "imu")

    def publish_clock(self, ns: int) -> None:
        self.clock_ns = ns
        self.clock_publisher.publish(Clock(clock=_time(ns)))

    # -- what a test asks -----------------------------------------------------------------------

    def count(self) -> int:
        with self.lock:
            return len(self.commands)

    def commands_since(self, index: int) -> list[Command]:
        with self.lock:
            return self.commands[index:]

    def stamped_at(self, ns: int, since: int = 0, nonzero: bool = False) -> Command | None:
        """The first command (from index `since`) stamped `ns` (non-zero if asked); call under the lock."""
        for command in self.commands[since:]:
            if command.stamp == ns and (not nonzero or np.any(command.value != 0)):
                return command
        return None

    def command_at(self, ns: int, settle: float | None = None) -> np.ndarray | None:
        """Step /clock to `ns`; the command stamped `ns` (what a timer publishes as the clock passes
        a period). A best-effort /clock message may be lost, so it is sent again while waiting. With
        `settle`, a command need not come: None after `settle` wall s."""
        self.publish_clock(ns)
        if settle is not None:
            deadline = time.monotonic() + settle
            found = self.wait_for(lambda: self.stamped_at(ns) or time.monotonic() > deadline,
                                  f"a command stamped {_seconds(ns):.3f}", every=RESEND_S,
                                  then=lambda: self.publish_clock(ns))
            return found.value if isinstance(found, Command) else None
        return self.wait_for(lambda: self.stamped_at(ns), f"the command stamped {_seconds(ns):.3f}",
                             every=RESEND_S, then=lambda: self.publish_clock(ns)).value

    def start_clock(self, ns: int) -> None:
        """Bring the node's clock to `ns` or later: step it a period at a time until a command comes
        back (while DDS is still matching the two ends, messages are lost), then wait for the
        command of the last step, so that the node's clock is `self.clock_ns`."""
        since = self.count()
        self.publish_clock(ns)
        self.wait_for(lambda: len(self.commands) > since, "a first command on simulated time", every=0.5,
                      then=lambda: self.publish_clock(self.clock_ns + PERIOD))
        self.command_at(self.clock_ns)

    def set_parameter(self, name: str, value):
        return self.call(self.parameter_client, parameter_request(name, value)).results[0]

    def report_at(self, ns: int) -> dict[str, str]:
        """The first /diagnostics report stamped `ns` or later: the node's state once its clock had
        reached `ns` (the report comes once a wall second)."""
        return self.wait_for(lambda: next((r.values for r in self.reports if r.stamp >= ns), None),
                             f"a /diagnostics report stamped {_seconds(ns):.3f} or later")

    def report_after(self, index: int, condition=lambda values: True) -> dict[str, str]:
        """The first /diagnostics report from index `index` on that satisfies `condition`."""
        return self.wait_for(lambda: next((r.values for r in self.reports[index:] if condition(r.values)), None),
                             "a /diagnostics report")

    def report_count(self) -> int:
        with self.lock:
            return len(self.reports)


@contextlib.contextmanager
def _robot(parameters: dict, tmp_path_factory):
    """A RobotSide on a ROS_DOMAIN_ID of its own (set for the node's process too), matched with
    the node; stopped at the end."""
    with domain_of_its_own() as domain:
        robot = RobotSide(parameters, tmp_path_factory.mktemp("policy_node") / "policy_node.log", domain)
        try:
            robot.wait_until_matched()
            yield robot
        finally:
            robot.stop()


LIMITS = {"max_linear_speed": 0.3, "max_yaw_rate": 0.2}
WATCHDOG = 320_000_000     # ns (0.32 s): not a whole number of periods, so no tick sits on the boundary
FRAME_ID = "fcu"


def _within_limits(cmd: np.ndarray, limits=LIMITS) -> bool:
    return bool(np.all(np.isfinite(cmd)) and np.all(np.abs(cmd[:3]) <= limits["max_linear_speed"])
                and abs(cmd[3]) <= limits["max_yaw_rate"])


def _zero(cmd: np.ndarray) -> bool:
    return bool(np.all(cmd == 0))


class SteppedInputs:
    """Camera and IMU messages that the test sends one control period at a time, in simulated
    time; each stream can be switched to silence or to a maker of bad messages."""

    def __init__(self, robot: RobotSide):
        self.robot = robot
        self.camera = self.good_camera
        self.imu = self.good_imu
        self.encoding, self.size = "rgb8", (48, 64)
        self._frame = 0

    def good_camera(self, stamp: int):
        self._frame += 1
        return self.robot.image_message(_scene(self._frame % 7, *self.size), stamp, self.encoding)

    def good_imu(self, stamp: int):
        return self.robot.imu_message(IMU_AT_REST + 0.01 * math.sin(_seconds(stamp)), stamp)

    def tick(self, half_step: bool = False) -> np.ndarray:
        """One control period: an IMU reading and a frame, stamped at the node's present time,
        then /clock one period on; the command the control timer publishes then.

        One reading per frame: the node's executor takes one message per topic per round, so a
        burst of readings would be taken over several rounds, some after the next /clock, and
        the watchdog would see them later than they were sent."""
        now = self.robot.clock_ns
        if self.imu is not None:
            self.robot.imu_publisher.publish(self.imu(now))
        if self.camera is not None:
            self.robot.image_publisher.publish(self.camera(now))
        if half_step:  # a clock message between two periods: no timer runs on it
            self.robot.publish_clock(now + PERIOD // 2)
        return self.robot.command_at(now + PERIOD)

    def ticks(self, n: int) -> dict[int, np.ndarray]:
        """`n` ticks: their commands by stamp (ns)."""
        commands = {}
        for _ in range(n):
            stamp = self.robot.clock_ns + PERIOD
            commands[stamp] = self.tick()
        return commands

    def until_running(self, at_most: int | None = None) -> np.ndarray:
        """Tick until the node commands something other than zero (the policy flies): the first
        such command. Within `at_most` ticks, or by default within WAIT_S wall seconds (at the start,
        the node drops what DDS delivers before it has matched the test's publishers)."""
        deadline = time.monotonic() + WAIT_S
        ticks = 0
        while (ticks < at_most) if at_most is not None else (time.monotonic() < deadline):
            command = self.tick()
            ticks += 1
            if not _zero(command):
                return command
        raise AssertionError(f"still zero after {ticks} control periods:\n{self.robot.log_tails()}")


@pytest.fixture(scope="class")
def stepped_robot(checkpoint, tmp_path_factory):
    robot_parameters = {"model_path": checkpoint, "control_rate": 20.0, "watchdog_timeout": WATCHDOG * 1e-9,
                        "use_sim_time": True, "stamped": True, **LIMITS}
    with _robot(robot_parameters, tmp_path_factory) as robot:
        robot.start_clock(100 * 1_000_000_000)
        yield robot


class TestRawImagesAtControlRate:
    """sensor_msgs/Image, a 20 Hz control timer on simulated time, tight limits, a 0.32 s watchdog."""

    @pytest.fixture
    def robot(self, stepped_robot):
        return stepped_robot

    @pytest.fixture
    def inputs(self, robot):
        inputs = SteppedInputs(robot)
        yield inputs
        # whatever a test did, the next one starts from a flying node with the class's limits
        robot.call(robot.enable_client, SetBool.Request(data=True))
        for name, value in LIMITS.items():
            robot.set_parameter(name, value)

    def test_one_command_per_control_period_of_simulated_time_within_the_limits(self, robot, inputs):
        inputs.until_running()
        first, start = robot.count(), robot.clock_ns
        commands = [inputs.tick(half_step=True) for _ in range(30)]
        received = robot.commands_since(first)   # cmd_vel is reliable and ordered: nothing is still on its way
        assert [c.stamp for c in received] == [start + k * PERIOD for k in range(1, 31)], \
            "exactly one command per control period, none on the half periods"
        assert all(c.frame_id == "base_link" for c in received)
        assert all(_within_limits(c) and not _zero(c) for c in commands)
        assert len({tuple(c) for c in commands}) > 1, "the policy should react to changing frames"
        # the timer runs on the node's clock: while /clock stands still, no command comes
        reports = robot.report_count()
        robot.report_after(reports)
        robot.report_after(reports + 1)  # a whole diagnostics period (a wall second) later
        assert robot.count() == first + 30

    def test_a_burst_of_clock_messages_never_runs_the_timer_twice_for_one_period(self, robot, inputs):
        # /clock half and whole periods back to back, without waiting: the node may take several
        # before its timer runs (then one command covers them), but a period never gets two, and
        # the timer keeps its period afterwards (rclpy's events executor fails both)
        inputs.until_running()
        first, start = robot.count(), robot.clock_ns
        for k in range(BURST_PERIODS):
            robot.publish_clock(start + k * PERIOD + PERIOD // 2)
            robot.publish_clock(start + (k + 1) * PERIOD)
        end = robot.clock_ns
        robot.command_at(end)
        stamps = [c.stamp for c in robot.commands_since(first)]
        assert stamps == sorted(set(stamps)), f"a period got two commands: {sorted(stamps)}"
        assert all(start < s <= end for s in stamps)
        assert robot.command_at(end + PERIOD) is not None, "the timer should run on the next period"

    @pytest.mark.parametrize("encoding, size", [("bgr8", (48, 64)), ("rgba8", (120, 160)), ("bgra8", (30, 40)),
                                                ("mono8", (96, 128))])
    def test_every_encoding_and_size_is_flown(self, robot, inputs, encoding, size):
        inputs.until_running()
        before = robot.report_at(robot.clock_ns)
        inputs.encoding, inputs.size = encoding, size
        commands = list(inputs.ticks(12).values())
        assert all(_within_limits(c) and not _zero(c) for c in commands)
        after = robot.report_at(robot.clock_ns)
        assert after["state"] == "running"
        assert after["invalid_camera_messages"] == before["invalid_camera_messages"]

    @pytest.mark.parametrize("silent", ["camera", "imu", "both"])
    def test_silence_gives_zero_velocity_within_the_watchdog(self, robot, inputs, silent):
        inputs.until_running()
        # the last messages went out a period before this: the node took them then (or, after the
        # next /clock, now), and from that time the watchdog counts
        silent_from = robot.clock_ns
        if silent in ("camera", "both"):
            inputs.camera = None
        if silent in ("imu", "both"):
            inputs.imu = None
        first = robot.count()
        commands = inputs.ticks(12)
        for stamp, command in commands.items():
            if stamp <= silent_from - PERIOD + WATCHDOG:
                assert not _zero(command), f"zero {_seconds(stamp - silent_from):.2f} s in: within the watchdog"
            if stamp > silent_from + WATCHDOG:
                assert _zero(command), f"{command} {_seconds(stamp - silent_from):.2f} s into the silence"
        # ... and the zeros come at the control rate: one command every period, none missing
        assert [c.stamp for c in robot.commands_since(first)] == list(commands)
        assert robot.report_at(robot.clock_ns)["state"] == "stale"
        inputs.camera, inputs.imu = inputs.good_camera, inputs.good_imu
        inputs.until_running(at_most=3)

    @staticmethod
    def _bad_image(change: dict):
        def make(stamp: int) -> Image:
            msg = rgb_to_image(_scene(1), _time(stamp), "camera", "rgb8")
            for field, value in change.items():
                setattr(msg, field, value)
            return msg
        return make

    @staticmethod
    def _bad_imu(axis: str, value: float):
        def make(stamp: int) -> Imu:
            msg = vector_to_imu(IMU_AT_REST, _time(stamp), "imu")
            setattr(msg.linear_acceleration if axis.startswith("a") else msg.angular_velocity, axis[1], value)
            return msg
        return make

    @pytest.mark.parametrize("stream, kind", [
        ("camera", "unsupported encoding"), ("camera", "step/size mismatch"), ("camera", "truncated data"),
        ("camera", "empty image"), ("imu", "NaN gyro"), ("imu", "Inf accelerometer"),
    ])
    def test_each_kind_of_bad_message_gives_zero_and_the_node_survives(self, robot, inputs, stream, kind):
        makers = {
            "unsupported encoding": self._bad_image({"encoding": "32FC1"}),
            "step/size mismatch": self._bad_image({"step": 64 * 3 + 4}),
            "truncated data": self._bad_image({"data": bytes(100)}),
            "empty image": self._bad_image({"height": 0, "width": 0, "step": 0, "data": b""}),
            "NaN gyro": self._bad_imu("gx", math.nan),
            "Inf accelerometer": self._bad_imu("az", math.inf),
        }
        inputs.until_running()
        first, bad_from = robot.count(), robot.clock_ns
        setattr(inputs, stream, makers[kind])
        commands = inputs.ticks(8)
        # the first bad message is taken at `bad_from` (or a period later): zero at the next period on
        assert all(_zero(c) for s, c in commands.items() if s >= bad_from + 2 * PERIOD), commands
        diagnostics = robot.report_at(robot.clock_ns)
        assert diagnostics["state"] == "invalid" and f"invalid {stream} message" in diagnostics["message"]
        assert int(diagnostics[f"invalid_{stream}_messages"]) > 0
        assert robot.process.poll() is None
        setattr(inputs, stream, getattr(inputs, f"good_{stream}"))
        inputs.until_running(at_most=3)
        assert all(_within_limits(c.value) for c in robot.commands_since(first))
        robot.wait_for(lambda: "refusing" in robot.log(), "the refusal in the node's log")

    def test_disable_gives_zero_until_enabled_again(self, robot, inputs):
        inputs.until_running()
        response = robot.call(robot.enable_client, SetBool.Request(data=False))
        assert response.success and "disabled" in response.message
        # the node took the request before the clock moved on: every period from here is zero
        assert all(_zero(c) for c in inputs.ticks(6).values())
        assert robot.report_at(robot.clock_ns)["state"] == "disabled"
        response = robot.call(robot.enable_client, SetBool.Request(data=True))
        assert response.success and response.message == "enabled"
        inputs.until_running(at_most=2)  # the next frame flies (one period later if it crossed the clock)
        assert robot.report_at(robot.clock_ns)["state"] == "running"

    def test_reset_service_answers(self, robot, inputs):
        inputs.until_running()
        response = robot.call(robot.reset_client, Trigger.Request())
        assert response.success and "cleared" in response.message
        inputs.until_running(at_most=2)

    def test_limits_change_at_run_time_and_bad_values_are_refused_with_a_reason(self, robot, inputs):
        inputs.until_running()
        assert robot.set_parameter("max_linear_speed", 0.05).successful
        assert robot.set_parameter("max_yaw_rate", 0).successful   # an integer is taken as 0.0
        tight = {"max_linear_speed": 0.05, "max_yaw_rate": 0.0}
        commands = list(inputs.ticks(8).values())
        assert all(_within_limits(c, tight) for c in commands) and any(not _zero(c) for c in commands)
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
        assert all(_within_limits(c) for c in inputs.ticks(4).values())

    def test_diagnostics_report_state_ages_latency_and_the_command(self, robot, inputs):
        inputs.until_running()
        # a report over a (wall) second of steps: keep stepping until one comes
        start, deadline = robot.clock_ns, time.monotonic() + WAIT_S

        def stepped_report():
            return next((r.values for r in robot.reports if r.stamp > start
                         and math.isfinite(float(r.values["step_latency_mean_ms"]))), None)
        diagnostics = None
        while diagnostics is None:
            assert time.monotonic() < deadline, "no /diagnostics report over steps"
            inputs.tick()
            with robot.lock:
                diagnostics = stepped_report()
        assert diagnostics["state"] == "running" and diagnostics["message"] == "running"
        assert 0 < float(diagnostics["step_latency_mean_ms"]) <= float(diagnostics["step_latency_max_ms"])
        assert math.isfinite(float(diagnostics["step_latency_max_ms"]))
        assert float(diagnostics["step_rate_hz"]) > 0 and float(diagnostics["camera_rate_hz"]) > 0
        assert diagnostics["invalid_camera_messages"].isdigit() and diagnostics["invalid_imu_messages"].isdigit()
        # with the clock standing still, the second report from now shows the last tick's state:
        # its command, and ages on the node's clock (the last frame and IMU reading were taken a
        # period before, or at, the present time)
        last = inputs.tick()
        reports = robot.report_count()
        robot.report_after(reports)
        diagnostics = robot.report_after(reports + 1)
        assert diagnostics["command"] == " ".join(f"{v:.3f}" for v in last)
        assert float(diagnostics["camera_age_s"]) in (0.0, 0.05) and float(diagnostics["imu_age_s"]) in (0.0, 0.05)


def step_frame(robot: RobotSide, stamp: int, image: np.ndarray, imu=IMU_AT_REST) -> tuple[np.ndarray, Command]:
    """/clock to `stamp`, then an IMU reading and a frame stamped `stamp`: the node's command
    for the frame (on simulated time, stepping on every frame, stamped at the frame's stamp).

    Nothing is sent twice while the node may still take the first copy: a copy taken late
    would be answered as if it were the next frame. When the node is not flying (nothing for
    longer than the watchdog, or a refused frame), the test first waits for the failsafe's zero
    stamped `stamp`, which shows that the node's clock is there; then it sends the reading and
    the frame and takes the next command. A zero means that the node took the frame before the
    reading (its executor takes the camera first when both wait) and refused it as stale,
    without stepping: both are sent again, and the reading is there by then."""
    flying = robot.flying and stamp - robot.input_ns <= 500_000_000
    if stamp != robot.clock_ns:
        if flying or stamp // PERIOD == robot.clock_ns // PERIOD:   # no failsafe zero will come
            robot.publish_clock(stamp)
        else:
            assert _zero(robot.command_at(stamp)), "the failsafe's zero"
    for _ in range(3):
        since = robot.count()
        robot.imu_publisher.publish(robot.imu_message(imu, stamp))
        robot.image_publisher.publish(robot.image_message(image, stamp))
        command = robot.wait_for(lambda since=since: robot.commands[since] if len(robot.commands) > since else None,
                                 f"the command for the frame at {_seconds(stamp):.3f}")
        robot.input_ns = stamp
        if not _zero(command.value):
            robot.flying = True
            assert command.stamp == stamp, (command.stamp, stamp)   # the answer to that frame
            return command.value, command
    raise AssertionError(f"only zero commands for the frame at {_seconds(stamp):.3f}:\n{robot.log_tails()}")


@pytest.fixture(scope="class")
def compressed_robot(checkpoint, tmp_path_factory):
    parameters = {"model_path": checkpoint, "control_rate": 0.0, "image_transport": "compressed",
                  "stamped": True, "frame_id": FRAME_ID, "use_sim_time": True, "watchdog_timeout": 0.5}
    with _robot(parameters, tmp_path_factory) as robot:
        robot.start_clock(10 * 1_000_000_000)
        yield robot


class TestCompressedStampedSimTime:
    """sensor_msgs/CompressedImage (PNG), TwistStamped, a step on every frame, use_sim_time:
    the test drives /clock and steps the node frame by frame, comparing its commands with the
    same policy run here."""

    @pytest.fixture
    def robot(self, compressed_robot):
        return compressed_robot

    @pytest.fixture
    def epoch(self, robot) -> int:
        """A simulated time (ns) well after anything the node has seen: each test's own stretch."""
        return (robot.clock_ns // 10**10 + 1) * 10**10

    @pytest.fixture
    def policy(self, checkpoint):
        return load_policy(checkpoint)

    def test_steps_on_every_frame_with_dt_from_the_stamps_in_sim_time(self, robot, policy, epoch):
        image = _scene(3)
        offsets = [0, 50_000_000, 150_000_000, 175_000_000]  # 50 ms, a dropped frame (100 ms), 25 ms
        expected_dts = [policy.spec.nominal_dt, 0.05, 0.1, 0.025]
        policy.reset()
        for k, (offset, dt) in enumerate(zip(offsets, expected_dts, strict=True)):
            command, message = step_frame(robot, epoch + offset, image)
            expected = policy.step(image, IMU_AT_REST, dt)
            np.testing.assert_allclose(command, expected, atol=1e-5, err_msg=f"frame {k} (dt {dt})")
            assert message.frame_id == FRAME_ID  # and its stamp is the node's (simulated) clock, see _frame

    def test_a_frame_ahead_of_the_clock_is_answered_at_its_own_stamp(self, robot, epoch):
        """A frame can be taken before its /clock (they are two topics): its answer carries the
        frame's stamp, not the node's clock, so that a lockstep sim pairs it with its frame."""
        image = _scene(3)
        step_frame(robot, epoch, image)
        since, ahead = robot.count(), epoch + PERIOD
        robot.imu_publisher.publish(robot.imu_message(IMU_AT_REST, ahead))
        robot.image_publisher.publish(robot.image_message(image, ahead))
        command = robot.wait_for(lambda: robot.commands[since] if len(robot.commands) > since else None,
                                 "the answer to the frame ahead of the clock")
        assert command.stamp == ahead and robot.clock_ns == epoch

    def test_reset_service_restarts_the_recurrent_state(self, robot, policy, epoch):
        image = _scene(4)
        for k in range(5):
            steady, _ = step_frame(robot, epoch + k * PERIOD, image)
        response = robot.call(robot.reset_client, Trigger.Request())
        assert response.success
        after_reset, _ = step_frame(robot, epoch + 5 * PERIOD, image)
        policy.reset()
        fresh = policy.step(image, IMU_AT_REST, policy.spec.nominal_dt)
        np.testing.assert_allclose(after_reset, fresh, atol=1e-5)
        assert not np.allclose(steady, fresh, atol=1e-4), "five steps should have moved the state"

    def test_a_gap_in_the_stamps_restarts_the_recurrent_state(self, robot, policy, epoch):
        image = _scene(5)
        for k in range(3):
            step_frame(robot, epoch + k * PERIOD, image)
        after_gap, _ = step_frame(robot, epoch + 5 * 10**9, image)  # 4.9 s later: past the 0.5 s watchdog
        policy.reset()
        np.testing.assert_allclose(after_gap, policy.step(image, IMU_AT_REST, policy.spec.nominal_dt), atol=1e-5)

    def _refused_frame_and_zeros(self, robot: RobotSide, data: bytes, periods: int) -> list[Command]:
        """A frame the node cannot decode, stamped a period on and sent while the clock stands
        where it is, then `periods` periods of /clock (each with an IMU reading): the commands that
        came stamped in those periods, in order. The node takes the frame before the next /clock
        or after it, so the first zero may come a period late: a period is waited for only briefly
        (`settle`) when it need not bring a command, the last one in full."""
        start, first = robot.clock_ns, robot.count()
        robot.flying = False
        bad = CompressedImage(format="png", data=data)
        bad.header.stamp = _time(start + PERIOD)
        robot.image_publisher.publish(bad)
        for k in range(1, periods + 1):
            robot.imu_publisher.publish(robot.imu_message(IMU_AT_REST, start + k * PERIOD))
            robot.command_at(start + k * PERIOD, settle=None if k == periods else 2.0)
        return [c for c in robot.commands_since(first) if start < c.stamp <= start + periods * PERIOD]

    def test_input_returning_after_a_bad_frame_restarts_the_recurrent_state(self, robot, policy, epoch):
        image = _scene(7)
        for k in range(3):
            step_frame(robot, epoch + k * PERIOD, image)
        ok, png = cv2.imencode(".png", image)
        zeros = self._refused_frame_and_zeros(robot, png.tobytes()[:100], periods=2)
        assert zeros and all(_zero(c.value) for c in zeros)
        # 0.1 s after the last good frame: well within the watchdog, but the bad frame was a fault
        after_fault, _ = step_frame(robot, epoch + 4 * PERIOD, image)
        policy.reset()
        np.testing.assert_allclose(after_fault, policy.step(image, IMU_AT_REST, policy.spec.nominal_dt), atol=1e-5)

    @pytest.mark.parametrize("bad", ["truncated", "garbage", "empty"])
    def test_bad_compressed_images_give_zero_at_the_control_rate(self, robot, bad, epoch):
        step_frame(robot, epoch, _scene(6))
        ok, png = cv2.imencode(".png", _scene(6))
        data = {"truncated": png.tobytes()[:200], "garbage": b"\xff\xd8 not a jpeg \xff\xd9", "empty": b""}[bad]
        commands = self._refused_frame_and_zeros(robot, data, periods=10)
        # zero from the first period (or the second, see above) on, one for every period of
        # simulated time: the failsafe's 20 Hz
        stamps = [c.stamp for c in commands]
        assert stamps and stamps[0] <= epoch + 2 * PERIOD
        assert stamps == list(range(stamps[0], epoch + 10 * PERIOD + 1, PERIOD))
        assert all(_zero(c.value) for c in commands), commands
        assert robot.process.poll() is None
        command, _ = step_frame(robot, epoch + 11 * PERIOD, _scene(6))
        assert np.any(command != 0) and np.all(np.isfinite(command))


class Feeder:
    """Publishes camera frames (20 Hz) and IMU (100 Hz) in real time from a thread, stamped with
    the wall clock; each stream can be switched to silence."""

    def __init__(self, robot: RobotSide, camera_hz: float = 20.0, imu_hz: float = 100.0):
        self.robot = robot
        self.camera_period, self.imu_period = 1.0 / camera_hz, 1.0 / imu_hz
        self.camera = self.imu = True
        self._frame = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_camera = next_imu = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_imu:
                next_imu += self.imu_period
                if self.imu:
                    self.robot.imu_publisher.publish(vector_to_imu(IMU_AT_REST, seconds_to_stamp(time.time()), "imu"))
            if now >= next_camera:
                next_camera += self.camera_period
                if self.camera:
                    self._frame += 1
                    self.robot.image_publisher.publish(
                        rgb_to_image(_scene(self._frame % 7), seconds_to_stamp(time.time()), "camera"))
            time.sleep(max(0.0, min(next_imu, next_camera) - time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


WALL_PARAMETERS = {"control_rate": 20.0, **LIMITS}


@pytest.fixture(scope="class")
def wall_robot(checkpoint, tmp_path_factory):
    with _robot({"model_path": checkpoint, **WALL_PARAMETERS}, tmp_path_factory) as robot:
        yield robot


class TestOnTheWallClock:
    """As on a robot: sensor_msgs/Image and Twist, a 20 Hz control timer and the watchdog on the
    wall clock, input from a thread at 20 Hz / 100 Hz. Only what must happen eventually is asserted."""

    @pytest.fixture
    def robot(self, wall_robot):
        return wall_robot

    @pytest.fixture
    def feeder(self, robot):
        feeder = Feeder(robot)
        yield feeder
        feeder.close()

    def test_commands_flow_and_silence_gives_zero(self, robot, feeder):
        first = robot.count()
        flying = robot.wait_for(lambda: sum(not _zero(c.value) for c in robot.commands[first:]) >= 20,
                                "20 non-zero commands")
        assert flying and all(_within_limits(c.value) for c in robot.commands_since(first))
        assert len({tuple(c.value) for c in robot.commands_since(first)}) > 1
        feeder.camera = feeder.imu = False
        silent = robot.count()

        def zeros_for_good():  # ten zeros in a row, the last of what came
            tail = [c.value for c in robot.commands[silent:]][-10:]
            return len(tail) == 10 and all(_zero(c) for c in tail)
        robot.wait_for(zeros_for_good, "zero commands to keep coming after the input stopped")
        feeder.camera = feeder.imu = True
        back = robot.count()
        robot.wait_for(lambda: any(not _zero(c.value) for c in robot.commands[back:]), "the policy to fly again")

    def test_diagnostics_report_the_input_rates(self, robot, feeder):
        """The rates are per wall second (that is what they are for), so this waits for a report
        that shows the feeder's rates within a quarter, as most reports do unless the machine is
        starved; a report's other values must always be consistent."""
        first = robot.report_count()

        def near(values, key, hz):
            return abs(float(values[key]) - hz) <= hz / 4

        diagnostics = robot.report_after(first, lambda v: v["state"] == "running" and near(v, "camera_rate_hz", 20)
                                         and near(v, "imu_rate_hz", 100) and near(v, "step_rate_hz", 20))
        assert diagnostics["message"] == "running"
        assert 0 < float(diagnostics["step_latency_mean_ms"]) <= float(diagnostics["step_latency_max_ms"])


def test_sigint_publishes_zero_and_exits_cleanly(checkpoint, tmp_path_factory):
    with _robot({"model_path": checkpoint, **WALL_PARAMETERS}, tmp_path_factory) as robot:
        feeder = Feeder(robot)
        try:
            first = robot.count()
            robot.wait_for(lambda: any(not _zero(c.value) for c in robot.commands[first:]), "non-zero commands")
            # input keeps coming: only the shutdown itself can command zero
            robot.process.send_signal(signal.SIGINT)
            assert robot.process.wait(timeout=STOP_S) == 0
            robot.wait_for(lambda: _zero(robot.commands[-1].value), "the last command to be zero", exited_ok=True)
        finally:
            feeder.close()
        assert "Traceback" not in robot.log() and "shutting down" in robot.log()


def _run_node(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(POLICY_NODE), *arguments], capture_output=True, text=True, timeout=300)


def test_a_missing_model_stops_the_node_with_one_clear_line(ros_domain_id, tmp_path):
    missing = tmp_path / "no_such_model.pt"
    result = _run_node("--ros-args", "-p", f"model_path:={missing}")
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 1 and "FATAL" in lines[0] and str(missing) in lines[0] and "no such file" in lines[0]


def test_the_default_model_path_is_the_shipped_model(ros_domain_id):
    if share_path("models", "cfc_forest.pt").is_file():
        pytest.skip("a trained model ships: the node would start")
    result = _run_node()
    assert result.returncode == 1
    assert f"model_path {share_path('models', 'cfc_forest.pt')}: no such file" in result.stderr


def test_a_corrupt_model_stops_the_node_with_one_clear_line(ros_domain_id, tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"this is not a checkpoint")
    result = _run_node("--ros-args", "-p", f"model_path:={corrupt}")
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 1 and "FATAL" in lines[0] and str(corrupt) in lines[0] and "cannot load" in lines[0]


@pytest.mark.parametrize("argument, reason", [
    ("control_rate:=-3", "out of range"),
    ("image_transport:=theora", "bad parameter image_transport: 'theora' is not one of raw, compressed"),
    ("watchdog_timeout:=0.0", "out of range"),
])
def test_bad_parameters_stop_the_node_with_the_reason(ros_domain_id, tmp_path, checkpoint, argument, reason):
    result = _run_node("--ros-args", "-p", f"model_path:={checkpoint}", "-p", argument)
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
    process = start_process(node.command([POLICY_NODE.parent], tmp_path), log_path)
    try:
        deadline = time.monotonic() + START_S
        while "loaded" not in log_path.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        returncode = stop_processes({"policy_node": process})["policy_node"]
    text = log_path.read_text()
    assert returncode == 0, text
    assert (f"policy {checkpoint} loaded (torch runtime) for the drone; stepping on every frame, limits 2 m/s, "
            "0.5 rad/s, watchdog 0.5 s") in text
