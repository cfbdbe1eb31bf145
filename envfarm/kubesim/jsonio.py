"""JSON encoding for kubesim: orjson when installed, the standard library otherwise."""

from __future__ import annotations

import json
from typing import Any

try:  # orjson is an optional speed-up (the `k8s` extra installs it)
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised only without the extra
    _orjson = None  # type: ignore[assignment]


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` as compact UTF-8 JSON bytes."""
    if _orjson is not None:
        return _orjson.dumps(obj)
    return json.dumps(obj, separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    """Decode JSON bytes or text."""
    if _orjson is not None:
        return _orjson.loads(data)
    return json.loads(data)
