"""CfC policy networks, baselines, the stateful runtimes, checkpoints and export. No ROS here.

```python
from lnn_control.policy import load_policy
policy = load_policy("models/cfc_forest.pt")
policy.reset()
cmd = policy.step(image_hxwx3_uint8, imu6, dt_seconds)   # float32 [vx, vy, vz, yaw_rate]
```
`CfC` is a drop-in for `ncps.torch.CfC` with a fast `step`. `load_onnx_policy("DIR")` runs a
policy exported by `lnn-control export` with onnxruntime, without torch.

The names below are imported when first used, so that `lnn_control.policy.onnx_runtime` (and
`spec`, `step_inputs`, `bundle`) can be imported on a machine without torch.
"""
from __future__ import annotations

import importlib

#: public name -> the module that defines it
_EXPORTS = {
    "CfC": "lnn_control.policy.cfc",
    "PolicySpec": "lnn_control.policy.spec",
    "PolicyNetwork": "lnn_control.policy.network",
    "build_network": "lnn_control.policy.network",
    "match_parameter_count": "lnn_control.policy.network",
    "save_checkpoint": "lnn_control.policy.checkpoint",
    "load_checkpoint": "lnn_control.policy.checkpoint",
    "read_header": "lnn_control.policy.checkpoint",
    "CheckpointError": "lnn_control.policy.checkpoint",
    "CheckpointNotFoundError": "lnn_control.policy.checkpoint",
    "load_policy": "lnn_control.policy.runtime",
    "Policy": "lnn_control.policy.runtime",
    "OnnxPolicy": "lnn_control.policy.onnx_runtime",
    "load_onnx_policy": "lnn_control.policy.onnx_runtime",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
