"""Review environments: the app alone, for one pull request, on the staging cluster.

A review stack (template: review/Pulumi.pr.yaml) adopts the staging cluster through the
existing-cluster path and sets `tradesense:review`. The program then builds no cluster and no
platform: it deploys the unchanged `TradeSenseApp` into the namespace `tradesense-pr-<N>` that
the privileged side opened for the PR (tools/review_slot.py: restricted Pod Security, quota,
limits, the PR's own identity; docs/REVIEW_ENVIRONMENTS.md), behind staging's shared Gateway with hostnames of
its own (`pr-<N>.<domain>`, `www-pr-<N>.<domain>`, `api-pr-<N>.<domain>`: one label under the
domain, so one wildcard listener and certificate can serve every PR). Every Pulumi name carries
the PR number; the app's default-deny NetworkPolicies admit only same-namespace peers, the edge
and Prometheus, so review environments cannot reach staging's app or each other.

This is a parametrisation of the app (namespace, names, hostnames; sizes come from the review
stack file's `app` section), not a copy of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
from pydantic import Field

from components.app.app import TradeSenseApp, TradeSenseAppArgs
from components.app.secrets import CONFIG_SECRET_ENV
from components.config_base import Environment, Section
from components.platform.interface import EdgeInterface, PlatformInterface
from components.platform.review_edge import (
    REVIEW_LISTENER, REVIEW_NAMESPACE_PREFIX, REVIEW_TLS_SECRET,
)

if TYPE_CHECKING:
    from components.cluster.interface import ClusterInterface
    from components.config import StackConfig


class ReviewConfig(Section):
    # The stack whose cluster and edge the review environments share: its Gateway admits routes
    # from namespaces labelled with this name (platform.reviewEnvironments on that stack).
    of: str = Field("staging", pattern=r"^[a-z0-9-]+$", description="the stack whose cluster and Gateway the review environment uses")
    # The pull request number.
    number: int = Field(ge=1, le=999999, description="the pull request number (names, namespace and hostnames carry it)")
    # Environments planned in one run, numbered number, number+1, ... (for measuring scale).
    count: int = Field(1, ge=1, le=64, description="plan this many review environments from number on (for measuring scale)")
    # Staging's shared edge: the Gateway's namespace and name, and its data-plane pod labels.
    edge_namespace: str = Field("nginx-gateway", description="namespace of the parent stack's Gateway")
    gateway_name: str = Field("tradesense", description="name of the parent stack's Gateway")
    monitoring_namespace: str = Field("monitoring", description="namespace of the parent stack's Prometheus")

    def problems(self, env: Environment):
        if env == "prod":
            yield "", "review environments run on the staging cluster: set tradesense:environment to staging"

    @property
    def numbers(self) -> range:
        return range(self.number, self.number + self.count)


def namespace_of(number: int) -> str:
    return f"{REVIEW_NAMESPACE_PREFIX}{number}"


def hostnames_of(number: int, domain: str) -> tuple[str, str, str]:
    return f"pr-{number}.{domain}", f"www-pr-{number}.{domain}", f"api-pr-{number}.{domain}"


def shared_platform(review: ReviewConfig, number: int, domain: str) -> PlatformInterface:
    """What staging's platform offers a review app: its Gateway, Prometheus, dashboards and Postgres operator (no resources)."""
    from components.platform.edge_gateway_api import GATEWAY_NAME_LABEL
    from components.platform.monitoring import DASHBOARD_LABEL, PROMETHEUS_POD_LABELS
    from components.platform.cnpg import NAMESPACE as CNPG_NAMESPACE, OPERATOR_POD_LABELS, PLUGIN_POD_LABELS
    from components.platform.interface import PostgresOperator
    from components.platform.security_headers import SECURITY_HEADERS, response_header_filter

    hostnames = hostnames_of(number, domain)
    name = namespace_of(number)
    return PlatformInterface(
        edge=EdgeInterface(
            kind="gateway-api",
            namespace=review.edge_namespace,
            pod_labels={GATEWAY_NAME_LABEL: review.gateway_name},
            gateway_name=review.gateway_name,
            # Staging's wildcard listener, which admits routes from namespaces labelled as its
            # review environments (components/platform/review_edge.py).
            https_sections=(REVIEW_LISTENER,),
            security_headers=dict(SECURITY_HEADERS),
            response_headers_filter=response_header_filter(),
        ),
        domain=hostnames[0],
        hostnames=hostnames,
        api_hostname=hostnames[2],
        app_namespace=name,
        monitoring_namespace=review.monitoring_namespace,
        tls_secret_name=REVIEW_TLS_SECRET,
        tls_secret_namespace=review.edge_namespace,
        prometheus_pod_labels=dict(PROMETHEUS_POD_LABELS),
        dashboard_label=dict(DASHBOARD_LABEL),
        # The namespace, its quota and this PR's rights exist before the stack runs
        # (tools/review_slot.py, components/platform/review_slots.py): nothing to wait for.
        # Staging's CloudNativePG operator (it watches every namespace); nothing to wait for.
        postgres_operator=PostgresOperator(
            namespace=CNPG_NAMESPACE, operator_pod_labels=dict(OPERATOR_POD_LABELS), plugin_pod_labels=dict(PLUGIN_POD_LABELS),
        ),
    )


def build_review_environments(cfg: "StackConfig", cluster: "ClusterInterface") -> list[TradeSenseApp]:
    review = cfg.settings.review
    assert review is not None
    domain = cfg.settings.platform.domain
    apps = []
    for number in review.numbers:
        name = namespace_of(number)
        apps.append(TradeSenseApp(name, TradeSenseAppArgs(
            settings=cfg.settings.app,
            environment=cfg.env,
            protect=False,  # a review environment is thrown away when its PR closes
            config_secrets={env: cfg.secret(key) for env, key in CONFIG_SECRET_ENV.items()},
            provider=cluster.provider,
            storage_class=cluster.storage_class,
            platform=shared_platform(review, number, domain),
            workloads_ready=cluster.workloads_ready,
        )))
    pulumi.export("reviewEnvironments", {str(n): f"https://{hostnames_of(n, domain)[0]}" for n in review.numbers})
    return apps

