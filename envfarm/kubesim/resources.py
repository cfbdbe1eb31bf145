"""The resource types kubesim serves: built-in ones and those that CustomResourceDefinitions add."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from envfarm.errors import ApiError

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One REST resource: where it lives in the API and how its objects behave."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    has_status: bool = False
    categories: tuple[str, ...] = ()
    custom: bool = False
    printer_columns: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """Storage key: one store per group and resource, whatever the version."""
        return f"{self.group}/{self.plural}"


def _rt(gv: str, kind: str, plural: str, *short: str, **kw: Any) -> ResourceType:
    group, _, version = gv.rpartition("/")
    return ResourceType(group, version, kind, plural, short_names=short, **kw)


BUILTIN: tuple[ResourceType, ...] = (
    _rt("v1", "Namespace", "namespaces", "ns", namespaced=False, has_status=True),
    _rt("v1", "Pod", "pods", "po", has_status=True, categories=("all",)),
    _rt("v1", "Event", "events", "ev"),
    _rt("v1", "ConfigMap", "configmaps", "cm"),
    _rt("v1", "Secret", "secrets"),
    _rt("v1", "ServiceAccount", "serviceaccounts", "sa"),
    _rt("v1", "Service", "services", "svc", has_status=True, categories=("all",)),
    _rt("v1", "Endpoints", "endpoints", "ep"),
    _rt("v1", "Node", "nodes", "no", namespaced=False, has_status=True),
    _rt("v1", "PersistentVolumeClaim", "persistentvolumeclaims", "pvc", has_status=True),
    _rt("v1", "ResourceQuota", "resourcequotas", "quota", has_status=True),
    _rt("v1", "LimitRange", "limitranges", "limits"),
    _rt("apps/v1", "Deployment", "deployments", "deploy", has_status=True, categories=("all",)),
    _rt("apps/v1", "ReplicaSet", "replicasets", "rs", has_status=True, categories=("all",)),
    _rt("apps/v1", "StatefulSet", "statefulsets", "sts", has_status=True, categories=("all",)),
    _rt("apps/v1", "DaemonSet", "daemonsets", "ds", has_status=True, categories=("all",)),
    _rt("batch/v1", "Job", "jobs", has_status=True, categories=("all",)),
    _rt("coordination.k8s.io/v1", "Lease", "leases"),
    _rt("rbac.authorization.k8s.io/v1", "Role", "roles"),
    _rt("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    _rt("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced=False),
    _rt("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    _rt("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", "netpol"),
    _rt("networking.k8s.io/v1", "Ingress", "ingresses", "ing", has_status=True),
    _rt("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", "pdb", has_status=True),
    _rt("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", "pc", namespaced=False),
    _rt(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        "crd",
        "crds",
        namespaced=False,
        has_status=True,
    ),
)


def crd_resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """The resource types one CustomResourceDefinition declares (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for ver in spec.get("versions") or []:
        if not ver.get("served", True):
            continue
        columns = tuple(
            (str(c.get("name", "")), str(c.get("jsonPath", "")))
            for c in ver.get("additionalPrinterColumns") or []
        )
        out.append(
            ResourceType(
                group=str(spec.get("group", "")),
                version=str(ver["name"]),
                kind=str(names.get("kind", "")),
                plural=str(names.get("plural", "")),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                has_status="status" in (ver.get("subresources") or {}),
                categories=tuple(names.get("categories") or ()),
                custom=True,
                printer_columns=columns,
            )
        )
    return out


class Registry:
    """Looks resource types up by group, version and plural; CRDs add and remove theirs."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rt in BUILTIN:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._types[(rt.group, rt.version, rt.plural)] = rt

    def remove_group_plural(self, group: str, plural: str) -> None:
        for key in [k for k in self._types if k[0] == group and k[2] == plural]:
            del self._types[key]

    def lookup(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self._types.get((group, version, plural))
        if rt is None:
            where = f"{group}/{version}" if group else version
            raise ApiError(f"the server could not find the requested resource ({where} {plural})", status=404)
        return rt

    def find(self, group: str, plural: str) -> ResourceType | None:
        """Any served version of a group's resource (used for storage-wide operations)."""
        return next((rt for (g, _, p), rt in self._types.items() if g == group and p == plural), None)

    def all(self) -> list[ResourceType]:
        return list(self._types.values())

    def versions(self, group: str) -> list[str]:
        return sorted({rt.version for rt in self._types.values() if rt.group == group}, reverse=True)

    def groups(self) -> list[str]:
        return sorted({rt.group for rt in self._types.values() if rt.group})

    def in_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._types.values() if rt.group == group and rt.version == version]
