"""The state-backend bootstrap under the mock runtime, checked by the policy pack's S3/KMS rules."""

from __future__ import annotations

import json
import runpy

import pytest

from tests.conftest import ROOT
from tools.mock_runtime import run_program, unwrap_secrets
from tools.policy_eval import evaluate

PROGRAM = ROOT / "bootstrap" / "state-backend" / "__main__.py"
CONFIG = {"tradesense-state-backend:bucketName": "tradesense-pulumi-state", "aws:region": "us-east-1",
          "tradesense-state-backend:githubRepository": "acme/tradesense-infra",
          "tradesense-state-backend:stateAdminArns": json.dumps(["arn:aws:iam::111122223333:role/deploy"])}
STRICT = {"all": "mandatory", "stack-require-backup-cronjob": "disabled"}  # an app rule; no app here


@pytest.fixture(scope="module")
def recording():
    main = runpy.run_path(str(PROGRAM), run_name="state_backend")["main"]
    return run_program(CONFIG, "bootstrap", program=main, project="tradesense-state-backend")


def inputs(recording, type_: str) -> dict:
    return unwrap_secrets(recording.one(type_).inputs)


def test_bucket_and_every_key_are_protected_and_the_keys_rotate(recording):
    assert recording.one("aws:s3/bucket:Bucket").protect
    keys = [r for r in recording.resources if r.type == "aws:kms/key:Key"]
    assert sorted(r.name for r in keys) == ["state-key", "state-prod-key", "state-review-key", "state-staging-key"]
    for key in keys:
        props = unwrap_secrets(key.inputs)
        assert key.protect and props["enableKeyRotation"] is True and props["deletionWindowInDays"] == 30
        statements = json.loads(props["policy"])["Statement"]
        assert statements[1]["Principal"] == {"AWS": ["arn:aws:iam::111122223333:role/deploy"]}


def test_bucket_is_versioned_encrypted_private_and_tls_only(recording):
    assert inputs(recording, "aws:s3/bucketVersioning:BucketVersioning")["versioningConfiguration"] == {"status": "Enabled"}
    rule = inputs(recording, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    # Bucket keys off, so S3's KMS encryption context is the object ARN (per-prefix KMS conditions).
    assert rule["bucketKeyEnabled"] is False
    block = inputs(recording, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    statement = json.loads(inputs(recording, "aws:s3/bucketPolicy:BucketPolicy")["policy"])["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_outputs_are_one_login_url_and_secrets_provider_per_stack(recording):
    assert recording.outputs["backendUrls"] == {s: f"s3://tradesense-pulumi-state/{s}?region=us-east-1" for s in ("prod", "staging", "review")}
    assert recording.outputs["secretsProviders"] == {s: f"awskms://alias/tradesense-{s}?region=us-east-1" for s in ("prod", "staging", "review")}


def test_the_policy_pack_passes_it_and_catches_a_weakened_copy(recording):
    assert evaluate(recording.resources, STRICT) == []
    weakened = [r for r in recording.resources if r.type != "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"]
    assert [v.policy for v in evaluate(weakened, STRICT)] == ["aws-s3-bucket-disallow-public-access"]
