"""Render every Helm release of a recording with its pinned chart, so the policy pack sees what
the charts create (issue 18 item 2), not just a Release's chart name and values.

Each `kubernetes:helm.sh/v3:Release` is rendered with `helm template` (Helm v3.21.4, make helm):
the release's name, namespace and values, `--kube-version 1.35`, and `--api-versions` for every
custom-resource API the stack installs, so charts render the objects they gate on those APIs
(ServiceMonitors, Certificates). The chart comes from the local chart cache
(tools/chart_cache.py) or, failing that, from the stack's chart mirror. Each rendered object
becomes a record of type `kubernetes:<group>/<version>:<Kind>` whose parent is the release, so
resource rules and stack rules see it as they see the program's own objects.

A release that cannot be rendered (no helm, no chart, a render error) is listed as unchecked,
with the reason; the plan prints and records that list, never passing those releases silently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from tools.chart_cache import ChartCache
from tools.mock_runtime import Recording, Resource, unwrap_secrets

ROOT = Path(__file__).resolve().parent.parent
HELM_ENV = "TRADESENSE_HELM"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
KUBE_VERSION = "1.35.0"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi.runtime.rpc.UNKNOWN
# A value the program only knows after apply (an IAM role ARN): a stand-in string renders the same shape.
UNKNOWN_STAND_IN = "unknown-until-apply"
# CRD APIs the platform's charts install themselves (a chart's own CRDs are not in the plan).
CHART_CRD_APIS = (
    "monitoring.coreos.com/v1", "cert-manager.io/v1", "acme.cert-manager.io/v1", "gateway.networking.k8s.io/v1",
    "gateway.nginx.org/v1alpha1", "gateway.nginx.org/v1alpha2", "postgresql.cnpg.io/v1", "barmancloud.cnpg.io/v1",
)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def find_helm(root: Path = ROOT) -> Optional[str]:
    """$TRADESENSE_HELM, then build/cluster/bin/helm (make helm), then helm on PATH."""
    configured = os.environ.get(HELM_ENV)
    if configured:
        return configured if Path(configured).is_file() else None
    built = root / "build" / "cluster" / "bin" / "helm"
    return str(built) if built.is_file() else shutil.which("helm")


@dataclass(frozen=True)
class RenderedRelease:
    urn: str
    name: str
    chart: str  # the package rendered, with its version (and "stand-in for" when it is one)
    objects: int


@dataclass(frozen=True)
class UncheckedRelease:
    urn: str
    name: str
    chart: str
    reason: str


@dataclass
class ChartRenders:
    resources: list[Resource] = field(default_factory=list)
    rendered: list[RenderedRelease] = field(default_factory=list)
    unchecked: list[UncheckedRelease] = field(default_factory=list)

    def document(self) -> dict:
        return {
            "rendered": [vars(r) for r in self.rendered],
            "unchecked": [vars(u) for u in self.unchecked],
        }


def _stand_ins(value):
    if isinstance(value, dict):
        return {k: _stand_ins(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stand_ins(v) for v in value]
    if value == _UNKNOWN:
        return UNKNOWN_STAND_IN
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire carries numbers as doubles; charts compare ints
    return value


def release_values(release: Resource) -> dict:
    return _stand_ins(unwrap_secrets(release.inputs.get("values") or {}))


def api_versions(recording: Recording) -> list[str]:
    """Every custom-resource API of the plan and of the charts' CRDs, for Helm's .Capabilities."""
    found = set(CHART_CRD_APIS)
    for resource in recording.resources:
        group_version = resource.type.removeprefix("kubernetes:").rsplit(":", 1)[0]
        if "." in group_version.split("/", 1)[0]:
            found.add(group_version)
    return sorted(found)


def resource_type(obj: dict) -> str:
    api = obj["apiVersion"]
    return f"kubernetes:{api if '/' in api else 'core/' + api}:{obj['kind']}"


def as_resources(release: Resource, objects: list[dict]) -> list[Resource]:
    parent_types = release.urn.split("::")[2]
    stack_project = release.urn.split("::")[0:2]
    records = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        type_ = resource_type(obj)
        name = f"{release.name}:{meta.get('namespace') or release.inputs.get('namespace', '')}/{meta.get('name', '')}"
        records.append(Resource(
            urn="::".join([*stack_project, f"{parent_types}${type_}", name]), type=type_, name=name,
            inputs=obj, outputs=obj, parent=release.urn, provider=release.provider, dependencies=[release.urn],
            property_dependencies={}, protect=False, retain_on_delete=False, ignore_changes=[],
            delete_before_replace=False, custom=True, id=f"{name}-id",
        ))
    return records


def helm_template(helm: str, chart: str, name: str, namespace: str, values: dict, apis: list[str],
                  version: Optional[str] = None, repo: Optional[str] = None) -> list[dict]:
    """The objects `helm template` renders (raises RuntimeError with Helm's message on failure)."""
    with tempfile.TemporaryDirectory(prefix="tradesense-render-") as tmp:
        values_file = Path(tmp) / "values.json"  # JSON is YAML; mode 0600 in a private folder
        values_file.write_text(json.dumps(values))
        command = [helm, "template", name, chart, "--namespace", namespace, "--kube-version", KUBE_VERSION,
                   "--values", str(values_file), "--skip-tests"]
        if version:
            command += ["--version", version]
        if repo:
            command += ["--repo", repo]
        for api in apis:
            command += ["--api-versions", api]
        env = {**os.environ, "HELM_CACHE_HOME": f"{tmp}/cache", "HELM_CONFIG_HOME": f"{tmp}/config",
               "HELM_DATA_HOME": f"{tmp}/data"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    if done.returncode != 0:
        raise RuntimeError((done.stderr.strip().splitlines() or ["helm template failed"])[-1])
    return [doc for doc in yaml.load_all(done.stdout, Loader=_YAML_LOADER) if isinstance(doc, dict) and doc.get("kind")]


def _chart_name(release: Resource) -> str:
    return str(release.inputs.get("chart", "")).rsplit("/", 1)[-1]


def _render_one(release: Resource, cache: ChartCache, helm: Optional[str], apis: list[str], mirror: Optional[str]):
    name = release.inputs.get("name") or release.name
    namespace = release.inputs.get("namespace") or "default"
    chart, version = _chart_name(release), str(release.inputs.get("version", ""))
    label = f"{chart} {version}"
    if helm is None:
        return UncheckedRelease(release.urn, name, label, "helm not found (make helm, or set TRADESENSE_HELM)")
    found = cache.locate(chart, version)
    try:
        if found is not None:
            path, stands_in_for = found
            label = path.name.removesuffix(".tgz") + (f" (stand-in for pinned {stands_in_for})" if stands_in_for else "")
            objects = helm_template(helm, str(path), name, namespace, release_values(release), apis)
        elif mirror is not None:
            # Not cached: the stack's chart mirror, which the release installs from too (never upstream:
            # the plan downloads nothing from the internet).
            repo = (release.inputs.get("repositoryOpts") or {}).get("repo")
            objects = helm_template(helm, str(release.inputs["chart"]), name, namespace, release_values(release), apis,
                                    version=version, repo=repo)
            label += f" (from {mirror})"
        else:
            return UncheckedRelease(release.urn, name, label, cache.missing_reason(chart, version))
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as err:
        return UncheckedRelease(release.urn, name, label, f"render failed: {err}")
    return RenderedRelease(release.urn, name, label, len(objects)), as_resources(release, objects)


def render_releases(recording: Recording, cache: ChartCache, helm: Optional[str], mirror: Optional[str] = None) -> ChartRenders:
    """Every release of the recording rendered (two at a time: the machine has two cores); `mirror`
    is the stack's platform.chartMirror, used for charts the cache lacks."""
    releases = recording.of_type(HELM_RELEASE)
    apis = api_versions(recording)
    renders = ChartRenders()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda r: _render_one(r, cache, helm, apis, mirror), releases))
    for result in results:
        if isinstance(result, UncheckedRelease):
            renders.unchecked.append(result)
        else:
            rendered, resources = result
            renders.rendered.append(rendered)
            renders.resources.extend(resources)
    return renders
