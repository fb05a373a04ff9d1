"""Benchmark of the Postgres backup round trip against real servers (tools.local_servers).

    python -m tools.bench_backup [--scale N] [--archive-timeout 20s]

Seeds N x (2000 accounts, 5000 trades, 1000 notes), takes a barman-cloud base backup with
the flags prod's ObjectStore renders, then writes one row every 0.2 s while the archiver runs
with --archive-timeout, "loses" the server (SIGKILL, as if its volume were gone) and recovers
a new one from the archive. Prints the seeded size, backup and restore times, and the RPO
measured as the gap between the last committed row and the newest recovered one. The RPO
is bounded by archive_timeout (prod renders 5min; a short value keeps the run short).
"""

from __future__ import annotations

import argparse
import time

from tools.local_servers import S3Server, Workspace, base_env
from tools.pg_round_trip import RoundTrip, barman_flags, checksums, database_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--archive-timeout", default="20s")
    parser.add_argument("--write-seconds", type=float, default=45)
    options = parser.parse_args()

    from tools.pg_round_trip import rendered_backup_settings

    settings = rendered_backup_settings("prod")
    ws = Workspace()
    try:
        s3 = S3Server(ws).start()
        s3.client().create_bucket(Bucket="bench-backups")
        wal_flags, data_flags = barman_flags(settings["configuration"])
        trip = RoundTrip(ws, base_env(s3.endpoint), "s3://bench-backups/postgres", wal_flags, data_flags)
        source = trip.source("bench-password", options.archive_timeout)
        n = options.scale
        trip.seed(source, accounts=2000 * n, trades=5000 * n, notes=1000 * n)
        size = database_bytes(source)
        backup_seconds = trip.base_backup(source)
        source.sql("CREATE TABLE ticks (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())", db="tradesense")
        deadline = time.monotonic() + options.write_seconds
        while time.monotonic() < deadline:
            source.sql("INSERT INTO ticks DEFAULT VALUES", db="tradesense")
            time.sleep(0.2)
        last_written = source.sql("SELECT extract(epoch FROM max(at)) FROM ticks", db="tradesense")
        source.stop("immediate")  # the whole instance is lost; only the archive remains
        restored, restore_seconds = trip.restore("bench-restored")
        last_recovered = restored.sql("SELECT coalesce(extract(epoch FROM max(at)), 0) FROM ticks", db="tradesense")
        rows = checksums(restored)["trades"].split(":")[0]
        print(f"seeded database: {size / 2**20:.1f} MiB ({rows} trades); flags wal={wal_flags} data={data_flags}")
        print(f"base backup: {backup_seconds:.1f} s; restore (base backup + WAL replay to the end): {restore_seconds:.1f} s")
        print(f"archive_timeout {options.archive_timeout}: RPO measured {float(last_written) - float(last_recovered):.1f} s "
              "(last committed row minus newest recovered row)")
    finally:
        ws.close()


if __name__ == "__main__":
    main()
