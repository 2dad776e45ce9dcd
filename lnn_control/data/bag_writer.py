"""Write an episode as a rosbag2 directory: camera, IMU, command and odometry topics.

The bag holds standard messages only (sensor_msgs/Image rgb8, sensor_msgs/Imu,
geometry_msgs/Twist, nav_msgs/Odometry) so `ros2 bag info/play` reads it. Every message is
logged at its header stamp (simulated time for simulated episodes; Twist has no header and is
logged at the time of the frame it answers). Episode facts go in metadata.yaml `custom_data`
(string values; structured ones as JSON text).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from lnn_control.data import messages as m

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
CUSTOM_DATA_PREFIX = "lnn_control."


@dataclass(frozen=True)
class EpisodeTopics:
    """Topic names written by `EpisodeBagWriter` (the sim node's topics)."""

    image: str = "camera/image_raw"
    imu: str = "imu/data"
    cmd: str = "cmd_vel"
    odom: str = "odom"
    executed_cmd: str = "policy/cmd_vel"
    intervention: str = "policy_node/intervention"


class EpisodeBagWriter:
    """Context manager writing one episode to the new rosbag2 directory `path`.

    `write_frame(t_ns, image, imu, cmd, odom)` writes one control step; `executed_cmd`, when
    given, is the command actually flown when it differs from the labelled `cmd` (DAgger);
    `intervention`, when given, whether an operator flew it (std_msgs/Bool, as policy_node's
    `~/intervention`).
    `set_facts(dict)` stores episode facts in the bag metadata (`custom_data`).
    """

    def __init__(self, path, storage: str = "mcap", topics: EpisodeTopics = EpisodeTopics()):
        if storage not in STORAGES:
            raise ValueError(f"bag storage must be one of {sorted(STORAGES)}, got {storage!r}")
        self.path = Path(path)
        self.topics = topics
        self._writer = Writer(self.path, version=Writer.VERSION_LATEST, storage_plugin=STORAGES[storage])
        self._connections = {}

    def __enter__(self) -> EpisodeBagWriter:
        self._writer.open()
        add = self._writer.add_connection
        self._connections = {
            "image": add(self.topics.image, m.IMAGE, typestore=m.TYPESTORE),
            "imu": add(self.topics.imu, m.IMU, typestore=m.TYPESTORE),
            "cmd": add(self.topics.cmd, m.TWIST, typestore=m.TYPESTORE),
            "odom": add(self.topics.odom, m.ODOMETRY, typestore=m.TYPESTORE),
        }
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self._writer.close()
        else:
            self._writer.abort()

    def set_facts(self, facts: dict) -> None:
        """Episode facts → metadata `custom_data` as `lnn_control.<key>`: strings as they are,
        anything else as JSON text."""
        for key, value in facts.items():
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            self._writer.set_custom_data(CUSTOM_DATA_PREFIX + key, text)

    def write_frame(self, t_ns: int, image: np.ndarray, imu: np.ndarray, cmd: np.ndarray, odom: dict,
                    executed_cmd: np.ndarray | None = None, intervention: bool | None = None) -> None:
        """One control step at `t_ns`: image (RGB uint8), imu [6], cmd [4], odom: dict of
        `position`, `quaternion_xyzw`, `body_velocity`, `body_rates` (see `odometry_message`)."""
        self._write("image", t_ns, m.image_message(image, t_ns), m.IMAGE)
        self._write("imu", t_ns, m.imu_message(imu, t_ns), m.IMU)
        self._write("odom", t_ns, m.odometry_message(t_ns=t_ns, **odom), m.ODOMETRY)
        self._write("cmd", t_ns, m.twist_message(cmd), m.TWIST)
        if executed_cmd is not None:
            if "executed_cmd" not in self._connections:
                self._connections["executed_cmd"] = self._writer.add_connection(
                    self.topics.executed_cmd, m.TWIST, typestore=m.TYPESTORE)
            self._write("executed_cmd", t_ns, m.twist_message(executed_cmd), m.TWIST)
        if intervention is not None:
            if "intervention" not in self._connections:
                self._connections["intervention"] = self._writer.add_connection(
                    self.topics.intervention, m.BOOL, typestore=m.TYPESTORE)
            self._write("intervention", t_ns, m.bool_message(intervention), m.BOOL)

    def _write(self, key: str, t_ns: int, msg, msgtype: str) -> None:
        self._writer.write(self._connections[key], int(t_ns), m.TYPESTORE.serialize_cdr(msg, msgtype))
