"""PyBullet worlds built from sim_worlds/*.yaml, the vehicles (a quadrotor, a rover) and their
controllers, camera, IMU, expert.

    from lnn_control.sim import Simulator, WorldConfig, CameraConfig, ImuConfig, ExpertPlanner
    sim = Simulator(WorldConfig.load("forest"), seed=3)
    expert = ExpertPlanner(sim)
    while not (o := sim.outcome())["success"] and not o["collision"] and not o["timeout"]:
        sim.set_command(expert.act()); sim.step_physics(12)   # 20 Hz control, 240 Hz physics
    rover = Simulator(WorldConfig.load("forest").with_overrides(vehicle="rover"), seed=3)
"""
from lnn_control.sim.expert import TEACHERS, ExpertPlanner
from lnn_control.sim.quadrotor import CascadedController, ControllerGains, QuadrotorParams
from lnn_control.sim.rover import DifferentialDrive, DriveGains, RoverParams
from lnn_control.sim.sensors import CameraConfig, ImuConfig
from lnn_control.sim.simulator import PHYSICS_HZ, Simulator
from lnn_control.sim.world import Layout, WorldConfig, WorldConfigError, generate_layout

__all__ = [
    "CameraConfig", "CascadedController", "ControllerGains", "DifferentialDrive", "DriveGains", "ExpertPlanner",
    "ImuConfig", "Layout", "PHYSICS_HZ",
    "QuadrotorParams", "RoverParams", "Simulator", "TEACHERS", "WorldConfig", "WorldConfigError", "generate_layout",
]
