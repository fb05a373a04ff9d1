"""IAM documents for the CI identities (pure functions: the tests and the bootstrap share them).

One role per purpose. Each trusts exactly one GitHub environment's OIDC subject, reads (and for
deploy roles writes) only its stack's state prefix, and uses only its stack's KMS key. The state
bucket's own SSE-KMS key is usable only through S3 and only for objects under the role's prefix
(the S3 encryption context is the object ARN because bucket keys are off).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
OIDC_AUDIENCE = "sts.amazonaws.com"
ROLE_PREFIX = "tradesense-ci-"


@dataclass(frozen=True)
class CiRole:
    purpose: str  # the role is named ROLE_PREFIX + purpose
    environment: str  # the GitHub environment whose subject it trusts
    stack: str  # state prefix and KMS key it may use
    writes: bool  # write state (deploy) or only read it (preview, drift, audit)
    aws: str  # cloud access besides state: "none" (DigitalOcean stacks, review), "read" or "deploy"


# The pull-request plan has no entry on purpose: it is the offline plan and holds no credential.
CI_ROLES: tuple[CiRole, ...] = (
    CiRole("prod-preview", "prod-preview", "prod", writes=False, aws="read"),
    CiRole("prod-deploy", "production", "prod", writes=True, aws="deploy"),
    CiRole("staging-deploy", "staging", "staging", writes=True, aws="none"),
    CiRole("review", "review", "review", writes=True, aws="none"),
    # Opens and closes review slots with the base branch's code (docs/REVIEW_ENVIRONMENTS.md): it
    # creates pr-<N> stacks and writes the PR's token into them, so it uses review state too.
    CiRole("review-admin", "review-admin", "review", writes=True, aws="none"),
    CiRole("drift-prod", "drift-prod", "prod", writes=False, aws="read"),
    CiRole("drift-staging", "drift-staging", "staging", writes=False, aws="none"),
)

STATE_STACKS: tuple[str, ...] = tuple(dict.fromkeys(r.stack for r in CI_ROLES))


def role_name(role: CiRole) -> str:
    return ROLE_PREFIX + role.purpose


def environment_subject(repository: str, environment: str) -> str:
    return f"repo:{repository}:environment:{environment}"


REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")


def check_repository(repository: str) -> str:
    if not REPOSITORY.fullmatch(repository or ""):
        raise ValueError(f"tradesense-state-backend:githubRepository must be exactly '<org>/<repo>' (no wildcards), got {repository!r}; "
                         "fix: pulumi config set tradesense-state-backend:githubRepository acme/tradesense-infra")
    return repository


def trust_policy(provider_arn: str, repository: str, environment: str) -> dict:
    """Only a job running in `environment` of `repository`, with the STS audience, can assume it.

    StringEquals on the exact subject: no wildcard, so neither `pull_request`, a branch, another
    environment nor another repository matches."""
    check_repository(repository)
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "GitHubEnvironment",
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{GITHUB_OIDC_HOST}:aud": OIDC_AUDIENCE,
                f"{GITHUB_OIDC_HOST}:sub": environment_subject(repository, environment),
            }},
        }],
    }


def state_policy(role: CiRole, bucket: str, region: str, stack_key_arn: str, bucket_key_arn: str) -> dict:
    """State and secrets access for one role: its prefix, its stack's key, nothing else."""
    prefix = f"{role.stack}/"
    object_arn = f"arn:aws:s3:::{bucket}/{prefix}*"
    object_actions = ["s3:GetObject", "s3:GetObjectVersion"] + (["s3:PutObject", "s3:DeleteObject"] if role.writes else [])
    # Decrypt reads existing secrets; a new stack (a review pr-<N>) and `config set --secret` need
    # a data key, so writers may also generate one.
    key_actions = ["kms:Decrypt", "kms:DescribeKey"] + (["kms:Encrypt", "kms:GenerateDataKey"] if role.writes else [])
    bucket_key_actions = ["kms:Decrypt"] + (["kms:GenerateDataKey"] if role.writes else [])
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListOwnPrefix", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
             "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}}},
            {"Sid": "OwnStateObjects", "Effect": "Allow", "Action": object_actions, "Resource": object_arn},
            {"Sid": "OwnSecretsKey", "Effect": "Allow", "Action": key_actions, "Resource": stack_key_arn},
            {"Sid": "BucketKeyViaS3ForOwnPrefix", "Effect": "Allow", "Action": bucket_key_actions, "Resource": bucket_key_arn,
             "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                           "StringLike": {"kms:EncryptionContext:aws:s3:arn": object_arn}}},
        ],
    }


