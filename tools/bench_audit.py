"""How tools.audit's scrubbing scales: one Aho-Corasick pass (tools/audit_scrub.py) against the
per-secret `str.replace` loop it replaced, and the whole audit over exports with many secrets.

    venv/bin/python -m tools.bench_audit [--sizes 1000,10000,100000] [--runs 3]

Prints medians in seconds. Numbers for docs/AUDIT.md come from this script, never from tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time

from tools.audit_scrub import Scrubber


def secrets(n: int) -> list[str]:
    return [hashlib.sha256(str(i).encode()).hexdigest()[:20] + "-pw" for i in range(n)]


def report_text(values: list[str], filler: int = 200) -> str:
    """A report-sized text: `filler` characters of prose around every tenth secret."""
    prose = "x" * filler
    return "".join(f"{prose} {v} " if i % 10 == 0 else prose for i, v in enumerate(values))


def median(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def naive(values: list[str], text: str) -> str:
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "[secret]")
    return text


def whole_audit(n: int) -> float:
    """Seconds for tools.audit.audit over the CLI fixture plus one ConfigMap holding n passwords."""
    from pathlib import Path

    from tools.audit import audit

    doc = json.loads((Path(__file__).resolve().parent.parent / "tests/fixtures/exports/cli-v3-minimal.json").read_text())
    doc["deployment"]["resources"].append({
        "urn": "urn:pulumi:staging::tradesense::kubernetes:core/v1:ConfigMap::bench", "custom": True,
        "type": "kubernetes:core/v1:ConfigMap",
        "inputs": {"data": {f"DB_PASSWORD_{i}": v for i, v in enumerate(secrets(n))}}})
    start = time.perf_counter()
    audit(doc, "staging")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--naive-limit", type=int, default=10000, help="largest size the old loop is timed at")
    args = parser.parse_args()
    print(f"{'secrets':>8} {'text chars':>11} {'build s':>8} {'scrub s':>8} {'per Mchar':>9} {'old loop s':>10} {'audit s':>8}")
    for n in (int(s) for s in args.sizes.split(",")):
        values = secrets(n)
        text = report_text(values)
        scrubber = Scrubber()

        def build():
            scrubber._automaton = None
            scrubber._values = set()
            scrubber.add_all(values)
            scrubber._built()

        build_s = median(build, args.runs)
        scrub_s = median(lambda: scrubber.scrub(text), args.runs)
        old = f"{median(lambda: naive(values, text), 1):10.3f}" if n <= args.naive_limit else f"{'-':>10}"
        print(f"{n:>8} {len(text):>11} {build_s:8.3f} {scrub_s:8.3f} {scrub_s / len(text) * 1e6:9.3f} {old} {whole_audit(n):8.3f}")


if __name__ == "__main__":
    main()
