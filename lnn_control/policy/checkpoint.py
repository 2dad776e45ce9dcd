"""Checkpoints: one file with a JSON header and the weights, loaded without running pickled code.

The file is a `torch.save` of `{"header": <JSON text>, "state_dict": {name: tensor}}`, read
back with `torch.load(weights_only=True)`, which only rebuilds tensors and plain
containers. The header says what the weights are: format version, model kind and sizes
(the `PolicySpec`), the input spec, the normalisation, the command limits, the training
configuration and the data provenance. A checkpoint whose `training` is null makes no
claim that the weights were trained. An ensemble's members are all in the weights (member 0 as
`core.*`/`head.*`, the others as `other_members.<i>.*`) and their number in the spec's
`ensemble`; a header without it (every checkpoint from before ensembles) is a single policy.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from lnn_control.policy.network import PolicyNetwork
from lnn_control.policy.spec import COMMAND_FIELDS, IMU_FIELDS, PolicySpec

FORMAT = "lnn_control.policy"
FORMAT_VERSION = 2
# What changed in each version, for the message that refuses an older file.
OLDER_VERSIONS = {1: "its image encoder had no layer norm before the feature tanh"}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file and the problem."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint file does not exist."""


def make_header(net: PolicyNetwork, training: dict | None = None, provenance: dict | None = None) -> dict:
    """The JSON-able description of `net` written in front of its weights."""
    spec = net.spec
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": spec.kind,
        "spec": spec.to_dict(),
        "parameter_count": net.parameter_count(),
        "core_parameter_count": net.core_parameter_count(),
        "state_size": net.core.state_size,  # of one member
        "ensemble_members": spec.ensemble,
        "input_spec": {
            "image": {"height": spec.image_height, "width": spec.image_width, "channels": 3,
                      "dtype": "uint8", "encoding": "rgb8"},
            "imu": {"fields": list(IMU_FIELDS), "units": ["rad/s"] * 3 + ["m/s^2"] * 3, "frame": "body FLU"},
            "dt": {"units": "s", "nominal": spec.nominal_dt},
        },
        "normalization": {
            "imu_mean": net.imu_encoder.mean.tolist(),
            "imu_std": net.imu_encoder.std.tolist(),
            "image_mean": net.image_encoder.mean.flatten().tolist(),
            "image_std": net.image_encoder.std.flatten().tolist(),
        },
        "command": {"fields": list(COMMAND_FIELDS), "units": ["m/s"] * 3 + ["rad/s"],
                    "frame": "heading (body without roll/pitch), FLU", "limits": list(spec.limits)},
        "training": training,
        "provenance": provenance,
    }


def save_checkpoint(path, net: PolicyNetwork, training: dict | None = None,
                    provenance: dict | None = None) -> Path:
    """Write `net` to `path` (one file, written atomically). `training` (the training
    configuration and results) and `provenance` (data sources) must be JSON-able; leave
    `training` None for weights that were not trained."""
    path = Path(path)
    header = make_header(net, training, provenance)
    try:
        header_text = json.dumps(header, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: checkpoint header (training/provenance) is not JSON-able: {error}") from None
    state_dict = {name: tensor.detach().cpu().contiguous() for name, tensor in net.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save({"header": header_text, "state_dict": state_dict}, partial)
    os.replace(partial, path)
    return path


def read_header(path) -> dict:
    """Only the header of the checkpoint at `path` (validated like `load_checkpoint`)."""
    return _read(Path(path))[0]


def load_checkpoint(path, map_location: str = "cpu") -> tuple[PolicyNetwork, dict]:
    """(network in eval mode, header) from the checkpoint at `path`; CheckpointError if the
    file is missing, not a checkpoint, from a newer format, or its weights do not fit."""
    path = Path(path)
    header, state_dict = _read(path, map_location)
    try:
        spec = PolicySpec.from_dict(header["spec"], source=str(path))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: invalid policy spec in checkpoint header: {error}") from None
    net = PolicyNetwork(spec)
    try:
        net.load_state_dict(state_dict)
    except RuntimeError as error:
        detail = " ".join(str(error).split())
        raise CheckpointError(f"{path}: weights do not fit a {spec.kind} policy of this spec: {detail}") from None
    return net.eval(), header


def _read(path: Path, map_location: str = "cpu") -> tuple[dict, dict]:
    if not path.exists():
        raise CheckpointNotFoundError(f"{path}: checkpoint file not found")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read checkpoint file: {error.strerror or error}") from None
    except Exception as error:  # weights_only unpickling of arbitrary bytes fails in many ways
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path}: not an lnn_control checkpoint (torch.load with weights_only "
                              f"failed: {first_line})") from None
    if not isinstance(payload, dict) or "header" not in payload or "state_dict" not in payload:
        raise CheckpointError(f"{path}: not an lnn_control checkpoint (no header and state_dict)")
    try:
        header = json.loads(payload["header"])
    except (TypeError, ValueError):
        raise CheckpointError(f"{path}: not an lnn_control checkpoint (header is not JSON)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an lnn_control checkpoint (format is not {FORMAT!r})")
    version = header.get("format_version")
    if not isinstance(version, int):
        raise CheckpointError(f"{path}: checkpoint header has no integer format_version")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {version} is newer than this lnn_control "
                              f"reads (up to {FORMAT_VERSION}); upgrade lnn_control")
    if version < FORMAT_VERSION:
        why = OLDER_VERSIONS.get(version, "its network layout differs")
        raise CheckpointError(f"{path}: checkpoint format version {version} is older than this lnn_control "
                              f"reads ({FORMAT_VERSION}: {why}); retrain it with `lnn-control train`")
    state_dict = payload["state_dict"]
    if not isinstance(state_dict, dict) or not all(isinstance(t, torch.Tensor) for t in state_dict.values()):
        raise CheckpointError(f"{path}: checkpoint state_dict is not a mapping of tensors")
    return header, state_dict
