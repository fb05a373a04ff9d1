"""The CI identities of the bootstrap program under the mock runtime: who each role trusts and
what it may touch (docs/CI.md)."""

from __future__ import annotations

import copy
import json
import runpy

import pytest

from components.cluster import ci_policies
from tests.conftest import ROOT
from tools.mock_runtime import run_program, unwrap_secrets
from tools.policy_eval import evaluate

PROGRAM = ROOT / "bootstrap" / "state-backend" / "__main__.py"
REPO = "acme/tradesense-infra"
CONFIG = {"tradesense-state-backend:bucketName": "tradesense-pulumi-state", "aws:region": "us-east-1",
          "tradesense-state-backend:githubRepository": REPO}
STRICT = {"all": "mandatory", "stack-require-backup-cronjob": "disabled"}
OIDC = "token.actions.githubusercontent.com"
ENVIRONMENTS = {"prod-preview", "production", "staging", "review", "review-admin", "drift-prod", "drift-staging"}


@pytest.fixture(scope="module")
def recording():
    main = runpy.run_path(str(PROGRAM), run_name="bootstrap_ci")["main"]
    return run_program(CONFIG, "bootstrap", program=main, project="tradesense-state-backend")


def by_name(recording, name: str):
    (found,) = [r for r in recording.resources if r.name == name]
    return found


def roles(recording) -> dict[str, dict]:
    """Role logical name -> inputs, for every IAM role."""
    return {r.name: unwrap_secrets(r.inputs) for r in recording.resources if r.type == "aws:iam/role:Role"}


def document(recording, name: str) -> dict:
    return json.loads(unwrap_secrets(by_name(recording, name).inputs)["policy"])


def key_arn(recording, stack: str) -> str:
    return by_name(recording, f"state-{stack}-key").outputs["arn"]


def trust_problems(doc: dict) -> list[str]:
    """What a federated-trust rule (Principal never *, exact sub and aud) would refuse."""
    problems = []
    for st in doc["Statement"]:
        principal = st.get("Principal")
        if principal == "*" or "*" in json.dumps(principal):
            problems.append("principal *")
        if st.get("Action") != "sts:AssumeRoleWithWebIdentity" or set(principal) != {"Federated"}:
            problems.append("not a web-identity trust")
        cond = st.get("Condition", {})
        if set(cond) != {"StringEquals"}:
            problems.append(f"operators {sorted(cond)}")
        equals = cond.get("StringEquals", {})
        if equals.get(f"{OIDC}:aud") != "sts.amazonaws.com":
            problems.append("no aud")
        sub = equals.get(f"{OIDC}:sub", "")
        if not isinstance(sub, str) or any(c in sub for c in "*?") or ":environment:" not in sub or "pull_request" in sub:
            problems.append(f"sub {sub!r}")
    return problems


