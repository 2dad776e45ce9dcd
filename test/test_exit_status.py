"""One exit-status rule for every subcommand (lnn_control.exit_status): 0 success, 1 bad input or
environment with one line `lnn-control COMMAND: ...` on stderr, 2 bad usage (argparse), 130
interrupted with a line saying what was kept."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from lnn_control.cli import build_parser, main


def test_top_level_help_states_the_rule():
    epilog = build_parser().format_help()
    for status in ("0 ", "1 ", "2 ", "130 "):
        assert f"\n  {status}" in epilog


@pytest.mark.parametrize("argv", [["collect", "--episodes", "one", "--out", "x"], ["train", "--out", "x.pt"],
                                  ["eval", "--policy", "expert"], ["demo", "--nope"], ["bench", "--only"],
                                  ["inspect-bag"], ["fly"]])
def test_bad_usage_is_argparses_status_2(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and "usage: lnn-control" in capsys.readouterr().err


@pytest.mark.parametrize("argv, named", [
    (["collect", "--world", "moon", "--episodes", "1", "--out", "{tmp}/bags"], "moon"),
    (["train", "--bags", "{tmp}/none", "--out", "{tmp}/m.pt"], "none"),
    (["eval", "--policy", "{tmp}/m.pt", "--episodes", "1", "--out", "{tmp}/eval"], "m.pt"),
    (["demo", "--model", "{tmp}/m.pt", "--out", "{tmp}/demo"], "m.pt"),
    (["bench", "--only", "no_such_bench", "--out", "{tmp}/bench"], "no_such_bench"),
    (["inspect-bag", "{tmp}/none"], "none"),
])
def test_bad_input_is_status_1_with_one_line_naming_it(tmp_path, capsys, argv, named):
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"lnn-control {argv[0]}: ") and err.count("\n") == 1 and named in err
    assert "Traceback" not in err


def _interruptible() -> None:
    """In the child before it runs eval: SIGINT as at a terminal. A suite started in the background
    of a script (`make test &`, `nohup`) inherits SIGINT ignored, and so would eval: Python keeps
    an inherited SIG_IGN, so the interrupt would never reach it (eval flew on for minutes)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_is_status_130_and_says_what_was_kept(tmp_path):
    out = tmp_path / "eval"
    # far more episodes than can be flown before the interrupt, however fast or busy the machine
    process = subprocess.Popen([sys.executable, "-m", "lnn_control.cli", "eval", "--policy", "expert", "--episodes",
                                "5000", "--time-limit", "2", "--out", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_interruptible)
    log = out / "episodes.jsonl"
    deadline = time.monotonic() + 300
    while not (log.is_file() and log.read_text()) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None and log.read_text(), "eval should be flying, with an episode kept"
    os.kill(process.pid, signal.SIGINT)
    # 1.6 s on a quiet 2-core machine
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130
    line = err.strip().splitlines()[-1]
    assert line.startswith("lnn-control eval: interrupted; ") and str(log) in line and "--resume" in line
