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


def estimate_recording(recording: Recording, prices: Optional[dict] = None) -> Estimate:
    return estimate(((r.type, r.name, unwrap_secrets(r.inputs)) for r in recording.resources if r.custom), prices)


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
