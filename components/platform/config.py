"""`tradesense:platform` config section (edge, cert-manager, monitoring stack, autoscaling).

Every key can be set with `pulumi config set --path tradesense:platform.<key> <value>`.
The Alertmanager receivers are a secret, so they live in `tradesense:alertmanagerReceivers`.
"""

from __future__ import annotations

import re
from typing import Iterable, Literal, Optional, get_args

from pydantic import Field

from components.config_base import Environment, Problem, Section
from components.platform.mirrors import Mirrors, chart_mirror_problems, image_mirror_problems

EdgeKind = Literal["gateway-api", "ingress-nginx"]
IssuerName = Literal["letsencrypt-prod", "letsencrypt-staging", "selfsigned"]
ServiceType = Literal["LoadBalancer", "NodePort"]
# DNS providers cert-manager solves DNS-01 with from an API token (components/platform/dns01.py).
Dns01Provider = Literal["digitalocean", "cloudflare"]

DOMAIN_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"
# Prometheus durations and sizes (its --storage.tsdb.retention.* flags; sizes are powers of 1024).
RETENTION_PATTERN = r"^[1-9][0-9]*(h|d|w|y)$"
RETENTION_SIZE_PATTERN = r"^[1-9][0-9]*(MB|GB|TB)$"
STORAGE_PATTERN = r"^[1-9][0-9]*(Gi|Ti)$"

_BYTES = {"MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "Gi": 1024**3, "Ti": 1024**4}
# Prometheus needs room beyond the retention size for the WAL and compaction.
RETENTION_SHARE_OF_VOLUME = 0.85


def size_bytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"([0-9]+)([A-Za-z]+)", quantity).groups()
    return int(number) * _BYTES[unit]


class MonitoringConfig(Section):
    # How long Prometheus keeps samples, and the size cap that wins first.
    retention: str = Field("15d", pattern=RETENTION_PATTERN)
    retention_size: str = Field("40GB", pattern=RETENTION_SIZE_PATTERN)
    # The Prometheus PersistentVolumeClaim (on the cluster's storage class).
    storage_size: str = Field("50Gi", pattern=STORAGE_PATTERN)
    alertmanager_storage_size: str = Field("2Gi", pattern=STORAGE_PATTERN)

    def problems(self, env: Environment) -> Iterable[Problem]:
        limit = size_bytes(self.storage_size) * RETENTION_SHARE_OF_VOLUME
        if size_bytes(self.retention_size) > limit:
            yield "retentionSize", (
                f"must leave room for the WAL: at most {int(RETENTION_SHARE_OF_VOLUME * 100)}% of storageSize "
                f"(got {self.retention_size} on a {self.storage_size} volume)"
            )


class ReviewEnvironmentsConfig(Section):
    """This stack's edge also serves review environments (components/review.py) at
    <name>.<domain>, through one wildcard listener and certificate."""

    # The DNS provider hosting <domain>'s zone: Let's Encrypt issues a wildcard certificate only
    # through DNS-01. Its API token is the secret tradesense:dns01ApiToken.
    dns01_provider: Optional[Dns01Provider] = None


class PlatformConfig(Section):
    # Apex domain; the platform serves it, www.<domain> and api.<domain>.
    domain: Optional[str] = Field(None, pattern=DOMAIN_PATTERN, max_length=200)
    # Let's Encrypt ACME account contact (account and policy notices; Let's Encrypt stopped expiry
    # emails in 2025, so expiry is the monitoring's job). Required unless the issuer is selfsigned.
    acme_email: Optional[str] = Field(None, pattern=EMAIL_PATTERN)
    # Which issuer signs the stack's certificate; default: selfsigned in dev, letsencrypt-prod elsewhere.
    issuer: Optional[IssuerName] = None
    edge: EdgeKind = "gateway-api"
    # NodePort is for local clusters without a load-balancer implementation.
    edge_service_type: ServiceType = "LoadBalancer"
    edge_replicas: int = Field(2, ge=1, le=20)
    monitoring: MonitoringConfig = MonitoringConfig()
    # Set on the stack whose cluster hosts review environments (staging).
    review_environments: Optional[ReviewEnvironmentsConfig] = None
    # Air-gapped clusters (components/platform/mirrors.py, docs/CHARTS.md): one Helm repository
    # (https://...) or OCI registry path (oci://...) serving every pinned chart, and one registry
    # serving every image the program and the charts pull, as <imageMirror>/<registry>/<path>.
    chart_mirror: Optional[str] = Field(None, max_length=500)
    image_mirror: Optional[str] = Field(None, max_length=300)

    def problems(self, env: Environment) -> Iterable[Problem]:
        if self.domain is None:
            yield "domain", "is required: the apex domain the stack serves (e.g. tradesense.com, or tradesense.localhost in dev)"
        issuer = self.issuer_for(env)
        acme = issuer != "selfsigned"
        if acme and self.acme_email is None:
            yield "acmeEmail", f"is required with the {issuer} issuer (the ACME account's contact address)"
        if acme and self.domain and self.domain.endswith(".localhost"):
            yield "issuer", f"must be selfsigned for a .localhost domain (Let's Encrypt cannot validate {self.domain})"
        if env == "prod" and issuer != "letsencrypt-prod":
            yield "issuer", f"must be letsencrypt-prod in prod (got {issuer}): browsers reject other certificates"
        if env != "dev" and self.edge_service_type != "LoadBalancer":
            yield "edgeServiceType", f"must be LoadBalancer in {env} (NodePort is for local clusters)"
        if env == "prod" and self.edge_replicas < 2:
            yield "edgeReplicas", f"must be >= 2 in prod so the edge survives a node loss (got {self.edge_replicas})"
        yield from self._review_problems(env, issuer)
        if self.chart_mirror is not None:
            yield from (("chartMirror", msg) for msg in chart_mirror_problems(self.chart_mirror, env))
        if self.image_mirror is not None:
            yield from (("imageMirror", msg) for msg in image_mirror_problems(self.image_mirror))

    def _review_problems(self, env: Environment, issuer: IssuerName) -> Iterable[Problem]:
        review = self.review_environments
        if review is None:
            return
        if env == "prod":
            yield "reviewEnvironments", "must not be set in prod: review environments run on the staging cluster"
        if self.edge != "gateway-api":
            yield "reviewEnvironments", "needs edge gateway-api (review environments attach HTTPRoutes to the shared Gateway)"
        if issuer != "selfsigned" and review.dns01_provider is None:
            yield "reviewEnvironments.dns01Provider", (
                f"is required with the {issuer} issuer: Let's Encrypt issues the wildcard certificate "
                f"*.{self.domain} only through DNS-01 (one of: {', '.join(get_args(Dns01Provider))})"
            )

    def issuer_for(self, env: Environment) -> IssuerName:
        if self.issuer is not None:
            return self.issuer
        return "selfsigned" if env == "dev" else "letsencrypt-prod"

    @property
    def mirrors(self) -> Mirrors:
        return Mirrors.from_settings(self.chart_mirror, self.image_mirror)

    @property
    def review_hostname(self) -> Optional[str]:
        """The wildcard the review environments' hostnames fall under (one DNS label deep)."""
        return f"*.{self.domain}" if self.review_environments is not None else None

    @property
    def hostnames(self) -> tuple[str, ...]:
        """Apex, www and api, in the order the app layer expects."""
        assert self.domain is not None, "domain is checked by problems()"
        return (self.domain, f"www.{self.domain}", f"api.{self.domain}")
