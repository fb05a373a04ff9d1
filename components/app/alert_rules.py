"""TradeSense alerting and recording rules (the guide's "Alerting Rules", corrected).

The guide's examples do not measure what they say:
- `rate(tradesense_http_requests_total{status=~"5.."}[5m]) > 0.05` fires at 0.05 errors per
  second (3 a minute) whatever the traffic, and never at 100% errors on a quiet system. An
  error *rate* is errors divided by all requests.
- `histogram_quantile(0.95, tradesense_http_request_duration_seconds)` feeds a bare metric
  name to histogram_quantile: the function needs the per-`le` rate of the `_bucket` series,
  summed across pods, or it returns nothing.

Expressions live here once; the alerts and the Grafana dashboard both use them.
"""

from __future__ import annotations

from components.app.workloads import BACKEND

WINDOW = "5m"
ERROR_RATIO_THRESHOLD = 0.05  # the guide's 5%
P95_SECONDS_THRESHOLD = 0.5  # the guide's 500 ms


def _selector(namespace: str, extra: str = "") -> str:
    return f'{{namespace="{namespace}",job="{BACKEND.name}"{extra}}}'


def request_rate(namespace: str) -> str:
    return f"sum by (namespace) (rate(tradesense_http_requests_total{_selector(namespace)}[{WINDOW}]))"


def error_ratio(namespace: str) -> str:
    server_errors = _selector(namespace, ',status=~"5.."')
    errors = f"sum by (namespace) (rate(tradesense_http_requests_total{server_errors}[{WINDOW}]))"
    return f"{errors}\n/\n{request_rate(namespace)}"


def p95_latency(namespace: str) -> str:
    buckets = f"rate(tradesense_http_request_duration_seconds_bucket{_selector(namespace)}[{WINDOW}])"
    return f"histogram_quantile(0.95, sum by (namespace, le) ({buckets}))"


def rule_groups(namespace: str) -> list[dict]:
    up = f'up{_selector(namespace)}'
    return [
        {
            "name": "tradesense.recording",
            "rules": [
                {"record": "tradesense:http_requests:rate5m", "expr": request_rate(namespace)},
                {"record": "tradesense:http_errors:ratio_rate5m", "expr": error_ratio(namespace)},
                {"record": "tradesense:http_request_duration_seconds:p95_5m", "expr": p95_latency(namespace)},
            ],
        },
        {
            "name": "tradesense.alerts",
            "rules": [
                {
                    "alert": "TradeSenseHighErrorRate",
                    "expr": f"tradesense:http_errors:ratio_rate5m > {ERROR_RATIO_THRESHOLD}",
                    "for": "5m",
                    "labels": {"severity": "critical"},
                    "annotations": {
                        "summary": "High error rate detected",
                        "description": f"More than {ERROR_RATIO_THRESHOLD:.0%} of backend requests failed with 5xx over {WINDOW}.",
                    },
                },
                {
                    "alert": "TradeSenseHighResponseTime",
                    "expr": f"tradesense:http_request_duration_seconds:p95_5m > {P95_SECONDS_THRESHOLD}",
                    "for": "5m",
                    "labels": {"severity": "warning"},
                    "annotations": {
                        "summary": "95th percentile response time > 500ms",
                        "description": f"Backend p95 latency has been above {P95_SECONDS_THRESHOLD * 1000:.0f} ms for 5 minutes.",
                    },
                },
                {
                    # No scrape target at all is as bad as every target down.
                    "alert": "TradeSenseBackendDown",
                    "expr": f"sum({up}) == 0 or absent({up})",
                    "for": "5m",
                    "labels": {"severity": "critical"},
                    "annotations": {
                        "summary": "No backend pod is being scraped successfully",
                        "description": "Prometheus has had no healthy backend target for 5 minutes.",
                    },
                },
            ],
        },
    ]
