"""One model of the Kubernetes objects a resource makes, whatever the spelling.

Every way the Kubernetes provider accepts to make an object becomes the same `K8sObject`:
typed kinds in every API version, their `*Patch` forms (server-side apply: `patch=True`), their
`*List` forms (one object per item), and `kubernetes:yaml/v2:ConfigGroup` / `ConfigFile` inline
objects (`objs`, and `yaml` strings, parsed here; a `file`/`files` path is not readable by a rule).
Objects the operators the platform installs create from their custom resources are added too:
the Services of a CloudNativePG Cluster's `spec.managed.services.additional` and of a Pooler's
`serviceTemplate`. Pod templates (`workloads`) cover the built-in kinds and the operator CRs
(Prometheus, Alertmanager, ThanosRuler, PrometheusAgent, CNPG Cluster and Pooler).

Each resource is converted once per property map and cached: the offline evaluation shares one
read-only view per resource between all rules (tools/policy_views.py), so the cache is hit by
every rule after the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

from pulumi_policy.proxy import UnknownValueError

from ._util import as_list, get, is_list, is_mapping, known_list, skip_unknown

CONFIG_KINDS = {"ConfigGroup", "ConfigFile"}
# Kinds without a namespace (messages name them without one).
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass", "Node",
                  "CustomResourceDefinition", "ClusterIssuer", "GatewayClass", "PriorityClass"}
OPERATOR_WORKLOADS = {
    # monitoring.coreos.com: the CR's spec holds the pod's fields; the operator merges the
    # containers listed into the ones it generates (strategic merge), so unset fields keep the
    # operator's defaults.
    ("monitoring.coreos.com", "Prometheus"),
    ("monitoring.coreos.com", "PrometheusAgent"),
    ("monitoring.coreos.com", "Alertmanager"),
    ("monitoring.coreos.com", "ThanosRuler"),
    # postgresql.cnpg.io: a Pooler's spec.template is merged into the PgBouncer pod; a Cluster
    # has its own fields (imageName, securityContext, podSecurityContext, env, envFrom).
    ("postgresql.cnpg.io", "Pooler"),
    ("postgresql.cnpg.io", "Cluster"),
}
# Where each built-in pod-bearing kind keeps its pod template (metadata + spec), by kind name, so
# every API version (apps/v1beta2, extensions/v1beta1, batch/v1beta1, ...) is covered.
POD_TEMPLATE_PATHS_BY_KIND: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "PodTemplate": ("template",),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
POD_FIELDS = ("containers", "initContainers", "volumes", "securityContext", "hostNetwork", "hostPID", "hostIPC",
              "serviceAccountName", "automountServiceAccountToken", "imagePullSecrets")


@dataclass
class K8sObject:
    """One Kubernetes object as the API server will receive it."""

    kind: str  # without Patch/List
    group: str  # API group, "" for core
    name: str
    namespace: Optional[str]  # metadata.namespace, the provider's, or "default"; None when unknown
    body: Mapping
    patch: bool = False  # server-side apply: fields it leaves out keep their live value
    origin: str = ""  # where in the resource it came from (ConfigGroup objs[1], items[0], ...)
    operator: bool = False  # made by an operator from a custom resource (not sent as written)

    def describe(self) -> str:
        where = f" ({self.origin})" if self.origin else ""
        if self.kind in CLUSTER_SCOPED:
            return f"{self.kind} {self.name}{where}"
        return f"{self.kind} {self.namespace or '<unknown>'}/{self.name}{where}"


def split_type(resource_type: str) -> tuple[str, str, str]:
    """(group, version, kind) of `kubernetes:<group>/<version>:<Kind>`; group "" for core."""
    parts = resource_type.split(":")
    if len(parts) != 3:
        return "", "", parts[-1]
    group, _, version = parts[1].rpartition("/")
    return ("" if group == "core" else group), version, parts[2]


def split_api_version(api_version: Any) -> str:
    text = str(api_version or "")
    return text.rpartition("/")[0] if "/" in text else ""


def _namespace(body: Any, provider: Any) -> Optional[str]:
    try:
        namespace = get(body, "metadata", "namespace")
        if namespace:
            return str(namespace)
        provider_props = getattr(provider, "props", None) if provider is not None else None
        if provider_props is not None:
            configured = get(provider_props, "namespace")
            if configured:
                return str(configured)
    except UnknownValueError:
        return None
    return "default"


def _name(body: Any, fallback: str) -> str:
    try:
        return str(get(body, "metadata", "name") or fallback)
    except UnknownValueError:
        return fallback


def _parse_yaml(text: str) -> list:
    import yaml  # PyYAML: a dependency of pulumi, which the pack requires (pinned in requirements.txt)

    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError:
        return []


def _expand(body: Any, kind: str, group: str, provider: Any, fallback: str, origin: str, patch: bool, out: list) -> None:
    """Append the object (or, for a List, its items) to `out`."""
    if kind.endswith("List") and (kind == "List" or kind.removesuffix("List")):
        base = kind.removesuffix("List")
        for index, item in enumerate(known_list(body, "items")):
            with skip_unknown():
                item_kind = str(get(item, "kind") or base)
                item_group = split_api_version(get(item, "apiVersion")) if get(item, "apiVersion") else group
                _expand(item, item_kind, item_group, provider, f"{fallback}[{index}]", f"{origin}items[{index}]", patch, out)
        return
    if not is_mapping(body):
        return
    out.append(K8sObject(kind, group, _name(body, fallback), _namespace(body, provider), body, patch, origin.rstrip(".")))


def _config_objects(props: Any, name: str, provider: Any, out: list) -> None:
    """kubernetes:yaml/v2 ConfigGroup/ConfigFile: `objs` and `yaml` (a string or a list)."""
    documents: list[tuple[str, Any]] = []
    for index, obj in enumerate(known_list(props, "objs")):
        documents.append((f"objs[{index}]", obj))
    with skip_unknown():
        texts = get(props, "yaml")
        texts = [texts] if isinstance(texts, str) else as_list(texts)
        for index, text in enumerate(texts):
            with skip_unknown():
                if isinstance(text, str):
                    for number, doc in enumerate(_parse_yaml(text)):
                        documents.append((f"yaml[{index}] document {number}", doc))
    for origin, doc in documents:
        with skip_unknown():
            if not is_mapping(doc):
                continue
            kind = str(get(doc, "kind") or "")
            patch = False
            _expand(doc, kind, split_api_version(get(doc, "apiVersion")), provider, f"{name}/{origin}", origin + ".", patch, out)


def _operator_services(obj: K8sObject, out: list) -> None:
    """The Services a CNPG Cluster (managed.services.additional) or Pooler (serviceTemplate) makes."""
    templates: list[tuple[str, Any]] = []
    if obj.group == "postgresql.cnpg.io" and obj.kind == "Cluster":
        for index, extra in enumerate(known_list(obj.body, "spec", "managed", "services", "additional")):
            with skip_unknown():
                templates.append((f"spec.managed.services.additional[{index}]", get(extra, "serviceTemplate")))
    if obj.group == "postgresql.cnpg.io" and obj.kind == "Pooler":
        with skip_unknown():
            templates.append(("spec.serviceTemplate", get(obj.body, "spec", "serviceTemplate")))
    for origin, template in templates:
        if not is_mapping(template):
            continue
        with skip_unknown():
            name = _name(template, f"{obj.name}-{origin}")
            out.append(K8sObject("Service", "", name, obj.namespace, template, obj.patch, f"{obj.kind} {obj.name} {origin}", operator=True))


_CACHE: dict[tuple, tuple[Any, Any, list]] = {}
_CACHE_LIMIT = 20000


def objects_of(resource_type: str, props: Any, name: str, provider: Any = None) -> list[K8sObject]:
    """Every Kubernetes object this resource makes ([] for other types)."""
    if not resource_type.startswith("kubernetes:"):
        return []
    provider_props = getattr(provider, "props", None) if provider is not None else None
    key = (id(props), resource_type, name, id(provider_props))
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is props and hit[1] is provider_props:
        return hit[2]
    found = _objects(resource_type, props, name, provider)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[key] = (props, provider_props, found)
    return found


def _objects(resource_type: str, props: Any, name: str, provider: Any) -> list[K8sObject]:
    group, _, kind = split_type(resource_type)
    out: list[K8sObject] = []
    try:
        if len(props) == 0:
            return out  # no properties: not visible at this preview (see `opaque`)
        if group == "yaml" or resource_type.startswith("kubernetes:yaml"):
            if kind in CONFIG_KINDS:
                _config_objects(props, name, provider, out)
            return out
        if group in ("helm.sh", "kustomize") or resource_type.startswith("kubernetes:kustomize"):
            return out  # rendered elsewhere; not visible to a rule
        patch = kind.endswith("Patch")
        base = kind.removesuffix("Patch")
        _expand(props, base, group, provider, name, "", patch, out)
    except UnknownValueError:
        pass
    for obj in list(out):
        with skip_unknown():
            _operator_services(obj, out)
    return out


def opaque(resources: list) -> bool:
    """Whether some Kubernetes resource arrives with no properties at all. The engine does that
    to stack rules in a preview whose Kubernetes provider is unknown (a cluster not yet created):
    the objects exist but cannot be seen, so a rule about what is missing cannot tell."""
    for resource in resources:
        # yaml/v2 components output only the list of what they made (their children are seen).
        if resource.resource_type.startswith("kubernetes:") and not resource.resource_type.startswith("kubernetes:yaml"):
            try:
                if len(resource.props) == 0:
                    return True
            except UnknownValueError:
                return True
    return False


def objects_of_kind(resource_type: str, props: Any, name: str, provider: Any, kinds: set[str], group: Optional[str] = None) -> list[K8sObject]:
    return [o for o in objects_of(resource_type, props, name, provider) if o.kind in kinds and (group is None or o.group == group)]


# --- pod templates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PodTemplate:
    """Where an object keeps its pod: the pod metadata and spec, and whether unset fields are
    filled by someone else (a patch keeps live values; an operator merges its defaults)."""

    metadata: Any
    spec: Any
    partial: bool
    labels_unknown: bool = False  # the pod labels depend on a value unknown at preview


def _cnpg_cluster_pod(body: Any) -> PodTemplate:
    spec = get(body, "spec") or {}
    container: dict = {"name": "postgres"}
    for source, target in (("imageName", "image"), ("securityContext", "securityContext"), ("env", "env"), ("envFrom", "envFrom"), ("resources", "resources")):
        with skip_unknown():
            value = get(spec, source)
            if value is not None:
                container[target] = value
    pod: dict = {"containers": [container]}
    with skip_unknown():
        if get(spec, "podSecurityContext") is not None:
            pod["securityContext"] = get(spec, "podSecurityContext")
    with skip_unknown():
        projected = get(spec, "projectedVolumeTemplate")
        if projected is not None:
            pod["volumes"] = [{"name": "projected", "projected": projected}]
    labels: dict = {}
    with skip_unknown():
        inherited = get(spec, "inheritedMetadata", "labels") or {}
        labels.update({k: inherited[k] for k in inherited} if is_mapping(inherited) else {})
    try:
        labels["cnpg.io/cluster"] = str(get(body, "metadata", "name"))
        unknown = False
    except UnknownValueError:
        unknown = True
    return PodTemplate({"labels": labels}, pod, True, unknown)


def pod_template(obj: K8sObject) -> Optional[PodTemplate]:
    """The pod template of a pod-bearing object, or None. Raises UnknownValueError when unknown."""
    if (obj.group, obj.kind) in OPERATOR_WORKLOADS:
        if obj.kind == "Cluster":
            return _cnpg_cluster_pod(obj.body)
        if obj.kind == "Pooler":
            template = get(obj.body, "spec", "template")
            if template is None:
                return None
            return PodTemplate(get(template, "metadata") or {}, get(template, "spec") or {}, True)
        spec = get(obj.body, "spec") or {}
        return PodTemplate(get(spec, "podMetadata") or {}, spec, True)
    path = POD_TEMPLATE_PATHS_BY_KIND.get(obj.kind)
    if path is None or obj.kind == "Service":
        return None
    template = get(obj.body, *path) if path else obj.body
    if template is None:
        return None
    return PodTemplate(get(template, "metadata") or {}, get(template, "spec") or {}, obj.patch)


def is_pod_kind(obj: K8sObject) -> bool:
    return (obj.group, obj.kind) in OPERATOR_WORKLOADS or obj.kind in POD_TEMPLATE_PATHS_BY_KIND


@lru_cache(maxsize=1024)
def may_make_pods(resource_type: str) -> bool:
    """Cheap pre-check on the type token (before any property is read); cached per type."""
    if not resource_type.startswith("kubernetes:"):
        return False
    group, _, kind = split_type(resource_type)
    if group == "yaml":
        return kind in CONFIG_KINDS
    base = kind.removesuffix("Patch").removesuffix("List")
    return base in POD_TEMPLATE_PATHS_BY_KIND or (group, base) in OPERATOR_WORKLOADS or kind == "List"


def makes_kind(resource_type: str, kinds: set[str]) -> bool:
    """Whether a resource of this type may make an object of one of these kinds."""
    if not resource_type.startswith("kubernetes:"):
        return False
    return _makes_kind(resource_type, frozenset(kinds))


@lru_cache(maxsize=4096)
def _makes_kind(resource_type: str, kinds: frozenset[str]) -> bool:
    group, _, kind = split_type(resource_type)
    if group == "yaml":
        return kind in CONFIG_KINDS
    base = kind.removesuffix("Patch").removesuffix("List")
    return base in kinds or kind == "List" or (group == "postgresql.cnpg.io" and "Service" in kinds)


__all__ = ["K8sObject", "PodTemplate", "objects_of", "objects_of_kind", "pod_template", "may_make_pods", "makes_kind",
           "is_pod_kind", "split_type", "is_list"]
