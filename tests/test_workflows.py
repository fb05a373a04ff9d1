"""The GitHub workflows: actionlint and zizmor (offline) pass, and the delivery rules hold."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import ROOT
from tests.test_independent_checks import _require_tool

WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / "build" / "bin" / "actionlint"
ZIZMOR = ROOT / "venv" / "bin" / "zizmor"
PINNED = re.compile(r"^\s*-?\s*uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+\s*$")


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted((ROOT / ".github" / "actions").rglob("action.yml"))


def load(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    if True in doc:  # YAML 1.1 reads the `on:` key as a boolean
        doc["on"] = doc.pop(True)
    return doc


def jobs() -> list[tuple[str, str, dict]]:
    return [(p.name, name, job) for p in sorted(WORKFLOWS.glob("*.yml")) for name, job in load(p)["jobs"].items()]


def test_actionlint_passes():
    _require_tool(ACTIONLINT, "actionlint (.ci/install.d/40-actionlint.sh)")
    proc = subprocess.run([str(ACTIONLINT), "-no-color"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing_medium_or_high_even_as_an_auditor():
    _require_tool(ZIZMOR, "zizmor (requirements-dev.txt)")
    for persona in ("regular", "auditor"):
        proc = subprocess.run([str(ZIZMOR), "--offline", "--persona", persona, "--min-severity", "medium", "--format", "plain", ".github"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "No findings to report" in proc.stdout, persona


def test_every_remote_action_is_pinned_to_a_commit_with_its_version():
    uses = [(p.name, line) for p in workflow_files() for line in p.read_text().splitlines() if re.match(r"^\s*-?\s*uses:", line)]
    assert uses
    for name, line in uses:
        if "uses: ./" in line:
            continue
        assert PINNED.match(line), f"{name}: {line.strip()} is not pinned to a full SHA with a '# vX.Y.Z' comment"
    pulumi = {line.split("@")[1].split()[0] for _, line in uses if "pulumi/actions@" in line}
    assert pulumi == {"8e5e406f4007fca908480587cb9893c07090f58d"}  # v7.0.0


def test_least_privilege_permissions():
    for path in WORKFLOWS.glob("*.yml"):
        assert load(path)["permissions"] == {}, f"{path.name}: the workflow default must grant nothing"
    for workflow, name, job in jobs():
        assert "permissions" in job, f"{workflow}:{name} must declare its permissions"
        assert "write-all" not in str(job["permissions"])


def test_pull_requests_never_run_with_secrets_from_forks():
    for path in WORKFLOWS.glob("*.yml"):
        assert "pull_request_target" not in load(path)["on"], path.name
    for workflow, name, job in jobs():
        text = yaml.safe_dump(job)
        if "pull_request" in load(WORKFLOWS / workflow)["on"] and ("secrets." in text or "id-token" in text or "pull-requests" in text):
            assert "github.event.pull_request.head.repo.full_name == github.repository" in job.get("if", ""), f"{workflow}:{name}"


def test_deploys_are_serialised_and_prod_is_gated():
    deploy = load(WORKFLOWS / "deploy.yml")["jobs"]
    assert deploy["staging"]["concurrency"]["group"] == "deploy-staging"
    assert deploy["prod-up"]["concurrency"] == {"group": "deploy-prod", "cancel-in-progress": False}
    assert deploy["prod-up"]["environment"] == "production" and deploy["prod-up"]["needs"] == ["prod-ref", "prod-preview"]
    assert deploy["prod-smoke"]["needs"] == "prod-up"
    assert "needs.prod-smoke.result == 'failure'" in deploy["rollback-issue"]["if"]
    assert deploy["rollback-issue"]["permissions"] == {"contents": "read", "issues": "write"}


def test_drift_uses_refresh_and_expect_no_changes_per_stack():
    drift = load(WORKFLOWS / "drift.yml")["jobs"]["drift"]
    step = next(s for s in drift["steps"] if s.get("id") == "drift")
    assert step["with"]["command"] == "preview" and step["with"]["refresh"] is True and step["with"]["expect-no-changes"] is True
    assert drift["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.list) }}"
    assert "tradesense-drift-${stack}" in yaml.safe_dump(drift)


def test_review_up_retries_once_with_the_same_inputs_and_then_fails():
    steps = load(WORKFLOWS / "review-env.yml")["jobs"]["up"]["steps"]
    ups = [s for s in steps if s.get("uses", "").startswith("pulumi/actions@") and s["with"]["command"] == "up"]
    assert len(ups) == 2
    first, retry = ups
    assert first["continue-on-error"] is True and "continue-on-error" not in retry
    assert retry["if"] == f"${{{{ steps.{first['id']}.outcome == 'failure' }}}}"
    assert retry["with"] == first["with"] and retry["with"]["policyPackConfigs"] == "policies/config/review.json"


def test_comments_have_one_marker_per_stack_or_pull_request():
    text = "".join(p.read_text() for p in WORKFLOWS.glob("*.yml"))
    assert "marker: 'tradesense-offline-plan-diff'" in text
    for workflow, name, job in jobs():
        for step in job.get("steps", []):
            assert step.get("with", {}).get("comment-on-pr") in (None, False), f"{workflow}:{name}: pulumi/actions' own comment overwrites across stacks"


NODE_HARNESS = r"""
const { upsertComment, upsertIssue } = require(process.argv[2]);
const fs = require('fs');
const calls = [];
const existing = JSON.parse(process.argv[3]).map((p) => ({ user: { login: 'github-actions[bot]', type: 'Bot' }, ...p }));
const github = {
  paginate: async (fn, args) => fn(args),
  rest: { issues: {
    listComments: () => existing,
    listForRepo: () => existing,
    updateComment: async (a) => calls.push(['updateComment', a.comment_id, a.body.length, a.body.slice(0, 60)]),
    createComment: async (a) => calls.push(['createComment', a.issue_number, a.body.length, a.body.slice(0, 60)]),
    update: async (a) => calls.push(['update', a.issue_number, a.body.length, a.body.slice(0, 60)]),
    create: async (a) => calls.push(['create', a.title, a.body.length, a.body.slice(0, 60)]),
  } },
};
const context = { repo: { owner: 'o', repo: 'r' }, issue: { number: 7 }, serverUrl: 'https://github.com', runId: 1 };
fs.writeFileSync('body.md', process.argv[4] === 'huge' ? 'x'.repeat(200000) : 'hello');
(async () => {
  await (process.argv[5] === 'issue'
    ? upsertIssue({ github, context, marker: 'm-prod', title: 'T', file: 'body.md', note: 'see artifact', labels: ['drift'] })
    : upsertComment({ github, context, marker: 'm-prod', title: 'T', file: 'body.md', note: 'see artifact' }));
  console.log(JSON.stringify(calls));
})();
"""


def run_upsert(tmp_path: Path, existing: list, body: str = "small", kind: str = "comment") -> list:
    node = Path(shutil.which("node") or "/nonexistent/node")
    _require_tool(node, "node (.ci/install.d/41-nodejs.sh)")
    script = tmp_path / "harness.js"
    script.write_text(NODE_HARNESS)
    proc = subprocess.run([str(node), str(script), str(ROOT / ".github" / "scripts" / "upsert.js"), json.dumps(existing), body, kind],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_upsert_creates_once_then_updates_only_its_own_marker(tmp_path):
    assert [c[0] for c in run_upsert(tmp_path, [])] == ["createComment"]
    others = [{"id": 1, "body": "<!-- m-staging -->\n## staging"}, {"id": 2, "body": "<!-- m-prod -->\n## old"}, {"id": 3, "body": None}]
    calls = run_upsert(tmp_path, others)
    assert calls == [["updateComment", 2, calls[0][2], "<!-- m-prod -->\n## T\n\nhello"]]


MALLORY = {"login": "mallory", "type": "User"}


def test_upsert_never_adopts_a_marker_written_by_someone_else(tmp_path):
    planted = [{"id": 5, "body": "<!-- m-prod -->\n## fake verdicts", "user": MALLORY},
               {"id": 6, "body": "<!-- m-prod -->\n## fake", "user": {"login": "github-actions[bot]", "type": "User"}},
               {"id": 7, "body": "<!-- m-prod -->\n## fake", "user": None}]
    assert [c[0] for c in run_upsert(tmp_path, planted)] == ["createComment"]
    # The workflow's own comment is still found after a planted one.
    calls = run_upsert(tmp_path, planted + [{"id": 8, "body": "<!-- m-prod -->\n## old"}])
    assert [c[:2] for c in calls] == [["updateComment", 8]]
    issues = [{"number": 9, "body": "<!-- m-prod -->\nold", "user": MALLORY}]
    assert [c[0] for c in run_upsert(tmp_path, issues, kind="issue")] == ["create"]


def test_upsert_trims_under_the_comment_limit(tmp_path):
    (call,) = run_upsert(tmp_path, [], body="huge")
    assert call[2] <= 65536


def test_upsert_issue_updates_the_open_issue_with_the_marker(tmp_path):
    calls = run_upsert(tmp_path, [{"number": 9, "body": "<!-- m-prod -->\nold"}], kind="issue")
    assert [c[:2] for c in calls] == [["update", 9], ["createComment", 9]]
    assert [c[0] for c in run_upsert(tmp_path, [], kind="issue")] == ["create"]


def test_rollback_issue_quotes_the_runbook_sections():
    runbook = (ROOT / "docs" / "RUNBOOK.md").read_text()
    start, end = runbook.index("\n## Roll back"), runbook.index("\n## Pin")
    assert "pulumi stack history" in runbook[start:end] and start < end
