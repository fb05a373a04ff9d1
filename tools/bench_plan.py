"""Benchmark: offline plan wall time per stack against an SDK-import floor measured in the same run.

    python -m tools.bench_plan [--runs 3] [--stacks dev staging prod]

The floor is a fresh Python process that imports the SDK modules the plan uses and touches
every resource class the stack registers (lazy provider submodules load on first access, so
this is the least any run of this program can cost). The ratio says how much the program,
the mocks, the policy pack and the file writing add on top of that.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.mock_runtime import ROOT
from tools.stack_files import available_stacks

BUILTIN_GROUPS = {
    "core", "apps", "batch", "policy", "autoscaling", "helm.sh", "yaml", "storage.k8s.io", "networking.k8s.io",
    "rbac.authorization.k8s.io", "apiextensions.k8s.io", "admissionregistration.k8s.io", "scheduling.k8s.io",
}
PACKAGES = {"aws": "pulumi_aws", "kubernetes": "pulumi_kubernetes", "digitalocean": "pulumi_digitalocean", "random": "pulumi_random"}


def class_path(type_token: str) -> str | None:
    """`aws:eks/cluster:Cluster` -> `pulumi_aws.eks.Cluster` (None for our own components)."""
    if type_token.startswith("pulumi:providers:"):
        package = PACKAGES.get(type_token.rsplit(":", 1)[1])
        return f"{package}.Provider" if package else None
    package_key, module, cls = type_token.split(":")
    package = PACKAGES.get(package_key)
    if package is None:
        return None
    if package_key != "kubernetes":
        module_name = module.split("/")[0]
        return f"{package}.{cls}" if module_name == "index" else f"{package}.{module_name}.{cls}"
    group, _, version = module.partition("/")
    if group in BUILTIN_GROUPS:
        return f"{package}.{group.split('.')[0]}.{version}.{cls}"
    return f"{package}.apiextensions.CustomResource"


FLOOR_SCRIPT = """
import importlib, sys
for path in sys.argv[1:]:
    module, _, attr = path.rpartition(".")
    getattr(importlib.import_module(module), attr)
import pulumi, pulumi_policy, pydantic, yaml
"""


def timed(cmd: list[str], ok: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd[:5])} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stacks", nargs="*", default=available_stacks(ROOT))
    args = parser.parse_args(argv)
    print(f"{'stack':<10}{'resources':>10}{'plan s':>10}{'floor s':>10}{'ratio':>8}   (median of {args.runs})")
    with tempfile.TemporaryDirectory() as tmp:
        for stack in args.stacks:
            out = Path(tmp) / stack
            plan_cmd = [sys.executable, "-m", "tools.plan", "--stack", stack, "--out", str(out)]
            # Exit 1 (mandatory violations) still writes a full plan; 2 is an error.
            plan_times = [timed(plan_cmd, ok=(0, 1)) for _ in range(args.runs)]
            resources = json.loads((out / "plan.json").read_text())["resources"]
            classes = sorted({p for r in resources if (p := class_path(r["type"]))})
            floor_cmd = [sys.executable, "-c", FLOOR_SCRIPT, *classes]
            floor_times = [timed(floor_cmd) for _ in range(args.runs)]
            plan_s, floor_s = statistics.median(plan_times), statistics.median(floor_times)
            print(f"{stack:<10}{len(resources):>10}{plan_s:>10.2f}{floor_s:>10.2f}{plan_s / floor_s:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
