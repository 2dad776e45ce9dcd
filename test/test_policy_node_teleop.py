"""policy_node's operator takeover over real DDS: the node in its own process, this process plays
the robot and the operator (camera, IMU, /clock, teleop/cmd_vel, teleop/enable) and records
`cmd_vel` (TwistStamped) and `~/intervention`.

On simulated time, as test_policy_node.py's stepped classes: the test steps /clock one 20 Hz
control period at a time and waits for the command the control timer stamps with it, and for
the `~/intervention` message published with it (so each command is paired with its own flag,
whatever the order of arrival of the two topics). The operator repeats their messages every
period, as a joystick does. One allowance, as there: a message and the /clock sent after it are
on different topics, so the node may take the message one period later than it was sent; every
boundary below allows that one period and no more. Nothing depends on wall-clock windows:
waits return as soon as what they wait for comes, within generous deadlines.
"""
from __future__ import annotations

import contextlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist, TwistStamped
from rclpy.qos import qos_profile_sensor_data
from ros_domains import domain_of_its_own
from ros_harness import NodesUnderTest, matched, ros_argv
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, Imu
from std_msgs.msg import Bool
from std_srvs.srv import SetBool

from lnn_control.ros.conversions import command_to_twist, rgb_to_image, vector_to_imu

POLICY_NODE = Path(sys.executable).parent / "policy_node"
PERIOD = 50_000_000            # ns: the 20 Hz control period
START_NS = 100 * 1_000_000_000
LIMITS = {"max_linear_speed": 0.3, "max_yaw_rate": 0.2}
TELEOP_TIMEOUT = 220_000_000   # ns (0.22 s): not a whole number of periods, so no tick sits on the boundary
WATCHDOG = 320_000_000         # ns
RESEND_S = 1.0                 # wall s: a wait sends its best-effort /clock again this often
IMU_AT_REST = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 9.81], np.float32)
# beyond the limits in x and yaw (clipped there), within them in y and z; float32-exact, as the node decodes
OPERATOR = np.array([0.5, -0.125, 0.0625, -0.5])
FLOWN = np.clip(OPERATOR, [-0.3] * 3 + [-0.2], [0.3] * 3 + [0.2])


def _time(ns: int) -> Time:
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _scene(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(48, 64, 3), dtype=np.uint8)


