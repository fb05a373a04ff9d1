"""The backup settings the program renders for prod (under mocks), for the real round trips."""

from __future__ import annotations

from tests.conftest import run_stack
from tools.mock_runtime import unwrap_secrets


def prod_backup_settings() -> dict:
    recording = run_stack("prod")
    store = recording.one("kubernetes:barmancloud.cnpg.io/v1:ObjectStore")
    cluster = recording.one("kubernetes:postgresql.cnpg.io/v1:Cluster")
    return {
        "configuration": unwrap_secrets(store.inputs["spec"]["configuration"]),
        "archive_timeout": cluster.inputs["spec"]["postgresql"]["parameters"]["archive_timeout"],
    }
