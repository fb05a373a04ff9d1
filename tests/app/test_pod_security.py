"""Every rendered pod template meets the Pod Security Standards "restricted" profile.

Written from the standard (kubernetes.io/docs/concepts/security/pod-security-standards, the
policies Kubernetes 1.35 enforces for `restricted`, which includes `baseline`), not from
components/secure_defaults.py, so a wrong default there fails here.
"""

from __future__ import annotations

import pytest

from tests.app.k8s import all_containers, pod_templates
from tests.conftest import STACKS

RESTRICTED_VOLUME_SOURCES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
BASELINE_SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
ALLOWED_SELINUX_TYPES = {None, "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def restricted_violations(template: dict) -> list[str]:
    spec = template["spec"]
    pod_ctx = spec.get("securityContext") or {}
    problems = []

    # baseline
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            problems.append(f"{field} is true")
    if (spec.get("securityContext") or {}).get("windowsOptions", {}).get("hostProcess"):
        problems.append("hostProcess")
    for volume in spec.get("volumes", []):
        sources = set(volume) - {"name"}
        if "hostPath" in sources:
            problems.append(f"hostPath volume {volume['name']}")
        if not sources <= RESTRICTED_VOLUME_SOURCES:
            problems.append(f"volume {volume['name']} uses {sorted(sources - RESTRICTED_VOLUME_SOURCES)}")
    for sysctl in pod_ctx.get("sysctls", []):
        if sysctl["name"] not in BASELINE_SAFE_SYSCTLS:
            problems.append(f"unsafe sysctl {sysctl['name']}")
    if (pod_ctx.get("seLinuxOptions") or {}).get("type") not in ALLOWED_SELINUX_TYPES:
        problems.append("pod SELinux type")
    if (pod_ctx.get("appArmorProfile") or {}).get("type") == "Unconfined":
        problems.append("pod AppArmor Unconfined")

    # restricted, pod level
    pod_non_root = pod_ctx.get("runAsNonRoot") is True
    pod_seccomp = (pod_ctx.get("seccompProfile") or {}).get("type")
    if pod_seccomp == "Unconfined":
        problems.append("pod seccomp Unconfined")
    if pod_ctx.get("runAsUser") == 0:
        problems.append("pod runAsUser 0")

    for c in all_containers(spec):
        ctx = c.get("securityContext") or {}
        who = f"container {c['name']}"
        if ctx.get("privileged"):
            problems.append(f"{who} privileged")
        for port in c.get("ports", []):
            if port.get("hostPort"):
                problems.append(f"{who} hostPort {port['hostPort']}")
        if ctx.get("procMount") not in (None, "Default"):
            problems.append(f"{who} procMount")
        if (ctx.get("seLinuxOptions") or {}).get("type") not in ALLOWED_SELINUX_TYPES:
            problems.append(f"{who} SELinux type")
        if (ctx.get("appArmorProfile") or {}).get("type") == "Unconfined":
            problems.append(f"{who} AppArmor Unconfined")
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{who} allowPrivilegeEscalation is not false")
        # runAsNonRoot: true on the pod (and not overridden to false) or on every container.
        if ctx.get("runAsNonRoot") is False or not (pod_non_root or ctx.get("runAsNonRoot") is True):
            problems.append(f"{who} may run as root (runAsNonRoot)")
        if ctx.get("runAsUser") == 0:
            problems.append(f"{who} runAsUser 0")
        seccomp = (ctx.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{who} seccomp {seccomp}")
        capabilities = ctx.get("capabilities") or {}
        if "ALL" not in capabilities.get("drop", []):
            problems.append(f"{who} does not drop ALL capabilities")
        if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{who} adds {capabilities['add']}")
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_every_pod_template_meets_pss_restricted(recordings, stack):
    templates = list(pod_templates(recordings[stack]))
    # backend, frontend, postgres, redis, migrations at least
    assert len(templates) >= 5
    for where, template in templates:
        assert restricted_violations(template) == [], where


@pytest.mark.parametrize("stack", STACKS)
def test_every_container_has_a_read_only_root_filesystem(recordings, stack):
    for where, template in pod_templates(recordings[stack]):
        for c in all_containers(template["spec"]):
            assert (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is True, f"{where} {c['name']}"


def test_the_checker_catches_each_kind_of_violation(recordings):
    where, template = next(pod_templates(recordings["prod"]))
    assert restricted_violations(template) == []
    import copy

    def broken(mutate) -> list[str]:
        t = copy.deepcopy(template)
        mutate(t["spec"], t["spec"]["containers"][0].setdefault("securityContext", {}))
        return restricted_violations(t)

    assert broken(lambda pod, c: c.update(allowPrivilegeEscalation=True))
    assert broken(lambda pod, c: c.update(runAsNonRoot=False))
    assert broken(lambda pod, c: c.update(runAsUser=0))
    assert broken(lambda pod, c: c.update(capabilities={"drop": ["NET_RAW"]}))
    assert broken(lambda pod, c: c.update(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}))
    assert broken(lambda pod, c: c.update(seccompProfile={"type": "Unconfined"}))
    assert broken(lambda pod, c: c.update(privileged=True))
    assert broken(lambda pod, c: pod.update(hostNetwork=True))
    assert broken(lambda pod, c: pod.setdefault("volumes", []).append({"name": "h", "hostPath": {"path": "/"}}))


def test_the_app_namespace_enforces_restricted(recordings):
    """The platform labels the namespace; the admission controller then rejects any pod that
    slips past the checks above."""
    for stack in STACKS:
        namespaces = [r for r in recordings[stack].kubernetes_objects()
                      if r.inputs["kind"] == "Namespace" and r.inputs["metadata"]["name"] == "tradesense"]
        assert len(namespaces) == 1
        labels = namespaces[0].inputs["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
