"""AWS rules: EKS control plane, KMS, IAM, and (a stack rule) EKS node groups in private subnets.

A missing field means the provider default, e.g. a missing `vpcConfig.endpointPublicAccess` is a
public endpoint and a missing `publicAccessCidrs` is 0.0.0.0/0.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, Iterator, Optional

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy

from . import iam_document
from ._util import MANDATORY, as_list, get, is_mapping, kind_of, known_list, label, schema, skip_unknown, string_list, truthy

EKS_CLUSTER = "aws:eks/cluster:Cluster"
KMS_KEY = "aws:kms/key:Key"
WORLD = {"0.0.0.0/0", "::/0"}


def world_coverage(cidrs: list[str]) -> list[str]:
    """The address families ('0.0.0.0/0', '::/0') that these CIDRs cover entirely, however they
    are split (0.0.0.0/1 + 128.0.0.0/1 is the whole IPv4 space). Malformed entries are ignored:
    AWS rejects them."""
    networks: dict[int, list] = {4: [], 6: []}
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            continue
        networks[network.version].append(network)
    covered = []
    for version, world in ((4, "0.0.0.0/0"), (6, "::/0")):
        if ipaddress.ip_network(world) in ipaddress.collapse_addresses(networks[version]):
            covered.append(world)
    return covered


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
        open_to_world = world_coverage(cidrs)
        if open_to_world:
            report_violation(f"EKS cluster {args.name} has a public API endpoint open to {open_to_world} (publicAccessCidrs {cidrs})")


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
        # AWS cannot rotate keys in a custom key store (CloudHSM or external) or with imported material.
        if any(get(args.props, field_name) for field_name in ("customKeyStoreId", "xksKeyId")):
            return
        if str(get(args.props, "origin") or "AWS_KMS").upper() != "AWS_KMS":
            return
        if not truthy(get(args.props, "enableKeyRotation", default=False)):
            report_violation(f"KMS key {args.name} does not enable automatic key rotation (enableKeyRotation defaults to false)")


# --- IAM --------------------------------------------------------------------------------------

# Every AWS provider type that carries a permissions policy document, and the field holding it.
POLICY_DOCUMENT_FIELDS = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
    "aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy": "inlinePolicy",
}
# Every type that attaches managed policies by ARN, and the field(s) holding the ARN(s).
# (RolePoliciesExclusive & co. list inline policy names only; the RolePolicy documents are checked.)
ATTACHMENT_FIELDS = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": "policyArns",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": "policyArns",
    "aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment": "managedPolicyArn",
    "aws:ssoadmin/managedPolicyAttachmentsExclusive:ManagedPolicyAttachmentsExclusive": "managedPolicyArns",
    "aws:iam/role:Role": "managedPolicyArns",
}
# AWS managed policies that grant '*' on '*' or all of IAM (admin in one call).
ADMIN_POLICY_NAMES = {"AdministratorAccess", "IAMFullAccess"}
# Services where full access is privilege escalation: iam:* can grant itself anything, sts:* can
# assume any trusting role, organizations:*/sso:* control every account's access.
ESCALATION_SERVICES = ("iam", "sts", "organizations", "sso", "identitystore")


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


PARTITIONS = ("aws", "aws-cn", "aws-us-gov")


def _accounts(statement: iam_document.Statement) -> set[str]:
    """'%' (any account) and every literal account id the statement's resources name: every role
    of one's own account is as good as every role."""
    found = {"%"}
    for pattern in statement.resources:
        parts = pattern.split(":")
        if len(parts) >= 6 and parts[4].isdigit():
            found.add(parts[4])
    return found


def _on_every(statement: iam_document.Statement, target: str) -> bool:
    """`target` an ARN language with `{p}` (partition) and optionally `{a}` (account): the
    statement covers it in some partition, for any account or for an account it names."""
    return any(statement.on_every(target.format(p=p, a=a)) for p in PARTITIONS for a in _accounts(statement))


def _covers_service(pattern: str, service: str) -> bool:
    """An action pattern matching every action of a service (actions are case-insensitive)."""
    return iam_document.action_covers(pattern, iam_document.service_actions(service))


def broad_grant(statement: iam_document.Statement) -> Optional[str]:
    """Why an Allow statement amounts to admin, or None."""
    if not statement.allows:
        return None
    everywhere = _on_every(statement, "arn:{p}:%:%:{a}:*")
    if everywhere and statement.not_actions is not None:
        return f"allows NotAction {list(statement.not_actions)} (every other action) on every resource"
    if everywhere and statement.allows_action(iam_document.EVERY_ACTION):
        return "allows Action '*' on Resource '*'"
    # Global services: their ARNs have no region.
    services = sorted(svc for svc in ESCALATION_SERVICES if statement.allows_action(iam_document.service_actions(svc))
                      and _on_every(statement, f"arn:{{p}}:{svc}::{{a}}:*"))
    if services:
        return f"allows every action of {services} on every resource (privilege escalation)"
    return None


