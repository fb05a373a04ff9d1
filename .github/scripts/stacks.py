"""Print the stack list from the stack files (Pulumi.<stack>.yaml at the repository root) as JSON.

`--deployed` keeps the stacks CI deploys to a cloud: every stack whose cluster is not an
`existing` (local) one. `--with-cloud` prints {"stack", "cloud"} objects (a matrix `include`), so a
job can tell a DigitalOcean stack from an AWS one. The workflows read this instead of hard-coding
stack names.
Standard library only, so it runs before any virtualenv exists.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLOUD = re.compile(r"^\s+cloud:\s*['\"]?([a-z]+)", re.MULTILINE)


def clouds(root: Path = ROOT) -> dict[str, str]:
    """{stack: cloud} for every stack file; "" where the file names no cloud."""
    found = {}
    for path in sorted(root.glob("Pulumi.*.yaml")):
        cloud = CLOUD.search(path.read_text())
        found[path.name[len("Pulumi."):-len(".yaml")]] = cloud.group(1) if cloud else ""
    return found


def stacks(root: Path = ROOT, deployed: bool = False) -> list[str]:
    return [s for s, cloud in clouds(root).items() if not deployed or cloud not in ("", "existing")]


if __name__ == "__main__":
    flags = set(sys.argv[1:])
    names = stacks(deployed="--deployed" in flags)
    cloud_of = clouds()
    print(json.dumps([{"stack": s, "cloud": cloud_of[s]} for s in names] if "--with-cloud" in flags else names))
