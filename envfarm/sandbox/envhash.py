"""The environment hash: what makes two tasks share one cached virtualenv (pure)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from envfarm.models.task import InstallConfig, SweTask

DEFAULT_PYTHON = "3.11"
HASH_KEYS = ("python", "packages", "pip_packages", "pre_install", "install", "post_install", "reqs_path")


def env_key(task: SweTask) -> dict[str, Any]:
    """The inputs of the hash. The repository state counts only when a command installs from it."""
    config = task.install_config or InstallConfig()
    key: dict[str, Any] = {k: getattr(config, k) for k in HASH_KEYS}
    key["python"] = python_version(task)
    key["env_vars"] = dict(sorted(config.env_vars.items()))
    if config.install or config.reqs_path or config.env_yml_path or config.pre_install:
        key["repo"] = task.repo
        key["setup_commit"] = task.environment_setup_commit or task.version or task.base_commit
    return key


def env_hash(task: SweTask) -> str:
    blob = json.dumps(env_key(task), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def python_version(task: SweTask) -> str:
    config = task.install_config
    return (config.python if config and config.python else "") or task.envfarm.env.python or DEFAULT_PYTHON
