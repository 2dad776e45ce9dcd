"""Read camera, IMU and command streams from a rosbag2 bag (mcap or sqlite3), as robots record them.

`read_bag(path, topics, image_size)` returns the decoded, time-sorted streams of one bag.
Images are converted to RGB and resized to the policy's input size (area averaging, as the
runtime does). Stamps are header stamps in nanoseconds; a Twist (no header) — or a message
whose header stamp is zero — is placed at its bag log time.

Every problem a user's bag can have raises `BagError` with a one-line message naming the bag
and the problem: not a bag, unreadable/truncated/corrupt storage, a missing topic (the message
lists the topics that are there), a topic of the wrong type, an unsupported image encoding,
fewer messages than metadata.yaml declares (a damaged chunk).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from rosbags.highlevel import AnyReader

from lnn_control.data import messages as m

BAG_FILE_SUFFIXES = (".mcap", ".db3")


class BagError(ValueError):
    """A bag that cannot be used; the message names the bag and the problem (one line)."""


@dataclass(frozen=True)
class BagTopics:
    """Which topics hold the camera, the IMU and the velocity command (leading '/' optional)."""

    image: str = "camera/image_raw"
    imu: str = "imu/data"
    cmd: str = "cmd_vel"


@dataclass
class BagStreams:
    """The decoded streams of one bag, each sorted by its stamps (int64 ns).

    images uint8 [N, H, W, 3] RGB; imu float32 [M, 6] ([gx, gy, gz] rad/s, [ax, ay, az] m/s^2);
    cmd float32 [K, 4] ([vx, vy, vz] m/s, yaw_rate rad/s). `*_stamps` are header stamps (the
    log time where there is no header or it is zero), `*_log_stamps` the bag's log (receive)
    times of the same messages. `facts` is the bag's custom_data.
    """

    image_stamps: np.ndarray
    images: np.ndarray
    imu_stamps: np.ndarray
    imu: np.ndarray
    cmd_stamps: np.ndarray
    cmd: np.ndarray
    image_log_stamps: np.ndarray
    imu_log_stamps: np.ndarray
    cmd_log_stamps: np.ndarray
    facts: dict = field(default_factory=dict)


def find_bags(paths) -> list[Path]:
    """Bags named by `paths`: a bag directory (has metadata.yaml), a bare .mcap/.db3 file, or a
    folder holding bag directories (searched recursively, sorted). A folder holding no bag is
    returned as itself, so reading it reports that it is not a bag."""
    bags: list[Path] = []
    for path in map(Path, paths):
        if (path / "metadata.yaml").is_file() or path.is_file() or not path.is_dir():
            bags.append(path)
            continue
        found = sorted(p.parent for p in path.rglob("metadata.yaml"))
        bags.extend(found or [path])
    return list(dict.fromkeys(bags))


def read_facts(path) -> dict:
    """The bag's metadata `custom_data` (strings), {} when there is none."""
    meta = Path(path) / "metadata.yaml"
    if not meta.is_file():
        return {}
    try:
        info = yaml.safe_load(meta.read_text()) or {}
        return dict(info.get("rosbag2_bagfile_information", {}).get("custom_data") or {})
    except (yaml.YAMLError, AttributeError, OSError):
        return {}


def open_reader(path: Path) -> AnyReader:
    """An opened AnyReader for the bag at `path`, or BagError saying why it is not readable."""
    if not path.exists():
        raise BagError(f"{path}: no such bag directory or file")
    if path.is_dir() and not (path / "metadata.yaml").is_file():
        raise BagError(f"{path}: not a rosbag2 bag (no metadata.yaml)")
    if path.is_file() and path.suffix not in BAG_FILE_SUFFIXES:
        raise BagError(f"{path}: not a rosbag2 bag (expected a bag directory, .mcap or .db3 file)")
    reader = AnyReader([path], default_typestore=m.TYPESTORE)
    try:
        reader.open()
    except Exception as error:  # rosbags, mcap and sqlite raise many kinds for damaged files
        raise BagError(f"{path}: unreadable bag (truncated or corrupt?): {describe_error(error)}") from None
    return reader


