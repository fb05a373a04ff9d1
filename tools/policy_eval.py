"""Evaluate the policy pack offline, the way the Pulumi engine and pulumi_policy's analyzer would.

What is reproduced (Pulumi 3.272 / pulumi_policy 1.21):
- Config: `ReconcilePolicyPackConfig` (pkg/resource/analyzer/config.go). Start from each rule's
  default level and its config_schema defaults, apply `all` (level only), then per-rule levels
  and options (shallow merge), then validate options against the schema. `disabled` rules do not
  run; `remediate` is reported as mandatory. Options reach the rule through a protobuf Struct, so
  integers arrive as floats, exactly as `Configure` delivers them.
- Resource rules: the engine analyzes every registered resource (custom, component and provider;
  see `continueStepsFromImport` in pkg/resource/deploy/step_generator.go) with its inputs. The
  inputs are marshalled with KeepUnknowns/KeepSecrets/SkipInternalKeys into a protobuf Struct, then
  `deserialize_properties` and `unknown_checking_proxy`, as in `_PolicyAnalyzerServicer.Analyze`
  (once per plan and shared read-only by the rules: tools.policy_views); the provider reference
  resolves to the provider's inputs.
- Stack rules: `AnalyzeStack` sees every resource's outputs, with parents, dependencies and
  property dependencies resolved to `PolicyResource`s.
- A rule that still raises `UnknownValueError` becomes an advisory "can't run policy ... during
  preview" diagnostic; `args.not_applicable()` is dropped; any other exception fails evaluation.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from dataclasses import dataclass, field
from inspect import isawaitable
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Optional

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.mock_runtime import Resource  # noqa: E402
from tools.policy_views import LazyView, engine_props, wire_properties  # noqa: E402, F401 (engine_props re-exported)

PACK_NAME = "tradesense-policies"
PACK_VERSION = "0.0.1"  # what PolicyPack reports for a local pack
PACK_DEFAULT_LEVEL = "advisory"  # policies/__main__.py passes EnforcementLevel.ADVISORY
LEVELS = ("advisory", "mandatory", "remediate", "disabled")


class PolicyConfigError(ValueError):
    """The policy config file is invalid; the engine refuses to run the preview."""


class PolicyRuntimeError(RuntimeError):
    """A rule raised; the engine fails the preview with "failed to run policy"."""


@dataclass(frozen=True)
class Violation:
    policy: str  # rule name
    enforcement: str  # "mandatory" | "advisory"  (disabled rules produce nothing)
    message: str
    urn: Optional[str]
    resource_type: Optional[str]
    resource_name: Optional[str]


@dataclass(frozen=True)
class ResolvedPolicy:
    policy: Any
    enforcement: str  # advisory | mandatory | remediate | disabled
    options: dict = field(default_factory=dict)


# --- loading ----------------------------------------------------------------------------------


def load_policies() -> list:
    """ALL_POLICIES from the pack (imported as `policies.tradesense_rules`, never via __main__)."""
    from policies.tradesense_rules import ALL_POLICIES

    return list(ALL_POLICIES)


def policy_config_name(stack: str) -> str:
    """Review stacks (`pr-<N>`, tools/review_stack.py) share policies/config/review.json."""
    return "review" if re.fullmatch(r"pr-[0-9]+", stack) else stack


def load_policy_config(stack: str, root: Path = ROOT) -> dict:
    """policies/config/<stack>.json (review.json for a review stack). A missing file is an error,
    as in the engine (`--policy-pack-config` of a missing file), never a quiet fall-back to the
    pack's defaults (which are prod's)."""
    path = Path(root) / "policies" / "config" / f"{policy_config_name(stack)}.json"
    if not path.exists():
        raise PolicyConfigError(
            f"{path.relative_to(root)} does not exist: every stack needs its policy config "
            f"(create it with `python -m tools new-stack {stack} --from staging`, or copy another stack's)")
    text = path.read_text()
    try:
        config = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise PolicyConfigError(f"{path.relative_to(root)} is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise PolicyConfigError(f"{path.relative_to(root)} must be a JSON object of rule settings")
    return config


# --- config resolution (ReconcilePolicyPackConfig) ----------------------------------------------


def _level(policy) -> str:
    return policy.enforcement_level.value if policy.enforcement_level is not None else PACK_DEFAULT_LEVEL


def parse_policy_config(raw: dict) -> dict[str, tuple[Optional[str], dict]]:
    """The config file as the CLI parses it: name -> (level or None, options)."""
    if not isinstance(raw, dict):
        raise PolicyConfigError("policy config must be a JSON object")
    parsed: dict[str, tuple[Optional[str], dict]] = {}
    for name, value in raw.items():
        if isinstance(value, str):
            if value not in LEVELS:
                raise PolicyConfigError(f"parsing enforcement level for {name!r}: {value!r} is not a valid enforcement level")
            parsed[name] = (value, {})
        elif isinstance(value, dict):
            options = dict(value)
            level = options.pop("enforcementLevel", None)
            if level is not None and level not in LEVELS:
                raise PolicyConfigError(f"parsing enforcement level for {name!r}: {level!r} is not a valid enforcement level")
            if level is None and not options:
                continue
            parsed[name] = (level, options)
        else:
            raise PolicyConfigError(f"parsing {name!r}: {value!r} is not a valid value; must be a string or object")
    return parsed


def _schema_of(policy) -> Optional[dict]:
    if policy.config_schema is None:
        return None
    schema: dict = {"type": "object"}
    if policy.config_schema.properties:
        schema["properties"] = policy.config_schema.properties
    if policy.config_schema.required:
        schema["required"] = policy.config_schema.required
    return schema


def _validate_options(name: str, schema: dict, options: dict) -> list[str]:
    import jsonschema  # pinned in requirements-dev.txt, as the engine validates options too

    validator = jsonschema.Draft7Validator(schema)
    return [f"{name}: {error.message}" for error in validator.iter_errors(options)]


def _through_struct(options: dict) -> dict:
    """Options as the analyzer's Configure receives them (a protobuf Struct: numbers are floats)."""
    return wire_properties(options) if options else {}


