"""redis_exporter (oliver006/redis_exporter, the exporter the Prometheus community charts ship)
as a sidecar of the Redis pod, plus what Prometheus needs to reach it.

- The sidecar talks to Redis over localhost, authenticating with the password from the Redis
  Secret through `secretKeyRef` (never in the pod spec itself). It runs under the same
  secure defaults as every container (non-root, read-only root filesystem, no capabilities).
- A separate `redis-metrics` Service exposes only the metrics port, so the data Service and
  its NetworkPolicy stay as they are; Prometheus' job label is that Service's name.
- One extra NetworkPolicy admits Prometheus to the metrics port and nothing else.
"""

from __future__ import annotations

from typing import Mapping

from components.app.config import Compute, Resources
from components.app.pods import ContainerSpec, Probes, http_probe
from components.app.secrets import SecretKeyRef
from components.app.workloads import REDIS

# Pinned tag: v1.91.1 is what prometheus-community's prometheus-redis-exporter chart 6.31.1
# (2026-09) ships. Public image, pulled IfNotPresent like the Redis image.
IMAGE = "docker.io/oliver006/redis_exporter:v1.91.1"
EXPORTER_UID = 59000  # the image's USER
PORT = 9121
PORT_NAME = "metrics"
SERVICE_NAME = f"{REDIS.name}-metrics"
RESOURCES = Resources(requests=Compute(cpu="10m", memory="32Mi"), limits=Compute(cpu="100m", memory="64Mi"))


def sidecar(password: SecretKeyRef, image: str = IMAGE) -> ContainerSpec:
    return ContainerSpec(
        name="redis-exporter",
        image=image,
        resources=RESOURCES,
        run_as_user=EXPORTER_UID,
        port=PORT,
        port_name=PORT_NAME,
        env=(
            {"name": "REDIS_ADDR", "value": f"redis://127.0.0.1:{REDIS.port}"},
            password.env("REDIS_PASSWORD"),
        ),
        always_pull=False,
        probes=Probes(
            liveness=http_probe("/health", PORT, period=30),
            readiness=http_probe("/health", PORT, period=15),
        ),
    )


def metrics_service_spec() -> dict:
    return {
        "selector": REDIS.selector,
        "ports": [{"name": PORT_NAME, "port": PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
    }


def prometheus_allow_spec(prometheus_peer: Mapping) -> dict:
    return {
        "podSelector": {"matchLabels": REDIS.selector},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [dict(prometheus_peer)], "ports": [{"protocol": "TCP", "port": PORT}]}],
    }
