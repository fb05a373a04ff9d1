"""Alertmanager's configuration, built around receivers that come from secret config.

`tradesense:alertmanagerReceivers` is a YAML (or JSON) list of Alertmanager receivers, e.g.

    - name: oncall
      slack_configs:
        - api_url: https://hooks.slack.com/services/...
          channel: "#tradesense-alerts"
          send_resolved: true

    - name: pager
      pagerduty_configs:
        - routing_key: <PagerDuty Events v2 integration key>

Receivers carry webhook URLs and API keys, so the whole value is a secret, and the rendered
file only ever travels as a Pulumi secret into a Kubernetes Secret. Routing is by severity:
critical alerts go to the first receiver with `pagerduty_configs` (then on to chat), warnings
to the first with `slack_configs`. Staging and prod need both; dev may leave the value unset
(alerts then go to the built-in `null` receiver, like the always-firing Watchdog).
"""

from __future__ import annotations

from typing import Any, Optional

import yaml

from components.platform.review_edge import REVIEW_NAMESPACE_PREFIX

NULL_RECEIVER = "null"
SECRET_KEY = "alertmanagerReceivers"
CONFIG_FILE = "alertmanager.yaml"


class ReceiversError(ValueError):
    pass


def parse_receivers(raw: Optional[str]) -> list[dict[str, Any]]:
    """The receivers list, or an error that says what is wrong without echoing the secret."""
    if raw is None or not raw.strip():
        return []
    try:
        receivers = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ReceiversError("must be a YAML or JSON list of Alertmanager receivers (it does not parse)") from None
    if not isinstance(receivers, list) or not receivers:
        raise ReceiversError("must be a non-empty YAML or JSON list of Alertmanager receivers")
    names = []
    for index, receiver in enumerate(receivers):
        if not isinstance(receiver, dict) or not isinstance(receiver.get("name"), str) or not receiver["name"]:
            raise ReceiversError(f"entry {index} must be a mapping with a 'name'")
        if len(receiver) < 2:
            raise ReceiversError(f"receiver '{receiver['name']}' has no integration (slack_configs, pagerduty_configs, ...)")
        names.append(receiver["name"])
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ReceiversError(f"receiver names must be unique (repeated: {', '.join(duplicates)})")
    if NULL_RECEIVER in names:
        raise ReceiversError(f"the receiver name '{NULL_RECEIVER}' is reserved")
    return receivers


# Alerts that are noise while the thing they depend on is down (same namespace).
# Names are the app's (components/app/alert_rules.py); tests check they exist.
INHIBITIONS = (
    ("TradeSenseBackendDown", ("TradeSenseHighResponseTime", "TradeSenseHighMedianLatency", "TradeSenseHighErrorRate",
                               "TradeSenseErrorBudgetBurnFast", "TradeSenseErrorBudgetBurnSlow")),
    ("TradeSensePostgresDown", ("TradeSensePostgresReplicationLag", "TradeSensePostgresReplicaLost",
                                "TradeSensePostgresConnectionsNearLimit", "TradeSensePostgresWALArchivingFailing")),
    ("TradeSenseRedisDown", ("TradeSenseLowCacheHitRate", "TradeSenseRedisMemoryNearMax")),
    ("TradeSenseErrorBudgetBurnFast", ("TradeSenseErrorBudgetBurnSlow",)),
)
PAGER_INTEGRATION = "pagerduty_configs"
CHAT_INTEGRATION = "slack_configs"


def first_with(receivers: list[dict[str, Any]], integration: str) -> Optional[str]:
    return next((r["name"] for r in receivers if r.get(integration)), None)


def receivers_problem(receivers: list[dict[str, Any]]) -> Optional[str]:
    """Outside dev, critical alerts must page and warnings must reach chat."""
    missing = [i for i in (PAGER_INTEGRATION, CHAT_INTEGRATION) if first_with(receivers, i) is None]
    if not receivers:
        return "is required outside dev (critical alerts page through PagerDuty, warnings go to Slack)"
    if missing:
        return f"needs a receiver with {' and one with '.join(missing)} outside dev"
    return None


def check_receivers_for_env(raw: Optional[str], env: str) -> None:
    problem = None if env == "dev" else receivers_problem(parse_receivers(raw))
    if problem:
        raise ReceiversError(problem)


# What the offline plan renders when the real (encrypted or missing) receivers are unavailable.
RECEIVERS_PLACEHOLDER = """\
- name: offline-placeholder-pager
  pagerduty_configs:
    - routing_key: offline-placeholder
- name: offline-placeholder-chat
  slack_configs:
    - api_url: https://placeholder.invalid/
      channel: "#offline-placeholder"
"""


def _matcher(alerts: tuple[str, ...]) -> str:
    return f'alertname =~ "{"|".join(alerts)}"'


def alertmanager_config(receivers: list[dict[str, Any]]) -> dict[str, Any]:
    """Critical -> the first PagerDuty receiver (and on to chat); warning, and anything from a
    review environment's namespace -> the first Slack receiver; info and the always-firing
    Watchdog/InfoInhibitor -> nowhere. Without a
    PagerDuty (or Slack) receiver (dev only), the first receiver takes that role."""
    default = receivers[0]["name"] if receivers else NULL_RECEIVER
    pager = first_with(receivers, PAGER_INTEGRATION) or default
    chat = first_with(receivers, CHAT_INTEGRATION) or default
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": chat,
            "group_by": ["namespace", "alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {"receiver": NULL_RECEIVER, "matchers": ['alertname =~ "Watchdog|InfoInhibitor"']},
                {"receiver": NULL_RECEIVER, "matchers": ['severity = "info"']},
                # A pull request's review environment (on staging) is worth a chat line, never a page.
                {"receiver": chat, "matchers": [f'namespace =~ "{REVIEW_NAMESPACE_PREFIX}[0-9]+"'], "repeat_interval": "4h"},
                # Page fast and re-page hourly while unresolved; `continue` also posts it to chat.
                {"receiver": pager, "matchers": ['severity = "critical"'], "group_wait": "10s",
                 "group_interval": "5m", "repeat_interval": "1h", "continue": pager != chat},
                {"receiver": chat, "matchers": ['severity =~ "critical|warning"'], "repeat_interval": "4h"},
            ],
        },
        "receivers": [{"name": NULL_RECEIVER}, *receivers],
        "inhibit_rules": [
            {
                "source_matchers": ['severity = "critical"'],
                "target_matchers": ['severity =~ "warning|info"'],
                "equal": ["namespace", "alertname"],
            },
            {
                "source_matchers": ['severity = "warning"'],
                "target_matchers": ['severity = "info"'],
                "equal": ["namespace", "alertname"],
            },
            {"source_matchers": ['alertname = "InfoInhibitor"'], "target_matchers": ['severity = "info"'], "equal": ["namespace"]},
            *({"source_matchers": [f'alertname = "{source}"'], "target_matchers": [_matcher(targets)], "equal": ["namespace"]}
              for source, targets in INHIBITIONS),
        ],
    }


def render(raw: Optional[str]) -> str:
    return yaml.safe_dump(alertmanager_config(parse_receivers(raw)), sort_keys=False)
