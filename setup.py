"""ament_python package: `colcon build` installs it into a ROS 2 workspace; `pip install -e .` into a venv."""
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "lnn_control"
HERE = Path(__file__).parent


def share_tree(folder: str) -> list:
    """(install dir, [files]) pairs that mirror `folder` under share/lnn_control/."""
    entries = {}
    for path in sorted((HERE / folder).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(HERE)
            entries.setdefault(f"share/{PACKAGE}/{rel.parent}", []).append(str(rel))
    return sorted(entries.items())


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *share_tree("launch"),
        *share_tree("config"),
        *share_tree("sim_worlds"),
        *share_tree("models"),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="lnn_control maintainers",
    description="Liquid neural network (CfC) control of drones and robots over ROS 2",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "lnn-control = lnn_control.cli:main",
            "policy_node = lnn_control.ros.policy_node:main",
            "sim_node = lnn_control.ros.sim_node:main",
        ],
    },
)
