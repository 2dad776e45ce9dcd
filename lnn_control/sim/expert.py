"""The privileged expert planner: knows every obstacle and the target, flies with the policy's
command type (heading-frame [vx, vy, vz, yaw_rate]), smoothly.

At `reset()` it rasterises the plan view of the world at `resolution_m`: the clearance of
every cell (distance in m to the nearest obstacle outline in the flight band), and from it
the cost-to-go to the target (Dijkstra on the 8-connected grid, cells cost more near
obstacles, cells closer than `blocked_clearance_m` are impassable). At every `act()` it
looks at points `lookahead_m` away in `headings` directions, keeps those whose straight
segment stays clear, and steers towards the one with the lowest cost-to-go; speed drops
near obstacles and near the target (to at most `approach_gain_per_s` x distance + 0.3 m/s: a
slow final approach a learner can correct), altitude is held at the target's, the nose turns
towards the direction of motion (within `target_view_deg` of the target's bearing), and the
command is low-pass filtered.

A rover (the simulator's vehicle, `lnn_control.vehicles`) plans on the outlines at its own
height (`GROUND_BAND_M`: trunks, not canopies) and drives as a differential drive can: it turns
towards the chosen direction at up to `max_yaw_rate_rad_s` and drives forward at the planned
speed times the square of the cosine of its heading error (turning on the spot when the
direction is behind it), vy = vz = 0; its nose is its direction of motion.

With `lost_target_s` set, the expert behaves as a camera pilot could when the target is out of
its camera's view (`sim.visibility.target_in_view`: outside the field of view, or hidden) for
longer than that: it slows to `search_speed_m_s` and turns its nose to the heading along which
it last saw the target (from where it was then; the start heading before the first sighting),
until it sees the target again — what a policy can infer from what it saw and how it turned
since (a rover turns towards that heading). Without it (None) the expert always flies at the target it knows.
"""
from __future__ import annotations

import math

import numpy as np

from lnn_control.sim.simulator import Simulator
from lnn_control.sim.visibility import target_in_view
from lnn_control.sim.world.geometry import GROUND_BAND_M

#: The experts a demonstration or a DAgger label can come from: "privileged" always flies at the
#: target it knows; "imitable" searches as a camera pilot could once it has lost sight of it.
TEACHERS = {"privileged": {}, "imitable": {"lost_target_s": 1.0}}

#: m/s: the expert's cruise speed per vehicle (a rover keeps to the pace of a TurtleBot-class robot
#: on rough ground, where a turn at speed would skid).
CRUISE_SPEED_M_S = {"drone": 1.8, "rover": 1.2}

_NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


