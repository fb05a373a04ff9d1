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
    assert drift["strategy"]["matrix"] == {"include": "${{ fromJSON(needs.stacks.outputs.list) }}"}
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


# --- trust boundaries (docs/CI.md) -----------------------------------------------------------

from components.cluster.ci_policies import CI_ROLES  # noqa: E402

ROLE_ENVIRONMENTS = {r.environment for r in CI_ROLES}
STACKS_SCRIPT = ROOT / ".github" / "scripts" / "stacks.py"
VERIFY_REF = ROOT / ".github" / "scripts" / "verify-ref.sh"


def environments_of(job: dict) -> set[str]:
    """The GitHub environments a job can run in (a matrix expression expands over deployed stacks)."""
    env = job.get("environment")
    if env is None:
        return set()
    env = env["name"] if isinstance(env, dict) else env
    if "${{ matrix.stack }}" in env:
        deployed = json.loads(subprocess.run(["python3", str(STACKS_SCRIPT), "--deployed"], capture_output=True, text=True, check=True).stdout)
        return {env.replace("${{ matrix.stack }}", s) for s in deployed}
    return {env}


def test_every_job_with_a_secret_or_an_identity_runs_in_a_role_environment():
    checked = 0
    for workflow, name, job in jobs():
        text = yaml.safe_dump(job)
        if "secrets." in text or job.get("permissions", {}).get("id-token") == "write":
            checked += 1
            envs = environments_of(job)
            assert envs, f"{workflow}:{name} uses a secret or OIDC outside an environment"
            assert envs <= ROLE_ENVIRONMENTS, f"{workflow}:{name}: {envs - ROLE_ENVIRONMENTS} has no role in the bootstrap"
    assert checked >= 6


def test_the_pull_request_plan_holds_no_credential_and_prs_reach_only_the_review_environments():
    pr = (WORKFLOWS / "pr.yml").read_text()
    assert "secrets." not in pr and "id-token" not in pr and "environment:" not in pr
    for workflow, name, job in jobs():
        if "pull_request" in load(WORKFLOWS / workflow)["on"]:
            assert environments_of(job) <= {"review", "review-admin"}, f"{workflow}:{name}"
            if "review-admin" in environments_of(job):
                # The admin's kubeconfig is only ever used by the base branch's code.
                checkout = next(s for s in job["steps"] if "actions/checkout@" in s.get("uses", ""))
                assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}", f"{workflow}:{name}"
    assert not (WORKFLOWS / "preview.yml").exists()  # a PR's prod preview runs only after merge


def test_prod_runs_only_from_main_or_a_verified_tag():
    doc = load(WORKFLOWS / "deploy.yml")
    assert doc["on"] == {"push": {"branches": ["main"], "tags": ["v*"]}, "workflow_dispatch": None}
    deploy = doc["jobs"]
    ref = deploy["prod-ref"]
    assert ref["if"] == "${{ github.ref == 'refs/heads/main' || startsWith(github.ref, 'refs/tags/v') }}"
    checkout, verify = ref["steps"]
    assert checkout["with"]["fetch-depth"] == 0
    assert verify["run"] == 'bash .github/scripts/verify-ref.sh "$REF" refs/remotes/origin/main' and verify["env"]["REF"] == "${{ github.ref }}"
    assert deploy["prod-preview"]["needs"] == "prod-ref" and deploy["prod-preview"]["environment"] == "prod-preview"
    assert "prod-ref" in deploy["prod-up"]["needs"]
    assert deploy["prod-up"]["if"] == ("${{ startsWith(github.ref, 'refs/tags/v') || "
                                       "(github.event_name == 'workflow_dispatch' && github.ref == 'refs/heads/main') }}")
    assert deploy["staging"]["if"] == "${{ github.event_name == 'push' && github.ref == 'refs/heads/main' }}"


def git(repo: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo), "PATH": "/usr/bin:/bin",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=60, **kw)


def ssh_key(tmp_path: Path, name: str) -> tuple[Path, str]:
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True, capture_output=True)
    return key, (tmp_path / f"{name}.pub").read_text().strip()


