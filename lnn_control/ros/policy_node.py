"""Policy node (issue #8): not built yet."""
import sys


def main() -> int:
    print("policy_node: not built yet (camera + IMU -> CfC -> cmd_vel arrives with issue #8)", file=sys.stderr)
    return 1
