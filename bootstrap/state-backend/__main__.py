"""Bootstrap for the team state backend and the CI identities (docs/CI.md).

StateBackend: the state bucket with one prefix and one KMS secrets key per stack.
CiIdentities: GitHub's OIDC provider and one IAM role per CI purpose, each trusting one GitHub
environment. Its own state stays on the local file backend: it cannot live in the bucket it creates.
Outputs: per stack, the `pulumi login` URL and the `--secrets-provider` value; per GitHub
environment, the role ARN to store as that environment's AWS_ROLE_ARN variable.
"""

import sys
from pathlib import Path

import pulumi
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the repository root, for components/


def cluster_name(stack: str) -> str:
    """The stack's cluster name (it prefixes the stack's buckets), read from its stack file."""
    path = ROOT / f"Pulumi.{stack}.yaml"
    name = ((yaml.safe_load(path.read_text()) or {}).get("config") or {}).get("tradesense:cluster", {}).get("name")
    if not name:
        raise ValueError(f"{path.name}: tradesense:cluster.name is missing; the prod deploy role's bucket scope needs it")
    return name


def main() -> None:
    from components.cluster.ci_identity import CiIdentities, CiIdentitiesArgs
    from components.cluster.ci_policies import STATE_STACKS, check_repository
    from components.cluster.state_backend import StateBackend, StateBackendArgs

    config = pulumi.Config()
    # Bad input stops here, before any resource is registered, with the key and the fix.
    try:
        repository = check_repository(config.require("githubRepository"))
        prod_cloud_name = cluster_name("prod")
    except ValueError as exc:
        raise pulumi.RunError(str(exc)) from None
    backend = StateBackend("state", StateBackendArgs(
        bucket_name=config.require("bucketName"), admin_arns=tuple(config.get_object("stateAdminArns") or ()),
        stacks=STATE_STACKS))
    identities = CiIdentities("ci", CiIdentitiesArgs(
        repository=repository, bucket_name=backend.bucket_name,
        bucket_key_arn=backend.bucket_key_arn, stack_key_arns=backend.key_arns, prod_cloud_name=prod_cloud_name))
    pulumi.export("backendUrls", backend.backend_urls)
    pulumi.export("secretsProviders", backend.secrets_providers)
    pulumi.export("roleArns", identities.role_arns)


if __name__ == "__main__":
    main()