class RobotAndOperator(NodesUnderTest):
    """policy_node in its own process; the robot's sensors, the operator's joystick and the
    recorded commands and takeover flags here."""

    wait_s = 60.0

    def __init__(self, parameters: dict, log_path: Path, domain: int):
        self.commands: list[tuple[int, np.ndarray]] = []   # (header stamp ns, [vx, vy, vz, yaw_rate])
        self.flags: list[bool] = []
        self.reports: list[dict] = []
        self.clock_ns = 0
        self.frame = 0
        self.camera = True          # whether ticks send camera frames
        self.deadman: bool | None = None    # what ticks send on teleop/enable (None: nothing)
        self.operator: np.ndarray | None = None   # what ticks send on teleop/cmd_vel (None: nothing)
        super().__init__(domain, "teleop_test", {"policy_node": (ros_argv(POLICY_NODE, parameters), log_path)})

    def connect(self, node) -> None:
        self.flag_subscription = node.create_subscription(
            Bool, "/policy_node/intervention", lambda m: self._record(self.flags, m.data), 1000)
        self.cmd_subscription = node.create_subscription(TwistStamped, "cmd_vel", self._on_cmd, 1000)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 100)
        self.image_publisher = node.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        self.imu_publisher = node.create_publisher(Imu, "imu/data", qos_profile_sensor_data)
        self.clock_publisher = node.create_publisher(Clock, "/clock", 10)
        self.teleop_publisher = node.create_publisher(Twist, "teleop/cmd_vel", 10)
        self.enable_publisher = node.create_publisher(Bool, "teleop/enable", 10)
        self.enable_client = node.create_client(SetBool, "/policy_node/enable")

    def _on_cmd(self, msg: TwistStamped) -> None:
        t = msg.twist
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self._record(self.commands, (stamp, np.array([t.linear.x, t.linear.y, t.linear.z, t.angular.z])))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith("policy_node"):
                values = {kv.key: kv.value for kv in status.values}
                stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
                self._record(self.reports, values | {"stamp": stamp})

    def publish_clock(self, ns: int) -> None:
        self.clock_ns = ns
        self.clock_publisher.publish(Clock(clock=_time(ns)))

    def tick(self) -> tuple[np.ndarray, bool | None]:
        """One control period: the operator's messages, an IMU reading and a frame at the present
        time, then /clock a period on; the command stamped then, and its takeover flag (None for a
        node without teleop)."""
        now = self.clock_ns
        if self.deadman is not None:
            self.enable_publisher.publish(Bool(data=self.deadman))
        if self.operator is not None:
            self.teleop_publisher.publish(command_to_twist(self.operator))
        self.imu_publisher.publish(vector_to_imu(IMU_AT_REST + 0.01 * math.sin(now * 1e-9), _time(now), "imu"))
        if self.camera:
            self.frame += 1
            self.image_publisher.publish(rgb_to_image(_scene(self.frame % 7), _time(now), "camera"))
        with self.lock:
            flags_before = len(self.flags)
        stamp = now + PERIOD
        self.publish_clock(stamp)
        with_flag = self.flag_subscription.get_publisher_count() > 0

        def answered():
            command = next((c for s, c in self.commands if s == stamp), None)
            if command is None or (with_flag and len(self.flags) == flags_before):
                return None
            return command, self.flags[-1] if with_flag else None
        return self.wait_for(answered, f"the command stamped {stamp * 1e-9:.2f} s", every=RESEND_S,
                             then=lambda: self.publish_clock(stamp))

    def settle(self) -> None:
        """Tick until a tick brings exactly one command and one flag, twice in a row: the flags of
        the start-up's commands (published before this process listened, or still on their way)
        are all in, and from here each tick's flag is the last one received."""
        in_step = 0
        for _ in range(100):
            with self.lock:
                before = len(self.commands), len(self.flags)
            self.tick()
            with self.lock:
                after = len(self.commands), len(self.flags)
            in_step = in_step + 1 if (after[0] - before[0], after[1] - before[1]) == (1, 1) else 0
            if in_step == 2:
                return
        raise AssertionError(f"commands and takeover flags do not come one for one:\n{self.log_tails()}")

    def ticks(self, n: int) -> list[tuple[int, np.ndarray, bool | None]]:
        """`n` ticks: (stamp ns, command, flag) of each."""
        return [(self.clock_ns + PERIOD, *self.tick()) for _ in range(n)]

    def until(self, condition, what: str, at_most: int) -> list[tuple[int, np.ndarray, bool | None]]:
        """Tick until `condition(command, flag)` holds, within `at_most` ticks: the ticks."""
        done = []
        for _ in range(at_most):
            done.append((self.clock_ns + PERIOD, *self.tick()))
            if condition(*done[-1][1:]):
                return done
        raise AssertionError(f"no {what} within {at_most} control periods: {done}\n{self.log_tails()}")

    def report_at(self, ns: int) -> dict:
        """The first /diagnostics report stamped `ns` or later (once a wall second)."""
        return self.wait_for(lambda: next((r for r in self.reports if r["stamp"] >= ns), None),
                             f"a /diagnostics report stamped {ns * 1e-9:.2f} s or later")


@contextlib.contextmanager
def _robot(parameters: dict, tmp_path_factory):
    with domain_of_its_own() as domain:
        robot = RobotAndOperator(parameters, tmp_path_factory.mktemp("teleop") / "policy_node.log", domain)
        try:
            endpoints = [robot.cmd_subscription, robot.image_publisher, robot.imu_publisher, robot.clock_publisher,
                         robot.enable_client]
            robot.wait_for(lambda: matched(endpoints), "the node to start and DDS to match", timeout=180.0)
            # step the clock until commands come back (DDS may still be completing the match)
            robot.publish_clock(START_NS)
            robot.wait_for(lambda: robot.commands, "a first command on simulated time", every=0.5,
                           then=lambda: robot.publish_clock(robot.clock_ns + PERIOD))
            yield robot
        finally:
            robot.stop()


def _policy(command: np.ndarray, flag) -> bool:
    return bool(np.any(command != 0) and not np.array_equal(command, FLOWN) and not flag)


def _operator(command: np.ndarray, flag) -> bool:
    return bool(np.array_equal(command, FLOWN) and flag)


NODE = {"control_rate": 20.0, "use_sim_time": True, "stamped": True, "watchdog_timeout": WATCHDOG * 1e-9, **LIMITS}


@pytest.fixture(scope="class")
def teleop_robot(checkpoint, tmp_path_factory):
    with _robot({"model_path": checkpoint, **NODE, "teleop": True, "teleop_timeout": TELEOP_TIMEOUT * 1e-9},
                tmp_path_factory) as robot:
        robot.wait_for(lambda: matched([robot.flag_subscription, robot.teleop_publisher, robot.enable_publisher]),
                       "DDS to match the operator's topics")
        robot.settle()
        yield robot


