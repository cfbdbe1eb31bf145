"""Pure kubesim logic: selectors, patches, quantities, images, paths, object semantics, tables."""

from __future__ import annotations

import sys

import pytest

from envfarm.errors import ApiError, InputError
from envfarm.kubesim import images, objects, patch, paths, quantity, selectors, tables
from envfarm.kubesim.resources import Registry


def test_label_selectors() -> None:
    reqs = selectors.parse_selector("app=web,tier in (a, b),!canary,env!=prod,zone")
    assert selectors.match_labels(reqs, {"app": "web", "tier": "b", "env": "dev", "zone": "z"})
    assert not selectors.match_labels(reqs, {"app": "web", "tier": "b", "canary": "1", "zone": "z"})
    assert not selectors.match_labels(reqs, {"app": "web", "tier": "c", "zone": "z"})
    assert selectors.match_labels(selectors.parse_selector("x notin (1)"), {})
    with pytest.raises(ApiError) as err:
        selectors.parse_selector("a b", "label")
    assert err.value.status == 400


def test_field_selectors() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"nodeName": "n1"},
        "status": {"phase": "Running"},
    }
    assert selectors.match_fields(
        selectors.parse_selector("status.phase=Running,spec.nodeName==n1", "field"), pod
    )
    assert selectors.match_fields(selectors.parse_selector("metadata.name!=q", "field"), pod)
    assert not selectors.match_fields(selectors.parse_selector("metadata.namespace=other", "field"), pod)
    assert selectors.match_fields(
        selectors.parse_selector("spec.nodeName=", "field"), {"metadata": {}, "spec": {}}
    )


def test_structured_selector() -> None:
    sel = {"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "t", "operator": "In", "values": ["x"]}]}
    assert selectors.match_label_selector_object(sel, {"app": "a", "t": "x"})
    assert not selectors.match_label_selector_object(sel, {"app": "a"})


def test_merge_and_json_patch() -> None:
    doc = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    assert patch.merge_patch(doc, {"a": {"b": None, "d": 3}, "l": [3]}) == {"a": {"c": 2, "d": 3}, "l": [3]}
    ops = [
        {"op": "add", "path": "/l/-", "value": 9},
        {"op": "replace", "path": "/a/b", "value": 5},
        {"op": "remove", "path": "/a/c"},
        {"op": "test", "path": "/l/0", "value": 1},
        {"op": "copy", "from": "/a/b", "path": "/z"},
    ]
    assert patch.json_patch(doc, ops) == {"a": {"b": 5}, "l": [1, 2, 9], "z": 5}
    assert doc == {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    with pytest.raises(ApiError) as err:
        patch.json_patch(doc, [{"op": "test", "path": "/l/0", "value": 7}])
    assert err.value.status == 422


def test_strategic_merge_patch_as_kubectl_apply_sends() -> None:
    pod = {
        "metadata": {"labels": {"a": "1"}, "finalizers": ["x"]},
        "spec": {
            "containers": [
                {"name": "app", "image": "v1", "env": [{"name": "A", "value": "1"}]},
                {"name": "side", "image": "s"},
            ]
        },
    }
    smp = {
        "metadata": {"labels": {"b": "2"}, "finalizers": ["y"]},
        "spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
            "containers": [
                {"name": "app", "image": "v2", "env": [{"name": "B", "value": "2"}]},
                {"name": "side", "$patch": "delete"},
            ],
        },
    }
    out = patch.strategic_merge_patch(pod, smp, "Pod")
    assert out["metadata"] == {"labels": {"a": "1", "b": "2"}, "finalizers": ["x", "y"]}
    assert out["spec"]["containers"] == [
        {"name": "app", "image": "v2", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    ]
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    merged = patch.strategic_merge_patch(
        svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}, "Service"
    )
    assert merged["spec"]["ports"] == [{"port": 80, "targetPort": 9090}]
    replaced = patch.strategic_merge_patch(
        {"spec": {"x": {"a": 1}}}, {"spec": {"x": {"$patch": "replace", "b": 2}}}
    )
    assert replaced == {"spec": {"x": {"b": 2}}}
    prim = patch.strategic_merge_patch(
        {"metadata": {"finalizers": ["a", "b"]}}, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}
    )
    assert prim == {"metadata": {"finalizers": ["b"]}}


