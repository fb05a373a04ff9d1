"""The real Pulumi engine runs each stack end to end: the program, the engine and the policy pack are
real; only the clouds are fake provider plugins (tools/engine/fake_provider.py).

One `pulumi up` per stack (module-scoped fixture); the tests then read, change and destroy it in
file order.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import STACKS, TEST_SECRETS
from tests.e2e.harness import ROOT, Project, deployed_types_and_names, require_engine
from tools import computed_outputs

EXPORTS = ROOT / "build" / "e2e" / "exports"
# One resource per stack whose record in the fake cloud a test edits (drift), and the field.
DRIFT = {
    "prod": ("aws:eks/nodeGroup:NodeGroup", ("scalingConfig", "maxSize")),
    "staging": ("digitalocean:index/kubernetesCluster:KubernetesCluster", ("nodePool", "maxNodes")),
    "dev": ("kubernetes:core/v1:ConfigMap", ("data",)),
}
# A field each stack's program puts in ignoreChanges, and a value the cloud moved it to.
IGNORED = {
    "prod": ("aws:eks/nodeGroup:NodeGroup", ("scalingConfig", "desiredSize"), 7),
    "staging": ("digitalocean:index/kubernetesCluster:KubernetesCluster", ("nodePool", "nodeCount"), 7),
    "dev": ("kubernetes:apps/v1:StatefulSet", ("spec", "volumeClaimTemplates"), []),
}


def start_offline_plan(stack: str, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tools.plan", "--stack", stack, "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def preview_steps(result) -> set[tuple[str, str]]:
    """(op, name) of every step of a `preview --json` that changes something (refresh steps only read)."""
    return {(s["op"], s["urn"].split("::")[-1]) for s in json.loads(result.stdout)["steps"] if s["op"] not in ("same", "refresh")}


@pytest.fixture(scope="module", params=STACKS)
def deployed(request, tmp_path_factory):
    cli = require_engine()
    stack = request.param
    project = Project(cli, stack, tmp_path_factory.mktemp(f"e2e-{stack}"))
    plan = start_offline_plan(stack, project.base / "plan")  # runs beside the engine
    project.init(TEST_SECRETS)
    project.first_up = project.pulumi("up", "--yes", *project.policy_args)
    output, _ = plan.communicate(timeout=900)
    assert plan.returncode == 0, output
    project.plan = json.loads((project.base / "plan" / "plan.json").read_text())
    return project


def test_secrets_are_encrypted_in_the_stack_file(deployed):
    config = yaml.safe_load(deployed.stack_file.read_text())["config"]
    assert "encryptionsalt" in yaml.safe_load(deployed.stack_file.read_text())
    for key, value in TEST_SECRETS.items():
        assert set(config[key]) == {"secure"}, key
        assert value not in deployed.stack_file.read_text()


def test_first_up_deploys_exactly_the_offline_plan(deployed):
    assert "tradesense-policies" in deployed.first_up.output, "the policy pack did not run"
    planned = {(r["type"], r["name"]) for r in deployed.plan["resources"]}
    assert deployed_types_and_names(deployed.export()) == planned


def test_second_preview_has_no_changes_and_no_mandatory_violation(deployed):
    result = deployed.pulumi("preview", "--expect-no-changes", *deployed.policy_args, check=False)
    assert result.code == 0, str(result)
    assert "tradesense-policies" in result.output
    assert "mandatory" not in result.output.lower(), str(result)


def test_image_tag_change_updates_the_backend_and_replaces_the_migration_job(deployed):
    deployed.pulumi("config", "set", "--path", "tradesense:app.backend.image.tag", "9.9.9")
    try:
        result = deployed.pulumi("preview", "--json")
    finally:
        deployed.pulumi("config", "set", "--path", "tradesense:app.backend.image.tag", _committed_tag(deployed.stack))
    assert preview_steps(result) == {
        ("update", "tradesense-backend-deployment"),
        ("replace", "tradesense-migrations-job"),
    }
    steps = {s["urn"].split("::")[-1]: s for s in json.loads(result.stdout)["steps"]}
    # The Job is named after the image, and its pod template is immutable (tools.plan_diff.REPLACE_ON).
    assert sorted(steps["tradesense-migrations-job"]["replaceReasons"]) == ["metadata", "spec"]


# A ForceNew argument per cloud stack, a new value, and the resource a real provider replaces.
REPLACING = {
    "prod": ("cluster.eks.instanceTypes[0]", "t3.xlarge", "aws:eks/nodeGroup:NodeGroup", "instanceTypes"),
    "staging": ("cluster.doks.size", "s-4vcpu-8gb", "digitalocean:index/kubernetesCluster:KubernetesCluster", "nodePool"),
}


def test_a_force_new_change_previews_as_the_replacement_plan_diff_predicts(deployed):
    from tools.plan_diff import replace_prefixes

    if deployed.stack not in REPLACING:
        pytest.skip("dev adopts an existing cluster: no cloud resource to replace")
    key, value, typ, field = REPLACING[deployed.stack]
    committed = deployed.stack_file.read_text()
    deployed.pulumi("config", "set", "--path", f"tradesense:{key}", value)
    try:
        result = deployed.pulumi("preview", "--json", check=False)
    finally:
        deployed.stack_file.write_text(committed)  # secrets included: the file is the whole config
    if deployed.stack == "prod":
        # prod protects its node group: the engine refuses the replacement already in preview.
        assert result.code != 0 and "protect" in result.output, str(result)
        return
    assert result.code == 0, str(result)
    steps = [s for s in json.loads(result.stdout)["steps"] if s["urn"].split("::")[-2].split("$")[-1] == typ]
    assert [s["op"] for s in steps] == ["replace"], [s["op"] for s in steps]
    assert field in steps[0]["replaceReasons"]
    assert set(steps[0]["replaceReasons"]) <= {p.split(".")[0] for p in replace_prefixes(typ)}
    # Put back: the next tests see the committed stack again.
    assert deployed.pulumi("preview", "--expect-no-changes", check=False).code == 0


def _committed_tag(stack: str) -> str:
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return str(doc["tradesense:app"]["backend"]["image"]["tag"])


def test_export_is_a_deployment_without_plain_text_secrets(deployed):
    exported = deployed.export()
    EXPORTS.mkdir(parents=True, exist_ok=True)
    (EXPORTS / f"{deployed.stack}.json").write_text(json.dumps(exported, indent=2))
    assert exported["version"] in (3, 4)
    deployment = exported["deployment"]
    assert deployment["secrets_providers"]["type"] == "passphrase"
    assert {"manifest", "resources"} <= set(deployment)
    for res in deployment["resources"]:
        assert {"urn", "type"} <= set(res)
    text = json.dumps(exported)
    cloud = deployed.cloud_file.read_text()  # the fake cloud keeps secrets only as hashes
    for key, value in TEST_SECRETS.items():
        assert value not in text, key
        assert value not in cloud, key
    for res in deployment["resources"]:
        if res["type"] == "random:index/randomPassword:RandomPassword":
            name = res["urn"].split("::")[-1]
            generated = computed_outputs.computed(res["type"], name, {"length": res["inputs"]["length"]})["result"]
            assert generated not in text, f"{name}'s generated password is in the export in plain text"
            assert generated not in cloud, f"{name}'s generated password is in the fake cloud file"
    for marker in ("current-context", "certificate-authority-data", "clusterCaCertificate\": \"LS0"):
        assert marker not in text, f"a kubeconfig ({marker}) is in the export in plain text"


LEAKED = "sk_live_TESTVALUE_leaked_in_state"


def _audit(path: Path, stack: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.audit", str(path), "--stack", stack, "--format", "json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_the_auditor_passes_the_real_export_and_catches_a_secret_left_in_plain_text(deployed, tmp_path):
    # Issue 12's auditor on what `pulumi stack export` really prints, not on a hand-built fixture.
    exported = deployed.export()
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps(exported))
    result = _audit(clean, deployed.stack)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "pass"
    # The same export with one Kubernetes Secret's data unwrapped, as a state edited by hand or
    # exported with --show-secrets would hold it.
    secret = next(r for r in exported["deployment"]["resources"] if r["type"] == "kubernetes:core/v1:Secret")
    secret["inputs"]["stringData"] = {"STRIPE_API_KEY": LEAKED}
    secret.setdefault("outputs", {})["stringData"] = {"STRIPE_API_KEY": LEAKED}
    dirty = tmp_path / "dirty.json"
    dirty.write_text(json.dumps(exported))
    result = _audit(dirty, deployed.stack)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert LEAKED not in result.stdout + result.stderr
    assert secret["urn"] in result.stdout


def _drift_preview(deployed, typ: str, path: tuple[str, ...], value):
    """Change one field of the fake cloud's record of a `typ` resource, then preview with refresh."""
    records = deployed.cloud()
    original = json.loads(json.dumps(records))
    urn = next(u for u in records if u.split("::")[-2].endswith(typ))
    target = records[urn]["outputs"]
    for part in path[:-1]:
        target = target[part][0] if isinstance(target[part], list) else target[part]
    target[path[-1]] = value
    deployed.write_cloud(records)
    try:
        return urn, deployed.pulumi("preview", "--refresh", "--expect-no-changes", "--json", check=False)
    finally:
        deployed.write_cloud(original)


