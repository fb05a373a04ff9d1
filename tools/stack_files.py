"""Read Pulumi.yaml and Pulumi.<stack>.yaml into the flat config map the engine hands a program.

Mirrors the CLI: project-level `config:` values (with `value:`) are defaults that the stack
file overrides; object values reach the program as JSON strings; `secure:` values cannot be
decrypted offline, so each gets a marked placeholder and is reported as a secret key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_PREFIX = "offline-placeholder-for-"


class StackFileError(Exception):
    """A missing or unreadable stack file (a usage error, exit code 2)."""


@dataclass
class StackConfigFiles:
    project: str
    stack: str
    config: dict[str, str]
    secret_keys: list[str] = field(default_factory=list)
    # secure: values in the stack file that the plan replaced with placeholders.
    encrypted_keys: list[str] = field(default_factory=list)


def available_stacks(root: Path = ROOT) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def read_stack(stack: str, root: Path = ROOT) -> StackConfigFiles:
    project_doc = _load(root / "Pulumi.yaml")
    stack_path = root / f"Pulumi.{stack}.yaml"
    if not stack_path.exists():
        known = ", ".join(available_stacks(root)) or "none"
        raise StackFileError(f"unknown stack '{stack}': no {stack_path.name} (known stacks: {known})")
    stack_doc = _load(stack_path)
    project = project_doc.get("name")
    if not project:
        raise StackFileError("Pulumi.yaml has no project name")

    values: dict[str, Any] = {}
    for key, spec in (project_doc.get("config") or {}).items():
        if not isinstance(spec, dict):
            values[_qualify(project, key)] = spec  # short form `key: value`
        elif "value" in spec or "default" in spec:
            values[_qualify(project, key)] = spec.get("value", spec.get("default"))
    encrypted: list[str] = []
    for name, doc in (("Pulumi.yaml", project_doc), (stack_path.name, stack_doc)):
        if not isinstance(doc.get("config") or {}, dict):
            raise StackFileError(f"{name}: `config` must be a mapping of keys to values")
    for key, value in (stack_doc.get("config") or {}).items():
        full = _qualify(project, key)
        if isinstance(value, dict) and set(value) == {"secure"}:
            value = PLACEHOLDER_PREFIX + full
            encrypted.append(full)
        values[full] = value
    return StackConfigFiles(
        project=project,
        stack=stack,
        config={k: _wire(v) for k, v in values.items()},
        secret_keys=list(encrypted),
        encrypted_keys=encrypted,
    )


def _load(path: Path) -> dict:
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise StackFileError(f"cannot read {path.name}: {exc}") from None
    if not isinstance(doc, dict):
        raise StackFileError(f"{path.name} must be a YAML mapping")
    return doc


def _qualify(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _wire(value: Any) -> str:
    """Config values reach a Python program as strings; objects and lists as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
