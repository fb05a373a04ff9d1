"""Audit a `pulumi stack export`: inventory, policy verdicts, plaintext secrets, protection.

    pulumi stack export -s prod > prod.json
    python -m tools.audit prod.json [--format md|json] [--policy-config FILE]

Input follows `sdk/go/common/apitype/core.go` (UntypedDeployment, DeploymentV3, ResourceV3),
not the published JSON schema, which is out of date. Deployment version 3, and version 4 (the
one that declares `features`), are accepted; anything else exits 2 with the reason.

The report holds:
- an inventory by type and by provider (package and version);
- the policy pack (tools/policy_eval.py, the same evaluation as the offline plan) over every
  resource's inputs, plus the stack rules over outputs; the policy config is FILE, else
  policies/config/<stack>.json for the stack named in the URNs;
- plaintext secrets: values exported with `--show-secrets` (`{sig, plaintext}`), Kubernetes
  Secret data that is not wrapped as a secret, credential-shaped strings anywhere;
- protect and retainOnDelete of every stateful resource;
- pending operations (an interrupted update: `pulumi cancel`/`pulumi refresh` before the next up);
- provider versions against the pins in requirements.txt.

Exit codes: 0 clean (advisory findings allowed), 1 a mandatory finding or a plaintext secret,
2 bad input. No secret value is ever printed: findings name paths and kinds, never values, and
the policy rules' messages are scrubbed of every secret value the scan found.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from policies.tradesense_rules.stack import STATEFUL_TYPES
from tools.mock_runtime import ROOT, SECRET_MARK, SECRET_SIG, Resource
from tools.plan_output import SECRET

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
VERSIONS = (3, 4)
STATEFUL = set(STATEFUL_TYPES)
K8S_SECRET = "kubernetes:core/v1:Secret"
MIN_SECRET_CHARS = 6  # shorter strings (user names, "true") are not scrubbed from rule messages
# Credential shapes (documented token formats); a match is reported by kind and path only.
CREDENTIAL_PATTERNS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |ENCRYPTED )?PRIVATE KEY-----"),
    "Stripe secret key": re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}"),
    "Stripe webhook secret": re.compile(r"\bwhsec_[0-9A-Za-z]{16,}"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[0-9A-Za-z]{36}|github_pat_[0-9A-Za-z_]{40,})"),
    "DigitalOcean token": re.compile(r"\bdo[por]_v1_[0-9a-f]{64}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[0-9A-Za-z-]{10,}"),
    "Sentry DSN key": re.compile(r"https://[0-9a-f]{32}@[\w.-]*sentry\.io"),
    # `user:pass@host`, but not a reference the consumer expands (`$(VAR)`, `${VAR}`, `{{ x }}`).
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]*:(?![$%{])[^/\s@]{3,}@[\w.-]+"),
}


class ExportError(ValueError):
    """The input is not a `pulumi stack export` document this tool understands."""


@dataclass(frozen=True)
class Finding:
    kind: str  # policy | plaintext-secret | pending-operation | provider-version | state
    severity: str  # mandatory | advisory
    message: str
    urn: Optional[str] = None


# --- reading the export -------------------------------------------------------------------------


def load_export(path: Path) -> dict:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportError(f"{path} is not JSON ({exc.msg} at line {exc.lineno}): pass the output of `pulumi stack export`") from None
    return validate_export(doc, str(path))


def validate_export(doc: Any, where: str = "export") -> dict:
    if not isinstance(doc, dict):
        raise ExportError(f"{where}: expected a JSON object with 'version' and 'deployment'")
    version = doc.get("version")
    if "version" not in doc:
        raise ExportError(f"{where}: missing field 'version' (a `pulumi stack export` document has version 3 or 4)")
    if isinstance(version, bool) or version not in VERSIONS:
        raise ExportError(f"{where}: unknown deployment version {version!r}; this auditor reads versions 3 and 4 (sdk/go/common/apitype)")
    features = doc.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise ExportError(f"{where}: 'features' must be a list of strings")
    deployment = doc.get("deployment")
    if not isinstance(deployment, dict):
        raise ExportError(f"{where}: missing field 'deployment' (an object)")
    if not isinstance(deployment.get("manifest"), dict):
        raise ExportError(f"{where}: missing field 'deployment.manifest'")
    for key in ("resources", "pending_operations"):
        if not isinstance(deployment.get(key, []), list):
            raise ExportError(f"{where}: 'deployment.{key}' must be a list")
    for index, resource in enumerate(deployment.get("resources", [])):
        missing = [k for k in ("urn", "type", "custom") if not isinstance(resource, dict) or k not in resource]
        if missing:
            raise ExportError(f"{where}: deployment.resources[{index}] is missing {', '.join(missing)}")
    for index, op in enumerate(deployment.get("pending_operations", [])):
        if not isinstance(op, dict) or not isinstance(op.get("resource"), dict) or "type" not in op:
            raise ExportError(f"{where}: deployment.pending_operations[{index}] needs 'resource' and 'type'")
    return doc


def stack_of(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::...` -> stack."""
    return urn.split("::", 1)[0].split(":", 2)[-1] if urn.startswith("urn:pulumi:") else ""


