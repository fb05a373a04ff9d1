"""The e2e-cluster tier's fixtures: one local control plane (tools/cluster) and one chart repository
on 127.0.0.1 for the whole session; every process ends at teardown, and a failing test gets the
control plane's log tails in its report."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tools.cluster.build import BIN, missing
from tools.cluster.chart_repo import ChartRepo, find_charts
from tools.cluster.control_plane import ControlPlane

_PLANE: list[ControlPlane] = []


def _absent(message: str) -> None:
    """Under CI a missing piece fails the tier (CI installs it); locally it skips."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory):
    absent = missing()
    if absent:
        _absent(f"the local control plane is not built ({', '.join(absent)} missing in {BIN}); run `make cluster`")
    plane = ControlPlane(tmp_path_factory.mktemp("cluster"))
    plane.start()
    _PLANE.append(plane)
    try:
        yield plane
    finally:
        _PLANE.clear()
        plane.stop()


@pytest.fixture(scope="session")
def charts_dir() -> Path:
    found = find_charts()
    if found is None:
        _absent("the upstream chart packages (shared/charts/*.tgz beside the clone) are missing; set TRADESENSE_CHARTS")
    return found


@pytest.fixture(scope="session")
def chart_repo(charts_dir):
    with ChartRepo(charts_dir) as repo:
        yield repo


@pytest.fixture(scope="session")
def helm(control_plane):
    """`helm` with the control plane's kubeconfig and a private Helm home (no user repos or cache)."""
    home = control_plane.run_dir / "helm-home"

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig), "HELM_CACHE_HOME": str(home / "cache"),
               "HELM_CONFIG_HOME": str(home / "config"), "HELM_DATA_HOME": str(home / "data")}
        result = subprocess.run([str(BIN / "helm"), *args], env=env, capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} exited {result.returncode}\n{result.stderr[-4000:]}")
        return result
    return run


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a plain `=` is a string (YAML 1.1's `value` tag, which
    it resolves but cannot construct; Kubernetes reads it as "=")."""


_Loader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)


def documents(text: str) -> list[dict]:
    return [d for d in yaml.load_all(text, Loader=_Loader) if isinstance(d, dict) and d.get("kind")]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _PLANE:
        report.sections.append(("local control plane logs", _PLANE[0].logs_tail(30)))


