"""The staging and prod offline plans against the real API server of the local control plane.

Every object of each plan (`python -m tools.plan --stack X --out DIR`), and every object of each
chart rendered with the values the plan writes (helm/<release>.yaml), is server-side dry-run
applied, with the stack's CRDs installed from the real charts: schema validation, defaulting and
admission (Pod Security, ValidatingAdmissionPolicy) all run in the API server. Any rejection, and
any Pod Security "would violate" warning, fails the test.

Staging's review-deployer ValidatingAdmissionPolicy is then applied and exercised with real
requests made as the deployer's ServiceAccount (impersonation): the review plan's objects are
admitted, a LoadBalancer Service and a namespace that drops Pod Security `restricted` are refused.
"""

from __future__ import annotations

import base64
import copy
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.cluster.conftest import documents
from tests.e2e.cluster.test_cluster_dev import stand_in_versions
from tests.e2e.harness import ROOT
from tools.cluster.api import ApiError
from components.platform.review_slots import (ADMIN_SERVICE_ACCOUNT, CI_NAMESPACE, pr_namespace,
                                              pr_service_account, slot_manifests)
from components.platform.charts import GATEWAY_API_CRDS_FILE
from tools.cluster.build import KUBERNETES_VERSION

STACKS = ("staging", "prod")
REVIEW_NUMBER = 123
PLACEHOLDER = "e2e-placeholder"
ESTABLISHED_TIMEOUT = 60


def _plan_command(args: list[str], out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tools.plan", *args, "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("cluster-plans")
    jobs = {stack: (_plan_command(["--stack", stack], base / stack), base / stack) for stack in STACKS}
    jobs["review"] = (_plan_command(["--review", str(REVIEW_NUMBER)], base / "review"), base / "review")
    out = {}
    for name, (proc, folder) in jobs.items():
        output, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"tools.plan {name}:\n{output[-4000:]}"
        out[name] = folder
    return out


def manifests(folder: Path) -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted((folder / "manifests").rglob("*.yaml"))]


def releases(folder: Path) -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted((folder / "helm").glob("*.yaml"))]


def with_placeholder_secrets(obj: dict) -> dict:
    """The plan redacts every Secret value; the server needs base64 in `data`."""
    if obj["kind"] != "Secret":
        return obj
    obj = copy.deepcopy(obj)
    for key in obj.get("data") or {}:
        obj["data"][key] = base64.b64encode(PLACEHOLDER.encode()).decode()
    for key in obj.get("stringData") or {}:
        obj["stringData"][key] = PLACEHOLDER
    return obj


def chart_package(charts_dir: Path, release: dict) -> Path:
    name = release["chart"].rsplit("/", 1)[-1]
    version = release["version"]
    stand_in = stand_in_versions(charts_dir).get(name)
    if stand_in and stand_in[0] == version:
        version = stand_in[1]  # PROVENANCE.tsv: this pin stands in at the version the folder has
    package = charts_dir / f"{name}-{version}.tgz"
    assert package.exists(), f"{package} is missing (the plan pins {name} {release['version']})"
    return package


def render(helm, charts_dir: Path, release: dict, api_versions: list[str], workdir: Path, crds: bool) -> list[dict]:
    values = workdir / f"{release['name']}-values.yaml"
    values.write_text(yaml.safe_dump(release["values"]))
    args = ["template", release["name"], str(chart_package(charts_dir, release)), "--namespace", release["namespace"],
            "--values", str(values), "--kube-version", KUBERNETES_VERSION]
    for api_version in api_versions:
        args += ["--api-versions", api_version]
    if crds:
        args.append("--include-crds")
    docs = documents(helm(*args).stdout)
    for doc in docs:
        doc.setdefault("metadata", {}).setdefault("annotations", None)
        if doc["metadata"]["annotations"] is None:
            del doc["metadata"]["annotations"]
    return docs


