"""Stack rules: properties of the whole stack rather than of one resource.

NetworkPolicy coverage, PodDisruptionBudgets, backups and the environment-dependent rules.
Stack rules see resource outputs. HPA minimums and `protect` are per-resource facts, so those
two are resource rules (the engine passes `opts.protect` to resource rules); they still take the
stack's environment as an option like the other environment-dependent rules.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Optional

from pulumi_policy import (
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from ._util import (
    ADVISORY,
    MANDATORY,
    Workload,
    as_list,
    environment,
    environment_option,
    get,
    is_pod_bearing,
    kind_of,
    known_namespace,
    label,
    object_name,
    schema,
    selector_is_empty,
    selector_matches,
    skip_unknown,
    string_list,
    workloads_of,
)

NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA_TYPES = {"kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:autoscaling/v1:HorizontalPodAutoscaler"}
CRONJOB = "kubernetes:batch/v1:CronJob"
REPLICATED_KINDS = {"Deployment", "StatefulSet"}
APP_NAMESPACES = ["tradesense"]
COMPONENT_LABEL = "app.kubernetes.io/component"
STATEFUL_TYPES = [
    "kubernetes:apps/v1:StatefulSet",
    # A CloudNativePG Cluster owns its instances' volumes: deleting it deletes the database.
    "kubernetes:postgresql.cnpg.io/v1:Cluster",
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:core/v1:PersistentVolume",
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
    "digitalocean:index/kubernetesCluster:KubernetesCluster",
    "digitalocean:index/databaseCluster:DatabaseCluster",
    "digitalocean:index/volume:Volume",
    "digitalocean:index/spacesBucket:SpacesBucket",
]


def _namespace(resource: PolicyResource) -> Optional[str]:
    """The resource's namespace as the resource rules resolve it (provider default included)."""
    return known_namespace(resource.props, resource.provider)


def _workloads(resources: list[PolicyResource], kinds: Optional[set[str]] = None) -> list[tuple[PolicyResource, Workload]]:
    found = []
    for resource in resources:
        if is_pod_bearing(resource.resource_type):
            with skip_unknown():
                for workload in workloads_of(resource.resource_type, resource.props, resource.name, resource.provider):
                    # A patch changes an object defined elsewhere; its partial labels say nothing.
                    if not workload.patch and (kinds is None or workload.kind in kinds):
                        found.append((resource, workload))
    return found


HELM_TYPES = {"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"}


def pod_namespaces(resources: list[PolicyResource]) -> set[str]:
    """Every namespace this stack runs pods in: the namespace of every pod template the model
    finds (any kind, spelling or operator CR) and of every Helm release or chart (whose pods the
    pack cannot see). Unknown namespaces are left out."""
    found: set[str] = set()
    for resource, workload in _workloads(resources):
        if workload.namespace is not None:
            found.add(workload.namespace)
    for resource in resources:
        if resource.resource_type in HELM_TYPES:
            with skip_unknown():
                found.add(str(get(resource.props, "namespace") or _namespace(resource) or "default"))
    return found


def _covered_namespaces(args: StackValidationArgs) -> list[str]:
    """Namespaces that run pods, minus the opt-outs the config names; [] when some Kubernetes
    object cannot be seen at this preview (model.opaque)."""
    from .model import opaque

    if opaque(args.resources):
        return []
    exempt = set(args.get_config().get("exemptNamespaces") or [])
    return sorted(pod_namespaces(args.resources) - exempt)


def _network_policies(args: StackValidationArgs) -> list[PolicyResource]:
    return [r for r in args.resources if r.resource_type == NETWORK_POLICY]


DIRECTIONS = ("Ingress", "Egress")


def denied_directions(policy: PolicyResource) -> set[str]:
    """The directions this NetworkPolicy denies for every pod of its namespace: it selects all
    pods, lists the direction in policyTypes (unset: Ingress, plus Egress when egress rules are
    given) and allows nothing in it. Raises UnknownValueError when that cannot be told."""
    spec = get(policy.props, "spec") or {}
    if not selector_is_empty(get(spec, "podSelector")):
        return set()
    rules = {"Ingress": as_list(get(spec, "ingress")), "Egress": as_list(get(spec, "egress"))}
    types = get(spec, "policyTypes")
    if types is None:
        declared = {"Ingress"} | ({"Egress"} if rules["Egress"] else set())
    else:
        declared = {str(t) for t in as_list(types)}
    return {d for d in DIRECTIONS if d in declared and not rules[d]}


