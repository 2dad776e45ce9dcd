"""Observation encoders: camera image → features, IMU vector → features.

Input normalisation lives inside these modules (as buffers saved with the weights), so a
checkpoint maps raw sensor values to commands without any outside preprocessing.
"""
from __future__ import annotations

import torch
from torch import nn


class ImageEncoder(nn.Module):
    """A small strided CNN: RGB uint8 [N, H, W, 3] → features [N, features] in (-1, 1).

    Four stride-2 convolutions (48x64 → 3x4 cells) keep the spatial layout, which says where
    obstacles are, and keep one frame well under a millisecond on one CPU core. The projection
    is layer-normalised before its tanh: without that, training drove every pre-activation far
    into tanh's flat tails within the first epochs, the features stopped changing with the image
    and no gradient could bring them back (the policy then flew on its IMU alone)."""

    def __init__(self, height: int, width: int, features: int):
        super().__init__()
        self.input_size = (height, width)  # pixels: the frames it takes
        self.register_buffer("mean", torch.full((1, 3, 1, 1), 0.5))
        self.register_buffer("std", torch.full((1, 3, 1, 1), 0.25))
        self.convs = nn.Sequential(
            nn.Conv2d(3, 16, 5, stride=2, padding=2), nn.ReLU(inplace=True),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Flatten(),
        )
        # the frames arrive channel-last; kernels in the same layout save a reorder per convolution
        self.convs.to(memory_format=torch.channels_last)
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, 3, height, width)).shape[1]
        self.project = nn.Sequential(nn.Linear(flat, features), nn.LayerNorm(features), nn.Tanh())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.project(self.convs(self.normalize(images)))

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """RGB uint8 [N, H, W, 3] → standardised float [N, 3, H, W]: (x / 255 - mean) / std, in
        one pass over the pixels in their own (channel-last) order, which the convolutions take
        as it is (a channels-last view). Each image row is one vector of W x 3 values, with the
        channels' scale and shift repeated along it: a broadcast over 3 values alone is several
        times slower."""
        n, height, width, channels = images.shape
        scale = (1.0 / (255.0 * self.std)).reshape(channels).repeat(width)
        shift = (-self.mean / self.std).reshape(channels).repeat(width)
        rows = images.reshape(n, height, width * channels).to(scale.dtype)
        return torch.addcmul(shift, rows, scale).reshape(n, height, width, channels).permute(0, 3, 1, 2)


class ImuEncoder(nn.Module):
    """IMU [.., 6] (rad/s, m/s^2) → standardised with the training data's statistics → features."""

    def __init__(self, features: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(6))
        self.register_buffer("std", torch.ones(6))
        self.project = nn.Sequential(nn.Linear(6, features), nn.Tanh())

    def set_normalization(self, mean, std) -> None:
        """Use per-component `mean` and `std` (6 finite values each, std > 0)."""
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        if mean.numel() != 6 or std.numel() != 6:
            raise ValueError(f"IMU normalisation needs 6 values each, got mean {mean.numel()} and std {std.numel()}")
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all() and (std > 0).all()):
            raise ValueError(f"IMU normalisation must be finite with std > 0, got mean {mean.tolist()} "
                             f"std {std.tolist()}")
        self.mean.copy_(mean)
        self.std.copy_(std)

    def forward(self, imu: torch.Tensor) -> torch.Tensor:
        return self.project((imu - self.mean) / self.std)
