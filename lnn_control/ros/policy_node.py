"""policy_node: camera + IMU in, body-frame velocity commands out, zero velocity when in doubt.

Topics (relative, so namespaces and remaps apply):
- subscribes `camera/image_raw` (`sensor_msgs/Image`: rgb8, bgr8, rgba8, bgra8, mono8, any
  size) or, with `image_transport:=compressed`, `camera/image_raw/compressed`
  (`sensor_msgs/CompressedImage`, JPEG/PNG); and `imu/data` (`sensor_msgs/Imu`); both with
  sensor-data QoS (best effort; camera keeps the last 5, IMU the last `IMU_QUEUE_DEPTH`, so
  a burst of IMU readings delivered together, as drivers and sim_node send them, is kept whole);
- publishes `cmd_vel` (`geometry_msgs/Twist`, or `TwistStamped` in `frame_id` with
  `stamped:=true`, stamped when sent; on simulated time, stepping on every frame, stamped at
  the frame it answers): linear x, y, z in m/s and angular z (yaw rate) in rad/s in the
  heading frame (x forward, z up), each within ±max_linear_speed / ±max_yaw_rate
  (angular x and y always 0); for a rover, planar (see Vehicles below);
- publishes `/diagnostics` (`diagnostic_msgs/DiagnosticArray`) once a second;
- with `teleop:=true` only (no operator topic exists otherwise): subscribes `teleop/cmd_vel`
  (`geometry_msgs/Twist`, or `TwistStamped` with `teleop_stamped:=true`) and the deadman
  `teleop/enable` (`std_msgs/Bool`), both reliable, depth 10 (as teleop_twist_joy and
  joy_teleop publish), and publishes `~/intervention` (`std_msgs/Bool`): one message with
  every `cmd_vel`, True when that command is the operator's (published just before it, so the
  k-th flag and the k-th command carry the same DDS publication sequence number, by which a
  subscriber that lost some of either pairs the rest: test_launch_sim.py does).
- with `debug:=true`, off the command path at most `debug_rate` Hz (`lnn_control.ros.debug`):
  `~/debug/saliency` (`sensor_msgs/Image`, rgb8: the stepped frame with the policy's
  VisualBackProp map over it) and `~/debug/state` (`std_msgs/Float32MultiArray`: the recurrent
  state, one value per neuron, the layout's labels naming each neuron's role).
- with an ensemble policy (`lnn-control train --ensemble K`), publishes `~/uncertainty`
  (`std_msgs/Float32`, `Policy.uncertainty`: the members' disagreement, dimensionless, 0 = they
  agree) with every command the policy makes; with `slow_down:=true` the linear speed limit
  shrinks as it rises, from `uncertainty_low` to `uncertainty_stop`, and above that the node
  hovers (zero velocity): the curve of `lnn_control.policy.slow_down`. A single policy has no
  uncertainty: no topic, and `slow_down:=true` stops the node at start-up.

Vehicles (`lnn_control.vehicles`): `vehicle:=drone` flies all four command components;
`vehicle:=rover` drives a wheeled ground robot: every `cmd_vel` carries only linear.x (forward
speed, m/s) and angular.z (yaw rate, rad/s), linear.y and linear.z are exactly 0, whoever made
the command (the policy, the operator's teleop/cmd_vel, the failsafe's zero). `vehicle:=''`
(the default) takes the model's own (`PolicySpec.vehicle`, in a checkpoint's header and an
export's policy.json); a model of the other vehicle stops the node at start-up, naming both.
The limits are the same two parameters for both: for a rover `max_linear_speed` bounds |vx|
(forward and back) and `max_yaw_rate` |yaw_rate|. Their defaults are not changed by the
vehicle (one parameter file and one `ros2 param describe` for both): the policy's own
commands are already within the model's limits (its head is tanh-scaled by
`PolicySpec.max_linear_speed` / `max_yaw_rate`, those it was trained at), and a ground robot
slower than that, or an operator's joystick, is bounded by setting the two parameters to the
robot's limits (README, "Driving a real rover").

Services: `~/reset` (`std_srvs/Trigger`: clears the recurrent state; the response says
so) and `~/enable` (`std_srvs/SetBool`: false = zero commands until enabled again).

Runtimes: a checkpoint (`model_path:=FILE.pt`) runs with torch (`lnn_control.policy.Policy`);
an export of `lnn-control export` (`model_path:=DIR` or DIR/policy.json, or `runtime:=onnx`)
runs with onnxruntime (`OnnxPolicy`), and then torch is never imported in this process: this
module and everything it imports are torch-free, torch comes only with a checkpoint.

Cost: on the wall clock, callbacks run on rclpy's events executor (no wait set rebuilt per message; on
simulated time the single-threaded executor, see `_executor`); IMU messages
arrive serialized and are read from their bytes (`imu_wire`), the 200 Hz stream's largest cost
otherwise.

Stepping: with `control_rate` 0 (the default) the policy steps and publishes on every
camera frame, as soon as it arrives. With `control_rate` > 0 a timer at that rate steps
the policy on the newest frame received since the last tick (frames in between are
skipped) and publishes, repeating the last command on a tick without a new frame: a
fixed command rate, for cameras faster than the policy should step, at the price of up
to one period of added latency. dt is the difference of the frames'
header stamps (arrival times for unstamped frames), so simulated time under
`use_sim_time`; the IMU input is the IMU state interpolated at the frame's stamp. The first step after a
reset uses the policy's nominal dt (`PolicySpec.nominal_dt`).

Operator takeover (see `lnn_control.ros.teleop`): while the deadman is held and the operator's
command is fresher than `teleop_timeout`, the operator's command (within the limits; a
non-finite one is refused and stands as zero) goes out on `cmd_vel` instead of the policy's.
The policy keeps stepping on the frames meanwhile (its recurrent state follows the flight), so
it flies on from the present when the deadman is released. Diagnostics count the takeovers
and the seconds the operator flew.

Failsafe (see `lnn_control.ros.failsafe`): stale (older than `watchdog_timeout`) or
invalid camera or IMU input, or `~/enable` false → zero velocity at the control rate
(20 Hz when `control_rate` is 0), a throttled warning, and a fresh recurrent state when
input returns. A non-finite policy output is replaced by zero. SIGINT/SIGTERM publish
one last zero command and exit 0. A missing or bad model file, or a bad parameter,
stops the node at start-up with one log line and exit code 1.

The failsafe and the operator: stale or invalid camera or IMU input does not stop an operator
who is flying: their command goes out (at 20 Hz when `control_rate` is 0, else at the control
rate) and the policy alone is held back. The sensors feed the policy, not the person, who
watches the drone (or its video) and whose own link has its own watchdog (`teleop_timeout`),
and a failing camera is exactly when a person must be able to fly the drone back; when the
operator is not flying, stale input means hover as before. `~/enable` false and shutdown
stay zero, operator or not: an explicit stop is a stop.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist, TwistStamped
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.experimental import EventsExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CompressedImage, Image, Imu
from std_msgs.msg import Bool, Float32, Float32MultiArray
from std_srvs.srv import SetBool, Trigger

from lnn_control.codec import InvalidMessage, compressed_to_rgb, image_to_rgb, imu_to_vector, twist_to_command
from lnn_control.paths import share_path
from lnn_control.policy.bundle import is_export
from lnn_control.policy.slow_down import DEFAULT_LOW, DEFAULT_STOP, SlowDown
from lnn_control.ros.conversions import command_to_twist, command_to_twist_stamped, seconds_to_stamp, stamp_to_seconds
from lnn_control.ros.diagnostics import WindowStats, diagnostic_array
from lnn_control.ros.failsafe import Failsafe, InputMonitor, NodeState, bound_command
from lnn_control.ros.imu_history import ImuHistory
from lnn_control.ros.imu_wire import read_imu
from lnn_control.ros.parameters import Param, ParameterTable, StartupError, declare_parameters
from lnn_control.ros.teleop import TeleopMux
from lnn_control.vehicles import IGNORED_COMMAND_AXES, VEHICLES

NODE_NAME = "policy_node"
#: The shipped model of each vehicle (models/NAME.pt) for an empty model_path; its export is
#: models/NAME_onnx (`lnn-control export models/NAME.pt --out models/NAME_onnx`).
SHIPPED_MODELS = {"drone": "cfc_forest", "rover": "cfc_rover_forest"}
RUNTIMES = ("auto", "torch", "onnx")
FAILSAFE_RATE_HZ = 20.0        # zero commands when control_rate is 0 and input is stale
DIAGNOSTICS_PERIOD_S = 1.0
WARN_PERIOD_S = 2.0            # throttling of repeated warnings
ZERO_COMMAND = np.zeros(4)
ZERO_COMMAND.setflags(write=False)

IMU_QUEUE_DEPTH = 50   # readings: 0.25 s at 200 Hz
IMU_QOS = QoSProfile(reliability=qos_profile_sensor_data.reliability,
                     durability=qos_profile_sensor_data.durability,
                     history=qos_profile_sensor_data.history, depth=IMU_QUEUE_DEPTH)


#: Read-only ones are fixed at start-up; the others may change at run time.
PARAMETERS = ParameterTable(
    model_path=Param("", "policy checkpoint (.pt) or export (a directory from `lnn-control export`, or its "
                         "policy.json); empty = the shipped share/lnn_control/models/cfc_forest.pt "
                         "(cfc_rover_forest.pt with vehicle:=rover; their exports NAME_onnx with runtime:=onnx)",
                     read_only=True),
    runtime=Param("auto", "torch: run a checkpoint with torch; onnx: run an export with onnxruntime, torch never "
                          "loaded; auto: onnx for an export, torch for a checkpoint", choices=RUNTIMES, read_only=True),
    vehicle=Param("", "drone: all of vx, vy, vz, yaw_rate; rover: cmd_vel carries only linear.x and angular.z "
                      "(linear.y, linear.z 0); '' = the model's own (its spec's vehicle); a model of the other "
                      "vehicle stops the node", choices=("", *VEHICLES), read_only=True),
    control_rate=Param(0.0, "Hz: step on the newest frame and publish at this fixed rate; 0 = step and publish on "
                            "every camera frame (lowest latency)", low=0.0, high=1000.0),
    max_linear_speed=Param(2.0, "m/s: bound on each of |vx|, |vy|, |vz| of the commands (a rover's: |vx|)",
                           low=0.0, high=20.0),
    max_yaw_rate=Param(1.0, "rad/s: bound on |yaw_rate| of the commands", low=0.0, high=10.0),
    watchdog_timeout=Param(0.5, "s: camera or IMU older than this -> zero velocity", low=0.01, high=10.0),
    stamped=Param(False, "publish geometry_msgs/TwistStamped instead of Twist", read_only=True),
    image_transport=Param("raw", "raw: sensor_msgs/Image on camera/image_raw; compressed: "
                                 "sensor_msgs/CompressedImage on camera/image_raw/compressed",
                          choices=("raw", "compressed"), read_only=True),
    frame_id=Param("base_link", "frame_id of TwistStamped commands (heading frame, x forward, z up)", nonempty=True),
    teleop=Param(False, "operator takeover: subscribe teleop/cmd_vel and the deadman teleop/enable, publish "
                        "~/intervention; false = no operator topics at all", read_only=True),
    teleop_timeout=Param(0.5, "s: the deadman and the operator's command must both be fresher than this for the "
                              "operator to fly", low=0.01, high=10.0),
    teleop_stamped=Param(False, "teleop/cmd_vel is geometry_msgs/TwistStamped instead of Twist", read_only=True),
    debug=Param(False, "publish ~/debug/saliency (the frame with the policy's saliency map over it) and "
                       "~/debug/state (the recurrent state, one labelled value per neuron)", read_only=True),
    debug_rate=Param(5.0, "Hz: the most ~/debug/* messages per second (with debug:=true)", low=0.1, high=30.0,
                     read_only=True),
    slow_down=Param(False, "slow down as the ensemble's uncertainty rises and hover above uncertainty_stop",
                    read_only=True),
    uncertainty_low=Param(DEFAULT_LOW, "uncertainty (dimensionless) up to which slow_down keeps the full speed "
                                       "limit", low=0.0, high=1.0, read_only=True),
    uncertainty_stop=Param(DEFAULT_STOP, "uncertainty (dimensionless, > uncertainty_low) from which slow_down "
                                         "hovers; the speed limit falls linearly to 0 on the way", low=0.0, high=1.0,
                           read_only=True),
)
TELEOP_QOS = 10   # reliable, depth 10: what teleop_twist_joy and joy_teleop publish with


@dataclass
class Frame:
    """A decoded camera frame: HxWx3 uint8 RGB, its time (header stamp, or arrival if unstamped), s,
    its header's frame_id, and that time as a stamp (the header's own, exact to the nanosecond)."""

    rgb: np.ndarray
    time: float
    frame_id: str
    stamp: Time


class PolicyNode(Node):
    """Runs a trained policy on live camera + IMU messages and publishes velocity commands."""

    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        declare_parameters(self, PARAMETERS)
        value = PARAMETERS.values(self)
        self._control_rate = value["control_rate"]
        self._max_linear_speed = value["max_linear_speed"]
        self._max_yaw_rate = value["max_yaw_rate"]
        self._frame_id = value["frame_id"]
        self._stamped = value["stamped"]
        self._model_path = _model_path(value["model_path"], value["runtime"], value["vehicle"])
        self._policy = load_runtime(self._model_path, value["runtime"])
        self._vehicle = _vehicle(value["vehicle"], self._policy, self._model_path)
        self._slow_down = _slow_down(value, self._policy)
        self._uncertainty: float | None = None

        self._failsafe = Failsafe(value["watchdog_timeout"])
        self._imu_history = ImuHistory()
        self._pending_frame: Frame | None = None
        self._last_frame_time: float | None = None
        self._command = ZERO_COMMAND
        self._state = NodeState.STALE

        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._steady = steady
        start = _seconds(steady)
        self._camera_stats, self._imu_stats, self._step_stats = (WindowStats(start) for _ in range(3))

        self._cmd_publisher = self.create_publisher(TwistStamped if self._stamped else Twist, "cmd_vel", 10)
        self._diagnostics_publisher = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._teleop = self._connect_teleop(value) if value["teleop"] else None
        self._debug = None
        if value["debug"]:
            if self._policy.runtime != "torch":
                raise StartupError(f"debug:=true needs the torch runtime (its saliency maps are computed with "
                                   f"torch), not {self._policy.runtime}: give model_path a checkpoint (.pt)")
            from lnn_control.ros.debug import DebugPublisher  # torch: only on the debug path

            saliency = self.create_publisher(Image, "~/debug/saliency", 1)
            state = self.create_publisher(Float32MultiArray, "~/debug/state", 10)
            self._debug = DebugPublisher(self._policy, value["debug_rate"], saliency.publish, state.publish)
        self._uncertainty_publisher = (self.create_publisher(Float32, "~/uncertainty", 10)
                                       if self._policy.spec.ensemble > 1 else None)
        # IMU first: with both waiting, the executor takes the IMU readings before the frame they precede
        self.create_subscription(Imu, "imu/data", self._on_imu, IMU_QOS, raw=True)
        if value["image_transport"] == "compressed":
            self.create_subscription(CompressedImage, "camera/image_raw/compressed",
                                     lambda msg: self._on_image(msg, compressed_to_rgb), qos_profile_sensor_data)
        else:
            self.create_subscription(Image, "camera/image_raw",
                                     lambda msg: self._on_image(msg, image_to_rgb), qos_profile_sensor_data)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_service(SetBool, "~/enable", self._on_enable)
        self._control_timer = self._make_control_timer()
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics, clock=steady)
        self.add_post_set_parameters_callback(self._apply_parameters)
        stepping = "stepping on every frame" if self._control_rate == 0 else f"{self._control_rate:g} Hz"
        teleop = "off" if self._teleop is None else f"on (timeout {self._teleop.timeout:g} s)"
        planar = " (vx only: linear.y, linear.z 0)" if IGNORED_COMMAND_AXES[self._vehicle] else ""
        self.get_logger().info(
            f"policy {self._model_path} loaded ({self._policy.runtime} runtime) for the {self._vehicle}; {stepping}, "
            f"limits {self._max_linear_speed:g} m/s{planar}, {self._max_yaw_rate:g} rad/s, "
            f"watchdog {self._failsafe.watchdog_timeout:g} s, teleop {teleop}")

    def _connect_teleop(self, value: dict) -> TeleopMux:
        """The operator's topics and the mux that follows them. They are made before the camera's:
        with both waiting, the single-threaded executor (simulated time) takes the operator's
        messages before the frame; the events executor (wall clock) takes each as it arrives."""
        stamped = value["teleop_stamped"]
        self.create_subscription(TwistStamped if stamped else Twist, "teleop/cmd_vel",
                                 lambda msg: self._on_teleop_cmd(msg.twist if stamped else msg), TELEOP_QOS)
        self.create_subscription(Bool, "teleop/enable", self._on_teleop_enable, TELEOP_QOS)
        self._intervention_publisher = self.create_publisher(Bool, "~/intervention", 10)
        return TeleopMux(value["teleop_timeout"])

    # -- inputs ---------------------------------------------------------------------------

    def _on_image(self, msg, decode) -> None:
        now = self._now()
        try:
            rgb = decode(msg)
        except InvalidMessage as exc:
            self._refuse(self._failsafe.camera, str(exc))
            return
        except Exception as exc:  # whatever a message holds, the node refuses it and lives on
            self._refuse(self._failsafe.camera, f"cannot decode: {exc!r}")
            return
        self._failsafe.message_valid(self._failsafe.camera, now)
        self._camera_stats.add()
        stamp = stamp_to_seconds(msg.header.stamp)
        self._pending_frame = (Frame(rgb, stamp, msg.header.frame_id, msg.header.stamp) if stamp > 0
                               else Frame(rgb, now, msg.header.frame_id, seconds_to_stamp(now)))
        if self._control_rate == 0:
            self._control_cycle()

    def _on_imu(self, data: bytes) -> None:
        """A serialized IMU message: read from its bytes (`imu_wire`), or deserialised when it is
        not plain little-endian CDR; then decoded by the codec's rules."""
        now = self._now()
        try:
            msg = read_imu(data) or deserialize_message(data, Imu)
            imu = imu_to_vector(msg)
        except InvalidMessage as exc:
            self._refuse(self._failsafe.imu, str(exc))
            return
        except Exception as exc:  # bytes that do not deserialise: refused, and the node lives on
            self._refuse(self._failsafe.imu, f"cannot decode: {exc!r}")
            return
        self._failsafe.message_valid(self._failsafe.imu, now)
        self._imu_stats.add()
        stamp = stamp_to_seconds(msg.header.stamp)
        self._imu_history.add(stamp if stamp > 0 else now, imu)

    def _on_teleop_cmd(self, twist: Twist) -> None:
        try:
            command = twist_to_command(twist).astype(np.float64)
        except InvalidMessage:
            command = np.full(4, np.nan)     # refused by the mux, which says why
        problem = self._teleop.operator_command(command, self._now())
        if problem:
            self.get_logger().warning(f"refusing teleop/cmd_vel: {problem}", throttle_duration_sec=WARN_PERIOD_S)

    def _on_teleop_enable(self, msg: Bool) -> None:
        self._teleop.deadman(msg.data, self._now())

    def _refuse(self, monitor: InputMonitor, reason: str) -> None:
        self._failsafe.message_invalid(monitor, reason)
        self.get_logger().warning(f"refusing {monitor.name} message, commanding zero velocity: {reason}",
                               throttle_duration_sec=WARN_PERIOD_S)

    # -- control --------------------------------------------------------------------------

    def _on_control_timer(self) -> None:
        if self._control_rate > 0:
            self._control_cycle()
        elif (state := self._update_state()) is not NodeState.RUNNING:
            self._publish(ZERO_COMMAND, operator_may_fly=state is not NodeState.DISABLED)

    def _control_cycle(self) -> None:
        """Publish the policy's command for the newest frame, or zero when not running (the
        operator's instead while they fly, unless disabled)."""
        if (state := self._update_state()) is not NodeState.RUNNING:
            self._pending_frame = None
            self._command = ZERO_COMMAND
            self._publish(ZERO_COMMAND, operator_may_fly=state is not NodeState.DISABLED)
            return
        frame, self._pending_frame = self._pending_frame, None
        if frame is not None:
            self._command = self._step(frame)
        self._publish(self._command, answering=frame if self._control_rate == 0 else None)
        self._publish_uncertainty()

    def _update_state(self) -> NodeState:
        state, reason = self._failsafe.state(self._now())
        # (rclpy fixes a log call site's severity and filters at its first call: one call per kind)
        if state is not self._state and state is NodeState.RUNNING:
            self.get_logger().info(f"{self._state.value} -> running")
        elif state is not self._state and state is NodeState.DISABLED:
            self.get_logger().info(f"{self._state.value} -> disabled: commanding zero velocity")
        elif state is not self._state:
            self.get_logger().warning(f"{self._state.value} -> {state.value}: {reason}")
        elif state in (NodeState.STALE, NodeState.INVALID):
            doing = ("the operator flies, the policy is held back" if self._teleop is not None
                     and self._teleop.flying(self._now()) else "commanding zero velocity")
            self.get_logger().warning(f"{doing}: {reason}", throttle_duration_sec=WARN_PERIOD_S)
        self._state = state
        return state

    def _step(self, frame: Frame) -> np.ndarray:
        """One policy step on `frame`: the bounded command, or zero if the policy fails."""
        if self._failsafe.take_reset():
            self._reset_policy()
        dt = self._frame_dt(frame.time)
        if dt is None:
            return self._command
        imu = self._imu_history.at(frame.time, max_gap=self._failsafe.watchdog_timeout)
        started = time.perf_counter()
        self._uncertainty = None
        try:
            raw = self._policy.step(frame.rgb, imu, dt)
        except Exception as exc:  # a policy failure must end in a zero command, not a dead node
            self.get_logger().error(f"policy step failed, commanding zero velocity: {exc!r}",
                                    throttle_duration_sec=WARN_PERIOD_S)
            self._failsafe.request_reset()
            return ZERO_COMMAND
        self._step_stats.add((time.perf_counter() - started) * 1e3)
        self._uncertainty = self._policy.uncertainty
        if self._slow_down is not None:
            raw = self._slow_down.limit(raw, self._uncertainty, self._max_linear_speed, self._max_yaw_rate)
        if self._debug is not None:
            self._debug.offer(frame.rgb, frame.stamp, frame.frame_id, self._policy.state_vector())
        command = bound_command(raw, self._max_linear_speed, self._max_yaw_rate, self._vehicle)
        if command is None:
            self.get_logger().warning(f"policy produced a non-finite command {raw!r}, commanding zero velocity",
                                   throttle_duration_sec=WARN_PERIOD_S)
            self._failsafe.request_reset()
            return ZERO_COMMAND
        return command

    def _frame_dt(self, frame_time: float) -> float | None:
        """Seconds since the previously stepped frame (None for the same frame again); the
        policy's nominal dt after a reset, a gap or a stamp going backwards (which also reset)."""
        previous, self._last_frame_time = self._last_frame_time, frame_time
        if previous is None:
            return self._policy.spec.nominal_dt
        dt = frame_time - previous
        if dt == 0.0:
            return None
        if not 0.0 < dt <= self._failsafe.watchdog_timeout:
            self.get_logger().warning(f"frame stamps jumped by {dt:+.3f} s, resetting the recurrent state",
                                   throttle_duration_sec=WARN_PERIOD_S)
            self._reset_policy()
            self._last_frame_time = frame_time
            return self._policy.spec.nominal_dt
        return dt

    def _reset_policy(self) -> None:
        self._policy.reset()
        self._last_frame_time = None

    def _publish(self, command: np.ndarray, operator_may_fly: bool = True, answering: Frame | None = None) -> None:
        """Publish `command`, or the operator's while they fly (if they may), bounded by the current
        limits and planar for a rover (zero if not finite); with teleop, `~/intervention` says whose
        it was. A TwistStamped is stamped now; on simulated time, the answer to a frame (`answering`,
        stepping on every frame) carries that frame's stamp instead, whichever /clock this node has
        taken by then: a lockstep sim pairs each answer with its frame by it."""
        if self._teleop is not None:
            command, operator = self._teleop.select(command, self._now(), allowed=operator_may_fly)
            self._intervention_publisher.publish(Bool(data=operator))
        bounded = bound_command(command, self._max_linear_speed, self._max_yaw_rate, self._vehicle)
        if bounded is None:
            bounded = ZERO_COMMAND
        if self._stamped:
            if answering is not None and self.get_clock().ros_time_is_active:
                stamp = answering.stamp
            else:
                stamp = self.get_clock().now().to_msg()
            self._cmd_publisher.publish(command_to_twist_stamped(bounded, stamp, self._frame_id))
        else:
            self._cmd_publisher.publish(command_to_twist(bounded))

    def _publish_uncertainty(self) -> None:
        """Publish the uncertainty of the command just published (an ensemble's, when finite)."""
        if self._uncertainty_publisher is not None and self._uncertainty is not None and np.isfinite(self._uncertainty):
            self._uncertainty_publisher.publish(Float32(data=float(self._uncertainty)))

    def publish_stop(self) -> None:
        """One zero command, on shutdown. Fast DDS publishes from a writer thread of its own, so
        destroying the node right after `publish` could lose the zero and leave the robot on its
        last command: wait (at most 0.3 s) for the subscribers' acknowledgements, which also
        gives the writer the time to send it (a later heartbeat brings the acknowledgements, so
        the wait often runs out; that is not an error). With teleop, the last `~/intervention`
        (false) gets the same wait, so a recorder sees one flag for every command to the end."""
        self._publish(ZERO_COMMAND, operator_may_fly=False)
        self._cmd_publisher.wait_for_all_acked(Duration(seconds=0.3))
        if self._teleop is not None:
            self._intervention_publisher.wait_for_all_acked(Duration(seconds=0.3))

    # -- services, parameters, diagnostics ----------------------------------------------------

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self._reset_policy()
        self._command = ZERO_COMMAND
        response.success, response.message = True, "recurrent state cleared"
        self.get_logger().info("recurrent state cleared through ~/reset")
        return response

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        self._failsafe.set_enabled(request.data)
        if not request.data:
            self._command = ZERO_COMMAND
            self._publish(ZERO_COMMAND, operator_may_fly=False)
        response.success = True
        response.message = "enabled" if request.data else "disabled: commanding zero velocity"
        self._update_state()
        return response

    def _apply_parameters(self, parameters: list[Parameter]) -> None:
        for parameter in parameters:
            if parameter.name == "max_linear_speed":
                self._max_linear_speed = parameter.value
            elif parameter.name == "max_yaw_rate":
                self._max_yaw_rate = parameter.value
            elif parameter.name == "watchdog_timeout":
                self._failsafe.watchdog_timeout = parameter.value
            elif parameter.name == "frame_id":
                self._frame_id = parameter.value
            elif parameter.name == "teleop_timeout" and self._teleop is not None:
                self._teleop.timeout = parameter.value
            elif parameter.name == "control_rate":
                self._control_rate = parameter.value
                self.destroy_timer(self._control_timer)
                self._control_timer = self._make_control_timer()
            self.get_logger().info(f"parameter {parameter.name} set to {parameter.value!r}")

    def _make_control_timer(self):
        rate = self._control_rate if self._control_rate > 0 else FAILSAFE_RATE_HZ
        return self.create_timer(1.0 / rate, self._on_control_timer)

    def _publish_diagnostics(self) -> None:
        now = _seconds(self._steady)
        state, reason = self._failsafe.state(self._now())
        camera, imu, step = (stats.take(now) for stats in (self._camera_stats, self._imu_stats, self._step_stats))
        values = {
            "camera_rate_hz": camera["rate"], "imu_rate_hz": imu["rate"], "step_rate_hz": step["rate"],
            "step_latency_mean_ms": step["mean_ms"], "step_latency_max_ms": step["max_ms"],
            "camera_age_s": self._failsafe.camera.age(self._now()), "imu_age_s": self._failsafe.imu.age(self._now()),
            "invalid_camera_messages": self._failsafe.camera.invalid_count,
            "invalid_imu_messages": self._failsafe.imu.invalid_count,
            "command": " ".join(f"{v:.3f}" for v in self._command), "model_path": str(self._model_path),
            "runtime": self._policy.runtime,
        }
        if self._teleop is not None:
            values |= {"teleop_flying": self._teleop.flying(self._now()), "teleop_takeovers": self._teleop.takeovers,
                       "teleop_takeover_s": self._teleop.takeover_s(self._now()),
                       "teleop_refused_commands": self._teleop.refused}
        self._diagnostics_publisher.publish(
            diagnostic_array(self.get_clock().now().to_msg(), f"{self.get_name()}: policy",
                             str(self._model_path.name), state, reason, values))

    def _now(self) -> float:
        return _seconds(self.get_clock())

    def destroy_node(self) -> None:
        debug = getattr(self, "_debug", None)   # rclpy destroys a node whose __init__ failed, too
        if debug is not None:
            debug.close()
        super().destroy_node()


