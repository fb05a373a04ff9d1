"""One command surface: `python -m tools <verb> [args]`, `python -m tools <verb> --help`.

Each verb runs an existing module's command line exactly as `python -m tools.<module>` would.
"""

from __future__ import annotations

import runpy
import sys

VERBS = {
    "plan": ("tools.plan", "offline plan of a stack under Pulumi's mocks"),
    "plan-diff": ("tools.plan_diff", "diff two offline plans (plan.json) for a review"),
    "cost": ("tools.cost", "a stack's monthly cost estimate"),
    "audit": ("tools.audit", "audit a `pulumi stack export`"),
    "smoke": ("tools.smoke", "smoke-test a deployed stack from its outputs"),
    "restore": ("tools.restore", "restore Postgres, Redis or uploads from backups"),
    "new-stack": ("tools.new_stack", "create Pulumi.NAME.yaml and its policy config from another stack"),
    "review-kubeconfig": ("tools.review_kubeconfig", "the review deployer's kubeconfig for CI"),
    "docs": ("tools.gen_docs", "regenerate (or --check) the generated docs"),
    "engine": ("tools.engine", "build the real Pulumi CLI and the fake providers; print its env"),
    "bench-plan": ("tools.bench_plan", "benchmark the offline plan"),
    "bench-phases": ("tools.bench_phases", "split the plan's CPU by phase"),
    "bench-engine": ("tools.bench_engine", "time `pulumi preview` on the real engine"),
    "bench-backup": ("tools.bench_backup", "time backups and restores against local servers"),
}


def usage() -> str:
    width = max(map(len, VERBS))
    lines = ["usage: python -m tools <verb> [args]   (python -m tools <verb> --help for its options)", "", "verbs:"]
    lines += [f"  {verb:<{width}}  {summary}" for verb, (_, summary) in VERBS.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        print(f"error: unknown verb {verb!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = VERBS[verb][0]
    sys.argv = [f"python -m tools {verb}", *rest]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
