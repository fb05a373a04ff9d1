"""The deployment guide's security headers, and how each edge puts them on HTTPS responses.

NGINX Gateway Fabric turns an HTTPRoute `ResponseHeaderModifier` `set` into
`proxy_hide_header` + `add_header ... always`: the guide's `always` semantics, on every
response of the route, without enabling NGINX snippets. Gateway API has no Gateway-wide
response filter, so every HTTPS route rule must carry `response_header_filter()`; the app
layer gets it through `EdgeInterface.response_headers_filter`.

ingress-nginx sets HSTS from its `hsts*` keys (HTTPS servers only) and the rest from the
ConfigMap named by `add-headers`, which it applies to every response.
"""

from __future__ import annotations

from typing import Any

HSTS_MAX_AGE_SECONDS = 63072000  # two years (the HSTS preload list requires at least one)

# Name -> value, exactly as the guide's `add_header` lines.
SECURITY_HEADERS: dict[str, str] = {
    "Strict-Transport-Security": f"max-age={HSTS_MAX_AGE_SECONDS}; includeSubDomains; preload",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "X-XSS-Protection": "1; mode=block",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def response_header_filter() -> dict[str, Any]:
    """An HTTPRoute rule filter that sets every security header on the response."""
    return {
        "type": "ResponseHeaderModifier",
        "responseHeaderModifier": {"set": [{"name": k, "value": v} for k, v in SECURITY_HEADERS.items()]},
    }


def ingress_nginx_hsts_config() -> dict[str, str]:
    """Controller ConfigMap keys that make ingress-nginx send the guide's HSTS header."""
    return {
        "hsts": "true",
        "hsts-max-age": str(HSTS_MAX_AGE_SECONDS),
        "hsts-include-subdomains": "true",
        "hsts-preload": "true",
    }


def ingress_nginx_added_headers() -> dict[str, str]:
    """The `add-headers` ConfigMap data: every header except HSTS, which has its own keys."""
    return {k: v for k, v in SECURITY_HEADERS.items() if k != "Strict-Transport-Security"}
