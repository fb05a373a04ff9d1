"""Values keys a pinned chart does not know: Helm ignores them silently, so a typo or a key from
another chart version turns a setting off without a word (NGF `metrics.serviceMonitor`, 2026-12).

A key is known when the chart has it in values.yaml or values.schema.json, or one of its
templates reads it (`.Values.a.b`: some charts leave optional keys commented out of
values.yaml), or it is a dependency's `condition`. A subchart's values live under its name or alias and are known when
either the subchart or the parent reads them; `global` is shared by all of them.

Below a known key the walk continues; it stops, explicitly and for a stated reason, only at
values whose keys the chart does not own:
- OPEN_MAPS (by key name): maps the chart copies verbatim (labels, annotations, flags);
- KUBERNETES_TYPES (by key name) and PASS_THROUGH (by chart and path): Kubernetes or operator
  objects the chart copies into a manifest; their keys belong to that API, and the rendered
  manifests are what gets checked (tools/chart_render.py feeds them to the policy pack).
Anything else is reported. values.schema.json, where the chart has one, is applied to the
merged values as Helm does.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator, Optional

from tools.chart_cache import ChartPackage

OPEN_MAPS = {
    "labels": "copied into metadata.labels",
    "annotations": "copied into metadata.annotations",
    "podLabels": "copied into the pod template's labels",
    "podAnnotations": "copied into the pod template's annotations",
    "nodeSelector": "a pod's nodeSelector: any node label",
    "matchLabels": "a label selector: any label",
    "extraArgs": "command-line flags of the chart's binary (flag name -> value)",
    "sysctls": "kernel parameter name -> value (ingress-nginx controller.sysctls)",
}
KUBERNETES_TYPES = {
    "securityContext": "PodSecurityContext or SecurityContext",
    "containerSecurityContext": "SecurityContext",
    "podSecurityContext": "PodSecurityContext",
    "resources": "ResourceRequirements",
    "affinity": "Affinity",
    "tolerations": "[]Toleration",
    "topologySpreadConstraints": "[]TopologySpreadConstraint",
    "volumeClaimTemplate": "PersistentVolumeClaim template",
}
# chart -> dotted path -> the API object it is copied into.
PASS_THROUGH = {
    "cert-manager": {"config": "the controller's ControllerConfiguration (controller.config.cert-manager.io/v1alpha1)"},
    "ingress-nginx": {"controller.config": "the controller ConfigMap: NGINX setting name -> value"},
    "kube-prometheus-stack": {
        "prometheus.prometheusSpec.storageSpec": "Prometheus CRD spec.storage (StorageSpec)",
        "alertmanager.alertmanagerSpec.storage": "Alertmanager CRD spec.storage (StorageSpec)",
    },
}
_REFERENCE = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def _defaults(package: ChartPackage, prefix: str) -> dict:
    values = package.yaml_file(f"{prefix}values.yaml") or {}
    return values if isinstance(values, dict) else {}


def _template_references(package: ChartPackage, prefix: str) -> dict:
    """A tree of every `.Values.x.y` path the chart's own templates read (not its subcharts')."""
    tree: dict = {}
    for path, text in package.files.items():
        if not path.startswith(f"{prefix}templates/"):
            continue
        for match in _REFERENCE.finditer(text):
            node = tree
            for part in match.group(1).lstrip(".").split("."):
                node = node.setdefault(part, {})
    return tree


def _conditions(package: ChartPackage, prefix: str) -> dict:
    tree: dict = {}
    chart = package.yaml_file(f"{prefix}Chart.yaml") or {}
    for dep in chart.get("dependencies") or []:
        for condition in str(dep.get("condition") or "").split(","):
            node = tree
            for part in filter(None, condition.strip().split(".")):
                node = node.setdefault(part, {})
    return tree


def _key_tree(value: Any) -> dict:
    """Known keys only: a map's keys with their own key trees; any other value has none."""
    return {k: _key_tree(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _union(*trees: Any) -> dict:
    out: dict = {}
    for tree in map(_key_tree, trees):
        for key, children in tree.items():
            out[key] = _union(out[key], children) if key in out else children
    return out


def _schema_tree(schema: Any) -> dict:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return {k: _schema_tree(v) for k, v in properties.items()} if isinstance(properties, dict) else {}


def _known(package: ChartPackage, prefix: str) -> dict:
    schema = package.files.get(f"{prefix}values.schema.json")
    return _union(_defaults(package, prefix), _template_references(package, prefix), _conditions(package, prefix),
                  _schema_tree(json.loads(schema)) if schema else {})


def _walk(values: Any, known: dict, path: str, chart: str) -> Iterator[str]:
    if not isinstance(values, dict):
        return  # scalars and lists: not keyed
    for key, value in values.items():
        here = f"{path}.{key}" if path else key
        if key in OPEN_MAPS or key in KUBERNETES_TYPES or here in PASS_THROUGH.get(chart, {}):
            continue
        if key not in known:
            yield here
        elif isinstance(value, dict):
            yield from _walk(value, known[key], here, chart)


def unknown_keys(package: ChartPackage, values: dict, prefix: str = "", path: str = "",
                 inherited: Optional[dict] = None) -> list[str]:
    """Dotted paths of every key in `values` that neither the chart nor its subcharts know."""
    known = _union(_known(package, prefix), inherited or {})
    subcharts = package.subcharts(prefix)
    found: list[str] = []
    own: dict = {}
    for key, value in values.items():
        here = f"{path}.{key}" if path else key
        if key in subcharts and isinstance(value, dict):
            # The parent may read its subchart's values too (and holds its `condition` key).
            found += unknown_keys(package, value, subcharts[key], here, known.get(key))
        elif key == "global" and isinstance(value, dict):
            found += list(_walk(value, _globals(package, prefix), here, package.name))
        else:
            own[key] = value
    found += list(_walk(own, known, path, package.name))
    return found


def _globals(package: ChartPackage, prefix: str) -> dict:
    """`global` is shared by a chart and all its subcharts: a key any of them knows is known."""
    trees = [_known(package, prefix).get("global") or {}]
    trees += [_globals(package, sub) for sub in package.subcharts(prefix).values()]
    return _union(*trees)


def merged(defaults: Any, values: Any) -> Any:
    """Helm's coalescing of user values over the chart's: maps merge, anything else replaces,
    and a null removes the default."""
    if isinstance(defaults, dict) and isinstance(values, dict):
        out = dict(defaults)
        for key, value in values.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merged(defaults.get(key), value)
        return out
    return values


def schema_errors(package: ChartPackage, values: dict) -> list[str]:
    """values.schema.json violations of the merged values (what `helm install` would refuse)."""
    text = package.files.get("values.schema.json")
    if not text:
        return []
    import jsonschema

    validator = jsonschema.Draft7Validator(json.loads(text))
    document = merged(_defaults(package, ""), values)
    return [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(document)]
