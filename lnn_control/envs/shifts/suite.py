"""Evaluation suites (config/eval_suites.yaml): named conditions, each a set of shifts.

    suites:
      NAME:
        description: free text
        conditions:                      # condition name -> {shift: severity in [0, 1]}
          CONDITION: {SHIFT: SEVERITY}   # {} or nothing: no shift

The file is read and checked with `lnn_control.config_file`: a bad file is a `ConfigError`
(a ValueError) naming the file and the field, e.g.
`eval_suites.yaml: suites.quick.conditions.fog_wind.fgo: unknown shift; valid shifts: autumn, ...`.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lnn_control.config_file import Fields, read_yaml
from lnn_control.envs.shifts.registry import SHIFTS


@dataclass(frozen=True)
class Condition:
    """A named evaluation condition: the shifts applied together. Iterating gives the shifts."""

    name: str
    shifts: tuple[tuple[str, float], ...]

    def __iter__(self) -> Iterator[tuple[str, float]]:
        return iter(self.shifts)

    def __len__(self) -> int:
        return len(self.shifts)


def load_suite(path: str | Path, name: str = "standard") -> list[Condition]:
    """The conditions of suite `name` in the YAML file `path`, in the file's order.

    Raises FileNotFoundError, or ConfigError naming the file and the offending field.
    """
    f = Fields(path)
    document = f.mapping("", read_yaml(path, "suite file"), {"suites"}, {"suites"})
    suites = f.mapping("suites", document["suites"])
    if name not in suites:
        raise f.error("suites", f"no suite {name!r}; suites in this file: {', '.join(map(str, suites)) or 'none'}")
    field = f"suites.{name}"
    suite = f.mapping(field, suites[name], {"description", "conditions"}, {"conditions"})
    if "description" in suite:
        f.text(f"{field}.description", suite["description"])
    conditions = f.mapping(f"{field}.conditions", suite["conditions"])
    if not conditions:
        raise f.error(f"{field}.conditions", "expected at least one condition")
    return [_condition(f, f"{field}.conditions.{cname}", str(cname), spec) for cname, spec in conditions.items()]


def _condition(f: Fields, field: str, name: str, spec: Any) -> Condition:
    """One condition: {shift: severity} ({} or nothing for no shift)."""
    shifts = f.mapping(field, {} if spec is None else spec, set(SHIFTS), keys="shift")
    return Condition(name, tuple((str(shift), f.number(f"{field}.{shift}", severity, 0.0, 1.0))
                                 for shift, severity in shifts.items()))
