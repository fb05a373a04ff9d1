"""Adversarial table for tools.audit (issue 18): crafted exports that plant a secret somewhere the
old audit did not look, or in a shape it did not know, plus clean look-alikes that must not alarm.

Each case edits a copy of tests/fixtures/exports/cli-v3-minimal.json (an export as the CLI prints
it). `planted` are the values that must be found and never printed, in any encoding; `expect` is
a piece of the finding's message. Tokens are assembled at run time so that no literal
credential-shaped string sits in the repository.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

from tools.mock_runtime import SECRET_MARK, SECRET_SIG

PREFIX = "urn:pulumi:staging::tradesense::"
PROVIDER = PREFIX + "pulumi:providers:kubernetes::default_4_34_2::5d3c2b1a-9f8e-4d7c-8b6a-5f4e3d2c1b0a"


def hexs(seed: str, n: int) -> str:
    return (hashlib.sha256(seed.encode()).hexdigest() * 3)[:n]


def alnum(seed: str, n: int) -> str:
    raw = base64.b64encode(hashlib.sha512(seed.encode()).digest()).decode()
    return "".join(c for c in raw if c.isalnum())[:n]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def ciphertext(seed: str) -> dict:
    digest = hashlib.sha512(seed.encode()).digest()
    return {SECRET_SIG: SECRET_MARK, "ciphertext": "v1:" + b64_bytes(digest[:12]) + ":" + b64_bytes(digest[12:60])}


def b64_bytes(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


AKIA = "AKIA" + alnum("akia", 16).upper()
GHP = "gh" + "p_" + alnum("ghp", 36)
GITHUB_PAT = "github" + "_pat_" + alnum("pat1", 22) + "_" + alnum("pat2", 59)
STRIPE = "sk" + "_live_" + alnum("stripe", 24)
WHSEC = "wh" + "sec_" + alnum("whsec", 32)
DOP = "do" + "p_v1_" + hexs("dop", 64)
SLACK_BOT = "xo" + "xb-" + "1234567890-" + alnum("slack", 24)
SLACK_HOOK = "https://hooks.slack.com/" + "services/T0" + alnum("t", 8).upper() + "/B0" + alnum("b", 8).upper() + "/" + alnum("hook", 24)
PAGERDUTY = hexs("pagerduty", 32)
JWT = "eyJ" + "hbGciOiJSUzI1NiJ9" + ".eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXBwIn0." + alnum("jwtsig", 43)
SENTRY = "https://" + hexs("sentry", 32) + "@o4505.ingest.sentry.io/4506"
PULUMI_TOKEN = "pu" + "l-" + hexs("pulumi", 40)
GOOGLE = "AI" + "za" + alnum("google", 35)
AWS_SECRET = alnum("awssecret", 36) + "/+Ab"
PEM_BODY = alnum("pem-body", 64)
PEM = "-----BEGIN " + "RSA PRIVATE KEY-----\n" + PEM_BODY + "\n-----END RSA PRIVATE KEY-----\n"


def resource(type_: str, name: str, inputs: Optional[dict] = None, outputs: Optional[dict] = None, **extra) -> dict:
    parent_type = type_.split(":")[0]
    entry = {"urn": f"{PREFIX}{type_}::{name}", "custom": True, "id": name, "type": type_,
             "inputs": inputs or {}, "outputs": outputs if outputs is not None else dict(inputs or {}),
             "parent": PREFIX + "pulumi:pulumi:Stack::tradesense-staging"}
    if parent_type == "kubernetes":
        entry["provider"] = PROVIDER
    entry.update(extra)
    return entry


def add(*resources: dict) -> Callable[[dict], dict]:
    def edit(doc: dict) -> dict:
        doc["deployment"]["resources"].extend(resources)
        return doc
    return edit


def config_map(name: str, data: dict) -> dict:
    return resource("kubernetes:core/v1:ConfigMap", name, {"apiVersion": "v1", "kind": "ConfigMap",
                                                            "metadata": {"name": name, "namespace": "tradesense"}, "data": data})


def deployment_env(env: list[dict]) -> dict:
    return resource("kubernetes:apps/v1:Deployment", "env-app", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "env-app", "namespace": "tradesense"},
        "spec": {"selector": {"matchLabels": {"app": "env"}}, "template": {
            "metadata": {"labels": {"app": "env"}},
            "spec": {"containers": [{"name": "app", "image": "ghcr.io/tradesense/app@sha256:" + hexs("img", 64), "env": env}]}}}})


def secret_resource(type_: str = "kubernetes:core/v1:Secret", name: str = "leaky", **fields) -> dict:
    body = {"apiVersion": "v1", "kind": type_.rsplit(":", 1)[-1], "metadata": {"name": name, "namespace": "tradesense"}}
    body.update(fields)
    return resource(type_, name, body)


def edit_secret_object(change: Callable[[dict], None]) -> Callable[[dict], dict]:
    """Change the fixture Secret's `inputs.stringData` secret object in place."""
    def edit(doc: dict) -> dict:
        secret = next(r for r in doc["deployment"]["resources"] if r["type"] == "kubernetes:core/v1:Secret")
        change(secret["inputs"]["stringData"])
        return doc
    return edit


