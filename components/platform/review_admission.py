"""The admission policies that confine the review deployer (components/platform/review_access.py):
an allowlist, not a denylist.

- One policy matches every resource and reads only `request`: the deployer may write only the
  kinds in REVIEW_KINDS (no subresource), and only in namespaces `tradesense-pr-<N>`. Any other
  kind (a CNPG Pooler, a PodMonitor, a Prometheus, an RBAC Role, ...) is refused.
- One policy per kind whose fields could reach past the namespace, matching only that kind's
  resource, so the API server type-checks its CEL against that kind's schema (a `*` match skips
  the check). It admits the fields a review app uses and refuses every other field of the
  installed CRD: REFUSED_FIELDS lists them, and tests/platform/test_review_admission_schemas.py
  checks that admitted + refused is exactly the schema of the pinned chart's CRD, so a CRD
  upgrade with a new field fails that test until the field is classified.

Pure data (no Pulumi), so tests and the real API server read the same expressions. CEL uses the
Kubernetes CEL libraries (`substring` from the strings extension).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from components.platform.namespaces import RESTRICTED
from components.platform.review_edge import REVIEW_LISTENER, REVIEW_NAMESPACE_PREFIX, review_namespace_labels
from components.platform.review_slots import (
    APP_CLUSTER_ROLE, CI_NAMESPACE, LIMITS_NAME, PR_SERVICE_ACCOUNT_PREFIX, QUOTA_HARD, QUOTA_NAME, TOKEN_SECONDS,
)
from components.secure_defaults import psa_labels

NAME_PATTERN = f"^{REVIEW_NAMESPACE_PREFIX}[0-9]+$"  # as Alertmanager's chat-only route matches them
# Upper bounds for one review environment (the ResourceQuota bounds the sum).
MAX_REPLICAS = 3
MAX_POSTGRES_INSTANCES = 2

# (API group, resources) of every kind a review app creates; tests/platform/test_review_access.py
# checks that it covers the review plan.
APP_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("configmaps", "secrets", "services", "serviceaccounts")),
    ("apps", ("deployments", "statefulsets")),
    ("batch", ("jobs", "cronjobs")),
    ("autoscaling", ("horizontalpodautoscalers",)),
    ("policy", ("poddisruptionbudgets",)),
    ("networking.k8s.io", ("networkpolicies",)),
    ("gateway.networking.k8s.io", ("httproutes",)),
    ("monitoring.coreos.com", ("servicemonitors", "prometheusrules")),
    ("postgresql.cnpg.io", ("clusters", "scheduledbackups")),
)
# What the admin writes (components/platform/review_slots.py); "serviceaccounts/token" is the TokenRequest.
ADMIN_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("namespaces", "resourcequotas", "limitranges", "serviceaccounts", "serviceaccounts/token")),
    ("rbac.authorization.k8s.io", ("rolebindings",)),
)
PR_USER_PREFIX = f"system:serviceaccount:{CI_NAMESPACE}:{PR_SERVICE_ACCOUNT_PREFIX}"
ADMIN_USER = f"system:serviceaccount:{CI_NAMESPACE}:review-admin"

# Fields of the installed CRDs a review object may not set (everything but what the app uses).
# Cluster.spec.replicationSlots is admitted: the CRD defaults it to an object (HA slots on), and it
# tunes only that Cluster's own replication.
# Schema sources: kube-prometheus-stack 88.5.3 charts/crds, cloudnative-pg 0.29.0 templates/crds,
# gateway-api v1.5.1 standard-install.
REFUSED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "ServiceMonitor.spec": (
        "attachMetadata", "bodySizeLimit", "convertClassicHistogramsToNHCB", "fallbackScrapeProtocol", "jobLabel",
        "keepDroppedTargets", "labelLimit", "labelNameLengthLimit", "labelValueLengthLimit", "nativeHistogramBucketLimit",
        "nativeHistogramMinBucketFactor", "podTargetLabels", "sampleLimit", "scrapeClass", "scrapeClassicHistograms",
        "scrapeNativeHistograms", "scrapeProtocols", "selectorMechanism", "serviceDiscoveryRole", "targetLabels", "targetLimit",
    ),
    "ServiceMonitor.spec.endpoints[]": (
        "authorization", "basicAuth", "bearerTokenFile", "bearerTokenSecret", "enableHttp2", "filterRunning",
        "followRedirects", "honorLabels", "honorTimestamps", "metricRelabelings", "noProxy", "oauth2", "params",
        "proxyConnectHeader", "proxyFromEnvironment", "proxyUrl", "targetPort", "tlsConfig", "trackTimestampsStaleness",
    ),
    "ServiceMonitor.spec.endpoints[].relabelings[]": ("modulus",),
    "PrometheusRule.spec.groups[]": ("labels", "limit", "partial_response_strategy", "query_offset"),
    "Cluster.spec": (
        "backup", "certificates", "description", "enablePDB", "env", "envFrom", "ephemeralVolumeSource",
        "ephemeralVolumesSizeLimit", "externalClusters", "failoverDelay", "imageCatalogRef", "imagePullPolicy",
        "imagePullSecrets", "livenessProbeTimeout", "logLevel", "managed", "maxSyncReplicas", "minSyncReplicas",
        "monitoring", "nodeMaintenanceWindow", "plugins", "podSecurityContext", "podSelectorRefs", "postgresGID",
        "postgresUID", "primaryLease", "primaryUpdateMethod", "priorityClassName", "probes", "projectedVolumeTemplate",
        "replica", "schedulerName", "seccompProfile", "securityContext", "serviceAccountName",
        "serviceAccountTemplate", "smartShutdownTimeout", "startDelay", "stopDelay", "superuserSecret",
        "switchoverDelay", "tablespaces", "topologySpreadConstraints", "walStorage",
    ),
    "Cluster.spec.bootstrap": ("pg_basebackup", "recovery"),
    "HTTPRoute.spec.rules[]": ("timeouts",),
    "HTTPRoute.spec.rules[].backendRefs[]": ("filters", "group", "kind", "namespace"),
    "HTTPRoute.spec.parentRefs[]": ("port",),
}
# The API server writes a CRD's schema defaults into the object before admission, so a refused
# field that has a default is admitted at exactly that value (the same as leaving it out), and
# refused at any other. tests/platform/test_review_admission_schemas.py checks this table against
# the pinned CRDs' defaults, both ways.
DEFAULTED: Mapping[str, Mapping[str, object]] = {
    "Cluster.spec": {
        "enablePDB": True, "failoverDelay": 0, "logLevel": "info", "maxSyncReplicas": 0, "minSyncReplicas": 0,
        "postgresGID": 26, "postgresUID": 26, "primaryUpdateMethod": "restart", "smartShutdownTimeout": 180,
        "startDelay": 3600, "stopDelay": 1800, "switchoverDelay": 3600,
    },
    "HTTPRoute.spec.rules[].backendRefs[]": {"group": "", "kind": "Service"},
}
# Labels Prometheus and Alertmanager use to tell environments and targets apart: a review
# monitor's relabelling may not write them (nor any `__` label, such as __address__).
PROTECTED_TARGET_LABELS = ("namespace", "job", "instance", "pod", "service", "endpoint", "container", "node")
HTTPROUTE_FILTERS = ("RequestHeaderModifier", "ResponseHeaderModifier")


@dataclass(frozen=True)
class AdmissionPolicy:
    name: str
    # Whose requests it judges (a matchCondition on request.userInfo.username).
    user_condition: str
    # (API group, resources) it matches; ("*", ("*",)) for the catch-all.
    resources: tuple[tuple[str, tuple[str, ...]], ...]
    operations: tuple[str, ...]
    validations: tuple[dict, ...]


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and "'" not in value:
        return f"'{value}'"
    raise ValueError(f"no CEL literal for the default {value!r}")


def _none_of(path: str, fields: tuple[str, ...], where: str = "") -> str:
    """Each field absent, or (when the CRD defaults it, DEFAULTED[where]) at its default."""
    defaults = DEFAULTED.get(where, {})
    return " && ".join(f"(!has({path}.{f}) || {path}.{f} == {_literal(defaults[f])})" if f in defaults
                       else f"!has({path}.{f})" for f in fields)


def _has_labels(labels: Mapping[str, str]) -> str:
    return " && ".join(["has(object.metadata.labels)"] + [
        f"'{k}' in object.metadata.labels && object.metadata.labels['{k}'] == '{v}'" for k, v in labels.items()])


def _list(values) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _kinds(kinds) -> str:
    return _list(f"{group}/{resource}" for group, resources in kinds for resource in resources)


# A PR's identity `...:review-pr-<N>` -> its namespace `tradesense-pr-<N>`.
OWN_NAMESPACE = f"'{REVIEW_NAMESPACE_PREFIX}' + request.userInfo.username.substring({len(PR_USER_PREFIX)})"
PR_USER = f"request.userInfo.username.startsWith('{PR_USER_PREFIX}')"


def _deployer_kinds_policy(name: str) -> AdmissionPolicy:
    return AdmissionPolicy(name, PR_USER, (("*", ("*",)),), ("CREATE", "UPDATE", "DELETE"), (
        {"expression": f"request.resource.group + '/' + request.resource.resource in {_kinds(APP_KINDS)}"
                       " && (!has(request.subResource) || request.subResource == '')",
         "message": "a review environment may write only the kinds a review app is made of (components/platform/review_admission.py)"},
        {"expression": f"has(request.namespace) && request.namespace == {OWN_NAMESPACE}",
         "message": f"a review environment's identity may change only its own namespace {REVIEW_NAMESPACE_PREFIX}<N>"},
    ))


def _admin_kinds_policy(name: str) -> AdmissionPolicy:
    namespace_name = "(request.operation == 'DELETE' ? oldObject : object).metadata.name"
    resource = "(request.resource.group + '/' + request.resource.resource + (has(request.subResource) && request.subResource != '' ? '/' + request.subResource : ''))"
    in_ci = f"has(request.namespace) && request.namespace == '{CI_NAMESPACE}' && request.name.startsWith('{PR_SERVICE_ACCOUNT_PREFIX}')"
    return AdmissionPolicy(name, f"request.userInfo.username == '{ADMIN_USER}'", (("*", ("*",)),), ("CREATE", "UPDATE", "DELETE"), (
        {"expression": f"{resource} in {_kinds(ADMIN_KINDS)}",
         "message": "the review admin may write only review namespaces, their quota, limits and RoleBinding, and PR ServiceAccounts and tokens"},
        {"expression": f"request.resource.resource == 'namespaces' ? {namespace_name}.matches('{NAME_PATTERN}')"
                       f" : request.resource.resource == 'serviceaccounts' ? ({in_ci})"
                       f" : has(request.namespace) && request.namespace.matches('{NAME_PATTERN}')",
         "message": f"the review admin may change only namespaces {REVIEW_NAMESPACE_PREFIX}<N> and ServiceAccounts "
                    f"{CI_NAMESPACE}/{PR_SERVICE_ACCOUNT_PREFIX}<N>"},
        # Once made, a review namespace's quota and limits stay as they are until the namespace goes.
        {"expression": "!(request.resource.resource in ['resourcequotas', 'limitranges']) || request.operation == 'CREATE'",
         "message": "a review namespace's ResourceQuota and LimitRange are never changed or deleted (delete the namespace)"},
    ))


def _service_monitor() -> tuple[dict, ...]:
    endpoint_fields = _none_of("e", REFUSED_FIELDS["ServiceMonitor.spec.endpoints[]"])
    relabel = ("(!has(r.action) || r.action == 'replace' || r.action == 'Replace') && has(r.targetLabel)"
               f" && !r.targetLabel.startsWith('__') && !(r.targetLabel in {_list(PROTECTED_TARGET_LABELS)})"
               f" && {_none_of('r', REFUSED_FIELDS['ServiceMonitor.spec.endpoints[].relabelings[]'])}")
    return (
        {"expression": _none_of("object.spec", REFUSED_FIELDS["ServiceMonitor.spec"]),
         "message": "a review ServiceMonitor may set only selector, namespaceSelector and endpoints"},
        {"expression": "!has(object.spec.namespaceSelector) || (!(has(object.spec.namespaceSelector.any) && object.spec.namespaceSelector.any)"
                       " && has(object.spec.namespaceSelector.matchNames) && object.spec.namespaceSelector.matchNames.all(n, n == request.namespace))",
         "message": "a review ServiceMonitor may scrape only its own namespace"},
        # No credentials, TLS files, proxies, honorLabels or timestamps: Prometheus sends none of
        # its own secrets and the target cannot pick its labels.
        {"expression": f"!has(object.spec.endpoints) || object.spec.endpoints.all(e, {endpoint_fields})",
         "message": "a review ServiceMonitor endpoint may set only port, path, scheme, interval, scrapeTimeout and relabelings"},
        {"expression": f"!has(object.spec.endpoints) || object.spec.endpoints.all(e, !has(e.relabelings) || e.relabelings.all(r, {relabel}))",
         "message": "a review ServiceMonitor may only add labels of its own (replace into a label that is not namespace, job, "
                    "instance, pod, service, endpoint, container, node or __*)"},
    )


def _prometheus_rule() -> tuple[dict, ...]:
    return (
        {"expression": f"object.spec.groups.all(g, {_none_of('g', REFUSED_FIELDS['PrometheusRule.spec.groups[]'])})",
         "message": "a review PrometheusRule group may set only name, interval and rules"},
        # Rule labels override the series': forcing `namespace` keeps review alerts on the review
        # route (chat only) and review recordings out of other namespaces' series.
        {"expression": "object.spec.groups.all(g, g.rules.all(r, has(r.labels) && 'namespace' in r.labels"
                       " && r.labels['namespace'] == request.namespace))",
         "message": "every rule of a review PrometheusRule must set labels.namespace to its own namespace"},
    )


def _cluster() -> tuple[dict, ...]:
    return (
        {"expression": _none_of("object.spec", REFUSED_FIELDS["Cluster.spec"], "Cluster.spec"),
         "message": "a review Postgres Cluster may set only instances, imageName, storage, resources, postgresql, bootstrap.initdb, "
                    "affinity, inheritedMetadata, enableSuperuserAccess, primaryUpdateStrategy and replicationSlots, and the rest only "
                    "at the CRD's defaults (no managed services, "
                    "external clusters, backups, service accounts or pod templates)"},
        {"expression": f"!has(object.spec.bootstrap) || ({_none_of('object.spec.bootstrap', REFUSED_FIELDS['Cluster.spec.bootstrap'])})",
         "message": "a review Postgres Cluster starts empty (bootstrap.initdb only)"},
        {"expression": f"!has(object.spec.instances) || object.spec.instances <= {MAX_POSTGRES_INSTANCES}",
         "message": f"a review Postgres Cluster has at most {MAX_POSTGRES_INSTANCES} instances"},
    )


def _httproute(domain: str, gateway_namespace: str, gateway_name: str) -> tuple[dict, ...]:
    # `tradesense-pr-7` -> `pr-7`: the only hostnames of that namespace are pr-7, www-pr-7 and api-pr-7.
    number_label = f"request.namespace.substring({len(REVIEW_NAMESPACE_PREFIX) - len('pr-')})"
    own = f"[{number_label} + '.{domain}', 'www-' + {number_label} + '.{domain}', 'api-' + {number_label} + '.{domain}']"
    parent = (f"(!has(p.group) || p.group == 'gateway.networking.k8s.io') && (!has(p.kind) || p.kind == 'Gateway')"
              f" && has(p.namespace) && p.namespace == '{gateway_namespace}' && p.name == '{gateway_name}'"
              f" && has(p.sectionName) && p.sectionName == '{REVIEW_LISTENER}' && !has(p.port)")
    backend = _none_of("b", REFUSED_FIELDS["HTTPRoute.spec.rules[].backendRefs[]"], "HTTPRoute.spec.rules[].backendRefs[]")
    rule = (f"{_none_of('r', REFUSED_FIELDS['HTTPRoute.spec.rules[]'])}"
            f" && (!has(r.backendRefs) || r.backendRefs.all(b, {backend}))"
            f" && (!has(r.filters) || r.filters.all(f, f.type in {_list(HTTPROUTE_FILTERS)}))")
    return (
        # Without hostnames a route takes every name the listener serves (every other PR's).
        {"expression": f"has(object.spec.hostnames) && size(object.spec.hostnames) > 0 && object.spec.hostnames.all(h, h in {own})",
         "message": f"a review HTTPRoute may use only its own hostnames pr-<N>.{domain}, www-pr-<N>.{domain}, api-pr-<N>.{domain}"},
        {"expression": f"has(object.spec.parentRefs) && object.spec.parentRefs.all(p, {parent})",
         "message": f"a review HTTPRoute attaches only to the review listener {REVIEW_LISTENER} of {gateway_namespace}/{gateway_name}"},
        {"expression": f"!has(object.spec.rules) || object.spec.rules.all(r, {rule})",
         "message": "a review HTTPRoute sends traffic only to Services of its own namespace, with header filters only"},
    )


def _quota_hard() -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in QUOTA_HARD.items()) + "}"


def review_admission_policies(prefix: str, host_stack: str, domain: str, gateway_namespace: str,
                              gateway_name: str) -> tuple[AdmissionPolicy, ...]:
    """Every admission policy of the two review identities: `prefix` and `prefix-<kind>` judge each
    PR's ServiceAccount (review-pr-<N>), `prefix-admin*` the review admin (review_slots.py)."""
    writes = ("CREATE", "UPDATE")
    own_sa = f"'{PR_SERVICE_ACCOUNT_PREFIX}' + request.namespace.substring({len(REVIEW_NAMESPACE_PREFIX)})"
    subject_check = (f"s.kind == 'ServiceAccount' && has(s.namespace) && s.namespace == '{CI_NAMESPACE}' && s.name == {own_sa}")
    admin = f"request.userInfo.username == '{ADMIN_USER}'"
    return (
        _deployer_kinds_policy(prefix),
        # The Gateway is the only way in: no LoadBalancer, NodePort, ExternalName or externalIPs.
        AdmissionPolicy(f"{prefix}-services", PR_USER, (("", ("services",)),), writes, (
            {"expression": "(!has(object.spec.type) || object.spec.type == 'ClusterIP') && !has(object.spec.externalIPs)",
             "message": "a review Service must be a plain ClusterIP Service"},)),
        # A legacy token Secret would mint a non-expiring credential.
        AdmissionPolicy(f"{prefix}-secrets", PR_USER, (("", ("secrets",)),), writes, (
            {"expression": "!has(object.type) || object.type != 'kubernetes.io/service-account-token'",
             "message": "a review Secret may not be a service-account token"},)),
        AdmissionPolicy(f"{prefix}-workloads", PR_USER, (("apps", ("deployments", "statefulsets")),), writes, (
            {"expression": f"!has(object.spec.replicas) || object.spec.replicas <= {MAX_REPLICAS}",
             "message": f"a review workload runs at most {MAX_REPLICAS} replicas"},)),
        AdmissionPolicy(f"{prefix}-autoscalers", PR_USER, (("autoscaling", ("horizontalpodautoscalers",)),), writes, (
            {"expression": f"object.spec.maxReplicas <= {MAX_REPLICAS}",
             "message": f"a review autoscaler scales to at most {MAX_REPLICAS} replicas"},)),
        AdmissionPolicy(f"{prefix}-servicemonitors", PR_USER, (("monitoring.coreos.com", ("servicemonitors",)),), writes, _service_monitor()),
        AdmissionPolicy(f"{prefix}-prometheusrules", PR_USER, (("monitoring.coreos.com", ("prometheusrules",)),), writes, _prometheus_rule()),
        AdmissionPolicy(f"{prefix}-postgres", PR_USER, (("postgresql.cnpg.io", ("clusters",)),), writes, _cluster()),
        AdmissionPolicy(f"{prefix}-httproutes", PR_USER, (("gateway.networking.k8s.io", ("httproutes",)),), writes,
                        _httproute(domain, gateway_namespace, gateway_name)),
        _admin_kinds_policy(f"{prefix}-admin"),
        # Without these labels a namespace could run privileged pods (and escape to the node).
        AdmissionPolicy(f"{prefix}-admin-namespaces", admin, (("", ("namespaces",)),), writes, (
            {"expression": _has_labels({**psa_labels(RESTRICTED), **review_namespace_labels(host_stack)}),
             "message": "a review namespace must keep Pod Security 'restricted' and its review label"},)),
        AdmissionPolicy(f"{prefix}-admin-quotas", admin, (("", ("resourcequotas",)),), ("CREATE",), (
            {"expression": f"object.metadata.name == '{QUOTA_NAME}' && has(object.spec.hard) && object.spec.hard == {_quota_hard()}"
                           " && !has(object.spec.scopes) && !has(object.spec.scopeSelector)",
             "message": f"a review namespace's ResourceQuota is {QUOTA_NAME} with exactly the hard limits of review_slots.QUOTA_HARD"},)),
        AdmissionPolicy(f"{prefix}-admin-limits", admin, (("", ("limitranges",)),), ("CREATE",), (
            {"expression": f"object.metadata.name == '{LIMITS_NAME}'",
             "message": f"a review namespace's LimitRange is {LIMITS_NAME}"},)),
        AdmissionPolicy(f"{prefix}-admin-rolebindings", admin, (("rbac.authorization.k8s.io", ("rolebindings",)),), writes, (
            {"expression": f"object.roleRef.kind == 'ClusterRole' && object.roleRef.name == '{APP_CLUSTER_ROLE}'"
                           f" && size(object.subjects) == 1 && object.subjects.all(s, {subject_check})",
             "message": f"a review RoleBinding grants only {APP_CLUSTER_ROLE}, and only to that namespace's own ServiceAccount"},)),
        AdmissionPolicy(f"{prefix}-admin-tokens", admin, (("", ("serviceaccounts/token",)),), ("CREATE",), (
            {"expression": f"has(object.spec.expirationSeconds) && object.spec.expirationSeconds <= {TOKEN_SECONDS}",
             "message": f"a review token expires within {TOKEN_SECONDS} seconds"},)),
    )
