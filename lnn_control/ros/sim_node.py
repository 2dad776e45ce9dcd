"""sim_node: a PyBullet world (lnn_control.envs, shifts included) served over ROS 2 topics.

Publishes (relative names, so namespaces and remaps apply), every frame, stamped in
simulated time (seconds since the node started; monotonic across episodes, with a gap of
`EPISODE_GAP_S` between episodes so that a policy_node on simulated time restarts its
recurrent state):
- `camera/image_raw` (`sensor_msgs/Image`, rgb8, frame_id `camera`), sensor-data QoS;
- `imu/data` (`sensor_msgs/Imu`, body frame FLU, frame_id `base_link`, no orientation),
  `imu_rate` readings per simulated second, sensor-data QoS: before each frame, the readings
  of the control period that led to it, oldest first, each stamped at its own simulated time,
  the last one at the frame's stamp (the frame's own IMU reading); IMU shifts apply to all;
- `odom` (`nav_msgs/Odometry`: pose in `world_frame`, twist in the body frame `base_link`);
- `/clock` (`rosgraph_msgs/Clock`), so nodes with `use_sim_time` run on simulated time;
- `episode/outcome` (`std_msgs/String`, JSON, transient-local QoS depth 10, one message per
  finished episode): {"episode", "seed", "world", "shifts", "success", "collision",
  "timeout", "time", "distance_to_target", "distance_flown"} (s, m).

Consumes `cmd_vel` (`geometry_msgs/Twist`, or `TwistStamped` with `stamped:=true`):
[linear.x, linear.y, linear.z, angular.z] in the heading frame (m/s, rad/s). A command
older than `cmd_timeout` simulated seconds, or non-finite, is replaced by hover (zero).
With `autopilot:=expert` the privileged expert flies and `cmd_vel` is ignored; the
expert's commands are published on `expert/cmd_vel` (Twist) for recording.

Stepping: each frame is followed by `1/camera_rate` s of physics (240 Hz); a frame that the
`frame_drops` shift drops is not published, and the next one comes that much later. With
`lockstep:=true` the node waits after each frame for a `cmd_vel` received after it (up to
`lockstep_timeout` wall seconds, then hover for that step and a warning): the policy's
answer to frame k is flown during step k however slow DDS or the policy is. Without
lockstep the newest command is flown. `real_time_factor` > 0 paces simulated time to that
multiple of wall time; 0 runs as fast as possible.

Episodes end on success, collision or the world's time limit (`time_limit` > 0 overrides
it); the outcome is published and, with `auto_reset:=true`, the next episode starts.
Episode i after the seed was (re)set uses seed `seed + i`; `~/reset_episode`
(`std_srvs/Trigger`) ends the current episode (not published) and starts the next one —
set the `seed` parameter first to choose its seed exactly.
"""
from __future__ import annotations

import json
import math
import signal
import sys
import time

import numpy as np
import rclpy
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.exceptions import ParameterException
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, Imu
from std_msgs.msg import String
from std_srvs.srv import Trigger

from lnn_control.envs import expert_action, make_env, parse_shift
from lnn_control.codec import InvalidMessage, twist_to_command
from lnn_control.ros.conversions import command_to_twist, rgb_to_image, seconds_to_stamp, vector_to_imu
from lnn_control.sim import PHYSICS_HZ, CameraConfig

NODE_NAME = "sim_node"
AUTOPILOTS = ("none", "expert")
WARN_PERIOD_S = 2.0
EPISODE_GAP_S = 1.0   # simulated time skipped between episodes: a policy_node resets on the gap