class ExpertPlanner:
    """Privileged planner-follower for a Simulator; `reset()` after every `sim.reset()`."""

    def __init__(self, sim: Simulator, cruise_speed_m_s: float | None = None, max_linear_speed_m_s: float = 2.0,
                 max_yaw_rate_rad_s: float = 1.0, resolution_m: float = 0.25, lookahead_m: float = 1.5,
                 headings: int = 48, blocked_clearance_m: float = 0.45, preferred_clearance_m: float = 1.3,
                 smoothing_time_s: float = 0.15, target_view_deg: float = 25.0,
                 approach_gain_per_s: float = 0.5, lost_target_s: float | None = None,
                 search_speed_m_s: float = 0.4):
        self.sim = sim
        self.cruise_speed = CRUISE_SPEED_M_S[sim.vehicle] if cruise_speed_m_s is None else cruise_speed_m_s
        self.max_speed = max_linear_speed_m_s
        self.max_yaw_rate = max_yaw_rate_rad_s
        self.resolution = resolution_m
        self.lookahead = lookahead_m
        self.blocked_clearance = blocked_clearance_m
        self.preferred_clearance = preferred_clearance_m
        self.smoothing_time = smoothing_time_s
        self.target_view = math.radians(target_view_deg)
        self.approach_gain = approach_gain_per_s
        self.lost_target_s = lost_target_s
        self.search_speed = search_speed_m_s
        angles = np.linspace(0.0, 2 * math.pi, headings, endpoint=False)
        self._directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        self._fractions = np.linspace(0.15, 1.0, 8)
        self.layout_seed: int | None = None
        self.reset()

    # -- planning -------------------------------------------------------------------------

    def reset(self) -> None:
        """Plan for the simulator's current layout (cheap to call again for the same layout)."""
        layout = self.sim.layout
        self.layout_seed = layout.seed
        self._layout = layout
        xmin, xmax, ymin, ymax = layout.bounds
        margin = 6.0
        self.origin = np.array([xmin - margin, ymin - margin])
        nx = int(math.ceil((xmax - xmin + 2 * margin) / self.resolution)) + 1
        ny = int(math.ceil((ymax - ymin + 2 * margin) / self.resolution)) + 1
        xs = self.origin[0] + np.arange(nx) * self.resolution
        ys = self.origin[1] + np.arange(ny) * self.resolution
        gx, gy = np.meshgrid(xs, ys)  # [ny, nx]
        clearance = np.full(gx.shape, 50.0)
        footprints = (layout.footprints_in_band(GROUND_BAND_M) if self.sim.vehicle == "rover"
                      else layout.flight_band_footprints())
        for fp in footprints:
            if fp.is_disc:
                d = np.hypot(gx - fp.x, gy - fp.y) - fp.radius
            else:
                d = np.hypot(np.maximum(np.abs(gx - fp.x) - fp.half_x, 0.0),
                             np.maximum(np.abs(gy - fp.y) - fp.half_y, 0.0))
            np.minimum(clearance, d, out=clearance)
        self.clearance = clearance
        cell_cost = 1.0 + 6.0 * np.maximum(self.preferred_clearance - clearance, 0.0) ** 2
        cell_cost[clearance < self.blocked_clearance] = np.inf
        self.cost_to_go = _dijkstra_relaxation(cell_cost, self._cell(self.sim.target_position[:2]), self.resolution)
        self._command = np.zeros(4)
        self._last_time: float | None = None
        self._last_seen_time = self.sim.time                 # s; the start counts as a sighting
        self._last_seen_heading = self.sim.yaw               # world yaw (rad) of the line of sight then

    def _cell(self, xy: np.ndarray) -> tuple[int, int]:
        ix = int(round((xy[0] - self.origin[0]) / self.resolution))
        iy = int(round((xy[1] - self.origin[1]) / self.resolution))
        ny, nx = self.clearance.shape
        return min(max(iy, 0), ny - 1), min(max(ix, 0), nx - 1)

    def _lookup(self, grid: np.ndarray, points: np.ndarray) -> np.ndarray:
        ix = np.clip(np.rint((points[..., 0] - self.origin[0]) / self.resolution).astype(int), 0, grid.shape[1] - 1)
        iy = np.clip(np.rint((points[..., 1] - self.origin[1]) / self.resolution).astype(int), 0, grid.shape[0] - 1)
        return grid[iy, ix]

    # -- acting ---------------------------------------------------------------------------

    def act(self) -> np.ndarray:
        """The command for the simulator's current state: float32 [vx, vy, vz, yaw_rate], heading frame."""
        sim = self.sim
        if sim.layout is not self._layout:  # the simulator was reset since
            self.reset()
        position = sim.position
        to_target = sim.target_position - position
        horizontal_distance = math.hypot(to_target[0], to_target[1])
        direction = self._best_direction(position[:2], to_target[:2], horizontal_distance)
        clearance_here = float(self._lookup(self.clearance, position[:2]))
        speed = self.cruise_speed * min(1.0, max(0.35, (clearance_here - self.blocked_clearance) / 0.8))
        speed = min(speed, self.approach_gain * horizontal_distance + 0.3)
        nose = self._nose_heading(direction, to_target)
        searching = self._searching(to_target)
        if searching:
            speed = min(speed, self.search_speed)
            nose = self._last_seen_heading
        if sim.vehicle == "rover":
            command = self._drive(direction, speed, nose if searching else math.atan2(direction[1], direction[0]))
        else:
            command = self._fly(direction, speed, nose, to_target)
        command[:3] = np.clip(command[:3], -self.max_speed, self.max_speed)

        dt = 0.05 if self._last_time is None else max(sim.time - self._last_time, 1e-3)
        self._last_time = sim.time
        alpha = 1.0 - math.exp(-dt / self.smoothing_time)
        self._command += alpha * (command - self._command)
        return self._command.astype(np.float32)

    def _fly(self, direction: np.ndarray, speed: float, nose: float, to_target: np.ndarray) -> np.ndarray:
        """A drone's command: move along `direction` (world, unit) at `speed`, hold the target's
        altitude, turn the nose to `nose` (world yaw, rad)."""
        sim = self.sim
        velocity_w = np.array([*(direction * speed), np.clip(1.2 * to_target[2], -0.6, 0.6)])
        yaw_rate = float(np.clip(2.0 * math.remainder(nose - sim.yaw, math.tau), -self.max_yaw_rate,
                                 self.max_yaw_rate))
        c, s = math.cos(sim.yaw), math.sin(sim.yaw)
        return np.array([c * velocity_w[0] + s * velocity_w[1], -s * velocity_w[0] + c * velocity_w[1],
                         velocity_w[2], yaw_rate])

    def _drive(self, direction: np.ndarray, speed: float, heading: float) -> np.ndarray:
        """A rover's command: turn towards `heading` (world yaw, rad), forward at `speed` x
        cos^2 of the heading error (none while it points more than 90 degrees away)."""
        error = math.remainder(heading - self.sim.yaw, math.tau)
        yaw_rate = float(np.clip(2.0 * error, -self.max_yaw_rate, self.max_yaw_rate))
        forward = speed * max(math.cos(error), 0.0) ** 2
        return np.array([forward, 0.0, 0.0, yaw_rate])

    def time_to_collision(self, horizon_s: float = 3.0) -> float:
        """Seconds until the drone, flying on at its present horizontal velocity, comes closer
        than `blocked_clearance_m` to an obstacle (or, a drone, descends to 0.3 m above the ground);
        inf when neither happens within `horizon_s`."""
        sim = self.sim
        if sim.layout is not self._layout:
            self.reset()
        velocity = np.asarray(sim.velocity, dtype=np.float64)
        times = np.linspace(0.1, horizon_s, 30)
        points = sim.position[:2] + velocity[:2] * times[:, None]
        blocked = self._lookup(self.clearance, points) < self.blocked_clearance
        if sim.vehicle == "drone":
            blocked |= sim.position[2] + velocity[2] * times < 0.3
        return float(times[np.argmax(blocked)]) if blocked.any() else math.inf

    def _searching(self, to_target: np.ndarray) -> bool:
        """Whether the target has been out of the camera's view for longer than `lost_target_s`
        (remembering where it was last seen when it is in view)."""
        if self.lost_target_s is None:
            return False
        if target_in_view(self.sim):
            self._last_seen_time = self.sim.time
            self._last_seen_heading = math.atan2(to_target[1], to_target[0])
            return False
        return self.sim.time - self._last_seen_time > self.lost_target_s

    def _nose_heading(self, direction: np.ndarray, to_target: np.ndarray) -> float:
        """World yaw (rad) to point the nose at: the direction of motion, brought to within
        `target_view` of the target's bearing."""
        target_bearing = math.atan2(to_target[1], to_target[0])
        offset = math.remainder(math.atan2(direction[1], direction[0]) - target_bearing, math.tau)
        return target_bearing + float(np.clip(offset, -self.target_view, self.target_view))

    def _best_direction(self, xy: np.ndarray, to_target_xy: np.ndarray, horizontal_distance: float) -> np.ndarray:
        """Unit world-frame direction (2,) to steer: the clear lookahead point nearest the goal."""
        if horizontal_distance < self.lookahead:
            return to_target_xy / max(horizontal_distance, 1e-6)
        ends = xy + self._directions * self.lookahead                       # [H, 2]
        samples = xy + self._directions[:, None, :] * (self._fractions[:, None] * self.lookahead)  # [H, S, 2]
        clear = self._lookup(self.clearance, samples).min(axis=1) >= self.blocked_clearance
        cost = self._lookup(self.cost_to_go, ends)
        cost = np.where(clear, cost, np.inf)
        best = int(np.argmin(cost))
        if not np.isfinite(cost[best]):  # boxed in (should not happen): go towards the most open side
            best = int(np.argmax(self._lookup(self.clearance, ends)))
        return self._directions[best]


def _dijkstra_relaxation(cell_cost: np.ndarray, goal: tuple[int, int], resolution: float) -> np.ndarray:
    """Cost-to-go (m, weighted) to `goal` on an 8-connected grid by repeated vectorised relaxation."""
    ny, nx = cell_cost.shape
    cost_to_go = np.full((ny, nx), np.inf)
    cost_to_go[goal] = 0.0
    steps = [(dy, dx, math.hypot(dy, dx) * resolution) for dy, dx in _NEIGHBOURS]
    for _ in range(4 * (nx + ny)):
        before = cost_to_go.copy()
        for dy, dx, length in steps:
            # cell (i, j) may go to (i + dy, j + dx) at length * cost of (i, j)
            src = (slice(max(-dy, 0), ny - max(dy, 0)), slice(max(-dx, 0), nx - max(dx, 0)))
            dst = (slice(max(dy, 0), ny - max(-dy, 0)), slice(max(dx, 0), nx - max(-dx, 0)))
            np.minimum(cost_to_go[src], cost_to_go[dst] + length * cell_cost[src], out=cost_to_go[src])
        if np.array_equal(before, cost_to_go):
            break
    return cost_to_go
