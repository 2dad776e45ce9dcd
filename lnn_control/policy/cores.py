"""Recurrent cores of a policy: CfC (the liquid network), LTC, and the LSTM / GRU / MLP baselines.

Every core has the same interface:
- `forward(x [B, T, F], timespan [B, T], state)` → (`y [B, T, output_size]`, state), for training;
- `step(x [B, F] numpy, timespan, state)` → (`y` numpy, state), the runtime path (call it
  without autograd; the CfC's runs in numpy on the CPU, the others on their weights' device);
- `flat_step(x [B, F], timespan [B, 1], flat_state [B, state_size])` → (y, flat_state), a
  traceable single step with the state as one tensor, for export.
`timespan` is the elapsed time in units of the nominal control period; only CfC and LTC
use it as a time constant, the others see it as an input feature like every core does.
"""
from __future__ import annotations

import numpy as np
import torch
from ncps.torch import LTCCell
from ncps.wirings import AutoNCP, FullyConnected
from torch import nn

from lnn_control.policy.cfc import CfC
from lnn_control.policy.spec import PolicySpec


def _wiring(spec: PolicySpec):
    if spec.wiring == "ncp":
        return AutoNCP(spec.units, spec.motor_neurons, sparsity_level=spec.sparsity, seed=spec.wiring_seed)
    return FullyConnected(spec.units, spec.motor_neurons)


def _tensor(x: np.ndarray, module: nn.Module) -> torch.Tensor:
    """A runtime input on the device of `module`'s weights."""
    return torch.from_numpy(x).to(next(module.parameters()).device)


class CfCCore(nn.Module):
    """A CfC over the wiring of the spec; dt reaches it as the timespan of each step."""

    def __init__(self, spec: PolicySpec):
        super().__init__()
        self.cfc = CfC(spec.core_input_size, _wiring(spec), mode=spec.cfc_mode)
        # an NCP outputs its motor neurons; a fully connected CfC (as in ncps) all its neurons
        self.output_size = spec.motor_neurons if spec.wiring == "ncp" else spec.units
        self.state_size = spec.units

    def forward(self, x, timespan, state=None):
        return self.cfc(x, state, timespans=timespan)

    def step(self, x: np.ndarray, timespan: float, state):
        fused = self.cfc.fused()
        h = fused.zero_state(x.shape[0])[0] if state is None else state
        y, h, _ = fused.step(x, h, None, timespan)
        return y, h

    def flat_step(self, x, timespan, state):
        return self.cfc.rnn_cell(x, state, timespan)


class LTCCore(nn.Module):
    """ncps' liquid time-constant cell (ODE unfolded 6 times per step) over the same wiring.

    Positivity constraints are implicit (softplus), so training needs no extra clipping call."""

    def __init__(self, spec: PolicySpec):
        super().__init__()
        self.cell = LTCCell(_wiring(spec), spec.core_input_size, implicit_param_constraints=True)
        self.output_size = spec.motor_neurons
        self.state_size = spec.units

    def forward(self, x, timespan, state=None):
        """The cell's ODE steps over the sequence, as ncps' `LTCCell` computes them step by step,
        with what does not depend on the state done once: the parameters made positive and
        masked, and the sensory synapses' currents of every step at once."""
        cell, params = self.cell, self.cell._params
        positive = cell.make_positive_fn
        h = x.new_zeros(x.shape[0], self.state_size) if state is None else state
        inputs = cell._map_inputs(x)   # [B, T, in]
        sensory_w = positive(params["sensory_w"]) * params["sensory_sparsity_mask"]   # [in, U]
        sensory = torch.sigmoid(params["sensory_sigma"] * (inputs[..., None] - params["sensory_mu"])) * sensory_w
        sensory_numerator = (sensory * params["sensory_erev"]).sum(dim=2)   # [B, T, U]
        sensory_denominator = sensory.sum(dim=2)
        cm_t = positive(params["cm"]) * cell._ode_unfolds / timespan[..., None]   # [B, T, U]
        w = positive(params["w"]) * params["sparsity_mask"]   # [U, U]
        synapse_weights = torch.stack([w * params["erev"], w], dim=1)   # [U, 2, U]: numerator, denominator
        sigma, shift = params["sigma"], -params["sigma"] * params["mu"]   # sigma (v - mu) = v sigma + shift
        gleak = positive(params["gleak"])
        # per step: the state-free parts of the numerator and denominator, [B, T, 2, U]
        constant = torch.stack([sensory_numerator + gleak * params["vleak"],
                                sensory_denominator + cm_t + gleak + cell._epsilon], dim=2)
        states = []
        for t in range(x.shape[1]):
            cm = cm_t[:, t]
            for _ in range(cell._ode_unfolds):
                synapse = torch.sigmoid(torch.addcmul(shift, h[..., None], sigma))   # [B, U, U]
                terms = constant[:, t] + (synapse[:, :, None] * synapse_weights).sum(dim=1)   # [B, 2, U]
                h = torch.addcmul(terms[:, 0], cm, h) / terms[:, 1]
            states.append(h)
        states = torch.stack(states, 1)
        return cell._map_outputs(states.reshape(-1, self.state_size)).reshape(*states.shape[:2], -1), h

    def step(self, x: np.ndarray, timespan: float, state):
        x = _tensor(x, self)
        h = x.new_zeros(x.shape[0], self.state_size) if state is None else state
        y, h = self.cell(x, h, timespan)
        return y.cpu().numpy(), h

    def flat_step(self, x, timespan, state):
        return self.cell(x, state, timespan)