#: name -> (default, description). All are read at start-up except `seed` (read at each reset).
PARAMETERS = {
    "world": ("forest", "world name in sim_worlds/ or a world YAML path"),
    "seed": (0, "layout seed of the first episode; episode i uses seed + i (set it before ~/reset_episode)"),
    "shifts": ("", "distribution shifts, comma-separated 'name:severity' (e.g. 'fog:0.5,imu_bias:0.3'); '' = none"),
    "camera_width": (64, "pixels"),
    "camera_height": (48, "pixels"),
    "camera_rate": (20.0, "Hz: frames (and control steps) per simulated second; must divide 240"),
    "imu_rate": (240.0, "Hz: imu/data readings per simulated second; must divide 240 and be a multiple of camera_rate"),
    "real_time_factor": (0.0, "simulated s per wall s; 0 = as fast as possible"),
    "time_limit": (0.0, "s: episode time limit; 0 = the world's own"),
    "lockstep": (True, "wait for the cmd_vel answering each frame before stepping"),
    "lockstep_timeout": (1.0, "wall s to wait for that cmd_vel, then hover for the step"),
    "cmd_timeout": (0.5, "simulated s: a command older than this -> hover"),
    "stamped": (False, "cmd_vel is geometry_msgs/TwistStamped instead of Twist"),
    "autopilot": ("none", "none: fly cmd_vel; expert: the privileged expert flies, cmd_vel ignored"),
    "auto_reset": (True, "start the next episode when one ends"),
    "world_frame": ("world", "frame_id of odom"),
    "max_linear_speed": (2.0, "m/s: bound on each commanded |vx|, |vy|, |vz|"),
    "max_yaw_rate": (1.0, "rad/s: bound on the commanded |yaw_rate|"),
}


class StartupError(RuntimeError):
    """The node cannot start; the message is the one log line that says why."""


