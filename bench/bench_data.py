"""Decoded samples/s from rosbag2 bags: each storage and image encoding, decoded from the bag
and read back from the decoded-bag cache (what the second epoch and later runs see).

Bags hold N camera frames at 640x480 (a typical robot camera) with IMU at 2x the camera
rate and a Twist per frame; a sample is one camera frame decoded to RGB and resized to the
policy's 64x48, with its IMU and command. Cold = `read_bag` (deserialise + decode + resize);
cached = `load_bag` from a filled cache, then touching every image (memory-mapped arrays).
Median of the repetitions; one thread.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
from bag_factory import write_bag  # noqa: E402

from lnn_control.benchmarks import bench_arguments, report  # noqa: E402
from lnn_control.data import load_bag, read_bag  # noqa: E402

CASES = [("mcap", "rgb8"), ("sqlite3", "rgb8"), ("mcap", "bgr8"), ("mcap", "mono8"), ("mcap", "jpeg"),
         ("mcap", "png"), ("sqlite3", "jpeg")]


def main() -> None:
    args = bench_arguments(__doc__.splitlines()[0])
    cv2.setNumThreads(1)
    frames, repeats = (40, 2) if args.quick else (200, 3)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for storage, encoding in CASES:
            bag = write_bag(Path(tmp) / f"{storage}_{encoding}", storage=storage, encoding=encoding, frames=frames,
                            image_size=(480, 640))
            size_mb = sum(p.stat().st_size for p in bag.iterdir()) / 1e6
            cold = []
            for _ in range(repeats):
                start = time.perf_counter()
                read_bag(bag)
                cold.append(time.perf_counter() - start)
            cache = Path(tmp) / f"cache_{storage}_{encoding}"
            load_bag(bag, cache_dir=cache)
            warm = []
            for _ in range(repeats):
                start = time.perf_counter()
                streams = load_bag(bag, cache_dir=cache)
                float(np.asarray(streams.images, np.float32).sum())
                warm.append(time.perf_counter() - start)
            rows.append({"storage": storage, "encoding": encoding, "frames": frames, "bag_MB": round(size_mb, 1),
                         "decoded_samples_per_s": frames / float(np.median(cold)),
                         "cached_samples_per_s": frames / float(np.median(warm)),
                         "cache_speedup": float(np.median(cold) / np.median(warm))})
    report("bench_data", rows, args.out, __doc__.strip())


if __name__ == "__main__":
    main()
