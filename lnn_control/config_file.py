"""Reading and validating the package's YAML files: worlds, training configs, evaluation suites.

One loader and one validator, so that every bad file is reported the same way: a
`ConfigError` (a ValueError) with the one-line message `"{file}: {field}: {problem}"` —
`file` as given, `field` the dotted path to the value with list indices
(`obstacles[0].kind`, `suites.quick.conditions.fog_wind.wind`; `(top level)` for the document
itself, `line L, column C` for a YAML syntax error) and what is wrong with it.

    document = read_yaml(path, "world file")        # FileNotFoundError / ConfigError
    fields = Fields(path)
    target = fields.mapping("target", document["target"], allowed={"distance", "size"})
    size_m = fields.number("target.size", target.get("size", 0.5), 0.05, 5.0)

A dataclass section is read from its typed fields (`Fields.dataclass`): each key of the
mapping is a field, checked by its annotation (int, float, bool, str, Optional[...], or a
nested dataclass) and by the bounds or options declared with `setting(...)`:

    @dataclass(frozen=True)
    class OptimConfig:
        epochs: int = setting(30, low=1)
        lr: float = setting(3e-3, above=0)

This module imports nothing else of lnn_control: sim, policy, data, envs and train build on it.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable, Collection
from pathlib import Path
from types import UnionType
from typing import Any

import yaml

RGB = tuple[float, float, float]
Range = tuple[float, float]

TOP_LEVEL = "(top level)"
_RULE = "lnn_control.config_file.rule"


class ConfigError(ValueError):
    """A configuration value that is not valid: `"{file}: {field}: {problem}"`, one line."""

    def __init__(self, file: Any, field: str, problem: str):
        self.file, self.field, self.problem = str(file), field or TOP_LEVEL, " ".join(str(problem).split())
        super().__init__(f"{self.file}: {self.field}: {self.problem}")

    def __reduce__(self):  # picklable (errors cross process pools) despite the three arguments
        return type(self), (self.file, self.field, self.problem)


def read_yaml(path: str | Path, what: str, error_type: type[ConfigError] = ConfigError) -> Any:
    """The document in the YAML file `path` (None when empty); `what` names it in errors.

    Raises FileNotFoundError naming the file when it cannot be read, and `error_type` (a
    ConfigError) when it is not YAML, naming the line and column.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise FileNotFoundError(f"{path}: cannot read {what}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise error_type(path, TOP_LEVEL, f"not valid YAML: {what} is not UTF-8 text") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else TOP_LEVEL
        raise error_type(path, where, f"not valid YAML: {getattr(error, 'problem', None) or error}") from None


@dataclasses.dataclass(frozen=True)
class Rule:
    """What a value must meet beyond its type: low <= v <= high, above < v < below, v in options."""

    low: float = -math.inf
    high: float = math.inf
    above: float | None = None
    below: float | None = None
    options: tuple = ()


def setting(default: Any, **rule: Any):
    """A dataclass field with `default` and the `Rule` (low, high, above, below, options) that
    `Fields.dataclass` checks it against."""
    return dataclasses.field(default=default, metadata={_RULE: Rule(**rule)})


def check_fields(instance: Any) -> None:
    """Raise ConfigError (named after the class) unless every field of the dataclass `instance`
    has its annotated type and meets its `setting` rule: for `__post_init__`, so that an
    instance built in code meets the rules that a file's values do."""
    fields = Fields(type(instance).__name__)
    annotations = typing.get_type_hints(type(instance))
    for f in dataclasses.fields(instance):
        fields.typed(f.name, getattr(instance, f.name), annotations[f.name], f.metadata.get(_RULE, Rule()))


class Fields:
    """Reads typed fields out of a configuration document, raising `error_type` (a ConfigError)
    named after `file` and the field."""

    def __init__(self, file: Any, error_type: type[ConfigError] = ConfigError):
        self.file = str(file)
        self.error_type = error_type

    def error(self, name: str, problem: str) -> ConfigError:
        return self.error_type(self.file, name, problem)

    # -- containers ------------------------------------------------------------------------

    def mapping(self, name: str, value: Any, allowed: Collection[str] | None = None,
                required: Collection[str] = (), keys: str = "key") -> dict:
        """`value` as a mapping whose keys are in `allowed` (None: any key) and include `required`;
        `keys` names what the keys are in errors ("unknown shift; valid shifts: ...")."""
        if not isinstance(value, dict):
            raise self.error(name, f"expected a mapping, got {value!r}")
        unknown = sorted(map(str, set(value) - set(allowed))) if allowed is not None else []
        if unknown:
            raise self.error(_join(name, unknown[0]), f"unknown {keys}; valid {keys}s: {', '.join(sorted(allowed))}")
        missing = sorted(set(required) - set(value))
        if missing:
            raise self.error(_join(name, missing[0]), "required key is missing")
        return value

    def items(self, name: str, value: Any, item: Callable[[str, Any], Any], what: str = "values") -> tuple:
        """`value` as a list, each element read by `item(f"{name}[i]", element)`."""
        if not isinstance(value, list):
            raise self.error(name, f"expected a list of {what}, got {value!r}")
        return tuple(item(f"{name}[{i}]", element) for i, element in enumerate(value))

    def dataclass(self, name: str, cls: type, value: Any):
        """An instance of dataclass `cls` from the mapping `value`: every key is one of its fields
        (all optional: missing ones keep their defaults), each checked by `typed`."""
        declared = {f.name: f for f in dataclasses.fields(cls)}
        annotations = typing.get_type_hints(cls)
        values = self.mapping(name, value, set(declared))
        return cls(**{key: self.typed(_join(name, key), v, annotations[key], declared[key].metadata.get(_RULE, Rule()))
                      for key, v in values.items()})

    def typed(self, name: str, value: Any, kind: Any, rule: Rule = Rule()) -> Any:
        """`value` checked as an instance of the annotation `kind` that meets `rule`."""
        if typing.get_origin(kind) in (typing.Union, UnionType) and type(None) in typing.get_args(kind):
            if value is None:
                return None
            (kind,) = [a for a in typing.get_args(kind) if a is not type(None)]
        if dataclasses.is_dataclass(kind):
            return value if isinstance(value, kind) else self.dataclass(name, kind, value)
        if rule.options:
            return self.choice(name, value, rule.options)
        if kind is bool:
            return self.boolean(name, value)
        if kind is int:
            return self.integer(name, value, rule.low, rule.high, above=rule.above, below=rule.below)
        if kind is float:
            return self.number(name, value, rule.low, rule.high, above=rule.above, below=rule.below)
        if kind is str:
            return self.text(name, value)
        raise TypeError(f"{name}: no check for values of type {kind!r}")

    # -- scalars ---------------------------------------------------------------------------

    def number(self, name: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
               above: float | None = None, below: float | None = None) -> float:
        """A finite number in [low, high] (and above `above`, below `below`), as a float."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error(name, f"expected a number, got {value!r}")
        self._check_bounds(name, value, low, high, above, below)
        return float(value)

    def integer(self, name: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
                above: float | None = None, below: float | None = None) -> int:
        """An integer (not a bool, not 3.0) in [low, high] (and above `above`, below `below`)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"expected an integer, got {value!r}")
        self._check_bounds(name, value, low, high, above, below)
        return value

    def boolean(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {value!r}")
        return value

    def text(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise self.error(name, f"expected a non-empty string, got {value!r}")
        return value

    def choice(self, name: str, value: Any, options: Collection[str]) -> str:
        if value not in options:
            raise self.error(name, f"{value!r} is not one of {', '.join(options)}")
        return value

    def range(self, name: str, value: Any, low: float = -math.inf, high: float = math.inf) -> Range:
        """[lo, hi] within [low, high], lo <= hi; a single number n means [n, n]."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value, value]
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise self.error(name, f"expected [low, high], got {value!r}")
        lo, hi = (self.number(name, v, low, high) for v in value)
        if lo > hi:
            raise self.error(name, f"low {lo} is above high {hi}")
        return lo, hi

    def color(self, name: str, value: Any) -> RGB:
        """An RGB colour [r, g, b], each in [0, 1]."""
        if not isinstance(value, (list, tuple)) or len(value) != 3:
            raise self.error(name, f"expected an RGB colour [r, g, b] in [0, 1], got {value!r}")
        return tuple(self.number(name, v, 0.0, 1.0) for v in value)

    def colors(self, name: str, value: Any) -> tuple[RGB, ...]:
        """One colour or a non-empty list of them."""
        if isinstance(value, (list, tuple)) and value and not isinstance(value[0], (list, tuple)):
            value = [value]
        if not isinstance(value, (list, tuple)) or not value:
            raise self.error(name, f"expected a colour or a list of colours, got {value!r}")
        return tuple(self.color(f"{name}[{i}]", v) for i, v in enumerate(value))

    def _check_bounds(self, name: str, value: float, low: float, high: float, above: float | None,
                      below: float | None) -> None:
        inside = low <= value <= high and (above is None or value > above) and (below is None or value < below)
        if not inside:
            lower = f"({above}" if above is not None else f"[{low}" if math.isfinite(low) else "(-inf"
            upper = f"{below})" if below is not None else f"{high}]" if math.isfinite(high) else "inf)"
            raise self.error(name, f"{value} is outside {lower}, {upper}")


def _join(name: str, key: Any) -> str:
    """The path of `key` inside the field `name` ("" is the document itself)."""
    return f"{name}.{key}" if name else str(key)
