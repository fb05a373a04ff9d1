"""S3 rules. A bucket's public-access block, encryption, versioning and policy are separate
resources, so these are stack rules that tie each of them back to its bucket: by property
dependency on `bucket` (works at preview, when ids are unknown) or by the bucket's name/id.
When a satellite cannot be tied to any bucket because its target is unknown, buckets missing
that satellite are not reported (no false violation at preview).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from pulumi_policy import PolicyResource, StackValidationArgs, StackValidationPolicy
from pulumi_policy.proxy import UnknownValueError

from ._util import ADVISORY, MANDATORY, as_list, get, is_mapping, schema, skip_unknown, truthy

BUCKET_TYPES = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACCOUNT_PUBLIC_ACCESS_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
ENCRYPTION_TYPES = {
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
}
VERSIONING_TYPES = {"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"}
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}


@dataclass
class Satellites:
    """The satellite resources of one type, grouped by the bucket they configure."""

    by_bucket: dict[str, list[PolicyResource]] = field(default_factory=dict)
    unresolved: int = 0  # satellites whose bucket is unknown at preview


def _bucket_keys(bucket: PolicyResource) -> set[str]:
    keys = set()
    for name in ("bucket", "id"):
        with skip_unknown():
            value = get(bucket.props, name)
            if isinstance(value, str) and value:
                keys.add(value)
    return keys


def satellites(resources: list[PolicyResource], types: set[str]) -> Satellites:
    buckets = [r for r in resources if r.resource_type in BUCKET_TYPES]
    by_key = {key: b.urn for b in buckets for key in _bucket_keys(b)}
    bucket_urns = {b.urn for b in buckets}
    found = Satellites()
    for resource in resources:
        if resource.resource_type not in types:
            continue
        targets = {d.urn for d in resource.property_dependencies.get("bucket", []) if d.urn in bucket_urns}
        if not targets:
            try:
                name = get(resource.props, "bucket")
                if name in by_key:
                    targets = {by_key[name]}
            except UnknownValueError:
                found.unresolved += 1
                continue
        for urn in targets:
            found.by_bucket.setdefault(urn, []).append(resource)
    return found


def _buckets(args: StackValidationArgs) -> list[PolicyResource]:
    return [r for r in args.resources if r.resource_type in BUCKET_TYPES]


def _check_buckets(
    args: StackValidationArgs,
    report_violation,
    types: set[str],
    inline_ok: Callable[[PolicyResource, Mapping], Optional[bool]],
    satellite_ok: Callable[[PolicyResource, Mapping], bool],
    missing_message: str,
) -> None:
    """Report each bucket that neither configures the setting inline nor through a satellite.

    `inline_ok` returns True (configured inline), False (configured inline but wrong, already
    reported) or None (not set inline)."""
    config = args.get_config()
    links = satellites(args.resources, types)
    for bucket in _buckets(args):
        with skip_unknown():
            inline = inline_ok(bucket, config)
            if inline is not None:
                continue
            linked = links.by_bucket.get(bucket.urn, [])
            if any(satellite_ok(s, config) for s in linked):
                continue
            if not linked and links.unresolved:
                continue  # an unresolved satellite may be this bucket's
            reason = "" if not linked else " (the linked configuration does not satisfy it)"
            report_violation(f"S3 bucket {bucket.name} {missing_message}{reason}", bucket.urn)


# --- public access ----------------------------------------------------------------------------


def _all_flags(resource: PolicyResource) -> bool:
    return all(truthy(get(resource.props, flag, default=False)) for flag in BLOCK_FLAGS)


def s3_public_access(args: StackValidationArgs, report_violation) -> None:
    for bucket in _buckets(args):
        with skip_unknown():
            acl = get(bucket.props, "acl")
            if acl in PUBLIC_ACLS:
                report_violation(f"S3 bucket {bucket.name} has the public canned ACL '{acl}'", bucket.urn)
    account_blocked = False
    for resource in args.resources:
        if resource.resource_type == ACCOUNT_PUBLIC_ACCESS_BLOCK:
            with skip_unknown():
                account_blocked = account_blocked or _all_flags(resource)
    if account_blocked:
        return
    _check_buckets(
        args,
        report_violation,
        {PUBLIC_ACCESS_BLOCK},
        lambda bucket, config: None,
        lambda block, config: _all_flags(block),
        "has no BucketPublicAccessBlock with all four flags (blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets) true",
    )


# --- encryption -------------------------------------------------------------------------------


def _algorithm_ok(algorithm: Any, config: Mapping) -> bool:
    if not algorithm:
        return False
    return not config.get("requireKms", False) or str(algorithm).startswith("aws:kms")


def _inline_encryption(bucket: PolicyResource, config: Mapping) -> Optional[bool]:
    algorithm = get(bucket.props, "serverSideEncryptionConfiguration", "rule", "applyServerSideEncryptionByDefault", "sseAlgorithm")
    return True if _algorithm_ok(algorithm, config) else None


def _encryption_resource_ok(resource: PolicyResource, config: Mapping) -> bool:
    return any(
        _algorithm_ok(get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm"), config)
        for rule in as_list(get(resource.props, "rules"))
    )


def s3_encryption(args: StackValidationArgs, report_violation) -> None:
    kms = " with KMS" if args.get_config().get("requireKms", False) else ""
    _check_buckets(
        args,
        report_violation,
        ENCRYPTION_TYPES,
        _inline_encryption,
        _encryption_resource_ok,
        f"has no default server-side encryption{kms} configured",
    )


# --- versioning -------------------------------------------------------------------------------


def _inline_versioning(bucket: PolicyResource, config: Mapping) -> Optional[bool]:
    return True if truthy(get(bucket.props, "versioning", "enabled", default=False)) else None


def s3_versioning(args: StackValidationArgs, report_violation) -> None:
    _check_buckets(
        args,
        report_violation,
        VERSIONING_TYPES,
        _inline_versioning,
        lambda resource, config: get(resource.props, "versioningConfiguration", "status") == "Enabled",
        "does not enable versioning",
    )


# --- TLS only ---------------------------------------------------------------------------------


def denies_insecure_transport(policy: Any) -> bool:
    """True when the policy has a Deny statement for requests with aws:SecureTransport=false."""
    document = policy
    if isinstance(policy, str):
        try:
            document = json.loads(policy)
        except ValueError:
            return False
    if not is_mapping(document):
        return False
    statements = get(document, "Statement")
    for statement in [statements] if is_mapping(statements) else as_list(statements):
        if get(statement, "Effect") != "Deny":
            continue
        condition = get(statement, "Condition", "Bool") or {}
        for key in condition:
            if key.lower() == "aws:securetransport" and str(condition[key]).lower() == "false":
                return True
    return False


def _inline_tls(bucket: PolicyResource, config: Mapping) -> Optional[bool]:
    policy = get(bucket.props, "policy")
    return True if policy and denies_insecure_transport(policy) else None


def s3_tls(args: StackValidationArgs, report_violation) -> None:
    _check_buckets(
        args,
        report_violation,
        {BUCKET_POLICY},
        _inline_tls,
        lambda resource, config: denies_insecure_transport(get(resource.props, "policy")),
        "has no bucket policy denying requests without TLS (aws:SecureTransport=false)",
    )


POLICIES = [
    StackValidationPolicy(
        name="aws-s3-bucket-disallow-public-access",
        description="S3 buckets must have a public-access block with all four flags on (or an account-level one) and no public ACL.",
        validate=s3_public_access,
        enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="aws-s3-bucket-require-encryption",
        description="S3 buckets must configure default server-side encryption.",
        validate=s3_encryption,
        enforcement_level=MANDATORY,
        config_schema=schema(requireKms={"type": "boolean", "default": False, "description": "Require aws:kms encryption."}),
    ),
    StackValidationPolicy(
        name="aws-s3-bucket-require-versioning",
        description="S3 buckets must enable versioning so deleted or overwritten objects can be recovered.",
        validate=s3_versioning,
        enforcement_level=ADVISORY,
    ),
    StackValidationPolicy(
        name="aws-s3-bucket-require-tls",
        description="S3 bucket policies must deny requests that do not use TLS.",
        validate=s3_tls,
        enforcement_level=MANDATORY,
    ),
]
