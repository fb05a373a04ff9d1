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


def run_audit(tmp_path: Path, doc, *args: str, stack: str = "prod") -> subprocess.CompletedProcess:
    path = tmp_path / "export.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return subprocess.run([sys.executable, "-m", "tools.audit", str(path), "--stack", stack, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


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
    report = audit(doc, "prod")
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
    proc = run_audit(tmp_path, content, stack="staging")
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
    report = audit(doc, "staging")
    assert report["stack"] == "staging" and report["secretsProvider"] == "cloud"
    assert report["inventory"]["byProvider"] == {"(none)": 2, "kubernetes": 2}
    assert report["inventory"]["providerVersions"] == {"kubernetes": ["4.34.2"]}
    kinds = {(f["kind"], f["severity"]) for f in report["findings"]}
    assert ("plaintext-secret", "mandatory") not in kinds  # ciphertext everywhere
    # The stack rules still run: staging's backup rule sees no backup CronJob in this export.
    # (The default-deny rule judges only namespaces that run pods, and this export has none.)
    assert any("stack-require-backup-cronjob" in f["message"] for f in report["findings"])
    assert not any("k8s-namespace-require-default-deny-network-policy" in f["message"] for f in report["findings"])


def test_a_show_secrets_copy_of_the_cli_fixture_is_caught(tmp_path):
    doc = json.loads(CLI_FIXTURE.read_text())
    secret = next(r for r in doc["deployment"]["resources"] if r["type"] == "kubernetes:core/v1:Secret")
    secret["inputs"]["stringData"] = {SECRET_SIG: SECRET_MARK, "plaintext": json.dumps({"JWT_SECRET_KEY": "q9T2vLmX8rBfZ3kWp0sYh7"})}
    proc = run_audit(tmp_path, doc, "--format", "json", stack="staging")
    assert proc.returncode == 1
    assert "q9T2vLmX8rBfZ3kWp0sYh7" not in proc.stdout + proc.stderr
    assert "inputs.stringData: secret exported in plaintext" in proc.stdout


# --- issue 18: the adversarial table and the guarantees behind it ---------------------------------

import base64  # noqa: E402
from urllib.parse import quote, quote_plus  # noqa: E402

from tests.audit_cases import CLEAN, VIOLATIONS, Case  # noqa: E402
from tools import audit as audit_module  # noqa: E402


def forms(value: str) -> set[str]:
    """A planted value and the encodings it could leak in."""
    raw = value.encode()
    return {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1],
            base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")}


def audit_in_process(tmp_path: Path, capsys, case: Case, fmt: str) -> tuple[int, str]:
    text = CLI_FIXTURE.read_text()
    if case.raw_text:
        text = case.edit(text)
    else:
        text = json.dumps(case.edit(json.loads(text)))
    path = tmp_path / f"{fmt}.json"
    path.write_text(text)
    code = audit_module.main([str(path), "--stack", "staging", "--format", fmt])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_table_is_the_size_the_issue_asks_for():
    assert len(VIOLATIONS) >= 30 and len(CLEAN) >= 10
    assert len({c.name for c in VIOLATIONS + CLEAN}) == len(VIOLATIONS) + len(CLEAN)


@pytest.mark.parametrize("case", VIOLATIONS, ids=lambda c: c.name)
def test_a_planted_secret_is_found_and_never_printed(tmp_path, capsys, case):
    code, output = audit_in_process(tmp_path, capsys, case, "json")
    assert code == 1, output[-2000:]
    report = json.loads(output)
    secrets = [f for f in report["findings"] if f["kind"] == "plaintext-secret" and f["severity"] == "mandatory"]
    assert any(case.expect in f["message"] for f in secrets), [f["message"] for f in secrets]
    _, markdown = audit_in_process(tmp_path, capsys, case, "md")
    for planted in case.planted:
        for form in forms(planted):
            assert form not in output, f"{form!r} printed (json)"
            assert form not in markdown, f"{form!r} printed (md)"
    assert "Traceback" not in output + markdown