def test_one_role_per_purpose_and_none_for_the_pull_request_plan(recording):
    environments = {r.environment for r in ci_policies.CI_ROLES}
    assert environments == ENVIRONMENTS and len(ci_policies.CI_ROLES) == len(environments)
    assert set(recording.outputs["roleArns"]) == ENVIRONMENTS
    assert {i["name"] for i in roles(recording).values()} == {f"tradesense-ci-{r.purpose}" for r in ci_policies.CI_ROLES}
    provider = unwrap_secrets(recording.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider").inputs)
    assert provider["url"] == f"https://{OIDC}" and provider["clientIdLists"] == ["sts.amazonaws.com"]


def test_each_role_trusts_exactly_its_environment_subject_with_the_sts_audience(recording):
    provider_arn = recording.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider").outputs["arn"]
    for spec in ci_policies.CI_ROLES:
        trust = json.loads(roles(recording)[f"ci-{spec.purpose}"]["assumeRolePolicy"])
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Federated": provider_arn}
        assert statement["Condition"] == {"StringEquals": {
            f"{OIDC}:aud": "sts.amazonaws.com", f"{OIDC}:sub": f"repo:{REPO}:environment:{spec.environment}"}}
        assert trust_problems(trust) == []
        assert "pull_request" not in json.dumps(trust)


def test_the_trust_check_refuses_the_look_alikes():
    good = ci_policies.trust_policy("arn:aws:iam::1:oidc-provider/x", REPO, "production")
    assert trust_problems(good) == []
    evasions = {
        "pull request subject": lambda s: s["Condition"]["StringEquals"].update({f"{OIDC}:sub": f"repo:{REPO}:pull_request"}),
        "wildcard subject": lambda s: s["Condition"].update({"StringLike": s["Condition"].pop("StringEquals")}) or
        s["Condition"]["StringLike"].update({f"{OIDC}:sub": f"repo:{REPO}:*"}),
        "no audience": lambda s: s["Condition"]["StringEquals"].pop(f"{OIDC}:aud"),
        "principal star": lambda s: s.update({"Principal": "*"}),
    }
    for what, mutate in evasions.items():
        bad = copy.deepcopy(good)
        mutate(bad["Statement"][0])
        assert trust_problems(bad), what
    for repository in ("acme/*", "acme", "acme/infra/x", "acme/infra?", "", "acme/in fra"):
        with pytest.raises(ValueError, match="githubRepository must be exactly '<org>/<repo>'"):
            ci_policies.trust_policy("arn", repository, "production")
    assert ci_policies.check_repository("my-org/tradesense.infra_2") == "my-org/tradesense.infra_2"


def test_a_bad_repository_stops_the_bootstrap_before_any_resource():
    import pulumi

    main = runpy.run_path(str(PROGRAM), run_name="bootstrap_ci_bad")["main"]
    with pytest.raises(pulumi.RunError, match="githubRepository") as raised:
        run_program({**CONFIG, "tradesense-state-backend:githubRepository": "acme/*"}, "bootstrap", program=main,
                    project="tradesense-state-backend")
    assert "pulumi config set tradesense-state-backend:githubRepository" in str(raised.value)


def test_each_role_reaches_only_its_stack_prefix_and_key(recording):
    bucket_key = by_name(recording, "state-key").outputs["arn"]
    stacks = {"prod", "staging", "review"}
    for spec in ci_policies.CI_ROLES:
        statements = {s["Sid"]: s for s in document(recording, f"ci-{spec.purpose}-state")["Statement"]}
        own = f"arn:aws:s3:::tradesense-pulumi-state/{spec.stack}/*"
        assert statements["ListOwnPrefix"]["Condition"] == {"StringLike": {"s3:prefix": [f"{spec.stack}/", f"{spec.stack}/*"]}}
        assert statements["OwnStateObjects"]["Resource"] == own
        assert statements["OwnSecretsKey"]["Resource"] == key_arn(recording, spec.stack)
        for other in stacks - {spec.stack}:
            assert key_arn(recording, other) not in json.dumps(statements)
        via_s3 = statements["BucketKeyViaS3ForOwnPrefix"]
        assert via_s3["Resource"] == bucket_key
        assert via_s3["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
                                       "StringLike": {"kms:EncryptionContext:aws:s3:arn": own}}
        writes = {"s3:PutObject", "s3:DeleteObject", "kms:Encrypt", "kms:GenerateDataKey"}
        granted = {a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        assert bool(granted & writes) is spec.writes, spec.purpose


def test_only_the_prod_roles_have_cloud_access_and_the_deploy_role_cannot_touch_ci_or_state(recording):
    with_cloud = {r.name for r in recording.resources if r.name.endswith("-cloud")}
    assert with_cloud == {"ci-prod-preview-cloud", "ci-prod-deploy-cloud", "ci-drift-prod-cloud"}
    for name in with_cloud:
        doc = document(recording, name)
        allowed = [a for s in doc["Statement"] if s["Effect"] == "Allow" for a in s["Action"]]
        assert not any(a.endswith(":*") or a == "*" for a in allowed), name
        buckets = next(s for s in doc["Statement"] if s["Sid"] == "StackBuckets")
        assert buckets["Resource"] == ["arn:aws:s3:::tradesense-prod-*", "arn:aws:s3:::tradesense-prod-*/*"]
        if name != "ci-prod-deploy-cloud":
            assert not any(a.split(":")[1].startswith(("Create", "Delete", "Put", "Update", "Attach", "PassRole")) for a in allowed)
    deny = {s["Sid"]: s for s in document(recording, "ci-prod-deploy-cloud")["Statement"] if s["Effect"] == "Deny"}
    assert deny["NeverTheCiIdentities"]["Resource"] == [
        "arn:aws:iam::111122223333:role/tradesense-ci-*", f"arn:aws:iam::111122223333:oidc-provider/{OIDC}"]
    protected = deny["NeverAdministerState"]["Resource"]
    assert "arn:aws:s3:::tradesense-pulumi-state" in protected
    assert {key_arn(recording, s) for s in ("prod", "staging", "review")} <= set(protected)
    assert {"kms:PutKeyPolicy", "kms:CreateGrant", "s3:PutBucketPolicy"} <= set(deny["NeverAdministerState"]["Action"])


def test_the_policy_pack_passes_the_identities_and_catches_an_admin_grant(recording):
    assert evaluate(recording.resources, STRICT) == []
    weakened = copy.deepcopy(recording.resources)
    policy = next(r for r in weakened if r.name == "ci-review-state")
    policy.inputs["policy"] = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]})
    # iam:* on * is both a wildcard grant and a set of escalation actions: both rules fire, nothing else.
    assert sorted(v.policy for v in evaluate(weakened, STRICT)) == [
        "aws-iam-policy-disallow-privilege-escalation-actions",
        "aws-iam-policy-disallow-wildcard-action-on-wildcard-resource"]


def test_a_missing_cluster_name_in_the_prod_stack_file_is_a_clear_error(tmp_path, monkeypatch):
    module = runpy.run_path(str(PROGRAM), run_name="bootstrap_ci_names")
    assert module["cluster_name"]("prod") == "tradesense-prod"
    monkeypatch.setitem(module["cluster_name"].__globals__, "ROOT", tmp_path)
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  tradesense:environment: prod\n")
    with pytest.raises(ValueError, match="Pulumi.prod.yaml: tradesense:cluster.name is missing"):
        module["cluster_name"]("prod")
