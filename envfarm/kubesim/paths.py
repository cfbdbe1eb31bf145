"""Parse API paths into the resource, namespace, name and subresource they address (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from envfarm.errors import ApiError
from envfarm.kubesim.resources import Registry, ResourceType

NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True)
class Target:
    """What one resource request addresses; ``ns`` is None for a request across all namespaces."""

    rt: ResourceType
    ns: str | None
    name: str
    sub: str
    legacy_watch: bool = False

    @property
    def resource(self) -> str:
        """The resource label of request counters: plural, plus the subresource if any."""
        return f"{self.rt.plural}/{self.sub}" if self.sub else self.rt.plural


def _not_found(path: str) -> ApiError:
    return ApiError(
        f"the server could not find the requested resource ({path})", status=404, reason="NotFound"
    )


def parse(path: str, registry: Registry) -> Target:
    """Resolve ``/api/v1/...`` or ``/apis/GROUP/VERSION/...`` to a :class:`Target`."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise _not_found(path)
    legacy_watch = rest[0] == "watch"
    if legacy_watch:
        rest = rest[1:]
    ns: str | None = None
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and not (len(rest) == 3 and rest[2] in NAMESPACE_SUBRESOURCES)
    ):
        ns, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise _not_found(path)
    rt = registry.lookup(group, version, rest[0])
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if (rt.namespaced and name and ns is None) or (not rt.namespaced and ns is not None):
        raise _not_found(path)
    return Target(rt, ns, name, sub, legacy_watch)


def verb(method: str, target: Target, query: dict[str, str]) -> str:
    """The API verb of a request (get, list, watch, create, update, patch, delete, deletecollection)."""
    if method == "GET":
        if target.name:
            return "get"
        return "watch" if target.legacy_watch or query.get("watch", "").lower() in ("true", "1") else "list"
    table = {"POST": "create", "PUT": "update", "PATCH": "patch"}
    if method in table:
        return table[method]
    if method == "DELETE":
        return "delete" if target.name else "deletecollection"
    raise ApiError(f"method {method} is not allowed", status=405, reason="MethodNotAllowed")