class SimNode(Node):
    """Steps the simulated world and exchanges its sensors and commands over ROS 2."""

    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        try:
            for name, (default, description) in PARAMETERS.items():
                # floating-point parameters also take integers (`real_time_factor:=1`)
                self.declare_parameter(name, default, ParameterDescriptor(
                    description=description, dynamic_typing=isinstance(default, float)))
        except ParameterException as exc:
            raise StartupError(f"bad parameter: {exc}") from exc
        for name, (default, _) in PARAMETERS.items():
            given = self.get_parameter(name).value
            if isinstance(default, float) and (isinstance(given, bool) or not isinstance(given, (int, float))):
                raise StartupError(f"bad parameter {name}: expected a number, got {given!r}")
        value = lambda name: self.get_parameter(name).value  # noqa: E731
        if value("autopilot") not in AUTOPILOTS:
            raise StartupError(f"bad parameter autopilot: {value('autopilot')!r} is not one of {', '.join(AUTOPILOTS)}")
        for name in ("camera_rate", "imu_rate", "lockstep_timeout", "cmd_timeout"):
            if not value(name) > 0:
                raise StartupError(f"bad parameter {name}: {value(name)} must be > 0")
        imu_rate, camera_rate = float(value("imu_rate")), float(value("camera_rate"))
        if not (_is_whole(PHYSICS_HZ / imu_rate) and _is_whole(imu_rate / camera_rate)):
            raise StartupError(f"bad parameter imu_rate: {imu_rate:g} Hz must divide the physics rate {PHYSICS_HZ} Hz "
                               f"and be a multiple of camera_rate {camera_rate:g} Hz")
        if value("real_time_factor") < 0:
            raise StartupError(f"bad parameter real_time_factor: {value('real_time_factor')} must be >= 0")
        self.world_name = str(value("world"))
        try:
            self.shifts = [parse_shift(text) for text in str(value("shifts")).split(",") if text.strip()]
            self.env = make_env(self.world_name, self.shifts, control_hz=camera_rate, imu_rate_hz=imu_rate,
                                camera=CameraConfig(width=int(value("camera_width")), height=int(value("camera_height"))),
                                max_linear_speed=float(value("max_linear_speed")),
                                max_yaw_rate=float(value("max_yaw_rate")))
        except (ValueError, FileNotFoundError) as exc:
            raise StartupError(f"cannot build the world: {exc}") from exc
        self.sim = self.env.unwrapped.sim
        self.period = self.env.unwrapped.control_period_s
        self.limits = self.env.action_space.high.astype(np.float64)
        self.real_time_factor = float(value("real_time_factor"))
        self.time_limit = float(value("time_limit"))
        self.lockstep = bool(value("lockstep"))
        self.lockstep_timeout = float(value("lockstep_timeout"))
        self.cmd_timeout = float(value("cmd_timeout"))
        self.expert = value("autopilot") == "expert"
        self.auto_reset = bool(value("auto_reset"))
        self.world_frame = str(value("world_frame"))
        self.stamped = bool(value("stamped"))

        self.clock_time = 0.0           # simulated s since start, over all episodes
        self.command = np.zeros(4)
        self.command_time = -math.inf   # simulated time the command arrived
        self.command_serial = 0         # commands received so far (lockstep waits for a new one)
        self.episode = -1
        self.episode_in_seed = 0
        self.seed_base = int(value("seed"))
        self.reset_requested = False
        self.lockstep_misses = 0

        sensor = qos_profile_sensor_data
        self.image_pub = self.create_publisher(Image, "camera/image_raw", sensor)
        self.imu_pub = self.create_publisher(Imu, "imu/data", sensor)
        self.odom_pub = self.create_publisher(Odometry, "odom", 10)
        self.clock_pub = self.create_publisher(Clock, "/clock", 10)
        self.outcome_pub = self.create_publisher(
            String, "episode/outcome", QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.expert_pub = self.create_publisher(Twist, "expert/cmd_vel", 10) if self.expert else None
        self.create_subscription(TwistStamped if self.stamped else Twist, "cmd_vel", self._on_cmd, 10)
        self.create_service(Trigger, "~/reset_episode", self._on_reset_episode)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._start_episode()
        self.get_logger().info(
            f"serving {self.world_name} (shifts {self.shifts or 'none'}) at {1 / self.period:g} Hz, "
            f"{'as fast as possible' if self.real_time_factor == 0 else f'real-time factor {self.real_time_factor:g}'}, "
            f"{'lockstep' if self.lockstep else 'free-running'}, autopilot {value('autopilot')}")

    # -- ROS callbacks --------------------------------------------------------------------

    def _on_cmd(self, msg) -> None:
        try:
            command = twist_to_command(msg.twist if self.stamped else msg).astype(np.float64)
        except InvalidMessage as error:
            self.get_logger().warning(f"refusing cmd_vel, hovering: {error}", throttle_duration_sec=WARN_PERIOD_S)
            command = np.zeros(4)
        self.command = np.clip(command, -self.limits, self.limits)
        self.command_time = self.clock_time
        self.command_serial += 1

    def _on_reset_episode(self, request, response):
        self.reset_requested = True
        response.success = True
        response.message = f"episode {self.episode + 1} starts with seed {self.seed_base + self.episode_in_seed}"
        return response

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        for parameter in parameters:
            if parameter.name == "seed":
                self.seed_base = int(parameter.value)
                self.episode_in_seed = 0
            elif parameter.name in PARAMETERS:
                return SetParametersResult(successful=False, reason=f"{parameter.name} is fixed at start-up")
        return SetParametersResult(successful=True)

    # -- simulation -----------------------------------------------------------------------

    def _start_episode(self) -> None:
        if self.episode >= 0:
            self.clock_time = round(self.clock_time + EPISODE_GAP_S, 9)
        self.episode += 1
        self.seed = self.seed_base + self.episode_in_seed
        self.episode_in_seed += 1
        self.observation, info = self.env.reset(seed=self.seed)
        self.imu_readings, self.imu_times = info["imu_samples"], info["imu_sample_times"]
        self.episode_start = self.clock_time
        self.distance_flown = 0.0
        self.command = np.zeros(4)
        self.command_time = -math.inf

    def publish_frame(self) -> None:
        """Publish /clock, the IMU readings up to the frame, odom and the camera frame (last: it
        triggers the policy)."""
        stamp = seconds_to_stamp(self.clock_time)
        self.clock_pub.publish(Clock(clock=stamp))
        for reading, reading_time in zip(self.imu_readings, self.imu_times):
            reading_stamp = seconds_to_stamp(round(self.clock_time - (self.imu_times[-1] - reading_time), 9))
            self.imu_pub.publish(vector_to_imu(reading, reading_stamp, "base_link"))
        self.odom_pub.publish(self._odometry(stamp))
        self.image_pub.publish(rgb_to_image(self.observation["image"], stamp, "camera"))

    def _odometry(self, stamp) -> Odometry:
        sim = self.sim
        msg = Odometry()
        msg.header.stamp = stamp
        msg.header.frame_id = self.world_frame
        msg.child_frame_id = "base_link"
        position, quaternion = sim.pose
        pose = msg.pose.pose
        pose.position.x, pose.position.y, pose.position.z = (float(v) for v in position)
        pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = (float(v) for v in quaternion)
        body_velocity = sim.rotation.T @ sim.velocity
        twist = msg.twist.twist
        twist.linear.x, twist.linear.y, twist.linear.z = (float(v) for v in body_velocity)
        twist.angular.x, twist.angular.y, twist.angular.z = (float(v) for v in sim.body_rates)
        return msg

    def flown_command(self) -> np.ndarray:
        """The command for the coming step: the expert's, or cmd_vel (hover when stale)."""
        if self.expert:
            command = expert_action(self.env).astype(np.float64)
            self.expert_pub.publish(command_to_twist(command))
            return command
        if self.clock_time - self.command_time > self.cmd_timeout:
            return np.zeros(4)
        return self.command

    def step(self, command: np.ndarray) -> None:
        """One control period of physics with `command`; publishes the outcome when the episode ends."""
        before = self.sim.position.copy()
        self.observation, _, terminated, truncated, info = self.env.step(command.astype(np.float32))
        self.imu_readings, self.imu_times = info["imu_samples"], info["imu_sample_times"]
        periods = round(float(self.observation["dt"][0]) / self.period)   # > 1 after dropped frames
        self.clock_time = round(self.clock_time + periods * self.period, 9)
        self.distance_flown += float(np.linalg.norm(self.sim.position - before))
        over_time = self.time_limit > 0 and self.clock_time - self.episode_start >= self.time_limit - 1e-9
        if terminated or truncated or over_time:
            self._publish_outcome(info, over_time and not (terminated or truncated))
            if self.auto_reset:
                self._start_episode()
            else:
                self.reset_requested = False
                while not self.reset_requested and rclpy.ok(context=self.context):
                    yield_to_ros(self, 0.1)
        if self.reset_requested:
            self.reset_requested = False
            self._start_episode()

    def _publish_outcome(self, info: dict, time_limit_hit: bool) -> None:
        outcome = {
            "episode": self.episode, "seed": self.seed, "world": self.world_name,
            "shifts": [f"{name}:{severity:g}" for name, severity in self.shifts],
            "success": bool(info["success"]), "collision": bool(info["collision"]),
            "timeout": bool(info["timeout"]) or time_limit_hit,
            "time": round(self.clock_time - self.episode_start, 6),
            "distance_to_target": float(info["distance_to_target"]),
            "distance_flown": round(self.distance_flown, 4),
        }
        self.outcome_pub.publish(String(data=json.dumps(outcome)))
        self.get_logger().info(f"episode outcome {json.dumps(outcome)}")


def _is_whole(ratio: float) -> bool:
    return abs(ratio - round(ratio)) < 1e-9


def yield_to_ros(node: Node, timeout_s: float) -> None:
    """Handle pending callbacks of `node` (waiting up to `timeout_s` wall seconds for one)."""
    node.executor.spin_once(timeout_sec=timeout_s)


def run(node: SimNode) -> None:
    """The simulation loop: publish a frame, get its command (lockstep or newest), step, pace."""
    wall_start, sim_start = time.monotonic(), node.clock_time
    while rclpy.ok(context=node.context):
        serial = node.command_serial
        node.publish_frame()
        if node.lockstep and not node.expert:
            deadline = time.monotonic() + node.lockstep_timeout
            while node.command_serial == serial and time.monotonic() < deadline and rclpy.ok(context=node.context):
                yield_to_ros(node, max(0.0, min(0.05, deadline - time.monotonic())))
            if node.command_serial == serial:
                node.lockstep_misses += 1
                node.command_time = -math.inf
                node.get_logger().warning(f"no cmd_vel within {node.lockstep_timeout:g} s of the frame: hovering",
                                          throttle_duration_sec=WARN_PERIOD_S)
        else:
            yield_to_ros(node, 0.0)
        node.step(node.flown_command())
        if node.real_time_factor > 0:
            ahead = (node.clock_time - sim_start) / node.real_time_factor - (time.monotonic() - wall_start)
            while ahead > 0 and rclpy.ok(context=node.context):
                yield_to_ros(node, min(ahead, 0.05))
                ahead = (node.clock_time - sim_start) / node.real_time_factor - (time.monotonic() - wall_start)


def main(args=None) -> int:
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stopping = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.append(True) or rclpy.try_shutdown())
    try:
        node = SimNode()
    except StartupError as exc:
        print(f"[{NODE_NAME}] {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 1
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        run(node)
    except Exception:
        if not stopping:
            raise
    finally:
        node.env.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
