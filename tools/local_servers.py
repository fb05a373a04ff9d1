"""Real PostgreSQL 15, Redis and an S3 API (moto) on 127.0.0.1, for the ops/ round trips.

Shared by tests/ops/ and tools/bench_backup.py. Each server gets a free port and its own
directory, and is stopped by `close()`. Nothing listens beyond loopback, and the scripts get
an environment that points every client at these servers only (no ~/.aws, no metadata).
PostgreSQL refuses to run as root, so as root every server and script runs as the `postgres`
OS user (created by the Debian package) via setpriv.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
SCRIPT_USER = "postgres"


def _user_can_read(path: Path) -> bool:
    """Whether the script user (as root: `postgres`) can reach `path`; a checkout under a 0700
    home folder is not reachable by anyone else."""
    if os.geteuid() != 0 or not path.exists():
        return True
    return subprocess.run(["setpriv", f"--reuid={SCRIPT_USER}", f"--regid={SCRIPT_USER}", "--init-groups", "--",
                           "test", "-r", str(path)], capture_output=True).returncode == 0


def _share(ops: Path, venv: Path) -> tuple[Path, Path]:
    """ops/ and the ops venv, copied once into a world-readable folder the script user can enter.
    The venv's scripts name their interpreter by absolute path, so their first lines are rewritten."""
    import hashlib

    digest = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    share = Path(tempfile.gettempdir()) / f"tradesense-ops-share-{os.getuid()}-{digest}"
    stamp = share / ".copied"
    sources = [*ops.rglob("*"), venv / "pyvenv.cfg"]
    newest = max((p.stat().st_mtime for p in sources if p.is_file()), default=0)
    if not stamp.exists() or stamp.stat().st_mtime < newest:
        shutil.rmtree(share, ignore_errors=True)
        share.mkdir(mode=0o755)
        shutil.copytree(ops, share / "ops", symlinks=True)
        if venv.exists():
            shutil.copytree(venv, share / "ops-venv", symlinks=True)
            old, new = f"#!{venv.resolve()}/".encode(), f"#!{share / 'ops-venv'}/".encode()
            for script in (share / "ops-venv" / "bin").iterdir():
                if script.is_file() and not script.is_symlink() and script.read_bytes().startswith(old):
                    script.write_bytes(script.read_bytes().replace(old, new, 1))
        for path in [share, *share.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() or path.stat().st_mode & 0o100 else 0))
        stamp.touch()
    return share / "ops", share / "ops-venv" / "bin"


OPS = ROOT / "ops"
VENV_BIN = ROOT / "venv" / "bin"
# The job image's Python tools (ops/requirements.txt) in a venv on the system Python, which the
# unprivileged script user can execute (make test builds it).
OPS_BIN = ROOT / "build" / "ops-venv" / "bin"
if not _user_can_read(OPS / "lib.sh"):
    OPS, OPS_BIN = _share(OPS, OPS_BIN.parent)
PG_BIN = Path("/usr/lib/postgresql/15/bin")
LOOPBACK = "127.0.0.1"
# Fake credentials for the local S3 API; tests assert they never appear in output.
S3_KEY_ID = "AKIALOCALTESTKEY0001"
S3_SECRET = "local-s3-secret-Zq8wX3vN5tR7yU1o"
TOOLS = {
    "initdb": PG_BIN / "initdb",
    "pg_ctl": PG_BIN / "pg_ctl",
    "psql": Path("/usr/bin/psql"),
    "redis-server": Path("/usr/bin/redis-server"),
    "redis-cli": Path("/usr/bin/redis-cli"),
    "redis-check-rdb": Path("/usr/bin/redis-check-rdb"),
    "jq": Path("/usr/bin/jq"),
    "shellcheck": Path("/usr/bin/shellcheck"),
    "aws": OPS_BIN / "aws",
    "barman-cloud-backup": OPS_BIN / "barman-cloud-backup",
    "moto_server": VENV_BIN / "moto_server",
}


