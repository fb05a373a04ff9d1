"""tools.engine without the e2e suite: what a missing Go toolchain does, and the fake cloud's secrets."""

from __future__ import annotations

import json

import pytest

import tools.engine as engine
from tools.engine.__main__ import main as engine_main
from tools.engine.fake_provider import FakeCloud, restore_secrets, secret


@pytest.fixture
def no_go(tmp_path, monkeypatch):
    """An engine that must be built, on a machine without Go and without a Pulumi CLI."""
    monkeypatch.setattr(engine, "BIN", tmp_path / "bin")
    monkeypatch.setattr(engine, "CLI", tmp_path / "bin" / "pulumi")
    monkeypatch.setattr(engine, "STAMP", tmp_path / "stamp")
    monkeypatch.setattr(engine.shutil, "which", lambda name, path=None: None)
    return tmp_path


def test_without_go_outside_ci_make_test_gets_a_notice(no_go, monkeypatch, capsys):
    monkeypatch.delenv("CI", raising=False)
    assert engine_main(["build", "--if-possible"]) == 0
    err = capsys.readouterr().err
    assert "`go` is not installed" in err and "e2e tests (tests/e2e) will skip" in err


def test_without_go_under_ci_the_build_fails(no_go, monkeypatch, capsys):
    monkeypatch.setenv("CI", "true")
    assert engine_main(["build", "--if-possible"]) == 1
    assert "`go` is not installed" in capsys.readouterr().err


def test_the_fake_cloud_stores_secrets_as_hashes_and_gives_them_back_from_state(tmp_path):
    cloud = FakeCloud(str(tmp_path / "cloud.json"))
    outputs = {"length": 32, "result": secret("generated-value"), "nested": {"token": secret("t0ken")}}
    cloud.put("urn:a", "a-id", outputs)
    text = (tmp_path / "cloud.json").read_text()
    assert "generated-value" not in text and "t0ken" not in text
    stored = cloud.get("urn:a")["outputs"]
    assert restore_secrets(stored, outputs) == outputs
    cloud.delete("urn:a")
    assert json.loads((tmp_path / "cloud.json").read_text()) == {}
