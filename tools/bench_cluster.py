"""Times of the e2e-cluster tier (issue 19), for docs/performance.md.

    python -m tools.bench_cluster [--build] [--start] [--tier]

- --build: `python -m tools.cluster build` as it stands (warm when the Go caches are filled;
           with GOCACHE pointing at an empty folder it is the cold build), wall and CPU;
- --start: start and stop one local control plane (three Ready kwok nodes), median of 3;
- --tier:  `pytest tests/e2e/cluster` once (the engine and the control plane already built).
Prints one markdown row per measurement.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.cluster.build import ROOT


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str]) -> tuple[float, float, int]:
    started, cpu = time.monotonic(), _cpu()
    code = subprocess.run(cmd, cwd=ROOT).returncode
    return time.monotonic() - started, _cpu() - cpu, code


def start_stop() -> float:
    from tools.cluster.control_plane import ControlPlane

    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        with ControlPlane(Path(tmp) / "run"):
            took = time.monotonic() - started
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_cluster")
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--start", action="store_true")
    parser.add_argument("--tier", action="store_true")
    args = parser.parse_args(argv)
    print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| what | wall s | CPU s |\n|---|---:|---:|")
    if args.build:
        wall, cpu, code = timed([sys.executable, "-m", "tools.cluster", "build"])
        print(f"| `python -m tools.cluster build` (GOCACHE={os.environ.get('GOCACHE', 'default')}, exit {code}) | {wall:.1f} | {cpu:.1f} |")
    if args.start:
        runs = [start_stop() for _ in range(3)]
        print(f"| control plane start to three Ready nodes (median of 3) | {statistics.median(runs):.1f} | |")
    if args.tier:
        wall, cpu, code = timed([sys.executable, "-m", "pytest", "-q", "tests/e2e/cluster"])
        print(f"| `pytest tests/e2e/cluster` (exit {code}) | {wall:.1f} | {cpu:.1f} |")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
