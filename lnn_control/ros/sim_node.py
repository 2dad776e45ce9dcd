"""sim_node: a PyBullet world (lnn_control.envs, shifts included) served over ROS 2 topics.

The vehicle (`vehicle`, `lnn_control.vehicles`): the world's own (its YAML's `vehicle:`, a drone
for the shipped worlds) by default, or `drone` / `rover` (a wheeled ground robot, which drives
only linear.x and angular.z of `cmd_vel`: the simulator ignores linear.y and linear.z). Both are
served alike: the same topics, frames and stamps; the rover's camera, IMU and odometry are its
own (the simulator's rover body, on the ground).

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
  finished episode): {"episode", "seed", "world", "vehicle", "shifts"} and the episode's `Outcome`
  ("success", "collision", "timeout", "time_s", "distance_to_target_m", "path_length_m",
  "steps"; s, m).

Consumes `cmd_vel` (`geometry_msgs/Twist`, or `TwistStamped` with `stamped:=true`):
[linear.x, linear.y, linear.z, angular.z] in the heading frame (m/s, rad/s). A command
older than `cmd_timeout` simulated seconds, or non-finite, is replaced by hover (zero).
With `autopilot:=expert` the privileged expert flies and `cmd_vel` is ignored; the
expert's commands are published on `expert/cmd_vel` (Twist) for recording.

With `operator:=true` a simulated operator (`lnn_control.rollout.operator.SimulatedOperator`:
the privileged expert with a reaction delay, `OperatorRules`' defaults) watches the flight, as a
person with a joystick would, and drives policy_node's takeover (`teleop:=true`) over ROS:
before each frame it publishes `teleop/enable` (`std_msgs/Bool`: whether it has taken over) and,
while it has, `teleop/cmd_vel` (`geometry_msgs/Twist`, the expert's command for that state). The
sim still flies `cmd_vel`, which is the operator's command only if policy_node let it through.
Each outcome then also says `takeovers` and `operator_s` (simulated seconds the operator flew).

Stepping: each frame is followed by `1/camera_rate` s of physics (240 Hz); a frame that the
`frame_drops` shift drops is not published, and the next one comes that much later. With
`lockstep:=true` the node waits after each frame for a `cmd_vel` received after it (up to
`lockstep_timeout` wall seconds, then hover for that step and a warning): the policy's
answer to frame k is flown during step k however slow DDS or the policy is. A frame that went
out while nothing published `cmd_vel` (the sim came up before its policy node, or the policy
node restarted) is sent again (/clock, IMU, image) as soon as a pilot appears (a `cmd_vel`
publisher and a camera subscriber), and each `RESEND_PERIOD_S` while it stays unanswered, so
that a late pilot does not make the sim wait out `lockstep_timeout`. policy_node steps a frame
once and answers a repeat with that frame's stamp, which answers no later frame (unstamped,
such an answer can put the loop one step behind, as a watchdog zero can; see `CommandPilot`).
Without lockstep the newest command is flown. `real_time_factor` > 0 paces simulated time to that
multiple of wall time; 0 runs as fast as possible.

Each episode is flown by `lnn_control.rollout.fly`, as `collect` and `eval` fly theirs: the
pilot is `cmd_vel` (or the expert), an observer publishes the sensors. Episodes end on
success, collision or the world's time limit (`time_limit` > 0 replaces it); the outcome is
published and, with `auto_reset:=true`, the next episode starts.
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
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, Imu
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from lnn_control.codec import InvalidMessage, twist_to_command
from lnn_control.envs import make_env, parse_shift
from lnn_control.rollout import Decision, ExpertPilot, ObserverBase, fly
from lnn_control.rollout.operator import SimulatedOperator
from lnn_control.rollout.recording import odometry
from lnn_control.ros.conversions import (
    command_to_twist,
    rgb_to_image,
    seconds_to_stamp,
    stamp_to_seconds,
    vector_to_imu,
)
from lnn_control.ros.parameters import Param, ParameterTable, StartupError, declare_parameters
from lnn_control.sim import PHYSICS_HZ, CameraConfig
from lnn_control.vehicles import VEHICLES

NODE_NAME = "sim_node"
WARN_PERIOD_S = 2.0
EPISODE_GAP_S = 1.0   # simulated time skipped between episodes: a policy_node resets on the gap
RESEND_PERIOD_S = 1.0  # wall s between sending an unheard frame again in lockstep (see above)

#: All are fixed at start-up except `seed` (read at each reset).
PARAMETERS = ParameterTable(
    world=Param("forest", "world name in sim_worlds/ or a world YAML path", nonempty=True, read_only=True),
    vehicle=Param("", "drone, or rover (drives only linear.x and angular.z of cmd_vel); '' = the world's own "
                      "(its YAML's vehicle:, drone if none)", choices=("", *VEHICLES), read_only=True),
    seed=Param(0, "layout seed of the first episode; episode i uses seed + i (set it before ~/reset_episode)"),
    shifts=Param("", "distribution shifts, comma-separated 'name:severity' (e.g. 'fog:0.5,imu_bias:0.3'); "
                     "'' = none", read_only=True),
    camera_width=Param(64, "pixels", low=1, high=4096, read_only=True),
    camera_height=Param(48, "pixels", low=1, high=4096, read_only=True),
    camera_rate=Param(20.0, "Hz: frames (and control steps) per simulated second; must divide 240", low=1.0,
                      high=240.0, read_only=True),
    imu_rate=Param(240.0, "Hz: imu/data readings per simulated second; must divide 240 and be a multiple of "
                          "camera_rate", low=1.0, high=240.0, read_only=True),
    real_time_factor=Param(0.0, "simulated s per wall s; 0 = as fast as possible", low=0.0, high=1000.0,
                           read_only=True),
    time_limit=Param(0.0, "s: episode time limit; 0 = the world's own", low=0.0, high=3600.0, read_only=True),
    lockstep=Param(True, "wait for the cmd_vel answering each frame before stepping", read_only=True),
    lockstep_timeout=Param(1.0, "wall s to wait for that cmd_vel, then hover for the step", low=0.001, high=600.0,
                           read_only=True),
    cmd_timeout=Param(0.5, "simulated s: a command older than this -> hover", low=0.001, high=600.0, read_only=True),
    stamped=Param(False, "cmd_vel is geometry_msgs/TwistStamped instead of Twist", read_only=True),
    autopilot=Param("none", "none: fly cmd_vel; expert: the privileged expert flies, cmd_vel ignored",
                    choices=("none", "expert"), read_only=True),
    operator=Param(False, "a simulated operator watches and publishes teleop/enable + teleop/cmd_vel (for "
                          "policy_node's teleop:=true); needs autopilot none", read_only=True),
    auto_reset=Param(True, "start the next episode when one ends", read_only=True),
    world_frame=Param("world", "frame_id of odom", nonempty=True, read_only=True),
    max_linear_speed=Param(2.0, "m/s: bound on each commanded |vx|, |vy|, |vz|", low=0.0, high=20.0,
                           read_only=True),
    max_yaw_rate=Param(1.0, "rad/s: bound on the commanded |yaw_rate|", low=0.0, high=10.0, read_only=True),
)


class SimNode(Node):
    """Serves the simulated world over ROS 2: the episodes, their sensors, their outcomes."""

    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        declare_parameters(self, PARAMETERS)
        value = PARAMETERS.values(self)
        imu_rate, camera_rate = value["imu_rate"], value["camera_rate"]
        if not _is_whole(PHYSICS_HZ / camera_rate):
            raise StartupError(f"bad parameter camera_rate: {camera_rate:g} Hz must divide the physics rate "
                               f"{PHYSICS_HZ} Hz")
        if not (_is_whole(PHYSICS_HZ / imu_rate) and _is_whole(imu_rate / camera_rate)):
            raise StartupError(f"bad parameter imu_rate: {imu_rate:g} Hz must divide the physics rate {PHYSICS_HZ} Hz "
                               f"and be a multiple of camera_rate {camera_rate:g} Hz")
        self.world_name = value["world"]
        try:
            self.shifts = [parse_shift(text) for text in value["shifts"].split(",") if text.strip()]
            self.env = make_env(self.world_name, self.shifts, control_hz=camera_rate, imu_rate_hz=imu_rate,
                                camera=CameraConfig(width=value["camera_width"], height=value["camera_height"]),
                                max_linear_speed=value["max_linear_speed"], max_yaw_rate=value["max_yaw_rate"],
                                time_limit_s=value["time_limit"] or None, vehicle=value["vehicle"] or None)
        except (ValueError, FileNotFoundError) as exc:
            raise StartupError(f"cannot build the world: {exc}") from exc
        self.vehicle = self.env.unwrapped.vehicle
        self.real_time_factor = value["real_time_factor"]
        self.auto_reset = value["auto_reset"]
        self.episode = -1
        self.episode_in_seed = 0
        self.seed_base = value["seed"]
        self.reset_requested = False
        self.frame_time = 0.0          # simulated s since the node started, of the latest frame

        self.outcome_pub = self.create_publisher(
            String, "episode/outcome", QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.sensors = SensorPublisher(self, value["world_frame"])
        if value["operator"] and value["autopilot"] != "none":
            raise StartupError(f"bad parameter operator: the simulated operator takes over from policy_node, "
                               f"so it needs autopilot none, not {value['autopilot']!r}")
        self.operator = OperatorPublisher(self) if value["operator"] else None
        if value["autopilot"] == "expert":
            self.pilot = ExpertAutopilot(self)
        else:
            self.pilot = CommandPilot(self, stamped=value["stamped"], lockstep=value["lockstep"],
                                      lockstep_timeout=value["lockstep_timeout"], cmd_timeout=value["cmd_timeout"],
                                      limits=self.env.action_space.high.astype(np.float64))
        self.create_service(Trigger, "~/reset_episode", self._on_reset_episode)
        self.add_post_set_parameters_callback(self._on_parameters_set)
        pace = "as fast as possible" if self.real_time_factor == 0 else f"real-time factor {self.real_time_factor:g}"
        self.get_logger().info(
            f"serving {self.world_name} for the {self.vehicle} (shifts {self.shifts or 'none'}) at {camera_rate:g} Hz, "
            f"{pace}, {'lockstep' if value['lockstep'] else 'free-running'}, autopilot {value['autopilot']}"
            f"{', simulated operator on teleop/*' if self.operator else ''}")

    def _on_reset_episode(self, request, response):
        self.reset_requested = True
        response.success = True
        response.message = f"episode {self.episode + 1} starts with seed {self.seed_base + self.episode_in_seed}"
        return response

    def _on_parameters_set(self, parameters) -> None:
        for parameter in parameters:
            if parameter.name == "seed":
                self.seed_base = int(parameter.value)
                self.episode_in_seed = 0

    def run(self) -> None:
        """Fly episode after episode until shut down; publish each finished episode's outcome."""
        self.sensors.start_pacing(self.real_time_factor)
        while rclpy.ok(context=self.context):
            self.episode += 1
            self.seed = self.seed_base + self.episode_in_seed
            self.episode_in_seed += 1
            self.reset_requested = False
            # the operator first: its messages go out before the frame they are for
            observers = [self.sensors] if self.operator is None else [self.operator, self.sensors]
            outcome = fly(self.env, self.pilot, self.seed, observers=observers,
                          stop=lambda: self.reset_requested or not rclpy.ok(context=self.context))
            if not outcome.stopped:
                self._publish_outcome(outcome)
                while not self.auto_reset and not self.reset_requested and rclpy.ok(context=self.context):
                    yield_to_ros(self, 0.1)

    def _publish_outcome(self, outcome) -> None:
        fields = {key: value for key, value in outcome.to_dict().items() if key != "stopped"}
        message = {"episode": self.episode, "seed": self.seed, "world": self.world_name, "vehicle": self.vehicle,
                   "shifts": [f"{name}:{severity:g}" for name, severity in self.shifts], **fields}
        if self.operator is not None:
            message |= {"takeovers": self.operator.operator.takeovers,
                        "operator_s": round(self.operator.operator.intervention_s, 6)}
        self.outcome_pub.publish(String(data=json.dumps(message)))
        self.get_logger().info(f"episode outcome {json.dumps(message)}")


