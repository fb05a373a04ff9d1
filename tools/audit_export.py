"""Read and type-check a `pulumi stack export` document for tools.audit.

The shape is `sdk/go/common/apitype/core.go` at the pinned CLI (v3.274.1): UntypedDeployment
{version, features, deployment}, DeploymentV3 {manifest, secrets_providers, resources,
pending_operations, metadata, snippets, extensions}, ResourceV3, OperationV2. Versions 3 and 4
(4 declares `features`) share DeploymentV3. Unknown fields are accepted (a newer CLI may add
some) and still scanned. Every check is iterative, and no message quotes a value: only field
paths and type names, so an error cannot print a secret.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VERSIONS = (3, 4)
MAX_DEPTH = 256  # `pulumi stack export` nests a few dozen levels; deeper is an attack or a bug
MAX_BYTES = 512 * 1024 * 1024
OPERATION_TYPES = ("creating", "updating", "deleting", "reading")

BOOL, STR, DICT, LIST, STR_LIST = "a boolean", "a string", "an object", "a list", "a list of strings"
RESOURCE_FIELDS = {
    "urn": STR, "custom": BOOL, "delete": BOOL, "id": STR, "type": STR, "inputs": DICT, "outputs": DICT,
    "parent": STR, "protect": BOOL, "taint": BOOL, "external": BOOL, "dependencies": STR_LIST,
    "initErrors": STR_LIST, "provider": STR, "propertyDependencies": DICT, "pendingReplacement": BOOL,
    "additionalSecretOutputs": STR_LIST, "aliases": STR_LIST, "customTimeouts": DICT, "importID": STR,
    "retainOnDelete": BOOL, "deletedWith": STR, "replaceWith": STR_LIST, "created": STR, "modified": STR,
    "sourcePosition": STR, "stackTrace": LIST, "ignoreChanges": STR_LIST, "hideDiff": LIST,
    "replaceOnChanges": STR_LIST, "refreshBeforeUpdate": BOOL, "viewOf": STR, "resourceHooks": DICT,
    "extensionRef": STR, "snippetID": STR,
}
DEPLOYMENT_FIELDS = {"manifest": DICT, "secrets_providers": DICT, "resources": LIST, "pending_operations": LIST,
                     "metadata": DICT, "snippets": LIST, "extensions": DICT}
MANIFEST_FIELDS = {"time": STR, "magic": STR, "version": STR, "plugins": LIST}
PLUGIN_FIELDS = {"name": STR, "path": STR, "type": STR, "version": STR}


class ExportError(ValueError):
    """The input is not a `pulumi stack export` document this tool understands (exit 2)."""


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _is(value: Any, expected: str) -> bool:
    if expected == BOOL:
        return isinstance(value, bool)
    if expected == STR:
        return isinstance(value, str)
    if expected == DICT:
        return isinstance(value, dict)
    if expected == LIST:
        return isinstance(value, list)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_fields(obj: dict, fields: dict[str, str], where: str) -> None:
    for key, expected in fields.items():
        value = obj.get(key)
        if value is not None and not _is(value, expected):
            raise ExportError(f"{where}.{key} must be {expected}, got {_type_name(value)}")


class _Shadowed(list):
    """Values that a repeated key hid: json keeps the last, but the file holds them all."""


def parse(text: str, where: str, shadowed: _Shadowed) -> Any:
    def pairs_hook(pairs):
        obj = {}
        for key, value in pairs:
            if key in obj:
                shadowed.append((key, obj[key]))
            obj[key] = value
        return obj

    def no_constant(name):
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(text, object_pairs_hook=pairs_hook, parse_constant=no_constant)
    except RecursionError:
        raise ExportError(f"{where} nests deeper than this reader allows (more than {MAX_DEPTH} levels); "
                          "not an export `pulumi stack export` writes") from None
    except json.JSONDecodeError as exc:
        raise ExportError(f"{where} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): "
                          "pass the output of `pulumi stack export`") from None
    except ValueError as exc:
        raise ExportError(f"{where} is not JSON ({exc})") from None


def read(path: Path, max_bytes: int = MAX_BYTES) -> tuple[Any, list]:
    """(document, shadowed values) of the file at `path`."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ExportError(f"{path} is {size} bytes; the audit reads at most {max_bytes} (--max-bytes)")
        raw = path.read_bytes()
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ExportError(f"{path} is UTF-16 (a PowerShell redirect?): use `pulumi stack export --file {path.name}`")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportError(f"{path} is not UTF-8 (byte {exc.start}): pass the output of `pulumi stack export`") from None
    shadowed = _Shadowed()
    doc = parse(text, str(path), shadowed)
    return doc, list(shadowed)


