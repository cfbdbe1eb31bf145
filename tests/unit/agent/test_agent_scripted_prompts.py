"""Scripts from YAML, prompt templates per task kind, and the fake server's token bookkeeping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envfarm.agent.policy import assistant_message, turn_index
from envfarm.agent.prompts import SYSTEM, first_messages, render
from envfarm.agent.scripted import ScriptedPolicy, load_script
from envfarm.errors import ConfigError, RecordError
from envfarm.models.task import SweTask, WebTask
from envfarm.testing import fake_openai as fo

TASK = SweTask(
    instance_id="o__r-1",
    repo="o/r",
    base_commit="abcdef0",
    patch="",
    test_patch="",
    problem_statement=" Bug {x} \n",
)


def test_swe_and_web_templates() -> None:
    system, user = first_messages(TASK, workdir="/testbed")
    assert system == {"role": "system", "content": SYSTEM}
    assert (
        "The repository o/r is checked out in /testbed" in user["content"]
        and "<issue>\nBug {x}\n</issue>" in user["content"]
    )
    web = WebTask(instance_id="w-1", app="todo", instruction="Add an item")
    assert "Add an item" in first_messages(web, workdir="/")[1]["content"]
    custom = first_messages(TASK, workdir="/w", template="{repo}: {problem_statement}", system="S")
    assert custom == [{"role": "system", "content": "S"}, {"role": "user", "content": "o/r: Bug {x}"}]


def test_unknown_template_fields_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"unknown field \{issue\}; the fields are"):
        render("{issue}", {"repo": "x"})
    with pytest.raises(ConfigError, match="not a valid template"):
        render("{repo", {"repo": "x"})


async def test_scripts_load_from_yaml_and_replay_by_turn(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "- bash: ls\n- edit: {command: view, path: a.py}\n- tool: bash\n  arguments: '{bad'\n"
        "- content: hmm\n- submit: true\n"
    )
    policy = ScriptedPolicy(load_script(path))
    messages: list[dict[str, object]] = [{"role": "user", "content": "go"}]
    names = []
    for _ in range(6):
        c = await policy.complete(messages, [])
        names.append([(t.name, t.arguments) for t in c.tool_calls])
        messages.append(assistant_message(c))
    assert names[0] == [("bash", '{"command": "ls"}')] and names[2] == [("bash", "{bad")]
    assert names[3] == [] and names[4] == [("submit", "{}")] and names[5] == [("submit", "{}")]
    assert turn_index(messages) == 6


@pytest.mark.parametrize("text", ["{a: 1}", "- 5\n", "- {dance: yes}\n", "- [unclosed\n"])
def test_bad_scripts_name_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RecordError, match=r"bad\.yaml"):
        load_script(path)


def test_fake_tokens_extend_prompt_plus_completion() -> None:
    reply = fo.FakeReply(content="hi", tool_calls=(("bash", '{"command": "ls"}'),))
    messages = [{"role": "user", "content": "é"}]
    body = {
        "messages": messages,
        "return_token_ids": True,
        "logprobs": True,
        "return_tokens_as_token_ids": True,
    }
    prompt = fo.prompt_ids(messages)
    answer = fo.completion(reply, body, prompt, 1, "m")
    choice = answer["choices"][0]
    assert fo.decode(choice["token_ids"][:-1]) == fo.assistant_body("hi", reply.tool_calls)
    assert choice["logprobs"]["content"][0]["token"] == f"token_id:{choice['token_ids'][0]}"
    echoed = [*messages, choice["message"], {"role": "tool", "tool_call_id": "x", "content": "out"}]
    nxt = fo.prompt_ids(echoed)
    assert nxt[: len(prompt) + len(choice["token_ids"])] == prompt + choice["token_ids"]
    plain = fo.completion(reply, {"messages": messages, "logprobs": True}, prompt, 2, "m")
    assert plain["prompt_token_ids"] is None and plain["choices"][0]["token_ids"] is None
    assert json.dumps(plain)  # JSON-serialisable as served