def _seconds(clock: Clock) -> float:
    return clock.now().nanoseconds * 1e-9


def _model_path(parameter: str, runtime: str, vehicle: str) -> Path:
    """`model_path`, or when it is empty the shipped model of `vehicle` (the drone's for '';
    its export for runtime onnx)."""
    if parameter:
        return Path(parameter)
    name = SHIPPED_MODELS[vehicle or "drone"]
    try:
        return share_path("models", f"{name}_onnx" if runtime == "onnx" else f"{name}.pt")
    except FileNotFoundError as exc:
        raise StartupError(f"model_path is empty and the shipped model cannot be found: {exc}") from exc


def load_runtime(path: Path, runtime: str):
    """The policy runtime for `path`: `OnnxPolicy` for an export (runtime onnx, or auto and a
    directory or .json), which never imports torch; else the torch `Policy` of a checkpoint.
    StartupError naming the file when it is missing, unusable or of the other kind."""
    if runtime == "onnx" or (runtime == "auto" and is_export(path)):
        if not is_export(path):
            raise StartupError(f"model_path {path}: runtime onnx runs an export (a directory written by "
                               f"`lnn-control export`, or its policy.json), not a checkpoint; "
                               f"export it with `lnn-control export {path} --out DIR`")
        from lnn_control.policy.onnx_runtime import load_onnx_policy

        try:
            return load_onnx_policy(path)
        except Exception as exc:  # any unusable export is a start-up failure with one line
            raise StartupError(f"model_path {path}: cannot load the exported policy: {exc}") from exc
    if is_export(path):
        raise StartupError(f"model_path {path}: runtime torch runs a checkpoint (.pt), not an export; "
                           f"use runtime:=onnx (or auto)")
    if not path.is_file():
        raise StartupError(f"model_path {path}: no such file (train one with `lnn-control train`, "
                           f"or pass model_path:=FILE.pt)")
    import torch  # imported only for a checkpoint, once it exists: a missing model fails fast

    from lnn_control.policy import load_policy

    # One step is a few small layers: intra-op threads only add latency, and spin-waiting
    # OpenMP threads collapse (tens of ms per convolution) when other processes hold the cores.
    torch.set_num_threads(1)
    try:
        return load_policy(path)
    except Exception as exc:  # any unreadable checkpoint is a start-up failure with one line
        raise StartupError(f"model_path {path}: cannot load the policy: {exc}") from exc


