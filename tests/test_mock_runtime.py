"""tools.mock_runtime: what the harness changes in the SDK, it changes only for the run."""

from __future__ import annotations

import pulumi
import pytest
from pulumi.runtime import resource as sdk_resource

from tools.mock_runtime import run_program


class _Thing(pulumi.ComponentResource):
    def __init__(self, name: str):
        super().__init__("test:index:Thing", name)
        self.register_outputs({})


@pytest.mark.parametrize("fails", [False, True])
def test_the_sdk_stack_walk_is_skipped_only_during_the_run(fails):
    original = sdk_resource._get_stack_trace
    seen = []

    def program():
        seen.append(sdk_resource._get_stack_trace().frames)
        _Thing("a")
        if fails:
            raise ValueError("program failed")

    if fails:
        with pytest.raises(ValueError):
            run_program({}, "test", program=program)
    else:
        recording = run_program({}, "test", program=program)
        assert [r.name for r in recording.resources] == ["a"]
    assert len(seen) == 1 and len(seen[0]) == 0  # empty while the program ran
    assert sdk_resource._get_stack_trace is original
