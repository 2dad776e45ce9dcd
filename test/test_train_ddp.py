"""The trainer under `torchrun --nproc_per_node 2` (DDP, gloo on CPU) writes one usable checkpoint."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from bag_factory import write_bag

from lnn_control.policy import load_policy, read_header


def test_two_process_ddp_training_on_cpu(tmp_path):
    for i in range(3):
        write_bag(tmp_path / "bags" / f"b{i}", frames=24)
    (tmp_path / "tiny.yaml").write_text("data: {sequence_length: 8, stride: 4}\n"
                                        "optim: {batch_size: 2, tbptt_steps: 4}\n")
    out = tmp_path / "ddp.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
           "LNN_CONTROL_CACHE": str(tmp_path / "cache")}
    torchrun = Path(sys.executable).with_name("torchrun")
    # --standalone: the rendezvous store takes a free port (a fixed one may be held by another run)
    done = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2",
                           "-m", "lnn_control.cli", "train", "--bags", str(tmp_path / "bags"), "--model", "lstm",
                           "--out", str(out), "--epochs", "2", "--config", str(tmp_path / "tiny.yaml")],
                          env=env, capture_output=True, text=True, timeout=540)  # a hang guard, under pytest's 600 s
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("wrote ") == 1  # rank 0 alone reports and writes
    header = read_header(out)
    assert header["training"]["processes"] == 2 and header["training"]["best_epoch"] in (1, 2)
    cmd = load_policy(out).step(np.zeros((48, 64, 3), np.uint8), np.zeros(6), 0.05)
    assert np.isfinite(cmd).all()
