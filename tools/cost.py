"""The offline plan's monthly cost: the policy pack's estimator run over the plan's recording.

`tools.plan` prints `render_lines(...)` and, with `--cost`, writes `cost.json` beside plan.json.
The estimator itself lives in `policies/tradesense_rules/cost.py` so that the `budget` rule and
this report compute the same number from the same resources (see that module for what is priced).
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Optional

from policies.tradesense_rules.cost import Estimate, estimate, load_prices, standard_support_warning
from tools.mock_runtime import Recording, unwrap_secrets

EKS_CLUSTER = "aws:eks/cluster:Cluster"


PRICES_FILE = "policies/tradesense_rules/cost_prices.json"


class UnpricedSize(ValueError):
    """A node size the price table lacks: a total that counted it as 0 would look cheaper than
    the truth (m6i.xlarge nodes once totalled less than t3.large), so the report refuses."""


def estimate_recording(recording: Recording, prices: Optional[dict] = None) -> Estimate:
    result = estimate(((r.type, r.name, unwrap_secrets(r.inputs)) for r in recording.resources if r.custom), prices)
    # The policy pack's estimator notes an unpriced size and goes on (a rule must not crash a
    # preview); a report that prints a total must not.
    unpriced = [a for a in result.assumptions if "has no price in cost_prices.json" in a]
    if unpriced:
        keys = sorted({_unpriced_key(a) for a in unpriced})
        raise UnpricedSize(f"{', '.join(keys)} has no price in {PRICES_FILE}: add it (with the page it was read from "
                           "and the date) before the estimate can be trusted")
    return result


def _unpriced_key(assumption: str) -> str:
    # "<size> has no price in cost_prices.json (<cloud>.<table>): ..." -> "<cloud>.<table>.<size>"
    size, _, rest = assumption.partition(" has no price in cost_prices.json (")
    return f"{rest.split(')', 1)[0]}.{size}"


def support_warnings(recording: Recording, today: Optional[str] = None, prices: Optional[dict] = None) -> list[str]:
    today = today or _dt.date.today().isoformat()
    versions = sorted({str(r.inputs.get("version")) for r in recording.of_type(EKS_CLUSTER) if r.inputs.get("version")})
    return [w for v in versions if (w := standard_support_warning(v, today, prices or load_prices()))]


def render_lines(result: Estimate, budget: Optional[float] = None) -> list[str]:
    lines = [f"Monthly cost estimate ({result.cloud}, USD, on-demand list prices from policies/tradesense_rules/cost_prices.json):"]
    for item in result.items:
        ceiling = f"  (max {item.ceiling_usd:,.2f})" if item.ceiling_usd is not None else ""
        lines.append(f"    {item.monthly_usd:>10,.2f}  {item.item}  [{item.resource}]{ceiling}")
    lines.append(f"    {result.total_usd:>10,.2f}  TOTAL per month (at the node maximum: {result.ceiling_usd:,.2f})")
    if result.extended_support_usd is not None:
        lines.append(f"    EKS extended support would make the control plane {result.extended_support_usd:,.2f} per month (6x)")
    if budget:
        verdict = "within" if result.total_usd <= budget else "OVER"
        lines.append(f"    budget tradesense:monthlyBudgetUsd = {budget:,.2f}: {verdict}")
    lines.append("  Assumptions:")
    lines += [f"    - {a}" for a in result.assumptions]
    return lines


def write_cost_json(result: Estimate, out: Path) -> Path:
    path = out / "cost.json"
    path.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return path


def main(argv: Optional[list[str]] = None) -> int:
    """Print a stack's monthly cost estimate from its offline plan; exit 2 on an unpriced size."""
    import argparse
    import sys

    from components.config import ConfigError
    from tools.cost import UnpricedSize as Unpriced  # under `python -m`, this module is __main__
    from tools.plan import build_plan
    from tools.policy_eval import PolicyConfigError
    from tools.stack_files import StackFileError

    parser = argparse.ArgumentParser(prog="python -m tools cost", description=main.__doc__)
    parser.add_argument("--stack", required=True, help="stack name: a Pulumi.<stack>.yaml must exist")
    parser.add_argument("--json", action="store_true", help="print cost.json's content instead of the table")
    args = parser.parse_args(argv)
    try:
        result = build_plan(args.stack)
    except (Unpriced, StackFileError, ConfigError, PolicyConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.cost.as_dict(), indent=2) if args.json else "\n".join(render_lines(result.cost, result.budget_usd)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
