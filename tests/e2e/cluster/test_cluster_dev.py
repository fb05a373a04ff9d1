"""`pulumi up -s dev` on a real control plane (tools/cluster), with the real pulumi-resource-kubernetes
and the real charts, installed by the provider's own Helm from a chart repository on 127.0.0.1
(`platform.chartMirror`). kwok simulates nodes and pod status, and the stand-in controller the
status of custom resources whose controllers cannot run (docs/ENGINE.md lists each).

One `pulumi up` for the module; the tests then read it, preview it again and destroy it in file order.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import TEST_SECRETS
from tests.e2e.cluster.conftest import documents
from tests.e2e.harness import Project, require_engine
from tools.cluster.api import ApiError
from tools.cluster.build import BIN as CLUSTER_BIN
from tools.cluster.build import PROVIDER_VERSION
from tools.cluster.control_plane import CONTEXT

NAMESPACE = "tradesense"
SKIPPED_TYPES = ("pulumi:", "kubernetes:helm.sh/", "kubernetes:yaml/", "random:")
GONE_TIMEOUT = 180


def stand_in_versions(charts_dir) -> dict[str, tuple[str, str]]:
    """chart -> (pinned, obtained) for the pins PROVENANCE.tsv says stand in at another version."""
    rows = [line.split("\t") for line in (charts_dir / "PROVENANCE.tsv").read_text().splitlines()[1:] if line.strip()]
    return {r[0]: (r[1], r[2]) for r in rows if r[3] == "no"}


def pin_stand_ins(project: Project, charts_dir) -> None:
    """The chart folder has two charts at another version than the program pins (PROVENANCE.tsv).
    The project copy (never the repo) pins those charts at the version the mirror really serves."""
    charts_py = project.dir / "components" / "platform" / "charts.py"
    text = charts_py.read_text()
    for chart, (pinned, obtained) in stand_in_versions(charts_dir).items():
        old = f'ChartRef("{chart}", "{pinned}"'
        assert text.count(old) == 1, f"{charts_py} has no single pin {old}"
        text = text.replace(old, f'ChartRef("{chart}", "{obtained}"')
    charts_py.write_text(text)


def wait_until(what: str, check, timeout: float, plane) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if not last:
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}: {last}")


@pytest.fixture(scope="module")
def dev(control_plane, chart_repo, charts_dir, tmp_path_factory):
    cli = require_engine()
    project = Project(cli, "dev", tmp_path_factory.mktemp("cluster-dev"))
    pin_stand_ins(project, charts_dir)
    # The real provider (build/cluster/bin) comes before the fake ones on PATH; Helm reads its
    # repositories and cache from a private home.
    project.env["PATH"] = f"{CLUSTER_BIN}:{project.env['PATH']}"
    project.env["KUBECONFIG"] = str(control_plane.kubeconfig)
    for var, sub in (("HELM_CACHE_HOME", "cache"), ("HELM_CONFIG_HOME", "config"), ("HELM_DATA_HOME", "data")):
        project.env[var] = str(project.base / "helm" / sub)
    project.init(TEST_SECRETS)
    project.pulumi("config", "set", "--path", "tradesense:cluster.existing.context", CONTEXT)
    project.pulumi("config", "set", "--path", "tradesense:platform.chartMirror", chart_repo.url)
    project.plane = control_plane
    project.api = control_plane.client
    project.repo = chart_repo
    project.preview = project.pulumi("preview", *project.policy_args, check=False)
    project.up = project.pulumi("up", "--yes", *project.policy_args, check=False)
    return project


def deployed_objects(project) -> list[dict]:
    """apiVersion/kind/metadata of every Kubernetes object the stack registered directly."""
    found = []
    for res in project.export()["deployment"].get("resources", []):
        if res["type"].startswith(SKIPPED_TYPES) or not res["type"].startswith("kubernetes:"):
            continue
        out = res.get("outputs", {})
        found.append({"apiVersion": out["apiVersion"], "kind": out["kind"], "metadata": out["metadata"],
                      "retain": bool(res.get("retainOnDelete"))})
    return found


def releases(project) -> list[dict]:
    return [r for r in project.export()["deployment"].get("resources", []) if r["type"] == "kubernetes:helm.sh/v3:Release"]


def release_objects(project, helm) -> list[dict]:
    """Every object of every Helm release's manifest (`helm get manifest`)."""
    objects = []
    for rel in releases(project):
        status = rel["outputs"]["status"]
        manifest = helm("get", "manifest", status["name"], "-n", status["namespace"]).stdout
        for doc in documents(manifest):
            doc.setdefault("metadata", {})
            if project.api.is_namespaced(doc["apiVersion"], doc["kind"]):
                doc["metadata"].setdefault("namespace", status["namespace"])
            objects.append(doc)
    return objects


