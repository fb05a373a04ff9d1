"""Reading Pulumi.yaml + Pulumi.<stack>.yaml the way the CLI hands config to a program."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.plan import offline_config
from tools.stack_files import PLACEHOLDER_PREFIX, StackFileError, read_stack


def _project(tmp_path: Path, project_config: str, stack_config: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(f"name: tradesense\nruntime: python\n{project_config}")
    (tmp_path / "Pulumi.demo.yaml").write_text(stack_config)
    return tmp_path


def test_project_defaults_apply_and_stack_values_override(tmp_path):
    root = _project(
        tmp_path,
        "config:\n  tradesense:environment:\n    default: dev\n  logLevel:\n    value: INFO\n  tradesense:short: plain\n",
        "config:\n  tradesense:logLevel: DEBUG\n",
    )
    files = read_stack("demo", root)
    assert files.config["tradesense:environment"] == "dev"
    assert files.config["tradesense:logLevel"] == "DEBUG"  # un-namespaced project key belongs to the project
    assert files.config["tradesense:short"] == "plain"


def test_objects_reach_the_program_as_json_and_scalars_as_strings(tmp_path):
    root = _project(tmp_path, "", "config:\n  tradesense:cluster:\n    nodes: {min: 3}\n  tradesense:flag: true\n  tradesense:n: 5\n")
    config = read_stack("demo", root).config
    assert json.loads(config["tradesense:cluster"]) == {"nodes": {"min": 3}}
    assert config["tradesense:flag"] == "true"
    assert config["tradesense:n"] == "5"


def test_secure_values_become_marked_placeholders_and_stay_secret(tmp_path):
    root = _project(tmp_path, "", "config:\n  tradesense:environment: prod\n  tradesense:stripeApiKey:\n    secure: v1:abc\n")
    files = read_stack("demo", root)
    assert files.config["tradesense:stripeApiKey"] == PLACEHOLDER_PREFIX + "tradesense:stripeApiKey"
    assert files.secret_keys == ["tradesense:stripeApiKey"]
    config, secret_keys, required = offline_config(files)
    states = {r["key"]: r["state"] for r in required}
    assert states["tradesense:stripeApiKey"].startswith("set in stack file")
    assert states["tradesense:sentryDsn"].startswith("missing")
    assert config["tradesense:sentryDsn"].startswith(PLACEHOLDER_PREFIX)
    assert "tradesense:sentryDsn" in secret_keys


def test_unknown_stack_lists_the_known_ones(tmp_path):
    root = _project(tmp_path, "", "config: {}\n")
    with pytest.raises(StackFileError, match=r"unknown stack 'prod': no Pulumi.prod.yaml \(known stacks: demo\)"):
        read_stack("prod", root)
