"""Every credential the workloads use, only ever as Pulumi secrets inside Kubernetes Secrets.

Generated (pulumi-random, kept in state): the Postgres password, the Redis password and
JWT_SECRET_KEY. From secret config: STRIPE_API_KEY, STRIPE_WEBHOOK_SECRET, SENTRY_DSN.
DATABASE_URL and REDIS_URL embed passwords, so they are secrets too. Pods read them through
`secretKeyRef`; no credential is ever a literal env value. No static cloud keys: backups get
cloud access through workload identity (IRSA on EKS), not the guide's aws-credentials Secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional
from urllib.parse import quote

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.app.placement import Placement
from components.secure_defaults import recommended_labels

# Backend env var -> key in components.config.SECRETS.
CONFIG_SECRET_ENV = {
    "STRIPE_API_KEY": "stripeApiKey",
    "STRIPE_WEBHOOK_SECRET": "stripeWebhookSecret",
    "SENTRY_DSN": "sentryDsn",
}

# Secret names from the deployment guide (plus one for Redis, which the guide leaves open).
POSTGRES_SECRET = "postgres-credentials"
REDIS_SECRET = "redis-credentials"
APP_SECRET = "tradesense-secrets"
# File in REDIS_SECRET that redis.conf includes: `requirepass` stays out of argv and ConfigMaps.
REDIS_AUTH_FILE = "auth.conf"


@dataclass(frozen=True)
class SecretKeyRef:
    name: str
    key: str

    def env(self, variable: str) -> dict:
        return {"name": variable, "valueFrom": {"secretKeyRef": {"name": self.name, "key": self.key}}}


def secret_files_volume(volume: str, *refs: SecretKeyRef) -> dict:
    """Keys of one Secret as files (named after the keys); 0440 plus the pod's fsGroup makes
    them readable by the workload's group only."""
    (secret_name,) = {ref.name for ref in refs}
    return {"name": volume, "secret": {
        "secretName": secret_name,
        "items": [{"key": ref.key, "path": ref.key} for ref in refs],
        "defaultMode": 0o440,
    }}


@dataclass(frozen=True)
class AppSecretsArgs:
    placement: Placement
    database: str
    database_user: str
    database_host: str
    database_port: int
    redis_host: str
    redis_port: int
    # Backend env var -> secret config value (None when unset, which only dev allows).
    config_secrets: Mapping[str, Optional[pulumi.Output[str]]]
    # Prod: never replace generated credentials (a new Postgres password would not match the
    # one already initialised in the data volume).
    protect: bool


class AppSecrets(pulumi.ComponentResource):
    postgres_password: SecretKeyRef
    redis_password: SecretKeyRef
    redis_auth_file: SecretKeyRef
    database_url: SecretKeyRef
    # Backend env entries, all secretKeyRefs.
    backend_env: tuple[dict, ...]
    secrets: tuple[k8s.core.v1.Secret, ...]

    def __init__(self, name: str, args: AppSecretsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:app:AppSecrets", name, None, opts)
        placement = args.placement

        def generated(role: str, length: int) -> pulumi.Output[str]:
            # Letters and digits only: safe inside URLs and config files without escaping.
            password = random.RandomPassword(
                f"{name}-{role}",
                length=length,
                special=False,
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            return pulumi.Output.secret(password.result)

        postgres_password = generated("postgres-password", 32)
        redis_password = generated("redis-password", 32)
        jwt_secret = generated("jwt-secret", 64)

        def secret(role: str, secret_name: str, data: Mapping[str, pulumi.Input[str]], kind: str = "Opaque") -> k8s.core.v1.Secret:
            return k8s.core.v1.Secret(
                f"{name}-{role}",
                metadata=placement.metadata(secret_name, recommended_labels(secret_name, "credentials")),
                type=kind,
                string_data={key: pulumi.Output.secret(value) for key, value in data.items()},
                opts=placement.opts(self),
            )

        database_url = postgres_password.apply(
            lambda p: f"postgresql://{args.database_user}:{quote(p, safe='')}@"
            f"{args.database_host}:{args.database_port}/{args.database}"
        )
        redis_url = redis_password.apply(lambda p: f"redis://:{quote(p, safe='')}@{args.redis_host}:{args.redis_port}/0")

        app_data: dict[str, pulumi.Input[str]] = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "JWT_SECRET_KEY": jwt_secret,
        }
        app_data.update({env: value for env, value in args.config_secrets.items() if value is not None})

        self.secrets = (
            # CloudNativePG's bootstrap takes the app owner's credentials as a basic-auth Secret.
            secret("postgres-credentials", POSTGRES_SECRET, {"username": args.database_user, "password": postgres_password},
                   kind="kubernetes.io/basic-auth"),
            secret("redis-credentials", REDIS_SECRET, {
                "password": redis_password,
                REDIS_AUTH_FILE: redis_password.apply(lambda p: f"requirepass {p}\n"),
            }),
            secret("app-secrets", APP_SECRET, app_data),
        )
        self.postgres_password = SecretKeyRef(POSTGRES_SECRET, "password")
        self.redis_password = SecretKeyRef(REDIS_SECRET, "password")
        self.redis_auth_file = SecretKeyRef(REDIS_SECRET, REDIS_AUTH_FILE)
        self.database_url = SecretKeyRef(APP_SECRET, "DATABASE_URL")
        self.backend_env = tuple(SecretKeyRef(APP_SECRET, env).env(env) for env in sorted(app_data))
        self.register_outputs({"secretNames": [POSTGRES_SECRET, REDIS_SECRET, APP_SECRET]})
