"""The simulator: a PyBullet world (from a WorldConfig and a seed) with the vehicle in it.

The vehicle is the world's `vehicle` (`lnn_control.vehicles`): a quadrotor (`sim.quadrotor`) or
a differential-drive rover (`sim.rover`). One `Simulator` owns one PyBullet DIRECT client.
Physics runs at 240 Hz; every physics step the vehicle's controller turns the held
heading-frame velocity command into actuation. A drone: each rotor's thrust acts as a force
along the body z axis at its hub; the rotors' drag torques act about body z; the body's air
drag and any external force (`apply_external_force`, e.g. wind) act at the centre of mass. A
rover: its two wheels' velocity motors drive it over the ground through friction (vx and
yaw_rate only); an external force acts at its centre of mass too.

Collisions come from PyBullet contact points between the vehicle and anything else. For a
drone the ground counts: it starts in the air (hovering at the start altitude), so there is no
take-off or landing contact to ignore, and touching the ground is a crash. A rover drives on
the ground: contacts with it do not count, tipping over (its up axis more than 60 degrees from
vertical) does. The target has no collision shape (flying or driving through it is reaching
it); a drone reaches it within the success radius of its centre, a rover within the success
radius in plan view (it rests on the ground, its centre above the rover's). Once a collision
or success happened it stays in `outcome()` until the next reset.

Hooks for distribution-shift wrappers (lnn_control/envs/shifts.py):
- `render_camera(with_depth=True)` -> (rgb uint8 HxWx3, depth float32 HxW in metres);
- `target_mask()` -> bool HxW, the target's pixels in that view (the score of attention maps);
- `apply_external_force(force_world_n)`: a world-frame force (N) applied at every physics
  step until changed (zero at reset);
- `set_wheel_friction(left, right)` (rover): the tyres' friction until the next reset;
- `reset(world=world.with_overrides(...))`: palette, density, target look, distractors;
- `mass_kg`, `camera_config`, `imu_config` (frozen dataclasses; change with `configure_sensors`).
"""
from __future__ import annotations

import contextlib
import math
from pathlib import Path

import numpy as np
import pybullet as pb

from lnn_control.sim.quadrotor import CascadedController, QuadrotorParams, Rotors
from lnn_control.sim.rover import DifferentialDrive, RoverParams, create_rover, set_wheel_friction
from lnn_control.sim.sensors import Camera, CameraConfig, Imu, ImuConfig, mounted, render_view
from lnn_control.sim.world import Layout, Part, WorldConfig, generate_layout

PHYSICS_HZ = 240
_GROUND_HALF_EXTENT_M = 200.0
_ROVER_TIPPED_UP_Z = 0.5   # cos 60 deg: the rover's up axis this far from vertical is a crash


