"""The agent's three tools: their schemas, and tool calls parsed into actions (pure: no I/O).

bash runs a command; ``str_replace_based_edit_tool`` views, creates and edits files (view, create,
str_replace, insert); submit ends the episode. A call that does not parse (bad JSON, unknown tool, a
missing or mistyped argument) becomes a :class:`Malformed` whose message the model reads as the tool's
answer; it never raises.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from envfarm.models.rollout import ToolCall

BASH, EDITOR, SUBMIT = "bash", "str_replace_based_edit_tool", "submit"
EDIT_COMMANDS = ("view", "create", "str_replace", "insert")
TOOL_CALL_RE = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def _fn(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    params = {"type": "object", "properties": properties, "required": required}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": params}}


TOOLS: list[dict[str, Any]] = [
    _fn(
        BASH,
        "Run a bash command in the repository (no network; each call is a fresh shell).",
        {"command": {"type": "string", "description": "The command to run."}},
        ["command"],
    ),
    _fn(
        EDITOR,
        "View, create and edit files. view: a file with line numbers (or a directory listing); create: "
        "write file_text to path; str_replace: replace old_str (which must occur exactly once) with "
        "new_str; insert: insert new_str after line insert_line (0 = at the top).",
        {
            "command": {"type": "string", "enum": list(EDIT_COMMANDS)},
            "path": {"type": "string", "description": "Path relative to the repository, or absolute."},
            "file_text": {"type": "string"},
            "old_str": {"type": "string"},
            "new_str": {"type": "string"},
            "insert_line": {"type": "integer"},
            "view_range": {"type": "array", "items": {"type": "integer"}},
        },
        ["command", "path"],
    ),
    _fn(SUBMIT, "Finish: your changes to the repository are the answer.", {}, []),
]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class BashArgs(_Args):
    command: str


class EditArgs(_Args):
    command: Literal["view", "create", "str_replace", "insert"]
    path: str
    file_text: str | None = None
    old_str: str | None = None
    new_str: str | None = None
    insert_line: int | None = None
    view_range: list[int] | None = None


class SubmitArgs(_Args):
    pass


@dataclass(frozen=True)
class Malformed:
    call_id: str
    message: str


@dataclass(frozen=True)
class Action:
    call_id: str
    tool: str
    args: BashArgs | EditArgs | SubmitArgs


ARG_MODELS: dict[str, type[BashArgs] | type[EditArgs] | type[SubmitArgs]] = {
    BASH: BashArgs,
    EDITOR: EditArgs,
    SUBMIT: SubmitArgs,
}
NEEDS = {"create": ("file_text",), "str_replace": ("old_str",), "insert": ("insert_line", "new_str")}


def parse_call(call: ToolCall) -> Action | Malformed:
    """One tool call as an action, or the reason it cannot run."""
    model = ARG_MODELS.get(call.name)
    if model is None:
        known = ", ".join(ARG_MODELS)
        return Malformed(call.id, f"Error: unknown tool {call.name!r}; the tools are {known}.")
    try:
        raw = json.loads(call.arguments) if call.arguments.strip() else {}
    except json.JSONDecodeError as exc:
        return Malformed(call.id, f"Error: the arguments of {call.name} are not valid JSON ({exc.msg}).")
    if not isinstance(raw, dict):
        return Malformed(call.id, f"Error: the arguments of {call.name} must be a JSON object.")
    try:
        args = model.model_validate(raw)
    except ValidationError as exc:
        return Malformed(call.id, f"Error: bad arguments for {call.name}: {_explain(exc)}")
    if isinstance(args, EditArgs) and (
        missing := [k for k in NEEDS.get(args.command, ()) if _unset(args, k)]
    ):
        need = ", ".join(missing)
        return Malformed(call.id, f"Error: {EDITOR} {args.command} needs {need}.")
    return Action(call.id, call.name, args)


def _unset(args: EditArgs, key: str) -> bool:
    return getattr(args, key) is None


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:4]:
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse_text_tool_calls(text: str, prefix: str = "call") -> tuple[str, list[ToolCall]]:
    """Tool calls a model wrote as text (``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``).

    Returns the text before the first call and the calls; a block that is not such JSON becomes a call
    with an empty name, which :func:`parse_call` reports back to the model.
    """
    calls = []
    for index, match in enumerate(TOOL_CALL_RE.finditer(text)):
        calls.append(_text_call(match.group(1), f"{prefix}_{index}"))
    head = text.split("<tool_call>", 1)[0].strip() if calls else text
    return head, calls


def _text_call(body: str, call_id: str) -> ToolCall:
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return ToolCall(id=call_id, name="", arguments=body)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return ToolCall(id=call_id, name="", arguments=body)
    args = data.get("arguments", {})
    text = args if isinstance(args, str) else json.dumps(args)
    return ToolCall(id=call_id, name=data["name"], arguments=text)


def tools_as_text(tools: list[dict[str, Any]]) -> str:
    """The tools and the ``<tool_call>`` format, for a model whose chat template has no tool support."""
    lines = ["You can call these tools. To call one, write exactly:"]
    lines.append('<tool_call>{"name": "TOOL", "arguments": {...}}</tool_call>')
    for tool in tools:
        fn = tool["function"]
        lines.append(f"- {fn['name']}: {fn['description']} Parameters: {json.dumps(fn['parameters'])}")
    return "\n".join(lines)