def set_path(*path, value) -> Callable[[dict], dict]:
    def edit(doc: dict) -> dict:
        node = doc
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
        node[path[-1]] = value
        return doc
    return edit


def kubeconfig(user: dict) -> str:
    return ("apiVersion: v1\nkind: Config\nclusters:\n- name: staging\n  cluster:\n    server: https://10.0.0.1\n"
            "contexts:\n- name: staging\n  context: {cluster: staging, user: deployer}\ncurrent-context: staging\n"
            "users:\n- name: deployer\n  user:\n" + "".join(f"    {k}: {v}\n" for k, v in user.items()))


@dataclass(frozen=True)
class Case:
    name: str
    edit: Union[Callable[[dict], dict], Callable[[str], str]]
    planted: tuple[str, ...] = ()
    expect: str = ""  # a piece of the finding message; "" for a clean look-alike
    raw_text: bool = False  # `edit` rewrites the file's text instead of the parsed document
    extra: dict = field(default_factory=dict)


def _shadowed_text(text: str) -> str:
    # A repeated key: JSON readers keep the last (the ciphertext), the file still holds the first.
    return text.replace('"stringData": {', '"stringData": {"DB_PASSWORD": "sh4dowed-by-a-dup-key"}, "stringData": {', 1)


def _pending_op(doc: dict) -> dict:
    doc["deployment"]["pending_operations"] = [{"type": "creating", "resource": resource(
        "kubernetes:core/v1:ConfigMap", "half-made", {"data": {"note": "key " + AKIA}})}]
    return doc


def _deleted(doc: dict) -> dict:
    doc["deployment"]["resources"].append(config_map("old", {"url": "postgresql://app:Del3ted-But-Kept@db/app"}) | {"delete": True})
    return doc


LAST_APPLIED = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"},
                           "stringData": {"JWT_SECRET_KEY": "la5t-appl1ed-jwt-key"}})
AWS_CREDENTIALS = f"[default]\naws_access_key_id = {AKIA}\naws_secret_access_key = {AWS_SECRET}\n"
DOCKER_AUTH = b64("deploy:d0ck3r-Pa55word")
DOCKER_CONFIG = json.dumps({"auths": {"registry.tradesense.com": {"auth": DOCKER_AUTH}}})
CA_PEM = "-----BEGIN CERTIFICATE-----\n" + alnum("ca", 64) + "\n-----END CERTIFICATE-----\n"

