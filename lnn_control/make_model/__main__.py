"""`python -m lnn_control.make_model`: see lnn_control.make_model.cli."""
import sys

from lnn_control.make_model.cli import main

sys.exit(main())