def signed_tag(repo: Path, key: Path, tag: str, commit: str = "HEAD") -> None:
    git(repo, "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "tag", "-s", "-m", tag, tag, commit).check_returncode()


def test_verify_ref_accepts_main_and_tags_signed_by_mains_signers_only(tmp_path):
    for tool in ("git", "ssh-keygen"):
        _require_tool(Path(shutil.which(tool) or f"/nonexistent/{tool}"), tool)
    release, release_pub = ssh_key(tmp_path, "release")
    other, other_pub = ssh_key(tmp_path, "other")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main").check_returncode()
    (repo / ".github").mkdir()
    (repo / ".github" / "allowed_signers").write_text(f"# comment\nrelease@example.com namespaces=\"git\" {release_pub}\n")
    git(repo, "add", ".").check_returncode()
    git(repo, "commit", "-q", "-m", "main").check_returncode()
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD").check_returncode()
    signed_tag(repo, release, "v1.0.0")
    signed_tag(repo, other, "v1.0.1")
    git(repo, "tag", "-a", "-m", "unsigned", "v1.0.2").check_returncode()
    git(repo, "tag", "v1.0.3").check_returncode()
    # A branch off main whose allowed_signers adds the attacker's key, tagged and signed by that key.
    git(repo, "checkout", "-q", "-b", "evil").check_returncode()
    (repo / ".github" / "allowed_signers").write_text(f"mallory@example.com namespaces=\"git\" {other_pub}\n")
    git(repo, "commit", "-q", "-am", "my signers").check_returncode()
    signed_tag(repo, other, "v6.6.6")
    signed_tag(repo, release, "v2.0.0")  # signed by a real release key, but not on main

    def verify(ref: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(VERIFY_REF), ref, "refs/remotes/origin/main"], cwd=repo, capture_output=True, text=True,
                              timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(repo), "GIT_CONFIG_GLOBAL": "/dev/null"})

    assert verify("refs/heads/main").returncode == 0
    assert verify("refs/tags/v1.0.0").returncode == 0, verify("refs/tags/v1.0.0").stderr
    refused = {"refs/tags/v1.0.1": "not signed by a key", "refs/tags/v1.0.2": "not signed by a key",
               "refs/tags/v1.0.3": "lightweight", "refs/tags/v6.6.6": "not signed by a key",
               "refs/tags/v2.0.0": "not on main", "refs/heads/evil": "only from refs/heads/main", "refs/heads/mainline": "only from"}
    for ref, why in refused.items():
        proc = verify(ref)
        assert proc.returncode != 0 and why in proc.stderr, (ref, proc.stderr)


def test_the_shipped_allowed_signers_file_is_valid_and_guarded():
    lines = [ln for ln in (ROOT / ".github" / "allowed_signers").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert all(len(ln.split()) >= 3 for ln in lines)  # principals [options] keytype key
    owners = (ROOT / ".github" / "CODEOWNERS").read_text()
    assert "/.github/ " in owners


def test_codeowners_cover_the_policies_and_name_only_existing_paths():
    entries = [ln.split() for ln in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    paths = {e[0]: e[1:] for e in entries}
    assert paths["/policies/"] and all(owner.startswith("@") for owners in paths.values() for owner in owners)
    for path in paths:
        assert (ROOT / path.strip("/")).exists(), f"CODEOWNERS names {path}, which does not exist"


def plan_job_script() -> tuple[list[dict], str]:
    job = load(WORKFLOWS / "pr.yml")["jobs"]["plan"]
    step = next(s for s in job["steps"] if s.get("id") == "plan")
    return job["steps"], step["run"]


def test_the_pull_request_is_judged_by_the_base_branchs_pack_and_config():
    steps, script = plan_job_script()
    base = next(s for s in steps if s.get("with", {}).get("path") == "base")
    assert base["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    lines = [ln.strip() for ln in script.splitlines()]
    swap = lines.index("mv policies policies.head && cp -R base/policies policies")
    gate = next(i for i, ln in enumerate(lines) if ln.startswith('venv/bin/python -m tools.plan --stack "$STACK" --out "build/plan/head/'))
    rc = lines.index('echo "rc=$?" >> "$GITHUB_OUTPUT"')
    restore = lines.index("rm -rf policies && mv policies.head policies")
    assert swap < gate < rc == gate + 1 < restore
    own = next(s for s in steps if s.get("name", "").startswith("This PR's own pack"))
    assert own["if"] == "${{ steps.plan.outputs.policies_changed == 'true' }}" and "build/plan/own/" in own["run"]
    gate_step = steps[-1]
    assert gate_step["run"] == 'test "$PLAN_RC" = 0' and gate_step["env"]["PLAN_RC"] == "${{ steps.plan.outputs.rc }}"


def test_the_swap_really_runs_the_base_pack(tmp_path):
    """Run the plan step's shell with a stub `tools.plan` that reports which pack it sees."""
    _, script = plan_job_script()
    for tree, verdict in ((tmp_path, "weakened"), (tmp_path / "base", "strict")):
        (tree / "policies").mkdir(parents=True)
        (tree / "policies" / "verdict").write_text(verdict)
    stub = tmp_path / "venv" / "bin"
    stub.mkdir(parents=True)
    (stub / "python").write_text('#!/bin/sh\nmkdir -p "$6"; cat policies/verdict; echo; [ "$(cat policies/verdict)" = strict ]\n')
    (stub / "python").chmod(0o755)
    out = tmp_path / "github_output"
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "STACK": "prod", "GITHUB_OUTPUT": str(out)})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "build-plan-prod.txt").read_text() == "strict\n"
    assert "rc=0" in out.read_text() and "policies_changed=true" in out.read_text()
    assert (tmp_path / "policies" / "verdict").read_text() == "weakened"  # the head's pack is back for the side-by-side run