def admin_statements(document: Any) -> Iterator[tuple[str, str]]:
    """(Sid or index, why) of Allow statements that grant admin."""
    for statement in iam_document.parse(document):
        why = broad_grant(statement)
        if why:
            yield statement.sid, why


def _admin_arn(arn: str) -> bool:
    return arn.partition(":policy/")[2].rsplit("/", 1)[-1] in ADMIN_POLICY_NAMES and ":iam::aws:policy/" in arn


def permission_documents(args: ResourceValidationArgs) -> list[tuple[str, Any]]:
    """Every permissions policy document a resource carries: (where, document)."""
    documents: list[tuple[str, Any]] = []
    if args.resource_type in POLICY_DOCUMENT_FIELDS:
        with skip_unknown():
            documents.append(("policy", get(args.props, POLICY_DOCUMENT_FIELDS[args.resource_type])))
    if args.resource_type == "aws:iam/role:Role":
        for index, inline in enumerate(known_list(args.props, "inlinePolicies")):
            with skip_unknown():
                documents.append((f"inline policy '{label(inline, 'name', fallback=str(index))}'", get(inline, "policy")))
    return documents


def iam_wildcard(args: ResourceValidationArgs, report_violation) -> None:
    kind = kind_of(args.resource_type)
    documents = permission_documents(args)
    if args.resource_type in ATTACHMENT_FIELDS:
        for arn in known_list(args.props, ATTACHMENT_FIELDS[args.resource_type]):
            with skip_unknown():
                if isinstance(arn, str) and _admin_arn(arn):
                    report_violation(f"{kind} {args.name} attaches {arn} (admin)")
    for where, raw in documents:
        with skip_unknown():
            for sid, why in admin_statements(_document(raw)):
                report_violation(f"IAM {where} of {args.name}: statement {sid} {why}")


