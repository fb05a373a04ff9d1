"""Run the Pulumi program in-process under Pulumi's mock runtime and record every resource.

This is the one harness the tests and `tools.plan` share. `RecordingMonitor` wraps
`MockMonitor.RegisterResource`, so each record carries what the engine would see: type,
name, inputs (wire names, secrets still marked), parent, provider, dependencies and resource
options. `RealisticMocks` answers provider-computed outputs and data-source calls with values
shaped like the real ones (ARNs, endpoints, OIDC issuers, DOKS versions).
"""

from __future__ import annotations

import hashlib
import logging
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parent.parent
SECRET_SIG = rpc._special_sig_key
SECRET_MARK = rpc._special_secret_sig
ACCOUNT = "111122223333"
ZONES = {
    "us-east-1": ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f"],
}
DOKS_VERSIONS = ["1.36.1-do.0", "1.35.3-do.1", "1.35.1-do.0", "1.34.5-do.2"]


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    inputs: dict
    outputs: dict
    parent: str
    provider: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    retain_on_delete: bool
    ignore_changes: list[str]
    delete_before_replace: bool
    custom: bool
    id: Optional[str]

    @property
    def provider_urn(self) -> str:
        return self.provider.split("::", 1)[0] + "::" + self.provider.split("::")[1] if "::" in self.provider else ""


@dataclass
class Recording:
    stack: str
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    # (severity, message) of everything the program logged through pulumi.log.
    logs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        return [message for level, message in self.logs if level in ("WARNING", "ERROR")]

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: Optional[str] = None) -> Resource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one {type_} {name or ''}, found {[r.name for r in found]}")
        return found[0]

    def by_urn(self, urn: str) -> Resource:
        return next(r for r in self.resources if r.urn == urn)

    def kubernetes_objects(self) -> list[Resource]:
        """Resources that are plain Kubernetes objects (not Helm releases, providers or YAML groups)."""
        return [
            r
            for r in self.resources
            if r.type.startswith("kubernetes:") and r.custom and "apiVersion" in r.inputs and "kind" in r.inputs
            and not r.type.startswith(("kubernetes:helm.sh/", "kubernetes:yaml/", "pulumi:providers:"))
        ]


def _fake_arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


class RealisticMocks(pulumi.runtime.Mocks):
    def __init__(self, recording: Recording, region: str = "us-east-1"):
        self.recording = recording
        self.region = region

    def call(self, args: pulumi_mocks.MockCallArgs):
        self.recording.calls.append((args.token, dict(args.args)))
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = ZONES.get(self.region, [f"{self.region}{s}" for s in "abc"])
            return {"names": names, "zoneIds": [f"use1-az{i + 1}" for i in range(len(names))], "id": self.region}
        if args.token == "digitalocean:index/getKubernetesVersions:getKubernetesVersions":
            prefix = args.args.get("versionPrefix", "")
            valid = [v for v in DOKS_VERSIONS if v.startswith(prefix)]
            return {"latestVersion": valid[0] if valid else "", "validVersions": valid, "versionPrefix": prefix, "id": prefix}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/ci", "userId": "AIDAEXAMPLE", "id": ACCOUNT}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        return {}

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        inputs = dict(args.inputs)
        name = inputs.get("name") if isinstance(inputs.get("name"), str) else args.name
        rid = f"{args.name}-id"
        extra = self._computed(args.typ, name, inputs, args.name)
        if args.typ == "aws:kms/key:Key":
            rid = _digest(args.name)[:8] + "-" + _digest(args.name)[8:12] + "-4000-8000-" + _digest(args.name)[12:24]
        return rid, {**inputs, **extra}

    def _computed(self, typ: str, name: str, inputs: dict, logical: str) -> dict:
        r = self.region
        if typ == "aws:eks/cluster:Cluster":
            oidc_id = _digest(name)[:32].upper()
            return {
                "arn": _fake_arn("eks", r, f"cluster/{name}"),
                "endpoint": f"https://{oidc_id}.gr7.{r}.eks.amazonaws.com",
                "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
                "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{r}.amazonaws.com/id/{oidc_id}"}]}],
                "vpcConfig": {**inputs.get("vpcConfig", {}), "clusterSecurityGroupId": f"sg-{_digest(name)[:17]}"},
                "status": "ACTIVE",
            }
        if typ == "aws:iam/role:Role":
            return {"arn": f"arn:aws:iam::{ACCOUNT}:role/{logical}", "name": logical}
        if typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            url = str(inputs.get("url", "")).removeprefix("https://")
            return {"arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{url}", "url": url}
        if typ == "aws:kms/key:Key":
            return {"arn": _fake_arn("kms", r, f"key/{_digest(logical)[:36]}"), "keyId": _digest(logical)[:36]}
        if typ == "aws:ec2/launchTemplate:LaunchTemplate":
            return {"latestVersion": 1, "arn": _fake_arn("ec2", r, f"launch-template/lt-{_digest(logical)[:17]}")}
        if typ in ("random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString"):
            length = int(inputs.get("length", 32))
            return {"result": (_digest("random", logical) * 4)[:length]}
        if typ == "kubernetes:helm.sh/v3:Release":
            return {"status": {"name": inputs.get("name", logical), "namespace": inputs.get("namespace", "default"), "status": "deployed", "version": inputs.get("version")}}
        if typ == "aws:s3/bucket:Bucket":  # issue 10: S3 ARNs have no region or account
            return {"arn": f"arn:aws:s3:::{inputs.get('bucket', logical)}", "bucket": inputs.get("bucket", logical)}
        if typ.startswith("aws:"):
            return {"arn": _fake_arn(typ.split(":")[1].split("/")[0], r, logical)}
        if typ == "digitalocean:index/spacesKey:SpacesKey":  # issue 10: scoped Spaces keys
            return {"accessKey": "DO00" + _digest(logical)[:16].upper(), "secretKey": _digest("spaces", logical)[:43]}
        if typ == "digitalocean:index/kubernetesCluster:KubernetesCluster":
            cid = _digest(name)[:8] + "-" + _digest(name)[8:12] + "-4" + _digest(name)[12:15] + "-8" + _digest(name)[15:18] + "-" + _digest(name)[18:30]
            return {
                "endpoint": f"https://{cid}.k8s.ondigitalocean.com",
                "kubeConfigs": [{"clusterCaCertificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==", "host": f"https://{cid}.k8s.ondigitalocean.com"}],
                "urn": f"do:kubernetes:{cid}",
            }
        return {}


