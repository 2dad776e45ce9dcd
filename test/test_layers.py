"""The layers of docs/ARCHITECTURE.md, enforced: every import in lnn_control/ (inside functions
too, and the subcommand handlers the CLI names as strings) goes downwards, heavy libraries stay
in their layers, and no module imports itself back through others (no cycles)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lnn_control"
ARCHITECTURE = PACKAGE.parent / "docs" / "ARCHITECTURE.md"


def _table(heading: str) -> dict[str, set[str]]:
    """The markdown table under `heading` in ARCHITECTURE.md: first column -> the names in
    backticks of the second."""
    text = ARCHITECTURE.read_text()
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = set(re.findall(r"`([^`]+)`", cells[1]))
    assert rows, f"no table under '## {heading}' in {ARCHITECTURE}"
    return rows


LAYERS = _table("Layers")
LIBRARIES = _table("Libraries")


def _layer(module: str) -> str:
    """'lnn_control.eval.summary' -> 'eval'; 'lnn_control.codec' -> 'codec'; the package itself -> 'lnn_control'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "lnn_control"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = _modules()


def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, wherever it stands, plus
    "module:function" handler strings naming our modules."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES]
            if len(submodules) < len(node.names):   # `from package import submodule` imports the submodule
                found.append((base, node.lineno))
            found += [(name, node.lineno) for name in submodules]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = re.fullmatch(r"(lnn_control(?:\.\w+)+):\w+", node.value)
            if match:
                found.append((match.group(1), node.lineno))
    return found


def test_the_architecture_names_every_layer_there_is():
    layers = {_layer(m) for m in MODULES}
    assert layers == set(LAYERS), f"layers in the code {sorted(layers)}, in ARCHITECTURE.md {sorted(LAYERS)}"
    for layer, allowed in LAYERS.items():
        assert allowed <= set(LAYERS), f"{layer} may import unknown layers {sorted(allowed - set(LAYERS))}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_layers(module):
    layer = _layer(module)
    allowed = LAYERS[layer] | {layer}
    wrong = [f"line {line}: {name} (layer {_layer(name)})" for name, line in _imports(module, MODULES[module])
             if name.split(".")[0] == "lnn_control" and name != "lnn_control" and _layer(name) not in allowed]
    assert not wrong, f"{MODULES[module]}: layer {layer} may import {sorted(allowed)}, but imports " + "; ".join(wrong)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_libraries_stay_in_their_layers(module):
    layer = _layer(module)
    wrong = []
    for name, line in _imports(module, MODULES[module]):
        library = name.split(".")[0]
        if library in LIBRARIES and layer not in LIBRARIES[library]:
            wrong.append(f"line {line}: {library} (allowed in {sorted(LIBRARIES[library])})")
    assert not wrong, f"{MODULES[module]}: " + "; ".join(wrong)


def test_no_import_cycles():
    graph = {module: {name for name, _ in _imports(module, path) if name in MODULES and name != module}
             for module, path in MODULES.items()}
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}   # 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for child in sorted(graph[node]):
            if state.get(child) == 1:
                return path[path.index(child):] + [child]
            if child not in state and (found := visit(child)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("module, absent", [
    ("lnn_control.ros.sim_node", {"torch", "lnn_control.policy"}),   # the simulator needs no network
    ("lnn_control.rollout", {"torch", "rclpy"}),
    ("lnn_control.envs", {"torch", "rclpy", "rosbags"}),
    ("lnn_control.data", {"torch", "rclpy", "pybullet"}),
    ("lnn_control.codec", {"torch", "rclpy", "rosbags", "pybullet"}),
    # the torch-free runtime, and the node that runs it (torch comes only with a checkpoint)
    ("lnn_control.policy.onnx_runtime", {"torch", "ncps", "rclpy"}),
    ("lnn_control.ros.policy_node", {"torch", "ncps", "lnn_control.policy.checkpoint", "lnn_control.rollout"}),
])
def test_importing_a_layer_loads_only_what_it_uses(module, absent):
    import subprocess
    import sys

    code = f"import sys, {module}; print(sorted(m for m in {sorted(absent)!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]", f"importing {module} loaded {result.stdout.strip()}"
