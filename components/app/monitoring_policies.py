"""NetworkPolicy allows for Prometheus scrapes added by the monitoring work (issue 11), kept
out of network_policies.py so its flow table stays one place to read:

  redis    :9121      <- Prometheus (redis_exporter sidecar)

The backend's allow from Prometheus (:8000) is in network_policies.py; the Postgres one comes
with the CloudNativePG cluster.
"""

from __future__ import annotations

from typing import Mapping

from components.app import redis_exporter


def monitoring_allow_specs(prometheus_peer: Mapping) -> dict[str, dict]:
    return {"allow-prometheus-redis-exporter": redis_exporter.prometheus_allow_spec(prometheus_peer)}