class SensorPublisher(ObserverBase):
    """Publishes what the vehicle senses before each decision: /clock, the IMU readings of the
    control period (each at its own stamp), odometry, and the camera frame last (it triggers
    the policy). With a real-time factor, waits until wall time catches up first.

    The clock: simulated seconds since the node started. A frame is stamped at the time it was
    taken: the episode's first at its start, each later one its `dt` (whole control periods:
    more after dropped frames) after the one before; the next episode starts `EPISODE_GAP_S`
    after the end of the last."""

    def __init__(self, node: SimNode, world_frame: str):
        self.node = node
        self.world_frame = world_frame
        sensor = qos_profile_sensor_data
        self.image_pub = node.create_publisher(Image, "camera/image_raw", sensor)
        self.imu_pub = node.create_publisher(Imu, "imu/data", sensor)
        self.odom_pub = node.create_publisher(Odometry, "odom", 10)
        self.clock_pub = node.create_publisher(Clock, "/clock", 10)
        self.real_time_factor = 0.0
        self.wall_start = self.sim_start = 0.0
        self.clock = 0.0            # the latest frame's stamp
        self.episode_start = None   # the next episode's first stamp (None: the first episode, at 0)
        self.first_frame = True
        self.frame_messages: list[tuple] = []   # (publisher, message): the latest frame's /clock, IMU, image

    def start_pacing(self, real_time_factor: float) -> None:
        self.real_time_factor = real_time_factor
        self.wall_start, self.sim_start = time.monotonic(), self.clock

    def started(self, env, observation: dict, info: dict, seed: int) -> None:
        if self.episode_start is not None:
            self.clock = self.episode_start
        self.first_frame = True

    def ended(self, env, observation: dict, info: dict, outcome) -> None:
        self.episode_start = round(self._after(env, observation) + EPISODE_GAP_S, 9)

    def _after(self, env, observation: dict) -> float:
        """The stamp of `observation`, the latest frame's plus its dt in whole control periods."""
        period = env.unwrapped.control_period_s
        return round(self.clock + round(float(observation["dt"][0]) / period) * period, 9)

    def observed(self, env, observation: dict, info: dict) -> None:
        if not self.first_frame:
            self.clock = self._after(env, observation)
        self.first_frame = False
        now = self.node.frame_time = self.clock
        self._pace(now)
        self.node.pilot.frame_published()
        stamp = seconds_to_stamp(now)
        last_reading_time = info["imu_sample_times"][-1]
        imu = [vector_to_imu(reading, seconds_to_stamp(round(now - (last_reading_time - reading_time), 9)), "base_link")
               for reading, reading_time in zip(info["imu_samples"], info["imu_sample_times"], strict=True)]
        clock, image = Clock(clock=stamp), rgb_to_image(observation["image"], stamp, "camera")
        self.frame_messages = [(self.clock_pub, clock), *((self.imu_pub, msg) for msg in imu), (self.image_pub, image)]
        for publisher, msg in self.frame_messages[:-1]:
            publisher.publish(msg)
        self.odom_pub.publish(self._odometry(env, stamp))
        self.image_pub.publish(image)

    def heard(self) -> bool:
        """Whether anything subscribes to the camera (a pilot could answer a frame sent now)."""
        return self.image_pub.get_subscription_count() > 0

    def send_again(self) -> None:
        """Publish what a pilot needs of the latest frame again, as it was: /clock, the IMU
        readings, the image (lockstep, for a late pilot; odometry is not repeated)."""
        self.node.get_logger().info(f"a pilot is here: sending the frame at {self.clock:.2f} s again (it went out "
                                    f"before there was one)", throttle_duration_sec=WARN_PERIOD_S)
        for publisher, msg in self.frame_messages:
            publisher.publish(msg)

    def _pace(self, now: float) -> None:
        if self.real_time_factor <= 0:
            return
        while rclpy.ok(context=self.node.context):
            ahead = (now - self.sim_start) / self.real_time_factor - (time.monotonic() - self.wall_start)
            if ahead <= 0:
                return
            yield_to_ros(self.node, min(ahead, 0.05))

    def _odometry(self, env, stamp) -> Odometry:
        state = odometry(env.unwrapped.sim)
        msg = Odometry()
        msg.header.stamp = stamp
        msg.header.frame_id = self.world_frame
        msg.child_frame_id = "base_link"
        pose, twist = msg.pose.pose, msg.twist.twist
        pose.position.x, pose.position.y, pose.position.z = (float(v) for v in state["position"])
        (pose.orientation.x, pose.orientation.y, pose.orientation.z,
         pose.orientation.w) = (float(v) for v in state["quaternion_xyzw"])
        twist.linear.x, twist.linear.y, twist.linear.z = (float(v) for v in state["body_velocity"])
        twist.angular.x, twist.angular.y, twist.angular.z = (float(v) for v in state["body_rates"])
        return msg


