"""sim_node as `ros2 run` starts it, over real DDS: TwistStamped and Twist commands, stale command ->
hover, episode outcomes (time limit), ~/reset_episode with a chosen seed, the IMU stream between
frames (imu_rate), dropped frames, the rover (vehicle:=rover), bad parameters.

The node runs in its own process; this process plays the policy (publishes cmd_vel) and listens.
The sim starts publishing as soon as it is up, so a test looks only at what comes after its
subscriptions have been matched and have had a first message, and defines its windows in
simulated time (the messages' stamps), never in wall time. Where it checks what comes between
frames, the sim runs in lockstep with the test, which answers every frame: the sim cannot run
ahead of the test's subscriber however loaded the machine is, so no best-effort message is lost.
"""
from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rcl_interfaces.srv import SetParameters
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from ros_harness import NodesUnderTest, matched, parameter_request, ros_argv
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, Imu
from std_msgs.msg import String
from std_srvs.srv import Trigger

from lnn_control.ros.conversions import command_to_twist, command_to_twist_stamped, seconds_to_stamp, stamp_to_seconds

SIM_NODE = Path(sys.executable).parent / "sim_node"
WAIT_S = 180.0     # wall s: the longest any one wait may take (it returns as soon as it can)
FORWARD = np.array([1.0, 0.0, 0.0, 0.0])
HOVER = np.zeros(4)


