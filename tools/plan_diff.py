"""Offline plan diff: what a change does to a stack, from two `python -m tools.plan --out` runs.

    python -m tools.plan_diff BASE/plan.json HEAD/plan.json [--format md|json] [--max-chars N]

Resources are matched by URN. A resource only in HEAD is added, only in BASE removed; one in
both whose inputs or options differ is updated, or replaced when a changed field forces
replacement (REPLACE_ON below). Fields listed in the resource's `ignoreChanges` are not
compared. Secrets appear only as `[secret]` (the plan already redacts them; wrapped values are
redacted again here), so a changed secret shows as "[secret] -> [secret]" only when its shape
changed. Replacing or removing a stateful or protected resource is flagged loudly.

The replacement rule is an approximation of the providers' own diff, written from their
schemas: Kubernetes immutable fields (and pulumi-kubernetes replacing ConfigMaps and Secrets on
data changes unless `enableConfigMapMutable`/`enableSecretMutable`), the AWS and DigitalOcean
arguments marked ForceNew for the types this program uses, and every input of a random
resource. A real `pulumi preview` (same-repo pull requests) is the authority.

Exit codes: 0 diff written, 2 usage or unreadable plan.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional

from policies.tradesense_rules.stack import STATEFUL_TYPES
from tools.plan_output import SECRET, redact

EXIT_OK, EXIT_USAGE = 0, 2
# GitHub rejects comment bodies over 65,536 characters; leave room for the other stacks' sections.
GITHUB_COMMENT_LIMIT = 65536
DEFAULT_MAX_CHARS = 60000
VALUE_CHARS = 120
STATEFUL = set(STATEFUL_TYPES) | {"kubernetes:postgresql.cnpg.io/v1:Cluster", "kubernetes:core/v1:PersistentVolumeClaim"}
OPTION_FIELDS = ("protect", "retainOnDelete", "provider", "parent")

_K8S_IDENTITY = ("metadata.name", "metadata.namespace")
_EVERY_INPUT = ("",)
# Changed-field prefixes that force a replacement, per resource type (see the module docstring).
REPLACE_ON: dict[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:StatefulSet": ("spec.selector", "spec.serviceName", "spec.volumeClaimTemplates", "spec.podManagementPolicy"),
    "kubernetes:apps/v1:Deployment": ("spec.selector",),
    "kubernetes:apps/v1:DaemonSet": ("spec.selector",),
    "kubernetes:batch/v1:Job": ("spec.template", "spec.selector", "spec.completions"),
    "kubernetes:core/v1:PersistentVolumeClaim": ("spec.accessModes", "spec.storageClassName", "spec.selector", "spec.volumeName", "spec.volumeMode", "spec.dataSource"),
    "kubernetes:core/v1:Service": ("spec.clusterIP", "spec.clusterIPs"),
    "kubernetes:core/v1:Secret": ("data", "stringData", "type"),
    "kubernetes:core/v1:ConfigMap": ("data", "binaryData"),
    "kubernetes:storage.k8s.io/v1:StorageClass": ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"),
    "kubernetes:policy/v1:PodDisruptionBudget": ("spec.selector",),
    "kubernetes:helm.sh/v3:Release": ("name", "namespace"),
    "aws:eks/cluster:Cluster": ("name", "roleArn", "encryptionConfig", "kubernetesNetworkConfig", "bootstrapSelfManagedAddons"),
    "aws:eks/nodeGroup:NodeGroup": ("clusterName", "nodeGroupName", "nodeRoleArn", "subnetIds", "amiType", "capacityType", "diskSize", "instanceTypes"),
    "aws:kms/key:Key": ("customerMasterKeySpec", "keyUsage", "multiRegion"),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix"),
    "aws:s3/bucketV2:BucketV2": ("bucket", "bucketPrefix"),
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("vpcId", "cidrBlock", "availabilityZone"),
    "aws:iam/role:Role": ("name", "namePrefix", "path"),
    "digitalocean:index/kubernetesCluster:KubernetesCluster": ("region", "vpcUuid", "clusterSubnet", "serviceSubnet", "nodePool.size"),
    "digitalocean:index/vpc:Vpc": ("region", "ipRange"),
    "random:index/randomPassword:RandomPassword": _EVERY_INPUT,
    "random:index/randomString:RandomString": _EVERY_INPUT,
    "random:index/randomId:RandomId": _EVERY_INPUT,
}


class PlanFileError(ValueError):
    """A plan file is missing, not JSON, or not what `tools.plan --out` writes."""


def load_plan(path: Path) -> dict:
    try:
        plan = json.loads(Path(path).read_text())
    except OSError as exc:
        raise PlanFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{path} is not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(plan, dict) or not isinstance(plan.get("resources"), list):
        raise PlanFileError(f"{path} has no 'resources' list: pass the plan.json that `python -m tools.plan --out DIR` writes")
    for index, resource in enumerate(plan["resources"]):
        if not isinstance(resource, dict) or not {"urn", "type", "name"} <= set(resource):
            raise PlanFileError(f"{path}: resources[{index}] lacks urn, type or name")
    return plan


def _segment(key: str) -> str:
    return f'["{key}"]' if any(c in key for c in "./[]") else key


def _join(path: str, key: str) -> str:
    seg = _segment(key)
    return seg if not path else (path + seg if seg.startswith("[") else f"{path}.{seg}")


def changed_fields(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(path, old, new) for every leaf that differs; list items compare by index (a missing one is None)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += changed_fields(old.get(key), new.get(key), _join(path, str(key)))
        return found
    if isinstance(old, list) and isinstance(new, list):
        found = []
        for index in range(max(len(old), len(new))):
            a = old[index] if index < len(old) else None
            b = new[index] if index < len(new) else None
            found += changed_fields(a, b, f"{path}[{index}]")
        return found
    return [] if old == new else [(path, old, new)]


def _under(path: str, prefix: str) -> bool:
    return prefix == "" or path == prefix or path.startswith((prefix + ".", prefix + "[", prefix + '["'))


def _ignored(path: str, ignore_changes: list[str]) -> bool:
    return any(_under(path, prefix) for prefix in ignore_changes or [])


def replace_prefixes(resource_type: str) -> tuple[str, ...]:
    """The input paths whose change replaces a resource of this type ("" = every input). The
    fake providers (tools/engine/fake_provider.py) diff with the same table."""
    prefixes = REPLACE_ON.get(resource_type, ())
    if resource_type.startswith("kubernetes:") and resource_type != "kubernetes:helm.sh/v3:Release":
        prefixes = _K8S_IDENTITY + prefixes
    return prefixes


def replace_reasons(resource_type: str, paths: list[str]) -> list[str]:
    prefixes = replace_prefixes(resource_type)
    return [p for p in paths if any(_under(p, prefix) for prefix in prefixes)]


def _stateful(resource: dict) -> bool:
    return resource["type"] in STATEFUL


def _risk(resource: dict, action: str) -> Optional[str]:
    why = [w for w, hit in (("protected", resource.get("protect")), ("stateful", _stateful(resource))) if hit]
    if not why:
        return None
    consequence = "the engine refuses while it is protected" if resource.get("protect") else "its data goes with it"
    return f"{action} of {' and '.join(why)} resource {resource['type']} '{resource['name']}': {consequence}"


def diff_plans(base: dict, head: dict) -> dict:
    old = {r["urn"]: r for r in base["resources"]}
    new = {r["urn"]: r for r in head["resources"]}
    added = [_brief(new[u]) for u in new if u not in old]
    removed = [_brief(old[u]) for u in old if u not in new]
    replaced, updated, warnings = [], [], []
    for urn in (u for u in new if u in old):
        before, after = old[urn], new[urn]
        ignore = list(after.get("ignoreChanges") or [])
        fields = [
            {"path": p, "old": redact(a), "new": redact(b)}
            for p, a, b in changed_fields(before.get("inputs") or {}, after.get("inputs") or {})
            if not _ignored(p, ignore)
        ]
        options = [{"path": f"<option> {k}", "old": before.get(k), "new": after.get(k)} for k in OPTION_FIELDS if before.get(k) != after.get(k)]
        if not fields and not options:
            continue
        reasons = replace_reasons(after["type"], [f["path"] for f in fields])
        entry = {**_brief(after), "fields": fields + options}
        if reasons:
            entry["replaceReasons"] = reasons
            replaced.append(entry)
            # Protection is judged on the state being replaced (BASE), as the engine does.
            risk = _risk({**after, "protect": before.get("protect")}, "replacement")
        else:
            updated.append(entry)
            risk = None
        if risk:
            warnings.append(risk)
    warnings += [w for w in (_risk(old[r["urn"]], "deletion") for r in removed) if w]
    return {
        "stack": head.get("stack") or base.get("stack"),
        "summary": {"added": len(added), "removed": len(removed), "replaced": len(replaced), "updated": len(updated)},
        "warnings": warnings,
        "added": added,
        "removed": removed,
        "replaced": replaced,
        "updated": updated,
    }


def _brief(resource: dict) -> dict:
    return {
        "urn": resource["urn"],
        "type": resource["type"],
        "name": resource["name"],
        "protect": bool(resource.get("protect")),
        "stateful": _stateful(resource),
    }


# --- Markdown ---------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    text = value if value == SECRET else json.dumps(value, sort_keys=True, default=str)
    if value is None:
        text = "(none)"
    if len(text) > VALUE_CHARS:
        text = text[: VALUE_CHARS - 1] + "…"
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def _resource_line(entry: dict) -> str:
    tags = "".join(f" **[{t}]**" for t, on in (("protected", entry["protect"]), ("stateful", entry["stateful"])) if on)
    return f"- `{entry['type']}` **{entry['name']}**{tags}"


def _changes_block(entry: dict) -> list[str]:
    lines = [_resource_line(entry)]
    if entry.get("replaceReasons"):
        lines[0] += " — forced by " + ", ".join(f"`{r}`" for r in entry["replaceReasons"])
    lines += ["", "  | field | old | new |", "  | --- | --- | --- |"]
    lines += [f"  | `{f['path']}` | {_cell(f['old'])} | {_cell(f['new'])} |" for f in entry["fields"]]
    return lines + [""]


def render_markdown(diff: dict, max_chars: int = DEFAULT_MAX_CHARS, artifact: str = "plan-diff") -> str:
    s = diff["summary"]
    head = [
        f"### Offline plan diff: `{diff['stack']}`",
        "",
        f"**{s['added']} to add, {s['removed']} to remove, {s['replaced']} to replace, {s['updated']} to update** "
        "(mock runtime, no state: a real `pulumi preview` is the authority)",
        "",
    ]
    if diff["warnings"]:
        head += ["> [!CAUTION]"] + [f"> **{w}**  " for w in diff["warnings"]] + [""]
    body: list[str] = []
    for title, key in (("Replaced", "replaced"), ("Updated", "updated")):
        if diff[key]:
            body += [f"#### {title}", ""]
            for entry in diff[key]:
                body += _changes_block(entry)
    for title, key in (("Added", "added"), ("Removed", "removed")):
        if diff[key]:
            body += [f"#### {title}", ""] + [_resource_line(e) for e in diff[key]] + [""]
    if not any(s.values()):
        body = ["No changes."]
    return _trim(head, body, max_chars, artifact)


def _trim(head: list[str], body: list[str], max_chars: int, artifact: str) -> str:
    text = "\n".join(head + body)
    if len(text) <= max_chars:
        return text
    note = f"\n\n… trimmed to stay under GitHub's comment limit: the full diff is in the `{artifact}` artifact of this run."
    kept = "\n".join(head)
    for line in body:
        if len(kept) + len(line) + 1 + len(note) > max_chars:
            break
        kept += "\n" + line
    return kept + note


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan_diff", description=__doc__.split("\n\n")[0])
    parser.add_argument("base", type=Path, help="BASE plan.json (the pull request's base)")
    parser.add_argument("head", type=Path, help="HEAD plan.json (the pull request's head)")
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS, help=f"trim Markdown to this size (GitHub allows {GITHUB_COMMENT_LIMIT})")
    parser.add_argument("--artifact", default="plan-diff", help="artifact name the trimmed Markdown points to")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    if not 200 <= args.max_chars <= GITHUB_COMMENT_LIMIT:
        print(f"error: --max-chars must be between 200 and {GITHUB_COMMENT_LIMIT} (got {args.max_chars})", file=sys.stderr)
        return EXIT_USAGE
    try:
        diff = diff_plans(load_plan(args.base), load_plan(args.head))
    except PlanFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "json":
        print(json.dumps(diff, indent=2, sort_keys=True, default=str))
    else:
        print(render_markdown(diff, args.max_chars, args.artifact))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
