"""One fake resource provider plugin, run by the real Pulumi engine as aws, digitalocean, kubernetes or random.

The real providers cannot be built offline, so `python -m tools.engine build` installs this module as
`pulumi-resource-<name>` executables. It is generic: nothing here knows a resource by name.

- Computed outputs and data-source results come from `tools.computed_outputs` (the mocks' table).
- Kubernetes built-in kinds are validated in Check against the OpenAPI schema of the cluster's
  version (kubernetes-validate, strict), so a malformed object fails the preview; CRD kinds pass.
- The "cloud" is a JSON file (`TRADESENSE_FAKE_CLOUD`, default `./fake-cloud.json`) of every
  created resource. Read (refresh) returns what the file holds, so editing it simulates drift.
  Secret values are stored there only as hashes.
- `kubernetes:yaml/v2:ConfigFile` is a remote component: Construct registers the component alone
  and never fetches its file (no downloads here). Its objects are not modelled.
- `kubernetes:yaml/v2:ConfigGroup` registers its inline objects (`objs`, `yaml`) as children, as
  the real provider does at preview, named `<group>:<namespace>/<name>` (its default prefix).
"""

from __future__ import annotations

import asyncio
import copy
import fcntl
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Optional

import grpc
from google.protobuf import empty_pb2, struct_pb2
from google.protobuf.json_format import MessageToDict

import pulumi
from pulumi.provider import ConstructResult, Provider
from pulumi.provider.server import ProviderServicer
from pulumi.runtime import proto
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools import computed_outputs  # noqa: E402
from tools.plan_diff import replace_prefixes  # noqa: E402

SECRET_SIG, SECRET_MARK = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
KUBERNETES_VERSION = os.environ.get("TRADESENSE_FAKE_KUBERNETES_VERSION", "1.35.0")


def pinned_version(package: str) -> str:
    """The version requirements.txt pins for `pulumi-<package>` (the version the plugin reports)."""
    text = (ROOT / "requirements.txt").read_text()
    found = re.search(rf"^pulumi-{re.escape(package)}==(\S+)", text, re.M)
    if not found:
        raise SystemExit(f"requirements.txt pins no pulumi-{package}")
    return found.group(1)


def to_dict(struct: struct_pb2.Struct) -> dict:
    return MessageToDict(struct) if struct is not None else {}


def to_struct(value: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_MARK


def secret(value: Any) -> dict:
    return {SECRET_SIG: SECRET_MARK, "value": value}


def reveal(value: Any) -> Any:
    """`value` with secret markers removed and unknowns dropped (for validation and comparison)."""
    if is_secret(value):
        return reveal(value.get("value"))
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items() if v != UNKNOWN}
    if isinstance(value, list):
        return [reveal(v) for v in value if v != UNKNOWN]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire carries every number as a double
    return value


def has_unknown(value: Any) -> bool:
    if value == UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return False


def hide_secrets(value: Any) -> Any:
    """What the fake cloud stores: secrets replaced by their hash (never the value)."""
    if is_secret(value):
        return {"secretSha256": hashlib.sha256(json.dumps(value.get("value"), sort_keys=True).encode()).hexdigest()}
    if isinstance(value, dict):
        return {k: hide_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [hide_secrets(v) for v in value]
    return value


def restore_secrets(stored: Any, previous: Any) -> Any:
    """The stored record with each hashed secret put back from the engine's previous state."""
    if isinstance(stored, dict) and set(stored) == {"secretSha256"}:
        return previous if is_secret(previous) else secret(previous)
    if isinstance(stored, dict):
        prev = reveal_shallow(previous)
        return {k: restore_secrets(v, prev.get(k) if isinstance(prev, dict) else None) for k, v in stored.items()}
    if isinstance(stored, list):
        prev = reveal_shallow(previous)
        prev = prev if isinstance(prev, list) else []
        return [restore_secrets(v, prev[i] if i < len(prev) else None) for i, v in enumerate(stored)]
    return stored


def reveal_shallow(value: Any) -> Any:
    return value.get("value") if is_secret(value) else value


def resource_type(urn: str) -> str:
    """`urn:pulumi:stack::project::parent$type::name` -> `type`."""
    return urn.split("::")[2].split("$")[-1]


def get_path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


REPLACED = "replaced-by-create-before-delete:"


class FakeCloud:
    """The JSON file of created resources, keyed by URN (locked: the four plugins share it)."""

    def __init__(self, path: str):
        self.path = Path(path)

    def _update(self, change) -> dict:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = json.loads(self.path.read_text()) if self.path.exists() else {}
            result = change(records)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(records, indent=1, sort_keys=True))
            tmp.replace(self.path)
            return result

    def put(self, urn: str, rid: str, outputs: dict) -> None:
        self._update(lambda records: records.__setitem__(urn, {"id": rid, "outputs": hide_secrets(outputs)}))

    def get(self, urn: str) -> Optional[dict]:
        return self._update(lambda records: copy.deepcopy(records.get(urn)))

    def create(self, urn: str, rid: str, outputs: dict) -> None:
        """A create for a URN that exists is a replacement (create before delete): the old
        record waits under REPLACED for the engine's Delete of it."""
        def change(records: dict) -> None:
            if urn in records:
                records[REPLACED + urn] = records[urn]
            records[urn] = {"id": rid, "outputs": hide_secrets(outputs)}
        self._update(change)

    def delete(self, urn: str) -> None:
        self._update(lambda records: records.pop(REPLACED + urn, None) or records.pop(urn, None))