def gateway_api_crds(charts_dir: Path) -> list[dict]:
    """The vendored file the program applies (components/platform/charts.py)."""
    return documents((ROOT / GATEWAY_API_CRDS_FILE).read_text())


def served_api_versions(api) -> list[str]:
    groups = api.get("/apis")["groups"]
    return ["v1"] + [v["groupVersion"] for g in groups for v in g["versions"]]


@pytest.fixture(scope="module")
def server(control_plane, plans, charts_dir, helm, tmp_path_factory):
    """The API server with every CRD of the staging and prod charts (and Gateway API) installed."""
    api = control_plane.client
    workdir = tmp_path_factory.mktemp("renders")
    crds = {}
    for stack in STACKS:
        for release in releases(plans[stack]):
            for doc in render(helm, charts_dir, release, [], workdir, crds=True):
                if doc["kind"] == "CustomResourceDefinition":
                    crds[doc["metadata"]["name"]] = doc
    # The Gateway API install file the program applies (its CRDs and its upgrade-guard policy).
    gateway_api = gateway_api_crds(charts_dir)
    for doc in gateway_api:
        if doc["kind"] == "CustomResourceDefinition":
            crds[doc["metadata"]["name"]] = doc
    for doc in [*crds.values(), *(d for d in gateway_api if d["kind"] != "CustomResourceDefinition")]:
        api.apply(doc)
    deadline = time.monotonic() + ESTABLISHED_TIMEOUT
    for name in crds:
        while True:
            status = api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}").get("status", {})
            if any(c["type"] == "Established" and c["status"] == "True" for c in status.get("conditions", [])):
                break
            assert time.monotonic() < deadline, f"CRD {name} not Established"
            time.sleep(0.3)
    api.forget_discovery()
    return {"api": api, "crds": set(crds), "workdir": workdir, "api_versions": served_api_versions(api)}


