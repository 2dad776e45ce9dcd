"""Write small rosbag2 bags with `rosbags` directly, in every storage, encoding and message type
the reader supports (test helper; not a test module).

Frame i (stamp t0 + i * period) shows a known colour pattern; the command after it is
[0.01 i, -0.02 i, 0.005 i, 0.03 i] (so tests can tell which command was aligned) and the
IMU reading at it is [i, 0, 0, 0, 0, 9.81] (gyro x counts frames).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from lnn_control.data import messages as m

T0_NS = 1_700_000_000_000_000_000  # a wall-clock-like start, as on a robot


def frame_rgb(i: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Smooth test image for frame i (compresses well, so JPEG stays close)."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([np.full_like(x, 200), (x * 3) % 256, (y * 4 + 10 * i) % 256], axis=-1)
    return rgb.astype(np.uint8)


def frame_cmd(i: int) -> np.ndarray:
    return np.array([0.01 * i, -0.02 * i, 0.005 * i, 0.03 * i], np.float32)


def raw_image(rgb: np.ndarray, encoding: str, t_ns: int):
    if encoding in ("jpeg", "png"):
        return m.compressed_image_message(rgb, t_ns, encoding), m.COMPRESSED_IMAGE
    msg = m.image_message(rgb, t_ns)
    pixels = {"rgb8": rgb, "bgr8": rgb[:, :, ::-1], "mono8": cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None],
              "rgba8": np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2),
              "bgra8": np.concatenate([rgb[:, :, ::-1], np.full(rgb.shape[:2] + (1,), 7, np.uint8)], axis=2),
              }.get(encoding, rgb)
    pixels = np.ascontiguousarray(pixels)
    msg.encoding = encoding
    msg.step = pixels.shape[1] * pixels.shape[2]
    msg.data = pixels.reshape(-1)
    return msg, m.IMAGE


def write_bag(path, storage: str = "mcap", encoding: str = "rgb8", cmd_type: str = m.TWIST, frames: int = 20,
              period_s: float = 0.05, image_topic: str = "camera/image_raw", imu_topic: str = "imu/data",
              cmd_topic: str = "cmd_vel", cmd_delay_s: float = 0.01, imu_per_frame: int = 2,
              gap_after: int | None = None, gap_s: float = 1.0, image_size=(48, 64), facts=None,
              imu_clock_offset_s: float = 0.0, edit=None) -> Path:
    """A bag of `frames` camera frames with IMU at `imu_per_frame` x the camera rate (one reading
    exactly at each frame, the others between frames) and one command `cmd_delay_s` after
    each frame. `gap_after`: frames after this index are shifted `gap_s` later.
    `imu_clock_offset_s`: the IMU's header stamps run this far ahead of everything else (a
    sensor with its own clock); its log times stay right. `edit(kind, index, msg)` ("image",
    "imu" or "cmd"; the index counts that kind's messages) returns the message to write instead
    (a bad reading, a changed stamp...)."""
    path = Path(path)
    plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
    writer = Writer(path, version=Writer.VERSION_LATEST, storage_plugin=plugin)
    for key, value in (facts or {}).items():
        writer.set_custom_data(key, value)
    writer.open()
    image_type = m.COMPRESSED_IMAGE if encoding in ("jpeg", "png") else m.IMAGE
    image_conn = writer.add_connection(image_topic, image_type, typestore=m.TYPESTORE)
    imu_conn = writer.add_connection(imu_topic, m.IMU, typestore=m.TYPESTORE)
    cmd_conn = writer.add_connection(cmd_topic, cmd_type, typestore=m.TYPESTORE)
    messages = []
    for i in range(frames):
        t = T0_NS + int(round((i * period_s + (gap_s if gap_after is not None and i > gap_after else 0)) * 1e9))
        msg, msgtype = raw_image(frame_rgb(i, *image_size), encoding, t)
        messages.append((t, image_conn, msg, msgtype))
        for k in range(imu_per_frame):
            ti = t + int(k * period_s / imu_per_frame * 1e9)
            imu = np.array([i + k / imu_per_frame, 0, 0, 0, 0, 9.81], np.float32)
            stamp = ti + int(imu_clock_offset_s * 1e9)
            messages.append((ti, imu_conn, m.imu_message(imu, stamp), m.IMU))
        tc = t + int(cmd_delay_s * 1e9)
        cmd_msg = m.twist_message(frame_cmd(i)) if cmd_type == m.TWIST else m.twist_stamped_message(frame_cmd(i), tc)
        messages.append((tc, cmd_conn, cmd_msg, cmd_type))
    counters = {}
    kinds = {image_conn.id: "image", imu_conn.id: "imu", cmd_conn.id: "cmd"}
    for t, conn, msg, msgtype in sorted(messages, key=lambda x: x[0]):
        kind = kinds[conn.id]
        index = counters[kind] = counters.get(kind, -1) + 1
        if edit is not None:
            msg = edit(kind, index, msg)
        writer.write(conn, t, m.TYPESTORE.serialize_cdr(msg, msgtype))
    writer.close()
    return path


def storage_file(bag: Path) -> Path:
    return next(p for p in Path(bag).iterdir() if p.suffix in (".mcap", ".db3"))
