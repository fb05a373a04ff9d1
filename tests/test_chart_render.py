"""The offline plan renders every Helm release with its pinned chart (helm v3.21.4, the chart
cache) and the pack runs on the rendered objects; releases it cannot render are named."""

from __future__ import annotations

import json
import re

import pytest

from tests.chart_tools import chart_cache, helm
from tests.conftest import edge_overrides, stack_config
from tools.chart_cache import ChartCache
from tools.chart_render import ChartRenders, render_releases
from tools.plan import UNCHECKED_POLICY, build_plan, main
from tools.policy_eval import evaluate, load_policy_config

STACKS = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def plans():
    chart_cache(), helm()  # fail under CI, skip locally, when either is missing
    return {stack: build_plan(stack) for stack in STACKS}


@pytest.mark.parametrize("stack", STACKS)
def test_every_release_is_rendered_and_none_is_unchecked(plans, stack):
    charts = plans[stack].charts
    releases = plans[stack].recording.of_type("kubernetes:helm.sh/v3:Release")
    assert charts.unchecked == []
    assert sorted(r.urn for r in charts.rendered) == sorted(r.urn for r in releases)
    assert all(r.objects > 0 for r in charts.rendered)


def test_stand_ins_are_labelled_as_stand_ins(plans):
    labels = {r.name: r.chart for r in plans["prod"].charts.rendered}
    assert labels["kube-prometheus-stack"] == "kube-prometheus-stack-88.5.3 (stand-in for pinned 88.6.5)"
    assert labels["plugin-barman-cloud"] == "plugin-barman-cloud-0.7.1 (stand-in for pinned 0.8.0)"
    assert labels["cert-manager"] == "cert-manager-v1.21.1"


