"""The offline plan diff over two revisions of the prod plan, including a stateful replacement."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tools.mock_runtime import SECRET_MARK, SECRET_SIG
from tools.plan import build_plan, plan_document
from tools.plan_diff import GITHUB_COMMENT_LIMIT, diff_plans, render_markdown

REDIS = "tradesense-redis-stateful-set"
BACKEND = "tradesense-backend-deployment"


@pytest.fixture(scope="module")
def base_plan() -> dict:
    # The same JSON round trip as plan.json on disk.
    return json.loads(json.dumps(plan_document(build_plan("prod")), default=str))


def named(plan: dict, name: str) -> dict:
    return next(r for r in plan["resources"] if r["name"] == name)


@pytest.fixture(scope="module")
def head_plan(base_plan) -> dict:
    head = copy.deepcopy(base_plan)
    named(head, REDIS)["inputs"]["spec"]["serviceName"] = "redis-v2"  # immutable: forces a replacement
    named(head, REDIS)["inputs"]["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "500Gi"  # ignoreChanges
    container = named(head, BACKEND)["inputs"]["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "ghcr.io/tradesense/backend:2.0.0"
    container.setdefault("env", []).append({"name": "API_TOKEN", "value": {SECRET_SIG: SECRET_MARK, "value": "tok-very-secret-123"}})
    removed = next(r for r in head["resources"] if r["type"] == "kubernetes:policy/v1:PodDisruptionBudget")
    head["resources"].remove(removed)
    added = copy.deepcopy(named(head, BACKEND))
    added.update(urn=added["urn"].replace(BACKEND, "tradesense-worker-deployment"), name="tradesense-worker-deployment")
    head["resources"].append(added)
    return head


def test_classifies_added_removed_replaced_updated(base_plan, head_plan):
    diff = diff_plans(base_plan, head_plan)
    assert diff["summary"] == {"added": 1, "removed": 1, "replaced": 1, "updated": 1}
    assert [r["name"] for r in diff["added"]] == ["tradesense-worker-deployment"]
    assert diff["removed"][0]["type"] == "kubernetes:policy/v1:PodDisruptionBudget"
    replaced = diff["replaced"][0]
    assert replaced["name"] == REDIS and replaced["replaceReasons"] == ["spec.serviceName"]
    assert {"path": "spec.serviceName", "old": "redis", "new": "redis-v2"} in replaced["fields"]
    # The storage request sits under ignoreChanges (spec.volumeClaimTemplates): not a change.
    assert not [f for f in replaced["fields"] if "volumeClaimTemplates" in f["path"]]
    updated = diff["updated"][0]
    assert updated["name"] == BACKEND
    image = next(f for f in updated["fields"] if f["path"].endswith(".image"))
    assert image["path"] == "spec.template.spec.containers[0].image"
    assert image["new"] == "ghcr.io/tradesense/backend:2.0.0" and image["old"] != image["new"]


def test_stateful_protected_replacement_is_flagged_loudly(base_plan, head_plan):
    diff = diff_plans(base_plan, head_plan)
    assert len(diff["warnings"]) == 1
    assert "replacement of protected and stateful resource kubernetes:apps/v1:StatefulSet 'tradesense-redis-stateful-set'" in diff["warnings"][0]
    md = render_markdown(diff)
    caution = md.index("> [!CAUTION]")
    assert caution < md.index("#### Replaced") and REDIS in md[caution:md.index("#### Replaced")]
    assert "forced by `spec.serviceName`" in md


def test_secrets_appear_only_as_placeholder(base_plan, head_plan, tmp_path):
    base, head = tmp_path / "base.json", tmp_path / "head.json"
    base.write_text(json.dumps(base_plan))
    head.write_text(json.dumps(head_plan))
    for fmt in ("md", "json"):
        proc = subprocess.run([sys.executable, "-m", "tools.plan_diff", str(base), str(head), "--format", fmt], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "tok-very-secret-123" not in proc.stdout
        assert "[secret]" in proc.stdout


def test_no_change_between_identical_plans(base_plan):
    diff = diff_plans(base_plan, copy.deepcopy(base_plan))
    assert diff["summary"] == {"added": 0, "removed": 0, "replaced": 0, "updated": 0} and not diff["warnings"]
    assert "No changes." in render_markdown(diff)


def test_markdown_is_trimmed_with_a_pointer_to_the_artifact(base_plan):
    head = copy.deepcopy(base_plan)
    for resource in head["resources"]:
        resource["inputs"]["touched"] = "x" * 200
    diff = diff_plans(base_plan, head)
    full = render_markdown(diff, max_chars=GITHUB_COMMENT_LIMIT)
    trimmed = render_markdown(diff, max_chars=3000, artifact="plan-diff-prod")
    assert len(trimmed) <= 3000 < len(full)
    assert trimmed.endswith("the full diff is in the `plan-diff-prod` artifact of this run.")
    assert trimmed.startswith("### Offline plan diff: `prod`")
    assert diff["summary"]["updated"] + diff["summary"]["replaced"] == len(head["resources"])


@pytest.mark.parametrize("content, message", [("nope", "is not JSON"), ('{"stack": "x"}', "has no 'resources' list"), ('{"resources": [{"urn": "u"}]}', "lacks urn, type or name")])
def test_bad_plan_file_exits_2(tmp_path, base_plan, content, message):
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text(content)
    good.write_text(json.dumps(base_plan))
    proc = subprocess.run([sys.executable, "-m", "tools.plan_diff", str(bad), str(good)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_two_revisions_of_the_program_image_bump(base_plan):
    """A real revision: prod with the backend image moved from 1.0.0 to 1.1.0."""
    from tools.stack_files import read_stack

    app = json.loads(read_stack("prod").config["tradesense:app"])
    app["backend"]["image"]["tag"] = "1.1.0"
    head = json.loads(json.dumps(plan_document(build_plan("prod", config_overrides={"tradesense:app": json.dumps(app)})), default=str))
    diff = diff_plans(base_plan, head)
    updated = {r["name"]: r for r in diff["updated"]}
    image = next(f for f in updated[BACKEND]["fields"] if f["path"] == "spec.template.spec.containers[0].image")
    assert image["old"].endswith(":1.0.0") and image["new"].endswith(":1.1.0")
    # The migration Job's object name follows the image, and a Job's name and template are
    # immutable: a replacement (a new migration run), not stateful, so no warning.
    (job,) = diff["replaced"]
    assert job["type"] == "kubernetes:batch/v1:Job"
    assert "metadata.name" in job["replaceReasons"] and "spec.template.spec.containers[0].image" in job["replaceReasons"]
    assert diff["summary"] == {"added": 0, "removed": 0, "replaced": 1, "updated": 1} and not diff["warnings"]
