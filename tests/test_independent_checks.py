"""Independent checks over the offline plan's rendered manifests, for every stack.

kubernetes-validate (the Kubernetes OpenAPI schemas, strict) and checkov (in its own venv, with
its network switched off). Under CI a missing tool is a failure, never a skip.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.conftest import ROOT, STACKS
from tools.plan import build_plan, plan_document
from tools.plan_output import write_artifacts

KUBERNETES_VERSION = "1.35.0"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
ALLOWLIST = ROOT / "tests" / "checkov_allowlist.yaml"


def _require_tool(path: Path, name: str) -> None:
    if path.exists():
        return
    message = f"{name} is not installed at {path} (make test installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    folders = {}
    for stack in STACKS:
        out = tmp_path_factory.mktemp(f"rendered-{stack}")
        result = build_plan(stack)
        write_artifacts(result.recording, out, plan_document(result), result.violations)
        folders[stack] = out / "manifests"
    return folders


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_builtin_object_passes_strict_schema_validation(rendered, stack):
    validated, custom = 0, 0
    for path in sorted(rendered[stack].rglob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            validated += 1
        except kubernetes_validate.SchemaNotFoundError:
            custom += 1  # CRD kinds (Certificate, Gateway, HTTPRoute, ...) have no built-in schema
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.relative_to(rendered[stack])}: {exc.message} at {list(exc.path)}")
    assert validated > 0


def load_allowlist() -> dict[str, str]:
    entries = yaml.safe_load(ALLOWLIST.read_text()) or []
    for entry in entries:
        assert entry.get("why"), f"allowlist entry {entry} must say why"
    return {f"{e['check']}|{e.get('resource', '*')}": e["why"] for e in entries}


def _allowed(allowlist: dict[str, str], check_id: str, resource: str) -> bool:
    return any(fnmatch.fnmatchcase(f"{check_id}|{resource}", pattern) for pattern in allowlist)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_checkov_finds_nothing_outside_the_allowlist(rendered, stack):
    _require_tool(CHECKOV, "checkov")
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CKV_SKIP_PACKAGE_UPDATE_CHECK="TRUE", LOG_LEVEL="ERROR")
    proc = subprocess.run(
        [str(CHECKOV), "-d", str(rendered[stack]), "--framework", "kubernetes", "-o", "json", "--skip-download", "--quiet"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.stdout.strip(), proc.stderr
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    allowlist = load_allowlist()
    unexpected = sorted({f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in failed
                         if not _allowed(allowlist, c["check_id"], c["resource"])})
    assert unexpected == []
