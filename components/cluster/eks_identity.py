"""IRSA: IAM roles that exactly one Kubernetes ServiceAccount can assume via the cluster's OIDC issuer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal, Optional

import pulumi
import pulumi_aws as aws

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"


def irsa_trust_policy(oidc_arn: str, oidc_url: str, namespace: str, service_account: str) -> str:
    issuer = oidc_url.removeprefix("https://")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": oidc_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                            f"{issuer}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ],
        }
    )


@dataclass(frozen=True)
class IrsaIdentity:
    oidc_provider_arn: pulumi.Output[str]
    oidc_provider_url: pulumi.Output[str]
    aws_provider: aws.Provider
    kind: Literal["irsa"] = "irsa"

    def role(
        self,
        name: str,
        namespace: str,
        service_account: str,
        policy_json: Optional[pulumi.Input[str]] = None,
        managed_policy_arns: tuple[str, ...] = (),
        parent: Optional[pulumi.Resource] = None,
    ) -> aws.iam.Role:
        opts = pulumi.ResourceOptions(parent=parent, provider=self.aws_provider)
        trust = pulumi.Output.all(self.oidc_provider_arn, self.oidc_provider_url).apply(
            lambda v: irsa_trust_policy(v[0], v[1], namespace, service_account)
        )
        role = aws.iam.Role(f"{name}-irsa", assume_role_policy=trust, opts=opts)
        for index, arn in enumerate(managed_policy_arns):
            aws.iam.RolePolicyAttachment(f"{name}-irsa-managed-{index}", role=role.name, policy_arn=arn, opts=opts)
        if policy_json is not None:
            aws.iam.RolePolicy(f"{name}-irsa-policy", role=role.id, policy=policy_json, opts=opts)
        return role

    def bind(self, name, namespace, service_account, policy_json=None, managed_policy_arns=(), parent=None):
        role = self.role(name, namespace, service_account, policy_json, managed_policy_arns, parent)
        return {ROLE_ARN_ANNOTATION: role.arn}
