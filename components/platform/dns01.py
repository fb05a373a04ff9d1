"""cert-manager DNS-01 solvers that authenticate with an API token (Let's Encrypt issues wildcard
certificates only through DNS-01). The token lives in a Secret in cert-manager's namespace, where
a ClusterIssuer looks its secret references up."""

from __future__ import annotations

TOKEN_SECRET_NAME = "dns01-api-token"
TOKEN_KEY = "api-token"

# Provider -> its solver block (cert-manager.io/v1 ACMEChallengeSolverDNS01).
_PROVIDERS = {
    "digitalocean": lambda ref: {"digitalocean": {"tokenSecretRef": ref}},
    "cloudflare": lambda ref: {"cloudflare": {"apiTokenSecretRef": ref}},
}


def dns01_solver(provider: str, dns_names: tuple[str, ...]) -> dict:
    """A solver used only for `dns_names`: a dnsNames selector outranks the selector-less HTTP-01
    solver, which keeps solving every other name."""
    if provider not in _PROVIDERS:
        raise ValueError(f"unknown DNS-01 provider {provider!r} (one of: {', '.join(_PROVIDERS)})")
    return {
        "selector": {"dnsNames": list(dns_names)},
        "dns01": _PROVIDERS[provider]({"name": TOKEN_SECRET_NAME, "key": TOKEN_KEY}),
    }
