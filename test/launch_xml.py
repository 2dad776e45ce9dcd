"""Read a ROS 2 XML launch file and start its nodes as `ros2 launch` would.

`launch`/`launch_ros` have no wheels for this machine, so tests use this reader. It
supports the subset our launch files use and refuses anything else (an unknown tag or
substitution is an error, so a launch file cannot silently do less here than under
`ros2 launch`):

- `<arg name default description>` (overridden by `arguments`), `$(var NAME)`,
  `$(find-pkg-share PKG)`, `$(env NAME [DEFAULT])`;
- `<node pkg exec name output>` with `<param from="FILE"/>`, `<param name value/>` and
  `<remap from to/>`; `<group>` is not supported.

Each node becomes the command `ros2 launch` runs: the executable, then
`--ros-args -r __node:=NAME --params-file FILE ... --params-file TMP -r FROM:=TO ...`,
where TMP is a YAML file holding the `<param name value>` entries (as launch_ros writes
one), values typed by YAML as launch_ros does.
"""
from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import yaml

_SUBSTITUTION = re.compile(r"\$\(([\w-]+)\s*([^)]*)\)")


@dataclass
class LaunchedNode:
    """One `<node>` of a launch file, resolved."""

    package: str
    executable: str
    name: str
    params_files: list[Path] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    remaps: list[tuple[str, str]] = field(default_factory=list)

    def command(self, bin_dirs: list[Path], scratch: Path) -> list[str]:
        """The argv `ros2 launch` would run; `<param name value>` go to a YAML file in `scratch`."""
        path = os.pathsep.join(str(d) for d in bin_dirs)
        exe = shutil.which(self.executable, path=path)
        if exe is None:
            raise FileNotFoundError(f"executable {self.executable!r} of package {self.package!r} not in {path}")
        argv = [exe, "--ros-args", "-r", f"__node:={self.name}"]
        for params_file in self.params_files:
            argv += ["--params-file", str(params_file)]
        if self.params:
            inline = scratch / f"{self.name}_launch_params.yaml"
            inline.write_text(yaml.safe_dump({"/**": {"ros__parameters": self.params}}))
            argv += ["--params-file", str(inline)]
        for source, target in self.remaps:
            argv += ["-r", f"{source}:={target}"]
        return argv


def read_launch(path: Path, share_dirs: dict[str, Path], arguments: dict[str, str] | None = None) -> list[LaunchedNode]:
    """The nodes of the XML launch file at `path`; `share_dirs` maps package -> share folder."""
    root = ET.parse(path).getroot()
    if root.tag != "launch":
        raise ValueError(f"{path}: root element is <{root.tag}>, expected <launch>")
    given = dict(arguments or {})
    values: dict[str, str] = {}

    def substitute(text: str) -> str:
        def one(match: re.Match) -> str:
            kind, rest = match.group(1), match.group(2).split()
            if kind == "var":
                if rest[0] not in values:
                    raise ValueError(f"{path}: $(var {rest[0]}) used before its <arg>")
                return values[rest[0]]
            if kind == "find-pkg-share":
                if rest[0] not in share_dirs:
                    raise ValueError(f"{path}: package {rest[0]!r} not found for $(find-pkg-share)")
                return str(share_dirs[rest[0]])
            if kind == "env":
                return os.environ.get(rest[0], rest[1] if len(rest) > 1 else "")
            raise ValueError(f"{path}: substitution $({kind}) is not supported by this reader")

        return _SUBSTITUTION.sub(one, text)

    nodes = []
    for element in root:
        if element.tag == "arg":
            name = element.get("name")
            if name in given:
                values[name] = given.pop(name)
            elif element.get("default") is not None:
                values[name] = substitute(element.get("default"))
            else:
                raise ValueError(f"{path}: required launch argument {name!r} not given")
        elif element.tag == "node":
            nodes.append(_read_node(path, element, substitute))
        else:
            raise ValueError(f"{path}: <{element.tag}> is not supported by this reader")
    if given:
        raise ValueError(f"{path}: unknown launch arguments {sorted(given)}")
    return nodes


def _read_node(path: Path, element: ET.Element, substitute) -> LaunchedNode:
    node = LaunchedNode(package=element.get("pkg"), executable=element.get("exec"),
                        name=element.get("name") or element.get("exec"))
    for child in element:
        if child.tag == "param" and child.get("from") is not None:
            params_file = Path(substitute(child.get("from")))
            if not params_file.is_file():
                raise FileNotFoundError(f"{path}: parameter file {params_file} does not exist")
            node.params_files.append(params_file)
        elif child.tag == "param":
            node.params[child.get("name")] = _typed(substitute(child.get("value")))
        elif child.tag == "remap":
            node.remaps.append((substitute(child.get("from")), substitute(child.get("to"))))
        else:
            raise ValueError(f"{path}: <{child.tag}> inside <node> is not supported by this reader")
    return node


def _typed(value: str):
    """Type a parameter value as launch_ros does: YAML scalars, strings otherwise."""
    if value == "":
        return ""
    parsed = yaml.safe_load(value)
    return parsed if isinstance(parsed, (bool, int, float, str)) else value
