"""The quadrotor's physical parameters, its rotors, and its cascaded flight controller.

Vehicle: the AscTec Hummingbird as modelled by the RotorS simulator (ETH Zurich ASL,
`rotors_description/urdf/hummingbird.xacro`, public): 0.68 kg body + 4 x 0.009 kg rotors,
inertia diag(0.007, 0.007, 0.012) kg m^2, arm 0.17 m (a 340 mm motor-to-motor frame), rotor
thrust k_f * w^2 with k_f = 8.54858e-6 N s^2, rotor drag torque 0.016 m x thrust, rotor speed
at most 838 rad/s (6.0 N per rotor, thrust-to-weight 3.4), first-order motor time constant
0.0125 s. The rotors sit in an X (RotorS mounts them in +; the inertia is symmetric, so only
the mixer changes).

Controller (runs every 240 Hz physics step), a standard cascade:
velocity (world; a first-order reference path to the command with its acceleration fed
forward, PI on the error to the path: no overshoot, steady wind rejected) -> desired
acceleration -> desired
thrust direction and yaw (attitude) ->
body rates -> torques -> per-rotor thrusts (mixer, clipped to the motor limits) -> rotor speeds
(first-order lag). The command is the heading-frame velocity [vx, vy, vz, yaw_rate]: x along
the drone's yaw, z up, m/s and rad/s.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GRAVITY_M_S2 = 9.81


@dataclass(frozen=True)
class QuadrotorParams:
    """Physical parameters (SI units); defaults: the RotorS AscTec Hummingbird (module docstring)."""

    mass_kg: float = 0.716
    inertia_kg_m2: tuple[float, float, float] = (0.007, 0.007, 0.012)
    arm_length_m: float = 0.17
    thrust_coefficient: float = 8.54858e-6      # N / (rad/s)^2
    drag_torque_per_thrust_m: float = 0.016     # rotor drag torque (N m) per newton of thrust
    max_rotor_speed_rad_s: float = 838.0
    motor_time_constant_s: float = 0.0125
    body_drag_coefficient: float = 0.05         # N / (m/s)^2, quadratic air drag on the body
    collision_half_extents_m: tuple[float, float, float] = (0.2, 0.2, 0.05)  # frame + props

    @property
    def max_rotor_thrust_n(self) -> float:
        return self.thrust_coefficient * self.max_rotor_speed_rad_s**2

    def rotor_positions_m(self) -> np.ndarray:
        """Rotor hubs in the body frame (FLU), X layout: front-left, rear-left, rear-right, front-right."""
        d = self.arm_length_m / math.sqrt(2.0)
        return np.array([[d, d, 0.0], [-d, d, 0.0], [-d, -d, 0.0], [d, -d, 0.0]])

    def rotor_spin_signs(self) -> np.ndarray:
        """+1: rotor drag torque pushes the body counter-clockwise (about +z), -1: clockwise."""
        return np.array([1.0, -1.0, 1.0, -1.0])


@dataclass(frozen=True)
class ControllerGains:
    """Gains and limits of the cascade (per second, rad, m/s^2)."""

    reference_time_constant: float = 0.4        # s: the commanded velocity is reached along this first-order path
    max_reference_accel: float = 4.0            # m/s^2: horizontal acceleration of that path
    velocity_gain: float = 2.5                  # 1/s: acceleration per m/s of velocity error (to the path)
    vertical_velocity_gain: float = 3.0
    velocity_integral_gain: float = 1.5         # 1/s^2: rejects steady disturbances (wind, drag error)
    max_integral_accel: float = 2.5             # m/s^2 per axis: clamp of the integral term
    max_horizontal_accel: float = 5.0           # m/s^2 (about 27 degrees of tilt)
    max_vertical_accel: float = 4.0
    attitude_gain: tuple[float, float, float] = (9.0, 9.0, 4.0)      # rad/s per rad
    max_body_rate: tuple[float, float, float] = (4.0, 4.0, 2.0)      # rad/s
    rate_gain: tuple[float, float, float] = (22.0, 22.0, 8.0)        # 1/s
    yaw_lead_limit: float = 0.5                 # rad the yaw set-point may run ahead of the yaw


def _vee(m: np.ndarray) -> np.ndarray:
    return np.array([m[2, 1], m[0, 2], m[1, 0]])


def _cross(a, b) -> np.ndarray:
    """Cross product of two 3-vectors (np.cross is slow for single small vectors)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


