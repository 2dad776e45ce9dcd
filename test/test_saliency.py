"""Saliency maps (VisualBackProp, integrated gradients through the whole policy) and the neurons of
a wired CfC: shapes, ranges, and behaviour a wrong implementation would not show."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from ncps.wirings import AutoNCP

from lnn_control.policy import PolicySpec, build_network
from lnn_control.policy.neurons import neuron_layout, trace_neurons
from lnn_control.policy.saliency import FrameWindow, integrated_gradients, visual_backprop


def _net(kind: str, seed: int = 0):
    torch.manual_seed(seed)
    return build_network(PolicySpec(kind=kind)).eval()


def _frames(n: int, seed: int = 0, height: int = 48, width: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3), dtype=np.uint8)


IMU = np.array([0, 0, 0, 0, 0, 9.81], np.float32)


@pytest.mark.parametrize("kind", ["cfc", "lstm", "mlp"])
def test_both_maps_are_finite_unit_maps_at_the_frames_size(kind):
    net = _net(kind)
    window = FrameWindow(net, length=3)
    for frame in _frames(5, height=96, width=128):      # twice the network's size: resized, map at 96x128
        window.push(frame, IMU, 0.05)
    for saliency in (visual_backprop(net.image_encoder, frame), integrated_gradients(net, window, n_steps=4)):
        assert saliency.shape == (96, 128) and saliency.dtype == np.float32
        assert np.isfinite(saliency).all() and saliency.min() >= 0.0 and saliency.max() == pytest.approx(1.0)


def test_visual_backprop_peaks_where_the_features_fire():
    """Convolutions that respond only to bright pixels (positive weights, negative biases): the
    map must lie on the one bright patch of an otherwise dark frame."""
    net = _net("cfc")
    with torch.no_grad():
        convs = [layer for layer in net.image_encoder.convs if isinstance(layer, torch.nn.Conv2d)]
        for depth, layer in enumerate(convs):   # dark pixels read -2 after normalisation, bright +2
            layer.weight.fill_(1.0 / layer.weight[0].numel())
            layer.bias.fill_(-0.5 if depth == 0 else -0.1)
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[30:44, 40:58] = 255
    saliency = visual_backprop(net.image_encoder, frame)
    inside = saliency[28:46, 38:60].sum() / saliency.sum()
    assert inside > 0.9, f"only {inside:.0%} of the map on the bright patch"
    row, col = np.unravel_index(np.argmax(saliency), saliency.shape)
    assert 28 <= row < 46 and 38 <= col < 60


def test_integrated_gradients_only_sees_what_the_network_reads():
    """A projection that reads only the bottom-right cell of the last feature map (rows 2, column
    3 of 3 x 4): no pixel outside that cell's receptive field can matter, through any core."""
    net = _net("cfc")
    with torch.no_grad():
        weight = net.image_encoder.project[0].weight
        keep = torch.zeros(32, 3, 4, dtype=torch.bool)
        keep[:, 2, 3] = True
        weight[:, ~keep.flatten()] = 0.0
    window = FrameWindow(net, length=4)
    for frame in _frames(6, seed=1):
        window.push(frame, IMU, 0.05)
    saliency = integrated_gradients(net, window, n_steps=8)
    # the receptive field of cell (2, 3): 33 x 33 pixels ending at the bottom-right corner
    assert saliency[:, :20].max() == 0.0 and saliency[:10].max() == 0.0
    assert saliency[24:, 40:].max() == pytest.approx(1.0)


def test_the_window_carries_the_state_of_the_frames_that_left_it():
    net = _net("lstm")
    frames = _frames(5, seed=2)
    window = FrameWindow(net, length=2)
    for frame in frames:
        window.push(frame, IMU, 0.05)
    images = torch.from_numpy(frames)[None]
    imu = torch.from_numpy(np.tile(IMU, (1, 5, 1)))
    dt = torch.full((1, 5), 0.05)
    with torch.no_grad():
        whole, _ = net(images, imu, dt)
        _, before = net(images[:, :3], imu[:, :3], dt[:, :3])
        tail, _ = net(*window.tensors(), window.start_state)
    torch.testing.assert_close(tail, whole[:, 3:], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(window.start_state[0], before[0])


def test_the_layout_of_the_state_is_inter_command_motor_with_ncps_ids():
    net = _net("cfc")
    layout = neuron_layout(net)
    spec = net.spec
    reference = AutoNCP(spec.units, spec.motor_neurons, sparsity_level=spec.sparsity, seed=spec.wiring_seed)
    reference.build(spec.core_input_size)
    assert sorted(layout.neuron_ids) == list(range(spec.units))
    assert [reference.get_type_of_neuron(i) for i in layout.neuron_ids] == list(layout.roles)
    # ncps numbers motor neurons first; the CfC state holds them last
    assert layout.neuron_ids[-spec.motor_neurons:] == tuple(range(spec.motor_neurons))
    assert set(layout.roles[-spec.motor_neurons:]) == {"motor"} and layout.roles[0] == "inter"
    assert layout.labels[-1] == f"motor {layout.neuron_ids[-1]}"


def test_the_neuron_trace_is_the_policys_own_state():
    net = _net("cfc")
    frames = _frames(6, seed=3)
    imu = np.tile(IMU, (6, 1))
    dt = np.full(6, 0.05, np.float32)
    trace = trace_neurons(net, frames, imu, dt)
    assert trace.state.shape == trace.time_constant_s.shape == (6, net.spec.units)
    with torch.no_grad():
        cmd, state = net(torch.from_numpy(frames)[None], torch.from_numpy(imu)[None], torch.from_numpy(dt)[None])
        from_motor = net.command(torch.from_numpy(trace.state[:, -net.spec.motor_neurons:]))
    np.testing.assert_allclose(trace.state[-1], state[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(from_motor.numpy(), cmd[0].numpy(), rtol=1e-5, atol=1e-6)
    assert np.isfinite(trace.time_constant_s).all() and (trace.time_constant_s > 0).all()
    np.testing.assert_allclose(trace.times_s, np.arange(6) * 0.05, atol=1e-6)


def test_an_lstm_has_no_ncp_neurons_to_show():
    with pytest.raises(ValueError, match="lstm"):
        neuron_layout(_net("lstm"))


@pytest.mark.parametrize("kind", ["cfc", "lstm", "gru", "mlp"])
def test_the_runtime_state_vector_has_a_label_per_entry(kind):
    from lnn_control.policy import Policy
    from lnn_control.policy.neurons import state_labels

    net = _net(kind)
    policy = Policy(net)
    labels = state_labels(net)
    assert policy.state_vector().shape == (len(labels),) and not policy.state_vector().any()
    policy.step(_frames(1)[0], IMU, 0.05)
    state = policy.state_vector()
    assert state.shape == (len(labels),) and state.dtype == np.float32 and np.isfinite(state).all()
    if kind == "cfc":
        with torch.no_grad():
            _, reference = net(torch.from_numpy(_frames(1))[None], torch.from_numpy(IMU)[None, None],
                               torch.full((1, 1), 0.05))
        np.testing.assert_allclose(state, reference[0].numpy(), rtol=1e-4, atol=1e-5)
        assert labels[-1].startswith("motor") and labels[0].startswith("inter")
