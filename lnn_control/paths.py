"""Where the package's shared data lives: `launch/`, `config/`, `sim_worlds/`, `models/`.

In a source checkout (or `pip install -e .`) they sit at the repository root; in a
colcon install they sit in `share/lnn_control/`, found through the ament index.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE = "lnn_control"
_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def share_dir() -> Path:
    """The folder holding `config/`, `sim_worlds/`, `models/` and `launch/`."""
    if (_SOURCE_ROOT / "package.xml").is_file() and (_SOURCE_ROOT / "sim_worlds").is_dir():
        return _SOURCE_ROOT
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except Exception as exc:  # ament_index missing, or package not in the index
        raise FileNotFoundError(
            f"cannot find the {PACKAGE} share folder: not a source checkout ({_SOURCE_ROOT}) "
            f"and not found in the ament index ({exc})"
        ) from exc


def share_path(*parts: str) -> Path:
    """A path inside the share folder, e.g. share_path('models', 'cfc_forest.pt')."""
    return share_dir().joinpath(*parts)
