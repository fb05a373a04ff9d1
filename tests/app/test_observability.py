"""The app's monitoring: ServiceMonitor wiring, the PrometheusRule checked and unit-tested with
promtool (Debian `prometheus`), and the dashboard ConfigMap the Grafana sidecar picks up."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from components.app import alert_rules
from tests.app.alert_cases import CASES
from tests.app.k8s import manifest, named, objects
from tests.app.netpol_eval import Pod, Policy, allowed
from tests.conftest import ROOT, STACKS
from tests.debian_tools import debian_tool

NS = "tradesense"
SERIES = f'namespace="{NS}",job="backend"'
# The guide's rules, verbatim, to show what they miss.
GUIDE_RULES = {
    "groups": [{
        "name": "tradesense",
        "rules": [
            {"alert": "HighErrorRate", "expr": 'rate(tradesense_http_requests_total{status=~"5.."}[5m]) > 0.05', "for": "5m"},
            {"alert": "HighResponseTime", "expr": "histogram_quantile(0.95, tradesense_http_request_duration_seconds) > 0.5",
             "for": "5m"},
        ],
    }]
}


def promtool() -> str:
    return debian_tool("promtool", "prometheus", ".ci/install.d/10-promtool.sh")


def custom(rec, kind: str) -> dict:
    found = [manifest(r) for r in rec.kubernetes_objects() if r.inputs.get("kind") == kind]
    assert len(found) == 1, kind
    return found[0]


def rendered_rules(rec) -> dict:
    return {"groups": custom(rec, "PrometheusRule")["spec"]["groups"]}


def write_promtool_tests(tmp_path: Path, rules: dict, tests: list[dict], evaluation_interval: str = "1m") -> str:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    name = f"test-{evaluation_interval}.yaml"
    (tmp_path / name).write_text(yaml.safe_dump(
        {"rule_files": ["rules.yaml"], "evaluation_interval": evaluation_interval, "tests": tests}))
    return name


def run_promtool(tmp_path: Path, rules: dict, tests: list[dict]) -> subprocess.CompletedProcess:
    name = write_promtool_tests(tmp_path, rules, tests)
    return subprocess.run([promtool(), "test", "rules", name], cwd=tmp_path, capture_output=True, text=True, timeout=120)


def annotations(rules: dict, alert: str) -> dict:
    return next(r["annotations"] for g in rules["groups"] for r in g["rules"] if r.get("alert") == alert)


def requests(status: str, per_minute: int) -> dict:
    return {"series": f'tradesense_http_requests_total{{{SERIES},status="{status}"}}', "values": f"0+{per_minute}x40"}


@pytest.mark.parametrize("stack", STACKS)
def test_rules_pass_promtool_check(recordings, stack, tmp_path):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rendered_rules(recordings[stack])))
    proc = subprocess.run([promtool(), "check", "rules", str(tmp_path / "rules.yaml")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_error_rate_alert_is_a_ratio(recordings, tmp_path):
    rules = rendered_rules(recordings["prod"])
    fired = {"exp_labels": {"severity": "critical", "namespace": NS}, "exp_annotations": annotations(rules, "TradeSenseHighErrorRate")}
    cases = [
        # 9% errors at 10 req/s: fires.
        {"interval": "1m", "input_series": [requests("200", 600), requests("500", 60)],
         "alert_rule_test": [{"eval_time": "20m", "alertname": "TradeSenseHighErrorRate", "exp_alerts": [fired]}]},
        # 1% errors at a busy 100 req/s (6 errors/s, which the guide's rule would page on): quiet.
        {"interval": "1m", "input_series": [requests("200", 5940), requests("503", 60)],
         "alert_rule_test": [{"eval_time": "20m", "alertname": "TradeSenseHighErrorRate", "exp_alerts": []}]},
        # Every request failing on a quiet system (1 a minute): fires.
        {"interval": "1m", "input_series": [requests("500", 1)],
         "alert_rule_test": [{"eval_time": "20m", "alertname": "TradeSenseHighErrorRate", "exp_alerts": [fired]}]},
    ]
    proc = run_promtool(tmp_path, rules, cases)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _latency(slow: bool) -> list[dict]:
    # Per minute: 600 requests; slow means most land between 0.5 s and 1 s.
    cumulative = {"0.1": 30, "0.25": 60, "0.5": 90, "1": 600, "+Inf": 600} if slow else {"0.1": 500, "0.25": 590, "0.5": 600, "1": 600, "+Inf": 600}
    return [{"series": f'tradesense_http_request_duration_seconds_bucket{{{SERIES},le="{le}"}}', "values": f"0+{n}x40"}
            for le, n in cumulative.items()]


def test_latency_alert_uses_the_histogram_buckets(recordings, tmp_path):
    rules = rendered_rules(recordings["prod"])
    fired = {"exp_labels": {"severity": "warning", "namespace": NS}, "exp_annotations": annotations(rules, "TradeSenseHighResponseTime")}
    cases = [
        {"interval": "1m", "input_series": _latency(slow=True),
         "alert_rule_test": [{"eval_time": "20m", "alertname": "TradeSenseHighResponseTime", "exp_alerts": [fired]}]},
        {"interval": "1m", "input_series": _latency(slow=False),
         "alert_rule_test": [{"eval_time": "20m", "alertname": "TradeSenseHighResponseTime", "exp_alerts": []}]},
    ]
    proc = run_promtool(tmp_path, rules, cases)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_guides_rules_miss_both_conditions(tmp_path):
    """Why the rules were rewritten: on the same data the guide's versions stay silent."""
    cases = [
        {"interval": "1m", "input_series": [requests("500", 1)],
         "alert_rule_test": [{"eval_time": "20m", "alertname": "HighErrorRate", "exp_alerts": []}]},
        {"interval": "1m", "input_series": _latency(slow=True),
         "alert_rule_test": [{"eval_time": "20m", "alertname": "HighResponseTime", "exp_alerts": []}]},
    ]
    proc = run_promtool(tmp_path, GUIDE_RULES, cases)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_backend_down_fires_without_healthy_targets(recordings, tmp_path):
    rules = rendered_rules(recordings["prod"])
    notes = annotations(rules, "TradeSenseBackendDown")
    cases = [
        {"interval": "1m", "input_series": [{"series": f'up{{{SERIES},instance="10.0.0.1:8000"}}', "values": "0x20"}],
         "alert_rule_test": [{"eval_time": "10m", "alertname": "TradeSenseBackendDown",
                              "exp_alerts": [{"exp_labels": {"severity": "critical", "namespace": NS}, "exp_annotations": notes}]}]},
        {"interval": "1m", "input_series": [{"series": 'up{job="other"}', "values": "1x20"}],
         "alert_rule_test": [{"eval_time": "10m", "alertname": "TradeSenseBackendDown",
                              "exp_alerts": [{"exp_labels": {"severity": "critical", "namespace": NS, "job": "backend"},
                                              "exp_annotations": notes}]}]},
        {"interval": "1m", "input_series": [{"series": f'up{{{SERIES},instance="10.0.0.1:8000"}}', "values": "1x20"}],
         "alert_rule_test": [{"eval_time": "10m", "alertname": "TradeSenseBackendDown", "exp_alerts": []}]},
    ]
    proc = run_promtool(tmp_path, rules, cases)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def monitor(rec, name: str) -> dict:
    (found,) = [manifest(r) for r in objects(rec, "ServiceMonitor") if r.inputs["metadata"]["name"] == name]
    return found


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("stack", STACKS)
def test_service_monitor_scrapes_both_backend_endpoints(recordings, stack):
    rec = recordings[stack]
    backend = monitor(rec, "backend")
    service = named(rec, "Service", "backend")
    assert selects(backend["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    port_names = {p["name"] for p in service["spec"]["ports"]}
    endpoints = backend["spec"]["endpoints"]
    assert {e["port"] for e in endpoints} == {"http"} <= port_names
    assert [e["path"] for e in endpoints] == ["/metrics", "/api/v1/monitoring/metrics"]
    # The custom endpoint's targets are labelled apart, so they cannot mask /metrics being down.
    (relabel,) = endpoints[1]["relabelings"]
    assert (relabel["targetLabel"], relabel["replacement"]) == ("metrics_endpoint", "custom")
    assert "relabelings" not in endpoints[0]


def redis_pod(rec) -> dict:
    return named(rec, "StatefulSet", "redis")["spec"]["template"]


@pytest.mark.parametrize("stack", STACKS)
def test_redis_exporter_sidecar_is_restricted_and_reads_the_password_from_the_secret(recordings, stack):
    rec = recordings[stack]
    pod = redis_pod(rec)
    (exporter,) = [c for c in pod["spec"]["containers"] if c["name"] == "redis-exporter"]
    assert re.fullmatch(r"docker.io/oliver006/redis_exporter:v\d+\.\d+\.\d+", exporter["image"])
    context = exporter["securityContext"]
    assert context["runAsNonRoot"] and not context["allowPrivilegeEscalation"] and context["readOnlyRootFilesystem"]
    assert context["capabilities"]["drop"] == ["ALL"] and context["seccompProfile"]["type"] == "RuntimeDefault"
    env = {e["name"]: e for e in exporter["env"]}
    secret_ref = env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert "value" not in env["REDIS_PASSWORD"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert secret_ref["name"] == volumes["auth"]["secret"]["secretName"]  # the Secret Redis itself reads
    assert env["REDIS_ADDR"]["value"] == "redis://127.0.0.1:6379"
    assert exporter["ports"] == [{"name": "metrics", "containerPort": 9121, "protocol": "TCP"}]
    assert exporter["resources"]["limits"]["memory"]


@pytest.mark.parametrize("stack", STACKS)
def test_redis_service_monitor_reaches_the_exporter_port(recordings, stack):
    rec = recordings[stack]
    redis_monitor = monitor(rec, "redis-metrics")
    service = named(rec, "Service", "redis-metrics")
    assert selects(redis_monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert redis_monitor["spec"]["namespaceSelector"] == {"matchNames": [NS]}
    pod_labels = redis_pod(rec)["metadata"]["labels"]
    assert selects(service["spec"]["selector"], pod_labels)
    (port,) = service["spec"]["ports"]
    assert [e["port"] for e in redis_monitor["spec"]["endpoints"]] == [port["name"]]
    assert port["targetPort"] == "metrics"


@pytest.mark.parametrize("stack", STACKS)
def test_only_prometheus_reaches_the_redis_exporter(recordings, stack):
    rec = recordings[stack]
    policies = [Policy(b["metadata"]["namespace"], b["metadata"]["name"], b["spec"])
                for b in (manifest(r) for r in objects(rec, "NetworkPolicy"))]
    release = next(r for r in rec.of_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("chart") == "kube-prometheus-stack")
    redis = Pod("redis-0", NS, redis_pod(rec)["metadata"]["labels"], "10.244.1.20", {"metrics": 9121, "redis": 6379})
    prometheus = Pod("prometheus-0", release.inputs["namespace"], {"app.kubernetes.io/name": "prometheus"}, "10.244.3.10")
    backend = Pod("backend-1", NS, dict(named(rec, "Deployment", "backend")["spec"]["template"]["metadata"]["labels"]), "10.244.1.30")
    assert allowed(policies, prometheus, redis, 9121)
    assert not allowed(policies, backend, redis, 9121)
    assert not allowed(policies, prometheus, redis, 6379)


@pytest.mark.parametrize("stack", STACKS)
def test_monitoring_objects_wait_for_the_release_with_their_crds(recordings, stack):
    rec = recordings[stack]
    release = next(r for r in rec.of_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("chart") == "kube-prometheus-stack")
    for kind in ("ServiceMonitor", "PrometheusRule"):
        resource = next(r for r in rec.kubernetes_objects() if r.inputs.get("kind") == kind)
        assert release.urn in resource.dependencies, kind


DASHBOARD_UIDS = {"tradesense-overview", "tradesense-performance", "tradesense-business-metrics"}


def shipped_dashboards(rec) -> dict[str, dict]:
    boards = {}
    for config_map in (manifest(r) for r in objects(rec, "ConfigMap")):
        for key, body in config_map.get("data", {}).items():
            if key.endswith(".json"):
                boards[key.removesuffix(".json")] = (config_map, json.loads(body))
    return boards


@pytest.mark.parametrize("stack", STACKS)
def test_three_dashboards_reach_the_grafana_sidecar(recordings, stack):
    rec = recordings[stack]
    sidecar = next(r for r in rec.of_type("kubernetes:helm.sh/v3:Release")
                   if r.inputs.get("chart") == "kube-prometheus-stack").inputs["values"]["grafana"]["sidecar"]["dashboards"]
    boards = shipped_dashboards(rec)
    assert set(boards) == DASHBOARD_UIDS
    for uid, (config_map, board) in boards.items():
        assert config_map["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"], uid
        assert board["uid"] == uid


def panels(board: dict) -> list[dict]:
    return [p for p in board["panels"] if p["type"] != "row"]


@pytest.mark.parametrize("uid", sorted(DASHBOARD_UIDS))
def test_dashboards_are_valid_grafana_json(recordings, uid):
    _, board = shipped_dashboards(recordings["prod"])[uid]
    assert board["title"] and board["schemaVersion"] >= 39 and board["editable"] is False
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    cells = set()
    for p in board["panels"]:
        grid = p["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, p["title"]
        cell = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & cell, f"{p['title']} overlaps another panel"
        cells |= cell
    for p in panels(board):
        assert p["type"] in {"timeseries", "stat"} and p["title"], p
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert p["fieldConfig"]["defaults"]["unit"]
        ref_ids = [t["refId"] for t in p["targets"]]
        assert p["targets"] and len(ref_ids) == len(set(ref_ids)), p["title"]


def test_dashboards_cover_what_the_guide_lists(recordings):
    boards = {uid: board for uid, (_, board) in shipped_dashboards(recordings["prod"]).items()}
    titles = {uid: " | ".join(p["title"] for p in panels(b)).lower() for uid, b in boards.items()}
    for word in ("requests", "error", "latency", "cpu", "memory"):
        assert word in titles["tradesense-overview"], word
    for word in ("p50 by route", "p95 by route", "p99 by route", "db query", "cache", "hpa replicas", "node cpu",
                 "node memory", "pod cpu", "pod memory"):
        assert word in titles["tradesense-performance"], word
    for word in ("signups", "active users", "trades imported", "payments", "webhooks"):
        assert word in titles["tradesense-business-metrics"], word


def test_every_panel_query_is_valid_promql(recordings, tmp_path):
    exprs = [(uid, p["title"], t["expr"]) for uid, (_, board) in shipped_dashboards(recordings["prod"]).items()
             for p in panels(board) for t in p["targets"]]
    assert len(exprs) >= 30
    rules = {"groups": [{"name": "dashboard-panels", "rules": [
        {"record": f"panel:query_{i}", "expr": expr} for i, (_, _, expr) in enumerate(exprs)]}]}
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump(rules))
    proc = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_check_catches_a_broken_panel_query(tmp_path):
    """The wrapper above would catch a panel like the guide's broken histogram_quantile call."""
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "p", "rules": [
        {"record": "panel:query_0", "expr": "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))"}]}]}))
    proc = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True)
    assert proc.returncode != 0


