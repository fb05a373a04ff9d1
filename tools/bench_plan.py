"""Benchmark the offline plan: time per stack against the SDK-import floor, peak memory, and how the
plan grows with review environments (with the CPU per added resource split by phase,
tools/bench_phases.py). Prints one table; `--write` also writes docs/performance.md.

    python -m tools.bench_plan [--runs 7] [--stacks dev staging prod] [--reviews 1 2 4 8 16] [--write]

The floor is a fresh Python process that imports the SDK modules the plan uses and touches every
resource class the stack registers (lazy provider submodules load on first access), so it is the
least any run of this program can cost. Runs go in rounds (every row's plan, then its floor, once
per round), so load from other users of the machine hits all rows alike; every figure is the
median of `--runs` rounds, and a ratio the median of its paired runs. This is not a test: numbers
depend on the machine and its load, and nothing here asserts on them.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tools.mock_runtime import ROOT
from tools.stack_files import available_stacks

BUILTIN_GROUPS = {
    "core", "apps", "batch", "policy", "autoscaling", "helm.sh", "yaml", "storage.k8s.io", "networking.k8s.io",
    "rbac.authorization.k8s.io", "apiextensions.k8s.io", "admissionregistration.k8s.io", "scheduling.k8s.io",
}
PACKAGES = {"aws": "pulumi_aws", "kubernetes": "pulumi_kubernetes", "digitalocean": "pulumi_digitalocean", "random": "pulumi_random"}
DOC = ROOT / "docs" / "performance.md"
# Everything from this line on in docs/performance.md is hand-written and kept across runs.
NOTES_MARKER = "<!-- notes: kept by tools.bench_plan -->"


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
import gc, importlib, sys
gc.disable()  # from the start: the plan builds without the cyclic GC (tools.plan.no_cyclic_gc), so no floor import pays for it
for path in sys.argv[1:]:
    module, _, attr = path.rpartition(".")
    getattr(importlib.import_module(module), attr)
import pulumi, pulumi_policy, pydantic, yaml
gc.freeze()  # as tools.plan exits: no exit-time collection rescans the imported modules
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    # user + system CPU of the child: far less sensitive than wall time to other users' load.
    cpu_s: float
    peak_mb: float


def timed(cmd: list[str], ok: tuple[int, ...] = (0,)) -> Run:
    """Wall time and peak RSS of one child process (os.wait4 gives that child's own rusage)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    # A crash also exits 1, like mandatory violations: a traceback must not pass as a timing.
    if proc.returncode not in ok or "Traceback (most recent call last)" in stderr:
        raise SystemExit(f"{' '.join(cmd[:6])} exited {proc.returncode}:\n{stderr[-2000:]}")
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


@dataclass(frozen=True)
class Row:
    label: str
    resources: int
    plan_s: float
    floor_s: float
    plan_cpu: float
    floor_cpu: float
    peak_mb: float
    ratio: float
    cpu_ratio: float


def summarise(label: str, resources: int, plans: list[Run], floors: list[Run]) -> Row:
    """Medians; a ratio pairs each plan with the floor run right after it (the machine's speed
    drifts between rounds, but little within one pair)."""
    med = statistics.median
    return Row(label, resources, med(r.seconds for r in plans), med(r.seconds for r in floors),
               med(r.cpu_s for r in plans), med(r.cpu_s for r in floors), med(r.peak_mb for r in plans),
               med(p.seconds / f.seconds for p, f in zip(plans, floors)),
               med(p.cpu_s / f.cpu_s for p, f in zip(plans, floors)))


@dataclass(frozen=True)
class Spec:
    label: str
    plan_args: list[str]


def measure(specs: list[Spec], out: Path, runs: int) -> list[Row]:
    """Every spec's plan and floor, in rounds: each round runs every spec once, so drift in the
    machine's speed spreads over all rows alike instead of skewing the later ones."""
    # Bytecode for this repository's modules, as any second run on a usual machine has it (the
    # SDK's came with pip): with PYTHONDONTWRITEBYTECODE set (CI, this workspace) every plan would
    # otherwise recompile ~60 sources that no floor import pays for.
    for package in ("components", "policies", "tools"):
        compileall.compile_dir(ROOT / package, quiet=1)
    commands = []
    for index, spec in enumerate(specs):
        folder = out / str(index)
        plan_cmd = [sys.executable, "-m", "tools.plan", *spec.plan_args, "--out", str(folder)]
        # Exit 1 (mandatory violations) still writes a full plan; 2 is an error.
        timed(plan_cmd, ok=(0, 1))  # warm-up: writes plan.json (for the floor's class list) and fills caches
        resources = json.loads((folder / "plan.json").read_text())["resources"]
        classes = sorted({p for r in resources if (p := class_path(r["type"]))})
        commands.append((plan_cmd, [sys.executable, "-c", FLOOR_SCRIPT, *classes], len(resources)))
    plans: list[list[Run]] = [[] for _ in specs]
    floors: list[list[Run]] = [[] for _ in specs]
    for _ in range(runs):
        for index, (plan_cmd, floor_cmd, _) in enumerate(commands):
            plans[index].append(timed(plan_cmd, ok=(0, 1)))
            floors[index].append(timed(floor_cmd))
    return [summarise(spec.label, count, plans[i], floors[i]) for i, (spec, (_, _, count)) in enumerate(zip(specs, commands))]


def fit(points: list[tuple[int, float]]) -> tuple[float, float, float]:
    """Least squares seconds = a + b * resources: (a, b, r squared)."""
    xs, ys = [float(x) for x, _ in points], [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    a = my - b * mx
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys))
    ss_tot = sum((y - my) ** 2 for y in ys) or 1.0
    return a, b, 1 - ss_res / ss_tot


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU") if Path("/proc/cpuinfo").exists() else platform.processor()
    mem = next((int(line.split()[1]) // 1024 // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0) if Path("/proc/meminfo").exists() else 0
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, {mem} GiB RAM, "
            f"Python {platform.python_version()}; load average at the end {load}")


def table(stack_rows: list[Row], review_rows: list[Row], runs: int) -> list[str]:
    lines = ["| run | resources | plan s | floor s | ratio | plan CPU s | floor CPU s | CPU ratio | peak MB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in stack_rows + review_rows:
        lines.append(f"| {row.label} | {row.resources} | {row.plan_s:.2f} | {row.floor_s:.2f} | {row.ratio:.2f} | "
                     f"{row.plan_cpu:.2f} | {row.floor_cpu:.2f} | {row.cpu_ratio:.2f} | {row.peak_mb:.0f} |")
    lines.append("")
    lines.append(f"Median of {runs} rounds; each round runs every row's plan and then its floor, so the ratios are medians "
                 "of paired runs; wall time (s) and the child's user+system CPU time.")
    if len(review_rows) >= 2:
        for label, key in (("CPU", "plan_cpu"), ("wall", "plan_s")):
            a, b, r2 = fit([(row.resources, getattr(row, key)) for row in review_rows])
            lines.append(f"Review environments, {label}: s = {a:.2f} + {b * 1000:.2f} ms x resources "
                         f"(least squares, r^2 = {r2:.3f}): {b * 1000:.2f} ms per added resource.")
    return lines


PHASES = (("program", "the program under the mock runtime"), ("mock_monitor", "of it the SDK's MockMonitor"),
          ("recording", "of it our recording"), ("policies", "policy evaluation"), ("artefacts", "artefact writing"))


def phases_note(counts: list[int], runs: int) -> str:
    """CPU per added review-environment resource, by phase (tools.bench_phases, in-process)."""
    def sample(count: int) -> dict:
        proc = subprocess.run([sys.executable, "-m", "tools.bench_phases", "--review-count", str(count)],
                              cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"tools.bench_phases --review-count {count} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
        return json.loads(proc.stdout)

    low, high = min(counts), max(counts)
    lows, highs = [], []
    for _ in range(runs):  # interleaved, like the table's rounds
        lows.append(sample(low))
        highs.append(sample(high))
    added = highs[0]["resources"] - lows[0]["resources"]
    per = {key: 1000 * (statistics.median(h[key] for h in highs) - statistics.median(l[key] for l in lows)) / added
           for key, _ in PHASES}
    parts = ", ".join(f"{label} {per[key]:.2f} ms" for key, label in PHASES)
    return f"CPU per added resource by phase ({low} vs {high} review environments, median of {runs}, in-process): {parts}."


def real_engine_note(runs: int, plan_s: float | None) -> str:
    """prod's `pulumi preview` (real engine, fake providers, policy pack) beside its offline plan."""
    from tools.engine import BIN

    if not (BIN / "pulumi").exists():
        return "`pulumi preview` with fake providers: not measured (run `make engine` first)."
    from tools.bench_engine import engine_preview_seconds

    with tempfile.TemporaryDirectory() as tmp:
        preview_s = engine_preview_seconds("prod", runs, Path(tmp))
    beside = f" against {plan_s:.2f} s for the offline plan above" if plan_s is not None else ""
    return (f"`pulumi preview` of prod with the policy pack, real engine and **fake providers** (empty stack): "
            f"{preview_s:.2f} s, median of {runs}{beside}.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--stacks", nargs="*", default=available_stacks(ROOT))
    parser.add_argument("--reviews", nargs="*", type=int, default=[1, 2, 4, 8, 16])
    parser.add_argument("--write", action="store_true", help=f"also write {DOC.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    specs = [Spec(stack, ["--stack", stack]) for stack in args.stacks]
    specs += [Spec(f"{n} review env{'s' if n > 1 else ''}", ["--review", "1", "--review-count", str(n)]) for n in args.reviews]
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(specs, Path(tmp), args.runs)
    stack_rows, review_rows = rows[:len(args.stacks)], rows[len(args.stacks):]
    lines = table(stack_rows, review_rows, args.runs)
    if len(set(args.reviews)) >= 2:
        lines.append(phases_note(args.reviews, min(args.runs, 3)))
    print("\n".join(lines))
    prod_plan = next((row.plan_s for row in stack_rows if row.label == "prod"), None)
    engine = real_engine_note(min(args.runs, 3), prod_plan)
    print(engine)
    if args.write:
        DOC.parent.mkdir(exist_ok=True)
        header = [
            "# Offline plan performance", "",
            f"Measured {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC by `python -m tools.bench_plan --runs {args.runs} --write`.",
            f"Machine: {machine()}.", "",
        ]
        old = DOC.read_text() if DOC.exists() else ""
        notes = old[old.index(NOTES_MARKER):] if NOTES_MARKER in old else NOTES_MARKER + "\n"
        DOC.write_text("\n".join(header + lines + ["", engine, "", notes]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
