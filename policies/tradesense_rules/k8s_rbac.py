"""RBAC rules, on every spelling of Role, ClusterRole, RoleBinding and ClusterRoleBinding (model.py).

Verbs, resources and API groups are compared as the authorizer does: `*` matches all, names are
exact (RBAC is case-sensitive). Built-in ClusterRoles are known by name: cluster-admin, admin and
edit read Secrets; system:masters is the unrestricted group.
"""

from __future__ import annotations

from typing import Any, Optional

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy

from ._util import MANDATORY, as_list, get, known_list, label, matches_any, schema, skip_unknown, string_list
from .model import K8sObject, makes_kind, objects_of_kind

RBAC_GROUP = "rbac.authorization.k8s.io"
ROLE_KINDS = {"Role", "ClusterRole"}
BINDING_KINDS = {"RoleBinding", "ClusterRoleBinding"}
# Subjects that stand for everyone, every signed-in user or every service account.
PUBLIC_SUBJECTS = {("Group", "system:authenticated"), ("Group", "system:unauthenticated"), ("User", "system:anonymous"),
                   ("Group", "system:serviceaccounts"), ("Group", "system:masters")}
ESCALATION_VERBS = ("escalate", "bind", "impersonate")
SECRET_READ_VERBS = {"get", "list", "watch", "*"}
# Built-in ClusterRoles that read Secrets (kubectl describe clusterrole admin/edit).
BUILTIN_SECRET_READERS = {"cluster-admin", "admin", "edit"}
AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view"


def _objects(resource_type: str, props: Any, name: str, provider: Any, kinds: set[str]) -> list[K8sObject]:
    if not makes_kind(resource_type, kinds):
        return []
    return [o for o in objects_of_kind(resource_type, props, name, provider, kinds) if o.group in (RBAC_GROUP, "")]


def _strings(value: Any) -> list[str]:
    return [str(v) for v in as_list(value)] if value is not None else []


def _grants(rule: Any, verbs: set[str], resources: set[str], groups: set[str]) -> bool:
    rule_verbs = set(_strings(get(rule, "verbs")))
    rule_resources = set(_strings(get(rule, "resources")))
    rule_groups = set(_strings(get(rule, "apiGroups")))
    return bool(("*" in rule_verbs or rule_verbs & verbs) and ("*" in rule_resources or rule_resources & resources)
                and ("*" in rule_groups or rule_groups & groups))


# --- bindings ---------------------------------------------------------------------------------


def public_subject_binding(args: ResourceValidationArgs, report_violation) -> None:
    for binding in _objects(args.resource_type, args.props, args.name, args.provider, BINDING_KINDS):
        for subject in known_list(binding.body, "subjects"):
            with skip_unknown():
                kind, name = str(get(subject, "kind")), str(get(subject, "name"))
                if (kind, name) in PUBLIC_SUBJECTS:
                    report_violation(f"{binding.describe()} grants {label(binding.body, 'roleRef', 'kind')} "
                                     f"'{label(binding.body, 'roleRef', 'name')}' to {kind} {name}")


def cluster_admin_binding(args: ResourceValidationArgs, report_violation) -> None:
    allowed = list(args.get_config().get("allowedSubjects") or [])
    for binding in _objects(args.resource_type, args.props, args.name, args.provider, BINDING_KINDS):
        with skip_unknown():
            if get(binding.body, "roleRef", "name") != "cluster-admin":
                continue
            for subject in known_list(binding.body, "subjects"):
                with skip_unknown():
                    who = f"{get(subject, 'kind')}:{get(subject, 'namespace') or ''}/{get(subject, 'name')}"
                    if not matches_any(who, allowed):
                        report_violation(f"{binding.describe()} grants cluster-admin to {who}")


# --- roles ------------------------------------------------------------------------------------


def _allowed(obj: K8sObject, patterns: list) -> bool:
    """`Kind:name` (cluster-scoped) or `Kind:namespace/name` glob patterns."""
    where = f"{obj.kind}:{obj.name}" if obj.kind.startswith("Cluster") else f"{obj.kind}:{obj.namespace}/{obj.name}"
    return matches_any(where, patterns)


ALLOWED_ROLES = string_list("'ClusterRole:name' or 'Role:namespace/name' glob patterns exempt from this rule (operators that need it).", [])


def wildcard_rules(args: ResourceValidationArgs, report_violation) -> None:
    allowed = list(args.get_config().get("allowedRoles") or [])
    for role in _objects(args.resource_type, args.props, args.name, args.provider, ROLE_KINDS):
        if _allowed(role, allowed):
            continue
        for index, rule in enumerate(known_list(role.body, "rules")):
            with skip_unknown():
                for field_name in ("verbs", "resources", "apiGroups", "nonResourceURLs"):
                    with skip_unknown():
                        values = _strings(get(rule, field_name))
                        if "*" in values:
                            report_violation(f"{role.describe()} rule #{index} grants {field_name} '*'")


