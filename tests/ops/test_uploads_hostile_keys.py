"""Uploads backups round-trip ANY S3 key (issue 21): tabs, newlines, backslashes, unicode, a
leading "/", "..", "%", spaces, quotes, a leading "-", and a 1024-byte key, against the local S3
API (moto), through ops/uploads-backup.sh and ops/uploads-restore.sh, byte for byte; the weekly
drill restores a sample and compares checksums, and catches a corrupted backup."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest

from tests.ops.conftest import script
from tools.local_servers import free_port

LONG = "long/" + "é" * 300 + "x" * (1024 - 5 - 600)  # 1024 bytes of UTF-8
# moto's server cannot route a key holding "\n" (its URL rule stops at a newline: PUT answers
# 404), so newline keys are proven below through the scripts' own parsing (manifest_fields).
HOSTILE = {
    "tab\there.txt": b"tab",
    "carriage\rreturn": b"cr",
    "back\\slash\\path.png": b"backslash",
    "/leading/slash": b"slash",
    "//double//slash": b"double",
    "../../etc/passwd": b"dotdot",
    "a/./b/../c": b"dots",
    "100% done %2F %00.txt": b"percent",
    "  spaces  around  ": b"spaces",
    "-rf --key=evil": b"dash",
    "quote\"single'back`$(touch /tmp/pwned)": b"shell",
    "grüß dich/東京/🚀.bin": bytes(range(256)) * 8,
    "question?versionId=1&x=y#frag": b"query",
    "plus+and=equals;semi,comma": b"plus",
    LONG: b"long key",
}


def test_the_long_key_is_exactly_the_s3_limit():
    assert len(LONG.encode()) == 1024


@pytest.fixture()
def uploads(s3):
    name = f"uploads-{free_port()}"
    client = s3.client()
    client.create_bucket(Bucket=name)
    for key, body in HOSTILE.items():
        client.put_object(Bucket=name, Key=key, Body=body)
    return name


def all_objects(client, bucket: str, prefix: str = "") -> dict[str, bytes]:
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])]
    return {k[len(prefix):]: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def test_every_hostile_key_is_backed_up_and_restored_byte_for_byte(workspace, env, s3, bucket, uploads):
    client = s3.client()
    run_env = {**env, "UPLOADS_BUCKET": uploads, "BACKUP_BUCKET": bucket, "WORK_DIR": str(workspace.root)}
    backup = workspace.run([script("uploads-backup.sh")], {**run_env, "BACKUP_DAY": "2026-12-01"})
    assert backup.returncode == 0, backup.stderr
    assert f"{len(HOSTILE)} objects ({len(HOSTILE)} copied, 0 deleted)" in backup.stderr

    target = f"restored-{free_port()}"
    client.create_bucket(Bucket=target)
    restore = workspace.run([script("uploads-restore.sh"), "latest", target], {**env, "BACKUP_BUCKET": bucket, "WORK_DIR": str(workspace.root)})
    assert restore.returncode == 0, restore.stderr
    assert all_objects(client, target) == HOSTILE
    assert not os.path.exists("/tmp/pwned")

    # With a prefix: every key but the one that would exceed 1024 bytes; that one is refused by name.
    short = {k: v for k, v in HOSTILE.items() if k != LONG}
    only_short = f"short-{free_port()}"
    client.create_bucket(Bucket=only_short)
    client.delete_object(Bucket=uploads, Key=LONG)
    assert workspace.run([script("uploads-backup.sh")], {**run_env, "BACKUP_DAY": "2026-12-02"}).returncode == 0
    prefixed = workspace.run([script("uploads-restore.sh"), "2026-12-02", only_short, "day2/"], {**env, "BACKUP_BUCKET": bucket})
    assert prefixed.returncode == 0, prefixed.stderr
    assert all_objects(client, only_short, "day2/") == short
    too_long = workspace.run([script("uploads-restore.sh"), "2026-12-01", only_short, "again/"], {**env, "BACKUP_BUCKET": bucket})
    assert too_long.returncode != 0 and "longer than S3's 1024 bytes" in too_long.stderr


def test_a_second_backup_copies_only_what_changed_and_days_stay_restorable(workspace, env, s3, bucket, uploads):
    client = s3.client()
    run_env = {**env, "UPLOADS_BUCKET": uploads, "BACKUP_BUCKET": bucket, "WORK_DIR": str(workspace.root)}
    assert workspace.run([script("uploads-backup.sh")], {**run_env, "BACKUP_DAY": "2026-12-01"}).returncode == 0
    client.put_object(Bucket=uploads, Key="back\\slash\\path.png", Body=b"changed")
    client.delete_object(Bucket=uploads, Key="tab\there.txt")
    second = workspace.run([script("uploads-backup.sh")], {**run_env, "BACKUP_DAY": "2026-12-02"})
    assert second.returncode == 0, second.stderr
    assert f"{len(HOSTILE) - 1} objects (1 copied, 1 deleted)" in second.stderr

    day1, day2 = f"d1-{free_port()}", f"d2-{free_port()}"
    for name, day in ((day1, "2026-12-01"), (day2, "2026-12-02")):
        client.create_bucket(Bucket=name)
        assert workspace.run([script("uploads-restore.sh"), day, name], {**env, "BACKUP_BUCKET": bucket}).returncode == 0
    assert all_objects(client, day1) == HOSTILE
    assert all_objects(client, day2) == {**{k: v for k, v in HOSTILE.items() if k != "tab\there.txt"}, "back\\slash\\path.png": b"changed"}


def test_restore_refuses_a_backed_up_object_that_does_not_match_its_checksum(workspace, env, s3, bucket, uploads):
    client = s3.client()
    run_env = {**env, "UPLOADS_BUCKET": uploads, "BACKUP_BUCKET": bucket, "WORK_DIR": str(workspace.root)}
    assert workspace.run([script("uploads-backup.sh")], run_env).returncode == 0
    manifest_key = client.get_object(Bucket=bucket, Key="uploads/manifests/LATEST")["Body"].read().decode().strip()
    entry = next(e for e in json.loads(client.get_object(Bucket=bucket, Key=manifest_key)["Body"].read()) if e["Key"] == "../../etc/passwd")
    assert entry["Sha256"] == hashlib.sha256(b"dotdot").hexdigest()
    # A version cannot be changed in place on versioned S3: point the manifest at another version instead.
    other = client.put_object(Bucket=bucket, Key=entry["Blob"], Body=b"tampered")["VersionId"]
    manifest = json.loads(client.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    for e in manifest:
        if e["Key"] == entry["Key"]:
            e["VersionId"] = other
    body = json.dumps(manifest).encode()
    client.put_object(Bucket=bucket, Key=manifest_key, Body=body, Metadata={"sha256": hashlib.sha256(body).hexdigest()})
    target = f"t-{free_port()}"
    client.create_bucket(Bucket=target)
    proc = workspace.run([script("uploads-restore.sh"), "latest", target], {**env, "BACKUP_BUCKET": bucket})
    assert proc.returncode != 0 and "is corrupt: sha256" in proc.stderr


def test_keys_with_newlines_survive_the_scripts_parsing(workspace, env):
    """The manifest -> shell loop the restore and the drill use (lib.sh manifest_fields), with keys
    that hold newlines, tabs and NUL-free control characters: each arrives whole."""
    keys = ["new\nline.txt", "crlf\r\n", "\n", "tab\tnew\nline\\", "-n", "*"]
    manifest = workspace.root / f"manifest-{free_port()}.json"
    manifest.write_text(json.dumps([{"Key": k, "Blob": f"b{i}", "VersionId": f"v{i}", "Sha256": "s"} for i, k in enumerate(keys)]))
    loop = (f'. {script("lib.sh")}; while IFS= read -r -d "" k && IFS= read -r -d "" b && IFS= read -r -d "" v && IFS= read -r -d "" s;'
            f' do printf "%s\\0" "$k"; done < <(manifest_fields {manifest})')
    out = subprocess.run(["bash", "-c", loop], capture_output=True, env=env, check=True).stdout
    assert out.decode().split("\0")[:-1] == keys


def test_the_drill_restores_a_sample_and_catches_a_corrupted_object(workspace, env, s3, bucket, uploads):
    client = s3.client()
    run_env = {**env, "UPLOADS_BUCKET": uploads, "BACKUP_BUCKET": bucket, "WORK_DIR": str(workspace.root)}
    assert workspace.run([script("uploads-backup.sh")], run_env).returncode == 0
    drill_env = {**env, "BACKUP_BUCKET": bucket, "WORK_DIR": str(workspace.root), "DRILL_UPLOADS_SAMPLE": str(len(HOSTILE))}
    good = workspace.run([script("uploads-drill.sh")], drill_env)
    assert good.returncode == 0, good.stderr
    assert f"{len(HOSTILE)} of {len(HOSTILE)} objects" in good.stderr and "sha256 as recorded" in good.stderr

    # The newest version of one backed-up object no longer matches what was uploaded.
    manifest_key = client.get_object(Bucket=bucket, Key="uploads/manifests/LATEST")["Body"].read().decode().strip()
    manifest = json.loads(client.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    entry = next(e for e in manifest if e["Key"] == "/leading/slash")
    entry["VersionId"] = client.put_object(Bucket=bucket, Key=entry["Blob"], Body=b"bit rot")["VersionId"]
    body = json.dumps(manifest).encode()
    client.put_object(Bucket=bucket, Key=manifest_key, Body=body, Metadata={"sha256": hashlib.sha256(body).hexdigest()})
    bad = workspace.run([script("uploads-drill.sh")], drill_env)
    assert bad.returncode != 0 and "is corrupt: sha256" in bad.stderr
