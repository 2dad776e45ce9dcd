"""Whether the drone's camera can see the target now: in its field of view, and not hidden.

Geometry only, no rendering: the target's centre and the four points of its outline left,
right, above and below the line of sight (at its radius) are tested; the target counts as
visible when at least one of them projects inside the image (the camera's horizontal and
vertical field of view, in front of the lens, nearer than its far plane) and the ray from the
lens to it meets no collision body (trees, buildings, walls, the ground; the target and the
distractors have none). Frames: world, z up, metres; the camera mount as `CameraConfig` says.
"""
from __future__ import annotations

import math

import numpy as np
import pybullet as pb

from lnn_control.sim.sensors import CameraConfig

CLEAR_OF_BODY_M = 0.3


def camera_frame(position: np.ndarray, rotation: np.ndarray, camera: CameraConfig):
    """(lens position, optical axis, up, left) in the world frame for the body pose."""
    pitch = math.radians(camera.pitch_deg)
    axis = rotation @ np.array([math.cos(pitch), 0.0, math.sin(pitch)])
    up = rotation @ np.array([-math.sin(pitch), 0.0, math.cos(pitch)])
    return position + rotation @ np.asarray(camera.position_m), axis, up, np.cross(up, axis)


def target_in_view(sim) -> bool:
    """Whether the camera of `sim` (a Simulator) sees any part of the target now."""
    camera = sim.camera_config
    lens, axis, up, left = camera_frame(sim.position, sim.rotation, camera)
    target = np.asarray(sim.target_position, dtype=np.float64)
    line = target - lens
    distance = float(np.linalg.norm(line))
    if distance < 1e-6:
        return True
    radius = sim.world.target.size_m / 2
    sideways = np.cross(line / distance, up)
    sideways /= max(float(np.linalg.norm(sideways)), 1e-9)
    upwards = np.cross(sideways, line / distance)
    points = [target, target + radius * sideways, target - radius * sideways, target + radius * upwards,
              target - radius * upwards]
    tan_h = math.tan(math.radians(camera.horizontal_fov_deg) / 2)
    tan_v = math.tan(math.radians(camera.vertical_fov_deg) / 2)
    in_image = []
    for point in points:
        ray = point - lens
        depth = float(ray @ axis)
        if not camera.near_m < depth < camera.far_m:
            continue
        if abs(float(ray @ left)) <= tan_h * depth and abs(float(ray @ up)) <= tan_v * depth:
            in_image.append(point)
    if not in_image:
        return False
    # rays start clear of the drone's own body (its arms reach 0.17 m from the centre)
    starts = [(lens + CLEAR_OF_BODY_M * (p - lens) / np.linalg.norm(p - lens)).tolist() for p in in_image]
    hits = pb.rayTestBatch(starts, [p.tolist() for p in in_image], physicsClientId=sim.client)
    return any(hit[0] < 0 for hit in hits)
