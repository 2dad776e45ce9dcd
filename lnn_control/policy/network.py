"""`PolicyNetwork`: images + IMU + elapsed time → bounded body velocity commands."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lnn_control.policy.cores import build_core
from lnn_control.policy.encoders import ImageEncoder, ImuEncoder
from lnn_control.policy.spec import PolicySpec

TOLERANCE = 0.10  # baselines are sized to the CfC's core parameter count within ±10%


class Member(nn.Module):
    """One more member of an ensemble policy: its own core and head (the encoder is shared)."""

    def __init__(self, spec: PolicySpec):
        super().__init__()
        self.core = build_core(spec)
        self.head = nn.Linear(self.core.output_size, 4)


class PolicyNetwork(nn.Module):
    """Image encoder + IMU encoder + elapsed time → core → head, tanh-bounded by the limits.

    `forward(images, imu, dt, state=None) -> (cmd, state)`:
    images uint8 [B, T, H, W, 3] RGB at the spec's size, imu float32 [B, T, 6]
    ([gx, gy, gz] rad/s, [ax, ay, az] m/s^2, body frame FLU), dt float32 [B, T] seconds since
    the previous frame; cmd float32 [B, T, 4] = [vx, vy, vz] m/s, yaw_rate rad/s (heading
    frame), each within ±limit. dt / spec.nominal_dt is the CfC's (and LTC's) timespan and an
    input feature of every core.

    An ensemble (`spec.ensemble` = K > 1) has K members, each a core and a head, on the one
    shared encoder: member 0 is `core` + `head` (so a single policy's weights are named as they
    always were), members 1..K-1 are `other_members`. Its command is the members' mean, its
    state a tuple of the members' states; `forward(..., members=True)` gives the members'
    commands [K, B, T, 4] (K = 1 included), what training fits member by member.
    """

    #: the dtype the image encoder computes in under autocast (training's `optim.encoder_precision`
    #: sets it for its batches); None: its weights' own (float32), as at inference and export
    encoder_autocast: torch.dtype | None = None

    def __init__(self, spec: PolicySpec):
        super().__init__()
        self.spec = spec
        self.image_encoder = ImageEncoder(spec.image_height, spec.image_width, spec.image_features)
        self.imu_encoder = ImuEncoder(spec.imu_features)
        self.core = build_core(spec)
        self.head = nn.Linear(self.core.output_size, 4)
        self.other_members = nn.ModuleList(Member(spec) for _ in range(spec.ensemble - 1))
        self.register_buffer("limits", torch.tensor(spec.limits, dtype=torch.float32))

    @property
    def ensemble_size(self) -> int:
        """K, the number of members (1: a single policy)."""
        return self.spec.ensemble

    def members(self) -> list[tuple[nn.Module, nn.Linear]]:
        """(core, head) of each member, member 0 first."""
        return [(self.core, self.head)] + [(m.core, m.head) for m in self.other_members]

    def forward(self, images: torch.Tensor, imu: torch.Tensor, dt: torch.Tensor, state=None, members: bool = False):
        batch, steps = images.shape[:2]
        features = self.encode(images.reshape(batch * steps, *images.shape[2:]),
                               imu.reshape(batch * steps, 6), dt.reshape(batch * steps))
        features = features.reshape(batch, steps, -1)
        timespan = (dt / self.spec.nominal_dt).to(features.dtype)
        if self.ensemble_size == 1:
            y, state = self.core(features, timespan, state)
            cmd = self.command(y)
            return (cmd[None] if members else cmd), state
        states = state if state is not None else (None,) * self.ensemble_size
        commands, new_states = [], []
        for (core, head), member_state in zip(self.members(), states, strict=True):
            y, member_state = core(features, timespan, member_state)
            commands.append(self.command(y, head))
            new_states.append(member_state)
        commands = torch.stack(commands)
        return (commands if members else commands.mean(dim=0)), tuple(new_states)

    def encode(self, images: torch.Tensor, imu: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        """Per-frame core inputs [N, core_input_size] from images [N, H, W, 3], imu [N, 6], dt [N]."""
        dtype = self.limits.dtype
        timespan = (dt / self.spec.nominal_dt).to(dtype)
        with torch.autocast(images.device.type, dtype=self.encoder_autocast or torch.bfloat16,
                            enabled=self.encoder_autocast is not None):
            image_features = self.image_encoder(images)
        return torch.cat([image_features.to(dtype), self.imu_encoder(imu.to(dtype)), timespan[:, None]], dim=1)

    def command(self, core_output: torch.Tensor, head: nn.Linear | None = None) -> torch.Tensor:
        """Head (member 0's unless given): core output → [vx, vy, vz, yaw_rate] = tanh(linear) × limits."""
        return torch.tanh((self.head if head is None else head)(core_output)) * self.limits

    def set_imu_normalization(self, mean, std) -> None:
        """Standardise IMU inputs with these 6 means and standard deviations (training statistics)."""
        self.imu_encoder.set_normalization(mean, std)

    def normalize_command(self, cmd: torch.Tensor) -> torch.Tensor:
        """cmd / limits: commands in [-1, 1], the scale the training loss is computed on."""
        return cmd / self.limits

    def parameter_count(self) -> int:
        """Trainable parameters of the whole network."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def core_parameter_count(self) -> int:
        """Trainable parameters of the cores + heads (of all members): the part that differs between kinds."""
        return sum(p.numel() for pair in self.members() for m in pair for p in m.parameters() if p.requires_grad)

    def initial_flat_state(self, batch_size: int = 1) -> torch.Tensor:
        """The zero recurrent state as one tensor [B, state_size] (the export interface)."""
        return torch.zeros(batch_size, self.core.state_size)


def build_network(spec: PolicySpec) -> PolicyNetwork:
    """A randomly initialised policy for `spec`; a baseline without hidden_size is sized to
    the CfC's core parameter count first (see `match_parameter_count`)."""
    if spec.kind in ("lstm", "gru", "mlp") and spec.hidden_size is None:
        spec = match_parameter_count(spec)
    return PolicyNetwork(spec)


def match_parameter_count(spec: PolicySpec, reference: PolicySpec | None = None) -> PolicySpec:
    """`spec` with the `hidden_size` whose core + head parameter count is closest to that of
    `reference` (default: the CfC policy with the same inputs and wiring settings).

    Encoders are the same for every kind, so matching core + head makes the comparison fair
    for the whole network too. CfC and LTC specs are returned unchanged (their size is their
    wiring). Raises ValueError when no hidden size lands within ±10%."""
    if spec.kind in ("cfc", "ltc"):
        return spec
    reference = reference or spec.with_changes(kind="cfc", hidden_size=None)
    target = _core_count(reference)
    counts = {n: _core_count(spec.with_changes(hidden_size=n)) for n in _candidates(spec, target)}
    best = min(counts, key=lambda n: abs(counts[n] - target))
    if abs(counts[best] - target) > TOLERANCE * target:
        raise ValueError(f"no {spec.kind} hidden size gets within ±10% of {target} core parameters "
                         f"(closest: hidden_size={best} with {counts[best]})")
    return spec.with_changes(hidden_size=best)


def _core_count(spec: PolicySpec) -> int:
    core = build_core(spec)
    head = nn.Linear(core.output_size, 4)
    return sum(p.numel() for m in (core, head) for p in m.parameters() if p.requires_grad)


def _candidates(spec: PolicySpec, target: int) -> range:
    """Hidden sizes worth trying: every size up to where even the input layer exceeds the target."""
    upper = max(2, int(np.ceil(target / max(1, spec.core_input_size))) + 2)
    return range(1, upper + 1)