def _config_group_objects(inputs: dict) -> list[dict]:
    """The inline objects of a yaml/v2 ConfigGroup: `objs` and the documents of `yaml`."""
    import yaml

    found = [o for o in (inputs.get("objs") or []) if isinstance(o, dict)]
    texts = inputs.get("yaml")
    for text in [texts] if isinstance(texts, str) else (texts if isinstance(texts, list) else []):
        if isinstance(text, str):
            found += [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]
    return [o for o in found if o.get("kind") and o.get("apiVersion")]


class RemoteComponents(Provider):
    """Construct for remote components: the component itself, with no children."""

    def construct(self, name, resource_type, inputs, options=None) -> ConstructResult:
        component = pulumi.ComponentResource(resource_type, name, None, options)
        if resource_type == "kubernetes:yaml/v2:ConfigGroup":
            for obj in _config_group_objects(inputs):
                api, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
                metadata = obj.get("metadata") or {}
                child = f"{metadata.get('namespace')}/{metadata.get('name')}" if metadata.get("namespace") else str(metadata.get("name"))
                token = f"kubernetes:{api if '/' in api else 'core/' + api}:{kind}"
                pulumi.CustomResource(token, f"{name}:{child}", obj, pulumi.ResourceOptions(parent=component))
        component.register_outputs({})
        return ConstructResult(urn=component.urn, state={"resources": []})