def resolve_config(policies: Iterable, policy_config: dict) -> dict[str, ResolvedPolicy]:
    """Each rule's enforcement level and options for this config, as the engine computes them."""
    policies = list(policies)
    given = parse_policy_config(policy_config or {})
    result: dict[str, tuple[str, dict]] = {}
    for policy in policies:
        defaults = {}
        schema = _schema_of(policy)
        for key, prop in (schema or {}).get("properties", {}).items():
            if "default" in prop:
                defaults[key] = json.loads(json.dumps(prop["default"]))
        result[policy.name] = (_level(policy), defaults)
    all_level = given.get("all", (None, {}))[0]
    if all_level:
        result = {name: (all_level, options) for name, (_, options) in result.items()}
    for name, (level, options) in given.items():
        if name == "all" or name not in result:
            continue  # the engine carries unknown names along; no rule reads them
        current_level, current_options = result[name]
        result[name] = (level or current_level, {**current_options, **options})
    errors: list[str] = []
    for policy in policies:
        schema = _schema_of(policy)
        if schema is not None:
            errors += _validate_options(policy.name, schema, result[policy.name][1])
    if errors:
        raise PolicyConfigError("policy pack configuration is invalid:\n  " + "\n  ".join(errors))
    return {
        policy.name: ResolvedPolicy(policy, result[policy.name][0], _through_struct(result[policy.name][1]))
        for policy in policies
    }


# --- properties as the analyzer receives them: tools.policy_views ------------------------------


def _split_urn(urn: str) -> tuple[str, str]:
    """(type, name) from `urn:pulumi:stack::project::parent$type::name`."""
    parts = urn.split("::", 3)
    if len(parts) < 4:
        return "", urn
    return parts[2].split("$")[-1], parts[3]


def make_resource(
    type_: str,
    name: str,
    inputs: Optional[dict] = None,
    *,
    outputs: Optional[dict] = None,
    parent: str = "",
    provider: str = "",
    dependencies: Optional[list[str]] = None,
    property_dependencies: Optional[dict[str, list[str]]] = None,
    protect: bool = False,
    custom: bool = True,
    stack: str = "test",
    project: str = "tradesense",
) -> Resource:
    """A hand-built record shaped like tools.mock_runtime's (outputs default to the inputs)."""
    inputs = dict(inputs or {})
    return Resource(
        urn=f"urn:pulumi:{stack}::{project}::{type_}::{name}",
        type=type_,
        name=name,
        inputs=inputs,
        outputs=dict(outputs) if outputs is not None else dict(inputs),
        parent=parent,
        provider=provider,
        dependencies=list(dependencies or []),
        property_dependencies={k: list(v) for k, v in (property_dependencies or {}).items()},
        protect=protect,
        retain_on_delete=False,
        ignore_changes=[],
        delete_before_replace=False,
        custom=custom,
        id=f"{name}-id" if custom else None,
    )


def provider_reference(resource: Resource) -> str:
    """The `urn::id` reference other resources use to point at a provider resource."""
    return f"{resource.urn}::{resource.id or 'id'}"


# --- evaluation -------------------------------------------------------------------------------


def _options(resource: Resource, with_parent: bool) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=list(resource.ignore_changes),
        delete_before_replace=True if resource.delete_before_replace else None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=(resource.parent or None) if with_parent else None,
    )


