"""Alertmanager's configuration, built around receivers that come from secret config.

`tradesense:alertmanagerReceivers` is a YAML (or JSON) list of Alertmanager receivers, e.g.

    - name: oncall
      slack_configs:
        - api_url: https://hooks.slack.com/services/...
          channel: "#tradesense-alerts"
          send_resolved: true

Receivers carry webhook URLs and API keys, so the whole value is a secret, and the rendered
file only ever travels as a Pulumi secret into a Kubernetes Secret. The first receiver takes
every alert; the always-firing Watchdog and InfoInhibitor go to the built-in `null` receiver.
"""

from __future__ import annotations

from typing import Any, Optional

import yaml

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


def alertmanager_config(receivers: list[dict[str, Any]]) -> dict[str, Any]:
    default = receivers[0]["name"] if receivers else NULL_RECEIVER
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": default,
            "group_by": ["namespace", "alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {"receiver": NULL_RECEIVER, "matchers": ['alertname = "Watchdog"']},
                {"receiver": NULL_RECEIVER, "matchers": ['alertname = "InfoInhibitor"']},
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
        ],
    }


def render(raw: Optional[str]) -> str:
    return yaml.safe_dump(alertmanager_config(parse_receivers(raw)), sort_keys=False)