def test_business_metrics_contract_is_documented_with_types_and_labels(recordings):
    doc = (ROOT / "docs" / "metrics.md").read_text()
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"tradesense_[a-z_]+", cells[0]):
            rows[cells[0]] = (cells[1], {label.strip().strip("`") for label in cells[2].split(",") if label.strip()})
    _, board = shipped_dashboards(recordings["prod"])["tradesense-business-metrics"]
    scrape_labels = {"namespace", "job"}
    for p in panels(board):
        for target in p["targets"]:
            expr = target["expr"]
            for metric in set(re.findall(r"\b(tradesense_[a-z_]+)\{", expr)):
                assert metric in rows, f"{metric} (panel {p['title']}) is not in docs/metrics.md"
                kind, labels = rows[metric]
                assert kind in {"counter", "gauge", "histogram"}, metric
                assert metric.endswith("_total") == (kind == "counter"), metric
                grouped = {label.strip() for group in re.findall(r"by \(([^)]*)\)", expr) for label in group.split(",")}
                matched = set(re.findall(r"[,{](\w+)!?=~?", expr))
                assert grouped | matched <= labels | scrape_labels, f"{metric}: {(grouped | matched) - labels - scrape_labels}"


def generated_rules() -> dict:
    """All groups, including the alerts that only exist with several Postgres instances."""
    return {"groups": alert_rules.rule_groups(NS, postgres_instances=3)}


