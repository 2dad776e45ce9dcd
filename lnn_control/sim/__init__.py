"""PyBullet worlds built from sim_worlds/*.yaml, the quadrotor and its controller, camera, IMU, expert."""