def missing_tools(names: Sequence[str] = tuple(TOOLS)) -> list[str]:
    return [f"{name} ({TOOLS[name]})" for name in names if not TOOLS[name].exists()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _run_as() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={SCRIPT_USER}", f"--regid={SCRIPT_USER}", "--init-groups", "--"]


def base_env(s3_endpoint: str) -> dict[str, str]:
    """Only what the scripts need: tool paths and the local S3 API's fake credentials."""
    return {
        "PATH": f"{OPS_BIN}:{PG_BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/nonexistent",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "AWS_ACCESS_KEY_ID": S3_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        # S3-compatible stores reject the newer default checksums (plugin-barman-cloud #393).
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
        "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
        "AWS_MAX_ATTEMPTS": "2",
        "S3_ENDPOINT_URL": s3_endpoint,
    }


@dataclass
class Workspace:
    """A directory the script user owns, and the processes started in it."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tradesense-ops-")))
    processes: list[subprocess.Popen] = field(default_factory=list)
    # Postgres data directories started with pg_ctl (which daemonizes).
    postgres_dirs: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        atexit.register(self.close)
        self.root.chmod(0o755)
        self._own(self.root)

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(path, user.pw_uid, user.pw_gid)

    def dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        self._own(path)
        return path

    def run(self, args: Sequence[str], env: dict[str, str], timeout: float = 300, check: bool = False,
            input: Optional[str] = None) -> subprocess.CompletedProcess:
        try:
            proc = subprocess.run([*_run_as(), *map(str, args)], env=env, capture_output=True, text=True,
                                  timeout=timeout, cwd=self.root, input=input)
        except subprocess.TimeoutExpired as hung:
            raise AssertionError(f"{args[0]} did not finish within {timeout:g}s\n{_text(hung.stdout)}\n"
                                 f"{_text(hung.stderr)}\n{self.server_logs()}") from None
        if check and proc.returncode != 0:
            raise AssertionError(f"{args[0]} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def server_logs(self, lines: int = 20) -> str:
        """The last lines of every server's log, for a failure that needs them."""
        tails = [f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
                 for log in sorted(self.root.rglob("*.log"))]
        return "\n".join(tails)

    def start(self, args: Sequence[str], env: dict[str, str], log: str, as_user: bool = True) -> subprocess.Popen:
        out = open(self.root / log, "wb")
        proc = subprocess.Popen([*(_run_as() if as_user else []), *map(str, args)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=self.root, start_new_session=True)
        self.processes.append(proc)
        return proc

    def close(self) -> None:
        for data in self.postgres_dirs:
            if (data / "postmaster.pid").exists():
                subprocess.run([*_run_as(), str(TOOLS["pg_ctl"]), "-D", str(data), "-m", "immediate", "stop"],
                               capture_output=True, timeout=60)
        for proc in self.processes:
            if proc.poll() is None and proc.pid > 0:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def wait_for_port(port: int, timeout: float = 30, proc: Optional[subprocess.Popen] = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {LOOPBACK}:{port} after {timeout}s")


@dataclass
class S3Server:
    ws: Workspace
    port: int = 0
    proc: Optional[subprocess.Popen] = None

    def start(self) -> "S3Server":
        self.port = free_port()
        self.proc = self.ws.start([TOOLS["moto_server"], "-H", LOOPBACK, "-p", str(self.port)],
                                  {**base_env(""), "MOTO_ALLOW_NONEXISTENT_REGION": "true"}, f"moto-{self.port}.log", as_user=False)
        wait_for_port(self.port, proc=self.proc)
        return self

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=S3_KEY_ID, aws_secret_access_key=S3_SECRET)


@dataclass
class Postgres:
    """An initdb'd cluster with WAL archiving through `archive_command`."""

    ws: Workspace
    env: dict[str, str]
    name: str = "pg"
    port: int = 0

    @property
    def data(self) -> Path:
        return self.ws.root / self.name / "data"

    @property
    def socket_dir(self) -> Path:
        return self.ws.root / self.name / "run"

    def init(self, password: str, settings: dict[str, str]) -> "Postgres":
        self.port = free_port()
        self.ws.dir(self.name)
        self.ws.dir(f"{self.name}/run")
        pwfile = self.ws.root / self.name / "pw"
        pwfile.write_text(password + "\n")
        self.ws._own(pwfile)
        self.ws.run([TOOLS["initdb"], "-D", self.data, "-U", "postgres", "--pwfile", pwfile, "--data-checksums",
                     "-E", "UTF8", "--locale", "C.UTF-8", "--auth-local", "peer", "--auth-host", "scram-sha-256"],
                    self.env, check=True)
        pwfile.unlink()
        conf = {"listen_addresses": f"'{LOOPBACK}'", "port": str(self.port),
                "unix_socket_directories": f"'{self.socket_dir}'", "wal_level": "replica", **settings}
        with open(self.data / "postgresql.auto.conf", "a") as handle:
            handle.writelines(f"{k} = {v}\n" for k, v in conf.items())
        return self

    def start(self) -> "Postgres":
        self.ws.postgres_dirs.append(self.data)
        self.ws.run([TOOLS["pg_ctl"], "-D", self.data, "-l", self.ws.root / self.name / "server.log", "-w", "start"],
                    self.env, check=True, timeout=120)
        return self

    def stop(self, mode: str = "fast") -> None:
        self.ws.run([TOOLS["pg_ctl"], "-D", self.data, "-m", mode, "-w", "stop"], self.env, timeout=120)

    def sql(self, query: str, db: str = "postgres", check: bool = True) -> str:
        proc = self.ws.run([TOOLS["psql"], "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir,
                            "-p", str(self.port), "-U", "postgres", "-d", db, "-c", query], self.env, check=check)
        return proc.stdout.strip()


def _text(stream: Optional[bytes | str]) -> str:
    return stream.decode(errors="replace") if isinstance(stream, bytes) else (stream or "")


@dataclass
class Redis:
    ws: Workspace
    env: dict[str, str]
    password: str
    name: str = "redis"
    port: int = 0

    def start(self, directory: Optional[Path] = None) -> "Redis":
        self.port = free_port()
        folder = directory or self.ws.dir(self.name)
        conf = self.ws.root / f"{self.name}.conf"
        conf.write_text(f"requirepass {self.password}\n")
        self.ws._own(conf)
        proc = self.ws.start([TOOLS["redis-server"], conf, "--bind", LOOPBACK, "--port", str(self.port),
                              "--dir", folder, "--save", "", "--appendonly", "no", "--enable-debug-command", "local"],
                             self.env, f"{self.name}-{self.port}.log")
        wait_for_port(self.port, proc=proc)
        return self

    def cli(self, *args: str) -> str:
        proc = self.ws.run([TOOLS["redis-cli"], "-h", LOOPBACK, "-p", str(self.port), "--no-auth-warning", *args],
                           {**self.env, "REDISCLI_AUTH": self.password}, check=True)
        return proc.stdout.strip()
