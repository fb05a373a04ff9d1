"""Benchmark: `pulumi preview` through the real engine (fake providers) against the offline plan.

    python -m tools.bench_engine [--runs 3] [--stacks prod]

For each stack: a fresh sandbox (tools.engine.sandbox) with placeholder secrets, then the median
wall time of `pulumi preview --policy-pack ...` on the empty stack and of
`python -m tools.plan --stack STACK`. Run `make engine` first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tools.bench_plan import timed
from tools.engine import BIN
from tools.engine.sandbox import Project
from tools.stack_files import PLACEHOLDER_PREFIX


def placeholder_secrets() -> dict[str, str]:
    from components.config import SECRETS

    return {spec.full_key: spec.placeholder or PLACEHOLDER_PREFIX + spec.full_key for spec in SECRETS.values() if spec.key != "kubeconfig"}


def engine_preview_seconds(stack: str, runs: int, tmp: Path) -> float:
    project = Project(str(BIN / "pulumi"), stack, tmp / stack)
    project.init(placeholder_secrets())
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        project.pulumi("preview", *project.policy_args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stacks", nargs="*", default=["prod"])
    args = parser.parse_args(argv)
    if not (BIN / "pulumi").exists():
        print("bench_engine: run `make engine` first", file=sys.stderr)
        return 2
    print(f"{'stack':<10}{'pulumi preview s':>18}{'tools.plan s':>14}   (median of {args.runs})")
    with tempfile.TemporaryDirectory() as tmp:
        for stack in args.stacks:
            preview_s = engine_preview_seconds(stack, args.runs, Path(tmp))
            plan_cmd = [sys.executable, "-m", "tools.plan", "--stack", stack, "--out", str(Path(tmp) / f"plan-{stack}")]
            plan_s = statistics.median(timed(plan_cmd, ok=(0, 1)) for _ in range(args.runs))
            print(f"{stack:<10}{preview_s:>18.2f}{plan_s:>14.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
