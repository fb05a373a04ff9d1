"""Redis snapshot and uploads backups round trip byte for byte through ops/ scripts, against a
real redis-server and a local S3 API; failures exit non-zero and never move a LATEST pointer."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.ops.conftest import assert_no_secret, new_secret, script
from tools.local_servers import LOOPBACK, Redis, free_port


@pytest.fixture()
def redis(workspace, env):
    server = Redis(workspace, env, new_secret("redis-password"), name=f"redis-{free_port()}").start()
    server.cli("SET", "greeting", "grüß dich 東京")
    server.cli("DEBUG", "POPULATE", "3000", "key", "64")
    server.cli("HSET", "user:7", "name", "Zoë", "plan", "pro")
    return server


def redis_env(env, redis, bucket, **extra):
    return {**env, "REDIS_HOST": LOOPBACK, "REDIS_PORT": str(redis.port), "REDISCLI_AUTH": redis.password,
            "BACKUP_BUCKET": bucket, "WORK_DIR": str(redis.ws.root), "BGSAVE_TIMEOUT_SECONDS": "30", "RDB_TIMEOUT_SECONDS": "60", **extra}


def latest(s3, bucket, prefix):
    try:
        return s3.client().get_object(Bucket=bucket, Key=f"{prefix}/LATEST")["Body"].read().decode().strip()
    except s3.client().exceptions.NoSuchKey:
        return None


def test_redis_snapshot_round_trip_byte_for_byte(workspace, env, s3, bucket, redis):
    backup = workspace.run(["bash", "-x", script("redis-backup.sh")], redis_env(env, redis, bucket))
    assert backup.returncode == 0, backup.stderr
    assert_no_secret(backup.stdout, backup.stderr)
    key = latest(s3, bucket, "redis")
    assert key.startswith("redis/") and key.endswith(".rdb")
    stored = s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    dest = workspace.dir(f"restored-{free_port()}")
    workspace.dir(f"{dest.name}/appendonlydir")  # the live volume's AOF would win over the snapshot
    restore = workspace.run([script("redis-restore.sh"), dest], {**env, "BACKUP_BUCKET": bucket})
    assert restore.returncode == 0, restore.stderr
    assert (dest / "dump.rdb").read_bytes() == stored
    assert not (dest / "appendonlydir").exists() and list(dest.glob("appendonlydir.before-restore-*"))

    copy = Redis(workspace, env, redis.password, name=f"copy-{free_port()}").start(directory=dest)
    assert copy.cli("DEBUG", "DIGEST") == redis.cli("DEBUG", "DIGEST")
    assert copy.cli("GET", "greeting") == "grüß dich 東京"
    assert copy.cli("DBSIZE") == "3002"


def test_backups_right_after_another_snapshot_see_their_own_bgsave_finish(workspace, env, s3, bucket, redis):
    # LASTSAVE has one-second resolution: a BGSAVE ending in the same second as the snapshot
    # before it leaves LASTSAVE unchanged, and a script waiting for it to move waits forever.
    for _ in range(3):
        redis.cli("BGSAVE")
        backup = workspace.run([script("redis-backup.sh")], redis_env(env, redis, bucket, BGSAVE_TIMEOUT_SECONDS="5"))
        assert backup.returncode == 0, backup.stderr


def test_a_failed_bgsave_fails_the_backup_at_once(workspace, env, s3, bucket, redis):
    # The child writes temp-<pid>.rdb and renames it to dump.rdb: a directory there fails the save.
    workspace.dir(f"{redis.name}/dump.rdb/blocker")
    proc = workspace.run([script("redis-backup.sh")], redis_env(env, redis, bucket, BGSAVE_TIMEOUT_SECONDS="120"),
                         timeout=60)
    assert proc.returncode != 0
    assert "BGSAVE finished with status 'err'" in proc.stderr
    assert latest(s3, bucket, "redis") is None


def test_redis_backup_with_bad_credentials_fails_and_keeps_latest(workspace, env, s3, bucket, redis):
    bad = workspace.run([script("redis-backup.sh")], redis_env(env, redis, bucket, REDISCLI_AUTH="wrong-password"))
    assert bad.returncode != 0
    assert "refused LASTSAVE" in bad.stderr
    assert latest(s3, bucket, "redis") is None


def test_redis_backup_of_an_unreachable_server_fails(workspace, env, bucket, redis):
    proc = workspace.run([script("redis-backup.sh")], redis_env(env, redis, bucket, REDIS_PORT=str(free_port())))
    assert proc.returncode != 0
    assert "is unreachable" in proc.stderr


def test_redis_backup_to_a_missing_bucket_fails_clearly(workspace, env, redis):
    proc = workspace.run([script("redis-backup.sh")], redis_env(env, redis, "no-such-bucket"))
    assert proc.returncode != 0
    assert "bucket no-such-bucket is not reachable" in proc.stderr


def test_redis_restore_rejects_a_corrupt_snapshot(workspace, env, s3, bucket, redis):
    assert workspace.run([script("redis-backup.sh")], redis_env(env, redis, bucket)).returncode == 0
    key = latest(s3, bucket, "redis")
    client = s3.client()
    head = client.head_object(Bucket=bucket, Key=key)
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    client.put_object(Bucket=bucket, Key=key, Body=body[:-200], Metadata=head["Metadata"])
    proc = workspace.run([script("redis-restore.sh"), workspace.dir(f"bad-{free_port()}")], {**env, "BACKUP_BUCKET": bucket})
    assert proc.returncode != 0
    assert "is corrupt: sha256" in proc.stderr


UPLOADS = {
    "avatars/7/me.png": b"\x89PNG\r\n" + bytes(range(256)) * 40,
    "reports/2026/12/Q4 summary final.pdf": b"%PDF-1.7 " + "Zoë €".encode() * 500,
    "top level.txt": b"hello",
}


def test_uploads_round_trip_by_day_brings_back_deleted_and_overwritten_files(workspace, env, s3, bucket):
    client = s3.client()
    uploads = f"uploads-{free_port()}"
    client.create_bucket(Bucket=uploads)
    for key, body in UPLOADS.items():
        client.put_object(Bucket=uploads, Key=key, Body=body)
    run_env = {**env, "UPLOADS_BUCKET": uploads, "BACKUP_BUCKET": bucket, "WORK_DIR": str(workspace.root)}
    first = workspace.run(["bash", "-x", script("uploads-backup.sh")], {**run_env, "BACKUP_DAY": "2026-11-30"})
    assert first.returncode == 0, first.stderr
    assert_no_secret(first.stdout, first.stderr)

    # A user deletes one file and overwrites another; the next day's backup mirrors that.
    client.delete_object(Bucket=uploads, Key="avatars/7/me.png")
    client.put_object(Bucket=uploads, Key="top level.txt", Body=b"overwritten")
    second = workspace.run([script("uploads-backup.sh")], {**run_env, "BACKUP_DAY": "2026-12-01"})
    assert second.returncode == 0, second.stderr
    assert latest(s3, bucket, "uploads/manifests") == "uploads/manifests/2026-12-01.json"

    target = f"restored-{free_port()}"
    client.create_bucket(Bucket=target)
    restore_env = {**env, "BACKUP_BUCKET": bucket, "WORK_DIR": str(workspace.root)}
    proc = workspace.run([script("uploads-restore.sh"), "2026-11-30", target, "day1/"], restore_env)
    assert proc.returncode == 0, proc.stderr
    for key, body in UPLOADS.items():
        assert client.get_object(Bucket=target, Key=f"day1/{key}")["Body"].read() == body

    assert workspace.run([script("uploads-restore.sh"), "latest", target, "day2/"], restore_env).returncode == 0
    day2 = {o["Key"] for o in client.list_objects_v2(Bucket=target, Prefix="day2/")["Contents"]}
    assert day2 == {"day2/reports/2026/12/Q4 summary final.pdf", "day2/top level.txt"}
    assert client.get_object(Bucket=target, Key="day2/top level.txt")["Body"].read() == b"overwritten"


def test_uploads_backup_refuses_an_unversioned_backup_bucket(workspace, env, s3):
    client = s3.client()
    plain, uploads = f"plain-{free_port()}", f"up-{free_port()}"
    client.create_bucket(Bucket=plain)
    client.create_bucket(Bucket=uploads)
    proc = workspace.run([script("uploads-backup.sh")], {**env, "UPLOADS_BUCKET": uploads, "BACKUP_BUCKET": plain})
    assert proc.returncode != 0
    assert f"bucket {plain} must have versioning enabled" in proc.stderr


class DyingProxy:
    """A TCP proxy to the S3 API that dies (closes everything, stops listening) after
    forwarding `limit` bytes upstream: the object store vanishing in the middle of an upload."""

    def __init__(self, upstream_port: int, limit: int):
        self.upstream_port, self.limit, self.sent = upstream_port, limit, 0
        self.listener = socket.create_server((LOOPBACK, 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = [self.listener]
        self.dead = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.dead.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((LOOPBACK, self.upstream_port))
            self.sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source, sink, counts):
        try:
            while data := source.recv(65536):
                if counts:
                    self.sent += len(data)
                    if self.sent > self.limit:
                        self.die()
                        return
                sink.sendall(data)
        except OSError:
            pass

    def die(self):
        self.dead.set()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def test_object_store_dying_mid_upload_fails_and_leaves_no_partial_latest(workspace, env, s3, bucket, redis):
    assert workspace.run([script("redis-backup.sh")], redis_env(env, redis, bucket)).returncode == 0
    good = latest(s3, bucket, "redis")
    redis.cli("DEBUG", "POPULATE", "200000", "big", "64")  # a snapshot of several MB
    proxy = DyingProxy(s3.port, limit=512 * 1024)
    proc = workspace.run([script("redis-backup.sh")],
                         redis_env({**env, "S3_ENDPOINT_URL": f"http://{LOOPBACK}:{proxy.port}"}, redis, bucket))
    assert proxy.dead.is_set()
    assert proc.returncode != 0
    assert "ERROR:" in proc.stderr and ("upload of s3://" in proc.stderr or "could not update" in proc.stderr)
    assert latest(s3, bucket, "redis") == good
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket, Prefix="redis/")["Contents"]]
    assert sorted(keys) == sorted(["redis/LATEST", good])
