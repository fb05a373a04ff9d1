"""The CI identities: GitHub's OIDC provider and one IAM role per purpose (docs/CI.md).

Each role trusts exactly one GitHub environment, never `pull_request`; its state, secrets and
cloud access are the documents of components/cluster/ci_policies.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_aws as aws

from components.cluster import ci_policies
from components.cluster.ci_policies import CI_ROLES, CiRole


@dataclass(frozen=True)
class CiIdentitiesArgs:
    repository: str  # "<org>/<repo>"
    bucket_name: pulumi.Input[str]
    bucket_key_arn: pulumi.Input[str]
    stack_key_arns: Mapping[str, pulumi.Input[str]]
    prod_cloud_name: str = "tradesense-prod"  # the prod cluster name, which prefixes its buckets
    roles: tuple[CiRole, ...] = CI_ROLES
    max_session_seconds: int = 3600


class CiIdentities(pulumi.ComponentResource):
    role_arns: dict[str, pulumi.Output[str]]  # by GitHub environment
    provider_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CiIdentitiesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:cluster:CiIdentities", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        region = aws.get_region().region
        account_id = aws.get_caller_identity().account_id
        # AWS verifies GitHub's OIDC certificates itself, so no thumbprint is pinned here.
        provider = aws.iam.OpenIdConnectProvider(
            f"{name}-github-oidc", url=ci_policies.GITHUB_OIDC_URL, client_id_lists=[ci_policies.OIDC_AUDIENCE], opts=child,
        )
        state_arns = pulumi.Output.all(args.bucket_name, args.bucket_key_arn, *args.stack_key_arns.values()).apply(
            lambda v: [f"arn:aws:s3:::{v[0]}", *v[1:]])
        self.role_arns = {}
        for spec in args.roles:
            role = aws.iam.Role(
                f"{name}-{spec.purpose}",
                name=ci_policies.role_name(spec),
                description=f"GitHub Actions, environment {spec.environment}: {spec.purpose} of the {spec.stack} stack",
                assume_role_policy=provider.arn.apply(
                    lambda arn, env=spec.environment: json.dumps(ci_policies.trust_policy(arn, args.repository, env))),
                max_session_duration=args.max_session_seconds,
                opts=child,
            )
            state = pulumi.Output.all(args.bucket_name, args.stack_key_arns[spec.stack], args.bucket_key_arn).apply(
                lambda v, s=spec: json.dumps(ci_policies.state_policy(s, v[0], region, v[1], v[2])))
            aws.iam.RolePolicy(f"{name}-{spec.purpose}-state", role=role.id, policy=state, opts=child)
            if spec.aws != "none":
                cloud = state_arns.apply(lambda arns, s=spec: json.dumps(
                    ci_policies.cloud_policy(s, account_id, region, args.prod_cloud_name, arns)))
                aws.iam.RolePolicy(f"{name}-{spec.purpose}-cloud", role=role.id, policy=cloud, opts=child)
            self.role_arns[spec.environment] = role.arn
        self.provider_arn = provider.arn
        self.register_outputs({"roleArns": self.role_arns, "providerArn": self.provider_arn})