# --- secrets ------------------------------------------------------------------------------------


def _is_export_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_MARK


def to_policy_value(value: Any) -> Any:
    """Export values as the analyzer receives them: a secret stays a secret (its plaintext when
    exported with --show-secrets, a stand-in when only the ciphertext is there)."""
    if _is_export_secret(value):
        inner = SECRET
        if isinstance(value.get("plaintext"), str):
            try:
                inner = json.loads(value["plaintext"])
            except json.JSONDecodeError:
                inner = value["plaintext"]
        return {SECRET_SIG: SECRET_MARK, "value": to_policy_value(inner)}
    if isinstance(value, dict):
        return {k: to_policy_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_policy_value(v) for v in value]
    return value


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every node; the inside of a ciphertext secret is not visited."""
    yield path, value
    if _is_export_secret(value):
        return
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _walk(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, f"{path}[{index}]")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for child in value.values():
            yield from _strings(child)
    elif isinstance(value, list):
        for child in value:
            yield from _strings(child)


class SecretScan:
    """Plaintext secrets in one export; remembers every value so the report can be scrubbed."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.values: set[str] = set()

    def _remember(self, value: Any) -> None:
        for text in _strings(value) if not isinstance(value, str) else [value]:
            if len(text) >= MIN_SECRET_CHARS:
                self.values.add(text)
                try:
                    decoded = base64.b64decode(text, validate=True).decode()
                    if len(decoded) >= MIN_SECRET_CHARS:
                        self.values.add(decoded)
                except (ValueError, UnicodeDecodeError):
                    pass

    def _add(self, message: str, urn: Optional[str]) -> None:
        self.findings.append(Finding("plaintext-secret", "mandatory", message, urn))

    def scan_resource(self, resource: dict) -> None:
        urn = resource["urn"]
        for section in ("inputs", "outputs"):
            props = resource.get(section) or {}
            for path, value in _walk(props):
                if _is_export_secret(value) and "plaintext" in value:
                    self._remember(value["plaintext"])
                    self._remember(to_policy_value(value)["value"])
                    self._add(f"{section}.{path}: secret exported in plaintext (--show-secrets); keep exports encrypted", urn)
                elif isinstance(value, str):
                    self._credential(value, f"{section}.{path}", urn)
            if resource["type"] == K8S_SECRET:
                for field in ("data", "stringData"):
                    if field in props and not _is_export_secret(props[field]):
                        self._remember(props[field])
                        self._add(f"{section}.{field}: Kubernetes Secret data is not wrapped as a Pulumi secret", urn)

    def _credential(self, text: str, where: str, urn: Optional[str]) -> None:
        for kind, pattern in CREDENTIAL_PATTERNS.items():
            for match in pattern.finditer(text):
                self._remember(match.group(0))
                self._add(f"{where}: {kind}-shaped string in plain text", urn)

    def scan_other(self, value: Any, where: str) -> None:
        for path, node in _walk(value, where):
            if isinstance(node, str):
                self._credential(node, path, None)

    def scrub(self, text: str) -> str:
        for value in sorted(self.values, key=len, reverse=True):
            text = text.replace(value, SECRET)
            text = text.replace(json.dumps(value)[1:-1], SECRET)
        return text


# --- the audit ----------------------------------------------------------------------------------


def to_resource(raw: dict) -> Resource:
    inputs = to_policy_value(raw.get("inputs") or {})
    outputs = to_policy_value(raw.get("outputs") or {})
    return Resource(
        urn=raw["urn"],
        type=raw["type"],
        name=raw["urn"].rsplit("::", 1)[-1],
        inputs=inputs,
        outputs=outputs,
        parent=raw.get("parent", ""),
        provider=raw.get("provider", ""),
        dependencies=list(raw.get("dependencies") or []),
        property_dependencies={k: list(v) for k, v in (raw.get("propertyDependencies") or {}).items()},
        protect=bool(raw.get("protect")),
        retain_on_delete=bool(raw.get("retainOnDelete")),
        ignore_changes=list(raw.get("ignoreChanges") or []),
        delete_before_replace=False,
        custom=bool(raw.get("custom")),
        id=raw.get("id"),
    )


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
            found.setdefault(raw["type"].split(":", 2)[2], set()).add(str(version) if version else "unknown")
    for plugin in manifest.get("plugins") or []:
        if isinstance(plugin, dict) and plugin.get("type") == "resource" and plugin.get("name"):
            found.setdefault(plugin["name"], set()).add(str(plugin.get("version") or "unknown"))
    return found


