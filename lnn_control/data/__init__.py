"""Demonstrations as ROS 2 bags: rosbag2 read/write (rosbags library), alignment, sequence
datasets, the decoded-data cache, `inspect-bag` and `collect`. No rclpy here.

```python
from lnn_control.data import BagTopics, find_bags, load_bags, SequenceWindows
bags, bad = load_bags(find_bags(["runs/bags"]), BagTopics(image="/cam/compressed"), skip_bad=True)
```
"""
from lnn_control.data.alignment import AlignmentConfig, AlignmentReport, Sequence, align
from lnn_control.data.bag_reader import BagError, BagStreams, BagTopics, find_bags, read_bag, read_facts
from lnn_control.data.bag_writer import EpisodeBagWriter, EpisodeTopics
from lnn_control.data.cache import default_cache_dir, load_bag
from lnn_control.data.dataset import BagData, SequenceWindows, imu_statistics, load_bags

__all__ = ["AlignmentConfig", "AlignmentReport", "BagData", "BagError", "BagStreams", "BagTopics",
           "EpisodeBagWriter", "EpisodeTopics", "Sequence", "SequenceWindows", "align", "default_cache_dir",
           "find_bags", "imu_statistics", "load_bag", "load_bags", "read_bag", "read_facts"]