def escalation_verbs(args: ResourceValidationArgs, report_violation) -> None:
    allowed = list(args.get_config().get("allowedRoles") or [])
    for role in _objects(args.resource_type, args.props, args.name, args.provider, ROLE_KINDS):
        if _allowed(role, allowed):
            continue
        for index, rule in enumerate(known_list(role.body, "rules")):
            with skip_unknown():
                verbs = set(_strings(get(rule, "verbs")))
                bad = sorted(v for v in ESCALATION_VERBS if v in verbs)
                if not bad:
                    continue
                # `bind`/`escalate` limited to named roles only lets one grant exactly those roles.
                if _strings(get(rule, "resourceNames")) and "impersonate" not in bad:
                    continue
                report_violation(f"{role.describe()} rule #{index} grants {bad} on {_strings(get(rule, 'resources'))} "
                                 "without resourceNames: a holder can grant itself any permission")


def _reads_secrets(rules: list) -> bool:
    for rule in rules:
        with skip_unknown():
            if _grants(rule, SECRET_READ_VERBS, {"secrets"}, {""}) and not _strings(get(rule, "resourceNames")):
                return True
    return False


def cluster_wide_secret_read(args: StackValidationArgs, report_violation) -> None:
    """A ClusterRoleBinding to a role that reads Secrets reads every namespace's Secrets."""
    allowed = list(args.get_config().get("allowedBindings") or [])
    roles: dict[str, Optional[list]] = {}
    bindings = []
    for resource in args.resources:
        for obj in _objects(resource.resource_type, resource.props, resource.name, resource.provider, ROLE_KINDS | BINDING_KINDS):
            if obj.kind == "ClusterRole":
                with skip_unknown():
                    roles[obj.name] = None if get(obj.body, "aggregationRule") is not None else known_list(obj.body, "rules")
                with skip_unknown():
                    # Aggregated into the built-in `view`, its rules reach everyone who can view.
                    if str(get(obj.body, "metadata", "labels", AGGREGATE_TO_VIEW)).lower() == "true" and _reads_secrets(known_list(obj.body, "rules")):
                        report_violation(f"{obj.describe()} reads Secrets and is aggregated into the built-in 'view' role "
                                         f"({AGGREGATE_TO_VIEW}=true): every viewer reads Secrets", resource.urn)
            elif obj.kind == "ClusterRoleBinding" and not _allowed(obj, allowed):
                bindings.append((resource, obj))
    for resource, binding in bindings:
        with skip_unknown():
            role = str(get(binding.body, "roleRef", "name"))
            reads = role in BUILTIN_SECRET_READERS or (role in roles and roles[role] is not None and _reads_secrets(roles[role]))
            if reads:
                report_violation(f"{binding.describe()} binds ClusterRole '{role}', which reads Secrets, cluster-wide", resource.urn)


POLICIES = [
    ResourceValidationPolicy(
        name="k8s-rbac-disallow-public-subject-binding",
        description="RoleBindings and ClusterRoleBindings must not grant anything to system:authenticated, system:unauthenticated, "
                    "system:anonymous, system:serviceaccounts or system:masters.",
        validate=public_subject_binding,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="k8s-rbac-disallow-cluster-admin-binding",
        description="No binding may grant the cluster-admin ClusterRole, unless the subject is allow-listed.",
        validate=cluster_admin_binding,
        enforcement_level=MANDATORY,
        config_schema=schema(allowedSubjects=string_list("'Kind:namespace/name' glob patterns that may hold cluster-admin.", [])),
    ),
    ResourceValidationPolicy(
        name="k8s-rbac-disallow-wildcard-rules",
        description="Roles and ClusterRoles must not grant '*' verbs, resources, API groups or non-resource URLs.",
        validate=wildcard_rules,
        enforcement_level=MANDATORY,
        config_schema=schema(allowedRoles=ALLOWED_ROLES),
    ),
    ResourceValidationPolicy(
        name="k8s-rbac-disallow-escalation-verbs",
        description="Roles and ClusterRoles must not grant escalate, bind (except on named roles) or impersonate.",
        validate=escalation_verbs,
        enforcement_level=MANDATORY,
        config_schema=schema(allowedRoles=ALLOWED_ROLES),
    ),
    StackValidationPolicy(
        name="k8s-rbac-disallow-cluster-wide-secret-read",
        description="No ClusterRoleBinding may bind a role that reads Secrets (get/list/watch, or the built-in cluster-admin, admin, edit), "
                    "and no role that reads Secrets may be aggregated into the built-in view role.",
        validate=cluster_wide_secret_read,
        enforcement_level=MANDATORY,
        config_schema=schema(allowedBindings=string_list(
            "'ClusterRoleBinding:name' glob patterns exempt from this rule (operators that must read Secrets everywhere).", [])),
    ),
]