class CascadedController:
    """Turns a heading-frame velocity command into four rotor thrusts, one physics step at a time."""

    def __init__(self, params: QuadrotorParams, gains: ControllerGains = ControllerGains()):
        self.params = params
        self.gains = gains
        self.inertia = np.array(params.inertia_kg_m2)
        positions = params.rotor_positions_m()
        # [collective thrust, torque x, torque y, torque z] = allocation @ rotor thrusts
        self.allocation = np.vstack([
            np.ones(4),
            positions[:, 1],
            -positions[:, 0],
            params.rotor_spin_signs() * params.drag_torque_per_thrust_m,
        ])
        self.mixer = np.linalg.inv(self.allocation)
        self.attitude_gain = np.array(gains.attitude_gain)
        self.max_body_rate = np.array(gains.max_body_rate)
        self.rate_gain_times_inertia = np.array(gains.rate_gain) * self.inertia
        self.yaw_setpoint = 0.0
        self.velocity_reference = np.zeros(3)
        self.integral_accel = np.zeros(3)

    def reset(self, yaw: float, velocity_w: np.ndarray | None = None) -> None:
        self.yaw_setpoint = yaw
        self.velocity_reference = np.zeros(3) if velocity_w is None else np.array(velocity_w, dtype=float)
        self.integral_accel = np.zeros(3)

    def rotor_thrusts(self, command: np.ndarray, rotation: np.ndarray, velocity_w: np.ndarray,
                      body_rates: np.ndarray, dt: float) -> np.ndarray:
        """Rotor thrust set-points (N, 4) for `command` [vx, vy, vz, yaw_rate] (heading frame).

        rotation: body-to-world 3x3; velocity_w: m/s world; body_rates: rad/s body (FLU).
        """
        g, p = self.gains, self.params
        yaw = math.atan2(rotation[1, 0], rotation[0, 0])
        c, s = math.cos(yaw), math.sin(yaw)
        velocity_cmd_w = np.array([c * command[0] - s * command[1], s * command[0] + c * command[1], command[2]])
        # Reference path towards the command (its acceleration is fed forward), then PI on the
        # error to the path: nominal flight follows the path without overshoot, and the integral
        # only builds up against disturbances.
        accel_ref = (velocity_cmd_w - self.velocity_reference) / g.reference_time_constant
        horizontal = math.hypot(accel_ref[0], accel_ref[1])
        if horizontal > g.max_reference_accel:
            accel_ref[:2] *= g.max_reference_accel / horizontal
        accel_ref[2] = min(max(accel_ref[2], -g.max_vertical_accel), g.max_vertical_accel)
        self.velocity_reference += accel_ref * dt
        error = self.velocity_reference - velocity_w
        self.integral_accel = np.clip(self.integral_accel + g.velocity_integral_gain * error * dt,
                                      -g.max_integral_accel, g.max_integral_accel)
        accel = accel_ref + np.array([g.velocity_gain * error[0], g.velocity_gain * error[1],
                                      g.vertical_velocity_gain * error[2]]) + self.integral_accel
        horizontal = math.hypot(accel[0], accel[1])
        if horizontal > g.max_horizontal_accel:
            accel[:2] *= g.max_horizontal_accel / horizontal
        accel[2] = min(max(accel[2], -g.max_vertical_accel), g.max_vertical_accel)
        speed = math.sqrt(float(velocity_w @ velocity_w))
        drag_compensation = p.body_drag_coefficient * speed * velocity_w / p.mass_kg
        force_w = p.mass_kg * (accel + drag_compensation + np.array([0.0, 0.0, GRAVITY_M_S2]))

        # Attitude: thrust axis along the desired force, x axis towards the yaw set-point.
        self.yaw_setpoint += command[3] * dt
        lead = math.remainder(self.yaw_setpoint - yaw, math.tau)
        lead = min(max(lead, -g.yaw_lead_limit), g.yaw_lead_limit)
        self.yaw_setpoint = yaw + lead
        z_d = force_w / math.sqrt(float(force_w @ force_w))
        x_c = (math.cos(self.yaw_setpoint), math.sin(self.yaw_setpoint), 0.0)
        y_d = _cross(z_d, x_c)
        y_d /= math.sqrt(float(y_d @ y_d))
        rotation_d = np.array([_cross(y_d, z_d), y_d, z_d]).T
        attitude_error = 0.5 * _vee(rotation_d.T @ rotation - rotation.T @ rotation_d)
        rates_d = -self.attitude_gain * attitude_error + rotation[2] * command[3]  # + R^T [0, 0, yaw_rate]
        rates_d = np.clip(rates_d, -self.max_body_rate, self.max_body_rate)

        # Body rates -> torques (with the gyroscopic term), then the mixer.
        torque = self.rate_gain_times_inertia * (rates_d - body_rates) + _cross(
            body_rates, self.inertia * body_rates)
        collective = max(float(force_w @ rotation[:, 2]), 0.0)
        thrusts = self.mixer @ np.array([collective, torque[0], torque[1], torque[2]])
        return np.clip(thrusts, 0.0, p.max_rotor_thrust_n)


class Rotors:
    """Four rotors with first-order speed dynamics; thrust = k_f w^2, drag torque = k_m thrust."""

    def __init__(self, params: QuadrotorParams):
        self.params = params
        self.speeds_rad_s = np.zeros(4)
        self.positions_m = params.rotor_positions_m()
        self.spin_signs = params.rotor_spin_signs()

    def reset(self, thrust_each_n: float) -> None:
        self.speeds_rad_s = np.full(4, math.sqrt(thrust_each_n / self.params.thrust_coefficient))

    def step(self, thrust_setpoints_n: np.ndarray, dt: float) -> np.ndarray:
        """Advance the rotor speeds by dt towards the set-points; the thrusts produced (N, 4)."""
        p = self.params
        target = np.sqrt(thrust_setpoints_n / p.thrust_coefficient)
        self.speeds_rad_s += (target - self.speeds_rad_s) * (1.0 - math.exp(-dt / p.motor_time_constant_s))
        return p.thrust_coefficient * self.speeds_rad_s**2

    def drag_torque_n_m(self, thrusts_n: np.ndarray) -> float:
        """Net rotor drag torque about the body z axis (N m) for the four rotor thrusts."""
        return float(self.spin_signs @ thrusts_n) * self.params.drag_torque_per_thrust_m