def test_quantities() -> None:
    assert (
        quantity.millicores("500m") == 500
        and quantity.millicores("2") == 2000
        and quantity.millicores(1.5) == 1500
    )
    assert (
        quantity.as_bytes("1Gi") == 2**30
        and quantity.as_bytes("1k") == 1000
        and quantity.as_bytes("1e3") == 1000
    )
    pod = {
        "spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "100m", "memory": "1Mi"}}},
                {"resources": {"limits": {"cpu": "1"}}},
            ]
        }
    }
    assert quantity.pod_requests(pod) == (1100, 2**20)
    with pytest.raises(InputError):
        quantity.parse("ten")


def test_image_table() -> None:
    table = images.ImageTable()
    assert images.repository("docker.io/library/python:3.11") == "python"
    assert images.repository("ghcr.io/org/app@sha256:abc") == "ghcr.io/org/app"
    assert table.argv("python:3.11", ["python", "-c", "1"], None) == [sys.executable, "-c", "1"]
    assert table.argv("busybox", None, ["-c", "echo"]) == ["sh", "-c", "echo"]
    assert table.argv("unknown/image:1", ["x"], None) is None
    table.add(images.ImageRule("envfarm/runtime", ("envfarm-runtime",)))
    assert table.argv("envfarm/runtime:2", None, ["--port", "1"]) == ["envfarm-runtime", "--port", "1"]


def test_paths() -> None:
    reg = Registry()
    t = paths.parse("/api/v1/namespaces/ns/pods/p/status", reg)
    assert (t.rt.plural, t.ns, t.name, t.sub, t.resource) == ("pods", "ns", "p", "status", "pods/status")
    t = paths.parse("/api/v1/namespaces/ns", reg)
    assert (t.rt.plural, t.ns, t.name) == ("namespaces", None, "ns")
    t = paths.parse("/apis/apps/v1/deployments", reg)
    assert t.ns is None and paths.verb("GET", t, {"watch": "true"}) == "watch"
    assert paths.verb("DELETE", t, {}) == "deletecollection"
    for bad in ("/api/v1/pods/p", "/api/v1/namespaces/ns/nodes", "/apis/nope/v1/things", "/api/v1/a/b/c/d"):
        with pytest.raises(ApiError):
            paths.parse(bad, reg)


def test_prepare_create_and_update() -> None:
    reg = Registry()
    pods = reg.lookup("", "v1", "pods")
    made = objects.prepare_create(
        pods,
        {
            "metadata": {"generateName": "x-"},
            "spec": {
                "containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "1"}}}]
            },
        },
        "ns",
    )
    meta = made["metadata"]
    assert meta["name"].startswith("x-") and meta["namespace"] == "ns" and meta["uid"]
    assert made["status"] == {"phase": "Pending", "qosClass": "Burstable"}
    assert (
        made["spec"]["restartPolicy"] == "Always"
        and made["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    )
    with pytest.raises(ApiError) as err:
        objects.prepare_create(
            pods,
            {"metadata": {"name": "Bad_Name"}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
            "ns",
        )
    assert err.value.status == 422
    with pytest.raises(ApiError):
        objects.prepare_create(pods, {"metadata": {"name": "p"}, "spec": {}}, "ns")
    cms = reg.lookup("", "v1", "configmaps")
    old = {**objects.prepare_create(cms, {"metadata": {"name": "c"}, "data": {"a": "1"}}, "ns")}
    old["metadata"] = {**old["metadata"], "resourceVersion": "5"}
    new = objects.prepare_update(cms, old, {"metadata": {"name": "c", "uid": "forged"}, "data": {"a": "2"}})
    assert new["metadata"]["uid"] == old["metadata"]["uid"] and new["metadata"]["generation"] == 2
    with pytest.raises(ApiError) as err:
        objects.check_resource_version(cms, old, {"metadata": {"resourceVersion": "4"}})
    assert err.value.status == 409 and err.value.reason == "Conflict"


def test_pod_status_column() -> None:
    waiting = {
        "metadata": {"name": "p"},
        "status": {
            "phase": "Pending",
            "containerStatuses": [{"state": {"waiting": {"reason": "ImagePullBackOff"}}}],
        },
    }
    assert tables.pod_status(waiting) == "ImagePullBackOff"
    assert tables.pod_status({"metadata": {"deletionTimestamp": "t"}, "status": {}}) == "Terminating"
    assert (
        tables.pod_status({"metadata": {}, "status": {"phase": "Failed", "reason": "Evicted"}}) == "Evicted"
    )
