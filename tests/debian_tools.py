"""Debian-packaged command-line tools the tests run (CI installs them in .ci/install.d/)."""

from __future__ import annotations

import os
import shutil

import pytest


def debian_tool(command: str, package: str, install_step: str) -> str:
    """The tool's path; a missing tool fails under CI and skips locally."""
    path = shutil.which(command)
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{command} is missing: {install_step} installs Debian's {package}")
    pytest.skip(f"{command} not installed (apt-get install {package})")