@pytest.mark.parametrize("case", CLEAN, ids=lambda c: c.name)
def test_a_clean_look_alike_raises_no_secret_alarm(tmp_path, capsys, case):
    code, output = audit_in_process(tmp_path, capsys, case, "json")
    assert code in (0, 1), output[-2000:]
    report = json.loads(output)
    assert [f["message"] for f in report["findings"] if f["kind"] in ("plaintext-secret", "scan-incomplete")] == []


def test_the_untouched_cli_fixture_has_no_secret_finding(tmp_path, capsys):
    code, output = audit_in_process(tmp_path, capsys, Case("as is", lambda d: d), "json")
    assert not [f for f in json.loads(output)["findings"] if f["kind"] == "plaintext-secret"]


def test_a_secret_used_as_a_key_is_not_in_the_finding_path(tmp_path, capsys):
    key = "hunter2-as-a-key-in-secret-data"
    case = Case("key", lambda d: d["deployment"]["resources"].append(
        {"urn": "urn:pulumi:staging::tradesense::kubernetes:core/v1:Secret::k", "custom": True, "type": "kubernetes:core/v1:Secret",
         "inputs": {"kind": "Secret", "stringData": {SECRET_SIG: SECRET_MARK, "plaintext": json.dumps({key: "v"})}}}) or d)
    code, output = audit_in_process(tmp_path, capsys, case, "json")
    assert code == 1 and key not in output
    assert "secret exported in plaintext" in output


@pytest.mark.parametrize("fmt", ["md", "json"])
def test_a_rule_that_raises_is_a_mandatory_finding_with_a_scrubbed_message(tmp_path, capsys, monkeypatch, fmt):
    from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

    import tools.policy_eval as policy_eval

    planted = "Zq8mN3vR7pLx-in-an-exception"

    def crash(args, report_violation):
        if args.resource_type == "kubernetes:core/v1:ConfigMap":
            raise ValueError(f"cannot parse {args.props['data']['url']}")

    original = policy_eval.load_policies
    monkeypatch.setattr(policy_eval, "load_policies", lambda: original() + [
        ResourceValidationPolicy("test-crashing-rule", "raises", crash, EnforcementLevel.ADVISORY)])
    case = Case("crash", lambda d: d["deployment"]["resources"].append(
        {"urn": "urn:pulumi:staging::tradesense::kubernetes:core/v1:ConfigMap::c", "custom": True,
         "type": "kubernetes:core/v1:ConfigMap", "inputs": {"data": {"url": f"postgresql://app:{planted}@db/app"}}}) or d)
    code, output = audit_in_process(tmp_path, capsys, case, fmt)
    assert code == 1
    assert planted not in output and "Traceback" not in output
    if fmt == "json":
        errors = [f for f in json.loads(output)["findings"] if f["kind"] == "rule-error"]
        assert errors and errors[0]["severity"] == "mandatory" and "[test-crashing-rule] raised ValueError" in errors[0]["message"]


def test_an_internal_error_exits_2_scrubbed_without_a_traceback(tmp_path, capsys, monkeypatch):
    planted = "v6-Pa55w0rd-internal"

    def boom(*args, **kwargs):
        raise RuntimeError(f"unexpected value {planted}")

    monkeypatch.setattr(audit_module, "stack_findings", boom)
    case = Case("boom", lambda d: d["deployment"]["resources"].append(
        {"urn": "urn:pulumi:staging::tradesense::kubernetes:core/v1:ConfigMap::c", "custom": True,
         "type": "kubernetes:core/v1:ConfigMap", "inputs": {"data": {"url": f"redis://:{planted}@redis:6379"}}}) or d)
    code, output = audit_in_process(tmp_path, capsys, case, "json")
    assert code == 2
    assert "the audit could not finish (RuntimeError" in output and planted not in output


