"""Tool calls parsed into actions; every kind of malformed call becomes a message, never an exception."""

from __future__ import annotations

import json

import pytest

from envfarm.agent.tools import (
    TOOLS,
    Action,
    BashArgs,
    EditArgs,
    Malformed,
    parse_call,
    parse_text_tool_calls,
    tools_as_text,
)
from envfarm.models.rollout import ToolCall


def call(name: str, arguments: str) -> ToolCall:
    return ToolCall(id="c1", name=name, arguments=arguments)


def test_tool_schemas_name_the_three_tools_and_edit_commands() -> None:
    names = [t["function"]["name"] for t in TOOLS]
    assert names == ["bash", "str_replace_based_edit_tool", "submit"]
    edit = TOOLS[1]["function"]["parameters"]["properties"]["command"]["enum"]
    assert edit == ["view", "create", "str_replace", "insert"]


def test_valid_calls_parse() -> None:
    bash = parse_call(call("bash", json.dumps({"command": "ls -la"})))
    assert isinstance(bash, Action) and isinstance(bash.args, BashArgs) and bash.args.command == "ls -la"
    edit = parse_call(
        call(
            "str_replace_based_edit_tool",
            json.dumps({"command": "insert", "path": "a", "insert_line": 0, "new_str": "x"}),
        )
    )
    assert isinstance(edit, Action) and isinstance(edit.args, EditArgs) and edit.args.insert_line == 0
    assert isinstance(parse_call(call("submit", "")), Action)
    assert isinstance(parse_call(call("submit", "{}")), Action)


@pytest.mark.parametrize(
    ("name", "arguments", "says"),
    [
        ("bash", "{not json", "not valid JSON"),
        ("bash", "[1, 2]", "must be a JSON object"),
        ("bash", "{}", "command: Field required"),
        ("bash", '{"command": 5}', "command: Input should be a valid string"),
        ("bash", '{"command": "ls", "cwd": "/"}', "cwd: Extra inputs are not permitted"),
        ("python", "{}", "unknown tool 'python'"),
        ("", "<garbage>", "unknown tool ''"),
        ("str_replace_based_edit_tool", '{"command": "delete", "path": "a"}', "command: Input should be"),
        ("str_replace_based_edit_tool", '{"command": "create", "path": "a"}', "create needs file_text"),
        ("str_replace_based_edit_tool", '{"command": "str_replace", "path": "a"}', "needs old_str"),
        ("str_replace_based_edit_tool", '{"command": "insert", "path": "a"}', "needs insert_line, new_str"),
        (
            "str_replace_based_edit_tool",
            '{"command": "view", "path": "a", "view_range": "1-3"}',
            "view_range",
        ),
    ],
)
def test_malformed_calls_become_messages(name: str, arguments: str, says: str) -> None:
    parsed = parse_call(call(name, arguments))
    assert isinstance(parsed, Malformed) and parsed.call_id == "c1"
    assert says in parsed.message and parsed.message.startswith("Error:")


def test_text_tool_calls_parse_and_broken_blocks_stay_visible() -> None:
    text = (
        'I will look.\n<tool_call>{"name": "bash", "arguments": {"command": "ls"}}</tool_call>\n'
        "<tool_call>{oops}</tool_call><tool_call>[1]"
    )
    head, calls = parse_text_tool_calls(text, prefix="t")
    assert head == "I will look."
    assert [c.id for c in calls] == ["t_0", "t_1", "t_2"]
    assert calls[0].name == "bash" and json.loads(calls[0].arguments) == {"command": "ls"}
    assert calls[1].name == "" and calls[1].arguments == "{oops}"
    assert calls[2].name == "" and isinstance(parse_call(calls[2]), Malformed)
    assert parse_text_tool_calls("just text") == ("just text", [])


def test_tools_as_text_describes_the_format() -> None:
    text = tools_as_text(TOOLS)
    assert "<tool_call>" in text and "- submit:" in text and '"command"' in text
