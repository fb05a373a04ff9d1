"""tools.plan_output's YAML writer against PyYAML's own safe dumper (the same libyaml emitter:
the pure-Python one folds long quoted strings at other places)."""

from __future__ import annotations

import yaml

from tools.plan_output import manifest, to_yaml


def safe_dump(data) -> str:
    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False, default_flow_style=False)


TRICKY = {
    "strings": ["yes", "No", "on", "null", "~", "", "1.0", "0o17", "1e3", "2026-12-01", "a: b", "- x", "#c", "'q'", '"d"',
                "multi\nline", "trailing ", " leading", "tab\there", "ünïcödé", "*star", "&amp", "!tag", "%p", "@at", "`tick`"],
    "numbers": [0, -1, 10**20, 1.5, 2.0, -0.0, 1e-12, float("inf"), float("-inf")],
    "flags": [True, False, None],
    "empty": {"map": {}, "list": [], "nested": [[], {}, [[]]]},
    "keys": {"1": "string one", "true": "string true", "a b": 1, "x.y/z": 2},
}


def test_tricky_plain_data_dumps_like_the_safe_dumper():
    assert to_yaml(TRICKY) == safe_dump(TRICKY)
    assert yaml.safe_load(to_yaml(TRICKY))["strings"] == TRICKY["strings"]


def test_every_manifest_of_every_stack_dumps_like_the_safe_dumper(recordings):
    checked = 0
    for recording in recordings.values():
        for resource in recording.kubernetes_objects():
            obj = manifest(resource)
            assert to_yaml(obj) == safe_dump(obj), resource.urn
            checked += 1
    assert checked > 200
