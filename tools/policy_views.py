"""Resource properties as a policy rule receives them from pulumi_policy's analyzer.

The engine marshals properties into a protobuf Struct (KeepUnknowns, KeepSecrets,
SkipInternalKeys); the analyzer turns it back into a dict, `deserialize_properties` unwraps
secrets, and `unknown_checking_proxy` makes reading a preview-unknown value raise.

The analyzer does that per rule. Here each property map is converted once per plan, on its
first read, and the one read-only view is shared by every rule: the pack's rules are pure
functions, and a rule that tried to write would raise here instead of changing what the next
rule sees. The conversion skips the Struct itself (`wire_values`): same values, insertion order.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Optional

from google.protobuf import json_format, struct_pb2
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import _append_prop, _DictProxy, _ListProxy


def _wire(value: Any, number: Optional[type] = None) -> Any:
    """Plain JSON values (what a protobuf Struct can hold), without the engine's internal
    `__`-prefixed keys (MarshalOptions.SkipInternalKeys, e.g. the bridge's `__defaults`);
    `number=float` also turns integers into the doubles a Struct carries."""
    if isinstance(value, dict):
        return {str(k): _wire(v, number) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, (list, tuple)):
        return [_wire(v, number) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value if number is None else number(value)
    return str(value)


def wire_properties(props: Optional[dict]) -> dict:
    """Properties after the gRPC hop: a protobuf Struct turned back into a dict (secrets still
    wrapped, unknowns still sentinels, integers now floats, keys in the Struct's map order)."""
    struct = struct_pb2.Struct()
    struct.update(_wire(dict(props or {})))
    return json_format.MessageToDict(struct)


def wire_values(props: Optional[dict]) -> dict:
    """`wire_properties`' values without the Struct (protobuf's pure-Python Struct code was
    about 0.45 ms of each review resource's plan): equal leaf for leaf, but maps keep their
    insertion order where the Struct's hash order would differ. No rule may depend on key order."""
    return _wire(dict(props or {}), float)


class ReadOnlyDictProxy(_DictProxy):
    """pulumi_policy's `_DictProxy` (same unknown checks and error paths) that refuses writes."""

    def __getitem__(self, key):
        value = super().__getitem__(key)
        return MappingProxyType(value) if key == "__target" else value

    def __setitem__(self, key, value):
        raise TypeError(f"a policy rule tried to set {key!r} on resource properties; rules must not modify their inputs")


class ReadOnlyListProxy(_ListProxy):
    def __getitem__(self, key):
        value = super().__getitem__(key)
        return tuple(value) if key == "__target" else value


def read_only_proxy(value: Any, path: Optional[list[str]] = None) -> Any:
    """`unknown_checking_proxy(value)` built from the read-only proxies (mirrors `_proxy_helper`)."""
    path = path if path is not None else []
    if isinstance(value, list):
        return ReadOnlyListProxy([read_only_proxy(v, _append_prop(path, i)) for i, v in enumerate(value)], path)
    if isinstance(value, dict):
        return ReadOnlyDictProxy({k: read_only_proxy(v, _append_prop(path, k)) for k, v in value.items()}, path)
    return value


class LazyView(Mapping):
    """One property map as rules see it, converted on first read (most rules return on the
    resource type without reading a property) and then shared."""

    def __init__(self, props: Optional[dict]):
        self._props = props
        self._view: Any = None

    def _target(self) -> Any:
        if self._view is None:
            self._view = read_only_proxy(deserialize_properties(wire_values(self._props)))
            self._props = None
        return self._view

    def __getitem__(self, key):
        return self._target()[key]

    def __setitem__(self, key, value):
        self._target()[key] = value

    def __iter__(self):
        return iter(self._target())

    def __len__(self):
        return len(self._target())


def engine_props(props: Optional[dict]) -> Any:
    """Properties exactly as a rule sees them (deserialized, unknown-checked, read-only)."""
    return LazyView(props)
