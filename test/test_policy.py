"""Policy networks, baselines of matched size, and the stateful runtime (random weights)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from lnn_control.policy import Policy, PolicySpec, build_network, match_parameter_count

KINDS = ("cfc", "lstm", "gru", "mlp", "ltc")


def sequence(batch=2, steps=4, seed=0, height=48, width=64):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (batch, steps, height, width, 3), dtype=torch.uint8, generator=g)
    imu = torch.randn(batch, steps, 6, generator=g) + torch.tensor([0, 0, 0, 0, 0, 9.81])
    dt = torch.full((batch, steps), 0.05)
    return images, imu, dt


@pytest.fixture(scope="module")
def networks():
    torch.manual_seed(0)
    return {kind: build_network(PolicySpec(kind=kind)).eval() for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_forward_shapes_bounds_and_runtime_agree(networks, kind):
    net = networks[kind]
    images, imu, dt = sequence()
    with torch.no_grad():
        cmd, state = net(images, imu, dt)
    assert cmd.shape == (2, 4, 4) and cmd.dtype == torch.float32
    limits = torch.tensor([2.0, 2.0, 2.0, 1.0])
    assert (cmd.abs() <= limits).all()
    policy = Policy(net)
    stepped = np.stack([policy.step(images[1, t].numpy(), imu[1, t].numpy(), 0.05) for t in range(4)])
    assert stepped.dtype == np.float32
    np.testing.assert_allclose(stepped, cmd[1].numpy(), atol=1e-5)
    # the state carries over: continuing the sequence equals running it whole
    with torch.no_grad():
        whole, _ = net(torch.cat([images, images], 1), torch.cat([imu, imu], 1), torch.cat([dt, dt], 1))
        second, _ = net(images, imu, dt, state)
    np.testing.assert_allclose(second.numpy(), whole[:, 4:].numpy(), atol=1e-5)


def test_recurrent_policies_remember_and_reset(networks):
    images, imu, _ = sequence(batch=1, steps=3)
    policy = Policy(networks["cfc"])
    first = [policy.step(images[0, t].numpy(), imu[0, t].numpy(), 0.05) for t in range(3)]
    again = policy.step(images[0, 0].numpy(), imu[0, 0].numpy(), 0.05)
    assert np.abs(again - first[0]).max() > 1e-6  # state changed the answer
    policy.reset()
    np.testing.assert_allclose(policy.step(images[0, 0].numpy(), imu[0, 0].numpy(), 0.05), first[0], atol=1e-6)


def test_dropped_frame_is_a_longer_timespan_not_a_repeated_step(networks):
    """The CfC sees dt as its timespan: one step of 0.1 s differs from the same frame twice at 0.05 s
    and from one step of 0.05 s."""
    net = networks["cfc"]
    images, imu, _ = sequence(batch=1, steps=1)
    with torch.no_grad():
        long_step, _ = net(images, imu, torch.tensor([[0.1]]))
        short_step, _ = net(images, imu, torch.tensor([[0.05]]))
        twice, _ = net(images.repeat(1, 2, 1, 1, 1), imu.repeat(1, 2, 1), torch.full((1, 2), 0.05))
    assert (long_step - short_step).abs().max() > 1e-5
    assert (long_step[:, 0] - twice[:, 1]).abs().max() > 1e-5
    # dt reaches the CfC itself as its timespan, in units of the nominal period (0.05 s)
    images, imu, dt = images.repeat(1, 2, 1, 1, 1), imu.repeat(1, 2, 1), torch.tensor([[0.15, 0.05]])
    with torch.no_grad():
        cmd, _ = net(images, imu, dt)
        features = net.encode(images[0], imu[0], dt[0])[None]
        core_output, _ = net.core.cfc(features, None, timespans=torch.tensor([[3.0, 1.0]]))
        other_output, _ = net.core.cfc(features, None, timespans=torch.tensor([[1.0, 1.0]]))
    assert (net.command(core_output) - cmd).abs().max() < 1e-6
    assert (net.command(other_output) - cmd).abs().max() > 1e-5


def test_the_ltc_sequence_is_ncps_cell_step_by_step_values_and_gradients(networks):
    """LTCCore.forward solves a whole sequence with the state-free parts done once; ncps' LTCCell,
    called step by step, is the reference for its outputs, final state and every gradient."""
    core = networks["ltc"].core
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 7, networks["ltc"].spec.core_input_size, generator=g)
    timespan = 0.5 + torch.rand(3, 7, generator=g)
    h0 = 0.3 * torch.randn(3, core.state_size, generator=g)

    def stepwise(x, h):
        outputs = []
        for t in range(x.shape[1]):
            y, h = core.cell(x[:, t], h, timespan[:, t, None])
            outputs.append(y)
        return torch.stack(outputs, 1), h

    results = []
    for run in (stepwise, lambda x, h: core(x, timespan, h)):
        core.zero_grad()
        inputs = x.clone().requires_grad_(True)
        y, h = run(inputs, h0)
        (y.square().sum() + h.sum()).backward()
        results.append([y, h, inputs.grad] + [p.grad.clone() for p in core.parameters() if p.requires_grad])
    for reference, ours in zip(*results, strict=True):
        assert (reference - ours).abs().max() <= 1e-5 * max(1.0, reference.abs().max())


@pytest.mark.parametrize("kind", ("lstm", "gru", "mlp"))
def test_baselines_match_cfc_parameter_count(networks, kind):
    cfc = networks["cfc"].core_parameter_count()
    count = networks[kind].core_parameter_count()
    assert abs(count - cfc) <= 0.1 * cfc, (kind, count, cfc)
    assert abs(networks[kind].parameter_count() - networks["cfc"].parameter_count()) <= 0.1 * cfc
    assert 1000 <= cfc <= 5000  # a few thousand recurrent parameters, like the original small networks
    spec = match_parameter_count(PolicySpec(kind=kind, units=32, motor_neurons=8))
    reference = build_network(PolicySpec(kind="cfc", units=32, motor_neurons=8)).core_parameter_count()
    assert abs(build_network(spec).core_parameter_count() - reference) <= 0.1 * reference


def test_normalisation_and_limits_live_in_the_model():
    net = build_network(PolicySpec(max_linear_speed=0.5, max_yaw_rate=0.25))
    images, imu, dt = sequence(batch=1, steps=2)
    with torch.no_grad():
        before, _ = net(images, imu, dt)
        net.set_imu_normalization([0, 0, 0, 0, 0, 9.81], [0.1, 0.1, 0.1, 1.0, 1.0, 1.0])
        after, _ = net(images, imu, dt)
    assert (before - after).abs().max() > 1e-6
    assert (after.abs() <= torch.tensor([0.5, 0.5, 0.5, 0.25])).all()
    np.testing.assert_allclose(net.normalize_command(torch.tensor([0.5, -0.25, 0.0, 0.25])).numpy(), [1, -0.5, 0, 1])
    with pytest.raises(ValueError, match="std"):
        net.set_imu_normalization([0] * 6, [1, 1, 1, 1, 1, 0])
    with pytest.raises(ValueError, match="6 values"):
        net.set_imu_normalization([0] * 5, [1] * 5)


def test_runtime_resizes_any_image_and_rejects_bad_input(networks):
    policy = Policy(networks["gru"])
    imu = np.array([0, 0, 0, 0, 0, 9.81], np.float32)
    for shape in ((480, 640, 3), (10, 13, 3), (48, 64, 3)):
        cmd = policy.step(np.full(shape, 128, np.uint8), imu, 0.05)
        assert cmd.shape == (4,) and np.isfinite(cmd).all()
    read_only = np.frombuffer(bytes(48 * 64 * 3), np.uint8).reshape(48, 64, 3)  # like a ROS message buffer
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for view in (read_only, read_only[..., ::-1]):
            assert np.isfinite(policy.step(view, imu, 0.05)).all()
    image = np.zeros((48, 64, 3), np.uint8)
    bad = [
        ((image.astype(np.float32), imu, 0.05), "uint8"),
        ((image[..., 0], imu, 0.05), "H x W x 3"),
        ((np.zeros((0, 64, 3), np.uint8), imu, 0.05), "empty"),
        ((image.tolist(), imu, 0.05), "numpy array"),
        ((image, imu[:5], 0.05), "6 numbers"),
        ((image, "not numbers", 0.05), "6 numbers"),
        ((image, imu, 0.0), "> 0"),
        ((image, imu, -0.05), "> 0"),
        ((image, imu, float("nan")), "finite"),
        ((image, imu, float("inf")), "finite"),
        ((image, imu, None), "number of seconds"),
    ]
    for args, message in bad:
        with pytest.raises(ValueError, match=message):
            policy.step(*args)


@pytest.mark.parametrize("kind", ("cfc", "lstm"))
def test_nan_imu_never_gives_nan_command(networks, kind):
    """Non-finite IMU components are replaced by the last finite reading (0 before any)."""
    policy = Policy(networks[kind])
    image = np.full((48, 64, 3), 90, np.uint8)
    good = np.array([0.1, -0.2, 0.0, 0.3, 0.0, 9.81], np.float32)
    first = policy.step(image, np.full(6, np.nan, np.float32), 0.05)
    assert np.isfinite(first).all()
    policy.reset()
    policy.step(image, good, 0.05)
    broken = good.copy()
    broken[[1, 5]] = [np.nan, np.inf]
    with_nan = policy.step(image, broken, 0.05)
    policy.reset()
    policy.step(image, good, 0.05)
    np.testing.assert_allclose(with_nan, policy.step(image, good, 0.05), atol=1e-6)


def test_spec_validation_names_the_field():
    with pytest.raises(ValueError, match="kind"):
        PolicySpec(kind="transformer")
    with pytest.raises(ValueError, match="max_yaw_rate"):
        PolicySpec(max_yaw_rate=0)
    with pytest.raises(ValueError, match="motor_neurons"):
        PolicySpec(units=6, motor_neurons=4)
    with pytest.raises(ValueError, match="bogus"):
        PolicySpec.from_dict({"kind": "cfc", "bogus": 1}, source="x.yaml")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind", ("cfc", "lstm", "mlp"))
def test_policy_on_cuda_matches_cpu(networks, kind):
    cpu = networks[kind]
    gpu = build_network(cpu.spec).eval()
    gpu.load_state_dict(cpu.state_dict())
    gpu.cuda()
    images, imu, dt = sequence(batch=2, steps=3)
    with torch.no_grad():
        expected, _ = cpu(images, imu, dt)
        got, _ = gpu(images.cuda(), imu.cuda(), dt.cuda())
    np.testing.assert_allclose(got.cpu().numpy(), expected.numpy(), atol=1e-4)
    policy_cpu, policy_gpu = Policy(cpu), Policy(gpu)
    for t in range(3):
        args = (images[0, t].numpy(), imu[0, t].numpy(), 0.05)
        np.testing.assert_allclose(policy_gpu.step(*args), policy_cpu.step(*args), atol=1e-4)
