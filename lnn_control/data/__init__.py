"""rosbag2 reading and writing, sequence datasets, expert demonstration collection."""
