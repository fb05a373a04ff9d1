"""An adversarial table: inputs written to get a privileged pod, a leaked credential, an open
endpoint or a public bucket past review (and clean look-alikes that must not be blocked).

Deliberately independent of tests/policies/fixtures.py: its own hardened pod, other kinds, other
spellings. Each case names the one rule it targets and whether that rule must report it.
Shared by test_adversarial.py (the verdicts) and test_unknowns.py (every field made unknown).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from tools.policy_eval import make_resource, provider_reference

IMG = "registry.example.com/tradesense/worker:2.0.1"
NS_LABEL = {"app.kubernetes.io/name": "worker"}


@dataclass(frozen=True)
class Case:
    id: str
    rule: str
    resources: list
    violating: bool
    config: dict = field(default_factory=dict)


def hardened_container(name: str = "worker", **security: Any) -> dict:
    context = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    context.update(security)
    return {
        "name": name,
        "image": IMG,
        "securityContext": context,
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "livenessProbe": {"tcpSocket": {"port": 9000}},
        "readinessProbe": {"tcpSocket": {"port": 9000}},
    }


def hardened_spec(**changes: Any) -> dict:
    """Restricted-compliant with the non-root and seccomp settings at pod level only."""
    spec = {
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 2000, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [hardened_container()],
    }
    spec.update(copy.deepcopy(changes))
    return spec


def with_container(**security: Any) -> dict:
    return hardened_spec(containers=[hardened_container(**security)])


def with_init(container: dict) -> dict:
    return hardened_spec(initContainers=[container])


TEMPLATE_PATHS = {
    "Pod": (),
    "PodTemplate": ("template",),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def pod(kind: str = "Deployment", spec: Optional[dict] = None, *, api: Optional[str] = None, namespace: Any = "tradesense",
        annotations: Optional[dict] = None, name: str = "worker", provider: str = "", replicas: Any = None, labels: Optional[dict] = None):
    """A pod-bearing resource of any kind and API version (`api` like "apps/v1beta2")."""
    spec = hardened_spec() if spec is None else spec
    base_kind = kind.removesuffix("Patch").removesuffix("List")
    default_api = {"Pod": "core/v1", "PodTemplate": "core/v1", "ReplicationController": "core/v1", "Job": "batch/v1", "CronJob": "batch/v1"}
    api = api or default_api.get(base_kind, "apps/v1")
    template = {"metadata": {"labels": dict(labels or NS_LABEL), **({"annotations": annotations} if annotations else {})}, "spec": spec}
    path = TEMPLATE_PATHS.get(base_kind, ("spec", "template"))
    body: dict = {"metadata": {"name": name}}
    if namespace is not None:
        body["metadata"]["namespace"] = namespace
    if path == ():
        body["metadata"].update(template["metadata"])
        body["spec"] = spec
    else:
        target = body
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = template
    if base_kind not in ("Pod", "PodTemplate", "Job", "CronJob"):
        body.setdefault("spec", {})["selector"] = {"matchLabels": dict(labels or NS_LABEL)}
        if replicas is not None:
            body["spec"]["replicas"] = replicas
    if base_kind == "CronJob":
        body["spec"]["schedule"] = "*/5 * * * *"
    if kind.endswith("List"):
        body = {"items": [{"apiVersion": api.removeprefix("core/"), "kind": base_kind, **body}]}
    return make_resource(f"kubernetes:{api}:{kind}", name, body, provider=provider)


def provider(namespace: Optional[str] = None, name: str = "k8s"):
    inputs = {"kubeconfig": "apiVersion: v1", **({"namespace": namespace} if namespace else {})}
    return make_resource("pulumi:providers:kubernetes", name, inputs)


def env(*entries: dict) -> dict:
    container = hardened_container()
    container["env"] = list(entries)
    return hardened_spec(containers=[container])


def lit(name: str, value: Any) -> dict:
    return {"name": name, "value": value}


def k8s_obj(type_: str, name: str, body: dict, namespace: Any = "tradesense", provider_ref: str = "", **kwargs: Any):
    metadata = {"name": name, **({"namespace": namespace} if namespace is not None else {})}
    return make_resource(type_, name, {"metadata": metadata, **body}, provider=provider_ref, **kwargs)


def pod_cases() -> list[Case]:
    v, c = True, False
    drop = "k8s-pod-require-drop-all-capabilities"
    add = "k8s-pod-restrict-added-capabilities"
    return [
        # privileged, hidden in kinds and places a reviewer skims
        Case("privileged-init", "k8s-pod-disallow-privileged", [pod(spec=with_init(hardened_container("init", privileged=True)))], v),
        Case("privileged-ephemeral", "k8s-pod-disallow-privileged", [pod("Pod", hardened_spec(ephemeralContainers=[hardened_container("dbg", privileged=True)]))], v),
        Case("privileged-string", "k8s-pod-disallow-privileged", [pod(spec=with_container(privileged="true"))], v),
        Case("privileged-rc", "k8s-pod-disallow-privileged", [pod("ReplicationController", with_container(privileged=True))], v),
        Case("privileged-deployment-patch", "k8s-pod-disallow-privileged", [pod("DeploymentPatch", with_container(privileged=True))], v),
        Case("privileged-daemonset-patch", "k8s-pod-disallow-privileged", [pod("DaemonSetPatch", with_container(privileged=True))], v),
        Case("privileged-cronjob-patch", "k8s-pod-disallow-privileged", [pod("CronJobPatch", with_container(privileged=True))], v),
        Case("privileged-pod-list", "k8s-pod-disallow-privileged", [pod("PodList", with_container(privileged=True))], v),
        Case("privileged-pod-template", "k8s-pod-disallow-privileged", [pod("PodTemplate", with_container(privileged=True))], v),
        Case("privileged-apps-v1beta2", "k8s-pod-disallow-privileged", [pod("DaemonSet", with_container(privileged=True), api="apps/v1beta2")], v),
        Case("privileged-extensions", "k8s-pod-disallow-privileged", [pod("Deployment", with_container(privileged=True), api="extensions/v1beta1")], v),
        Case("privileged-batch-v1beta1", "k8s-pod-disallow-privileged", [pod("CronJob", with_container(privileged=True), api="batch/v1beta1")], v),
        Case("unprivileged-rc", "k8s-pod-disallow-privileged", [pod("ReplicationController")], c),
        Case("patch-without-security-context", "k8s-pod-disallow-privilege-escalation",
             [pod("DeploymentPatch", {"containers": [{"name": "worker", "image": IMG}]})], c),
        # escalation and root
        Case("escalation-string-true", "k8s-pod-disallow-privilege-escalation", [pod(spec=with_container(allowPrivilegeEscalation="True"))], v),
        Case("escalation-unset-in-init", "k8s-pod-disallow-privilege-escalation",
             [pod(spec=with_init({"name": "init", "image": IMG, "securityContext": {"capabilities": {"drop": ["ALL"]}}}))], v),
        Case("pod-nonroot-false-containers-true", "k8s-pod-require-run-as-non-root",
             [pod(spec=hardened_spec(securityContext={"runAsNonRoot": False, "seccompProfile": {"type": "RuntimeDefault"}},
                                     containers=[hardened_container(runAsNonRoot=True)]))], v),
        Case("container-overrides-nonroot", "k8s-pod-require-run-as-non-root", [pod(spec=with_container(runAsNonRoot=False))], v),
        Case("nonroot-on-pod-only", "k8s-pod-require-run-as-non-root", [pod("StatefulSet")], c),
        Case("root-user-ephemeral", "k8s-pod-disallow-run-as-root-user",
             [pod("Pod", hardened_spec(ephemeralContainers=[hardened_container("dbg", runAsUser=0)]))], v),
        Case("root-user-float", "k8s-pod-disallow-run-as-root-user", [pod(spec=with_container(runAsUser=0.0))], v),
        Case("root-user-pod-string", "k8s-pod-disallow-run-as-root-user",
             [pod(spec=hardened_spec(securityContext={"runAsNonRoot": True, "runAsUser": "0", "seccompProfile": {"type": "RuntimeDefault"}}))], v),
        Case("uid-1000", "k8s-pod-disallow-run-as-root-user", [pod(spec=with_container(runAsUser=1000))], c),
        # capabilities, spelled the ways admission does not accept
        Case("drop-lowercase-all", drop, [pod(spec=with_container(capabilities={"drop": ["all"]}))], v),
        Case("drop-cap-all", drop, [pod(spec=with_container(capabilities={"drop": ["CAP_ALL"]}))], v),
        Case("drop-everything-but-all", drop, [pod(spec=with_container(capabilities={"drop": ["NET_RAW", "SYS_ADMIN", "MKNOD"]}))], v),
        Case("drop-all-among-others", drop, [pod(spec=with_container(capabilities={"drop": ["NET_RAW", "ALL"]}))], c),
        Case("add-lowercase-sys-admin", add, [pod(spec=with_container(capabilities={"drop": ["ALL"], "add": ["sys_admin"]}))], v),
        Case("add-cap-prefixed", add, [pod(spec=with_container(capabilities={"drop": ["ALL"], "add": ["CAP_SYS_PTRACE"]}))], v),
        Case("add-lowercase-net-bind", add, [pod(spec=with_container(capabilities={"drop": ["ALL"], "add": ["net_bind_service"]}))], v),
        Case("add-net-bind-exact", add, [pod(spec=with_container(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}))], c),
        # seccomp
        Case("pod-unconfined-containers-default", "k8s-pod-require-seccomp-profile",
             [pod(spec=hardened_spec(securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "Unconfined"}},
                                     containers=[hardened_container(seccompProfile={"type": "RuntimeDefault"})]))], v),
        Case("container-unconfined", "k8s-pod-require-seccomp-profile", [pod(spec=with_container(seccompProfile={"type": "Unconfined"}))], v),
        Case("localhost-profile", "k8s-pod-require-seccomp-profile",
             [pod(spec=with_container(seccompProfile={"type": "Localhost", "localhostProfile": "profiles/worker.json"}))], c),
        # host access
        Case("host-ipc", "k8s-pod-disallow-host-namespaces", [pod("Job", hardened_spec(hostIPC=True))], v),
        Case("host-pid-string", "k8s-pod-disallow-host-namespaces", [pod(spec=hardened_spec(hostPID="true"))], v),
        Case("host-network-false", "k8s-pod-disallow-host-namespaces", [pod(spec=hardened_spec(hostNetwork=False))], c),
        Case("host-process-pod", "k8s-pod-disallow-host-process",
             [pod(spec=hardened_spec(securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}, "windowsOptions": {"hostProcess": True}}))], v),
        Case("host-process-ephemeral", "k8s-pod-disallow-host-process",
             [pod("Pod", hardened_spec(ephemeralContainers=[hardened_container("dbg", windowsOptions={"hostProcess": True})]))], v),
        Case("windows-gmsa-only", "k8s-pod-disallow-host-process", [pod(spec=with_container(windowsOptions={"gmsaCredentialSpecName": "gmsa"}))], c),
        Case("hostpath-innocent-name", "k8s-pod-disallow-host-path-volumes",
             [pod(spec=hardened_spec(volumes=[{"name": "cache", "hostPath": {"path": "/", "type": "Directory"}}]))], v),
        Case("hostport-init-string", "k8s-pod-disallow-host-ports",
             [pod(spec=with_init({**hardened_container("init"), "ports": [{"containerPort": 443, "hostPort": "443"}]}))], v),
        Case("hostport-zero", "k8s-pod-disallow-host-ports", [pod(spec=hardened_spec(containers=[{**hardened_container(), "ports": [{"containerPort": 80, "hostPort": 0}]}]))], c),
        Case("volume-iscsi", "k8s-pod-restrict-volume-types", [pod(spec=hardened_spec(volumes=[{"name": "disk", "iscsi": {"targetPortal": "10.0.0.1", "iqn": "x", "lun": 0}}]))], v),
        Case("volume-gitrepo", "k8s-pod-restrict-volume-types", [pod(spec=hardened_spec(volumes=[{"name": "src", "gitRepo": {"repository": "https://x"}}]))], v),
        Case("volume-projected", "k8s-pod-restrict-volume-types",
             [pod(spec=hardened_spec(volumes=[{"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}]))], c),
        # AppArmor, SELinux, /proc, sysctls
        Case("apparmor-annotation-unconfined", "k8s-pod-restrict-apparmor-profile",
             [pod(annotations={"container.apparmor.security.beta.kubernetes.io/worker": "unconfined"})], v),
        Case("apparmor-annotation-on-pod", "k8s-pod-restrict-apparmor-profile",
             [pod("Pod", annotations={"container.apparmor.security.beta.kubernetes.io/worker": "unconfined"})], v),
        Case("apparmor-field-container", "k8s-pod-restrict-apparmor-profile", [pod(spec=with_container(appArmorProfile={"type": "Unconfined"}))], v),
        Case("apparmor-localhost", "k8s-pod-restrict-apparmor-profile",
             [pod(annotations={"container.apparmor.security.beta.kubernetes.io/worker": "localhost/worker"})], c),
        Case("selinux-spc", "k8s-pod-restrict-selinux-options",
             [pod(spec=hardened_spec(securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}, "seLinuxOptions": {"type": "spc_t"}}))], v),
        Case("selinux-role-init", "k8s-pod-restrict-selinux-options", [pod(spec=with_init(hardened_container("init", seLinuxOptions={"role": "sysadm_r"})))], v),
        Case("selinux-level-only", "k8s-pod-restrict-selinux-options", [pod(spec=with_container(seLinuxOptions={"level": "s0:c123,c456", "type": "container_t"}))], c),
        Case("procmount-unmasked", "k8s-pod-restrict-proc-mount", [pod("Pod", hardened_spec(ephemeralContainers=[hardened_container("dbg", procMount="Unmasked")]))], v),
        Case("procmount-default", "k8s-pod-restrict-proc-mount", [pod(spec=with_container(procMount="Default"))], c),
        Case("sysctl-core-pattern", "k8s-pod-restrict-sysctls",
             [pod(spec=hardened_spec(securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}, "sysctls": [{"name": "kernel.core_pattern", "value": "|/bin/sh"}]}))], v),
        Case("sysctl-somaxconn", "k8s-pod-restrict-sysctls",
             [pod(spec=hardened_spec(securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}, "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]}))], v),
        Case("sysctl-safe", "k8s-pod-restrict-sysctls",
             [pod(spec=hardened_spec(securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}, "sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]}))], c),
        # beyond PSS
        Case("rootfs-string-false", "k8s-pod-require-read-only-root-filesystem", [pod(spec=with_container(readOnlyRootFilesystem="false"))], v),
        Case("emptydir-memory-not-hostpath", "k8s-pod-disallow-host-path-volumes",
             [pod("DaemonSet", hardened_spec(volumes=[{"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}]))], c),
        Case("rootfs-on-every-container-kind", "k8s-pod-require-read-only-root-filesystem",
             [pod("Pod", hardened_spec(initContainers=[hardened_container("init")], ephemeralContainers=[{"name": "dbg", "image": IMG}]))], c),
        Case("resources-init-no-memory-limit", "k8s-pod-require-resource-requests-and-limits",
             [pod(spec=with_init({**hardened_container("init"), "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}, "limits": {"cpu": "10m"}}}))], v),
        Case("probes-missing-rc", "k8s-pod-require-liveness-and-readiness-probes",
             [pod("ReplicationController", hardened_spec(containers=[{k: x for k, x in hardened_container().items() if k != "livenessProbe"}]))], v),
        Case("probes-not-needed-for-jobs", "k8s-pod-require-liveness-and-readiness-probes",
             [pod("Job", hardened_spec(containers=[{k: x for k, x in hardened_container().items() if not k.endswith("Probe")}]))], c),
        Case("resources-set-with-numbers", "k8s-pod-require-resource-requests-and-limits",
             [pod(spec=hardened_spec(containers=[{**hardened_container(), "resources": {"requests": {"cpu": 0.5, "memory": 134217728}, "limits": {"cpu": 1, "memory": 268435456}}}]))], c),
        Case("image-registry-port-no-tag", "k8s-pod-require-pinned-image", [pod(spec=hardened_spec(containers=[{**hardened_container(), "image": "registry:5000/worker"}]))], v),
        Case("image-digest-only", "k8s-pod-require-pinned-image",
             [pod(spec=hardened_spec(containers=[{**hardened_container(), "image": "registry:5000/worker@sha256:" + "c" * 64}]))], c),
        Case("automount-unset-cronjob", "k8s-pod-disable-service-account-token-automount",
             [pod("CronJob", {k: x for k, x in hardened_spec().items() if k != "automountServiceAccountToken"})], v),
        Case("automount-allow-listed", "k8s-pod-disable-service-account-token-automount",
             [pod(spec=hardened_spec(automountServiceAccountToken=True, serviceAccountName="operator"))], c,
             {"k8s-pod-disable-service-account-token-automount": {"allowedServiceAccounts": ["tradesense/operator"]}}),
        Case("default-namespace-by-omission", "k8s-pod-disallow-default-namespace", [pod(namespace=None)], v),
        Case("default-namespace-via-provider", "k8s-pod-disallow-default-namespace",
             [provider("default"), pod(namespace=None, provider=provider_reference(provider("default")))], v),
        Case("namespace-from-provider", "k8s-pod-disallow-default-namespace",
             [provider("tradesense"), pod(namespace=None, provider=provider_reference(provider("tradesense")))], c),
    ]


def env_cases() -> list[Case]:
    rule = "k8s-pod-disallow-literal-secret-env"
    v, c = True, False
    secret_ref = {"valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
    return [
        Case("pgpassword", rule, [pod(spec=env(lit("PGPASSWORD", "s3cr3t-value")))], v),
        Case("rediscli-auth", rule, [pod("CronJob", env(lit("REDISCLI_AUTH", "hunter2hunter2")))], v),
        Case("mysql-pwd", rule, [pod(spec=env(lit("MYSQL_PWD", "changeme")))], v),
        Case("aws-secret-access-key", rule, [pod(spec=env(lit("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")))], v),
        Case("password-only-userinfo", rule, [pod(spec=env(lit("REDIS_URL", "redis://:hunter2@redis:6379/0")))], v),
        Case("password-in-query", rule, [pod(spec=env(lit("DB_CONN", "postgresql://postgres-rw:5432/app?user=app&password=hunter2")))], v),
        Case("userinfo-under-harmless-name", rule, [pod(spec=env(lit("BROKER", "amqp://guest:guest@rabbitmq:5672/")))], v),
        Case("glued-password-word", rule, [pod(spec=env(lit("DBPASSWORD", "hunter2")))], v),
        Case("secret-from-configmap", rule, [pod(spec=env({"name": "DB_PASSWD", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "pw"}}}))], v),
        Case("url-from-configmap", rule, [pod(spec=env({"name": "DATABASE_URL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "url"}}}))], v),
        Case("ttl-seconds", rule, [pod(spec=env(lit("TOKEN_TTL_SECONDS", "3600")))], c),
        Case("duration", rule, [pod(spec=env(lit("SESSION_TOKEN_EXPIRY", "15m")))], c),
        Case("boolean", rule, [pod(spec=env(lit("REDIS_PASSWORD_REQUIRED", "true")))], c),
        Case("min-length", rule, [pod(spec=env(lit("PASSWORD_MIN_LENGTH", "12")))], c),
        Case("url-without-credentials", rule, [pod(spec=env(lit("DATABASE_URL", "postgresql://postgres-rw.tradesense:5432/app")))], c),
        Case("pgpassword-from-secret", rule, [pod("CronJob", env({"name": "PGPASSWORD", **secret_ref}))], c),
        Case("password-file", rule, [pod(spec=env(lit("PGPASSFILE", "/secrets/pgpass")))], c),
    ]


def exposure_cases() -> list[Case]:
    v, c = True, False
    svc = "kubernetes:core/v1:Service"
    ing = "kubernetes:networking.k8s.io/v1:Ingress"
    gw = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
    helm = "kubernetes:helm.sh/v3:Release"
    app_provider = provider("tradesense")

    def gateway(listeners: list) -> Any:
        return k8s_obj(gw, "edge", {"spec": {"gatewayClassName": "nginx", "listeners": listeners}}, namespace="nginx-gateway")

    https = {"name": "https", "port": 443, "protocol": "HTTPS", "tls": {"mode": "Terminate", "certificateRefs": [{"name": "tls"}]}}
    rule_ing = "k8s-ingress-require-tls"
    return [
        Case("lb-in-app-namespace", "k8s-service-restrict-load-balancer-and-node-port", [k8s_obj(svc, "api", {"spec": {"type": "LoadBalancer"}})], v),
        Case("nodeport-via-provider-namespace", "k8s-service-restrict-load-balancer-and-node-port",
             [app_provider, k8s_obj(svc, "debug", {"spec": {"type": "NodePort"}}, namespace=None, provider_ref=provider_reference(app_provider))], v),
        Case("lb-at-the-edge", "k8s-service-restrict-load-balancer-and-node-port",
             [k8s_obj(svc, "edge", {"spec": {"type": "LoadBalancer", "selector": {"app.kubernetes.io/name": "nginx-gateway"}}}, namespace="nginx-gateway")], c),
        Case("ingress-apex-not-covered-by-wildcard", rule_ing,
             [k8s_obj(ing, "web", {"spec": {"tls": [{"hosts": ["*.example.com"], "secretName": "t"}], "rules": [{"host": "example.com"}]}})], v),
        Case("ingress-hostless-rule", rule_ing,
             [k8s_obj(ing, "web", {"spec": {"tls": [{"hosts": ["app.example.com"], "secretName": "t"}], "rules": [{"host": "app.example.com"}, {"http": {}}]}})], v),
        Case("ingress-covered", rule_ing,
             [k8s_obj(ing, "web", {"spec": {"tls": [{"hosts": ["*.example.com", "example.com"], "secretName": "t"}], "rules": [{"host": "example.com"}, {"host": "a.example.com"}]}})], c),
        Case("gateway-http-only", "k8s-gateway-require-https-listener-tls", [gateway([{"name": "http", "port": 80, "protocol": "HTTP"}])], v),
        Case("gateway-tls-terminate-no-cert", "k8s-gateway-require-https-listener-tls",
             [gateway([{"name": "tls", "port": 443, "protocol": "TLS", "tls": {"mode": "Terminate"}}])], v),
        Case("gateway-https", "k8s-gateway-require-https-listener-tls", [gateway([{"name": "http", "port": 80, "protocol": "HTTP"}, https])], c),
        Case("helm-tilde-range", "k8s-helm-release-require-pinned-chart",
             [make_resource(helm, "cm", {"chart": "cert-manager", "version": "~1.21", "repositoryOpts": {"repo": "https://charts.jetstack.io"}})], v),
        Case("helm-x-range", "k8s-helm-release-require-pinned-chart",
             [make_resource(helm, "cm", {"chart": "cert-manager", "version": "1.x", "repositoryOpts": {"repo": "https://charts.jetstack.io"}})], v),
        Case("helm-no-repo", "k8s-helm-release-require-pinned-chart", [make_resource(helm, "cm", {"chart": "cert-manager", "version": "v1.21.1"})], v),
        Case("helm-oci-pinned", "k8s-helm-release-require-pinned-chart",
             [make_resource(helm, "ngf", {"chart": "oci://ghcr.io/nginx/charts/nginx-gateway-fabric", "version": "2.6.5"})], c),
    ]


EKS = "aws:eks/cluster:Cluster"


def eks(**changes: Any):
    inputs = {
        "vpcConfig": {"endpointPublicAccess": True, "endpointPrivateAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]},
        "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:eu-west-1:1:key/k"}},
        "enabledClusterLogTypes": ["api", "audit", "authenticator"],
    }
    inputs.update(changes)
    return make_resource(EKS, "eks", inputs)


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any = None, resource: Any = "*", **extra: Any) -> dict:
    statement: dict = {"Effect": "Allow", **extra}
    if action is not None:
        statement["Action"] = action
    if resource is not None:
        statement["Resource"] = resource
    return statement


def aws_cases() -> list[Case]:
    v, c = True, False
    public = "aws-eks-cluster-disallow-public-endpoint"
    iam = "aws-iam-policy-disallow-wildcard-action-on-wildcard-resource"
    kms = "aws-kms-key-require-rotation"
    key = "aws:kms/key:Key"
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"

    def vpc(**cfg: Any) -> dict:
        return {"vpcConfig": {"endpointPublicAccess": True, **cfg}}

    return [
        Case("two-halves-of-ipv4", public, [eks(**vpc(publicAccessCidrs=["0.0.0.0/1", "128.0.0.0/1"]))], v),
        Case("four-quarters-of-ipv4", public, [eks(**vpc(publicAccessCidrs=["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"]))], v),
        Case("host-bits-slash-zero", public, [eks(**vpc(publicAccessCidrs=["10.0.0.0/0"]))], v),
        Case("ipv6-halves", public, [eks(**vpc(publicAccessCidrs=["203.0.113.0/24", "::/1", "8000::/1"]))], v),
        Case("public-unset-cidrs", public, [eks(vpcConfig={"endpointPrivateAccess": True})], v),
        Case("almost-world", public, [eks(**vpc(publicAccessCidrs=["0.0.0.0/1", "128.0.0.0/2"]))], c),
        Case("private-endpoint-string", public, [eks(vpcConfig={"endpointPublicAccess": "false", "endpointPrivateAccess": True})], c),
        Case("encrypts-configmaps-only", "aws-eks-cluster-require-secrets-encryption",
             [eks(encryptionConfig={"resources": ["configmaps"], "provider": {"keyArn": "arn:aws:kms:eu-west-1:1:key/k"}})], v),
        Case("encrypts-secrets-and-configmaps", "aws-eks-cluster-require-secrets-encryption",
             [eks(encryptionConfig={"resources": ["configmaps", "secrets"], "provider": {"keyArn": "arn:aws:kms:eu-west-1:1:key/k"}})], c),
        Case("audit-missing", "aws-eks-cluster-require-audit-logging", [eks(enabledClusterLogTypes=["api", "authenticator"])], v),
        Case("hardened-eks", "aws-eks-cluster-require-audit-logging", [eks()], c),
        Case("rotation-string-false", kms, [make_resource(key, "k", {"enableKeyRotation": "false"})], v),
        Case("rotation-unset", kms, [make_resource(key, "k", {"description": "backups"})], v),
        Case("custom-key-store", kms, [make_resource(key, "k", {"customKeyStoreId": "cks-1234567890abcdef0"})], c),
        Case("external-key-store", kms, [make_resource(key, "k", {"customKeyStoreId": "cks-x", "xksKeyId": "ext-key-1"})], c),
        Case("external-origin", kms, [make_resource(key, "k", {"origin": "EXTERNAL"})], c),
        Case("asymmetric-signing", kms, [make_resource(key, "k", {"customerMasterKeySpec": "ECC_NIST_P256", "keyUsage": "SIGN_VERIFY"})], c),
        Case("not-action", iam, [make_resource("aws:iam/policy:Policy", "p", {"policy": doc(allow(None, "*", NotAction="iam:DeleteAccountAlias"))})], v),
        Case("not-resource", iam, [make_resource("aws:iam/policy:Policy", "p", {"policy": doc(allow("*", None, NotResource="arn:aws:s3:::logs"))})], v),
        Case("iam-star", iam, [make_resource("aws:iam/rolePolicy:RolePolicy", "p", {"role": "app", "policy": doc(allow("iam:*"))})], v),
        Case("iam-star-uppercase", iam, [make_resource("aws:iam/userPolicy:UserPolicy", "p", {"user": "ci", "policy": doc(allow(["s3:GetObject", "IAM:*"]))})], v),
        Case("sts-star", iam, [make_resource("aws:iam/groupPolicy:GroupPolicy", "p", {"group": "dev", "policy": doc(allow("sts:*"))})], v),
        Case("star-colon-star-single-statement", iam,
             [make_resource("aws:iam/policy:Policy", "p", {"policy": json.dumps({"Statement": allow("*:*", "arn:*")})})], v),
        Case("policy-document-object", iam, [make_resource("aws:iam/policy:Policy", "p", {"policy": {"Version": "2012-10-17", "Statement": [allow("*")]}})], v),
        Case("exclusive-attachments-admin", iam,
             [make_resource("aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive", "x", {"roleName": "app", "policyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess", admin]})], v),
        Case("group-exclusive-iam-full", iam,
             [make_resource("aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive", "x", {"groupName": "dev", "policyArns": ["arn:aws:iam::aws:policy/IAMFullAccess"]})], v),
        Case("sso-admin", iam,
             [make_resource("aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment", "x", {"managedPolicyArn": admin, "instanceArn": "i", "permissionSetArn": "p"})], v),
        Case("sso-inline", iam,
             [make_resource("aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy", "x", {"inlinePolicy": doc(allow("*")), "instanceArn": "i", "permissionSetArn": "p"})], v),
        Case("policy-attachment-admin", iam, [make_resource("aws:iam/policyAttachment:PolicyAttachment", "x", {"policyArn": admin, "roles": ["app"]})], v),
        Case("scoped-read", iam, [make_resource("aws:iam/policy:Policy", "p", {"policy": doc(allow(["s3:GetObject", "iam:GetRole"]))})], c),
        Case("deny-everything", iam, [make_resource("aws:iam/policy:Policy", "p", {"policy": doc({"Effect": "Deny", "Action": "*", "Resource": "*"})})], c),
        Case("customer-policy-named-admin", iam,
             [make_resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "x", {"role": "app", "policyArn": "arn:aws:iam::123456789012:policy/AdministratorAccessReview"})], c),
    ]


BUCKET = "aws:s3/bucketV2:BucketV2"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"


def bucket(name: str = "uploads"):
    return make_resource(BUCKET, name, {"bucket": f"ts-{name}"})


def linked(target, type_: str, name: str, inputs: dict):
    return make_resource(type_, name, {"bucket": target.inputs["bucket"], **inputs})


def tls_doc(bucket_name: str = "ts-uploads", **changes: Any) -> str:
    statement = {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": [f"arn:aws:s3:::{bucket_name}", f"arn:aws:s3:::{bucket_name}/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    statement.update(changes)
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def s3_cases() -> list[Case]:
    v, c = True, False
    tls = "aws-s3-bucket-require-tls"
    pab = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
    flags = {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}
    b = bucket()

    def tls_case(id_: str, policy: str, violating: bool) -> Case:
        return Case(id_, tls, [b, linked(b, POLICY, "policy", {"policy": policy})], violating)

    return [
        tls_case("deny-get-only", tls_doc(Action="s3:GetObject"), v),
        tls_case("deny-objects-only", tls_doc(Resource="arn:aws:s3:::ts-uploads/*"), v),
        tls_case("deny-bucket-only", tls_doc(Resource="arn:aws:s3:::ts-uploads"), v),
        tls_case("deny-one-account", tls_doc(Principal={"AWS": "arn:aws:iam::123456789012:root"}), v),
        tls_case("wrong-operator", tls_doc(Condition={"StringEquals": {"aws:SecureTransport": "false"}}), v),
        tls_case("narrowed-by-extra-condition", tls_doc(Condition={"Bool": {"aws:SecureTransport": "false"}, "StringEquals": {"aws:SourceVpce": "vpce-1"}}), v),
        tls_case("allow-not-deny", tls_doc(Effect="Allow"), v),
        tls_case("not-action-deny", json.dumps({"Statement": [{**json.loads(tls_doc())["Statement"][0], "NotAction": "s3:GetObject"}]}), v),
        tls_case("other-bucket-arn", tls_doc("ts-assets"), v),
        tls_case("bool-if-exists", tls_doc(Condition={"BoolIfExists": {"aws:SecureTransport": "false"}}), c),
        tls_case("json-boolean-false-and-aws-star", tls_doc(Principal={"AWS": "*"}, Condition={"Bool": {"aws:SecureTransport": False}}), c),
        tls_case("action-star-resource-wildcard", tls_doc(Action="*", Resource=["arn:aws:s3:::ts-uploads*"]), c),
        Case("pab-three-flags", "aws-s3-bucket-disallow-public-access", [b, linked(b, pab, "pab", {**flags, "restrictPublicBuckets": False})], v),
        Case("acl-resource-public", "aws-s3-bucket-disallow-public-access",
             [b, linked(b, pab, "pab", flags), linked(b, "aws:s3/bucketAclV2:BucketAclV2", "acl", {"acl": "public-read"})], v),
        Case("acl-grant-all-users", "aws-s3-bucket-disallow-public-access",
             [b, linked(b, pab, "pab", flags), linked(b, "aws:s3/bucketAclV2:BucketAclV2", "acl", {"accessControlPolicy": {"grants": [
                 {"grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"}, "permission": "READ"}], "owner": {"id": "o"}}})], v),
        Case("account-level-block", "aws-s3-bucket-disallow-public-access",
             [b, make_resource("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock", "account", flags)], c),
        Case("sse-without-algorithm", "aws-s3-bucket-require-encryption",
             [b, linked(b, "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "sse", {"rules": [{"bucketKeyEnabled": True}]})], v),
        Case("sse-kms-inline-rule-list", "aws-s3-bucket-require-encryption",
             [b, linked(b, "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "sse",
                        {"rules": [{"bucketKeyEnabled": True}, {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms:dsse"}}]})], c),
        Case("versioning-suspended", "aws-s3-bucket-require-versioning",
             [b, linked(b, "aws:s3/bucketVersioningV2:BucketVersioningV2", "ver", {"versioningConfiguration": {"status": "Suspended"}})], v),
        Case("versioning-enabled", "aws-s3-bucket-require-versioning",
             [b, linked(b, "aws:s3/bucketVersioningV2:BucketVersioningV2", "ver", {"versioningConfiguration": {"status": "Enabled"}})], c),
    ]


def cloud_misc_cases() -> list[Case]:
    v, c = True, False
    doks = "digitalocean:index/kubernetesCluster:KubernetesCluster"
    subnet = "aws:ec2/subnet:Subnet"
    public_subnet = make_resource(subnet, "public-a", {"cidrBlock": "10.0.0.0/24", "tagsAll": {"kubernetes.io/role/elb": "1"}})
    private_subnet = make_resource(subnet, "private-a", {"cidrBlock": "10.0.1.0/24", "tags": {"kubernetes.io/role/internal-elb": "1"}})

    def group(*subnets):
        return make_resource("aws:eks/nodeGroup:NodeGroup", "nodes", {"subnetIds": [s.id for s in subnets]},
                             property_dependencies={"subnetIds": [s.urn for s in subnets]})

    def cluster(**inputs: Any):
        return make_resource(doks, "doks", {"region": "fra1", "version": "1.35.1-do.0", "autoUpgrade": True, "surgeUpgrade": True,
                                            "maintenancePolicy": {"day": "sunday", "startTime": "03:00"}, **inputs})

    return [
        Case("nodes-in-elb-tagged-subnet", "aws-eks-node-group-require-private-subnets", [public_subnet, private_subnet, group(private_subnet, public_subnet)], v),
        Case("nodes-public-ip-string", "aws-eks-node-group-require-private-subnets",
             [make_resource(subnet, "s", {"mapPublicIpOnLaunch": "true"}), group(make_resource(subnet, "s", {"mapPublicIpOnLaunch": "true"}))], v),
        Case("nodes-private", "aws-eks-node-group-require-private-subnets", [private_subnet, group(private_subnet)], c),
        Case("doks-auto-upgrade-string", "do-kubernetes-cluster-require-auto-upgrade", [cluster(autoUpgrade="false")], v),
        Case("doks-window-no-start", "do-kubernetes-cluster-require-maintenance-window", [cluster(maintenancePolicy={"day": "any"})], v),
        Case("doks-surge-off", "do-kubernetes-cluster-require-surge-upgrade", [cluster(surgeUpgrade=False)], v),
        Case("doks-hardened-auto-upgrade", "do-kubernetes-cluster-require-auto-upgrade", [cluster()], c),
        Case("doks-hardened-window", "do-kubernetes-cluster-require-maintenance-window", [cluster()], c),
        Case("doks-surge-by-default", "do-kubernetes-cluster-require-surge-upgrade",
             [make_resource(doks, "doks", {"region": "fra1", "version": "1.35.1-do.0", "autoUpgrade": True})], c),
        Case("doks-ha-old-default", "do-kubernetes-cluster-require-ha", [cluster(version="1.34.2-do.0")], v),
        Case("doks-ha-new-default", "do-kubernetes-cluster-require-ha", [cluster(version="1.36.0-do.0")], c),
    ]


NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def netpol(name: str, spec: dict, namespace: Any = "tradesense", provider_ref: str = ""):
    return k8s_obj(NP, name, {"spec": spec}, namespace=namespace, provider_ref=provider_ref)


def stack_cases() -> list[Case]:
    v, c = True, False
    deny = "k8s-namespace-require-default-deny-network-policy"
    selected = "k8s-pod-require-network-policy"
    pdb_rule = "k8s-workload-require-pod-disruption-budget"
    ns = k8s_obj("kubernetes:core/v1:Namespace", "tradesense", {}, namespace=None)
    ingress_only = netpol("deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]})
    egress_only = netpol("deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})
    implied_ingress = netpol("deny-ingress", {"podSelector": {}})
    allow_worker = netpol("allow-worker", {"podSelector": {"matchLabels": NS_LABEL}, "ingress": [{}]})
    app_provider = provider("tradesense")
    ref = provider_reference(app_provider)
    pdb = "kubernetes:policy/v1:PodDisruptionBudget"
    hpa = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
    backup = "stack-require-backup-cronjob"

    def cronjob(labels: dict, suspend: bool = False):
        resource = pod("CronJob", name="redis-backup")
        resource.inputs["metadata"]["labels"] = labels
        resource.inputs["spec"]["suspend"] = suspend
        resource.outputs.update(copy.deepcopy(resource.inputs))
        return resource

    fleet = [make_resource("aws:eks/cluster:Cluster", "cluster", {"version": "1.35"}),
             make_resource("aws:eks/nodeGroup:NodeGroup", "nodes", {"instanceTypes": ["t3.large"], "scalingConfig": {"minSize": 10, "maxSize": 12, "desiredSize": 10}})]
    return [
        Case("ingress-only-deny", deny, [ns, ingress_only, pod()], v),
        Case("deny-allows-some-egress", deny, [ns, pod(), ingress_only, netpol("deny-egress", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})], v),
        Case("namespace-only-via-provider-default", deny, [app_provider, pod(namespace=None, provider=ref)], v),
        Case("split-deny", deny, [ns, implied_ingress, egress_only], c),
        Case("split-deny-via-provider-namespace", deny,
             [app_provider, ns, pod(namespace=None, provider=ref), netpol("deny-ingress", {"podSelector": {}}, namespace=None, provider_ref=ref),
              netpol("deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]}, namespace=None, provider_ref=ref)], c),
        Case("pod-in-provider-namespace-unselected", selected, [app_provider, ns, implied_ingress, pod(namespace=None, provider=ref)], v),
        Case("selector-for-other-labels", selected, [ns, netpol("allow-api", {"podSelector": {"matchLabels": {"app": "api"}}, "ingress": [{}]}), pod()], v),
        Case("selected-via-provider-namespace", selected,
             [app_provider, ns, pod(namespace=None, provider=ref), netpol("allow-worker", allow_worker.inputs["spec"], namespace=None, provider_ref=ref)], c),
        Case("label-less-patch-is-not-a-new-pod", selected, [ns, allow_worker, pod(), pod("DeploymentPatch", name="worker-patch", labels={"patched": "yes"})], c),
        Case("replicationcontroller-unselected", selected, [ns, allow_worker, pod("ReplicationController", labels={"app": "legacy"})], v),
        Case("three-replicas-no-pdb", pdb_rule, [pod(replicas=3)], v),
        Case("pdb-null-selector", pdb_rule, [pod("StatefulSet", replicas=2), k8s_obj(pdb, "w", {"spec": {"minAvailable": 1}})], v),
        Case("pdb-matching", pdb_rule, [pod(replicas=2), k8s_obj(pdb, "w", {"spec": {"minAvailable": 1, "selector": {"matchLabels": NS_LABEL}}})], c),
        Case("hpa-min-one-prod", "k8s-hpa-require-min-replicas",
             [k8s_obj(hpa, "w", {"spec": {"minReplicas": 1, "maxReplicas": 5, "scaleTargetRef": {"kind": "Deployment", "name": "worker"}}})], v),
        Case("hpa-min-three", "k8s-hpa-require-min-replicas",
             [k8s_obj(hpa, "w", {"spec": {"minReplicas": 3, "maxReplicas": 5, "scaleTargetRef": {"kind": "Deployment", "name": "worker"}}})], c),
        Case("backup-suspended", backup, [cronjob({"app.kubernetes.io/component": "backup"}, suspend=True)], v),
        Case("backup-mislabelled", backup, [cronjob({"app.kubernetes.io/component": "backups"})], v),
        Case("backup-active", backup, [cronjob({"app.kubernetes.io/component": "backup"})], c),
        Case("unprotected-statefulset", "stack-stateful-resources-require-protect", [pod("StatefulSet")], v),
        Case("protected-bucket", "stack-stateful-resources-require-protect", [make_resource(BUCKET, "b", {"bucket": "x"}, protect=True)], c),
        # Ten t3.large nodes alone cost about 607 USD a month.
        Case("budget-blown-by-node-floor", "budget", fleet, v, config={"budget": {"monthlyBudgetUsd": 300}}),
        Case("budget-covers-fleet", "budget", fleet, c, config={"budget": {"monthlyBudgetUsd": 5000}}),
    ]


def all_cases() -> list[Case]:
    from .adversarial_effect_cases import effect_cases  # the second round (issue 18)

    return [*pod_cases(), *env_cases(), *exposure_cases(), *aws_cases(), *s3_cases(), *cloud_misc_cases(), *stack_cases(), *effect_cases()]
