"""tools.restore: what it plans for each case, and that prod needs the stack name typed."""

from __future__ import annotations

import json
import subprocess

import yaml

from tools import restore


class Kubectl:
    def __init__(self):
        self.calls = []

    def __call__(self, command, **kwargs):
        self.calls.append((command, kwargs.get("input")))
        if command[:4] == ["kubectl", "-n", "tradesense", "get"]:
            env = [{"name": "BACKUP_BUCKET", "value": "b"}]
            body = {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"env": env}]}}}}}}
            return subprocess.CompletedProcess(command, 0, json.dumps(body), "")
        return subprocess.CompletedProcess(command, 0, "", "")


def test_postgres_recovers_into_a_new_cluster_at_a_point_in_time(capsys):
    kubectl = Kubectl()
    code = restore.main(["postgres", "--stack", "prod", "--target-time", "2026-12-01 09:30:00+00"], ask=lambda _: "prod", run=kubectl)
    assert code == 0
    applied = yaml.safe_load(kubectl.calls[0][1])
    assert applied["kind"] == "Cluster" and applied["metadata"]["name"] == "postgres-restore"
    assert applied["spec"]["bootstrap"]["recovery"] == {"source": "origin", "recoveryTarget": {"targetTime": "2026-12-01 09:30:00+00"}}
    assert applied["spec"]["externalClusters"][0]["plugin"]["parameters"] == {"barmanObjectName": "postgres-backup", "serverName": "postgres"}
    # The new cluster archives under its own name, never into the old cluster's archive.
    assert applied["spec"]["plugins"][0]["parameters"]["serverName"] == "postgres-restore"
    assert applied["spec"]["storage"]["storageClass"] == "gp3-encrypted"
    assert "kind: Cluster" in capsys.readouterr().out


def test_prod_needs_the_stack_name_typed():
    kubectl = Kubectl()
    assert restore.main(["redis", "--stack", "prod"], ask=lambda _: "y", run=kubectl) == 1
    assert kubectl.calls == []


def test_redis_restore_stops_redis_restores_the_volume_and_starts_it(capsys):
    kubectl = Kubectl()
    assert restore.main(["redis", "--stack", "staging", "--snapshot", "redis/x.rdb"], ask=lambda _: "y", run=kubectl) == 0
    commands = [c for c, _ in kubectl.calls]
    assert commands[1][3:] == ["scale", "statefulset/redis", "--replicas=0"]
    (job,) = [yaml.safe_load(i) for c, i in kubectl.calls if i]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["/opt/ops/redis-restore.sh", "/data", "redis/x.rdb"]
    assert container["env"] == [{"name": "BACKUP_BUCKET", "value": "b"}]  # copied from the CronJob
    assert commands[-1][3:] == ["scale", "statefulset/redis", "--replicas=1"]


def test_uploads_restore_by_day_and_dry_run_changes_nothing():
    kubectl = Kubectl()
    assert restore.main(["uploads", "--stack", "staging", "--day", "2026-11-30", "--dry-run"], run=kubectl) == 0
    assert kubectl.calls == []
