"""NavEnv: fly (or drive) to the target through a forest or urban world, as a gymnasium environment.

The vehicle is the world's (`vehicle:` in its YAML, drone by default) or `vehicle=` ("drone",
"rover"; `lnn_control.vehicles`). A rover has the same observation and action; it drives only
vx and yaw_rate (vy and vz are ignored), its camera sits 0.25 m above the ground, and its
target rests on the ground.

Observation (every control step, 20 Hz by default), a dict:
  "image": uint8 HxWx3 RGB from the forward camera (48x64 by default),
  "imu":   float32 [gx, gy, gz, ax, ay, az], rad/s and m/s^2, body frame FLU,
  "dt":    float32 [1], seconds since the previous observation (the control period).
Action: float32 [vx, vy, vz, yaw_rate] in the heading frame (m/s, rad/s), clipped to
+-max_linear_speed per axis and +-max_yaw_rate.
Episode: success (within the target's success radius, 1 m by default) or a collision
terminates it; the world's time limit (or `time_limit_s`, simulated s) truncates it.
Reward: metres of progress towards the target per step, +10 on success, -10 on a collision.
info: success, collision, timeout (at most one true: how the episode ends, see `Outcome`),
distance_to_target (m), sim_time (s), position (m, world),
and the IMU stream of the control period: "imu_samples" float32 [k, 6] read every
1/imu_rate_hz s of the period, oldest first, the last one being obs["imu"], at the simulated
times (s) "imu_sample_times" float64 [k] (the last = sim_time). k = imu_rate_hz / control_hz:
1 by default (imu_rate_hz = control_hz, only the frame's reading); at reset k = 1.

`expert_action()` is the expert's command for the current state: the `teacher` given at
construction, "privileged" (always flies at the target it knows) or "imitable" (searches as a
camera pilot could once the target has been out of the camera's view for a second; see
`sim.expert`).

Hooks for wrappers: `env.unwrapped.sim` (the Simulator), `control_period_s`, and
`world_overrides`: a dict name -> overrides that is applied, in insertion order, to the base
world at every reset (`WorldConfig.with_overrides`), e.g. a season shift sets
`env.unwrapped.world_overrides["autumn"] = {"palette": {...}}`.
"""
from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from lnn_control.sim import PHYSICS_HZ, TEACHERS, CameraConfig, ExpertPlanner, ImuConfig, Simulator, WorldConfig
from lnn_control.vehicles import check_vehicle


