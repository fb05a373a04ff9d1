"""Turn a `Recording` into the plan's artefacts: redacted JSON, Kubernetes manifests, Helm values, a tree.

Redaction is structural: anything the program marked secret, and every value under a
Kubernetes Secret's `data`/`stringData`, becomes "[secret]" before it is printed or written.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from tools.mock_runtime import Recording, Resource, is_secret, unwrap_secrets

# libyaml's emitter (same output for plain data, ~10x faster) when PyYAML was built with it.
_SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class PlainDataDumper(_SAFE_DUMPER):
    """The safe dumper with the nodes of plain JSON-shaped data built directly: the same nodes
    SafeRepresenter builds (block style, no sorting), without its per-value type lookup and
    alias bookkeeping (a quarter of the manifests' YAML time). Our trees are built fresh by
    `redact`, so they share no objects and the safe dumper would write no anchors either."""

    def represent_data(self, data):
        kind = type(data)
        if kind is str:
            return ScalarNode("tag:yaml.org,2002:str", data)
        if kind is dict:
            return MappingNode("tag:yaml.org,2002:map", [(self.represent_data(k), self.represent_data(v)) for k, v in data.items()],
                               flow_style=False)
        if kind is list:
            return SequenceNode("tag:yaml.org,2002:seq", [self.represent_data(v) for v in data], flow_style=False)
        if kind is bool:
            return ScalarNode("tag:yaml.org,2002:bool", "true" if data else "false")
        if kind is int:
            return ScalarNode("tag:yaml.org,2002:int", str(data))
        if data is None:
            return ScalarNode("tag:yaml.org,2002:null", "null")
        return super().represent_data(data)  # floats and anything else: SafeRepresenter's rules


def to_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=PlainDataDumper, sort_keys=False, default_flow_style=False)
SECRET = "[secret]"
UNKNOWN_TEXT = "[unknown until apply]"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi.runtime.rpc.UNKNOWN
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
# Kinds the API server keeps outside any namespace (built-in and the CRDs this program uses).
CLUSTER_SCOPED = {
    "Namespace", "Node", "PersistentVolume", "StorageClass", "CSIDriver", "PriorityClass", "RuntimeClass",
    "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "APIService", "IngressClass",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "ClusterIssuer", "GatewayClass", "VolumeSnapshotClass",
}


def redact(value: Any) -> Any:
    if is_secret(value):
        return SECRET
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if value == _UNKNOWN:
        return UNKNOWN_TEXT
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire protocol carries every number as a double
    return value


def manifest(resource: Resource) -> dict:
    inputs = dict(resource.inputs)
    if inputs.get("kind") == "Secret":
        # The SDK marks the whole data map secret; keep its keys, hide every value.
        for field in ("data", "stringData"):
            value = unwrap_secrets(inputs[field]) if field in inputs else None
            if isinstance(value, dict):
                inputs[field] = {k: SECRET for k in value}
            elif field in inputs:
                inputs[field] = SECRET
    return redact(inputs)


def manifest_path(obj: dict) -> Path:
    meta = obj.get("metadata") or {}
    kind, name = obj["kind"], meta.get("name", "unnamed")
    folder = "_cluster" if kind in CLUSTER_SCOPED else meta.get("namespace", "default")
    return Path(folder) / f"{kind.lower()}-{name}.yaml"


def helm_release(resource: Resource, inputs: Optional[dict] = None) -> dict:
    inputs = redact(resource.inputs) if inputs is None else inputs
    return {
        "name": inputs.get("name", resource.name),
        "chart": inputs.get("chart"),
        "version": inputs.get("version"),
        "repository": (inputs.get("repositoryOpts") or {}).get("repo"),
        "namespace": inputs.get("namespace"),
        "values": inputs.get("values") or {},
    }


def resource_entry(resource: Resource) -> dict:
    return {
        "urn": resource.urn,
        "type": resource.type,
        "name": resource.name,
        "parent": resource.parent or None,
        "provider": resource.provider.rsplit("::", 1)[0] if resource.provider else None,
        "protect": resource.protect,
        "retainOnDelete": resource.retain_on_delete,
        "ignoreChanges": resource.ignore_changes,
        "dependencies": sorted(resource.dependencies),
        "inputs": manifest(resource) if resource.type.startswith("kubernetes:") else redact(resource.inputs),
    }


def plan_json(plan: dict) -> str:
    """plan.json with its top-level keys sorted and one resource a line: diffable, and every piece
    goes through json's C encoder (any `indent` selects the pure-Python one, 4x slower here)."""
    encode = functools.partial(json.dumps, sort_keys=True, default=str)
    parts = [f"{encode(key)}: " + ("[\n" + ",\n".join(map(encode, value)) + "\n]" if key == "resources" else encode(value))
             for key, value in sorted(plan.items())]
    return "{\n" + ",\n".join(parts) + "\n}\n"


def write_artifacts(recording: Recording, out: Path, plan: dict, violations: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.json").write_text(plan_json(plan))
    (out / "policy.json").write_text(json.dumps(violations, indent=2) + "\n")
    for folder in ("manifests", "helm"):
        for stale in sorted((out / folder).rglob("*.yaml"), reverse=True) if (out / folder).exists() else []:
            stale.unlink()
    # plan.json's entries already hold each Kubernetes resource's redacted manifest: reuse it.
    rendered = {entry["urn"]: entry["inputs"] for entry in plan.get("resources", ()) if entry["type"].startswith("kubernetes:")}
    for resource in recording.kubernetes_objects():
        obj = rendered[resource.urn] if resource.urn in rendered else manifest(resource)
        path = out / "manifests" / manifest_path(obj)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_yaml(obj))
    for resource in recording.of_type(HELM_RELEASE):
        release = helm_release(resource, rendered.get(resource.urn))
        path = out / "helm" / f"{release['name']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_yaml(release))


def tree_lines(recording: Recording, stack_label: str) -> list[str]:
    children: dict[str, list[Resource]] = {}
    urns = {r.urn for r in recording.resources}
    for resource in recording.resources:
        parent = resource.parent if resource.parent in urns else ""
        children.setdefault(parent, []).append(resource)
    width = max([len(r.type) for r in recording.resources] + [20]) + 8
    lines = [f"     {'Type':<{width}} Name", f" +   {'pulumi:pulumi:Stack':<{width}} {stack_label}"]

    def walk(parent: str, prefix: str) -> None:
        kids = sorted(children.get(parent, []), key=lambda r: (r.custom, r.type, r.name))
        for index, kid in enumerate(kids):
            last = index == len(kids) - 1
            branch = f"{prefix}{'└─ ' if last else '├─ '}{kid.type}"
            lines.append(f" +   {branch:<{width}} {kid.name}{'  [protect]' if kid.protect else ''}")
            walk(kid.urn, prefix + ("   " if last else "│  "))

    walk("", "")
    return lines


def type_counts(resources: Iterable[Resource]) -> list[tuple[str, int]]:
    return sorted(Counter(r.type for r in resources).items())


def display_outputs(recording: Recording) -> dict[str, Any]:
    return {k: SECRET if k in recording.secret_outputs else redact(v) for k, v in sorted(recording.outputs.items())}
