"""Find plaintext secrets anywhere in a `pulumi stack export`, for tools.audit.

One iterative walk over EVERY node of the document (ids, URNs, inputs, outputs, initErrors,
pending operations, the manifest, metadata, snippets, unknown fields; keys as well as values),
descending into the strings that are themselves documents (JSON, YAML, base64), so a kubeconfig,
a Docker config or a `last-applied-configuration` annotation is read too. A secret marker is
trusted only in its exact export form `{sig: <secret sig>, ciphertext: <base64 ciphertext>}`;
any other secret-marked object is a finding and its contents are scanned and remembered.
Every value found is remembered in a Scrubber, so nothing the report prints can carry it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Optional

import yaml

from tools.audit_scrub import Scrubber
from tools.audit_shapes import (
    base64_text,
    key_words,
    pack_credential,
    plain_value,
    printable_ratio,
    secret_key_name,
    shapes_in,
    url_userinfo,
)
from tools.mock_runtime import SECRET_MARK, SECRET_SIG

MAX_NODES = 5_000_000  # nodes visited, nested documents included; beyond, the scan says it stopped
MAX_NESTED_CHARS = 8 * 1024 * 1024  # strings longer than this are scanned as text, not parsed
MAX_NESTING = 4  # a document in a string in a document ...
DOCKER_FIELDS = ("auth", "password", "identitytoken", "registrytoken")
_SAFE_KEY = re.compile(r"[A-Za-z0-9_.\-/$:@]{1,80}")
_YAML_HINT = re.compile(r"^\s*[A-Za-z0-9_.\"'-]+\s*:", re.MULTILINE)
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Hit:
    kind: str  # what was found
    path: str  # where, keys rendered safely
    urn: Optional[str]


def k8s_base_kind(type_token: str) -> tuple[str, bool]:
    """`kubernetes:core/v1:SecretPatch` -> (Secret, False); `...:SecretList` -> (Secret, True)."""
    if not type_token.startswith("kubernetes:"):
        return "", False
    kind = type_token.rsplit(":", 1)[-1]
    if kind.endswith("Patch"):
        return kind[: -len("Patch")], False
    if kind.endswith("List"):
        return kind[: -len("List")], True
    return kind, False


def ciphertext_problem(ciphertext: str) -> Optional[str]:
    """Why a ciphertext is not one (base64 of random bytes, `v1:<nonce>:<ct>` for passphrase), or None."""
    parts = ciphertext.split(":")
    blobs = parts[1:] if parts[0] == "v1" and len(parts) == 3 else [ciphertext]
    decoded = []
    for blob in blobs:
        try:
            decoded.append(base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True))
        except (binascii.Error, ValueError):
            return "is not base64"
    if sum(len(d) for d in decoded) < 16:
        return "is too short to be a ciphertext"
    if len(decoded[-1]) >= 8 and printable_ratio(decoded[-1]) > 0.9:
        return "decodes to readable text"
    return None


def trusted_secret(value: Any) -> bool:
    return (isinstance(value, dict) and len(value) == 2 and value.get(SECRET_SIG) == SECRET_MARK
            and isinstance(value.get("ciphertext"), str) and ciphertext_problem(value["ciphertext"]) is None)


def _segment(key: Any, index: int) -> str:
    text = str(key)
    if _SAFE_KEY.fullmatch(text) and not (len(text) >= 24 and re.search(r"\d", text) and re.search(r"[a-z]", text) and re.search(r"[A-Z]", text)):
        return "." + text
    return "{key #%d}" % index  # a key that could itself be a secret is shown by position


def render_path(path) -> str:
    parts = []
    while path is not None:
        path, segment = path
        parts.append(segment)
    return "".join(reversed(parts)).lstrip(".")


class SecretScan:
    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.scrubber = Scrubber()
        self.incomplete: Optional[str] = None
        self._seen_hits: set[tuple[str, str]] = set()
        self._k8s_secret_roots: set[int] = set()
        self._urn_roots: dict[int, str] = {}
        self._visited: set[int] = set()
        self._nodes = 0

    # --- bookkeeping ----------------------------------------------------------------------------

    def remember(self, *values: Any) -> None:
        for value in values:
            if isinstance(value, str):
                self.scrubber.add(value)
                self.scrubber.add(value.strip())

    def hit(self, kind: str, path, urn: Optional[str]) -> None:
        where = render_path(path)
        if (kind, where) not in self._seen_hits:
            self._seen_hits.add((kind, where))
            self.hits.append(Hit(kind, where, urn))

    # --- entry points ---------------------------------------------------------------------------

    def scan_export(self, doc: dict, shadowed: list = ()) -> None:
        deployment = doc.get("deployment") or {}
        resources = list(deployment.get("resources") or [])
        resources += [op["resource"] for op in deployment.get("pending_operations") or [] if isinstance(op, dict)]
        for resource in resources:
            self._urn_roots[id(resource)] = resource.get("urn")
            kind, is_list = k8s_base_kind(resource.get("type", ""))
            if kind != "Secret":
                continue
            for section in ("inputs", "outputs"):
                props = resource.get(section) or {}
                if is_list:
                    self._k8s_secret_roots.update(id(item) for item in props.get("items") or [] if isinstance(item, dict))
                else:
                    self._k8s_secret_roots.add(id(props))
        self.walk(doc, None)
        for key, value in shadowed:
            path = (None, "(a value hidden by a repeated key)")
            self.hit("a repeated key in one object hides a value (not what `pulumi stack export` writes)", path, None)
            self.walk(value, path)

    def walk(self, root: Any, root_path, urn: Optional[str] = None) -> None:
        # (node, path, key it sits under, urn, inside secret content, nesting of string documents)
        stack: list[tuple] = [(root, root_path, None, urn, False, 0)]
        while stack:
            if self._nodes >= MAX_NODES:
                self.incomplete = f"stopped after {MAX_NODES} nodes"
                return
            self._nodes += 1
            node, path, key, urn, secret, nest = stack.pop()
            if isinstance(node, dict):
                if id(node) in self._visited:
                    continue
                self._visited.add(id(node))
                urn = self._urn_roots.get(id(node), urn)
                self._dict(node, path, key, urn, secret, nest, stack)
            elif isinstance(node, list):
                if id(node) in self._visited:
                    continue
                self._visited.add(id(node))
                for index in range(len(node) - 1, -1, -1):
                    stack.append((node[index], (path, f"[{index}]"), key, urn, secret, nest))
            elif isinstance(node, str):
                self._string(node, path, key, urn, secret, nest, stack)

    # --- objects --------------------------------------------------------------------------------

    def _dict(self, node: dict, path, key, urn, secret: bool, nest: int, stack: list) -> None:
        secret_fields: set = set()
        if node.get(SECRET_SIG) == SECRET_MARK:
            ciphertext = node.get("ciphertext")
            if trusted_secret(node):
                for kind, _match in shapes_in(ciphertext):  # a token pasted where a ciphertext belongs
                    self.hit(f"{kind}-shaped string in a ciphertext field", (path, ".ciphertext"), urn)
                    self.remember(ciphertext)
                return
            secret = True
            if "plaintext" in node:
                self.hit("secret exported in plaintext (--show-secrets); keep exports encrypted", path, urn)
                plaintext = node["plaintext"]
                if isinstance(plaintext, str):
                    self.remember(plaintext)
                    parsed = _parse_json(plaintext)
                    if isinstance(parsed, (dict, list)):
                        stack.append((parsed, (path, ".plaintext<json>"), key, urn, True, nest + 1))
            elif isinstance(ciphertext, str) and set(node) == {SECRET_SIG, "ciphertext"}:
                self.hit(f"secret-marked ciphertext {ciphertext_problem(ciphertext)}: a plaintext disguised as a ciphertext?", path, urn)
            else:
                others = len(set(node) - {SECRET_SIG, "ciphertext"})
                self.hit(f"secret-marked object is not the exact {{sig, ciphertext}} form ({others} other field(s)); "
                         "only that form is trusted, so its contents count as plaintext", path, urn)
        if id(node) in self._k8s_secret_roots or (node.get("kind") == "Secret" and ("data" in node or "stringData" in node)):
            for field in ("data", "stringData"):
                value = node.get(field)
                if value is not None and value != {} and not trusted_secret(value):
                    self.hit("Kubernetes Secret data is not wrapped as a Pulumi secret", (path, "." + field), urn)
                    secret_fields.add(field)
        if node.get("kind") == "SecretList":
            self._k8s_secret_roots.update(id(item) for item in node.get("items") or [] if isinstance(item, dict))
        auths = node.get("auths")
        if isinstance(auths, dict):
            for index, (registry, entry) in enumerate(auths.items()):
                if isinstance(entry, dict) and any(isinstance(entry.get(f), str) and entry.get(f) for f in DOCKER_FIELDS):
                    self.hit("Docker registry credential in plain text", (path, ".auths" + _segment(registry, index)), urn)
                    self._remember_tree(entry)
                    auth = base64_text(entry.get("auth") or "", 4) if isinstance(entry.get("auth"), str) else None
                    if auth:
                        self.remember(auth, auth.partition(":")[2])
        # env / tag pairs: `{name: DB_PASSWORD, value: ...}`, `{key: ..., value: ...}`
        label = node.get("name") if isinstance(node.get("name"), str) else node.get("key")
        value = node.get("value")
        if not secret and isinstance(label, str) and isinstance(value, str) and self._credential_name(label, value):
            self.hit(f"a literal value under a credential-like name ({_name_kind(label)})", (path, ".value"), urn)
            self.remember(value)
        marker = node.get(SECRET_SIG) == SECRET_MARK
        for index, (child_key, child) in enumerate(node.items()):
            if marker and child_key in (SECRET_SIG, "ciphertext", "plaintext"):
                if child_key == SECRET_SIG:
                    continue
                segment = "." + child_key
            else:
                # Inside secret content a key may itself be secret: shown by position, and
                # remembered unless it is short enough to be a plain word (`password`).
                segment = "{key #%d}" % index if secret else _segment(child_key, index)
            if isinstance(child_key, str):
                if secret and len(child_key) >= 12 and not (marker and child_key in ("ciphertext", "plaintext")):
                    self.remember(child_key)
                for kind, match in shapes_in(child_key):
                    self.hit(f"{kind}-shaped property key", (path, segment), urn)
                    self.remember(match, child_key)
            stack.append((child, (path, segment), child_key, urn, secret or child_key in secret_fields, nest))

    def _remember_tree(self, value: Any) -> None:
        stack = [value]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                self.remember(*[k for k in node if isinstance(k, str)])
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
            else:
                self.remember(node)

    # --- strings --------------------------------------------------------------------------------

    @staticmethod
    def _credential_name(name: str, value: str) -> bool:
        if not secret_key_name(name) or plain_value(value, name):
            return False
        words = key_words(name)
        return not (words and words[-1] == "dsn" and "@" not in value)

    def _string(self, text: str, path, key, urn, secret: bool, nest: int, stack: list) -> None:
        if secret:
            self.remember(text, base64_text(text, 4))
        else:
            found = False
            for kind, match in shapes_in(text):
                self.hit(f"{kind}-shaped string in plain text", path, urn)
                self.remember(match, text)
                found = True
            for kind, parts in url_userinfo(text):
                self.hit(kind, path, urn)
                self.remember(*parts, text)
                found = True
            if not found:
                what = pack_credential(text)
                if what:
                    self.hit(f"{what} (the policy pack's heuristic)", path, urn)
                    self.remember(text)
                    found = True
            if isinstance(key, str) and self._credential_name(key, text):
                words = key_words(key)
                aws = {"secret", "access", "key"} <= set(words) and re.fullmatch(r"[A-Za-z0-9/+]{40}", text.strip())
                self.hit("AWS secret access key in plain text" if aws else f"a literal value under a credential-like name ({_name_kind(key)})", path, urn)
                self.remember(text)
        if nest >= MAX_NESTING or len(text) > MAX_NESTED_CHARS:
            return
        decoded = base64_text(text, 16)
        if decoded is not None and decoded != text:
            if secret:
                self.remember(decoded)
            stack.append((decoded, (path, "<base64>"), None, urn, secret, nest + 1))
            return
        stripped = text.lstrip()
        if stripped[:1] in ("{", "["):
            parsed = _parse_json(text)
            if isinstance(parsed, (dict, list)):
                stack.append((parsed, (path, "<json>"), None, urn, secret, nest + 1))
                return
        if "\n" in text and _YAML_HINT.search(text):
            for index, parsed in enumerate(_parse_yaml(text)):
                if isinstance(parsed, (dict, list)):
                    stack.append((parsed, (path, f"<yaml {index}>"), None, urn, secret, nest + 1))


def _name_kind(name: str) -> str:
    words = key_words(name)
    return words[-1] if words else "credential"


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _parse_yaml(text: str) -> list:
    try:
        return [_stringify(doc) for doc in yaml.load_all(text, Loader=_YamlLoader)]
    except Exception:  # noqa: BLE001 - any string may be read as YAML; most are not YAML at all
        return []


def _stringify(doc: Any) -> Any:
    """YAML keys and scalars (ints, dates) as strings, iteratively, so the walk sees text."""
    if not isinstance(doc, (dict, list)):
        return doc if isinstance(doc, str) else None
    root: list = [None]
    stack = [(doc, root, 0)]
    seen: dict[int, Any] = {}
    while stack:
        node, parent, slot = stack.pop()
        if isinstance(node, (dict, list)) and id(node) in seen:
            parent[slot] = seen[id(node)]
        elif isinstance(node, dict):
            copy: dict = {}
            seen[id(node)] = parent[slot] = copy
            for k, v in node.items():
                copy[str(k)] = None
                stack.append((v, copy, str(k)))
        elif isinstance(node, list):
            copy_list: list = [None] * len(node)
            seen[id(node)] = parent[slot] = copy_list
            stack.extend((v, copy_list, i) for i, v in enumerate(node))
        else:
            parent[slot] = node if isinstance(node, str) else (None if node is None else str(node))
    return root[0]