class NavEnv(gym.Env):
    """Fly to a target hidden among obstacles, from camera + IMU + dt. See the module docstring."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, world: WorldConfig | str | Path = "forest", render_mode: str | None = None,
                 camera: CameraConfig | None = None, imu: ImuConfig | None = None, control_hz: float = 20.0,
                 max_linear_speed: float = 2.0, max_yaw_rate: float = 1.0, imu_rate_hz: float | None = None,
                 time_limit_s: float | None = None, teacher: str = "privileged", vehicle: str | None = None):
        if teacher not in TEACHERS:
            raise ValueError(f"teacher {teacher!r} is not one of {', '.join(TEACHERS)}")
        self.teacher = teacher
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} is not one of {self.metadata['render_modes']}")
        physics_steps = PHYSICS_HZ / control_hz
        if control_hz <= 0 or abs(physics_steps - round(physics_steps)) > 1e-9:
            raise ValueError(f"control_hz {control_hz} must divide the physics rate {PHYSICS_HZ} Hz")
        imu_rate_hz = control_hz if imu_rate_hz is None else imu_rate_hz
        physics_steps_per_imu = PHYSICS_HZ / imu_rate_hz if imu_rate_hz > 0 else 0.0
        if imu_rate_hz <= 0 or abs(physics_steps_per_imu - round(physics_steps_per_imu)) > 1e-9:
            raise ValueError(f"imu_rate_hz {imu_rate_hz} must divide the physics rate {PHYSICS_HZ} Hz")
        imu_per_control = imu_rate_hz / control_hz
        if abs(imu_per_control - round(imu_per_control)) > 1e-9:
            raise ValueError(f"imu_rate_hz {imu_rate_hz} must be a multiple of control_hz {control_hz}")
        self.render_mode = render_mode
        self.base_world = world if isinstance(world, WorldConfig) else WorldConfig.load(world)
        if time_limit_s is not None:
            self.base_world = self.base_world.with_overrides(time_limit_s=time_limit_s)
        if vehicle is not None:
            self.base_world = self.base_world.with_overrides(vehicle=check_vehicle(vehicle, "NavEnv vehicle"))
        self.vehicle = self.base_world.vehicle
        self.world_overrides: dict[str, dict] = {}
        self.physics_steps_per_control = int(round(physics_steps))
        self.control_period_s = self.physics_steps_per_control / PHYSICS_HZ
        self.physics_steps_per_imu = int(round(physics_steps_per_imu))
        self.sim = Simulator(self.base_world, seed=0, camera=camera, imu=imu)
        cam = self.sim.camera_config
        self.observation_space = gym.spaces.Dict({
            "image": gym.spaces.Box(0, 255, (cam.height, cam.width, 3), np.uint8),
            "imu": gym.spaces.Box(-np.inf, np.inf, (6,), np.float32),
            "dt": gym.spaces.Box(0.0, np.inf, (1,), np.float32),
        })
        limits = np.array([max_linear_speed] * 3 + [max_yaw_rate], np.float32)
        self.action_space = gym.spaces.Box(-limits, limits, dtype=np.float32)
        self.episode = 0
        self._previous_distance = 0.0
        self._expert: ExpertPlanner | None = None
        self._expert_episode = -1

    def current_world(self) -> WorldConfig:
        """The base world with `world_overrides` applied (what the next reset builds)."""
        world = self.base_world
        for overrides in self.world_overrides.values():
            world = world.with_overrides(**overrides)
        return world

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """New episode. With `seed`, the world layout is the one `Simulator(world, seed)` builds."""
        super().reset(seed=seed)
        layout_seed = seed if seed is not None else int(self.np_random.integers(2**31 - 1))
        self.sim.reset(seed=layout_seed, world=self.current_world())
        self.episode += 1
        self._previous_distance = self.sim.distance_to_target
        imu = self.sim.read_imu()
        return self._observation(imu), self._info(imu[None].copy(), np.array([self.sim.time]))

    def step(self, action):
        command = np.clip(np.asarray(action, dtype=np.float32).reshape(4), self.action_space.low,
                          self.action_space.high)
        self.sim.set_command(command)
        imu_samples, imu_times = [], []
        for _ in range(self.physics_steps_per_control // self.physics_steps_per_imu):
            self.sim.step_physics(self.physics_steps_per_imu)
            imu_samples.append(self.sim.read_imu())
            imu_times.append(self.sim.time)
        outcome = self.sim.outcome()
        distance = outcome["distance_to_target"]
        reward = self._previous_distance - distance
        self._previous_distance = distance
        terminated = outcome["success"] or outcome["collision"]
        if outcome["success"]:
            reward += 10.0
        elif outcome["collision"]:
            reward -= 10.0
        truncated = outcome["timeout"] and not terminated
        return (self._observation(imu_samples[-1]), float(reward), bool(terminated), bool(truncated),
                self._info(np.stack(imu_samples), np.array(imu_times)))

    def expert_action(self) -> np.ndarray:
        """The expert's command (float32 [4], heading frame) for the current state: the
        `teacher` chosen at construction (`sim.TEACHERS`; "privileged" by default)."""
        return self.expert_planner().act()

    def expert_planner(self) -> ExpertPlanner:
        """The expert's planner for the current episode (made on first use, planned once per episode)."""
        if self._expert is None:
            self._expert = ExpertPlanner(self.sim, max_linear_speed_m_s=float(self.action_space.high[0]),
                                         max_yaw_rate_rad_s=float(self.action_space.high[3]),
                                         **TEACHERS[self.teacher])
            self._expert_episode = self.episode
        elif self._expert_episode != self.episode:
            self._expert.reset()
            self._expert_episode = self.episode
        return self._expert

    def render(self):
        if self.render_mode == "rgb_array":
            return self.sim.render_chase()
        return None

    def close(self):
        self.sim.close()

    def _observation(self, imu: np.ndarray) -> dict:
        return {
            "image": self.sim.render_camera(),
            "imu": imu,
            "dt": np.array([self.control_period_s], np.float32),
        }

    def _info(self, imu_samples: np.ndarray, imu_sample_times: np.ndarray) -> dict:
        outcome = self.sim.outcome()
        return {
            "success": outcome["success"],
            "collision": outcome["collision"],
            "timeout": outcome["timeout"],
            "distance_to_target": outcome["distance_to_target"],
            "sim_time": outcome["time"],
            "position": self.sim.position.astype(np.float32),
            "imu_samples": imu_samples,
            "imu_sample_times": imu_sample_times,
        }