# Read-only calls a preview or a refresh of the prod (EKS) stack makes.
AWS_READ_ACTIONS = [
    "ec2:Describe*", "eks:Describe*", "eks:List*", "iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies", "iam:GetOpenIDConnectProvider", "iam:GetPolicy", "iam:GetPolicyVersion",
    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags", "kms:ListAliases",
    "logs:DescribeLogGroups", "logs:ListTagsForResource", "s3:GetBucket*", "s3:GetLifecycleConfiguration",
    "s3:GetEncryptionConfiguration", "s3:GetBucketPolicy", "s3:ListBucket", "s3:GetAccelerateConfiguration",
    "s3:GetReplicationConfiguration", "s3:GetAnalyticsConfiguration", "s3:GetInventoryConfiguration",
    "s3:GetMetricsConfiguration", "s3:GetIntelligentTieringConfiguration", "logs:ListTagsLogGroup",
]

# What `pulumi up` of the prod stack creates and changes (components/cluster/eks*.py, s3_storage.py).
AWS_DEPLOY_ACTIONS = sorted(set(AWS_READ_ACTIONS) | {
    "ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute", "ec2:CreateSubnet", "ec2:DeleteSubnet",
    "ec2:ModifySubnetAttribute", "ec2:CreateRouteTable", "ec2:DeleteRouteTable", "ec2:CreateRoute", "ec2:DeleteRoute",
    "ec2:ReplaceRoute", "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:CreateInternetGateway",
    "ec2:DeleteInternetGateway", "ec2:AttachInternetGateway", "ec2:DetachInternetGateway", "ec2:AllocateAddress",
    "ec2:ReleaseAddress", "ec2:CreateNatGateway", "ec2:DeleteNatGateway", "ec2:CreateLaunchTemplate",
    "ec2:CreateLaunchTemplateVersion", "ec2:DeleteLaunchTemplate", "ec2:ModifyLaunchTemplate", "ec2:CreateSecurityGroup",
    "ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", "ec2:CreateTags", "ec2:DeleteTags",
    "eks:CreateCluster", "eks:DeleteCluster", "eks:UpdateClusterConfig", "eks:UpdateClusterVersion", "eks:TagResource",
    "eks:UntagResource", "eks:CreateNodegroup", "eks:DeleteNodegroup", "eks:UpdateNodegroupConfig",
    "eks:UpdateNodegroupVersion", "eks:CreateAddon", "eks:DeleteAddon", "eks:UpdateAddon", "eks:CreateAccessEntry",
    "eks:DeleteAccessEntry", "eks:UpdateAccessEntry", "eks:AssociateAccessPolicy", "eks:DisassociateAccessPolicy",
    "iam:CreateRole", "iam:DeleteRole", "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:PassRole",
    "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
    "iam:ListInstanceProfilesForRole", "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint", "iam:CreateServiceLinkedRole",
    "kms:CreateKey", "kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:ScheduleKeyDeletion", "kms:TagResource",
    "kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias", "kms:CreateGrant",
    "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:TagResource", "logs:TagLogGroup",
    "s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration", "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls", "s3:PutBucketTagging",
})


# Control-plane actions on the state backend that data access never needs: denied to the deploy
# role, which otherwise manages KMS keys and buckets of its own stack.
STATE_ADMIN_ACTIONS = [
    "kms:PutKeyPolicy", "kms:CreateGrant", "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:UpdateAlias",
    "kms:DeleteAlias", "s3:DeleteBucket", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutLifecycleConfiguration",
    "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock", "s3:DeleteObjectVersion",
]


def cloud_policy(role: CiRole, account_id: str, region: str, cloud_name: str, state_arns: list[str]) -> dict | None:
    """The prod stack's AWS access, in its region only; never the CI identities or the state backend.

    `cloud_name` is the stack's cluster name, which prefixes its buckets (components/cluster/factory.py)."""
    if role.aws == "none":
        return None
    actions = AWS_DEPLOY_ACTIONS if role.aws == "deploy" else AWS_READ_ACTIONS
    statements: list[dict] = [
        {"Sid": "StackServicesInRegion", "Effect": "Allow", "Action": [a for a in actions if not a.startswith("s3:")], "Resource": "*",
         # IAM is global: its calls carry us-east-1 as the requested region.
         "Condition": {"StringEquals": {"aws:RequestedRegion": sorted({region, "us-east-1"})}}},
        {"Sid": "StackBuckets", "Effect": "Allow", "Action": [a for a in actions if a.startswith("s3:")],
         "Resource": [f"arn:aws:s3:::{cloud_name}-*", f"arn:aws:s3:::{cloud_name}-*/*"]},
    ]
    if role.aws == "deploy":
        # The deploy role creates IAM roles for EKS, so it must not reach the CI roles (its own
        # trust included) or the GitHub OIDC provider, nor administer the state bucket and keys.
        statements.append({
            "Sid": "NeverTheCiIdentities", "Effect": "Deny", "Action": "iam:*",
            "Resource": [f"arn:aws:iam::{account_id}:role/{ROLE_PREFIX}*", f"arn:aws:iam::{account_id}:oidc-provider/{GITHUB_OIDC_HOST}"],
        })
        statements.append({"Sid": "NeverAdministerState", "Effect": "Deny", "Action": STATE_ADMIN_ACTIONS, "Resource": list(state_arns)})
    return {"Version": "2012-10-17", "Statement": statements}
