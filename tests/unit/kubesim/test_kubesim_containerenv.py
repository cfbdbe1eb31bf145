"""Container env and command resolution as the kubelet does it: $(VAR) expansion, secretKeyRef,
configMapKeyRef, fieldRef, missing references."""

from __future__ import annotations

from typing import Any

import pytest

from envfarm.kubesim.containerenv import MissingRef, expand, expand_all, resolve_env

DATA = {("secret", "tok", "token"): "s3cret", ("configmap", "cfg", "mode"): "fast"}


def lookup(kind: str, name: str, key: str) -> str | None:
    return DATA.get((kind, name, key))


def field(path: str) -> Any:
    return {"status.podIP": "127.1.0.5", "metadata.name": "p"}.get(path)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("--host $(POD_IP)", "--host 127.1.0.5"),
        ("$(UNSET) stays", "$(UNSET) stays"),
        ("$$(POD_IP) escaped", "$(POD_IP) escaped"),
        ("cost $$5", "cost $5"),
        ("$(POD_IP):$(PORT)", "127.1.0.5:8080"),
    ],
)
def test_expand(text: str, want: str) -> None:
    assert expand(text, {"POD_IP": "127.1.0.5", "PORT": "8080"}) == want


def test_resolve_env_in_order_with_refs() -> None:
    container = {
        "env": [
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "URL", "value": "http://$(POD_IP):8080"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "token"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
            {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}}},
        ]
    }
    env = resolve_env({"HOME": "/h"}, container, field, lookup)
    assert env == {
        "HOME": "/h",
        "POD_IP": "127.1.0.5",
        "URL": "http://127.1.0.5:8080",
        "TOKEN": "s3cret",
        "MODE": "fast",
        "OPT": "",
    }
    assert expand_all(["--host", "$(POD_IP)"], env) == ["--host", "127.1.0.5"]
    assert expand_all(None, env) is None


def test_missing_secret_names_it() -> None:
    container = {"env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "token"}}}]}
    with pytest.raises(MissingRef, match='secret "nope"'):
        resolve_env({}, container, field, lookup)
