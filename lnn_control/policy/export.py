"""Export a policy's single step (state in, state out) to TorchScript and ONNX for edge devices.

`lnn-control export FILE.pt --out DIR` (`export_policy`) writes the ONNX step with the
checkpoint's header alongside (DIR/policy.onnx + DIR/policy.json, see `bundle.py`), and checks
the exported runtime (`OnnxPolicy`) against the torch one (`Policy`) before it says so.

The exported function is `step(image, imu, dt, state) -> (cmd, new_state)`:
image uint8 [1, H, W, 3] RGB at the spec's size (resize before calling), imu float32 [1, 6]
(non-finite components are read as 0), dt float32 [1] seconds, state float32 [1, S]
(zeros at the start of an episode; S = `export_state_size(net)`); cmd float32 [K, 4]: each of
the K members' [vx, vy, vz, yaw_rate] within the limits (K = 1 for a single policy; for an
ensemble the runtime takes their mean and their disagreement, as `Policy` does, and the state is
the members' states one after the other). Both exports are checked against eager PyTorch.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from torch import nn

import lnn_control
from lnn_control.exit_status import SUCCESS, failed
from lnn_control.policy.bundle import (
    EXPORT_FORMAT,
    EXPORT_FORMAT_VERSION,
    HEADER_DIGEST_KEY,
    HEADER_FILE,
    INPUT_NAMES,
    MODEL_FILE,
    OUTPUT_NAMES,
    ExportError,
    header_digest,
    read_bundle,
)
from lnn_control.policy.checkpoint import CheckpointError, load_checkpoint
from lnn_control.policy.digest import bytes_sha256, file_sha256
from lnn_control.policy.network import PolicyNetwork
from lnn_control.policy.onnx_runtime import load_onnx_policy
from lnn_control.policy.runtime import Policy

TOLERANCE = 1e-5
OPSET = 17
CHECK_EPISODES, CHECK_STEPS = 3, 40   # the export-time comparison of the two runtimes


def export_state_size(net: PolicyNetwork) -> int:
    """Width of the exported state tensor: every member's state (a memoryless core still gets one
    unused slot)."""
    return max(1, net.ensemble_size * net.core.state_size)


class PolicyStep(nn.Module):
    """One control step of `net` with the recurrent state as a single float tensor: the
    members' commands [K, 4] and their states side by side."""

    def __init__(self, net: PolicyNetwork):
        super().__init__()
        self.net = net.eval()
        self.member_state_size = net.core.state_size

    def forward(self, image: torch.Tensor, imu: torch.Tensor, dt: torch.Tensor, state: torch.Tensor):
        imu = torch.where(torch.isfinite(imu), imu, torch.zeros_like(imu))
        features = self.net.encode(image, imu, dt)
        timespan = (dt / self.net.spec.nominal_dt)[:, None]
        if self.member_state_size == 0:
            commands = [self.net.command(core.flat_step(features, timespan, None)[0], head)
                        for core, head in self.net.members()]
            return torch.cat(commands), state
        commands, states = [], []
        for (core, head), member_state in zip(self.net.members(), state.split(self.member_state_size, dim=1),
                                              strict=True):
            y, member_state = core.flat_step(features, timespan, member_state)
            commands.append(self.net.command(y, head))
            states.append(member_state)
        return torch.cat(commands), torch.cat(states, dim=1)


