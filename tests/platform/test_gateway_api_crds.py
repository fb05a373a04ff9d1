"""The Gateway API CRDs are vendored and checked: the program applies that file, by a path in the
project, only when its sha256 is the pinned one; nothing is fetched at deploy time."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest
import yaml

from components.platform import charts
from tests.chart_tools import chart_cache
from tests.conftest import ROOT

# sha256 of standard-install.yaml in ../shared/charts/gateway-api-standard-install-v1.5.1.tgz
# (kubernetes-sigs/gateway-api tag v1.5.1, commit e7677b70), computed from that package.
PINNED_SHA256 = "751002b3b91a87f7ae3bd2517c79a47a8d7ed6702901808a1cf9bd97d284f9b8"
VENDORED = ROOT / "components/platform/vendor/gateway-api-v1.5.1-standard-install.yaml"


def test_the_vendored_file_has_the_pinned_checksum():
    assert hashlib.sha256(VENDORED.read_bytes()).hexdigest() == PINNED_SHA256
    assert charts.GATEWAY_API_CRDS_SHA256 == PINNED_SHA256
    assert ROOT / charts.GATEWAY_API_CRDS_FILE == VENDORED


def test_the_vendored_file_is_the_upstream_release_artifact():
    with tarfile.open(chart_cache().directory / "gateway-api-standard-install-v1.5.1.tgz") as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("standard-install.yaml"))
        upstream = archive.extractfile(member).read()
    assert hashlib.sha256(upstream).hexdigest() == PINNED_SHA256


def test_it_holds_the_standard_channel_crds_of_v1_5_1():
    docs = [d for d in yaml.safe_load_all(VENDORED.read_text()) if d]
    crds = {d["metadata"]["name"]: d for d in docs if d["kind"] == "CustomResourceDefinition"}
    assert {"gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io",
            "gatewayclasses.gateway.networking.k8s.io", "referencegrants.gateway.networking.k8s.io"} <= set(crds)
    for crd in crds.values():
        assert crd["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] == "v1.5.1"
        assert crd["metadata"]["annotations"]["gateway.networking.k8s.io/channel"] == "standard"


def test_a_tampered_or_missing_file_stops_the_program_with_the_fix(tmp_path):
    relative = "vendor/crds.yaml"
    (tmp_path / "vendor").mkdir()
    (tmp_path / relative).write_bytes(VENDORED.read_bytes() + b"\n# one more line\n")
    with pytest.raises(charts.VendoredFileError, match=r"has sha256 [0-9a-f]{64}, not the pinned .*git checkout -- vendor/crds.yaml"):
        charts.verified_vendored_file(relative, PINNED_SHA256, root=tmp_path)
    with pytest.raises(charts.VendoredFileError, match="is missing"):
        charts.verified_vendored_file("vendor/absent.yaml", PINNED_SHA256, root=tmp_path)
    # The clean look-alike: the same bytes at another path pass.
    (tmp_path / relative).write_bytes(VENDORED.read_bytes())
    assert charts.verified_vendored_file(relative, PINNED_SHA256, root=tmp_path) == relative


def test_no_stack_downloads_a_manifest(recordings):
    for stack, recording in recordings.items():
        for resource in recording.resources:
            if not resource.type.startswith("kubernetes:yaml/"):
                continue
            for key in ("file", "files", "url"):
                values = resource.inputs.get(key)
                for value in values if isinstance(values, list) else [values]:
                    assert not (isinstance(value, str) and "://" in value), (stack, resource.name, value)
