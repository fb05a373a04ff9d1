"""The offline plan: tree and counts, artefacts, redaction, exit codes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, STACKS, TEST_SECRETS
from tools.mock_runtime import unwrap_secrets
from tools.plan import build_plan, plan_document, render_text
from tools.plan_output import write_artifacts


def run_plan_cli(args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.plan", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    results = {}
    for stack in STACKS:
        out = tmp_path_factory.mktemp(f"plan-{stack}")
        results[stack] = (run_plan_cli(["--stack", stack, "--out", str(out)]), out)
    return results


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_plan_writes_every_artefact(planned, stack):
    proc, out = planned[stack]
    assert proc.returncode == 0, proc.stderr + proc.stdout
    for name in ("plan.json", "policy.json"):
        assert (out / name).is_file()
    assert list((out / "manifests").rglob("*.yaml"))
    plan = json.loads((out / "plan.json").read_text())
    for resource in plan["resources"]:
        assert {"type", "name", "parent", "provider", "protect", "dependencies", "inputs"} <= set(resource)
    helm = plan["summary"]["byType"].get("kubernetes:helm.sh/v3:Release", 0)
    assert len(list((out / "helm").glob("*.yaml"))) == helm


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_tree_and_counts_match_the_plan(planned, stack):
    proc, out = planned[stack]
    plan = json.loads((out / "plan.json").read_text())
    resources = plan["resources"]
    created = int(re.search(r"\+ (\d+) to create", proc.stdout).group(1))
    assert created == len(resources) == sum(plan["summary"]["byType"].values())
    tree_rows = [line for line in proc.stdout.splitlines() if line.startswith(" +   ")]
    # One row per resource plus the stack itself; every resource's type and name appear.
    assert len(tree_rows) == len(resources) + 1
    for resource in resources:
        assert any(resource["type"] in row and row.rstrip().split()[-1] in (resource["name"], "[protect]") for row in tree_rows)
    # Nesting: a child's row is indented deeper than its parent component's row.
    by_urn = {r["urn"]: r for r in resources}
    child = next(r for r in resources if r["parent"] in by_urn)
    parent = by_urn[child["parent"]]
    index = {row.split()[-1] if "[protect]" not in row else row.split()[-2]: i for i, row in enumerate(tree_rows)}
    indent = lambda row: len(row) - len(row.lstrip(" +│├└─"))  # noqa: E731
    assert indent(tree_rows[index[child["name"]]]) > indent(tree_rows[index[parent["name"]]])
    for type_, count in plan["summary"]["byType"].items():
        assert re.search(rf"^\s+{count}\s+{re.escape(type_)}$", proc.stdout, re.M)


def test_outputs_and_required_secrets_are_listed(planned):
    proc, out = planned["prod"]
    assert "kubeconfig: [secret]" in proc.stdout
    plan = json.loads((out / "plan.json").read_text())
    missing = {s["key"] for s in plan["requiredSecrets"]}
    assert missing == {"tradesense:stripeApiKey", "tradesense:stripeWebhookSecret", "tradesense:sentryDsn",
                       "tradesense:alertmanagerReceivers"}
    assert "pulumi config set --secret tradesense:stripeApiKey" in proc.stdout


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_manifests_are_api_objects_grouped_by_namespace(planned, stack):
    _, out = planned[stack]
    for path in (out / "manifests").rglob("*.yaml"):
        obj = yaml.safe_load(path.read_text())
        assert obj["apiVersion"] and obj["kind"] and obj["metadata"]["name"], path
        folder = path.parent.name
        if folder == "_cluster":
            assert "namespace" not in obj["metadata"], path
        else:
            assert obj["metadata"].get("namespace", "default") == folder, path


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_no_secret_value_reaches_any_artefact(tmp_path, stack):
    secrets = {key: f"{value}-{stack}-LEAKCHECK" for key, value in TEST_SECRETS.items()}
    secrets["tradesense:alertmanagerReceivers"] = (
        "- name: oncall\n  slack_configs:\n    - api_url: https://hooks.slack.com/services/LEAKCHECK-receivers\n"
        "- name: pager\n  pagerduty_configs:\n    - routing_key: LEAKCHECK-pagerduty\n"
    )
    if stack == "dev":  # only an existing cluster takes a kubeconfig
        secrets["tradesense:kubeconfig"] = "apiVersion: v1\nkind: Config\n# LEAKCHECK-kubeconfig"
    result = build_plan(stack, config_overrides=secrets)
    write_artifacts(result.recording, tmp_path, plan_document(result), result.violations)
    text = render_text(result, tmp_path)
    # Every value the program itself generated as a secret (passwords, kubeconfigs, ...).
    generated = [unwrap_secrets(r.outputs.get("result")) for r in result.recording.resources if r.type.startswith("random:")]
    generated += [str(v) for k, v in result.recording.outputs.items() if k in result.recording.secret_outputs]
    needles = [*secrets.values(), "LEAKCHECK-receivers", *[g for g in generated if g]]
    assert needles
    haystacks = [text] + [p.read_text() for p in tmp_path.rglob("*") if p.is_file()]
    for needle in needles:
        for hay in haystacks:
            assert needle not in hay


def _temp_project(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("venv", ".venv*", "build", ".git", "__pycache__", ".pytest_cache"))
    return copy


def test_exit_2_for_unknown_stack():
    proc = run_plan_cli(["--stack", "nosuchstack"])
    assert proc.returncode == 2
    assert "unknown stack 'nosuchstack'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_exit_2_for_invalid_config_names_the_key(tmp_path):
    project = _temp_project(tmp_path)
    stack_file = project / "Pulumi.staging.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"]["tradesense:cluster"]["doks"]["nodes"]["max"] = 1
    stack_file.write_text(yaml.safe_dump(doc))
    proc = run_plan_cli(["--stack", "staging", "--out", str(tmp_path / "out")], cwd=project)
    assert proc.returncode == 2
    assert "tradesense:cluster.doks.nodes.max must be >= min (got 1 < 3)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_exit_2_for_malformed_yaml(tmp_path):
    project = _temp_project(tmp_path)
    (project / "Pulumi.dev.yaml").write_text("config: [unclosed\n")
    proc = run_plan_cli(["--stack", "dev"], cwd=project)
    assert proc.returncode == 2
    assert "cannot read Pulumi.dev.yaml" in proc.stderr


def test_exit_1_for_mandatory_violation_names_the_rule(tmp_path):
    project = _temp_project(tmp_path)
    stack_file = project / "Pulumi.prod.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"]["tradesense:cluster"]["eks"]["publicAccessCidrs"] = ["0.0.0.0/0"]
    stack_file.write_text(yaml.safe_dump(doc))
    out = tmp_path / "out"
    proc = run_plan_cli(["--stack", "prod", "--out", str(out)], cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    violations = json.loads((out / "policy.json").read_text())
    public = [v for v in violations if v["resource_type"] == "aws:eks/cluster:Cluster" and v["enforcement"] == "mandatory"]
    assert public, violations
    assert f"[{public[0]['policy']}]" in proc.stdout


@pytest.mark.parametrize("content,expected", [
    ('{"all": "strict"}', "strict"),
    ('{"all": ', "policies/config/dev.json is not valid JSON"),
])
def test_exit_2_for_a_broken_policy_config(tmp_path, content, expected):
    project = _temp_project(tmp_path)
    (project / "policies" / "config" / "dev.json").write_text(content)
    proc = run_plan_cli(["--stack", "dev", "--out", str(tmp_path / "out")], cwd=project)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr


def test_exit_2_when_config_is_not_a_mapping(tmp_path):
    project = _temp_project(tmp_path)
    (project / "Pulumi.dev.yaml").write_text("config: [a, b]\n")
    proc = run_plan_cli(["--stack", "dev"], cwd=project)
    assert proc.returncode == 2
    assert "Pulumi.dev.yaml: `config` must be a mapping" in proc.stderr


def test_exit_2_when_the_output_folder_cannot_be_written(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = run_plan_cli(["--stack", "dev", "--out", str(blocker / "out")])
    assert proc.returncode == 2
    assert "cannot write the plan" in proc.stderr and "Traceback" not in proc.stderr


def test_encrypted_secrets_plan_with_placeholders_that_pass_their_checks(tmp_path):
    project = _temp_project(tmp_path)
    stack_file = project / "Pulumi.staging.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    # Staging's five: the app's, the receivers, and the DNS-01 token of its review-environment wildcard.
    keys = ("stripeApiKey", "stripeWebhookSecret", "sentryDsn", "alertmanagerReceivers", "dns01ApiToken")
    for key in keys:
        doc["config"][f"tradesense:{key}"] = {"secure": "v1:AAAAencryptedAAAA"}
    stack_file.write_text(yaml.safe_dump(doc))
    out = tmp_path / "out"
    proc = run_plan_cli(["--stack", "staging", "--out", str(out)], cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    required = {s["key"]: s["state"] for s in json.loads((out / "plan.json").read_text())["requiredSecrets"]}
    assert set(required) == {f"tradesense:{k}" for k in keys}
    assert all(state.startswith("set in stack file") for state in required.values())


def test_exit_1_when_a_change_makes_pods_privileged(tmp_path):
    """A code change that weakens the secure defaults is caught by the pack, by rule name."""
    project = _temp_project(tmp_path)
    defaults = project / "components" / "secure_defaults.py"
    source = defaults.read_text()
    assert '"privileged": False' in source
    defaults.write_text(source.replace('"privileged": False', '"privileged": True'))
    out = tmp_path / "out"
    proc = run_plan_cli(["--stack", "staging", "--out", str(out)], cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    violations = json.loads((out / "policy.json").read_text())
    privileged = [v for v in violations if v["policy"] == "k8s-pod-disallow-privileged"]
    names = {v["resource_name"] for v in privileged}
    # Every pod-bearing workload of the app is named, not just one.
    assert {"tradesense-backend-deployment", "tradesense-frontend-deployment", "tradesense-redis-stateful-set",
            "tradesense-backups-redis-backup"} <= names
    assert all(v["enforcement"] == "mandatory" for v in privileged)
    assert "[k8s-pod-disallow-privileged]" in proc.stdout


def test_the_plan_builds_without_the_cyclic_gc_and_restores_it():
    import gc

    from tools.plan import no_cyclic_gc

    assert gc.isenabled()
    with pytest.raises(ValueError):
        with no_cyclic_gc():
            assert not gc.isenabled()
            raise ValueError("a failing plan")
    assert gc.isenabled()
    gc.disable()
    try:
        with no_cyclic_gc():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()


def test_plan_json_is_the_plan_with_one_resource_a_line():
    from tools.plan_output import plan_json

    plan = {"stack": "x", "resources": [{"urn": "a", "inputs": {"b": [1, {"c": None}]}}, {"urn": "ü\n"}], "summary": {"n": 2}}
    text = plan_json(plan)
    assert json.loads(text) == plan
    lines = text.splitlines()
    assert [line for line in lines if line.startswith('{"inputs"') or line.startswith('{"urn"')] == [
        '{"inputs": {"b": [1, {"c": null}]}, "urn": "a"},', '{"urn": "\\u00fc\\n"}']
    assert json.loads(plan_json({"resources": []})) == {"resources": []}
