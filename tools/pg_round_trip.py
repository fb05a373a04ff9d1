"""The Postgres backup round trip, step by step, against real servers (tools.local_servers).

barman-cloud-wal-archive (as archive_command) and barman-cloud-backup write exactly what the
CNPG barman-cloud plugin writes, with the flags the program's ObjectStore configures
(`barman_flags`); ops/postgres-restore.sh restores it. tests/ops/ asserts on these steps;
tools/bench_backup.py times them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from tools.local_servers import OPS, TOOLS, Postgres, Workspace, free_port

SERVER_NAME = "postgres"


def rendered_backup_settings(stack: str = "prod") -> dict:
    """The ObjectStore configuration and archive_timeout the program renders for `stack` (offline plan)."""
    from tools.mock_runtime import unwrap_secrets
    from tools.plan import build_plan

    recording = build_plan(stack).recording
    store = recording.one("kubernetes:barmancloud.cnpg.io/v1:ObjectStore")
    cluster = recording.one("kubernetes:postgresql.cnpg.io/v1:Cluster")
    return {
        "configuration": unwrap_secrets(store.inputs["spec"]["configuration"]),
        "archive_timeout": cluster.inputs["spec"]["postgresql"]["parameters"]["archive_timeout"],
    }
SEED_SQL = """
CREATE TABLE accounts (id bigserial PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE SEQUENCE trade_ref_seq START 1000;
CREATE TABLE trades (
  id bigserial PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts,
  symbol text NOT NULL, qty numeric(14,4) NOT NULL, ref bigint NOT NULL DEFAULT nextval('trade_ref_seq'),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX trades_symbol_created_idx ON trades (symbol, created_at);
CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, payload jsonb);
INSERT INTO accounts (name) SELECT 'Zoë Łukasz 東京 Ångström #' || g FROM generate_series(1, {accounts}) g;
INSERT INTO trades (account_id, symbol, qty)
  SELECT g % {accounts} + 1, (ARRAY['AAPL', 'MSFT', 'ÅBB', '株式'])[g % 4 + 1], g * 0.25 FROM generate_series(1, {trades}) g;
INSERT INTO notes (body, payload) SELECT repeat('note ', g % 50) || '€', jsonb_build_object('n', g) FROM generate_series(1, {notes}) g;
"""
TABLES = ("accounts", "trades", "notes")


def barman_flags(configuration: Mapping) -> tuple[list[str], list[str]]:
    """(wal-archive flags, backup flags) for an ObjectStore `spec.configuration`, the way the
    plugin maps its fields to barman-cloud options."""
    compression = {"gzip": "--gzip", "bzip2": "--bzip2", "snappy": "--snappy"}
    wal, data = configuration.get("wal", {}), configuration.get("data", {})
    wal_flags = [compression[wal["compression"]]] if wal.get("compression") else []
    data_flags = [compression[data["compression"]]] if data.get("compression") else []
    if data.get("jobs"):
        data_flags += ["--jobs", str(int(data["jobs"]))]
    if data.get("immediateCheckpoint"):
        data_flags.append("--immediate-checkpoint")
    return wal_flags, data_flags


@dataclass
class RoundTrip:
    ws: Workspace
    env: dict[str, str]
    destination: str
    wal_flags: list[str]
    data_flags: list[str]

    def archive_command(self) -> str:
        flags = " ".join(["--cloud-provider aws-s3", f"--endpoint-url {self.env['S3_ENDPOINT_URL']}", *self.wal_flags])
        return f"'barman-cloud-wal-archive {flags} {self.destination} {SERVER_NAME} %p'"

    def source(self, password: str, archive_timeout: str) -> Postgres:
        pg = Postgres(self.ws, self.env, name="source")
        pg.init(password, {"archive_mode": "on", "archive_command": self.archive_command(),
                           "archive_timeout": f"'{archive_timeout}'"})
        return pg.start()

    def seed(self, pg: Postgres, accounts: int = 2000, trades: int = 5000, notes: int = 1000) -> None:
        pg.sql("CREATE DATABASE tradesense")
        pg.sql(SEED_SQL.format(accounts=accounts, trades=trades, notes=notes), db="tradesense")

    def base_backup(self, pg: Postgres) -> float:
        started = time.monotonic()
        self.ws.run([TOOLS["barman-cloud-backup"], "--cloud-provider", "aws-s3", "--endpoint-url",
                     self.env["S3_ENDPOINT_URL"], *self.data_flags, "-h", pg.socket_dir, "-p", str(pg.port),
                     "-U", "postgres", self.destination, SERVER_NAME], self.env, check=True, timeout=600)
        return time.monotonic() - started

    def write(self, pg: Postgres, trades: int) -> str:
        """Insert trades; return the server time just after the commit."""
        pg.sql(f"INSERT INTO trades (account_id, symbol, qty) SELECT g % 100 + 1, 'ZÜRICH', g "
               f"FROM generate_series(1, {trades}) g", db="tradesense")
        return pg.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')")

    def archive_now(self, pg: Postgres, timeout: float = 120) -> None:
        """Switch WAL and wait until the archiver has shipped that segment."""
        segment = pg.sql("SELECT pg_walfile_name(pg_switch_wal())")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = pg.sql("SELECT coalesce(last_archived_wal, '') || ' ' || failed_count FROM pg_stat_archiver")
            archived = row.split(" ")[0]
            if archived and archived >= segment:
                return
            time.sleep(0.3)
        raise TimeoutError(f"WAL segment {segment} was not archived: {pg.sql('SELECT * FROM pg_stat_archiver')}")

    def restore(self, name: str, target_time: str = "") -> tuple[Postgres, float]:
        """ops/postgres-restore.sh into a new directory, then start and wait for promotion."""
        pg = Postgres(self.ws, self.env, name=name)
        pg.port = free_port()
        self.ws.dir(name)
        env = {**self.env, "BARMAN_DESTINATION": self.destination, "BARMAN_SERVER_NAME": SERVER_NAME,
               "SCRATCH_PORT": str(pg.port), "SCRATCH_SOCKET_DIR": str(pg.socket_dir)}
        started = time.monotonic()
        args = [OPS / "postgres-restore.sh", pg.data] + ([target_time] if target_time else [])
        self.ws.run(args, env, check=True, timeout=600)
        pg.start()
        deadline = time.monotonic() + 300
        while pg.sql("SELECT pg_is_in_recovery()") != "f":
            if time.monotonic() > deadline:
                raise TimeoutError("recovery did not finish")
            time.sleep(0.2)
        return pg, time.monotonic() - started


def checksums(pg: Postgres) -> dict[str, str]:
    """md5 over every row of every table (in a fixed order), plus the sequences' positions."""
    sums = {table: pg.sql(f"SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) "
                          f"FROM {table} t", db="tradesense") for table in TABLES}
    sums["indexes"] = pg.sql("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes "
                             "WHERE schemaname = 'public'", db="tradesense")
    return sums


def sequence_position(pg: Postgres) -> tuple[int, int]:
    """(last_value of trade_ref_seq, highest ref in use). Postgres logs sequences 32 values
    ahead, so a recovered sequence may be ahead of the source, never behind its rows."""
    row = pg.sql("SELECT s.last_value || ' ' || (SELECT max(ref) FROM trades) FROM trade_ref_seq s", db="tradesense")
    last, used = row.split()
    return int(last), int(used)


def database_bytes(pg: Postgres) -> int:
    return int(pg.sql("SELECT pg_database_size('tradesense')"))


def read_path(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
