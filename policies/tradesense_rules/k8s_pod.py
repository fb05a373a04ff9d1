"""Pod rules for every pod-bearing kind (every API version, their *Patch and *List forms): the
Kubernetes Pod Security Standards, baseline and restricted, control by control, plus
read-only root filesystems, resources, probes, pinned images, token automount, namespaces and
secrets in env. Each check yields one message per violation and skips values unknown at preview.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Iterable, Iterator, Optional
from urllib.parse import parse_qsl, urlsplit

from pulumi_policy import PolicyConfigSchema, ResourceValidationPolicy
from pulumi_policy.proxy import UnknownValueError

from ._util import (
    ADVISORY,
    MANDATORY,
    Workload,
    as_list,
    effective,
    get,
    is_mapping,
    known_list,
    label,
    matches_any,
    pod_policy,
    skip_unknown,
    string_list,
    truthy,
)

PSS = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
# PSS restricted "Volume Types": the only volume types a restricted pod may mount.
RESTRICTED_VOLUME_TYPES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]
# Keys of a volume entry that are not its type.
_VOLUME_META_KEYS = {"name"}
# PSS baseline "Sysctls": the safe set (namespaced, isolated from other pods on the node).
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
})
# PSS baseline "SELinux": the container types a pod may ask for ("" or unset is the default).
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def _contexts(workload: Workload) -> Iterator[tuple[str, Mapping]]:
    """(where, pod spec) then (container description, container) for every container: the
    places a securityContext field may be set."""
    yield f"{workload.describe()} (pod)", workload.spec
    for role, name, container in workload.containers():
        yield f"{role} '{name}' in {workload.describe()}", container


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
            if value is None and workload.partial:
                continue
            if value is None or truthy(value):
                state = "leaves securityContext.allowPrivilegeEscalation unset (defaults to true)" if value is None else "sets securityContext.allowPrivilegeEscalation=true"
                yield f"{role} '{name}' in {workload.describe()} {state}"


def run_as_non_root(workload: Workload, config: Mapping) -> Iterator[str]:
    # Admission rejects an explicit pod-level false even when every container sets true.
    with skip_unknown():
        pod_value = get(workload.spec, "securityContext", "runAsNonRoot")
        if pod_value is not None and not truthy(pod_value):
            yield f"{workload.describe()} sets pod securityContext.runAsNonRoot=false"
    for role, name, container in workload.containers():
        with skip_unknown():
            value = effective(container, workload.spec, "runAsNonRoot")
            if value is None and workload.partial:
                continue
            if not truthy(value or False):
                yield f"{role} '{name}' in {workload.describe()} does not set runAsNonRoot=true (pod or container securityContext)"


def run_as_root_user(workload: Workload, config: Mapping) -> Iterator[str]:
    for where, holder in _contexts(workload):
        with skip_unknown():
            value = get(holder, "securityContext", "runAsUser")
            if value is not None and float(value) == 0:
                yield f"{where} sets {'pod ' if holder is workload.spec else ''}securityContext.runAsUser=0 (root)"


def drop_all_capabilities(workload: Workload, config: Mapping) -> Iterator[str]:
    # Admission matches the literal "ALL": "all" or "CAP_ALL" do not count.
    for role, name, container in workload.containers():
        with skip_unknown():
            drop = get(container, "securityContext", "capabilities", "drop")
            if drop is None and workload.partial:
                continue
            if "ALL" not in {str(c) for c in as_list(drop)}:
                yield f"{role} '{name}' in {workload.describe()} does not drop ALL capabilities (securityContext.capabilities.drop must list the literal 'ALL')"


def added_capabilities(workload: Workload, config: Mapping) -> Iterator[str]:
    # Exact names, as admission compares them: "net_bind_service" or "CAP_SYS_ADMIN" are not allowed.
    allowed = set(config.get("allowedCapabilities", ["NET_BIND_SERVICE"]))
    for role, name, container in workload.containers():
        with skip_unknown():
            added = [str(c) for c in as_list(get(container, "securityContext", "capabilities", "add"))]
            extra = sorted({c for c in added if c not in allowed})
            if extra:
                yield f"{role} '{name}' in {workload.describe()} adds capabilities {extra}; only {sorted(allowed)} may be added"


def seccomp_profile(workload: Workload, config: Mapping) -> Iterator[str]:
    # An explicit pod-level profile must be allowed too, even when every container overrides it.
    with skip_unknown():
        pod_type = get(workload.spec, "securityContext", "seccompProfile", "type")
        if pod_type is not None and pod_type not in SECCOMP_TYPES:
            yield f"{workload.describe()} uses pod seccompProfile type {pod_type}; RuntimeDefault or Localhost is required"
    for role, name, container in workload.containers():
        with skip_unknown():
            profile = effective(container, workload.spec, "seccompProfile")
            kind = get(profile, "type") if is_mapping(profile) else None
            if kind is None and workload.partial:
                continue
            if kind not in SECCOMP_TYPES:
                state = "sets no seccompProfile" if kind is None else f"uses seccompProfile type {kind}"
                yield f"{role} '{name}' in {workload.describe()} {state}; RuntimeDefault or Localhost is required"


def host_namespaces(workload: Workload, config: Mapping) -> Iterator[str]:
    for field_name in ("hostNetwork", "hostPID", "hostIPC"):
        with skip_unknown():
            if truthy(get(workload.spec, field_name, default=False)):
                yield f"{workload.describe()} sets {field_name}=true"


def host_process(workload: Workload, config: Mapping) -> Iterator[str]:
    for where, holder in _contexts(workload):
        with skip_unknown():
            if truthy(get(holder, "securityContext", "windowsOptions", "hostProcess", default=False)):
                yield f"{where} sets securityContext.windowsOptions.hostProcess=true (Windows HostProcess)"


def proc_mount(workload: Workload, config: Mapping) -> Iterator[str]:
    for role, name, container in workload.containers():
        with skip_unknown():
            value = get(container, "securityContext", "procMount")
            if value is not None and value != "Default":
                yield f"{role} '{name}' in {workload.describe()} sets securityContext.procMount={value}; only Default is allowed"


def sysctls(workload: Workload, config: Mapping) -> Iterator[str]:
    for entry in known_list(workload.spec, "securityContext", "sysctls"):
        with skip_unknown():
            sysctl = str(get(entry, "name"))
            if sysctl not in SAFE_SYSCTLS:
                yield f"{workload.describe()} sets the unsafe sysctl {sysctl}; only the PSS safe set is allowed"


def apparmor(workload: Workload, config: Mapping) -> Iterator[str]:
    for where, holder in _contexts(workload):
        with skip_unknown():
            kind = get(holder, "securityContext", "appArmorProfile", "type")
            if kind is not None and kind not in APPARMOR_TYPES:
                yield f"{where} sets appArmorProfile type {kind}; RuntimeDefault or Localhost is required"
    with skip_unknown():
        annotations = get(workload.metadata, "annotations") or {}
        for key in list(annotations) if is_mapping(annotations) else []:
            if not str(key).startswith(APPARMOR_ANNOTATION_PREFIX):
                continue
            with skip_unknown():
                value = str(annotations[key])
                if value != "runtime/default" and not value.startswith("localhost/"):
                    yield f"{workload.describe()} annotation {key}={value}; only runtime/default or localhost/* is allowed"


def selinux(workload: Workload, config: Mapping) -> Iterator[str]:
    for where, holder in _contexts(workload):
        with skip_unknown():
            options = get(holder, "securityContext", "seLinuxOptions") or {}
            for field_name in ("type", "user", "role"):
                with skip_unknown():
                    value = get(options, field_name)
                    if value is None or value == "":
                        continue
                    if field_name != "type" or value not in SELINUX_TYPES:
                        yield f"{where} sets seLinuxOptions.{field_name}={value}"


def host_path_volumes(workload: Workload, config: Mapping) -> Iterator[str]:
    for volume in known_list(workload.spec, "volumes"):
        with skip_unknown():
            if get(volume, "hostPath") is not None:
                yield f"{workload.describe()} mounts hostPath volume '{label(volume, 'name')}' ({label(volume, 'hostPath', 'path')})"


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
                yield f"{workload.describe()} volume '{label(volume, 'name')}' uses type {', '.join(bad)}; allowed: {sorted(allowed)}"


def read_only_root_filesystem(workload: Workload, config: Mapping) -> Iterator[str]:
    for role, name, container in workload.containers():
        if role == "ephemeral container":
            continue  # debug containers are added by kubectl debug, not by this program
        with skip_unknown():
            value = get(container, "securityContext", "readOnlyRootFilesystem")
            if value is None and workload.partial:
                continue
            if not truthy(value or False):
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
            if workload.partial:
                continue  # a patch need not restate resources it leaves alone
            if missing:
                yield f"{role} '{name}' in {workload.describe()} has no resources {', '.join(missing)}"


def probes(workload: Workload, config: Mapping) -> Iterator[str]:
    # Only regular containers: init containers run to completion and take no probes.
    for role, name, container in workload.containers():
        if role != "container":
            continue
        with skip_unknown():
            missing = [probe for probe in ("livenessProbe", "readinessProbe") if get(container, probe) is None]
            if missing and not workload.partial:
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
            if not image and workload.partial:
                continue
            if not image:
                yield f"{role} '{name}' in {workload.describe()} has no image"
                continue
            problem = image_problem(str(image), require_digest)
            if problem:
                yield f"{role} '{name}' in {workload.describe()}: image '{image}' {problem}"


def _allow_listed(namespace: Optional[str], account: str, patterns: Iterable[str]) -> Optional[bool]:
    """Whether namespace/account is allow-listed; None when the namespace is unknown and a
    pattern names this account (it may be allow-listed)."""
    if namespace is not None:
        return matches_any(f"{namespace}/{account}", patterns)
    if any(fnmatchcase(account, str(p).partition("/")[2]) for p in patterns):
        return None
    return False


def token_automount(workload: Workload, config: Mapping) -> Iterator[str]:
    with skip_unknown():
        account = get(workload.spec, "serviceAccountName") or get(workload.spec, "serviceAccount") or "default"
        if _allow_listed(workload.namespace, account, config.get("allowedServiceAccounts") or ()) is not False:
            return
        # Unset means the token is mounted (unless the ServiceAccount says otherwise, which a
        # resource rule cannot see), so the pod must opt out explicitly.
        for volume in known_list(workload.spec, "volumes"):
            for source in known_list(volume, "projected", "sources"):
                with skip_unknown():
                    token = get(source, "serviceAccountToken")
                    if token is None:
                        continue
                    audience = get(token, "audience")
                    # A token for another audience (sts.amazonaws.com, vault) is refused by the API server.
                    if audience is None or str(audience) in API_AUDIENCES:
                        yield (f"{workload.describe()} volume '{label(volume, 'name')}' projects a service-account token for the "
                               f"Kubernetes API (audience {audience or 'unset'}): it brings back the automounted token")
        value = get(workload.spec, "automountServiceAccountToken")
        if value is None and workload.partial:
            return
        if value is None or truthy(value):
            state = "leaves automountServiceAccountToken unset (defaults to true)" if value is None else "sets automountServiceAccountToken=true"
            yield f"{workload.describe()} {state}; set it to false or allow-list '{workload.namespace}/{account}'"


# Audiences the API server accepts by default (its --api-audiences are the issuer's).
API_AUDIENCES = {"", "https://kubernetes.default.svc", "https://kubernetes.default.svc.cluster.local", "kubernetes.default.svc", "api"}


def default_namespace(workload: Workload, config: Mapping) -> Iterator[str]:
    if workload.namespace == "default":
        yield f"{workload.describe()} runs in the 'default' namespace"


# Env names that hold credentials: matched on whole `_`-separated words, or a word ending in one
# of SECRET_WORD_SUFFIXES (PGPASSWORD, DBPASSWD, GITHUBTOKEN).
SECRET_NAME_WORDS = {"PASSWORD", "PASSWD", "PASS", "PWD", "PASSPHRASE", "SECRET", "SECRETS", "TOKEN", "KEY", "APIKEY",
                     "DSN", "CREDENTIAL", "CREDENTIALS"}
SECRET_WORD_SUFFIXES = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY")
# Variables that common clients read a credential from: libpq, redis-cli, mysql, AWS SDKs, ...
CLIENT_CREDENTIAL_NAMES = {
    "PGPASSWORD", "REDISCLI_AUTH", "MYSQL_PWD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AZURE_CLIENT_SECRET", "AZURE_STORAGE_KEY", "GOOGLE_API_KEY", "GITHUB_TOKEN", "GH_TOKEN", "VAULT_TOKEN",
    "DOCKER_PASSWORD", "RESTIC_PASSWORD", "MC_HOST", "SENTRY_DSN", "CONSUL_HTTP_TOKEN", "NPM_TOKEN", "TWINE_PASSWORD",
}
# Connection-string names: a credential only when the URL carries one (checked on the value).
URL_NAMES = {"DATABASE_URL", "DB_URL", "REDIS_URL", "AMQP_URL", "MONGODB_URI", "MONGO_URL", "CONNECTION_STRING"}
# Literal values that are credentials whatever the variable is called.
SECRET_VALUE_PATTERNS = [
    (re.compile(r"\b[sr]k_(live|test)_[0-9A-Za-z]{8,}"), "a Stripe API key"),
    (re.compile(r"\bwhsec_[0-9A-Za-z]{8,}"), "a Stripe webhook secret"),
    (re.compile(r"\bA(KIA|SIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"\bgh[pousr]_[0-9A-Za-z]{30,}"), "a GitHub token"),
    (re.compile(r"\bgithub_pat_[0-9A-Za-z_]{30,}"), "a GitHub token"),
    (re.compile(r"\bxox[abprs]-[0-9A-Za-z-]{10,}"), "a Slack token"),
    (re.compile(r"\beyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\."), "a JWT"),
]
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"]+")
# Query parameters that carry a credential (libpq `password=`, JDBC `password=`, `access_token=`).
_URL_SECRET_PARAMS = {"password", "passwd", "pwd", "sslpassword", "secret", "token", "access_token", "apikey", "api_key", "key", "auth"}
# Values that are plainly not credentials: small integers, durations, booleans.
_HARMLESS_VALUE = re.compile(
    r"^(\d{1,6}|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d|w))+|true|false|yes|no|on|off|enabled|disabled)$", re.IGNORECASE
)

# Values meant for browsers (e.g. PUBLIC_STRIPE_KEY, a publishable pk_ key) are public by design.
PUBLIC_NAME_WORDS = {"PUBLIC", "PUBLISHABLE"}


# `*_FILE` variables (POSTGRES_PASSWORD_FILE) hold the path of a mounted secret file: the
# pattern this rule recommends, not a credential.
PATH_SUFFIXES = ("_FILE", "_PATH", "_DIR")


def secret_like_name(env_name: str) -> bool:
    upper = env_name.upper()
    if upper in CLIENT_CREDENTIAL_NAMES or upper in URL_NAMES:
        return True
    if upper.endswith(PATH_SUFFIXES):
        return False
    words = set(re.split(r"[_.-]+", upper))
    if words & PUBLIC_NAME_WORDS:
        return False
    return bool(words & SECRET_NAME_WORDS) or any(w.endswith(SECRET_WORD_SUFFIXES) for w in words)


def url_credential(value: str) -> Optional[str]:
    """What credential a URL in `value` carries (userinfo password, even with no user, or a
    credential query parameter), or None."""
    for match in _URL.finditer(value):
        try:
            parts = urlsplit(match.group(0))
            password = parts.password
        except ValueError:
            continue
        if password:
            return "a URL with an embedded password"
        for key, _ in parse_qsl(parts.query, keep_blank_values=False):
            if key.lower() in _URL_SECRET_PARAMS:
                return f"a URL with a '{key}' query parameter"
    return None


def literal_credential(value: str) -> Optional[str]:
    for pattern, what in SECRET_VALUE_PATTERNS:
        if pattern.search(value):
            return what
    return url_credential(value)


def harmless_value(value: str) -> bool:
    return value == "" or bool(_HARMLESS_VALUE.match(value.strip()))


def _env_finding(env_name: Optional[str], entry: Mapping) -> Optional[str]:
    """Why one env entry exposes a secret, or None. `env_name` None: the name is unknown."""
    value = get(entry, "value")
    if value is not None:
        text = str(value)
        what = literal_credential(text)
        if what:
            return f"holds {what} as a literal value; use valueFrom.secretKeyRef"
        if env_name is None or env_name.upper() in URL_NAMES or harmless_value(text):
            return None
        if secret_like_name(env_name):
            return "looks like a secret but is a literal value; use valueFrom.secretKeyRef"
        return None
    if env_name is None or not secret_like_name(env_name):
        return None
    if get(entry, "valueFrom", "secretKeyRef") is None:
        return "looks like a secret but is not read from valueFrom.secretKeyRef"
    return None


_FLAG = re.compile(r"^-{1,2}([A-Za-z][A-Za-z0-9_.-]*)=(.+)$")


def argument_finding(args: list[str]) -> Optional[str]:
    """A credential in command or args: a literal credential anywhere, or `--password=value` /
    `--password value` with a literal value (an `$(ENV)` reference is the safe form)."""
    for index, arg in enumerate(args):
        what = literal_credential(arg)
        if what:
            return f"holds {what}"
        flag = _FLAG.match(arg)
        name, value = (flag.group(1), flag.group(2)) if flag else (None, None)
        if name is None and arg.startswith("-") and index + 1 < len(args):
            name, value = arg.lstrip("-"), args[index + 1]
        if name and value and credential_flag(name) and not value.startswith("$(") and not harmless_value(value) \
                and not value.startswith("/"):
            return f"passes --{name} a literal value"
    return None


# Flag words that name a credential value. SECRET is left out on purpose: Kubernetes tools use
# it for the name of a Secret object (--secret-name, --agent-tls-secret), not for its content.
CREDENTIAL_FLAG_WORDS = {"PASSWORD", "PASSWD", "PASS", "PWD", "PASSPHRASE", "TOKEN", "APIKEY", "CREDENTIAL", "CREDENTIALS"}
# Last words of flags that refer to a credential instead of holding it.
REFERENCE_FLAG_WORDS = {"NAME", "REF", "SELECTOR", "NAMESPACE", "FILE", "PATH", "DIR", "SECRET", "TTL", "EXPIRY", "AUDIENCE",
                        "LENGTH", "HEADER", "URL", "ENDPOINT", "ENV", "KEYS"}


def credential_flag(flag: str) -> bool:
    words = [w for w in re.split(r"[-_.]+", flag.upper()) if w]
    if not words or words[-1] in REFERENCE_FLAG_WORDS:
        return False
    glued = "".join(words)
    return bool(set(words) & CREDENTIAL_FLAG_WORDS) or "APIKEY" in glued or glued.endswith(("PASSWORD", "TOKEN"))


def literal_secret_env(workload: Workload, config: Mapping) -> Iterator[str]:
    allowed = set(config.get("allowedEnvNames") or [])
    for role, name, container in workload.containers():
        for field_name in ("command", "args"):
            with skip_unknown():
                values = [str(v) for v in as_list(get(container, field_name))]
                finding = argument_finding(values)
                if finding:
                    yield f"{field_name} of {role} '{name}' in {workload.describe()} {finding}; read it from a Secret"
        for entry in known_list(container, "env"):
            with skip_unknown():
                try:
                    env_name: Optional[str] = str(get(entry, "name") or "")
                except UnknownValueError:
                    if allowed:
                        continue  # it may be an allow-listed name
                    env_name = None
                if env_name in allowed:
                    continue
                finding = _env_finding(env_name, entry)
                if finding:
                    yield f"env {env_name or '<unknown>'} of {role} '{name}' in {workload.describe()} {finding}"


# --- objects beside the pod ---------------------------------------------------------------------


def configmap_secrets(args, report_violation) -> None:
    """ConfigMaps are not secret (readable by every `view` role, stored unencrypted): a credential
    in one reaches pods through envFrom/configMapKeyRef or a volume as plain text."""
    from .model import makes_kind, objects_of_kind

    if not makes_kind(args.resource_type, {"ConfigMap"}):
        return
    allowed = set(args.get_config().get("allowedKeys") or [])
    for config_map in objects_of_kind(args.resource_type, args.props, args.name, args.provider, {"ConfigMap"}, ""):
        with skip_unknown():
            data = get(config_map.body, "data") or {}
            for key in list(data) if is_mapping(data) else []:
                if key in allowed:
                    continue
                with skip_unknown():
                    value = str(data[key])
                    what = literal_credential(value)
                    if what is None and "\n" not in value and secret_like_name(str(key)) and not harmless_value(value) \
                            and not str(key).upper().endswith(tuple(URL_NAMES)):
                        what = "a secret-named literal"
                    if what:
                        args_report = f"{config_map.describe()} key '{key}' holds {what}; put it in a Secret"
                        report_violation(args_report)


def host_path_persistent_volumes(args, report_violation) -> None:
    """A hostPath or `local` PersistentVolume gives any pod whose claim binds it the node's
    filesystem: the PSS HostPath control, reached through a PVC."""
    from .model import makes_kind, objects_of_kind

    if not makes_kind(args.resource_type, {"PersistentVolume"}):
        return
    for volume in objects_of_kind(args.resource_type, args.props, args.name, args.provider, {"PersistentVolume"}, ""):
        for source in ("hostPath", "local"):
            with skip_unknown():
                if get(volume.body, "spec", source) is not None:
                    report_violation(f"{volume.describe()} is a {source} volume ({label(volume.body, 'spec', source, 'path')}): "
                                     "a claim bound to it mounts the node's filesystem")


POD_POLICIES = [
    # Pod Security Standards, control by control (PSS page: see PSS above). Baseline first.
    pod_policy("k8s-pod-disallow-host-process", "Pods and containers must not set windowsOptions.hostProcess=true (PSS baseline: HostProcess).", host_process, MANDATORY),
    pod_policy("k8s-pod-disallow-host-namespaces", "Pods must not share the host's network, PID or IPC namespace (PSS baseline: Host Namespaces).", host_namespaces, MANDATORY),
    pod_policy("k8s-pod-disallow-privileged", "Containers must not run privileged (PSS baseline: Privileged Containers).", privileged, MANDATORY),
    pod_policy(
        "k8s-pod-restrict-added-capabilities",
        "Containers may add back only NET_BIND_SERVICE, by its exact name (PSS restricted: Capabilities; stricter than PSS baseline: Capabilities).",
        added_capabilities,
        MANDATORY,
        options={"allowedCapabilities": string_list("Capabilities a container may add.", ["NET_BIND_SERVICE"])},
    ),
    pod_policy("k8s-pod-disallow-host-path-volumes", "Pods must not mount hostPath volumes (PSS baseline: HostPath Volumes).", host_path_volumes, MANDATORY),
    pod_policy(
        "k8s-pod-disallow-host-ports",
        "Containers must not bind host ports (PSS baseline: Host Ports).",
        host_ports,
        MANDATORY,
        options={"allowedHostPorts": {"type": "array", "items": {"type": "integer"}, "default": [], "description": "Host ports that may be bound."}},
    ),
    pod_policy(
        "k8s-pod-restrict-apparmor-profile",
        "AppArmor profiles (appArmorProfile.type and the container.apparmor.security.beta.kubernetes.io/* annotations) must be RuntimeDefault or Localhost (PSS baseline: AppArmor).",
        apparmor,
        MANDATORY,
    ),
    pod_policy(
        "k8s-pod-restrict-selinux-options",
        "seLinuxOptions may set only a container type (container_t, container_init_t, container_kvm_t, container_engine_t), never user or role (PSS baseline: SELinux).",
        selinux,
        MANDATORY,
    ),
    pod_policy("k8s-pod-restrict-proc-mount", "Containers must use the Default /proc mount (PSS baseline: /proc Mount Type).", proc_mount, MANDATORY),
    pod_policy("k8s-pod-restrict-sysctls", "Pods may set only the safe sysctls (PSS baseline: Sysctls).", sysctls, MANDATORY),
    # Restricted.
    pod_policy(
        "k8s-pod-restrict-volume-types",
        "Pods may only use the volume types the PSS restricted profile allows (PSS restricted: Volume Types).",
        volume_types,
        MANDATORY,
        options={"allowedVolumeTypes": string_list("Volume types a pod may use.", RESTRICTED_VOLUME_TYPES)},
    ),
    pod_policy(
        "k8s-pod-disallow-privilege-escalation",
        "Containers must set securityContext.allowPrivilegeEscalation=false (PSS restricted: Privilege Escalation).",
        privilege_escalation,
        MANDATORY,
    ),
    pod_policy(
        "k8s-pod-require-run-as-non-root",
        "Containers must run with runAsNonRoot=true, set on the pod or every container, and never false (PSS restricted: Running as Non-root).",
        run_as_non_root,
        MANDATORY,
    ),
    pod_policy(
        "k8s-pod-disallow-run-as-root-user",
        "Pods and containers must not set runAsUser=0 (PSS restricted: Running as Non-root user).",
        run_as_root_user,
        MANDATORY,
    ),
    pod_policy(
        "k8s-pod-require-seccomp-profile",
        "Pods or containers must use the RuntimeDefault or Localhost seccomp profile, and no level may set another (PSS baseline and restricted: Seccomp).",
        seccomp_profile,
        MANDATORY,
    ),
    pod_policy(
        "k8s-pod-require-drop-all-capabilities",
        "Containers must list the literal ALL in capabilities.drop, as admission compares it (PSS restricted: Capabilities).",
        drop_all_capabilities,
        MANDATORY,
    ),
    # Beyond the standard.
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
        "Containers of long-running workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController) must define liveness and readiness probes.",
        probes,
        ADVISORY,
        long_running_only=True,
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
        "Env vars that hold credentials (secret-like names, client credential variables such as PGPASSWORD or REDISCLI_AUTH) must come from valueFrom.secretKeyRef, and no env value may be a literal credential (API keys, URLs with a password).",
        literal_secret_env,
        MANDATORY,
        options={"allowedEnvNames": string_list("Env var names exempt from the secret-name heuristic.", [])},
    ),
]

# Objects a pod reaches by reference: a ConfigMap it reads, a PersistentVolume its claim binds.
OBJECT_POLICIES = [
    ResourceValidationPolicy(
        name="k8s-configmap-disallow-secret-values",
        description="ConfigMaps must not hold credentials (credential-shaped values, or literal values under secret-like keys), "
                    "since pods read them through envFrom, configMapKeyRef or volumes as plain text.",
        validate=configmap_secrets,
        enforcement_level=MANDATORY,
        config_schema=PolicyConfigSchema(properties={"allowedKeys": string_list("Keys exempt from the secret-name heuristic.", [])}),
    ),
    ResourceValidationPolicy(
        name="k8s-persistent-volume-disallow-host-path",
        description="PersistentVolumes must not be hostPath or local volumes (PSS baseline: HostPath Volumes, reached through a claim).",
        validate=host_path_persistent_volumes,
        enforcement_level=MANDATORY,
    ),
]
