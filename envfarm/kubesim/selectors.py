"""Label and field selectors: parse the query-string forms and match objects (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from envfarm.errors import ApiError

_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\((.*)\)\s*$")


@dataclass(frozen=True)
class Requirement:
    """One clause: ``key op values`` with op in =, !=, in, notin, exists, !exists."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, value: str | None) -> bool:
        if self.op == "exists":
            return value is not None
        if self.op == "!exists":
            return value is None
        if self.op in ("=", "in"):
            return value is not None and value in self.values
        return value is None or value not in self.values


def _split_clauses(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [c.strip() for c in out if c.strip()]


def _bad(kind: str, text: str) -> ApiError:
    return ApiError(f"unable to parse requirement: invalid {kind} selector {text!r}", status=400)


def _parse_clause(clause: str, kind: str) -> Requirement:
    found = _SET_RE.match(clause)
    if found:
        values = tuple(v.strip() for v in found.group(3).split(",") if v.strip())
        return Requirement(found.group(1), found.group(2), values)
    for op, norm in (("!=", "!="), ("==", "="), ("=", "=")):
        if op in clause:
            key, _, value = clause.partition(op)
            if not key.strip():
                raise _bad(kind, clause)
            return Requirement(key.strip(), norm, (value.strip(),))
    if clause.startswith("!"):
        return Requirement(clause[1:].strip(), "!exists")
    if kind == "field" or not re.fullmatch(r"[A-Za-z0-9_./-]+", clause):
        raise _bad(kind, clause)
    return Requirement(clause, "exists")


def parse_selector(text: str | None, kind: str = "label") -> tuple[Requirement, ...]:
    """Parse a ``labelSelector`` or ``fieldSelector`` query value (empty means everything)."""
    if not text:
        return ()
    return tuple(_parse_clause(c, kind) for c in _split_clauses(text))


def match_labels(reqs: tuple[Requirement, ...], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    return all(r.matches(labels.get(r.key)) for r in reqs)


def field_value(obj: dict[str, Any], path: str) -> str | None:
    """The string value at a dotted path (missing parts give '' like the API server's field sets)."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def match_fields(reqs: tuple[Requirement, ...], obj: dict[str, Any]) -> bool:
    return all(r.matches(field_value(obj, r.key)) for r in reqs)


def match_label_selector_object(selector: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
    """Match a structured LabelSelector (matchLabels + matchExpressions), as in a Deployment."""
    if not selector:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expr in selector.get("matchExpressions") or []:
        req = Requirement(expr["key"], ops[expr["operator"]], tuple(expr.get("values") or ()))
        if not req.matches(labels.get(req.key)):
            return False
    return True
