"""Node parameters from one table: typed defaults, ranges, choices, read-only, with reasons.

Both nodes declare their parameters through `declare_parameters(node, TABLE)`:
- every parameter gets a descriptor (description, what is allowed as its constraints text,
  read-only), so `ros2 param describe` tells what is allowed;
- a floating-point parameter also takes an integer (`max_yaw_rate:=1` means 1.0), at
  start-up and at run time;
- a value of the wrong type, out of its range, not among its choices or empty where it must
  not be is refused with the reason: at start-up as a `StartupError` (the node exits with that
  one line, status 1), at run time in the `ros2 param set` answer;
- read-only parameters are fixed at start-up (rclpy refuses to set them later).
`ParameterTable.values(node)` then reads them, typed. No ROS message types leak out: the
table is plain data, tested without a running node.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter


class StartupError(RuntimeError):
    """The node cannot start; the message is the one log line that says why."""


@dataclass(frozen=True)
class Param:
    """One parameter: its default (which fixes its type), what it means (with units), and what
    is allowed: `low`..`high` for numbers (inclusive), `choices` for strings, `nonempty`."""

    default: bool | int | float | str
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    nonempty: bool = False
    read_only: bool = False

    def problem(self, value) -> str | None:
        """Why `value` is not allowed (None when it is)."""
        kind = type(self.default)
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"expected a number, got {value!r} (type {type(value).__name__})"
            if not math.isfinite(value):
                return f"{value} is not finite"
        elif kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            return f"expected an integer, got {value!r} (type {type(value).__name__})"
        elif kind in (bool, str) and not isinstance(value, kind):
            return f"expected a {kind.__name__}, got {value!r} (type {type(value).__name__})"
        if self.low is not None and not self.low <= value <= self.high:
            return f"{value} is out of range [{self.low:g}, {self.high:g}]"
        if self.choices and value not in self.choices:
            return f"{value!r} is not one of {self._choices_text()}"
        if self.nonempty and value == "":
            return "must not be empty"
        return None

    def _choices_text(self) -> str:
        """The choices, comma-separated, the empty string shown as ''."""
        return ", ".join(choice or "''" for choice in self.choices)

    def typed(self, value):
        """`value` as the parameter's type (an integer given for a float becomes a float)."""
        return float(value) if isinstance(self.default, float) else value

    def descriptor(self) -> ParameterDescriptor:
        constraints = ", ".join(filter(None, [
            f"{self.low:g} to {self.high:g}" if self.low is not None else "",
            f"one of {self._choices_text()}" if self.choices else "",
            "not empty" if self.nonempty else ""]))
        # ranges are checked here, not by rclpy, so that a refusal reads the same at start-up and later
        return ParameterDescriptor(description=self.description, read_only=self.read_only,
                                   additional_constraints=constraints, dynamic_typing=isinstance(self.default, float))


class ParameterTable(dict):
    """name -> Param, in declaration order."""

    def defaults(self) -> dict:
        return {name: param.default for name, param in self.items()}

    def values(self, node: Node) -> dict:
        """The node's current values, typed."""
        return {name: param.typed(node.get_parameter(name).value) for name, param in self.items()}


def declare_parameters(node: Node, table: ParameterTable) -> None:
    """Declare `table` on `node` with descriptors, refuse bad values with the reason (see the
    module docstring); StartupError when a value given at start-up is not allowed."""
    node.add_pre_set_parameters_callback(lambda parameters: _integers_as_doubles(table, parameters))
    for name, param in table.items():
        try:
            node.declare_parameter(name, param.default, param.descriptor())
        except ParameterException as exc:   # e.g. a string given for an integer
            raise StartupError(f"bad parameter {name}: {exc}") from None
        problem = param.problem(node.get_parameter(name).value)
        if problem:
            raise StartupError(f"bad parameter {name}: {problem}")
    node.add_on_set_parameters_callback(lambda parameters: _check(table, parameters))


def _integers_as_doubles(table: ParameterTable, parameters: list[Parameter]) -> list[Parameter]:
    return [Parameter(p.name, Parameter.Type.DOUBLE, float(p.value))
            if p.type_ is Parameter.Type.INTEGER and isinstance(getattr(table.get(p.name), "default", None), float)
            else p for p in parameters]


def _check(table: ParameterTable, parameters: list[Parameter]) -> SetParametersResult:
    for parameter in parameters:
        param = table.get(parameter.name)
        problem = param.problem(parameter.value) if param is not None else None
        if problem:
            return SetParametersResult(successful=False, reason=f"{parameter.name}: {problem}")
    return SetParametersResult(successful=True)
