"""A Helm chart repository on 127.0.0.1 serving the upstream chart packages (the chart cache of tools/chart_cache.py).

The e2e points `platform.chartMirror` at it, so the provider's own Helm installs from it exactly
as it would from a user's mirror. index.yaml is written from each package's Chart.yaml (with its
sha256), as `helm repo index` does; each chart is listed at its true version.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import http.server
import os
import tarfile
import threading
from pathlib import Path
from typing import Optional

import yaml

from tools.chart_cache import CACHE_ENV
from tools.cluster.build import ROOT


def find_charts(root: Path = ROOT) -> Optional[Path]:
    """The chart cache (tools/chart_cache.py: $TRADESENSE_CHART_CACHE, else where CI puts it), also
    looked for beside any folder above the clone (a worktree); TRADESENSE_CHARTS is an older alias."""
    configured = os.environ.get(CACHE_ENV) or os.environ.get("TRADESENSE_CHARTS")
    if configured:
        return Path(configured)
    for folder in root.parents:
        candidate = folder / "shared" / "charts"
        if any(candidate.glob("*.tgz")):
            return candidate
    return None


def chart_metadata(package: Path) -> Optional[dict]:
    """Chart.yaml of a packaged chart (None for a .tgz that is not a chart)."""
    with tarfile.open(package) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if len(parts) == 2 and parts[1] == "Chart.yaml":
                return yaml.safe_load(tar.extractfile(member).read())
    return None


def index(charts: Path) -> dict:
    entries: dict[str, list] = {}
    created = datetime.datetime.now(datetime.timezone.utc).isoformat()
    for package in sorted(charts.glob("*.tgz")):
        meta = chart_metadata(package)
        if meta is None:
            continue
        digest = hashlib.sha256(package.read_bytes()).hexdigest()
        entries.setdefault(meta["name"], []).append({**meta, "urls": [package.name], "created": created, "digest": digest})
    return {"apiVersion": "v1", "entries": entries, "generated": created}


class ChartRepo:
    """`with ChartRepo(charts) as repo:` serves index.yaml and the packages at `repo.url`."""

    def __init__(self, charts: Path):
        self.charts = charts
        self.index_text = yaml.safe_dump(index(charts)).encode()
        handler = functools.partial(_Handler, repo=self)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.requests: list[str] = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "ChartRepo":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    def __init__(self, *args, repo: ChartRepo, **kwargs):
        self.repo = repo
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        name = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
        self.repo.requests.append(name)
        if name == "index.yaml":
            body = self.repo.index_text
        elif name.endswith(".tgz") and (self.repo.charts / name).is_file():
            body = (self.repo.charts / name).read_bytes()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass
