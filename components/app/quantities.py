"""Kubernetes resource quantities: the small subset this program writes (cpu and memory)."""

from __future__ import annotations

import re

CPU_PATTERN = r"^([0-9]+m|[0-9]+(\.[0-9]{1,3})?)$"
MEMORY_PATTERN = r"^[0-9]+(Ki|Mi|Gi|Ti)?$"

_BINARY = {"": 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}


def cpu_millicores(quantity: str) -> int:
    if quantity.endswith("m"):
        return int(quantity[:-1])
    return round(float(quantity) * 1000)


def memory_bytes(quantity: str) -> int:
    match = re.fullmatch(r"([0-9]+)(Ki|Mi|Gi|Ti)?", quantity)
    if not match:
        raise ValueError(f"not a memory quantity like 512Mi or 2Gi: {quantity!r}")
    return int(match.group(1)) * _BINARY[match.group(2) or ""]


def mebibytes(quantity: str) -> int:
    return memory_bytes(quantity) // 1024**2
