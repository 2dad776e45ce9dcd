"""policy_node in a storm: a minute of random camera and IMU messages, as fast as a bad driver sends them.

Two node processes run as `ros2 run` starts them (a random-weight CfC): one reading
`sensor_msgs/Image`, one `sensor_msgs/CompressedImage` (`image_transport:=compressed`). A test
node publishes STORM_MESSAGES messages at up to STORM_RATE_HZ in all: images of random sizes,
encodings, steps and lengths (many of them wrong), JPEG/PNG data whole, truncated or garbage,
IMU readings with NaN/Inf or parts marked missing, stamps now, zero, far behind or ahead. The
count is fixed, so a slower or loaded machine takes longer rather than sending less.

Each node must stay up, publish only finite commands within its limits (and some non-zero ones:
the good messages are flown), answer `~/enable` during the storm, and end with a resident set
within 10% of what it had 5 s into the storm (no growth per message).
"""
from __future__ import annotations

import math
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
from geometry_msgs.msg import Twist
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image, Imu
from std_srvs.srv import SetBool

from lnn_control.ros.conversions import seconds_to_stamp

POLICY_NODE = Path(sys.executable).parent / "policy_node"
STORM_MESSAGES = 36_000        # 60 s at 600 Hz
STORM_RATE_HZ = 600.0
LIMITS = {"max_linear_speed": 0.5, "max_yaw_rate": 0.3}
NODES = {"raw": "storm_raw", "compressed": "storm_compressed"}
POOL = 400                     # distinct messages of each kind, cycled


