"""Read camera, IMU and command streams from a rosbag2 bag (mcap or sqlite3), as robots record them.

`read_bag(path, topics, image_size)` returns the decoded, time-ordered streams of one bag.
Messages are decoded by `lnn_control.codec` (the rules the policy node applies); images are
converted to RGB and resized to the policy's input size (area averaging, as the runtime
does). Stamps are header stamps in nanoseconds; a Twist (no header) — or a message whose
header stamp is zero — is placed at its bag log time.

Bad readings never stop a bag from being read. A message is dropped, and counted by topic
and reason in `BagStreams.dropped`, when:
- it cannot be deserialised, or the codec refuses it (unsupported encoding, size mismatch,
  truncated JPEG/PNG, NaN/Inf IMU or command values, IMU parts marked as not provided);
- its stamp is not after the stamp of the topic's previous kept message, in the order the
  bag logged them (a duplicated or out-of-order stamp);
- it is a camera frame whose layout (encoding and size) differs from the layout most of the
  bag's frames have (a camera that changed mode mid-bag).

`BagError` (one line naming the bag and the problem) is raised for what leaves nothing to
use: not a bag, unreadable/truncated/corrupt storage, a missing topic (the message lists the
topics that are there), a topic of the wrong type, fewer messages than metadata.yaml
declares (a damaged chunk), or a topic with no usable message left.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from rosbags.highlevel import AnyReader

from lnn_control import codec
from lnn_control.data import messages as m

BAG_FILE_SUFFIXES = (".mcap", ".db3")


class BagError(ValueError):
    """A bag that cannot be used; the message names the bag and the problem (one line)."""


@dataclass(frozen=True)
class BagTopics:
    """Which topics hold the camera, the IMU and the velocity command (leading '/' optional),
    and, when operator takeovers are to be read, the flag that says when one was flying
    (`std_msgs/Bool`, `policy_node`'s `~/intervention`; None: not read)."""

    image: str = "camera/image_raw"
    imu: str = "imu/data"
    cmd: str = "cmd_vel"
    intervention: str | None = None


@dataclass(frozen=True)
class DroppedMessages:
    """Messages of one topic that the reader could not use, for one reason.

    `total`: the messages the topic holds; `first_s`: log time of the first one dropped, in
    seconds from the bag's first message; `example`: what was wrong with that one."""

    topic: str
    reason: str
    count: int
    total: int
    first_s: float
    example: str

    def describe(self, bag) -> str:
        """One line for reports."""
        return (f"{bag}: dropped {self.count} of {self.total} messages on {self.topic!r}: {self.reason} "
                f"(first at {self.first_s:.3f} s: {self.example})")


@dataclass
class BagStreams:
    """The decoded streams of one bag, each sorted by its stamps (int64 ns).

    images uint8 [N, H, W, 3] RGB; imu float32 [M, 6] ([gx, gy, gz] rad/s, [ax, ay, az] m/s^2);
    cmd float32 [K, 4] ([vx, vy, vz] m/s, yaw_rate rad/s); intervention bool [L] (whether an
    operator was flying, when `BagTopics.intervention` is read; empty otherwise). `*_stamps` are
    header stamps (the log time where there is no header or it is zero), `*_log_stamps` the
    bag's log (receive) times of the same messages. `facts` is the bag's custom_data; `dropped` what the reader
    left out (see the module docstring).
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
    intervention_stamps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    intervention: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    intervention_log_stamps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    facts: dict = field(default_factory=dict)
    dropped: list[DroppedMessages] = field(default_factory=list)


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
    """The bag's metadata `custom_data` (strings), {} when there is none or it is not a mapping."""
    meta = Path(path) / "metadata.yaml"
    if not meta.is_file():
        return {}
    try:
        info = yaml.safe_load(meta.read_text())
        custom = info["rosbag2_bagfile_information"].get("custom_data")
    except (yaml.YAMLError, OSError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in custom.items()} if isinstance(custom, dict) else {}


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
        if topics.intervention is not None:
            connections["intervention"] = _connection(reader, path, topics.intervention, m.FLAG_TYPES)
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
    by_id = {c.id: key for key, conns in connections.items() for c in conns}
    decoders = {key: TopicDecoder(conns[0].topic, key, image_size) for key, conns in connections.items()}
    wanted = [c for conns in connections.values() for c in conns]
    start_ns = None
    try:
        for conn, log_ns, raw in reader.messages(connections=wanted):
            start_ns = log_ns if start_ns is None else start_ns
            decoders[by_id[conn.id]].add(reader, conn.msgtype, raw, log_ns)
    except Exception as error:  # a damaged chunk or page surfaces as many exception types
        raise BagError(f"{path}: corrupt or truncated bag while reading messages: {describe_error(error)}") from None
    arrays, dropped = {}, []
    for key, conns in connections.items():
        decoder = decoders[key]
        declared = sum(c.msgcount for c in conns)
        if decoder.total < declared:
            raise BagError(f"{path}: corrupt or truncated bag: read {decoder.total} of {declared} messages "
                           f"on {conns[0].topic!r}")
        kept = decoder.finish(start_ns)
        dropped.extend(decoder.dropped)
        if not kept["stamps"].size:
            reasons = "; ".join(f"{d.count} {d.reason} (e.g. {d.example})" for d in decoder.dropped)
            raise BagError(f"{path}: no usable message on {conns[0].topic!r}: all {decoder.total} dropped: {reasons}")
        arrays[f"{key}_stamps"] = kept["stamps"]
        arrays[f"{key}_log_stamps"] = kept["log_stamps"]
        arrays["images" if key == "image" else key] = kept["values"]
    return BagStreams(**arrays, dropped=dropped)


class TopicDecoder:
    """Decodes one topic's messages in log order and decides which to keep (the module
    docstring's rules). `kind` is "image", "imu", "cmd" or "intervention"; images are resized to
    `image_size`."""

    def __init__(self, topic: str, kind: str, image_size: tuple[int, int]):
        self.topic, self.kind, self.image_size = topic, kind, tuple(image_size)
        self.total = 0
        self._kept: list[tuple[int, int, np.ndarray, tuple]] = []   # (log ns, stamp ns, value, layout)
        self._refused: list[tuple[str, int, str]] = []              # (reason, log ns, detail)
        self.dropped: list[DroppedMessages] = []

    def add(self, reader: AnyReader, msgtype: str, raw: bytes, log_ns: int) -> None:
        self.total += 1
        try:
            msg = reader.deserialize(raw, msgtype)
        except Exception as error:  # a message that does not match its type's definition
            self._refused.append(("message does not deserialise", log_ns, describe_error(error)))
            return
        try:
            value, layout = self._decoded(msg, msgtype)
        except codec.InvalidMessage as error:
            self._refused.append((error.reason, log_ns, str(error)))
            return
        header_ns = codec.stamp_ns(msg.header.stamp) if hasattr(msg, "header") else 0
        self._kept.append((log_ns, header_ns if header_ns > 0 else log_ns, value, layout))

    def _decoded(self, msg, msgtype: str) -> tuple[np.ndarray, tuple]:
        if self.kind == "imu":
            return codec.imu_to_vector(msg), ()
        if self.kind == "cmd":
            return codec.twist_to_command(msg.twist if msgtype == m.TWIST_STAMPED else msg), ()
        if self.kind == "intervention":
            return np.array(bool(msg.data)), ()
        if msgtype == m.COMPRESSED_IMAGE:
            rgb = codec.compressed_to_rgb(msg)
            layout = (codec.compressed_format(msg), rgb.shape[1], rgb.shape[0])
        else:
            rgb = codec.image_to_rgb(msg)
            layout = codec.raw_layout(msg)
        return codec.resize(rgb, self.image_size), layout

    def finish(self, start_ns: int | None) -> dict[str, np.ndarray]:
        """The kept messages as arrays ("stamps", "log_stamps" int64 ns, "values"), and
        `dropped` filled in."""
        kept = self._kept
        if self.kind == "image" and kept:
            layouts = [layout for *_, layout in kept]
            usual = max(set(layouts), key=layouts.count)
            for log_ns, _, _, layout in kept:
                if layout != usual:
                    self._refused.append(("frame layout differs from the bag's", log_ns,
                                          f"{_layout_text(layout)}, most frames are {_layout_text(usual)}"))
            kept = [k for k in kept if k[3] == usual]
        in_order, last_ns = [], None
        for entry in kept:
            if last_ns is not None and entry[1] <= last_ns:
                self._refused.append(("stamp not after the previous message's", entry[0],
                                      f"stamp {entry[1] * 1e-9:.6f} s after {last_ns * 1e-9:.6f} s"))
                continue
            in_order.append(entry)
            last_ns = entry[1]
        self.dropped = self._summaries(start_ns or 0)
        empty = {"image": np.zeros((0, *self.image_size, 3), np.uint8), "imu": np.zeros((0, 6), np.float32),
                 "cmd": np.zeros((0, 4), np.float32), "intervention": np.zeros(0, bool)}[self.kind]
        return {"log_stamps": np.array([e[0] for e in in_order], np.int64),
                "stamps": np.array([e[1] for e in in_order], np.int64),
                "values": np.stack([e[2] for e in in_order]) if in_order else empty}

    def _summaries(self, start_ns: int) -> list[DroppedMessages]:
        by_reason: dict[str, list[tuple[int, str]]] = {}
        for reason, log_ns, detail in self._refused:
            by_reason.setdefault(reason, []).append((log_ns, detail))
        summaries = []
        for reason, events in by_reason.items():
            first_ns, example = min(events)
            summaries.append(DroppedMessages(self.topic, reason, len(events), self.total,
                                             (first_ns - start_ns) * 1e-9, example))
        return sorted(summaries, key=lambda d: d.first_s)


def _layout_text(layout: tuple) -> str:
    encoding, width, height = layout
    return f"{width}x{height} {encoding}"


def describe_error(error: BaseException) -> str:
    """'Type: first line of the message', for one-line error reports."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
