"""Training samples/s per model kind: behaviour cloning with truncated BPTT on one CPU thread.

The same synthetic bags (rgb8, 64x48) and the same config for every kind: windows of 32
frames, batch 16, TBPTT chunks of 16, augmentations on; a sample is one frame through
forward + backward + AdamW step. The first epoch warms up (data decode, allocations) and is
not counted; samples/s is the median over the timed epochs of the trainer's own per-epoch
count. Baselines are sized to the CfC's parameter budget (`match_parameter_count`).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
from bag_factory import write_bag  # noqa: E402

from lnn_control.benchmarks import bench_arguments, report  # noqa: E402
from lnn_control.data import load_bags  # noqa: E402
from lnn_control.policy import PolicySpec, build_network  # noqa: E402
from lnn_control.train.behavior_cloning import train_policy  # noqa: E402
from lnn_control.train.config import TrainConfig  # noqa: E402

KINDS = ["cfc", "ltc", "lstm", "gru", "mlp"]


def main() -> None:
    args = bench_arguments(__doc__.splitlines()[0])
    torch.set_num_threads(1)
    bags_per_run, frames, epochs = (2, 64, 2) if args.quick else (4, 160, 4)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LNN_CONTROL_CACHE"] = str(Path(tmp) / "cache")
        paths = [write_bag(Path(tmp) / f"bag{i}", frames=frames) for i in range(bags_per_run)]
        bags, _ = load_bags(paths)
        config = TrainConfig().replace("optim", epochs=epochs, patience=epochs).replace(
            "data", val_fraction=0.0)
        for kind in KINDS if not args.quick else ["cfc", "lstm", "mlp"]:
            spec = PolicySpec(kind=kind)
            result = train_policy(bags, spec, config, Path(tmp) / f"{kind}.pt", progress=False)
            rates = [row["train_frames_per_s"] for row in result.history[1:]]
            rows.append({"kind": kind, "parameters": build_network(spec).parameter_count(),
                         "train_samples_per_s": float(np.median(rates)), "epochs_timed": len(rates)})
    report("bench_train", rows, args.out, __doc__.strip())


if __name__ == "__main__":
    main()