def pulumi_action_steps() -> list[tuple[str, dict]]:
    found = []
    for path in workflow_files():
        doc = load(path)
        step_lists = [job.get("steps", []) for job in doc.get("jobs", {}).values()] + [doc.get("runs", {}).get("steps", [])]
        found += [(path.name, s) for steps in step_lists for s in steps if s.get("uses", "").startswith("pulumi/actions@")]
    return found


def test_one_pulumi_cli_version_everywhere_the_engines():
    go_mod = (ROOT / "tools" / "engine" / "go" / "go.mod").read_text()
    engine = re.search(r"github.com/pulumi/pulumi/pkg/v3 v(\S+)", go_mod).group(1)
    assert (ROOT / ".pulumi.version").read_text().strip() == engine
    steps = pulumi_action_steps()
    assert len(steps) >= 7
    for name, step in steps:
        assert step["with"].get("pulumi-version-file") == ".pulumi.version" and "pulumi-version" not in step["with"], name


def test_digitalocean_stacks_authenticate_doctl_and_pass_the_spaces_keys():
    doks = (ROOT / "components" / "cluster" / "doks.py").read_text()
    assert 'command="doctl"' in doks  # the DOKS kubeconfig's exec plugin, which reads DIGITALOCEAN_ACCESS_TOKEN
    for workflow, job_name in (("deploy.yml", "staging"), ("drift.yml", "drift")):
        job = load(WORKFLOWS / workflow)["jobs"][job_name]
        setup = next(s for s in job["steps"] if s.get("uses") == "./.github/actions/pulumi-setup")
        assert setup["with"]["doctl"] in ("true", "${{ matrix.cloud == 'doks' }}")
        (run,) = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
        env = run["env"]
        assert env["DIGITALOCEAN_TOKEN"] == env["DIGITALOCEAN_ACCESS_TOKEN"] == "${{ secrets.DIGITALOCEAN_TOKEN }}"
        assert env["SPACES_ACCESS_KEY_ID"] == "${{ secrets.SPACES_ACCESS_KEY_ID }}"
        assert env["SPACES_SECRET_ACCESS_KEY"] == "${{ secrets.SPACES_SECRET_ACCESS_KEY }}"
    action = load(ROOT / ".github" / "actions" / "pulumi-setup" / "action.yml")["runs"]["steps"]
    install = next(s for s in action if "doctl" in s.get("name", ""))
    assert re.fullmatch(r"go install github.com/digitalocean/doctl/cmd/doctl@v\d+\.\d+\.\d+", install["run"].strip())


def test_the_go_build_cache_serves_pull_requests_only():
    test_job = load(WORKFLOWS / "pr.yml")["jobs"]["test"]
    go = next(s for s in test_job["steps"] if s.get("uses", "").startswith("actions/setup-go@"))
    assert go["with"] == {"go-version-file": "tools/engine/go/go.mod", "cache": True, "cache-dependency-path": "tools/engine/go/go.sum"}
    for path in workflow_files():
        if path.name != "pr.yml":
            assert "cache: true" not in path.read_text() and "actions/cache@" not in path.read_text(), path.name


