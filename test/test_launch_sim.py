"""launch/sim.launch.xml and launch/policy.launch.xml, started as `ros2 launch` would, over real DDS.

Each launch file is read with test/launch_xml.py; each node runs in its own process with the
exact argv `ros2 launch` builds (console script, `--ros-args`, `-r __node:=`, `--params-file`,
remaps), on this test's own ROS_DOMAIN_ID; every process is stopped at the end, also on failure.
The nodes start publishing as soon as they are up; a test counts only what comes after all of
its subscriptions are matched and have had a first message, it waits for the reliable messages
it asserts on before it stops the nodes (one lost on the way holds back those after it until it
is resent: CI once got 2 odometry messages of a whole rover episode, and none of a takeover's
operator commands, when the test stopped the nodes at once), and every deadline is generous (a
wait returns as soon as its condition holds; a timeout says how much of each topic arrived).

- policy path: sim_node + policy_node (a random-weight CfC: no trained model is needed to
  check the plumbing) in lockstep on simulated time: frames and commands flow both ways,
  commands stay within the limits, the drone moves, one command answers each frame, paired by
  stamp (TwistStamped, the launch default; lockstep:
  the sim only advances on a command); a test subscriber records the loop to a
  rosbag2 MCAP bag (the data package's EpisodeBagWriter) and `lnn-control train` trains on it;
- expert path: sim_node with `autopilot:=expert` (the privileged expert flies inside the sim
  node): an episode outcome with success arrives over DDS, in simulated time;
- learning on the job: sim_node with its simulated operator (`operator:=true`) + policy_node
  with `teleop:=true`: the operator takes over from a random-weight policy through the node's
  mux (the commands flown while `~/intervention` says so are the operator's; each command is
  paired with its flag by their DDS publication sequence numbers, see `Launched`), the test records
  camera, IMU, cmd_vel and the takeover flag to a bag, and `lnn-control train --init
  models/cfc_forest.pt --interventions` fine-tunes the shipped model on it;
- the rover: launch/rover_sim.launch.xml (sim_node and policy_node both vehicle:=rover) with an
  untrained rover checkpoint whose head drives vy and vz hard (test/rover_checkpoint.py): whole
  episodes are driven over DDS, their outcomes say rover, every cmd_vel is planar (linear.y,
  linear.z 0) and the rover drives along the ground;
- shipped-model path: sim_node + policy_node with models/cfc_forest.pt, nothing else: the
  policy reaches the target over DDS on an evaluation seed it reached in `lnn-control eval`
  (the episode is started with ~/reset_episode once the policy flies, so that how long the
  policy node took to start does not matter, and `lockstep_timeout:=60.0` makes the sim wait for
  every answer, so that a loaded machine flies the loop eval flew: with the default 1 s a run
  under stress-ng once flew seed 10001 into a tree, most likely after a late answer was hovered over).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from geometry_msgs.msg import Twist, TwistStamped
from launch_xml import read_launch
from nav_msgs.msg import Odometry
from rcl_interfaces.srv import SetParameters
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from ros_harness import NodesUnderTest, matched, parameter_request
from rosgraph_msgs.msg import Clock
from rover_checkpoint import sideways_rover_checkpoint
from sensor_msgs.msg import Image, Imu
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from lnn_control.codec import image_to_rgb, imu_to_vector, twist_to_command
from lnn_control.paths import share_path
from lnn_control.ros.conversions import stamp_to_seconds
from lnn_control.ros.sim_node import EPISODE_GAP_S

BIN = Path(sys.executable).parent
WAIT_S = 300.0   # wall s: the longest any one wait may take (pytest-timeout allows 600 s a test)


class Launched(NodesUnderTest):
    """The nodes of a launch file as processes, and a test node listening to the loop.

    Callbacks only keep the messages (in arrival order); they are decoded once the loop is
    stopped, so that this process keeps up with a sim running as fast as it can. Queues are deep:
    nothing that arrives is dropped before this process takes it. But the nodes' publishers keep
    only their last 10 messages (reliable, depth 10), so a message can still be lost here when this
    process falls that far behind (a loaded machine): cmd_vel and `~/intervention` are recorded
    with their publication sequence numbers, and policy_node publishes one flag with every
    command, so the k-th of each make a pair whatever was lost on either topic."""

    wait_s = WAIT_S

    def __init__(self, launch_file: Path, arguments: dict, scratch: Path, repo_root: Path, domain: int,
                 only: set[str] | None = None):
        nodes = [node for node in read_launch(launch_file, {"lnn_control": repo_root}, arguments)
                 if only is None or node.name in only]
        self.images: list = []          # messages, in arrival order
        self.imus: list = []
        self.odoms: list = []
        self.commands: list = []
        self.clock: list[float] = []
        self.outcomes: list[dict] = []
        self.teleop = str((arguments or {}).get("teleop", "false")).lower() == "true"
        self.stamped = any(node.name == "policy_node" and node.params.get("stamped") is True for node in nodes)
        self.command_stamps: list[float] = []  # TwistStamped cmd_vel: the header stamp (s) of each of self.commands
        self.command_numbers: list[int] = []   # the publication sequence number of each of self.commands
        self.flags: list[bool] = []         # policy_node/intervention, in arrival order
        self.flag_numbers: list[int] = []   # the publication sequence number of each flag
        self.operator_commands: list = []   # teleop/cmd_vel
        self.operator_numbers: list[int] = []  # the publication sequence number of each operator command
        self.operator_subscription = None
        super().__init__(domain, "launch_test",
                         {node.name: (node.command([BIN], scratch), scratch / f"{node.name}.log") for node in nodes})

    def connect(self, node) -> None:
        sub = node.create_subscription
        sensor = QoSProfile(depth=50000, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.subscriptions = {
            "camera/image_raw": sub(Image, "camera/image_raw", lambda m: self._record(self.images, m), sensor),
            "imu/data": sub(Imu, "imu/data", lambda m: self._record(self.imus, m), sensor),
            "odom": sub(Odometry, "odom", lambda m: self._record(self.odoms, m), 50000),
            "/clock": sub(Clock, "/clock", lambda m: self._record(self.clock, stamp_to_seconds(m.clock)), 50000),
        }
        if "policy_node" in self.processes:
            self.subscriptions["cmd_vel"] = sub(TwistStamped if self.stamped else Twist, "cmd_vel",
                                                self._on_command, 50000)
        if self.teleop:
            self.subscriptions["policy_node/intervention"] = sub(
                Bool, "policy_node/intervention", self._on_flag, 50000)
            # matched before the loop is counted, but no first message awaited: the operator publishes
            # only while it flies
            self.operator_subscription = sub(Twist, "teleop/cmd_vel", self._on_operator_command, 50000)
        sub(String, "episode/outcome", lambda m: self._record(self.outcomes, json.loads(m.data)),
            QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.seed_client = node.create_client(SetParameters, "/sim_node/set_parameters")
        self.reset_client = node.create_client(Trigger, "/sim_node/reset_episode")

    def _on_command(self, msg: Twist | TwistStamped, info) -> None:
        with self.lock:
            self.command_numbers.append(info["publication_sequence_number"])
            if self.stamped:
                self.command_stamps.append(stamp_to_seconds(msg.header.stamp))
                msg = msg.twist
            self._record(self.commands, msg)

    def _on_operator_command(self, msg: Twist, info) -> None:
        with self.lock:
            self.operator_numbers.append(info["publication_sequence_number"])
            self._record(self.operator_commands, msg)

    def unexplained_takeover(self, count: int) -> set[tuple]:
        """The distinct commands among the first `count` of `self.commands` that were flown while
        `~/intervention` said so and are none of the operator commands received here (call under
        the lock, or once the loop is stopped)."""
        operator = {tuple(twist_to_command(m)) for m in self.operator_commands}
        flown = (tuple(twist_to_command(m)) for m in self.commands[:count])
        return {c for c, flag in zip(flown, self.flags_of_the_commands()[:count], strict=True)
                if flag and c not in operator}

    def lost_operator_commands(self) -> int:
        """How many of sim_node's `teleop/cmd_vel` messages (up to the last that arrived) never
        reached this process: the gaps in their publication sequence numbers (from 1)."""
        return max(self.operator_numbers, default=0) - len(set(self.operator_numbers))

    def _on_flag(self, msg: Bool, info) -> None:
        with self.lock:
            self.flag_numbers.append(info["publication_sequence_number"])
            self._record(self.flags, msg.data)

    def flags_of_the_commands(self) -> list[bool | None]:
        """The `~/intervention` flag published with each of `self.commands` (None where this process
        did not receive it), paired by publication sequence number (call once the loop is stopped, or
        holding self.lock)."""
        flag_of = dict(zip(self.flag_numbers, self.flags, strict=True))
        assert None not in flag_of and len(flag_of) == len(self.flags), \
            f"flags without a unique publication sequence number: {self.flag_numbers[:10]}"
        assert None not in self.command_numbers and len(set(self.command_numbers)) == len(self.commands), \
            f"commands without a unique publication sequence number: {self.command_numbers[:10]}"
        return [flag_of.get(number) for number in self.command_numbers]

    def flagged_commands(self) -> int:
        """How many of the commands received so far came with a `~/intervention` flag that is set
        (flags and commands are separate topics: a flag can arrive before its command)."""
        with self.lock:
            return sum(bool(flag) for flag in self.flags_of_the_commands())

    def wait_for(self, predicate, what: str, *args, **kwargs):
        """`NodesUnderTest.wait_for`; a timeout also says how many messages of each topic arrived here."""
        try:
            return super().wait_for(predicate, what, *args, **kwargs)
        except AssertionError as failure:
            with self.lock:
                tally = ", ".join(f"{topic} {len(stream)}" for topic, stream in self._streams().items())
            raise AssertionError(f"{failure}\nreceived here: {tally}") from None

    def _streams(self) -> dict[str, list]:
        return {"camera/image_raw": self.images, "imu/data": self.imus, "odom": self.odoms, "/clock": self.clock,
                "cmd_vel": self.commands, "policy_node/intervention": self.flags,
                "teleop/cmd_vel": self.operator_commands, "episode/outcome": self.outcomes}

    def complete_frames(self, after: float, until: float = np.inf) -> int:
        """How many frames stamped in (after, until] have arrived here with their IMU reading and
        odometry (what `_frames` keeps). Odometry is reliable: one lost on the way holds back those
        after it until it is resent, so it may come well after its frame (call under the lock)."""
        imu = {stamp_to_seconds(m.header.stamp) for m in self.imus}
        odometry = {stamp_to_seconds(m.header.stamp) for m in self.odoms}
        return sum(after < t <= until and t in imu and t in odometry
                   for t in (stamp_to_seconds(m.header.stamp) for m in self.images))

    def wait_until_listening(self) -> None:
        """Until every subscription of the test is matched and has had a first message."""
        endpoints = [*self.subscriptions.values(), *filter(None, [self.operator_subscription])]
        self.wait_for(lambda: matched(endpoints), "DDS to match the test's subscriptions")
        streams = self._streams()
        self.wait_for(lambda: all(streams[topic] for topic in self.subscriptions), "a first message on every topic")


def _at_most_every(seconds: float, predicate: Callable[[], bool]) -> Callable[[], bool]:
    """`predicate`, evaluated at most once every `seconds` wall s (False in between): for a costly
    condition that `wait_for` would otherwise check at every message of a sim at full speed."""
    next_check = 0.0

    def throttled() -> bool:
        nonlocal next_check
        if time.monotonic() < next_check:
            return False
        next_check = time.monotonic() + seconds
        return predicate()
    return throttled


def _frames(launched: Launched, after: float = -1.0, until: float = np.inf) -> dict[float, dict]:
    """Stamp (s) -> image, imu, odom of the frames stamped in (after, until] that have all three: the
    IMU reading stamped at the frame (the last of its period), the odometry published with it."""
    frames: dict[float, dict] = {}
    for key, messages, decode in (("image", launched.images, image_to_rgb), ("imu", launched.imus, imu_to_vector),
                                  ("odom", launched.odoms, lambda m: m)):
        for msg in messages:
            t = stamp_to_seconds(msg.header.stamp)
            if after < t <= until and (key == "image" or t in frames):
                frames.setdefault(t, {})[key] = decode(msg)
    return {t: f for t, f in sorted(frames.items()) if len(f) == 3}


def _write_bag(bag: Path, frames: dict[float, dict], commands: np.ndarray, flags: list[bool] | None = None) -> int:
    """The recorded loop as a rosbag2 bag: each frame with the command that followed it (and the
    takeover flag published with that command), all at the frame's stamp; the frames written (as
    many as there are both frames and commands)."""
    from lnn_control.data.bag_writer import EpisodeBagWriter

    bag.parent.mkdir(exist_ok=True)
    written = 0
    with EpisodeBagWriter(bag) as writer:
        for k, ((t, frame), command) in enumerate(zip(frames.items(), commands, strict=False)):
            odom = frame["odom"]
            pose, twist = odom.pose.pose, odom.twist.twist
            writer.write_frame(int(round(t * 1e9)), frame["image"], frame["imu"], command, {
                "position": [pose.position.x, pose.position.y, pose.position.z],
                "quaternion_xyzw": [pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w],
                "body_velocity": [twist.linear.x, twist.linear.y, twist.linear.z],
                "body_rates": [twist.angular.x, twist.angular.y, twist.angular.z]},
                intervention=None if flags is None else flags[k])
            written += 1
    return written


def test_sim_launch_closes_the_loop_with_the_policy_node_and_the_recording_trains(
        ros_domain_id, repo_root, checkpoint, tmp_path):
    """One command answers each frame, paired by stamp: with `stamped:=true` (the launch file's
    default) policy_node on simulated time stamps each answer at its frame's stamp, and the sim
    publishes one /clock at each frame's stamp (reliable), so both counts are exact whatever this
    process lost or received late."""
    launched = Launched(repo_root / "launch" / "sim.launch.xml",
                        {"model_path": str(checkpoint), "seed": "3", "real_time_factor": "0.0"},
                        tmp_path, repo_root, ros_domain_id)
    try:
        launched.wait_until_listening()
        # the window: 80 frames in simulated time, from the first frame after the policy flies
        launched.wait_for(lambda: any(twist_to_command(m).any() for m in launched.commands), "a non-zero command")
        with launched.lock:
            after = max(stamp_to_seconds(m.header.stamp) for m in launched.images)
        launched.wait_for(lambda: sum(stamp_to_seconds(m.header.stamp) > after for m in launched.images) >= 80,
                          "80 frames")
        with launched.lock:
            until = max(stamp_to_seconds(m.header.stamp) for m in launched.images)
            received = sum(after < stamp_to_seconds(m.header.stamp) <= until for m in launched.images)
        # /clock, odometry and cmd_vel are reliable and in order: once a message stamped after the
        # window has come, every one stamped inside it has (a lost one would hold the later ones back)
        launched.wait_for(lambda: min(max(launched.clock), max(launched.command_stamps),
                                      max(stamp_to_seconds(m.header.stamp) for m in launched.odoms)) > until,
                          "/clock, odometry and a command stamped after the window")
    finally:
        codes = launched.stop()
    assert codes == {"sim_node": 0, "policy_node": 0}, codes
    # frames with their IMU reading (the last of their period) and odometry; the IMU is best
    # effort, as on a robot: a reading lost on the way (under load) leaves its frame out
    frames = _frames(launched, after, until)
    odometry = {stamp_to_seconds(m.header.stamp) for m in launched.odoms}
    window = {t for t in (stamp_to_seconds(m.header.stamp) for m in launched.images) if after < t <= until}
    assert len(window) == received >= 80 and window <= odometry, "every frame's odometry (reliable) came"
    assert len(frames) >= 0.9 * received, f"only {len(frames)} of {received} frames came with their IMU reading"
    # the frames the sim published in the window: one /clock at each one's stamp
    published = np.array(sorted({t for t in launched.clock if after < t <= until}))
    images = {stamp_to_seconds(m.header.stamp) for m in launched.images}
    assert set(frames) <= set(published.tolist()) and published[-1] == until
    steps = np.diff(published)   # simulated time at 20 Hz; a new episode starts EPISODE_GAP_S later
    assert np.all(steps > 0) and np.median(steps) == pytest.approx(0.05)
    assert np.allclose(steps[steps > 0.5], 0.05 + EPISODE_GAP_S), steps[steps > 0.5]
    episodes = int(np.sum(steps > 0.5))
    # the commands stamped in the window: the policy's answers, each at the stamp of the frame it
    # answers, and at each new episode (/clock jumped by more than watchdog_timeout) one zero of its
    # failsafe, stamped at the episode's first frame
    inside = [(t, twist_to_command(m)) for t, m in zip(launched.command_stamps, launched.commands, strict=True)
              if after < t <= until]
    commands = np.array([c for _, c in inside])
    answers = [t for t, c in inside if c.any()]
    counts = {t: answers.count(t) for t in published.tolist()}
    twice = [t for t, n in counts.items() if n > 1]
    unanswered = [t for t, n in counts.items() if n == 0]
    assert set(answers) <= set(counts), f"answers at no frame's stamp: {sorted(set(answers) - set(counts))[:10]}"
    # one answer to each frame, never two; a frame lost on its way to the policy (best effort) has
    # none, and the sim hovers over it after lockstep_timeout
    assert not twice and len(unanswered) <= len(published) // 20, (
        f"{len(published)} frames published ({len(images & set(counts))} received here), {len(answers)} answers: "
        f"answered twice {twice[:10]}, not answered {unanswered[:10]}; {launched.log_tails()}")
    assert len(commands) - len(answers) <= episodes, f"{len(commands) - len(answers)} zeros, {episodes} new episodes"
    assert np.all(np.abs(commands[:, :3]) <= 2.0 + 1e-6) and np.all(np.abs(commands[:, 3]) <= 1.0 + 1e-6)
    assert np.abs(commands).max() > 1e-3, "the policy only ever sent zero"
    first, last = frames[min(frames)]["image"], frames[max(frames)]["image"]
    assert first.shape == (48, 64, 3)
    # ... and the drone flies them
    positions = np.array([[f["odom"].pose.pose.position.x, f["odom"].pose.pose.position.y,
                           f["odom"].pose.pose.position.z] for f in frames.values()])
    assert np.linalg.norm(positions - positions[0], axis=1).max() > 0.1
    assert not np.array_equal(first, last)

    # recorder path: the recorded loop is a rosbag2 bag that `lnn-control train` trains on
    bag = tmp_path / "bags" / "sim_loop"
    _write_bag(bag, frames, commands)
    out = tmp_path / "retrained.pt"
    result = subprocess.run([str(BIN / "lnn-control"), "train", "--bags", str(bag.parent), "--model", "cfc",
                             "--out", str(out), "--epochs", "1", "--seed", "0"],
                            capture_output=True, text=True, timeout=WAIT_S)
    assert result.returncode == 0, result.stdout + result.stderr
    from lnn_control.policy import load_policy

    assert load_policy(out).spec.kind == "cfc"


def test_sim_launch_with_the_expert_reaches_the_target_over_dds(ros_domain_id, repo_root, checkpoint, tmp_path):
    launched = Launched(repo_root / "launch" / "sim.launch.xml",
                        {"model_path": str(checkpoint), "seed": "24", "autopilot": "expert"},
                        tmp_path, repo_root, ros_domain_id, only={"sim_node"})
    try:
        launched.wait_until_listening()
        # the outcome topic is transient-local: an episode that ended before the match is delivered
        # too, so the sim may have flown it before the test listened; the odometry that the sim keeps
        # publishing (the next episodes) is waited for as well
        launched.wait_for(lambda: any(o["success"] for o in launched.outcomes) and len(launched.odoms) > 20,
                          "an episode outcome with success, and odometry")
    finally:
        codes = launched.stop()
    assert codes == {"sim_node": 0}
    success = next(o for o in launched.outcomes if o["success"])
    assert success["seed"] == 24 and not success["collision"] and success["distance_to_target_m"] < 1.5
    assert 0 < success["time_s"] < 60 and success["path_length_m"] > 5.0
    odometry = [m.pose.pose.position for m in launched.odoms]
    assert len(odometry) > 20


def test_rover_sim_launch_drives_whole_episodes_with_planar_commands(ros_domain_id, repo_root, tmp_path):
    rover = sideways_rover_checkpoint(tmp_path / "sideways_rover.pt")
    launched = Launched(repo_root / "launch" / "rover_sim.launch.xml",
                        {"model_path": str(rover), "seed": "5", "time_limit": "3.0"}, tmp_path, repo_root,
                        ros_domain_id)
    try:
        launched.wait_until_listening()
        launched.wait_for(lambda: any(twist_to_command(m).any() for m in launched.commands), "the policy to drive")
        with launched.lock:
            ended, odometry = len(launched.outcomes), len(launched.odoms)
        # the episode under way may have begun before the policy drove; the one after it is all the policy's
        launched.wait_for(lambda: len(launched.outcomes) >= ended + 2, "a whole episode driven by the policy")
        # odometry is reliable: one lost on the way holds back those after it until it is resent
        launched.wait_for(lambda: len(launched.odoms) >= odometry + 40, "40 odometry messages since the policy drove")
    finally:
        codes = launched.stop()
    assert codes == {"sim_node": 0, "policy_node": 0}, codes
    assert "for the rover" in launched.log("policy_node") and "serving forest for the rover" in launched.log("sim_node")
    driven = launched.outcomes[ended + 1]
    assert driven["vehicle"] == "rover" and driven["steps"] > 0 and driven["path_length_m"] > 0.3, driven
    assert driven["success"] + driven["collision"] + driven["timeout"] == 1 and driven["time_s"] <= 3.0 + 1e-6
    twists = [(m.linear.x, m.linear.y, m.linear.z, m.angular.x, m.angular.y, m.angular.z) for m in launched.commands]
    assert all(t[1:5] == (0.0, 0.0, 0.0, 0.0) for t in twists), [t for t in twists if t[1:5] != (0.0,) * 4][:5]
    assert max(t[0] for t in twists) > 0.5, "the policy drives forward"
    positions = np.array([[m.pose.pose.position.x, m.pose.pose.position.y, m.pose.pose.position.z]
                          for m in launched.odoms])
    assert np.linalg.norm(positions[:, :2] - positions[0, :2], axis=1).max() > 0.3
    assert np.abs(positions[:, 2] - positions[0, 2]).max() < 0.05, "on the ground, whatever vz the policy wanted"


def test_rover_launch_puts_both_nodes_on_the_rover(repo_root):
    """Both nodes vehicle rover; an empty model_path goes through as it is (policy_node resolves it
    to the shipped rover model, see test_policy_node_rover.py)."""
    share = {"lnn_control": repo_root}
    nodes = {n.name: n for n in read_launch(repo_root / "launch" / "rover_sim.launch.xml", share)}
    assert nodes["sim_node"].params["vehicle"] == nodes["policy_node"].params["vehicle"] == "rover"
    assert nodes["policy_node"].params["model_path"] == "" and nodes["sim_node"].params["time_limit"] == 0.0
    nodes = {n.name: n for n in read_launch(repo_root / "launch" / "rover_sim.launch.xml", share,
                                             {"teleop": "true", "operator": "true", "world": "urban"})}
    assert nodes["policy_node"].params["teleop"] is True and nodes["sim_node"].params["operator"] is True
    assert nodes["sim_node"].params["world"] == "urban"
    [node] = read_launch(repo_root / "launch" / "policy.launch.xml", share, {"vehicle": "rover"})
    assert node.params["vehicle"] == "rover"
    [node] = read_launch(repo_root / "launch" / "policy.launch.xml", share)
    assert node.params["vehicle"] == ""


SHIPPED_MODEL = share_path("models", "cfc_forest.pt")


@pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason=f"no shipped model at {SHIPPED_MODEL}")
def test_sim_operator_takes_over_through_the_node_and_the_corrections_fine_tune_the_shipped_model(
        ros_domain_id, repo_root, checkpoint, tmp_path):
    launched = Launched(repo_root / "launch" / "sim.launch.xml",
                        {"model_path": str(checkpoint), "seed": "3", "teleop": "true", "operator": "true"},
                        tmp_path, repo_root, ros_domain_id)
    try:
        launched.wait_until_listening()
        with launched.lock:
            first_command = len(launched.commands)
            after = max(stamp_to_seconds(m.header.stamp) for m in launched.images)
        # a random-weight policy soon needs correcting; the operator flies at least hold_s (3 s) then
        launched.wait_for(lambda: launched.flagged_commands() >= 30 and not launched.flags[-1],
                          "a takeover and its end: 30 flagged commands received")
        with launched.lock:
            last_command = len(launched.commands)
        # the operator's commands and the odometry are reliable: one lost on the way holds back those
        # after it until it is resent. sim_node's operator publisher keeps its last 10 messages: a
        # flagged command may be one of the operator's that never reached this process, but never
        # more distinct ones than were lost (by their publication sequence numbers). The frames
        # (best effort) may come in behind the commands: 30 whole ones are waited for, for the bag
        launched.wait_for(_at_most_every(0.2, lambda: len(launched.unexplained_takeover(last_command))
                                         <= launched.lost_operator_commands()
                                         and launched.complete_frames(after) >= 30),
                          "the operator's commands flown in the takeover, and 30 frames with their IMU and odometry",
                          timeout=60.0)
    finally:
        codes = launched.stop()
    assert codes == {"sim_node": 0, "policy_node": 0}, codes
    # one flag is published with every command: each command's own, by publication sequence number
    flags_of_the_commands = launched.flags_of_the_commands()
    flags = flags_of_the_commands[:last_command]
    unpaired = sum(flag is None for flag in flags)
    operator = {tuple(twist_to_command(m)) for m in launched.operator_commands}
    flown = [tuple(twist_to_command(m)) for m in launched.commands[:last_command]]
    taken_over = [c for c, flag in zip(flown, flags, strict=True) if flag]
    strangers = [(i, c) for i, (c, flag) in enumerate(zip(flown, flags, strict=True)) if flag and c not in operator]
    lost = launched.lost_operator_commands()
    assert len(taken_over) >= 30 and len({c for _, c in strangers}) <= lost, (
        f"while ~/intervention says so, cmd_vel is the operator's command; of {len(taken_over)} flagged commands, "
        f"{len(strangers)} are none of the {len(operator)} operator commands received ({lost} lost on the way) "
        f"(index of {len(flown)}, command): {strangers[:5]}; flags around the first: "
        f"{flags[max(0, strangers[0][0] - 3):strangers[0][0] + 4] if strangers else None}; {unpaired} commands "
        f"whose flag did not arrive, {len(set(launched.flag_numbers) - set(launched.command_numbers))} flags "
        "whose command did not")
    assert any(flag is False and c not in operator for c, flag in zip(flown, flags, strict=True)), \
        "the policy flies when the operator does not"

    frames = _frames(launched, after)
    window = slice(first_command, first_command + len(frames))
    bag = tmp_path / "bags" / "corrected"
    written = _write_bag(bag, frames, np.array([twist_to_command(m) for m in launched.commands[window]]),
                         [bool(flag) for flag in flags_of_the_commands[window]])
    out = tmp_path / "fine_tuned.pt"
    result = subprocess.run([str(BIN / "lnn-control"), "train", "--init", str(SHIPPED_MODEL), "--interventions",
                             "--bags", str(bag.parent), "--out", str(out), "--epochs", "1", "--seed", "0"],
                            capture_output=True, text=True, timeout=WAIT_S)
    assert result.returncode == 0, result.stdout + result.stderr
    from lnn_control.policy.checkpoint import read_header
    from lnn_control.policy.digest import file_sha256

    header = read_header(out)
    assert header["provenance"]["parent"]["sha256"] == file_sha256(SHIPPED_MODEL)
    [row] = header["provenance"]["bags"]
    assert row["frames"] == written >= 30 and row["path"].endswith("corrected")


@pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason=f"no shipped model at {SHIPPED_MODEL}")
def test_sim_launch_with_the_shipped_model_reaches_the_target_over_dds(ros_domain_id, repo_root, tmp_path):
    launched = Launched(repo_root / "launch" / "sim.launch.xml",
                        {"model_path": str(SHIPPED_MODEL), "seed": "10001", "real_time_factor": "0.0",
                         "lockstep_timeout": "60.0"},
                        tmp_path, repo_root, ros_domain_id)
    try:
        launched.wait_until_listening()
        launched.wait_for(lambda: any(twist_to_command(m).any() for m in launched.commands), "the policy to fly")
        # the episodes so far began before the policy node was up; start seed 10001 afresh
        result = launched.call(launched.seed_client, parameter_request("seed", 10001))
        assert result.results[0].successful
        response = launched.call(launched.reset_client, Trigger.Request())
        assert response.success and "seed 10001" in response.message, response.message
        episode = int(response.message.split()[1])      # "episode N starts with seed 10001"
        outcome = launched.wait_for(lambda: next((o for o in launched.outcomes if o["episode"] >= episode), None),
                                    f"the outcome of episode {episode}")
    finally:
        codes = launched.stop()
    assert codes == {"sim_node": 0, "policy_node": 0}, codes
    assert outcome["success"] and not outcome["collision"], outcome
    assert outcome["episode"] == episode and outcome["seed"] == 10001 and outcome["path_length_m"] > 5.0


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


def test_launch_files_expose_the_takeover(repo_root):
    """`teleop` (policy_node) in both launch files and `operator` (sim_node) in sim.launch.xml, off by default."""
    share = {"lnn_control": repo_root}
    [node] = read_launch(repo_root / "launch" / "policy.launch.xml", share, {"teleop": "true"})
    assert node.params["teleop"] is True
    [node] = read_launch(repo_root / "launch" / "policy.launch.xml", share)
    assert node.params["teleop"] is False
    nodes = {n.name: n for n in read_launch(repo_root / "launch" / "sim.launch.xml", share,
                                             {"teleop": "true", "operator": "true"})}
    assert nodes["policy_node"].params["teleop"] is True and nodes["sim_node"].params["operator"] is True
    nodes = {n.name: n for n in read_launch(repo_root / "launch" / "sim.launch.xml", share)}
    assert nodes["policy_node"].params["teleop"] is False and nodes["sim_node"].params["operator"] is False


def test_launch_files_pass_the_lockstep_timeout(repo_root):
    """`lockstep_timeout` (wall s) reaches sim_node from both sim launch files; 1 s by default."""
    share = {"lnn_control": repo_root}
    for launch_file in ("sim.launch.xml", "rover_sim.launch.xml"):
        nodes = {n.name: n for n in read_launch(repo_root / "launch" / launch_file, share)}
        assert nodes["sim_node"].params["lockstep_timeout"] == 1.0
        nodes = {n.name: n for n in read_launch(repo_root / "launch" / launch_file, share,
                                                 {"lockstep_timeout": "60.0"})}
        assert nodes["sim_node"].params["lockstep_timeout"] == 60.0
