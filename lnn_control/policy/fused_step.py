"""The fast inference step of a CfC: fused, pre-masked float32 numpy weights.

Per CfC layer, the four gates (ff1, ff2, time_a, time_b) are stacked into one matrix with
the wiring's sparsity mask already applied, so a step is one matrix product plus a few
element-wise operations — no module calls, no autograd, no per-step masking. At batch 1
this is several times faster than the torch module it is built from (bench/bench_cfc_step.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float32).numpy().copy()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * np.tanh(0.5 * x) + 0.5


def _activation(name: str):
    if name == "lecun_tanh":
        return lambda x: 1.7159 * np.tanh(0.666 * x)
    if name == "tanh":
        return np.tanh
    if name == "relu":
        return lambda x: np.maximum(x, 0.0)
    if name == "silu":
        return lambda x: x * _sigmoid(x)
    if name == "gelu":
        return lambda x: torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    raise ValueError(f"Unknown activation {name!r}")


@dataclass
class FusedLayer:
    """One CfC layer: z = [input, h] @ weight + bias, then the closed-form update."""

    weight: np.ndarray            # [in + H, k*H], gates side by side (masked where wired)
    bias: np.ndarray              # [k*H]
    hidden_size: int
    mode: str
    backbone: list                # [(weight [in, out], bias [out], activation)], unwired only
    w_tau: np.ndarray | None = None   # pure mode
    A: np.ndarray | None = None       # pure mode

    @classmethod
    def from_cell(cls, cell) -> FusedLayer:
        with torch.no_grad():   # the cell's own stacked, masked gates: [in + H, k*H], [k*H]
            weight, bias = (_np(t) for t in cell.gates())
        if cell.mode != "pure":  # time gates pre-scaled by 1/2: sigmoid(a ts + b) = (1 + tanh(a ts/2 + b/2)) / 2
            weight[:, 2 * cell.hidden_size:] *= 0.5
            bias[2 * cell.hidden_size:] *= 0.5
        backbone = []
        if cell.backbone is not None:
            act = _activation(cell.activation_name)
            backbone = [(np.ascontiguousarray(_np(m.weight).T), _np(m.bias), act)
                        for m in cell.backbone if isinstance(m, torch.nn.Linear)]
        return cls(weight=np.ascontiguousarray(weight), bias=bias, hidden_size=cell.hidden_size, mode=cell.mode,
                   backbone=backbone,
                   w_tau=np.abs(_np(cell.w_tau)) if cell.mode == "pure" else None,
                   A=_np(cell.A) if cell.mode == "pure" else None)

    def step(self, x: np.ndarray, h: np.ndarray, ts, out: np.ndarray) -> np.ndarray:
        """Write this layer's new state into `out` and return it. Arrays are [B, n], or [n]
        for a single sample (fewer numpy dispatches: the batch-1 fast path)."""
        z = np.concatenate((x, h), axis=-1)
        for weight, bias, act in self.backbone:
            z = act(z @ weight + bias)
        z = np.dot(z, self.weight)
        z += self.bias
        H = self.hidden_size
        if self.mode == "pure":
            out[...] = -self.A[0] * np.exp(-ts * (self.w_tau[0] + np.abs(z))) * z + self.A[0]
            return out
        gate = z[..., 2 * H: 3 * H]
        gate *= ts
        gate += z[..., 3 * H:]
        u = np.tanh(z[..., : 3 * H])      # [tanh ff1, tanh ff2, 2 sigmoid(a ts + b) - 1]
        ff1, ff2, t_interp = u[..., :H], u[..., H: 2 * H], u[..., 2 * H:]
        t_interp *= 0.5
        t_interp += 0.5
        if self.mode != "no_gate":
            ff2 -= ff1                     # default: ff1 (1 - t) + t ff2 = ff1 + t (ff2 - ff1)
        t_interp *= ff2
        return np.add(ff1, t_interp, out=out)


@dataclass
class FusedLSTM:
    """The mixed-memory LSTM cell (ncps' LSTMCell) as two matrices."""

    input_weight: np.ndarray      # [in, 4H]
    input_bias: np.ndarray        # [4H]
    recurrent_weight: np.ndarray  # [H, 4H]

    def step(self, x: np.ndarray, h: np.ndarray, c: np.ndarray):
        z = x @ self.input_weight + h @ self.recurrent_weight + self.input_bias
        H = h.shape[-1]
        i, ig, fg, og = z[..., :H], z[..., H: 2 * H], z[..., 2 * H: 3 * H], z[..., 3 * H:]
        c = c * _sigmoid(fg + 1.0) + np.tanh(i) * _sigmoid(ig)
        return np.tanh(c) * _sigmoid(og), c


class FusedCfCStep:
    """A frozen copy of a `CfC`'s weights that runs one time step in numpy (float32)."""

    def __init__(self, layers: list[FusedLayer], lstm: FusedLSTM | None,
                 projection: tuple[np.ndarray, np.ndarray] | None, state_size: int,
                 key: tuple = (), sources: tuple = ()):
        self.layers = layers
        self.layer_sizes = [layer.hidden_size for layer in layers]
        ends = np.cumsum(self.layer_sizes).tolist()
        self.bounds = list(zip([0] + ends[:-1], ends, strict=True))  # each layer's slice of the state
        self.lstm = lstm
        self.projection = projection
        self.state_size = state_size
        self.key = key
        self.sources = sources

    @classmethod
    def from_module(cls, cfc, key: tuple = (), sources: tuple = ()) -> FusedCfCStep:
        cell = cfc.rnn_cell
        cells = cell.layers if hasattr(cell, "layers") else [cell]
        lstm = None
        if cfc.use_mixed:
            lstm = FusedLSTM(np.ascontiguousarray(_np(cfc.lstm.input_map.weight).T),
                             _np(cfc.lstm.input_map.bias),
                             np.ascontiguousarray(_np(cfc.lstm.recurrent_map.weight).T))
        projection = None
        if isinstance(cfc.fc, torch.nn.Linear):
            projection = (np.ascontiguousarray(_np(cfc.fc.weight).T), _np(cfc.fc.bias))
        return cls([FusedLayer.from_cell(c) for c in cells], lstm, projection, cfc.state_size, key, sources)

    def zero_state(self, batch_size: int):
        h = np.zeros((batch_size, self.state_size), np.float32)
        return h, (np.zeros_like(h) if self.lstm is not None else None)

    def step(self, x: np.ndarray, h: np.ndarray, c: np.ndarray | None, ts):
        """x [B, in] float32, h [B, H], c [B, H] or None, ts float or [B, 1] → (y, h, c)."""
        single = x.shape[0] == 1 and (not isinstance(ts, np.ndarray) or ts.size == 1)
        if single:  # 1-D arrays: the same arithmetic with less overhead per operation
            x, h, ts = x[0], h[0], float(np.reshape(ts, -1)[0]) if isinstance(ts, np.ndarray) else ts
            c = c[0] if c is not None else None
        if self.lstm is not None:
            h, c = self.lstm.step(x, h, c)
        new_h = np.empty(h.shape, np.float32)
        y = x
        for layer, (start, stop) in zip(self.layers, self.bounds, strict=True):
            y = layer.step(y, h[..., start:stop], ts, new_h[..., start:stop])
        if self.projection is not None:
            y = y @ self.projection[0] + self.projection[1]
        if single:
            return y[None], new_h[None], (c[None] if c is not None else None)
        return y, new_h, c
