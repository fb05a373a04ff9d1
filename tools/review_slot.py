"""Open or close one review environment's slot on staging, as the review admin (the workflow's
privileged step runs it from the BASE branch's checkout, never the PR's; docs/REVIEW_ENVIRONMENTS.md).

    python -m tools.review_slot open 123  > pr-kubeconfig    # slot + a kubeconfig for review-pr-123
    python -m tools.review_slot close 123                    # delete the namespace and the ServiceAccount

`open` applies components/platform/review_slots.py's manifests (ServiceAccount first: when every
slot is taken the API server refuses it, and nothing else is made), then mints a TokenRequest for
review-pr-<N> that expires after TOKEN_SECONDS, and prints a kubeconfig with the current
context's server and CA and that token only. kubectl uses KUBECONFIG (the admin's).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Callable, Optional

import yaml

from components.platform.review_slots import (
    CI_NAMESPACE, TOKEN_SECONDS, pr_namespace, pr_service_account, slot_manifests,
)
from tools.review_kubeconfig import KubeconfigError, deployer_kubeconfig

Run = Callable[..., subprocess.CompletedProcess]


def _kubectl(run: Run, what: str, *args: str, stdin: Optional[str] = None) -> str:
    try:
        out = run(["kubectl", *args], input=stdin, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise KubeconfigError("kubectl is not on PATH") from exc
    if out.returncode != 0:
        if "exceeded quota" in out.stderr and "serviceaccounts" in out.stderr:
            raise KubeconfigError(f"every review slot is taken ({out.stderr.strip()}): close another PR's environment first")
        raise KubeconfigError(f"kubectl could not {what}: {out.stderr.strip()}")
    return out.stdout


def open_slot(number: int, host_stack: str, run: Run) -> dict:
    for manifest in slot_manifests(number, host_stack):
        meta = manifest["metadata"]
        _kubectl(run, f"apply {manifest['kind']} {meta.get('namespace', '')}/{meta['name']}", "apply", "-f", "-",
                 stdin=yaml.safe_dump(manifest))
    admin = yaml.safe_load(_kubectl(run, "read the current context", "config", "view", "--minify", "--raw", "--flatten"))
    token = _kubectl(run, f"create a token for {pr_service_account(number)}", "-n", CI_NAMESPACE, "create", "token",
                     pr_service_account(number), f"--duration={TOKEN_SECONDS}s").strip()
    return deployer_kubeconfig(admin, token, user=pr_service_account(number))


def close_slot(number: int, run: Run) -> None:
    _kubectl(run, f"delete namespace {pr_namespace(number)}", "delete", "namespace", pr_namespace(number), "--ignore-not-found", "--wait")
    _kubectl(run, f"delete ServiceAccount {pr_service_account(number)}", "-n", CI_NAMESPACE, "delete", "serviceaccount",
             pr_service_account(number), "--ignore-not-found")


def main(argv: Optional[list[str]] = None, run: Run = subprocess.run) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.review_slot", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["open", "close"])
    parser.add_argument("number", type=int, help="the pull request number")
    parser.add_argument("--host-stack", default="staging", help="the stack hosting review environments")
    args = parser.parse_args(argv)
    if args.number < 1:
        parser.error("number must be a positive pull request number")
    try:
        if args.action == "open":
            print(yaml.safe_dump(open_slot(args.number, args.host_stack, run), sort_keys=False), end="")
        else:
            close_slot(args.number, run)
    except KubeconfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
