"""Postgres: WAL archive + base backup with barman-cloud, point-in-time recovery with
ops/postgres-restore.sh, and the restore drill, against real PostgreSQL 15 and an S3 API."""

from __future__ import annotations

import pytest

from tests.ops.conftest import assert_no_secret, new_secret, script
from tools.local_servers import Workspace
from tools.pg_round_trip import RoundTrip, barman_flags, checksums, rendered_backup_settings, sequence_position


@pytest.fixture(scope="module")
def settings():
    return rendered_backup_settings("prod")


@pytest.fixture(scope="module")
def trip(workspace: Workspace, s3, settings):
    from tools.local_servers import base_env

    bucket = "pg-backups"
    s3.client().create_bucket(Bucket=bucket)
    wal_flags, data_flags = barman_flags(settings["configuration"])
    trip = RoundTrip(workspace, base_env(s3.endpoint), f"s3://{bucket}/postgres", wal_flags, data_flags)
    password = new_secret("pg-password")
    source = trip.source(password, settings["archive_timeout"])
    trip.seed(source)
    trip.base_backup(source)
    target_time = trip.write(source, 300)
    at_target = checksums(source)
    used_ref = sequence_position(source)[1]
    trip.write(source, 200)  # after the target: must not come back
    trip.archive_now(source)
    trip.state = {"source": source, "target_time": target_time, "at_target": at_target, "used_ref": used_ref, "password": password}
    return trip


def test_rendered_backup_settings_compress_and_bound_the_rpo(settings):
    assert settings["configuration"]["wal"]["compression"] == "gzip"
    assert settings["configuration"]["data"]["compression"] == "gzip"
    assert settings["archive_timeout"] == "5min"


def test_point_in_time_recovery_restores_every_table_exactly(trip):
    restored, _ = trip.restore("pitr", trip.state["target_time"])
    try:
        assert checksums(restored) == trip.state["at_target"]
        last, used = sequence_position(restored)
        assert last >= used == trip.state["used_ref"]
        assert restored.sql("SELECT count(*) FROM trades WHERE symbol = 'ZÜRICH'", db="tradesense") == "300"
        assert "Łukasz 東京" in restored.sql("SELECT name FROM accounts WHERE id = 7", db="tradesense")
    finally:
        restored.stop("immediate")


def test_recovery_to_the_end_of_the_archive_has_every_committed_row(trip):
    restored, _ = trip.restore("latest")
    try:
        assert checksums(restored) == checksums(trip.state["source"])
    finally:
        restored.stop("immediate")


def drill_env(trip, **extra):
    return {**trip.env, "BARMAN_DESTINATION": trip.destination, "BARMAN_SERVER_NAME": "postgres",
            "DRILL_DATABASE": "tradesense", "DRILL_TABLES": "accounts trades notes",
            "DRILL_MAX_AGE_SECONDS": "3600", "WORK_DIR": str(trip.ws.dir("drill-work")), **extra}


def test_restore_drill_passes_on_a_good_backup(trip):
    proc = trip.ws.run(["bash", "-x", script("restore-drill.sh")], drill_env(trip), timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "table trades: 5500 rows" in proc.stderr
    assert "restore drill passed" in proc.stderr
    assert_no_secret(proc.stdout, proc.stderr)


def test_restore_drill_fails_on_a_missing_key_table(trip):
    proc = trip.ws.run([script("restore-drill.sh")], drill_env(trip, DRILL_TABLES="accounts positions"), timeout=600)
    assert proc.returncode != 0
    assert "key table positions is missing or unreadable" in proc.stderr


def test_restore_drill_fails_when_the_newest_data_is_too_old(trip):
    proc = trip.ws.run([script("restore-drill.sh")], drill_env(trip, DRILL_MAX_AGE_SECONDS="0",
                       DRILL_FRESHNESS_QUERY="SELECT 86400"), timeout=600)
    assert proc.returncode != 0
    assert "the newest restored data is 86400s old, more than the allowed 0s" in proc.stderr


def test_restore_drill_fails_on_a_truncated_base_backup(trip, s3):
    client = s3.client()
    bucket = trip.destination.split("/")[2]
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="postgres/postgres/base/")["Contents"]]
    (tar,) = [k for k in keys if k.endswith((".tar.gz", ".tar"))]
    body = client.get_object(Bucket=bucket, Key=tar)["Body"].read()
    client.put_object(Bucket=bucket, Key=tar, Body=body[: len(body) // 2])
    try:
        proc = trip.ws.run([script("restore-drill.sh")], drill_env(trip), timeout=600)
        assert proc.returncode != 0
        assert "barman-cloud-restore failed" in proc.stderr
    finally:
        client.put_object(Bucket=bucket, Key=tar, Body=body)


def test_restore_drill_fails_on_a_missing_bucket(trip):
    proc = trip.ws.run([script("restore-drill.sh")], drill_env(trip, BARMAN_DESTINATION="s3://no-such-bucket/postgres"),
                       timeout=600)
    assert proc.returncode != 0
    assert "barman-cloud-restore failed" in proc.stderr


def maintenance_env(trip, **extra):
    source = trip.state["source"]
    return {**trip.env, "PGHOST": "127.0.0.1", "PGPORT": str(source.port), "PGDATABASE": "tradesense",
            "PGUSER": "postgres", "PGPASSWORD": trip.state["password"], **extra}


@pytest.mark.parametrize("task", ["vacuum", "reindex"])
def test_maintenance_runs_against_the_primary_without_printing_the_password(trip, task):
    proc = trip.ws.run(["bash", "-x", script("postgres-maintenance.sh"), task], maintenance_env(trip))
    assert proc.returncode == 0, proc.stderr
    assert f"{task} of tradesense finished" in proc.stderr
    assert_no_secret(proc.stdout, proc.stderr)


def test_maintenance_with_bad_credentials_fails_clearly(trip):
    proc = trip.ws.run(["bash", "-x", script("postgres-maintenance.sh"), "vacuum"], maintenance_env(trip, PGPASSWORD="wrong"))
    assert proc.returncode != 0
    assert "password authentication failed" in proc.stderr
    assert_no_secret(proc.stdout, proc.stderr)


def test_maintenance_against_an_unreachable_database_fails_clearly(trip):
    from tools.local_servers import free_port

    proc = trip.ws.run([script("postgres-maintenance.sh"), "reindex"], maintenance_env(trip, PGPORT=str(free_port())))
    assert proc.returncode != 0
    assert "reindex on tradesense at 127.0.0.1" in proc.stderr and "failed" in proc.stderr
