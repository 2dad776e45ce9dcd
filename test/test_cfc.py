"""lnn_control.policy.CfC against ncps.torch.CfC, the numerical reference."""
from __future__ import annotations

import itertools

import ncps.torch
import pytest
import torch
from ncps.wirings import NCP, AutoNCP, FullyConnected

from lnn_control.policy import CfC

TOL = 1e-5
INPUTS = 7


def wirings():
    return {
        "units": lambda: 12,
        "autoncp": lambda: AutoNCP(14, 3, seed=5),
        "ncp": lambda: NCP(inter_neurons=6, command_neurons=4, motor_neurons=2, sensory_fanout=3,
                           inter_fanout=2, recurrent_command_synapses=3, motor_fanin=2, seed=7),
        "fully_connected": lambda: FullyConnected(9, 4),
    }


def pair(wiring: str, seed: int = 0, **kwargs):
    """(ncps CfC, ours) with identical weights: ours loads the ncps state_dict unchanged."""
    torch.manual_seed(seed)
    make = wirings()[wiring]
    reference = ncps.torch.CfC(INPUTS, make(), **kwargs)
    ours = CfC(INPUTS, make(), **kwargs)
    result = ours.load_state_dict(reference.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    return reference.eval(), ours.eval()


def assert_close(a, b):
    if isinstance(a, tuple):
        for x, y in zip(a, b, strict=True):
            assert_close(x, y)
        return
    assert a.shape == b.shape
    assert (a - b).abs().max().item() <= TOL


def irregular_timespans(*shape):
    return 0.05 + 2.0 * torch.rand(*shape)


@pytest.mark.parametrize("wiring,mode,mixed",
                         list(itertools.product(wirings(), ("default", "pure", "no_gate"), (False, True))))
def test_matches_ncps_every_mode_and_wiring(wiring, mode, mixed):
    reference, ours = pair(wiring, mode=mode, mixed_memory=mixed)
    x = torch.randn(1, 6, INPUTS)
    ts = irregular_timespans(1, 6)
    h0 = torch.randn(1, reference.state_size) * 0.5
    hx = (h0, torch.randn_like(h0)) if mixed else h0
    with torch.no_grad():
        for args in ((x,), (x, hx, ts), (x, None, ts)):
            assert_close(ours(*args), reference(*args))
        # unbatched: [L, C] and [L] timespans
        hx1 = (hx[0][0], hx[1][0]) if mixed else hx[0]
        assert_close(ours(x[0], hx1, ts[0]), reference(x[0], hx1, ts[0]))


@pytest.mark.parametrize("wiring,mode,mixed", [("autoncp", "default", False), ("ncp", "no_gate", True),
                                               ("fully_connected", "pure", False), ("units", "default", False)])
def test_gradients_match_ncps(wiring, mode, mixed):
    """Training takes the sequence path (each layer's gates stacked once, the first layer's input
    term for all steps in one product): every parameter's gradient, and the input's, are ncps'."""
    reference, ours = pair(wiring, seed=4, mode=mode, mixed_memory=mixed)
    x = torch.randn(1, 9, INPUTS)   # batch 1: ncps broadcasts a batch's timespans wrongly otherwise
    ts = irregular_timespans(1, 9)
    grads = []
    for model in (reference.train(), ours.train()):
        inputs = x.clone().requires_grad_(True)
        output, state = model(inputs, None, ts)
        (output.square().sum() + (state[0] if mixed else state).sum()).backward()
        grads.append([inputs.grad] + [p.grad for p in model.parameters() if p.requires_grad])
    for ref_grad, our_grad in zip(*grads, strict=True):
        assert our_grad is not None and (ref_grad - our_grad).abs().max().item() <= 1e-4


@pytest.mark.parametrize("kwargs", [
    {"proj_size": 3}, {"return_sequences": False}, {"batch_first": False},
    {"activation": "relu", "backbone_units": 16, "backbone_layers": 3, "backbone_dropout": 0.1},
    {"activation": "silu", "backbone_layers": 0}, {"activation": "gelu", "backbone_units": 8},
    {"activation": "tanh", "proj_size": 2, "return_sequences": False, "mixed_memory": True},
])
def test_matches_ncps_constructor_options(kwargs):
    reference, ours = pair("units", seed=1, **kwargs)
    x = torch.randn(5, 1, INPUTS) if kwargs.get("batch_first") is False else torch.randn(1, 5, INPUTS)
    ts = irregular_timespans(*x.shape[:2])
    with torch.no_grad():
        assert_close(ours(x, None, ts), reference(x, None, ts))
        assert_close(ours(x), reference(x))


def test_wired_projection_and_time_major():
    reference, ours = pair("autoncp", seed=2, proj_size=5, batch_first=False, return_sequences=False)
    x = torch.randn(4, 1, INPUTS)
    ts = irregular_timespans(4, 1)
    with torch.no_grad():
        assert_close(ours(x, None, ts), reference(x, None, ts))


def test_batch_uses_each_samples_own_timespans():
    """ncps broadcasts a [B] timespan into [B, H] (right only for B = 1); ours gives every
    sample exactly what ncps gives it alone."""
    reference, ours = pair("autoncp", seed=3)
    x = torch.randn(3, 5, INPUTS)
    ts = irregular_timespans(3, 5)
    with torch.no_grad():
        out, h = ours(x, None, ts)
        for b in range(3):
            ref_out, ref_h = reference(x[b:b + 1], None, ts[b:b + 1])
            assert_close(out[b:b + 1], ref_out)
            assert_close(h[b:b + 1], ref_h)
        out3, _ = ours(x, None, ts[..., None])  # [B, L, 1] is the same
        assert_close(out3, out)


def test_ncps_loads_our_state_dict_and_parameter_names_match():
    reference, ours = pair("ncp", mixed_memory=True, proj_size=2)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in reference.named_parameters()]
    torch.manual_seed(9)
    fresh = CfC(INPUTS, wirings()["ncp"](), mixed_memory=True, proj_size=2)
    reference.load_state_dict(fresh.state_dict())
    x = torch.randn(1, 4, INPUTS)
    with torch.no_grad():
        assert_close(fresh(x), reference(x))


