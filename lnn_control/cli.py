"""The `lnn-control` command: one subcommand per job, each with `--help`.

The argument parsers live here (they are the command-line contract the README documents and
scripts rely on); each subcommand's work lives in the module named in `_HANDLERS`, imported
only when that subcommand runs so `lnn-control --help` stays fast. Every subcommand exits by
the rule of lnn_control.exit_status (shown at the end of `lnn-control --help`).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from lnn_control import seeds
from lnn_control.exit_status import failed, help_text, interrupted
from lnn_control.vehicles import VEHICLES

# subcommand -> "module:function"; the function takes the parsed args, returns an exit code.
_HANDLERS = {
    "collect": "lnn_control.rollout.collect:run_cli",
    "train": "lnn_control.train.cli:run_cli",
    "eval": "lnn_control.eval.cli:run_cli",
    "demo": "lnn_control.eval.demo:run_cli",
    "bench": "lnn_control.benchmarks:run_cli",
    "inspect-bag": "lnn_control.data.inspect:run_cli",
    "adapt": "lnn_control.adapt.cli:run_cli",
    "explain": "lnn_control.explain.cli:run_cli",
    "export": "lnn_control.policy.export:run_cli",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lnn-control",
        description="Liquid neural network (CfC) control of drones: collect demonstrations,\n"
        "train from ROS 2 bags, evaluate in closed loop under distribution shift.",
        epilog=help_text(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("collect", help="fly the expert and write one rosbag2 bag per episode")
    p.add_argument("--world", default="forest",
                   help="a world in sim_worlds/ (forest, urban, orchard, quarry, park) or a world YAML file")
    p.add_argument("--episodes", type=int, required=True, help="number of episodes (bags)")
    p.add_argument("--out", required=True, help="output folder; one bag directory per episode")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    p.add_argument("--seed", type=int, default=seeds.DEMONSTRATIONS, help="first world seed; episode i uses seed+i")
    p.add_argument("--shift", action="append", default=[], metavar="NAME[:SEVERITY]",
                   help="distribution shift applied while collecting (repeatable)")
    p.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap", help="rosbag2 storage plugin")
    p.add_argument("--vehicle", choices=VEHICLES, default=None,
                   help="drone or rover (a wheeled robot: vx and yaw_rate only); default: the world's own (drone)")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="end each episode after this much simulated time (default: the world's time limit)")
    p.add_argument("--teacher", default="privileged", metavar="privileged|imitable",
                   help="the expert that flies: privileged (knows where the target is) or imitable (searches, "
                        "as a camera pilot could, once it lost sight of the target)")

    p = sub.add_parser("train", help="train a policy from rosbag2 bags (simulated or recorded)")
    p.add_argument("--bags", nargs="+", required=True, metavar="DIR",
                   help="bag directories, or folders holding bag directories")
    p.add_argument("--model", choices=["cfc", "lstm", "gru", "mlp", "ltc"], default=None,
                   help="the kind of policy (default cfc; with --init, the parent's)")
    p.add_argument("--vehicle", choices=VEHICLES, default=None,
                   help="what the policy drives, kept in the checkpoint (default drone; with --init, the parent's); "
                        "DAgger rollouts drive it")
    p.add_argument("--units", type=int, default=None, metavar="N",
                   help="neurons of the CfC's (or LTC's) NCP wiring, 4 of them motor neurons (default 19; 34 is "
                        "the original drone network's 18 inter, 12 command, 4 motor); an lstm, gru or mlp is sized "
                        "to the parameter count of the CfC with N (with --init, the parent's)")
    p.add_argument("--out", required=True, metavar="FILE.pt", help="checkpoint to write")
    p.add_argument("--image-topic", default=None, help="camera topic (default camera/image_raw)")
    p.add_argument("--imu-topic", default=None, help="IMU topic (default imu/data)")
    p.add_argument("--cmd-topic", default=None, help="velocity command topic (default cmd_vel)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs")
    p.add_argument("--config", default=None, help="training config YAML (see config/train.yaml)")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument("--dagger", type=int, default=0, metavar="K", help="DAgger rounds in the simulator")
    p.add_argument("--ensemble", type=int, default=None, metavar="K",
                   help="train K members on one shared encoder, each on its own bootstrap resample; their "
                        "disagreement is the policy's uncertainty (default: the config's ensemble, else 1)")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable bags instead of stopping")
    p.add_argument("--init", default=None, metavar="FILE.pt",
                   help="fine-tune: start from this checkpoint's weights (its kind and sizes); the new header names "
                        "it by SHA-256")
    p.add_argument("--keep-normalization", action="store_true",
                   help="with --init: keep the parent's IMU normalisation instead of computing it from these bags")
    p.add_argument("--freeze-encoder", action="store_true",
                   help="do not train the image encoder (with --init: the parent's stays as it is)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the config's optim.lr)")
    p.add_argument("--interventions", action="store_true",
                   help="learn from an operator's takeovers (HG-DAgger): the commands flown while the bags' "
                        "intervention flag is set are the labels (config section interventions)")

    p = sub.add_parser("eval", help="closed-loop evaluation: policies x worlds x conditions")
    p.add_argument("--policy", action="append", required=True, metavar="FILE.pt|expert|random",
                   help="policy to evaluate (repeatable)")
    p.add_argument("--world", action="append", default=None, metavar="NAME|FILE.yaml",
                   help="world (repeatable; default forest)")
    p.add_argument("--shift", action="append", default=[], metavar="NAME[:SEVERITY]",
                   help="distribution shift condition (repeatable)")
    p.add_argument("--suite", action="append", default=[], metavar="FILE[:NAME]",
                   help="named suite of conditions (config/eval_suites.yaml)")
    p.add_argument("--episodes", type=int, required=True, help="episodes per policy x world x condition")
    p.add_argument("--seed", type=int, default=seeds.EVALUATION,
                   help=f"first episode seed, shared by all policies (default {seeds.EVALUATION}: "
                        f"never flown in training)")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    p.add_argument("--out", required=True, help="output folder for results.json/.md/.png")
    p.add_argument("--video", action="store_true", help="write one MP4 per condition")
    p.add_argument("--saliency", nargs="?", const="vbp", default=None, choices=["vbp", "ig"],
                   help="with --video: the filmed policy's saliency map over the camera pane (default vbp: "
                        "VisualBackProp; ig: integrated gradients through the whole policy)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--no-reference", action="store_true",
                   help="fly only the --policy list: without the expert flown on the same seeds as the "
                        "path-length yardstick, path lengths are not compared (for runs whose expert "
                        "episodes are flown once elsewhere, as make study does)")
    p.add_argument("--backend", choices=["process", "ray"], default="process",
                   help="where episodes run: local processes, or Ray tasks (optional extra; RAY_ADDRESS joins "
                        "a cluster)")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="episode time limit in simulated seconds (default: each world's own)")
    p.add_argument("--vehicle", choices=VEHICLES, default=None,
                   help="drone or rover (default: what the --policy checkpoints drive, else drone)")
    p.add_argument("--slow-down", nargs="?", const="default", default=None, metavar="LOW:STOP",
                   help="also fly each ensemble policy slowing down as its uncertainty rises, labelled "
                        "NAME+slow_down: linear speed limit x1 at uncertainty LOW down to 0 at STOP, hover above "
                        "(lnn_control/policy/slow_down.py; default 0.03:0.08)")

    p = sub.add_parser("demo", help="the main job: evaluate the shipped model in the forest and under shifts")
    p.add_argument("--out", default="runs/demo", help="output folder")
    p.add_argument("--episodes", type=int, default=None, help="episodes per condition (default 5)")
    p.add_argument("--model", default=None, metavar="FILE.pt",
                   help="checkpoint to fly (default: the shipped models/cfc_forest.pt)")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="episode time limit in simulated seconds (default: the world's own)")

    p = sub.add_parser("bench", help="run the benchmarks: print tables, write JSON")
    p.add_argument("--out", default="runs/bench", help="folder for the JSON results")
    p.add_argument("--only", action="append", default=[], help="run only these benchmarks")

    p = sub.add_parser("adapt", help="fly with a simulated operator who corrects, fine-tune on the corrections, repeat")
    p.add_argument("--policy", required=True, metavar="FILE.pt", help="the checkpoint to start from")
    p.add_argument("--world", default="forest", help="a world in sim_worlds/ or a world YAML file")
    p.add_argument("--shift", action="append", default=[], metavar="NAME[:SEVERITY]",
                   help="distribution shift of every flight (repeatable)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of corrected flights and fine-tuning")
    p.add_argument("--episodes", type=int, default=20, help="corrected flights per round")
    p.add_argument("--heldout", type=int, default=30, help="held-out episodes without an operator, per measurement")
    p.add_argument("--seed", type=int, default=seeds.EVALUATION, help="first held-out world seed")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes for the flights")
    p.add_argument("--config", default=None, help="training config of the fine-tuning (see config/train.yaml)")
    p.add_argument("--epochs", type=int, default=4, help="fine-tuning epochs per round")
    p.add_argument("--lr", type=float, default=3e-4, help="fine-tuning peak learning rate")
    p.add_argument("--takeover-uncertainty", type=float, default=None, metavar="U",
                   help="the operator also takes over when an ensemble policy's uncertainty is above U "
                        "(dimensionless; default: the operator does not look at it)")
    p.add_argument("--policy-weight", type=float, default=0.0,
                   help="how much the frames the policy flew itself count (0: only the corrections, HG-DAgger)")
    p.add_argument("--time-limit", type=float, default=40.0, metavar="SECONDS",
                   help="simulated seconds per flight, corrected or held out")
    p.add_argument("--out", required=True, help="output folder: rounds, bags, checkpoints, adapt.json/.md/.png")

    p = sub.add_parser("explain", help="what the policies look at while flying: attention on the target, "
                                       "the NCP wiring, neuron traces")
    p.add_argument("--policy", action="append", required=True, metavar="FILE.pt",
                   help="checkpoint to explain (repeatable; all fly the same seeds)")
    p.add_argument("--world", default="forest", metavar="NAME|FILE.yaml",
                   help="a world in sim_worlds/ (forest, urban, orchard, quarry, park) or a world YAML file")
    p.add_argument("--shift", action="append", default=[], metavar="NAME[:SEVERITY]",
                   help="distribution shift condition besides no shift (repeatable)")
    p.add_argument("--episodes", type=int, required=True, help="episodes per policy and condition")
    p.add_argument("--seed", type=int, default=seeds.EVALUATION,
                   help=f"first episode seed (default {seeds.EVALUATION}: never flown in training)")
    p.add_argument("--method", action="append", choices=["vbp", "ig"], default=None,
                   help="saliency method (repeatable; default vbp): vbp = VisualBackProp over the image "
                        "encoder, ig = integrated gradients of the command through the whole policy")
    p.add_argument("--every", type=int, default=5, metavar="K",
                   help="make a map of every K-th frame with the target in view (default 5)")
    p.add_argument("--ig-window", type=int, default=8, metavar="FRAMES",
                   help="frames integrated gradients explains through the recurrent core (default 8)")
    p.add_argument("--ig-steps", type=int, default=16, help="points of the integrated-gradients path (default 16)")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="episode time limit in simulated seconds (default: the world's own)")
    p.add_argument("--out", required=True,
                   help="output folder: attention.json/.md/.png, wiring.png, neurons.png")

    p = sub.add_parser("export", help="write a checkpoint as ONNX + its header, for the torch-free runtime",
                       description="Write FILE.pt as DIR/policy.onnx (one control step, recurrent state in and out) "
                                   "and DIR/policy.json (the checkpoint's header, the ONNX file's SHA-256, the state "
                                   "size), after checking onnxruntime against the torch runtime (1e-5). policy_node "
                                   "runs DIR without torch (model_path:=DIR).")
    p.add_argument("checkpoint", metavar="FILE.pt", help="the policy checkpoint to export")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for policy.onnx and policy.json")

    p = sub.add_parser("inspect-bag", help="topics, types, counts, rates and gaps of a rosbag2 bag")
    p.add_argument("bag", help="bag directory (mcap or sqlite3)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the subcommand of `argv` (default: the process's arguments); its exit status."""
    args = build_parser().parse_args(argv)  # bad usage: argparse exits with status 2
    command = f"lnn-control {args.command}"
    module_name, func_name = _HANDLERS[args.command].split(":")
    try:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("lnn_control"):
                return failed(command, f"not built yet ({module_name} is missing)")
            raise
        return int(getattr(module, func_name)(args) or 0)
    except KeyboardInterrupt:  # the subcommands that write say themselves what they kept
        return interrupted(command, "nothing was written")


if __name__ == "__main__":
    sys.exit(main())
