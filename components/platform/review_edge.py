"""What a stack's edge adds so review environments (components/review.py) can serve traffic:
one HTTPS listener for `*.<domain>` with a wildcard certificate, admitting HTTPRoutes only from
namespaces labelled as this stack's review environments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

REVIEW_LISTENER = "https-review"
# Review namespaces are `tradesense-pr-<N>`: Alertmanager never pages for them.
REVIEW_NAMESPACE_PREFIX = "tradesense-pr-"
REVIEW_TLS_SECRET = "review-wildcard-tls"
# Review namespaces carry it, with the hosting stack's name as value; the listener selects on it.
REVIEW_NAMESPACE_LABEL = "tradesense.io/review-of"


def review_namespace_labels(host_stack: str) -> dict[str, str]:
    """The labels a review namespace needs for the host stack's review listener to admit it."""
    return {REVIEW_NAMESPACE_LABEL: host_stack}


@dataclass(frozen=True)
class ReviewWildcard:
    hostname: str
    # Stack name of the host (staging): the value of REVIEW_NAMESPACE_LABEL it admits.
    host_stack: str
    dns01_provider: Optional[str] = None
    dns01_token: Optional[pulumi.Output[str]] = None
