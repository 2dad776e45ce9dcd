"""Saliency: which pixels of the camera frame a policy's command depends on, as an HxW map in [0, 1].

Two methods (`METHODS`):
- "vbp", VisualBackProp (Bojarski et al., "VisualBackProp: efficient visualization of CNNs",
  2016; the attention maps of Chahine et al. 2023): the image encoder's feature maps after
  each ReLU, averaged over channels and min-max normalised per layer, then from the deepest
  layer back: upsampled to the layer before and multiplied with it, and last upsampled to the
  image. It sees the convolutions only — the same for two policies with the same CNN.
- "ig", integrated gradients (Sundararajan et al. 2017, captum's `IntegratedGradients`) of
  the command through the whole policy — encoders, recurrent core from its state before the
  window, head — over the last `window` frames, from all-black frames to the frames seen. The
  scalar explained is the command's component along the command actually given (both divided
  by the limits): what made the policy fly the way it did. The map is |attribution| summed
  over the colour channels of the current (last) frame; a CfC and an LSTM with similar CNNs can
  differ here, through their cores.

Frames are RGB uint8 H x W x 3 of any size (resized to the network's input like `Policy.step`);
maps come back at the frame's size, float32, with maximum 1 (all zeros when nothing mattered).
`SaliencyMaker` makes them frame after frame along a flight; `overlay` draws a map over its frame
(attention figures, videos, the node's debug image).
"""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np
import torch
from captum.attr import IntegratedGradients
from torch import nn

from lnn_control.policy.encoders import ImageEncoder
from lnn_control.policy.network import PolicyNetwork

METHODS = ("vbp", "ig")
DEFAULT_WINDOW = 8        # frames (0.4 s at 20 Hz)
DEFAULT_IG_STEPS = 16     # points of the path integral (Gauss-Legendre)


def visual_backprop(encoder: ImageEncoder, image: np.ndarray) -> np.ndarray:
    """The VisualBackProp map of `image` (RGB uint8 H x W x 3) through `encoder`'s convolutions."""
    height, width = image.shape[:2]
    x = torch.from_numpy(_resize_frame(image, *encoder.input_size))[None]
    with torch.no_grad():
        x = encoder.normalize(x)
        averages = []
        for layer in encoder.convs:
            x = layer(x)
            if isinstance(layer, nn.ReLU):
                averages.append(_min_max(x[0].mean(dim=0)))
        mask = averages[-1]
        for average in reversed(averages[:-1]):
            mask = _resize(mask, average.shape) * average
        mask = _resize(mask, (height, width))
    return _unit_max(mask.numpy())


def integrated_gradients(net: PolicyNetwork, window: FrameWindow, n_steps: int = DEFAULT_IG_STEPS) -> np.ndarray:
    """The integrated-gradients map of the current (last) frame of `window` through all of `net`."""
    if len(window) == 0:
        raise ValueError("integrated_gradients: the frame window is empty (push a frame first)")
    images, imu, dt = window.tensors()
    limits = net.limits
    with torch.no_grad():
        flown = net(images, imu, dt, window.start_state)[0][0, -1] / limits
    direction = flown / flown.norm() if float(flown.norm()) > 1e-6 else torch.tensor([1.0, 0.0, 0.0, 0.0])

    def along_command(frames: torch.Tensor) -> torch.Tensor:
        n = frames.shape[0]
        cmd, _ = net(frames, imu.expand(n, -1, -1), dt.expand(n, -1), _repeat_state(window.start_state, n))
        return (cmd[:, -1] / limits) @ direction

    frames = images.to(limits.dtype).requires_grad_()
    with torch.enable_grad():
        attribution = IntegratedGradients(along_command).attribute(frames, baselines=torch.zeros_like(frames),
                                                                   n_steps=n_steps)
    current = attribution[0, -1].detach().abs().sum(dim=-1)
    height, width = window.frame_size
    return _unit_max(cv2.resize(current.numpy().astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR))


class SaliencyMaker:
    """Makes the maps of one network, method by method ("vbp", "ig"), frame after frame: `push`
    every observation of a flight in order, `maps()` when a frame is to be explained."""

    def __init__(self, net: PolicyNetwork, methods: tuple[str, ...], window: int = DEFAULT_WINDOW,
                 ig_steps: int = DEFAULT_IG_STEPS):
        unknown = [m for m in methods if m not in METHODS]
        if unknown:
            raise ValueError(f"saliency method {unknown[0]!r} is not one of {', '.join(METHODS)}")
        self.net = net
        self.methods = methods
        self.ig_steps = ig_steps
        self.window = FrameWindow(net, window) if "ig" in methods else None
        self._image: np.ndarray | None = None

    def reset(self) -> None:
        if self.window is not None:
            self.window.reset()

    def push(self, image: np.ndarray, imu, dt: float) -> None:
        self._image = image
        if self.window is not None:
            self.window.push(image, imu, dt)

    def maps(self) -> dict[str, np.ndarray]:
        """Each method's map (HxW in [0, 1]) of the frame pushed last."""
        made = {}
        for method in self.methods:
            if method == "vbp":
                made[method] = visual_backprop(self.net.image_encoder, self._image)
            else:
                made[method] = integrated_gradients(self.net, self.window, self.ig_steps)
        return made


