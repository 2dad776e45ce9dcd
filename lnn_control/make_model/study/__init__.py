"""`make study`: the out-of-distribution study — its steps (`steps`), its report (`report`), its
command (`python -m lnn_control.make_model.study`)."""
