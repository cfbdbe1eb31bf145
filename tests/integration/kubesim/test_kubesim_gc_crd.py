"""Owner-reference garbage collection and custom resources with a status subresource."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from envfarm.testing.kubesim import KubeSimThread, pod_manifest, wait_until

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "rolloutjobs.envfarm.io"},
    "spec": {
        "group": "envfarm.io",
        "scope": "Namespaced",
        "names": {
            "plural": "rolloutjobs",
            "singular": "rolloutjob",
            "kind": "RolloutJob",
            "shortNames": ["rj"],
        },
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}
G, V, P = "envfarm.io", "v1alpha1", "rolloutjobs"


def _owned(name: str, owner: Any) -> dict[str, Any]:
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name, "uid": owner.metadata.uid}
    return pod_manifest(name, ownerReferences=[ref])


def _names(v1: Any) -> list[str]:
    return sorted(p.metadata.name for p in v1.list_namespaced_pod("default").items)


def test_background_cascade_deletes_dependents(v1: Any) -> None:
    owner = v1.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    for i in range(3):
        v1.create_namespaced_pod("default", _owned(f"dep-{i}", owner))
    v1.create_namespaced_pod("default", pod_manifest("bystander"))
    v1.delete_namespaced_config_map("owner", "default", propagation_policy="Background")
    wait_until(lambda: _names(v1) == ["bystander"])


def test_orphan_keeps_dependents_and_foreground_waits(v1: Any) -> None:
    owner = v1.create_namespaced_config_map("default", {"metadata": {"name": "o1"}})
    v1.create_namespaced_pod("default", _owned("kept", owner))
    v1.delete_namespaced_config_map("o1", "default", propagation_policy="Orphan")
    wait_until(lambda: not v1.read_namespaced_pod("kept", "default").metadata.owner_references)
    owner = v1.create_namespaced_config_map("default", {"metadata": {"name": "o2"}})
    v1.create_namespaced_pod("default", _owned("fg", owner))
    wait_until(lambda: v1.read_namespaced_pod("fg", "default").status.phase == "Running")
    v1.delete_namespaced_config_map("o2", "default", propagation_policy="Foreground")
    assert "foregroundDeletion" in v1.read_namespaced_config_map("o2", "default").metadata.finalizers
    wait_until(lambda: not v1.list_namespaced_config_map("default", field_selector="metadata.name=o2").items)
    assert _names(v1) == ["kept"]


def test_crd_then_custom_resources_with_status(ks: KubeSimThread, api: Any) -> None:
    ext, co = client.ApiextensionsV1Api(api), client.CustomObjectsApi(api)
    ext.create_custom_resource_definition(CRD)
    assert any(
        c.type == "Established"
        for c in ext.read_custom_resource_definition(CRD["metadata"]["name"]).status.conditions
    )
    body = {
        "apiVersion": f"{G}/{V}",
        "kind": "RolloutJob",
        "metadata": {"name": "j"},
        "spec": {"groupSize": 4},
        "status": {"phase": "ignored-on-create"},
    }
    made = co.create_namespaced_custom_object(G, V, "default", P, body)
    assert made["metadata"]["generation"] == 1 and "status" not in made
    co.patch_namespaced_custom_object_status(G, V, "default", P, "j", {"status": {"phase": "Running"}})
    co.patch_namespaced_custom_object(
        G, V, "default", P, "j", {"spec": {"groupSize": 8}, "status": {"phase": "x"}}
    )
    got = co.get_namespaced_custom_object(G, V, "default", P, "j")
    assert (
        got["status"] == {"phase": "Running"}
        and got["spec"]["groupSize"] == 8
        and got["metadata"]["generation"] == 2
    )
    stale = {**got, "spec": {"groupSize": 1}, "metadata": {**got["metadata"], "resourceVersion": "1"}}
    with pytest.raises(client.ApiException) as err:
        co.replace_namespaced_custom_object(G, V, "default", P, "j", stale)
    assert err.value.status == 409
    listed = co.list_namespaced_custom_object(G, V, "default", P)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["j"]
    ext.delete_custom_resource_definition(CRD["metadata"]["name"])
    with pytest.raises(client.ApiException) as err:
        co.list_namespaced_custom_object(G, V, "default", P)
    assert err.value.status == 404


def test_custom_resource_before_crd_is_404(api: Any) -> None:
    with pytest.raises(client.ApiException) as err:
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            G, V, "default", P, {"metadata": {"name": "x"}}
        )
    assert err.value.status == 404
