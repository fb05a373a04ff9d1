"""tools.policy_views: one read-only view per property map, shared by every rule, that reads
like the fresh copy pulumi_policy's analyzer gives each rule: the same paths, types and values
(maps iterate in insertion order instead of the protobuf Struct's hash order)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from tools.policy_eval import PolicyRuntimeError, evaluate
from tools.policy_views import engine_props, wire_properties

from .fixtures import UNKNOWN, make_resource, secret


def read_all(value, path="") -> list:
    """Every (path, value or the UnknownValueError message) a rule could read, sorted by path."""
    return sorted(_read_all(value, path), key=repr)


def _read_all(value, path) -> list:
    if isinstance(value, Mapping):
        found = []
        for key in value:
            try:
                found += _read_all(value[key], f"{path}.{key}")
            except UnknownValueError as error:
                found.append((f"{path}.{key}", "unknown", error.message))
        return found or [(path, "{}")]
    if isinstance(value, Sequence) and not isinstance(value, str):
        found = []
        for index in range(len(value)):
            try:
                found += _read_all(value[index], f"{path}[{index}]")
            except UnknownValueError as error:
                found.append((f"{path}[{index}]", "unknown", error.message))
        return found or [(path, "[]")]
    return [(path, type(value).__name__, value)]


def analyzer_copy(props: dict):
    """What `_PolicyAnalyzerServicer.Analyze` hands a rule: a fresh, writable proxy."""
    return unknown_checking_proxy(deserialize_properties(wire_properties(props)))


def test_shared_view_reads_like_the_analyzers_fresh_copy(recordings):
    checked = 0
    for recording in recordings.values():
        for resource in recording.resources:
            for props in (resource.inputs, resource.outputs):
                assert read_all(engine_props(props)) == read_all(analyzer_copy(props)), resource.urn
                checked += 1
    assert checked > 500  # every resource of every committed stack, inputs and outputs


def test_unknowns_secrets_and_numbers_read_as_in_the_analyzer():
    props = {"a": [1, {"b": UNKNOWN}], "pw": secret({"k": "v"}), "n": None, "__internal": 1}
    read = read_all(engine_props(props))
    assert read == read_all(analyzer_copy(props))
    assert read == sorted([
        (".a[0]", "float", 1.0),  # numbers cross the wire as doubles
        (".a[1].b", "unknown", "string value at .a.1.b can't be known during preview"),
        (".pw.k", "str", "v"),  # secrets unwrapped
        (".n", "NoneType", None),
    ], key=repr)  # internal `__` keys are not sent


def test_fractions_and_integers_cross_as_the_struct_carries_them():
    props = {"ratio": 12.5, "count": 3, "nested": [0.25, 7]}
    assert read_all(engine_props(props)) == read_all(analyzer_copy(props)) == sorted([
        (".ratio", "float", 12.5), (".count", "float", 3.0), (".nested[0]", "float", 0.25), (".nested[1]", "float", 7.0),
    ], key=repr)


def test_maps_keep_their_insertion_order():
    keys = [f"k{i}" for i in range(16)]
    assert list(engine_props(dict.fromkeys(keys, 1))) == keys
    assert list(wire_properties(dict.fromkeys(keys, 1))) != keys  # what the Struct would have done


def _writer(kind: str, write):
    if kind == "resource":
        return ResourceValidationPolicy(name="writer", description="d", validate=lambda args, report: write(args.props),
                                        enforcement_level=EnforcementLevel.ADVISORY)
    if kind == "stack-graph":
        return StackValidationPolicy(name="writer", description="d", validate=lambda args, report: write(args.resources[1]),
                                     enforcement_level=EnforcementLevel.ADVISORY)
    return StackValidationPolicy(name="writer", description="d", validate=lambda args, report: write(args.resources[0].props),
                                 enforcement_level=EnforcementLevel.ADVISORY)


@pytest.mark.parametrize("kind", ["resource", "stack"])
@pytest.mark.parametrize(
    "write",
    [
        lambda props: props.__setitem__("replicas", 0),
        lambda props: props["spec"].__setitem__("x", 1),
        lambda props: props["spec"]["__target"].__setitem__("x", 1),
        lambda props: props["spec"]["items"]["__target"].append(1),
    ],
    ids=["top", "nested", "target-dict", "target-list"],
)
def test_a_rule_cannot_change_what_the_next_rule_sees(kind, write):
    thing = make_resource("test:index:Thing", "t", {"replicas": 3, "spec": {"items": [1]}})
    with pytest.raises(PolicyRuntimeError, match="failed to run policy 'writer'"):
        evaluate([thing], {}, policies=[_writer(kind, write)])


@pytest.mark.parametrize(
    "write",
    [
        lambda resource: resource.dependencies.append(resource),
        lambda resource: resource.property_dependencies.__setitem__("x", []),
        lambda resource: resource.property_dependencies["spec"].append(resource),
    ],
    ids=["dependencies", "property-dependencies", "property-dependency-list"],
)
def test_a_stack_rule_cannot_change_the_graph_the_next_one_sees(write):
    first = make_resource("test:index:Thing", "a", {})
    second = make_resource("test:index:Thing", "b", {}, dependencies=[first.urn], property_dependencies={"spec": [first.urn]})
    with pytest.raises(PolicyRuntimeError, match="failed to run policy 'writer'"):
        evaluate([first, second], {}, policies=[_writer("stack-graph", write)])


def test_every_rule_gets_the_same_values():
    seen = []

    def reader(args, report):
        seen.append(read_all(args.props))

    rules = [ResourceValidationPolicy(name=f"r{i}", description="d", validate=reader, enforcement_level=EnforcementLevel.ADVISORY)
             for i in range(3)]
    evaluate([make_resource("test:index:Thing", "t", {"a": {"b": [1, 2]}, "later": UNKNOWN})], {}, policies=rules)
    assert len(seen) == 3 and seen[0] == seen[1] == seen[2] == read_all(analyzer_copy({"a": {"b": [1, 2]}, "later": UNKNOWN}))
