"""Air-gapped installs: every chart from one mirror, every image from one registry mirror.

`platform.chartMirror` is one Helm repository (http(s)://) or OCI registry path (oci://) that
serves every pinned chart under its upstream name and version. `platform.imageMirror` is a
registry host (and optional path) that serves every image under `<mirror>/<upstream registry>/
<upstream path>`: keeping the upstream registry in the path means two registries' images of the
same name never collide, and it is the layout `crane copy`/`skopeo sync` scripts produce.
See docs/CHARTS.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional
from urllib.parse import urlsplit

CHART_MIRROR_SCHEMES = ("https", "http", "oci")
# host[:port][/path], lowercase like every registry name (distribution spec).
IMAGE_MIRROR_PATTERN = re.compile(
    r"^(?P<host>[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?)(?P<path>(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*)$"
)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DOCKER_HUB = "docker.io"


def chart_mirror_problems(value: str, env: str) -> Iterable[str]:
    """What is wrong with a platform.chartMirror value (empty when it is usable)."""
    example = "e.g. https://charts.example.internal/stable or oci://registry.example.internal/charts"
    # Everything before the host's last '@' may be a credential: never echo it.
    shown = re.sub(r"^([a-z][a-z0-9+.-]*://)?[^/@]*@", r"\1***@", value, flags=re.IGNORECASE)
    try:
        url = urlsplit(value)
        url.port  # raises on a malformed port
    except ValueError:
        yield f"is not a valid URL (got {shown!r}); {example}"
        return
    if url.scheme not in CHART_MIRROR_SCHEMES:
        yield f"must start with https://, http:// or oci:// (got {shown!r}); {example}"
        return
    if not url.hostname:
        yield f"must name a host (got {shown!r}); {example}"
        return
    if url.username is not None or url.password is not None:
        yield ("must not hold credentials (they would sit in plain text in the stack file and state): "
               "log in with `helm registry login` or the provider's Helm configuration instead")
    if url.query or url.fragment:
        yield "must not have a query or fragment: charts are looked up under its path (a token belongs in Helm's credentials, not the URL)"
    if url.scheme == "http" and env != "dev" and url.hostname not in LOOPBACK_HOSTS:
        yield (f"must use https:// or oci:// in {env}: a chart fetched over plain http can be swapped in transit, "
               "and it runs with cluster-admin rights")


def image_mirror_problems(value: str) -> Iterable[str]:
    if "://" in value:
        yield f"must be a registry host and optional path, without a scheme (got {value!r}); e.g. registry.example.internal:5000/mirror"
    elif not IMAGE_MIRROR_PATTERN.match(value):
        yield (f"must be a lowercase registry host[:port][/path] (got {value!r}); "
               "e.g. registry.example.internal:5000/mirror")


def split_image(ref: str) -> tuple[str, str]:
    """(registry, rest) of an image reference, with Docker Hub's implicit registry made explicit."""
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DOCKER_HUB, ref if rest else f"library/{ref}"


@dataclass(frozen=True)
class Mirrors:
    """Where charts and images come from: their upstream sources, or the stack's mirrors."""

    # Normalised platform.chartMirror (no trailing slash), or None for upstream repositories.
    chart_mirror: Optional[str] = None
    # platform.imageMirror, or None for upstream registries.
    image_mirror: Optional[str] = None

    @classmethod
    def from_settings(cls, chart_mirror: Optional[str], image_mirror: Optional[str]) -> "Mirrors":
        return cls(chart_mirror.rstrip("/") if chart_mirror else None, image_mirror.rstrip("/") if image_mirror else None)

    def chart(self, chart: str, repo: Optional[str]) -> tuple[str, Optional[str]]:
        """(chart, repository) to hand Helm for an upstream chart name and repository."""
        if self.chart_mirror is None:
            return chart, repo
        name = chart.rsplit("/", 1)[-1]
        if self.chart_mirror.startswith("oci://"):
            return f"{self.chart_mirror}/{name}", None
        return name, self.chart_mirror

    def image(self, ref: str) -> str:
        """An image reference as pulled through the image mirror (unchanged without one)."""
        if self.image_mirror is None:
            return ref
        registry, rest = split_image(ref)
        return f"{self.image_mirror}/{registry}/{rest}"

    def registry(self, upstream_registry: str) -> str:
        """For charts that take a registry and a repository apart: the registry to set."""
        return upstream_registry if self.image_mirror is None else f"{self.image_mirror}/{upstream_registry}"


UPSTREAM = Mirrors()
