"""CfC policy networks, baselines, the stateful runtime, checkpoints and export. No ROS here."""
