"""The ament_python package: colcon builds and installs it, package.xml is complete, the README's commands exist."""
from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def _ros_packages_imported() -> set[str]:
    """Top-level modules imported anywhere in lnn_control/ that come from ROS 2 wheels."""
    dists = importlib.metadata.packages_distributions()
    found = set()
    for path in (REPO / "lnn_control").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if any(d.startswith(("ros-", "ros_")) for d in dists.get(top, [])):
                    found.add(top)
    return found


def _package_xml_depends(kind: str) -> set[str]:
    root = ET.parse(REPO / "package.xml").getroot()
    return {e.text.strip() for e in root.iter() if e.tag in (kind, "depend")}


def test_package_xml_is_format_3_named_lnn_control():
    root = ET.parse(REPO / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == "lnn_control"
    assert root.find("export/build_type").text == "ament_python"
    assert "pytest" in "".join(_package_xml_depends("test_depend"))


def test_package_xml_lists_every_ros_package_the_code_imports():
    imported = _ros_packages_imported()
    declared = _package_xml_depends("exec_depend")
    assert "rclpy" in declared
    missing = sorted(imported - declared)
    assert not missing, f"package.xml lacks <exec_depend> for ROS packages imported by lnn_control/: {missing}"


def test_only_lnn_control_ros_imports_rclpy():
    offenders = []
    for path in (REPO / "lnn_control").rglob("*.py"):
        if "ros" in path.relative_to(REPO / "lnn_control").parts[:1]:
            continue
        if re.search(r"^\s*(import|from)\s+rclpy\b", path.read_text(), re.MULTILINE):
            offenders.append(str(path.relative_to(REPO)))
    assert not offenders, f"rclpy imported outside lnn_control/ros/: {offenders}"


def _lnn_control_imports(path: Path) -> set[str]:
    """The lnn_control modules `path` imports (anywhere in it, functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return {name for name in found if name.startswith("lnn_control")}


def test_command_modules_are_not_libraries_and_make_model_sits_above_train_and_eval():
    """No module imports a subcommand's CLI module (lnn_control/cli.py loads them by name), and
    train/ and eval/ never import make_model, which runs them as child processes."""
    offenders = []
    for path in (REPO / "lnn_control").rglob("*.py"):
        rel = path.relative_to(REPO)
        for module in _lnn_control_imports(path):
            if module.endswith(".cli") and rel != Path("lnn_control/make_model/__main__.py"):
                offenders.append(f"{rel} imports {module}")
            if module.startswith("lnn_control.make_model") and rel.parts[1] in ("train", "eval"):
                offenders.append(f"{rel} imports {module}")
    assert not offenders, offenders


def test_readme_commands_are_makefile_targets():
    readme = (REPO / "README.md").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", (REPO / "Makefile").read_text(), re.MULTILINE))
    commands = set(re.findall(r"\bmake ([a-z][\w-]*)", readme))
    assert {"demo", "test"} <= commands, "README must show `make demo` and `make test`"
    assert commands <= targets, f"README names make targets the Makefile lacks: {sorted(commands - targets)}"


def test_ci_runs_make_test():
    assert re.search(r"^make test\b", (REPO / ".ci/run").read_text(), re.MULTILINE)


@pytest.mark.parametrize("sub", ["collect", "train", "eval", "demo", "bench", "inspect-bag"])
def test_every_subcommand_has_help(sub):
    out = subprocess.run([str(VENV_BIN / "lnn-control"), sub, "--help"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "usage: lnn-control " + sub in out.stdout


def test_colcon_build_installs_a_findable_package(tmp_path):
    colcon = shutil.which("colcon", path=str(VENV_BIN)) or shutil.which("colcon")
    assert colcon, "colcon not installed (requirements/dev.txt)"
    src = tmp_path / "src"
    src.mkdir()
    os.symlink(REPO, src / "lnn_control")
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    build = subprocess.run([colcon, "build", "--event-handlers", "console_direct-"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=540, env=env)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]

    prefix = tmp_path / "install" / "lnn_control"
    for rel in ["lib/lnn_control/policy_node", "lib/lnn_control/sim_node", "lib/lnn_control/lnn-control",
                "share/lnn_control/package.xml", "share/ament_index/resource_index/packages/lnn_control"]:
        assert (prefix / rel).is_file(), f"colcon install lacks {rel}"
    for rel in ["launch", "config", "sim_worlds", "models"]:
        folder = prefix / "share/lnn_control" / rel
        assert folder.is_dir() and any(folder.iterdir()), f"colcon install lacks a filled share/lnn_control/{rel}"
    assert (prefix / "share/lnn_control/launch/policy.launch.xml").is_file()

    probe = subprocess.run(
        [sys.executable, "-c",
         "from ament_index_python.packages import get_package_share_directory, get_package_prefix;"
         "print(get_package_prefix('lnn_control')); print(get_package_share_directory('lnn_control'))"],
        capture_output=True, text=True, timeout=300, env={**env, "AMENT_PREFIX_PATH": str(prefix)})
    assert probe.returncode == 0, probe.stderr
    found_prefix, found_share = probe.stdout.split()
    assert Path(found_prefix) == prefix
    assert Path(found_share) == prefix / "share/lnn_control"
