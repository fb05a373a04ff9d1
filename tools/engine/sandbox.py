"""A temporary copy of the project run by the real engine: its own file backend, PULUMI_HOME,
passphrase and fake-cloud file. Shared by the e2e suite and `tools.bench_engine`."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tools.engine import ROOT, offline_env

COPY_IGNORE = shutil.ignore_patterns("build", "venv", ".venv-checkov", ".git", "__pycache__", ".pytest_cache", "tests")
TIMEOUT = 900


@dataclass
class Result:
    args: list[str]
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        return f"pulumi {' '.join(self.args)} exited {self.code}\n{self.output[-6000:]}"


@dataclass
class Project:
    """One stack of a copy of the repo (with the repo's venv linked in)."""

    cli: str
    stack: str
    base: Path
    passphrase: str = field(default_factory=lambda: "e2e-" + secrets.token_hex(16))
    log: list[Result] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dir = self.base / "project"
        shutil.copytree(ROOT, self.dir, ignore=COPY_IGNORE)
        # Pulumi.yaml and PulumiPolicy.yaml both name `venv` (an installed CLI's language host uses them).
        (self.dir / "venv").symlink_to(ROOT / "venv")
        (self.dir / "policies" / "venv").symlink_to(ROOT / "venv")
        self.cloud_file = self.base / "fake-cloud.json"
        self.env = offline_env(self.base / "pulumi-home", self.passphrase)
        self.env["TRADESENSE_FAKE_CLOUD"] = str(self.cloud_file)
        for inherited in ("PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE_FILE"):
            self.env.pop(inherited, None)
        (self.base / "state").mkdir()

    @property
    def stack_file(self) -> Path:
        return self.dir / f"Pulumi.{self.stack}.yaml"

    @property
    def policy_args(self) -> list[str]:
        return ["--policy-pack", "policies", "--policy-pack-config", f"policies/config/{self.stack}.json"]

    def pulumi(self, *args: str, stdin: Optional[str] = None, check: bool = True) -> Result:
        cmd = list(args)
        if cmd[:1] != ["login"] and cmd[:2] != ["stack", "init"]:
            cmd += ["--stack", self.stack]
        proc = subprocess.run(
            [self.cli, *cmd, "--non-interactive"], cwd=self.dir, env=self.env, input=stdin,
            capture_output=True, text=True, timeout=TIMEOUT,
        )
        result = Result(cmd, proc.returncode, proc.stdout, proc.stderr)
        self.log.append(result)
        if check and proc.returncode != 0:
            raise AssertionError(str(result))
        return result

    def init(self, secret_values: dict[str, str]) -> None:
        self.pulumi("login", f"file://{self.base / 'state'}")
        self.pulumi("stack", "init", self.stack, "--secrets-provider", "passphrase")
        for key, value in secret_values.items():
            # The value goes through stdin, never on a command line.
            self.pulumi("config", "set", "--secret", key, stdin=value)

    def export(self) -> dict:
        return json.loads(self.pulumi("stack", "export").stdout)

    def cloud(self) -> dict:
        return json.loads(self.cloud_file.read_text())

    def write_cloud(self, records: dict) -> None:
        self.cloud_file.write_text(json.dumps(records, indent=1, sort_keys=True))

    def all_logs(self) -> str:
        """Every command's output, plus whatever the engine and plugins wrote under PULUMI_HOME."""
        texts = [r.output for r in self.log]
        for path in (self.base / "pulumi-home").rglob("*"):
            if path.is_file():
                texts.append(path.read_text(errors="replace"))
        return "\n".join(texts)
