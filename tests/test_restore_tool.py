"""tools.restore: what it plans for each case, that prod needs the stack name typed, and that it
acts only on the stack's own cluster (crafted kubeconfigs and stack outputs)."""

from __future__ import annotations

import base64
import json
import subprocess
from typing import Optional

import pytest
import yaml

from tools import restore

CA = {stack: base64.b64encode(f"-----BEGIN CERTIFICATE-----\n{stack} CA\n-----END CERTIFICATE-----\n".encode()).decode()
      for stack in ("dev", "staging", "prod")}
SERVER = {"dev": "https://127.0.0.1:6443", "staging": "https://staging.k8s.example:443", "prod": "https://prod.k8s.example:443"}


def kubeconfig(current: str, **overrides) -> dict:
    """An operator's kubeconfig with a context per stack (ctx-<stack>), `current` selected."""
    clusters = [{"name": f"c-{s}", "cluster": {"server": SERVER[s], "certificate-authority-data": CA[s], **overrides.get(s, {})}}
                for s in SERVER]
    return {"apiVersion": "v1", "kind": "Config", "current-context": current, "clusters": clusters,
            "contexts": [{"name": f"ctx-{s}", "context": {"cluster": f"c-{s}", "user": "me"}} for s in SERVER],
            "users": [{"name": "me", "user": {"token": "t"}}]}


def stack_output(stack: str) -> str:
    """`pulumi stack output kubeconfig --json` of a stack: a JSON string holding the kubeconfig."""
    return json.dumps(yaml.safe_dump({
        "apiVersion": "v1", "current-context": stack,
        "clusters": [{"name": stack, "cluster": {"server": SERVER[stack], "certificate-authority-data": CA[stack]}}],
        "contexts": [{"name": stack, "context": {"cluster": stack, "user": stack}}]}))


class Kubectl:
    """Stands in for kubectl and `pulumi stack output`; records every call."""

    def __init__(self, current: str = "ctx-staging", config: Optional[dict] = None, outputs: Optional[dict] = None):
        self.calls = []
        self.config = config or kubeconfig(current)
        self.outputs = {s: stack_output(s) for s in SERVER} if outputs is None else outputs

    @property
    def cluster_calls(self):
        """The calls that reach a cluster (not the reads of kubeconfig and stack outputs)."""
        return [(c, i) for c, i in self.calls if c[:3] != ["kubectl", "config", "view"] and c[0] != "pulumi"]

    def __call__(self, command, **kwargs):
        self.calls.append((command, kwargs.get("input")))
        if command[:3] == ["kubectl", "config", "view"]:
            return subprocess.CompletedProcess(command, 0, json.dumps(self.config), "")
        if command[:3] == ["pulumi", "stack", "output"]:
            stack = command[command.index("--stack") + 1]
            if stack not in self.outputs:
                return subprocess.CompletedProcess(command, 255, "", "error: current stack does not have output property 'kubeconfig'")
            return subprocess.CompletedProcess(command, 0, self.outputs[stack], "")
        if command[3:6] == ["-n", "tradesense", "get"]:
            env = [{"name": "BACKUP_BUCKET", "value": "b"}]
            body = {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"env": env}]}}}}}}
            return subprocess.CompletedProcess(command, 0, json.dumps(body), "")
        return subprocess.CompletedProcess(command, 0, "", "")


def test_postgres_recovers_into_a_new_cluster_at_a_point_in_time(capsys):
    kubectl = Kubectl(current="ctx-prod")
    code = restore.main(["postgres", "--stack", "prod", "--target-time", "2026-12-01 09:30:00+00"], ask=lambda _: "prod", run=kubectl)
    assert code == 0
    assert all(c[:3] == ["kubectl", "--context", "ctx-prod"] for c, _ in kubectl.cluster_calls)
    applied = yaml.safe_load(kubectl.cluster_calls[0][1])
    assert applied["kind"] == "Cluster" and applied["metadata"]["name"] == "postgres-restore"
    assert applied["spec"]["bootstrap"]["recovery"] == {"source": "origin", "recoveryTarget": {"targetTime": "2026-12-01 09:30:00+00"}}
    assert applied["spec"]["externalClusters"][0]["plugin"]["parameters"] == {"barmanObjectName": "postgres-backup", "serverName": "postgres"}
    # The new cluster archives under its own name, never into the old cluster's archive.
    assert applied["spec"]["plugins"][0]["parameters"]["serverName"] == "postgres-restore"
    assert applied["spec"]["storage"]["storageClass"] == "gp3-encrypted"
    assert "kind: Cluster" in capsys.readouterr().out