class FrameWindow:
    """The last `length` observations of an episode and the policy's recurrent state before the
    first of them: what `integrated_gradients` explains. `push` each observation as the policy
    sees it (image RGB uint8 H x W x 3, imu [gx, gy, gz, ax, ay, az] rad/s and m/s^2, dt s);
    the state is advanced through `net.forward` as frames leave the window."""

    def __init__(self, net: PolicyNetwork, length: int = DEFAULT_WINDOW):
        if length < 1:
            raise ValueError(f"FrameWindow length must be at least 1 frame, got {length}")
        self.net = net
        self.length = length
        self.reset()

    def reset(self) -> None:
        """A new episode: no frames, the zero state."""
        self._frames: deque[tuple[np.ndarray, np.ndarray, float]] = deque()
        self.start_state = None
        self.frame_size = (0, 0)

    def __len__(self) -> int:
        return len(self._frames)

    def push(self, image: np.ndarray, imu, dt: float) -> None:
        spec = self.net.spec
        self.frame_size = image.shape[:2]
        resized = _resize_frame(image, spec.image_height, spec.image_width)
        self._frames.append((resized, np.asarray(imu, np.float32).reshape(6), float(dt)))
        if len(self._frames) > self.length:
            image0, imu0, dt0 = self._frames.popleft()
            with torch.no_grad():
                features = self.net.encode(torch.from_numpy(image0)[None], torch.from_numpy(imu0)[None],
                                           torch.tensor([dt0], dtype=torch.float32))
                timespan = torch.tensor([[dt0 / spec.nominal_dt]], dtype=features.dtype)
                _, self.start_state = self.net.core(features[:, None], timespan, self.start_state)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images uint8 [1, T, H, W, 3], imu float32 [1, T, 6], dt float32 [1, T]) of the window."""
        images = np.stack([f[0] for f in self._frames])
        imu = np.stack([f[1] for f in self._frames])
        dt = np.array([f[2] for f in self._frames], np.float32)
        return torch.from_numpy(images)[None], torch.from_numpy(imu)[None], torch.from_numpy(dt)[None]


def _repeat_state(state, n: int):
    """A batch-1 recurrent state (tensor, tuple of tensors, or None) repeated to batch n: [1, F]
    states batch along dim 0 (CfC, LTC), torch RNN states [1, 1, F] along dim 1 (LSTM, GRU)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(_repeat_state(s, n) for s in state)
    return state.expand(n, -1) if state.dim() == 2 else state.expand(-1, n, -1).contiguous()


def _resize_frame(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"saliency needs an RGB uint8 H x W x 3 frame, got {image.dtype} {image.shape}")
    if image.shape[:2] != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image)


def _resize(mask: torch.Tensor, size) -> torch.Tensor:
    return nn.functional.interpolate(mask[None, None], size=tuple(size), mode="bilinear", align_corners=False)[0, 0]


def _min_max(x: torch.Tensor) -> torch.Tensor:
    span = x.max() - x.min()
    return (x - x.min()) / span if float(span) > 0 else torch.zeros_like(x)


def _unit_max(mask: np.ndarray) -> np.ndarray:
    mask = np.nan_to_num(np.asarray(mask, np.float32), nan=0.0, posinf=0.0, neginf=0.0).clip(min=0.0)
    peak = float(mask.max()) if mask.size else 0.0
    return mask / peak if peak > 0 else np.zeros_like(mask)


def overlay(image: np.ndarray, saliency: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """`image` (RGB uint8 H x W x 3) with `saliency` (a map in [0, 1], any size: resized) blended
    over it in the jet colour map (blue: 0, red: 1) with opacity `alpha` × the map's value."""
    height, width = image.shape[:2]
    saliency = np.clip(np.nan_to_num(np.asarray(saliency, np.float32)), 0.0, 1.0)
    if saliency.shape != (height, width):
        saliency = cv2.resize(saliency, (width, height), interpolation=cv2.INTER_LINEAR)
    heat = cv2.cvtColor(cv2.applyColorMap(np.round(saliency * 255).astype(np.uint8), cv2.COLORMAP_JET),
                        cv2.COLOR_BGR2RGB)
    weight = (alpha * saliency)[..., None]
    return np.round(image * (1.0 - weight) + heat * weight).astype(np.uint8)
