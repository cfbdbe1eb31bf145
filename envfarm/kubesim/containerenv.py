"""A container's environment and command line as the kubelet builds them (pure).

``env`` entries are resolved in order: ``value`` (with ``$(VAR)`` references to earlier variables
expanded), ``valueFrom.fieldRef``, ``valueFrom.secretKeyRef`` and ``valueFrom.configMapKeyRef`` (looked up
through a callback). ``command`` and ``args`` then have ``$(VAR)`` expanded from that environment; an
undefined reference is left as written and ``$$`` escapes a dollar, as Kubernetes does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from envfarm.errors import ClusterError

Obj = dict[str, Any]
Lookup = Callable[[str, str, str], str | None]  # (kind: "secret" | "configmap", name, key) -> value
REF = re.compile(r"\$(\$|\(([A-Za-z_][A-Za-z0-9_.-]*)\))")


class MissingRef(ClusterError):
    """A secretKeyRef/configMapKeyRef names a Secret, ConfigMap or key that does not exist."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """``$(VAR)`` -> its value when defined (else unchanged); ``$$`` -> ``$``."""

    def one(m: re.Match[str]) -> str:
        if m.group(1) == "$":
            return "$"
        return env.get(m.group(2), m.group(0))

    return REF.sub(one, text)


def expand_all(items: list[str] | None, env: Mapping[str, str]) -> list[str] | None:
    return None if items is None else [expand(str(x), env) for x in items]


def _key_ref(source: Obj, kind: str, lookup: Lookup) -> str:
    name, key = str(source.get("name", "")), str(source.get("key", ""))
    value = lookup(kind, name, key)
    if value is None:
        if source.get("optional"):
            return ""
        raise MissingRef(f'couldn\'t find key {key} in {kind} "{name}"')
    return value


def resolve_env(
    base: Mapping[str, str],
    container: Obj,
    field: Callable[[str], Any],
    lookup: Lookup,
) -> dict[str, str]:
    """``base`` plus the container's ``env`` entries, resolved in order."""
    env = dict(base)
    for item in container.get("env") or ():
        source = item.get("valueFrom") or {}
        if "fieldRef" in source:
            value = field(str(source["fieldRef"].get("fieldPath", "")))
            env[item["name"]] = "" if value is None else str(value)
        elif "secretKeyRef" in source:
            env[item["name"]] = _key_ref(source["secretKeyRef"], "secret", lookup)
        elif "configMapKeyRef" in source:
            env[item["name"]] = _key_ref(source["configMapKeyRef"], "configmap", lookup)
        else:
            env[item["name"]] = expand(str(item.get("value", "")), env)
    return env
