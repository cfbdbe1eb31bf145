"""A scripted policy: replies fixed in advance (tests, demos, benchmarks).

The reply for a turn is chosen by how many assistant messages the conversation holds, so the same script
drives any number of concurrent rollouts. Past the script's end it submits. A script file is YAML::

    - bash: "grep -n median src/calc/stats.py"
    - edit: {command: str_replace, path: src/calc/stats.py, old_str: "...", new_str: "..."}
    - tool: bash                        # a raw call, e.g. malformed arguments
      arguments: "{not json"
    - content: "thinking out loud, no tool call"
    - submit: true
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from envfarm.agent.policy import Completion, Message, turn_index
from envfarm.agent.tools import BASH, EDITOR, SUBMIT
from envfarm.errors import RecordError
from envfarm.models.rollout import ToolCall


@dataclass(frozen=True)
class Reply:
    content: str = ""
    calls: tuple[tuple[str, str], ...] = ()  # (tool name, raw arguments)


def bash(command: str) -> Reply:
    return Reply(calls=((BASH, json.dumps({"command": command})),))


def edit(**args: Any) -> Reply:
    return Reply(calls=((EDITOR, json.dumps(args)),))


def submit() -> Reply:
    return Reply(calls=((SUBMIT, "{}"),))


def raw(name: str, arguments: str, content: str = "") -> Reply:
    return Reply(content=content, calls=((name, arguments),))


Script = Sequence[Reply] | Callable[[list[Message]], Reply]


class ScriptedPolicy:
    def __init__(self, script: Script, *, version: str = "scripted", latency_s: float = 0.0) -> None:
        self.script = script
        self._version = version
        self.latency_s = latency_s
        self.calls = 0

    @property
    def version(self) -> str:
        return self._version

    async def complete(
        self, messages: list[Message], tools: list[dict[str, Any]], *, max_tokens: int | None = None
    ) -> Completion:
        self.calls += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        reply = self._reply(messages)
        index = turn_index(messages)
        calls = [
            ToolCall(id=f"call_{index}_{j}", name=n, arguments=a) for j, (n, a) in enumerate(reply.calls)
        ]
        return Completion(
            content=reply.content, tool_calls=calls, finish_reason="tool_calls" if calls else "stop"
        )

    def _reply(self, messages: list[Message]) -> Reply:
        if callable(self.script):
            return self.script(messages)
        index = turn_index(messages)
        return self.script[index] if index < len(self.script) else submit()

    async def aclose(self) -> None:
        return None


def load_script(path: Path) -> list[Reply]:
    """Read a script file (see the module's docstring); errors name the file and the item."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RecordError(f"cannot read the script: {exc}", source=str(path)) from exc
    if not isinstance(data, list):
        raise RecordError("a script is a YAML list of steps", source=str(path))
    return [_step(item, path, index) for index, item in enumerate(data)]


def _step(item: Any, path: Path, index: int) -> Reply:
    if not isinstance(item, dict):
        raise RecordError("a step is a mapping", source=str(path), line=index)
    if "bash" in item:
        return bash(str(item["bash"]))
    if isinstance(item.get("edit"), dict):
        return edit(**item["edit"])
    if item.get("submit"):
        return submit()
    if "tool" in item:
        args = item.get("arguments", {})
        text = args if isinstance(args, str) else json.dumps(args)
        return raw(str(item["tool"]), text, str(item.get("content", "")))
    if "content" in item:
        return Reply(content=str(item["content"]))
    raise RecordError("unknown step: use bash, edit, tool, content or submit", source=str(path), line=index)
