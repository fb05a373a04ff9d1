"""Smoke tests and a short performance check against a deployed stack.

    pulumi stack output -s staging --json > outputs.json
    python -m tools.smoke --outputs outputs.json            # or: --domain tradesense.example.com

Reads the `hostnames` output (apex, www, api) and checks, each with bounded retries and timeouts:
- `https://<apex>/health` (frontend), `https://api.<apex>/api/v1/monitoring/health` and the
  readiness endpoint `.../health/ready` (backend) answer 200;
- the TLS certificate verifies (chain to a trusted root, or to `--ca-file`), names all three
  hosts and is valid for at least `--min-days` more days;
- the five security headers of the deployment guide are on the HTTPS response;
- `http://<apex>/` redirects to HTTPS;
- a short load check (`--load-requests` sequential requests, at most `--load-seconds`) on the
  backend health endpoint: p50 below 200 ms and an error rate below 0.1% (the guide's targets).
  Each request opens its own TLS connection, so the p50 is a worst case for a browser that
  keeps connections alive; it is a verdict, not a benchmark.

`--connect ADDRESS` sends every request to ADDRESS (SNI and Host stay the real names): for a
check before DNS moves, or a local test server. Exit codes: 0 all passed, 1 a check failed
(the table lists each), 2 usage error.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import ssl
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
FRONTEND_HEALTH = "/health"
BACKEND_HEALTH = "/api/v1/monitoring/health"
BACKEND_READY = "/api/v1/monitoring/health/ready"
# The guide's headers (components/platform/security_headers.py sets them at the edge).
SECURITY_HEADERS = ("Strict-Transport-Security", "X-Frame-Options", "X-Content-Type-Options", "X-XSS-Protection", "Referrer-Policy")
P50_LIMIT_MS = 200.0
ERROR_RATE_LIMIT = 0.001


class UsageError(ValueError):
    pass


@dataclass
class Target:
    hostnames: tuple[str, str, str]
    connect: Optional[str]
    https_port: int
    http_port: int
    context: ssl.SSLContext
    timeout: float


@dataclass
class Result:
    check: str
    ok: bool
    detail: str


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    cert: Optional[dict]


def request(target: Target, host: str, path: str, tls: bool = True) -> Response:
    """One GET to `host`, sent to --connect when given; redirects are not followed."""
    port = target.https_port if tls else target.http_port
    sock = socket.create_connection((target.connect or host, port), timeout=target.timeout)
    try:
        cert = None
        if tls:
            sock = target.context.wrap_socket(sock, server_hostname=host)
            cert = sock.getpeercert()
        conn = http.client.HTTPConnection(host, port, timeout=target.timeout)
        conn.sock = sock
        default_port = 443 if tls else 80
        conn.request("GET", path, headers={"Host": host if port == default_port else f"{host}:{port}", "User-Agent": "tradesense-smoke/1"})
        reply = conn.getresponse()
        reply.read()
        return Response(reply.status, {k.lower(): v for k, v in reply.getheaders()}, cert)
    finally:
        sock.close()


def with_retries(check: Callable[[], Result], attempts: int, delay: float) -> Result:
    result = Result("", False, "not run")
    for attempt in range(attempts):
        try:
            result = check()
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            result = Result("", False, f"{type(exc).__name__}: {exc}")
        if result.ok:
            return result
        if attempt + 1 < attempts:
            time.sleep(delay * (attempt + 1))
    return result


def check_status(target: Target, name: str, host: str, path: str) -> Callable[[], Result]:
    def run() -> Result:
        reply = request(target, host, path)
        return Result(name, reply.status == 200, f"GET https://{host}{path} -> {reply.status}")
    return run


def check_certificate(target: Target, min_days: int) -> Callable[[], Result]:
    def run() -> Result:
        apex = target.hostnames[0]
        cert = request(target, apex, FRONTEND_HEALTH).cert or {}  # verified by the context: chain and hostname
        names = {value for kind, value in cert.get("subjectAltName", ()) if kind == "DNS"}
        missing = [h for h in target.hostnames if h not in names and f"*.{h.split('.', 1)[-1]}" not in names]
        expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), tz=timezone.utc)
        days = (expires - datetime.now(timezone.utc)).days
        issuer = dict(x[0] for x in cert.get("issuer", ())).get("commonName", "?")
        problems = ([f"names missing: {', '.join(missing)}"] if missing else []) + ([f"expires in {days} days (< {min_days})"] if days < min_days else [])
        return Result("tls certificate", not problems, "; ".join(problems) or f"chain verified (issuer {issuer}); 3 names; {days} days to expiry")
    return run


def check_headers(target: Target) -> Callable[[], Result]:
    def run() -> Result:
        reply = request(target, target.hostnames[0], "/")
        missing = [h for h in SECURITY_HEADERS if h.lower() not in reply.headers]
        hsts = reply.headers.get("strict-transport-security", "")
        weak = [] if "strict-transport-security" not in reply.headers or _max_age(hsts) >= 31536000 else ["HSTS max-age below one year"]
        problems = ([f"missing: {', '.join(missing)}"] if missing else []) + weak
        return Result("security headers", not problems, "; ".join(problems) or "all five present")
    return run


def _max_age(value: str) -> int:
    for part in value.split(";"):
        key, _, number = part.strip().partition("=")
        if key.lower() == "max-age" and number.strip().isdigit():
            return int(number)
    return 0


def check_redirect(target: Target) -> Callable[[], Result]:
    def run() -> Result:
        apex = target.hostnames[0]
        reply = request(target, apex, "/", tls=False)
        location = reply.headers.get("location", "")
        ok = reply.status in (301, 302, 307, 308) and location.startswith(f"https://{apex}")
        return Result("http -> https redirect", ok, f"GET http://{apex}/ -> {reply.status} {location or '(no Location)'}")
    return run


def load_check(target: Target, requests: int, seconds: float) -> Result:
    host = target.hostnames[2]
    latencies, errors, deadline = [], 0, time.monotonic() + seconds
    for _ in range(requests):
        if time.monotonic() > deadline:
            break
        start = time.perf_counter()
        try:
            ok = request(target, host, BACKEND_HEALTH).status == 200
        except (OSError, ssl.SSLError, http.client.HTTPException):
            ok = False
        latencies.append((time.perf_counter() - start) * 1000)
        errors += not ok
    sent = len(latencies)
    p50 = statistics.median(latencies) if latencies else float("inf")
    rate = errors / sent if sent else 1.0
    ok = sent > 0 and p50 < P50_LIMIT_MS and rate < ERROR_RATE_LIMIT
    return Result("load (p50, errors)", ok, f"{sent} requests: p50 {p50:.1f} ms (< {P50_LIMIT_MS:.0f}), errors {rate:.2%} (< {ERROR_RATE_LIMIT:.1%})")


def run_checks(target: Target, attempts: int, delay: float, min_days: int, load_requests: int, load_seconds: float) -> list[Result]:
    apex, _, api = target.hostnames
    checks = [
        ("frontend /health", check_status(target, "frontend /health", apex, FRONTEND_HEALTH)),
        ("backend health", check_status(target, "backend health", api, BACKEND_HEALTH)),
        ("backend readiness", check_status(target, "backend readiness", api, BACKEND_READY)),
        ("tls certificate", check_certificate(target, min_days)),
        ("security headers", check_headers(target)),
        ("http -> https redirect", check_redirect(target)),
    ]
    results = []
    for name, check in checks:
        result = with_retries(check, attempts, delay)
        results.append(Result(name, result.ok, result.detail))
    if load_requests > 0:
        results.append(load_check(target, load_requests, load_seconds))
    return results


def render_table(results: list[Result]) -> str:
    width = max(len(r.check) for r in results)
    lines = [f"{'check':<{width}}  result  detail", f"{'-' * width}  ------  ------"]
    lines += [f"{r.check:<{width}}  {'PASS' if r.ok else 'FAIL':<6}  {r.detail}" for r in results]
    failed = [r for r in results if not r.ok]
    lines.append(f"\n{len(failed)} of {len(results)} checks failed" if failed else f"\nall {len(results)} checks passed")
    return "\n".join(lines)


def hostnames_from(outputs: Optional[Path], domain: Optional[str]) -> tuple[str, str, str]:
    if domain:
        return (domain, f"www.{domain}", f"api.{domain}")
    if outputs is None:
        raise UsageError("give --outputs FILE (from `pulumi stack output --json`) or --domain")
    try:
        data = json.loads(outputs.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"--outputs {outputs}: cannot read stack outputs ({getattr(exc, 'strerror', None) or exc})") from None
    names = data.get("hostnames") if isinstance(data, dict) else None
    if not (isinstance(names, list) and len(names) == 3 and all(isinstance(n, str) for n in names)):
        raise UsageError(f"--outputs {outputs}: expected a `hostnames` output with the apex, www and api names")
    return tuple(names)  # type: ignore[return-value]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--outputs", type=Path, help="`pulumi stack output --json` file")
    parser.add_argument("--domain", help="apex domain (instead of --outputs)")
    parser.add_argument("--connect", help="send every request to this address (keeps SNI and Host)")
    parser.add_argument("--https-port", type=int, default=443)
    parser.add_argument("--http-port", type=int, default=80)
    parser.add_argument("--ca-file", type=Path, help="trust this CA bundle instead of the system roots")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--retries", type=int, default=3, help="attempts per check")
    parser.add_argument("--retry-delay", type=float, default=5.0, help="seconds, times the attempt number")
    parser.add_argument("--min-days", type=int, default=14, help="minimum days before the certificate expires")
    parser.add_argument("--load-requests", type=int, default=200, help="0 skips the load check")
    parser.add_argument("--load-seconds", type=float, default=30.0)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    try:
        hostnames = hostnames_from(args.outputs, args.domain)
        if not 1 <= args.retries <= 10 or not 0 < args.timeout <= 60 or args.load_requests > 5000 or args.load_seconds > 300:
            raise UsageError("bounds: --retries 1-10, --timeout 0-60 s, --load-requests <= 5000, --load-seconds <= 300")
        context = ssl.create_default_context(cafile=str(args.ca_file) if args.ca_file else None)
    except (UsageError, OSError, ssl.SSLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    target = Target(hostnames, args.connect, args.https_port, args.http_port, context, args.timeout)
    results = run_checks(target, args.retries, args.retry_delay, args.min_days, args.load_requests, args.load_seconds)
    print(render_table(results))
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
