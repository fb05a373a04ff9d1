"""A local cache of the pinned upstream chart packages (`<chart>-<version>.tgz`), read offline.

Where it is, first match wins: `--chart-cache DIR` (tools.plan), `$TRADESENSE_CHART_CACHE`, then
`../shared/charts` beside the repository root (what CI provides). A cache may hold a stand-in
for a pin it could not obtain; its PROVENANCE.tsv says so (`exact` = no, `obtained` = the
stand-in's version), and every use of a stand-in is reported as such, never as the pin.
"""

from __future__ import annotations

import csv
import io
import os
import tarfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
CACHE_ENV = "TRADESENSE_CHART_CACHE"


def default_cache_dir(root: Path = ROOT) -> Path:
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else root.parent / "shared" / "charts"


@dataclass(frozen=True)
class ChartPackage:
    """One chart package: its files by path inside the chart (subcharts under charts/<name>/)."""

    path: Path
    name: str
    version: str
    # The version the stack pins, when this package is a stand-in for it.
    stands_in_for: Optional[str] = None
    files: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def exact(self) -> bool:
        return self.stands_in_for is None

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}" + ("" if self.exact else f" (stand-in for pinned {self.stands_in_for})")

    def yaml_file(self, relative: str) -> Any:
        text = self.files.get(relative)
        return yaml.safe_load(text) if text is not None else None

    def subcharts(self, prefix: str = "") -> dict[str, str]:
        """Direct subcharts of the chart at `prefix`: the key its values live under -> its prefix."""
        chart = self.yaml_file(f"{prefix}Chart.yaml") or {}
        found = {}
        for dep in chart.get("dependencies") or []:
            sub = f"{prefix}charts/{dep['name']}/"
            if f"{sub}Chart.yaml" in self.files:
                found[dep.get("alias") or dep["name"]] = sub
        return found


def read_package(path: Path, stands_in_for: Optional[str] = None) -> ChartPackage:
    """The text files of a chart .tgz (Chart.yaml, values, schema, templates) by chart-relative path."""
    files: dict[str, str] = {}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            top, _, relative = member.name.partition("/")
            if relative.endswith((".yaml", ".yml", ".json", ".tpl", ".txt")) or relative.endswith("NOTES.txt"):
                handle = archive.extractfile(member)
                files[relative] = io.TextIOWrapper(handle, encoding="utf-8").read() if handle else ""
    chart = yaml.safe_load(files.get("Chart.yaml", "")) or {}
    return ChartPackage(path, chart.get("name", path.stem), str(chart.get("version", "")), stands_in_for, files)


@dataclass
class ChartCache:
    directory: Path

    @property
    def available(self) -> bool:
        return self.directory.is_dir()

    @cached_property
    def stand_ins(self) -> dict[tuple[str, str], str]:
        """(chart, pinned version) -> the version the cache holds instead (PROVENANCE.tsv)."""
        provenance = self.directory / "PROVENANCE.tsv"
        if not provenance.exists():
            return {}
        rows = csv.DictReader(provenance.read_text().splitlines(), delimiter="\t")
        return {(r["chart"], r["pinned"]): r["obtained"] for r in rows if r.get("exact") == "no" and r.get("obtained")}

    def locate(self, chart: str, version: str) -> Optional[tuple[Path, Optional[str]]]:
        """(package path, pinned version it stands in for or None) for a chart at a pinned version."""
        exact = self.directory / f"{chart}-{version}.tgz"
        if exact.is_file():
            return exact, None
        stand_in = self.stand_ins.get((chart, version))
        if stand_in is not None and (self.directory / f"{chart}-{stand_in}.tgz").is_file():
            return self.directory / f"{chart}-{stand_in}.tgz", version
        return None

    def package(self, chart: str, version: str) -> Optional[ChartPackage]:
        found = self.locate(chart, version)
        return read_package(*found) if found else None

    def missing_reason(self, chart: str, version: str) -> str:
        if not self.available:
            return f"no chart cache at {self.directory} (set {CACHE_ENV} or --chart-cache)"
        return f"{chart}-{version}.tgz is not in {self.directory}"