def test_the_stack_is_explicit_and_an_unknown_one_is_refused(tmp_path):
    proc = run_audit(tmp_path, CLI_FIXTURE.read_text(), stack="qa")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "unknown stack 'qa': the stacks are dev, prod, staging" in proc.stderr
    path = tmp_path / "x.json"
    path.write_text(CLI_FIXTURE.read_text())
    missing = subprocess.run([sys.executable, "-m", "tools.audit", str(path)], cwd=ROOT, capture_output=True, text=True)
    assert missing.returncode == 2 and "--stack" in missing.stderr


def test_help_documents_the_exit_codes():
    proc = subprocess.run([sys.executable, "-m", "tools.audit", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0
    for line in ("0  clean", "1  a mandatory finding", "2  usage or input error"):
        assert line in proc.stdout


def test_config_comes_from_the_stack_flag_never_from_the_urns(tmp_path):
    # Renaming the stack in every URN to `dev` (laxer config) must not relax the staging audit.
    text = CLI_FIXTURE.read_text().replace("urn:pulumi:staging::", "urn:pulumi:dev::")
    proc = run_audit(tmp_path, text, "--format", "json", stack="staging")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["stack"] == "staging" and report["policyConfig"] == "policies/config/staging.json"
    mismatch = [f for f in report["findings"] if f["kind"] == "stack"]
    assert mismatch and all(f["severity"] == "mandatory" for f in mismatch)
    assert "names stack 'dev', but this audit is for --stack staging" in mismatch[0]["message"]


def test_a_prod_export_audited_as_staging_is_flagged(tmp_path, prod_export):
    report = audit(prod_export, "staging")
    assert report["verdict"] == "fail"
    assert sum(f["kind"] == "stack" for f in report["findings"]) == len(prod_export["deployment"]["resources"])


def nested(depth: int) -> str:
    return '{"version": 3, "deployment": {"manifest": {}, "resources": [{"urn": "urn:pulumi:staging::p::t::n", "type": "t", "custom": false, "inputs": {"a": ' + "[" * depth + "]" * depth + "}}]}}"


@pytest.mark.parametrize(
    "content, message",
    [
        (nested(100_000), "nests deeper than this reader allows"),
        (nested(300), "nests deeper than 256 levels"),
        ('{"version": true, "deployment": {"manifest": {}}}', "unknown deployment version a boolean"),
        ('{"version": "3", "deployment": {"manifest": {}}}', "unknown deployment version a string"),
        ('{"version": 3, "features": [1], "deployment": {"manifest": {}}}', "'features' must be a list of strings"),
        ('{"version": 3, "deployment": {"manifest": {"plugins": "aws"}}}', "deployment.manifest.plugins must be a list, got a string"),
        ('{"version": 3, "deployment": {"manifest": {}, "resources": {}}}', "deployment.resources must be a list, got an object"),
        ('{"version": 3, "deployment": {"manifest": {}, "resources": ["x"]}}', "resources[0] must be an object, got a string"),
        ('{"version": 3, "deployment": {"manifest": {}, "resources": [{"urn": 5, "type": "t", "custom": true}]}}', "resources[0].urn must be a string, got a number"),
        ('{"version": 3, "deployment": {"manifest": {}, "resources": [{"urn": "u", "type": "t", "custom": true, "protect": "AKIAQ7EXAMPLE4KEY7ZZ"}]}}', "resources[0].protect must be a boolean, got a string"),
        ('{"version": 3, "deployment": {"manifest": {}, "resources": [{"urn": "u", "type": "t", "custom": true, "inputs": []}]}}', "resources[0].inputs must be an object, got a list"),
        ('{"version": 3, "deployment": {"manifest": {}, "resources": [{"urn": "u", "type": "t", "custom": true, "dependencies": [1]}]}}', "resources[0].dependencies must be a list of strings"),
        ('{"version": 3, "deployment": {"manifest": {}, "resources": [{"urn": "u", "type": "t", "custom": true, "propertyDependencies": {"a": "b"}}]}}', "propertyDependencies (entry 0) must be a list of strings"),
        ('{"version": 3, "deployment": {"manifest": {}, "pending_operations": [{"type": "exploding", "resource": {}}]}}', "pending_operations[0].type must be one of creating"),
        ('{"version": 3, "deployment": {"manifest": {"time": NaN}}}', "NaN is not JSON"),
        ('{"version": 3, "deployment": {"manifest": {}, "secrets_providers": []}}', "deployment.secrets_providers must be an object"),
    ],
)
def test_wrong_types_and_deep_nesting_exit_2_without_quoting_a_value(tmp_path, content, message):
    proc = run_audit(tmp_path, content, stack="staging")
    assert proc.returncode == 2, proc.stdout[-500:] + proc.stderr[-500:]
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and "AKIAQ7EXAMPLE4KEY7ZZ" not in proc.stderr


def test_bytes_that_are_not_an_export_exit_2(tmp_path):
    path = tmp_path / "export.json"
    for raw, message in ((b"\xff\xfe{\x00}\x00", "is UTF-16"), (b'{"version": 3, "x": "\xc3\x28"}', "is not UTF-8")):
        path.write_bytes(raw)
        proc = subprocess.run([sys.executable, "-m", "tools.audit", str(path), "--stack", "staging"], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    path.write_text(CLI_FIXTURE.read_text())
    proc = subprocess.run([sys.executable, "-m", "tools.audit", str(path), "--stack", "staging", "--max-bytes", "1000"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "the audit reads at most 1000 (--max-bytes)" in proc.stderr


def test_the_walk_is_iterative_beyond_the_recursion_limit():
    from tools.audit_scan import SecretScan

    deep: object = "postgresql://app:Zq8mN3vR7pLx-deep@db/app"
    for _ in range(sys.getrecursionlimit() * 3):
        deep = {"a": [deep]}
    scan = SecretScan()
    scan.walk(deep, None)
    assert [h.kind for h in scan.hits] == ["password in a URL"]


def test_the_scrubber_masks_overlapping_and_encoded_secrets():
    from tools.audit_scrub import MASK, Scrubber

    scrubber = Scrubber()
    scrubber.add_all(["abcdef-secret", "secret-ghijkl", "pä ss/wörd"])
    text = scrubber.scrub("x abcdef-secret-ghijkl y " + quote("pä ss/wörd", safe="") + " " + json.dumps("pä ss/wörd"))
    assert "ghijkl" not in text and "abcdef" not in text and "w%C3%B6rd" not in text and "w\\u00f6rd" not in text
    assert text.startswith(f"x {MASK} y ")
    # A credential shape is masked even when the scan never remembered it.
    assert Scrubber().scrub("key AKIAQ7EXAMPLE4KEY7ZZ end") == f"key {MASK} end"


@pytest.mark.parametrize(
    "text, kind",
    [
        ("postgresql://tradesense:Zq8mN3vR7pLx@postgres-rw:5432/tradesense", "password in a URL"),
        ("redis://:s3cretpass@redis:6379/0", "password in a URL"),
        ("postgresql://tradesense:$(POSTGRES_PASSWORD)@postgres-rw:5432/tradesense", None),
        ("redis://:${REDIS_PASSWORD}@redis:6379", None),
        ("AKIAIOSFODNN7EXAMPLE", "AWS access key id-shaped string in plain text"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn...", "private key-shaped string in plain text"),
        ("pk_live_51HqLyjWDarjtT1zdp7dcPublishable", None),  # publishable keys are public by design
        ("ghp_" + "a" * 36, "GitHub token-shaped string in plain text"),
        ("dop_v1_" + "0f" * 32, "DigitalOcean token-shaped string in plain text"),
        ("https://0123456789abcdef0123456789abcdef@o0.ingest.sentry.io/1", "Sentry DSN-shaped string in plain text"),
    ],
)
def test_credential_shapes(text, kind):
    from tools.audit_scan import SecretScan

    scan = SecretScan()
    scan.walk({"value": text}, None)
    found = [h.kind for h in scan.hits]
    assert (kind in found) if kind else found == []