def _provider_package(raw: dict) -> str:
    if raw["type"].startswith("pulumi:providers:"):
        return raw["type"].split(":", 2)[2]
    ref = raw.get("provider") or ""
    if not ref:
        return "(none)" if not raw.get("custom") else raw["type"].split(":", 1)[0]
    urn = ref.rsplit("::", 1)[0]
    return urn.rsplit("::", 2)[-2].split("$")[-1].split(":", 2)[-1] if "::" in urn else ref


def audit(doc: dict, policy_config: Optional[dict] = None, requirements: Path = ROOT / "requirements.txt") -> dict:
    from tools.policy_eval import evaluate, load_policy_config

    deployment = doc["deployment"]
    raws = deployment.get("resources") or []
    stack = next((stack_of(r["urn"]) for r in raws if stack_of(r["urn"])), "")
    scan = SecretScan()
    for raw in raws:
        scan.scan_resource(raw)
    scan.scan_other(deployment.get("manifest"), "manifest")
    findings: list[Finding] = []

    live = [r for r in raws if not r.get("delete")]
    config = policy_config if policy_config is not None else load_policy_config(stack)
    for v in evaluate([to_resource(r) for r in live], config):
        # A rule may quote the value it objects to: the only text here that can carry one.
        message = scan.scrub(f"[{v.policy}] {v.resource_name or 'stack'}: {v.message}")
        findings.append(Finding("policy", v.enforcement, message, v.urn))

    for op in deployment.get("pending_operations") or []:
        findings.append(Finding(
            "pending-operation", "mandatory",
            f"{op['type']} {op['resource'].get('type', '?')} was interrupted: check the resource in the cloud, then "
            "`pulumi refresh` (or `pulumi stack export`, drop the entry, `pulumi stack import`) before the next up",
            op["resource"].get("urn"),
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

    findings += scan.findings
    stateful = [
        {"urn": r["urn"], "type": r["type"], "protect": bool(r.get("protect")), "retainOnDelete": bool(r.get("retainOnDelete"))}
        for r in raws if r["type"] in STATEFUL
    ]
    report = {
        "stack": stack,
        "version": doc["version"],
        "features": doc.get("features", []),
        "secretsProvider": (deployment.get("secrets_providers") or {}).get("type"),
        "inventory": {
            "resources": len(raws),
            "byType": dict(sorted(Counter(r["type"] for r in raws).items())),
            "byProvider": dict(sorted(Counter(_provider_package(r) for r in raws).items())),
            "providerVersions": {k: sorted(v) for k, v in sorted(versions.items())},
        },
        "stateful": stateful,
        "pendingOperations": len(deployment.get("pending_operations") or []),
        "findings": [asdict(f) for f in findings],
    }
    report["verdict"] = "fail" if any(f.severity == "mandatory" for f in findings) else "pass"
    return report


def render_markdown(report: dict) -> str:
    inv = report["inventory"]
    lines = [
        f"# Stack audit: `{report['stack']}` — {report['verdict'].upper()}",
        "",
        f"Deployment version {report['version']}" + (f", features {', '.join(report['features'])}" if report["features"] else "")
        + f"; secrets provider `{report['secretsProvider']}`; {inv['resources']} resources; {report['pendingOperations']} pending operation(s).",
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
    return str(text).replace("|", "\\|").replace("\n", " ")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path, help="output of `pulumi stack export`")
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.add_argument("--policy-config", type=Path, help="policy pack config (default: policies/config/<stack>.json)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    from tools.policy_eval import PolicyConfigError, PolicyRuntimeError, parse_policy_config

    try:
        doc = load_export(args.export)
        config = None
        if args.policy_config is not None:
            try:
                config = json.loads(args.policy_config.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise PolicyConfigError(f"--policy-config {args.policy_config}: {getattr(exc, 'strerror', None) or exc}") from None
            parse_policy_config(config)
        report = audit(doc, config)
    except (ExportError, PolicyConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PolicyRuntimeError as exc:
        print(f"error: a policy rule failed on this export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(report, indent=2) if args.format == "json" else render_markdown(report))
    return EXIT_FINDINGS if report["verdict"] == "fail" else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
