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


# --- test tiers (README "Test tiers"; registered in pytest.ini, checked with --strict-markers) ---
# By folder, then by file for the top-level modules. A file that needs a Debian or Go tool is
# `tools`, whatever its folder: `make test-fast` (-m "unit or plan") must run on a bare venv.
TIER_BY_FOLDER = {"e2e": "e2e", "ops": "ops", "policies": "unit", "app": "plan", "platform": "plan", "bootstrap": "plan"}
TIER_BY_FILE = {
    "test_observability.py": "tools",         # promtool
    "test_alertmanager_routing.py": "tools",  # amtool
    "test_independent_checks.py": "tools",    # checkov
    "test_workflows.py": "tools",             # actionlint, zizmor
    "test_docs_run.py": "tools",              # the docs' shell blocks, on the real engine
    "test_engine_tool.py": "e2e",
    "test_audit.py": "unit", "test_plan_diff.py": "unit", "test_mock_runtime.py": "unit", "test_smoke.py": "unit",
    "test_restore_tool.py": "unit", "test_review_kubeconfig.py": "unit", "test_stack_files.py": "unit",
    "test_runbook.py": "unit", "test_docs.py": "unit", "test_new_stack.py": "unit", "test_tools_cli.py": "unit",
}
TIERS = ("unit", "plan", "tools", "ops", "e2e")


def tier_of(path: Path) -> str:
    rel = path.resolve().relative_to(ROOT / "tests")
    if rel.name in TIER_BY_FILE:
        return TIER_BY_FILE[rel.name]
    if len(rel.parts) > 1:
        return TIER_BY_FOLDER[rel.parts[0]]
    return "plan"  # a top-level module that runs the program under the mocks


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if not any(item.get_closest_marker(t) for t in TIERS):
            item.add_marker(tier_of(Path(str(item.fspath))))
