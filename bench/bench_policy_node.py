"""policy_node over DDS: image-publish -> command-receive latency, and the node's CPU and memory.

Starts `policy_node` as `ros2 run` would (its own process, a random-weight CfC checkpoint of
the default spec: the same computation as a trained one), feeds it 64x48 rgb8 frames at
30 Hz and IMU at 200 Hz from this process, and times each frame's publication to the
arrival of the command it caused (the first command after it; one command per frame with
`control_rate:=0`). Meanwhile it samples the node's CPU time and RSS from /proc once a second.

    .venv/bin/python bench/bench_policy_node.py                 # 60 s latency, 180 s soak
    .venv/bin/python bench/bench_policy_node.py --soak-s 600    # the 10-minute soak
    .venv/bin/python bench/bench_policy_node.py --quick         # 10 s / 20 s smoke run
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rclpy
import torch
from geometry_msgs.msg import Twist
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, Imu

from lnn_control.benchmarks import bench_arguments, report
from lnn_control.policy import PolicySpec, build_network, save_checkpoint
from lnn_control.ros.conversions import rgb_to_image, seconds_to_stamp, vector_to_imu

CAMERA_HZ, IMU_HZ = 30.0, 200.0
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # utime + stime


def _rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_MB


class Feed:
    """This process's side: publishes frames and IMU on schedule, times the commands."""

    def __init__(self, node, frames: list[np.ndarray]):
        self.node, self.frames = node, frames
        self.image_publisher = node.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        self.imu_publisher = node.create_publisher(Imu, "imu/data", qos_profile_sensor_data)
        node.create_subscription(Twist, "cmd_vel", self._on_cmd, 100)
        self.published: list[float] = []       # perf_counter at each frame's publication
        self.latency: dict[int, float] = {}    # frame index -> seconds to its command
        self.commands = 0

    def _on_cmd(self, msg: Twist) -> None:
        received = time.perf_counter()
        self.commands += 1
        frame = len(self.published) - 1
        if frame >= 0 and frame not in self.latency:
            self.latency[frame] = received - self.published[frame]

    def publish_frame(self) -> None:
        k = len(self.published)
        msg = rgb_to_image(self.frames[k % len(self.frames)], seconds_to_stamp(time.time()), "camera")
        self.published.append(time.perf_counter())
        self.image_publisher.publish(msg)

    def publish_imu(self) -> None:
        imu = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 9.81]) + np.random.default_rng(len(self.published)).normal(0, 0.01, 6)
        self.imu_publisher.publish(vector_to_imu(imu, seconds_to_stamp(time.time()), "imu"))


def run(duration_s: float, latency_s: float, control_rate: float, checkpoint: Path, warmup_s: float = 3.0,
        debug: bool = False) -> dict:
    node_process = subprocess.Popen(
        [str(Path(sys.executable).parent / "policy_node"), "--ros-args", "-p", f"model_path:={checkpoint}",
         "-p", f"control_rate:={control_rate}", "-p", f"debug:={str(debug).lower()}", "--log-level", "warn"])
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("bench_policy_node", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    rng = np.random.default_rng(0)
    feed = Feed(node, [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(16)])
    try:
        deadline = time.monotonic() + 60
        while not (feed.image_publisher.get_subscription_count() and node.count_publishers("cmd_vel")):
            if node_process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"policy_node did not start (exit code {node_process.poll()})")
            executor.spin_once(timeout_sec=0.05)
        samples = _drive(feed, executor, node_process.pid, warmup_s, duration_s)
    finally:
        node_process.send_signal(signal.SIGINT)
        try:
            node_process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node_process.kill()
            node_process.wait()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    return _summarise(feed, samples, warmup_s, latency_s, duration_s)


