"""An exported policy: a directory holding `policy.onnx` and `policy.json`, read without torch.

`lnn-control export FILE.pt --out DIR` writes it (`lnn_control.policy.export`):
- `policy.onnx`: the single step `step(image, imu, dt, state) -> (cmd, new_state)` (see
  `export.py`), normalisation and limits inside; its metadata entry `HEADER_DIGEST_KEY` is the
  SHA-256 of the checkpoint header below (canonical JSON), which binds the two files together;
- `policy.json`: the checkpoint's header as it is (spec, input spec, normalisation, command
  limits, training, provenance) plus `export`: format and version, the ONNX file's name and
  SHA-256, the state size S, the opset, the source checkpoint (name, SHA-256), and the check
  made at export time (largest |command difference| to the torch runtime, and over how many steps).

`read_bundle(path)` checks everything a runtime relies on and raises `ExportError` naming the
file and the field: a missing file or field, a SHA-256 that does not match (either file edited
or swapped), a spec that does not parse, a normalisation or limits of the wrong length or not
finite, graph inputs or outputs of other names, types or shapes. No pickled code is involved
anywhere: JSON and an ONNX protobuf.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from lnn_control.policy.digest import bytes_sha256
from lnn_control.policy.spec import PolicySpec

EXPORT_FORMAT = "lnn_control.policy.onnx"
EXPORT_FORMAT_VERSION = 1
MODEL_FILE = "policy.onnx"
HEADER_FILE = "policy.json"
HEADER_DIGEST_KEY = "lnn_control.header_sha256"
INPUT_NAMES = ("image", "imu", "dt", "state")
OUTPUT_NAMES = ("cmd", "new_state")


class ExportError(ValueError):
    """An exported policy that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Bundle:
    """A checked export: where it is, what it holds, and the ONNX bytes the SHA-256 was checked on."""

    header_path: Path
    model_path: Path
    header: dict             # policy.json as read
    spec: PolicySpec
    state_size: int
    limits: tuple[float, float, float, float]
    model_bytes: bytes


