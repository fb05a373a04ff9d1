"""TradeSense alerting and recording rules: every failure that matters, each with a runbook.

The guide's examples do not measure what they say:
- `rate(tradesense_http_requests_total{status=~"5.."}[5m]) > 0.05` fires at 0.05 errors per
  second (3 a minute) whatever the traffic, and never at 100% errors on a quiet system. An
  error *rate* is errors divided by all requests.
- `histogram_quantile(0.95, tradesense_http_request_duration_seconds)` feeds a bare metric
  name to histogram_quantile: the function needs the per-`le` rate of the `_bucket` series,
  summed across pods, or it returns nothing.

The guide's "key metrics" targets (p50 < 200 ms, errors < 0.1%, CPU < 70%, memory < 80%,
cache hits > 80%) become alerts; the 0.1% error target is a 99.9% availability SLO with the
Google SRE workbook's multi-window, multi-burn-rate alerts. Postgres (CloudNativePG) and backup
alerts use the metric names agreed in COORDINATION.md. Crash-looping and pending pods, a maxed
HPA and failed Jobs are kube-prometheus-stack's default `kubernetesApps` rules (kept on and
routed, see DEFAULT_RULE_ALERTS); they are not copied here.

Expressions live here once; the alerts and the Grafana dashboards both use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from components.app import redis_exporter
from components.app.workloads import BACKEND
from components.organisation import RUNBOOK_URL  # where the `## <AlertName>` sections live

WINDOW = "5m"
ERROR_RATIO_THRESHOLD = 0.05  # the guide's 5%: a hard outage, pages at once
P95_SECONDS_THRESHOLD = 0.5  # the guide's 500 ms
P50_SECONDS_THRESHOLD = 0.2  # the guide's "Response times < 200ms (p50)"
CPU_RATIO_THRESHOLD = 0.7  # "CPU usage < 70%" (of the container limits)
MEMORY_RATIO_THRESHOLD = 0.8  # "Memory usage < 80%"
CACHE_HIT_RATIO_THRESHOLD = 0.8  # "Cache hit rate > 80%"
SLO_TARGET = 0.999  # "Error rate < 0.1%"
ERROR_BUDGET = round(1 - SLO_TARGET, 6)
PVC_FULL_RATIO = 0.8
DAY = 86400


# Service of the redis_exporter sidecar; Prometheus names the job after it.
REDIS_METRICS_SERVICE = redis_exporter.SERVICE_NAME
# Label the ServiceMonitor puts on targets of the backend's custom metrics endpoint.
CUSTOM_ENDPOINT_LABEL = "metrics_endpoint"
POSTGRES_CLUSTER = "postgres"  # the CloudNativePG Cluster (COORDINATION.md)

# (page window, short window, burn rate, severity) from the SRE workbook, chapter 5, table 5-8.
BURN_RATE_WINDOWS = {
    "critical": (("1h", "5m", 14.4), ("6h", "30m", 6)),
    "warning": (("1d", "2h", 3), ("3d", "6h", 1)),
}
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")

# kube-prometheus-stack default alerts this project relies on (groups `kubernetesApps` and
# `kubernetesStorage`, kept on in components/platform/monitoring.py); the runbook has a section
# for each, and the routing treats them like ours (by severity).
DEFAULT_RULE_ALERTS = ("KubePodCrashLooping", "KubePodNotReady", "KubeHpaMaxedOut", "KubeJobFailed",
                       "KubePersistentVolumeFillingUp")

# The latency alerts that backend-down makes pointless (Alertmanager inhibits them).
LATENCY_ALERTS = ("TradeSenseHighResponseTime", "TradeSenseHighMedianLatency")


def runbook_anchor(alert: str) -> str:
    """GitHub's anchor for a `## <heading>`: lowercase, spaces to dashes, punctuation dropped."""
    return re.sub(r"[^a-z0-9 _-]", "", alert.lower()).replace(" ", "-")


def runbook_url(alert: str) -> str:
    return f"{RUNBOOK_URL}#{runbook_anchor(alert)}"


def _selector(namespace: str, extra: str = "") -> str:
    return f'{{namespace="{namespace}",job="{BACKEND.name}"{extra}}}'


