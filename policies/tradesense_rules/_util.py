"""Shared helpers: reading engine-shaped properties safely and describing Kubernetes objects.

Properties arrive wrapped by `pulumi_policy.proxy.unknown_checking_proxy`: reading a value that
is unknown at preview raises `UnknownValueError`. Every check runs inside `skip_unknown()` so an
unknown value skips that one check instead of producing a false violation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Callable, Iterable, Iterator, Optional

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

@contextmanager
def skip_unknown() -> Iterator[None]:
    """Swallow `UnknownValueError`: a value unknown at preview skips the check reading it."""
    try:
        yield
    except UnknownValueError:
        pass


def is_mapping(value: Any) -> bool:
    return isinstance(value, Mapping)


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def get(obj: Any, *path: Any, default: Any = None) -> Any:
    """`obj[p0][p1]...`, or `default` when a step is missing. Unknown values still raise.

    (`key in proxy` would read the value, so membership is tested by catching KeyError.)
    """
    current = obj
    for key in path:
        if isinstance(key, int):
            if not is_list(current) or not -len(current) <= key < len(current):
                return default
            current = current[key]
        else:
            if not is_mapping(current):
                return default
            try:
                current = current[key]
            except KeyError:
                return default
        if current is None:
            return default
    return current


def as_list(value: Any) -> list:
    """A proxied list as a plain list of (still proxied) items; None/missing gives []."""
    if value is None:
        return []
    if is_list(value):
        return [value[i] for i in range(len(value))]
    return [value]


def known_list(obj: Any, *path: Any) -> list:
    """`as_list(get(obj, *path))`, or [] when the list itself is unknown at preview."""
    try:
        return as_list(get(obj, *path))
    except UnknownValueError:
        return []


def as_dict(value: Any) -> dict:
    """A proxied mapping as a plain dict (reads every value, so unknowns raise here)."""
    if not is_mapping(value):
        return {}
    return {key: value[key] for key in value}


def truthy(value: Any) -> bool:
    """Booleans that went through JSON may come back as strings."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def matches_any(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(value, pattern) for pattern in patterns)


def schema(**properties: dict) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=properties)


def string_list(description: str, default: list[str]) -> dict:
    return {"type": "array", "items": {"type": "string"}, "description": description, "default": default}


ENVIRONMENTS = ["dev", "staging", "prod"]


def environment_option(description: str) -> dict:
    # Defaults to prod: a stack that forgets to say where it runs gets the strict behaviour.
    return {"type": "string", "enum": ENVIRONMENTS, "default": "prod", "description": description}


def environment(config: Mapping) -> str:
    value = config.get("environment", "prod")
    return value if value in ENVIRONMENTS else "prod"


# --- Kubernetes -------------------------------------------------------------------------------

# Probes make sense for workloads that are expected to keep running.
LONG_RUNNING = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"})
CONTAINER_FIELDS = (("containers", "container"), ("initContainers", "init container"), ("ephemeralContainers", "ephemeral container"))


