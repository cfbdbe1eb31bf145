"""Prompt templates per task kind, and the first messages of an episode (pure: no I/O).

A job may give its own template: text with ``{field}`` placeholders taken from the task (``{repo}``,
``{problem_statement}``, ``{hints_text}``, ``{instance_id}``, ``{workdir}``; web tasks: ``{app}``,
``{instruction}``). A placeholder that is not a field is a ConfigError naming it.
"""

from __future__ import annotations

import string
from typing import Any

from envfarm.agent.policy import Message
from envfarm.errors import ConfigError
from envfarm.models.task import SweTask, WebTask

SYSTEM = (
    "You are an expert software engineer working in a sandboxed repository. You act only through "
    "tools: `bash` runs a command (no network, each call a fresh shell, working directory = the "
    "repository), `str_replace_based_edit_tool` views and edits files, and `submit` ends your work. "
    "Work step by step: explore, reproduce, fix, check. Call exactly one tool per message."
)
SWE_TEMPLATE = """<uploaded_files>
{workdir}
</uploaded_files>
The repository {repo} is checked out in {workdir}. Consider this issue:

<issue>
{problem_statement}
</issue>

Change the non-test files in {workdir} so that the issue is resolved. The tests that check it are hidden \
from you; you may write your own. Keep the change minimal. When you are done, call `submit`."""
WEB_TEMPLATE = """The web application {app} runs in your environment. Your task:

{instruction}

Work through the tools; call `submit` when you are done."""
TEMPLATES = {"swe": SWE_TEMPLATE, "web": WEB_TEMPLATE}


def task_fields(task: SweTask | WebTask, workdir: str) -> dict[str, Any]:
    if isinstance(task, WebTask):
        return {"instance_id": task.instance_id, "app": task.app, "instruction": task.instruction}
    return {
        "instance_id": task.instance_id,
        "repo": task.repo,
        "problem_statement": task.problem_statement.strip(),
        "hints_text": task.hints_text.strip(),
        "base_commit": task.base_commit,
        "workdir": workdir,
    }


def render(template: str, fields: dict[str, Any]) -> str:
    """``template`` with its ``{field}`` placeholders filled; an unknown one is a ConfigError."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
        for name in names:
            if name not in fields:
                known = ", ".join(sorted(fields))
                raise ConfigError(f"prompt_template: unknown field {{{name}}}; the fields are {known}")
        return template.format_map(fields)
    except (ValueError, IndexError) as exc:
        raise ConfigError(f"prompt_template: not a valid template: {exc}") from exc


def first_messages(
    task: SweTask | WebTask, *, workdir: str, template: str = "", system: str = ""
) -> list[Message]:
    """The system and user messages every rollout of ``task`` starts from."""
    user = render(template or TEMPLATES[task.kind], task_fields(task, workdir))
    return [{"role": "system", "content": system or SYSTEM}, {"role": "user", "content": user}]