def _drive(feed: Feed, executor, pid: int, warmup_s: float, duration_s: float) -> list[tuple[float, float, float]]:
    """Publish on schedule for warm-up + duration; (time since start, CPU s, RSS MB) once a second."""
    start = time.perf_counter()
    next_frame = next_imu = next_sample = start
    samples = []
    while (now := time.perf_counter()) < start + warmup_s + duration_s:
        if now >= next_imu:
            feed.publish_imu()
            next_imu += 1.0 / IMU_HZ
        if now >= next_frame:
            feed.publish_frame()
            next_frame += 1.0 / CAMERA_HZ
        if now >= next_sample:
            samples.append((now - start, _cpu_seconds(pid), _rss_mb(pid)))
            next_sample += 1.0
        executor.spin_once(timeout_sec=max(0.0, min(next_frame, next_imu, next_sample) - time.perf_counter()))
    return samples


def _summarise(feed: Feed, samples, warmup_s: float, latency_s: float, duration_s: float) -> dict:
    first = next(k for k, t in enumerate(feed.published) if t - feed.published[0] >= warmup_s)
    window = range(first, len(feed.published))
    latency_window = [k for k in window if feed.published[k] - feed.published[first] < latency_s]
    latencies = np.array([feed.latency[k] for k in latency_window if k in feed.latency]) * 1e3
    soak_latencies = np.array([feed.latency[k] for k in window if k in feed.latency]) * 1e3
    steady = [s for s in samples if s[0] >= warmup_s]
    times = np.array([s[0] for s in steady]) / 60.0
    rss = np.array([s[2] for s in steady])
    return {
        "frames": len(latency_window),
        "frames_without_cmd_pct": 100.0 * (1 - len(latencies) / max(1, len(latency_window))),
        "median_ms": float(np.median(latencies)), "p99_ms": float(np.percentile(latencies, 99)),
        "max_ms": float(latencies.max()),
        "soak_s": duration_s,
        "soak_p99_ms": float(np.percentile(soak_latencies, 99)),
        "cpu_pct": 100.0 * (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0]),
        "rss_start_mb": float(rss[0]), "rss_end_mb": float(rss[-1]),
        "rss_slope_mb_per_min": float(np.polyfit(times, rss, 1)[0]) if len(rss) > 2 else float("nan"),
    }


def main() -> int:
    import argparse

    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--soak-s", type=float, default=None, help="soak length in s (default 180; 20 with --quick)")
    extra.add_argument("--latency-s", type=float, default=None,
                       help="latency window in s (default 60; 10 with --quick)")
    known, rest = extra.parse_known_args()
    sys.argv = [sys.argv[0], *rest]
    args = bench_arguments(__doc__.splitlines()[0])
    soak_s = known.soak_s or (20.0 if args.quick else 180.0)
    latency_s = min(known.latency_s or (10.0 if args.quick else 60.0), soak_s)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = save_checkpoint(Path(scratch) / "cfc.pt", build_network(PolicySpec(kind="cfc")))
        rows.append({"mode": "control_rate 0 (step per frame)", **run(soak_s, latency_s, 0.0, checkpoint)})
        short = min(latency_s, 20.0)
        rows.append({"mode": "control_rate 20 Hz (timer)", **run(short, short, 20.0, checkpoint)})
        rows.append({"mode": "control_rate 0, debug:=true (saliency + state at 5 Hz)",
                     **run(short, short, 0.0, checkpoint, debug=True)})
    report("policy_node", rows, args.out,
           f"policy_node (random-weight CfC, default spec) in its own process; 64x48 rgb8 at {CAMERA_HZ:g} Hz + "
           f"IMU at {IMU_HZ:g} Hz from this process over Fast DDS (localhost); latency = frame publish -> "
           f"command receive, median/p99/max over the first {latency_s:g} s (soak_p99 over the whole soak) after "
           f"3 s warm-up; CPU % of one core and RSS of the node from /proc, RSS slope by least squares. "
           f"Goals (issue #8): median <= 3 ms, p99 <= 10 ms, RSS flat; debug on (issue #19): median within 10% of "
           f"debug off.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