def test_stack_lists_come_from_the_stack_files(tmp_path):
    for path in WORKFLOWS.glob("*.yml"):
        assert not re.search(r"stack:\s*\[", path.read_text()), f"{path.name} hard-codes a stack list"
        assert "for stack in dev" not in path.read_text()
    def listed(*flags: str) -> list[str]:
        return json.loads(subprocess.run(["python3", str(STACKS_SCRIPT), *flags], capture_output=True, text=True, check=True).stdout)
    assert listed() == sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
    assert "dev" in listed() and "dev" not in listed("--deployed") and {"staging", "prod"} <= set(listed("--deployed"))
    import runpy
    stacks = runpy.run_path(str(STACKS_SCRIPT))["stacks"]
    (tmp_path / "Pulumi.qa.yaml").write_text("config:\n  tradesense:cluster:\n    cloud: eks\n")
    (tmp_path / "Pulumi.local.yaml").write_text("config:\n  tradesense:cluster:\n    cloud: existing\n")
    (tmp_path / "Pulumi.yaml").write_text("name: x\n")
    (tmp_path / "Pulumi.do2.yaml").write_text("config:\n  tradesense:cluster:\n    cloud: 'doks'\n")
    assert stacks(tmp_path) == ["do2", "local", "qa"] and stacks(tmp_path, deployed=True) == ["do2", "qa"]
    assert listed("--deployed", "--with-cloud") == [{"stack": s, "cloud": {"prod": "eks", "staging": "doks"}.get(s, s)} for s in listed("--deployed")]
    drift = load(WORKFLOWS / "drift.yml")["jobs"]["stacks"]["steps"][-1]["run"]
    assert "stacks.py --deployed --with-cloud" in drift


def test_the_review_url_comes_from_the_stack_not_a_hard_coded_domain():
    text = (WORKFLOWS / "review-env.yml").read_text()
    assert "tradesense.com" not in text and "pulumi stack output reviewEnvironments" in text
    for path in workflow_files():
        assert "tradesense.com" not in path.read_text(), path.name


def test_docs_ci_lists_every_secret_and_variable_per_workflow():
    doc = (ROOT / "docs" / "CI.md").read_text()
    sections = {m.group(1): m.start() for m in re.finditer(r"^### `([\w.-]+\.yml)`", doc, re.MULTILINE)}
    assert set(sections) == {p.name for p in WORKFLOWS.glob("*.yml")}
    ends = sorted(sections.values()) + [len(doc)]
    for name, start in sections.items():
        body = doc[start:ends[ends.index(start) + 1]]
        used = set(re.findall(r"\$\{\{[^}]*?\b(?:secrets|vars)\.(\w+)", (WORKFLOWS / name).read_text()))
        used |= set(re.findall(r"(?:secrets|vars)\.(\w+)", (WORKFLOWS / name).read_text()))
        for key in used:
            assert f"`{key}`" in body, f"docs/CI.md, section {name}: {key} is not documented"
    for env in ROLE_ENVIRONMENTS:
        assert f"`{env}`" in doc, env


def test_new_review_stacks_encrypt_with_the_review_key_not_a_passphrase():
    jobs = load(WORKFLOWS / "review-env.yml")["jobs"]
    # The slot job creates the pr-<N> stack (and writes the PR's token into it); up only selects it.
    step = next(s for s in jobs["slot"]["steps"] if s.get("name") == "Slot, token and stack file for pr-<N>")
    assert step["env"]["SECRETS_PROVIDER"] == "${{ vars.PULUMI_SECRETS_PROVIDER }}"
    assert 'pulumi stack select --create --secrets-provider "$SECRETS_PROVIDER" "$stack"' in step["run"]
    for job in jobs.values():
        assert "PULUMI_CONFIG_PASSPHRASE" not in yaml.safe_dump(job)
        assert "--create" not in yaml.safe_dump(job) or job is jobs["slot"]


def test_side_by_side_verdicts_read_what_tools_plan_prints(tmp_path):
    import runpy

    from tools.plan import build_plan, render_text

    table = runpy.run_path(str(ROOT / ".github" / "scripts" / "verdicts_side_by_side.py"))["table"]
    result = build_plan("dev")
    base_text = render_text(result, tmp_path)
    result.violations = [
        {"policy": "k8s-pod-require-run-as-non-root", "enforcement": "mandatory", "resource_name": "api", "message": "runs as root | really"},
        {"policy": "budget", "enforcement": "advisory", "resource_name": "", "message": "over <budget>"},
    ]
    own_text = render_text(result, tmp_path)
    rows = table(base_text, own_text).splitlines()
    assert rows[2] == "| mandatory | none | [k8s-pod-require-run-as-non-root] api: runs as root \\| really |"
    assert rows[3] == "| advisory | none | [budget] stack: over &lt;budget> |"
    assert table("error: bad stack file\n", own_text).splitlines()[2].startswith("| mandatory | (no verdicts: the plan failed) |")
    pr = (WORKFLOWS / "pr.yml").read_text()
    assert 'python3 .github/scripts/verdicts_side_by_side.py "build-plan-$STACK.txt" "build-plan-own-$STACK.txt"' in pr