def default_deny(args: StackValidationArgs, report_violation) -> None:
    """Both directions denied by default, by one policy or by an ingress-only and an egress-only
    one (the Kubernetes docs show both forms)."""
    # Each policy is read once (namespaces x policies reads made review stacks quadratic).
    denied: dict[str, set[str]] = {}
    unknown: set[str] = set()
    unknown_everywhere = False  # a policy whose namespace or spec preview cannot tell
    for policy in _network_policies(args):
        policy_namespace = _namespace(policy)
        try:
            directions = denied_directions(policy)
        except UnknownValueError:
            directions = None
        if policy_namespace is None:
            unknown_everywhere = unknown_everywhere or directions is None or bool(directions)
        elif directions is None:
            unknown.add(policy_namespace)
        else:
            denied.setdefault(policy_namespace, set()).update(directions)
    for namespace in _covered_namespaces(args):
        missing = [d for d in DIRECTIONS if d not in denied.get(namespace, set())]
        if missing and not unknown_everywhere and namespace not in unknown:
            report_violation(
                f"Namespace {namespace} has no default-deny NetworkPolicy for {' and '.join(missing)} "
                "(empty podSelector, the direction in policyTypes, no rules for it)"
            )


def pods_selected(args: StackValidationArgs, report_violation) -> None:
    namespaces = set(_covered_namespaces(args))
    # Allow policies: those selecting specific pods. A default deny selects everything but allows nothing.
    selectors: dict[str, list[Any]] = {}
    unknown_namespaces: set[Optional[str]] = set()
    for policy in _network_policies(args):
        namespace = _namespace(policy)
        if namespace is None:
            unknown_namespaces.add(None)  # it may select pods in any namespace
            continue
        try:
            selector = get(policy.props, "spec", "podSelector")
            if not selector_is_empty(selector):
                selectors.setdefault(namespace, []).append(selector)
        except UnknownValueError:
            unknown_namespaces.add(namespace)
    for resource, workload in _workloads(args.resources):
        if workload.namespace not in namespaces:
            continue
        if workload.labels is None or workload.namespace in unknown_namespaces or None in unknown_namespaces:
            continue
        with skip_unknown():
            labels = {key: workload.labels[key] for key in workload.labels}
            if not any(selector_matches(s, labels) for s in selectors.get(workload.namespace, [])):
                report_violation(
                    f"{workload.describe()} (pod labels {labels}) is not selected by any NetworkPolicy allowing its traffic",
                    resource.urn,
                )


def _hpa_targets(resources: list[PolicyResource]) -> set[tuple[Optional[str], str, str]]:
    """(namespace, kind, name) of every HPA scale target."""
    targets = set()
    for hpa in resources:
        if hpa.resource_type in HPA_TYPES:
            with skip_unknown():
                ref = get(hpa.props, "spec", "scaleTargetRef") or {}
                targets.add((_namespace(hpa), str(get(ref, "kind")), str(get(ref, "name"))))
    return targets


def pod_disruption_budgets(args: StackValidationArgs, report_violation) -> None:
    targets = _hpa_targets(args.resources)
    budgets = [r for r in args.resources if r.resource_type == PDB]
    for resource, workload in _workloads(args.resources, REPLICATED_KINDS):
        with skip_unknown():
            replicas = get(resource.props, "spec", "replicas", default=1)
            scaled = (workload.namespace, workload.kind, workload.name) in targets
            if float(replicas) <= 1 and not scaled or workload.labels is None or workload.namespace is None:
                continue
            labels = {key: workload.labels[key] for key in workload.labels}
            covered = False
            for budget in budgets:
                budget_namespace = _namespace(budget)
                if budget_namespace not in (None, workload.namespace):
                    continue
                try:
                    selector = get(budget.props, "spec", "selector")
                    # policy/v1: a null selector selects nothing, an empty one selects the namespace.
                    matches = selector is not None and selector_matches(selector, labels)
                except UnknownValueError:
                    matches = True  # cannot tell: do not report
                if matches:
                    covered = True
                    break
            if not covered:
                why = "is scaled by an HPA" if scaled else f"runs {int(float(replicas))} replicas"
                report_violation(f"{workload.describe()} {why} but no PodDisruptionBudget selects its pods", resource.urn)


