"""How well an attention map agrees with where the target is, and with itself under a shift.

- `attention_auc(saliency, mask)`: the ROC AUC of the map's values as a detector of the target's
  pixels (every pixel one sample, the target mask the truth): 1 when every target pixel scores
  above every other pixel, 0.5 for a map that does not tell them apart (a constant one), 0 when
  it points everywhere but the target. Ties count half (the Mann-Whitney U statistic).
- `peak_on_target(saliency, mask)`: the pointing game (Zhang et al. 2016): whether the map's
  highest pixel lies on the target (or within `POINTING_TOLERANCE_PX` of it). The AUC ranks every
  pixel, so a map whose blur spills from a nearby red object onto the target still scores high;
  the peak says where the map points.
- `centre_prior(height, width)`: the map of a viewer who only ever looks at the image centre (minus
  each pixel's distance from it): the reference an attention map must beat, since a drone flying
  to its target keeps it near the middle of the view.
- `structural_similarity(a, b)`: SSIM (Wang et al. 2004) of two maps in [0, 1]: Gaussian window
  sigma 1.5 px (11 x 11), K1 = 0.01, K2 = 0.03, data range 1, mean over the image.
- `cluster_bootstrap_interval(groups)`: a 95% percentile-bootstrap interval of the mean of all
  values, resampling whole groups (episodes: frames of one flight are not independent).
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

BOOTSTRAP_RESAMPLES = 2000
POINTING_TOLERANCE_PX = 1   # the peak may miss the target's pixels by this much (the camera is 64 x 48)


def attention_auc(saliency: np.ndarray, mask: np.ndarray) -> float:
    """ROC AUC of `saliency` (HxW, any real scores) against `mask` (HxW bool, True on the target).
    ValueError if the shapes differ or the mask is all True or all False (no AUC is defined)."""
    scores = np.asarray(saliency, np.float64).ravel()
    truth = np.asarray(mask, bool).ravel()
    if scores.shape != truth.shape:
        raise ValueError(f"attention_auc: map of shape {np.shape(saliency)} and mask of shape {np.shape(mask)}")
    positives = int(truth.sum())
    negatives = truth.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError(f"attention_auc: the mask has {positives} target pixels of {truth.size}; "
                         "it needs both target and other pixels")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0          # 1-based ranks, ties averaged
    rank_sum = float(average_rank[inverse][truth].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def peak_on_target(saliency: np.ndarray, mask: np.ndarray, tolerance_px: int = POINTING_TOLERANCE_PX) -> bool:
    """Whether the highest value of `saliency` (HxW; the first of equal highest) is on `mask`
    (HxW bool) grown by `tolerance_px` pixels in every direction."""
    saliency, mask = np.asarray(saliency), np.asarray(mask, bool)
    if saliency.shape != mask.shape:
        raise ValueError(f"peak_on_target: map of shape {saliency.shape} and mask of shape {mask.shape}")
    row, col = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
    t = tolerance_px
    return bool(mask[max(0, row - t):row + t + 1, max(0, col - t):col + t + 1].any())


def centre_prior(height: int, width: int) -> np.ndarray:
    """HxW map: minus each pixel centre's distance (px) from the image centre (any map that falls
    with that distance ranks the pixels alike, so it has the same `attention_auc`)."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    return -np.hypot(rows + 0.5 - height / 2.0, cols + 0.5 - width / 2.0)


def structural_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The mean SSIM of maps `a` and `b` (HxW, values in [0, 1]); 1 for identical maps."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"structural_similarity: needs two HxW maps of one shape, got {a.shape} and {b.shape}")
    c1, c2 = 0.01 ** 2, 0.03 ** 2

    def blur(x):
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(ssim.mean())


def cluster_bootstrap_interval(groups: Sequence[Sequence[float]], seed: int = 0,
                               resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float] | None:
    """95% interval of the pooled mean of `groups`' values, resampling groups with replacement;
    None when fewer than two groups hold values (nothing to resample)."""
    groups = [np.asarray(g, np.float64) for g in groups if len(g)]
    if len(groups) < 2:
        return None
    sums = np.array([g.sum() for g in groups])
    sizes = np.array([g.size for g in groups])
    picks = np.random.default_rng(seed).integers(0, len(groups), (resamples, len(groups)))
    means = sums[picks].sum(axis=1) / sizes[picks].sum(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)
