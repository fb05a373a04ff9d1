"""Pod rules: one compliant and one violating fixture per rule, plus unknown-at-preview cases."""

from __future__ import annotations

import pytest

from policies.tradesense_rules.k8s_pod import POD_POLICIES, image_problem, secret_like_name

from .fixtures import DELETE, DIGEST, KIND_TYPES, UNKNOWN, container, messages, pod_spec, run, secret, workload

POD_RULES = [p.name for p in POD_POLICIES]


def test_compliant_workloads_pass_every_pod_rule():
    for kind in KIND_TYPES:
        resource = workload(kind)
        for rule in POD_RULES:
            assert run(rule, [resource]) == [], (kind, rule)


# rule, pod-spec changes that violate it, text the message must contain
VIOLATIONS = [
    ("k8s-pod-disallow-privileged", {"containers.0.securityContext.privileged": True}, "privileged=true"),
    ("k8s-pod-disallow-privilege-escalation", {"containers.0.securityContext.allowPrivilegeEscalation": True}, "allowPrivilegeEscalation=true"),
    ("k8s-pod-disallow-privilege-escalation", {"containers.0.securityContext.allowPrivilegeEscalation": DELETE}, "unset (defaults to true)"),
    ("k8s-pod-require-run-as-non-root", {"containers.0.securityContext.runAsNonRoot": False}, "runAsNonRoot=true"),
    ("k8s-pod-require-run-as-non-root",
     {"securityContext.runAsNonRoot": DELETE, "containers.0.securityContext.runAsNonRoot": DELETE}, "does not set runAsNonRoot"),
    ("k8s-pod-disallow-run-as-root-user", {"securityContext.runAsUser": 0}, "pod securityContext.runAsUser=0"),
    ("k8s-pod-disallow-run-as-root-user", {"containers.0.securityContext.runAsUser": 0}, "container 'backend'"),
    ("k8s-pod-require-drop-all-capabilities", {"containers.0.securityContext.capabilities.drop": ["NET_RAW"]}, "does not drop ALL"),
    ("k8s-pod-require-drop-all-capabilities", {"containers.0.securityContext.capabilities": DELETE}, "does not drop ALL"),
    ("k8s-pod-restrict-added-capabilities", {"containers.0.securityContext.capabilities.add": ["SYS_ADMIN"]}, "adds capabilities ['SYS_ADMIN']"),
    ("k8s-pod-require-seccomp-profile", {"containers.0.securityContext.seccompProfile.type": "Unconfined"}, "seccompProfile type Unconfined"),
    ("k8s-pod-require-seccomp-profile",
     {"securityContext.seccompProfile": DELETE, "containers.0.securityContext.seccompProfile": DELETE}, "sets no seccompProfile"),
    ("k8s-pod-disallow-host-namespaces", {"hostNetwork": True}, "hostNetwork=true"),
    ("k8s-pod-disallow-host-process", {"securityContext.windowsOptions": {"hostProcess": True}}, "hostProcess=true"),
    ("k8s-pod-disallow-host-process", {"containers.0.securityContext.windowsOptions": {"hostProcess": True}}, "container 'backend'"),
    ("k8s-pod-restrict-proc-mount", {"containers.0.securityContext.procMount": "Unmasked"}, "procMount=Unmasked"),
    ("k8s-pod-restrict-sysctls", {"securityContext.sysctls": [{"name": "kernel.msgmax", "value": "65536"}]}, "unsafe sysctl kernel.msgmax"),
    ("k8s-pod-restrict-apparmor-profile", {"securityContext.appArmorProfile": {"type": "Unconfined"}}, "appArmorProfile type Unconfined"),
    ("k8s-pod-restrict-selinux-options", {"containers.0.securityContext.seLinuxOptions": {"type": "spc_t"}}, "seLinuxOptions.type=spc_t"),
    ("k8s-pod-restrict-selinux-options", {"securityContext.seLinuxOptions": {"user": "system_u"}}, "seLinuxOptions.user=system_u"),
    ("k8s-pod-disallow-host-namespaces", {"hostPID": True}, "hostPID=true"),
    ("k8s-pod-disallow-host-path-volumes", {"volumes": [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]}, "hostPath volume 'docker'"),
    ("k8s-pod-disallow-host-ports", {"containers.0.ports.0.hostPort": 8080}, "hostPort 8080"),
    ("k8s-pod-restrict-volume-types", {"volumes": [{"name": "shared", "nfs": {"server": "nfs", "path": "/"}}]}, "uses type nfs"),
    ("k8s-pod-require-read-only-root-filesystem", {"containers.0.securityContext.readOnlyRootFilesystem": False}, "readOnlyRootFilesystem=true"),
    ("k8s-pod-require-resource-requests-and-limits", {"containers.0.resources.limits": DELETE}, "limits.cpu, limits.memory"),
    ("k8s-pod-require-liveness-and-readiness-probes", {"containers.0.readinessProbe": DELETE}, "has no readinessProbe"),
    ("k8s-pod-require-pinned-image", {"containers.0.image": "nginx:latest"}, "mutable tag 'latest'"),
    ("k8s-pod-require-pinned-image", {"containers.0.image": "ghcr.io/tradesense/backend"}, "has no tag"),
    ("k8s-pod-disable-service-account-token-automount", {"automountServiceAccountToken": DELETE}, "automountServiceAccountToken unset"),
    ("k8s-pod-disable-service-account-token-automount", {"automountServiceAccountToken": True}, "automountServiceAccountToken=true"),
    ("k8s-pod-disallow-literal-secret-env",
     {"containers.0.env": [{"name": "STRIPE_API_KEY", "value": "sk_live_51HxExampleExample"}]}, "env STRIPE_API_KEY"),
    ("k8s-pod-disallow-literal-secret-env",
     {"containers.0.env": [{"name": "CACHE_URL", "value": "postgresql://app:hunter2@db:5432/app"}]}, "URL with an embedded password"),
    ("k8s-pod-disallow-literal-secret-env",
     {"containers.0.env": [{"name": "SENTRY_DSN", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "dsn"}}}]}, "not read from valueFrom.secretKeyRef"),
    # A Pulumi secret is still a literal in the pod spec: the engine unwraps it before the rule sees it.
    ("k8s-pod-disallow-literal-secret-env",
     {"containers.0.env": [{"name": "DB_PASSWORD", "value": secret("hunter2")}]}, "env DB_PASSWORD"),
]


