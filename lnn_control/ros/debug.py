"""policy_node's debug output (`debug:=true`), off the command path: at most `debug_rate` times a
second, a thread of its own takes the newest stepped frame and the recurrent state after it and
publishes
- `~/debug/saliency` (`sensor_msgs/Image`, rgb8, the frame's size): the frame with the policy's
  VisualBackProp map over it (`policy.saliency`), stamped like the frame;
- `~/debug/state` (`std_msgs/Float32MultiArray`): the recurrent state, one value per neuron, and
  in `layout.dim` one entry per value (size 1) whose label names it: role and ncps id for a wired
  CfC ("inter 10", "command 4", "motor 0"; `policy.neurons.state_labels`).
The control path only hands over references (`offer`, no copy, no computation); a frame offered
while the thread is busy replaces the one waiting, so debug output never queues up behind
commands.
"""
from __future__ import annotations

import threading

import numpy as np
from builtin_interfaces.msg import Time
from std_msgs.msg import Float32MultiArray, MultiArrayDimension, MultiArrayLayout

from lnn_control.policy import Policy
from lnn_control.policy.neurons import state_labels
from lnn_control.policy.saliency import overlay, visual_backprop
from lnn_control.ros.conversions import rgb_to_image


def state_message(state: np.ndarray, labels: tuple[str, ...]) -> Float32MultiArray:
    """`state` (one value per neuron) with each value's label as a dimension of size 1."""
    layout = MultiArrayLayout(dim=[MultiArrayDimension(label=label, size=1, stride=1) for label in labels])
    return Float32MultiArray(layout=layout, data=[float(v) for v in np.nan_to_num(state)])


class DebugPublisher:
    """The debug thread of a policy node: `offer(rgb, stamp, frame_id, state)` after every step;
    `close()` stops it. `publish_saliency(Image)` and `publish_state(Float32MultiArray)` send the
    messages."""

    def __init__(self, policy: Policy, rate_hz: float, publish_saliency, publish_state):
        self._policy = policy
        self._period_s = 1.0 / rate_hz
        self._labels = state_labels(policy.net)
        self._publish_saliency, self._publish_state = publish_saliency, publish_state
        self._offered: tuple[np.ndarray, Time, str, np.ndarray] | None = None
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="policy_node debug", daemon=True)
        self._thread.start()

    def offer(self, rgb: np.ndarray, stamp: Time, frame_id: str, state: np.ndarray) -> None:
        with self._wake:
            self._offered = (rgb, stamp, frame_id, state)
            self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._stopped or self._offered is not None)
                if self._stopped:
                    return
                (rgb, stamp, frame_id, state), self._offered = self._offered, None
            saliency = visual_backprop(self._policy.net.image_encoder, rgb)
            self._publish_saliency(rgb_to_image(overlay(rgb, saliency), stamp, frame_id))
            self._publish_state(state_message(state, self._labels))
            with self._wake:   # at most one output per period, whatever the frame rate
                self._wake.wait_for(lambda: self._stopped, timeout=self._period_s)
