"""Audit a `pulumi stack export`: inventory, policy verdicts, plaintext secrets, protection.

    pulumi stack export -s prod --file prod.json
    python -m tools.audit prod.json --stack prod [--format md|json] [--policy-config FILE]

Input follows `sdk/go/common/apitype/core.go` at the pinned CLI (tools/audit_export.py), not
the published JSON schema, which is out of date. Versions 3 and 4 are read; anything else, a
wrong field type, nesting deeper than 256 levels or a file over --max-bytes exits 2.

The stack is the explicit --stack (one of the Pulumi.<stack>.yaml stacks), never the name in
the URNs: its enforcement config is policies/config/<stack>.json (or --policy-config FILE), and
a URN that names another stack is a mandatory finding.

The report holds:
- an inventory by type and by provider (package and version);
- the policy pack (tools/policy_eval.py, the same evaluation as the offline plan) over every
  resource's inputs, plus the stack rules over outputs; a rule that raises is a mandatory
  finding, never a pass;
- plaintext secrets anywhere in the document (tools/audit_scan.py, docs/AUDIT.md);
- protect and retainOnDelete of every stateful resource;
- pending operations, resource state flags, provider versions against requirements.txt.

Nothing printed carries a secret: every string of the report, keys included, and then the whole
output and any error message pass through one scrubber (tools/audit_scrub.py) that masks every
value the scan found, in its encoded forms too, and every credential-shaped substring.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from policies.tradesense_rules.stack import STATEFUL_TYPES
from tools.audit_export import MAX_BYTES, ExportError, read, validate
from tools.audit_scan import SecretScan
from tools.audit_scrub import Scrubber
from tools.mock_runtime import ROOT, SECRET_MARK, SECRET_SIG, Resource
from tools.plan_output import SECRET
from tools.stack_files import available_stacks

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
STATEFUL = set(STATEFUL_TYPES)
EXIT_CODES = """exit codes:
  0  clean: no mandatory finding (advisory findings allowed)
  1  a mandatory finding: a plaintext secret, a mandatory policy violation, a rule that raised,
     a URN of another stack, a pending operation, a scan that could not finish
  2  usage or input error: unknown --stack, unreadable or malformed export (not JSON, wrong
     version or field type, too deep, too large), invalid policy config; nothing is audited"""

__all__ = ["audit", "audit_with_scrubber", "main", "SECRET_MARK", "SECRET_SIG", "ExportError"]


@dataclass(frozen=True)
class Finding:
    kind: str  # plaintext-secret | policy | rule-error | stack | pending-operation | state | provider-version | scan-incomplete
    severity: str  # mandatory | advisory
    message: str
    urn: Optional[str] = None


def stack_of(urn: str) -> Optional[str]:
    """`urn:pulumi:<stack>::<project>::...` -> stack; None when `urn` is not a Pulumi URN."""
    if not urn.startswith("urn:pulumi:") or "::" not in urn:
        return None
    return urn[len("urn:pulumi:"):].split("::", 1)[0]


# --- export values as the analyzer sees them ------------------------------------------------------


def to_policy_value(value: Any) -> Any:
    """Export values as the analyzer receives them: a secret stays a secret (its plaintext when
    exported with --show-secrets, a stand-in when only the ciphertext is there). Iterative."""
    root: list = [None]
    stack = [(value, root, 0)]
    while stack:
        node, parent, slot = stack.pop()
        if isinstance(node, dict) and node.get(SECRET_SIG) == SECRET_MARK:
            inner: Any = SECRET
            if isinstance(node.get("plaintext"), str):
                try:
                    inner = json.loads(node["plaintext"])
                except (ValueError, RecursionError):
                    inner = node["plaintext"]
            wrapped = {SECRET_SIG: SECRET_MARK, "value": None}
            parent[slot] = wrapped
            stack.append((inner, wrapped, "value"))
        elif isinstance(node, dict):
            copy: dict = {}
            parent[slot] = copy
            for key, child in node.items():
                copy[key] = None
                stack.append((child, copy, key))
        elif isinstance(node, list):
            copy_list: list = [None] * len(node)
            parent[slot] = copy_list
            stack.extend((child, copy_list, index) for index, child in enumerate(node))
        else:
            parent[slot] = node
    return root[0]


def to_resource(raw: dict) -> Resource:
    return Resource(
        urn=raw["urn"],
        type=raw["type"],
        name=raw["urn"].rsplit("::", 1)[-1],
        inputs=to_policy_value(raw.get("inputs") or {}),
        outputs=to_policy_value(raw.get("outputs") or {}),
        parent=raw.get("parent") or "",
        provider=raw.get("provider") or "",
        dependencies=list(raw.get("dependencies") or []),
        property_dependencies={k: list(v) for k, v in (raw.get("propertyDependencies") or {}).items()},
        protect=bool(raw.get("protect")),
        retain_on_delete=bool(raw.get("retainOnDelete")),
        ignore_changes=list(raw.get("ignoreChanges") or []),
        delete_before_replace=False,
        custom=bool(raw.get("custom")),
        id=raw.get("id"),
    )


# --- policy rules, each guarded --------------------------------------------------------------------


def evaluate_guarded(resources: list[Resource], config: dict) -> tuple[list, list[Finding]]:
    """The pack's violations, plus a mandatory finding for every rule run that raised: a rule
    that crashes did not check the resource, so it must not read as a pass."""
    from tools.policy_eval import PolicyRuntimeError, _Evaluation, load_policies, resolve_config

    errors: list[Finding] = []

    class Guarded(_Evaluation):
        def _run(self, resolved, args, report, target):
            try:
                super()._run(resolved, args, report, target)
            except PolicyRuntimeError as error:
                cause = error.__cause__ or error
                errors.append(Finding(
                    "rule-error", "mandatory",
                    f"[{resolved.policy.name}] raised {type(cause).__name__}: {str(cause)[:300]}; the rule did not "
                    "check this, so it counts as failed",
                    target.urn if target is not None else None,
                ))

    evaluation = Guarded(resources, resolve_config(load_policies(), config))
    try:
        evaluation.run_resource_policies()
        evaluation.run_stack_policies()
    except Exception as error:  # noqa: BLE001 - outside any one rule: the verdicts are incomplete
        errors.append(Finding("rule-error", "mandatory", f"the policy evaluation stopped ({type(error).__name__}: "
                              f"{str(error)[:300]}); rules after this point did not run"))
    return evaluation.violations, errors


# --- other checks ----------------------------------------------------------------------------------


def urns_of(raw: dict) -> list[tuple[str, str]]:
    """(field, URN) of every URN a resource holds."""
    found = [("urn", raw["urn"])]
    for field in ("parent", "deletedWith", "viewOf"):
        if raw.get(field):
            found.append((field, raw[field]))
    if raw.get("provider"):
        found.append(("provider", raw["provider"].rsplit("::", 1)[0]))
    for field in ("dependencies", "aliases", "replaceWith"):
        found += [(field, urn) for urn in raw.get(field) or []]
    for urns in (raw.get("propertyDependencies") or {}).values():
        found += [("propertyDependencies", urn) for urn in urns]
    return found


def stack_findings(raws: list[dict], stack: str) -> list[Finding]:
    findings = []
    for raw in raws:
        for field, urn in urns_of(raw):
            other = stack_of(urn)
            if other is None:
                findings.append(Finding("stack", "mandatory", f"{field} is not a Pulumi URN (urn:pulumi:<stack>::...)", raw["urn"]))
                break
            if other != stack:
                findings.append(Finding(
                    "stack", "mandatory",
                    f"{field} names stack '{other}', but this audit is for --stack {stack}: an export of another "
                    "stack, or an edited one; audit each stack's export with its own --stack", raw["urn"]))
                break
    return findings


def pinned_providers(requirements: Path = ROOT / "requirements.txt") -> dict[str, str]:
    """`pulumi-aws==7.51.1` -> {"aws": "7.51.1"}."""
    pins = {}
    for line in requirements.read_text().splitlines():
        match = re.match(r"^pulumi-([a-z0-9-]+)==([\w.]+)", line.strip())
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def provider_versions(resources: list[dict], manifest: dict) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for raw in resources:
        if raw["type"].startswith("pulumi:providers:"):
            version = (raw.get("inputs") or {}).get("version") or (raw.get("outputs") or {}).get("version")
            found.setdefault(raw["type"].split(":", 2)[2], set()).add(version if isinstance(version, str) else "unknown")
    for plugin in manifest.get("plugins") or []:
        if plugin.get("type") == "resource" and plugin.get("name"):
            found.setdefault(plugin["name"], set()).add(plugin.get("version") or "unknown")
    return found


def _provider_package(raw: dict) -> str:
    if raw["type"].startswith("pulumi:providers:"):
        return raw["type"].split(":", 2)[2]
    ref = raw.get("provider") or ""
    if not ref:
        return "(none)" if not raw.get("custom") else raw["type"].split(":", 1)[0]
    urn = ref.rsplit("::", 1)[0]
    return urn.rsplit("::", 2)[-2].split("$")[-1].split(":", 2)[-1] if "::" in urn else ref


# --- the audit -------------------------------------------------------------------------------------


def audit_with_scrubber(doc: dict, stack: str, policy_config: Optional[dict] = None, shadowed: list = (),
                        requirements: Path = ROOT / "requirements.txt", config_source: str = "",
                        scan: Optional[SecretScan] = None) -> tuple[dict, Scrubber]:
    """(scrubbed report, the scrubber that knows every secret found). `doc` is validated."""
    from tools.policy_eval import load_policy_config, policy_config_name

    deployment = doc["deployment"]
    raws = deployment.get("resources") or []
    ops = deployment.get("pending_operations") or []
    scan = scan if scan is not None else SecretScan()
    scan.scan_export(doc, shadowed)
    findings = [Finding("plaintext-secret", "mandatory", f"{hit.path or '(document)'}: {hit.kind}", hit.urn) for hit in scan.hits]
    if scan.incomplete:
        findings.append(Finding("scan-incomplete", "mandatory", f"the secret scan {scan.incomplete}: the rest is unchecked"))
    findings += stack_findings(raws + [op["resource"] for op in ops], stack)

    live = [r for r in raws if not r.get("delete")]
    config = policy_config if policy_config is not None else load_policy_config(stack)
    violations, errors = evaluate_guarded([to_resource(r) for r in live], config)
    for v in violations:
        findings.append(Finding("policy", v.enforcement, f"[{v.policy}] {v.resource_name or 'stack'}: {v.message}", v.urn))
    findings += errors

    for op in ops:
        findings.append(Finding(
            "pending-operation", "mandatory",
            f"{op['type']} {op['resource']['type']} was interrupted: check the resource in the cloud, then "
            "`pulumi refresh` (or `pulumi stack export`, drop the entry, `pulumi stack import`) before the next up",
            op["resource"]["urn"],
        ))
    for raw in raws:
        for flag, what in (("pendingReplacement", "is pending replacement"), ("taint", "is tainted"), ("delete", "is pending deletion")):
            if raw.get(flag):
                findings.append(Finding("state", "advisory", f"{raw['type']} {what}", raw["urn"]))
        if raw.get("initErrors"):
            findings.append(Finding("state", "advisory", f"{raw['type']} has {len(raw['initErrors'])} init error(s)", raw["urn"]))

    pins = pinned_providers(requirements)
    versions = provider_versions(raws, deployment["manifest"])
    for package, seen in sorted(versions.items()):
        pin = pins.get(package)
        if pin is None:
            findings.append(Finding("provider-version", "advisory", f"provider {package} ({', '.join(sorted(seen))}) has no pin in requirements.txt"))
        elif seen != {pin}:
            findings.append(Finding("provider-version", "advisory", f"provider {package} in state is {', '.join(sorted(seen))}; requirements.txt pins {pin}"))

    stateful = [
        {"urn": r["urn"], "type": r["type"], "protect": bool(r.get("protect")), "retainOnDelete": bool(r.get("retainOnDelete"))}
        for r in raws if r["type"] in STATEFUL
    ]
    providers = deployment.get("secrets_providers") or {}
    report = {
        "stack": stack,
        "policyConfig": config_source or f"policies/config/{policy_config_name(stack)}.json",
        "version": doc["version"],
        "features": doc.get("features") or [],
        "secretsProvider": providers.get("type") if isinstance(providers.get("type"), str) else None,
        "inventory": {
            "resources": len(raws),
            "byType": dict(sorted(Counter(r["type"] for r in raws).items())),
            "byProvider": dict(sorted(Counter(_provider_package(r) for r in raws).items())),
            "providerVersions": {k: sorted(v) for k, v in sorted(versions.items())},
        },
        "stateful": stateful,
        "pendingOperations": len(ops),
        "findings": [asdict(f) for f in findings],
        "verdict": "fail" if any(f.severity == "mandatory" for f in findings) else "pass",
    }
    return scan.scrubber.scrub_tree(report), scan.scrubber


def audit(doc: dict, stack: str, policy_config: Optional[dict] = None, **kwargs) -> dict:
    return audit_with_scrubber(validate(doc), stack, policy_config, **kwargs)[0]


def render_markdown(report: dict) -> str:
    inv = report["inventory"]
    lines = [
        f"# Stack audit: `{report['stack']}` — {report['verdict'].upper()}",
        "",
        f"Deployment version {report['version']}" + (f", features {', '.join(report['features'])}" if report["features"] else "")
        + f"; secrets provider `{report['secretsProvider']}`; {inv['resources']} resources; {report['pendingOperations']} pending operation(s).",
        "",
        f"Policy config: `{report['policyConfig']}`.",
        "",
        "## Findings",
        "",
    ]
    findings = report["findings"]
    if findings:
        lines += ["| severity | kind | resource | finding |", "| --- | --- | --- | --- |"]
        order = {"mandatory": 0, "advisory": 1}
        for f in sorted(findings, key=lambda f: (order.get(f["severity"], 2), f["kind"])):
            lines.append(f"| {f['severity']} | {f['kind']} | {_cell(f['urn'] or '')} | {_cell(f['message'])} |")
    else:
        lines.append("None.")
    lines += ["", "## Stateful resources", "", "| resource | protect | retainOnDelete |", "| --- | --- | --- |"]
    lines += [f"| {_cell(s['urn'])} | {s['protect']} | {s['retainOnDelete']} |" for s in report["stateful"]] or ["| (none) | | |"]
    lines += ["", "## Inventory by provider", "", "| provider | resources | versions in state |", "| --- | --- | --- |"]
    for package, count in inv["byProvider"].items():
        lines.append(f"| {package} | {count} | {', '.join(inv['providerVersions'].get(package, [])) or '-'} |")
    lines += ["", "## Inventory by type", "", "| type | count |", "| --- | --- |"]
    lines += [f"| `{t}` | {c} |" for t, c in inv["byType"].items()]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """One table cell: no column break, no line break, no HTML or link a value could inject."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ").replace("`", "'").replace("[", "\\[")