@pytest.mark.parametrize("rule,changes,expected", VIOLATIONS, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(VIOLATIONS)])
def test_violation_is_reported_and_named(rule, changes, expected):
    found = run(rule, [workload(spec=pod_spec(**changes))])
    assert found, f"{rule} missed {changes}"
    assert all(v.enforcement == POD_POLICIES[POD_RULES.index(rule)].enforcement_level.value for v in found)
    assert expected in messages(found)
    assert "Deployment tradesense/backend" in messages(found)
    assert found[0].resource_type == "kubernetes:apps/v1:Deployment" and found[0].resource_name == "backend"


# The same paths made unknown at preview: no violation and no "can't run" diagnostic.
UNKNOWNS = sorted({(rule, path) for rule, changes, _ in VIOLATIONS for path in changes})


@pytest.mark.parametrize("rule,path", UNKNOWNS, ids=[f"{r}:{p}" for r, p in UNKNOWNS])
def test_unknown_values_never_produce_violations(rule, path):
    assert run(rule, [workload(spec=pod_spec(**{path: UNKNOWN}))]) == []


@pytest.mark.parametrize("kind", list(KIND_TYPES))
def test_every_pod_bearing_kind_is_checked(kind):
    spec = pod_spec(**{"containers.0.securityContext.privileged": True})
    found = run("k8s-pod-disallow-privileged", [workload(kind, spec=spec)])
    assert [v.resource_type for v in found] == [KIND_TYPES[kind]]


def test_init_and_ephemeral_containers_are_checked():
    spec = pod_spec(initContainers=[container("migrate", securityContext__allowPrivilegeEscalation=True)])
    assert "init container 'migrate'" in messages(run("k8s-pod-disallow-privilege-escalation", [workload(spec=spec)]))


@pytest.mark.parametrize("kind", ["Job", "CronJob"])
def test_probes_are_not_required_for_run_to_completion_kinds(kind):
    spec = pod_spec(**{"containers.0.livenessProbe": DELETE, "containers.0.readinessProbe": DELETE})
    assert run("k8s-pod-require-liveness-and-readiness-probes", [workload(kind, spec=spec)]) == []
    assert run("k8s-pod-require-liveness-and-readiness-probes", [workload("StatefulSet", spec=spec)])


def test_run_as_non_root_at_pod_level_covers_containers():
    spec = pod_spec(**{"containers.0.securityContext.runAsNonRoot": DELETE})
    assert run("k8s-pod-require-run-as-non-root", [workload(spec=spec)]) == []


