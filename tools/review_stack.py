"""A review stack file from the template, for the offline plan (CI does the same with cp + config set).

    python -m tools.plan --review 123 [--review-count 4]

writes build/review/Pulumi.pr-123.yaml (review.number and review.count set), a copy of
Pulumi.yaml and the review stacks' policy config (policies/config/review.json: staging's, with
the backup rule off, since review data is thrown away) beside it, and plans that stack.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tools.mock_runtime import ROOT

TEMPLATE = ROOT / "review" / "Pulumi.pr.yaml"


def stack_name(number: int) -> str:
    return f"pr-{number}"


def materialise(number: int, count: int = 1, dest: Path = ROOT / "build" / "review", template: Path = TEMPLATE) -> Path:
    """The folder holding Pulumi.yaml and Pulumi.pr-<number>.yaml, ready for `build_plan(..., root=dest)`."""
    doc = yaml.safe_load(template.read_text())
    review = doc["config"]["tradesense:review"]
    review["number"], review["count"] = number, count
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "Pulumi.yaml", dest / "Pulumi.yaml")
    (dest / f"Pulumi.{stack_name(number)}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    policy_dir = dest / "policies" / "config"
    policy_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "policies" / "config" / "review.json", policy_dir / "review.json")
    return dest
