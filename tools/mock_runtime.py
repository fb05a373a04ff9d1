"""Run the Pulumi program in-process under Pulumi's mock runtime and record every resource.

This is the one harness the tests and `tools.plan` share. `RecordingMonitor` wraps
`MockMonitor.RegisterResource`, so each record carries what the engine would see: type,
name, inputs (wire names, secrets still marked), parent, provider, dependencies and resource
options. `RealisticMocks` answers provider-computed outputs and data-source calls with values
shaped like the real ones (ARNs, endpoints, OIDC issuers, DOKS versions).
"""

from __future__ import annotations

import logging
import runpy
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as sdk_resource, rpc, settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.sync_await import _sync_await

from tools import computed_outputs
from tools.computed_outputs import ACCOUNT, DEFAULT_REGION, DOKS_VERSIONS, ZONES  # noqa: F401 (re-exported)

ROOT = Path(__file__).resolve().parent.parent
SECRET_SIG = rpc._special_sig_key
SECRET_MARK = rpc._special_secret_sig


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


class RealisticMocks(pulumi.runtime.Mocks):
    """Answers from `tools.computed_outputs`, the table the fake provider plugins share."""

    def __init__(self, recording: Recording, region: str = DEFAULT_REGION):
        self.recording = recording
        self.region = region
        # The inputs MockMonitor deserialised for the registration this thread is handling.
        self.registering = threading.local()

    def call(self, args: pulumi_mocks.MockCallArgs):
        self.recording.calls.append((args.token, dict(args.args)))
        return computed_outputs.invoke(args.token, dict(args.args), self.region)

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        self.registering.inputs = args.inputs
        inputs = dict(args.inputs)
        rid = computed_outputs.resource_id(args.typ, args.name, inputs)
        return rid, {**inputs, **computed_outputs.computed(args.typ, args.name, inputs, self.region)}


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
        # MockMonitor deserialised the inputs already; in a preview that is exactly what
        # keep_unknowns gives (unknowns kept either way), so the record reuses them.
        inputs = self.mocks.registering.inputs if settings.is_dry_run() else rpc.deserialize_properties(request.object, keep_unknowns=True)
        self.recording.resources.append(
            Resource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                inputs=inputs,
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


@contextmanager
def _no_source_stacks():
    """Skip the SDK's per-registration stack walk (`_get_stack_trace`: 0.4-0.7 s of CPU in a
    prod or 16-review-environment plan): it only fills RegisterResourceRequest.stackTrace and
    sourcePosition, which MockMonitor ignores. Runs under the real engine keep it."""
    original = sdk_resource._get_stack_trace
    sdk_resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = original


def run_program(
    config: dict[str, str],
    stack: str,
    secret_keys: Optional[list[str]] = None,
    program: Optional[Callable[[], None]] = None,
    project: str = "tradesense",
    preview: bool = True,
    region: str = DEFAULT_REGION,
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
    with _no_source_stacks():
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
