"""Closed-form continuous-time (CfC) recurrent network: a drop-in for `ncps.torch.CfC`.

Hasani et al., "Closed-form continuous-time neural networks", Nature Machine Intelligence
2022. The constructor arguments, `forward(input, hx=None, timespans=None)`, the module
tree and therefore the `state_dict` keys are those of `ncps.torch.CfC` (ncps 1.0.1), so an
ncps state dict loads unchanged and ncps is the numerical reference in the tests.

One deliberate difference: ncps multiplies a per-sample timespan vector `[B]` into `[B, H]`
activations, which only broadcasts correctly for batch size 1. Here timespans are
reshaped to `[B, 1]`, so every sample uses its own elapsed time (batch 1 and unbatched
inputs give ncps' numbers exactly).

Training runs a wired CfC's sequence with each layer's gates stacked into one matrix once per
call (masked where wired), and the first layer's input term for every step in one product.

`CfC.step(x, hx, dt)` is the fast inference path: one time step, batch first, no autograd,
computed with fused, pre-masked numpy weights (see `FusedCfCStep`).
"""
from __future__ import annotations

from operator import attrgetter
from typing import NamedTuple

import numpy as np
import torch
from ncps.wirings import Wiring
from torch import nn

from lnn_control.policy.fused_step import FusedCfCStep

_version = attrgetter("_version")
ACTIVATIONS = ("lecun_tanh", "tanh", "relu", "silu", "gelu")
MODES = ("default", "pure", "no_gate")


