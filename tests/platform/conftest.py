"""Platform test helpers: run cluster + platform under mocks and keep the PlatformInterface too.

Expected values come from the issue, the deployment guide and the committed stack files, never
from the platform code itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import pytest
import yaml

from tests.conftest import ROOT, edge_overrides, secret_keys, stack_config
from tools.mock_runtime import Recording, Resource, run_program, unwrap_secrets

RELEASE = "kubernetes:helm.sh/v3:Release"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
HTTPROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
CLUSTER_ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
# The stack's own certificate (a stack hosting review environments has a wildcard one too).
STACK_CERTIFICATE = "platform-cert-manager-certificate"
CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
NAMESPACE = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"

# The deployment guide's "Security Headers" section, as the issue restates it.
GUIDE_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "X-XSS-Protection": "1; mode=block",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
LETS_ENCRYPT = {
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "letsencrypt-prod": "https://acme-v02.api.letsencrypt.org/directory",
}
EDGES = ("gateway-api", "ingress-nginx")


@dataclass
class PlatformRun:
    stack: str
    edge: str
    recording: Recording
    platform: Any  # PlatformInterface

    def releases(self) -> dict[str, Resource]:
        """Helm releases by chart name (an OCI reference counts by its last path segment)."""
        return {r.inputs["chart"].rsplit("/", 1)[-1]: r for r in self.recording.of_type(RELEASE)}

    def values(self, chart: str) -> dict:
        return unwrap_secrets(self.releases()[chart].inputs.get("values", {}))

    def named(self, type_: str, name: str) -> Resource:
        """The one resource of `type_` whose metadata.name is `name`."""
        found = [r for r in self.recording.of_type(type_) if r.inputs.get("metadata", {}).get("name") == name]
        assert len(found) == 1, f"expected one {type_} named {name}, found {len(found)}"
        return found[0]

    def depends_on(self, resource: Resource, other: Resource) -> bool:
        return other.urn in resource.dependencies


def stack_file(stack: str) -> dict:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def run_platform(stack: str, overrides: Optional[dict] = None, **kwargs) -> PlatformRun:
    """Cluster + platform only (the app layer is tested on its own), keeping the interface."""
    from components.cluster.factory import build_cluster
    from components.config import load_config
    from components.platform.platform import build_platform

    captured: dict = {}

    def program() -> None:
        cfg = load_config()
        captured["platform"] = build_platform(cfg, build_cluster(cfg)).interface

    config = stack_config(stack, overrides)
    config.update(kwargs.pop("extra_config", None) or {})
    kwargs.setdefault("secret_keys", secret_keys(config))
    recording = run_program(config, stack, program=program, **kwargs)
    edge = (overrides or {}).get("platform.edge", "gateway-api")
    return PlatformRun(stack, edge, recording, captured["platform"])


@pytest.fixture(scope="session")
def platform_runs() -> dict[tuple[str, str], PlatformRun]:
    """Every committed stack with each edge option."""
    return {
        (stack, edge): run_platform(stack, edge_overrides(edge))
        for stack in ("dev", "staging", "prod")
        for edge in EDGES
    }



def walk(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (path, node) in nested dicts and lists."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from walk(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from walk(child, path + (index,))


def as_json(value: Any) -> str:
    return json.dumps(unwrap_secrets(value), sort_keys=True, default=str)


def dig(mapping: dict, dotted: str) -> Any:
    node: Any = mapping
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"{dotted}: missing '{part}'"
        node = node[part]
    return node
