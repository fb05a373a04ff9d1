"""The adversarial table (adversarial_cases.py) through the engine-faithful path: each case's rule
reports the violating inputs and leaves the clean look-alikes alone."""

from __future__ import annotations

import pytest

from tools.policy_eval import load_policies

from .adversarial_cases import all_cases
from .fixtures import messages, run

CASES = all_cases()
PREVIEW_DIAGNOSTIC = "can't run policy"


def test_table_is_large_and_ids_are_unique():
    assert len({case.id for case in CASES}) == len(CASES)
    assert sum(case.violating for case in CASES) >= 220  # 122 + issue 18's second round
    assert sum(not case.violating for case in CASES) >= 105
    assert {case.rule for case in CASES} <= {policy.name for policy in load_policies()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_verdict(case):
    found = run(case.rule, case.resources, case.config)
    assert not any(PREVIEW_DIAGNOSTIC in v.message for v in found), messages(found)
    if case.violating:
        assert found, f"{case.rule} let {case.id} through"
    else:
        assert found == [], f"{case.rule} blocked the clean {case.id}: {messages(found)}"
