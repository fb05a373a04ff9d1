"""The edge: Gateway API (default) or ingress-nginx, TLS listeners, headers, load balancer."""

from __future__ import annotations


import pytest

from tests.platform.conftest import (
    CONFIG_FILE, CONFIGMAP, EDGES, GATEWAY, GUIDE_HEADERS, HTTPROUTE, STACK_CERTIFICATE, stack_file, walk,
)

STACKS = ("dev", "staging", "prod")


def _gateway(run):
    gateways = run.recording.of_type(GATEWAY)
    assert len(gateways) == 1
    return gateways[0]


def _listeners(gateway, protocol):
    return [l for l in gateway.inputs["spec"]["listeners"] if l["protocol"] == protocol]


def _domain(stack):
    return stack_file(stack)["tradesense:platform"]["domain"]


@pytest.mark.parametrize("stack", STACKS)
def test_default_edge_is_gateway_api_with_pinned_standard_crds(recordings, stack):
    """The committed stacks (no override) use Gateway API and the standard-channel CRDs of one release."""
    crds = recordings[stack].one(CONFIG_FILE)
    # A vendored file, relative to the project (test_gateway_api_crds.py checks its content).
    assert crds.inputs["file"] == "components/platform/vendor/gateway-api-v1.5.1-standard-install.yaml"
    assert len(recordings[stack].of_type(GATEWAY)) == 1


@pytest.mark.parametrize("stack", STACKS)
def test_gateway_redirects_http_and_terminates_tls_per_hostname(platform_runs, stack):
    run = platform_runs[(stack, "gateway-api")]
    gateway = _gateway(run)
    (http,) = _listeners(gateway, "HTTP")
    assert http["port"] == 80
    domain = _domain(stack)
    # The stack's own hostnames (staging's wildcard listener for review environments: test_review_edge.py).
    https = [l for l in _listeners(gateway, "HTTPS") if not l["hostname"].startswith("*.")]
    assert sorted(l["hostname"] for l in https) == sorted([domain, f"www.{domain}", f"api.{domain}"])
    certificate = run.recording.one("kubernetes:cert-manager.io/v1:Certificate", STACK_CERTIFICATE)
    for listener in https:
        assert listener["port"] == 443
        assert listener["tls"]["mode"] == "Terminate"
        assert listener["tls"]["certificateRefs"] == [{"kind": "Secret", "name": certificate.inputs["spec"]["secretName"]}]
        # Only the app namespace may attach routes to the public listeners.
        assert listener["allowedRoutes"]["namespaces"]["selector"]["matchLabels"] == {"kubernetes.io/metadata.name": "tradesense"}
    # The Gateway reads its certificate Secret from its own namespace.
    assert certificate.inputs["metadata"]["namespace"] == gateway.inputs["metadata"]["namespace"]

    (route,) = run.recording.of_type(HTTPROUTE)
    assert route.inputs["metadata"]["namespace"] == gateway.inputs["metadata"]["namespace"]
    assert route.inputs["spec"]["parentRefs"] == [{"name": gateway.inputs["metadata"]["name"], "sectionName": http["name"]}]
    (rule,) = route.inputs["spec"]["rules"]
    assert rule["filters"] == [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]


@pytest.mark.parametrize("stack", STACKS)
def test_gateway_api_headers_reach_every_https_route_through_the_interface(platform_runs, stack):
    edge = platform_runs[(stack, "gateway-api")].platform.edge
    headers_filter = edge.response_headers_filter
    assert headers_filter["type"] == "ResponseHeaderModifier"
    # `set` (not `add`) so a backend cannot weaken a header; NGF renders it with `always`.
    modifier = headers_filter["responseHeaderModifier"]
    assert set(modifier) == {"set"}
    assert {h["name"]: h["value"] for h in modifier["set"]} == GUIDE_HEADERS
    assert dict(edge.security_headers) == GUIDE_HEADERS


@pytest.mark.parametrize("stack", STACKS)
def test_ingress_nginx_sets_the_guide_headers_in_controller_config(platform_runs, stack):
    run = platform_runs[(stack, "ingress-nginx")]
    release = run.releases()["ingress-nginx"]
    assert release.inputs["version"].startswith("4.15.")
    controller = run.values("ingress-nginx")["controller"]
    assert controller["allowSnippetAnnotations"] is False
    config = controller["config"]
    hsts = f"max-age={config['hsts-max-age']}"
    hsts += "; includeSubDomains" if config["hsts-include-subdomains"] == "true" else ""
    hsts += "; preload" if config["hsts-preload"] == "true" else ""
    assert config["hsts"] == "true" and hsts == GUIDE_HEADERS["Strict-Transport-Security"]
    namespace, name = config["add-headers"].split("/")
    headers = run.named(CONFIGMAP, name)
    assert headers.inputs["metadata"]["namespace"] == namespace == release.inputs["namespace"]
    others = {k: v for k, v in GUIDE_HEADERS.items() if k != "Strict-Transport-Security"}
    assert headers.inputs["data"] == others
    assert run.depends_on(release, headers)
    assert not run.recording.of_type(GATEWAY) and not run.recording.of_type(CONFIG_FILE)


@pytest.mark.parametrize("edge", EDGES)
def test_only_ingress_nginx_warns_that_it_is_retired(platform_runs, edge):
    warnings = platform_runs[("prod", edge)].recording.warnings
    retired = [w for w in warnings if "retired" in w and "March 2026" in w]
    assert len(retired) == (1 if edge == "ingress-nginx" else 0)


