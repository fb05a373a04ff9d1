"""tools.review_slot: opens a PR's slot (ServiceAccount first, then namespace, quota, limits,
RoleBinding), mints an expiring token for that PR only, and says so clearly when every slot is
taken (the API server's quota refusal). kubectl is a recording stand-in here (no cluster)."""

from __future__ import annotations

import subprocess

import yaml

from tools import review_slot

ADMIN = {"apiVersion": "v1", "current-context": "a",
         "clusters": [{"name": "s", "cluster": {"server": "https://1.2.3.4", "certificate-authority-data": "Q0E="}}],
         "users": [{"name": "admin", "user": {"token": "ADMIN-TOKEN"}}],
         "contexts": [{"name": "a", "context": {"cluster": "s", "user": "admin"}}]}


class Kubectl:
    def __init__(self, refuse_service_account: bool = False):
        self.calls, self.refuse = [], refuse_service_account

    def __call__(self, command, input=None, **_):
        self.calls.append((command, input))
        if command[1:3] == ["apply", "-f"] and self.refuse and yaml.safe_load(input)["kind"] == "ServiceAccount":
            return subprocess.CompletedProcess(command, 1, "", 'Error from server (Forbidden): serviceaccounts "review-pr-9" is forbidden: '
                                               "exceeded quota: review-slots, requested: count/serviceaccounts=1, used: count/serviceaccounts=10, limited: count/serviceaccounts=10")
        if command[1:3] == ["config", "view"]:
            return subprocess.CompletedProcess(command, 0, yaml.safe_dump(ADMIN), "")
        if "token" in command:
            return subprocess.CompletedProcess(command, 0, "PR-TOKEN\n", "")
        return subprocess.CompletedProcess(command, 0, "", "")


def test_open_makes_the_slot_in_order_and_prints_only_the_prs_token(capsys):
    kubectl = Kubectl()
    assert review_slot.main(["open", "9"], run=kubectl) == 0
    applied = [yaml.safe_load(i)["kind"] for c, i in kubectl.calls if i]
    assert applied == ["ServiceAccount", "Namespace", "ResourceQuota", "LimitRange", "RoleBinding"]
    (token_call,) = [c for c, _ in kubectl.calls if "token" in c]
    assert token_call == ["kubectl", "-n", "tradesense-review-ci", "create", "token", "review-pr-9", "--duration=7200s"]
    out = capsys.readouterr().out
    config = yaml.safe_load(out)
    assert config["users"] == [{"name": "review-pr-9", "user": {"token": "PR-TOKEN"}}]
    assert "ADMIN-TOKEN" not in out


def test_a_full_cap_stops_before_anything_is_made(capsys):
    kubectl = Kubectl(refuse_service_account=True)
    assert review_slot.main(["open", "9"], run=kubectl) == 2
    assert [yaml.safe_load(i)["kind"] for c, i in kubectl.calls if i] == ["ServiceAccount"]
    err = capsys.readouterr().err
    assert "every review slot is taken" in err and "Traceback" not in err


def test_close_deletes_the_namespace_then_the_account():
    kubectl = Kubectl()
    assert review_slot.main(["close", "9"], run=kubectl) == 0
    assert [c[1:4] for c, _ in kubectl.calls] == [["delete", "namespace", "tradesense-pr-9"], ["-n", "tradesense-review-ci", "delete"]]
