"""Create a stack from another: `python -m tools new-stack NAME --from staging [--domain D]`.

Writes Pulumi.NAME.yaml and policies/config/NAME.json. The copy gets its own cloud names
(cluster `<ORG_PREFIX>-NAME`, so its buckets `<cluster>-backup`/`-uploads` and the DNS names
under its own domain do not collide with the source's), and none of the source's secrets:
encrypted values, the encryption salt and the secrets provider belong to the source stack, so
they are dropped and listed. Exit 0 written, 2 on a usage error (nothing is written then).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Optional

import yaml

from components.organisation import ORG_PREFIX
from tools.stack_files import ROOT, available_stacks

NAME = re.compile(r"^[a-z][a-z0-9-]{0,20}[a-z0-9]$")
STACK_KEYS_OF_THE_SOURCE = ("encryptionsalt", "secretsprovider", "encryptedkey")


class NewStackError(ValueError):
    pass


def new_stack(name: str, source: str, root: Path = ROOT, domain: Optional[str] = None) -> tuple[list[Path], list[str]]:
    """The files written and the secret keys the new stack still needs."""
    if not NAME.match(name) or name.startswith("pr-"):
        raise NewStackError(f"stack name {name!r} must be 2-22 lowercase letters, digits and dashes (pr-<N> is for review stacks)")
    if source not in available_stacks(root):
        raise NewStackError(f"no Pulumi.{source}.yaml to copy (known stacks: {', '.join(available_stacks(root))})")
    stack_file, policy_file = root / f"Pulumi.{name}.yaml", root / "policies" / "config" / f"{name}.json"
    source_policy = root / "policies" / "config" / f"{source}.json"
    for path in (stack_file, policy_file):
        if path.exists():
            raise NewStackError(f"{path.relative_to(root)} exists already: pick another name or remove it")
    if not source_policy.exists():
        raise NewStackError(f"{source_policy.relative_to(root)} does not exist: the source stack has no policy config")
    doc = yaml.safe_load((root / f"Pulumi.{source}.yaml").read_text()) or {}
    for key in STACK_KEYS_OF_THE_SOURCE:
        doc.pop(key, None)
    config = doc.setdefault("config", {})
    dropped = sorted(k for k, v in config.items() if isinstance(v, dict) and set(v) == {"secure"})
    for key in dropped:
        del config[key]
    cluster = config.get("tradesense:cluster") or {}
    cluster["name"] = f"{ORG_PREFIX}-{name}"
    if cluster.get("cloud") == "existing":
        cluster.setdefault("existing", {})["context"] = f"REPLACE-with-the-kubeconfig-context-of-{name}"
    platform = config.setdefault("tradesense:platform", {})
    platform["domain"] = domain or _domain_for(name, source, platform.get("domain", ""))
    stack_file.write_text(
        f"# Created by `python -m tools new-stack {name} --from {source}`: cloud names, domain and secrets are its own.\n"
        + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))
    policy_file.write_text(source_policy.read_text())
    from components.config import SECRETS

    env = config.get("tradesense:environment", "")
    raw = {k: json.dumps(v) if isinstance(v, (dict, list)) else str(v) for k, v in config.items()}
    needed = [s.full_key for s in SECRETS.values() if s.required(env, raw)]
    return [stack_file, policy_file], sorted(set(needed) | set(dropped))


def _domain_for(name: str, source: str, domain: str) -> str:
    """staging.example.com -> NAME.example.com; example.com -> NAME.example.com."""
    apex = domain[len(source) + 1:] if domain.startswith(f"{source}.") else domain
    return f"{name}.{apex}" if apex else f"{name}.example.com"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools new-stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the new stack's name (lowercase, digits, dashes)")
    parser.add_argument("--from", dest="source", required=True, help="the stack to copy, e.g. staging")
    parser.add_argument("--domain", help="the new stack's apex domain (default: NAME.<the source's parent domain>)")
    args = parser.parse_args(argv)
    try:
        written, secrets = new_stack(args.name, args.source, domain=args.domain)
    except NewStackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path.relative_to(ROOT)}")
    print(f"next: `make plan STACK={args.name}`, then set its secrets from stdin before a deploy:")
    for key in secrets:
        print(f"  pulumi config set --secret {key} -s {args.name}   # prompts; or < FILE")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
