"""The rover: a differential-drive ground robot, its PyBullet body and its speed controller.

Vehicle: a TurtleBot-sized two-wheeled robot (the size class of a TurtleBot 4 or a small RC
rover; a Husky is twice as large): a 0.44 x 0.30 x 0.12 m chassis of 6 kg on two driven wheels
(radius 0.08 m, 0.36 m apart) and two passive casters (frictionless spheres, front and rear,
just clear of level ground: the wheels carry the weight).
Body frame FLU at the chassis centre, 0.11 m above the ground when level. Wheels touch the
ground through PyBullet contacts with friction (`wheel_friction`, scaled by the `slip` shift),
so they can spin, skid and slide.

Controller (runs every 240 Hz physics step): the command [vx, vy, vz, yaw_rate] (heading
frame, m/s and rad/s) is followed in vx and yaw_rate only (vy and vz are ignored: see
`lnn_control.vehicles`): a first-order reference path to them (acceleration-limited), PI on the
measured forward speed and yaw rate, and the result as wheel angular-velocity set-points
(v -+ yaw_rate * track / 2) / radius for PyBullet's velocity motors, each with at most
`max_wheel_torque_n_m`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pybullet as pb


@dataclass(frozen=True)
class RoverParams:
    """Physical parameters (SI units); the module docstring describes the vehicle."""

    mass_kg: float = 6.0                        # chassis
    chassis_half_extents_m: tuple[float, float, float] = (0.22, 0.15, 0.06)
    chassis_height_m: float = 0.11              # chassis centre above the ground, level
    wheel_radius_m: float = 0.08
    wheel_width_m: float = 0.04
    wheel_mass_kg: float = 0.4
    track_m: float = 0.36                       # between the wheels' centres
    caster_radius_m: float = 0.035
    caster_offset_m: float = 0.17               # ahead of and behind the chassis centre
    caster_lift_m: float = 0.006                # casters clear the ground this much when level:
                                                # the wheels carry the weight, a caster catches a tilt
    max_wheel_torque_n_m: float = 6.0
    max_wheel_speed_rad_s: float = 30.0         # 2.4 m/s on the ground
    wheel_friction: float = 1.0                 # lateral friction coefficient of the tyres

    def __post_init__(self):
        if not 0.0 < self.wheel_friction <= 5.0:
            raise ValueError(f"RoverParams.wheel_friction must be in (0, 5], got {self.wheel_friction!r}")


@dataclass(frozen=True)
class DriveGains:
    """Gains and limits of the speed controller (per second, m/s^2, rad/s^2)."""

    reference_time_constant: float = 0.3        # s
    max_accel: float = 2.0                      # m/s^2 of the reference path
    max_yaw_accel: float = 4.0                  # rad/s^2 of the reference path
    speed_gain: float = 1.0                     # m/s of set-point per m/s of speed error
    speed_integral_gain: float = 2.0            # 1/s
    yaw_rate_gain: float = 1.0
    yaw_rate_integral_gain: float = 2.0
    max_integral: float = 0.8                   # clamp of each integral term (m/s, rad/s)


class DifferentialDrive:
    """Turns the command into left and right wheel speed set-points, one physics step at a time."""

    def __init__(self, params: RoverParams, gains: DriveGains = DriveGains()):
        self.params = params
        self.gains = gains
        self.reset()

    def reset(self) -> None:
        self.reference = np.zeros(2)            # [forward speed m/s, yaw rate rad/s]
        self.integral = np.zeros(2)

    def wheel_speeds(self, command: np.ndarray, forward_speed: float, yaw_rate: float, dt: float) -> np.ndarray:
        """[left, right] wheel angular velocity set-points (rad/s, positive rolls forward) for the
        command's vx (m/s) and yaw_rate (rad/s), given the measured forward speed and yaw rate."""
        g, p = self.gains, self.params
        wanted = np.array([command[0], command[3]], dtype=float)
        rate = (wanted - self.reference) / g.reference_time_constant
        limits = np.array([g.max_accel, g.max_yaw_accel])
        self.reference += np.clip(rate, -limits, limits) * dt
        error = self.reference - np.array([forward_speed, yaw_rate])
        self.integral = np.clip(self.integral + np.array([g.speed_integral_gain, g.yaw_rate_integral_gain]) * error
                                * dt, -g.max_integral, g.max_integral)
        v, w = self.reference + np.array([g.speed_gain, g.yaw_rate_gain]) * error + self.integral
        half_track = p.track_m / 2
        speeds = np.array([v - w * half_track, v + w * half_track]) / p.wheel_radius_m
        return np.clip(speeds, -p.max_wheel_speed_rad_s, p.max_wheel_speed_rad_s)


