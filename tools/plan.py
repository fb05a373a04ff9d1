"""Offline plan: render a stack without credentials, a Pulumi CLI or a cluster.

    python -m tools.plan --stack staging [--out build/plan/staging] [--cost] [--graph] [--chart-cache DIR]

Runs the program under Pulumi's mock runtime in preview mode (tools.mock_runtime), prints a
preview-style tree, evaluates the policy pack the way the engine would, and writes plan.json,
manifests/, helm/ and policy.json. Every Helm release is rendered with its pinned chart and
the pack runs on the rendered objects too (tools/chart_render.py); a release that cannot be
rendered is listed as unchecked. It also prints the monthly cost estimate (`--cost` writes
cost.json) and the deploy's critical path (`--graph` writes graph.dot and graph.mmd). It is not a diff against real state and shows no
provider-computed values beyond realistic stand-ins.

Exit codes: 0 clean or advisory only, 1 mandatory policy violations, 2 usage or config error.
"""

from __future__ import annotations

import gc

if __name__ == "__main__":
    gc.disable()  # the CLI process, imports included: see no_cyclic_gc (the bench's floor does the same)

import argparse
import sys
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

if TYPE_CHECKING:
    from policies.tradesense_rules.cost import Estimate
    from tools.chart_render import ChartRenders

from tools import critical_path
from tools.cost import UnpricedSize, estimate_recording, render_lines, support_warnings, write_cost_json
from tools.mock_runtime import ROOT, Recording, Resource, run_program
from tools.plan_output import display_outputs, resource_entry, tree_lines, type_counts, write_artifacts
from tools.stack_files import PLACEHOLDER_PREFIX, StackConfigFiles, StackFileError, read_stack

EXIT_OK, EXIT_MANDATORY, EXIT_USAGE = 0, 1, 2
# Not a pack rule: the plan's own record of a release whose chart it could not render.
UNCHECKED_POLICY = "offline-plan:chart-not-rendered"


@dataclass
class PlanResult:
    stack: str
    recording: Recording
    required_secrets: list[dict]
    violations: list[dict] = field(default_factory=list)
    budget_usd: Optional[float] = None
    cost: Optional["Estimate"] = None
    root: Path = ROOT
    # Every Helm release rendered with its pinned chart (tools/chart_render.py), or why not.
    charts: Optional["ChartRenders"] = None

    @property
    def mandatory(self) -> list[dict]:
        return [v for v in self.violations if v["enforcement"] == "mandatory"]

    @property
    def exit_code(self) -> int:
        return EXIT_MANDATORY if self.mandatory else EXIT_OK


def offline_config(files: StackConfigFiles) -> tuple[dict[str, str], list[str], list[dict]]:
    """The stack's config plus a marked placeholder for every secret it cannot supply offline."""
    from components.config import SECRETS

    config = dict(files.config)
    secret_keys = list(files.secret_keys)
    env = config.get("tradesense:environment", "")
    required: list[dict] = []
    for spec in SECRETS.values():
        if spec.full_key in files.encrypted_keys:
            if spec.placeholder is not None:
                config[spec.full_key] = spec.placeholder
            required.append({"key": spec.full_key, "state": "set in stack file (encrypted; placeholder used offline)"})
        elif spec.required(env, config) and spec.full_key not in config:
            config[spec.full_key] = spec.placeholder or PLACEHOLDER_PREFIX + spec.full_key
            secret_keys.append(spec.full_key)
            required.append({"key": spec.full_key, "state": "missing: set before a real deploy", "command": spec.set_command})
    return config, secret_keys, required


def build_plan(stack: str, root: Path = ROOT, config_overrides: Optional[dict[str, str]] = None,
               chart_cache: Optional[Path] = None) -> PlanResult:
    files = read_stack(stack, root)
    config, secret_keys, required = offline_config(files)
    from components.config import SECRETS

    for key, value in (config_overrides or {}).items():
        config[key] = value
        if any(spec.full_key == key for spec in SECRETS.values()):
            secret_keys.append(key)
    recording = run_program(config, stack, secret_keys=secret_keys, project=files.project, preview=True)
    budget = config.get("tradesense:monthlyBudgetUsd")
    result = PlanResult(stack=stack, recording=recording, required_secrets=required, budget_usd=float(budget) if budget else None, root=root)
    result.cost = estimate_recording(recording)
    recording.logs += [("WARNING", w) for w in support_warnings(recording)]
    result.charts = render_charts(recording, config, chart_cache)
    result.violations = evaluate_policies(recording, stack, root, result.budget_usd, result.charts.resources)
    result.violations += unchecked_entries(result.charts)
    return result


