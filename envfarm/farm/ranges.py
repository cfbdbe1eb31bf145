"""Sets of sample indices as compact range strings: ``{0, 1, 2, 5}`` <-> ``"0-2,5"`` (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from envfarm.errors import RecordError


def encode(indices: Iterable[int]) -> str:
    """Sorted, merged ranges; ``""`` for none."""
    parts: list[str] = []
    start = prev = None
    for i in sorted(set(indices)):
        if prev is not None and i == prev + 1:
            prev = i
            continue
        if start is not None:
            parts.append(_part(start, prev))
        start = prev = i
    if start is not None:
        parts.append(_part(start, prev))
    return ",".join(parts)


def _part(start: int, end: int | None) -> str:
    return str(start) if end == start else f"{start}-{end}"


def decode(text: str, *, field: str = "status.done") -> set[int]:
    """The indices ``text`` names; a malformed string raises :class:`RecordError` naming ``field``."""
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise RecordError(f"bad range {part!r} in {text[:80]!r}", field=field) from None
        if a < 0 or b < a:
            raise RecordError(f"bad range {part!r}", field=field)
        out.update(range(a, b + 1))
    return out