def request_rate(namespace: str, window: str = WINDOW) -> str:
    return f"sum by (namespace) (rate(tradesense_http_requests_total{_selector(namespace)}[{window}]))"


def error_ratio(namespace: str, window: str = WINDOW) -> str:
    server_errors = _selector(namespace, ',status=~"5.."')
    errors = f"sum by (namespace) (rate(tradesense_http_requests_total{server_errors}[{window}]))"
    return f"{errors}\n/\n{request_rate(namespace, window)}"


def latency_quantile(namespace: str, quantile: float, by: str = "namespace") -> str:
    buckets = f"rate(tradesense_http_request_duration_seconds_bucket{_selector(namespace)}[{WINDOW}])"
    return f"histogram_quantile({quantile}, sum by ({by}, le) ({buckets}))"


def p95_latency(namespace: str) -> str:
    return latency_quantile(namespace, 0.95)


def p50_latency(namespace: str) -> str:
    return latency_quantile(namespace, 0.5)


def pod_usage_ratio(namespace: str, resource: str) -> str:
    """Per pod, usage over the sum of its containers' limits (cAdvisor over kube-state-metrics)."""
    containers = f'{{namespace="{namespace}",container!="",container!="POD"}}'
    usage = (f"rate(container_cpu_usage_seconds_total{containers}[{WINDOW}])" if resource == "cpu"
             else f"container_memory_working_set_bytes{containers}")
    limits = f'kube_pod_container_resource_limits{{namespace="{namespace}",resource="{resource}"}}'
    return f"sum by (namespace, pod) ({usage})\n/\nsum by (namespace, pod) ({limits})"


def redis_series(namespace: str) -> str:
    return f'{{namespace="{namespace}",job="{REDIS_METRICS_SERVICE}"}}'


def cache_hit_ratio(namespace: str) -> str:
    r = redis_series(namespace)
    hits = f"sum by (namespace) (rate(redis_keyspace_hits_total{r}[10m]))"
    misses = f"sum by (namespace) (rate(redis_keyspace_misses_total{r}[10m]))"
    return f"{hits}\n/\n({hits} + {misses})"


def postgres_series(namespace: str, extra: str = "") -> str:
    return f'{{namespace="{namespace}",pod=~"{POSTGRES_CLUSTER}-[0-9]+"{extra}}}'


def cronjob_series(namespace: str, cronjobs: str) -> str:
    op = "=~" if "|" in cronjobs else "="
    return f'{{namespace="{namespace}",cronjob{op}"{cronjobs}"}}'


def last_success_age(namespace: str, cronjobs: str) -> str:
    return f"time() - max by (namespace, cronjob) (kube_cronjob_status_last_successful_time{cronjob_series(namespace, cronjobs)})"


def last_run_unsuccessful(namespace: str, cronjobs: str) -> str:
    """The latest scheduled run has not (yet) succeeded; `for:` gives it time to finish.

    Unlike `kube_job_status_failed > 0`, this clears as soon as a later run succeeds (a failed
    Job stays in the CronJob's history and would keep the alert firing).
    """
    series = cronjob_series(namespace, cronjobs)
    scheduled = f"max by (namespace, cronjob) (kube_cronjob_status_last_schedule_time{series})"
    succeeded = f"max by (namespace, cronjob) (kube_cronjob_status_last_successful_time{series})"
    return f"({scheduled} > {succeeded})\nor\n({scheduled} unless {succeeded})"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    severity: str
    summary: str
    description: str
    for_: Optional[str] = "5m"

    def rule(self) -> dict:
        rule: dict = {"alert": self.name, "expr": self.expr}
        if self.for_:
            rule["for"] = self.for_
        rule["labels"] = {"severity": self.severity}
        rule["annotations"] = {"summary": self.summary, "description": self.description, "runbook_url": runbook_url(self.name)}
        return rule


def _absent_or_older(metric_age: str, absent_of: str, seconds: int) -> str:
    return f"({metric_age}) > {seconds}\nor\nabsent({absent_of})"


