"""A fake OpenAI-compatible server over real HTTP (loopback), answering in vLLM's shapes.

It serves scripted completions with tool calls and, like vLLM, the sampled token ids and their
log-probabilities: ``logprobs: true`` fills ``choices[0].logprobs.content`` (tokens written
``"token_id:<id>"`` when ``return_tokens_as_token_ids`` is set), ``return_token_ids`` adds
``choices[0].token_ids`` and the top-level ``prompt_token_ids``. Tokens come from a byte-level fake
tokenizer whose chat template renders every message the same way each turn, so a client that sends the
assistant messages back unchanged sees each prompt extend the previous prompt plus completion. It checks
the API key, enforces a context length (vLLM's 400 message), and can fail the next requests on purpose::

    with FakeOpenAI([FakeReply(tool_calls=(("bash", '{"command": "ls"}'),))]) as server:
        url = server.base_url   # http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OFFSET = 16  # ids below are specials
ROLE_START, END = 1, 2
TOKEN_ID_PREFIX = "token_id:"


@dataclass(frozen=True)
class FakeReply:
    content: str = ""
    tool_calls: tuple[tuple[str, str], ...] = ()  # (name, raw JSON arguments: sent as they are)
    finish_reason: str | None = None


Script = Sequence[FakeReply] | Callable[[dict[str, Any]], FakeReply]


def encode(text: str) -> list[int]:
    return [b + OFFSET for b in text.encode("utf-8")]


def decode(ids: list[int]) -> str:
    return bytes(i - OFFSET for i in ids if i >= OFFSET).decode("utf-8", "replace")


def assistant_body(content: str, calls: Sequence[tuple[str, str]]) -> str:
    text = content
    for name, arguments in calls:
        text += "<tool_call>" + json.dumps({"name": name, "arguments": arguments}) + "</tool_call>"
    return text


def render(message: dict[str, Any]) -> list[int]:
    role = str(message.get("role", ""))
    content = str(message.get("content") or "")
    if role == "assistant":
        calls = [(c["function"]["name"], c["function"]["arguments"]) for c in message.get("tool_calls") or []]
        content = assistant_body(content, calls)
    return [ROLE_START, *encode(f"{role}\n{content}"), END]


def prompt_ids(messages: list[dict[str, Any]]) -> list[int]:
    ids = [t for m in messages for t in render(m)]
    return [*ids, ROLE_START, *encode("assistant\n")]


def logprob(token_id: int, position: int) -> float:
    """The fake's log-probability of ``token_id`` sampled at ``position`` (deterministic, < 0)."""
    return -round(((token_id * 31 + position * 17) % 997) / 100.0 + 0.01, 6)


