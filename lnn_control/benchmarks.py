"""Benchmarks: `bench/bench_*.py` scripts, run by `lnn-control bench` / `make bench`.

Each script measures one thing, prints a table with `report()`, and writes
`<out>/<name>.json` (the rows plus how they were measured: machine, threads, versions).
Comparisons are ratios taken within one run, never against numbers from another machine.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from lnn_control.exit_status import SUCCESS, failed, interrupted
from lnn_control.paths import share_dir

COMMAND = "lnn-control bench"


def machine_facts() -> dict:
    """What a reader needs to interpret a timing: CPU, cores, Python, library versions."""
    import numpy
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "numpy": numpy.__version__,
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def report(name: str, rows: list[dict], out_dir: str | Path, method: str) -> Path:
    """Print `rows` as an aligned table under `name`, and write them to `<out_dir>/<name>.json`."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_fmt(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print(f"\n## {name}\n{method}\n")
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps({"name": name, "method": method, "machine": machine_facts(), "rows": rows}, indent=2))
    return path


def reference_tree(revision: str, scratch: Path) -> Path | None:
    """The package `lnn_control` at git `revision` of this checkout, exported into `scratch`, for
    a benchmark that runs it beside this tree's (None outside a git checkout or for an unknown
    revision)."""
    try:
        archive = subprocess.run(["git", "-C", str(share_dir()), "archive", "--format=tar", revision, "lnn_control"],
                                 capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(scratch, filter="data")
    return scratch


def bench_arguments(description: str, parents: tuple[argparse.ArgumentParser, ...] = ()) -> argparse.Namespace:
    """The command line every bench script shares: `--out DIR` and `--quick`, plus the options of
    `parents` (parsers made with add_help=False), all in one `--help`."""
    parser = argparse.ArgumentParser(description=description, parents=list(parents))
    parser.add_argument("--out", default="runs/bench", help="folder for the JSON result")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    return parser.parse_args()


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def run_cli(args) -> int:
    """Run every bench/bench_*.py (or those named by --only) one after another."""
    bench_dir = share_dir() / "bench"
    if not bench_dir.is_dir():
        return failed(COMMAND, f"benchmarks live in a source checkout; {bench_dir} not found")
    scripts = sorted(bench_dir.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only or s.stem in args.only]
    if not scripts:
        return failed(COMMAND, f"no benchmark matches {args.only} in {bench_dir}")
    failed_scripts = []
    try:
        for script in scripts:
            if subprocess.call([sys.executable, str(script), "--out", args.out]) != 0:
                failed_scripts.append(script.name)
    except KeyboardInterrupt:
        return interrupted(COMMAND, f"the JSON of the benchmarks that finished is in {args.out}/")
    print(f"\nbenchmark JSON in {args.out}/")
    if failed_scripts:
        return failed(COMMAND, f"failed: {', '.join(failed_scripts)} (their output is above)")
    return SUCCESS
