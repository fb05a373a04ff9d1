"""AWS rules: EKS control plane, KMS, IAM, and (a stack rule) EKS node groups in private subnets.

A missing field means the provider default, e.g. a missing `vpcConfig.endpointPublicAccess` is a
public endpoint and a missing `publicAccessCidrs` is 0.0.0.0/0.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy

from ._util import MANDATORY, as_list, get, is_mapping, schema, skip_unknown, string_list, truthy

EKS_CLUSTER = "aws:eks/cluster:Cluster"
KMS_KEY = "aws:kms/key:Key"
WORLD = {"0.0.0.0/0", "::/0"}


def eks_public_endpoint(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    with skip_unknown():
        public = get(args.props, "vpcConfig", "endpointPublicAccess")
        if public is not None and not truthy(public):
            return
        cidrs = [str(c) for c in as_list(get(args.props, "vpcConfig", "publicAccessCidrs"))]
        if not cidrs:
            report_violation(
                f"EKS cluster {args.name} has a public API endpoint open to 0.0.0.0/0 "
                "(publicAccessCidrs unset); disable endpointPublicAccess or list allowed CIDRs"
            )
            return
        open_to_world = sorted({c for c in cidrs if c in WORLD or c.endswith("/0")})
        if open_to_world:
            report_violation(f"EKS cluster {args.name} has a public API endpoint open to {open_to_world}")


def eks_secrets_encryption(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    with skip_unknown():
        config = get(args.props, "encryptionConfig")
        resources = [str(r) for r in as_list(get(config, "resources"))]
        if "secrets" not in resources:
            report_violation(f"EKS cluster {args.name} does not envelope-encrypt Secrets with KMS (encryptionConfig.resources lacks 'secrets')")
            return
        with skip_unknown():  # the key ARN is usually unknown until the key exists
            if not get(config, "provider", "keyArn"):
                report_violation(f"EKS cluster {args.name} encryptionConfig has no provider.keyArn")


def eks_audit_logging(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    required = list(args.get_config().get("requiredLogTypes", ["audit"]))
    with skip_unknown():
        enabled = {str(t) for t in as_list(get(args.props, "enabledClusterLogTypes"))}
        missing = [t for t in required if t not in enabled]
        if missing:
            report_violation(f"EKS cluster {args.name} does not send control-plane logs {missing} (enabledClusterLogTypes)")


def kms_rotation(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type != KMS_KEY:
        return
    with skip_unknown():
        # Only symmetric encryption keys can rotate automatically.
        spec = get(args.props, "customerMasterKeySpec") or "SYMMETRIC_DEFAULT"
        usage = get(args.props, "keyUsage") or "ENCRYPT_DECRYPT"
        if spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT":
            return
        if not truthy(get(args.props, "enableKeyRotation", default=False)):
            report_violation(f"KMS key {args.name} does not enable automatic key rotation (enableKeyRotation defaults to false)")


# --- IAM --------------------------------------------------------------------------------------

POLICY_DOCUMENT_FIELDS = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
ATTACHMENT_TYPES = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
}
ADMIN_POLICY_SUFFIX = ":policy/AdministratorAccess"


def _document(value: Any) -> Any:
    """A policy document from its wire form (a JSON string, or an object from PolicyDocumentArgs)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _strings(value: Any) -> list[str]:
    return [str(v) for v in as_list(value)] if value is not None else []


def admin_statements(document: Any) -> Iterator[str]:
    """Sids (or indexes) of Allow statements granting every action on every resource."""
    if not is_mapping(document):
        return
    statements = get(document, "Statement")
    statements = [statements] if is_mapping(statements) else as_list(statements)
    for index, statement in enumerate(statements):
        with skip_unknown():
            if get(statement, "Effect") != "Allow":
                continue
            actions = _strings(get(statement, "Action"))
            resources = _strings(get(statement, "Resource"))
            if any(a in ("*", "*:*") for a in actions) and "*" in resources:
                yield str(get(statement, "Sid") or f"#{index}")


