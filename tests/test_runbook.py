"""docs/RUNBOOK.md: every alert's runbook_url lands on an existing section, and each section
says what it means, three first checks and a mitigation."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from components.app import alert_rules
from tests.conftest import ROOT

RUNBOOK = ROOT / "docs" / "RUNBOOK.md"


def github_anchors(markdown: str) -> set[str]:
    """Anchors GitHub generates for headings: lowercased, punctuation removed, spaces to dashes."""
    anchors = set()
    for line in markdown.splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*$", line)
        if match:
            text = re.sub(r"[`*_]", lambda m: "_" if m.group() == "_" else "", match.group(1))
            anchors.add(re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-"))
    return anchors


def alert_sections(markdown: str) -> dict[str, str]:
    alerts_part = re.split(r"^# Alerts$", markdown, maxsplit=1, flags=re.M)[1]
    sections = re.split(r"^## ", alerts_part, flags=re.M)[1:]
    return {s.splitlines()[0].strip(): s for s in sections}


def every_alert() -> list[dict]:
    groups = alert_rules.rule_groups("tradesense", postgres_instances=3)
    return [r for g in groups for r in g["rules"] if "alert" in r]


def test_every_runbook_url_resolves_to_an_existing_anchor():
    anchors = github_anchors(RUNBOOK.read_text())
    for rule in every_alert():
        url = urlparse(rule["annotations"]["runbook_url"])
        assert url.path.endswith("/docs/RUNBOOK.md"), rule["alert"]
        assert url.fragment in anchors, f"{rule['alert']}: #{url.fragment} is not a heading of docs/RUNBOOK.md"


def test_every_alert_and_routed_default_alert_has_a_complete_section():
    sections = alert_sections(RUNBOOK.read_text())
    wanted = {r["alert"] for r in every_alert()} | set(alert_rules.DEFAULT_RULE_ALERTS)
    assert wanted <= set(sections), wanted - set(sections)
    for name in wanted:
        body = sections[name]
        assert "**Meaning" in body and "**Mitigate:**" in body, name
        checks = re.findall(r"^([123])\. ", body, flags=re.M)
        assert checks == ["1", "2", "3"], name
        assert "`" in body, f"{name}: the first checks give commands"


def test_links_inside_the_runbook_resolve():
    text = RUNBOOK.read_text()
    anchors = github_anchors(text)
    for target in re.findall(r"\]\(#([^)]+)\)", text):
        assert target in anchors, target