class LeCunTanh(nn.Module):
    """LeCun's scaled tanh, 1.7159 * tanh(0.666 x), the CfC backbone default."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(0.666 * x)


def activation_module(name: str) -> nn.Module:
    """The backbone activation called `name` (one of ACTIVATIONS)."""
    modules = {"lecun_tanh": LeCunTanh, "tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU}
    if name not in modules:
        raise ValueError(f"Unknown activation {name!r}; valid options are {list(ACTIVATIONS)}")
    return modules[name]()


class CfCCell(nn.Module):
    """One CfC layer: new_h = f(input, h, elapsed time). Parameter names match ncps' CfCCell."""

    def __init__(self, input_size: int, hidden_size: int, mode: str = "default",
                 backbone_activation: str = "lecun_tanh", backbone_units: int = 128,
                 backbone_layers: int = 1, backbone_dropout: float = 0.0,
                 sparsity_mask: np.ndarray | None = None):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"Unknown mode '{mode}', valid options are {list(MODES)}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.mode = mode
        self.activation_name = backbone_activation
        self.backbone_layers = backbone_layers
        if sparsity_mask is None:
            self.sparsity_mask = None
        else:  # [hidden, input + hidden], 1 where a synapse exists
            mask = torch.from_numpy(np.abs(sparsity_mask.T).astype(np.float32))
            self.sparsity_mask = nn.Parameter(mask, requires_grad=False)
        self.backbone = None
        if backbone_layers > 0:
            layers = [nn.Linear(input_size + hidden_size, backbone_units), activation_module(backbone_activation)]
            for _ in range(1, backbone_layers):  # ncps' layout, so state_dict indices agree
                layers += [nn.Linear(backbone_units, backbone_units), activation_module(backbone_activation)]
                if backbone_dropout > 0.0:
                    layers.append(nn.Dropout(backbone_dropout))
            self.backbone = nn.Sequential(*layers)
        features = hidden_size + input_size if backbone_layers == 0 else backbone_units
        self.ff1 = nn.Linear(features, hidden_size)
        if mode == "pure":
            self.w_tau = nn.Parameter(torch.zeros(1, hidden_size))
            self.A = nn.Parameter(torch.ones(1, hidden_size))
        else:
            self.ff2 = nn.Linear(features, hidden_size)
            self.time_a = nn.Linear(features, hidden_size)
            self.time_b = nn.Linear(features, hidden_size)
        for w in self.parameters():
            if w.dim() == 2 and w.requires_grad:
                nn.init.xavier_uniform_(w)

    def _masked(self, layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        if self.sparsity_mask is None:
            return layer(x)
        return nn.functional.linear(x, layer.weight * self.sparsity_mask, layer.bias)

    def gates(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The gates stacked side by side, masked where wired: weight [features, k*H] (features:
        input + H, or the backbone's units), bias [k*H]; k = 1 (ff1) in pure mode, else 4 (ff1,
        ff2, time_a, time_b; ncps masks only ff1 and ff2). Computed from the parameters, so
        gradients flow back to them: a sequence computes them once, not once a step."""
        layers = [self.ff1] if self.mode == "pure" else [self.ff1, self.ff2, self.time_a, self.time_b]
        weights = [layer.weight for layer in layers]
        if self.sparsity_mask is not None:
            weights[:2] = [w * self.sparsity_mask for w in weights[:2]]
        return torch.cat(weights).t(), torch.cat([layer.bias for layer in layers])

    def update(self, z: torch.Tensor, ts) -> torch.Tensor:
        """The closed-form new state [B, H] from the gates' pre-activations z [B, k*H]."""
        H = self.hidden_size
        if self.mode == "pure":
            return -self.A * torch.exp(-ts * (torch.abs(self.w_tau) + torch.abs(z))) * z + self.A
        ff = torch.tanh(z[:, :2 * H])
        ff1, ff2 = ff[:, :H], ff[:, H:]
        time_a, time_b = z[:, 2 * H:3 * H], z[:, 3 * H:]
        pre = torch.addcmul(time_b, time_a, ts) if isinstance(ts, torch.Tensor) else torch.add(time_b, time_a, alpha=ts)
        t_interp = torch.sigmoid(pre)
        if self.mode == "no_gate":
            return torch.addcmul(ff1, t_interp, ff2)
        return torch.addcmul(ff1, t_interp, ff2 - ff1)   # ff1 (1 - t) + ff2 t

    def forward(self, input: torch.Tensor, hx: torch.Tensor, ts) -> tuple[torch.Tensor, torch.Tensor]:
        """input [B, in], hx [B, H], ts: elapsed time, a float or a tensor broadcastable to [B, 1]."""
        x = torch.cat([input, hx], 1)
        if self.backbone is not None:
            x = self.backbone(x)
        weight, bias = self.gates()
        new_hidden = self.update(torch.addmm(bias, x, weight), ts)
        return new_hidden, new_hidden


class WiredCfCCell(nn.Module):
    """CfC layers connected by a sparse ncps `Wiring` (e.g. NCP: inter → command → motor neurons).

    The state vector is the concatenation of the layers' neurons in layer order; the output
    is the last layer (the motor neurons)."""

    def __init__(self, input_size: int | None, wiring: Wiring, mode: str = "default"):
        super().__init__()
        if input_size is not None:
            wiring.build(input_size)
        if not wiring.is_built():
            raise ValueError("Wiring error! Unknown number of input features. Please pass the parameter "
                             "'input_size' or call the 'wiring.build()'.")
        self._wiring = wiring
        self.layer_sizes = [len(wiring.get_neurons_of_layer(i)) for i in range(wiring.num_layers)]
        in_features = wiring.input_dim
        for layer in range(wiring.num_layers):
            neurons = wiring.get_neurons_of_layer(layer)
            if layer == 0:
                sparsity = wiring.sensory_adjacency_matrix[:, neurons]
            else:
                previous = wiring.get_neurons_of_layer(layer - 1)
                sparsity = wiring.adjacency_matrix[:, neurons][previous, :]
            sparsity = np.concatenate([sparsity, np.ones((len(neurons), len(neurons)))], axis=0)
            cell = CfCCell(in_features, len(neurons), mode, backbone_activation="lecun_tanh",
                           backbone_units=0, backbone_layers=0, sparsity_mask=sparsity)
            self.add_module(f"layer_{layer}", cell)  # the names ncps registers
            in_features = len(neurons)

    @property
    def layers(self) -> list[CfCCell]:
        return [getattr(self, f"layer_{i}") for i in range(len(self.layer_sizes))]

    @property
    def state_size(self) -> int:
        return self._wiring.units

    @property
    def output_size(self) -> int:
        return self._wiring.output_dim

    def gates(self) -> list[GateWeights]:
        """Every layer's stacked gates (`CfCCell.gates`), split into their input and recurrent
        rows, for `drive` and `step`."""
        gates = []
        for cell in self.layers:
            weight, bias = cell.gates()
            gates.append(GateWeights(weight[:cell.input_size], weight[cell.input_size:], bias))
        return gates

    @staticmethod
    def drive(input: torch.Tensor, gates: list[GateWeights]) -> torch.Tensor:
        """The first layer's input term, input [..., in] → [..., k*H]: for a whole sequence in
        one matrix product, since it does not depend on the state."""
        return torch.matmul(input, gates[0].input) + gates[0].bias

    def step(self, drive: torch.Tensor, hx: torch.Tensor, ts, gates: list[GateWeights]):
        """One step from the first layer's `drive` [B, k*H]: (output [B, out], new state [B, H])."""
        new_states = []
        for index, (cell, state, weights) in enumerate(zip(self.layers, torch.split(hx, self.layer_sizes, dim=1),
                                                           gates, strict=True)):
            if index > 0:
                drive = torch.addmm(weights.bias, new_states[-1], weights.input)
            new_states.append(cell.update(torch.addmm(drive, state, weights.recurrent), ts))
        return new_states[-1], torch.cat(new_states, dim=1)

    def forward(self, input: torch.Tensor, hx: torch.Tensor, ts) -> tuple[torch.Tensor, torch.Tensor]:
        gates = self.gates()
        return self.step(self.drive(input, gates), hx, ts, gates)


class GateWeights(NamedTuple):
    """One wired CfC layer's stacked gates: z = x @ `input` + h @ `recurrent` + `bias`, x the
    layer's input (the features, or the layer before's new state) and h its own state."""

    input: torch.Tensor       # [in, k*H]
    recurrent: torch.Tensor   # [H, k*H]
    bias: torch.Tensor        # [k*H]


class LSTMCell(nn.Module):
    """The memory cell of `mixed_memory=True` (ncps' LSTMCell: forget-gate bias +1)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.input_map = nn.Linear(input_size, 4 * hidden_size, bias=True)
        self.recurrent_map = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        nn.init.xavier_uniform_(self.input_map.weight)
        nn.init.uniform_(self.input_map.bias, -0.1, 0.1)
        nn.init.orthogonal_(self.recurrent_map.weight)

    def forward(self, inputs: torch.Tensor, states: tuple[torch.Tensor, torch.Tensor]):
        output_state, cell_state = states
        z = self.input_map(inputs) + self.recurrent_map(output_state)
        i, ig, fg, og = z.chunk(4, 1)
        new_cell = cell_state * torch.sigmoid(fg + 1.0) + torch.tanh(i) * torch.sigmoid(ig)
        return torch.tanh(new_cell) * torch.sigmoid(og), new_cell


class CfC(nn.Module):
    """A CfC RNN over sequences; same arguments and behaviour as `ncps.torch.CfC`.

    :param input_size: number of input features
    :param units: number of hidden units (fully connected, with a backbone MLP), or an ncps
        `Wiring` (e.g. `AutoNCP(19, 4)`), which fixes the state size and output size
    :param proj_size: if set, a linear layer maps the output to `proj_size` features
    :param return_sequences: return every step's output (else only the last)
    :param batch_first: input is [B, L, C] (else [L, B, C]); unbatched input is [L, C]
    :param mixed_memory: add an LSTM memory cell in front of the CfC cell
    :param mode: "default", "pure" (direct solution) or "no_gate"
    :param activation: backbone activation (unwired only): lecun_tanh, tanh, relu, silu, gelu
    :param backbone_units, backbone_layers, backbone_dropout: the backbone MLP (unwired only;
        defaults 128, 1, 0.0)
    """

    def __init__(self, input_size: int | Wiring, units: int | Wiring,
                 proj_size: int | None = None, return_sequences: bool = True,
                 batch_first: bool = True, mixed_memory: bool = False, mode: str = "default",
                 activation: str = "lecun_tanh", backbone_units: int | None = None,
                 backbone_layers: int | None = None, backbone_dropout: float | None = None):
        super().__init__()
        self.input_size = input_size
        self.wiring_or_units = units
        self.proj_size = proj_size
        self.batch_first = batch_first
        self.return_sequences = return_sequences
        self.use_mixed = mixed_memory
        if isinstance(units, Wiring):
            for name, value in (("backbone_units", backbone_units), ("backbone_layers", backbone_layers),
                                ("backbone_dropout", backbone_dropout)):
                if value is not None:
                    raise ValueError(f"Cannot use {name} in wired mode")
            self.wiring = units
            self.state_size = units.units
            self.output_size = units.output_dim
            self.rnn_cell = WiredCfCCell(input_size, units, mode)
        else:
            self.state_size = units
            self.output_size = units
            self.rnn_cell = CfCCell(input_size, units, mode, activation,
                                    128 if backbone_units is None else backbone_units,
                                    1 if backbone_layers is None else backbone_layers,
                                    0.0 if backbone_dropout is None else backbone_dropout)
        if mixed_memory:
            self.lstm = LSTMCell(input_size, self.state_size)
        self.fc = nn.Identity() if proj_size is None else nn.Linear(self.output_size, proj_size)
        self._fused: FusedCfCStep | None = None

    def _initial_state(self, batch_size: int, like: torch.Tensor):
        h = torch.zeros((batch_size, self.state_size), dtype=like.dtype, device=like.device)
        return (h, torch.zeros_like(h)) if self.use_mixed else h

    def forward(self, input: torch.Tensor, hx=None, timespans: torch.Tensor | None = None):
        """Run the sequence `input`; returns (output, final state) like ncps.

        :param input: [B, L, C] (batch_first), [L, B, C], or unbatched [L, C]
        :param hx: initial state [B, H] ([H] unbatched), a tuple (h, c) with mixed_memory;
            zeros if None
        :param timespans: elapsed time of each step, [B, L] or [B, L, 1] (time-major: [L, B]),
            [L] unbatched; 1.0 if None
        """
        batch_dim, seq_dim = (0, 1) if self.batch_first else (1, 0)
        is_batched = input.dim() == 3
        if not is_batched:
            input = input.unsqueeze(batch_dim)
            if timespans is not None:
                timespans = timespans.unsqueeze(batch_dim)
        batch_size, seq_len = input.size(batch_dim), input.size(seq_dim)
        h_state, c_state = self._split_state(hx, batch_size, input, is_batched)
        if timespans is not None:  # → [L, B, 1]: one elapsed time per sample and step
            ts_steps = timespans.reshape(timespans.shape[0], timespans.shape[1])
            ts_steps = (ts_steps.transpose(0, 1) if self.batch_first else ts_steps).unsqueeze(-1)
        wired = isinstance(self.rnn_cell, WiredCfCCell)
        if wired:  # the gates once for the sequence, the first layer's input term for every step at once
            gates = self.rnn_cell.gates()
            drives = self.rnn_cell.drive(input, gates)
        outputs = []
        for t in range(seq_len):
            inputs = input[:, t] if self.batch_first else input[t]
            ts = 1.0 if timespans is None else ts_steps[t]
            if self.use_mixed:
                h_state, c_state = self.lstm(inputs, (h_state, c_state))
            if wired:
                h_out, h_state = self.rnn_cell.step(drives[:, t] if self.batch_first else drives[t], h_state, ts, gates)
            else:
                h_out, h_state = self.rnn_cell(inputs, h_state, ts)
            if self.return_sequences:
                outputs.append(h_out)
        readout = self.fc(torch.stack(outputs, dim=seq_dim) if self.return_sequences else h_out)
        if not is_batched:
            readout = readout.squeeze(batch_dim)
            h_state = h_state[0]
            c_state = c_state[0] if c_state is not None else None
        return readout, ((h_state, c_state) if self.use_mixed else h_state)

    def _split_state(self, hx, batch_size: int, like: torch.Tensor, is_batched: bool):
        if hx is None:
            state = self._initial_state(batch_size, like)
            return state if self.use_mixed else (state, None)
        if self.use_mixed and isinstance(hx, torch.Tensor):
            raise RuntimeError("Running a CfC with mixed_memory=True, requires a tuple (h0,c0) to be "
                               "passed as state (got torch.Tensor instead)")
        h_state, c_state = hx if self.use_mixed else (hx, None)
        expected = 2 if is_batched else 1
        if h_state.dim() != expected:
            kind = "batched 2-D" if is_batched else "unbatched 1-D"
            raise RuntimeError(f"For {kind} input, hx and cx should also be {expected}-D "
                               f"but got ({h_state.dim()}-D) tensor")
        if not is_batched:
            h_state = h_state.unsqueeze(0)
            c_state = c_state.unsqueeze(0) if c_state is not None else None
        return h_state, c_state

    def fused(self) -> FusedCfCStep:
        """The fused numpy step for the current weights, rebuilt when a weight changed
        (in-place updates such as optimiser steps or `load_state_dict`; `.to()` and the like)."""
        if self._fused is None:
            sources = tuple(self.parameters()) + tuple(self.buffers())
            self._fused = FusedCfCStep.from_module(self, _weights_key(sources), sources)
        elif self._fused.key != _weights_key(self._fused.sources):
            self._fused = FusedCfCStep.from_module(self, _weights_key(self._fused.sources), self._fused.sources)
        return self._fused

    def _apply(self, fn, *args, **kwargs):
        self._fused = None  # .to(), .double(), ...: parameters may be new tensors
        return super()._apply(fn, *args, **kwargs)

    def step(self, x: torch.Tensor, hx=None, dt=1.0):
        """One time step without autograd: x [B, in] → (output [B, out], new state).

        Equal to `forward(x[:, None], hx, timespans=dt)` for batch-first inputs (within float32
        rounding). `dt` is the elapsed time: a float or a tensor of shape [B] or [B, 1].
        `hx` is [B, H], (h, c) with mixed_memory, or None for zeros. Inference only: the
        result carries no gradient; runs on the CPU."""
        fused = self.fused()
        x_np = _numpy(x)
        if hx is None:
            h_np, c_np = fused.zero_state(x_np.shape[0])
        elif self.use_mixed:
            h_np, c_np = _numpy(hx[0]), _numpy(hx[1])
        else:
            h_np, c_np = _numpy(hx), None
        ts = _numpy(dt).reshape(-1, 1) if isinstance(dt, torch.Tensor) else float(dt)
        y, h_np, c_np = fused.step(x_np, h_np, c_np, ts)
        h_t = torch.from_numpy(h_np)
        return torch.from_numpy(y), ((h_t, torch.from_numpy(c_np)) if self.use_mixed else h_t)


def _numpy(t: torch.Tensor) -> np.ndarray:
    try:
        return t.numpy()
    except (RuntimeError, TypeError):  # requires grad, on an accelerator, or not float32-compatible
        return t.detach().cpu().float().numpy()


def _weights_key(tensors: tuple):
    """Changes whenever any of `tensors` was updated in place (version counters only grow)."""
    try:
        return sum(map(_version, tensors))
    except RuntimeError:  # inference tensors (module built under inference_mode) have no version:
        return object()   # a key equal to nothing, so the fused step is rebuilt every call