def _burn_rate_expr(pairs: tuple) -> str:
    parts = []
    for long, short, rate in pairs:
        threshold = f"{rate * ERROR_BUDGET:g}"
        parts.append(f"(tradesense:http_errors:ratio_rate{long} > {threshold}\nand\n"
                     f"tradesense:http_errors:ratio_rate{short} > {threshold})")
    return "\nor\n".join(parts)


def slo_alerts() -> list[Alert]:
    def describe(pairs: tuple) -> str:
        return "; or ".join(f"over {long} and {short} at {rate}x" for long, short, rate in pairs)

    return [
        Alert("TradeSenseErrorBudgetBurnFast", _burn_rate_expr(BURN_RATE_WINDOWS["critical"]), "critical",
              "Backend is burning its 99.9% error budget fast",
              f"5xx ratio above the 30-day budget's burn threshold {describe(BURN_RATE_WINDOWS['critical'])}: "
              "at this pace the month's budget is gone within days.", "2m"),
        Alert("TradeSenseErrorBudgetBurnSlow", _burn_rate_expr(BURN_RATE_WINDOWS["warning"]), "warning",
              "Backend is steadily burning its 99.9% error budget",
              f"5xx ratio above the budget's burn threshold {describe(BURN_RATE_WINDOWS['warning'])}: "
              "open a ticket, the SLO will be missed this month at this pace.", "15m"),
    ]


