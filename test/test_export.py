"""TorchScript and ONNX exports of a policy's single step, run against eager PyTorch."""
from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch

from lnn_control.policy import Policy, PolicySpec, build_network
from lnn_control.policy.export import INPUT_NAMES, example_inputs, export_onnx, export_state_size, export_torchscript


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("kind", ("cfc", "lstm", "mlp"))
def test_exports_match_eager(tmp_path, kind):
    torch.manual_seed(2)
    net = build_network(PolicySpec(kind=kind)).eval()
    scripted = torch.jit.load(str(export_torchscript(net, tmp_path / f"{kind}.ts")))
    session = onnxruntime.InferenceSession(str(export_onnx(net, tmp_path / f"{kind}.onnx")),
                                           providers=["CPUExecutionProvider"])
    # an episode through the exported ONNX step equals the runtime Policy on the same inputs
    policy = Policy(net)
    state = np.zeros((1, export_state_size(net)), np.float32)
    for seed in range(4):
        image, imu, dt, _ = example_inputs(net, seed=10 + seed)
        inputs = (image.numpy(), imu.numpy(), dt.numpy(), state)
        cmd, state = session.run(None, dict(zip(INPUT_NAMES, inputs, strict=True)))
        expected = policy.step(image[0].numpy(), imu[0].numpy(), float(dt))
        np.testing.assert_allclose(cmd[0], expected, atol=1e-5)
        with torch.no_grad():
            ts_cmd, _ = scripted(image, imu, dt, torch.from_numpy(state))
        assert np.isfinite(ts_cmd.numpy()).all()
    # a NaN IMU component is read as 0 in the exported graph too
    image, imu, dt, state0 = example_inputs(net)
    imu[0, 2] = float("nan")
    inputs = (image.numpy(), imu.numpy(), dt.numpy(), state0.numpy())
    cmd, _ = session.run(None, dict(zip(INPUT_NAMES, inputs, strict=True)))
    assert np.isfinite(cmd).all()
