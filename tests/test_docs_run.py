"""Docs that run: every shell block of README.md and docs/ENGINE.md runs as written, or is
named below with the reason it cannot run here.

Blocks of one page run in order in one shell (a reader types them into one terminal), with a
HOME and TMPDIR of their own, the fake engine first on PATH through the page's own commands,
and a passphrase on stdin for `read -rs PULUMI_CONFIG_PASSPHRASE`.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.conftest import ROOT

PAGES = ("README.md", "docs/ENGINE.md")
# Blocks that do not run in the suite, by name (page:heading:index), and why.
NOT_RUN = {
    "README.md:quick-start-no-cloud-no-credentials:2": "`make test-fast` is a tier of this suite; CI runs `make test`, which includes it",
    "README.md:deploy-staging-in-five-commands:1": "needs a real DigitalOcean account, doctl and a state backend (never run against a cloud here)",
}
FENCE = re.compile(r"^```(?:bash|sh|shell)\n(.*?)^```", re.S | re.M)


def slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-")


def shell_blocks(page: str) -> list[tuple[str, str]]:
    """(name, script) of every shell block, named after the heading above it."""
    text = (ROOT / page).read_text()
    blocks, counts = [], {}
    for match in FENCE.finditer(text):
        headings = re.findall(r"^#+ (.+)$", text[: match.start()], re.M)
        head = slug(headings[-1]) if headings else "top"
        counts[head] = counts.get(head, 0) + 1
        blocks.append((f"{page}:{head}:{counts[head]}", match.group(1)))
    return blocks


def test_every_listed_block_exists():
    names = {name for page in PAGES for name, _ in shell_blocks(page)}
    assert set(NOT_RUN) <= names, set(NOT_RUN) - names
    assert names - set(NOT_RUN), "no block would run"


def test_block_names_follow_the_headings(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text("# A b\n```bash\necho 1\n```\n## C (d)\n```bash\necho 2\n```\n```bash\necho 3\n```\n```text\nno\n```\n")
    monkeypatch.setattr("tests.test_docs_run.ROOT", tmp_path)
    assert shell_blocks("page.md") == [("page.md:a-b:1", "echo 1\n"), ("page.md:c-d:1", "echo 2\n"), ("page.md:c-d:2", "echo 3\n")]


@pytest.mark.parametrize("page", PAGES)
def test_the_page_runs_as_written(page, tmp_path):
    blocks = [(name, script) for name, script in shell_blocks(page) if name not in NOT_RUN]
    if page == "docs/ENGINE.md":
        from tests.e2e.harness import require_engine

        require_engine()
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir(), tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "TRADESENSE_"))}
    env.update(HOME=str(home), TMPDIR=str(tmp))
    # `set -e` plus a marker per block: the failing block is named.
    script = "set -euo pipefail\n" + "".join(f"echo '>>> {name}'\n{body}" for name, body in blocks)
    proc = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, input="docs-run-passphrase\n",
                          capture_output=True, text=True, timeout=1800)
    ran = re.findall(r"^>>> (\S+)$", proc.stdout, re.M)
    assert proc.returncode == 0, f"block {ran[-1] if ran else '?'} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert ran == [name for name, _ in blocks]
