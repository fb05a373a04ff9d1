"""Where one offline plan of N review environments spends its CPU, by phase (a child process of
tools.bench_plan; prints one JSON object). Not a test, and nothing asserts on the numbers.

    python -m tools.bench_phases --review-count 16

Phases: the program under the mock runtime (the Pulumi SDK's registration path, the component
code, and the mock monitor: the SDK's MockMonitor plus our recording, timed in its worker
threads), the policy evaluation, and the artefact writing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path


def _cpu_timer(owner, attr: str, totals: dict, key: str, clock=time.process_time) -> None:
    """Wrap owner.attr so each call adds its CPU time to totals[key]."""
    inner = getattr(owner, attr)
    lock = threading.Lock()

    def timed(*args, **kwargs):
        start = clock()
        try:
            return inner(*args, **kwargs)
        finally:
            with lock:
                totals[key] += clock() - start

    setattr(owner, attr, timed)


def measure(count: int) -> dict:
    from pulumi.runtime import mocks as sdk_mocks

    from tools import mock_runtime, plan, plan_output
    from tools.review_stack import materialise, stack_name

    totals = dict.fromkeys(("program", "mock_monitor", "recording", "policies", "artefacts"), 0.0)
    _cpu_timer(plan, "run_program", totals, "program")
    _cpu_timer(plan, "evaluate_policies", totals, "policies")
    # The monitor runs in the SDK's executor threads: thread CPU time, not the whole process's.
    _cpu_timer(sdk_mocks.MockMonitor, "RegisterResource", totals, "mock_monitor", time.thread_time)
    _cpu_timer(mock_runtime.RecordingMonitor, "RegisterResource", totals, "recording", time.thread_time)
    with tempfile.TemporaryDirectory() as tmp:
        root = materialise(1, count, dest=Path(tmp) / "review")
        with plan.no_cyclic_gc():  # as `python -m tools.plan` runs
            result = plan.build_plan(stack_name(1), root)
            start = time.process_time()
            plan_output.write_artifacts(result.recording, Path(tmp) / "out", plan.plan_document(result), result.violations)
            totals["artefacts"] = time.process_time() - start
    # RecordingMonitor calls MockMonitor: the recording's own share is the difference.
    totals["recording"] -= totals["mock_monitor"]
    return {"resources": len(result.recording.resources), **totals}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--review-count", type=int, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.review_count)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
