"""Malformed stack config: one clear message naming every bad key, and nothing registered."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from components.config import ConfigError
from tests.conftest import DELETE, ROOT, run_stack, secret_keys, stack_config
from tools.mock_runtime import Recording, run_program

MALFORMED = [
    ("prod", {"cluster.eks.nodes.max": 2}, ["tradesense:cluster.eks.nodes.max must be >= min (got 2 < 3)"]),
    ("prod", {"cluster.eks.nodes.min": 2, "cluster.eks.nodes.desired": 2},
     ["tradesense:cluster.eks.nodes.min must be >= 3 in prod (got 2)"]),
    ("prod", {"cluster.cloud": "gke"}, ["tradesense:cluster.cloud must be 'eks', 'doks' or 'existing' (got 'gke')"]),
    ("prod", {"cluster.eks.nodez": 1}, ["tradesense:cluster.eks.nodez is not a known setting (known here: admins, "
                                        "availabilityZones, diskSizeGb, instanceTypes, logRetentionDays, natGateways, "
                                        "nodes, privateOnly, publicAccessCidrs, version, vpcCidr)"]),
    ("prod", {"cluster.eks.nodes.min": "three"}, ["tradesense:cluster.eks.nodes.min must be a whole number (got 'three')"]),
    ("staging", {"environment": "qa"}, ["tradesense:environment must be 'dev', 'staging' or 'prod' (got 'qa')"]),
    ("prod", {"cluster.eks.publicAccessCidrs": ["203.0.113.0/33"]},
     ["tradesense:cluster.eks.publicAccessCidrs[0] must be a CIDR block like 10.0.0.0/16 "
      "('203.0.113.0/33' does not appear to be an IPv4 or IPv6 network)"]),
    ("dev", {"cluster": "not-an-object"},
     ["tradesense:cluster must be an object (a YAML mapping under tradesense:cluster in the stack file)"]),
    ("prod", {"cluster.region": DELETE, "cluster.eks.logRetentionDays": 42},
     ["tradesense:cluster.region is required when cluster.cloud is 'eks' (e.g. us-east-1)",
      "tradesense:cluster.eks.logRetentionDays must be a CloudWatch retention period such as 30, 90 or 365 (got 42)"]),
    ("prod", {"cluster.eks.publicAccessCidrs": []},
     ["tradesense:cluster.eks.publicAccessCidrs must list the CIDRs `pulumi up` runs from (CI runners, VPN egress), "
      "or set cluster.eks.privateOnly: true and run pulumi from inside the VPC (not possible on the first run: "
      "this program creates the VPC)"]),
    ("prod", {"cluster.eks.privateOnly": True},
     ["tradesense:cluster.eks.privateOnly cannot be true while cluster.eks.publicAccessCidrs lists CIDRs; clear one of them"]),
    ("prod", {"cluster.eks.vpcCidr": "10.0.0.0/24"},
     ["tradesense:cluster.eks.vpcCidr must be an IPv4 block from /16 to /20 so each of the 16 subnet slots is at "
      "least a /24 (got /24)"]),
    ("prod", {"cluster.eks.admins": []},
     ["tradesense:cluster.eks.admins must list at least one IAM principal ARN: the cluster grants no implicit admin, "
      "so whoever runs `pulumi up` needs an access entry"]),
    ("prod", {"cluster.eks.admins": ["alice"]},
     ["tradesense:cluster.eks.admins must list IAM principal ARNs like arn:aws:iam::123456789012:role/Admin (got 'alice')"]),
    ("staging", {"cluster.doks.maintenance.day": "caturday"},
     ["tradesense:cluster.doks.maintenance.day must be 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', "
      "'saturday' or 'sunday' (got 'caturday')"]),
    ("staging", {"cluster.eks": {"version": "1.35"}},
     ["tradesense:cluster.eks is set but cluster.cloud is 'doks'; remove it or change cluster.cloud"]),
    ("prod", {"cluster.cloud": "existing", "cluster.eks": DELETE, "cluster.existing": {"context": "kind-x"}},
     ["tradesense:app.backups needs endpoint, bucket and uploadsBucket on an existing cluster (an S3-compatible store "
      "such as MinIO), or enabled: false in dev or a review stack",
      "tradesense:cluster.cloud must be 'eks' or 'doks' in prod (an existing cluster is for dev only)",
      "tradesense:backupAccessKeyId is required for backups on an existing cluster (access key id of the dev "
      "S3-compatible endpoint (app.backups.endpoint)); set it with: pulumi config set --secret tradesense:backupAccessKeyId 'minio'",
      "tradesense:backupSecretAccessKey is required for backups on an existing cluster (secret key of the dev "
      "S3-compatible endpoint); set it with: pulumi config set --secret tradesense:backupSecretAccessKey '...'"]),
    # Backups off outside dev is refused before anything is registered.
    ("staging", {"app.backups.enabled": False},
     ["tradesense:app.backups.enabled must be true in staging: without backups one lost volume or bad migration "
      "loses the trading data (only dev and review stacks may turn backups off)"]),
    ("prod", {"app.backups.enabled": False, "app.postgres.instances": 1},
     ["tradesense:app.backups.enabled must be true in prod: without backups one lost volume or bad migration "
      "loses the trading data (only dev and review stacks may turn backups off)",
      "tradesense:app.postgres.instances must be >= 3 in prod: one per zone, with a synchronous standby (got 1)"]),
    ("dev", {"cluster.existing.context": DELETE},
     ["tradesense:cluster.existing.context or the secret tradesense:kubeconfig is required for an existing cluster; "
      "set one with: pulumi config set --path tradesense:cluster.existing.context kind-tradesense"]),
    ("dev", {"cluster.name": "Tradesense_Dev"},
     ["tradesense:cluster.name has an invalid format (got 'Tradesense_Dev'; expected to match ^[a-z][a-z0-9-]{1,38}[a-z0-9]$)"]),
    ("dev", {"unknownSection": {"a": 1}},
     ["tradesense:unknownSection is not a known setting (known here: app, cluster, environment, monthlyBudgetUsd, platform, review)"]),
    ("staging", {"cluster": DELETE}, ["tradesense:cluster is required"]),
    ("prod", {"platform.reviewEnvironments": {"dns01Provider": "digitalocean"}},
     ["tradesense:platform.reviewEnvironments must not be set in prod: review environments run on the staging cluster"]),
    ("staging", {"platform.reviewEnvironments.dns01Provider": "route53"},
     ["tradesense:platform.reviewEnvironments.dns01Provider must be 'digitalocean' or 'cloudflare' (got 'route53')"]),
    ("staging", {"platform.reviewEnvironments.dns01Provider": DELETE},
     ["tradesense:platform.reviewEnvironments.dns01Provider is required with the letsencrypt-prod issuer: Let's Encrypt "
      "issues the wildcard certificate *.staging.tradesense.com only through DNS-01 (one of: digitalocean, cloudflare)"]),
    ("staging", {"platform.edge": "ingress-nginx"},
     ["tradesense:platform.reviewEnvironments needs edge gateway-api (review environments attach HTTPRoutes to the shared Gateway)"]),
    ("prod", {"cluster.eks.version": "1.30"},
     ["tradesense:cluster.eks.version must be one of 1.34, 1.35 (got '1.30'): cluster-autoscaler is pinned "
      "per Kubernetes minor in components/platform/autoscaling.py"]),
]


def _run_expecting_error(stack: str, config: dict[str, str]) -> tuple[ConfigError, Recording]:
    recording = Recording(stack=stack)
    with pytest.raises(ConfigError) as info:
        run_program(config, stack, recording=recording, secret_keys=secret_keys(config))
    return info.value, recording


@pytest.mark.parametrize("stack,overrides,expected", MALFORMED, ids=[str(c[1]) for c in MALFORMED])
def test_malformed_config_lists_every_problem_and_registers_nothing(stack, overrides, expected):
    error, recording = _run_expecting_error(stack, stack_config(stack, overrides))
    assert error.problems == expected
    message = str(error)
    assert f"has {len(expected)} config problem(s)" in message
    assert "pulumi config set --path" in message
    assert recording.resources == []


def test_several_problems_are_reported_together():
    overrides = {"cluster.eks.nodes.max": 1, "cluster.cloud": "eks", "environment": "prod", "cluster.eks.vpcCidr": "10.0.0.1/16"}
    error, _ = _run_expecting_error("prod", stack_config("prod", overrides))
    # A type error in one key does not hide the cross-field rules of the sections that are valid.
    assert error.problems == [
        "tradesense:cluster.eks.vpcCidr must be a CIDR block like 10.0.0.0/16 (10.0.0.1/16 has host bits set)",
        "tradesense:cluster.eks.nodes.max must be >= min (got 1 < 3)",
    ]
    overrides.pop("cluster.eks.vpcCidr")
    error, _ = _run_expecting_error("prod", stack_config("prod", overrides, secrets=False))
    assert error.problems[0] == "tradesense:cluster.eks.nodes.max must be >= min (got 1 < 3)"
    assert len(error.problems) == 5  # the bound plus four missing secrets


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_missing_secrets_name_the_exact_command(stack):
    error, recording = _run_expecting_error(stack, stack_config(stack, secrets=False))
    assert error.problems == [
        f"tradesense:stripeApiKey is required in {stack} (Stripe secret API key for the backend); "
        "set it with: pulumi config set --secret tradesense:stripeApiKey 'sk_live_...'",
        f"tradesense:stripeWebhookSecret is required in {stack} (Stripe webhook signing secret); "
        "set it with: pulumi config set --secret tradesense:stripeWebhookSecret 'whsec_...'",
        f"tradesense:sentryDsn is required in {stack} (Sentry DSN for backend error reporting); "
        "set it with: pulumi config set --secret tradesense:sentryDsn 'https://KEY@o0.ingest.sentry.io/0'",
        f"tradesense:alertmanagerReceivers is required in {stack} (Alertmanager receivers (YAML list; see "
        "components/platform/alertmanager_config.py)); set it with: "
        "pulumi config set --secret tradesense:alertmanagerReceivers < receivers.yaml  # start from receivers.example.yaml",
    ] + ([  # staging's Gateway hosts the review environments (platform.reviewEnvironments)
        "tradesense:dns01ApiToken is required with tradesense:platform.reviewEnvironments.dns01Provider set (API token "
        "with DNS write access to the domain's zone, for cert-manager's DNS-01 solver); set it with: "
        "pulumi config set --secret tradesense:dns01ApiToken 'dop_v1_...'",
    ] if stack == "staging" else [])
    assert recording.resources == []


def test_dev_runs_without_app_secrets():
    recording = run_stack("dev", secrets=False)
    assert recording.resources


def test_secrets_in_plain_text_are_refused_without_echoing_them():
    config = stack_config("staging")
    plain = [k for k in secret_keys(config) if k != "tradesense:sentryDsn"]
    recording = Recording(stack="staging")
    with pytest.raises(ConfigError) as info:
        run_program(config, "staging", secret_keys=plain, recording=recording)
    assert info.value.problems == [
        "tradesense:sentryDsn is stored in plain text in Pulumi.staging.yaml; encrypt it with: "
        "pulumi config set --secret tradesense:sentryDsn 'https://KEY@o0.ingest.sentry.io/0'"
    ]
    assert config["tradesense:sentryDsn"] not in str(info.value)
    assert recording.resources == []


def test_kubeconfig_for_a_managed_cloud_is_refused():
    config = stack_config("staging")
    config["tradesense:kubeconfig"] = "apiVersion: v1\nkind: Config\n"
    with pytest.raises(ConfigError) as info:
        run_program(config, "staging", secret_keys=secret_keys(config))
    assert info.value.problems == [
        "tradesense:kubeconfig is set but cluster.cloud is 'doks' (it only adopts an existing cluster); "
        "remove it with: pulumi config rm tradesense:kubeconfig"
    ]


def test_config_error_is_a_run_error_so_the_cli_prints_no_traceback():
    import pulumi

    assert issubclass(ConfigError, pulumi.RunError)


def test_only_cluster_package_imports_cloud_sdks():
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        # Skip virtualenvs (venv/, .venv-checkov/), build output and the one package allowed to import clouds.
        if rel.parts[0] in {"venv", "build"} or rel.parts[0].startswith(".") or rel.parts[:2] == ("components", "cluster"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] in {"pulumi_aws", "pulumi_digitalocean"} for n in names):
                offenders.append(str(rel))
    assert offenders == []


def test_program_registers_nothing_at_import_time():
    source = Path(ROOT / "__main__.py").read_text()
    tree = ast.parse(source)
    top_level_calls = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
    assert top_level_calls == []
