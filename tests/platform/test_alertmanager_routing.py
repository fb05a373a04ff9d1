"""Alertmanager routing: critical pages (PagerDuty) and reaches chat, warnings go to Slack,
info and the heartbeat go nowhere, and root causes inhibit their symptoms. The rendered config
is checked by `amtool check-config` and routed by `amtool config routes test` (Debian
`prometheus-alertmanager`). It holds secrets, so it is written only under pytest's tmp dir."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.app import alert_rules
from components.platform import alertmanager_config
from tests.debian_tools import debian_tool

RECEIVERS = """
- name: chat
  slack_configs:
    - api_url: https://hooks.slack.com/services/T000/B000/TESTVALUE
      channel: "#tradesense-alerts"
      send_resolved: true
- name: pager
  pagerduty_configs:
    - routing_key: TESTVALUE0123456789abcdef01234567
"""


def amtool() -> str:
    return debian_tool("amtool", "prometheus-alertmanager", ".ci/install.d/15-amtool.sh")


@pytest.fixture()
def config_file(tmp_path) -> Path:
    path = tmp_path / "alertmanager.yaml"
    path.write_text(alertmanager_config.render(RECEIVERS))
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("receivers", [RECEIVERS, None, "- name: only-chat\n  slack_configs: [{api_url: 'https://hooks.slack.com/x'}]\n"])
def test_rendered_config_passes_amtool_check_config(tmp_path, receivers):
    path = tmp_path / "alertmanager.yaml"
    path.write_text(alertmanager_config.render(receivers))
    proc = subprocess.run([amtool(), "check-config", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def routed(config_file: Path, **labels: str) -> list[str]:
    proc = subprocess.run([amtool(), "config", "routes", "test", f"--config.file={config_file}",
                           *(f"{k}={v}" for k, v in labels.items())], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip().split(",")


@pytest.mark.parametrize("labels, receivers", [
    ({"alertname": "TradeSenseBackendDown", "severity": "critical", "namespace": "tradesense"}, ["pager", "chat"]),
    ({"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "tradesense"}, ["chat"]),
    ({"alertname": "TradeSenseRedisBackupStale", "severity": "warning", "namespace": "tradesense"}, ["chat"]),
    ({"alertname": "CPUThrottlingHigh", "severity": "info", "namespace": "tradesense"}, ["null"]),
    # A review environment (namespace tradesense-pr-<N> on staging) never pages.
    ({"alertname": "TradeSenseBackendDown", "severity": "critical", "namespace": "tradesense-pr-12"}, ["chat"]),
    ({"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "tradesense-pr-12"}, ["chat"]),
    ({"alertname": "CPUThrottlingHigh", "severity": "info", "namespace": "tradesense-pr-12"}, ["null"]),
    ({"alertname": "TradeSenseBackendDown", "severity": "critical", "namespace": "tradesense-pr-x"}, ["pager", "chat"]),
    ({"alertname": "Watchdog", "severity": "none"}, ["null"]),
    ({"alertname": "InfoInhibitor", "severity": "none"}, ["null"]),
])
def test_severity_decides_who_is_notified(config_file, labels, receivers):
    assert routed(config_file, **labels) == receivers


def test_pages_repeat_sooner_than_chat_and_group_by_alert():
    route = alertmanager_config.alertmanager_config(alertmanager_config.parse_receivers(RECEIVERS))["route"]
    page = next(r for r in route["routes"] if r["receiver"] == "pager")
    chat = next(r for r in route["routes"] if r["receiver"] == "chat")
    assert page["continue"] is True
    def hours(text: str) -> float:
        return float(text[:-1]) / (60 if text.endswith("m") else 1)
    assert hours(page["repeat_interval"]) < hours(chat["repeat_interval"]) <= 12
    assert route["group_by"] == ["namespace", "alertname"]


def test_inhibitions_name_real_alerts_and_backend_down_silences_latency():
    config = alertmanager_config.alertmanager_config([])
    names = {r["alert"] for g in alert_rules.rule_groups("tradesense", postgres_instances=3) for r in g["rules"] if "alert" in r}
    for source, targets in alertmanager_config.INHIBITIONS:
        assert source in names and set(targets) <= names, (source, set(targets) - names)
    backend_down = next(rule for rule in config["inhibit_rules"] if rule["source_matchers"] == ['alertname = "TradeSenseBackendDown"'])
    assert backend_down["equal"] == ["namespace"]
    for latency in alert_rules.LATENCY_ALERTS:
        assert latency in backend_down["target_matchers"][0]


def test_inhibition_sources_fire_with_the_namespace_they_match_on():
    """The promtool cases (tests/app/alert_cases.py) pin each source's labels, absent() included."""
    from tests.app.alert_cases import CASES

    for source, _ in alertmanager_config.INHIBITIONS:
        fired = [labels for name, _, _, _, expected in CASES if name == source for labels in expected]
        assert fired and all(labels.get("namespace") == "tradesense" for labels in fired), source
