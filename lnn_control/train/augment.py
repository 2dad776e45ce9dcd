"""Training-batch augmentations: applied to the data before the network, so identically for
every model kind. Each window gets one draw (brightness, contrast, grey, mirror), consistent
across its frames as a real change of scene or sensor would be; noise is drawn per frame.
A grey window has every pixel's luma (ITU-R BT.601 weights) in all three channels, so that
obstacles must be told by shape and shading rather than by their colour.

Mirroring left/right (y → -y in the body frame FLU) flips the image columns and, to stay
physically consistent, negates vy and yaw_rate in the command and gx, gz (angular velocity is
a pseudovector) and ay in the IMU.

Dropping frames (`frame_drops`) shows the network the elapsed times it meets when camera frames
are lost at run time: it is off in the recipe, where every frame arrives at the nominal rate
and a CfC's timespan is always 1.
"""
from __future__ import annotations

import torch

from lnn_control.envs.shifts.timing import FrameDrops
from lnn_control.train.config import AugmentConfig

_MIRROR_IMU = torch.tensor([-1.0, 1.0, -1.0, 1.0, -1.0, 1.0])
_MIRROR_CMD = torch.tensor([1.0, -1.0, 1.0, -1.0])
_LUMA = torch.tensor([0.299, 0.587, 0.114])
FRAME_KEYS = ("images", "imu", "dt", "cmd", "mask")   # a batch's per-frame tensors, [B, T, ...]


def augment_batch(batch: dict[str, torch.Tensor], config: AugmentConfig, imu_std: torch.Tensor,
                  generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Augmented copy of a batch (images uint8 [B,T,H,W,3], imu [B,T,6], cmd [B,T,4], ...).

    The image changes are one pass over the pixels: contrast and brightness fold into one
    affine map per window (b * (c * (p - mean) + mean) = b*c * p + b * mean * (1 - c)), applied
    in place with the noise; random draws are taken in a fixed order (grey, contrast,
    brightness, pixel noise, IMU noise, mirror, frame drops)."""
    images, imu, cmd = batch["images"], batch["imu"], batch["cmd"]
    batch_size = images.shape[0]
    out = dict(batch)

    def uniform(scale: float) -> torch.Tensor:  # one factor per window, in [1 - scale, 1 + scale]
        return 1.0 + scale * (2.0 * torch.rand(batch_size, generator=generator) - 1.0)

    if config.brightness or config.contrast or config.image_noise or config.greyscale:
        pixels = images.to(torch.float32)
        view = (batch_size, 1, 1, 1, 1)
        if config.greyscale:
            grey = (torch.rand(batch_size, generator=generator) < config.greyscale).view(view)
            pixels = torch.where(grey, (pixels * _LUMA).sum(-1, keepdim=True).expand_as(pixels), pixels)
        gain, offset = torch.ones(batch_size), torch.zeros(batch_size)
        if config.contrast:
            contrast = uniform(config.contrast)
            gain, offset = contrast, pixels.mean(dim=(1, 2, 3, 4)) * (1.0 - contrast)
        if config.brightness:
            brightness = uniform(config.brightness)
            gain, offset = gain * brightness, offset * brightness
        pixels.mul_(gain.view(view)).add_(offset.view(view))
        if config.image_noise:
            pixels.add_(torch.randn(pixels.shape, generator=generator), alpha=255.0 * config.image_noise)
        images = pixels.clamp_(0, 255).round_().to(torch.uint8)
    else:
        images = images.clone()
    if config.imu_noise:
        imu = imu + torch.randn(imu.shape, generator=generator) * (config.imu_noise * imu_std)
    if config.hflip:
        mirror = torch.rand(batch_size, generator=generator) < config.hflip
        if mirror.any():
            images[mirror] = images[mirror].flip(3)
            imu = torch.where(mirror.view(-1, 1, 1), imu * _MIRROR_IMU, imu)
            cmd = torch.where(mirror.view(-1, 1, 1), cmd * _MIRROR_CMD, cmd)
    out.update(images=images, imu=imu, cmd=cmd)
    if config.frame_drops:
        out = drop_frames(out, config.frame_drops, generator)
    return out


def drop_frames(batch: dict[str, torch.Tensor], probability: float,
                generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Frames dropped as the frame_drops shift drops them at run time (`FrameDrops`): every
    real frame after a window's first is dropped with `probability`, at most
    FrameDrops.max_consecutive_drops in a row. The frames kept move to the front of their
    window in order, each with dt (s) the time since the kept frame before it (its own dt and
    those of the frames dropped just before it); the window ends in padding (mask 0, dt the
    last kept frame's)."""
    dt, mask = batch["dt"], batch["mask"]
    windows, length = dt.shape
    drop = (torch.rand(windows, length, generator=generator) < probability) & (mask > 0)
    drop[:, 0] = False
    in_a_row = torch.zeros(windows, dtype=torch.long)
    for t in range(1, length):
        drop[:, t] &= in_a_row < FrameDrops.max_consecutive_drops
        in_a_row = torch.where(drop[:, t], in_a_row + 1, 0)
    order = torch.argsort(drop.to(torch.int8), dim=1, stable=True)   # kept frames first, in order
    kept = (~drop).sum(dim=1, keepdim=True)
    real = torch.arange(length)[None] < kept
    out = dict(batch)
    for key in FRAME_KEYS:
        value = batch[key]
        index = order.view(windows, length, *([1] * (value.dim() - 2))).expand_as(value)
        out[key] = value.gather(1, index)
    elapsed = dt.cumsum(dim=1).gather(1, order)   # s from the window's start to each kept frame
    new_dt = torch.cat([dt[:, :1], elapsed[:, 1:] - elapsed[:, :-1]], dim=1)
    last = new_dt.gather(1, kept - 1)
    out["dt"] = torch.where(real, new_dt, last)
    out["mask"] = torch.where(real, out["mask"], torch.zeros_like(out["mask"]))
    return out
