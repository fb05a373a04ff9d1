"""Synthetic series for every TradeSense alert: at least one case that fires and one that stays
silent, with the labels an on-call engineer would see. Fed to `promtool test rules` by
tests/app/test_observability.py (expected labels are written out by hand, never read back from
the rules).

Each case: (alert, interval, eval_time, input series, expected labels of each firing alert).
An empty expected list is a silent case. promtool's clock starts at 0, so a timestamp series
holding `0` is as old as the eval time.
"""

from __future__ import annotations

NS = "tradesense"
BACKEND = f'namespace="{NS}",job="backend",instance="10.0.0.1:8000"'
REDIS = f'namespace="{NS}",job="redis-metrics",pod="redis-0",instance="10.0.0.9:9121"'
PG1 = f'namespace="{NS}",pod="postgres-1",job="tradesense/postgres"'
PG2 = f'namespace="{NS}",pod="postgres-2",job="tradesense/postgres"'
KSM = f'namespace="{NS}",job="kube-state-metrics"'
CERT = 'name="tradesense-tls",namespace="nginx-gateway",issuer_name="letsencrypt-prod",job="cert-manager",instance="10.0.1.1:9402"'
HOUR = 3600


def s(metric: str, labels: str, values: str) -> dict:
    return {"series": f"{metric}{{{labels}}}", "values": values}


def requests(ok_per_min: int, errors_per_min: int, minutes: int) -> list[dict]:
    return [s("tradesense_http_requests_total", f'{BACKEND},status="200"', f"0+{ok_per_min}x{minutes}"),
            s("tradesense_http_requests_total", f'{BACKEND},status="500"', f"0+{errors_per_min}x{minutes}")]


def latency(slow: bool) -> list[dict]:
    # Per minute: 600 requests; slow means most land between 0.5 s and 1 s.
    cumulative = ({"0.1": 30, "0.25": 60, "0.5": 90, "1": 600, "+Inf": 600} if slow
                  else {"0.1": 500, "0.25": 590, "0.5": 600, "1": 600, "+Inf": 600})
    return [s("tradesense_http_request_duration_seconds_bucket", f'{BACKEND},le="{le}"', f"0+{n}x40")
            for le, n in cumulative.items()]


def cronjob(cronjob_name: str, scheduled: int | None, succeeded: int | None, samples: int = 60) -> list[dict]:
    labels = f'{KSM},cronjob="{cronjob_name}"'
    found = []
    if scheduled is not None:
        found.append(s("kube_cronjob_status_last_schedule_time", labels, f"{scheduled}x{samples}"))
    if succeeded is not None:
        found.append(s("kube_cronjob_status_last_successful_time", labels, f"{succeeded}x{samples}"))
    return found


def fresh_success(cronjob_name: str, interval_seconds: int, samples: int) -> list[dict]:
    """A CronJob whose last success keeps up with the clock."""
    return [s("kube_cronjob_status_last_successful_time", f'{KSM},cronjob="{cronjob_name}"', f"0+{interval_seconds}x{samples}")]


def labels(severity: str, **extra: str) -> dict:
    return {"severity": severity, **extra}


NSL = {"namespace": NS}
UNRELATED = [s("up", 'job="other"', "1x300")]