class OperatorPublisher(ObserverBase):
    """The simulated operator's joystick: before each frame, whether it has taken over on
    `teleop/enable` and, while it has, its command on `teleop/cmd_vel` (reliable, depth 10, as
    teleop_twist_joy publishes)."""

    def __init__(self, node: SimNode):
        self.operator = SimulatedOperator(learner=None)
        self.enable_pub = node.create_publisher(Bool, "teleop/enable", 10)
        self.cmd_pub = node.create_publisher(Twist, "teleop/cmd_vel", 10)

    def started(self, env, observation: dict, info: dict, seed: int) -> None:
        self.operator.reset(env, seed)

    def observed(self, env, observation: dict, info: dict) -> None:
        decision = self.operator.watch(env)
        if decision.intervention:
            self.cmd_pub.publish(command_to_twist(decision.command))
        self.enable_pub.publish(Bool(data=decision.intervention))


class CommandPilot:
    """Flies what arrives on `cmd_vel` (Twist, or TwistStamped): clipped to the limits, hover
    when it is older than `cmd_timeout` simulated seconds or not finite. In lockstep it waits,
    after each frame, for the command answering it (up to `lockstep_timeout` wall seconds, then
    hovers for that step with a warning): a Twist received after the frame, or a TwistStamped
    stamped at or after the frame's time. Only stamps pair a command with its frame: unstamped,
    a command sent after the frame for another reason (policy_node's watchdog zero when /clock
    jumps to a new episode) is taken for the answer, and the sim then flies answers one step
    late until a slow one lets it catch up; stamped, a late answer to an earlier frame is flown
    but answers none (a zero stamp, "not stamped", answers as a Twist does)."""

    def __init__(self, node: SimNode, stamped: bool, lockstep: bool, lockstep_timeout: float, cmd_timeout: float,
                 limits: np.ndarray):
        self.node = node
        self.stamped, self.lockstep = stamped, lockstep
        self.lockstep_timeout, self.cmd_timeout = lockstep_timeout, cmd_timeout
        self.limits = limits
        self.command = np.zeros(4)
        self.command_time = -math.inf   # simulated time the command arrived
        self.serial = 0                 # commands received so far that answer a frame (see above)
        self.serial_at_frame = 0
        self.unheard = False            # the latest frame went out with no pilot (no cmd_vel publisher)
        self.resend_at = 0.0            # monotonic s: when to send it again, once one appears
        self.subscription = node.create_subscription(TwistStamped if stamped else Twist, "cmd_vel", self._on_cmd, 10)

    def _on_cmd(self, msg) -> None:
        try:
            command = twist_to_command(msg.twist if self.stamped else msg).astype(np.float64)
        except InvalidMessage as error:
            self.node.get_logger().warning(f"refusing cmd_vel, hovering: {error}", throttle_duration_sec=WARN_PERIOD_S)
            command = np.zeros(4)
        self.command = np.clip(command, -self.limits, self.limits)
        self.command_time = self.node.frame_time
        stamp = stamp_to_seconds(msg.header.stamp) if self.stamped else 0.0   # 0: not stamped
        if stamp == 0.0 or stamp >= self.node.frame_time - 1e-9:
            self.serial += 1

    def frame_published(self) -> None:
        """A frame goes out now: lockstep waits for a command received after this."""
        self.serial_at_frame = self.serial
        self.unheard, self.resend_at = not self.pilot_present(), 0.0

    def pilot_present(self) -> bool:
        """Whether something publishes `cmd_vel` and subscribes to the camera."""
        return self.subscription.get_publisher_count() > 0 and self.node.sensors.heard()

    def reset(self, env, seed: int) -> None:
        self.command = np.zeros(4)
        self.command_time = -math.inf

    def act(self, observation: dict, env) -> Decision:
        if self.lockstep:
            deadline = time.monotonic() + self.lockstep_timeout
            while self.serial == self.serial_at_frame and time.monotonic() < deadline and rclpy.ok(
                    context=self.node.context):
                if self.unheard and time.monotonic() >= self.resend_at and self.pilot_present():
                    self.node.sensors.send_again()
                    self.resend_at = time.monotonic() + RESEND_PERIOD_S
                yield_to_ros(self.node, max(0.0, min(0.05, deadline - time.monotonic())))
            if self.serial == self.serial_at_frame:
                self.command_time = -math.inf
                self.node.get_logger().warning(f"no cmd_vel within {self.lockstep_timeout:g} s of the frame: hovering",
                                               throttle_duration_sec=WARN_PERIOD_S)
        else:
            yield_to_ros(self.node, 0.0)
        if self.node.frame_time - self.command_time > self.cmd_timeout:
            return Decision(np.zeros(4))
        return Decision(self.command)


class ExpertAutopilot:
    """The privileged expert flies (`cmd_vel` is ignored); its commands go out on
    `expert/cmd_vel` (Twist), for recording."""

    def __init__(self, node: SimNode):
        self.node = node
        self.expert = ExpertPilot()
        self.expert_pub = node.create_publisher(Twist, "expert/cmd_vel", 10)

    def frame_published(self) -> None:
        pass

    def reset(self, env, seed: int) -> None:
        self.expert.reset(env, seed)

    def act(self, observation: dict, env) -> Decision:
        yield_to_ros(self.node, 0.0)
        decision = self.expert.act(observation, env)
        self.expert_pub.publish(command_to_twist(decision.command))
        return decision


def _is_whole(ratio: float) -> bool:
    return abs(ratio - round(ratio)) < 1e-9


def yield_to_ros(node: Node, timeout_s: float) -> None:
    """Handle pending callbacks of `node` (waiting up to `timeout_s` wall seconds for one)."""
    node.executor.spin_once(timeout_sec=timeout_s)


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
        node.run()
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
