"""Shared base for every stack-config section model.

Sections (cluster, platform, app, ...) subclass `Section`. Field names are snake_case in
Python and camelCase in the stack file, like every Pulumi config key. Pydantic checks types,
enums and unknown keys; `problems()` adds cross-field and per-environment rules, reported
with the key they belong to so one message can list every problem at once.
"""

from __future__ import annotations

from typing import Iterable, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

Environment = Literal["dev", "staging", "prod"]

# (dotted key relative to the section, message). An empty key means the section itself.
Problem = tuple[str, str]


class Section(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        frozen=True,
    )

    def problems(self, env: Environment) -> Iterable[Problem]:
        """Cross-field rules for this section only; nested sections are walked for you."""
        return ()

    def all_problems(self, env: Environment, prefix: str = "") -> list[Problem]:
        found = [(_join(prefix, key), msg) for key, msg in self.problems(env)]
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            key = _join(prefix, field.alias or name)
            children = value if isinstance(value, (list, tuple)) else [value]
            for index, child in enumerate(children):
                if isinstance(child, Section):
                    child_key = f"{key}[{index}]" if children is value else key
                    found.extend(child.all_problems(env, child_key))
        return found


def _join(prefix: str, key: str) -> str:
    return ".".join(part for part in (prefix, key) if part)
