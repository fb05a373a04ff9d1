"""tools.smoke against local HTTPS/HTTP servers on 127.0.0.1 with a self-signed CA (no other traffic)."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tools import smoke

DOMAIN = "tradesense.test"
NAMES = [DOMAIN, f"www.{DOMAIN}", f"api.{DOMAIN}"]
GOOD_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "X-XSS-Protection": "1; mode=block",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(tmp: Path, names: list[str], days: int) -> tuple[Path, Path, Path]:
    """A CA and a leaf certificate for `names`, valid `days` more days."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("Smoke Test CA")).issuer_name(_name("Smoke Test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days, hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = tmp / "ca.pem", tmp / "leaf.pem", tmp / "leaf.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return ca_file, cert_file, key_file


@dataclass
class Behaviour:
    headers: dict = field(default_factory=lambda: dict(GOOD_HEADERS))
    ready_status: int = 200
    delay: float = 0.0
    hits: list = field(default_factory=list)


def handler_for(behaviour: Behaviour, tls: bool):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            behaviour.hits.append((self.headers.get("Host"), self.path))
            if not tls:
                self.send_response(308)
                self.send_header("Location", f"https://{self.headers.get('Host', '').split(':')[0]}{self.path}")
                self.end_headers()
                return
            time.sleep(behaviour.delay)
            status = behaviour.ready_status if self.path.endswith("/ready") else 200
            self.send_response(status)
            for name, value in behaviour.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(b'{"status":"ok"}')

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def servers(tmp_path):
    """Start an HTTPS and an HTTP server on 127.0.0.1; yield a function that runs the smoke CLI."""
    started = []

    def start(behaviour: Behaviour, names=NAMES, days=60):
        ca_file, cert_file, key_file = make_pki(tmp_path, names, days)
        https = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(behaviour, tls=True))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        https.socket = context.wrap_socket(https.socket, server_side=True)
        http = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(behaviour, tls=False))
        for server in (https, http):
            threading.Thread(target=server.serve_forever, daemon=True).start()
            started.append(server)
        outputs = tmp_path / "outputs.json"
        outputs.write_text(json.dumps({"hostnames": NAMES, "kubeconfig": "[secret]", "cloud": "doks"}))
        return [
            "--outputs", str(outputs), "--connect", "127.0.0.1", "--https-port", str(https.server_address[1]),
            "--http-port", str(http.server_address[1]), "--ca-file", str(ca_file), "--timeout", "5",
            "--retries", "2", "--retry-delay", "0", "--load-requests", "20", "--load-seconds", "20",
        ]

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def row(out: str, check: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(check))


def test_healthy_stack_passes_every_check(servers, capsys):
    behaviour = Behaviour()
    assert smoke.main(servers(behaviour)) == 0
    out = capsys.readouterr().out
    assert "all 7 checks passed" in out
    assert "chain verified (issuer Smoke Test CA); 3 names" in row(out, "tls certificate")
    assert (f"api.{DOMAIN}", smoke.BACKEND_READY) in [(h.split(":")[0], p) for h, p in behaviour.hits]
    assert "p50" in row(out, "load (p50, errors)")


def test_missing_security_headers_fail_with_their_names(servers, capsys):
    behaviour = Behaviour(headers={k: v for k, v in GOOD_HEADERS.items() if k not in ("X-Frame-Options", "Referrer-Policy")})
    assert smoke.main(servers(behaviour)) == 1
    out = capsys.readouterr().out
    line = row(out, "security headers")
    assert "FAIL" in line and "missing: X-Frame-Options, Referrer-Policy" in line
    assert "1 of 7 checks failed" in out


def test_weak_hsts_fails(servers, capsys):
    behaviour = Behaviour(headers=dict(GOOD_HEADERS, **{"Strict-Transport-Security": "max-age=300"}))
    assert smoke.main(servers(behaviour)) == 1
    assert "HSTS max-age below one year" in row(capsys.readouterr().out, "security headers")


def test_failing_readiness_is_retried_a_bounded_number_of_times(servers, capsys):
    behaviour = Behaviour(ready_status=503)
    assert smoke.main(servers(behaviour)) == 1
    assert "-> 503" in row(capsys.readouterr().out, "backend readiness")
    assert sum(1 for _, path in behaviour.hits if path == smoke.BACKEND_READY) == 2  # --retries 2


def test_certificate_missing_a_name_and_near_expiry_fails(servers, capsys):
    args = servers(Behaviour(), names=NAMES[:2], days=5)
    assert smoke.main(args) == 1
    line = row(capsys.readouterr().out, "tls certificate")
    assert f"names missing: api.{DOMAIN}" in line and "expires in 5 days (< 14)" in line


def test_untrusted_chain_fails(servers, capsys):
    args = servers(Behaviour())
    args[args.index("--ca-file") : args.index("--ca-file") + 2] = []
    assert smoke.main(args) == 1
    assert "CERTIFICATE_VERIFY_FAILED" in row(capsys.readouterr().out, "tls certificate")


def test_slow_backend_fails_the_load_verdict(servers, capsys):
    args = servers(Behaviour(delay=0.25))
    args[args.index("--load-requests") + 1] = "4"
    assert smoke.main(args) == 1
    line = row(capsys.readouterr().out, "load (p50, errors)")
    assert "FAIL" in line and "4 requests" in line


@pytest.mark.parametrize("args, message", [([], "give --outputs FILE"), (["--outputs", "/nonexistent.json"], "cannot read stack outputs"), (["--domain", "x.test", "--retries", "50"], "bounds")])
def test_usage_errors_exit_2(args, message, capsys):
    assert smoke.main(args) == 2
    assert message in capsys.readouterr().err
