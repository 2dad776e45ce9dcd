"""The stateful runtime: one camera frame + IMU reading + elapsed time in, one command out."""
from __future__ import annotations

import numpy as np
import torch

from lnn_control.policy.checkpoint import load_checkpoint
from lnn_control.policy.disagreement import disagreement
from lnn_control.policy.network import PolicyNetwork
from lnn_control.policy.spec import PolicySpec
from lnn_control.policy.step_inputs import ImuSanitizer, check_dt, check_image
from lnn_control.vehicles import drive_only


class Policy:
    """Runs a `PolicyNetwork` one step at a time, keeping its recurrent state between steps.

    `step(image, imu, dt)`, inputs as `lnn_control.policy.step_inputs` checks them:
    - image: RGB uint8 H x W x 3, any size (resized to the spec's size with area averaging);
    - imu: 6 numbers [gx, gy, gz] rad/s, [ax, ay, az] m/s^2, body frame FLU. Non-finite
      components (a NaN/Inf from a driver) are replaced by that component's last finite value
      (0 before any), so a bad IMU sample never makes a NaN command;
    - dt: seconds since the previous step, finite and > 0 (a dropped frame is a longer dt);
    returns float32 [vx, vy, vz, yaw_rate] (m/s, rad/s, heading frame), within the limits.
    Wrong types, shapes or values raise ValueError saying what was wrong.

    The network runs where its weights are (CPU is fastest at batch 1); `Policy` reads the
    network's current weights on every step, so it can follow a network being trained.

    An ensemble (K > 1 members on one shared encoder) returns the members' mean command, and
    after each step `uncertainty` is their disagreement, dimensionless:

        uncertainty = mean over j of [ std over members k of cmd[k, j] ] / limit[j]

    for the command components j = vx, vy, vz, yaw_rate (population std of the K members'
    commands, each within ±limit[j], so 0 = all members agree and 1 is the most possible: half
    at +limit, half at -limit); a rover's (`spec.vehicle`) over vx and yaw_rate, and its
    commands have vy = vz = 0 (`lnn_control.vehicles`). A single policy has no measure of it: `uncertainty` is None
    (also before the first step and after `reset`).
    """

    runtime = "torch"

    def __init__(self, net: PolicyNetwork):
        self.net = net
        self._sanitize_imu = ImuSanitizer()
        self.reset()

    @property
    def spec(self) -> PolicySpec:
        return self.net.spec

    def reset(self) -> None:
        """Forget the recurrent state and the last good IMU reading (start of an episode)."""
        self._state = None
        self._sanitize_imu.reset()
        self.uncertainty: float | None = None

    def step(self, image, imu, dt) -> np.ndarray:
        image = check_image(image, self.spec.image_height, self.spec.image_width)
        imu = self._sanitize_imu(imu)
        dt = check_dt(dt)
        timespan = dt / self.spec.nominal_dt
        device = self.net.limits.device
        with torch.inference_mode():
            features = self.net.encode(torch.from_numpy(image)[None].to(device), torch.from_numpy(imu)[None].to(device),
                                       torch.tensor([dt], dtype=torch.float64, device=device))
            features = features.cpu().numpy()
            if self.net.ensemble_size == 1:
                y, self._state = self.net.core.step(features, timespan, self._state)
                command = self.net.command(torch.from_numpy(y).to(device)).cpu().numpy()[0].astype(np.float32)
                return drive_only(command, self.spec.vehicle)
            states = self._state or (None,) * self.net.ensemble_size
            commands, new_states = [], []
            for (core, head), state in zip(self.net.members(), states, strict=True):
                y, state = core.step(features, timespan, state)
                commands.append(self.net.command(torch.from_numpy(y).to(device), head))
                new_states.append(state)
            self._state = tuple(new_states)
            commands = torch.cat(commands).cpu().numpy()  # [K, 4]
        self.uncertainty = disagreement(commands, self.spec.limits, self.spec.vehicle)
        return drive_only(commands.mean(axis=0).astype(np.float32), self.spec.vehicle)

    def state_vector(self) -> np.ndarray:
        """The recurrent state now as one float32 vector, in the order `neurons.state_labels` names
        (a CfC's neurons in state order; an LSTM's h then c; a GRU's h; empty for an MLP; zeros
        before the first step); of member 0 for an ensemble."""
        if self._state is None:
            return np.zeros(self.net.core.state_size, np.float32)
        state = self._state[0] if self.net.ensemble_size > 1 else self._state
        parts = state if isinstance(state, tuple) else (state,)
        return np.concatenate([(p.detach().cpu().numpy() if isinstance(p, torch.Tensor) else np.asarray(p))
                               .astype(np.float32).reshape(-1) for p in parts])


def load_policy(path, map_location: str | None = "cpu") -> Policy:
    """The runtime for the checkpoint at `path` (CheckpointError naming the file if unusable)."""
    net, _ = load_checkpoint(path, map_location=map_location)
    return Policy(net)
