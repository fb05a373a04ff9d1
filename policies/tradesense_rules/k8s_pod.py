"""Pod rules for every pod-bearing kind: the Pod Security Standards "restricted" profile plus
read-only root filesystems, resources, probes, pinned images, token automount, namespaces and
secrets in env. Each check yields one message per violation and skips values unknown at preview.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Iterator

from ._util import (
    ADVISORY,
    LONG_RUNNING_KINDS,
    MANDATORY,
    Workload,
    as_list,
    effective,
    get,
    is_mapping,
    known_list,
    matches_any,
    pod_policy,
    skip_unknown,
    string_list,
    truthy,
)

# PSS restricted: the only volume types a restricted pod may mount.
RESTRICTED_VOLUME_TYPES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]
# Keys of a volume entry that are not its type.
_VOLUME_META_KEYS = {"name"}


def privileged(workload: Workload, config: Mapping) -> Iterator[str]:
    for role, name, container in workload.containers():
        with skip_unknown():
            if truthy(get(container, "securityContext", "privileged", default=False)):
                yield f"{role} '{name}' in {workload.describe()} sets securityContext.privileged=true"


def privilege_escalation(workload: Workload, config: Mapping) -> Iterator[str]:
    # Unset means allowed (the kernel's no_new_privs is off), so restricted needs an explicit false.
    for role, name, container in workload.containers():
        with skip_unknown():
            value = get(container, "securityContext", "allowPrivilegeEscalation")
            if value is None or truthy(value):
                state = "leaves securityContext.allowPrivilegeEscalation unset (defaults to true)" if value is None else "sets securityContext.allowPrivilegeEscalation=true"
                yield f"{role} '{name}' in {workload.describe()} {state}"


def run_as_non_root(workload: Workload, config: Mapping) -> Iterator[str]:
    for role, name, container in workload.containers():
        with skip_unknown():
            if not truthy(effective(container, workload.spec, "runAsNonRoot") or False):
                yield f"{role} '{name}' in {workload.describe()} does not set runAsNonRoot=true (pod or container securityContext)"


def run_as_root_user(workload: Workload, config: Mapping) -> Iterator[str]:
    with skip_unknown():
        value = get(workload.spec, "securityContext", "runAsUser")
        if value is not None and float(value) == 0:
            yield f"{workload.describe()} sets pod securityContext.runAsUser=0 (root)"
    for role, name, container in workload.containers():
        with skip_unknown():
            value = get(container, "securityContext", "runAsUser")
            if value is not None and float(value) == 0:
                yield f"{role} '{name}' in {workload.describe()} sets securityContext.runAsUser=0 (root)"


def drop_all_capabilities(workload: Workload, config: Mapping) -> Iterator[str]:
    for role, name, container in workload.containers():
        with skip_unknown():
            dropped = {str(c).upper() for c in as_list(get(container, "securityContext", "capabilities", "drop"))}
            if "ALL" not in dropped:
                yield f"{role} '{name}' in {workload.describe()} does not drop ALL capabilities (securityContext.capabilities.drop)"


def added_capabilities(workload: Workload, config: Mapping) -> Iterator[str]:
    allowed = {c.upper() for c in config.get("allowedCapabilities", ["NET_BIND_SERVICE"])}
    for role, name, container in workload.containers():
        with skip_unknown():
            added = [str(c) for c in as_list(get(container, "securityContext", "capabilities", "add"))]
            extra = sorted({c for c in added if c.upper().removeprefix("CAP_") not in allowed})
            if extra:
                yield f"{role} '{name}' in {workload.describe()} adds capabilities {extra}; only {sorted(allowed)} may be added"


def seccomp_profile(workload: Workload, config: Mapping) -> Iterator[str]:
    allowed = {"RuntimeDefault", "Localhost"}
    for role, name, container in workload.containers():
        with skip_unknown():
            profile = effective(container, workload.spec, "seccompProfile")
            kind = get(profile, "type") if is_mapping(profile) else None
            if kind not in allowed:
                state = "sets no seccompProfile" if kind is None else f"uses seccompProfile type {kind}"
                yield f"{role} '{name}' in {workload.describe()} {state}; RuntimeDefault or Localhost is required"


def host_namespaces(workload: Workload, config: Mapping) -> Iterator[str]:
    for field_name in ("hostNetwork", "hostPID", "hostIPC"):
        with skip_unknown():
            if truthy(get(workload.spec, field_name, default=False)):
                yield f"{workload.describe()} sets {field_name}=true"


def host_path_volumes(workload: Workload, config: Mapping) -> Iterator[str]:
    for volume in known_list(workload.spec, "volumes"):
        with skip_unknown():
            if get(volume, "hostPath") is not None:
                yield f"{workload.describe()} mounts hostPath volume '{get(volume, 'name')}' ({get(volume, 'hostPath', 'path')})"


def host_ports(workload: Workload, config: Mapping) -> Iterator[str]:
    allowed = {int(p) for p in config.get("allowedHostPorts", [])}
    for role, name, container in workload.containers():
        for port in known_list(container, "ports"):
            with skip_unknown():
                host_port = get(port, "hostPort")
                if host_port and int(float(host_port)) not in allowed:
                    yield f"{role} '{name}' in {workload.describe()} binds hostPort {int(float(host_port))}"


def volume_types(workload: Workload, config: Mapping) -> Iterator[str]:
    allowed = set(config.get("allowedVolumeTypes", RESTRICTED_VOLUME_TYPES))
    for volume in known_list(workload.spec, "volumes"):
        with skip_unknown():
            types = [key for key in volume if key not in _VOLUME_META_KEYS]
            bad = sorted(t for t in types if t not in allowed)
            if bad:
                yield f"{workload.describe()} volume '{get(volume, 'name')}' uses type {', '.join(bad)}; allowed: {sorted(allowed)}"


def read_only_root_filesystem(workload: Workload, config: Mapping) -> Iterator[str]:
    for role, name, container in workload.containers():
        if role == "ephemeral container":
            continue  # debug containers are added by kubectl debug, not by this program
        with skip_unknown():
            if not truthy(get(container, "securityContext", "readOnlyRootFilesystem", default=False)):
                yield f"{role} '{name}' in {workload.describe()} does not set securityContext.readOnlyRootFilesystem=true"


def resources(workload: Workload, config: Mapping) -> Iterator[str]:
    for role, name, container in workload.containers():
        if role == "ephemeral container":
            continue
        with skip_unknown():
            missing = [
                f"{section}.{resource}"
                for section in ("requests", "limits")
                for resource in ("cpu", "memory")
                if get(container, "resources", section, resource) in (None, "")
            ]
            if missing:
                yield f"{role} '{name}' in {workload.describe()} has no resources {', '.join(missing)}"


def probes(workload: Workload, config: Mapping) -> Iterator[str]:
    # Only regular containers: init containers run to completion and take no probes.
    for role, name, container in workload.containers():
        if role != "container":
            continue
        with skip_unknown():
            missing = [probe for probe in ("livenessProbe", "readinessProbe") if get(container, probe) is None]
            if missing:
                yield f"container '{name}' in {workload.describe()} has no {' or '.join(missing)}"


_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_problem(image: str, require_digest: bool) -> str | None:
    repository, _, digest = image.partition("@")
    last = repository.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] if ":" in last else ""
    if tag == "latest":
        return "uses the mutable tag 'latest'"
    if not tag and not digest:
        return "has no tag (defaults to 'latest')"
    if require_digest and not _DIGEST.search(image):
        return "is not pinned by digest (@sha256:...)"
    return None


def pinned_images(workload: Workload, config: Mapping) -> Iterator[str]:
    require_digest = bool(config.get("requireDigest", False))
    for role, name, container in workload.containers():
        with skip_unknown():
            image = get(container, "image")
            if not image:
                yield f"{role} '{name}' in {workload.describe()} has no image"
                continue
            problem = image_problem(str(image), require_digest)
            if problem:
                yield f"{role} '{name}' in {workload.describe()}: image '{image}' {problem}"


def token_automount(workload: Workload, config: Mapping) -> Iterator[str]:
    with skip_unknown():
        account = get(workload.spec, "serviceAccountName") or get(workload.spec, "serviceAccount") or "default"
        if matches_any(f"{workload.namespace}/{account}", config.get("allowedServiceAccounts") or ()):
            return
        # Unset means the token is mounted (unless the ServiceAccount says otherwise, which a
        # resource rule cannot see), so the pod must opt out explicitly.
        value = get(workload.spec, "automountServiceAccountToken")
        if value is None or truthy(value):
            state = "leaves automountServiceAccountToken unset (defaults to true)" if value is None else "sets automountServiceAccountToken=true"
            yield f"{workload.describe()} {state}; set it to false or allow-list '{workload.namespace}/{account}'"


def default_namespace(workload: Workload, config: Mapping) -> Iterator[str]:
    if workload.namespace == "default":
        yield f"{workload.describe()} runs in the 'default' namespace"


# Env names that hold credentials: matched on whole `_`-separated words.
SECRET_NAME_WORDS = {"PASSWORD", "PASSWD", "PASS", "SECRET", "SECRETS", "TOKEN", "KEY", "APIKEY", "DSN", "CREDENTIAL", "CREDENTIALS"}
SECRET_NAMES = {"DATABASE_URL", "DB_URL", "REDIS_URL", "AMQP_URL", "CONNECTION_STRING"}
# Literal values that are credentials whatever the variable is called.
SECRET_VALUE_PATTERNS = [
    (re.compile(r"\b[sr]k_(live|test)_[0-9A-Za-z]{8,}"), "a Stripe API key"),
    (re.compile(r"\bwhsec_[0-9A-Za-z]{8,}"), "a Stripe webhook secret"),
    (re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"), "a URL with an embedded password"),
    (re.compile(r"\bA(KIA|SIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"\bgh[pousr]_[0-9A-Za-z]{30,}"), "a GitHub token"),
    (re.compile(r"\bxox[abprs]-[0-9A-Za-z-]{10,}"), "a Slack token"),
    (re.compile(r"\beyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\."), "a JWT"),
]


# Values meant for browsers (e.g. PUBLIC_STRIPE_KEY, a publishable pk_ key) are public by design.
PUBLIC_NAME_WORDS = {"PUBLIC", "PUBLISHABLE"}


# `*_FILE` variables (POSTGRES_PASSWORD_FILE) hold the path of a mounted secret file: the
# pattern this rule recommends, not a credential.
PATH_SUFFIXES = ("_FILE", "_PATH", "_DIR")


def secret_like_name(env_name: str) -> bool:
    upper = env_name.upper()
    if upper in SECRET_NAMES:
        return True
    if upper.endswith(PATH_SUFFIXES):
        return False
    words = set(re.split(r"[_.-]+", upper))
    return not words & PUBLIC_NAME_WORDS and bool(words & SECRET_NAME_WORDS)


def literal_secret_env(workload: Workload, config: Mapping) -> Iterator[str]:
    allowed = set(config.get("allowedEnvNames") or [])
    for role, name, container in workload.containers():
        for entry in known_list(container, "env"):
            with skip_unknown():
                env_name = str(get(entry, "name") or "")
                if env_name in allowed:
                    continue
                where = f"env {env_name} of {role} '{name}' in {workload.describe()}"
                value = get(entry, "value")
                if isinstance(value, str):
                    for pattern, what in SECRET_VALUE_PATTERNS:
                        if pattern.search(value):
                            yield f"{where} holds {what} as a literal value; use valueFrom.secretKeyRef"
                            break
                    else:
                        if value and secret_like_name(env_name):
                            yield f"{where} looks like a secret but is a literal value; use valueFrom.secretKeyRef"
                    continue
                if secret_like_name(env_name) and get(entry, "valueFrom", "secretKeyRef") is None:
                    yield f"{where} looks like a secret but is not read from valueFrom.secretKeyRef"


POD_POLICIES = [
    pod_policy("k8s-pod-disallow-privileged", "Containers must not run privileged (PSS baseline/restricted).", privileged, MANDATORY),
    pod_policy(
        "k8s-pod-disallow-privilege-escalation",
        "Containers must set securityContext.allowPrivilegeEscalation=false (PSS restricted).",
        privilege_escalation,
        MANDATORY,
    ),
    pod_policy(
        "k8s-pod-require-run-as-non-root",
        "Containers must run with runAsNonRoot=true, set on the pod or every container (PSS restricted).",
        run_as_non_root,
        MANDATORY,
    ),
    pod_policy(
        "k8s-pod-disallow-run-as-root-user",
        "Pods and containers must not set runAsUser=0 (PSS restricted).",
        run_as_root_user,
        MANDATORY,
    ),
    pod_policy(
        "k8s-pod-require-drop-all-capabilities",
        "Containers must drop ALL Linux capabilities (PSS restricted).",
        drop_all_capabilities,
        MANDATORY,
    ),
    pod_policy(
        "k8s-pod-restrict-added-capabilities",
        "Containers may add back only NET_BIND_SERVICE (PSS restricted).",
        added_capabilities,
        MANDATORY,
        options={"allowedCapabilities": string_list("Capabilities a container may add.", ["NET_BIND_SERVICE"])},
    ),
    pod_policy(
        "k8s-pod-require-seccomp-profile",
        "Pods or containers must use the RuntimeDefault or Localhost seccomp profile (PSS restricted).",
        seccomp_profile,
        MANDATORY,
    ),
    pod_policy(
        "k8s-pod-disallow-host-namespaces",
        "Pods must not share the host's network, PID or IPC namespace (PSS baseline).",
        host_namespaces,
        MANDATORY,
    ),
    pod_policy("k8s-pod-disallow-host-path-volumes", "Pods must not mount hostPath volumes (PSS baseline).", host_path_volumes, MANDATORY),
    pod_policy(
        "k8s-pod-disallow-host-ports",
        "Containers must not bind host ports (PSS baseline).",
        host_ports,
        MANDATORY,
        options={"allowedHostPorts": {"type": "array", "items": {"type": "integer"}, "default": [], "description": "Host ports that may be bound."}},
    ),
    pod_policy(
        "k8s-pod-restrict-volume-types",
        "Pods may only use the volume types the PSS restricted profile allows.",
        volume_types,
        MANDATORY,
        options={"allowedVolumeTypes": string_list("Volume types a pod may use.", RESTRICTED_VOLUME_TYPES)},
    ),
    pod_policy(
        "k8s-pod-require-read-only-root-filesystem",
        "Containers must run with securityContext.readOnlyRootFilesystem=true.",
        read_only_root_filesystem,
        MANDATORY,
    ),
    pod_policy(
        "k8s-pod-require-resource-requests-and-limits",
        "Containers must set CPU and memory requests and limits.",
        resources,
        ADVISORY,
    ),
    pod_policy(
        "k8s-pod-require-liveness-and-readiness-probes",
        "Containers of long-running workloads (Deployment, StatefulSet, DaemonSet) must define liveness and readiness probes.",
        probes,
        ADVISORY,
        kinds=LONG_RUNNING_KINDS,
    ),
    pod_policy(
        "k8s-pod-require-pinned-image",
        "Container images must be pinned: no 'latest', no missing tag, and a digest when requireDigest is set.",
        pinned_images,
        MANDATORY,
        options={"requireDigest": {"type": "boolean", "default": False, "description": "Also require an @sha256 digest."}},
    ),
    pod_policy(
        "k8s-pod-disable-service-account-token-automount",
        "Pods must set automountServiceAccountToken=false unless their ServiceAccount is allow-listed.",
        token_automount,
        MANDATORY,
        options={
            "allowedServiceAccounts": string_list(
                "'namespace/serviceaccount' glob patterns whose pods may mount an API token.", []
            )
        },
    ),
    pod_policy(
        "k8s-pod-disallow-default-namespace",
        "Workloads must not run in the 'default' namespace.",
        default_namespace,
        MANDATORY,
    ),
    pod_policy(
        "k8s-pod-disallow-literal-secret-env",
        "Env vars that look like secrets must come from valueFrom.secretKeyRef, and no env value may be a literal credential.",
        literal_secret_env,
        MANDATORY,
        options={"allowedEnvNames": string_list("Env var names exempt from the secret-name heuristic.", [])},
    ),
]
