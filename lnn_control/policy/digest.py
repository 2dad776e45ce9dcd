"""SHA-256 of files and bytes: how checkpoints, evaluations and exports name exactly what they used."""
from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path) -> str:
    """The SHA-256 of the file at `path` (hex)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bytes_sha256(data: bytes) -> str:
    """The SHA-256 of `data` (hex)."""
    return hashlib.sha256(data).hexdigest()