class Simulator:
    """A vehicle in a PyBullet world. See the module docstring for frames, hooks and collisions.

    world: a WorldConfig, or a world name/YAML path for `WorldConfig.load`; its `vehicle` is
    the vehicle (fixed for the simulator's life).
    seed: the layout seed of the first episode; `reset(seed=None)` draws the next one from it.
    camera: a camera without a mount gets the vehicle's (`sensors.CAMERA_MOUNTS`).
    """

    def __init__(self, world: WorldConfig | str | Path = "forest", seed: int = 0,
                 camera: CameraConfig | None = None, imu: ImuConfig | None = None,
                 quadrotor: QuadrotorParams | None = None, rover: RoverParams | None = None):
        self.world = world if isinstance(world, WorldConfig) else WorldConfig.load(world)
        self.vehicle = self.world.vehicle
        self.quadrotor = quadrotor or QuadrotorParams()
        self.rover = rover or RoverParams()
        self.physics_dt = 1.0 / PHYSICS_HZ
        self.client = pb.connect(pb.DIRECT)
        self.camera_config = mounted(camera or CameraConfig(), self.vehicle)
        if self.camera_config.renderer == "egl":
            self._load_egl()
        self.imu_config = imu or ImuConfig()
        self._camera = Camera(self.camera_config, self.client)
        self._imu = Imu(self.imu_config)
        self._controller = CascadedController(self.quadrotor)
        self._rotors = Rotors(self.quadrotor)
        self._drive = DifferentialDrive(self.rover)
        self._seed_sequence = np.random.default_rng(int(seed))
        self.layout: Layout | None = None
        self.reset(seed=seed)

    # -- episode --------------------------------------------------------------------------

    def reset(self, seed: int | None = None, world: WorldConfig | None = None) -> None:
        """Build a new world and put the vehicle at the start (a drone hovering, a rover at rest).

        seed: layout seed (same world + seed, same layout, same sensor noise); None takes the
        next seed of the sequence started by the constructor's seed.
        world: replaces the world description from now on (e.g. `world.with_overrides(...)`).
        """
        if world is not None:
            if world.vehicle != self.vehicle:
                raise ValueError(f"Simulator.reset: world {world.name!r} is for a {world.vehicle}, this simulator "
                                 f"drives a {self.vehicle} (make a new Simulator)")
            self.world = world
        if seed is None:
            seed = int(self._seed_sequence.integers(2**31 - 1))
        self.layout = generate_layout(self.world, seed)
        self._noise_rng = np.random.default_rng([int(seed), 7])
        self._build_world(self.layout)
        self.command = np.zeros(4)
        self.external_force_n = np.zeros(3)
        self.time = 0.0
        self._collided = False
        self._reached_at: float | None = None
        yaw = self.layout.start_yaw
        self._controller.reset(yaw)
        self._rotors.reset(self.quadrotor.mass_kg * 9.81 / 4)
        self._drive.reset()
        self._imu.reset(self._noise_rng)
        self._read_state()
        self._accel_w = np.zeros(3)

    def configure_sensors(self, camera: CameraConfig | None = None, imu: ImuConfig | None = None) -> None:
        """Replace the camera and/or IMU configuration (takes effect at once; a switch between
        TinyRenderer and EGL draws spheres the renderer's way from the next reset on)."""
        if camera is not None:
            camera = mounted(camera, self.vehicle)
            if camera.renderer == "egl" and self.camera_config.renderer != "egl":
                self._load_egl()
            self.camera_config = camera
            self._camera = Camera(camera, self.client)
        if imu is not None:
            self.imu_config = imu
            self._imu.config = imu

    def close(self) -> None:
        if self.client is not None and pb.isConnected(self.client):
            pb.disconnect(self.client)
        self.client = None

    def __del__(self):
        with contextlib.suppress(Exception):  # interpreter shutdown may have taken pybullet already
            self.close()

    # -- commands and stepping ------------------------------------------------------------

    def set_command(self, command) -> None:
        """Hold the heading-frame velocity command [vx, vy, vz, yaw_rate] (m/s, rad/s) until changed."""
        command = np.asarray(command, dtype=np.float64).reshape(4)
        if not np.all(np.isfinite(command)):
            raise ValueError(f"command must be finite, got {command}")
        self.command = command

    def apply_external_force(self, force_world_n) -> None:
        """Apply a world-frame force (N) at the centre of mass at every physics step until changed."""
        force = np.asarray(force_world_n, dtype=np.float64).reshape(3)
        if not np.all(np.isfinite(force)):
            raise ValueError(f"external force must be finite, got {force}")
        self.external_force_n = force

    def set_wheel_friction(self, left: float, right: float | None = None) -> None:
        """Rover: the left and right tyres' lateral friction coefficients (right = left if left
        out) until the next reset (nominal `RoverParams.wheel_friction`; the `slip` shift lowers them)."""
        if self.vehicle != "rover":
            raise ValueError(f"set_wheel_friction: the vehicle is a {self.vehicle}, not a rover")
        right = left if right is None else right
        for value in (left, right):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"wheel friction must be a positive number, got {value!r}")
        set_wheel_friction(self.client, self.body, (float(left), float(right)))

    def step_physics(self, n: int = 1) -> None:
        """Advance n physics steps (1/240 s each); the controller runs inside every step."""
        if self.vehicle == "rover":
            self._step_rover(n)
            return
        dt = self.physics_dt
        p = self.quadrotor
        for _ in range(n):
            rotation = self.rotation
            thrust_setpoints = self._controller.rotor_thrusts(
                self.command, rotation, self.velocity, self.body_rates, dt)
            thrusts = self._rotors.step(thrust_setpoints, dt)
            thrust_axis = rotation[:, 2]
            rotor_positions_w = self.position + self._rotors.positions_m @ rotation.T
            for thrust, rotor_position in zip(thrusts, rotor_positions_w, strict=True):
                pb.applyExternalForce(self.body, -1, thrust_axis * thrust, rotor_position, pb.WORLD_FRAME,
                                      physicsClientId=self.client)
            speed = math.sqrt(float(self.velocity @ self.velocity))
            body_force_w = self.external_force_n - p.body_drag_coefficient * speed * self.velocity
            pb.applyExternalForce(self.body, -1, body_force_w, self.position, pb.WORLD_FRAME,
                                  physicsClientId=self.client)
            pb.applyExternalTorque(self.body, -1, thrust_axis * self._rotors.drag_torque_n_m(thrusts),
                                   pb.WORLD_FRAME, physicsClientId=self.client)
            self._advance()

    def _step_rover(self, n: int) -> None:
        dt = self.physics_dt
        for _ in range(n):
            speeds = self._drive.wheel_speeds(self.command, float(self.heading_velocity[0]), float(self.body_rates[2]),
                                              dt)
            pb.setJointMotorControlArray(self.body, self._wheels, pb.VELOCITY_CONTROL, targetVelocities=speeds,
                                         forces=[self.rover.max_wheel_torque_n_m] * 2, physicsClientId=self.client)
            if self.external_force_n.any():
                pb.applyExternalForce(self.body, -1, self.external_force_n, self.position, pb.WORLD_FRAME,
                                      physicsClientId=self.client)
            self._advance()

    def _advance(self) -> None:
        """One PyBullet step with the actuation already applied: state, acceleration, time, and
        whether the vehicle collided (see the module docstring) or reached the target."""
        pb.stepSimulation(physicsClientId=self.client)
        previous_velocity = self.velocity
        self._read_state()
        self._accel_w = (self.velocity - previous_velocity) / self.physics_dt
        self.time += self.physics_dt
        if not self._collided:
            contacts = pb.getContactPoints(bodyA=self.body, physicsClientId=self.client)
            if self.vehicle == "rover":
                self._collided = (self.rotation[2, 2] < _ROVER_TIPPED_UP_Z
                                  or any(contact[2] != self.ground for contact in contacts))
            else:
                self._collided = bool(contacts)
        if self._reached_at is None and self.distance_to_target <= self.world.target.success_radius_m:
            self._reached_at = self.time

    def _read_state(self) -> None:
        position, quaternion = pb.getBasePositionAndOrientation(self.body, physicsClientId=self.client)
        velocity, angular_velocity = pb.getBaseVelocity(self.body, physicsClientId=self.client)
        self.position = np.array(position)
        self.orientation = np.array(quaternion)
        self.rotation = np.array(pb.getMatrixFromQuaternion(quaternion)).reshape(3, 3)
        self.velocity = np.array(velocity)
        self.body_rates = self.rotation.T @ np.array(angular_velocity)

    # -- state and sensors ----------------------------------------------------------------

    @property
    def mass_kg(self) -> float:
        if self.vehicle == "rover":
            return self.rover.mass_kg + 2 * self.rover.wheel_mass_kg
        return self.quadrotor.mass_kg

    @property
    def pose(self) -> tuple[np.ndarray, np.ndarray]:
        """(position m, quaternion x y z w), world frame."""
        return self.position.copy(), self.orientation.copy()

    @property
    def yaw(self) -> float:
        return math.atan2(self.rotation[1, 0], self.rotation[0, 0])

    @property
    def target_position(self) -> np.ndarray:
        return np.array(self.layout.target_position)

    @property
    def distance_to_target(self) -> float:
        """m: from the drone's centre to the target's; for a rover in plan view."""
        offset = self.target_position - self.position
        if self.vehicle == "rover":
            offset = offset[:2]
        return float(np.linalg.norm(offset))

    @property
    def heading_velocity(self) -> np.ndarray:
        """Velocity (m/s) in the heading frame (x along the yaw, z up), the command's frame."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        v = self.velocity
        return np.array([c * v[0] + s * v[1], -s * v[0] + c * v[1], v[2]])

    def outcome(self) -> dict:
        """How the episode stands: success (within the success radius at some time), collision
        (contact with anything), timeout (the world's time limit), at most one of them true in
        that order of precedence; distance to the target (m), time (s)."""
        success = self._reached_at is not None
        collision = self._collided and not success
        return {
            "success": success,
            "collision": collision,
            "timeout": self.time >= self.world.time_limit_s - 1e-9 and not (success or collision),
            "distance_to_target": self.distance_to_target,
            "time": self.time,
        }

    def render_camera(self, with_depth: bool = False):
        """The forward camera's image from the current body pose: uint8 HxWx3 RGB, or with
        `with_depth=True` the pair (rgb, depth) with depth float32 HxW in metres along the
        optical axis (the far plane where nothing was hit)."""
        return self._camera.render(self.position, self.rotation, self.layout.sky_color, with_depth)

    def target_mask(self) -> np.ndarray:
        """The target's pixels in the forward camera's view now: bool HxW at the camera's
        resolution, from PyBullet's segmentation mask (True where the target is the nearest
        thing seen; empty when it is out of view or hidden)."""
        return self._camera.render_object_ids(self.position, self.rotation) == self.target_id

    def read_imu(self) -> np.ndarray:
        """[gx, gy, gz, ax, ay, az] float32: rad/s and m/s^2, body frame FLU (see sensors.py)."""
        return self._imu.read(self.rotation, self.body_rates, self._accel_w)

    def render_chase(self, width: int = 320, height: int = 240) -> np.ndarray:
        """A view from behind and above the vehicle, along its yaw (for videos): 3 m and 1.2 m
        for a drone, 1.5 m and 0.8 m for a rover."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        back, up = (1.5, 0.8) if self.vehicle == "rover" else (3.0, 1.2)
        eye = self.position + np.array([-back * c, -back * s, up])
        view = pb.computeViewMatrix(eye, self.position + np.array([2.0 * c, 2.0 * s, 0.0]), [0, 0, 1])
        projection = pb.computeProjectionMatrixFOV(60.0, width / height, 0.1, 80.0)
        return render_view(self.client, width, height, view, projection, self._camera.renderer, 0.1, 80.0,
                           self.layout.sky_color, False)

    # -- world building -------------------------------------------------------------------

    def _load_egl(self) -> None:
        import pkgutil

        egl = pkgutil.get_loader("eglRenderer")
        plugin = pb.loadPlugin(egl.get_filename(), "_eglRendererPlugin", physicsClientId=self.client) if egl else -1
        if plugin < 0:
            raise RuntimeError("CameraConfig.renderer='egl': PyBullet's EGL renderer plugin could not be loaded "
                               "on this machine; use renderer='tiny'")

    def _build_world(self, layout: Layout) -> None:
        c = self.client
        pb.resetSimulation(physicsClientId=c)
        pb.setGravity(0, 0, -9.81, physicsClientId=c)
        pb.setTimeStep(self.physics_dt, physicsClientId=c)
        ground = Part("box", (0.0, 0.0, -0.05), (_GROUND_HALF_EXTENT_M, _GROUND_HALF_EXTENT_M, 0.05),
                      layout.ground_color)
        egl = self.camera_config.renderer == "egl"
        self.ground = _create_part(c, ground, collide=True)
        self.obstacle_ids = [_create_part(c, part, collide=True, egl=egl) for obstacle in layout.obstacles
                             for part in obstacle.parts]
        tc = self.world.target
        r = tc.size_m / 2
        size = {"sphere": (r,), "box": (r, r, r), "cylinder": (r, tc.size_m)}[tc.shape]
        self.target_id = _create_part(c, Part(tc.shape, layout.target_position, size, tc.color), collide=False,
                                      egl=egl)
        self.distractor_ids = [_create_part(c, part, collide=False, egl=egl) for part in layout.distractors]
        for patch in layout.ground_patches:
            _create_part(c, patch, collide=False)
        if self.vehicle == "rover":
            self.body, self._wheels = create_rover(c, self.rover, layout.start_position, layout.start_yaw)
        else:
            self.body = self._create_drone(layout)

    def _create_drone(self, layout: Layout) -> int:
        c, q = self.client, self.quadrotor
        collision = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=q.collision_half_extents_m, physicsClientId=c)
        arm = q.arm_length_m
        arm_quats = [pb.getQuaternionFromEuler([0, 0, a]) for a in (math.pi / 4, -math.pi / 4)]
        visual = pb.createVisualShapeArray(
            shapeTypes=[pb.GEOM_BOX] * 3,
            halfExtents=[[0.06, 0.04, 0.025], [arm, 0.01, 0.008], [arm, 0.01, 0.008]],
            visualFramePositions=[[0, 0, 0]] * 3,
            visualFrameOrientations=[[0, 0, 0, 1], *arm_quats],
            physicsClientId=c)
        drone = pb.createMultiBody(q.mass_kg, collision, visual, layout.start_position,
                                   pb.getQuaternionFromEuler([0, 0, layout.start_yaw]), physicsClientId=c)
        pb.changeDynamics(drone, -1, localInertiaDiagonal=q.inertia_kg_m2, linearDamping=0.0, angularDamping=0.0,
                          physicsClientId=c)
        pb.changeVisualShape(drone, -1, rgbaColor=[0.15, 0.15, 0.18, 1.0], physicsClientId=c)
        return drone


