"""The stack-export auditor on clean, dirty and malformed exports (built from the mock recording)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.export_builder import stack_export
from tools.audit import SECRET_MARK, SECRET_SIG, audit

LEAKS = ["AKIAQ7EXAMPLE4KEY7ZZ", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "hunter2-super-secret-db-pass"]


def run_audit(tmp_path: Path, doc, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "export.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return subprocess.run([sys.executable, "-m", "tools.audit", str(path), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def prod_export() -> dict:
    return stack_export("prod")


@pytest.fixture(scope="module")
def prod_export_plaintext() -> dict:
    return stack_export("prod", show_secrets=True)


def resources_of(doc: dict, type_: str) -> list[dict]:
    return [r for r in doc["deployment"]["resources"] if r["type"] == type_]


def plaintexts(doc: dict, encrypted: dict) -> list[str]:
    """Every string inside a `--show-secrets` value that the encrypted export does not show anyway."""
    public = json.dumps(encrypted)
    found: list[str] = []

    def leaves(value):
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for child in value.values():
                leaves(child)
        elif isinstance(value, list):
            for child in value:
                leaves(child)

    def walk(value):
        if isinstance(value, dict):
            if value.get(SECRET_SIG) == SECRET_MARK and "plaintext" in value:
                leaves(json.loads(value["plaintext"]))
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(doc)
    return sorted({v for v in found if len(v) >= 8 and v not in public})


def test_clean_prod_export_passes_with_inventory_and_protection(tmp_path, prod_export):
    proc = run_audit(tmp_path, prod_export, "--format", "json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    report = json.loads(proc.stdout)
    raws = prod_export["deployment"]["resources"]
    assert report["inventory"]["resources"] == len(raws)
    assert report["inventory"]["byType"]["kubernetes:apps/v1:StatefulSet"] == len(resources_of(prod_export, "kubernetes:apps/v1:StatefulSet"))
    assert {"aws", "kubernetes"} <= set(report["inventory"]["byProvider"])
    assert report["inventory"]["providerVersions"]["aws"] == ["7.51.1"]
    statefulsets = [s for s in report["stateful"] if s["type"] == "kubernetes:apps/v1:StatefulSet"]
    assert statefulsets and all(s["protect"] and s["retainOnDelete"] for s in statefulsets)
    assert not [f for f in report["findings"] if f["severity"] == "mandatory"]


def test_markdown_report_has_the_sections(tmp_path, prod_export):
    proc = run_audit(tmp_path, prod_export)
    assert proc.returncode == 0
    for heading in ("# Stack audit: `prod` — PASS", "## Findings", "## Stateful resources", "## Inventory by provider", "## Inventory by type"):
        assert heading in proc.stdout


def test_show_secrets_export_fails_and_never_echoes_a_value(tmp_path, prod_export, prod_export_plaintext):
    values = plaintexts(prod_export_plaintext, prod_export)
    assert len(values) >= 3  # generated passwords, JWT key, kubeconfig ...
    for fmt in ("md", "json"):
        proc = run_audit(tmp_path, prod_export_plaintext, "--format", fmt)
        assert proc.returncode == 1
        assert "secret exported in plaintext (--show-secrets)" in proc.stdout
        for value in values:
            assert value not in proc.stdout + proc.stderr


def dirty(prod_export: dict) -> dict:
    doc = copy.deepcopy(prod_export)
    res = doc["deployment"]["resources"]
    secret = resources_of(doc, "kubernetes:core/v1:Secret")[0]
    secret["inputs"]["stringData"] = {"DATABASE_PASSWORD": LEAKS[2]}
    config_map = resources_of(doc, "kubernetes:core/v1:ConfigMap")[0]
    config_map["inputs"].setdefault("data", {})["AWS_KEY"] = LEAKS[0]
    deployment = next(r for r in resources_of(doc, "kubernetes:apps/v1:Deployment") if r["urn"].endswith("::tradesense-backend-deployment"))
    container = deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["privileged"] = True
    container.setdefault("env", []).append({"name": "STRIPE_KEY_COPY", "value": LEAKS[1]})
    redis = next(r for r in resources_of(doc, "kubernetes:apps/v1:StatefulSet") if r["urn"].endswith("::tradesense-redis-stateful-set"))
    redis.pop("protect")
    doc["deployment"]["pending_operations"] = [{"resource": copy.deepcopy(res[-1]), "type": "updating"}]
    return doc


def test_dirty_export_reports_every_problem_without_echoing_values(tmp_path, prod_export):
    proc = run_audit(tmp_path, dirty(prod_export), "--format", "json")
    assert proc.returncode == 1
    for leak in LEAKS:
        assert leak not in proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    messages = [(f["kind"], f["severity"], f["message"]) for f in report["findings"]]
    text = json.dumps(messages)
    assert "Kubernetes Secret data is not wrapped as a Pulumi secret" in text
    assert "AWS access key id-shaped string" in text
    assert "Stripe secret key-shaped string" in text
    assert any(k == "policy" and s == "mandatory" and "k8s-pod-disallow-privileged" in m for k, s, m in messages)
    assert any(k == "policy" and "stack-stateful-resources-require-protect" in m and "redis" in m for k, s, m in messages)
    assert any(k == "pending-operation" and s == "mandatory" for k, s, m in messages)
    assert report["verdict"] == "fail"
    redis = next(s for s in report["stateful"] if s["urn"].endswith("::tradesense-redis-stateful-set"))
    assert redis["protect"] is False


def test_provider_version_drift_is_advisory(tmp_path, prod_export):
    doc = copy.deepcopy(prod_export)
    provider = next(r for r in resources_of(doc, "pulumi:providers:aws"))
    provider["inputs"]["version"] = "6.0.0"
    report = audit(doc)
    drift = [f for f in report["findings"] if f["kind"] == "provider-version"]
    assert [f["severity"] for f in drift] == ["advisory"]
    assert "aws in state is 6.0.0; requirements.txt pins 7.51.1" in drift[0]["message"]
    assert report["verdict"] == "pass"


def test_version_4_with_features_is_accepted(tmp_path, prod_export):
    doc = dict(prod_export, version=4, features=["refreshBeforeUpdate"])
    proc = run_audit(tmp_path, doc, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["features"] == ["refreshBeforeUpdate"]


def test_policy_config_file_changes_the_verdict(tmp_path, prod_export):
    doc = copy.deepcopy(prod_export)
    next(r for r in resources_of(doc, "kubernetes:apps/v1:StatefulSet") if r["urn"].endswith("::tradesense-redis-stateful-set")).pop("protect")
    relaxed = tmp_path / "relaxed.json"
    relaxed.write_text(json.dumps({"all": "advisory"}))
    assert run_audit(tmp_path, doc).returncode == 1
    assert run_audit(tmp_path, doc, "--policy-config", str(relaxed)).returncode == 0


@pytest.mark.parametrize(
    "content, message",
    [
        ("this is not json", "is not JSON"),
        ("[]", "expected a JSON object"),
        ('{"deployment": {"manifest": {}}}', "missing field 'version'"),
        ('{"version": 2, "deployment": {"manifest": {}}}', "unknown deployment version 2"),
        ('{"version": 5, "deployment": {"manifest": {}}}', "unknown deployment version 5"),
        ('{"version": 3}', "missing field 'deployment'"),
        ('{"version": 3, "deployment": {"resources": []}}', "missing field 'deployment.manifest'"),
        ('{"version": 3, "deployment": {"manifest": {}, "resources": [{"type": "x", "custom": true}]}}', "resources[0] is missing urn"),
        ('{"version": 3, "deployment": {"manifest": {}, "pending_operations": [{"type": "creating"}]}}', "pending_operations[0]"),
    ],
)
def test_malformed_input_exits_2_with_a_clear_message(tmp_path, content, message):
    proc = run_audit(tmp_path, content)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_policy_config_exits_2(tmp_path, prod_export):
    bad = tmp_path / "bad.json"
    bad.write_text('{"k8s-pod-disallow-privileged": "sometimes"}')
    proc = run_audit(tmp_path, prod_export, "--policy-config", str(bad))
    assert proc.returncode == 2
    assert "not a valid enforcement level" in proc.stderr


CLI_FIXTURE = ROOT / "tests" / "fixtures" / "exports" / "cli-v3-minimal.json"


def test_reads_an_export_exactly_as_the_cli_prints_it(tmp_path):
    doc = json.loads(CLI_FIXTURE.read_text())
    report = audit(doc)
    assert report["stack"] == "staging" and report["secretsProvider"] == "cloud"
    assert report["inventory"]["byProvider"] == {"(none)": 2, "kubernetes": 2}
    assert report["inventory"]["providerVersions"] == {"kubernetes": ["4.34.2"]}
    kinds = {(f["kind"], f["severity"]) for f in report["findings"]}
    assert ("plaintext-secret", "mandatory") not in kinds  # ciphertext everywhere
    # The stack rules still run: a Secret in `tradesense` without a default-deny policy.
    assert any("k8s-namespace-require-default-deny-network-policy" in f["message"] for f in report["findings"])


def test_a_show_secrets_copy_of_the_cli_fixture_is_caught(tmp_path):
    text = CLI_FIXTURE.read_text().replace('"ciphertext": "v1:Yx0Kp3s8Qm2n1v9u:c2VjcmV0IHN0cmluZ0RhdGEgY2lwaGVydGV4dA=="',
                                           '"plaintext": "{\\"JWT_SECRET_KEY\\":\\"q9T2vLmX8rBfZ3kWp0sYh7\\"}"')
    proc = run_audit(tmp_path, text, "--format", "json")
    assert proc.returncode == 1
    assert "q9T2vLmX8rBfZ3kWp0sYh7" not in proc.stdout + proc.stderr
    assert "inputs.stringData: secret exported in plaintext" in proc.stdout


@pytest.mark.parametrize(
    "text, kind",
    [
        ("postgresql://tradesense:Zq8mN3vR7pLx@postgres-rw:5432/tradesense", "password in a URL"),
        ("redis://:s3cretpass@redis:6379/0", "password in a URL"),
        ("postgresql://tradesense:$(POSTGRES_PASSWORD)@postgres-rw:5432/tradesense", None),
        ("redis://:${REDIS_PASSWORD}@redis:6379", None),
        ("AKIAIOSFODNN7EXAMPLE", "AWS access key id"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn...", "private key"),
        ("pk_live_51HqLyjWDarjtT1zdp7dcPublishable", None),  # publishable keys are public by design
        ("ghp_" + "a" * 36, "GitHub token"),
        ("dop_v1_" + "0f" * 32, "DigitalOcean token"),
        ("https://0123456789abcdef0123456789abcdef@o0.ingest.sentry.io/1", "Sentry DSN key"),
    ],
)
def test_credential_shapes(text, kind):
    from tools.audit import SecretScan

    scan = SecretScan()
    scan.scan_other({"value": text}, "outputs")
    found = [f.message.split(": ", 1)[1] for f in scan.findings]
    assert found == ([f"{kind}-shaped string in plain text"] if kind else [])