POLICIES = [
    ResourceValidationPolicy(
        name="aws-eks-cluster-disallow-public-endpoint",
        description="The EKS API endpoint must be private or public only to listed CIDRs that do not, together, cover the whole IPv4 or IPv6 space.",
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
        description="Symmetric KMS keys must rotate automatically, except where AWS cannot rotate them (custom key stores, external key material).",
        validate=kms_rotation,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="aws-iam-policy-disallow-wildcard-action-on-wildcard-resource",
        description="IAM policies (every policy and attachment type, exclusive ones included) must not grant admin: Action '*' or NotAction on every resource (or NotResource), full access to iam/sts/organizations/sso/identitystore, or AdministratorAccess/IAMFullAccess.",
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


# --- privilege escalation actions -------------------------------------------------------------

# The single-permission escalation paths of Rhino Security Labs' published list ("AWS IAM
# Privilege Escalation - Methods and Mitigation", 21 methods; the PassRole combinations are
# caught by iam:PassRole itself), plus sts:AssumeRole. Each action with the resources on which
# granting it everywhere lets the holder become someone else.
ESCALATION_ACTIONS = {
    "iam:passrole": "arn:{p}:iam::{a}:role/*",
    "iam:createpolicyversion": "arn:{p}:iam::{a}:policy/*",
    "iam:setdefaultpolicyversion": "arn:{p}:iam::{a}:policy/*",
    "iam:createaccesskey": "arn:{p}:iam::{a}:user/*",
    "iam:createloginprofile": "arn:{p}:iam::{a}:user/*",
    "iam:updateloginprofile": "arn:{p}:iam::{a}:user/*",
    "iam:attachuserpolicy": "arn:{p}:iam::{a}:user/*",
    "iam:putuserpolicy": "arn:{p}:iam::{a}:user/*",
    "iam:attachgrouppolicy": "arn:{p}:iam::{a}:group/*",
    "iam:putgrouppolicy": "arn:{p}:iam::{a}:group/*",
    "iam:addusertogroup": "arn:{p}:iam::{a}:group/*",
    "iam:attachrolepolicy": "arn:{p}:iam::{a}:role/*",
    "iam:putrolepolicy": "arn:{p}:iam::{a}:role/*",
    "iam:updateassumerolepolicy": "arn:{p}:iam::{a}:role/*",
    "sts:assumerole": "arn:{p}:iam::{a}:role/*",
    "lambda:updatefunctioncode": "arn:{p}:lambda:%:{a}:function:*",
    "glue:updatedevendpoint": "arn:{p}:glue:%:{a}:devEndpoint/*",
}


def escalation_grants(statement: iam_document.Statement) -> list[str]:
    """The escalation actions this Allow statement grants on all their targets, unconditionally
    (a condition counts only when some clause of it is not always true)."""
    if not statement.allows:
        return []
    clauses = iam_document._clauses(statement.condition)
    if clauses and not all(iam_document.always_true(*clause) for clause in clauses):
        return []
    return [action for action, target in ESCALATION_ACTIONS.items()
            if statement.allows_action(action) and _on_every(statement, target)]


def iam_escalation(args: ResourceValidationArgs, report_violation) -> None:
    for where, raw in permission_documents(args):
        with skip_unknown():
            for statement in iam_document.parse(_document(raw)):
                actions = escalation_grants(statement)
                if actions:
                    report_violation(f"IAM {where} of {args.name}: statement {statement.sid} allows the privilege-escalation "
                                     f"action(s) {actions} on every target resource")


# --- trust policies ---------------------------------------------------------------------------

ROLE = "aws:iam/role:Role"
# OIDC identity providers whose trust has no meaningful `sub` (Cognito pins `aud` instead).
AUD_ONLY_PROVIDERS = {"cognito-identity.amazonaws.com"}


def _oidc_host(federated: str) -> Optional[str]:
    if ":oidc-provider/" in federated:
        return federated.split(":oidc-provider/", 1)[1]
    if ":saml-provider/" in federated or federated.startswith("arn:"):
        return None
    return federated  # a bare provider name such as token.actions.githubusercontent.com


def trust_findings(document: Any) -> list[str]:
    found = []
    for statement in iam_document.parse(document):
        if not statement.allows:
            continue
        with skip_unknown():
            if statement.to_everyone() and not iam_document.narrowing(statement.condition):
                found.append(f"statement {statement.sid} lets every AWS principal assume the role (Principal '*' without a "
                             "condition pinning aws:PrincipalOrgID, aws:PrincipalAccount, aws:SourceAccount ...)")
                continue
            principal = statement.principal
            federated = _strings(get(principal, "Federated")) if is_mapping(principal) else []
            for entry in federated:
                if entry.strip() == "*":
                    found.append(f"statement {statement.sid} trusts every federated identity provider ('*')")
                    continue
                host = _oidc_host(entry)
                if host is None:
                    continue
                needed = ("aud",) if host in AUD_ONLY_PROVIDERS else ("sub", "aud")
                for key in needed:
                    state = iam_document.pinned_key(statement.condition, key, host)
                    if state is None:
                        found.append(f"statement {statement.sid} trusts OIDC provider {host} without a condition on {host}:{key}: "
                                     "any identity it issues can assume the role")
                    elif state is False:
                        found.append(f"statement {statement.sid} matches {host}:{key} with a wildcard or an always-true condition "
                                     "(e.g. repo:org/*): pin the exact subject")
    return found


def role_trust(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type != ROLE:
        return
    with skip_unknown():
        for message in trust_findings(_document(get(args.props, "assumeRolePolicy"))):
            report_violation(f"Role {args.name} trust policy: {message}")


# --- KMS key policies and S3 bucket policies open to everyone ----------------------------------

KEY_POLICY_FIELDS = {"aws:kms/key:Key": "policy", "aws:kms/keyPolicy:KeyPolicy": "policy", "aws:kms/replicaKey:ReplicaKey": "policy"}
BUCKET_POLICY_FIELDS = {"aws:s3/bucketPolicy:BucketPolicy": "policy", "aws:s3/bucket:Bucket": "policy", "aws:s3/bucketV2:BucketV2": "policy"}


def public_statements(document: Any) -> list[iam_document.Statement]:
    """Allow statements open to every principal that no condition narrows to known callers."""
    return [s for s in iam_document.parse(document)
            if s.allows and s.to_everyone() and not iam_document.narrowing(s.condition)]


def _public_policy(fields: dict[str, str], what: str):
    def validate(args: ResourceValidationArgs, report_violation) -> None:
        if args.resource_type not in fields:
            return
        with skip_unknown():
            raw = get(args.props, fields[args.resource_type])
            if raw is None:
                return  # the default key policy trusts the account only; no bucket policy grants nothing
            for statement in public_statements(_document(raw)):
                actions = list(statement.not_actions or statement.actions)
                report_violation(f"{what} of {args.name}: statement {statement.sid} allows {actions} to every principal "
                                 "(Principal '*') without a condition that pins the caller (aws:PrincipalOrgID, aws:SourceVpce, ...)")

    return validate


POLICIES += [
    ResourceValidationPolicy(
        name="aws-iam-policy-disallow-privilege-escalation-actions",
        description="IAM policies must not allow, unconditionally and on every target, the published privilege-escalation actions "
                    "(iam:PassRole, iam:CreatePolicyVersion, iam:AttachRolePolicy, iam:PutRolePolicy, iam:CreateAccessKey, sts:AssumeRole, ...).",
        validate=iam_escalation,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="aws-iam-role-restrict-trust-policy",
        description="Role trust policies must not trust every principal without a condition pinning the caller, and OIDC trusts "
                    "must pin the provider's sub and aud to exact values.",
        validate=role_trust,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="aws-kms-key-restrict-key-policy",
        description="KMS key policies must not allow any action to every principal without a condition pinning the caller.",
        validate=_public_policy(KEY_POLICY_FIELDS, "KMS key policy"),
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="aws-s3-bucket-disallow-public-policy",
        description="S3 bucket policies must not allow any action to every principal without a condition pinning the caller "
                    "(always-true conditions such as StringLike '*' or Bool with both values do not count).",
        validate=_public_policy(BUCKET_POLICY_FIELDS, "S3 bucket policy"),
        enforcement_level=MANDATORY,
    ),
]