def test_net_bind_service_may_be_added_and_option_widens_the_list():
    spec = pod_spec(**{"containers.0.securityContext.capabilities.add": ["NET_BIND_SERVICE"]})
    assert run("k8s-pod-restrict-added-capabilities", [workload(spec=spec)]) == []
    spec = pod_spec(**{"containers.0.securityContext.capabilities.add": ["NET_ADMIN"]})
    config = {"k8s-pod-restrict-added-capabilities": {"allowedCapabilities": ["NET_BIND_SERVICE", "NET_ADMIN"]}}
    assert run("k8s-pod-restrict-added-capabilities", [workload(spec=spec)], config) == []


def test_require_digest_option():
    spec = pod_spec(**{"containers.0.image": "ghcr.io/tradesense/backend:1.4.2"})
    assert run("k8s-pod-require-pinned-image", [workload(spec=spec)]) == []
    found = run("k8s-pod-require-pinned-image", [workload(spec=spec)], {"k8s-pod-require-pinned-image": {"requireDigest": True}})
    assert "not pinned by digest" in messages(found)


@pytest.mark.parametrize(
    "image,problem",
    [
        ("nginx", "has no tag"),
        ("nginx:latest", "'latest'"),
        ("registry.local:5000/team/app", "has no tag"),
        ("registry.local:5000/team/app:2.1", None),
        (f"nginx@{DIGEST}", None),
    ],
)
def test_image_parsing(image, problem):
    found = image_problem(image, require_digest=False)
    assert (found is None) if problem is None else (problem in found)


def test_default_namespace_comes_from_metadata_or_the_provider():
    from .fixtures import k8s_provider, provider_reference

    found = run("k8s-pod-disallow-default-namespace", [workload(namespace="default")])
    assert "Deployment default/backend runs in the 'default' namespace" in messages(found)
    # No metadata.namespace: the provider's namespace applies, else "default".
    assert run("k8s-pod-disallow-default-namespace", [workload(namespace=DELETE)])
    provider = k8s_provider(namespace="tradesense")
    resource = workload(namespace=DELETE, provider=provider_reference(provider))
    assert run("k8s-pod-disallow-default-namespace", [provider, resource]) == []
    assert run("k8s-pod-disallow-default-namespace", [workload(namespace=UNKNOWN)]) == []


def test_token_automount_allow_list():
    spec = pod_spec(automountServiceAccountToken=True, serviceAccountName="operator")
    config = {"k8s-pod-disable-service-account-token-automount": {"allowedServiceAccounts": ["tradesense/operator"]}}
    assert run("k8s-pod-disable-service-account-token-automount", [workload(spec=spec)], config) == []


def test_excluded_namespaces_option():
    spec = pod_spec(hostNetwork=True)
    config = {"k8s-pod-disallow-host-namespaces": {"excludedNamespaces": ["monitoring"]}}
    assert run("k8s-pod-disallow-host-namespaces", [workload(spec=spec, namespace="monitoring")], config) == []
    assert run("k8s-pod-disallow-host-namespaces", [workload(spec=spec)], config)


@pytest.mark.parametrize(
    "name,secretish",
    [("DB_PASSWORD", True), ("STRIPE_API_KEY", True), ("SENTRY_DSN", True), ("DATABASE_URL", True),
     ("GITHUB_TOKEN", True), ("LOG_LEVEL", False), ("PORT", False), ("PUBLIC_URL", False),
     ("PUBLIC_STRIPE_KEY", False), ("STRIPE_PUBLISHABLE_KEY", False),
     ("POSTGRES_PASSWORD_FILE", False), ("TLS_KEY_PATH", False)],
)
def test_secret_like_names(name, secretish):
    assert secret_like_name(name) is secretish


def test_allowed_env_names_option():
    spec = pod_spec(**{"containers.0.env": [{"name": "CACHE_KEY_PREFIX", "value": "ts:"}]})
    assert run("k8s-pod-disallow-literal-secret-env", [workload(spec=spec)])
    config = {"k8s-pod-disallow-literal-secret-env": {"allowedEnvNames": ["CACHE_KEY_PREFIX"]}}
    assert run("k8s-pod-disallow-literal-secret-env", [workload(spec=spec)], config) == []


def test_unknown_pod_spec_skips_the_rule():
    resource = workload()
    resource.inputs["spec"]["template"]["spec"] = UNKNOWN
    for rule in POD_RULES:
        assert run(rule, [resource]) == [], rule
