"""S3 rules. A bucket's public-access block, encryption, versioning and policy are separate
resources, so these are stack rules that tie each of them back to its bucket: by property
dependency on `bucket` (works at preview, when ids are unknown) or by the bucket's name/id.
When a satellite cannot be tied to any bucket because its target is unknown, buckets missing
that satellite are not reported (no false violation at preview).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Callable, Optional

from pulumi_policy import PolicyResource, StackValidationArgs, StackValidationPolicy
from pulumi_policy.proxy import UnknownValueError

from ._util import ADVISORY, MANDATORY, as_list, get, is_list, is_mapping, known_list, schema, skip_unknown, truthy

BUCKET_TYPES = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACCOUNT_PUBLIC_ACCESS_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
ENCRYPTION_TYPES = {
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
}
VERSIONING_TYPES = {"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"}
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ACL_TYPES = {"aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2"}
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


def _name_unknown(bucket: PolicyResource) -> bool:
    try:
        get(bucket.props, "bucket")
        return False
    except UnknownValueError:
        return True


def satellites(resources: list[PolicyResource], types: set[str]) -> Satellites:
    buckets = [r for r in resources if r.resource_type in BUCKET_TYPES]
    by_key = {key: b.urn for b in buckets for key in _bucket_keys(b)}
    # A bucket whose name is unknown may be the one a satellite names.
    unnamed = any(_name_unknown(b) for b in buckets)
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
                elif unnamed:
                    found.unresolved += 1
                    continue
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


_PUBLIC_GRANTEES = ("http://acs.amazonaws.com/groups/global/AllUsers", "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")


def public_acl(resource: PolicyResource) -> Optional[str]:
    """The public canned ACL or public grantee of a bucket or BucketAcl resource, or None."""
    with skip_unknown():
        acl = get(resource.props, "acl")
        if acl in PUBLIC_ACLS:
            return f"the public canned ACL '{acl}'"
    for grant in known_list(resource.props, "grants") + known_list(resource.props, "accessControlPolicy", "grants"):
        with skip_unknown():
            uri = get(grant, "grantee", "uri") or get(grant, "uri")
            if uri in _PUBLIC_GRANTEES:
                return f"a grant to {uri}"
    return None


def s3_public_access(args: StackValidationArgs, report_violation) -> None:
    for bucket in _buckets(args):
        why = public_acl(bucket)
        if why:
            report_violation(f"S3 bucket {bucket.name} has {why}", bucket.urn)
    acls = satellites(args.resources, ACL_TYPES)
    for bucket_urn, linked in acls.by_bucket.items():
        for resource in linked:
            why = public_acl(resource)
            if why:
                report_violation(f"{resource.name} gives its S3 bucket {why}", bucket_urn)
    for resource in args.resources:
        if resource.resource_type == ACCOUNT_PUBLIC_ACCESS_BLOCK:
            try:
                if _all_flags(resource):
                    return
            except UnknownValueError:
                return  # it may block everything
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


_SECURE_TRANSPORT_OPERATORS = ("Bool", "BoolIfExists")  # equivalent: the key is always present for S3


def _is_false(value: Any) -> bool:
    values = as_list(value) if is_list(value) else [value]
    return bool(values) and all(str(v).strip().lower() == "false" for v in values)


def _only_insecure_transport_condition(condition: Any) -> bool:
    """The Condition is exactly "aws:SecureTransport is false" (Bool or BoolIfExists), nothing
    that narrows the deny to some requests."""
    if not is_mapping(condition):
        return False
    entries = [(operator, key, condition[operator][key]) for operator in condition if is_mapping(condition[operator]) for key in condition[operator]]
    return len(entries) == 1 and entries[0][0] in _SECURE_TRANSPORT_OPERATORS and entries[0][1].lower() == "aws:securetransport" and _is_false(entries[0][2])


def _every_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    return is_mapping(principal) and any(key == "AWS" and "*" in _strings(principal[key]) for key in principal)


def _strings(value: Any) -> list[str]:
    return [str(v) for v in as_list(value)] if value is not None else []


def _covers(resources: list[str], arn: str) -> bool:
    return any(fnmatchcase(arn, pattern) for pattern in resources)


def denies_insecure_transport(policy: Any, bucket_names: set[str]) -> bool:
    """True when one Deny statement refuses every action to every principal on the bucket and
    on its objects whenever aws:SecureTransport is false. `bucket_names`: the bucket's known
    names ({} when unknown: then any bucket ARN and any object ARN pattern must be listed)."""
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
        with skip_unknown():
            if get(statement, "Effect") != "Deny" or get(statement, "NotAction") is not None or get(statement, "NotPrincipal") is not None:
                continue
            if get(statement, "NotResource") is not None or not _every_principal(get(statement, "Principal")):
                continue
            if not any(a.lower() in ("*", "s3:*") for a in _strings(get(statement, "Action"))):
                continue
            if not _only_insecure_transport_condition(get(statement, "Condition")):
                continue
            resources = _strings(get(statement, "Resource"))
            if bucket_names:
                ok = all(_covers(resources, f"arn:aws:s3:::{name}") and _covers(resources, f"arn:aws:s3:::{name}/object") for name in bucket_names)
            else:
                ok = _covers(resources, "arn:aws:s3:::some-bucket") and _covers(resources, "arn:aws:s3:::some-bucket/object") or (
                    any(re.fullmatch(r"arn:aws[\w-]*:s3:::[^/*]+", r) for r in resources) and any(r.endswith("/*") for r in resources)
                )
            if ok:
                return True
    return False


def _inline_tls(bucket: PolicyResource, config: Mapping) -> Optional[bool]:
    policy = get(bucket.props, "policy")
    return True if policy and denies_insecure_transport(policy, _bucket_names(bucket)) else None


def _bucket_names(bucket: PolicyResource) -> set[str]:
    return {key for key in _bucket_keys(bucket) if not key.startswith("arn:")}


def s3_tls(args: StackValidationArgs, report_violation) -> None:
    buckets = {b.urn: b for b in _buckets(args)}

    def satellite_ok(resource: PolicyResource, config: Mapping) -> bool:
        names: set[str] = set()
        for dependency in resource.property_dependencies.get("bucket", []):
            if dependency.urn in buckets:
                names |= _bucket_names(buckets[dependency.urn])
        with skip_unknown():
            name = get(resource.props, "bucket")
            if isinstance(name, str) and name:
                names.add(name)
        return denies_insecure_transport(get(resource.props, "policy"), names)

    _check_buckets(
        args,
        report_violation,
        {BUCKET_POLICY},
        _inline_tls,
        satellite_ok,
        "has no bucket policy denying every action to every principal on the bucket and its objects without TLS (aws:SecureTransport=false)",
    )


POLICIES = [
    StackValidationPolicy(
        name="aws-s3-bucket-disallow-public-access",
        description="S3 buckets must have a public-access block with all four flags on (or an account-level one) and no public ACL or grant (inline or BucketAcl).",
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
        description="S3 bucket policies must deny every action (s3:*) to every principal on the bucket and its objects when aws:SecureTransport is false (Bool or BoolIfExists).",
        validate=s3_tls,
        enforcement_level=MANDATORY,
    ),
]
