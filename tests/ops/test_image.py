"""ops/Dockerfile documents an image with exactly the tools the scripts call."""

import re

from tools.local_servers import OPS


def test_dockerfile_pins_its_base_and_installs_the_pinned_tools():
    text = (OPS / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", text, re.M)
    assert re.fullmatch(r"docker\.io/library/debian:\d+\.\d+-slim", base)
    for package in ("postgresql-15", "postgresql-client-15", "redis-server", "redis-tools", "jq"):
        assert package in text
    assert "-r /opt/ops-tools/requirements.txt" in text and "COPY requirements.txt" in text
    assert "USER 10001" in text


def test_every_command_the_scripts_call_is_in_the_image():
    scripts = " ".join(p.read_text() for p in OPS.glob("*.sh"))
    for tool in ("barman-cloud-restore", "barman-cloud-wal-restore", "aws", "redis-cli", "redis-check-rdb", "redis-server",
                 "psql", "pg_ctl", "jq", "sha256sum"):
        assert re.search(rf"(^|[\s(\"']){re.escape(tool)}\s", scripts, re.M), tool
    requirements = (OPS / "requirements.txt").read_text()
    assert re.search(r"^barman\[cloud\]==", requirements, re.M) and re.search(r"^awscli==", requirements, re.M)
