"""Print the kubeconfig of the review admin (GitHub environment secret REVIEW_ADMIN_KUBECONFIG):
staging's API server and CA from your kubectl context, and an expiring token (TokenRequest,
ADMIN_TOKEN_HOURS) of the ServiceAccount review-admin (components/platform/review_access.py),
nothing of your own credentials. Only the workflow's privileged step uses it, from base-branch
code, to open a PR's slot and mint that PR's own short-lived token (tools/review_slot.py).

    python -m tools.review_kubeconfig --context do-nyc1-tradesense-staging | gh secret set REVIEW_ADMIN_KUBECONFIG --env review-admin

Run it after staging's `pulumi up` has created the ServiceAccount, and again before the token
expires (docs/REVIEW_ENVIRONMENTS.md). The token goes to stdout only: pipe it, do not save it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Optional

import yaml

from components.platform.review_slots import ADMIN_SERVICE_ACCOUNT, CI_NAMESPACE
from tools.kube_target import WrongCluster, verified_context

ADMIN_TOKEN_HOURS = 30 * 24


class KubeconfigError(Exception):
    pass


def deployer_kubeconfig(admin: dict, token: str, user: str = ADMIN_SERVICE_ACCOUNT) -> dict:
    """A kubeconfig with the current context's cluster (server, CA) and `user`'s token only."""
    contexts = {c["name"]: c["context"] for c in admin.get("contexts") or []}
    current = contexts.get(admin.get("current-context", ""))
    if current is None:
        raise KubeconfigError("the kubeconfig has no current context")
    clusters = {c["name"]: c["cluster"] for c in admin.get("clusters") or []}
    cluster = clusters.get(current.get("cluster", ""))
    if cluster is None or not cluster.get("server"):
        raise KubeconfigError(f"the current context's cluster {current.get('cluster')!r} has no server")
    if not token:
        raise KubeconfigError(f"no token was issued for {CI_NAMESPACE}/{user}")
    kept = {k: cluster[k] for k in ("server", "certificate-authority-data", "tls-server-name") if k in cluster}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "staging", "cluster": kept}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": {"cluster": "staging", "user": user}}],
        "current-context": user,
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
    parser.add_argument("--stack", default="staging", help="the stack hosting review environments (its kubeconfig output is checked)")
    args = parser.parse_args(argv)
    try:
        # Minting a token changes the cluster: only on the stack's own (tools/kube_target.py).
        verified_context(args.stack, args.context, subprocess.run)
        admin = yaml.safe_load(_kubectl(f"read context {args.context}", "config", "view", "--minify", "--raw", "--flatten", "--context", args.context))
        token = _kubectl(f"create a token for {CI_NAMESPACE}/{ADMIN_SERVICE_ACCOUNT}", "--context", args.context, "-n", CI_NAMESPACE,
                         "create", "token", ADMIN_SERVICE_ACCOUNT, f"--duration={ADMIN_TOKEN_HOURS}h").strip()
        print(yaml.safe_dump(deployer_kubeconfig(admin, token), sort_keys=False), end="")
    except WrongCluster as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    except KubeconfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
