"""The bootstrap program (state backend + CI identities) under the real engine and the real policy
pack; only AWS is the fake provider plugin. What the engine recorded is what the mock-runtime
tests check: each role trusts exactly its environment's subject."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.e2e.harness import Project, require_engine

REPO = "acme/tradesense-infra"
STRICT = {"all": "mandatory", "stack-require-backup-cronjob": "disabled"}


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory):
    cli = require_engine()
    project = Project(cli, "bootstrap", tmp_path_factory.mktemp("e2e-bootstrap"))
    where = project.dir / "bootstrap" / "state-backend"
    (project.base / "strict.json").write_text(json.dumps(STRICT))

    def pulumi(*args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([cli, *args, "--non-interactive"], cwd=where, env=project.env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    pulumi("login", f"file://{project.base / 'state'}")
    pulumi("stack", "init", "bootstrap", "--secrets-provider", "passphrase")
    for key, value in (("aws:region", "us-east-1"), ("tradesense-state-backend:bucketName", "tradesense-pulumi-state"),
                       ("tradesense-state-backend:githubRepository", REPO)):
        pulumi("config", "set", key, value)
    up = pulumi("up", "--yes", "--policy-pack", "../../policies", "--policy-pack-config", str(project.base / "strict.json"))
    export = json.loads(pulumi("stack", "export").stdout)
    return up, export


def test_the_bootstrap_deploys_under_the_policy_pack_with_exact_environment_trusts(bootstrap):
    up, export = bootstrap
    # The pack ran with every rule mandatory: a violation would have failed the up.
    assert "Policies:" in up.stdout and "tradesense-policies" in up.stdout, up.stdout[-3000:]
    roles = {r["inputs"]["name"]: json.loads(r["inputs"]["assumeRolePolicy"])
             for r in export["deployment"]["resources"] if r["type"] == "aws:iam/role:Role"}
    environments = {"prod-preview": "prod-preview", "prod-deploy": "production", "staging-deploy": "staging",
                    "review": "review", "review-admin": "review-admin", "drift-prod": "drift-prod",
                    "drift-staging": "drift-staging"}
    assert set(roles) == {f"tradesense-ci-{p}" for p in environments}
    for purpose, env in environments.items():
        (statement,) = roles[f"tradesense-ci-{purpose}"]["Statement"]
        assert statement["Condition"] == {"StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:{REPO}:environment:{env}"}}
        assert statement["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")
    keys = [r for r in export["deployment"]["resources"] if r["type"] == "aws:kms/key:Key"]
    assert len(keys) == 4 and all(r.get("protect") for r in keys)
