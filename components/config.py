"""Typed stack configuration: everything lives under the `tradesense` namespace.

`load_config()` reads every `tradesense:*` key, validates all of it before any resource is
registered, and raises one `ConfigError` (a `pulumi.RunError`, so the CLI prints it without a
traceback) that lists every problem by its full config key and says how to fix it.

Object sections are structured config (`pulumi config set --path tradesense:cluster.eks.nodes.max 10`).
Secrets are top-level keys read with `get_secret`, so they only ever exist as Pulumi secrets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import pulumi
from pydantic import Field, ValidationError

from components.app.config import AppConfig
from components.cluster.config import ClusterConfig
from components.config_base import Environment, Section
from components.platform.alertmanager_config import RECEIVERS_PLACEHOLDER, check_receivers_for_env, parse_receivers
from components.platform.config import PlatformConfig
from components.review import ReviewConfig

NAMESPACE = "tradesense"


class TradeSenseConfig(Section):
    environment: Environment = Field(description="`dev`, `staging` or `prod`; prod adds rules (>= 3 nodes, a managed cluster, protection)")
    cluster: ClusterConfig
    platform: PlatformConfig = PlatformConfig()
    app: AppConfig = AppConfig()
    # Advisory `budget` policy: the estimated monthly cost (python -m tools.plan) stays under this.
    monthly_budget_usd: Optional[float] = Field(None, ge=0, description="advisory `budget` policy: the plan's monthly cost estimate stays under this (USD)")
    # Set in a review stack (review/Pulumi.pr.yaml): only the app, per pull request, on staging's cluster.
    review: Optional[ReviewConfig] = Field(None, description="set only in a review stack (review/Pulumi.pr.yaml): the app alone, per pull request, on staging's cluster")

    def problems(self, env: Environment):
        from components.platform.autoscaling import CLUSTER_AUTOSCALER_IMAGES

        backups = self.app.backups
        if not backups.enabled and env != "dev" and self.review is None:
            yield "app.backups.enabled", (f"must be true in {env}: without backups one lost volume or bad migration loses the "
                                          "trading data (only dev and review stacks may turn backups off)")
        if self.cluster.cloud == "existing" and backups.enabled and not (backups.endpoint and backups.bucket and backups.uploads_bucket):
            yield "app.backups", (
                "needs endpoint, bucket and uploadsBucket on an existing cluster (an S3-compatible store such as MinIO), "
                "or enabled: false in dev or a review stack")
        if self.cluster.cloud != "existing" and (backups.endpoint or backups.bucket or backups.uploads_bucket):
            yield "app.backups.endpoint", f"is only for existing clusters: {self.cluster.cloud} creates its own buckets; remove it"
        version = self.cluster.eks.version
        if self.cluster.cloud == "eks" and version not in CLUSTER_AUTOSCALER_IMAGES:
            yield "cluster.eks.version", (
                f"must be one of {', '.join(sorted(CLUSTER_AUTOSCALER_IMAGES))} (got {version!r}): cluster-autoscaler "
                "is pinned per Kubernetes minor in components/platform/autoscaling.py"
            )


# Top-level keys whose value is a YAML/JSON object in the stack file.
SECTION_KEYS = tuple(
    field.alias or name
    for name, field in TradeSenseConfig.model_fields.items()
    if name not in ("environment", "monthly_budget_usd")
)


@dataclass(frozen=True)
class SecretSpec:
    key: str
    purpose: str
    required_in: frozenset[str] = frozenset()
    example: str = "VALUE"
    # Checks the decrypted value; raises ValueError with a message that never echoes it.
    check: Optional[Callable[[str], Any]] = None
    # What the offline plan uses for a value it cannot decrypt (must pass `check`).
    placeholder: Optional[str] = None
    # Checks the decrypted value against the environment (same contract as `check`).
    env_check: Optional[Callable[[str, str], Any]] = None
    # Also required wherever this config path (`section.camelCase.path`) is set.
    required_by: Optional[str] = None

    def required(self, env: str, config: Mapping[str, str]) -> bool:
        """Whether a stack with this environment and raw config (`tradesense:<section>` -> JSON) needs it."""
        if env in self.required_in:
            return True
        if self.required_by is None:
            return False
        section, *path = self.required_by.split(".")
        value: Any = config.get(f"{NAMESPACE}:{section}")
        try:
            value = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            return False  # a malformed section is reported by its own validation
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        return value is not None

    @property
    def full_key(self) -> str:
        return f"{NAMESPACE}:{self.key}"

    @property
    def set_command(self) -> str:
        # A file's contents go in through stdin: as an argument, a value starting with `-`
        # (a YAML list) would be parsed as a flag by the CLI.
        if self.example.startswith("<"):
            return f"pulumi config set --secret {self.full_key} {self.example}"
        return f"pulumi config set --secret {self.full_key} '{self.example}'"


STAGING_AND_PROD = frozenset({"staging", "prod"})

# Every secret the program reads. Later sections register theirs here, next to this list.
SECRETS: dict[str, SecretSpec] = {
    spec.key: spec
    for spec in (
        SecretSpec("kubeconfig", "kubeconfig of an existing cluster (instead of cluster.existing.context)",
                   example="< ~/.kube/config"),
        SecretSpec("stripeApiKey", "Stripe secret API key for the backend", STAGING_AND_PROD, "sk_live_..."),
        SecretSpec("stripeWebhookSecret", "Stripe webhook signing secret", STAGING_AND_PROD, "whsec_..."),
        SecretSpec("sentryDsn", "Sentry DSN for backend error reporting", STAGING_AND_PROD,
                   "https://KEY@o0.ingest.sentry.io/0"),
        # Optional in dev only: without it Alertmanager routes alerts to a null receiver.
        SecretSpec("alertmanagerReceivers", "Alertmanager receivers (YAML list; see components/platform/alertmanager_config.py)",
                   STAGING_AND_PROD, example="< receivers.yaml  # start from receivers.example.yaml", check=parse_receivers,
                   placeholder=RECEIVERS_PLACEHOLDER, env_check=check_receivers_for_env),
        # Object storage credentials where no workload identity exists (checked in _secret_problems).
        SecretSpec("backupAccessKeyId", "access key id of the dev S3-compatible endpoint (app.backups.endpoint)", example="minio"),
        SecretSpec("backupSecretAccessKey", "secret key of the dev S3-compatible endpoint", example="..."),
        SecretSpec("dns01ApiToken", "API token with DNS write access to the domain's zone, for cert-manager's DNS-01 "
                   "solver", example="dop_v1_...", required_by="platform.reviewEnvironments.dns01Provider"),
    )
}


class ConfigError(pulumi.RunError):
    """A user error in stack config; the CLI prints RunError messages without a traceback."""

    def __init__(self, stack: str, problems: list[str], before_resources: bool = True):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"stack '{stack}' has {len(problems)} config problem(s):\n{lines}\n"
            f"Fix each key in Pulumi.{stack}.yaml or with "
            f"`pulumi config set --path <key> <value> -s {stack}` (add --secret for secrets), "
            "then run again." + (" No resource was registered." if before_resources else "")
        )


@dataclass(frozen=True)
class StackConfig:
    """Validated config for one stack run."""

    stack: str
    settings: TradeSenseConfig
    secrets: dict[str, pulumi.Output[str]] = field(default_factory=dict)

    @property
    def env(self) -> Environment:
        return self.settings.environment

    @property
    def protect(self) -> bool:
        """Stateful and cluster-level resources are protected in prod."""
        return self.env == "prod"

    def secret(self, key: str) -> Optional[pulumi.Output[str]]:
        if key not in SECRETS:
            raise KeyError(f"{key} is not registered in components.config.SECRETS")
        return self.secrets.get(key)


def load_config() -> StackConfig:
    stack = pulumi.get_stack()
    raw, problems = _read_raw()
    settings: Optional[TradeSenseConfig] = None
    try:
        settings = TradeSenseConfig.model_validate(raw)
    except ValidationError as exc:
        unreadable = {p.split(" ", 1)[0].partition(":")[2] for p in problems}
        errors = [err for err in exc.errors() if str(err["loc"][0]) not in unreadable]
        problems.extend(_describe(err) for err in errors)
        env = raw.get("environment")
        if env in ("dev", "staging", "prod") and not unreadable:
            # Cross-field rules of every section that did validate, so one run lists everything.
            bad = [tuple(str(p) for p in err["loc"]) for err in errors]
            problems.extend(f"{NAMESPACE}:{key} {msg}" for key, msg in _partial_problems(TradeSenseConfig, raw, bad, env, ""))
    else:
        problems.extend(f"{NAMESPACE}:{key} {msg}" for key, msg in settings.all_problems(settings.environment))

    config = pulumi.Config(NAMESPACE)
    secrets = {key: value for key in SECRETS if (value := config.get_secret(key)) is not None}
    if settings is not None:
        problems.extend(_secret_problems(settings, secrets))
    if problems:
        raise ConfigError(stack, problems)
    assert settings is not None
    return StackConfig(stack=stack, settings=settings, secrets=secrets)


def _read_raw() -> tuple[dict[str, Any], list[str]]:
    raw: dict[str, Any] = {}
    problems: list[str] = []
    for full_key, value in sorted(_all_config().items()):
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE or key in SECRETS:
            continue
        if key in SECTION_KEYS:
            parsed = _parse_object(value)
            if parsed is None:
                problems.append(f"{full_key} must be an object (a YAML mapping under {full_key} in the stack file)")
                continue
            value = parsed
        raw[key] = value
    return raw, problems


def _partial_problems(model: type[Section], data: Any, bad: list[tuple], env: str, prefix: str) -> list[tuple[str, str]]:
    """Problems of the sub-sections of an invalid model whose own values are valid."""
    found: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        return found
    for name, field in model.model_fields.items():
        key = field.alias or name
        section = _section_type(field.annotation)
        if section is None:
            continue
        path = f"{prefix}.{key}" if prefix else key
        inside = [loc[1:] for loc in bad if loc and loc[0] == key]
        value = data.get(key, data.get(name))
        if not inside:
            try:
                parsed = section.model_validate(value) if value is not None else field.get_default(call_default_factory=True)
            except ValidationError:
                continue  # a required sibling is missing: already reported above
            if isinstance(parsed, Section):
                found.extend(parsed.all_problems(env, path))
        elif all(inside):  # errors are deeper down: walk into this section
            found.extend(_partial_problems(section, value, inside, env, path))
    return found


def _section_type(annotation: Any) -> Optional[type[Section]]:
    candidates = [annotation, *getattr(annotation, "__args__", ())]
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, Section)), None)


def _all_config() -> dict[str, Any]:
    from pulumi.runtime import config as runtime_config

    merged = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return merged


def _parse_object(value: Any) -> Optional[dict]:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None


PLAIN_TYPES = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "model_type": "an object",
    "dict_type": "an object",
}


def _describe(err: dict) -> str:
    """One pydantic error as `tradesense:<dotted.key> <what is wrong and what is expected>`."""
    key = f"{NAMESPACE}:" + ".".join(
        f"[{part}]" if isinstance(part, int) else str(part) for part in err["loc"]
    ).replace(".[", "[")
    kind, msg, got = err["type"], err["msg"], err.get("input")
    if kind == "missing":
        return f"{key} is required"
    if kind == "extra_forbidden":
        known = _known_keys(err["loc"][:-1])
        return f"{key} is not a known setting (known here: {', '.join(known)})"
    if kind in PLAIN_TYPES:
        return f"{key} must be {PLAIN_TYPES[kind]} (got {got!r})"
    if msg.startswith("Value error, "):
        return f"{key} {msg.removeprefix('Value error, ')}"
    if msg.startswith("String should match pattern"):
        return f"{key} has an invalid format (got {got!r}; expected to match {err['ctx']['pattern']})"
    return f"{key} {msg.replace('Input should be', 'must be')} (got {got!r})"


def _known_keys(loc: tuple) -> list[str]:
    model: Any = TradeSenseConfig
    for part in loc:
        if isinstance(part, int):
            continue
        fields = {f.alias or n: f for n, f in model.model_fields.items()}
        model = _section_type(fields[part].annotation)
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _secret_problems(settings: TradeSenseConfig, present: dict[str, pulumi.Output[str]]) -> list[str]:
    env = settings.environment
    sections = {f"{NAMESPACE}:{key}": value for key, value in settings.model_dump(by_alias=True).items()}
    problems = [
        f"{spec.full_key} is required "
        + (f"in {env}" if env in spec.required_in else f"with {NAMESPACE}:{spec.required_by} set")
        + f" ({spec.purpose}); set it with: {spec.set_command}"
        for spec in SECRETS.values()
        if spec.required(env, sections) and spec.key not in present
    ]
    from pulumi.runtime import config as runtime_config

    for spec in SECRETS.values():
        raw = runtime_config.get_config(spec.full_key)
        if spec.key not in present or raw is None:
            continue
        if not runtime_config.is_config_secret(spec.full_key):
            problems.append(
                f"{spec.full_key} is stored in plain text in Pulumi.{pulumi.get_stack()}.yaml; encrypt it with: {spec.set_command}"
            )
            continue
        if spec.check is None:
            continue
        try:
            spec.check(raw)
            if spec.env_check is not None:
                spec.env_check(raw, env)
        except ValueError as exc:
            problems.append(f"{spec.full_key} {exc}; set it with: {spec.set_command}")
    cluster = settings.cluster
    if settings.app.backups.enabled and cluster.cloud == "existing":
        problems.extend(
            f"{SECRETS[key].full_key} is required for backups on an existing cluster ({SECRETS[key].purpose}); "
            f"set it with: {SECRETS[key].set_command}"
            for key in ("backupAccessKeyId", "backupSecretAccessKey") if key not in present
        )
    if cluster.cloud != "existing" and "kubeconfig" in present:
        problems.append(
            f"{SECRETS['kubeconfig'].full_key} is set but cluster.cloud is '{cluster.cloud}' (it only adopts an existing "
            f"cluster); remove it with: pulumi config rm {SECRETS['kubeconfig'].full_key}"
        )
    if cluster.cloud == "existing" and not cluster.existing.context and "kubeconfig" not in present:
        problems.append(
            f"{NAMESPACE}:cluster.existing.context or the secret {SECRETS['kubeconfig'].full_key} is required "
            "for an existing cluster; set one with: pulumi config set --path tradesense:cluster.existing.context kind-tradesense"
        )
    return problems
