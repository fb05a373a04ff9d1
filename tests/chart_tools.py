"""The chart cache and the helm binary the chart tests use (CI provides both: ../shared/charts
beside the clone, and .ci/install.d/35-helm.sh). Missing under CI fails; locally it skips."""

from __future__ import annotations

import os

import pytest

from tools.chart_cache import CACHE_ENV, ChartCache, default_cache_dir
from tools.chart_render import find_helm


def chart_cache() -> ChartCache:
    cache = ChartCache(default_cache_dir())
    if cache.available:
        return cache
    message = f"no chart cache at {cache.directory}: CI provides ../shared/charts; elsewhere set {CACHE_ENV}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def helm() -> str:
    path = find_helm()
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("helm is missing: .ci/install.d/35-helm.sh (make helm) builds it into build/cluster/bin")
    pytest.skip("helm not built (make helm)")
