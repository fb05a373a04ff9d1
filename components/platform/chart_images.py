"""Per chart, the values that name its images, so platform.imageMirror reaches every one.

Charts spell images two ways: a `registry` beside a `repository` (set the registry to
<mirror>/<registry>), or one full `repository` (set it to <mirror>/<repository>). The paths below
are the image blocks of each chart's values.yaml at our pins (subcharts under their key); the
offline plan's render test (tests/test_chart_render.py) fails on any rendered image, in any
field, that still names an upstream registry, so a missed or newly added image shows up there.
"""

from __future__ import annotations

from typing import Any

from components.platform.mirrors import Mirrors

# chart -> [(dotted path of the image block, "registry" | "repository", upstream value)]
IMAGE_BLOCKS: dict[str, list[tuple[str, str, str]]] = {
    # cert-manager builds every image from the top-level imageRegistry (+ imageNamespace).
    "cert-manager": [("", "imageRegistry", "quay.io")],
    "nginx-gateway-fabric": [
        ("nginxGateway.image", "repository", "ghcr.io/nginx/nginx-gateway-fabric"),
        ("nginx.image", "repository", "ghcr.io/nginx/nginx-gateway-fabric/nginx"),
    ],
    # Every ingress-nginx image takes global.image.registry.
    "ingress-nginx": [("global.image", "registry", "registry.k8s.io")],
    "kube-prometheus-stack": [
        ("crds.upgradeJob.image.busybox", "registry", "docker.io"),
        ("crds.upgradeJob.image.kubectl", "registry", "registry.k8s.io"),
        ("alertmanager.alertmanagerSpec.image", "registry", "quay.io"),
        ("prometheusOperator.admissionWebhooks.deployment.image", "registry", "quay.io"),
        ("prometheusOperator.admissionWebhooks.patch.image", "registry", "ghcr.io"),
        ("prometheusOperator.image", "registry", "quay.io"),
        ("prometheusOperator.prometheusConfigReloader.image", "registry", "quay.io"),
        ("prometheusOperator.thanosImage", "registry", "quay.io"),
        ("prometheus.prometheusSpec.image", "registry", "quay.io"),
        ("thanosRuler.thanosRulerSpec.image", "registry", "quay.io"),
        ("kube-state-metrics.image", "registry", "registry.k8s.io"),
        ("kube-state-metrics.kubeRBACProxy.image", "registry", "quay.io"),
        ("prometheus-node-exporter.image", "registry", "quay.io"),
        ("prometheus-node-exporter.kubeRBACProxy.image", "registry", "quay.io"),
        ("prometheus-node-exporter.permissionInitContainer.image", "registry", "quay.io"),
        ("grafana.image", "registry", "docker.io"),
        ("grafana.downloadDashboardsImage", "registry", "docker.io"),
        ("grafana.initChownData.image", "registry", "docker.io"),
        ("grafana.sidecar.image", "registry", "quay.io"),
        ("grafana.imageRenderer.image", "registry", "docker.io"),
    ],
    "metrics-server": [
        ("image", "repository", "registry.k8s.io/metrics-server/metrics-server"),
        ("addonResizer.image", "repository", "registry.k8s.io/autoscaling/addon-resizer"),
    ],
    "cloudnative-pg": [("image", "repository", "ghcr.io/cloudnative-pg/cloudnative-pg")],
    "plugin-barman-cloud": [("image", "registry", "ghcr.io"), ("sidecarImage", "registry", "ghcr.io")],
    "cluster-autoscaler": [("image", "repository", "registry.k8s.io/autoscaling/cluster-autoscaler")],
}


def image_values(chart: str, mirrors: Mirrors) -> dict[str, Any]:
    """The values overlay that points every image of `chart` at the image mirror ({} without one)."""
    if mirrors.image_mirror is None:
        return {}
    overlay: dict[str, Any] = {}
    for path, key, upstream in IMAGE_BLOCKS[chart]:
        node = overlay
        for part in filter(None, path.split(".")):
            node = node.setdefault(part, {})
        node[key] = mirrors.image(upstream) if key == "repository" else mirrors.registry(upstream)
    return overlay


def deep_merge(base: dict, overlay: dict) -> dict:
    """`overlay` over `base`, maps merged key by key (neither is modified)."""
    out = dict(base)
    for key, value in overlay.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
