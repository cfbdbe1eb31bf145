"""Object semantics on create and update: metadata, defaults, validation, status split (pure but for time)."""

from __future__ import annotations

import random
import re
import time
import uuid
from typing import Any

from envfarm.errors import ApiError
from envfarm.kubesim import defaults
from envfarm.kubesim.resources import ResourceType

Obj = dict[str, Any]

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
REASONS = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    504: "Timeout",
}


def now() -> str:
    """The current time as the API writes it (RFC 3339, seconds, UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def random_suffix(n: int = 5) -> str:
    return "".join(random.choices(_ALPHABET, k=n))


def what(rt: ResourceType, name: str) -> str:
    group = f".{rt.group}" if rt.group else ""
    return f'{rt.plural}{group} "{name}"'


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(f"{what(rt, name)} not found", status=404, reason="NotFound")


def invalid(rt: ResourceType, name: str, message: str) -> ApiError:
    return ApiError(f"{rt.kind} {name!r} is invalid: {message}", status=422, reason="Invalid")


def conflict(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        f"Operation cannot be fulfilled on {what(rt, name)}: the object has been modified; "
        "please apply your changes to the latest version and try again",
        status=409,
        reason="Conflict",
    )


def bad_request(message: str) -> ApiError:
    return ApiError(message, status=400, reason="BadRequest")


def validate_name(rt: ResourceType, name: str) -> None:
    if not name:
        raise invalid(rt, name, "metadata.name: Required value: name or generateName is required")
    if len(name) > 253 or not _NAME_RE.match(name):
        raise invalid(
            rt,
            name,
            f"metadata.name: Invalid value: {name!r}: a lowercase RFC 1123 subdomain must consist of "
            "lower case alphanumeric characters, '-' or '.'",
        )


def _check_type(rt: ResourceType, body: Obj) -> None:
    if not isinstance(body, dict) or not isinstance(body.get("metadata", {}), dict):
        raise bad_request(f"the body of the request was not a valid {rt.kind} object")
    kind, api_version = body.get("kind"), body.get("apiVersion")
    if (kind and kind != rt.kind) or (api_version and api_version != rt.api_version):
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({rt.api_version}) or kind {kind} is not {rt.kind}"
        )


def prepare_create(rt: ResourceType, body: Obj, ns: str) -> Obj:
    """A new object from a create request body: name, namespace, uid, timestamps, defaults."""
    _check_type(rt, body)
    meta = dict(body.get("metadata") or {})
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = f"{meta['generateName']}{random_suffix()}"
    validate_name(rt, meta.get("name", ""))
    if rt.namespaced:
        if meta.get("namespace") and meta["namespace"] != ns:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = ns
    else:
        meta.pop("namespace", None)
    for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
        meta.pop(field, None)
    meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
    obj = {**body, "apiVersion": rt.api_version, "kind": rt.kind, "metadata": meta}
    return defaults.on_create(rt, obj)


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def prepare_update(rt: ResourceType, old: Obj, body: Obj, subresource: str = "") -> Obj:
    """The object an update request leaves, keeping what the request may not change."""
    _check_type(rt, body)
    old_meta, new_meta = old["metadata"], dict(body.get("metadata") or {})
    if new_meta.get("name", old_meta["name"]) != old_meta["name"]:
        raise bad_request(
            f"the name of the object ({new_meta.get('name')}) does not match the name on the URL"
        )
    if subresource == "status":
        return {**old, "status": body.get("status", {})}
    for field in ("uid", "creationTimestamp", "namespace", "deletionTimestamp", "deletionGracePeriodSeconds"):
        if field in old_meta:
            new_meta[field] = old_meta[field]
        else:
            new_meta.pop(field, None)
    new_meta["name"] = old_meta["name"]
    new = {**body, "apiVersion": rt.api_version, "kind": rt.kind, "metadata": new_meta}
    if rt.has_status:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    defaults.on_update(rt, old, new)
    new_meta["generation"] = old_meta.get("generation", 1) + (_spec_part(new) != _spec_part(old))
    return new


def check_resource_version(rt: ResourceType, old: Obj, body: Obj) -> None:
    """409 Conflict when the request names a resourceVersion that is no longer current."""
    wanted = (body.get("metadata") or {}).get("resourceVersion")
    if wanted and wanted != old["metadata"].get("resourceVersion"):
        raise conflict(rt, old["metadata"]["name"])
