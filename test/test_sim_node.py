"""sim_node as `ros2 run` starts it, over real DDS: TwistStamped commands, stale command -> hover,
episode outcomes (time limit), ~/reset_episode with a chosen seed, the IMU stream between
frames (imu_rate), bad parameters.

The node runs in its own process; this process plays the policy (publishes cmd_vel) and listens.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import yaml
from geometry_msgs.msg import TwistStamped
from nav_msgs.msg import Odometry
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, Imu
from std_msgs.msg import String
from std_srvs.srv import Trigger

from lnn_control.ros.conversions import command_to_twist_stamped, seconds_to_stamp, stamp_to_seconds

SIM_NODE = Path(sys.executable).parent / "sim_node"


def test_the_parameter_file_matches_the_node_defaults(repo_root):
    from lnn_control.ros.sim_node import PARAMETERS

    params = yaml.safe_load((repo_root / "config" / "sim_node.yaml").read_text())["sim_node"]["ros__parameters"]
    assert params == PARAMETERS.defaults()


def test_a_bad_parameter_stops_the_node_with_one_line(ros_domain_id):
    result = subprocess.run([str(SIM_NODE), "--ros-args", "-p", "autopilot:=pilot", "-p", "shifts:=fog:0.5"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "bad parameter autopilot: 'pilot' is not one of none, expert" in result.stderr
    result = subprocess.run([str(SIM_NODE), "--ros-args", "-p", "shifts:=smog:0.5"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "cannot build the world" in result.stderr and "smog" in result.stderr
    result = subprocess.run([str(SIM_NODE), "--ros-args", "-p", "imu_rate:=50"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "bad parameter imu_rate: 50 Hz must divide the physics rate 240 Hz and be a multiple of camera_rate 20 Hz" \
        in result.stderr


def test_commands_outcomes_hover_and_reset_with_a_new_seed(ros_domain_id, tmp_path):
    log_path = tmp_path / "sim_node.log"
    argv = [str(SIM_NODE), "--ros-args", "-p", "stamped:=true", "-p", "lockstep:=false", "-p", "time_limit:=2.0",
            "-p", "real_time_factor:=2", "-p", "seed:=5", "-p", "shifts:=imu_bias:0.5"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = rclpy.create_node("sim_node_test", context=context)
    odometry: list[tuple[float, float]] = []      # (sim time, body vx)
    outcomes: list[dict] = []
    node.create_subscription(Odometry, "odom",
                             lambda m: odometry.append((stamp_to_seconds(m.header.stamp), m.twist.twist.linear.x)), 100)
    sensor_stream = QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT)
    imu_stamps: list[float] = []                  # in arrival order
    frame_stamps: list[float] = []
    node.create_subscription(Imu, "imu/data", lambda m: imu_stamps.append(stamp_to_seconds(m.header.stamp)),
                             sensor_stream)
    node.create_subscription(Image, "camera/image_raw",
                             lambda m: frame_stamps.append(stamp_to_seconds(m.header.stamp)), sensor_stream)
    node.create_subscription(String, "episode/outcome", lambda m: outcomes.append(json.loads(m.data)),
                             QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    cmd = node.create_publisher(TwistStamped, "cmd_vel", 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)

    def spin_until(condition, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not condition():
            assert process.poll() is None, log_path.read_text()
            executor.spin_once(timeout_sec=0.02)
        return condition()

    def call(client, request):
        assert client.wait_for_service(timeout_sec=30)
        future = client.call_async(request)
        assert spin_until(future.done, 30)
        return future.result()

    try:
        assert spin_until(lambda: len(odometry) > 0, 60), log_path.read_text()
        # fly forward at 1 m/s (TwistStamped) for about 1 s of simulated time
        start = odometry[-1][0]
        while odometry[-1][0] < start + 1.0:
            cmd.publish(command_to_twist_stamped(np.array([1.0, 0, 0, 0]), seconds_to_stamp(odometry[-1][0]), "base_link"))
            spin_until(lambda: False, 0.05)
        flying = odometry[-1]
        # then silence: after cmd_timeout (0.5 s) the sim hovers and the speed decays
        assert spin_until(lambda: odometry[-1][0] > flying[0] + 1.5, 30)
        assert flying[1] > 0.5, flying
        late = [vx for t, vx in odometry if t > flying[0] + 1.2]
        assert abs(late[-1]) < 0.3, late
        # time limit 2 s -> outcomes with timeout, back to back, monotonic simulated time
        assert spin_until(lambda: len(outcomes) >= 1, 30), log_path.read_text()
        assert outcomes[0]["seed"] == 5 and outcomes[0]["timeout"] and outcomes[0]["time_s"] == pytest.approx(2.0)
        assert outcomes[0]["shifts"] == ["imu_bias:0.5"] and outcomes[0]["path_length_m"] > 0.3
        # set the seed, reset: the next episode uses it
        result = call(node.create_client(SetParameters, "/sim_node/set_parameters"),
                      SetParameters.Request(parameters=[Parameter("seed", value=42).to_parameter_msg()]))
        assert result.results[0].successful
        response = call(node.create_client(Trigger, "/sim_node/reset_episode"), Trigger.Request())
        assert response.success and "seed 42" in response.message
        count = len(outcomes)
        assert spin_until(lambda: len(outcomes) > count, 30)
        assert outcomes[-1]["seed"] == 42 and outcomes[-1]["episode"] == outcomes[count - 1]["episode"] + 2
        steps = np.diff([t for t, _ in odometry])
        assert np.all(steps > 0) and np.median(steps) == pytest.approx(0.05)
        assert steps.max() == pytest.approx(1.05), "episodes are 1 s apart in simulated time"
        # imu_rate 240 Hz (default): before each frame, the 12 readings of its control period,
        # stamped 1/240 s apart, the last at the frame's stamp; an episode's first frame has one
        assert np.all(np.diff(imu_stamps) > 0)
        imu = np.array(imu_stamps)
        full_periods = episode_starts = 0
        for previous, frame in zip(frame_stamps, frame_stamps[1:]):
            if previous < imu[0] or frame > imu[-1]:
                continue
            readings = imu[(imu > previous + 1e-6) & (imu <= frame + 1e-6)]
            if frame - previous == pytest.approx(0.05):
                np.testing.assert_allclose(readings, previous + np.arange(1, 13) / 240, atol=1e-6)
                full_periods += 1
            else:
                assert frame - previous == pytest.approx(1.05) and readings == pytest.approx([frame])
                episode_starts += 1
        assert full_periods > 50 and episode_starts >= 2
    finally:
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=10)
        context.try_shutdown()
    assert returncode == 0, log_path.read_text()


def test_dropped_frames_leave_gaps_in_the_frames_not_in_the_imu_stream(ros_domain_id, tmp_path):
    log_path = tmp_path / "sim_node.log"
    argv = [str(SIM_NODE), "--ros-args", "-p", "lockstep:=false", "-p", "real_time_factor:=4", "-p", "imu_rate:=120",
            "-p", "shifts:=frame_drops:1.0,latency:0.5,imu_noise:0.5", "-p", "time_limit:=1.0"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = rclpy.create_node("sim_node_drops_test", context=context)
    sensor_stream = QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT)
    imu_stamps: list[float] = []
    frame_stamps: list[float] = []
    node.create_subscription(Imu, "imu/data", lambda m: imu_stamps.append(stamp_to_seconds(m.header.stamp)),
                             sensor_stream)
    node.create_subscription(Image, "camera/image_raw",
                             lambda m: frame_stamps.append(stamp_to_seconds(m.header.stamp)), sensor_stream)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (frame_stamps and frame_stamps[-1] > 1.8):
            assert process.poll() is None, log_path.read_text()
            executor.spin_once(timeout_sec=0.02)
    finally:
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=10)
        context.try_shutdown()
    assert returncode == 0, log_path.read_text()
    frame_steps = np.diff(frame_stamps)
    assert frame_steps.max() > 0.06, "frame_drops:1.0 drops frames"
    imu = np.array(imu_stamps)
    imu = imu[(imu > frame_stamps[0] + 1e-6) & (imu <= frame_stamps[-1] + 1e-6)]
    gaps = np.diff(imu)
    assert np.all(gaps > 0) and set(np.round(gaps[gaps < 0.5], 6)) == {round(1 / 120, 6)}  # no reading dropped
    for frame in frame_stamps:
        assert np.min(np.abs(imu - frame)) < 1e-6 or frame == frame_stamps[0]   # a reading at every frame