def alerts(namespace: str, postgres_instances: int = 1) -> list[Alert]:
    # Only the /metrics targets: the custom endpoint has its own target (and `up` series).
    not_custom = f',{CUSTOM_ENDPOINT_LABEL}!="custom"'
    up = f"up{_selector(namespace, not_custom)}"
    pg = postgres_series(namespace)
    redis = redis_series(namespace)
    pvc = f'{{namespace="{namespace}"}}'
    max_connections = postgres_series(namespace, ',name="max_connections"')
    barman = f'{{namespace="{namespace}"}}'
    found: list[Alert] = [
        # No scrape target at all is as bad as every target down.
        # Each alert keeps a `namespace` label, so Alertmanager's inhibitions can match on it.
        Alert("TradeSenseBackendDown", f"sum by (namespace) ({up}) == 0 or absent({up})", "critical",
              "No backend pod is being scraped successfully",
              "Prometheus has had no healthy backend target for 5 minutes."),
        Alert("TradeSenseHighErrorRate", f"tradesense:http_errors:ratio_rate5m > {ERROR_RATIO_THRESHOLD}", "critical",
              "High error rate detected",
              f"More than {ERROR_RATIO_THRESHOLD:.0%} of backend requests failed with 5xx over {WINDOW}."),
        Alert("TradeSenseHighResponseTime", f"tradesense:http_request_duration_seconds:p95_5m > {P95_SECONDS_THRESHOLD}",
              "warning", "95th percentile response time > 500ms",
              f"Backend p95 latency has been above {P95_SECONDS_THRESHOLD * 1000:.0f} ms for 5 minutes."),
        Alert("TradeSenseHighMedianLatency", f"tradesense:http_request_duration_seconds:p50_5m > {P50_SECONDS_THRESHOLD}",
              "warning", "Median response time > 200ms",
              f"Backend p50 latency has been above the guide's {P50_SECONDS_THRESHOLD * 1000:.0f} ms target for 10 minutes.",
              "10m"),
        *slo_alerts(),
        Alert("TradeSenseHighCpuUsage", f"{pod_usage_ratio(namespace, 'cpu')}\n> {CPU_RATIO_THRESHOLD}", "warning",
              "A TradeSense pod uses more than 70% of its CPU limit",
              "CPU above the guide's 70% target for 15 minutes; near the limit the pod is throttled.", "15m"),
        Alert("TradeSenseHighMemoryUsage", f"{pod_usage_ratio(namespace, 'memory')}\n> {MEMORY_RATIO_THRESHOLD}", "warning",
              "A TradeSense pod uses more than 80% of its memory limit",
              "Working set above the guide's 80% target for 15 minutes; at the limit the pod is OOM-killed.", "15m"),
        Alert("TradeSenseLowCacheHitRate", f"{cache_hit_ratio(namespace)}\n< {CACHE_HIT_RATIO_THRESHOLD}", "warning",
              "Redis cache hit rate below 80%",
              "Fewer than 80% of Redis key lookups hit over 10 minutes, for 30 minutes: more load reaches Postgres.",
              "30m"),
        Alert("TradeSensePostgresDown", f"max by (namespace) (cnpg_collector_up{pg}) == 0 or absent(cnpg_collector_up{pg})",
              "critical",
              "No Postgres instance is up",
              f"No instance of the CloudNativePG cluster `{POSTGRES_CLUSTER}` has reported a working Postgres for 5 minutes."),
        Alert("TradeSensePostgresReplicationLag", f"max by (namespace, pod) (cnpg_pg_replication_lag{pg}) > 30", "warning",
              "A Postgres replica lags more than 30 s",
              "A standby is more than 30 seconds behind the primary; a failover now would lose that much.", "10m"),
        Alert("TradeSensePostgresConnectionsNearLimit",
              f"sum by (namespace, pod) (cnpg_backends_total{pg})\n/\n"
              f"max by (namespace, pod) (cnpg_pg_settings_setting{max_connections})"
              f"\n> 0.8", "warning",
              "Postgres connections above 80% of max_connections",
              "New connections will be refused once max_connections is reached."),
        Alert("TradeSenseRedisDown", f"max by (namespace) (redis_up{redis}) == 0 or absent(redis_up{redis})", "critical",
              "Redis is down", "The redis_exporter sidecar has not reached a working Redis for 5 minutes (or is not scraped)."),
        Alert("TradeSenseRedisMemoryNearMax",
              f"max by (namespace, pod) (redis_memory_used_bytes{redis})\n/\n"
              f"max by (namespace, pod) (redis_memory_max_bytes{redis} > 0)\n> 0.9", "warning",
              "Redis memory above 90% of maxmemory",
              "Redis is about to evict keys (allkeys-lru) or refuse writes (noeviction).", "10m"),
        Alert("TradeSensePersistentVolumeFilling",
              f"max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes{pvc}\n/\n"
              f"kubelet_volume_stats_capacity_bytes{pvc})\n> {PVC_FULL_RATIO}", "warning",
              "A TradeSense volume is more than 80% full", "Grow the claim before the data store stops writing."),
        Alert("TradeSensePersistentVolumeFullIn24h",
              f"max by (namespace, persistentvolumeclaim) (predict_linear(kubelet_volume_stats_available_bytes{pvc}[6h], {DAY}))\n< 0",
              "critical", "A TradeSense volume will be full within 24 hours",
              "At the last 6 hours' growth the volume runs out of space within a day.", "1h"),
        Alert("TradeSenseCertificateExpiringSoon",
              _certificate_namespace("min without (instance, pod, container, endpoint, service, job) "
                                     "(certmanager_certificate_expiration_timestamp_seconds)") + f" - time() < {14 * DAY}",
              "warning", "A TLS certificate expires within 14 days",
              "cert-manager renews 30 days before expiry, so renewal has been failing for over two weeks.", "1h"),
        Alert("TradeSenseCertificateNotReady",
              _certificate_namespace("max without (instance, pod, container, endpoint, service, job) "
                                     '(certmanager_certificate_ready_status{condition!="True"})') + " == 1",
              "warning", "A TLS certificate is not ready",
              "cert-manager reports the Certificate not Ready for 15 minutes: issuance or renewal is failing.", "15m"),
        Alert("TradeSensePostgresBackupStale",
              _absent_or_older(f"time() - max by (namespace) (barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{barman})",
                               f"barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{barman}", 26 * 3600),
              "critical", "No Postgres base backup in 26 hours",
              "The daily ScheduledBackup `postgres-daily` has not produced a base backup for over 26 hours.", "15m"),
        Alert("TradeSensePostgresWALArchivingFailing",
              f"sum by (namespace, pod) (rate(cnpg_pg_stat_archiver_failed_count{pg}[5m])) > 0\nor\n"
              f"(max by (namespace, pod) (cnpg_pg_stat_archiver_seconds_since_last_archival{pg}) > 1800\n"
              f"and on (namespace, pod)\nmax by (namespace, pod) (cnpg_pg_replication_in_recovery{pg}) == 0)",
              "critical", "Postgres WAL archiving is failing",
              "The primary fails to archive WAL (or has archived none for 30 minutes): point-in-time recovery "
              "falls behind and pg_wal grows until the volume fills.", "10m"),
        Alert("TradeSenseBackupFailed",
              f"{last_run_unsuccessful(namespace, 'redis-backup|uploads-backup')}\nor\n"
              f"max by (namespace) (barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp{barman})\n>\n"
              f"max by (namespace) (barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{barman})",
              "warning", "The latest backup run failed",
              "The latest Redis or uploads backup run has not succeeded within an hour, or the latest Postgres "
              "base backup failed after the last good one.", "1h"),
        Alert("TradeSenseRedisBackupStale",
              _absent_or_older(last_success_age(namespace, "redis-backup"),
                               f'kube_cronjob_status_last_successful_time{cronjob_series(namespace, "redis-backup")}', 7 * 3600),
              "warning", "No Redis snapshot in 7 hours", "The six-hourly `redis-backup` CronJob has missed a run.", "15m"),
        Alert("TradeSenseUploadsBackupStale",
              _absent_or_older(last_success_age(namespace, "uploads-backup"),
                               f'kube_cronjob_status_last_successful_time{cronjob_series(namespace, "uploads-backup")}', 26 * 3600),
              "warning", "No uploads copy in 26 hours", "The daily `uploads-backup` CronJob has missed a run.", "15m"),
        Alert("TradeSenseRestoreDrillFailedOrMissing",
              f"{last_run_unsuccessful(namespace, 'restore-drill')}\nor\n"
              + _absent_or_older(last_success_age(namespace, "restore-drill"),
                                 f'kube_cronjob_status_last_successful_time{cronjob_series(namespace, "restore-drill")}', 8 * DAY),
              "warning", "The weekly restore drill failed or has not run",
              "No successful `restore-drill` in 8 days, or its latest run has not succeeded in 3 hours: the backups are unproven.",
              "3h"),
        Alert("TradeSenseMaintenanceJobFailed",
              last_run_unsuccessful(namespace, "postgres-vacuum|postgres-reindex"),
              "warning", "A Postgres maintenance job failed",
              "The latest `postgres-vacuum` or `postgres-reindex` run has not succeeded within 3 hours.", "3h"),
    ]
    if postgres_instances > 1:
        # The primary reports how many standbys stream from it; a lost one is a lost failover target.
        found.append(Alert(
            "TradeSensePostgresReplicaLost",
            f"max by (namespace) (cnpg_pg_replication_streaming_replicas{pg}) < {postgres_instances - 1}", "warning",
            "A Postgres standby is not streaming",
            f"Fewer than {postgres_instances - 1} standbys stream from the primary for 10 minutes: failover capacity is reduced.",
            "10m"))
    return found


