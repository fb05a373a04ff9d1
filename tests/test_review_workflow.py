"""review-env.yml's review token steps: only jobs that run the BASE branch's code hold the review
admin's kubeconfig; the PR's program gets its own expiring token as KMS ciphertext."""

from __future__ import annotations

import yaml

from tools.mock_runtime import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "review-env.yml"


def jobs() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]


def test_only_base_branch_jobs_in_the_admin_environment_see_the_admin_kubeconfig():
    holders = {name for name, job in jobs().items() if "REVIEW_ADMIN_KUBECONFIG" in yaml.safe_dump(job)}
    assert holders == {"slot", "down"}
    for name in holders:
        job = jobs()[name]
        assert job["environment"] == "review-admin"
        checkouts = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
        assert checkouts and all(s["with"]["ref"] == "${{ github.event.pull_request.base.sha }}" for s in checkouts), name


def test_the_prs_job_runs_after_the_slot_and_holds_no_cluster_secret_of_its_own():
    up = jobs()["up"]
    assert up["needs"] == "slot"
    text = yaml.safe_dump(up)
    assert "REVIEW_KUBECONFIG" not in text and "REVIEW_ADMIN" not in text
    # The PR's kubeconfig is set once, in the slot job, from the tool's output through stdin.
    slot = yaml.safe_dump(jobs()["slot"])
    assert "tools.review_slot open" in slot and "config set --secret tradesense:kubeconfig" in slot


def test_closing_frees_the_slot_with_the_base_branchs_tool():
    down = yaml.safe_dump(jobs()["down"])
    assert "tools.review_slot close" in down and "pulumi destroy" not in down