def _icosahedron() -> tuple[list[list[float]], list[int]]:
    """Unit-circumradius icosahedron: vertices and triangle indices (counter-clockwise outside)."""
    t = (1.0 + math.sqrt(5.0)) / 2.0
    vertices = np.array([(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t), (0, -1, -t),
                         (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)], dtype=float)
    vertices /= np.linalg.norm(vertices[0])
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2),
             (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5), (2, 4, 11),
             (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    return vertices.tolist(), [i for face in faces for i in face]


_ICOSAHEDRON = _icosahedron()


def _create_part(client: int, part: Part, collide: bool, egl: bool = False) -> int:
    """A static PyBullet body for one primitive (visual always, collision shape if `collide`).

    Spheres collide as icosahedra inscribed in them, and TinyRenderer draws them so (20 faces
    instead of hundreds: several times faster to render; the sphere still bounds the shape).
    The EGL plugin cannot draw meshes given by vertices: with `egl` they are drawn as spheres
    of 0.9 x the radius (about the icosahedron's volume)."""
    rgba = [*part.color, 1.0]
    if part.shape == "sphere":
        vertices, indices = _ICOSAHEDRON
        scale = [part.size[0]] * 3
        shape = {"shapeType": pb.GEOM_MESH, "vertices": vertices, "meshScale": scale}
        if egl:
            visual = pb.createVisualShape(pb.GEOM_SPHERE, radius=0.9 * part.size[0], rgbaColor=rgba,
                                          physicsClientId=client)
        else:
            visual = pb.createVisualShape(pb.GEOM_MESH, vertices=vertices, indices=indices, meshScale=scale,
                                          rgbaColor=rgba, physicsClientId=client)
    elif part.shape == "cylinder":
        shape = {"shapeType": pb.GEOM_CYLINDER, "radius": part.size[0], "height": part.size[1]}
        visual = pb.createVisualShape(pb.GEOM_CYLINDER, radius=part.size[0], length=part.size[1], rgbaColor=rgba,
                                      physicsClientId=client)
    else:
        shape = {"shapeType": pb.GEOM_BOX, "halfExtents": part.size}
        visual = pb.createVisualShape(pb.GEOM_BOX, halfExtents=part.size, rgbaColor=rgba, physicsClientId=client)
    collision = pb.createCollisionShape(**shape, physicsClientId=client) if collide else -1
    return pb.createMultiBody(0.0, collision, visual, part.position, pb.getQuaternionFromEuler([0, 0, part.yaw]),
                              physicsClientId=client)