def recording_rules(namespace: str) -> list[dict]:
    return [
        {"record": "tradesense:http_requests:rate5m", "expr": request_rate(namespace)},
        *({"record": f"tradesense:http_errors:ratio_rate{w}", "expr": error_ratio(namespace, w)} for w in SLO_WINDOWS),
        {"record": "tradesense:http_request_duration_seconds:p95_5m", "expr": p95_latency(namespace)},
        {"record": "tradesense:http_request_duration_seconds:p50_5m", "expr": p50_latency(namespace)},
    ]


def _certificate_namespace(expr: str) -> str:
    """cert-manager's series name the Certificate's own namespace (the edge's), and every rule's
    `namespace` label is the app's (rule_groups): keep the Certificate's as `certificate_namespace`."""
    return f'label_replace({expr}, "certificate_namespace", "$1", "namespace", "(.*)")'


def rule_groups(namespace: str, postgres_instances: int = 1) -> list[dict]:
    """Every rule carries labels.namespace (its series already have it): a rule's labels override
    its series', and the review admission policy refuses rules without it (review_admission.py)."""
    def own(rule: dict) -> dict:
        return {**rule, "labels": {**rule.get("labels", {}), "namespace": namespace}}

    return [
        {"name": "tradesense.recording", "rules": [own(r) for r in recording_rules(namespace)]},
        {"name": "tradesense.alerts", "rules": [own(a.rule()) for a in alerts(namespace, postgres_instances)]},
    ]
