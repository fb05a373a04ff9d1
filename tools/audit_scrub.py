"""Mask every known secret, and every credential-shaped substring, in text that tools.audit prints.

One Aho-Corasick automaton (pyahocorasick) over every remembered value and its encoded forms
(JSON-escaped, percent-encoded, base64): a scrub is one pass over the text, linear in its length
plus the matches, and building the automaton is linear in the total length of the secrets
(tools/bench_audit.py measures both). Overlapping matches are merged, so no fragment of a secret
survives between two masks. Then the credential shapes (tools/audit_shapes.ANY_SHAPE) are masked
too, so a value the scan never saw still does not print if it looks like a credential.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Iterable
from urllib.parse import quote, quote_plus

import ahocorasick

from tools.audit_shapes import ANY_SHAPE

MASK = "[secret]"
MIN_CHARS = 4  # shorter values ("on", "dev") would mask half the report; they are never printed as values


def encoded_forms(value: str) -> set[str]:
    """The forms a value takes in JSON, URLs and base64 as well as itself."""
    raw = value.encode("utf-8", "surrogatepass")
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
             quote(value, safe=""), quote_plus(value, safe=""), quote(value)}
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        forms.add(encoded)
        forms.add(encoded.rstrip("="))
    return {f for f in forms if len(f) >= MIN_CHARS}


class Scrubber:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._automaton = None

    def __len__(self) -> int:
        return len(self._values)

    def add(self, value: Any) -> None:
        if isinstance(value, str) and len(value.strip()) >= MIN_CHARS and value != MASK:
            new = encoded_forms(value) - self._values
            if new:
                self._values |= new
                self._automaton = None

    def add_all(self, values: Iterable[Any]) -> None:
        for value in values:
            self.add(value)

    def _built(self):
        if self._automaton is None and self._values:
            automaton = ahocorasick.Automaton(ahocorasick.STORE_LENGTH)
            for value in self._values:
                automaton.add_word(value)
            automaton.make_automaton()
            self._automaton = automaton
        return self._automaton

    def scrub(self, text: str) -> str:
        automaton = self._built()
        if automaton is not None and text:
            spans: list[list[int]] = []
            for end, length in automaton.iter(text):
                start = end - length + 1
                if spans and start <= spans[-1][1]:
                    # Matches arrive by end position; merge every overlap into one mask.
                    while spans and start <= spans[-1][1]:
                        start = min(start, spans.pop()[0])
                spans.append([start, end + 1])
            if spans:
                out, position = [], 0
                for start, stop in spans:
                    out.append(text[position:start])
                    out.append(MASK)
                    position = stop
                out.append(text[position:])
                text = "".join(out)
        return ANY_SHAPE.sub(MASK, text)

    def scrub_tree(self, value: Any) -> Any:
        """A copy of a JSON-like report with every string, keys included, scrubbed (iteratively)."""
        root: list = [None]
        stack = [(value, root, 0)]
        while stack:
            node, parent, slot = stack.pop()
            if isinstance(node, dict):
                copy: Any = {}
                parent[slot] = copy
                for key, child in node.items():
                    new_key = self.scrub(key) if isinstance(key, str) else key
                    copy[new_key] = None
                    stack.append((child, copy, new_key))
            elif isinstance(node, (list, tuple)):
                copy = [None] * len(node)
                parent[slot] = copy
                for index, child in enumerate(node):
                    stack.append((child, copy, index))
            elif isinstance(node, str):
                parent[slot] = self.scrub(node)
            else:
                parent[slot] = node
        return root[0]
