"""`python -m tools <verb>`: every verb prints its usage with --help; unknown verbs are a usage error."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tools.__main__ import VERBS


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_help_lists_every_verb():
    proc = run("--help")
    assert proc.returncode == 0
    for verb in VERBS:
        assert f"  {verb} " in proc.stdout


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verb_prints_its_usage(verb):
    proc = run(verb, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage:"), proc.stdout[:200]


def test_an_unknown_verb_is_a_usage_error():
    proc = run("deploy-everything")
    assert proc.returncode == 2 and "unknown verb 'deploy-everything'" in proc.stderr


def test_a_verb_passes_its_exit_code_through():
    proc = run("plan", "--stack", "no-such-stack")
    assert proc.returncode == 2 and "unknown stack 'no-such-stack'" in proc.stderr
