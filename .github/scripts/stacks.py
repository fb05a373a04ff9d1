"""Print the stack list from the stack files (Pulumi.<stack>.yaml at the repository root) as JSON.

`--deployed` keeps the stacks CI deploys to a cloud: every stack whose cluster is not an
`existing` (local) one. The workflows read this instead of hard-coding stack names.
Standard library only, so it runs before any virtualenv exists.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLOUD = re.compile(r"^\s+cloud:\s*['\"]?([a-z]+)", re.MULTILINE)


def stacks(root: Path = ROOT, deployed: bool = False) -> list[str]:
    found = []
    for path in sorted(root.glob("Pulumi.*.yaml")):
        name = path.name[len("Pulumi."):-len(".yaml")]
        cloud = CLOUD.search(path.read_text())
        if deployed and (cloud is None or cloud.group(1) == "existing"):
            continue
        found.append(name)
    return found


if __name__ == "__main__":
    print(json.dumps(stacks(deployed="--deployed" in sys.argv[1:])))
