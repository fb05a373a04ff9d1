"""Shared test helpers: every test runs the program through tools.mock_runtime."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.mock_runtime import Recording, run_program  # noqa: E402
from tools.stack_files import available_stacks, read_stack  # noqa: E402

STACKS = available_stacks(ROOT)
TEST_SECRETS = {
    "tradesense:stripeApiKey": "sk_test_TESTVALUE_stripe_api_key",
    "tradesense:stripeWebhookSecret": "whsec_TESTVALUE_webhook",
    "tradesense:sentryDsn": "https://TESTVALUE@o0.ingest.sentry.io/1",
    "tradesense:dns01ApiToken": "dop_v1_TESTVALUE_dns01_token",
    "tradesense:alertmanagerReceivers": (
        "- name: pager\n  pagerduty_configs:\n    - routing_key: TESTVALUE-pagerduty-key\n"
        "- name: chat\n  slack_configs:\n    - api_url: https://hooks.slack.com/services/T0/B0/TESTVALUE\n      channel: '#alerts'\n"
    ),
}


def edge_overrides(edge: str) -> dict:
    """Config overrides selecting an edge. Review environments attach to a Gateway, so the
    ingress-nginx variant runs without them."""
    return {"platform.edge": edge, **({"platform.reviewEnvironments": DELETE} if edge == "ingress-nginx" else {})}


def stack_config(stack: str, overrides: Optional[dict[str, Any]] = None, secrets: bool = True) -> dict[str, str]:
    """The committed stack's config as the engine would pass it, plus test secrets.

    `overrides` maps `section.dotted.path` (e.g. `cluster.eks.nodes.max`) to a value; a value of
    `DELETE` removes the key. Top-level keys (`environment`) work the same way.
    """
    files = read_stack(stack, ROOT)
    config = dict(files.config)
    if secrets:
        config.update(TEST_SECRETS)
    for path, value in (overrides or {}).items():
        section, _, rest = path.partition(".")
        key = f"tradesense:{section}"
        if not rest:
            if value is DELETE:
                config.pop(key, None)
            else:
                config[key] = value if isinstance(value, str) else json.dumps(value)
            continue
        doc = json.loads(config.get(key, "{}"))
        target = doc
        parts = rest.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        if value is DELETE:
            target.pop(parts[-1], None)
        else:
            target[parts[-1]] = copy.deepcopy(value)
        config[key] = json.dumps(doc)
    return config


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()


def secret_keys(config: dict[str, str]) -> list[str]:
    """The registered secrets present in `config`, as if set with `pulumi config set --secret`."""
    from components.config import SECRETS

    return [spec.full_key for spec in SECRETS.values() if spec.full_key in config]


def run_stack(
    stack: str,
    overrides: Optional[dict[str, Any]] = None,
    secrets: bool = True,
    extra_config: Optional[dict[str, str]] = None,
    **kwargs,
) -> Recording:
    config = stack_config(stack, overrides, secrets)
    config.update(extra_config or {})
    kwargs.setdefault("secret_keys", secret_keys(config))
    return run_program(config, stack, **kwargs)


@pytest.fixture(scope="session")
def recordings() -> dict[str, Recording]:
    """One run per committed stack, shared by read-only tests."""
    return {stack: run_stack(stack) for stack in STACKS}
