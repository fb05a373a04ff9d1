"""Which cluster an operator tool is about to change, checked against the stack's own outputs.

A tool that changes a cluster (tools.restore) calls `verified_context(stack, context, run)`
first: the kube context (the named one, else kubectl's current one) must point at the API server
AND carry the CA of the stack's `kubeconfig` output (components/outputs.py). Anything unknown,
unreadable or different refuses, naming both servers. The tool then passes `--context <name>` to
every kubectl call, so a context switch halfway cannot move it to another cluster.
"""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass
from typing import Callable, Optional

import yaml

Run = Callable[..., subprocess.CompletedProcess]


class WrongCluster(SystemExit):
    """Refusal to act; its text is the message for the operator."""


@dataclass(frozen=True)
class Target:
    context: str
    server: str
    ca: bytes  # the CA certificate (PEM), decoded


def _cluster_of(config: dict, context: Optional[str], where: str) -> Target:
    name = context or config.get("current-context") or ""
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or []}
    if name not in contexts:
        raise WrongCluster(f"{where} has no context {name!r}" if name else f"{where} has no current context")
    clusters = {c.get("name"): c.get("cluster") or {} for c in config.get("clusters") or []}
    cluster = clusters.get(contexts[name].get("cluster"))
    if not cluster or not cluster.get("server"):
        raise WrongCluster(f"{where}: context {name!r} names no cluster with a server")
    data = cluster.get("certificate-authority-data")
    if not data:
        raise WrongCluster(f"{where}: context {name!r} ({cluster['server']}) carries no certificate-authority-data to compare")
    try:
        ca = base64.b64decode(data, validate=True)
    except ValueError as exc:
        raise WrongCluster(f"{where}: context {name!r} has unreadable certificate-authority-data") from exc
    return Target(name, cluster["server"].rstrip("/"), ca)


def stack_target(stack: str, run: Run) -> Target:
    """The API server and CA of the stack's `kubeconfig` output."""
    out = run(["pulumi", "stack", "output", "kubeconfig", "--stack", stack, "--show-secrets", "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise WrongCluster(f"cannot read stack {stack}'s kubeconfig output (pulumi stack output kubeconfig --stack {stack}):"
                           f" {out.stderr.strip() or 'no output'}; refusing to act on an unknown cluster")
    try:
        value = json.loads(out.stdout)
        config = yaml.safe_load(value) if isinstance(value, str) else value
    except (ValueError, yaml.YAMLError) as exc:
        raise WrongCluster(f"stack {stack}'s kubeconfig output is not a kubeconfig; refusing to act") from exc
    if not isinstance(config, dict):
        raise WrongCluster(f"stack {stack} has no kubeconfig output; refusing to act on an unknown cluster")
    return _cluster_of(config, None, f"stack {stack}'s kubeconfig output")


def kube_target(context: Optional[str], run: Run) -> Target:
    """The API server and CA kubectl would use (`context`, else the current context)."""
    command = ["kubectl", "config", "view", "--raw", "--flatten", "-o", "json"]
    out = run(command, capture_output=True, text=True)
    if out.returncode != 0:
        raise WrongCluster(f"cannot read your kubeconfig (kubectl config view): {out.stderr.strip()}")
    try:
        config = json.loads(out.stdout)
    except ValueError as exc:
        raise WrongCluster("kubectl config view printed no kubeconfig") from exc
    return _cluster_of(config, context, "your kubeconfig")


def verified_context(stack: str, context: Optional[str], run: Run) -> str:
    """The kube context name to pass to every kubectl call, once it is proven to be `stack`'s cluster."""
    mine, theirs = kube_target(context, run), stack_target(stack, run)
    if mine.server != theirs.server or mine.ca != theirs.ca:
        what = "API server" if mine.server != theirs.server else "CA certificate"
        raise WrongCluster(
            f"refusing: kube context {mine.context!r} points at {mine.server}, but stack {stack}'s cluster is"
            f" {theirs.server} ({what} differs). Pick the right one with --context.")
    return mine.context
