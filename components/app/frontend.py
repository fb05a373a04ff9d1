"""SvelteKit frontend (adapter-node on port 3000): the guide's env, /health probes, resources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components.app.config import FrontendConfig
from components.app.placement import Placement
from components.app.pods import ContainerSpec, PodSpec, Probes, Scratch, http_probe
from components.app.web import WebWorkload, WebWorkloadArgs, web_workload
from components.app.workloads import FRONTEND


@dataclass(frozen=True)
class FrontendArgs:
    placement: Placement
    config: FrontendConfig
    # Public API URL for the browser (https://api.<domain>).
    api_base_url: str
    # In-cluster API URL for server-side rendering: the NetworkPolicies let the frontend reach
    # the backend Service directly, not the public edge.
    internal_api_base_url: str
    stripe_publishable_key: Optional[str]
    depends_on: tuple[pulumi.Resource, ...] = ()


def frontend_pod(args: FrontendArgs) -> PodSpec:
    cfg = args.config
    port = FRONTEND.port
    env = [
        {"name": "NODE_ENV", "value": "production"},
        {"name": "PORT", "value": str(port)},
        # Behind the edge: take the scheme from X-Forwarded-Proto (SvelteKit's CSRF origin check).
        {"name": "PROTOCOL_HEADER", "value": "x-forwarded-proto"},
        {"name": "VITE_API_BASE_URL", "value": args.api_base_url},
        {"name": "INTERNAL_API_BASE_URL", "value": args.internal_api_base_url},
    ]
    if args.stripe_publishable_key:
        # Publishable keys are public by design (they ship to every browser).
        env.append({"name": "PUBLIC_STRIPE_KEY", "value": args.stripe_publishable_key})
    container = ContainerSpec(
        name="frontend",
        image=cfg.image.ref,
        resources=cfg.resources,
        run_as_user=cfg.run_as_user,
        port=port,
        env=tuple(env),
        scratch=(Scratch("tmp", "/tmp", "128Mi"),),
        probes=Probes(
            startup=http_probe("/health", port, period=2, failure_threshold=30),
            readiness=http_probe("/health", port, period=5, failure_threshold=3),
            liveness=http_probe("/health", port, period=10, failure_threshold=3),
        ),
        drain_on_stop=True,
    )
    return PodSpec(
        workload=FRONTEND,
        version=cfg.image.tag,
        containers=(container,),
        run_as_user=cfg.run_as_user,
        shutdown_seconds=15,
        spread=True,
    )


class Frontend(pulumi.ComponentResource):
    workload: WebWorkload

    def __init__(self, name: str, args: FrontendArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:app:Frontend", name, None, opts)
        self.workload = web_workload(
            name,
            self,
            WebWorkloadArgs(args.placement, frontend_pod(args), args.config.autoscaling, args.depends_on),
        )
        self.register_outputs({"service": FRONTEND.name, "port": FRONTEND.port})
