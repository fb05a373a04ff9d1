"""Print the kubeconfig CI deploys review environments with (GitHub secret REVIEW_KUBECONFIG):
staging's API server and CA from your kubectl context, and the token of the review deployer
ServiceAccount (components/platform/review_access.py), nothing of your own credentials.

    python -m tools.review_kubeconfig --context do-nyc1-tradesense-staging | gh secret set REVIEW_KUBECONFIG

Run it after staging's `pulumi up` has created the ServiceAccount. The token goes to stdout only:
pipe it, do not save it. Rotation: docs/REVIEW_ENVIRONMENTS.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
from typing import Optional

import yaml

from components.platform.review_access import DEPLOYER_NAMESPACE, DEPLOYER_SERVICE_ACCOUNT, DEPLOYER_TOKEN_SECRET


class KubeconfigError(Exception):
    pass


def deployer_kubeconfig(admin: dict, token: str) -> dict:
    """A kubeconfig with the current context's cluster (server, CA) and the deployer's token."""
    contexts = {c["name"]: c["context"] for c in admin.get("contexts") or []}
    current = contexts.get(admin.get("current-context", ""))
    if current is None:
        raise KubeconfigError("the kubeconfig has no current context")
    clusters = {c["name"]: c["cluster"] for c in admin.get("clusters") or []}
    cluster = clusters.get(current.get("cluster", ""))
    if cluster is None or not cluster.get("server"):
        raise KubeconfigError(f"the current context's cluster {current.get('cluster')!r} has no server")
    if not token:
        raise KubeconfigError(f"Secret {DEPLOYER_NAMESPACE}/{DEPLOYER_TOKEN_SECRET} has no token yet")
    kept = {k: cluster[k] for k in ("server", "certificate-authority-data", "tls-server-name") if k in cluster}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "staging", "cluster": kept}],
        "users": [{"name": DEPLOYER_SERVICE_ACCOUNT, "user": {"token": token}}],
        "contexts": [{"name": DEPLOYER_SERVICE_ACCOUNT, "context": {"cluster": "staging", "user": DEPLOYER_SERVICE_ACCOUNT}}],
        "current-context": DEPLOYER_SERVICE_ACCOUNT,
    }


def _kubectl(what: str, *args: str) -> str:
    try:
        return subprocess.run(["kubectl", *args], check=True, capture_output=True, text=True).stdout
    except FileNotFoundError as exc:
        raise KubeconfigError("kubectl is not on PATH") from exc
    except subprocess.CalledProcessError as exc:
        raise KubeconfigError(f"kubectl could not {what}: {exc.stderr.strip()}") from exc


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.review_kubeconfig", description=__doc__.split("\n\n")[0])
    parser.add_argument("--context", required=True, help="your kubectl context for the staging cluster")
    args = parser.parse_args(argv)
    try:
        admin = yaml.safe_load(_kubectl(f"read context {args.context}", "config", "view", "--minify", "--raw", "--flatten", "--context", args.context))
        secret = json.loads(_kubectl(f"read Secret {DEPLOYER_NAMESPACE}/{DEPLOYER_TOKEN_SECRET}",
                                     "--context", args.context, "-n", DEPLOYER_NAMESPACE, "get", "secret", DEPLOYER_TOKEN_SECRET, "-o", "json"))
        token = base64.b64decode((secret.get("data") or {}).get("token", "")).decode()
        print(yaml.safe_dump(deployer_kubeconfig(admin, token), sort_keys=False), end="")
    except KubeconfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
