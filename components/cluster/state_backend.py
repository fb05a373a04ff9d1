"""The team state backend: a versioned, KMS-encrypted, private, TLS-only S3 bucket with one state
prefix per stack, and one KMS key per stack that Pulumi uses as that stack's `awskms://` secrets
provider. Deployed by its own small program (bootstrap/state-backend), not by the TradeSense
stacks that keep their state in it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

# Old state versions are the rollback of last resort: keep them this long.
NONCURRENT_VERSION_DAYS = 90


@dataclass(frozen=True)
class StateBackendArgs:
    bucket_name: str
    # IAM principals (CI roles, operators) allowed to encrypt and decrypt with the key.
    admin_arns: tuple[str, ...] = ()
    # One state prefix and one secrets key per stack (review: every pr-<N> stack).
    stacks: tuple[str, ...] = ()
    alias: str = "alias/tradesense-pulumi-state"


def stack_alias(stack: str) -> str:
    return f"alias/tradesense-{stack}"


def key_policy(account_id: str, admin_arns: tuple[str, ...]) -> str:
    statements = [
        # The account root keeps control of the key (AWS's default key policy).
        {"Sid": "AccountRoot", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"}, "Action": "kms:*", "Resource": "*"},
    ]
    if admin_arns:
        statements.append({
            "Sid": "StateAdmins", "Effect": "Allow", "Principal": {"AWS": list(admin_arns)},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*",
        })
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def tls_only_policy(bucket_arn: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    })


class StateBackend(pulumi.ComponentResource):
    # `pulumi login` URL and `--secrets-provider` value per stack.
    backend_urls: dict[str, pulumi.Output[str]]
    secrets_providers: dict[str, pulumi.Output[str]]
    key_arns: dict[str, pulumi.Output[str]]
    bucket_key_arn: pulumi.Output[str]
    bucket_name: pulumi.Output[str]

    def __init__(self, name: str, args: StateBackendArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:cluster:StateBackend", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Losing either loses every stack's state or secrets: both are protected.
        kept = pulumi.ResourceOptions(parent=self, protect=True)
        region = aws.get_region().region
        account_id = aws.get_caller_identity().account_id

        def rotating_key(logical: str, description: str) -> aws.kms.Key:
            return aws.kms.Key(logical, description=description, enable_key_rotation=True, deletion_window_in_days=30,
                               policy=key_policy(account_id, args.admin_arns), opts=kept)

        key = rotating_key(f"{name}-key", "TradeSense Pulumi state bucket encryption (S3 SSE-KMS)")
        aws.kms.Alias(f"{name}-key-alias", name=args.alias, target_key_id=key.key_id, opts=child)
        bucket = aws.s3.Bucket(f"{name}-bucket", bucket=args.bucket_name, force_destroy=False, opts=kept)
        aws.s3.BucketOwnershipControls(f"{name}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child,
        )
        aws.s3.BucketVersioning(f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=bucket.id,
            # Bucket keys off: the KMS encryption context stays the object ARN, so each CI role's
            # use of this key can be confined to its own stack's prefix (ci_policies.state_policy).
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn}, "bucket_key_enabled": False}],
            opts=child,
        )
        aws.s3.BucketPolicy(f"{name}-tls-only", bucket=bucket.id, policy=bucket.arn.apply(tls_only_policy), opts=child)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=bucket.id,
            rules=[{"id": "expire-old-versions", "status": "Enabled", "filter": {},
                    "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_VERSION_DAYS}}],
            opts=child,
        )
        self.key_arns, self.backend_urls, self.secrets_providers = {}, {}, {}
        for stack in args.stacks:
            stack_key = rotating_key(f"{name}-{stack}-key", f"TradeSense Pulumi secrets provider of the {stack} stack(s)")
            stack_key_alias = aws.kms.Alias(f"{name}-{stack}-key-alias", name=stack_alias(stack), target_key_id=stack_key.key_id, opts=child)
            self.key_arns[stack] = stack_key.arn
            self.backend_urls[stack] = pulumi.Output.concat("s3://", bucket.bucket, f"/{stack}?region={region}")
            self.secrets_providers[stack] = pulumi.Output.concat("awskms://", stack_key_alias.name, f"?region={region}")
        self.bucket_key_arn = key.arn
        self.bucket_name = bucket.bucket
        self.register_outputs({"backendUrls": self.backend_urls, "secretsProviders": self.secrets_providers})
