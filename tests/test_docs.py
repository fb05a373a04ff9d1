"""The docs: generated reference matches its generator, links resolve, examples are valid."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# The source guide is kept verbatim: its links are to the application repository's own docs.
VERBATIM = {ROOT / "docs" / "tradesense-deployment-guide.md"}
DOCS = [ROOT / "README.md", *sorted(set((ROOT / "docs").glob("*.md")) - VERBATIM), ROOT / "policies" / "README.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_generated_reference_matches_the_generator():
    from tools.gen_docs import stale

    assert [str(p.relative_to(ROOT)) for p in stale()] == [], "run `python -m tools docs --write`"


def test_the_check_names_a_stale_file(tmp_path, monkeypatch):
    from tools import gen_docs

    config = ROOT / "docs" / "CONFIG.md"
    expected = gen_docs.generated()
    # A hand edit of one figure is caught; the untouched generated text is not.
    monkeypatch.setattr(gen_docs, "generated", lambda root=ROOT: {**expected, config: expected[config].replace("`50`", "`60`", 1)})
    assert gen_docs.stale() == [config]


def test_every_config_key_has_a_description():
    from components.config import TradeSenseConfig
    from tools.gen_docs import config_rows

    rows = list(config_rows(TradeSenseConfig))
    assert len(rows) > 90
    assert [key for key, _, _, description in rows if not description] == []


def _anchors(path: Path) -> set[str]:
    heads = [line.lstrip("#").strip() for line in path.read_text().splitlines() if line.startswith("#")]
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return [m for m in LINK.findall(text) if not re.match(r"^[a-z]+:", m)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc):
    broken = []
    for link in relative_links(doc):
        target, _, anchor = link.partition("#")
        path = (doc.parent / target).resolve() if target else doc
        if not path.exists():
            broken.append(link)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(link)
    assert broken == []


def test_the_link_check_catches_a_link_out_of_the_clone(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("[guide](../shared/reference/guide.md) and [ok](page.md) and [web](https://example.com)\n")
    assert relative_links(page) == ["../shared/reference/guide.md", "page.md"]
    assert not (page.parent / "../shared/reference/guide.md").resolve().exists()


def test_nothing_points_outside_the_clone():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    found = [f for f in tracked if (ROOT / f).is_file() and (ROOT / f).suffix in (".md", ".py", ".yml", ".yaml", ".sh")
             # tools/chart_cache.py is the one place that knows where CI puts the chart packages.
             and f not in ("tests/test_docs.py", "tools/chart_cache.py") and re.search(r"\.\./shared/|shared/reference/", (ROOT / f).read_text(errors="replace"))]
    assert found == []


def test_the_readme_is_a_start_page():
    assert len((ROOT / "README.md").read_bytes()) <= 8 * 1024


def test_the_receivers_example_is_what_staging_and_prod_accept():
    from components.platform.alertmanager_config import check_receivers_for_env, parse_receivers

    text = (ROOT / "receivers.example.yaml").read_text()
    assert text.lstrip().startswith("#") and "\n- name:" in text  # a YAML list: a `-` first on stdin is fine
    for env in ("staging", "prod"):
        check_receivers_for_env(text, env)
    assert {r["name"] for r in parse_receivers(text)} == {"pager", "chat"}


def test_docs_check_command_exits_0_on_the_committed_tree():
    proc = subprocess.run([sys.executable, "-m", "tools", "docs", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