def alert_rules_of(rules: dict) -> list[dict]:
    return [r for g in rules["groups"] for r in g["rules"] if "alert" in r]


def test_every_alert_has_a_firing_and_a_silent_case():
    names = {r["alert"] for r in alert_rules_of(generated_rules())}
    firing = {case[0] for case in CASES if case[4]}
    silent = {case[0] for case in CASES if not case[4]}
    assert names == firing, names ^ firing
    assert names == silent, names ^ silent


def test_every_alert_fires_and_stays_silent_on_synthetic_series(tmp_path):
    rules = generated_rules()
    # Cases spanning a day or more are evaluated every 10 minutes (promtool evaluates every rule
    # at every step); each evaluation interval runs as its own promtool process, in parallel.
    by_interval: dict[str, list[dict]] = {}
    for name, interval, eval_time, series, expected in CASES:
        by_interval.setdefault(interval, []).append(
            {"interval": interval, "input_series": series,
             "alert_rule_test": [{"eval_time": eval_time, "alertname": name,
                                  "exp_alerts": [{"exp_labels": labels, "exp_annotations": annotations(rules, name)}
                                                 for labels in expected]}]})
    runs = [subprocess.Popen([promtool(), "test", "rules", write_promtool_tests(tmp_path, rules, tests, interval)],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for interval, tests in by_interval.items()]
    for run in runs:
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 0, output[-8000:]


def test_every_alert_is_labelled_and_annotated_for_on_call():
    for rule in alert_rules_of(generated_rules()):
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], rule["alert"]
        assert notes["runbook_url"].startswith(alert_rules.RUNBOOK_URL + "#"), rule["alert"]
        assert alert_rules.RUNBOOK_URL.endswith("/docs/RUNBOOK.md")


@pytest.mark.parametrize("stack", STACKS)
def test_stacks_ship_the_generated_alerts(recordings, stack):
    shipped = {r["alert"] for r in alert_rules_of(rendered_rules(recordings[stack]))}
    every = {r["alert"] for r in alert_rules_of(generated_rules())}
    # `app.postgres.instances` (3 by default in prod): with one instance there is no standby to lose.
    instances = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"].get(
        "tradesense:app", {}).get("postgres", {}).get("instances", 3 if stack == "prod" else 1)
    assert shipped == (every if instances > 1 else every - {"TradeSensePostgresReplicaLost"})
