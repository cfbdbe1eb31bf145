"""Settings: built once by an entry point (CLI, controller, dashboard) and passed down. No globals."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    home: Path

    @classmethod
    def from_env(cls, home: str | Path | None = None) -> Settings:
        """ENVFARM_HOME, or ~/.envfarm; an explicit ``home`` (a CLI's --home) wins."""
        chosen = home or os.environ.get("ENVFARM_HOME") or Path.home() / ".envfarm"
        return cls(home=Path(chosen).expanduser().resolve())

    @property
    def task_db(self) -> Path:
        return self.home / "tasks.db"

    @property
    def repos_dir(self) -> Path:
        return self.home / "repos"

    @property
    def venvs_dir(self) -> Path:
        return self.home / "venvs"

    @property
    def envs_dir(self) -> Path:
        return self.home / "envs"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    def ensure(self) -> Settings:
        self.home.mkdir(parents=True, exist_ok=True)
        return self
