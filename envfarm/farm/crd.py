"""The RolloutJob CustomResourceDefinition, generated from the pydantic model (pure).

Pydantic's JSON schema becomes a *structural* OpenAPI v3 schema: references inlined, ``X | None`` as
``nullable``, the discriminated agent union merged into one object (every variant's fields, ``kind``
enumerates the variants), free-form dicts kept with ``x-kubernetes-preserve-unknown-fields``, JSON-Schema
2020 ``exclusiveMinimum: n`` turned into OpenAPI's boolean form. ``python -m envfarm.farm.crd`` prints
the YAML that k8s/crd.yaml holds; a test keeps the two equal.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from envfarm.models.job import RolloutJobSpec, RolloutJobStatus

GROUP = "envfarm.dev"
VERSION = "v1alpha1"
KIND = "RolloutJob"
PLURAL = "rolloutjobs"
API_VERSION = f"{GROUP}/{VERSION}"
Schema = dict[str, Any]
KEEP = ("type", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems")


def _deref(node: Schema, defs: dict[str, Schema]) -> Schema:
    if "$ref" in node:
        return defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def convert(node: Schema, defs: dict[str, Schema]) -> Schema:
    """One JSON-schema node as a structural OpenAPI v3 node."""
    node = _deref(node, defs)
    if "anyOf" in node:
        return _any_of(node, defs)
    if "oneOf" in node:
        return _merged([_deref(v, defs) for v in node["oneOf"]], defs)
    out: Schema = {k: node[k] for k in KEEP if k in node}
    if "const" in node:
        out["enum"] = [node["const"]]
    if "exclusiveMinimum" in node:
        out.update(minimum=node["exclusiveMinimum"], exclusiveMinimum=True)
    if "exclusiveMaximum" in node:
        out.update(maximum=node["exclusiveMaximum"], exclusiveMaximum=True)
    if node.get("type") == "object":
        out.update(_object(node, defs))
    elif node.get("type") == "array":
        out["items"] = convert(node.get("items", {}), defs)
    if "description" in node and "properties" in out:
        out["description"] = node["description"]
    return out


def _any_of(node: Schema, defs: dict[str, Schema]) -> Schema:
    variants = [v for v in node["anyOf"] if v.get("type") != "null"]
    nullable = len(variants) < len(node["anyOf"])
    out = (
        convert(variants[0], defs)
        if len(variants) == 1
        else _merged([_deref(v, defs) for v in variants], defs)
    )
    if nullable:
        out["nullable"] = True
    return out


def _object(node: Schema, defs: dict[str, Schema]) -> Schema:
    props = node.get("properties")
    if props is not None:
        return {"properties": {name: convert(sub, defs) for name, sub in props.items()}}
    extra = node.get("additionalProperties", True)
    if extra is True or not extra:
        return {"x-kubernetes-preserve-unknown-fields": True}
    return {"additionalProperties": convert(extra, defs)}


def _merged(variants: list[Schema], defs: dict[str, Schema]) -> Schema:
    """A discriminated union as one object: every variant's properties; ``kind`` lists every variant."""
    props: Schema = {}
    kinds: list[Any] = []
    for variant in variants:
        for name, sub in convert(variant, defs).get("properties", {}).items():
            if name == "kind":
                kinds += sub.get("enum", [])
            props.setdefault(name, sub)
    if kinds:
        props["kind"] = {"type": "string", "enum": kinds}
    return {"type": "object", "properties": props}


def model_schema(model: type[Any]) -> Schema:
    raw = model.model_json_schema()
    return convert(raw, raw.get("$defs", {}))


def columns() -> list[Schema]:
    return [
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Total", "type": "integer", "jsonPath": ".status.total"},
        {"name": "Running", "type": "integer", "jsonPath": ".status.counts.running"},
        {"name": "Succeeded", "type": "integer", "jsonPath": ".status.counts.succeeded"},
        {"name": "Failed", "type": "integer", "jsonPath": ".status.counts.failed"},
        {"name": "Infra", "type": "integer", "jsonPath": ".status.counts.infra_errors"},
        {"name": "Yield", "type": "number", "jsonPath": ".status.setup_yield"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def build_crd() -> Schema:
    """The whole CustomResourceDefinition object."""
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": model_schema(RolloutJobSpec),
            "status": model_schema(RolloutJobStatus),
        },
    }
    version = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
        "subresources": {"status": {}},
        "additionalPrinterColumns": columns(),
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": "rolloutjob",
                "shortNames": ["rj"],
                "categories": ["envfarm"],
            },
            "scope": "Namespaced",
            "versions": [version],
        },
    }


def crd_yaml() -> str:
    header = "# Generated from envfarm.models.job by `python -m envfarm.farm.crd`; do not edit by hand.\n"
    return header + yaml.safe_dump(build_crd(), sort_keys=False, width=120)


if __name__ == "__main__":
    sys.stdout.write(crd_yaml())
