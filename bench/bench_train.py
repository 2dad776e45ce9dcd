"""Training samples/s per model kind, this tree against a reference revision, side by side in one run.

Behaviour cloning with truncated BPTT at the recipe's shape (config/model_recipe.yaml: windows
of 128 frames, batch 16, TBPTT chunks of 32, its augmentations), one torch thread per training
process, on the same synthetic bags (rgb8, 64x48). A sample is one frame through forward +
backward + AdamW step. For each kind the same training runs, one after the other, in child
processes: with this tree's code (float32, and with the image encoder in bfloat16,
`optim.encoder_precision: bf16`, where this CPU computes bf16 natively: AMX or AVX-512 BF16),
and with the code of the reference revision (the last one before the training loop was made
faster), exported with `git archive`.
The first epoch warms up and is not counted; samples/s is the median over the timed epochs of
the trainer's own count, and the final training losses show that both train the same way.
Baselines are sized to the CfC's parameter budget (`match_parameter_count`).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from lnn_control.benchmarks import bench_arguments, reference_tree, report
from lnn_control.train.behavior_cloning import encoder_autocast

REFERENCE = "b9def0c"      # the training loop before the batches were made on a background thread
KINDS = ["cfc", "ltc", "lstm", "gru", "mlp"]
REPO = Path(__file__).resolve().parent.parent

# Run in a child process with one source tree on sys.path: train on the bags, print the history.
TRAIN = """
import json, sys, os
from pathlib import Path
import torch
torch.set_num_threads(1)
from lnn_control.data import load_bags
from lnn_control.policy import PolicySpec
from lnn_control.train.behavior_cloning import train_policy
from lnn_control.train.config import load_config
bags_dir, kind, out, epochs = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
bags, _ = load_bags(sorted(Path(bags_dir).iterdir()), use_cache=False)
config = load_config(sys.argv[5]).replace("optim", epochs=epochs, patience=epochs).replace("data", val_fraction=0.0)
if sys.argv[6] != "-":
    config = config.replace("optim", encoder_precision=sys.argv[6])
result = train_policy(bags, PolicySpec(kind=kind), config, out, progress=False)
print(json.dumps(result.history))
"""


def train(tree: Path, bags: Path, kind: str, out: Path, epochs: int, recipe: Path, precision: str) -> list[dict]:
    # -P: without it `-c` puts the working directory first on sys.path, and from the repository
    # root the reference would run this tree's code
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-P", "-c", TRAIN, str(bags), kind, str(out), str(epochs), str(recipe),
                             precision], capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser_args = bench_arguments(__doc__.splitlines()[0])
    sys.path.insert(0, str(REPO / "test"))
    from bag_factory import write_bag

    # 16 bags of 400 frames: 80 windows of 128, so 5 full batches of 16 an epoch (with 4 bags there
    # were 2, one of 4 windows, and the first batch of an epoch, which nothing overlaps, took half
    # the epoch's time; the recipe's epochs have some 200 batches)
    episodes, frames, epochs = (2, 160, 2) if parser_args.quick else (16, 400, 3)
    recipe = REPO / "config" / "model_recipe.yaml"
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_train_") as scratch:
        scratch = Path(scratch)
        bags = scratch / "bags"
        for i in range(episodes):
            write_bag(bags / f"bag{i}", frames=frames)
        reference = f"reference {REFERENCE}"
        # (label, source tree, optim.encoder_precision; "-": the reference, which has no such key)
        runs = [("this tree, fp32", REPO, "fp32"), ("this tree, encoder bf16", REPO, "bf16"),
                (reference, reference_tree(REFERENCE, scratch / "reference"), "-")]
        if encoder_autocast("auto", torch.device("cpu")) is None:   # bf16 emulated here: no use timing it
            runs = [run for run in runs if run[2] != "bf16"]
        for kind in ["cfc", "lstm", "mlp"] if parser_args.quick else KINDS:
            rates, kind_rows = {}, []
            for label, tree, precision in runs:
                if tree is None:
                    continue
                history = train(tree, bags, kind, scratch / f"{kind}.pt", epochs, recipe, precision)
                timed = sorted(row["train_frames_per_s"] for row in history[1:])
                rates[label] = timed[len(timed) // 2]
                kind_rows.append({"kind": kind, "code": label, "train_samples_per_s": rates[label],
                                  "final_train_loss": history[-1]["train_loss"], "epochs_timed": len(timed)})
            for row in kind_rows:
                if reference in rates and row["code"] != reference:
                    row["speedup"] = rates[row["code"]] / rates[reference]
            rows += kind_rows
    report("bench_train", rows, parser_args.out, __doc__.strip())


if __name__ == "__main__":
    main()
