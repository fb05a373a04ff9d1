"""Fixtures for the ops/ round trips: real servers on 127.0.0.1 (tools.local_servers)."""

from __future__ import annotations

import os
import secrets
from typing import Iterator

import pytest

from tools.local_servers import OPS, S3Server, Workspace, base_env, missing_tools

ALL_SECRETS: list[str] = []


def require_tools(*names: str) -> None:
    """A missing tool skips locally and fails under CI (CI installs every one)."""
    missing = missing_tools(names) if names else missing_tools()
    if not missing:
        return
    message = f"not installed: {', '.join(missing)} (.ci/install.d/20-data-servers.sh and make test install them)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def new_secret(prefix: str) -> str:
    value = f"{prefix}-{secrets.token_hex(12)}"
    ALL_SECRETS.append(value)
    return value


def assert_no_secret(*outputs: str) -> None:
    from tools.local_servers import S3_SECRET

    for text in outputs:
        for value in (S3_SECRET, *ALL_SECRETS):
            assert value not in text, "a secret was printed"


def script(name: str) -> str:
    return str(OPS / name)


@pytest.fixture(scope="session")
def workspace() -> Iterator[Workspace]:
    require_tools()
    ws = Workspace()
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def s3(workspace: Workspace) -> S3Server:
    return S3Server(workspace).start()


@pytest.fixture()
def env(s3: S3Server) -> dict[str, str]:
    return base_env(s3.endpoint)


@pytest.fixture()
def bucket(s3: S3Server) -> str:
    name = f"backup-{secrets.token_hex(4)}"
    client = s3.client()
    client.create_bucket(Bucket=name)
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name
