"""Object storage on AWS: S3 buckets for backups and uploads, reached only through IRSA.

Each bucket: SSE-KMS with a bucket key (one customer key, rotated), versioning, every public
access block, object ownership enforced (ACLs off), a policy that denies every action over
plain HTTP, and lifecycle rules (current objects of the backup bucket expire after the
retention plus a margin, so the barman catalogue expires them first; noncurrent versions
after the retention; unfinished multipart uploads after 7 days).

Access: one IAM role per workload (IRSA), trusted only by its own ServiceAccount, allowed
only its own prefixes, read-only where reading is enough. No IAM user or access key exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_aws as aws

from components.cluster.eks_identity import IrsaIdentity
from components.cluster.interface import StorageCredentials, StorageGrant

READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]
WRITE_ACTIONS = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
LIST_ACTIONS = ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketLocation", "s3:GetBucketVersioning"]


def tls_only_policy(bucket_arn: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    })


def grant_policy(arns: Mapping[str, str], grant: StorageGrant, kms_key_arn: str) -> str:
    """Least privilege for one grant: list only its prefixes, read/write only objects under them."""
    statements = []
    for bucket, prefixes in grant.prefixes.items():
        arn = arns[bucket]
        objects = [f"{arn}/{p}*" for p in prefixes]
        listing: dict = {"Effect": "Allow", "Action": LIST_ACTIONS, "Resource": [arn]}
        if "" not in prefixes:
            listing["Condition"] = {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}}
        statements.append(listing)
        statements.append({"Effect": "Allow", "Action": READ_ACTIONS + ([] if grant.reads_only(bucket) else WRITE_ACTIONS), "Resource": objects})
    kms_actions = ["kms:Decrypt"] + ([] if grant.read_only else ["kms:GenerateDataKey"])
    statements.append({"Effect": "Allow", "Action": kms_actions, "Resource": [kms_key_arn]})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@dataclass(frozen=True)
class S3StorageArgs:
    bucket_prefix: str
    region: str
    identity: IrsaIdentity
    # Days a backup is kept (the ObjectStore's retention); lifecycle rules follow it.
    retention_days: int
    protect: bool
    names: tuple[str, ...] = ("backup", "uploads")


class S3ObjectStorage(pulumi.ComponentResource):
    kind = "s3"
    endpoint: Optional[str] = None
    endpoint_port = 443

    def __init__(self, name: str, args: S3StorageArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:cluster:S3ObjectStorage", name, None, opts)
        self.region = args.region
        self._args = args
        provider = args.identity.aws_provider
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        guarded = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=args.protect, retain_on_delete=args.protect))
        self.kms_key = aws.kms.Key(f"{name}-key", description=f"{args.bucket_prefix} backups and uploads",
                                   enable_key_rotation=True, deletion_window_in_days=30, opts=guarded)
        self._buckets: dict[str, aws.s3.Bucket] = {}
        for logical in args.names:
            self._buckets[logical] = self._bucket(f"{name}-{logical}", f"{args.bucket_prefix}-{logical}", logical, child, guarded)
        self.buckets = {k: b.bucket for k, b in self._buckets.items()}
        self.register_outputs({"buckets": self.buckets, "kmsKeyArn": self.kms_key.arn})

    def _bucket(self, name: str, bucket_name: str, logical: str, child, guarded) -> aws.s3.Bucket:
        bucket = aws.s3.Bucket(name, bucket=bucket_name, force_destroy=False, opts=guarded)
        aws.s3.BucketPublicAccessBlock(f"{name}-public-access", bucket=bucket.id, block_public_acls=True,
                                       block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        aws.s3.BucketOwnershipControls(f"{name}-ownership", bucket=bucket.id,
                                       rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(f"{name}-encryption", bucket=bucket.id, rules=[{
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": self.kms_key.arn},
            "bucket_key_enabled": True,
        }], opts=child)
        aws.s3.BucketVersioning(f"{name}-versioning", bucket=bucket.id,
                                versioning_configuration={"status": "Enabled"}, opts=child)
        aws.s3.BucketPolicy(f"{name}-tls-only", bucket=bucket.id, policy=bucket.arn.apply(tls_only_policy), opts=child)
        retention = self._args.retention_days
        rules = [
            {"id": "noncurrent-versions", "status": "Enabled", "filter": {},
             "noncurrent_version_expiration": {"noncurrent_days": retention}},
            {"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {},
             "abort_incomplete_multipart_upload": {"days_after_initiation": 7}},
        ]
        if logical == "backup":
            # A safety net behind barman's own retention (which deletes through the catalogue).
            rules.append({"id": "expire-old-backups", "status": "Enabled", "filter": {},
                          "expiration": {"days": retention + 7}})
        aws.s3.BucketLifecycleConfiguration(f"{name}-lifecycle", bucket=bucket.id, rules=rules, opts=child)
        return bucket

    def grant(self, grant: StorageGrant, parent: Optional[pulumi.Resource] = None) -> StorageCredentials:
        arns = {k: b.arn for k, b in self._buckets.items() if k in grant.prefixes}
        keys = sorted(arns)
        policy = pulumi.Output.all(self.kms_key.arn, *[arns[k] for k in keys]).apply(
            lambda v: grant_policy(dict(zip(keys, v[1:])), grant, v[0]))
        annotations = self._args.identity.bind(f"{self._name}-{grant.role}", grant.namespace, grant.service_account,
                                               policy_json=policy, parent=self)
        return StorageCredentials(service_account_annotations=annotations)