def test_prod_needs_the_stack_name_typed():
    kubectl = Kubectl(current="ctx-prod")
    assert restore.main(["redis", "--stack", "prod"], ask=lambda _: "y", run=kubectl) == 1
    assert kubectl.cluster_calls == []


def test_redis_restore_stops_redis_restores_the_volume_and_starts_it(capsys):
    kubectl = Kubectl()
    assert restore.main(["redis", "--stack", "staging", "--snapshot", "redis/x.rdb"], ask=lambda _: "y", run=kubectl) == 0
    commands = [c for c, _ in kubectl.cluster_calls]
    assert all(c[:3] == ["kubectl", "--context", "ctx-staging"] for c in commands)
    assert commands[1][5:] == ["scale", "statefulset/redis", "--replicas=0"]
    (job,) = [yaml.safe_load(i) for c, i in kubectl.cluster_calls if i]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["/opt/ops/redis-restore.sh", "/data", "redis/x.rdb"]
    assert container["env"] == [{"name": "BACKUP_BUCKET", "value": "b"}]  # copied from the CronJob
    assert commands[-1][5:] == ["scale", "statefulset/redis", "--replicas=1"]


def test_uploads_restore_by_day_and_dry_run_changes_nothing():
    kubectl = Kubectl()
    assert restore.main(["uploads", "--stack", "staging", "--day", "2026-11-30", "--dry-run"], run=kubectl) == 0
    assert kubectl.calls == []


def refused(kubectl: Kubectl, *args: str, capsys) -> str:
    code = restore.main(["redis", "--stack", "staging", *args], ask=lambda _: "y", run=kubectl)
    err = capsys.readouterr().err
    assert code == 2 and kubectl.cluster_calls == [], err
    assert err.startswith("Nothing done: ") and "Traceback" not in err
    return err


def test_prod_context_current_and_stack_staging_is_refused_naming_both_servers(capsys):
    err = refused(Kubectl(current="ctx-prod"), capsys=capsys)
    assert SERVER["prod"] in err and SERVER["staging"] in err and "--context" in err


def test_context_flag_picks_the_right_cluster_whatever_is_current(capsys):
    kubectl = Kubectl(current="ctx-prod")
    assert restore.main(["redis", "--stack", "staging", "--context", "ctx-staging"], ask=lambda _: "y", run=kubectl) == 0
    assert kubectl.cluster_calls and all(c[:3] == ["kubectl", "--context", "ctx-staging"] for c, _ in kubectl.cluster_calls)
    # ...and a --context of the wrong cluster is refused even when the current one is right.
    refused(Kubectl(current="ctx-staging"), "--context", "ctx-prod", capsys=capsys)


@pytest.mark.parametrize("case,kubectl,message", [
    # Same server address, another CA: a different cluster behind the same name (or a MITM).
    ("same server, other CA", Kubectl(config=kubeconfig("ctx-staging", staging={"certificate-authority-data": CA["prod"]})), "CA certificate differs"),
    ("no CA to compare", Kubectl(config=kubeconfig("ctx-staging", staging={"certificate-authority-data": ""})), "carries no certificate-authority-data"),
    ("unreadable CA", Kubectl(config=kubeconfig("ctx-staging", staging={"certificate-authority-data": "%%%"})), "unreadable certificate-authority-data"),
    ("no stack output", Kubectl(outputs={}), "cannot read stack staging's kubeconfig output"),
    ("output is not a kubeconfig", Kubectl(outputs={"staging": "[1, 2"}), "is not a kubeconfig"),
    ("no current context", Kubectl(config={**kubeconfig("ctx-staging"), "current-context": ""}), "has no current context"),
    ("unknown context", Kubectl(current="ctx-gone"), "has no context 'ctx-gone'"),
])
def test_unknown_unreadable_or_different_clusters_are_refused(case, kubectl, message, capsys):
    assert message in refused(kubectl, capsys=capsys), case


def test_the_same_cluster_with_a_trailing_slash_is_accepted():
    kubectl = Kubectl(config=kubeconfig("ctx-staging", staging={"server": SERVER["staging"] + "/"}))
    assert restore.main(["redis", "--stack", "staging"], ask=lambda _: "y", run=kubectl) == 0