def test_state_errors_match_ncps():
    _, ours = pair("units", mixed_memory=True)
    with pytest.raises(RuntimeError, match="tuple"):
        ours(torch.randn(1, 3, INPUTS), torch.zeros(1, 12))
    _, plain = pair("units")
    with pytest.raises(RuntimeError, match="2-D"):
        plain(torch.randn(1, 3, INPUTS), torch.zeros(12))
    with pytest.raises(ValueError, match="backbone_units"):
        CfC(INPUTS, AutoNCP(10, 2), backbone_units=8)


@pytest.mark.parametrize("wiring,mode,mixed", [("autoncp", "default", False), ("units", "pure", False),
                                               ("fully_connected", "no_gate", True), ("ncp", "default", True)])
def test_step_equals_forward_on_one_step(wiring, mode, mixed):
    # ncps' FullyConnected output is every neuron, wider than its output_dim: no projection
    _, ours = pair(wiring, mode=mode, mixed_memory=mixed, proj_size=None if wiring == "fully_connected" else 3)
    x = torch.randn(4, INPUTS)
    h0 = 0.5 * torch.randn(4, ours.state_size)
    hx = (h0, torch.randn_like(h0)) if mixed else h0
    dt = irregular_timespans(4)
    y, h = ours.step(x, hx, dt)
    ref_y, ref_h = ours(x[:, None], hx, dt[:, None])
    assert not y.requires_grad
    assert_close(y, ref_y[:, 0])
    assert_close(h, ref_h)
    y0, h0_out = ours.step(x[:1], None, 0.7)  # zero state, scalar dt
    ref_y0, ref_h0 = ours(x[:1, None], None, torch.full((1, 1), 0.7))
    assert_close(y0, ref_y0[:, 0])
    assert_close(h0_out, ref_h0)


@pytest.mark.parametrize("activation", ("gelu", "silu", "relu", "tanh"))
def test_step_equals_forward_for_backbone_activations(activation):
    _, ours = pair("units", activation=activation, backbone_layers=2, backbone_units=16)
    x, h0, dt = torch.randn(2, INPUTS), 0.5 * torch.randn(2, 12), irregular_timespans(2)
    y, h = ours.step(x, h0, dt)
    ref_y, ref_h = ours(x[:, None], h0, dt[:, None])
    assert_close(y, ref_y[:, 0])
    assert_close(h, ref_h)


def test_step_follows_weight_updates():
    _, ours = pair("autoncp")
    x, h = torch.randn(1, INPUTS), torch.zeros(1, ours.state_size)
    before, _ = ours.step(x, h, 1.0)
    optimiser = torch.optim.SGD(ours.parameters(), lr=0.5)
    ours.train()
    loss = ours(x[:, None].repeat(1, 3, 1))[0].pow(2).sum()
    loss.backward()
    optimiser.step()
    after, _ = ours.step(x, h, 1.0)
    with torch.no_grad():
        expected = ours(x[:, None], h, torch.ones(1, 1))[0][:, 0]
    assert (after - before).abs().max() > 1e-4
    assert_close(after, expected)