def iam_wildcard(args: ResourceValidationArgs, report_violation) -> None:
    documents: list[tuple[str, Any]] = []
    with skip_unknown():
        if args.resource_type in POLICY_DOCUMENT_FIELDS:
            documents.append(("policy", get(args.props, POLICY_DOCUMENT_FIELDS[args.resource_type])))
        elif args.resource_type == "aws:iam/role:Role":
            for index, inline in enumerate(as_list(get(args.props, "inlinePolicies"))):
                with skip_unknown():
                    documents.append((f"inline policy '{get(inline, 'name') or index}'", get(inline, "policy")))
            with skip_unknown():
                for arn in _strings(get(args.props, "managedPolicyArns")):
                    if arn.endswith(ADMIN_POLICY_SUFFIX):
                        report_violation(f"IAM role {args.name} attaches {arn} ('*' on '*')")
        elif args.resource_type in ATTACHMENT_TYPES:
            arn = str(get(args.props, "policyArn") or "")
            if arn.endswith(ADMIN_POLICY_SUFFIX):
                report_violation(f"{args.resource_type.rsplit(':', 1)[-1]} {args.name} attaches {arn} ('*' on '*')")
    for where, raw in documents:
        with skip_unknown():
            for sid in admin_statements(_document(raw)):
                report_violation(f"IAM {where} of {args.name}: statement {sid} allows Action '*' on Resource '*'")


POLICIES = [
    ResourceValidationPolicy(
        name="aws-eks-cluster-disallow-public-endpoint",
        description="The EKS API endpoint must be private or public only to listed CIDRs, never 0.0.0.0/0.",
        validate=eks_public_endpoint,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="aws-eks-cluster-require-secrets-encryption",
        description="EKS clusters must envelope-encrypt Kubernetes Secrets with a KMS key.",
        validate=eks_secrets_encryption,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="aws-eks-cluster-require-audit-logging",
        description="EKS clusters must send audit (and any other required) control-plane logs to CloudWatch.",
        validate=eks_audit_logging,
        enforcement_level=MANDATORY,
        config_schema=schema(requiredLogTypes=string_list("Control-plane log types that must be enabled.", ["audit"])),
    ),
    ResourceValidationPolicy(
        name="aws-kms-key-require-rotation",
        description="Symmetric KMS keys must rotate automatically.",
        validate=kms_rotation,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="aws-iam-policy-disallow-wildcard-action-on-wildcard-resource",
        description="IAM policies must not allow Action '*' on Resource '*' (or attach AdministratorAccess).",
        validate=iam_wildcard,
        enforcement_level=MANDATORY,
    ),
]


# --- stack: node groups in private subnets ----------------------------------------------------

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
SUBNET = "aws:ec2/subnet:Subnet"


def subnet_is_public(subnet) -> bool:
    """Public when it hands out public IPs or is tagged for internet-facing load balancers."""
    if truthy(get(subnet.props, "mapPublicIpOnLaunch", default=False)):
        return True
    for tags_field in ("tags", "tagsAll"):
        with skip_unknown():
            tags = get(subnet.props, tags_field) or {}
            if is_mapping(tags) and "kubernetes.io/role/elb" in list(tags):
                return True
    return False


def eks_nodes_private(args: StackValidationArgs, report_violation) -> None:
    subnets = [r for r in args.resources if r.resource_type == SUBNET]
    by_id: dict[str, Any] = {}
    for subnet in subnets:
        with skip_unknown():
            subnet_id = get(subnet.props, "id")
            if isinstance(subnet_id, str):
                by_id[subnet_id] = subnet
    for group in args.resources:
        if group.resource_type != NODE_GROUP:
            continue
        # Property dependencies tie subnets to the node group even while their ids are unknown.
        linked = {d.urn: d for d in group.property_dependencies.get("subnetIds", []) if d.resource_type == SUBNET}
        with skip_unknown():
            for subnet_id in as_list(get(group.props, "subnetIds")):
                with skip_unknown():
                    if subnet_id in by_id:
                        linked.setdefault(by_id[subnet_id].urn, by_id[subnet_id])
        for subnet in linked.values():
            with skip_unknown():
                if subnet_is_public(subnet):
                    report_violation(f"EKS node group {group.name} places nodes in public subnet {subnet.name}", group.urn)


POLICIES.append(
    StackValidationPolicy(
        name="aws-eks-node-group-require-private-subnets",
        description="EKS node groups must run only in private subnets (no public IPs, not tagged for internet-facing ELBs).",
        validate=eks_nodes_private,
        enforcement_level=MANDATORY,
    )
)
