"""Sim node (issue #9): not built yet."""
import sys


def main() -> int:
    print("sim_node: not built yet (the PyBullet world over ROS 2 arrives with issue #9)", file=sys.stderr)
    return 1
