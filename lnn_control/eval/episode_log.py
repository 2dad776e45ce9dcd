"""The on-disk record of a run in `--out DIR`, written as it goes so nothing finished is lost.

- `DIR/run.json`: the plan's identity (policies with checkpoint hashes, worlds, conditions,
  first seed), written when the run starts; `--resume` refuses a different plan.
- `DIR/episodes.jsonl`: one JSON line per finished episode, appended and flushed to disk
  the moment it finishes. A line cut short by a crash is ignored when read back (that
  episode is flown again).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from lnn_control.eval.episode_record import EpisodeRecord

MANIFEST = "run.json"
EPISODES = "episodes.jsonl"


class RunDirectoryError(ValueError):
    """`--out` holds a different run, or a run that --resume was not asked to continue."""


class EpisodeLog:
    """Appends `EpisodeRecord`s to `DIR/episodes.jsonl`, one durable line each."""

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / EPISODES

    def read(self) -> list[EpisodeRecord]:
        """The records on disk, later ones winning. A line that is not JSON is a write torn by
        a crash (that episode is simply flown again); JSON that is not a record is an error."""
        if not self.path.is_file():
            return []
        records: dict[tuple, EpisodeRecord] = {}
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            try:
                values = json.loads(line)
            except ValueError:
                continue
            try:
                record = EpisodeRecord.from_dict(values)
            except (ValueError, TypeError) as error:
                raise RunDirectoryError(f"{self.path}: line {number} is not an episode record ({error})") from None
            records[record.key] = record
        return list(records.values())

    def append(self, record: EpisodeRecord) -> None:
        line = json.dumps(record.to_dict(), allow_nan=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as stream:
            stream.seek(0, os.SEEK_END)
            if stream.tell() and not self._ends_with_newline(stream):
                stream.write(b"\n")  # close a line torn by an earlier crash
            stream.write(line.encode())
            stream.flush()
            os.fsync(stream.fileno())

    @staticmethod
    def _ends_with_newline(stream) -> bool:
        stream.seek(-1, os.SEEK_END)
        last = stream.read(1)
        stream.seek(0, os.SEEK_END)
        return last == b"\n"


def open_run(out_dir: str | Path, identity: dict, resume: bool) -> EpisodeLog:
    """Prepare `out_dir` for the run with this `identity` and return its episode log.

    A fresh run needs a folder without an episode log; `resume` needs one from the same plan.
    """
    out_dir = Path(out_dir)
    manifest = out_dir / MANIFEST
    log = EpisodeLog(out_dir)
    if resume:
        if not manifest.is_file():
            raise RunDirectoryError(f"--resume: {out_dir} holds no run to continue ({MANIFEST} not found)")
        earlier = json.loads(manifest.read_text())
        for field in identity:
            if earlier.get(field) != identity[field]:
                raise RunDirectoryError(f"--resume: {out_dir} holds a different run ({field} differ: "
                                        f"{earlier.get(field)} there, {identity[field]} now)")
        return log
    if log.path.is_file() and log.path.stat().st_size:
        raise RunDirectoryError(f"{out_dir} already holds an evaluation ({EPISODES}); pass --resume to continue "
                                f"it or choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(identity, indent=2) + "\n")
    return log