class _LogCollector(logging.Handler):
    def __init__(self, recording: Recording):
        super().__init__(level=logging.INFO)
        self.recording = recording

    def emit(self, record: logging.LogRecord) -> None:
        self.recording.logs.append((record.levelname, record.getMessage()))


def _program_logger(recording: Recording) -> logging.Logger:
    logger = logging.getLogger(f"tradesense.mock.{id(recording)}")
    logger.handlers = [_LogCollector(recording)]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: RealisticMocks):
        super().__init__(mocks)
        self.recording = mocks.recording

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        registered = self.resources[response.urn]
        self.recording.resources.append(
            Resource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
                outputs=dict(registered.state),
                parent=request.parent,
                provider=request.provider,
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                ignore_changes=list(request.ignoreChanges),
                delete_before_replace=bool(request.deleteBeforeReplace),
                custom=bool(request.custom),
                id=response.id or None,
            )
        )
        return response


def run_program(
    config: dict[str, str],
    stack: str,
    secret_keys: Optional[list[str]] = None,
    program: Optional[Callable[[], None]] = None,
    project: str = "tradesense",
    preview: bool = True,
    region: str = "us-east-1",
    recording: Optional[Recording] = None,
) -> Recording:
    """Run `program` (default: the project's `__main__.main`) and return what it registered.

    Exceptions raised by the program (a `ConfigError`, for example) propagate to the caller;
    pass your own `recording` to inspect what was registered before the failure.
    """
    recording = recording if recording is not None else Recording(stack=stack)
    mocks = RealisticMocks(recording, region=region)
    pulumi.runtime.set_all_config(dict(config), list(secret_keys or []))
    settings.reset_options(project=project, stack=stack, preview=preview)
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=preview, monitor=RecordingMonitor(mocks), logger=_program_logger(recording)
    )
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    main = program or load_main()
    _sync_await(pulumi_mocks.run_pulumi_func(main))
    root = settings.get_root_resource()
    for key, value in (root.outputs if root is not None else {}).items():
        output = pulumi.Output.from_input(value)
        recording.outputs[key] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            recording.secret_outputs.add(key)
    return recording


def load_main() -> Callable[[], None]:
    """The project's `main()`, loaded without running it (its `__name__` guard stays shut)."""
    return runpy.run_path(str(ROOT / "__main__.py"), run_name="tradesense_program")["main"]


def unwrap_secrets(value: Any) -> Any:
    """Inputs with secret markers replaced by their plain values (for assertions only)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_MARK:
            return unwrap_secrets(value.get("value"))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_MARK