class SimSide(NodesUnderTest):
    """sim_node in its own process, and a test node that records what it publishes and sends
    cmd_vel: in reply to every frame (`answer`, for lockstep) or to every odometry message
    (`on_odometry`, free-running)."""

    wait_s = WAIT_S

    def __init__(self, parameters: dict[str, object], log_path: Path, domain: int):
        self.stamped = bool(parameters.get("stamped", False))
        self.lockstep = bool(parameters.get("lockstep", True))
        self.odometry: list[tuple[float, float, float]] = []   # (sim time, body vx, wall s at arrival)
        self.positions: list[tuple[float, float, float, float]] = []   # (sim time, x, y, z in the world frame, m)
        self.imu_stamps: list[float] = []                      # in arrival order
        self.frame_stamps: list[float] = []
        self.outcomes: list[dict] = []
        self.answer: np.ndarray | None = None        # sent in reply to each frame
        self.answer_lag_s = 0.0                      # stamped:  answers stamped this long before their frame
        self.on_odometry: np.ndarray | None = None   # sent in reply to each odometry message
        super().__init__(domain, "sim_node_test", {"sim_node": (ros_argv(SIM_NODE, parameters), log_path)})

    def connect(self, node) -> None:
        self.subscriptions = [node.create_subscription(Odometry, "odom", self._on_odometry, 10000),
                              *self._pilot(node)]
        self.outcome_subscription = node.create_subscription(
            String, "episode/outcome", self._on_outcome,
            QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.parameter_client = node.create_client(SetParameters, "/sim_node/set_parameters")
        self.reset_client = node.create_client(Trigger, "/sim_node/reset_episode")

    def _pilot(self, node) -> list:
        """What answers the frames: the cmd_vel publisher, and the IMU and camera subscriptions
        (returned; deep queues: whatever arrives is kept until this process takes it)."""
        sensor_stream = QoSProfile(depth=10000, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.cmd = node.create_publisher(TwistStamped if self.stamped else Twist, "cmd_vel", 10)
        return [node.create_subscription(Imu, "imu/data", self._on_imu, sensor_stream),
                node.create_subscription(Image, "camera/image_raw", self._on_image, sensor_stream)]

    # -- callbacks (the spinner thread) -----------------------------------------------------

    def _on_odometry(self, msg: Odometry) -> None:
        t = stamp_to_seconds(msg.header.stamp)
        position = msg.pose.pose.position
        with self.lock:
            self.positions.append((t, position.x, position.y, position.z))
            self._record(self.odometry, (t, msg.twist.twist.linear.x, time.monotonic()))
        if self.on_odometry is not None:
            self.send(self.on_odometry, msg.header.stamp)

    def _on_imu(self, msg: Imu) -> None:
        self._record(self.imu_stamps, stamp_to_seconds(msg.header.stamp))

    def _on_image(self, msg: Image) -> None:
        self._record(self.frame_stamps, stamp_to_seconds(msg.header.stamp))
        if self.answer is not None:
            stamp = msg.header.stamp if not self.answer_lag_s else seconds_to_stamp(
                stamp_to_seconds(msg.header.stamp) - self.answer_lag_s)
            self.send(self.answer, stamp)

    def _on_outcome(self, msg: String) -> None:
        self._record(self.outcomes, json.loads(msg.data))

    def send(self, command: np.ndarray, stamp) -> None:
        self.cmd.publish(command_to_twist_stamped(command, stamp, "base_link") if self.stamped
                         else command_to_twist(command))

    # -- what a test asks --------------------------------------------------------------------

    def start(self) -> None:
        """Until DDS has matched every topic of the test with the node's and each stream has
        brought a first message. In lockstep the sim waits, after its first frame (which this test
        may have missed), for a command: one is sent every second until frames come."""
        self.wait_for(lambda: matched([*self.subscriptions, self.outcome_subscription, self.cmd,
                                       self.parameter_client, self.reset_client]),
                      "sim_node to start and DDS to match its topics and services")
        kick = (lambda: self.send(HOVER if self.answer is None else self.answer, self.node.get_clock().now().to_msg())
                ) if self.lockstep else (lambda: None)
        kick()
        self.wait_for(lambda: self.odometry and self.imu_stamps and self.frame_stamps, "a first frame, IMU reading "
                      "and odometry message", every=1.0, then=kick)

    def stop(self) -> int | None:
        """Stop answering; SIGINT the node (kill it if it hangs), then take what is still queued
        here: its exit code."""
        self.answer = self.on_odometry = None
        return super().stop().get("sim_node")


class LatePilot(SimSide):
    """A pilot slower to start than the sim: until `arrive()` the test listens to /clock and the
    outcomes only, so the sim's first frame goes out with nothing to answer it."""

    def connect(self, node) -> None:
        self.clock_stamps: list[float] = []
        node.create_subscription(Clock, "/clock", lambda msg: self._record(self.clock_stamps,
                                                                           stamp_to_seconds(msg.clock)), 10)
        self.outcome_subscription = node.create_subscription(
            String, "episode/outcome", self._on_outcome,
            QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL))

    def arrive(self) -> None:
        """Publish cmd_vel, subscribe to the camera and the IMU and answer every frame (on the
        spinning node)."""
        self._pilot(self.node)


def _sim(parameters: dict, tmp_path: Path, domain: int) -> SimSide:
    return SimSide(parameters, tmp_path / "sim_node.log", domain)


def test_the_parameter_file_matches_the_node_defaults(repo_root):
    from lnn_control.ros.sim_node import PARAMETERS

    params = yaml.safe_load((repo_root / "config" / "sim_node.yaml").read_text())["sim_node"]["ros__parameters"]
    assert params == PARAMETERS.defaults()


def test_a_bad_parameter_stops_the_node_with_one_line(ros_domain_id):
    def run(*parameters: str) -> subprocess.CompletedProcess:
        argv = [str(SIM_NODE), "--ros-args"] + [word for p in parameters for word in ("-p", p)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=300)

    result = run("autopilot:=pilot", "shifts:=fog:0.5")
    assert result.returncode == 1
    assert "bad parameter autopilot: 'pilot' is not one of none, expert" in result.stderr
    result = run("shifts:=smog:0.5")
    assert result.returncode == 1 and "cannot build the world" in result.stderr and "smog" in result.stderr
    result = run("operator:=true", "autopilot:=expert")
    assert result.returncode == 1
    assert "bad parameter operator: the simulated operator takes over from policy_node, so it needs autopilot " \
           "none, not 'expert'" in result.stderr
    result = run("vehicle:=boat")
    assert result.returncode == 1 and "bad parameter vehicle: 'boat' is not one of '', drone, rover" in result.stderr
    result = run("imu_rate:=50")
    assert result.returncode == 1
    assert "bad parameter imu_rate: 50 Hz must divide the physics rate 240 Hz and be a multiple of camera_rate 20 Hz" \
        in result.stderr


def test_in_lockstep_a_stamped_command_answers_only_a_frame_it_is_not_older_than(ros_domain_id, tmp_path):
    """stamped: an answer stamped before the frame the sim waits on (a late answer to an earlier
    frame) answers none, so the sim waits out `lockstep_timeout` and hovers over the step; stamped
    at the frame, it is flown at once. (Unstamped, any command after the frame is its answer.)"""
    sim = _sim({"stamped": True, "lockstep_timeout": 0.3, "real_time_factor": 0.0, "time_limit": 60.0, "seed": 5},
               tmp_path, ros_domain_id)
    try:
        sim.answer = HOVER
        sim.start()
        # (past the first frames: a zero stamp means "not stamped", and answers like a Twist)
        sim.wait_for(lambda: sim.frame_stamps[-1] >= 0.5, "0.5 s of simulated time")
        with sim.lock:
            sim.answer, sim.answer_lag_s = FORWARD, 0.05       # the answer to the frame before
            late_from = sim.frame_stamps[-1]
        sim.wait_for(lambda: sim.odometry[-1][0] >= late_from + 1.0, "1 s of simulated time answered late")
        with sim.lock:
            sim.answer_lag_s = 0.0
            paired_from = sim.frame_stamps[-1]
        sim.wait_for(lambda: sim.odometry[-1][0] >= paired_from + 1.0, "1 s of simulated time answered at the frame")
    finally:
        returncode = sim.stop()
    assert returncode == 0, sim.log()
    late = [vx for t, vx, _ in sim.odometry if late_from + 0.1 < t <= late_from + 1.0]
    assert late and max(abs(vx) for vx in late) < 0.1, late
    assert "no cmd_vel within 0.3 s of the frame: hovering" in sim.log()
    paired = next(vx for t, vx, _ in sim.odometry if t >= paired_from + 1.0)
    assert paired > 0.5


def test_in_lockstep_a_frame_nobody_heard_is_sent_again_when_a_pilot_subscribes(ros_domain_id, tmp_path):
    """The sim's first frame goes out before any pilot is there (a policy node that starts after
    the sim); when the pilot comes, the sim sends that frame again rather than
    wait out `lockstep_timeout` (10 min here), and the pilot flies the episode from its first frame."""
    sim = LatePilot({"stamped": True, "lockstep_timeout": 600.0, "time_limit": 1.0, "real_time_factor": 0.0,
                     "seed": 5}, tmp_path / "sim_node.log", ros_domain_id)
    try:
        sim.wait_for(lambda: sim.node.count_publishers("camera/image_raw") > 0, "sim_node's camera publisher")
        # its first frame goes out at once: /clock says so, unless DDS matched this test's reader too
        # late for it (a loaded machine); 15 s is ample for that frame either way
        up = time.monotonic()
        sim.wait_for(lambda: sim.clock_stamps or time.monotonic() - up > 15.0, "the sim's first frame (its /clock)")
        sim.answer = FORWARD
        sim.arrive()
        sim.wait_for(lambda: sim.outcomes, "the first episode's outcome", timeout=120.0)
    finally:
        returncode = sim.stop()
    assert returncode == 0, sim.log()
    assert sim.frame_stamps[0] == 0.0, sim.frame_stamps[:3]
    first = sim.outcomes[0]
    assert first["episode"] == 0 and first["timeout"] and first["time_s"] == pytest.approx(1.0)
    assert first["path_length_m"] > 0.3, first     # flown forward, not hovered over a step
    assert "sending the frame at 0.00 s again" in sim.log()
    assert "no cmd_vel within" not in sim.log()


def test_stamped_commands_outcomes_reset_with_a_new_seed_and_the_imu_stream(ros_domain_id, tmp_path):
    """In lockstep, the test answering every frame with 1 m/s forward (TwistStamped)."""
    sim = _sim({"stamped": True, "lockstep_timeout": 30.0, "time_limit": 2.0, "real_time_factor": 0.0, "seed": 5,
                "shifts": "imu_bias:0.5"}, tmp_path, ros_domain_id)
    try:
        sim.answer = FORWARD
        sim.start()
        # time limit 2 s -> an outcome with timeout; the sim waited for the test's first answer, so
        # the test flew the whole of episode 0
        sim.wait_for(lambda: sim.outcomes, "the first episode's outcome")
        first = sim.outcomes[0]
        assert first["episode"] == 0 and first["seed"] == 5 and first["timeout"]
        assert first["time_s"] == pytest.approx(2.0)
        assert first["shifts"] == ["imu_bias:0.5"] and first["path_length_m"] > 0.3
        # set the seed, reset: the next episode uses it. The test stops answering meanwhile, so the
        # sim stands still (lockstep) and the episode the reset abandons is known; it does so early
        # in an episode, so that the sim cannot end that episode in the step that takes the reset.
        def early_in_an_episode():
            stamps = sim.frame_stamps
            starts = [b for a, b in itertools.pairwise(stamps) if b - a > 0.5]
            return starts and 0.2 <= stamps[-1] - starts[-1] <= 1.0
        sim.wait_for(early_in_an_episode, "the next episode to be under way")
        sim.answer = None
        result = sim.call(sim.parameter_client, parameter_request("seed", 42))
        assert result.results[0].successful
        response = sim.call(sim.reset_client, Trigger.Request())
        assert response.success and "seed 42" in response.message
        episode = int(response.message.split()[1])      # "episode N starts with seed 42"
        sim.answer = FORWARD
        sim.send(FORWARD, sim.node.get_clock().now().to_msg())  # the answer to the frame it waits on
        outcome = sim.wait_for(lambda: next((o for o in sim.outcomes if o["episode"] >= episode), None),
                               f"the outcome of episode {episode}")
        assert outcome["episode"] == episode and outcome["seed"] == 42 and outcome["time_s"] == pytest.approx(2.0)
        assert all(o["episode"] != episode - 1 for o in sim.outcomes), "the abandoned episode has no outcome"
    finally:
        returncode = sim.stop()
    assert returncode == 0, sim.log()
    # commands fly: 1 m/s forward (body x) a second into episode 0
    odometry = sim.odometry
    vx_at_1s = next(vx for t, vx, _ in odometry if t >= 1.0)
    assert vx_at_1s > 0.5, odometry[:30]
    steps = np.diff([t for t, _, _ in odometry])
    assert np.all(steps > 0) and np.median(steps) == pytest.approx(0.05)
    assert steps.max() == pytest.approx(1.05), "episodes are 1 s apart in simulated time"
    # imu_rate 240 Hz (default): before each frame, the 12 readings of its control period,
    # stamped 1/240 s apart, the last at the frame's stamp; an episode's first frame has one.
    # Frames and readings are best effort: one lost on the way (a loaded machine) leaves a gap,
    # never a reading off that grid
    assert np.all(np.diff(sim.imu_stamps) > 0)
    imu = np.array(sim.imu_stamps)
    full_periods = episode_starts = 0
    for previous, frame in itertools.pairwise(sim.frame_stamps):
        if previous < imu[0] or frame > imu[-1]:
            continue
        readings = imu[(imu > previous + 1e-6) & (imu <= frame + 1e-6)]
        periods = round((frame - previous) / 0.05)
        if frame - previous == pytest.approx(1.05):
            assert readings == pytest.approx([frame])
            episode_starts += 1
        elif frame - previous == pytest.approx(0.05 * periods) and periods <= 10:
            grid = previous + np.arange(1, 12 * periods + 1) / 240
            assert np.all(np.min(np.abs(readings[:, None] - grid[None]), axis=1) < 1e-6), (previous, readings)
            full_periods += periods == 1 and len(readings) == 12
    assert full_periods > 50 and episode_starts >= 2


def test_free_running_flies_the_newest_command_and_hovers_when_it_is_stale(ros_domain_id, tmp_path):
    """Without lockstep, paced at half real time, the test sending 1 m/s forward (Twist) on every
    odometry message, then nothing: after cmd_timeout (0.5 s) the sim hovers."""
    sim = _sim({"lockstep": False, "real_time_factor": 0.5, "seed": 5}, tmp_path, ros_domain_id)
    try:
        sim.start()
        sim.on_odometry = FORWARD
        # from the first sign that commands arrive, a second of simulated time
        going = sim.wait_for(lambda: next((o for o in sim.odometry if o[1] > 0.1), None), "the drone to speed up")
        flying = sim.wait_for(lambda: next((o for o in sim.odometry if o[0] >= going[0] + 1.0), None),
                              "a second of flight")
        sim.on_odometry = None
        assert flying[1] > 0.5, flying
        last = sim.wait_for(lambda: next((o for o in sim.odometry if o[0] > flying[0] + 1.5), None),
                            "1.5 s of simulated time without commands")
        late = [vx for t, vx, _ in sim.odometry if flying[0] + 1.2 < t <= last[0]]
        assert abs(late[-1]) < 0.3, late
        assert not sim.outcomes, f"the episode ended in the window: {sim.outcomes}"
        # real_time_factor 0.5: the simulated seconds took at least twice as long on the wall clock
        # (load can only make it slower; a fifth is left for delivery jitter)
        assert last[2] - going[2] >= 0.8 * (last[0] - going[0]) / 0.5
    finally:
        returncode = sim.stop()
    assert returncode == 0, sim.log()


def test_dropped_frames_leave_gaps_in_the_frames_not_in_the_imu_stream(ros_domain_id, tmp_path):
    """In lockstep with the test (which answers each frame with hover), 120 Hz IMU, frame drops."""
    sim = _sim({"lockstep_timeout": 30.0, "real_time_factor": 0.0, "imu_rate": 120.0, "time_limit": 1.0,
                "shifts": "frame_drops:1.0,latency:0.5,imu_noise:0.5"}, tmp_path, ros_domain_id)
    try:
        sim.answer = HOVER
        sim.start()
        start = sim.frame_stamps[0]
        sim.wait_for(lambda: sim.frame_stamps[-1] > start + 2.5, "2.5 s of simulated time")  # episodes: 1 s + 1 s gap
    finally:
        returncode = sim.stop()
    assert returncode == 0, sim.log()
    frame_stamps = sim.frame_stamps
    frame_steps = np.diff(frame_stamps)
    assert np.all(frame_steps > 0)
    within_episodes = frame_steps[frame_steps < 0.5]
    assert within_episodes.max() > 0.06, "frame_drops:1.0 drops frames"
    assert np.all(np.isclose(within_episodes / 0.05, np.round(within_episodes / 0.05), atol=1e-6))
    # the IMU stream has no gap but those the transport leaves: frames and readings are both best
    # effort, and a loaded machine loses some of either on the way; the sim drops frames only
    imu = np.array(sim.imu_stamps)
    imu = imu[(imu > frame_stamps[0] + 1e-6) & (imu <= frame_stamps[-1] + 1e-6)]
    gaps = np.diff(imu)
    within = gaps[gaps < 0.5] * 120
    assert np.all(gaps > 0) and np.allclose(within, np.round(within), atol=1e-4), "readings on the 120 Hz grid"
    readings_lost = np.sum(np.round(within) - 1) / np.sum(np.round(within))
    frames_dropped = np.sum(np.round(within_episodes / 0.05) - 1) / np.sum(np.round(within_episodes / 0.05))
    assert readings_lost <= 0.02 and frames_dropped >= 0.1, (readings_lost, frames_dropped)
    at_frames = [np.min(np.abs(imu - frame)) < 1e-6 for frame in frame_stamps[1:]]   # a reading at every frame
    assert np.mean(at_frames) >= 0.95, np.mean(at_frames)


def test_the_rover_drives_forward_on_linear_x_and_stays_on_the_ground(ros_domain_id, tmp_path):
    """vehicle:=rover, in lockstep with the test, which answers every frame with 1 m/s forward and
    as much sideways and up (a rover drives only the first): frames, IMU and odometry come as for
    the drone, and the rover drives forward along the ground."""
    sim = _sim({"vehicle": "rover", "lockstep_timeout": 30.0, "real_time_factor": 0.0, "seed": 5, "time_limit": 3.0},
               tmp_path, ros_domain_id)
    try:
        sim.answer = np.array([1.0, 1.0, 1.0, 0.0])
        sim.start()
        sim.wait_for(lambda: sim.outcomes, "the first episode's outcome")
    finally:
        returncode = sim.stop()
    assert returncode == 0, sim.log()
    assert "serving forest for the rover" in sim.log()
    [outcome] = sim.outcomes[:1]
    assert outcome["vehicle"] == "rover" and outcome["episode"] == 0 and outcome["path_length_m"] > 1.0, outcome
    # episode 0: the sim waited for the test's first answer, so the test drove all of it
    episode = [p for p in sim.positions if p[0] <= outcome["time_s"] + 1e-6]
    t, x, y, z = np.array(episode).T
    assert np.all(np.diff(t) > 0) and np.median(np.diff(t)) == pytest.approx(0.05)
    assert x[-1] - x[0] > 1.0, episode[::10]
    assert np.abs(z - z[0]).max() < 0.05, "a rover stays on the ground (it cannot drive up)"
    assert abs(y[-1] - y[0]) < (x[-1] - x[0]) / 2, "mostly forward: it cannot drive sideways"
    # frames and IMU readings are best effort (some may be lost on the way); the IMU is the faster stream
    assert len(sim.frame_stamps) >= 0.9 * len(episode) and len(sim.imu_stamps) > 2 * len(sim.frame_stamps)
