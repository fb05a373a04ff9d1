"""Every chart the platform installs, pinned, and the one way this program installs a chart.

Versions were checked against the projects' release notes and compatibility tables (README,
"Platform charts"). Upgrading a chart is a one-line change here plus its upgrade notes. An
OCI chart has no repository: Helm takes it by its full oci:// reference instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.platform.mirrors import Mirrors


@dataclass(frozen=True)
class ChartRef:
    chart: str
    version: str
    # An https Helm repository; None for an OCI chart, whose `chart` is the full oci:// reference.
    repo: Optional[str] = None

    @property
    def name(self) -> str:
        """The chart's own name (a mirror serves it under this name)."""
        return self.chart.rsplit("/", 1)[-1]


CERT_MANAGER = ChartRef("cert-manager", "v1.21.1", "https://charts.jetstack.io")
NGINX_GATEWAY_FABRIC = ChartRef("oci://ghcr.io/nginx/charts/nginx-gateway-fabric", "2.6.5")
# The final upstream release: the project was retired in March 2026.
INGRESS_NGINX = ChartRef("ingress-nginx", "4.15.1", "https://kubernetes.github.io/ingress-nginx")
KUBE_PROMETHEUS_STACK = ChartRef("kube-prometheus-stack", "88.6.5", "https://prometheus-community.github.io/helm-charts")
METRICS_SERVER = ChartRef("metrics-server", "3.13.0", "https://kubernetes-sigs.github.io/metrics-server/")
# CloudNativePG operator (chart 0.29.x ships operator 1.30) and its barman-cloud backup plugin
# (chart 0.8.0 = plugin v0.15.0, needs cert-manager and CNPG >= 1.26). Same Helm repository.
CLOUDNATIVE_PG = ChartRef("cloudnative-pg", "0.29.0", "https://cloudnative-pg.github.io/charts")
PLUGIN_BARMAN_CLOUD = ChartRef("plugin-barman-cloud", "0.8.0", "https://cloudnative-pg.github.io/charts")
CLUSTER_AUTOSCALER = ChartRef("cluster-autoscaler", "9.59.0", "https://kubernetes.github.io/autoscaler")

# Gateway API standard channel, the release NGINX Gateway Fabric 2.6.x is built against. Its
# install file (the release's standard-install.yaml, tag v1.5.1 commit e7677b70) is vendored, so a
# deploy downloads nothing: the provider reads it from the project directory, and the program
# refuses a file whose sha256 is not the pinned one. Upgrade: replace the file and both constants.
GATEWAY_API_VERSION = "v1.5.1"
GATEWAY_API_CRDS_FILE = f"components/platform/vendor/gateway-api-{GATEWAY_API_VERSION}-standard-install.yaml"
GATEWAY_API_CRDS_SHA256 = "751002b3b91a87f7ae3bd2517c79a47a8d7ed6702901808a1cf9bd97d284f9b8"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class VendoredFileError(pulumi.RunError):
    """A vendored manifest is missing or not the pinned content (no traceback for the user)."""


def verified_vendored_file(relative: str, sha256: str, root: Path = PROJECT_ROOT) -> str:
    """`relative` (to the project root, as the provider resolves it) once its content is the pinned one."""
    path = root / relative
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as err:
        raise VendoredFileError(f"{relative} is missing ({err.strerror}): restore it with `git checkout -- {relative}`") from None
    if digest != sha256:
        raise VendoredFileError(
            f"{relative} has sha256 {digest}, not the pinned {sha256}: restore it with `git checkout -- {relative}`, "
            "or, for an upgrade, vendor the new release file and update the pin in components/platform/charts.py"
        )
    return relative

# Helm waits for every object of a release to be ready, up to this long.
RELEASE_TIMEOUT_SECONDS = 600


def helm_release(
    name: str,
    ref: ChartRef,
    namespace: str,
    values: Mapping[str, Any],
    parent: pulumi.Resource,
    provider: pulumi.ProviderResource,
    mirrors: Mirrors,
    depends_on: Sequence[pulumi.Resource] = (),
    release_name: Optional[str] = None,
) -> k8s.helm.v3.Release:
    """A pinned release into a namespace this program created (never Helm's own), from the
    chart's upstream source or the stack's chart mirror."""
    chart, repo = mirrors.chart(ref.chart, ref.repo)
    return k8s.helm.v3.Release(
        name,
        name=release_name or ref.chart.rsplit("/", 1)[-1],
        chart=chart,
        version=ref.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo) if repo else None,
        namespace=namespace,
        create_namespace=False,
        values=dict(values),
        # A failed upgrade rolls its own new objects back instead of leaving them half-applied.
        cleanup_on_fail=True,
        max_history=10,
        timeout=RELEASE_TIMEOUT_SECONDS,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on)),
    )
