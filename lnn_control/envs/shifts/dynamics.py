"""Dynamics shifts: wind on a drone (through its quadratic air drag), wheel slip on a rover.

Wind means little to a 7 kg rover on its wheels (a 6 m/s wind pushes it with under 1% of its
weight), and slip means nothing to a drone, so each vehicle has its own (`Shift.vehicles`).
Forces in newtons and velocities in m/s, world frame (z up).
"""
from __future__ import annotations

import math

import numpy as np

from lnn_control.envs.shifts.base import Shift, Stage
from lnn_control.envs.shifts.hooks import drag_coefficient, nominal_dt_s, simulator


class Wind(Shift):
    """Wind: the air moves, and the body's quadratic air drag acts on its airspeed.

    The wind is a steady 6 m/s * severity horizontally, in a direction drawn per episode, plus
    gusts: an Ornstein-Uhlenbeck process per axis (time constant 1 s, standard deviation
    2 m/s * severity horizontally, a third of that vertically). Each control step the wind's
    extra force -c|v - w|(v - w) + c|v|v (c: the quadrotor's drag coefficient, v: its velocity,
    w: the wind; the simulator already applies -c|v|v) is applied to the body as an external
    world-frame force and held for the step. At severity 1 a hovering Hummingbird feels about
    1.8 N from the steady wind, a quarter of its weight; at 0.5 a quarter of that.
    """

    name = "wind"
    stage = Stage.DYNAMICS
    vehicles = ("drone",)
    steady_speed_at_full_m_s = 6.0
    gust_sigma_at_full_m_s = np.array([2.0, 2.0, 2.0 / 3.0])
    gust_time_constant_s = 1.0

    def start_episode(self):
        heading = self.rng.uniform(0.0, 2.0 * math.pi)
        speed = self.steady_speed_at_full_m_s * self.severity
        self.steady_wind_m_s = speed * np.array([math.cos(heading), math.sin(heading), 0.0])
        self.gust_sigma_m_s = self.gust_sigma_at_full_m_s * self.severity
        self.gust_m_s = self.rng.normal(0.0, 1.0, size=3) * self.gust_sigma_m_s

    def step(self, action):
        if self.severity > 0.0:
            decay = math.exp(-nominal_dt_s(self.env) / self.gust_time_constant_s)
            innovation = self.rng.normal(0.0, 1.0, size=3) * self.gust_sigma_m_s * math.sqrt(1.0 - decay**2)
            self.gust_m_s = decay * self.gust_m_s + innovation
            sim = simulator(self.env)
            sim.apply_external_force(wind_force_n(sim.velocity, self.steady_wind_m_s + self.gust_m_s,
                                                  drag_coefficient(self.env)))
        return super().step(action)


class Slip(Shift):
    """Wheel slip (a rover on wet grass, mud or ice): the tyres' friction coefficient drops to
    nominal x (1 - 0.9 * severity) on average, and each tyre's varies about that on its own
    (patches of ground: an Ornstein-Uhlenbeck process per wheel, time constant 1 s, standard
    deviation 0.3 * severity of the nominal, kept within [0.05, 1] of it), set every control
    step. Less grip makes the wheels spin and skid, uneven grip makes the rover veer; its speed
    controller (PI on forward speed and yaw rate) fights both as far as the grip allows.
    """

    name = "slip"
    stage = Stage.DYNAMICS
    vehicles = ("rover",)
    time_constant_s = 1.0

    def start_episode(self):
        self.mean_fraction = 1.0 - 0.9 * self.severity
        self.sigma = 0.3 * self.severity
        self.deviation = self.rng.normal(0.0, 1.0, size=2) * self.sigma
        self._apply()

    def step(self, action):
        if self.severity > 0.0:
            decay = math.exp(-nominal_dt_s(self.env) / self.time_constant_s)
            innovation = self.rng.normal(0.0, 1.0, size=2) * self.sigma * math.sqrt(1.0 - decay**2)
            self.deviation = decay * self.deviation + innovation
            self._apply()
        return super().step(action)

    def _apply(self):
        if self.severity > 0.0:
            sim = simulator(self.env)
            fractions = np.clip(self.mean_fraction + self.deviation, 0.05, 1.0)
            sim.set_wheel_friction(*(sim.rover.wheel_friction * fractions))


def wind_force_n(velocity_m_s: np.ndarray, wind_m_s: np.ndarray, drag_n_per_m2_s2: float) -> np.ndarray:
    """The change of quadratic drag (N, world) when the air moves at `wind_m_s` instead of resting."""
    airspeed = np.asarray(velocity_m_s, float) - wind_m_s
    ground = np.asarray(velocity_m_s, float)
    return drag_n_per_m2_s2 * (-np.linalg.norm(airspeed) * airspeed + np.linalg.norm(ground) * ground)
