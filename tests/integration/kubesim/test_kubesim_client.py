"""The official client's create/get/list/update/patch/delete against kubesim."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from envfarm.testing.kubesim import KubeSimThread, pod_manifest, wait_until


def test_create_get_list_with_selectors(v1: Any) -> None:
    v1.create_namespaced_pod("default", pod_manifest("a", labels={"app": "x", "tier": "web"}))
    v1.create_namespaced_pod("default", pod_manifest("b", labels={"app": "y"}))
    got = v1.read_namespaced_pod("a", "default")
    assert got.metadata.uid and got.metadata.resource_version and got.status.phase in ("Pending", "Running")
    assert [p.metadata.name for p in v1.list_namespaced_pod("default", label_selector="app=x").items] == ["a"]
    assert [
        p.metadata.name
        for p in v1.list_namespaced_pod("default", label_selector="app in (x,y),tier!=web").items
    ] == ["b"]
    assert [
        p.metadata.name for p in v1.list_pod_for_all_namespaces(field_selector="metadata.name=b").items
    ] == ["b"]
    wait_until(
        lambda: len(v1.list_namespaced_pod("default", field_selector="status.phase=Running").items) == 2
    )
    node = v1.read_namespaced_pod("a", "default").spec.node_name
    on_node = v1.list_namespaced_pod("default", field_selector=f"spec.nodeName={node}").items
    assert "a" in [p.metadata.name for p in on_node]


def test_resource_versions_increase_and_list_is_paged(v1: Any) -> None:
    rvs = [
        int(
            v1.create_namespaced_config_map(
                "default", {"metadata": {"name": f"cm{i}"}}
            ).metadata.resource_version
        )
        for i in range(5)
    ]
    assert rvs == sorted(rvs) and len(set(rvs)) == 5
    page = v1.list_namespaced_config_map("default", limit=2)
    assert len(page.items) == 2 and page.metadata._continue
    rest = v1.list_namespaced_config_map("default", limit=10, _continue=page.metadata._continue)
    assert [c.metadata.name for c in page.items + rest.items] == [f"cm{i}" for i in range(5)]


def test_duplicate_name_is_409_and_generate_name_works(v1: Any) -> None:
    v1.create_namespaced_config_map("default", {"metadata": {"name": "dup"}})
    with pytest.raises(client.ApiException) as err:
        v1.create_namespaced_config_map("default", {"metadata": {"name": "dup"}})
    assert err.value.status == 409 and "AlreadyExists" in err.value.body
    made = v1.create_namespaced_config_map("default", {"metadata": {"generateName": "gen-"}})
    assert made.metadata.name.startswith("gen-") and len(made.metadata.name) == 9


def test_stale_update_is_409(v1: Any) -> None:
    cm = v1.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"k": "1"}})
    cm.data = {"k": "2"}
    v1.replace_namespaced_config_map("c", "default", cm)
    cm.data = {"k": "3"}  # still carries the old resourceVersion
    with pytest.raises(client.ApiException) as err:
        v1.replace_namespaced_config_map("c", "default", cm)
    assert err.value.status == 409 and "the object has been modified" in err.value.body
    assert v1.read_namespaced_config_map("c", "default").data == {"k": "2"}


def test_patches(v1: Any) -> None:
    v1.create_namespaced_pod("default", pod_manifest("p", labels={"a": "1"}))
    v1.patch_namespaced_pod("p", "default", {"metadata": {"labels": {"b": "2"}}})  # strategic merge
    v1.patch_namespaced_pod(
        "p", "default", [{"op": "add", "path": "/metadata/annotations", "value": {"n": "1"}}]
    )
    smp = {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}
    got = v1.patch_namespaced_pod("p", "default", smp)
    assert got.metadata.labels == {"a": "1", "b": "2"} and got.metadata.annotations == {"n": "1"}
    assert [c.image for c in got.spec.containers] == ["busybox:2"]
    with pytest.raises(client.ApiException) as err:
        v1.patch_namespaced_pod("p", "default", {"spec": {"restartPolicy": "Never"}})
    assert err.value.status == 422


def test_status_subresource_is_separate(v1: Any) -> None:
    v1.create_namespaced_pod("default", pod_manifest("s"))
    wait_until(lambda: v1.read_namespaced_pod("s", "default").status.phase == "Running")
    v1.patch_namespaced_pod("s", "default", {"status": {"phase": "Failed"}})
    assert v1.read_namespaced_pod("s", "default").status.phase == "Running"
    v1.patch_namespaced_pod_status("s", "default", {"status": {"message": "hello"}})
    assert v1.read_namespaced_pod("s", "default").status.message == "hello"


def test_delete_with_grace_and_finalizers(v1: Any) -> None:
    v1.create_namespaced_pod("default", pod_manifest("g"))
    wait_until(lambda: v1.read_namespaced_pod("g", "default").status.phase == "Running")
    gone = v1.delete_namespaced_pod("g", "default", grace_period_seconds=30)
    assert gone.metadata.deletion_timestamp is not None  # the kubelet finishes it
    wait_until(lambda: not v1.list_namespaced_pod("default", field_selector="metadata.name=g").items)
    v1.create_namespaced_config_map(
        "default", {"metadata": {"name": "f", "finalizers": ["example.com/hold"]}}
    )
    v1.delete_namespaced_config_map("f", "default")
    held = v1.read_namespaced_config_map("f", "default")
    assert held.metadata.deletion_timestamp is not None
    v1.patch_namespaced_config_map("f", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(client.ApiException) as err:
        v1.read_namespaced_config_map("f", "default")
    assert err.value.status == 404


def test_namespace_lifecycle(v1: Any) -> None:
    v1.create_namespace({"metadata": {"name": "team"}})
    v1.create_namespaced_config_map("team", {"metadata": {"name": "x"}})
    with pytest.raises(client.ApiException) as err:
        v1.create_namespaced_config_map("nowhere", {"metadata": {"name": "x"}})
    assert err.value.status == 404
    v1.delete_namespace("team")
    wait_until(lambda: "team" not in [n.metadata.name for n in v1.list_namespace().items])
    assert not v1.list_config_map_for_all_namespaces(field_selector="metadata.namespace=team").items


def test_other_kinds_round_trip(ks: KubeSimThread, api: Any) -> None:
    apps, rbac = client.AppsV1Api(api), client.RbacAuthorizationV1Api(api)
    coord, net = client.CoordinationV1Api(api), client.NetworkingV1Api(api)
    rbac.create_cluster_role(
        {"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    )
    coord.create_namespaced_lease("default", {"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}})
    net.create_namespaced_network_policy(
        "default", {"metadata": {"name": "deny"}, "spec": {"podSelector": {}}}
    )
    client.CoreV1Api(api).create_namespaced_secret(
        "default", {"metadata": {"name": "s"}, "stringData": {"k": "v"}}
    )
    assert client.CoreV1Api(api).read_namespaced_secret("s", "default").data == {"k": "dg=="}
    assert coord.read_namespaced_lease("l", "default").spec.holder_identity == "me"
    assert [r.metadata.name for r in rbac.list_cluster_role().items] == ["r"]
    dep = {
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    apps.create_namespaced_deployment("default", dep)
    wait_until(lambda: apps.read_namespaced_deployment("d", "default").status.ready_replicas == 2)