CASES: list[tuple] = [
    # --- backend availability, errors, latency ---
    ("TradeSenseBackendDown", "1m", "10m", [s("up", BACKEND, "0x20")], [labels("critical", **NSL)]),
    ("TradeSenseBackendDown", "1m", "10m", [s("up", BACKEND, "1x20")], []),
    # Only the custom endpoint answers: /metrics (and so the alerts' data) is still gone.
    ("TradeSenseBackendDown", "1m", "10m",
     [s("up", BACKEND, "0x20"), s("up", f'{BACKEND},metrics_endpoint="custom"', "1x20")], [labels("critical", **NSL)]),
    ("TradeSenseHighErrorRate", "1m", "20m", requests(600, 60, 40), [labels("critical", **NSL)]),
    ("TradeSenseHighErrorRate", "1m", "20m", requests(5940, 60, 40), []),
    ("TradeSenseHighResponseTime", "1m", "20m", latency(slow=True), [labels("warning", **NSL)]),
    ("TradeSenseHighResponseTime", "1m", "20m", latency(slow=False), []),
    ("TradeSenseHighMedianLatency", "1m", "20m", latency(slow=True), [labels("warning", **NSL)]),
    ("TradeSenseHighMedianLatency", "1m", "20m", latency(slow=False), []),
    # --- 99.9% SLO burn rates: 2% errors (20x) trips 1h/5m; 0.8% (8x) only 6h/30m ---
    ("TradeSenseErrorBudgetBurnFast", "1m", "70m", requests(980, 20, 80), [labels("critical", **NSL)]),
    ("TradeSenseErrorBudgetBurnFast", "1m", "400m", requests(992, 8, 420), [labels("critical", **NSL)]),
    ("TradeSenseErrorBudgetBurnFast", "1m", "400m", requests(995, 5, 420), []),
    # 0.4% (4x) trips 1d/2h; 0.15% (1.5x) only 3d/6h; 0.05% is within budget.
    ("TradeSenseErrorBudgetBurnSlow", "1m", "3h", requests(996, 4, 200), [labels("warning", **NSL)]),
    ("TradeSenseErrorBudgetBurnSlow", "1m", "7h", requests(1997, 3, 450), [labels("warning", **NSL)]),
    ("TradeSenseErrorBudgetBurnFast", "1m", "7h", requests(1997, 3, 450), []),
    ("TradeSenseErrorBudgetBurnSlow", "1m", "7h", requests(1999, 1, 450), []),
    # --- saturation (cAdvisor over kube-state-metrics limits) ---
    ("TradeSenseHighCpuUsage", "1m", "25m",
     [s("container_cpu_usage_seconds_total", f'namespace="{NS}",pod="backend-1",container="backend"', "0+48x30"),
      s("kube_pod_container_resource_limits", f'{KSM},pod="backend-1",container="backend",resource="cpu",unit="core"', "1x30")],
     [labels("warning", namespace=NS, pod="backend-1")]),
    ("TradeSenseHighCpuUsage", "1m", "25m",
     [s("container_cpu_usage_seconds_total", f'namespace="{NS}",pod="backend-1",container="backend"', "0+30x30"),
      s("kube_pod_container_resource_limits", f'{KSM},pod="backend-1",container="backend",resource="cpu",unit="core"', "1x30")],
     []),
    ("TradeSenseHighMemoryUsage", "1m", "25m",
     [s("container_memory_working_set_bytes", f'namespace="{NS}",pod="backend-1",container="backend"', "943718400x30"),
      s("kube_pod_container_resource_limits", f'{KSM},pod="backend-1",container="backend",resource="memory",unit="byte"', "1073741824x30")],
     [labels("warning", namespace=NS, pod="backend-1")]),
    ("TradeSenseHighMemoryUsage", "1m", "25m",
     [s("container_memory_working_set_bytes", f'namespace="{NS}",pod="backend-1",container="backend"', "524288000x30"),
      s("kube_pod_container_resource_limits", f'{KSM},pod="backend-1",container="backend",resource="memory",unit="byte"', "1073741824x30")],
     []),
    ("TradeSenseLowCacheHitRate", "1m", "50m",
     [s("redis_keyspace_hits_total", REDIS, "0+70x60"), s("redis_keyspace_misses_total", REDIS, "0+30x60")],
     [labels("warning", **NSL)]),
    ("TradeSenseLowCacheHitRate", "1m", "50m",
     [s("redis_keyspace_hits_total", REDIS, "0+95x60"), s("redis_keyspace_misses_total", REDIS, "0+5x60")], []),
    # --- Postgres (CloudNativePG exporter) ---
    ("TradeSensePostgresDown", "1m", "10m", [s("cnpg_collector_up", PG1, "0x20")], [labels("critical", **NSL)]),
    ("TradeSensePostgresDown", "1m", "10m", UNRELATED, [labels("critical", **NSL)]),
    # One of three instances down is a lost replica, not "Postgres down".
    ("TradeSensePostgresDown", "1m", "10m", [s("cnpg_collector_up", PG1, "1x20"), s("cnpg_collector_up", PG2, "0x20")], []),
    ("TradeSensePostgresDown", "1m", "10m", [s("cnpg_collector_up", PG1, "1x20")], []),
    ("TradeSensePostgresReplicationLag", "1m", "20m", [s("cnpg_pg_replication_lag", PG2, "60x30")],
     [labels("warning", namespace=NS, pod="postgres-2")]),
    ("TradeSensePostgresReplicationLag", "1m", "20m", [s("cnpg_pg_replication_lag", PG2, "2x30")], []),
    ("TradeSensePostgresReplicaLost", "1m", "20m", [s("cnpg_pg_replication_streaming_replicas", PG1, "1x30")],
     [labels("warning", **NSL)]),
    ("TradeSensePostgresReplicaLost", "1m", "20m", [s("cnpg_pg_replication_streaming_replicas", PG1, "2x30")], []),
    ("TradeSensePostgresConnectionsNearLimit", "1m", "10m",
     [s("cnpg_backends_total", f'{PG1},datname="tradesense",state="active"', "50x20"),
      s("cnpg_backends_total", f'{PG1},datname="tradesense",state="idle"', "40x20"),
      s("cnpg_pg_settings_setting", f'{PG1},name="max_connections"', "100x20")],
     [labels("warning", namespace=NS, pod="postgres-1")]),
    ("TradeSensePostgresConnectionsNearLimit", "1m", "10m",
     [s("cnpg_backends_total", f'{PG1},datname="tradesense",state="active"', "20x20"),
      s("cnpg_backends_total", f'{PG1},datname="tradesense",state="idle"', "10x20"),
      s("cnpg_pg_settings_setting", f'{PG1},name="max_connections"', "100x20")], []),
    # --- Redis (redis_exporter sidecar) ---
    ("TradeSenseRedisDown", "1m", "10m", [s("redis_up", REDIS, "0x20")], [labels("critical", **NSL)]),
    ("TradeSenseRedisDown", "1m", "10m", UNRELATED, [labels("critical", namespace=NS, job="redis-metrics")]),
    ("TradeSenseRedisDown", "1m", "10m", [s("redis_up", REDIS, "1x20")], []),
    ("TradeSenseRedisMemoryNearMax", "1m", "20m",
     [s("redis_memory_used_bytes", REDIS, "950x30"), s("redis_memory_max_bytes", REDIS, "1000x30")],
     [labels("warning", namespace=NS, pod="redis-0")]),
    ("TradeSenseRedisMemoryNearMax", "1m", "20m",
     [s("redis_memory_used_bytes", REDIS, "500x30"), s("redis_memory_max_bytes", REDIS, "1000x30")], []),
    # maxmemory 0 (unlimited) must not divide into +Inf.
    ("TradeSenseRedisMemoryNearMax", "1m", "20m",
     [s("redis_memory_used_bytes", REDIS, "500x30"), s("redis_memory_max_bytes", REDIS, "0x30")], []),
    # --- volumes ---
    ("TradeSensePersistentVolumeFilling", "1m", "10m",
     [s("kubelet_volume_stats_used_bytes", f'namespace="{NS}",persistentvolumeclaim="data-redis-0",instance="node-1"', "85x20"),
      s("kubelet_volume_stats_capacity_bytes", f'namespace="{NS}",persistentvolumeclaim="data-redis-0",instance="node-1"', "100x20")],
     [labels("warning", namespace=NS, persistentvolumeclaim="data-redis-0")]),
    ("TradeSensePersistentVolumeFilling", "1m", "10m",
     [s("kubelet_volume_stats_used_bytes", f'namespace="{NS}",persistentvolumeclaim="data-redis-0",instance="node-1"', "50x20"),
      s("kubelet_volume_stats_capacity_bytes", f'namespace="{NS}",persistentvolumeclaim="data-redis-0",instance="node-1"', "100x20")],
     []),
    # Losing 100 units a minute with 100000 left: empty in under 17 hours.
    ("TradeSensePersistentVolumeFullIn24h", "1m", "110m",
     [s("kubelet_volume_stats_available_bytes", f'namespace="{NS}",persistentvolumeclaim="postgres-1",instance="node-1"', "100000-100x120")],
     [labels("critical", namespace=NS, persistentvolumeclaim="postgres-1")]),
    # Losing 50 a minute: 72000 a day, still 40% left tomorrow.
    ("TradeSensePersistentVolumeFullIn24h", "1m", "110m",
     [s("kubelet_volume_stats_available_bytes", f'namespace="{NS}",persistentvolumeclaim="postgres-1",instance="node-1"', "100000-50x120")],
     []),
    # --- certificates (cert-manager controller) ---
    ("TradeSenseCertificateExpiringSoon", "1m", "2h",
     [s("certmanager_certificate_expiration_timestamp_seconds", CERT, f"{10 * 86400}x150")],
     [labels("warning", name="tradesense-tls", namespace="tradesense", certificate_namespace="nginx-gateway", issuer_name="letsencrypt-prod")]),
    ("TradeSenseCertificateExpiringSoon", "1m", "2h",
     [s("certmanager_certificate_expiration_timestamp_seconds", CERT, f"{60 * 86400}x150")], []),
    ("TradeSenseCertificateNotReady", "1m", "30m",
     [s("certmanager_certificate_ready_status", f'{CERT},condition="True"', "0x40"),
      s("certmanager_certificate_ready_status", f'{CERT},condition="False"', "1x40"),
      s("certmanager_certificate_ready_status", f'{CERT},condition="Unknown"', "0x40")],
     [labels("warning", name="tradesense-tls", namespace="tradesense", certificate_namespace="nginx-gateway", issuer_name="letsencrypt-prod", condition="False")]),
    ("TradeSenseCertificateNotReady", "1m", "30m",
     [s("certmanager_certificate_ready_status", f'{CERT},condition="True"', "1x40"),
      s("certmanager_certificate_ready_status", f'{CERT},condition="False"', "0x40"),
      s("certmanager_certificate_ready_status", f'{CERT},condition="Unknown"', "0x40")], []),
    # --- backups, restore drill, maintenance ---
    ("TradeSensePostgresBackupStale", "10m", "27h",
     [s("barman_cloud_cloudnative_pg_io_last_available_backup_timestamp", PG1, "0x200")], [labels("critical", **NSL)]),
    ("TradeSensePostgresBackupStale", "10m", "27h", UNRELATED, [labels("critical", **NSL)]),
    ("TradeSensePostgresBackupStale", "10m", "27h",
     [s("barman_cloud_cloudnative_pg_io_last_available_backup_timestamp", PG1, "0+600x200")], []),
    ("TradeSensePostgresWALArchivingFailing", "1m", "20m",
     [s("cnpg_pg_stat_archiver_failed_count", PG1, "0+1x30")], [labels("critical", namespace=NS, pod="postgres-1")]),
    ("TradeSensePostgresWALArchivingFailing", "1m", "20m",
     [s("cnpg_pg_stat_archiver_seconds_since_last_archival", PG1, "3600x30"), s("cnpg_pg_replication_in_recovery", PG1, "0x30")],
     [labels("critical", namespace=NS, pod="postgres-1")]),
    # A healthy primary, and a standby that never archives (not its job).
    ("TradeSensePostgresWALArchivingFailing", "1m", "20m",
     [s("cnpg_pg_stat_archiver_failed_count", PG1, "3x30"),
      s("cnpg_pg_stat_archiver_seconds_since_last_archival", PG1, "60x30"), s("cnpg_pg_replication_in_recovery", PG1, "0x30"),
      s("cnpg_pg_stat_archiver_seconds_since_last_archival", PG2, "9000x30"), s("cnpg_pg_replication_in_recovery", PG2, "1x30")],
     []),
    ("TradeSenseBackupFailed", "10m", "3h", cronjob("redis-backup", 7200, 3600, 30),
     [labels("warning", namespace=NS, cronjob="redis-backup")]),
    ("TradeSenseBackupFailed", "10m", "3h",
     [s("barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp", PG1, "5000x30"),
      s("barman_cloud_cloudnative_pg_io_last_available_backup_timestamp", PG1, "4000x30")], [labels("warning", **NSL)]),
    ("TradeSenseBackupFailed", "10m", "3h",
     [*cronjob("redis-backup", 3600, 3700, 30), *cronjob("uploads-backup", 3600, 3900, 30),
      s("barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp", PG1, "1000x30"),
      s("barman_cloud_cloudnative_pg_io_last_available_backup_timestamp", PG1, "4000x30")], []),
    ("TradeSenseRedisBackupStale", "10m", "8h", cronjob("redis-backup", None, 0),
     [labels("warning", namespace=NS, cronjob="redis-backup")]),
    ("TradeSenseRedisBackupStale", "10m", "8h", UNRELATED, [labels("warning", namespace=NS, cronjob="redis-backup")]),
    ("TradeSenseRedisBackupStale", "10m", "8h", fresh_success("redis-backup", 600, 60), []),
    ("TradeSenseUploadsBackupStale", "10m", "27h", cronjob("uploads-backup", None, 0, 200),
     [labels("warning", namespace=NS, cronjob="uploads-backup")]),
    ("TradeSenseUploadsBackupStale", "10m", "27h", fresh_success("uploads-backup", 600, 200), []),
    ("TradeSenseRestoreDrillFailedOrMissing", "10m", "6h", cronjob("restore-drill", 7200, 3600),
     [labels("warning", namespace=NS, cronjob="restore-drill")]),
    ("TradeSenseRestoreDrillFailedOrMissing", "10m", "6h", UNRELATED,
     [labels("warning", namespace=NS, cronjob="restore-drill")]),
    ("TradeSenseRestoreDrillFailedOrMissing", "10m", "6h", cronjob("restore-drill", 3600, 3700), []),
    ("TradeSenseMaintenanceJobFailed", "10m", "6h", cronjob("postgres-vacuum", 7200, 3600),
     [labels("warning", namespace=NS, cronjob="postgres-vacuum")]),
    # Scheduled but never succeeded.
    ("TradeSenseMaintenanceJobFailed", "10m", "6h", cronjob("postgres-reindex", 7200, None),
     [labels("warning", namespace=NS, cronjob="postgres-reindex")]),
    ("TradeSenseMaintenanceJobFailed", "10m", "6h",
     [*cronjob("postgres-vacuum", 3600, 3700), *cronjob("postgres-reindex", 3600, 4000)], []),
]
