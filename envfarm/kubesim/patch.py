"""JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch (pure).

Strategic merge covers what ``kubectl apply`` sends: lists merged by their merge key, primitive lists
merged for fields like finalizers, ``$patch`` (replace/delete/merge), ``$retainKeys``,
``$setElementOrder/...`` and ``$deleteFromPrimitiveList/...`` directives, null deleting a key.
"""

from __future__ import annotations

import copy
from typing import Any

from envfarm.errors import ApiError

#: list field -> merge key, as the Kubernetes Go types declare them (patchMergeKey).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "ports": "containerPort",
    "containerStatuses": "name",
}
#: lists of scalars merged as sets (patchStrategy merge).
MERGED_PRIMITIVE_LISTS = frozenset({"finalizers"})


def _invalid(message: str) -> ApiError:
    return ApiError(message, status=422, reason="Invalid")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _invalid(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for part in parts[:-1]:
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


def _get(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for part in parts:
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent, last = _parent(doc, parts), parts[-1]
    if isinstance(parent, list):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        parent[last] = value
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    parent, last = _parent(doc, parts), parts[-1]
    if isinstance(parent, list):
        return parent.pop(int(last))
    return parent.pop(last)


def json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902 add/remove/replace/move/copy/test on a copy of ``target``."""
    if not isinstance(ops, list):
        raise ApiError("json patch must be a list of operations", status=400, reason="BadRequest")
    doc = copy.deepcopy(target)
    for op in ops:
        try:
            doc = _apply_op(doc, op)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise _invalid(f"json patch operation {op!r} failed: {exc}") from exc
    return doc


def _apply_op(doc: Any, op: dict[str, Any]) -> Any:
    kind, parts = op.get("op"), _pointer(op.get("path", ""))
    if kind == "add":
        return _add(doc, parts, copy.deepcopy(op["value"]))
    if kind == "remove":
        _remove(doc, parts)
        return doc
    if kind == "replace":
        _get(doc, parts)
        if not parts:
            return copy.deepcopy(op["value"])
        _remove(doc, parts)
        return _add(doc, parts, copy.deepcopy(op["value"]))
    if kind in ("move", "copy"):
        source = _pointer(op["from"])
        value = _remove(doc, source) if kind == "move" else copy.deepcopy(_get(doc, source))
        return _add(doc, parts, value)
    if kind == "test":
        if _get(doc, parts) != op.get("value"):
            raise ValueError("test failed")
        return doc
    raise ValueError(f"unknown op {kind!r}")


def strategic_merge_patch(target: Any, patch: Any, kind: str = "") -> Any:
    """Apply a strategic merge patch as the API server does for built-in types."""
    return _smp_map(target if isinstance(target, dict) else {}, patch, path=(kind,))


def _merge_key(field: str, path: tuple[str, ...]) -> str:
    if field == "ports" and path[:1] == ("Service",):
        return "port"
    return MERGE_KEYS.get(field, "")


def _smp_map(target: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return {}
    out = dict(target)
    if "$retainKeys" in patch:
        keep = set(patch["$retainKeys"])
        out = {k: v for k, v in out.items() if k in keep}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            out[field] = [v for v in out.get(field) or [] if v not in value]
            continue
        out_value = _smp_value(out.get(key), value, key, (*path, key))
        if out_value is None:
            out.pop(key, None)
        else:
            out[key] = out_value
    return out


def _smp_value(current: Any, value: Any, key: str, path: tuple[str, ...]) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return _smp_map(current if isinstance(current, dict) else {}, value, path)
    if isinstance(value, list) and isinstance(current, list):
        if key in MERGED_PRIMITIVE_LISTS:
            return current + [v for v in value if v not in current]
        merge_key = _merge_key(key, path)
        if merge_key:
            return _smp_list(current, value, merge_key, path)
    if isinstance(value, list) and any(isinstance(v, dict) and "$patch" in v for v in value):
        return [copy.deepcopy(v) for v in value if not (isinstance(v, dict) and "$patch" in v)]
    return copy.deepcopy(value)


def _smp_list(current: list[Any], patch: list[Any], merge_key: str, path: tuple[str, ...]) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    out = list(current)
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            out.append(copy.deepcopy(item))
            continue
        idx = next(
            (i for i, c in enumerate(out) if isinstance(c, dict) and c.get(merge_key) == item[merge_key]), -1
        )
        if item.get("$patch") == "delete":
            if idx >= 0:
                out.pop(idx)
        elif idx >= 0:
            out[idx] = _smp_map(out[idx], item, path)
        else:
            out.append(_smp_map({}, item, path))
    return out