class FakeOpenAI:
    def __init__(
        self,
        script: Script,
        *,
        model: str = "fake-model",
        api_key: str | None = None,
        max_model_len: int = 1_000_000,
        latency_s: float = 0.0,
    ) -> None:
        self.script, self.model, self.api_key = script, model, api_key
        self.max_model_len, self.latency_s = max_model_len, latency_s
        self.requests: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._failures: list[tuple[int, str | None]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, count: int, status: int = 503, retry_after: str | None = None) -> None:
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def next_failure(self) -> tuple[int, str | None] | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def reply_for(self, body: dict[str, Any]) -> FakeReply:
        if callable(self.script):
            return self.script(body)
        turn = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        return self.script[turn] if turn < len(self.script) else FakeReply(tool_calls=(("submit", "{}"),))

    def complete(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            serial = len(self.requests)
        prompt = prompt_ids(body.get("messages", []))
        wanted = int(body.get("max_tokens") or 256)
        if len(prompt) + wanted > self.max_model_len:
            return 400, _context_error(self.max_model_len, len(prompt), wanted)
        response = completion(self.reply_for(body), body, prompt, serial, self.model)
        with self._lock:
            self.responses.append(response)
        return 200, response


def completion(
    reply: FakeReply, body: dict[str, Any], prompt: list[int], serial: int, model: str
) -> dict[str, Any]:
    """One chat completion, in vLLM's shape, for ``reply`` (cut to ``max_tokens``: finish ``length``)."""
    text = assistant_body(reply.content, reply.tool_calls)
    ids = [*encode(text), END]
    wanted = int(body.get("max_tokens") or 256)
    content, calls, finish = reply.content, list(reply.tool_calls), reply.finish_reason
    if len(ids) > wanted:
        ids, content, calls, finish = ids[:wanted], decode(ids[:wanted]), [], "length"
    finish = finish or ("tool_calls" if calls else "stop")
    tokens_as_ids = bool(body.get("return_tokens_as_token_ids"))
    want_ids = bool(body.get("return_token_ids"))
    message = {
        "role": "assistant",
        "content": content or None,
        "tool_calls": [
            {"id": f"chatcmpl-tool-{serial}-{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(calls)
        ],
        "reasoning_content": None,
    }
    choice = {
        "index": 0,
        "message": message,
        "logprobs": _logprobs(ids, len(prompt), tokens_as_ids) if body.get("logprobs") else None,
        "finish_reason": finish,
        "stop_reason": None,
        "token_ids": ids if want_ids else None,
    }
    usage = {
        "prompt_tokens": len(prompt),
        "completion_tokens": len(ids),
        "total_tokens": len(prompt) + len(ids),
    }
    return {
        "id": f"chatcmpl-{serial}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": usage,
        "prompt_logprobs": None,
        "prompt_token_ids": prompt if want_ids else None,
    }


def _logprobs(ids: list[int], start: int, tokens_as_ids: bool) -> dict[str, Any]:
    content = []
    for offset, token_id in enumerate(ids):
        raw = bytes([token_id - OFFSET]) if token_id >= OFFSET else b""
        token = f"{TOKEN_ID_PREFIX}{token_id}" if tokens_as_ids else raw.decode("latin-1")
        content.append(
            {
                "token": token,
                "logprob": logprob(token_id, start + offset),
                "bytes": list(raw),
                "top_logprobs": [],
            }
        )
    return {"content": content}


def _context_error(limit: int, prompt: int, wanted: int) -> dict[str, Any]:
    message = (
        f"This model's maximum context length is {limit} tokens. However, you requested {prompt + wanted} "
        f"tokens ({prompt} in the messages, {wanted} in the completion). Please reduce the length of the "
        "messages or completion."
    )
    return {"object": "error", "message": message, "type": "BadRequestError", "param": None, "code": 400}


def _error(message: str, kind: str, code: int) -> dict[str, Any]:
    return {"object": "error", "message": message, "type": kind, "param": None, "code": code}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            data = [{"id": self.fake.model, "object": "model", "owned_by": "envfarm-fake"}]
            self._send(200, {"object": "list", "data": data})
        else:
            self._send(404, _error(f"no route {self.path}", "NotFoundError", 404))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._send(404, _error(f"no route {self.path}", "NotFoundError", 404))
        if self.fake.api_key and self.headers.get("Authorization") != f"Bearer {self.fake.api_key}":
            return self._send(401, {"error": {"message": "Unauthorized", "type": "invalid_api_key"}})
        failure = self.fake.next_failure()
        if failure is not None:
            extra = {"Retry-After": failure[1]} if failure[1] else {}
            return self._send(failure[0], _error("injected failure", "ServiceUnavailable", failure[0]), extra)
        try:
            body = json.loads(raw)
        except ValueError:
            return self._send(400, _error("body is not JSON", "BadRequestError", 400))
        self.fake.enter()
        try:
            if self.fake.latency_s:
                time.sleep(self.fake.latency_s)
            status, answer = self.fake.complete(body, {k.lower(): v for k, v in self.headers.items()})
        finally:
            self.fake.leave()
        self._send(status, answer)

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