class FakeProvider(ProviderServicer):
    def __init__(self, package: str, engine_address: str):
        super().__init__(RemoteComponents(pinned_version(package)), [], engine_address)
        self.package = package
        self.version = pinned_version(package)
        self.region = computed_outputs.DEFAULT_REGION
        self.cloud = FakeCloud(os.environ.get("TRADESENSE_FAKE_CLOUD", "fake-cloud.json"))

    async def GetPluginInfo(self, request, context):
        return proto.PluginInfo(version=self.version)

    async def CheckConfig(self, request, context):
        return proto.CheckResponse(inputs=request.news)

    async def DiffConfig(self, request, context):
        olds, news = reveal(to_dict(request.olds)), reveal(to_dict(request.news))
        changed = sorted(k for k in set(olds) | set(news) if olds.get(k) != news.get(k) and k != "version")
        return proto.DiffResponse(changes=proto.DiffResponse.DIFF_SOME if changed else proto.DiffResponse.DIFF_NONE, diffs=changed)

    async def Configure(self, request, context):
        config = reveal(to_dict(request.args)) or {}
        variables = dict(request.variables)
        self.region = config.get("region") or variables.get(f"{self.package}:config:region") or self.region
        return proto.ConfigureResponse(acceptSecrets=True, acceptResources=True, supportsPreview=True)

    async def Invoke(self, request, context):
        args = reveal(to_dict(request.args))
        return proto.InvokeResponse(**{"return": to_struct(computed_outputs.invoke(request.tok, args, self.region))})

    async def Check(self, request, context):
        news = to_dict(request.news)
        failures = []
        if self.package == "kubernetes" and "kind" in news and "apiVersion" in news:
            news = self._autoname(news, request)
            failures = [proto.CheckFailure(property=p, reason=r) for p, r in self._validate_k8s(news)]
        return proto.CheckResponse(inputs=to_struct(news), failures=failures)

    @staticmethod
    def _autoname(news: dict, request) -> dict:
        """Like the real provider: an object without metadata.name gets `<logical>-<suffix>`."""
        meta = news.setdefault("metadata", {})
        if isinstance(meta, dict) and not meta.get("name"):
            olds = to_dict(request.olds)
            old_name = get_path(olds, "metadata.name")
            suffix = hashlib.sha256(request.urn.encode()).hexdigest()[:8]
            meta["name"] = old_name or f"{request.name}-{suffix}"
        return news

    @staticmethod
    def _validate_k8s(obj: dict) -> list[tuple[str, str]]:
        import kubernetes_validate
        from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

        if has_unknown(obj):
            return []  # the real provider also skips validation of objects with unknowns in preview
        try:
            kubernetes_validate.validate(reveal(obj), KUBERNETES_VERSION, strict=True)
        except SchemaNotFoundError:
            return []  # a CRD kind: the API server would check it against the CRD
        except ValidationError as err:
            path = ".".join(str(p) for p in err.caused_by.path) if getattr(err, "caused_by", None) else ""
            reason = err.caused_by.message if getattr(err, "caused_by", None) else str(err)
            return [(path, f"{obj.get('kind')} {get_path(obj, 'metadata.name')} is invalid for Kubernetes {KUBERNETES_VERSION}: {reason}")]
        return []

    async def Diff(self, request, context):
        olds = to_dict(request.old_inputs) or to_dict(request.olds)
        news = to_dict(request.news)
        olds_r, news_r = reveal(olds), reveal(news)
        changed = sorted(k for k in set(olds) | set(news) if k != "__defaults" and self._differs(olds.get(k), news.get(k)))
        # Replace on what tools.plan_diff replaces on (the providers' ForceNew and immutable
        # fields), so a preview shows the replacement a real provider would.
        replaces = []
        for prefix in replace_prefixes(resource_type(request.urn)):
            if prefix == "":
                replaces.extend(changed)
            elif has_unknown(get_path(news, prefix)) or get_path(olds_r, prefix) != get_path(news_r, prefix):
                replaces.append(prefix.split(".")[0])
        replaces = sorted(set(replaces) & set(changed))
        detailed = {
            k: proto.PropertyDiff(kind=proto.PropertyDiff.UPDATE_REPLACE if k in replaces else proto.PropertyDiff.UPDATE, inputDiff=True)
            for k in changed
        }
        return proto.DiffResponse(
            changes=proto.DiffResponse.DIFF_SOME if changed else proto.DiffResponse.DIFF_NONE,
            diffs=changed,
            replaces=replaces,
            detailedDiff=detailed,
            hasDetailedDiff=True,
        )

    @staticmethod
    def _differs(old: Any, new: Any) -> bool:
        return has_unknown(new) or reveal(old) != reveal(new)

    def _outputs(self, request, inputs: dict) -> tuple[str, dict]:
        logical = request.urn.split("::")[-1]
        typ = request.urn.split("::")[-2].split("$")[-1]
        plain = reveal(inputs)
        extra = computed_outputs.computed(typ, logical, plain, self.region)
        for key in computed_outputs.SECRET_OUTPUTS.get(typ, ()):
            if key in extra:
                extra[key] = secret(extra[key])
        if self.package == "kubernetes" and "kind" in plain:
            meta = plain.get("metadata", {})
            rid = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta.get("name", logical)
        else:
            rid = computed_outputs.resource_id(typ, logical, plain)
        return rid, {**inputs, **extra}

    async def Create(self, request, context):
        inputs = to_dict(request.properties)
        if request.preview:
            # Like a real provider: what the cloud computes is unknown until it exists.
            return proto.CreateResponse(id="", properties=to_struct(inputs))
        rid, outputs = self._outputs(request, inputs)
        self.cloud.create(request.urn, rid, outputs)
        return proto.CreateResponse(id=rid, properties=to_struct(outputs))

    async def Update(self, request, context):
        news = to_dict(request.news)
        if request.preview:
            # Like a bridged provider's plan: computed outputs keep their current values.
            return proto.UpdateResponse(properties=to_struct({**to_dict(request.olds), **news}))
        _, outputs = self._outputs(request, news)
        self.cloud.put(request.urn, request.id, outputs)
        return proto.UpdateResponse(properties=to_struct(outputs))

    async def Read(self, request, context):
        record = self.cloud.get(request.urn)
        if record is None or record.get("id") != request.id:
            return proto.ReadResponse(id="")  # gone from the cloud
        previous = to_dict(request.properties)
        outputs = restore_secrets(record["outputs"], previous)
        old_inputs = to_dict(request.inputs)
        # Inputs as the cloud now has them: an input whose output changed behind Pulumi's back
        # takes the cloud's value, so the next diff against the program shows the drift.
        inputs = {
            k: outputs[k] if k in outputs and reveal(outputs[k]) != reveal(previous.get(k)) else v
            for k, v in old_inputs.items()
        }
        return proto.ReadResponse(id=request.id, properties=to_struct(outputs), inputs=to_struct(inputs))

    async def Delete(self, request, context):
        self.cloud.delete(request.urn)
        return empty_pb2.Empty()


def main(package: str) -> None:
    # The engine passes logging flags first and its own address last.
    positional = [a for a in sys.argv[1:] if not a.startswith("-")]
    engine_address = positional[-1] if positional else ""

    async def serve() -> None:
        server = grpc.aio.server(options=_GRPC_CHANNEL_OPTIONS)
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(FakeProvider(package, engine_address), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        await server.wait_for_termination()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass  # the engine stops plugins with SIGINT


if __name__ == "__main__":
    main(sys.argv.pop(1))