def kind_of(resource_type: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


def is_pod_bearing(resource_type: str) -> bool:
    """Whether a resource of this type may carry pods (built-in kinds, their Patch and List forms,
    operator CRs, yaml/v2 ConfigGroup and ConfigFile): see model.py."""
    from .model import may_make_pods

    return may_make_pods(resource_type)


def resolve_namespace(props: Mapping, provider: Any) -> str:
    """The namespace the Kubernetes provider will use: metadata.namespace, else the provider's
    `namespace` setting, else `default`. Raises UnknownValueError when either is unknown."""
    namespace = get(props, "metadata", "namespace")
    if namespace:
        return namespace
    provider_props = getattr(provider, "props", None) if provider is not None else None
    if provider_props is not None:
        configured = get(provider_props, "namespace")
        if configured:
            return configured
    return "default"


def known_namespace(props: Mapping, provider: Any) -> Optional[str]:
    """resolve_namespace, or None when it is unknown at preview."""
    try:
        return resolve_namespace(props, provider)
    except UnknownValueError:
        return None


def label(obj: Any, *path: Any, fallback: str = "?") -> str:
    """A value for a message only: never raises, so an unknown name cannot hide a violation."""
    try:
        value = get(obj, *path)
    except UnknownValueError:
        return "<unknown>"
    return fallback if value is None else str(value)


def object_name(props: Mapping, fallback: str) -> str:
    """metadata.name, or the Pulumi name (the provider auto-names from it) when unset or unknown.
    For messages; a decision on the name must read it itself."""
    try:
        name = get(props, "metadata", "name")
    except UnknownValueError:
        name = None
    return name or fallback


@dataclass
class Workload:
    """A pod-bearing object: its kind, where it runs and its pod template."""

    kind: str
    name: str
    namespace: Optional[str]  # None when unknown at preview
    labels: Optional[Mapping]  # pod template labels; None when unknown at preview
    spec: Mapping  # the pod spec
    resource_type: str
    metadata: Mapping = field(default_factory=dict)  # pod template metadata (annotations)
    patch: bool = False  # a server-side-apply patch of an object defined elsewhere
    partial: bool = False  # unset fields keep another value (a patch's live object, an operator's defaults): not checked
    origin: str = ""  # where in the resource (ConfigGroup objs[0], items[1], ...)

    def describe(self) -> str:
        where = f" ({self.origin})" if self.origin else ""
        return f"{self.kind} {self.namespace or '<unknown>'}/{self.name}{where}"

    @property
    def long_running(self) -> bool:
        return self.kind in LONG_RUNNING

    def containers(self) -> list[tuple[str, str, Mapping]]:
        """(role, name, container) for regular, init and ephemeral containers."""
        found = []
        for field_name, role in CONTAINER_FIELDS:
            with skip_unknown():
                for index, container in enumerate(as_list(get(self.spec, field_name))):
                    found.append((role, label(container, "name", fallback=f"#{index}"), container))
        return found


def workloads_of(resource_type: str, props: Mapping, name: str, provider: Any = None) -> list[Workload]:
    """Every pod template a resource carries, through the one model (model.py): built-in kinds in
    every API version, Patch and List forms, yaml/v2 ConfigGroup/ConfigFile objects and operator
    CRs. A pod spec unknown at preview skips that object."""
    from .model import objects_of, pod_template

    workloads = []
    for obj in objects_of(resource_type, props, name, provider):
        with skip_unknown():
            template = pod_template(obj)
            if template is None:
                continue
            try:
                labels: Optional[Mapping] = None if template.labels_unknown else (get(template.metadata, "labels") or {})
            except UnknownValueError:
                labels = None
            workloads.append(Workload(obj.kind, obj.name, obj.namespace, labels, template.spec, resource_type,
                                      template.metadata, obj.patch, template.partial, obj.origin))
    return workloads


def pod_policy(
    name: str,
    description: str,
    check: Callable[[Workload, Mapping], Iterable[str]],
    enforcement_level: EnforcementLevel,
    long_running_only: bool = False,
    options: Optional[dict[str, dict]] = None,
) -> ResourceValidationPolicy:
    """A resource policy that runs `check` over every pod template of every pod-bearing object.

    `check(workload, config)` yields one message per violation. Every pod rule also takes
    `excludedNamespaces` (glob patterns) for platform components that need an exception; a
    workload whose namespace is unknown at preview is skipped when exceptions are configured."""

    def validate(args: ResourceValidationArgs, report_violation) -> None:
        if not is_pod_bearing(args.resource_type):
            return
        workloads = workloads_of(args.resource_type, args.props, args.name, args.provider)
        config = args.get_config()
        excluded = config.get("excludedNamespaces") or ()
        for workload in workloads:
            if long_running_only and not workload.long_running:
                continue
            if excluded and (workload.namespace is None or matches_any(workload.namespace, excluded)):
                continue
            for message in check(workload, config):
                report_violation(message)

    properties = {
        "excludedNamespaces": string_list("Namespaces (glob patterns) this rule does not check.", []),
        **(options or {}),
    }
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=enforcement_level,
        config_schema=PolicyConfigSchema(properties=properties),
    )


def effective(container: Mapping, pod_spec: Mapping, field_name: str) -> Any:
    """A securityContext field as the kubelet applies it: the container's value, else the pod's."""
    value = get(container, "securityContext", field_name)
    if value is None:
        value = get(pod_spec, "securityContext", field_name)
    return value


def selector_matches(selector: Any, labels: Mapping) -> bool:
    """Kubernetes LabelSelector semantics; an empty selector matches every pod."""
    if selector is None:
        return True
    match_labels = as_dict(get(selector, "matchLabels"))
    for key, value in match_labels.items():
        if labels.get(key) != value:
            return False
    for expression in as_list(get(selector, "matchExpressions")):
        key = get(expression, "key")
        operator = get(expression, "operator")
        values = [str(v) for v in as_list(get(expression, "values"))]
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def selector_is_empty(selector: Any) -> bool:
    return not as_dict(get(selector, "matchLabels")) and not as_list(get(selector, "matchExpressions"))
