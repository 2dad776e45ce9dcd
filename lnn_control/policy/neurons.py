"""Inside a wired (NCP) CfC policy: which state entry is which neuron, and each neuron's state and
effective time constant over a flight.

Orders differ, mind them: ncps numbers a wiring's neurons motor first, then command, then inter
(`AutoNCP(19, 4)`: ids 0-3 motor), but the CfC's state concatenates its layers in the order
the signal flows — inter, command, motor — so the motor neurons are the *last* state entries
(and the output). `neuron_layout` maps one to the other from the wiring itself.

The effective time constant of a CfC neuron (Hasani et al. 2022) is how fast its time gate
sigma(time_a(x) t + time_b(x)) moves with elapsed time t: tau = 1 / |time_a(x)| ("default" and
"no_gate" modes), 1 / (|w_tau| + |ff1(x)|) in "pure" mode; x = [layer input, layer state]. It
changes with the input at every step; reported in seconds (timespan units x nominal_dt).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lnn_control.policy.network import PolicyNetwork

ROLES = ("sensory", "inter", "command", "motor")


@dataclass(frozen=True)
class NeuronLayout:
    """The neurons of a wired CfC in state order: `neuron_ids[i]` is the ncps wiring id of state
    entry i, `roles[i]` its role (inter, command or motor), `labels[i]` e.g. "command 5"."""

    neuron_ids: tuple[int, ...]
    roles: tuple[str, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(f"{role} {nid}" for role, nid in zip(self.roles, self.neuron_ids, strict=True))


@dataclass(frozen=True)
class NeuronTrace:
    """A flight seen from inside: `state` [T, units] (each neuron's value after each step),
    `time_constant_s` [T, units] (its effective time constant at that step), `times_s` [T]
    (elapsed time since the first frame), in the order of `layout`."""

    layout: NeuronLayout
    state: np.ndarray
    time_constant_s: np.ndarray
    times_s: np.ndarray


def wiring_of(net: PolicyNetwork):
    """The ncps wiring of a wired CfC policy; ValueError naming the kind otherwise."""
    cfc = getattr(net.core, "cfc", None)
    wiring = getattr(cfc, "wiring", None)
    if wiring is None:
        raise ValueError(f"a {net.spec.kind} policy with wiring {net.spec.wiring!r} has no NCP neurons to show "
                         "(only a wired cfc policy has)")
    return wiring


def neuron_layout(net: PolicyNetwork) -> NeuronLayout:
    """State order -> wiring ids and roles, read from the wiring's layers (see the module docstring)."""
    wiring = wiring_of(net)
    ids = [int(i) for layer in range(wiring.num_layers) for i in wiring.get_neurons_of_layer(layer)]
    return NeuronLayout(tuple(ids), tuple(wiring.get_type_of_neuron(i) for i in ids))


def state_labels(net: PolicyNetwork) -> tuple[str, ...]:
    """A name for each entry of `Policy.state_vector()`: "inter 10", "command 4", "motor 0" for a
    wired CfC (role and ncps id); "neuron i" for a fully connected CfC or an LTC; "h i" then
    "c i" for an LSTM; "h i" for a GRU; none for an MLP."""
    kind, size = net.spec.kind, net.core.state_size
    if kind == "cfc" and net.spec.wiring == "ncp":
        return neuron_layout(net).labels
    if kind == "lstm":
        half = size // 2
        return tuple(f"h {i}" for i in range(half)) + tuple(f"c {i}" for i in range(half))
    if kind == "gru":
        return tuple(f"h {i}" for i in range(size))
    return tuple(f"neuron {i}" for i in range(size))


def trace_neurons(net: PolicyNetwork, images: np.ndarray, imu: np.ndarray, dt: np.ndarray) -> NeuronTrace:
    """Run a wired CfC policy over one flight's observations — images uint8 [T, H, W, 3] at the
    network's size, imu float32 [T, 6] (rad/s, m/s^2, body FLU), dt [T] (s) — from the zero
    state, recording every neuron's state and effective time constant after each step."""
    layout = neuron_layout(net)
    cell = net.core.cfc.rnn_cell
    with torch.no_grad():
        features = net.encode(torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(imu.astype(np.float32)),
                              torch.from_numpy(dt.astype(np.float32)))
        timespans = torch.from_numpy((dt / net.spec.nominal_dt).astype(np.float32))
        state = torch.zeros(1, cell.state_size)
        states, taus = [], []
        for step in range(features.shape[0]):
            h, layer_states, layer_taus = features[step:step + 1], [], []
            for layer, layer_state in zip(cell.layers, torch.split(state, cell.layer_sizes, dim=1), strict=True):
                layer_taus.append(_time_constant(layer, torch.cat([h, layer_state], 1)))
                h, _ = layer(h, layer_state, timespans[step])
                layer_states.append(h)
            state = torch.cat(layer_states, 1)
            states.append(state[0].numpy())
            taus.append(torch.cat(layer_taus, 1)[0].numpy() * net.spec.nominal_dt)
    return NeuronTrace(layout, np.array(states), np.array(taus), np.cumsum(dt) - dt[0])


def _time_constant(layer, x: torch.Tensor) -> torch.Tensor:
    """1 / the rate of the layer's time gate, in timespan units (see the module docstring)."""
    if layer.mode == "pure":
        rate = layer.w_tau.abs() + layer._masked(layer.ff1, x).abs()
    else:
        rate = layer.time_a(x).abs()
    return 1.0 / rate.clamp(min=1e-6)