def _random_image(rng: np.random.Generator) -> Image:
    encoding = rng.choice(["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "RGB8", "16UC1", "yuv422", ""])
    height, width = int(rng.integers(0, 97)), int(rng.integers(0, 129))
    channels = {"rgba8": 4, "bgra8": 4, "mono8": 1, "16UC1": 2, "yuv422": 2}.get(str(encoding).lower(), 3)
    step = width * channels + int(rng.choice([0, 0, 0, 3, -1, 7]))
    size = max(0, step * height + int(rng.choice([0, 0, 0, 0, -5, 11, -step * height])))
    return Image(encoding=str(encoding), height=height, width=width, step=max(0, step),
                 data=rng.integers(0, 256, size, dtype=np.uint8).tobytes())


def _random_compressed(rng: np.random.Generator) -> CompressedImage:
    height, width = int(rng.integers(1, 97)), int(rng.integers(1, 129))
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    fmt = str(rng.choice(["jpeg", "png"]))
    data = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", pixels)[1].tobytes()
    damage = rng.choice(["none", "none", "truncate", "garbage", "flip", "empty"])
    if damage == "truncate":
        data = data[:int(rng.integers(0, len(data)))]
    elif damage == "garbage":
        data = rng.integers(0, 256, int(rng.integers(0, 2000)), dtype=np.uint8).tobytes()
    elif damage == "flip":
        raw = bytearray(data)
        for at in rng.integers(0, len(raw), 8):
            raw[at] ^= 0xFF
        data = bytes(raw)
    elif damage == "empty":
        data = b""
    return CompressedImage(format=str(rng.choice([fmt, fmt, "", "theora"])), data=data)


def _random_imu(rng: np.random.Generator) -> Imu:
    msg = Imu()
    values = rng.normal(0.0, 2.0, 6) + np.array([0, 0, 0, 0, 0, 9.81])
    if rng.random() < 0.3:
        values[rng.integers(0, 6)] = rng.choice([math.nan, math.inf, -math.inf, 1e300])
    msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = (float(v) for v in values[:3])
    msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z = (float(v) for v in values[3:])
    if rng.random() < 0.05:
        msg.angular_velocity_covariance[0] = -1.0
    return msg


def _stamp(rng: np.random.Generator, now: float):
    """Mostly now; sometimes unstamped, far behind or far ahead."""
    choice = rng.random()
    if choice < 0.9:
        return seconds_to_stamp(now)
    if choice < 0.94:
        return seconds_to_stamp(0.0)
    return seconds_to_stamp(max(0.0, now + float(rng.choice([-3600.0, -0.7, 0.7, 86400.0]))))


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_policy_node_survives_a_storm_of_random_messages(ros_domain_id, checkpoint, tmp_path):
    processes, logs = {}, {}
    for transport, name in NODES.items():
        logs[transport] = tmp_path / f"{name}.log"
        argv = [str(POLICY_NODE), "--ros-args", "-r", f"__node:={name}", "-r", f"cmd_vel:={name}/cmd_vel",
                "-p", f"model_path:={checkpoint}", "-p", f"image_transport:={transport}",
                *(arg for key, value in LIMITS.items() for arg in ("-p", f"{key}:={value}"))]
        with open(logs[transport], "w") as log:
            processes[transport] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = rclpy.create_node("storm", context=context)
    lock = threading.Lock()
    commands = {transport: [] for transport in NODES}

    def on_command(transport):
        def record(msg: Twist):
            with lock:
                commands[transport].append((msg.linear.x, msg.linear.y, msg.linear.z, msg.angular.x,
                                            msg.angular.y, msg.angular.z))
        return record

    for transport, name in NODES.items():
        node.create_subscription(Twist, f"{name}/cmd_vel", on_command(transport), 1000)
    image_pub = node.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
    compressed_pub = node.create_publisher(CompressedImage, "camera/image_raw/compressed", qos_profile_sensor_data)
    imu_pub = node.create_publisher(Imu, "imu/data", qos_profile_sensor_data)
    enable = {transport: node.create_client(SetBool, f"/{name}/enable") for transport, name in NODES.items()}
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()

    def alive():
        for transport, process in processes.items():
            assert process.poll() is None, f"{NODES[transport]} exited:\n{logs[transport].read_text()[-3000:]}"

    def wait(condition, timeout_s: float, what: str):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            alive()
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")

    def switch(transport: str, on: bool) -> None:
        future = enable[transport].call_async(SetBool.Request(data=on))
        wait(future.done, 60, f"{NODES[transport]} ~/enable {on}")
        assert future.result().success

    try:
        wait(lambda: image_pub.get_subscription_count() >= 1 and compressed_pub.get_subscription_count() >= 1
             and imu_pub.get_subscription_count() >= 2 and all(c.service_is_ready() for c in enable.values())
             and all(node.count_publishers(f"{name}/cmd_vel") for name in NODES.values()), 120, "both nodes")
        rng = np.random.default_rng(7)
        images = [_random_image(rng) for _ in range(POOL)]
        compressed = [_random_compressed(rng) for _ in range(POOL)]
        imus = [_random_imu(rng) for _ in range(POOL)]
        kinds = rng.choice(3, size=STORM_MESSAGES, p=[0.25, 0.25, 0.5])   # image, compressed, IMU
        early_rss = None
        start = time.monotonic()
        for number, kind in enumerate(kinds):
            now = time.monotonic()
            if number % 500 == 0:
                alive()
            if early_rss is None and now - start >= 5.0:
                early_rss = {t: _rss_kib(p.pid) for t, p in processes.items()}
            if number and number % (STORM_MESSAGES // 6) == 0:   # six times: off and on again, mid-storm
                for transport in NODES:
                    switch(transport, False)
                    switch(transport, True)
            msg = (images, compressed, imus)[kind][number % POOL]
            msg.header.stamp = _stamp(rng, time.time())
            (image_pub, compressed_pub, imu_pub)[kind].publish(msg)
            pause = start + (number + 1) / STORM_RATE_HZ - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        storm_s = time.monotonic() - start
        time.sleep(1.0)   # the last commands arrive
        alive()
        late_rss = {t: _rss_kib(p.pid) for t, p in processes.items()}
        print(f"storm: {STORM_MESSAGES} messages in {storm_s:.1f} s ({STORM_MESSAGES / storm_s:.0f} Hz); "
              f"RSS after 5 s {early_rss} KiB, at the end {late_rss} KiB")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        codes = {}
        for transport, process in processes.items():
            try:
                codes[transport] = process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[transport] = process.wait()
        executor.shutdown(timeout_sec=1)
        context.try_shutdown()
        spinner.join(timeout=5)
    assert codes == {"raw": 0, "compressed": 0}, codes
    for transport, name in NODES.items():
        log = logs[transport].read_text()
        assert "Traceback" not in log, log[-3000:]
        assert "refusing camera message" in log and "refusing imu message" in log, log[-3000:]
        with lock:
            sent = np.array(commands[transport])
        assert len(sent) > 100, f"{name} sent {len(sent)} commands"
        assert np.isfinite(sent).all(), f"{name} published a non-finite command"
        assert np.all(np.abs(sent[:, :3]) <= LIMITS["max_linear_speed"]) and np.all(sent[:, 3:5] == 0)
        assert np.all(np.abs(sent[:, 5]) <= LIMITS["max_yaw_rate"])
        assert np.any(sent != 0), f"{name} never flew: every good message was refused"
        growth = late_rss[transport] / early_rss[transport]
        assert growth <= 1.10, f"{name}: RSS grew from {early_rss[transport]} KiB to {late_rss[transport]} KiB"
