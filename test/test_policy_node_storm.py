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
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from geometry_msgs.msg import Twist
from rclpy.qos import qos_profile_sensor_data
from ros_harness import NodesUnderTest, matched
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


class Storm(NodesUnderTest):
    """The two node processes (by transport), and the test node that sends the storm, records
    their commands and calls their `~/enable`."""

    def __init__(self, domain: int, checkpoint: Path, scratch: Path):
        self.commands: dict[str, list] = {transport: [] for transport in NODES}
        processes = {}
        for transport, name in NODES.items():
            argv = [str(POLICY_NODE), "--ros-args", "-r", f"__node:={name}", "-r", f"cmd_vel:={name}/cmd_vel",
                    "-p", f"model_path:={checkpoint}", "-p", f"image_transport:={transport}",
                    *(arg for key, value in LIMITS.items() for arg in ("-p", f"{key}:={value}"))]
            processes[transport] = (argv, scratch / f"{name}.log")
        super().__init__(domain, "storm", processes)

    def connect(self, node) -> None:
        self.command_subscriptions = [node.create_subscription(Twist, f"{name}/cmd_vel", self._on_command(transport),
                                                               1000) for transport, name in NODES.items()]
        self.image_pub = node.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        self.compressed_pub = node.create_publisher(CompressedImage, "camera/image_raw/compressed",
                                                    qos_profile_sensor_data)
        self.imu_pub = node.create_publisher(Imu, "imu/data", qos_profile_sensor_data)
        self.enable = {transport: node.create_client(SetBool, f"/{name}/enable") for transport, name in NODES.items()}

    def _on_command(self, transport: str):
        def record(msg: Twist):
            self._record(self.commands[transport], (msg.linear.x, msg.linear.y, msg.linear.z, msg.angular.x,
                                                    msg.angular.y, msg.angular.z))
        return record

    def both_nodes_matched(self) -> bool:
        return matched([self.image_pub, self.compressed_pub, *self.command_subscriptions, *self.enable.values()]) \
            and self.imu_pub.get_subscription_count() >= 2

    def switch(self, transport: str, on: bool) -> None:
        assert self.call(self.enable[transport], SetBool.Request(data=on)).success


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_policy_node_survives_a_storm_of_random_messages(ros_domain_id, checkpoint, tmp_path):
    storm = Storm(ros_domain_id, checkpoint, tmp_path)
    processes = storm.processes
    try:
        storm.wait_for(storm.both_nodes_matched, "both nodes", timeout=120)
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
                storm.check_alive("during the storm")
            if early_rss is None and now - start >= 5.0:
                early_rss = {t: _rss_kib(p.pid) for t, p in processes.items()}
            if number and number % (STORM_MESSAGES // 6) == 0:   # six times: off and on again, mid-storm
                for transport in NODES:
                    storm.switch(transport, False)
                    storm.switch(transport, True)
            msg = (images, compressed, imus)[kind][number % POOL]
            msg.header.stamp = _stamp(rng, time.time())
            (storm.image_pub, storm.compressed_pub, storm.imu_pub)[kind].publish(msg)
            pause = start + (number + 1) / STORM_RATE_HZ - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        storm_s = time.monotonic() - start
        time.sleep(1.0)   # the last commands arrive
        storm.check_alive("after the storm")
        late_rss = {t: _rss_kib(p.pid) for t, p in processes.items()}
        print(f"storm: {STORM_MESSAGES} messages in {storm_s:.1f} s ({STORM_MESSAGES / storm_s:.0f} Hz); "
              f"RSS after 5 s {early_rss} KiB, at the end {late_rss} KiB")
    finally:
        codes = storm.stop()
    assert codes == {"raw": 0, "compressed": 0}, codes
    for transport, name in NODES.items():
        log = storm.log(transport)
        assert "Traceback" not in log, log[-3000:]
        assert "refusing camera message" in log and "refusing imu message" in log, log[-3000:]
        with storm.lock:
            sent = np.array(storm.commands[transport])
        assert len(sent) > 100, f"{name} sent {len(sent)} commands"
        assert np.isfinite(sent).all(), f"{name} published a non-finite command"
        assert np.all(np.abs(sent[:, :3]) <= LIMITS["max_linear_speed"]) and np.all(sent[:, 3:5] == 0)
        assert np.all(np.abs(sent[:, 5]) <= LIMITS["max_yaw_rate"])
        assert np.any(sent != 0), f"{name} never flew: every good message was refused"
        growth = late_rss[transport] / early_rss[transport]
        assert growth <= 1.10, f"{name}: RSS grew from {early_rss[transport]} KiB to {late_rss[transport]} KiB"