def canonical_json(value) -> str:
    """The one text of a JSON value that digests are taken of (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def header_digest(header: dict) -> str:
    """SHA-256 of the checkpoint header part of a policy.json (everything but `export`)."""
    return bytes_sha256(canonical_json({k: v for k, v in header.items() if k != "export"}).encode())


def header_path_of(path) -> Path:
    """policy.json of an export directory, or `path` itself when it names the .json file."""
    path = Path(path)
    return path / HEADER_FILE if path.is_dir() else path


def is_export(path) -> bool:
    """Whether `path` names an exported policy (a directory, or a .json file) rather than a checkpoint."""
    path = Path(path)
    return path.is_dir() or path.suffix == ".json"


def read_bundle(path) -> Bundle:
    """The checked export at `path` (its directory or its policy.json); ExportError if unusable."""
    header_path = header_path_of(path)
    if not header_path.is_file():
        raise ExportError(f"{header_path}: not found (an export directory holds {MODEL_FILE} and {HEADER_FILE}, "
                          f"written by `lnn-control export FILE.pt --out DIR`)")
    try:
        header = json.loads(header_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ExportError(f"{header_path}: not readable as JSON: {error}") from None
    if not isinstance(header, dict):
        raise ExportError(f"{header_path}: not an exported policy header (a JSON object)")
    fields = _Fields(header_path, header)
    export = fields.mapping("export")
    if export.get("format") != EXPORT_FORMAT:
        raise ExportError(f"{header_path}: field export.format is {export.get('format')!r}, not {EXPORT_FORMAT!r}")
    version = fields.integer("export.format_version", low=1)
    if version != EXPORT_FORMAT_VERSION:
        raise ExportError(f"{header_path}: field export.format_version is {version}; this lnn_control reads "
                          f"{EXPORT_FORMAT_VERSION} (export the checkpoint again)")
    try:
        spec = PolicySpec.from_dict(fields.mapping("spec"), source=f"{header_path}: field spec")
    except (TypeError, ValueError) as error:
        raise ExportError(f"{header_path}: field spec: {error}") from None
    fields.numbers("normalization.imu_mean", 6)
    fields.numbers("normalization.imu_std", 6, positive=True)
    fields.numbers("normalization.image_mean", 3)
    fields.numbers("normalization.image_std", 3, positive=True)
    limits = tuple(fields.numbers("command.limits", 4, positive=True))
    if limits != spec.limits:
        raise ExportError(f"{header_path}: field command.limits {list(limits)} disagrees with the spec's "
                          f"{list(spec.limits)}")
    state_size = fields.integer("export.state_size", low=1)
    sha256 = fields.text("export.sha256")
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ExportError(f"{header_path}: field export.sha256 is not a hex SHA-256: {sha256!r}")
    model_name = fields.text("export.model")
    if Path(model_name).name != model_name:
        raise ExportError(f"{header_path}: field export.model must be a file name next to it, got {model_name!r}")
    model_path = header_path.parent / model_name
    try:
        model_bytes = model_path.read_bytes()
    except FileNotFoundError:
        raise ExportError(f"{model_path}: not found (named by field export.model of {header_path})") from None
    except OSError as error:
        raise ExportError(f"{model_path}: not readable: {error.strerror or error}") from None
    actual = bytes_sha256(model_bytes)
    if actual != sha256:
        raise ExportError(f"{model_path}: SHA-256 {actual} does not match field export.sha256 {sha256} of "
                          f"{header_path} (a file was changed or swapped; export again)")
    return Bundle(header_path, model_path, header, spec, state_size, limits, model_bytes)


def check_graph(bundle: Bundle, session) -> None:
    """ExportError naming the ONNX file when `session` (an onnxruntime InferenceSession of the
    bundle's model) is not the step the header describes: names, types and shapes of its inputs
    and outputs, and the header digest in its metadata."""
    spec, size = bundle.spec, bundle.state_size
    expected_inputs = {"image": ("tensor(uint8)", [1, spec.image_height, spec.image_width, 3]),
                       "imu": ("tensor(float)", [1, 6]), "dt": ("tensor(float)", [1]),
                       "state": ("tensor(float)", [1, size])}
    expected_outputs = {"cmd": ("tensor(float)", [spec.ensemble, 4]), "new_state": ("tensor(float)", [1, size])}
    for role, expected, actual in (("input", expected_inputs, session.get_inputs()),
                                   ("output", expected_outputs, session.get_outputs())):
        found = {arg.name: (arg.type, list(arg.shape)) for arg in actual}
        if list(found) != list(expected):
            raise ExportError(f"{bundle.model_path}: graph {role}s are {list(found)}, expected {list(expected)}")
        for name, (kind, shape) in expected.items():
            if found[name] != (kind, shape):
                raise ExportError(f"{bundle.model_path}: graph {role} {name} is {found[name][0]} {found[name][1]}, "
                                  f"expected {kind} {shape} (from spec and export.state_size of {bundle.header_path})")
    recorded = session.get_modelmeta().custom_metadata_map.get(HEADER_DIGEST_KEY)
    if recorded != header_digest(bundle.header):
        raise ExportError(f"{bundle.header_path}: the header (spec, normalization, command, ...) is not the one "
                          f"{bundle.model_path} was exported with (metadata {HEADER_DIGEST_KEY}); export again")


class _Fields:
    """Typed reads of dotted fields of a header, each error naming the file and the field."""

    def __init__(self, path: Path, header: dict):
        self.path, self.header = path, header

    def get(self, dotted: str):
        value = self.header
        for part in dotted.split("."):
            if not isinstance(value, dict) or part not in value:
                raise ExportError(f"{self.path}: missing field {dotted}")
            value = value[part]
        return value

    def mapping(self, dotted: str) -> dict:
        value = self.get(dotted)
        if not isinstance(value, dict):
            raise ExportError(f"{self.path}: field {dotted} must be an object, got {value!r}")
        return value

    def integer(self, dotted: str, low: int) -> int:
        value = self.get(dotted)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ExportError(f"{self.path}: field {dotted} must be an integer >= {low}, got {value!r}")
        return value

    def text(self, dotted: str) -> str:
        value = self.get(dotted)
        if not isinstance(value, str) or not value:
            raise ExportError(f"{self.path}: field {dotted} must be a non-empty string, got {value!r}")
        return value

    def numbers(self, dotted: str, count: int, positive: bool = False) -> list[float]:
        value = self.get(dotted)
        def finite(v) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        if not isinstance(value, list) or len(value) != count or not all(map(finite, value)):
            raise ExportError(f"{self.path}: field {dotted} must be {count} finite numbers, got {value!r}")
        if positive and not all(v > 0 for v in value):
            raise ExportError(f"{self.path}: field {dotted} must be > 0, got {value!r}")
        return [float(v) for v in value]
