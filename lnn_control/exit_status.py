"""The exit status of every `lnn-control` subcommand and of `make model`, and the line it prints.

One rule for all (shown by `lnn-control --help` and `python -m lnn_control.make_model --help`):
`failed` and `interrupted` print the one line on stderr and return the status to exit with.
"""
from __future__ import annotations

import sys

SUCCESS = 0
FAILED = 1         # the command could not do its job because of its input or environment
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as a shell reports a process the signal ended
# 2, bad command-line usage, is argparse's own: it prints the usage and exits.


def help_text(command: str = "lnn-control COMMAND") -> str:
    """The rule as the end of `--help` shows it; `command`: how the line on stderr begins."""
    return f"""exit status:
  0    success
  1    the command could not do its job because of its input or environment: one line
       on stderr, `{command}: what went wrong, naming the file, field or value`
  2    bad command-line usage (an unknown option, a missing or malformed argument)
  130  interrupted (Ctrl-C): one line on stderr says what was kept and how to continue"""


def failed(command: str, problem) -> int:
    """Print `COMMAND: PROBLEM` (one line on stderr); the status FAILED. `command`: e.g.
    "lnn-control eval"."""
    print(f"{command}: {problem}", file=sys.stderr)
    return FAILED


def interrupted(command: str, kept: str) -> int:
    """Print `COMMAND: interrupted; KEPT` (one line on stderr: what was kept, how to go on);
    the status INTERRUPTED."""
    print(f"{command}: interrupted; {kept}", file=sys.stderr)
    return INTERRUPTED