def test_preview_and_up_pass_with_the_policy_pack(dev):
    assert dev.preview.code == 0, str(dev.preview)
    assert dev.up.code == 0, str(dev.up)
    assert "tradesense-policies" in dev.up.output, "the policy pack did not run"


def test_the_real_provider_ran_at_its_true_version(dev):
    assert dev.up.code == 0, str(dev.up)
    plugins = dev.export()["deployment"]["manifest"].get("plugins", [])
    kubernetes = [p for p in plugins if p["name"] == "kubernetes" and p.get("type") == "resource"]
    assert kubernetes, plugins
    assert {p["version"] for p in kubernetes} == {PROVIDER_VERSION}, kubernetes
    assert all(p["path"].startswith(str(CLUSTER_BIN)) for p in kubernetes), kubernetes
    assert dev.api.get("/version")["gitVersion"] == "v1.35.4"


def test_every_chart_came_from_the_mirror(dev):
    assert dev.up.code == 0, str(dev.up)
    fetched = {name for name in dev.repo.requests if name.endswith(".tgz")}
    wanted = {f"{rel['outputs']['chart']}-{rel['outputs']['version']}.tgz" for rel in releases(dev)}
    assert wanted and wanted <= fetched, (wanted, fetched)
    for rel in releases(dev):
        assert rel["outputs"]["status"]["status"] == "deployed", rel["outputs"]["status"]
        assert rel["outputs"]["repositoryOpts"]["repo"] == dev.repo.url


def test_every_object_exists_in_the_api_server(dev, helm):
    assert dev.up.code == 0, str(dev.up)
    objects = deployed_objects(dev) + release_objects(dev, helm)
    assert len(objects) > 100, len(objects)
    missing = []
    for obj in objects:
        try:
            dev.api.get(dev.api.object_path(obj))
        except ApiError as err:
            missing.append(f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}: {err.status}")
    assert not missing, missing
    dev.objects = objects


def _not_ready(api) -> list[str]:
    pending = []
    for kind in ("deployments", "statefulsets"):
        for obj in api.get(f"/apis/apps/v1/{kind}")["items"]:
            want = obj["spec"].get("replicas", 1)
            ready = obj.get("status", {}).get("readyReplicas", 0)
            if ready < want or obj.get("status", {}).get("observedGeneration", 0) < obj["metadata"]["generation"]:
                pending.append(f"{kind} {obj['metadata']['namespace']}/{obj['metadata']['name']} {ready}/{want}")
    return pending


def test_every_deployment_and_statefulset_is_ready(dev):
    assert dev.up.code == 0, str(dev.up)
    workloads = dev.api.get("/apis/apps/v1/deployments")["items"] + dev.api.get("/apis/apps/v1/statefulsets")["items"]
    assert {w["metadata"]["namespace"] for w in workloads} >= {NAMESPACE, "cert-manager", "monitoring", "nginx-gateway"}
    assert not _not_ready(dev.api), _not_ready(dev.api)


def test_pods_are_spread_over_three_zones_of_kwok_nodes(dev):
    nodes = {n["metadata"]["name"]: n["metadata"]["labels"]["topology.kubernetes.io/zone"]
             for n in dev.api.get("/api/v1/nodes")["items"]}
    assert len(set(nodes.values())) == 3
    pods = dev.api.get(f"/api/v1/namespaces/{NAMESPACE}/pods")["items"]
    assert pods and all(p["spec"].get("nodeName") in nodes for p in pods)


