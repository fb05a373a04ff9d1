"""`python -m tools new-stack`: a copy of a stack with its own cloud names, domain and no secrets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.organisation import ORG_PREFIX
from tests.conftest import ROOT, TEST_SECRETS
from tools.new_stack import NewStackError, new_stack

CLOUD_NAME_INPUTS = ("name", "bucket", "clusterName", "nodeGroupName")


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("build", "venv", ".venv-checkov", ".git", "tests", "__pycache__"))
    return copy


def cloud_names(stack: str, root: Path) -> set[str]:
    from tools.plan import build_plan

    secrets = {k: v for k, v in TEST_SECRETS.items() if k != "tradesense:kubeconfig"}
    result = build_plan(stack, root, config_overrides=secrets)
    return {str(r.inputs[k]) for r in result.recording.resources if r.custom and r.type.split(":")[0] in ("aws", "digitalocean")
            for k in CLOUD_NAME_INPUTS if isinstance(r.inputs.get(k), str)}


@pytest.mark.parametrize("source", ["staging", "prod"])
def test_a_new_stack_plans_with_cloud_names_of_its_own(repo, source):
    written, secrets = new_stack("qa", source, repo)
    assert [p.name for p in written] == ["Pulumi.qa.yaml", "qa.json"]
    doc = yaml.safe_load((repo / "Pulumi.qa.yaml").read_text())["config"]
    assert doc["tradesense:cluster"]["name"] == f"{ORG_PREFIX}-qa"
    assert doc["tradesense:platform"]["domain"] == "qa.tradesense.com"
    assert json.loads((repo / "policies/config/qa.json").read_text()) == json.loads((repo / f"policies/config/{source}.json").read_text())
    ours, theirs = cloud_names("qa", repo), cloud_names(source, repo)
    assert ours and theirs and not ours & theirs, ours & theirs
    assert "tradesense:stripeApiKey" in secrets


def test_the_source_stacks_secrets_and_salt_are_not_copied(repo):
    stack = repo / "Pulumi.staging.yaml"
    stack.write_text("encryptionsalt: v1:abc\n" + stack.read_text() + "  tradesense:sentryDsn:\n    secure: v1:AAAA\n")
    _, secrets = new_stack("qa", "staging", repo)
    text = (repo / "Pulumi.qa.yaml").read_text()
    assert "encryptionsalt" not in text and "secure" not in text
    assert "tradesense:sentryDsn" in secrets


@pytest.mark.parametrize("name, source, problem", [
    ("QA", "staging", "lowercase"),
    ("pr-12", "staging", "review stacks"),
    ("qa", "nope", "no Pulumi.nope.yaml"),
    ("prod", "staging", "Pulumi.prod.yaml exists already"),
])
def test_bad_requests_write_nothing(repo, name, source, problem):
    before = sorted(p.name for p in repo.glob("Pulumi.*.yaml"))
    with pytest.raises(NewStackError, match=problem):
        new_stack(name, source, repo)
    assert sorted(p.name for p in repo.glob("Pulumi.*.yaml")) == before


def test_an_existing_policy_config_is_not_overwritten(repo):
    (repo / "policies/config/qa.json").write_text("{}")
    with pytest.raises(NewStackError, match="policies/config/qa.json exists already"):
        new_stack("qa", "staging", repo)
    assert not (repo / "Pulumi.qa.yaml").exists()


def test_a_stack_without_policy_config_fails_the_plan_naming_the_file(repo):
    shutil.copy(repo / "Pulumi.staging.yaml", repo / "Pulumi.qa.yaml")
    proc = subprocess.run([sys.executable, "-m", "tools", "plan", "--stack", "qa"], cwd=repo, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "policies/config/qa.json does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_the_review_template_serves_under_its_parent_stacks_domain():
    # The domain lives in each stack file; review environments must follow staging's.
    review = yaml.safe_load((ROOT / "review/Pulumi.pr.yaml").read_text())["config"]
    parent = review["tradesense:review"]["of"]
    stack = yaml.safe_load((ROOT / f"Pulumi.{parent}.yaml").read_text())["config"]
    for key in ("domain", "acmeEmail"):
        assert review["tradesense:platform"][key] == stack["tradesense:platform"][key], (
            f"review/Pulumi.pr.yaml platform.{key} differs from Pulumi.{parent}.yaml: change both")