def _is_backup(resource: PolicyResource, component: str) -> Optional[bool]:
    """True for an active backup CronJob, False for another CronJob, None when unknown."""
    unknown = False
    for path in (("metadata", "labels"), ("spec", "jobTemplate", "spec", "template", "metadata", "labels")):
        try:
            if get(resource.props, *path, COMPONENT_LABEL) == component:
                return not get(resource.props, "spec", "suspend", default=False)
        except UnknownValueError:
            unknown = True
    return None if unknown else False


SCHEDULED_BACKUP = "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"
CNPG_CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"


def _wal_archived_scheduled_backup(resources) -> Optional[bool]:
    """True when a CNPG ScheduledBackup targets a Cluster that archives WAL through a plugin
    (continuous backup); None when unknown at preview."""
    try:
        archiving = {
            get(r.props, "metadata", "name"): any(p.get("isWALArchiver") for p in get(r.props, "spec", "plugins", default=[]) or [])
            for r in resources if r.resource_type == CNPG_CLUSTER
        }
        targets = [get(r.props, "spec", "cluster", "name") for r in resources if r.resource_type == SCHEDULED_BACKUP
                   if not get(r.props, "spec", "suspend", default=False)]
    except UnknownValueError:
        return None
    return any(archiving.get(name) for name in targets)


def backups(args: StackValidationArgs, report_violation) -> None:
    config = args.get_config()
    env = environment(config)
    if env == "dev":
        return
    component = config.get("component", "backup")
    verdicts = [_is_backup(r, component) for r in args.resources if r.resource_type == CRONJOB]
    if True in verdicts or None in verdicts:
        return  # a backup exists, or a CronJob whose labels are unknown at preview may be one
    if _wal_archived_scheduled_backup(args.resources) is not False:
        return  # a CloudNativePG ScheduledBackup with WAL archiving is the Postgres backup
    report_violation(f"No backup is configured in {env}: no active CronJob is labelled {COMPONENT_LABEL}={component}, "
                     "and no CloudNativePG ScheduledBackup targets a Cluster that archives WAL")


