"""A temporary copy of the project driven by the real Pulumi engine (fake providers, file backend)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.engine import BIN, FAKE_PROVIDERS, installed_pulumi, offline_env  # noqa: E402

COPY_IGNORE = shutil.ignore_patterns("build", "venv", ".venv-checkov", ".git", "__pycache__", ".pytest_cache", "tests")
TIMEOUT = 900


def require_engine() -> str:
    """The `pulumi` to run; under CI a missing engine fails the suite, locally it skips."""
    cli = installed_pulumi() or (str(BIN / "pulumi") if (BIN / "pulumi").exists() else None)
    missing = [f"pulumi-resource-{p}" for p in FAKE_PROVIDERS if not (BIN / f"pulumi-resource-{p}").exists()]
    if cli and not missing:
        return cli
    message = f"the Pulumi engine is not built ({cli or 'pulumi'} {' '.join(missing)} missing in {BIN}); run `make engine`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


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
    """One stack of a copy of the repo, with its own backend, PULUMI_HOME, passphrase and fake cloud."""

    cli: str
    stack: str
    base: Path
    passphrase: str = field(default_factory=lambda: "e2e-" + secrets.token_hex(16))
    log: list[Result] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dir = self.base / "project"
        shutil.copytree(ROOT, self.dir, ignore=COPY_IGNORE)
        (self.dir / "venv").symlink_to(ROOT / "venv")
        self.cloud_file = self.base / "fake-cloud.json"
        self.env = offline_env(self.base / "pulumi-home", self.passphrase)
        self.env["TRADESENSE_FAKE_CLOUD"] = str(self.cloud_file)
        self.env.pop("PULUMI_ACCESS_TOKEN", None)
        self.env.pop("PULUMI_BACKEND_URL", None)
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
            if path.is_file() and path.suffix in (".log", ".txt", ""):
                texts.append(path.read_text(errors="replace"))
        return "\n".join(texts)


def deployed_types_and_names(deployment: dict) -> set[tuple[str, str]]:
    """(type, name) of what the program registered: no stack root and no default providers."""
    found = set()
    for res in deployment["deployment"].get("resources", []):
        typ, name = res["type"], res["urn"].split("::")[-1]
        if typ == "pulumi:pulumi:Stack" or (typ.startswith("pulumi:providers:") and name.startswith("default")):
            continue
        found.add((typ, name))
    return found