def render_charts(recording: Recording, config: dict[str, str], chart_cache: Optional[Path]) -> "ChartRenders":
    """Every release rendered from the chart cache (or the stack's chart mirror) with helm."""
    import json

    from tools.chart_cache import ChartCache, default_cache_dir
    from tools.chart_render import find_helm, render_releases

    try:
        mirror = json.loads(config.get("tradesense:platform", "{}")).get("chartMirror")
    except (json.JSONDecodeError, AttributeError):
        mirror = None  # load_config already refused a malformed section
    return render_releases(recording, ChartCache(chart_cache or default_cache_dir()), find_helm(), mirror)


def unchecked_entries(charts: "ChartRenders") -> list[dict]:
    """policy.json records each release the pack could not see into: never a silent pass."""
    return [{
        "policy": UNCHECKED_POLICY, "enforcement": "advisory",
        "message": f"chart {u.chart} was not rendered, so no rule saw its objects: {u.reason}",
        "urn": u.urn, "resource_type": "kubernetes:helm.sh/v3:Release", "resource_name": u.name,
    } for u in charts.unchecked]


def policy_config(stack: str, root: Path, budget_usd: Optional[float]) -> dict:
    """policies/config/<stack>.json plus the stack's budget for the advisory `budget` rule.

    The pack cannot read stack config, so the budget travels as that rule's option; a real
    preview passes the same file (`--policy-pack-config build/plan/<stack>/policy-config.json`).
    """
    from tools.policy_eval import load_policy_config

    config = dict(load_policy_config(stack, root))
    if budget_usd:
        config["budget"] = {"enforcementLevel": "advisory", "monthlyBudgetUsd": budget_usd}
    return config


def evaluate_policies(recording: Recording, stack: str, root: Path, budget_usd: Optional[float] = None,
                      rendered: Sequence[Resource] = ()) -> list[dict]:
    """The pack on the program's resources plus the objects its charts render (children of their release)."""
    from tools.policy_eval import evaluate

    return [asdict(v) for v in evaluate([*recording.resources, *rendered], policy_config(stack, root, budget_usd))]


def plan_document(result: PlanResult) -> dict:
    rec = result.recording
    return {
        "stack": result.stack,
        "mode": "offline preview under Pulumi's mock runtime (no state diff, no provider-computed values)",
        "summary": {"create": len(rec.resources), "byType": dict(type_counts(rec.resources))},
        "resources": [resource_entry(r) for r in rec.resources],
        "outputs": display_outputs(rec),
        "requiredSecrets": result.required_secrets,
        "warnings": rec.warnings,
        "chartRenders": result.charts.document() if result.charts is not None else None,
    }


def render_text(result: PlanResult, out: Path) -> str:
    rec = result.recording
    lines = [f"Previewing update (tradesense/{result.stack}) offline under Pulumi's mock runtime", ""]
    lines += tree_lines(rec, f"tradesense-{result.stack}")
    lines += ["", "Resources:", f"    + {len(rec.resources)} to create", ""]
    lines += [f"    {count:>4}  {type_}" for type_, count in type_counts(rec.resources)]
    lines += ["", "Outputs:"] + [f"    {k}: {v}" for k, v in display_outputs(rec).items()]
    if rec.warnings:
        lines += ["", "Warnings:"] + [f"    warning: {w}" for w in rec.warnings]
    if result.cost is not None:
        lines += [""] + render_lines(result.cost, result.budget_usd)
    lines += [""] + critical_path.render_lines(critical_path.critical_path(critical_path.Graph.from_recording(rec)))
    lines += ["", "Secrets a real deploy needs:"]
    lines += [f"    {s['key']}: {s['state']}" + (f"\n        {s['command']}" if "command" in s else "") for s in result.required_secrets]
    if not result.required_secrets:
        lines.append("    none missing")
    lines += chart_render_lines(result.charts)
    lines += ["", "Policy verdicts:"]
    for level in ("mandatory", "advisory"):
        found = [v for v in result.violations if v["enforcement"] == level]
        lines.append(f"  {level}: {len(found)} violation(s)")
        lines += [f"    [{v['policy']}] {v['resource_name'] or 'stack'}: {v['message']}" for v in found]
    lines += ["", f"Wrote {out}/plan.json, manifests/, helm/ and policy.json"]
    return "\n".join(lines)


