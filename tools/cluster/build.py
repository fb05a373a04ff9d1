"""`make cluster`: the control plane's binaries, built from pinned Go modules into build/cluster/bin.

Each component is one wrapper module under tools/cluster/go/ (go.mod + go.sum committed). A build
is skipped when its outputs exist and its stamp (a digest of go.mod, go.sum and the link flags)
matches, so a second run takes seconds; a cold one takes about 25 CPU-minutes (docs/performance.md).
Helm is the charts tooling's `make helm` (tools/build_helm.sh, build/cluster/bin/helm).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GO = ROOT / "tools" / "cluster" / "go"
OUT = ROOT / "build" / "cluster"
BIN = OUT / "bin"
STAMPS = OUT / "stamps"
STAGES = OUT / "kwok-stages"

KUBERNETES_VERSION = "v1.35.4"
PROVIDER_MODULE = "github.com/pulumi/pulumi-kubernetes/provider/v4"
# The proxy serves provider/v4 only at the v4.25.0 release commit (go.mod says which pseudo-version).
PROVIDER_VERSION = "4.25.0"


class BuildError(RuntimeError):
    pass


def _kube_ldflags() -> str:
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    flags = []
    # Without these both packages report v0.0.0-master, and the provider reads /version.
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        for key, value in (("gitVersion", KUBERNETES_VERSION), ("gitMajor", major), ("gitMinor", minor), ("gitTreeState", "clean")):
            flags.append(f"-X {pkg}.{key}={value}")
    return " ".join(flags)


@dataclass(frozen=True)
class Component:
    name: str
    module: str  # folder under tools/cluster/go
    packages: tuple[str, ...]
    outputs: tuple[str, ...]
    ldflags: str = ""

    def digest(self) -> str:
        text = b"".join((GO / self.module / f).read_bytes() for f in ("go.mod", "go.sum"))
        return hashlib.sha256(text + self.ldflags.encode() + " ".join(self.packages).encode()).hexdigest()


COMPONENTS = (
    # The three control-plane commands in one `go build`, so they share compile work.
    Component("kubernetes", "kubernetes",
              ("k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager",
               "k8s.io/kubernetes/cmd/kube-scheduler"),
              ("kube-apiserver", "kube-controller-manager", "kube-scheduler"), _kube_ldflags()),
    Component("etcd", "etcd", ("go.etcd.io/etcd/server/v3",), ("etcd",)),
    Component("kwok", "kwok", ("sigs.k8s.io/kwok/cmd/kwok",), ("kwok",)),
    Component("provider", "provider", ("./pulumi-resource-kubernetes",), ("pulumi-resource-kubernetes",),
              f"-X {PROVIDER_MODULE}/pkg/version.Version={PROVIDER_VERSION}"),
)


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise BuildError("cluster: `go` is not installed; Go 1.26+ builds the control plane from the Go module proxy")
    return go


def module_dir(module: str, path: str) -> Path:
    """Where the Go module cache holds `path` at the version `module`'s go.mod resolves."""
    go = _go()
    subprocess.run([go, "mod", "download", path], cwd=GO / module, check=True)
    found = subprocess.run([go, "list", "-m", "-f", "{{.Dir}}", path], cwd=GO / module, check=True,
                           capture_output=True, text=True).stdout.strip()
    return Path(found)


def write_provider_embeds() -> None:
    """The two files upstream's `go generate` writes for the provider's main package."""
    source = module_dir("provider", PROVIDER_MODULE) / "cmd" / "pulumi-resource-kubernetes"
    target = GO / "provider" / "pulumi-resource-kubernetes"
    schema = json.loads((source / "schema.json").read_text())
    schema["version"] = PROVIDER_VERSION  # the schema the engine sees carries the true version
    mapping = json.loads((source / "terraform-mapping.json").read_text())
    for name, doc in (("schema-embed.json", schema), ("terraform-mapping-embed.json", mapping)):
        text = json.dumps(doc, separators=(",", ":"))
        path = target / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def _up_to_date(component: Component) -> bool:
    stamp = STAMPS / component.name
    return (stamp.exists() and stamp.read_text() == component.digest()
            and all((BIN / out).exists() for out in component.outputs))


def build_component(component: Component, log=print) -> None:
    if _up_to_date(component):
        log(f"cluster: {component.name} is up to date")
        return
    if component.name == "provider":
        write_provider_embeds()
    BIN.mkdir(parents=True, exist_ok=True)
    output = str(BIN / component.outputs[0]) if len(component.outputs) == 1 else f"{BIN}{os.sep}"
    cmd = [_go(), "build", "-trimpath", "-buildvcs=false", "-o", output]
    if component.ldflags:
        cmd += ["-ldflags", component.ldflags]
    cmd += list(component.packages)
    log(f"cluster: building {component.name} (a cold build takes minutes)")
    started, cpu = time.monotonic(), _children_cpu()
    subprocess.run(cmd, cwd=GO / component.module, env={**os.environ, "CGO_ENABLED": "0"}, check=True)
    STAMPS.mkdir(parents=True, exist_ok=True)
    (STAMPS / component.name).write_text(component.digest())
    log(f"cluster: {component.name} built in {time.monotonic() - started:.0f} s wall, {_children_cpu() - cpu:.0f} s CPU")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def copy_kwok_stages() -> None:
    """kwok exits without Stage objects; they ship in its module (kustomize/stage/)."""
    stage_root = module_dir("kwok", "sigs.k8s.io/kwok") / "kustomize" / "stage"
    STAGES.mkdir(parents=True, exist_ok=True)
    for rel in ("node/fast/node-initialize.yaml", "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
                "pod/fast/pod-ready.yaml", "pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml",
                "volume/fast/pvc-provision.yaml", "volume/fast/pv-bind.yaml", "volume/fast/pv-delete.yaml",
                "volume/fast/pvc-delete.yaml"):
        text = (stage_root / rel).read_text()
        # The volume stages provision for kwok's own class; ours is `standard`, kind's name for it.
        (STAGES / Path(rel).name).write_text(text.replace("'kwok-volume'", "'standard'"))


def helm() -> Path:
    """Helm at the pinned version, built by the charts tooling's `make helm` (tools/build_helm.sh)."""
    subprocess.run(["bash", str(ROOT / "tools" / "build_helm.sh")], check=True)
    return BIN / "helm"


def build(log=print) -> None:
    for component in COMPONENTS:
        build_component(component, log)
    copy_kwok_stages()
    helm()


def missing() -> list[str]:
    """Binaries the tier needs that `make cluster` has not built."""
    names = [out for c in COMPONENTS for out in c.outputs] + ["helm"]
    return [n for n in names if not (BIN / n).exists()] + ([] if STAGES.exists() else ["kwok-stages"])
