"""Object storage per cloud: the S3 bucket's security settings and IRSA roles on EKS (no
static key anywhere), Spaces buckets and scoped keys on DOKS."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_stack
from tools.mock_runtime import unwrap_secrets


@pytest.fixture(scope="module")
def prod():
    return run_stack("prod")


@pytest.fixture(scope="module")
def staging():
    return run_stack("staging")


def test_s3_buckets_are_encrypted_versioned_private_and_tls_only(prod):
    buckets = [r.name for r in prod.of_type("aws:s3/bucket:Bucket")]
    assert sorted(buckets) == ["tradesense-prod-storage-backup", "tradesense-prod-storage-uploads"]
    for name in buckets:
        sse = next(r.inputs for r in prod.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
                   if r.name == f"{name}-encryption")
        rule = sse["rules"][0]
        assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms" and rule["bucketKeyEnabled"] is True
        versioning = next(r.inputs for r in prod.of_type("aws:s3/bucketVersioning:BucketVersioning") if r.name == f"{name}-versioning")
        assert versioning["versioningConfiguration"]["status"] == "Enabled"
        block = next(r.inputs for r in prod.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
                     if r.name == f"{name}-public-access")
        assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
        ownership = next(r.inputs for r in prod.of_type("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
                         if r.name == f"{name}-ownership")
        assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        policy = json.loads(next(r.inputs for r in prod.of_type("aws:s3/bucketPolicy:BucketPolicy") if r.name == f"{name}-tls-only")["policy"])
        (deny,) = policy["Statement"]
        assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        lifecycle = next(r.inputs for r in prod.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
                         if r.name == f"{name}-lifecycle")
        rules = {rule["id"]: rule for rule in lifecycle["rules"]}
        assert rules["noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == 30
    backup_rules = next(r.inputs for r in prod.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
                        if r.name == "tradesense-prod-storage-backup-lifecycle")["rules"]
    assert {"id": "expire-old-backups"}.items() <= next(r for r in backup_rules if r["id"] == "expire-old-backups").items()


def test_irsa_roles_are_scoped_to_their_prefix_and_service_account(prod):
    roles = {r.name: r for r in prod.of_type("aws:iam/role:Role")}
    policies = {r.name.removesuffix("-irsa-policy"): json.loads(r.inputs["policy"]) for r in prod.of_type("aws:iam/rolePolicy:RolePolicy")}
    expect = {"postgres": ("postgres", ["postgres/"], False), "redis-backup": ("redis-backup", ["redis/"], False),
              "restore-drill": ("restore-drill", ["postgres/", "redis/", "uploads/"], True)}  # uploads: the drill samples them
    for role, (account, prefixes, read_only) in expect.items():
        name = f"tradesense-prod-storage-{role}"
        trust = json.loads(roles[f"{name}-irsa"].inputs["assumeRolePolicy"])
        condition = trust["Statement"][0]["Condition"]["StringEquals"]
        assert f"system:serviceaccount:tradesense:{account}" in condition.values()
        statements = policies[name]["Statement"]
        objects = [s for s in statements if "s3:GetObject" in s["Action"]]
        assert [res.split(":::")[1] for res in objects[0]["Resource"]] == [f"tradesense-prod-backup/{p}*" for p in prefixes]
        assert ("s3:PutObject" in objects[0]["Action"]) is (not read_only)
        listing = next(s for s in statements if "s3:ListBucket" in s["Action"])
        assert listing["Condition"]["StringLike"]["s3:prefix"] == [f"{p}*" for p in prefixes]


def test_no_static_aws_access_key_exists_on_eks(prod):
    assert not prod.of_type("aws:iam/accessKey:AccessKey") and not prod.of_type("aws:iam/user:User")
    # (The ops-scripts ConfigMap holds the scripts, whose comments name the variables.)
    text = json.dumps([unwrap_secrets(r.inputs) for r in prod.resources if r.name != "tradesense-backups-scripts"], default=str)
    assert "AKIA" not in text and "aws_secret_access_key" not in text.lower() and "AWS_SECRET_ACCESS_KEY" not in text
    assert "-object-storage" not in text  # no key Secret: IRSA only


def test_spaces_buckets_and_keys_scoped_per_bucket(staging):
    buckets = {r.inputs["name"]: r.inputs for r in staging.of_type("digitalocean:index/spacesBucket:SpacesBucket")}
    assert set(buckets) == {"tradesense-staging-backup", "tradesense-staging-uploads"}
    for bucket in buckets.values():
        assert bucket["acl"] == "private" and bucket["versioning"]["enabled"] is True
        assert bucket["lifecycleRules"][0]["noncurrentVersionExpiration"]["days"] == 30
    keys = {r.inputs["name"]: r.inputs["grants"] for r in staging.of_type("digitalocean:index/spacesKey:SpacesKey")}
    # Named per cluster: a second stack in the same DigitalOcean account gets keys of its own.
    assert keys["tradesense-staging-restore-drill"] == [{"bucket": "tradesense-staging-backup", "permission": "read"}]
    assert keys["tradesense-staging-uploads-backup"] == [{"bucket": "tradesense-staging-backup", "permission": "readwrite"},
                                                 {"bucket": "tradesense-staging-uploads", "permission": "read"}]
    assert not any(g["permission"] == "fullaccess" for grants in keys.values() for g in grants)
