"""Flying episodes: pilots, the one episode loop with its observers, recording bags, running
many episodes in worker processes; and the applications built on them (`collect`, the
expert's success measurement).

```python
from lnn_control.envs import make_env
from lnn_control.rollout import ExpertPilot, fly
env = make_env("forest", shifts=[("fog", 0.5)])
outcome = fly(env, ExpertPilot(), seed=3)          # Outcome(success=True, ..., time_s=17.2, ...)
```
"""
from lnn_control.envs.outcome import Outcome
from lnn_control.rollout.fly import Observer, ObserverBase, fly
from lnn_control.rollout.pilots import (
                                        Decision,
                                        ExpertPilot,
                                        LearnerPilot,
                                        Pilot,
                                        PolicyPilot,
                                        RandomPilot,
                                        StraightLinePilot,
)
from lnn_control.rollout.recording import BagRecorder

__all__ = ["BagRecorder", "Decision", "ExpertPilot", "LearnerPilot", "Observer", "ObserverBase", "Outcome", "Pilot",
           "PolicyPilot", "RandomPilot", "StraightLinePilot", "fly"]
