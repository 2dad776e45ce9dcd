"""The torch-free runtime: a policy exported by `lnn-control export`, run with onnxruntime.

Imports numpy, cv2 and onnxruntime only (and our torch-free `spec`, `step_inputs`, `bundle`),
so a companion computer needs no torch. `OnnxPolicy.step` keeps the contract of
`lnn_control.policy.Policy.step` and the same input rules (`step_inputs`): the same commands,
within 1e-5, on the same inputs.
"""
from __future__ import annotations

import numpy as np
import onnxruntime

from lnn_control.policy.bundle import Bundle, ExportError, check_graph, read_bundle
from lnn_control.policy.disagreement import disagreement
from lnn_control.policy.spec import PolicySpec
from lnn_control.policy.step_inputs import ImuSanitizer, check_dt, check_image
from lnn_control.vehicles import drive_only


def session_options() -> onnxruntime.SessionOptions:
    """One thread, sequential, no spin-waiting: a batch-1 step is a few small layers, where a
    thread pool only adds latency and busy cores."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only
    return options


class OnnxPolicy:
    """Runs an exported policy one step at a time, keeping its recurrent state between steps.

    `step(image, imu, dt)` as `Policy.step`: image RGB uint8 H x W x 3 of any size (resized
    with area averaging), imu [gx, gy, gz, ax, ay, az] (rad/s, m/s^2, body FLU; a non-finite
    component takes its last finite value), dt seconds (> 0); returns float32 [vx, vy, vz,
    yaw_rate] (m/s, rad/s, heading frame) within the header's limits. ValueError on bad input.

    An exported ensemble gives the members' mean command and, after each step, `uncertainty`:
    their disagreement (`disagreement`, as `Policy`'s); None for a single policy. A rover's
    commands have vy = vz = 0, as `Policy`'s.
    """

    runtime = "onnx"

    def __init__(self, bundle: Bundle):
        self.bundle = bundle
        try:
            self._session = onnxruntime.InferenceSession(bundle.model_bytes, session_options(),
                                                         providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own types for a corrupt graph
            raise ExportError(f"{bundle.model_path}: onnxruntime cannot load it: {error}") from None
        check_graph(bundle, self._session)
        self._limits = np.array(bundle.limits, np.float32)
        self._sanitize_imu = ImuSanitizer()
        self._dt = np.empty(1, np.float32)
        self.reset()

    @property
    def spec(self) -> PolicySpec:
        return self.bundle.spec

    def reset(self) -> None:
        """Forget the recurrent state and the last good IMU reading (start of an episode)."""
        self._state = np.zeros((1, self.bundle.state_size), np.float32)
        self._sanitize_imu.reset()
        self.uncertainty: float | None = None

    def step(self, image, imu, dt) -> np.ndarray:
        image = check_image(image, self.spec.image_height, self.spec.image_width)
        imu = self._sanitize_imu(imu)
        self._dt[0] = check_dt(dt)
        commands, self._state = self._session.run(None, {"image": image[None], "imu": imu[None], "dt": self._dt,
                                                         "state": self._state})
        commands = np.clip(commands, -self._limits, self._limits)
        vehicle = self.spec.vehicle
        if len(commands) == 1:
            return drive_only(commands[0], vehicle)
        self.uncertainty = disagreement(commands, self._limits, vehicle)
        return drive_only(commands.mean(axis=0).astype(np.float32), vehicle)


def load_onnx_policy(path) -> OnnxPolicy:
    """The runtime for the export at `path` (its directory or policy.json); ExportError naming
    the file and field if it is missing, edited or not the step its header describes."""
    return OnnxPolicy(read_bundle(path))
