"""Markdown table of two offline plans' policy verdicts: the base branch's pack (which gates the
PR) beside the PR's own pack. Reads the "Policy verdicts:" section `tools.plan` prints.
Usage: verdicts_side_by_side.py BASE_PACK_PLAN.txt OWN_PACK_PLAN.txt. Standard library only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

LEVEL = re.compile(r"^\s+(mandatory|advisory): (\d+) violation")
VIOLATION = re.compile(r"^\s+\[([\w.-]+)\] (.*)$")


def verdicts(text: str) -> dict[str, list[str]]:
    """{level: ["[policy] resource: message", ...]}; a plan that printed no verdicts gives {}."""
    found: dict[str, list[str]] = {}
    if "Policy verdicts:" not in text:
        return found
    level = None
    for line in text.split("Policy verdicts:", 1)[1].splitlines():
        if m := LEVEL.match(line):
            level = m.group(1)
            found[level] = []
        elif level and (m := VIOLATION.match(line)):
            found[level].append(f"[{m.group(1)}] {m.group(2)}")
        elif line.strip() and not line.startswith(" "):
            break
    return found


def cell(items: list[str] | None) -> str:
    if items is None:
        return "(no verdicts: the plan failed)"
    if not items:
        return "none"
    return "<br>".join(i.replace("|", "\\|").replace("<", "&lt;") for i in items)


def table(base: str, own: str) -> str:
    b, o = verdicts(base), verdicts(own)
    rows = ["| Level | Base branch's pack (gates this PR) | This PR's pack |", "|---|---|---|"]
    for level in ("mandatory", "advisory"):
        rows.append(f"| {level} | {cell(b.get(level) if b else None)} | {cell(o.get(level) if o else None)} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table(Path(sys.argv[1]).read_text(), Path(sys.argv[2]).read_text()))