def main(argv: Optional[list[str]] = None) -> int:
    stacks = available_stacks(ROOT)
    parser = argparse.ArgumentParser(
        prog="python -m tools.audit", description=__doc__.split("\n\n")[0], epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export", type=Path, help="the file `pulumi stack export --file` wrote")
    parser.add_argument("--stack", required=True, help=f"the stack exported: {', '.join(stacks)} (its policies/config/<stack>.json applies)")
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.add_argument("--policy-config", type=Path, help="policy pack config instead of policies/config/<stack>.json")
    parser.add_argument("--max-bytes", type=int, default=MAX_BYTES, help=f"largest export read (default {MAX_BYTES})")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    from tools.policy_eval import PolicyConfigError, parse_policy_config

    scan = SecretScan()  # its scrubber masks credential shapes even before the scan found anything
    scrubber = scan.scrubber
    try:
        if args.stack not in stacks:
            raise ExportError(f"unknown stack '{args.stack}': the stacks are {', '.join(stacks)} (Pulumi.<stack>.yaml); "
                              "pass the stack the export came from with --stack")
        doc, shadowed = read(args.export, args.max_bytes)
        validate(doc, str(args.export))
        config, source = None, ""
        if args.policy_config is not None:
            try:
                config = json.loads(args.policy_config.read_text())
            except (OSError, ValueError, RecursionError) as exc:
                raise PolicyConfigError(f"--policy-config {args.policy_config}: {getattr(exc, 'strerror', None) or type(exc).__name__}") from None
            parse_policy_config(config)
            source = str(args.policy_config)
        report, scrubber = audit_with_scrubber(doc, args.stack, config, shadowed, config_source=source, scan=scan)
        output = json.dumps(report, indent=2) if args.format == "json" else render_markdown(report)
        print(scrubber.scrub(output))
    except (ExportError, PolicyConfigError) as exc:
        print(scrubber.scrub(f"error: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - never a traceback: it could quote a value
        print(scrubber.scrub(f"error: the audit could not finish ({type(exc).__name__}: {str(exc)[:300]})"), file=sys.stderr)
        return EXIT_USAGE
    return EXIT_FINDINGS if report["verdict"] == "fail" else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
