"""lnn_control: liquid neural network (CfC) control of drones and robots over ROS 2.

Subpackages: `policy` (CfC networks, runtime, checkpoints), `sim` (PyBullet worlds,
quadrotor, sensors, expert), `envs` (gymnasium environments, distribution shifts),
`data` (rosbag2 I/O, datasets, demo collection), `train` (behaviour cloning, DAgger),
`eval` (closed-loop evaluation), `ros` (rclpy nodes; the only place that imports rclpy).
"""

__version__ = "0.1.0"
