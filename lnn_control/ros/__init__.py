"""rclpy nodes (policy node, sim node) and message <-> array conversion. The only place importing rclpy."""