def check_depth(doc: Any, where: str = "export") -> None:
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExportError(f"{where} nests deeper than {MAX_DEPTH} levels; not an export `pulumi stack export` writes")
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)


def check_resource(resource: Any, where: str) -> None:
    if not isinstance(resource, dict):
        raise ExportError(f"{where} must be an object, got {_type_name(resource)}")
    missing = [k for k in ("urn", "type", "custom") if k not in resource]
    if missing:
        raise ExportError(f"{where} is missing {', '.join(missing)}")
    _check_fields(resource, RESOURCE_FIELDS, where)
    if not resource["urn"] or not resource["type"]:
        raise ExportError(f"{where}.urn and .type must not be empty")
    for index, deps in enumerate((resource.get("propertyDependencies") or {}).values()):
        if not _is(deps, STR_LIST):
            raise ExportError(f"{where}.propertyDependencies (entry {index}) must be {STR_LIST}, got {_type_name(deps)}")
    for index, hooks in enumerate((resource.get("resourceHooks") or {}).values()):
        if not _is(hooks, STR_LIST):
            raise ExportError(f"{where}.resourceHooks (entry {index}) must be {STR_LIST}, got {_type_name(hooks)}")


def validate(doc: Any, where: str = "export") -> dict:
    if not isinstance(doc, dict):
        raise ExportError(f"{where}: expected a JSON object with 'version' and 'deployment', got {_type_name(doc)}")
    check_depth(doc, where)
    if "version" not in doc:
        raise ExportError(f"{where}: missing field 'version' (a `pulumi stack export` document has version 3 or 4)")
    version = doc["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version not in VERSIONS:
        shown = version if isinstance(version, int) and not isinstance(version, bool) else _type_name(version)
        raise ExportError(f"{where}: unknown deployment version {shown}; this auditor reads versions 3 and 4 (sdk/go/common/apitype)")
    if doc.get("features") is not None and not _is(doc["features"], STR_LIST):
        raise ExportError(f"{where}: 'features' must be {STR_LIST}")
    deployment = doc.get("deployment")
    if not isinstance(deployment, dict):
        raise ExportError(f"{where}: missing field 'deployment' (an object)")
    _check_fields(deployment, DEPLOYMENT_FIELDS, "deployment")
    if not isinstance(deployment.get("manifest"), dict):
        raise ExportError(f"{where}: missing field 'deployment.manifest'")
    _check_fields(deployment["manifest"], MANIFEST_FIELDS, "deployment.manifest")
    for index, plugin in enumerate(deployment["manifest"].get("plugins") or []):
        if not isinstance(plugin, dict):
            raise ExportError(f"deployment.manifest.plugins[{index}] must be an object, got {_type_name(plugin)}")
        _check_fields(plugin, PLUGIN_FIELDS, f"deployment.manifest.plugins[{index}]")
    if deployment.get("secrets_providers") is not None and not isinstance(deployment["secrets_providers"].get("type", ""), str):
        raise ExportError("deployment.secrets_providers.type must be a string")
    for index, resource in enumerate(deployment.get("resources") or []):
        check_resource(resource, f"{where}: deployment.resources[{index}]")
    for index, op in enumerate(deployment.get("pending_operations") or []):
        here = f"{where}: deployment.pending_operations[{index}]"
        if not isinstance(op, dict) or "resource" not in op or "type" not in op:
            raise ExportError(f"{here} needs 'resource' and 'type'")
        if op["type"] not in OPERATION_TYPES:
            raise ExportError(f"{here}.type must be one of {', '.join(OPERATION_TYPES)}")
        check_resource(op["resource"], f"{here}.resource")
    return doc
