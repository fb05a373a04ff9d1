"""A small AWS policy-document evaluator: statements parsed once, matched by meaning.

- Actions: `service:Action` patterns with `*` and `?`, compared case-insensitively (IAM does).
- Resources: ARN patterns where `*` and `?` match across segments (IAM does). "Covers" is
  language inclusion, not a sample: a pattern covers a target such as "every ARN" or "every IAM
  role" when every string of the target matches it (`covers`, an NFA subset construction over
  the characters both name plus one "other" character). `arn:aws:*`, `arn:*:*:*:*:*`, `*` and
  `arn:aws:iam::*:*` all cover what they mean; `arn:aws:s3:::logs*` does not.
- Principals: `*`, `{"AWS": "*"}` and `{"AWS": ["*"]}` are everyone; so is any principal under
  `NotPrincipal` in an Allow.
- Conditions: `narrowing(condition)` tells whether a condition really limits who can use a
  statement. Clauses that are always true do not (`StringLike key *`, `Bool key` with both
  values, `Null` with both, `IpAddress` covering the whole address space, any `...IfExists` or
  `ForAllValues:` clause, which pass when the key is absent); nor do negated operators. A clause
  narrows only when it pins a caller-identifying key (aws:PrincipalOrgID, aws:SourceVpce, ...) or
  an OIDC provider's `sub`/`aud` to values without wildcards.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Optional

from ._util import as_list, get, is_list, is_mapping, skip_unknown

# Target languages for `covers`: `*` any string, `%` any string without ':' (one ARN segment).
EVERY_ACTION = "%:%"
EVERY_ARN = "arn:%:%:%:%:*"


def service_actions(service: str) -> str:
    return f"{service.lower()}:%"


def service_arns(service: str) -> str:
    return f"arn:%:{service}:%:%:*"


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in (as_list(value) if is_list(value) else [value])]


# --- pattern inclusion ------------------------------------------------------------------------


def _step(pattern: str, states: frozenset[int], char: Optional[str]) -> frozenset[int]:
    """IAM glob NFA: advance `states` (positions in `pattern`) on `char` (None: a character
    that appears in neither pattern)."""
    nxt: set[int] = set()
    for position in states:
        if position >= len(pattern):
            continue
        symbol = pattern[position]
        if symbol == "*":
            nxt.add(position)
        elif symbol == "?" or (char is not None and symbol == char):
            nxt.add(position + 1)
    return _closure(pattern, frozenset(nxt))


def _closure(pattern: str, states: frozenset[int]) -> frozenset[int]:
    result = set(states)
    for position in sorted(states):
        while position < len(pattern) and pattern[position] == "*":
            position += 1
            result.add(position)
    return frozenset(result)


@lru_cache(maxsize=4096)
def covers(pattern: str, target: str) -> bool:
    """Every string of `target` (literal characters, `*` any string, `%` any string without
    ':') matches the IAM glob `pattern`. Both are compared as given (lower-case actions first)."""
    alphabet: list[Optional[str]] = sorted({c for c in pattern + target if c not in "*?%"} | {":"})
    alphabet.append(None)
    start = (0, _closure(pattern, frozenset({0})))
    seen = {start}
    queue = [start]
    while queue:
        t_pos, p_states = queue.pop()
        # The target may stop here if the rest of it can be empty.
        rest = t_pos
        while rest < len(target) and target[rest] in "*%":
            rest += 1
        if rest == len(target) and len(pattern) not in p_states:
            return False
        moves: list[tuple[int, Optional[str]]] = []
        if t_pos < len(target):
            symbol = target[t_pos]
            if symbol in "*%":
                for char in alphabet:
                    if symbol == "%" and char == ":":
                        continue
                    moves.append((t_pos, char))  # stay in the wildcard
                moves_skip = (t_pos + 1, p_states)  # the wildcard ends
                if moves_skip not in seen:
                    seen.add(moves_skip)
                    queue.append(moves_skip)
            else:
                moves.append((t_pos + 1, symbol))
        for next_pos, char in moves:
            state = (next_pos, _step(pattern, p_states, char))
            if state not in seen:
                seen.add(state)
                queue.append(state)
    return True


def action_covers(pattern: str, target: str) -> bool:
    return covers(pattern.lower(), target.lower())


def action_matches(pattern: str, action: str) -> bool:
    return covers(pattern.lower(), action.lower())


# --- statements -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: tuple[str, ...]
    not_actions: Optional[tuple[str, ...]]
    resources: tuple[str, ...]
    not_resources: Optional[tuple[str, ...]]
    principal: Any
    not_principal: Any
    condition: Any = field(default=None, compare=False)

    @property
    def allows(self) -> bool:
        return self.effect == "Allow"

    def allows_action(self, target: str) -> bool:
        """The statement grants every action of `target` (an action or an action language)."""
        if self.not_actions is not None:
            # NotAction grants everything except what it lists: all of `target` minus the listed
            # patterns; counted as granting `target` unless a listed pattern covers it whole.
            return not any(action_covers(p, target) for p in self.not_actions)
        return any(action_covers(p, target) for p in self.actions)

    def on_every(self, target: str) -> bool:
        """The statement applies to every resource of `target` (an ARN language)."""
        if self.not_resources is not None:
            return not any(covers(p, target) for p in self.not_resources)
        return any(covers(p, target) for p in self.resources)

    def to_everyone(self) -> bool:
        if self.not_principal is not None:
            return self.allows
        return everyone(self.principal)


def everyone(principal: Any) -> bool:
    if principal is None:
        return False
    if isinstance(principal, str):
        return principal.strip() == "*"
    if is_mapping(principal):
        return any(str(key) == "AWS" and "*" in [s.strip() for s in _strings(principal[key])] for key in principal)
    return False


def parse(document: Any) -> list[Statement]:
    """The statements of a policy document (a JSON string or an object); [] when unreadable."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not is_mapping(document):
        return []
    raw = get(document, "Statement")
    raw = [raw] if is_mapping(raw) else as_list(raw)
    statements = []
    for index, statement in enumerate(raw):
        with skip_unknown():
            if not is_mapping(statement):
                continue
            not_action = get(statement, "NotAction")
            not_resource = get(statement, "NotResource")
            statements.append(Statement(
                sid=str(get(statement, "Sid") or f"#{index}"),
                effect=str(get(statement, "Effect") or ""),
                actions=tuple(_strings(get(statement, "Action"))),
                not_actions=tuple(_strings(not_action)) if not_action is not None else None,
                resources=tuple(_strings(get(statement, "Resource"))),
                not_resources=tuple(_strings(not_resource)) if not_resource is not None else None,
                principal=get(statement, "Principal"),
                not_principal=get(statement, "NotPrincipal"),
                condition=get(statement, "Condition"),
            ))
    return statements


