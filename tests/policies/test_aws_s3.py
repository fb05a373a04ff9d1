"""S3 stack rules: each bucket is tied to its separate public-access-block, encryption,
versioning and policy resources by property dependency or by name."""

from __future__ import annotations

import json

import pytest

from .fixtures import UNKNOWN, make_resource, messages, run

BUCKET = "aws:s3/bucketV2:BucketV2"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
VERSIONING = "aws:s3/bucketVersioningV2:BucketVersioningV2"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"


def bucket(name="backups", type_=BUCKET, **inputs):
    resource = make_resource(type_, name, {"bucket": f"tradesense-{name}", "tags": {"Project": "tradesense"}, **inputs})
    return resource


def attached(bucket_resource, type_, name, inputs, by="dependency"):
    """A satellite resource pointing at `bucket_resource` the way a program would (bucket=bucket.id)."""
    if by == "dependency":  # preview: the id is unknown, the property dependency ties them
        return make_resource(type_, name, {"bucket": UNKNOWN, **inputs}, property_dependencies={"bucket": [bucket_resource.urn]})
    return make_resource(type_, name, {"bucket": bucket_resource.inputs["bucket"], **inputs})


def tls_policy(effect="Deny", secure="false"):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": effect, "Principal": "*", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::tradesense-*", "arn:aws:s3:::tradesense-*/*"],
        "Condition": {"Bool": {"aws:SecureTransport": secure}}}]})


SATELLITES = {
    "aws-s3-bucket-disallow-public-access": (PAB, {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}),
    "aws-s3-bucket-require-encryption": (SSE, {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}, "bucketKeyEnabled": True}]}),
    "aws-s3-bucket-require-versioning": (VERSIONING, {"versioningConfiguration": {"status": "Enabled"}}),
    "aws-s3-bucket-require-tls": (POLICY, {"policy": tls_policy()}),
}
# A satellite that exists but does not satisfy the rule.
WEAK = {
    "aws-s3-bucket-disallow-public-access": {"blockPublicAcls": True, "blockPublicPolicy": True},
    "aws-s3-bucket-require-encryption": {"rules": [{"bucketKeyEnabled": True}]},
    "aws-s3-bucket-require-versioning": {"versioningConfiguration": {"status": "Suspended"}},
    "aws-s3-bucket-require-tls": {"policy": tls_policy(effect="Allow")},
}
MISSING = {
    "aws-s3-bucket-disallow-public-access": "has no BucketPublicAccessBlock",
    "aws-s3-bucket-require-encryption": "has no default server-side encryption",
    "aws-s3-bucket-require-versioning": "does not enable versioning",
    "aws-s3-bucket-require-tls": "has no bucket policy denying every action to every principal on the bucket and its objects without TLS",
}
RULES = list(SATELLITES)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("by", ["dependency", "name"])
def test_bucket_with_its_satellite_passes(rule, by):
    b = bucket()
    type_, inputs = SATELLITES[rule]
    assert run(rule, [b, attached(b, type_, "sat", inputs, by)]) == []


@pytest.mark.parametrize("rule", RULES)
def test_bucket_without_satellite_is_reported(rule):
    found = run(rule, [bucket()])
    assert MISSING[rule] in messages(found) and "S3 bucket backups" in messages(found)
    assert found[0].urn.endswith("::backups") and found[0].resource_type == BUCKET
    assert found[0].enforcement == ("advisory" if rule == "aws-s3-bucket-require-versioning" else "mandatory")


@pytest.mark.parametrize("rule", RULES)
def test_weak_satellite_is_reported(rule):
    b = bucket()
    type_, _ = SATELLITES[rule]
    found = run(rule, [b, attached(b, type_, "sat", WEAK[rule])])
    assert "does not satisfy it" in messages(found)


@pytest.mark.parametrize("rule", RULES)
def test_satellite_of_another_bucket_does_not_count(rule):
    mine, other = bucket("backups"), bucket("assets")
    type_, inputs = SATELLITES[rule]
    found = run(rule, [mine, other, attached(other, type_, "sat", inputs)])
    assert [v.resource_name for v in found] == ["backups"]


@pytest.mark.parametrize("rule", RULES)
def test_unresolvable_satellite_skips_instead_of_reporting(rule):
    type_, inputs = SATELLITES[rule]
    orphan = make_resource(type_, "sat", {"bucket": UNKNOWN, **inputs})  # no dependency recorded
    assert run(rule, [bucket(), orphan]) == []
    b = bucket()
    unknown_settings = {key: UNKNOWN for key in inputs}
    assert run(rule, [b, attached(b, type_, "sat", unknown_settings)]) == []


def test_inline_settings_on_the_bucket_count():
    legacy = bucket(
        type_="aws:s3/bucket:Bucket",
        serverSideEncryptionConfiguration={"rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}},
        versioning={"enabled": True},
        policy=tls_policy(),
    )
    for rule in ("aws-s3-bucket-require-encryption", "aws-s3-bucket-require-versioning", "aws-s3-bucket-require-tls"):
        assert run(rule, [legacy]) == [], rule


def test_public_acl_and_account_level_block():
    found = run("aws-s3-bucket-disallow-public-access", [bucket(acl="public-read")])
    assert "public canned ACL 'public-read'" in messages(found)
    account = make_resource("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock", "account",
                            SATELLITES["aws-s3-bucket-disallow-public-access"][1])
    assert run("aws-s3-bucket-disallow-public-access", [bucket(), account]) == []


def test_require_kms_option():
    b = bucket()
    sse = attached(b, SSE, "sse", {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]})
    assert run("aws-s3-bucket-require-encryption", [b, sse]) == []
    config = {"aws-s3-bucket-require-encryption": {"requireKms": True}}
    assert "with KMS" in messages(run("aws-s3-bucket-require-encryption", [b, sse], config))