class _Evaluation:
    def __init__(self, resources: list[Resource], resolved: dict[str, ResolvedPolicy]):
        self.resources = list(resources)
        self.resolved = resolved
        self.by_urn = {r.urn: r for r in self.resources}
        self.violations: list[Violation] = []
        # One read-only view per property map for the whole evaluation (tools.policy_views).
        self._inputs = {r.urn: LazyView(r.inputs) for r in self.resources}
        self._outputs = {r.urn: LazyView(r.outputs) for r in self.resources}

    def provider(self, resource: Resource) -> Optional[PolicyProviderResource]:
        if not resource.provider:
            return None
        urn = resource.provider.rsplit("::", 1)[0]
        recorded = self.by_urn.get(urn)
        type_, name = _split_urn(urn)
        props = self._inputs[urn] if recorded is not None else LazyView({})
        return PolicyProviderResource(type_, props, urn, name)

    def reporter(self, name: str, level: str, default: Optional[Resource]):
        enforcement = "mandatory" if level == "remediate" else level

        def report_violation(message: str, urn: Optional[str] = None) -> None:
            if message and not isinstance(message, str):
                raise TypeError("Expected message to be a string")
            target = default if default is not None else self.by_urn.get(urn or "")
            self.violations.append(
                Violation(
                    policy=name,
                    enforcement=enforcement,
                    message=message,
                    urn=target.urn if target is not None else (urn or None),
                    resource_type=target.type if target is not None else None,
                    resource_name=target.name if target is not None else None,
                )
            )

        return report_violation

    def _run(self, resolved: ResolvedPolicy, args, report, target: Optional[Resource]) -> None:
        policy = resolved.policy
        try:
            result = policy.validate(args, report)
            if isawaitable(result):
                asyncio.run(_awaited(result))
        except UnknownValueError as error:
            self.violations.append(
                Violation(
                    policy=policy.name,
                    enforcement="advisory",
                    message=f"can't run policy '{policy.name}' from policy pack '{PACK_NAME}@v{PACK_VERSION}' during preview: {error.message}",
                    urn=target.urn if target is not None else None,
                    resource_type=target.type if target is not None else None,
                    resource_name=target.name if target is not None else None,
                )
            )
        except _NotApplicableError:
            pass
        except Exception as error:  # noqa: BLE001 - the engine aborts the preview the same way
            where = f" on {target.urn}" if target is not None else ""
            raise PolicyRuntimeError(f"failed to run policy '{policy.name}'{where}: {error!r}") from error

    def run_resource_policies(self) -> None:
        active = [r for r in self.resolved.values() if r.enforcement != "disabled" and isinstance(r.policy, ResourceValidationPolicy)]
        for resource in self.resources:
            provider = self.provider(resource)
            opts = _options(resource, with_parent=True)
            for resolved in active:
                args = ResourceValidationArgs(
                    resource.type,
                    self._inputs[resource.urn],
                    resource.urn,
                    resource.name,
                    opts,
                    provider,
                    config=dict(resolved.options) or None,
                )
                self._run(resolved, args, self.reporter(resolved.policy.name, resolved.enforcement, resource), resource)

    def stack_resources(self) -> list[PolicyResource]:
        built = {
            r.urn: PolicyResource(
                r.type, self._outputs[r.urn], r.urn, r.name, _options(r, with_parent=False), self.provider(r), None, [], {}
            )
            for r in self.resources
        }
        for r in self.resources:
            resource = built[r.urn]
            resource.parent = built.get(r.parent)
            # Read-only, as the property views are: the graph is shared by every stack rule.
            resource.dependencies = tuple(built[d] for d in r.dependencies if d in built)
            resource.property_dependencies = MappingProxyType(
                {k: tuple(built[d] for d in v if d in built) for k, v in r.property_dependencies.items()})
        return list(built.values())

    def run_stack_policies(self) -> None:
        # The analyzer builds this graph per stack rule; the pack's rules are pure functions, so
        # one graph serves them all (each rule gets its own list), as the property views do.
        resources: Optional[list[PolicyResource]] = None
        for resolved in self.resolved.values():
            if resolved.enforcement == "disabled" or not isinstance(resolved.policy, StackValidationPolicy):
                continue
            resources = self.stack_resources() if resources is None else resources
            args = StackValidationArgs(list(resources), config=dict(resolved.options) or None)
            self._run(resolved, args, self.reporter(resolved.policy.name, resolved.enforcement, None), None)


async def _awaited(awaitable) -> None:
    await awaitable


def evaluate(resources: list[Resource], policy_config: dict, policies=None) -> list[Violation]:
    """Every violation the pack reports for these recorded resources under this config:
    resource rules first (in registration order), then stack rules."""
    resolved = resolve_config(load_policies() if policies is None else policies, policy_config)
    evaluation = _Evaluation(resources, resolved)
    evaluation.run_resource_policies()
    evaluation.run_stack_policies()
    return evaluation.violations


def mandatory(violations: Iterable[Violation]) -> list[Violation]:
    return [v for v in violations if v.enforcement == "mandatory"]


def format_violation(violation: Violation) -> str:
    where = violation.resource_name or "stack"
    return f"[{violation.enforcement}] {violation.policy} ({where}): {violation.message}"