def create_rover(client: int, params: RoverParams, position_xy, yaw: float) -> tuple[int, tuple[int, int]]:
    """A rover body on the ground at `position_xy` (m, world) facing `yaw` (rad): the body id and
    the joint indices of its (left, right) wheels. Links: 0 left wheel, 1 right wheel, 2 front
    caster, 3 rear caster."""
    p = params
    chassis = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=p.chassis_half_extents_m, physicsClientId=client)
    chassis_visual = pb.createVisualShape(pb.GEOM_BOX, halfExtents=p.chassis_half_extents_m,
                                          rgbaColor=[0.2, 0.2, 0.24, 1.0], physicsClientId=client)
    wheel_axis_y = pb.getQuaternionFromEuler([math.pi / 2, 0.0, 0.0])  # cylinder's z axis along body y
    wheel = pb.createCollisionShape(pb.GEOM_CYLINDER, radius=p.wheel_radius_m, height=p.wheel_width_m,
                                    collisionFrameOrientation=wheel_axis_y, physicsClientId=client)
    wheel_visual = pb.createVisualShape(pb.GEOM_CYLINDER, radius=p.wheel_radius_m, length=p.wheel_width_m,
                                        visualFrameOrientation=wheel_axis_y, rgbaColor=[0.05, 0.05, 0.05, 1.0],
                                        physicsClientId=client)
    caster = pb.createCollisionShape(pb.GEOM_SPHERE, radius=p.caster_radius_m, physicsClientId=client)
    caster_visual = pb.createVisualShape(pb.GEOM_SPHERE, radius=p.caster_radius_m,
                                         rgbaColor=[0.5, 0.5, 0.5, 1.0], physicsClientId=client)
    wheel_z = p.wheel_radius_m - p.chassis_height_m
    caster_z = p.caster_radius_m + p.caster_lift_m - p.chassis_height_m
    half_track = p.track_m / 2
    rover = pb.createMultiBody(
        p.mass_kg, chassis, chassis_visual, [position_xy[0], position_xy[1], p.chassis_height_m],
        pb.getQuaternionFromEuler([0.0, 0.0, yaw]),
        linkMasses=[p.wheel_mass_kg, p.wheel_mass_kg, 0.1, 0.1],
        linkCollisionShapeIndices=[wheel, wheel, caster, caster],
        linkVisualShapeIndices=[wheel_visual, wheel_visual, caster_visual, caster_visual],
        linkPositions=[[0.0, half_track, wheel_z], [0.0, -half_track, wheel_z],
                       [p.caster_offset_m, 0.0, caster_z], [-p.caster_offset_m, 0.0, caster_z]],
        linkOrientations=[[0, 0, 0, 1]] * 4,
        linkInertialFramePositions=[[0, 0, 0]] * 4,
        linkInertialFrameOrientations=[[0, 0, 0, 1]] * 4,
        linkParentIndices=[0, 0, 0, 0],
        linkJointTypes=[pb.JOINT_REVOLUTE, pb.JOINT_REVOLUTE, pb.JOINT_FIXED, pb.JOINT_FIXED],
        linkJointAxis=[[0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]],
        physicsClientId=client)
    for link in (2, 3):
        pb.changeDynamics(rover, link, lateralFriction=0.0, rollingFriction=0.0, spinningFriction=0.0,
                          physicsClientId=client)
    set_wheel_friction(client, rover, (p.wheel_friction, p.wheel_friction))
    wheels = (0, 1)
    # PyBullet gives revolute joints a velocity motor by default: start it at rest
    pb.setJointMotorControlArray(rover, wheels, pb.VELOCITY_CONTROL, targetVelocities=[0.0, 0.0],
                                 forces=[p.max_wheel_torque_n_m] * 2, physicsClientId=client)
    return rover, wheels


def set_wheel_friction(client: int, rover: int, coefficients: tuple[float, float]) -> None:
    """Set the (left, right) tyres' lateral friction coefficients (the ground's is 1; Bullet
    multiplies the two)."""
    for link, coefficient in zip((0, 1), coefficients, strict=True):
        pb.changeDynamics(rover, link, lateralFriction=float(coefficient), physicsClientId=client)
