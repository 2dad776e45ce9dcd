"""`lnn-control inspect-bag BAG`: topics, types, message counts, rates, gaps, episode facts, and
the messages training would drop.

Rates and gaps come from the bag's log times. A gap is an interval between consecutive
messages of a topic longer than `GAP_FACTOR` times that topic's median interval. Every
camera, IMU and command message (by type) is decoded as `read_bag` decodes it, and what it
would drop is reported per topic and reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lnn_control.data import messages as m
from lnn_control.data.bag_reader import BagError, DroppedMessages, TopicDecoder, describe_error, open_reader, read_facts
from lnn_control.exit_status import SUCCESS, failed

GAP_FACTOR = 3.0
IMAGE_SIZE = (48, 64)  # frames are decoded at the policy's input size, as training reads them
_KINDS = {**dict.fromkeys(m.IMAGE_TYPES, "image"), **dict.fromkeys(m.IMU_TYPES, "imu"),
          **dict.fromkeys(m.CMD_TYPES, "cmd")}


@dataclass
class TopicSummary:
    topic: str
    msgtype: str
    count: int
    rate_hz: float
    gaps: list[tuple[float, float]] = field(default_factory=list)  # (start s from bag start, length s)


@dataclass
class BagSummary:
    path: Path
    storage: str
    duration_s: float
    start_ns: int
    topics: list[TopicSummary]
    facts: dict
    dropped: list[DroppedMessages] = field(default_factory=list)


def inspect_bag(path) -> BagSummary:
    """Summarise the bag at `path`; BagError when it cannot be read completely."""
    path = Path(path)
    reader = open_reader(path)
    try:
        stamps = {c.id: [] for c in reader.connections}
        decoders = {c.topic: TopicDecoder(c.topic, _KINDS[c.msgtype], IMAGE_SIZE)
                    for c in reader.connections if c.msgtype in _KINDS}
        try:
            for conn, log_ns, raw in reader.messages(connections=reader.connections):
                stamps[conn.id].append(log_ns)
                if conn.topic in decoders:
                    decoders[conn.topic].add(reader, conn.msgtype, raw, log_ns)
        except Exception as error:  # damaged storage surfaces as many exception types
            raise BagError(f"{path}: corrupt or truncated bag while reading messages: "
                           f"{describe_error(error)}") from None
        start = min((s[0] for s in stamps.values() if s), default=0)
        end = max((s[-1] for s in stamps.values() if s), default=0)
        topics = []
        for conn in reader.connections:
            times = np.sort(np.asarray(stamps[conn.id], np.int64))
            if len(times) < conn.msgcount:
                raise BagError(f"{path}: corrupt or truncated bag: read {len(times)} of {conn.msgcount} "
                               f"messages on {conn.topic!r}")
            topics.append(_topic_summary(conn.topic, conn.msgtype, times, start))
        storage = "mcap" if any(p.suffix == ".mcap" for p in _files(path)) else "sqlite3"
    finally:
        reader.close()
    dropped = []
    for decoder in decoders.values():
        decoder.finish(start)
        dropped.extend(decoder.dropped)
    return BagSummary(path, storage, (end - start) * 1e-9, start, topics, read_facts(path), dropped)


def _files(path: Path) -> list[Path]:
    return [path] if path.is_file() else list(path.iterdir())


def _topic_summary(topic: str, msgtype: str, times: np.ndarray, start_ns: int) -> TopicSummary:
    intervals = np.diff(times) * 1e-9
    if len(intervals) == 0:
        return TopicSummary(topic, msgtype, len(times), 0.0)
    span = (times[-1] - times[0]) * 1e-9
    rate = (len(times) - 1) / span if span > 0 else float("inf")
    median = float(np.median(intervals))
    gaps = [((times[i] - start_ns) * 1e-9, float(intervals[i]))
            for i in np.flatnonzero(intervals > GAP_FACTOR * median)] if median > 0 else []
    return TopicSummary(topic, msgtype, len(times), rate, gaps)


def format_summary(summary: BagSummary) -> str:
    lines = [f"bag: {summary.path}",
             f"storage: {summary.storage}  duration: {summary.duration_s:.3f} s  "
             f"start: {summary.start_ns * 1e-9:.3f} s  messages: {sum(t.count for t in summary.topics)}"]
    for key, value in sorted(summary.facts.items()):
        lines.append(f"fact {key}: {value}")
    header = ("topic", "type", "count", "rate_hz", "gaps")
    rows = [(t.topic, t.msgtype, str(t.count), f"{t.rate_hz:.2f}", str(len(t.gaps))) for t in summary.topics]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines.extend("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows)
    for t in summary.topics:
        for at, length in t.gaps[:10]:
            lines.append(f"gap on {t.topic}: {length:.3f} s at t={at:.3f} s (> {GAP_FACTOR:g}x median interval)")
        if len(t.gaps) > 10:
            lines.append(f"gap on {t.topic}: ... {len(t.gaps) - 10} more")
    lines.extend(d.describe(summary.path) for d in summary.dropped)
    if not summary.dropped:
        lines.append("every camera, IMU and command message is usable")
    return "\n".join(lines)


def run_cli(args) -> int:
    try:
        summary = inspect_bag(args.bag)
    except BagError as error:
        return failed("lnn-control inspect-bag", error)
    print(format_summary(summary))
    return SUCCESS