class TestTeleopOn:
    """teleop:=true: the operator's command flies while the deadman is held and both are fresh."""

    @pytest.fixture
    def robot(self, teleop_robot):
        robot = teleop_robot
        robot.camera, robot.deadman, robot.operator = True, None, None
        robot.until(_policy, "policy command", at_most=200)   # the first test: until the policy flies
        yield robot
        robot.call(robot.enable_client, SetBool.Request(data=True))

    def test_the_operator_flies_while_the_deadman_is_held_and_the_policy_takes_back(self, robot):
        before = robot.report_at(robot.clock_ns)
        robot.deadman, robot.operator = True, OPERATOR
        robot.until(_operator, "operator command", at_most=2)
        held = robot.ticks(10)
        assert all(_operator(c, f) for _, c, f in held), held
        robot.deadman = False                   # released (a joystick still sending its axes)
        robot.until(_policy, "policy command", at_most=2)
        back = robot.ticks(5)
        assert all(_policy(c, f) for _, c, f in back), back
        assert len({tuple(c) for _, c, _ in back}) > 1, "the policy flies on, stepping on the frames"
        after = robot.report_at(robot.clock_ns)
        assert int(after["teleop_takeovers"]) == int(before["teleop_takeovers"]) + 1
        flown = float(after["teleop_takeover_s"]) - float(before["teleop_takeover_s"])
        assert 11 * 0.05 - 1e-6 <= flown <= 13 * 0.05 + 1e-6, flown
        assert after["teleop_flying"] == "False" and after["state"] == "running"

    @pytest.mark.parametrize("silent", ["deadman", "operator"])
    def test_the_policy_takes_back_when_the_operator_falls_silent(self, robot, silent):
        robot.deadman, robot.operator = True, OPERATOR
        robot.until(_operator, "operator command", at_most=2)
        last_sent = robot.clock_ns              # the next tick sends the last message at this time
        robot.tick()
        setattr(robot, silent, None)
        for stamp, command, flag in robot.ticks(8):
            age = stamp - last_sent
            if age <= TELEOP_TIMEOUT:
                assert _operator(command, flag), (age, command, flag)
            elif age > TELEOP_TIMEOUT + PERIOD:
                assert _policy(command, flag), (age, command, flag)

    def test_stale_sensors_let_the_operator_fly_and_hover_without_them(self, robot):
        robot.deadman, robot.operator = True, OPERATOR
        robot.until(_operator, "operator command", at_most=2)
        robot.camera = False
        held = robot.ticks(12)                   # 0.6 s without frames: past the 0.32 s watchdog
        assert all(_operator(c, f) for _, c, f in held), held
        assert robot.report_at(robot.clock_ns)["state"] == "stale"
        robot.wait_for(lambda: "the operator flies, the policy is held back: no camera message" in robot.log(),
                       "the node's log to say who flies")
        robot.deadman = False
        hover = robot.until(lambda c, f: not f, "hand-back", at_most=2)
        assert np.all(hover[-1][1] == 0), "stale sensors without the operator: hover"
        assert all(np.all(c == 0) and not f for _, c, f in robot.ticks(3))
        robot.camera = True
        robot.until(_policy, "policy command", at_most=3)

    def test_disabled_is_zero_even_for_the_operator(self, robot):
        robot.deadman, robot.operator = True, OPERATOR
        robot.until(_operator, "operator command", at_most=2)
        assert robot.call(robot.enable_client, SetBool.Request(data=False)).success
        assert all(np.all(c == 0) and not f for _, c, f in robot.ticks(4))

    def test_a_non_finite_operator_command_is_refused_and_hovers(self, robot):
        robot.deadman, robot.operator = True, np.array([0.1, math.nan, 0.0, 0.0])
        hover = robot.until(lambda c, f: f, "takeover", at_most=2)
        assert np.all(hover[-1][1] == 0)
        assert all(np.all(c == 0) and f for _, c, f in robot.ticks(3))
        robot.wait_for(lambda: "refusing teleop/cmd_vel" in robot.log(), "the refusal in the node's log")
        assert int(robot.report_at(robot.clock_ns)["teleop_refused_commands"]) > 0


def test_teleop_off_ignores_the_operator(checkpoint, tmp_path_factory):
    with _robot({"model_path": checkpoint, **NODE}, tmp_path_factory) as robot:
        robot.until(_policy, "policy command", at_most=200)
        robot.deadman, robot.operator = True, OPERATOR
        ticks = robot.ticks(10)
        assert all(_policy(c, f) and f is None for _, c, f in ticks), ticks
        # no subscription on the operator's topics, no takeover flag published
        assert robot.teleop_publisher.get_subscription_count() == 0
        assert robot.enable_publisher.get_subscription_count() == 0
        assert robot.flag_subscription.get_publisher_count() == 0
        assert "teleop_takeovers" not in robot.report_at(robot.clock_ns)
