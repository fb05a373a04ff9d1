"""tools/cluster without a control plane: the build's cache stamps, the certificates, the chart
repository's index and the stand-in controller's status decisions (the e2e-cluster tier,
tests/e2e/cluster, runs them against the real API server)."""

from __future__ import annotations

import hashlib
import io
import stat
import tarfile
import urllib.request
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from tools.cluster import build, chart_repo, pki, standin


def test_build_stamp_covers_link_flags_and_missing_outputs(tmp_path, monkeypatch):
    module = tmp_path / "go" / "m"
    module.mkdir(parents=True)
    (module / "go.mod").write_text("module x\n")
    (module / "go.sum").write_text("")
    monkeypatch.setattr(build, "GO", tmp_path / "go")
    monkeypatch.setattr(build, "BIN", tmp_path / "bin")
    monkeypatch.setattr(build, "STAMPS", tmp_path / "stamps")
    plain = build.Component("m", "m", ("./cmd",), ("tool",))
    stamped = build.Component("m", "m", ("./cmd",), ("tool",), "-X v.Version=1.0.0")
    assert plain.digest() != stamped.digest(), "a new version stamp must rebuild"
    (tmp_path / "stamps").mkdir()
    (tmp_path / "stamps" / "m").write_text(plain.digest())
    assert not build._up_to_date(plain), "a missing binary must rebuild"
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool").write_text("")
    assert build._up_to_date(plain)
    assert not build._up_to_date(stamped)
    (module / "go.sum").write_text("changed\n")
    assert not build._up_to_date(plain), "a changed go.sum must rebuild"


def test_kubernetes_is_stamped_with_its_release_in_both_version_packages():
    flags = build.COMPONENTS[0].ldflags
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {pkg}.gitVersion=v1.35.4" in flags and f"-X {pkg}.gitMinor=35" in flags
    provider = next(c for c in build.COMPONENTS if c.name == "provider")
    assert provider.ldflags.endswith("pkg/version.Version=4.25.0")
    assert "v4.0.0-20260115033456-f47bc2d6f199" in (build.GO / "provider" / "go.mod").read_text()


def test_every_staging_module_is_pinned_to_the_kubernetes_release():
    text = (build.GO / "kubernetes" / "go.mod").read_text()
    pins = [line.split() for line in text.splitlines() if "=> k8s.io/" in line]
    assert len(pins) == 31
    assert all(p[0] == p[2] and p[3] == "v0.35.4" for p in pins), pins


def test_certificates_chain_to_the_generated_ca(tmp_path):
    ca = pki.Authority(tmp_path, "test-ca")
    server = ca.issue("server", "kube-apiserver", server=True)
    client = ca.issue("admin", "admin", "system:masters", client=True)
    ca_cert = x509.load_pem_x509_certificate(ca.pair.cert.read_bytes())
    for pair in (server, client):
        cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
        cert.verify_directly_issued_by(ca_cert)
        assert stat.S_IMODE(pair.key.stat().st_mode) == 0o600
    sans = x509.load_pem_x509_certificate(server.cert.read_bytes()).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert "127.0.0.1" in {str(ip) for ip in sans.value.get_values_for_type(x509.IPAddress)}
    org = x509.load_pem_x509_certificate(client.cert.read_bytes()).subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    assert org[0].value == "system:masters"
    # A certificate from another CA with the same name does not verify.
    (tmp_path / "other").mkdir()
    other = pki.Authority(tmp_path / "other", "test-ca")
    with pytest.raises(Exception):
        x509.load_pem_x509_certificate(other.issue("x", "x", client=True).cert.read_bytes()).verify_directly_issued_by(ca_cert)
    assert isinstance(ca.key, ec.EllipticCurvePrivateKey)


def _package(folder: Path, name: str, version: str, with_chart: bool = True) -> Path:
    path = folder / f"{name}-{version}.tgz"
    with tarfile.open(path, "w:gz") as tar:
        files = {f"{name}/Chart.yaml": yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version})} if with_chart else {}
        files[f"{name}/values.yaml"] = "a: 1\n"
        for member, text in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return path