def chart_render_lines(charts: Optional["ChartRenders"]) -> list[str]:
    if charts is None:
        return []
    lines = ["", "Chart renders (every rule also ran on these objects):"]
    lines += [f"    {r.name}: {r.chart}, {r.objects} objects" for r in charts.rendered]
    if charts.unchecked:
        lines += ["", f"UNCHECKED: {len(charts.unchecked)} release(s) not rendered; no rule saw their objects:"]
        lines += [f"    {u.name} ({u.chart}): {u.reason}" for u in charts.unchecked]
    return lines


def write_policy_config(result: PlanResult, out: Path) -> None:
    import json

    config = policy_config(result.stack, result.root, result.budget_usd)
    (out / "policy-config.json").write_text(json.dumps(config, indent=2) + "\n")


@contextmanager
def no_cyclic_gc():
    """A plan builds about a million objects that live until it ends, and each of the cyclic
    collector's passes rescans the survivors: 25-30% of the plan's CPU, growing faster than the
    resource count (docs/performance.md). Reference counting still frees every object outside a
    cycle; the few cycles wait until the plan is written (peak memory +0-17%, measured)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", help="stack name: a Pulumi.<stack>.yaml must exist")
    parser.add_argument("--review", type=int, metavar="PR", help="plan the review environment of pull request PR (review/Pulumi.pr.yaml)")
    parser.add_argument("--review-count", type=int, default=1, metavar="N", help="with --review: plan N review environments in one run")
    parser.add_argument("--out", type=Path, help="output folder (default: build/plan/<stack>)")
    parser.add_argument("--cost", action="store_true", help="also write cost.json (one line per priced resource, plus the total)")
    parser.add_argument("--graph", action="store_true", help="also write the dependency graph as graph.dot and graph.mmd (Mermaid)")
    parser.add_argument("--chart-cache", type=Path, metavar="DIR",
                        help="folder of <chart>-<version>.tgz to render releases from (default: $TRADESENSE_CHART_CACHE, "
                             "else the default of tools/chart_cache.py)")
    parser.add_argument("--require-rendered", action="store_true",
                        help="exit 1 when any release could not be rendered (the CI chart check, docs/CHARTS.md)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    from components.config import ConfigError

    from tools.policy_eval import PolicyConfigError, PolicyRuntimeError

    if (args.stack is None) == (args.review is None):
        print("error: give exactly one of --stack STACK or --review PR", file=sys.stderr)
        return EXIT_USAGE
    root = ROOT
    if args.review is not None:
        from tools.review_stack import materialise, stack_name

        root, args.stack = materialise(args.review, args.review_count), stack_name(args.review)
    out = args.out or ROOT / "build" / "plan" / args.stack
    try:
        with no_cyclic_gc():
            result = build_plan(args.stack, root, chart_cache=args.chart_cache)
            write_artifacts(result.recording, out, plan_document(result), result.violations)
            write_policy_config(result, out)
            if args.cost and result.cost is not None:
                write_cost_json(result.cost, out)
            if args.graph:
                graph = critical_path.Graph.from_recording(result.recording)
                critical_path.write_graph(graph, critical_path.critical_path(graph), out)
    except (StackFileError, ConfigError, PolicyConfigError, UnpricedSize) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PolicyRuntimeError as exc:
        print(f"error: a policy rule failed to run (the engine would fail the preview too): {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"error: cannot write the plan to {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    print(render_text(result, out))
    if args.require_rendered and result.charts is not None and result.charts.unchecked:
        print(f"error: {len(result.charts.unchecked)} release(s) not rendered (--require-rendered): the pack did not see their objects",
              file=sys.stderr)
        return EXIT_MANDATORY
    return result.exit_code


if __name__ == "__main__":
    code = main()
    # Python's exit runs full collections over every object still alive (0.4 s for one review
    # environment, 0.8 s for 16, even with the collector off); frozen objects are not rescanned.
    gc.freeze()
    sys.exit(code)