class TorchRNNCore(nn.Module):
    """A one-layer torch RNN (`rnn_type`) baseline; `state_tensors` hidden-size tensors of state."""

    rnn_type: type = nn.RNN
    state_tensors: int = 1

    def __init__(self, spec: PolicySpec):
        super().__init__()
        self.rnn = self.rnn_type(spec.core_input_size, spec.hidden_size, batch_first=True)
        self.output_size = spec.hidden_size
        self.state_size = self.state_tensors * spec.hidden_size

    def forward(self, x, timespan, state=None):
        return self.rnn(x, state)

    def step(self, x: np.ndarray, timespan: float, state):
        y, state = self.rnn(_tensor(x, self)[:, None], state)
        return y[:, 0].cpu().numpy(), state


class LSTMCore(TorchRNNCore):
    """A one-layer LSTM baseline; state (h, c)."""

    rnn_type = nn.LSTM
    state_tensors = 2

    def flat_step(self, x, timespan, state):
        h, c = state.chunk(2, dim=1)
        y, (h, c) = self.rnn(x[:, None], (h[None].contiguous(), c[None].contiguous()))
        return y[:, 0], torch.cat([h[0], c[0]], dim=1)


class GRUCore(TorchRNNCore):
    """A one-layer GRU baseline; state h."""

    rnn_type = nn.GRU

    def flat_step(self, x, timespan, state):
        y, h = self.rnn(x[:, None], state[None].contiguous())
        return y[:, 0], h[0]


class MLPCore(nn.Module):
    """A feed-forward baseline without memory: two tanh layers of `hidden_size` units."""

    def __init__(self, spec: PolicySpec):
        super().__init__()
        n = spec.hidden_size
        self.mlp = nn.Sequential(nn.Linear(spec.core_input_size, n), nn.Tanh(), nn.Linear(n, n), nn.Tanh())
        self.output_size = n
        self.state_size = 0

    def forward(self, x, timespan, state=None):
        return self.mlp(x), None

    def step(self, x: np.ndarray, timespan: float, state):
        return self.mlp(_tensor(x, self)).cpu().numpy(), None

    def flat_step(self, x, timespan, state):
        return self.mlp(x), state


CORES = {"cfc": CfCCore, "ltc": LTCCore, "lstm": LSTMCore, "gru": GRUCore, "mlp": MLPCore}


def build_core(spec: PolicySpec) -> nn.Module:
    if spec.kind in ("lstm", "gru", "mlp") and spec.hidden_size is None:
        raise ValueError(f"PolicySpec.hidden_size is needed for a {spec.kind} core "
                         "(use match_parameter_count to size it like the CfC)")
    return CORES[spec.kind](spec)
