"""CfC policy networks, baselines, the stateful runtime, checkpoints and export. No ROS here.

```python
from lnn_control.policy import load_policy
policy = load_policy("models/cfc_forest.pt")
policy.reset()
cmd = policy.step(image_hxwx3_uint8, imu6, dt_seconds)   # float32 [vx, vy, vz, yaw_rate]
```
`CfC` is a drop-in for `ncps.torch.CfC` with a fast `step`.
"""
from lnn_control.policy.cfc import CfC
from lnn_control.policy.checkpoint import (
                                           CheckpointError,
                                           CheckpointNotFoundError,
                                           load_checkpoint,
                                           read_header,
                                           save_checkpoint,
)
from lnn_control.policy.network import PolicyNetwork, build_network, match_parameter_count
from lnn_control.policy.runtime import Policy, load_policy
from lnn_control.policy.spec import PolicySpec

__all__ = ["CfC", "PolicySpec", "PolicyNetwork", "build_network", "match_parameter_count",
           "save_checkpoint", "load_checkpoint", "read_header", "CheckpointError",
           "CheckpointNotFoundError", "load_policy", "Policy"]