VIOLATIONS: list[Case] = [
    Case("resource id holding a URL with a password", add(resource("kubernetes:core/v1:ConfigMap", "byid") | {"id": "postgresql://app:Zq8mN3vR7pLx@db:5432/app"}), ("Zq8mN3vR7pLx",), "password in a URL"),
    Case("GitHub token in a URN", add(resource("kubernetes:core/v1:ConfigMap", "deploy-" + GHP)), (GHP,), "GitHub token"),
    Case("Stripe key in initErrors", add(resource("kubernetes:core/v1:ConfigMap", "failed", initErrors=["create failed: bad key " + STRIPE])), (STRIPE,), "Stripe secret key"),
    Case("AWS key id in a pending operation", _pending_op, (AKIA,), "AWS access key id"),
    Case("percent-encoded password in a manifest plugin URL", set_path("deployment", "manifest", "plugins", value=[{
        "name": "kubernetes", "type": "resource", "version": "4.34.2", "path": "https://ci:p%40ss%3Aw0rd-99@plugins.tradesense.com/k8s"}]),
        ("p%40ss%3Aw0rd-99", "p@ss:w0rd-99"), "password in a URL"),
    Case("Pulumi token in snapshot metadata", set_path("deployment", "metadata", "integrity_error", value={"env_vars": {"PULUMI_ACCESS_TOKEN": PULUMI_TOKEN}}), (PULUMI_TOKEN,), "Pulumi access token"),
    Case("passphrase in the secrets provider state", set_path("deployment", "secrets_providers", "state", "passphrase", value="correct-horse-battery-staple"), ("correct-horse-battery-staple",), "credential-like name (passphrase)"),
    Case("secret object with ciphertext AND plaintext", edit_secret_object(lambda s: s.update(plaintext=json.dumps({"DB_PASSWORD": "hunter2-db-pass"}))), ("hunter2-db-pass",), "secret exported in plaintext"),
    Case("secret object with an extra value field", edit_secret_object(lambda s: s.update(value="s3cr3t-extra-field")), ("s3cr3t-extra-field",), "not the exact {sig, ciphertext} form"),
    Case("ciphertext that is base64 of the password", edit_secret_object(lambda s: s.update(ciphertext=b64("hunter2-db-password-b64"))), ("hunter2-db-password-b64",), "decodes to readable text"),
    Case("ciphertext that is the password itself", edit_secret_object(lambda s: s.update(ciphertext="hunter2 is my password")), ("hunter2 is my password",), "is not base64"),
    Case("SecretPatch with plain stringData", add(secret_resource("kubernetes:core/v1:SecretPatch", stringData={"password": "patch-pa55-word"})), ("patch-pa55-word",), "Kubernetes Secret data is not wrapped"),
    Case("SecretList item with base64 data", add(resource("kubernetes:core/v1:SecretList", "list", {"items": [{"metadata": {"name": "a"}, "data": {"pw": b64("l1st-item-pa55")}}]})), ("l1st-item-pa55",), "Kubernetes Secret data is not wrapped"),
    Case("Secret inline in a yaml/v2 ConfigGroup", add(resource("kubernetes:yaml/v2:ConfigGroup", "group", {"objs": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "g"}, "stringData": {"token": "gr0up-inline-t0ken"}}]})), ("gr0up-inline-t0ken",), "Kubernetes Secret data is not wrapped"),
    Case("AWS key id as a property KEY", add(config_map("bykey", {AKIA: "ok"})), (AKIA,), "AWS access key id-shaped property key"),
    Case("DB_PASSWORD in a ConfigMap", add(config_map("cm", {"DB_PASSWORD": "Tr0ub4dor&3-cm"})), ("Tr0ub4dor&3-cm",), "credential-like name (password)"),
    Case("camelCase apiKey in Helm values", add(resource("kubernetes:helm.sh/v3:Release", "mailer", {"chart": "mailer", "values": {"mailer": {"apiKey": "mg-9f8e7d6c5b4a3928"}}})), ("mg-9f8e7d6c5b4a3928",), "credential-like name (key)"),
    Case("env name/value pair", add(deployment_env([{"name": "REDIS_PASSWORD", "value": "r3d1s-pa55-env"}])), ("r3d1s-pa55-env",), "credential-like name (password)"),
    Case("Docker config JSON in a ConfigMap", add(config_map("docker", {".dockerconfigjson": DOCKER_CONFIG})), ("d0ck3r-Pa55word", DOCKER_AUTH), "Docker registry credential"),
    Case("kubeconfig with a bearer token in a plain output", set_path("deployment", "resources", 0, "outputs", "adminKubeconfig", value=kubeconfig({"token": "k8s-t0ken-abcdef123456"})), ("k8s-t0ken-abcdef123456",), "credential-like name (token)"),
    Case("kubeconfig client-key-data", set_path("deployment", "resources", 0, "outputs", "kubeconfigJson", value=json.dumps({"users": [{"name": "a", "user": {"client-certificate-data": b64(CA_PEM), "client-key-data": b64(PEM)}}]})), (PEM_BODY,), "private key"),
    Case("JWT in an annotation", add(config_map("jwt", {"note": "Authorization: Bearer " + JWT})), (JWT,), "JWT"),
    Case("Sentry DSN in an env value", add(deployment_env([{"name": "ERRORS_URL", "value": SENTRY}])), (SENTRY.split("//")[1].split("@")[0],), "Sentry DSN"),
    Case("Slack webhook in Alertmanager values", add(resource("kubernetes:helm.sh/v3:Release", "am", {"values": {"alertmanager": {"config": {"global": {"slack_api_url": SLACK_HOOK}}}}})), (SLACK_HOOK,), "Slack webhook"),
    Case("Slack bot token", add(config_map("slack", {"bot": SLACK_BOT})), (SLACK_BOT,), "Slack token"),
    Case("DigitalOcean token in provider inputs", add(resource("pulumi:providers:digitalocean", "do", {"token": DOP, "version": "4.84.1"})), (DOP,), "DigitalOcean token"),
    Case("PagerDuty routing key in a YAML string", add(config_map("am-yaml", {"alertmanager.yaml": f"receivers:\n- name: pd\n  pagerduty_configs:\n  - routing_key: {PAGERDUTY}\n"})), (PAGERDUTY,), "PagerDuty key"),
    Case("URL password holding @", add(config_map("at", {"REDIS_URL": "redis://:p@ss@w0rd-at@redis:6379/0"})), ("p@ss@w0rd-at",), "password in a URL"),
    Case("URL with an IPv6 host", add(config_map("v6", {"url": "postgres://app:v6-Pa55w0rd@[2001:db8::1]:5432/app"})), ("v6-Pa55w0rd",), "password in a URL"),
    Case("URL with a unicode password", add(config_map("uni", {"url": "amqp://app:pässwörd-ü123@mq:5672/"})), ("pässwörd-ü123",), "password in a URL"),
    Case("URL password holding / # ?", add(config_map("slash", {"url": "mongodb://app:a/b#c?d-Pw9x@mongo:27017/db"})), ("a/b#c?d-Pw9x",), "password in a URL"),
    Case("Secret inside a last-applied-configuration annotation", add(resource("kubernetes:core/v1:Service", "svc", {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": LAST_APPLIED}}})), ("la5t-appl1ed-jwt-key",), "Kubernetes Secret data is not wrapped"),
    Case("value hidden by a repeated key", _shadowed_text, ("sh4dowed-by-a-dup-key",), "a repeated key", raw_text=True),
    Case("AWS credentials file in a ConfigMap", add(config_map("awscreds", {"credentials": AWS_CREDENTIALS})), (AWS_SECRET, AKIA), "AWS secret access key"),
    Case("Stripe webhook secret in a stack output", set_path("deployment", "resources", 0, "outputs", "webhook", value=WHSEC), (WHSEC,), "Stripe webhook secret"),
    Case("GitHub fine-grained token as a URL user", add(config_map("git", {"repo": f"https://{GITHUB_PAT}@github.com/tradesense/infra.git"})), (GITHUB_PAT,), "GitHub token"),
    Case("PEM private key in a plain output", add(resource("tls:index/privateKey:PrivateKey", "tlskey", {"algorithm": "RSA"}, {"privateKeyPem": PEM})), (PEM_BODY,), "private key"),
    Case("Secret data (Docker config) unwrapped in outputs", add(resource("kubernetes:core/v1:Secret", "regcred", {"type": "kubernetes.io/dockerconfigjson"}, {"data": {".dockerconfigjson": b64(DOCKER_CONFIG)}})), ("d0ck3r-Pa55word",), "Kubernetes Secret data is not wrapped"),
    Case("a resource pending deletion", _deleted, ("Del3ted-But-Kept",), "password in a URL"),
    Case("an unknown top-level field", set_path("notes", value="rotate " + GHP), (GHP,), "GitHub token"),
    Case("Stripe key as a propertyDependencies key", add(resource("kubernetes:core/v1:ConfigMap", "pd", propertyDependencies={STRIPE: []})), (STRIPE,), "Stripe secret key-shaped property key"),
    Case("Google API key in frontend config", add(config_map("front", {"MAPS": GOOGLE})), (GOOGLE,), "Google API key"),
    Case("password in a Helm values YAML string", add(resource("kubernetes:helm.sh/v3:Release", "yamlvals", {"valueYamlFiles": "auth:\n  enabled: true\n  password: yaml-va1ues-pa55\n"})), ("yaml-va1ues-pa55",), "credential-like name (password)"),
    Case("AWS secret key under its property name", add(resource("aws:iam/accessKey:AccessKey", "ak", {}, {"secretAccessKey": AWS_SECRET})), (AWS_SECRET,), "AWS secret access key"),
]

CLEAN: list[Case] = [
    Case("passwordPolicy: strict", add(config_map("c1", {"passwordPolicy": "strict"}))),
    Case("tokenTtl: 3600", add(config_map("c2", {"tokenTtl": "3600", "sessionTokenTtl": "1h"}))),
    Case("secretName and existingSecret", add(resource("kubernetes:helm.sh/v3:Release", "c3", {"values": {"tls": {"secretName": "app-tls"}, "auth": {"existingSecret": "app-db"}, "configSecret": "alertmanager-config"}}))),
    Case("a public SSH key", add(config_map("c4", {"sshKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + alnum("ssh", 43) + " ops@tradesense"}))),
    Case("a sha256 digest and an md5 checksum", add(config_map("c5", {"sha256": "sha256:" + hexs("digest", 64), "checksum/config": hexs("md5", 32)}))),
    Case("an image digest", add(deployment_env([{"name": "IMAGE", "value": "ghcr.io/tradesense/backend@sha256:" + hexs("image", 64)}]))),
    Case("URLs without userinfo", add(config_map("c7", {"API_URL": "https://api.tradesense.com/v1?page=2", "chart": "oci://registry:5000/charts/app@sha256:" + hexs("c", 64), "local": "http://[::1]:8080/health"}))),
    Case("the ciphertext marker form", add(resource("kubernetes:core/v1:Secret", "c8", {"kind": "Secret", "stringData": ciphertext("c8")}, {"data": ciphertext("c8o")}))),
    Case("references to secrets", add(deployment_env([
        {"name": "DATABASE_URL", "value": "postgresql://app:$(POSTGRES_PASSWORD)@db:5432/app"},
        {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "redis", "key": "password"}}},
        {"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db-password"},
        {"name": "API_TOKEN", "value": "{{ .Values.token }}"}]))),
    Case("empty and masked passwords", add(config_map("c10", {"password": "", "adminPassword": "********", "PUBLIC_STRIPE_KEY": "pk_live_" + alnum("pk", 24)}))),
    Case("a kubeconfig that runs an exec plugin", set_path("deployment", "resources", 0, "outputs", "execKubeconfig", value=kubeconfig({"exec": "{apiVersion: client.authentication.k8s.io/v1beta1, command: aws, args: [eks, get-token, --cluster-name, staging]}"}))),
    Case("a CA certificate in base64", add(config_map("c12", {"certificate-authority-data": b64(CA_PEM), "caBundle": b64(CA_PEM)}))),
    Case("selector and toleration keys", add(config_map("c13", {"key": "node-role.kubernetes.io/control-plane", "keyName": "deployer", "tokenUrl": "https://oauth2.tradesense.com/token", "accessKeyId": "DO00" + alnum("do", 16).upper()}))),
    Case("secret-sounding names with harmless values", add(config_map("c14", {"passwordMinLength": "12", "tokenEnabled": "true", "secretsEncryption": "enabled", "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/" + hexs("kms", 8)}))),
    Case("a JSON and a YAML document with no secret", add(config_map("c15", {"dashboard.json": json.dumps({"title": "Latency", "panels": [{"type": "graph"}]}), "config.yaml": "server:\n  port: 8080\n  passwordPolicy: strict\n"}))),
]
