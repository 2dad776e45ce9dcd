"""Export a policy's single step (state in, state out) to TorchScript and ONNX for edge devices.

The exported function is `step(image, imu, dt, state) -> (cmd, new_state)`:
image uint8 [1, H, W, 3] RGB at the spec's size (resize before calling), imu float32 [1, 6]
(non-finite components are read as 0), dt float32 [1] seconds, state float32 [1, S]
(zeros at the start of an episode; S = `export_state_size(net)`); cmd float32 [1, 4]
[vx, vy, vz, yaw_rate] within the limits. Both exports are checked against eager PyTorch.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lnn_control.policy.network import PolicyNetwork

TOLERANCE = 1e-5
INPUT_NAMES = ["image", "imu", "dt", "state"]
OUTPUT_NAMES = ["cmd", "new_state"]


def export_state_size(net: PolicyNetwork) -> int:
    """Width of the exported state tensor (a memoryless core still gets one unused slot)."""
    return max(1, net.core.state_size)


class PolicyStep(nn.Module):
    """One control step of `net` with the recurrent state as a single float tensor."""

    def __init__(self, net: PolicyNetwork):
        super().__init__()
        if net.ensemble_size > 1:
            raise ValueError(f"exporting an ensemble policy ({net.ensemble_size} members) is not supported yet: "
                             f"the exported step has one core's state")
        self.net = net.eval()
        self.stateless = net.core.state_size == 0

    def forward(self, image: torch.Tensor, imu: torch.Tensor, dt: torch.Tensor, state: torch.Tensor):
        imu = torch.where(torch.isfinite(imu), imu, torch.zeros_like(imu))
        features = self.net.encode(image, imu, dt)
        timespan = (dt / self.net.spec.nominal_dt)[:, None]
        if self.stateless:
            y, _ = self.net.core.flat_step(features, timespan, None)
            return self.net.command(y), state
        y, new_state = self.net.core.flat_step(features, timespan, state)
        return self.net.command(y), new_state


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


def export_onnx(net: PolicyNetwork, path, opset: int = 17) -> Path:
    """Export the step to an ONNX file at `path`, check it with onnxruntime, return the path."""
    import onnxruntime

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the TorchScript-based exporter: the torch.export-based one needs onnxscript, which is not
    # a dependency, and the step has no control flow that would need it
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size")
        torch.onnx.export(PolicyStep(net), example_inputs(net), str(path), input_names=INPUT_NAMES,
                          output_names=OUTPUT_NAMES, opset_version=opset, dynamo=False)
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
