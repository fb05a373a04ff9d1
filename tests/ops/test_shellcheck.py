"""Every ops/ script passes shellcheck (including the files it sources)."""

import subprocess

from tests.ops.conftest import require_tools
from tools.local_servers import OPS, TOOLS


def test_ops_scripts_pass_shellcheck():
    require_tools("shellcheck")
    scripts = sorted(str(p) for p in OPS.glob("*.sh"))
    assert len(scripts) >= 8
    proc = subprocess.run([str(TOOLS["shellcheck"]), "-x", "--severity=style", *scripts], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