def test_the_migration_job_completed(dev):
    assert dev.up.code == 0, str(dev.up)
    jobs = [j for j in dev.api.get(f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs")["items"] if "migrat" in j["metadata"]["name"]]
    assert len(jobs) == 1, [j["metadata"]["name"] for j in jobs]
    conditions = {c["type"]: c["status"] for c in jobs[0].get("status", {}).get("conditions", [])}
    assert conditions.get("Complete") == "True", jobs[0].get("status")
    assert jobs[0]["status"].get("succeeded", 0) >= 1


def test_the_gateway_controllers_metrics_port_is_selected_by_a_pod_monitor(dev):
    """Issue 19: NGINX Gateway Fabric's control-plane metrics are scraped. The program's monitor
    must select the pods the real chart made, on a container port the real chart declares."""
    assert dev.up.code == 0, str(dev.up)
    monitors = dev.api.get("/apis/monitoring.coreos.com/v1/namespaces/nginx-gateway/podmonitors")["items"]
    monitors += dev.api.get("/apis/monitoring.coreos.com/v1/namespaces/nginx-gateway/servicemonitors")["items"]
    assert monitors, "nothing scrapes the nginx-gateway namespace"
    scraped = []
    for monitor in monitors:
        labels = monitor["spec"]["selector"]["matchLabels"]
        selector = ",".join(f"{k}={v}" for k, v in labels.items())
        pods = dev.api.get("/api/v1/namespaces/nginx-gateway/pods", query={"labelSelector": selector})["items"]
        ports = {p.get("name") for pod in pods for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        for endpoint in monitor["spec"].get("podMetricsEndpoints", []):
            if pods and endpoint.get("port") in ports:
                scraped.append((monitor["metadata"]["name"], endpoint["port"]))
    assert scraped, f"no monitor selects a chart pod on a declared port: {[m['spec'] for m in monitors]}"


PRIVILEGED = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "e2e-privileged"},
    "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10", "securityContext": {"privileged": True}}]},
}
RESTRICTED = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "e2e-restricted"},
    "spec": {"securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
             "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10", "securityContext": {
                 "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]},
}


def test_the_api_server_rejects_a_privileged_pod_in_the_app_namespace(dev):
    assert dev.up.code == 0, str(dev.up)
    labels = dev.api.get(f"/api/v1/namespaces/{NAMESPACE}")["metadata"]["labels"]
    assert labels.get("pod-security.kubernetes.io/enforce") == "restricted"
    with pytest.raises(ApiError) as refused:
        dev.api.create(f"/api/v1/namespaces/{NAMESPACE}/pods", PRIVILEGED)
    assert refused.value.status == 403
    assert "violates PodSecurity \"restricted:" in str(refused.value), str(refused.value)
    # The look-alike that must pass: the same pod made restricted is admitted (dry run).
    dev.api.request("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", RESTRICTED, query={"dryRun": "All"})


def test_second_preview_expects_no_changes(dev):
    assert dev.up.code == 0, str(dev.up)
    result = dev.pulumi("preview", "--expect-no-changes", *dev.policy_args, check=False)
    assert result.code == 0, str(result)


def test_destroy_leaves_only_what_is_retained_by_design(dev, helm):
    assert dev.up.code == 0, str(dev.up)
    objects = getattr(dev, "objects", None) or deployed_objects(dev) + release_objects(dev, helm)
    dev.pulumi("destroy", "--yes")
    assert dev.export()["deployment"].get("resources", []) == []

    def kept(obj: dict) -> bool:
        # retainOnDelete (the Gateway API CRDs), CRDs from a chart's crds/ (Helm never deletes
        # them) and PersistentVolumeClaims (a StatefulSet's claims outlive it).
        return obj.get("retain") or obj["kind"] in ("CustomResourceDefinition", "PersistentVolumeClaim")

    def still_there() -> list[str]:
        left = []
        for obj in objects:
            if kept(obj):
                continue
            try:
                dev.api.get(dev.api.object_path(obj))
                left.append(f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}")
            except ApiError as err:
                if err.status != 404:
                    raise
        return left

    # Namespaces end once the namespace controller has emptied them.
    wait_until("every object to be deleted", still_there, GONE_TIMEOUT, dev.plane)
    retained = [o for o in objects if o.get("retain")]
    assert retained and all(o["kind"] == "CustomResourceDefinition" for o in retained)
    for obj in retained:
        dev.api.get(dev.api.object_path(obj))
