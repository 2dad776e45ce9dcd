"""Distribution-shift wrappers for the navigation environments, and named suites of them.

Every shift is a gymnasium wrapper with a severity in [0, 1]: 0 leaves the environment
exactly as it is, 1 is the strongest version the shift models. Shifts compose: wrap one in
another, or let `apply_shifts` wrap them in a fixed physical order (the world first, then the
body's dynamics, then light on its way to the camera, the sensors, and last the timing of the
observation stream), so a condition means the same thing whatever order it is written in.

Random shifts draw from a generator of their own, seeded from the seed given to
`env.reset(seed=...)` and the shift's name: the same env seed gives the same shift, and a
shift never draws from the environment's generator (so the world layout is unchanged).

Modules, one family each:
- `base`: Shift, its stages and severity, and the family bases WorldShift, ImageShift, ImuShift;
- `world`: autumn, winter, density, target_appearance, distractors (a new world description);
- `image`: dim, bright, warm_light, cool_light, fog, motion_blur, camera_noise;
- `imu`: imu_noise, imu_bias;
- `dynamics`: wind (a drone), slip (a rover's wheels);
- `timing`: frame_drops, latency;
- `hooks`: what shifts read from the NavEnv and Simulator under the wrappers;
- `registry`: SHIFTS by name, parse_shift, apply_shifts;
- `suite`: Condition and load_suite (config/eval_suites.yaml).
"""
from lnn_control.envs.shifts.base import (
    DEFAULT_SEVERITY,
    ImageShift,
    ImuShift,
    Shift,
    Stage,
    WorldShift,
    check_severity,
)
from lnn_control.envs.shifts.dynamics import Slip, Wind, wind_force_n
from lnn_control.envs.shifts.image import (
    Bright,
    CameraNoise,
    ChannelGain,
    CoolLight,
    Dim,
    Fog,
    MotionBlur,
    WarmLight,
)
from lnn_control.envs.shifts.imu import ImuBias, ImuNoise
from lnn_control.envs.shifts.registry import SHIFTS, apply_shifts, parse_shift
from lnn_control.envs.shifts.suite import Condition, load_suite
from lnn_control.envs.shifts.timing import IMU_STREAM_KEYS, FrameDrops, Latency, imu_stream
from lnn_control.envs.shifts.world import (
    Autumn,
    Density,
    Distractors,
    Season,
    TargetAppearance,
    Winter,
)

__all__ = [
    "Autumn", "Bright", "CameraNoise", "ChannelGain", "Condition", "CoolLight", "DEFAULT_SEVERITY", "Density",
    "Dim", "Distractors", "Fog", "FrameDrops", "IMU_STREAM_KEYS", "ImageShift", "ImuBias", "ImuNoise", "ImuShift",
    "Latency", "MotionBlur", "SHIFTS", "Season", "Shift", "Slip", "Stage", "TargetAppearance", "WarmLight", "Wind",
    "Winter", "WorldShift", "apply_shifts", "check_severity", "imu_stream", "load_suite", "parse_shift",
    "wind_force_n",
]
