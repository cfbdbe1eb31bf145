"""A job's policy from its ``agent`` block: an OpenAI-compatible endpoint, a local model, or a script."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from envfarm.agent.policy import Policy
from envfarm.errors import ConfigError
from envfarm.models.job import PolicyAgent


def api_key(agent: PolicyAgent, environ: Mapping[str, str]) -> str | None:
    """The key from the variable ``api_key_env`` names (the controller maps ``api_key_secret`` to one)."""
    if not agent.api_key_env:
        return None
    key = environ.get(agent.api_key_env)
    if not key:
        raise ConfigError(f"agent.api_key_env: the variable {agent.api_key_env} is not set")
    return key


def build_policy(
    agent: PolicyAgent, *, environ: Mapping[str, str] | None = None, base: Path | None = None
) -> Policy:
    """``base`` resolves a relative ``script`` path (the job file's folder)."""
    if agent.backend == "openai":
        from envfarm.agent.openai_policy import OpenAIPolicy

        return OpenAIPolicy(agent, api_key=api_key(agent, os.environ if environ is None else environ))
    if agent.backend == "hf":
        from envfarm.agent.hf_policy import HFPolicy

        return HFPolicy(agent)
    from envfarm.agent.scripted import ScriptedPolicy, load_script

    if not agent.script:
        raise ConfigError("agent.script: the scripted backend needs a script file")
    path = Path(agent.script)
    if base is not None and not path.is_absolute():
        path = base / path
    return ScriptedPolicy(load_script(path), version=agent.policy_version or f"scripted:{path.name}")
