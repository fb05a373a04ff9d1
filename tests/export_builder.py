"""Build a `pulumi stack export` document (deployment v3/v4) from a mock-runtime recording.

Shaped like what the CLI prints (pkg/resource/stack/deployment.go, sdk/go/common/apitype/core.go):
the Stack resource first, default providers named `default_<version>` with a `version` input,
provider references `urn::id`, secrets `{sig, ciphertext}` (or `{sig, plaintext: <JSON>}` as
`--show-secrets` writes them), `created`/`modified` timestamps. The real-engine suite's exports
(build/e2e/exports/<stack>.json) replace these once they exist.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from tools.mock_runtime import SECRET_MARK, SECRET_SIG, Recording, is_secret
from tools.stack_files import read_stack

STAMP = "2026-12-01T07:00:00.000000Z"
# Outputs the provider SDKs mark with additional_secret_outputs (the engine stores them as
# secrets; the mock recording does not see resource options of computed outputs).
SECRET_OUTPUTS = {"digitalocean:index/spacesKey:SpacesKey": ("secretKey",)}
PINS = {"aws": "7.51.1", "kubernetes": "4.34.2", "digitalocean": "4.84.1", "random": "4.21.4"}


def _secret(value: Any, show_secrets: bool) -> dict:
    if show_secrets:
        return {SECRET_SIG: SECRET_MARK, "plaintext": json.dumps(value)}
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()
    return {SECRET_SIG: SECRET_MARK, "ciphertext": "v1:" + base64.b64encode(digest[:12]).decode() + ":" + base64.b64encode(digest).decode()}


def encode(value: Any, show_secrets: bool = False) -> Any:
    if is_secret(value):
        from tools.mock_runtime import unwrap_secrets

        return _secret(unwrap_secrets(value.get("value")), show_secrets)
    if isinstance(value, dict):
        return {k: encode(v, show_secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v, show_secrets) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def build_export(recording: Recording, project: str = "tradesense", show_secrets: bool = False, version: int = 3) -> dict:
    stack = recording.stack
    prefix = f"urn:pulumi:{stack}::{project}::"
    stack_urn = f"{prefix}pulumi:pulumi:Stack::{project}-{stack}"
    resources: list[dict] = [{
        "urn": stack_urn, "custom": False, "type": "pulumi:pulumi:Stack",
        "outputs": {k: _secret(v, show_secrets) if k in recording.secret_outputs else encode(v, show_secrets) for k, v in recording.outputs.items()},
        "created": STAMP, "modified": STAMP,
    }]
    defaults: dict[str, str] = {}
    for r in recording.resources:
        package = r.type.split(":", 1)[0]
        if r.custom and not r.provider and not r.type.startswith("pulumi:providers:") and package not in defaults:
            pin = PINS.get(package, "1.0.0")
            urn = f"{prefix}pulumi:providers:{package}::default_{pin.replace('.', '_')}"
            provider_id = hashlib.md5(urn.encode()).hexdigest()
            resources.append({
                "urn": urn, "custom": True, "id": f"{provider_id[:8]}-{provider_id[8:12]}-{provider_id[12:16]}-{provider_id[16:20]}-{provider_id[20:]}",
                "type": f"pulumi:providers:{package}", "inputs": {"__internal": {}, "version": pin},
                "outputs": {"version": pin}, "created": STAMP, "modified": STAMP,
            })
            defaults[package] = f"{urn}::{resources[-1]['id']}"
    for r in recording.resources:
        entry: dict = {"urn": r.urn, "custom": r.custom, "type": r.type}
        if r.custom:
            entry["id"] = r.id or hashlib.md5(r.urn.encode()).hexdigest()
        entry["inputs"] = encode(r.inputs, show_secrets)
        if r.type.startswith("pulumi:providers:"):
            entry["inputs"].setdefault("version", PINS.get(r.type.split(":")[2], "1.0.0"))
        entry["outputs"] = encode(r.outputs, show_secrets)
        for key in SECRET_OUTPUTS.get(r.type, ()):
            if key in entry["outputs"] and not (isinstance(entry["outputs"][key], dict) and SECRET_SIG in entry["outputs"][key]):
                entry["outputs"][key] = _secret(entry["outputs"][key], show_secrets)
                entry["additionalSecretOutputs"] = sorted(set(entry.get("additionalSecretOutputs", [])) | {key})
        entry["parent"] = r.parent or stack_urn
        if r.protect:
            entry["protect"] = True
        if r.retain_on_delete:
            entry["retainOnDelete"] = True
        if r.dependencies:
            entry["dependencies"] = list(r.dependencies)
        if r.property_dependencies:
            entry["propertyDependencies"] = r.property_dependencies
        provider = r.provider or defaults.get(r.type.split(":", 1)[0], "")
        if r.custom and provider and not r.type.startswith("pulumi:providers:"):
            entry["provider"] = provider
        if r.ignore_changes:
            entry["ignoreChanges"] = list(r.ignore_changes)
        entry["created"] = entry["modified"] = STAMP
        resources.append(entry)
    doc: dict = {
        "version": version,
        "deployment": {
            "manifest": {"time": "2026-12-01T07:00:00.0Z", "magic": hashlib.sha256(b"3.274.1").hexdigest(), "version": "v3.274.1"},
            "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:c2FsdHNhbHQ=:v1:aXZpdml2aXY=:ZmFrZQ=="}},
            "resources": resources,
            "metadata": {},
        },
    }
    if version == 4:
        doc["features"] = ["refreshBeforeUpdate"]
    return doc


def stack_export(stack: str, **kwargs) -> dict:
    from tools.plan import build_plan

    result = build_plan(stack)
    return build_export(result.recording, project=read_stack(stack).project, **kwargs)
