"""make helm: Helm v3.21.4 from the Go module proxy in build/cluster/bin, kept when it is the pin."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

HELM = ROOT / "build" / "cluster" / "bin" / "helm"
SCRIPT = ROOT / "tools" / "build_helm.sh"


@pytest.fixture
def built() -> None:
    if not HELM.is_file():
        if os.environ.get("CI"):
            pytest.fail("build/cluster/bin/helm is missing: .ci/install.d/35-helm.sh (make helm) builds it")
        pytest.skip("helm not built (make helm)")


def test_the_built_helm_reports_the_pinned_version(built):
    version = subprocess.run([str(HELM), "version", "--template", "{{.Version}}"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == "v3.21.4"
    assert "HELM_VERSION=v3.21.4" in SCRIPT.read_text()


def test_a_second_run_keeps_the_binary(built):
    before = HELM.stat().st_mtime_ns
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, check=True, timeout=120)
    assert "cached at" in done.stdout
    assert HELM.stat().st_mtime_ns == before


def test_a_binary_of_another_version_is_not_kept(tmp_path):
    """The look-alike: a `helm` that reports another version is rebuilt, never trusted by name."""
    fake_root = tmp_path / "repo"
    (fake_root / "tools").mkdir(parents=True)
    (fake_root / "build" / "cluster" / "bin").mkdir(parents=True)
    (fake_root / "tools" / "build_helm.sh").write_text(SCRIPT.read_text())
    fake = fake_root / "build" / "cluster" / "bin" / "helm"
    fake.write_text("#!/bin/sh\necho v3.20.0\n")
    fake.chmod(0o755)
    # A PATH with no Go: the script must try to build (and say Go is needed), not report a cache hit.
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "dirname").symlink_to(shutil.which("dirname"))
    done = subprocess.run([shutil.which("bash"), str(fake_root / "tools" / "build_helm.sh")], capture_output=True, text=True,
                          env={"PATH": str(tools)})
    assert "cached" not in done.stdout
    assert done.returncode == 1 and "Go 1.26+ is needed" in done.stderr