def _vehicle(parameter: str, policy, path: Path) -> str:
    """The vehicle the node drives: the model's (`PolicySpec.vehicle`); StartupError naming both
    when the `vehicle` parameter names the other one."""
    model = policy.spec.vehicle
    if parameter and parameter != model:
        raise StartupError(f"bad parameter vehicle: {parameter!r}, but model_path {path} is a {model} policy "
                           f"(its spec's vehicle is {model!r}): give vehicle:={model}, or vehicle:='' to take "
                           f"the model's")
    return model


def _slow_down(value: dict, policy) -> SlowDown | None:
    """The slow-down curve of the parameters, None without `slow_down`; StartupError when the
    thresholds are not low < stop or the policy has no uncertainty."""
    if not value["slow_down"]:
        return None
    if policy.spec.ensemble == 1:
        raise StartupError("slow_down:=true needs an ensemble policy (lnn-control train --ensemble K); "
                           "this model has one member and no uncertainty")
    if not value["uncertainty_low"] < value["uncertainty_stop"]:
        raise StartupError(f"bad parameter uncertainty_stop: {value['uncertainty_stop']} must be greater than "
                           f"uncertainty_low ({value['uncertainty_low']})")
    return SlowDown(value["uncertainty_low"], value["uncertainty_stop"])


def _executor(node: Node):
    """The executor for the node's clock.

    On the wall clock, rclpy's events executor: it runs each callback as its event comes, without
    rebuilding a wait set of every subscription, timer and service on each turn (which cost the
    node more CPU than the policy did: bench/bench_policy_node.py). On simulated time, the
    single-threaded executor: the events executor (rclpy 9.1, Kilted) can call a ROS-time timer
    twice for one period when two /clock messages are taken before it handles the first jump,
    and the timer then skips the next period (test_policy_node.py's /clock bursts show it)."""
    if node.get_parameter("use_sim_time").value:
        return SingleThreadedExecutor()
    return EventsExecutor()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        node = PolicyNode()
    except StartupError as exc:
        rclpy.logging.get_logger(NODE_NAME).fatal(str(exc))
        rclpy.try_shutdown()
        return 1
    executor = _executor(node)
    executor.add_node(node)
    while not stop.is_set():
        executor.spin_once(timeout_sec=0.1)
    node.publish_stop()
    node.get_logger().info("shutting down")
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
