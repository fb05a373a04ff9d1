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


# --- staging's review-deployer admission policy, exercised as the deployer ---------------------

def _review_access(objects: list[dict]) -> list[dict]:
    policy = [o for o in objects if o["kind"] == "ValidatingAdmissionPolicy"]
    assert len(policy) == 1, [o["metadata"]["name"] for o in policy]
    name = policy[0]["metadata"]["name"]
    binding_subjects = [o for o in objects if o["kind"] == "ClusterRoleBinding" and o["metadata"]["name"] == name]
    account = binding_subjects[0]["subjects"][0]
    kinds = {"ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    return [o for o in objects if o["kind"] in kinds or (o["kind"] == "Namespace" and o["metadata"]["name"] == account["namespace"])
            or (o["kind"] == "ServiceAccount" and o["metadata"]["name"] == account["name"])], account


@pytest.fixture(scope="module")
def review_policy(server, plans):
    api = server["api"]
    access, account = _review_access(manifests(plans["staging"]))
    for kind in ("Namespace", "ServiceAccount", "ClusterRole", "ValidatingAdmissionPolicy",
                 "ValidatingAdmissionPolicyBinding", "ClusterRoleBinding"):
        for obj in access:
            if obj["kind"] == kind:
                api.apply(obj)
    policy = next(o for o in access if o["kind"] == "ValidatingAdmissionPolicy")
    user = f"system:serviceaccount:{account['namespace']}:{account['name']}"
    deployer = api.impersonate(user, ("system:serviceaccounts", f"system:serviceaccounts:{account['namespace']}",
                                      "system:authenticated"))
    return {"api": api, "deployer": deployer, "policy": policy["metadata"]["name"], "user": user}


def _path(api, obj: dict) -> str:
    return api.object_path(obj)


def test_the_review_policy_type_checks_without_warnings(review_policy):
    api, name = review_policy["api"], review_policy["policy"]
    deadline = time.monotonic() + ESTABLISHED_TIMEOUT
    while True:
        obj = api.get(f"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/{name}")
        status = obj.get("status", {})
        if status.get("observedGeneration") == obj["metadata"]["generation"] and "typeChecking" in status:
            break
        assert time.monotonic() < deadline, f"no typeChecking status on {name}: {status}"
        time.sleep(0.5)
    assert status["typeChecking"].get("expressionWarnings", []) == [], status["typeChecking"]


def _as_deployer(review_policy, method: str, obj: dict, dry_run: bool):
    deployer = review_policy["deployer"]
    query = {"dryRun": "All"} if dry_run else None
    if method == "apply":
        return deployer.apply(with_placeholder_secrets(obj), dry_run=dry_run, field_manager="review-deployer")
    return deployer.request("POST", deployer.resource_path(obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace")),
                            with_placeholder_secrets(obj), query=query)


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


def test_the_deployer_may_create_every_object_of_a_review_plan(review_policy, plans):
    objects = manifests(plans["review"])
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    assert len(namespaces) == 1
    _retry_rbac(lambda: _as_deployer(review_policy, "apply", namespaces[0], dry_run=False))
    bindings = [o for o in objects if o["kind"] == "RoleBinding"]
    for binding in bindings:
        _retry_rbac(lambda: _as_deployer(review_policy, "apply", binding, dry_run=False))
    refused = []
    kinds = set()
    for obj in objects:
        if obj["kind"] in ("Namespace", "RoleBinding"):
            continue
        kinds.add(obj["kind"])
        try:
            _retry_rbac(lambda: _as_deployer(review_policy, "apply", obj, dry_run=True))
        except ApiError as err:
            refused.append(f"{obj['kind']} {obj['metadata'].get('name')}: {err}")
    assert refused == []
    assert {"Deployment", "Service", "HTTPRoute"} <= kinds, kinds
    review_policy["namespace"] = namespaces[0]


def _refused_by_policy(review_policy, obj: dict) -> str:
    with pytest.raises(ApiError) as refused:
        _retry_rbac(lambda: _as_deployer(review_policy, "create", obj, dry_run=True))
    assert refused.value.status in (403, 422), str(refused.value)
    assert "ValidatingAdmissionPolicy" in str(refused.value) and review_policy["policy"] in str(refused.value), str(refused.value)
    return str(refused.value)


def test_the_deployer_may_not_create_a_load_balancer(review_policy, plans):
    namespace = review_policy.get("namespace") or pytest.fail("the review namespace was not created")
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "e2e-lb", "namespace": namespace["metadata"]["name"]},
               "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "selector": {"app": "x"}}}
    _refused_by_policy(review_policy, service)
    # The look-alike that passes: the same Service as ClusterIP.
    service["spec"]["type"] = "ClusterIP"
    _retry_rbac(lambda: _as_deployer(review_policy, "create", service, dry_run=True))


def test_the_deployer_may_not_make_a_privileged_namespace(review_policy):
    namespace = copy.deepcopy(review_policy.get("namespace") or pytest.fail("the review namespace was not created"))
    namespace["metadata"]["name"] = f"tradesense-pr-{REVIEW_NUMBER + 1}"
    namespace["metadata"].pop("resourceVersion", None)
    privileged = copy.deepcopy(namespace)
    privileged["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "privileged"
    _refused_by_policy(review_policy, privileged)
    # Outside the review prefix, even a restricted namespace is refused.
    elsewhere = copy.deepcopy(namespace)
    elsewhere["metadata"]["name"] = "kube-public-e2e"
    _refused_by_policy(review_policy, elsewhere)
    # The look-alike that passes: the next review namespace with the review labels.
    _retry_rbac(lambda: _as_deployer(review_policy, "create", namespace, dry_run=True))
