"""Bootstrap for the team state backend: a versioned, KMS-encrypted, private, TLS-only S3 bucket
and the KMS key Pulumi uses as its `awskms://` secrets provider (README "State backend").

Its own state stays on the local file backend (it cannot live in the bucket it creates); both
resources are protected. Outputs: the `pulumi login` URL and the `--secrets-provider` value.
"""

import json

import pulumi
import pulumi_aws as aws


def main() -> None:
    config = pulumi.Config()
    bucket_name = config.require("bucketName")
    admins = config.get_object("stateAdminArns") or []
    region = aws.get_region().region
    account = aws.get_caller_identity().account_id
    protect = pulumi.ResourceOptions(protect=True)

    key = aws.kms.Key(
        "state-secrets",
        description="Pulumi secrets provider and state bucket encryption (TradeSense)",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                # The account root keeps control of the key (AWS's default key policy).
                {"Sid": "AccountRoot", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"},
            ] + ([{
                "Sid": "StateAdmins", "Effect": "Allow", "Principal": {"AWS": admins},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*",
            }] if admins else []),
        }),
        opts=protect,
    )
    alias = aws.kms.Alias("state-secrets-alias", name="alias/tradesense-pulumi", target_key_id=key.key_id)
    bucket = aws.s3.Bucket("state", bucket=bucket_name, force_destroy=False, opts=protect)
    child = pulumi.ResourceOptions(parent=bucket)
    aws.s3.BucketOwnershipControls("state-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
    aws.s3.BucketPublicAccessBlock(
        "state-public-access", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=child,
    )
    aws.s3.BucketVersioning("state-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child)
    aws.s3.BucketServerSideEncryptionConfiguration(
        "state-encryption", bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn}, "bucket_key_enabled": True}],
        opts=child,
    )
    aws.s3.BucketPolicy(
        "state-tls-only", bucket=bucket.id,
        policy=bucket.arn.apply(lambda arn: json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }],
        })),
        opts=child,
    )
    # Old state versions are the rollback of last resort; expire them only after 90 days.
    aws.s3.BucketLifecycleConfiguration(
        "state-lifecycle", bucket=bucket.id,
        rules=[{"id": "expire-old-versions", "status": "Enabled", "filter": {},
                "noncurrent_version_expiration": {"noncurrent_days": 90}}],
        opts=child,
    )
    pulumi.export("backendUrl", pulumi.Output.concat("s3://", bucket.bucket, f"?region={region}"))
    pulumi.export("secretsProvider", pulumi.Output.concat("awskms://", alias.name, f"?region={region}"))


if __name__ == "__main__":
    main()
