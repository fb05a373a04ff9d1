"""kube-prometheus-stack: storage, retention, selectors, Grafana secret, Alertmanager receivers."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import DELETE
from tests.platform.conftest import SECRET, as_json, run_platform, stack_file
from components.config import ConfigError
from tools.mock_runtime import Recording, is_secret, unwrap_secrets

STACKS = ("dev", "staging", "prod")
KPS = "kube-prometheus-stack"
RECEIVERS_KEY = "tradesense:alertmanagerReceivers"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/TESTVALUE-receivers"
PAGERDUTY_KEY = "TESTVALUE-routing-key-0123456789"
RECEIVERS = f"""
- name: oncall
  slack_configs:
    - api_url: {WEBHOOK}
      channel: "#alerts"
- name: email
  email_configs:
    - to: ops@tradesense.com
- name: pager
  pagerduty_configs:
    - routing_key: {PAGERDUTY_KEY}
"""



def _expected_storage_class(run) -> str:
    if run.stack == "dev":
        return stack_file("dev")["tradesense:cluster"]["existing"]["storageClass"]
    if run.stack == "staging":
        return "do-block-storage"  # DOKS's encrypted block-storage class
    (sc,) = run.recording.of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    return sc.inputs["metadata"]["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_storage_and_retention_follow_config(platform_runs, stack):
    run = platform_runs[(stack, "gateway-api")]
    spec = run.values(KPS)["prometheus"]["prometheusSpec"]
    wanted = stack_file(stack)["tradesense:platform"]["monitoring"]
    assert (spec["retention"], spec["retentionSize"]) == (wanted["retention"], wanted["retentionSize"])
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == wanted["storageSize"]
    assert claim["storageClassName"] == _expected_storage_class(run)
    am_claim = run.values(KPS)["alertmanager"]["alertmanagerSpec"]["storage"]["volumeClaimTemplate"]["spec"]
    assert am_claim["storageClassName"] == _expected_storage_class(run)


@pytest.mark.parametrize("stack", STACKS)
def test_operator_selects_monitors_and_rules_in_every_namespace(platform_runs, stack):
    run = platform_runs[(stack, "gateway-api")]
    spec = run.values(KPS)["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "rule"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
        assert spec.get(f"{kind}NamespaceSelector", {}) == {}
        assert spec.get(f"{kind}Selector", {}) == {}
    assert dict(run.platform.monitoring_labels) == {}


@pytest.mark.parametrize("stack", STACKS)
def test_grafana_password_is_generated_secret_and_never_in_helm_values(platform_runs, stack):
    run = platform_runs[(stack, "gateway-api")]
    password = run.recording.one("random:index/randomPassword:RandomPassword").outputs["result"]
    assert len(password) >= 24
    admin = run.values(KPS)["grafana"]["admin"]
    secret = run.named(SECRET, admin["existingSecret"])
    assert secret.inputs["metadata"]["namespace"] == run.releases()[KPS].inputs["namespace"]
    # The engine sees the Secret's data as a secret (mocks mark the enclosing map).
    assert is_secret(secret.inputs["stringData"])
    string_data = unwrap_secrets(secret.inputs["stringData"])
    assert string_data[admin["passwordKey"]] == password
    assert admin["userKey"] in string_data
    for release in run.recording.of_type("kubernetes:helm.sh/v3:Release"):
        assert password not in as_json(release.inputs)
    assert run.depends_on(run.releases()[KPS], secret)


@pytest.mark.parametrize("stack", STACKS)
def test_grafana_password_is_a_secret_stack_output(recordings, stack):
    recording = recordings[stack]
    password = recording.one("random:index/randomPassword:RandomPassword", "platform-monitoring-grafana-admin-password").outputs["result"]
    assert "grafanaAdminPassword" in recording.secret_outputs
    assert recording.outputs["grafanaAdminPassword"] == password


@pytest.mark.parametrize("stack", STACKS)
def test_dashboards_sidecar_watches_the_interface_label(platform_runs, stack):
    run = platform_runs[(stack, "gateway-api")]
    dashboards = run.values(KPS)["grafana"]["sidecar"]["dashboards"]
    assert dashboards["enabled"] is True
    assert dict(run.platform.dashboard_label) == {dashboards["label"]: dashboards["labelValue"]}
    assert dashboards["searchNamespace"] == "ALL"


@pytest.fixture(scope="module")
def with_receivers():
    return run_platform("prod", extra_config={RECEIVERS_KEY: RECEIVERS})


def test_alertmanager_receivers_come_from_secret_config_only(with_receivers):
    run = with_receivers
    spec = run.values(KPS)["alertmanager"]["alertmanagerSpec"]
    assert spec["useExistingSecret"] is True
    secret = run.named(SECRET, spec["configSecret"])
    assert is_secret(secret.inputs["stringData"])
    (rendered,) = unwrap_secrets(secret.inputs["stringData"]).values()
    config = yaml.safe_load(rendered)
    names = [r["name"] for r in config["receivers"]]
    assert {"oncall", "email"} <= set(names)
    assert config["route"]["receiver"] == "oncall"
    assert WEBHOOK in rendered
    for release in run.recording.of_type("kubernetes:helm.sh/v3:Release"):
        assert WEBHOOK not in as_json(release.inputs)
    assert not [w for w in run.recording.warnings if RECEIVERS_KEY in w]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_refuse_to_run_without_receivers(stack):
    recording = Recording(stack=stack)
    with pytest.raises(ConfigError) as info:
        run_platform(stack, {"alertmanagerReceivers": DELETE}, recording=recording)
    assert [p for p in info.value.problems if RECEIVERS_KEY in p] == [
        f"{RECEIVERS_KEY} is required in {stack} (Alertmanager receivers (YAML list; see "
        "components/platform/alertmanager_config.py)); set it with: "
        f"pulumi config set --secret {RECEIVERS_KEY} < receivers.yaml  # start from receivers.example.yaml"
    ]
    assert recording.resources == []


def test_dev_may_leave_receivers_unset_and_alerts_go_nowhere():
    run = run_platform("dev", {"alertmanagerReceivers": DELETE})
    secret = run.named(SECRET, run.values(KPS)["alertmanager"]["alertmanagerSpec"]["configSecret"])
    (rendered,) = unwrap_secrets(secret.inputs["stringData"]).values()
    config = yaml.safe_load(rendered)
    assert config["receivers"] == [{"name": "null"}] and config["route"]["receiver"] == "null"
    assert not [w for w in run.recording.warnings if RECEIVERS_KEY in w]


@pytest.mark.parametrize("receivers, missing", [
    (f"- name: chat\n  slack_configs: [{{api_url: '{WEBHOOK}'}}]\n", "pagerduty_configs"),
    (f"- name: pager\n  pagerduty_configs: [{{routing_key: {PAGERDUTY_KEY}}}]\n", "slack_configs"),
])
def test_prod_receivers_must_page_and_reach_chat(receivers, missing):
    with pytest.raises(ConfigError) as info:
        run_platform("prod", extra_config={RECEIVERS_KEY: receivers}, recording=Recording(stack="prod"))
    (problem,) = [p for p in info.value.problems if RECEIVERS_KEY in p]
    assert missing in problem and "outside dev" in problem
    assert PAGERDUTY_KEY not in problem and WEBHOOK not in problem


def test_malformed_receivers_fail_naming_the_key_without_echoing_it():
    bad = "- slack_configs: [{api_url: https://hooks.slack.com/services/SECRETVALUE}]"
    recording = Recording(stack="prod")
    with pytest.raises(ConfigError) as info:
        run_platform("prod", extra_config={RECEIVERS_KEY: bad}, recording=recording)
    assert info.value.problems == [
        f"{RECEIVERS_KEY} entry 0 must be a mapping with a 'name'; set it with: "
        f"pulumi config set --secret {RECEIVERS_KEY} < receivers.yaml  # start from receivers.example.yaml"
    ]
    assert "SECRETVALUE" not in str(info.value)
    assert recording.resources == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_grafana_runs_with_a_read_only_root_filesystem(platform_runs, stack):
    grafana = platform_runs[(stack, "gateway-api")].values(KPS)["grafana"]
    assert grafana["containerSecurityContext"]["readOnlyRootFilesystem"] is True
    # Where it writes: without persistence the chart mounts its `storage` emptyDir at
    # /var/lib/grafana (so persistence must stay off or be a PVC); /tmp gets its own emptyDir.
    assert grafana["persistence"]["enabled"] is False
    assert {"name": "tmp", "mountPath": "/tmp"} in grafana["extraEmptyDirMounts"]


# The default alerts the app's alerting routes instead of copying, and the group holding each
# (kube-prometheus-stack templates/prometheus/rules-1.14/kubernetes-apps.yaml, kubernetes-storage.yaml).
ROUTED_DEFAULT_ALERTS = {
    "KubePodCrashLooping": "kubernetesApps",
    "KubePodNotReady": "kubernetesApps",
    "KubeHpaMaxedOut": "kubernetesApps",
    "KubeJobFailed": "kubernetesApps",
    "KubePersistentVolumeFillingUp": "kubernetesStorage",
}


@pytest.mark.parametrize("stack", STACKS)
def test_default_rule_groups_the_alerting_relies_on_are_enabled(platform_runs, stack):
    from components.app.alert_rules import DEFAULT_RULE_ALERTS

    rules = platform_runs[(stack, "gateway-api")].values(KPS)["defaultRules"]
    assert rules["create"] is True
    for alert, group in ROUTED_DEFAULT_ALERTS.items():
        assert rules["rules"].get(group) is True, group
        assert not rules.get("disabled", {}).get(alert), alert
    # The chart scopes the app alerts by namespace regex; the default ".*" covers tradesense.
    assert rules.get("appNamespacesTarget", ".*") in (".*", ".+") or "tradesense" in rules["appNamespacesTarget"]
    assert set(DEFAULT_RULE_ALERTS) == set(ROUTED_DEFAULT_ALERTS)


@pytest.mark.parametrize("stack", STACKS)
def test_cert_manager_controller_is_scraped_after_the_monitoring_crds(platform_runs, stack):
    run = platform_runs[(stack, "gateway-api")]
    release, kps = run.releases()["cert-manager"], run.releases()[KPS]
    assert run.values("cert-manager")["prometheus"]["enabled"] is True
    # Our ServiceMonitor, not the chart's: the release must not wait for the monitoring CRDs.
    assert run.values("cert-manager")["prometheus"]["servicemonitor"]["enabled"] is False
    assert not run.depends_on(release, kps)
    monitor = next(r for r in run.recording.kubernetes_objects()
                   if r.inputs["kind"] == "ServiceMonitor" and r.inputs["metadata"]["name"] == "cert-manager")
    assert run.depends_on(monitor, kps) and run.depends_on(monitor, release)
    spec = monitor.inputs["spec"]
    # The chart's controller Service labels and metrics port (templates/service.yaml, 9402).
    assert spec["selector"]["matchLabels"]["app.kubernetes.io/component"] == "controller"
    assert spec["selector"]["matchLabels"]["app.kubernetes.io/instance"] == release.inputs["name"]
    assert spec["namespaceSelector"]["matchNames"] == [monitor.inputs["metadata"]["namespace"]]
    # Certificates keep their own namespace label (the alerts group by it).
    assert spec["endpoints"] == [{"targetPort": 9402, "path": "/metrics", "interval": "60s", "honorLabels": True}]