def test_chart_repository_lists_each_chart_at_its_true_version_and_serves_it(tmp_path):
    good = _package(tmp_path, "demo", "1.2.3")
    _package(tmp_path, "not-a-chart", "v1", with_chart=False)
    index = chart_repo.index(tmp_path)
    assert set(index["entries"]) == {"demo"}
    entry = index["entries"]["demo"][0]
    assert entry["version"] == "1.2.3" and entry["urls"] == ["demo-1.2.3.tgz"]
    assert entry["digest"] == hashlib.sha256(good.read_bytes()).hexdigest()
    with chart_repo.ChartRepo(tmp_path) as repo:
        assert repo.url.startswith("http://127.0.0.1:")
        served = yaml.safe_load(urllib.request.urlopen(f"{repo.url}/index.yaml", timeout=10).read())
        assert served["entries"]["demo"][0]["digest"] == entry["digest"]
        assert urllib.request.urlopen(f"{repo.url}/demo-1.2.3.tgz", timeout=10).read() == good.read_bytes()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{repo.url}/../etc/passwd", timeout=10)
        assert "demo-1.2.3.tgz" in repo.requests


def test_charts_are_found_beside_the_clone_or_any_folder_above(tmp_path, monkeypatch):
    monkeypatch.delenv("TRADESENSE_CHARTS", raising=False)
    monkeypatch.delenv("TRADESENSE_CHART_CACHE", raising=False)
    clone = tmp_path / "ci" / "work" / "clone"
    clone.mkdir(parents=True)
    assert chart_repo.find_charts(clone) is None
    (tmp_path / "ci" / "shared" / "charts").mkdir(parents=True)
    assert chart_repo.find_charts(clone) is None, "an empty folder is not the chart folder"
    _package(tmp_path / "ci" / "shared" / "charts", "demo", "1.0.0")
    assert chart_repo.find_charts(clone) == tmp_path / "ci" / "shared" / "charts"


def _obj(kind: str, generation: int = 2, **status) -> dict:
    return {"kind": kind, "metadata": {"name": "x", "generation": generation}, "spec": {}, "status": status}


def test_standin_sets_ready_once_and_again_for_a_new_generation():
    fresh = standin.ready_status(_obj("Certificate"))
    assert fresh["conditions"][0]["type"] == "Ready" and fresh["conditions"][0]["observedGeneration"] == 2
    done = _obj("Certificate", conditions=fresh["conditions"])
    assert standin.ready_status(done) is None
    # Ready for an older generation (the spec changed since) is set again.
    stale = _obj("Certificate", generation=3, conditions=fresh["conditions"])
    assert standin.ready_status(stale) is not None
    # Ready=False (a real controller's failure) is overwritten only because no controller runs here.
    failed = _obj("Certificate", conditions=[{**fresh["conditions"][0], "status": "False"}])
    assert standin.ready_status(failed) is not None


def test_standin_gives_each_route_parent_a_status_and_each_listener_one():
    route = _obj("HTTPRoute")
    route["spec"]["parentRefs"] = [{"name": "gw", "namespace": "edge", "sectionName": "https"}, {"name": "gw", "sectionName": "http"}]
    status = standin.route_status(route)
    assert [p["parentRef"] for p in status["parents"]] == route["spec"]["parentRefs"]
    assert all(p["controllerName"] == standin.GATEWAY_CONTROLLER for p in status["parents"])
    route["status"] = status
    assert standin.route_status(route) is None
    route["spec"]["parentRefs"].append({"name": "gw2"})
    assert standin.route_status(route) is not None, "a new parentRef needs its status"
    gateway = _obj("Gateway")
    gateway["spec"]["listeners"] = [{"name": "http", "port": 80, "protocol": "HTTP"}]
    got = standin.gateway_status(gateway)
    assert {c["type"] for c in got["conditions"]} == {"Accepted", "Programmed"}
    assert [listener["name"] for listener in got["listeners"]] == ["http"]


def test_standin_cnpg_cluster_reports_every_instance_ready():
    cluster = _obj("Cluster")
    cluster["spec"]["instances"] = 3
    status = standin.cnpg_status(cluster)
    assert status["readyInstances"] == 3 and status["conditions"][0]["type"] == "Ready"
