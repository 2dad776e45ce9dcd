"""Closed-loop real-time factor of sim_node + policy_node over DDS.

Starts `sim_node` and `policy_node` (a random-weight CfC checkpoint of the default spec: the
same computation as a trained one) as separate processes on their own ROS_DOMAIN_ID, both on
simulated time, with TwistStamped commands as sim.launch.xml runs them (`stamped:=true`:
lockstep pairs each answer with its frame by stamp), and listens to `/clock` and `cmd_vel` from
this process. After a warm-up it measures, over a wall-clock window: the real-time factor
(simulated s flown per wall s, counted from `odom`, one per frame, so the gaps between episodes
do not count), frames per wall second, and the fraction of frames the policy answered
(commands / frames). Modes:

- lockstep, as fast as possible (the sim.launch.xml default): every frame is answered;
- free-running, as fast as possible: the sim does not wait, the policy answers what it can;
- lockstep at real_time_factor 1: the pacing check (should read 1.00);
- sim alone with the expert autopilot: the simulator's own ceiling without DDS round trips.

    .venv/bin/python bench/bench_closed_loop.py            # 20 s window per mode
    .venv/bin/python bench/bench_closed_loop.py --quick    # 6 s window
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rclpy
import torch
from geometry_msgs.msg import TwistStamped
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rosgraph_msgs.msg import Clock

from lnn_control.benchmarks import bench_arguments, report
from lnn_control.policy import PolicySpec, build_network, save_checkpoint
from lnn_control.ros.conversions import stamp_to_seconds

BIN = Path(sys.executable).parent
FRAME_S = 0.05   # simulated seconds per frame (camera_rate 20 Hz)
MODES = {  # name -> (sim_node parameters, run policy_node)
    "lockstep, as fast as possible": ({"lockstep": "true", "real_time_factor": "0.0"}, True),
    "free-running, as fast as possible": ({"lockstep": "false", "real_time_factor": "0.0"}, True),
    "lockstep, real_time_factor 1": ({"lockstep": "true", "real_time_factor": "1.0"}, True),
    "sim alone, expert autopilot": ({"autopilot": "expert", "real_time_factor": "0.0"}, False),
}


def _start(executable: str, parameters: dict, log: Path) -> subprocess.Popen:
    argv = [str(BIN / executable), "--ros-args"]
    for name, value in {**parameters, "use_sim_time": "true", "stamped": "true"}.items():
        argv += ["-p", f"{name}:={value}"]
    with open(log, "w") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def measure(mode: str, checkpoint: Path, window_s: float, domain: int, scratch: Path) -> dict:
    sim_parameters, with_policy = MODES[mode]
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    os.environ["ROS_LOCALHOST_ONLY"] = "1"
    processes = [_start("sim_node", {"seed": 1, **sim_parameters}, scratch / "sim.log")]
    if with_policy:
        processes.append(_start("policy_node", {"model_path": checkpoint}, scratch / "policy.log"))
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    node = rclpy.create_node("bench_closed_loop", context=context)
    clock, commands, frames_seen = [0.0], [0], [0]
    node.create_subscription(Clock, "/clock", lambda m: clock.__setitem__(0, stamp_to_seconds(m.clock)), 100)
    node.create_subscription(Odometry, "odom", lambda m: frames_seen.__setitem__(0, frames_seen[0] + 1), 100)
    node.create_subscription(TwistStamped, "cmd_vel", lambda m: commands.__setitem__(0, commands[0] + 1), 100)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)

    def spin_for(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.01)

    try:
        deadline = time.monotonic() + 60
        while (clock[0] < 1.0 or (with_policy and commands[0] < 5)) and time.monotonic() < deadline:
            spin_for(0.1)
        spin_for(1.0)
        frames0, cmd0, wall0 = frames_seen[0], commands[0], time.monotonic()
        spin_for(window_s)
        frames1, cmd1, wall1 = frames_seen[0], commands[0], time.monotonic()
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            process.wait(timeout=10)
        context.try_shutdown()
    frames = frames1 - frames0
    row = {"mode": mode, "real_time_factor": frames * FRAME_S / (wall1 - wall0),
           "frames_per_wall_s": frames / (wall1 - wall0)}
    row["commands_per_frame"] = (cmd1 - cmd0) / frames if with_policy and frames else "-"
    return row


def main() -> int:
    args = bench_arguments(__doc__.splitlines()[0])
    torch.set_num_threads(1)
    window_s = 6.0 if args.quick else 20.0
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        torch.manual_seed(0)
        checkpoint = save_checkpoint(scratch / "random_cfc.pt", build_network(PolicySpec(kind="cfc")))
        for index, mode in enumerate(MODES):
            rows.append(measure(mode, checkpoint, window_s, 150 + (os.getpid() + index) % 40, scratch))
    report("closed_loop", rows, args.out,
           f"sim_node (forest, 64x48 camera at 20 Hz) + policy_node (random-weight CfC) as separate "
           f"processes over DDS (localhost), both on simulated time; {window_s:g} s wall window per mode "
           f"after warm-up; real_time_factor = simulated s flown (odom messages x {FRAME_S:g} s; the 1 s "
           f"/clock gaps between episodes not counted) / wall s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
