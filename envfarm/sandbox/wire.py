"""Request and response shapes of the runtime's API, on the client side.

The runtime (runtime.py) is standard-library only, so it cannot import these; it lists the same field
names in ``runtime.SHAPES`` and a unit test checks that both agree.
"""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "1"


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Health(Wire):
    ok: bool
    version: str
    pid: int
    workspace: str
    python: str


class ExecRequest(Wire):
    argv: list[str] | None = None
    cmd: str | None = None
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    stdin: str | None = None
    timeout_s: float = 600.0
    max_output: int | None = None


class ExecResult(Wire):
    exit_code: int
    stdout: str
    stderr: str
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    timed_out: bool = False
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class ReadRequest(Wire):
    path: str
    max_bytes: int | None = None


class ReadResult(Wire):
    path: str
    content_b64: str
    size: int

    @property
    def content(self) -> bytes:
        return base64.b64decode(self.content_b64)


class WriteRequest(Wire):
    path: str
    content_b64: str
    mode: int = 0o644


class WriteResult(Wire):
    path: str
    size: int


class ListRequest(Wire):
    path: str = "."


class Entry(Wire):
    name: str
    kind: Literal["file", "dir", "link"]
    size: int


class ListResult(Wire):
    path: str
    entries: list[Entry]


class DiffRequest(Wire):
    base_commit: str | None = None


class DiffResult(Wire):
    base_commit: str
    patch_b64: str

    @property
    def patch(self) -> bytes:
        return base64.b64decode(self.patch_b64)


class ErrorBody(Wire):
    error: str
    message: str


# runtime.SHAPES key -> model: the agreement test walks this table.
SHAPES: dict[str, type[Wire]] = {
    "health": Health,
    "exec_request": ExecRequest,
    "exec_response": ExecResult,
    "read_request": ReadRequest,
    "read_response": ReadResult,
    "write_request": WriteRequest,
    "write_response": WriteResult,
    "list_request": ListRequest,
    "list_response": ListResult,
    "entry": Entry,
    "diff_request": DiffRequest,
    "diff_response": DiffResult,
    "error": ErrorBody,
}
