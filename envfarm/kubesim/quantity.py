"""Kubernetes resource quantities ("500m", "2", "1Gi", "1e3") as numbers (pure)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from envfarm.errors import InputError

_SUFFIX = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_RE = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def parse(value: str | int | float) -> Decimal:
    """The quantity's value in base units (cores, bytes, count)."""
    if isinstance(value, int | float):
        return Decimal(str(value))
    found = _RE.match(value.strip())
    if not found or found.group(2) not in _SUFFIX:
        raise InputError(f"invalid resource quantity {value!r}")
    try:
        return Decimal(found.group(1)) * _SUFFIX[found.group(2)]
    except InvalidOperation as exc:
        raise InputError(f"invalid resource quantity {value!r}") from exc


def millicores(value: str | int | float) -> int:
    return int((parse(value) * 1000).to_integral_value(rounding="ROUND_CEILING"))


def as_bytes(value: str | int | float) -> int:
    return int(parse(value).to_integral_value(rounding="ROUND_CEILING"))


def pod_requests(pod: dict[str, object]) -> tuple[int, int]:
    """(millicores, bytes) the pod requests: the sum over containers, or the largest init container."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return 0, 0

    def total(containers: object) -> tuple[int, int]:
        cpu = mem = 0
        for c in containers if isinstance(containers, list) else ():
            req = (c.get("resources") or {}).get("requests") or (c.get("resources") or {}).get("limits") or {}
            cpu += millicores(req.get("cpu", 0))
            mem += as_bytes(req.get("memory", 0))
        return cpu, mem

    cpu, mem = total(spec.get("containers"))
    for init in spec.get("initContainers") or ():
        icpu, imem = total([init])
        cpu, mem = max(cpu, icpu), max(mem, imem)
    return cpu, mem