def dry_run_all(api, objects: list[dict]) -> list[str]:
    """Server-side dry-run apply of each object; returns every rejection and Pod Security warning."""
    problems = []
    api.warnings.clear()
    for obj in objects:
        try:
            api.apply(with_placeholder_secrets(obj), dry_run=True)
        except ApiError as err:
            problems.append(f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata'].get('name')}: {err}")
    problems += [w for w in api.warnings if "PodSecurity" in w]
    return problems


def apply_namespaces(api, objects: list[dict]) -> None:
    """Namespaces are created for real (a dry-run object needs its namespace), with the plan's labels."""
    for obj in objects:
        if obj["kind"] == "Namespace":
            api.apply(obj)


@pytest.mark.parametrize("stack", STACKS)
def test_every_object_of_the_plan_is_admitted(server, plans, stack):
    api = server["api"]
    objects = manifests(plans[stack])
    assert len(objects) > 50
    apply_namespaces(api, objects)
    assert dry_run_all(api, [o for o in objects if o["kind"] != "Namespace"]) == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_chart_rendered_with_the_plans_values_is_admitted(server, plans, charts_dir, helm, stack):
    api = server["api"]
    apply_namespaces(api, manifests(plans[stack]))
    rendered = []
    for release in releases(plans[stack]):
        for doc in render(helm, charts_dir, release, server["api_versions"], server["workdir"], crds=False):
            if doc["kind"] == "CustomResourceDefinition":
                continue
            if api.is_namespaced(doc["apiVersion"], doc["kind"]):
                doc["metadata"].setdefault("namespace", release["namespace"])
            rendered.append(doc)
    assert len(rendered) > 100
    assert dry_run_all(api, rendered) == []


def test_a_rejection_is_reported(server, plans):
    """The dry run is not a rubber stamp: a plan object with a field the schema lacks is refused."""
    api = server["api"]
    objects = manifests(plans["staging"])
    apply_namespaces(api, objects)
    deployment = copy.deepcopy(next(o for o in objects if o["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Sometimes"
    problems = dry_run_all(api, [deployment])
    assert len(problems) == 1 and "imagePullPolicy" in problems[0], problems


# --- staging's review identities and admission policies, exercised on the real API server -------

REVIEW_ACCESS_KINDS = {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount", "ResourceQuota",
                       "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
APPLY_ORDER = ("Namespace", "ResourceQuota", "ServiceAccount", "ClusterRole", "Role", "ValidatingAdmissionPolicy",
               "ValidatingAdmissionPolicyBinding", "ClusterRoleBinding", "RoleBinding")


def _review_access(objects: list[dict]) -> list[dict]:
    """Staging's review-access objects: the CI namespace and everything in it, the policies, the RBAC."""
    def review(obj):
        name, namespace = obj["metadata"]["name"], obj["metadata"].get("namespace")
        return (namespace == CI_NAMESPACE or (obj["kind"] == "Namespace" and name == CI_NAMESPACE)
                or obj["kind"].startswith("ValidatingAdmissionPolicy") and name.startswith("tradesense-review-")
                or obj["kind"] in ("ClusterRole", "ClusterRoleBinding") and name.startswith("tradesense-review-"))
    chosen = [o for o in objects if review(o) and (o["kind"] in REVIEW_ACCESS_KINDS or o["kind"] == "Namespace")]
    return sorted(chosen, key=lambda o: APPLY_ORDER.index(o["kind"]) if o["kind"] in APPLY_ORDER else len(APPLY_ORDER))


def _as(api, account: str):
    return api.impersonate(f"system:serviceaccount:{CI_NAMESPACE}:{account}",
                           ("system:serviceaccounts", f"system:serviceaccounts:{CI_NAMESPACE}", "system:authenticated"))


@pytest.fixture(scope="module")
def review_policy(server, plans):
    api = server["api"]
    access = _review_access(manifests(plans["staging"]))
    policies = [o["metadata"]["name"] for o in access if o["kind"] == "ValidatingAdmissionPolicy"]
    assert len(policies) >= 10, policies  # an allowlist: one policy per identity and per risky kind
    for obj in access:
        api.apply(obj)
    admin = _as(api, ADMIN_SERVICE_ACCOUNT)
    # The admin opens the slot for the review plan's PR: creates (it may not patch), in the order
    # tools/review_slot.py does.
    for obj in slot_manifests(REVIEW_NUMBER, "staging"):
        _retry_rbac(lambda: admin.request("POST", admin.resource_path(obj["apiVersion"], obj["kind"],
                                                                       obj["metadata"].get("namespace")), obj))
    pr = _as(api, pr_service_account(REVIEW_NUMBER))
    _wait_until_policies_enforce(pr)
    return {"api": api, "admin": admin, "pr": pr, "policies": policies}


def _wait_until_policies_enforce(pr, timeout: float = 90):
    """A new policy and binding reach the admission plugin a moment after they are created (a full
    CI run once admitted everything before they had): wait until probes of two kinds are refused."""
    namespace = pr_namespace(REVIEW_NUMBER)
    probes = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "probe-lb", "namespace": namespace},
         "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "selector": {"app": "x"}}},
        {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "probe-pg", "namespace": namespace},
         "spec": {"instances": 1, "storage": {"size": "1Gi"},
                  "managed": {"services": {"additional": [{"selectorType": "rw", "serviceTemplate": {
                      "metadata": {"name": "probe-pg-lb"}, "spec": {"type": "LoadBalancer"}}}]}}}},
    ]
    deadline = time.monotonic() + timeout
    for probe in probes:
        while True:
            try:
                _dry_run_create(pr, probe)
                refusal = ""
            except ApiError as err:
                refusal = str(err)
            if "ValidatingAdmissionPolicy" in refusal:
                break
            assert time.monotonic() < deadline, f"the review policies never refused {probe['kind']} {probe['metadata']['name']}: {refusal or 'admitted'}"
            time.sleep(1)


def test_every_review_policy_type_checks_without_warnings(review_policy):
    """The API server type-checks each expression against the schemas of the kinds a policy names
    (issue 21's dead guard: an undefined field never matches, and only this status shows it)."""
    api = review_policy["api"]
    warnings = {}
    for name in review_policy["policies"]:
        deadline = time.monotonic() + ESTABLISHED_TIMEOUT
        while True:
            obj = api.get(f"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/{name}")
            status = obj.get("status", {})
            if status.get("observedGeneration") == obj["metadata"]["generation"] and "typeChecking" in status:
                break
            assert time.monotonic() < deadline, f"no typeChecking status on {name}: {status}"
            time.sleep(0.5)
        if status["typeChecking"].get("expressionWarnings"):
            warnings[name] = status["typeChecking"]["expressionWarnings"]
    assert warnings == {}


def _retry_rbac(call, timeout: float = 20):
    """A new (Cluster)RoleBinding reaches the authorizer's cache within a moment."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except ApiError as err:
            if err.status != 403 or "ValidatingAdmissionPolicy" in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _dry_run_create(client, obj: dict):
    return client.request("POST", client.resource_path(obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace")),
                          with_placeholder_secrets(obj), query={"dryRun": "All"})


def test_the_pr_identity_may_create_every_object_of_its_review_plan(review_policy, plans):
    """The API server writes the CRDs' defaults (enablePDB, backendRefs' kind, ...) before admission:
    the allowlist admits each at its default (review_admission.DEFAULTED), as the real server shows."""
    objects = manifests(plans["review"])
    refused, kinds = [], set()
    for obj in objects:
        kinds.add(obj["kind"])
        try:
            _retry_rbac(lambda: _dry_run_create(review_policy["pr"], obj))
        except ApiError as err:
            refused.append(f"{obj['kind']} {obj['metadata'].get('name')}: {err}")
    assert refused == []
    assert {"Deployment", "Service", "HTTPRoute"} <= kinds, kinds


def _refused(client, obj: dict, by_policy: bool = True) -> str:
    with pytest.raises(ApiError) as refused:
        _retry_rbac(lambda: _dry_run_create(client, obj), timeout=5 if not by_policy else 20)
    assert refused.value.status in (403, 422), str(refused.value)
    if by_policy:
        assert "ValidatingAdmissionPolicy" in str(refused.value), str(refused.value)
    return str(refused.value)


def test_the_pr_identity_may_not_create_a_load_balancer_nor_leave_its_namespace(review_policy):
    pr, namespace = review_policy["pr"], pr_namespace(REVIEW_NUMBER)
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "e2e-lb", "namespace": namespace},
               "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "selector": {"app": "x"}}}
    _refused(pr, service)
    # Another PR's namespace: RBAC gives it nothing there.
    elsewhere = copy.deepcopy(service)
    elsewhere["metadata"]["namespace"] = pr_namespace(REVIEW_NUMBER + 1)
    elsewhere["spec"]["type"] = "ClusterIP"
    _refused(pr, elsewhere, by_policy=False)
    # The look-alike that passes: the same Service as ClusterIP in its own namespace.
    service["spec"]["type"] = "ClusterIP"
    _retry_rbac(lambda: _dry_run_create(pr, service))


def test_the_admin_may_not_make_a_privileged_namespace(review_policy):
    admin = review_policy["admin"]
    namespace = copy.deepcopy(next(o for o in slot_manifests(REVIEW_NUMBER + 1, "staging") if o["kind"] == "Namespace"))
    privileged = copy.deepcopy(namespace)
    privileged["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "privileged"
    _refused(admin, privileged)
    # Outside the review prefix, even a restricted namespace is refused.
    outside = copy.deepcopy(namespace)
    outside["metadata"]["name"] = "kube-public-e2e"
    _refused(admin, outside)
    # The look-alike that passes: the next review namespace with the review labels.
    _retry_rbac(lambda: _dry_run_create(admin, namespace))