EXPECTED_LB = {
    "prod": {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"},
    "staging": {"service.beta.kubernetes.io/do-loadbalancer-name": "tradesense-staging-edge"},
    "dev": {},
}


def _edge_service_annotations(run) -> dict:
    if run.edge == "gateway-api":
        return _gateway(run).inputs["spec"]["infrastructure"].get("annotations", {})
    return run.values("ingress-nginx")["controller"]["service"].get("annotations", {})


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_edge_load_balancer_carries_the_clouds_annotations(platform_runs, stack, edge):
    annotations = _edge_service_annotations(platform_runs[(stack, edge)])
    assert EXPECTED_LB[stack].items() <= annotations.items()
    if stack == "dev":
        assert annotations == {}
    clouds = {"prod": "aws-load-balancer", "staging": "do-loadbalancer"}
    for other, marker in clouds.items():
        if other != stack:
            assert not any(marker in key for key in annotations)


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_the_edge_is_the_only_public_service(platform_runs, stack, edge):
    run = platform_runs[(stack, edge)]
    edge_chart = {"gateway-api": "nginx-gateway-fabric", "ingress-nginx": "ingress-nginx"}[edge]
    public = []
    for chart, release in run.releases().items():
        for path, node in walk(run.values(chart)):
            if path and path[-1] == "type" and node in ("LoadBalancer", "NodePort"):
                public.append((chart, path))
    assert [chart for chart, _ in public] == [edge_chart]
    expected_type = "NodePort" if stack == "dev" else "LoadBalancer"
    (path,) = [p for _, p in public]
    assert run.values(edge_chart)[path[0]][path[1]]["type"] == expected_type
    assert not [s for s in run.recording.of_type("kubernetes:core/v1:Service")]


@pytest.mark.parametrize("stack", STACKS)
def test_every_https_route_in_the_program_sets_the_headers(recordings, stack):
    """Across layers: each rule of each HTTPRoute on an HTTPS listener carries the guide's headers."""
    rec = recordings[stack]
    gateway = rec.one(GATEWAY).inputs
    https = {l["name"] for l in gateway["spec"]["listeners"] if l["protocol"] == "HTTPS"}
    crds = rec.one(CONFIG_FILE)
    checked = 0
    for route in rec.of_type(HTTPROUTE):
        assert crds.urn in route.dependencies, route.name
        sections = {ref.get("sectionName") for ref in route.inputs["spec"]["parentRefs"]}
        if None not in sections and not sections & https:  # no sectionName: every listener
            continue
        for rule in route.inputs["spec"]["rules"]:
            modifiers = [f["responseHeaderModifier"] for f in rule.get("filters", []) if f["type"] == "ResponseHeaderModifier"]
            assert [{h["name"]: h["value"] for h in m.get("set", [])} for m in modifiers] == [GUIDE_HEADERS], route.name
            checked += 1
    assert checked > 0, "no HTTPRoute is attached to an HTTPS listener"


def test_gateway_fabric_takes_no_raw_nginx_snippets_and_sends_no_telemetry(platform_runs):
    # NGF 2.4 replaced nginxGateway.snippetsFilters.enable (deprecated) by nginxGateway.snippets.enable,
    # which gates SnippetsFilter and SnippetsPolicy alike; the pinned chart is newer.
    from components.platform.charts import NGINX_GATEWAY_FABRIC

    assert tuple(int(p) for p in NGINX_GATEWAY_FABRIC.version.split(".")[:2]) >= (2, 4)
    values = platform_runs[("prod", "gateway-api")].values("nginx-gateway-fabric")["nginxGateway"]
    assert values["snippets"] == {"enable": False}
    assert "snippetsFilters" not in values
    assert values["productTelemetry"] == {"enable": False}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_edge_metrics_are_scraped_or_off(platform_runs, stack):
    ngf_run = platform_runs[(stack, "gateway-api")]
    ngf = ngf_run.values("nginx-gateway-fabric")
    # Chart 2.6.5 exposes the control-plane metrics on a container port and has no Service or
    # ServiceMonitor for them: a PodMonitor scrapes the pods (the rendered chart's labels and
    # port are checked against it in tests/test_chart_render.py).
    assert ngf["nginxGateway"]["metrics"] == {"enable": True, "port": 9113}
    monitor = ngf_run.named("kubernetes:monitoring.coreos.com/v1:PodMonitor", "nginx-gateway-fabric")
    assert monitor.inputs["metadata"]["namespace"] == "nginx-gateway"
    assert monitor.inputs["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "nginx-gateway-fabric", "app.kubernetes.io/instance": ngf_run.releases()["nginx-gateway-fabric"].inputs["name"]}
    assert monitor.inputs["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert ngf["nginx"]["config"]["metrics"]["disable"] is True  # no monitor for the data plane
    nginx_run = platform_runs[(stack, "ingress-nginx")]
    controller = nginx_run.values("ingress-nginx")["controller"]
    assert controller["metrics"] == {"enabled": True, "serviceMonitor": {"enabled": True}}
    # PodMonitor and ServiceMonitor are CRDs of kube-prometheus-stack: their users wait for it.
    kps = ngf_run.releases()["kube-prometheus-stack"]
    assert ngf_run.depends_on(monitor, kps)
    assert nginx_run.depends_on(nginx_run.releases()["ingress-nginx"], nginx_run.releases()["kube-prometheus-stack"])