def read_bag(path, topics: BagTopics = BagTopics(), image_size: tuple[int, int] = (48, 64)) -> BagStreams:
    """Decode the image, IMU and command topics of the bag at `path`; images resized to
    `image_size` (height, width). Raises BagError (see the module docstring)."""
    path = Path(path)
    reader = open_reader(path)
    try:
        connections = {
            "image": _connection(reader, path, topics.image, m.IMAGE_TYPES),
            "imu": _connection(reader, path, topics.imu, m.IMU_TYPES),
            "cmd": _connection(reader, path, topics.cmd, m.CMD_TYPES),
        }
        streams = _decode(reader, path, connections, image_size)
    finally:
        reader.close()
    streams.facts = read_facts(path)
    return streams


def normalize_topic(name: str) -> str:
    return name.strip().lstrip("/")


def topic_listing(reader: AnyReader) -> str:
    """'/a (type, N msgs), ...' for error messages."""
    return ", ".join(f"{c.topic} ({c.msgtype}, {c.msgcount} msgs)" for c in reader.connections) or "none"


def _connection(reader: AnyReader, path: Path, topic: str, types: tuple[str, ...]):
    matches = [c for c in reader.connections if normalize_topic(c.topic) == normalize_topic(topic)]
    if not matches:
        raise BagError(f"{path}: topic {topic!r} not in bag; topics there: {topic_listing(reader)}")
    usable = [c for c in matches if c.msgtype in types]
    if not usable:
        raise BagError(f"{path}: topic {topic!r} has type {matches[0].msgtype}, expected {' or '.join(types)}")
    if sum(c.msgcount for c in usable) == 0:
        raise BagError(f"{path}: topic {topic!r} has no messages")
    return usable


def _decode(reader: AnyReader, path: Path, connections: dict, image_size: tuple[int, int]) -> BagStreams:
    height, width = image_size
    by_id = {c.id: key for key, conns in connections.items() for c in conns}
    stamps = {key: [] for key in connections}
    log_stamps = {key: [] for key in connections}
    values = {key: [] for key in connections}
    wanted = [c for conns in connections.values() for c in conns]
    try:
        for conn, log_ns, raw in reader.messages(connections=wanted):
            key = by_id[conn.id]
            msg = reader.deserialize(raw, conn.msgtype)
            try:
                if key == "image":
                    values[key].append(m.image_to_rgb(msg, conn.msgtype, (height, width)))
                elif key == "imu":
                    values[key].append(m.imu_to_array(msg))
                else:
                    values[key].append(m.cmd_to_array(msg, conn.msgtype))
            except m.UnsupportedEncodingError as error:
                raise BagError(f"{path}: topic {conn.topic!r}: {error}") from None
            except ValueError as error:
                raise BagError(f"{path}: topic {conn.topic!r}: corrupt message at t={log_ns} ns: {error}") from None
            header_ns = m.stamp_ns(msg) if hasattr(msg, "header") else 0
            stamps[key].append(header_ns if header_ns > 0 else log_ns)
            log_stamps[key].append(log_ns)
    except BagError:
        raise
    except Exception as error:  # a damaged chunk or page surfaces as many exception types
        raise BagError(f"{path}: corrupt or truncated bag while reading messages: {describe_error(error)}") from None
    for key, conns in connections.items():
        declared = sum(c.msgcount for c in conns)
        if len(values[key]) < declared:
            raise BagError(f"{path}: corrupt or truncated bag: read {len(values[key])} of {declared} messages "
                           f"on {conns[0].topic!r}")
    arrays = {}
    for key in connections:
        order = np.argsort(np.asarray(stamps[key], np.int64), kind="stable")
        arrays[f"{key}_stamps"] = np.asarray(stamps[key], np.int64)[order]
        arrays[f"{key}_log_stamps"] = np.asarray(log_stamps[key], np.int64)[order]
        arrays["images" if key == "image" else key] = np.stack(values[key])[order]
    return BagStreams(**arrays)


def describe_error(error: BaseException) -> str:
    """'Type: first line of the message', for one-line error reports."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
