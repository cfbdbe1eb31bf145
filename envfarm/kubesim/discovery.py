"""Discovery documents: /version, /api, /apis and the resource list of each group version."""

from __future__ import annotations

from typing import Any

from envfarm.kubesim.resources import VERBS, Registry, ResourceType

VERSION = {
    "major": "1",
    "minor": "36",
    "gitVersion": "v1.36.0-kubesim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.24",
    "compiler": "gc",
    "platform": "linux/amd64",
}
POD_SUBRESOURCES = {"log": ["get"], "binding": ["create"], "eviction": ["create"]}


def api_versions(address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def group_list(registry: Registry) -> dict[str, Any]:
    groups = []
    for group in registry.groups():
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in registry.versions(group)]
        groups.append({"name": group, "versions": versions, "preferredVersion": versions[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(registry: Registry, name: str) -> dict[str, Any] | None:
    found = next((g for g in group_list(registry)["groups"] if g["name"] == name), None)
    return None if found is None else {"kind": "APIGroup", "apiVersion": "v1", **found}


def _entry(rt: ResourceType) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(VERBS),
    }
    if rt.short_names:
        out["shortNames"] = list(rt.short_names)
    if rt.categories:
        out["categories"] = list(rt.categories)
    return out


def _sub(rt: ResourceType, sub: str, verbs: list[str]) -> dict[str, Any]:
    return {
        "name": f"{rt.plural}/{sub}",
        "singularName": "",
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": verbs,
    }


def resource_list(registry: Registry, group_name: str, version: str) -> dict[str, Any] | None:
    types = sorted(registry.in_version(group_name, version), key=lambda r: r.plural)
    if not types:
        return None
    resources = []
    for rt in types:
        resources.append(_entry(rt))
        if rt.has_status:
            resources.append(_sub(rt, "status", ["get", "patch", "update"]))
        if rt.key == "/pods":
            resources.extend(_sub(rt, s, v) for s, v in POD_SUBRESOURCES.items())
    gv = f"{group_name}/{version}" if group_name else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