def example_inputs(net: PolicyNetwork, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs of the exported step's shapes (also used to check the exports)."""
    generator = torch.Generator().manual_seed(seed)
    spec = net.spec
    image = torch.randint(0, 256, (1, spec.image_height, spec.image_width, 3), dtype=torch.uint8, generator=generator)
    imu = torch.randn(1, 6, generator=generator)
    dt = torch.full((1,), spec.nominal_dt) * (0.5 + torch.rand(1, generator=generator))
    state = 0.5 * torch.randn(1, export_state_size(net), generator=generator)
    return image, imu, dt, state


def export_torchscript(net: PolicyNetwork, path) -> Path:
    """Trace the step to a TorchScript file at `path`, check it against eager, return the path."""
    path = Path(path)
    step = PolicyStep(net)
    inputs = example_inputs(net)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # nn.LSTM's shape checks, constant here
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated, still what edge runtimes load
        traced = torch.jit.trace(step, inputs, check_trace=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        traced.save(str(path))
        loaded = torch.jit.load(str(path))

    def run(*arrays):
        with torch.no_grad():
            return [t.numpy() for t in loaded(*map(torch.from_numpy, arrays))]
    check_export(net, run, path)
    return path


def export_onnx(net: PolicyNetwork, path, opset: int = OPSET) -> Path:
    """Export the step to an ONNX file at `path`, check it with onnxruntime, return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the TorchScript-based exporter: the torch.export-based one needs onnxscript, which is not
    # a dependency, and the step has no control flow that would need it
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size")
        torch.onnx.export(PolicyStep(net), example_inputs(net), str(path), input_names=list(INPUT_NAMES),
                          output_names=list(OUTPUT_NAMES), opset_version=opset, dynamo=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    check_export(net, lambda *xs: session.run(None, dict(zip(INPUT_NAMES, xs, strict=True))), path)
    return path


def check_export(net: PolicyNetwork, run, path, steps: int = 5) -> float:
    """Roll eager and exported steps side by side over `steps` random inputs (state fed back);
    raise RuntimeError naming `path` if cmd or state differ by more than 1e-5."""
    step = PolicyStep(net)
    state = torch.zeros(1, export_state_size(net))
    worst = 0.0
    for seed in range(steps):
        image, imu, dt, _ = example_inputs(net, seed)
        with torch.no_grad():
            cmd, new_state = step(image, imu, dt, state)
        exported = run(image.numpy(), imu.numpy(), dt.numpy(), state.numpy())
        worst = max(worst, float(np.abs(exported[0] - cmd.numpy()).max()),
                    float(np.abs(exported[1] - new_state.numpy()).max()))
        state = new_state
    if not worst <= TOLERANCE:
        raise RuntimeError(f"{path}: exported step differs from eager PyTorch by {worst:.3g} (> {TOLERANCE})")
    return worst


def export_policy(checkpoint, out_dir) -> tuple[Path, float]:
    """Write the checkpoint at `checkpoint` as an export in `out_dir` (policy.onnx + policy.json,
    each replaced atomically); (path of policy.json, the largest |command difference| between
    the exported runtime and the torch one over the export-time check). CheckpointError for a bad
    checkpoint; RuntimeError naming the file if the runtimes differ by more than 1e-5."""
    import onnx

    checkpoint, out_dir = Path(checkpoint), Path(out_dir)
    net, header = load_checkpoint(checkpoint)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path, header_path = out_dir / MODEL_FILE, out_dir / HEADER_FILE
    partial = out_dir / (MODEL_FILE + ".partial")
    export_onnx(net, partial)
    model = onnx.load(str(partial))
    entry = model.metadata_props.add()
    entry.key, entry.value = HEADER_DIGEST_KEY, header_digest(header)
    model.producer_name, model.producer_version = "lnn_control", lnn_control.__version__
    model_bytes = model.SerializeToString()
    partial.write_bytes(model_bytes)
    os.replace(partial, model_path)
    header = {**header, "export": {
        "format": EXPORT_FORMAT, "format_version": EXPORT_FORMAT_VERSION, "model": MODEL_FILE,
        "sha256": bytes_sha256(model_bytes), "state_size": export_state_size(net), "opset": OPSET,
        "inputs": {"image": f"uint8 [1, {net.spec.image_height}, {net.spec.image_width}, 3] RGB",
                   "imu": "float32 [1, 6] rad/s, m/s^2 (body FLU)", "dt": "float32 [1] s",
                   "state": f"float32 [1, {export_state_size(net)}] (zeros at the start of an episode)"},
        "outputs": {"cmd": f"float32 [{net.ensemble_size}, 4] each member's vx, vy, vz m/s, yaw_rate rad/s "
                           f"(heading frame)",
                    "new_state": f"float32 [1, {export_state_size(net)}]"},
        "checkpoint": {"file": checkpoint.name, "sha256": file_sha256(checkpoint)},
        "lnn_control_version": lnn_control.__version__,
    }}
    _write_json(header_path, header)
    worst = compare_runtimes(Policy(net), load_onnx_policy(out_dir))
    if not worst <= TOLERANCE:
        raise RuntimeError(f"{model_path}: the exported runtime differs from the torch runtime by {worst:.3g} "
                           f"(> {TOLERANCE}) over {CHECK_EPISODES} x {CHECK_STEPS} steps")
    header["export"]["check"] = {"runtime": "onnxruntime " + onnxruntime.__version__, "reference": "torch Policy.step",
                                 "episodes": CHECK_EPISODES, "steps": CHECK_EPISODES * CHECK_STEPS,
                                 "max_abs_cmd_difference": worst, "tolerance": TOLERANCE}
    _write_json(header_path, header)
    read_bundle(out_dir)
    return header_path, worst


def compare_runtimes(reference, exported, episodes: int = CHECK_EPISODES, steps: int = CHECK_STEPS,
                     seed: int = 0) -> float:
    """The largest |command difference| (and, for an ensemble, |uncertainty difference|) between
    two runtimes stepped side by side over random episodes: frames at the policy's size and
    twice it (the resize), IMU readings with an occasional NaN component, dt from half to twice
    the nominal."""
    rng = np.random.default_rng(seed)
    spec = reference.spec
    worst = 0.0
    for _ in range(episodes):
        reference.reset()
        exported.reset()
        for k in range(steps):
            scale = 2 if k % 3 == 2 else 1
            image = rng.integers(0, 256, (spec.image_height * scale, spec.image_width * scale, 3), dtype=np.uint8)
            imu = rng.normal([0, 0, 0, 0, 0, 9.81], [0.3, 0.3, 0.3, 1.0, 1.0, 1.0]).astype(np.float32)
            if k % 7 == 3:
                imu[rng.integers(6)] = np.nan
            dt = spec.nominal_dt * rng.uniform(0.5, 2.0)
            worst = max(worst, float(np.abs(exported.step(image, imu, dt) - reference.step(image, imu, dt)).max()))
            if reference.uncertainty is not None:
                worst = max(worst, abs(exported.uncertainty - reference.uncertainty))
    return worst


def _write_json(path: Path, value: dict) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(value, indent=2, allow_nan=False) + "\n")
    os.replace(partial, path)


def run_cli(args) -> int:
    """`lnn-control export FILE.pt --out DIR`."""
    command = "lnn-control export"
    torch.set_num_threads(1)
    try:
        header_path, worst = export_policy(args.checkpoint, args.out)
    except (CheckpointError, ExportError, RuntimeError) as error:
        return failed(command, error)
    except OSError as error:
        return failed(command, f"{error.filename or args.out}: {error.strerror or error}")
    bundle = read_bundle(header_path)
    print(f"{bundle.model_path} ({len(bundle.model_bytes)} bytes, sha256 {bundle.header['export']['sha256'][:12]}...) "
          f"and {header_path}: the {bundle.spec.kind} step, state size {bundle.state_size}; onnxruntime vs torch over "
          f"{CHECK_EPISODES * CHECK_STEPS} steps: max |command difference| {worst:.2g} (tolerance {TOLERANCE:g})")
    return SUCCESS
