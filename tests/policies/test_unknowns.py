"""Values unknown at preview, for every rule and every field it reads.

The fields are derived mechanically: every leaf and every subtree of every resource of every
adversarial case (adversarial_cases.py covers each rule with a violating and a clean case, the
provider resources included) is replaced, one at a time, by the engine's unknown sentinel, in
inputs and outputs alike. The result goes through tools.policy_eval, i.e. a protobuf Struct,
`deserialize_properties` and `unknown_checking_proxy`, as the engine delivers it. Then:
- no rule crashes, and none lets UnknownValueError escape (a "can't run" diagnostic);
- a clean case stays clean: an unknown never invents a violation;
- a violating case never gains violations, and keeps all of them when the unknown field only
  names things in the message (a container's or volume's name, metadata.name of a pod).
"""

from __future__ import annotations

import copy
import re
from typing import Any, Iterator

import pytest
from pulumi.runtime.rpc import UNKNOWN

from tools.policy_eval import load_policies

from .adversarial_cases import Case, all_cases
from .fixtures import messages, run

CASES = all_cases()
PREVIEW_DIAGNOSTIC = "can't run policy"
# Fields a rule reads only to word its message: unknown, they must not hide the violation.
MESSAGE_ONLY = re.compile(
    r"(^|\.)((containers|initContainers|ephemeralContainers|volumes|listeners|inlinePolicies)\.\d+\.name"
    r"|hostPath\.path|Sid|scaleTargetRef\.name)$"
)
# ...and for these rules metadata.name too (the Service allow-list and namespaces decide on names).
NAME_IN_MESSAGE_ONLY = re.compile(r"^(k8s-pod-|k8s-ingress-|k8s-gateway-|k8s-hpa-)")


def paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every leaf and subtree below the root, as key paths."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        path = (*prefix, key)
        yield path
        yield from paths(child, path)


def set_unknown(props: dict, path: tuple) -> dict:
    result = copy.deepcopy(props)
    target = result
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = UNKNOWN
    return result


def has_path(props: Any, path: tuple) -> bool:
    for key in path:
        if isinstance(props, dict) and key in props or isinstance(props, list) and isinstance(key, int) and key < len(props):
            props = props[key]
        else:
            return False
    return True


def variants(case: Case) -> Iterator[tuple[str, list]]:
    for index, resource in enumerate(case.resources):
        for path in paths(resource.inputs):
            changed = copy.copy(resource)
            changed.inputs = set_unknown(resource.inputs, path)
            changed.outputs = set_unknown(resource.outputs, path) if has_path(resource.outputs, path) else resource.outputs
            yield ".".join(str(p) for p in path), [*case.resources[:index], changed, *case.resources[index + 1:]]


# Kinds whose pod labels are derived from metadata.name (a CNPG Cluster's pods carry
# cnpg.io/cluster=<name>): for the NetworkPolicy selection rule their name is not message-only.
NAME_IS_A_LABEL = {"kubernetes:postgresql.cnpg.io/v1:Cluster"}


def name_is_a_label(case: Case, path: str) -> bool:
    return path == "metadata.name" and case.rule == "k8s-pod-require-network-policy" and any(
        r.type in NAME_IS_A_LABEL for r in case.resources)


def message_only(rule: str, path: str) -> bool:
    return bool(MESSAGE_ONLY.search(path)) or (path == "metadata.name" and bool(NAME_IN_MESSAGE_ONLY.match(rule)))


def test_every_rule_is_exercised_with_unknowns_both_ways():
    rules = {policy.name for policy in load_policies()}
    assert {c.rule for c in CASES if c.violating} == rules
    assert {c.rule for c in CASES if not c.violating} == rules


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_unknown_fields_never_crash_or_invent_violations(case):
    base = run(case.rule, case.resources, case.config)
    checked = 0
    for path, resources in variants(case):
        found = run(case.rule, resources, case.config)  # PolicyRuntimeError here is a crash
        where = f"{case.id}: {path} unknown"
        assert not any(PREVIEW_DIAGNOSTIC in v.message for v in found), f"{where}: {messages(found)}"
        if not case.violating:
            assert found == [], f"{where} invented {messages(found)}"
        else:
            assert len(found) <= len(base), f"{where} added violations: {messages(found)}"
            if message_only(case.rule, path) and not name_is_a_label(case, path):
                assert len(found) == len(base), f"{where} hid a violation (a message-only field)"
        checked += 1
    assert checked
