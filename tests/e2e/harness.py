"""What the e2e tests share: the engine (or a skip/fail) and the deployed (type, name) set."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.engine import BIN, FAKE_PROVIDERS, installed_pulumi  # noqa: E402
from tools.engine.sandbox import Project  # noqa: E402,F401 (the tests' sandbox)


def require_engine() -> str:
    """The `pulumi` to run; under CI a missing engine fails the suite, locally it skips."""
    cli = installed_pulumi() or (str(BIN / "pulumi") if (BIN / "pulumi").exists() else None)
    missing = [f"pulumi-resource-{p}" for p in FAKE_PROVIDERS if not (BIN / f"pulumi-resource-{p}").exists()]
    if cli and not missing:
        return cli
    message = f"the Pulumi engine is not built ({cli or 'pulumi'} {' '.join(missing)} missing in {BIN}); run `make engine`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def deployed_types_and_names(deployment: dict) -> set[tuple[str, str]]:
    """(type, name) of what the program registered: no stack root and no default providers."""
    found = set()
    for res in deployment["deployment"].get("resources", []):
        typ, name = res["type"], res["urn"].split("::")[-1]
        if typ == "pulumi:pulumi:Stack" or (typ.startswith("pulumi:providers:") and name.startswith("default")):
            continue
        found.add((typ, name))
    return found