def hpa_min_replicas(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type not in HPA_TYPES:
        return
    config = args.get_config()
    if environment(config) != "prod":
        return
    minimum = float(config.get("minReplicas", 2))
    with skip_unknown():
        value = get(args.props, "spec", "minReplicas", default=1)  # Kubernetes defaults it to 1
        if float(value) < minimum:
            target = label(args.props, "spec", "scaleTargetRef", "name")
            report_violation(
                f"HorizontalPodAutoscaler {object_name(args.props, args.name)} (target {target}) has minReplicas "
                f"{int(float(value))}; prod needs at least {int(minimum)}"
            )


def protected(args: ResourceValidationArgs, report_violation) -> None:
    config = args.get_config()
    if environment(config) != "prod":
        return
    if args.resource_type not in config.get("statefulTypes", STATEFUL_TYPES):
        return
    if not args.opts.protect:
        report_violation(f"{kind_of(args.resource_type)} {args.name} holds state but is not protected (protect=True) in prod")


APP_NAMESPACES_SCHEMA = schema(exemptNamespaces=string_list(
    "Namespaces (exact names) that run pods without this NetworkPolicy coverage: each a documented opt-out.", []))


# --- Pod Security admission labels --------------------------------------------------------------

PSS_LEVELS = ("restricted", "baseline", "privileged")
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"


def _namespace_objects(resources: list[PolicyResource]):
    from .model import makes_kind, objects_of_kind

    for resource in resources:
        if makes_kind(resource.resource_type, {"Namespace"}):
            for obj in objects_of_kind(resource.resource_type, resource.props, resource.name, resource.provider, {"Namespace"}, ""):
                yield resource, obj


def pod_security_labels(args: StackValidationArgs, report_violation) -> None:
    """Every namespace that the stack creates or runs pods in enforces the restricted Pod Security
    Standard, or the level its named opt-out allows. A missing label enforces nothing."""
    config = args.get_config()
    opt_outs = dict(config.get("exemptNamespaces") or {})
    created: dict[str, tuple[PolicyResource, str]] = {}
    unknown = False
    for resource, obj in _namespace_objects(args.resources):
        try:
            level = get(obj.body, "metadata", "labels", ENFORCE_LABEL)
            name = str(get(obj.body, "metadata", "name") or resource.name)
        except UnknownValueError:
            unknown = True
            continue
        if level is None and obj.patch:
            continue
        created[name] = (resource, "" if level is None else str(level))
    for name, (resource, level) in sorted(created.items()):
        allowed = opt_outs.get(name, "restricted")
        effective_level = level or "privileged"  # no label: admission enforces nothing
        rank = PSS_LEVELS.index(effective_level) if effective_level in PSS_LEVELS else len(PSS_LEVELS)
        if rank > PSS_LEVELS.index(allowed if allowed in PSS_LEVELS else "restricted"):
            what = f"enforce={level}" if level else "no enforce label (it enforces nothing)"
            report_violation(f"Namespace {name} has {what}; {ENFORCE_LABEL} must be '{allowed}'"
                             + ("" if name in opt_outs else " (or name it in exemptNamespaces with its level)"), resource.urn)
    from .model import opaque

    if unknown or opaque(args.resources):
        return  # a namespace that cannot be seen may be the one these pods run in
    external = list(config.get("externalNamespaces") or [])
    for name in sorted(pod_namespaces(args.resources) - set(created)):
        if any(fnmatchcase(name, pattern) for pattern in external):
            continue
        report_violation(f"Pods run in namespace {name}, which this stack does not create: its Pod Security label cannot be "
                         "checked (create it here, or list it in externalNamespaces)")

POLICIES = [
    StackValidationPolicy(
        name="k8s-namespace-require-default-deny-network-policy",
        description="Every namespace that runs pods (any workload, operator CR or Helm release) must have a default-deny NetworkPolicy for both ingress and egress, unless named in exemptNamespaces.",
        validate=default_deny,
        enforcement_level=MANDATORY,
        config_schema=APP_NAMESPACES_SCHEMA,
    ),
    StackValidationPolicy(
        name="k8s-pod-require-network-policy",
        description="Every pod, in every namespace not named in exemptNamespaces, must be selected by a NetworkPolicy that allows its traffic.",
        validate=pods_selected,
        enforcement_level=MANDATORY,
        config_schema=APP_NAMESPACES_SCHEMA,
    ),
    StackValidationPolicy(
        name="k8s-namespace-require-pod-security-restricted",
        description="Every namespace the stack creates or runs pods in must enforce the restricted Pod Security Standard "
                    "(pod-security.kubernetes.io/enforce), or the level of its named opt-out in exemptNamespaces.",
        validate=pod_security_labels,
        enforcement_level=MANDATORY,
        config_schema=schema(
            exemptNamespaces={"type": "object", "default": {}, "additionalProperties": {"type": "string", "enum": list(PSS_LEVELS)},
                              "description": "Namespace name -> the Pod Security level it may enforce instead of restricted."},
            externalNamespaces=string_list("Namespaces (glob patterns) the stack runs pods in but does not create (their labels are set elsewhere).", []),
        ),
    ),
    StackValidationPolicy(
        name="k8s-workload-require-pod-disruption-budget",
        description="Deployments and StatefulSets with more than one replica (or an HPA) must have a PodDisruptionBudget.",
        validate=pod_disruption_budgets,
        enforcement_level=ADVISORY,
    ),
    StackValidationPolicy(
        name="stack-require-backup-cronjob",
        description="Stacks outside dev must run a backup: a CronJob labelled app.kubernetes.io/component=backup, or a "
                    "CloudNativePG ScheduledBackup of a Cluster with WAL archiving.",
        validate=backups,
        enforcement_level=ADVISORY,
        config_schema=schema(
            environment=environment_option("Stack environment; backups are required outside dev."),
            component={"type": "string", "default": "backup", "description": "Value of app.kubernetes.io/component on backup CronJobs."},
        ),
    ),
    ResourceValidationPolicy(
        name="k8s-hpa-require-min-replicas",
        description="HorizontalPodAutoscalers in prod must keep at least minReplicas (default 2) pods.",
        validate=hpa_min_replicas,
        enforcement_level=ADVISORY,
        config_schema=schema(
            environment=environment_option("Stack environment; the minimum applies in prod."),
            minReplicas={"type": "integer", "minimum": 1, "default": 2, "description": "Smallest allowed spec.minReplicas."},
        ),
    ),
    ResourceValidationPolicy(
        name="stack-stateful-resources-require-protect",
        description="Resources that hold state (clusters, keys, volumes, buckets, StatefulSets) must be protected in prod.",
        validate=protected,
        enforcement_level=ADVISORY,
        config_schema=schema(
            environment=environment_option("Stack environment; protection is required in prod."),
            statefulTypes=string_list("Resource types that hold state.", STATEFUL_TYPES),
        ),
    ),
]
