"""The tools against an environment: bash over exec, the file editor over read/write.

Everything the model did wrong (no such file, an ambiguous str_replace, a write outside the workspace) comes
back as the tool's text. Only a lost environment escapes, as a SandboxError the driver re-dispatches.
"""

from __future__ import annotations

import shlex

from envfarm.agent import editops
from envfarm.agent.editops import EditRefused
from envfarm.agent.tools import BashArgs, EditArgs
from envfarm.errors import OutputTooLarge, RuntimeRequestError
from envfarm.sandbox.protocol import Sandbox

LIST_CMD = "find {path} -maxdepth 2 -not -path '*/.*' | sort | head -n 400"


class Tools:
    """bash and the file editor on one environment."""

    def __init__(self, env: Sandbox, *, workdir: str, command_timeout_s: float, limit: int) -> None:
        self.env = env
        self.workdir = workdir
        self.command_timeout_s = command_timeout_s
        self.limit = limit

    async def bash(self, args: BashArgs) -> tuple[str, int | None]:
        res = await self.env.exec(
            args.command, timeout_s=self.command_timeout_s, cwd=".", raise_on_timeout=False
        )
        text = editops.exec_observation(
            res.exit_code,
            res.stdout,
            res.stderr,
            timed_out=res.timed_out,
            timeout_s=self.command_timeout_s,
            limit=self.limit,
        )
        return text, (None if res.timed_out else res.exit_code)

    async def edit(self, args: EditArgs) -> str:
        path = editops.env_path(args.path, self.workdir)
        try:
            return editops.clip(await self._edit(args, path), self.limit)
        except EditRefused as exc:
            return f"Error: {exc}"
        except RuntimeRequestError as exc:
            return f"Error: {args.command} {args.path}: {_why(exc)}"
        except OutputTooLarge:
            return f"Error: {args.path} is too large to view; use bash (head, grep, sed -n) instead."

    async def _edit(self, args: EditArgs, path: str) -> str:
        if args.command == "view":
            return await self._view(args, path)
        if args.command == "create":
            await self.env.write(path, args.file_text or "")
            return f"File created: {args.path}"
        text = (await self.env.read(path)).decode("utf-8", "replace")
        if args.command == "str_replace":
            new_text, line = editops.str_replace(text, args.old_str or "", args.new_str or "")
            span = (args.new_str or "").count("\n") + 1
        else:
            assert args.insert_line is not None
            new_text = editops.insert(text, args.insert_line, args.new_str or "")
            line, span = args.insert_line + 1, (args.new_str or "").count("\n") + 1
        await self.env.write(path, new_text)
        shown = editops.snippet(new_text, line, span)
        return f"The file {args.path} was edited. The lines around the edit:\n{shown}"

    async def _view(self, args: EditArgs, path: str) -> str:
        try:
            data = await self.env.read(path)
        except RuntimeRequestError as exc:
            if exc.code == "not_found":
                raise
            return await self._listing(args.path, path)
        return editops.numbered(data.decode("utf-8", "replace"), args.view_range)

    async def _listing(self, shown: str, path: str) -> str:
        res = await self.env.exec(LIST_CMD.format(path=shlex.quote(path)), timeout_s=30.0, cwd=".")
        if res.exit_code != 0 or not res.stdout.strip():
            raise EditRefused(f"{shown} is neither a readable file nor a directory")
        return f"Files and directories up to 2 levels deep in {shown}:\n{res.stdout.rstrip()}"


def _why(exc: RuntimeRequestError) -> str:
    if exc.code == "not_found":
        return "no such file or directory"
    if exc.code == "path_outside":
        return "the path is outside the repository"
    return str(exc).split(": ", 1)[-1]