# --- conditions -------------------------------------------------------------------------------

# Keys that identify the caller or where the request comes from: pinning one narrows "everyone".
IDENTIFYING_KEYS = {
    "aws:principalorgid", "aws:principalorgpaths", "aws:principalaccount", "aws:principalarn", "aws:sourceaccount",
    "aws:sourcearn", "aws:sourceowner", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceip", "aws:vpcsourceip",
    "aws:userid", "aws:username", "aws:principalservicename", "kms:calleraccount", "kms:viaservice",
    "aws:sourceorgid", "aws:sourceorgpaths", "aws:resourceorgid", "aws:calledvia",
}
POSITIVE_OPERATORS = {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress"}
WILDCARD_OPERATORS = {"stringlike", "arnlike"}


def _clauses(condition: Any) -> list[tuple[str, str, list[str]]]:
    """(operator, key, values) for every clause."""
    found = []
    if not is_mapping(condition):
        return found
    for operator in condition:
        block = condition[operator]
        if not is_mapping(block):
            continue
        for key in block:
            found.append((str(operator), str(key), _strings(block[key])))
    return found


def _world(values: list[str]) -> bool:
    networks: dict[int, list] = {4: [], 6: []}
    for value in values:
        try:
            network = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            continue
        networks[network.version].append(network)
    return any(ipaddress.ip_network(w) in ipaddress.collapse_addresses(networks[v]) for v, w in ((4, "0.0.0.0/0"), (6, "::/0")))


def always_true(operator: str, key: str, values: list[str]) -> bool:
    """A clause that every request (or every request a caller can shape) satisfies."""
    op = operator.lower()
    if op.endswith("ifexists") or op.startswith("forallvalues:"):
        return True  # passes whenever the key is absent
    op = op.split(":")[-1]
    lowered = [v.strip().lower() for v in values]
    if op in WILDCARD_OPERATORS and any(v.strip("*") == "" for v in lowered):
        return True
    if op in ("bool", "null") and {"true", "false"} <= set(lowered):
        return True
    if op == "ipaddress" and _world(values):
        return True
    if op.startswith(("stringnot", "arnnot", "notip", "numericnot")):
        return True  # "anything but X" still lets everyone else in
    return False


def _pinned(operator: str, values: list[str]) -> bool:
    op = operator.lower().split(":")[-1]
    if not values:
        return False
    if op in WILDCARD_OPERATORS:
        return all("*" not in v and "?" not in v for v in values)
    return True


def narrowing(condition: Any, keys: set[str] = IDENTIFYING_KEYS) -> bool:
    """The condition pins at least one caller-identifying key to exact values (see module doc)."""
    for operator, key, values in _clauses(condition):
        if always_true(operator, key, values):
            continue
        if operator.lower().split(":")[-1] not in POSITIVE_OPERATORS:
            continue
        if key.lower() in keys and _pinned(operator, values):
            return True
    return False


def pinned_key(condition: Any, key_suffix: str, provider: Optional[str] = None) -> Optional[bool]:
    """For an OIDC trust: True when a clause pins `<provider>:<suffix>` to exact values, False
    when it matches it with a wildcard, None when no clause names it."""
    result: Optional[bool] = None
    for operator, key, values in _clauses(condition):
        lowered = key.lower()
        if not lowered.endswith(":" + key_suffix):
            continue
        if provider is not None and lowered.rsplit(":", 1)[0] != provider.lower():
            continue
        if always_true(operator, key, values) or operator.lower().split(":")[-1] not in POSITIVE_OPERATORS:
            result = False if result is None else result
            continue
        ok = _pinned(operator, values)
        result = ok if result is None else (result or ok)
    return result
