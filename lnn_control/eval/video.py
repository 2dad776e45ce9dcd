"""Episode videos: the chase view beside the drone's own camera (optionally with the policy's
saliency map over it), written as MP4 with OpenCV."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from lnn_control.policy.saliency import SaliencyMaker, overlay
from lnn_control.rollout import Decision, ObserverBase

FOURCC = "mp4v"


def side_by_side(chase_rgb: np.ndarray, camera_rgb: np.ndarray, caption: list[str],
                 camera_label: str = "drone camera") -> np.ndarray:
    """One video frame (RGB uint8): the chase view on the left, the drone's camera image (as the
    policy saw it, shifts included) scaled to the same height on the right, titled `camera_label`;
    `caption` lines are written bottom-left."""
    height = chase_rgb.shape[0]
    scale = height / camera_rgb.shape[0]
    camera = cv2.resize(camera_rgb, (int(round(camera_rgb.shape[1] * scale)), height),
                        interpolation=cv2.INTER_NEAREST)
    frame = np.ascontiguousarray(np.concatenate([chase_rgb, camera], axis=1))
    band = slice(height - 16 * len(caption) - 6, height), slice(0, chase_rgb.shape[1])
    frame[band] = frame[band] // 3  # a dark band keeps the caption legible on any background
    for row, line in enumerate(reversed(caption)):
        cv2.putText(frame, line, (6, height - 8 - 16 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1,
                    cv2.LINE_AA)
    cv2.putText(frame, camera_label, (chase_rgb.shape[1] + 6, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (255, 255, 255), 1, cv2.LINE_AA)
    return frame


class VideoRecorder:
    """Collects RGB frames of equal size and writes them as one MP4 (`mp4v`) at `fps`."""

    def __init__(self, path: str | Path, fps: float):
        self.path = Path(path)
        self.fps = float(fps)
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None

    def add(self, frame_rgb: np.ndarray) -> None:
        size = (frame_rgb.shape[1], frame_rgb.shape[0])
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*FOURCC), self.fps, size)
            if not self._writer.isOpened():
                raise OSError(f"{self.path}: OpenCV cannot open an {FOURCC} MP4 writer")
            self._size = size
        elif size != self._size:
            raise ValueError(f"{self.path}: frame size {size} differs from the video's {self._size}")
        self._writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


class EpisodeFilm(ObserverBase):
    """An observer filming an episode into `path`: each decision's chase view beside the drone's
    camera image, captioned by `caption(info, command)`, then the final state. With `saliency` (a
    `SaliencyMaker` of the flying policy's network) the camera pane shows its map of each frame
    over the frame. The env must render "rgb_array". Use it as a context manager, so the file is
    closed however the flight ends."""

    def __init__(self, path: str | Path, fps: float, caption: Callable[[dict, np.ndarray], list[str]],
                 saliency: SaliencyMaker | None = None):
        self._recorder = VideoRecorder(path, fps)
        self._caption = caption
        self._saliency = saliency
        self._last_command = np.zeros(4, np.float32)
        self._last_camera: np.ndarray | None = None

    def __enter__(self) -> EpisodeFilm:
        return self

    def __exit__(self, *exc) -> None:
        self._recorder.close()

    def started(self, env, observation: dict, info: dict, seed: int) -> None:
        if self._saliency is not None:
            self._saliency.reset()

    def decided(self, env, observation: dict, info: dict, decision: Decision) -> None:
        self._last_command = decision.command
        self._last_camera = self._camera(observation)
        self._add(env, info)

    def ended(self, env, observation: dict, info: dict, outcome) -> None:
        self._last_camera = self._camera(observation) if self._saliency is None else self._last_camera
        self._add(env, info)

    def _camera(self, observation: dict) -> np.ndarray:
        image = observation["image"]
        if self._saliency is None:
            return image
        self._saliency.push(image, observation["imu"], float(observation["dt"][0]))
        return overlay(image, self._saliency.maps()[self._saliency.methods[0]])

    def _add(self, env, info: dict) -> None:
        label = "drone camera" if self._saliency is None else f"drone camera + {self._saliency.methods[0]} saliency"
        self._recorder.add(side_by_side(env.render(), self._last_camera, self._caption(info, self._last_command),
                                        label))