def test_changes_the_program_ignores_are_not_drift(deployed):
    """What an autoscaler or a by-hand volume resize changes is in `ignoreChanges` (through the engine)."""
    typ, path, value = IGNORED[deployed.stack]
    _, result = _drift_preview(deployed, typ, path, value)
    assert result.code == 0, str(result)


def test_drift_in_the_fake_cloud_is_found_by_a_refreshing_preview(deployed):
    typ, path = DRIFT[deployed.stack]
    urn, result = _drift_preview(deployed, typ, path, 99 if path[-1] != "data" else {"drifted": "by hand"})
    assert result.code != 0, str(result)
    assert "no changes were expected" in result.output
    # pulumi-kubernetes replaces a ConfigMap whose data changed (tools.plan_diff.REPLACE_ON); the
    # node-pool bounds are updated in place.
    expected = "replace" if deployed.stack == "dev" else "update"
    assert preview_steps(result) == {(expected, urn.split("::")[-1])}


def test_destroy(deployed):
    protected = [(r["type"], r["name"]) for r in deployed.plan["resources"] if r["protect"]]
    if deployed.stack == "prod":
        result = deployed.pulumi("destroy", "--yes", check=False)
        assert result.code != 0
        assert protected, "prod protects nothing"
        # The engine stops at the first protected resources it reaches and names each of them.
        refused = set(re.findall(r"resource \"urn:pulumi:[^\"]*::([^\"]+)\" cannot be deleted\s+because it is protected", result.output))
        assert refused, str(result)
        assert refused <= {name for _, name in protected}
        remaining = deployed_types_and_names(deployed.export())
        assert set(protected) <= remaining, "a protected resource was deleted"
    else:
        assert not protected, f"{deployed.stack} protects {protected}"
        deployed.pulumi("destroy", "--yes")
        assert deployed.export()["deployment"].get("resources", []) == []
        assert deployed.cloud() == {}, "the fake cloud still holds resources after destroy"


def test_passphrase_and_secret_values_never_appear_in_a_log(deployed):
    logs = deployed.all_logs()
    assert logs.strip()
    assert deployed.passphrase not in logs
    for key, value in TEST_SECRETS.items():
        assert value not in logs, key
    for res in deployed.plan["resources"]:
        if res["type"] == "random:index/randomPassword:RandomPassword":
            generated = computed_outputs.computed(res["type"], res["name"], {"length": res["inputs"]["length"]})["result"]
            assert generated not in logs, f"{res['name']}'s generated password is in a log"