def test_rendered_objects_are_typed_children_of_their_release(plans):
    result = plans["prod"]
    releases = {r.urn: r for r in result.recording.of_type("kubernetes:helm.sh/v3:Release")}
    for obj in result.charts.resources:
        assert obj.parent in releases
        api = obj.inputs["apiVersion"]
        assert obj.type == f"kubernetes:{api if '/' in api else 'core/' + api}:{obj.inputs['kind']}"
    kinds = {o.type for o in result.charts.resources}
    assert {"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:DaemonSet",
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"} <= kinds


def test_charts_render_in_the_release_namespace_with_the_stack_values(plans):
    result = plans["prod"]
    by_name = {o.inputs["metadata"]["name"]: o for o in result.charts.resources if o.inputs["kind"] == "Deployment"}
    ngf = by_name["nginx-gateway-fabric"]
    assert ngf.inputs["metadata"]["namespace"] == "nginx-gateway"
    assert ngf.inputs["spec"]["replicas"] == 2  # nginxGateway.replicas from the prod values
    # The cluster-autoscaler's IAM role, unknown offline, rendered as a stand-in string.
    assert any(o.inputs["kind"] == "ServiceAccount" and o.inputs["metadata"]["name"] == "cluster-autoscaler"
               for o in result.charts.resources)


def test_the_ngf_pod_monitor_selects_the_rendered_control_plane_and_its_port(plans):
    """The fix of issue 19: the PodMonitor's selector and port match what chart 2.6.5 renders."""
    result = plans["prod"]
    monitor = next(r for r in result.recording.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
                   if r.inputs["metadata"]["name"] == "nginx-gateway-fabric")
    deployment = next(o for o in result.charts.resources
                      if o.inputs["kind"] == "Deployment" and o.inputs["metadata"]["name"] == "nginx-gateway-fabric")
    template = deployment.inputs["spec"]["template"]
    selector = monitor.inputs["spec"]["selector"]["matchLabels"]
    assert selector.items() <= template["metadata"]["labels"].items()
    ports = {p["name"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
    assert monitor.inputs["spec"]["podMetricsEndpoints"][0]["port"] in ports
    assert monitor.inputs["metadata"]["namespace"] == deployment.inputs["metadata"]["namespace"]


def test_the_program_pdbs_select_chart_pods_that_have_none(plans):
    result = plans["prod"]
    pdbs = [r for r in result.recording.of_type("kubernetes:policy/v1:PodDisruptionBudget")]
    for name in ("nginx-gateway-fabric", "cloudnative-pg"):
        deployment = next(o for o in result.charts.resources
                          if o.inputs["kind"] == "Deployment" and o.inputs["metadata"]["name"] == name)
        labels = deployment.inputs["spec"]["template"]["metadata"]["labels"]
        namespace = deployment.inputs["metadata"]["namespace"]
        assert any(p.inputs["metadata"]["namespace"] == namespace
                   and p.inputs["spec"]["selector"]["matchLabels"].items() <= labels.items() for p in pdbs), name


def test_rules_see_rendered_objects_a_privileged_chart_pod_is_caught(plans):
    """The evasion: values that make a chart render a privileged pod. The pack must catch it on
    the rendered object (the Release's own inputs show nothing)."""
    result = plans["prod"]
    release = next(r for r in result.recording.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "metrics-server")
    original = release.inputs
    release.inputs = json.loads(json.dumps(original))
    release.inputs["values"]["securityContext"] = {"privileged": True, "allowPrivilegeEscalation": True}
    release.inputs["values"]["hostNetwork"] = {"enabled": True}
    try:
        renders = render_releases(result.recording, ChartCache(chart_cache().directory), helm())
    finally:
        release.inputs = original
    found = evaluate([*result.recording.resources, *renders.resources], load_policy_config("prod"))
    caught = {(v.policy, v.resource_name) for v in found if v.enforcement == "mandatory"}
    assert ("k8s-pod-disallow-privileged", "platform-autoscaling-metrics-server:autoscaling/metrics-server") in caught
    assert ("k8s-pod-disallow-host-namespaces", "platform-autoscaling-metrics-server:autoscaling/metrics-server") in caught
    # The clean look-alike, the stack's own values, has no finding on that Deployment.
    assert not [v for v in plans["prod"].violations if v["resource_name"] == "platform-autoscaling-metrics-server:autoscaling/metrics-server"]


def test_a_chart_exception_is_scoped_to_its_namespace(plans):
    """The look-alike that must still fail: node-exporter's hostPath exception does not cover a
    hostPath pod elsewhere, and the token allow-list names exact service accounts."""
    config = load_policy_config("prod")
    assert config["k8s-pod-disallow-host-path-volumes"]["excludedNamespaces"] == ["node-exporter"]
    assert all("*" not in name for name in config["k8s-pod-disable-service-account-token-automount"]["allowedServiceAccounts"])
    assert not any(ns.startswith("tradesense") for rule in config.values() if isinstance(rule, dict)
                   for ns in rule.get("excludedNamespaces", []))


def test_without_a_chart_the_plan_names_every_unchecked_release(tmp_path, capsys):
    out = tmp_path / "plan"
    code = main(["--stack", "dev", "--out", str(out), "--chart-cache", str(tmp_path / "no-such-cache")])
    text = capsys.readouterr().out
    assert code == 0
    policy = json.loads((out / "policy.json").read_text())
    unchecked = [v for v in policy if v["policy"] == UNCHECKED_POLICY]
    plan = json.loads((out / "plan.json").read_text())
    releases = [r for r in plan["resources"] if r["type"] == "kubernetes:helm.sh/v3:Release"]
    assert len(unchecked) == len(releases) == len(plan["chartRenders"]["unchecked"]) > 0
    assert plan["chartRenders"]["rendered"] == []
    assert f"UNCHECKED: {len(releases)} release(s) not rendered" in text
    assert "no chart cache at" in unchecked[0]["message"]


def test_without_helm_every_release_is_unchecked(plans):
    renders = render_releases(plans["dev"].recording, chart_cache(), None)
    assert renders.rendered == [] and renders.resources == []
    assert {u.reason for u in renders.unchecked} == {"helm not found (make helm, or set TRADESENSE_HELM)"}


def test_a_chart_mirror_serves_what_the_cache_lacks(tmp_path):
    """With an empty cache, the stack's chartMirror is where the plan renders from (never
    upstream); a mirror that does not answer makes each release unchecked, with Helm's reason."""
    helm()
    config = stack_config("dev", {"platform.chartMirror": "http://127.0.0.1:9/charts"}, secrets=False)
    result = build_plan("dev", config_overrides={"tradesense:platform": config["tradesense:platform"]},
                        chart_cache=tmp_path)
    assert result.charts.rendered == []
    assert len(result.charts.unchecked) == len(result.recording.of_type("kubernetes:helm.sh/v3:Release"))
    for unchecked in result.charts.unchecked:
        assert unchecked.reason.startswith("render failed:") and "127.0.0.1:9" in unchecked.reason, unchecked


def test_ingress_edge_renders_too():
    chart_cache(), helm()
    config = stack_config("prod", edge_overrides("ingress-nginx"), secrets=False)
    result = build_plan("prod", config_overrides={"tradesense:platform": config["tradesense:platform"]})
    assert isinstance(result.charts, ChartRenders) and result.charts.unchecked == []
    assert "ingress-nginx" in {r.name for r in result.charts.rendered}
    assert result.mandatory == []


# --- platform.imageMirror: every image the program and the charts reference -------------------

MIRROR = "mirror.example.internal:5000/m"
UPSTREAM_REF = re.compile(r'(?<![\w./:-])((?:quay\.io|ghcr\.io|docker\.io|registry\.k8s\.io)/[\w./:@-]+)')


def upstream_refs(result) -> set[tuple[str, str]]:
    """Every string, in any field of any Kubernetes object (containers, operator specs, args,
    env), that names an image on an upstream registry rather than through the mirror."""
    found = set()
    for resource in [*result.recording.resources, *result.charts.resources]:
        if resource.type.startswith("kubernetes:"):
            found |= {(resource.name, m.group(1)) for m in UPSTREAM_REF.finditer(json.dumps(resource.inputs))}
    return found


def mirrored_plan(stack: str, edge: str):
    config = stack_config(stack, {**edge_overrides(edge), "platform.imageMirror": MIRROR}, secrets=False)
    return build_plan(stack, config_overrides={"tradesense:platform": config["tradesense:platform"]})


@pytest.mark.parametrize("edge", ["gateway-api", "ingress-nginx"])
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_an_image_mirror_reaches_every_rendered_and_program_image(stack, edge):
    chart_cache(), helm()
    result = mirrored_plan(stack, edge)
    assert result.charts.unchecked == []
    assert upstream_refs(result) == set()
    images = [c["image"] for r in [*result.recording.resources, *result.charts.resources]
              for c in _containers(r.inputs)]
    assert images and all(i.startswith(MIRROR + "/") for i in images), [i for i in images if not i.startswith(MIRROR)]


def test_without_a_mirror_the_scan_finds_the_upstream_images(plans):
    """The scan above can fail: on the unmirrored plan it finds the images IMAGES.tsv lists."""
    refs = {ref for _, ref in upstream_refs(plans["prod"])}
    assert "quay.io/prometheus-operator/prometheus-operator:v0.93.1" in refs
    assert "ghcr.io/nginx/nginx-gateway-fabric:2.6.5" in refs


def test_program_images_keep_their_registry_under_the_mirror():
    chart_cache(), helm()
    result = mirrored_plan("prod", "gateway-api")
    images = {c["image"] for r in result.recording.resources for c in _containers(r.inputs)}
    assert f"{MIRROR}/ghcr.io/tradesense/backend:1.0.0" in {i.split("@")[0] for i in images}
    assert f"{MIRROR}/docker.io/oliver006/redis_exporter:v1.91.1" in images
    cluster = result.recording.one("kubernetes:postgresql.cnpg.io/v1:Cluster")
    assert cluster.inputs["spec"]["imageName"].startswith(f"{MIRROR}/ghcr.io/cloudnative-pg/postgresql:15.18")


def _containers(obj, seen=None):
    """Every container-shaped map (name + image) anywhere in an object."""
    if isinstance(obj, dict):
        if isinstance(obj.get("image"), str) and "name" in obj:
            yield obj
        for value in obj.values():
            yield from _containers(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _containers(value)


def test_require_rendered_fails_when_a_release_is_unchecked(tmp_path, capsys):
    args = ["--stack", "dev", "--out", str(tmp_path / "p"), "--require-rendered"]
    assert main(args + ["--chart-cache", str(tmp_path / "none")]) == 1
    assert "release(s) not rendered (--require-rendered)" in capsys.readouterr().err
    chart_cache(), helm()
    assert main(args) == 0  # the clean case: the cache and helm are there
