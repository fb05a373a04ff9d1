"""FastAPI backend: the guide's env, probes, resources and graceful shutdown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

import pulumi

from components.app.config import BackendConfig, LogLevel
from components.app.placement import Placement
from components.app.pods import ContainerSpec, PodSpec, Probes, Scratch, http_probe
from components.app.web import WebWorkload, WebWorkloadArgs, web_workload
from components.app.workloads import BACKEND
from components.config_base import Environment

# The guide's ENVIRONMENT values.
ENVIRONMENT_NAMES: dict[str, str] = {"dev": "development", "staging": "staging", "prod": "production"}
HEALTH = "/api/v1/monitoring/health"


@dataclass(frozen=True)
class BackendArgs:
    placement: Placement
    config: BackendConfig
    environment: Environment
    log_level: LogLevel
    # Browser origins allowed by CORS (the frontend's public URLs).
    cors_origins: tuple[str, ...]
    # secretKeyRef env entries: DATABASE_URL, REDIS_URL, JWT_SECRET_KEY, Stripe, Sentry.
    secret_env: tuple[dict, ...]
    depends_on: tuple[pulumi.Resource, ...] = ()
    # Uploads bucket contract: UPLOADS_BUCKET (+ S3 endpoint/region, keys by secretKeyRef
    # without workload identity) and the ServiceAccount's IRSA annotation on EKS.
    uploads_env: tuple[dict, ...] = ()
    account_annotations: Optional[Mapping[str, Any]] = None


def backend_pod(args: BackendArgs) -> PodSpec:
    cfg = args.config
    port = BACKEND.port
    container = ContainerSpec(
        name="backend",
        image=cfg.image.ref,
        resources=cfg.resources,
        run_as_user=cfg.run_as_user,
        port=port,
        env=(
            {"name": "ENVIRONMENT", "value": ENVIRONMENT_NAMES[args.environment]},
            {"name": "LOG_LEVEL", "value": args.log_level},
            {"name": "CORS_ORIGINS", "value": ",".join(args.cors_origins)},
            *args.secret_env,
            *args.uploads_env,
        ),
        scratch=(
            Scratch("tmp", "/tmp", "256Mi"),
            # The app's own log files; it must rotate them (stdout is rotated by the kubelet).
            # Exceeding the limit evicts the pod rather than filling the node's disk.
            Scratch("logs", "/app/logs", "1Gi"),
        ),
        probes=Probes(
            startup=http_probe(f"{HEALTH}/startup", port, period=5, failure_threshold=30),
            readiness=http_probe(f"{HEALTH}/ready", port, period=5, failure_threshold=3),
            liveness=http_probe(f"{HEALTH}/live", port, period=10, failure_threshold=3),
        ),
        drain_on_stop=True,
    )
    # After the 15 s drain, uvicorn gets 30 s to finish in-flight requests.
    return PodSpec(
        workload=BACKEND,
        version=cfg.image.tag,
        containers=(container,),
        run_as_user=cfg.run_as_user,
        shutdown_seconds=30,
        spread=True,
    )


class Backend(pulumi.ComponentResource):
    workload: WebWorkload

    def __init__(self, name: str, args: BackendArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:app:Backend", name, None, opts)
        self.workload = web_workload(
            name,
            self,
            WebWorkloadArgs(args.placement, backend_pod(args), args.config.autoscaling, args.depends_on,
                            args.account_annotations),
        )
        self.register_outputs({"service": BACKEND.name, "port": BACKEND.port})
