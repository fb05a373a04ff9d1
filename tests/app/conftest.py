"""Fixtures for the app-layer tests.

`recordings` (tests/conftest.py) runs the real program per committed stack. `stub_run` runs the
real config, cluster and app with a hand-built platform (tests/app/platform_stub.py), for
edge variants and labels the real platform does not produce.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

import pytest

from tests.app.platform_stub import stub_platform
from tests.conftest import run_stack
from tools.mock_runtime import Recording
from tools.stack_files import read_stack


def stub_program(edge_kind: str, tls_secret_namespace: Optional[str] = None) -> Callable[[], None]:
    def program() -> None:
        from components.app.app import build_app
        from components.cluster.factory import build_cluster
        from components.config import load_config

        cfg = load_config()
        cluster = build_cluster(cfg)
        build_app(cfg, cluster, stub_platform(cluster.provider, edge_kind, tls_secret_namespace))

    return program


@pytest.fixture(scope="session")
def stub_run() -> Callable[..., Recording]:
    cache: dict[str, Recording] = {}

    def run(stack: str = "prod", edge_kind: str = "gateway-api", overrides: Optional[dict[str, Any]] = None,
            tls_secret_namespace: Optional[str] = None) -> Recording:
        key = json.dumps([stack, edge_kind, overrides, tls_secret_namespace], sort_keys=True, default=str)
        if key not in cache:
            cache[key] = run_stack(stack, overrides, program=stub_program(edge_kind, tls_secret_namespace))
        return cache[key]

    return run


def stack_app_settings(stack: str) -> dict:
    """The committed `tradesense:app` block of a stack file, as written there."""
    return json.loads(read_stack(stack).config["tradesense:app"])


def stack_domain(stack: str) -> str:
    """The apex domain the stack file gives the platform."""
    return json.loads(read_stack(stack).config["tradesense:platform"])["domain"]
