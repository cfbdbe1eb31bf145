"""A policy job on the local backend as a user runs it: `envfarm jobs submit` drives the fake OpenAI
server's scripted solve of the calc sample in a bubblewrap env, verifies the patch in a fresh env, and
stores the record (verdict pass, the served tokens unchanged); the API key comes from ``api_key_env`` and
appears nowhere. A job whose key variable is unset ends as an infrastructure error naming the field,
never as a failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from farm_home import CALC
from policy_replies import dump, policy_job, sampled, served_tokens, solve

from envfarm.farm.localjobs import LocalJobs
from envfarm.settings import Settings
from envfarm.store.records import RecordStore
from envfarm.testing.fake_openai import FakeOpenAI

ENVFARM = [sys.executable, "-c", "from envfarm.cli.app import main; main()"]
KEY = "sk-local-51d0e2"


def submit(
    home: Settings, tmp: Path, manifest: dict[str, Any], **env: str
) -> subprocess.CompletedProcess[str]:
    path = tmp / f"{manifest['metadata']['name']}.yaml"
    path.write_text(dump(manifest))
    environ = {**os.environ, "ENVFARM_HOME": str(home.home), "COLUMNS": "250", **env}
    return subprocess.run(
        [*ENVFARM, "jobs", "submit", str(path)], env=environ, capture_output=True, text=True, timeout=120
    )


def envs(home: Settings) -> set[Path]:
    return set(home.envs_dir.iterdir()) if home.envs_dir.exists() else set()


def status(home: Settings, name: str) -> dict[str, Any]:
    return dict(json.loads((home.home / "jobs" / f"{name}.json").read_text())["status"])


def results(home: Settings, name: str) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in LocalJobs(home.home / "jobs").results(name)]


def test_policy_job_on_the_local_backend_is_verified_and_recorded(
    local_home: Settings, tmp_path: Path
) -> None:
    envs_before = envs(local_home)  # the home is shared: other tests' leftovers stay
    with FakeOpenAI(solve(), api_key=KEY) as server:
        done = submit(
            local_home,
            tmp_path,
            policy_job("policy-local", server.base_url, api_key_env="LLM_KEY"),
            LLM_KEY=KEY,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    got = status(local_home, "policy-local")
    rows = results(local_home, "policy-local")
    assert got["phase"] == "Succeeded" and [(r["outcome"], r["reward"]) for r in rows] == [("pass", 1.0)]
    assert rows[0]["reason"].startswith(f"record policy-local.{CALC}.0 in {local_home.home / 'rollouts.db'}")
    with RecordStore.open(local_home) as store:
        [record] = list(store.records(job="policy-local"))
        assert store.counts("policy-local") == {"complete": 1, "dropped": 0}
    assert record.verdict is not None and record.verdict.outcome.value == "pass"
    assert record.prompt_token_ids == server.responses[0]["prompt_token_ids"]
    assert sampled(record) == served_tokens(server.responses) and record.steps == 4
    assert "+    middle = len(ordered) // 2" in record.patch
    assert not [
        text
        for text in (json.dumps(got), json.dumps(rows), record.model_dump_json(), done.stdout, done.stderr)
        if KEY in text
    ]
    assert envs(local_home) == envs_before, "the agent's env and the verifier's are gone"


def test_policy_job_without_its_key_is_an_infra_error_not_a_failure(
    local_home: Settings, tmp_path: Path
) -> None:
    with FakeOpenAI(solve(), api_key=KEY) as server:
        done = submit(
            local_home, tmp_path, policy_job("policy-nokey", server.base_url, api_key_env="UNSET_LLM_KEY")
        )
        assert server.requests == []
    assert done.returncode == 0, done.stdout + done.stderr  # the job ran to its end
    got = status(local_home, "policy-nokey")
    assert got["counts"]["infra_errors"] == 1 and got["counts"]["failed"] == 0
    [result] = results(local_home, "policy-nokey")
    with RecordStore.open(local_home) as store:
        assert store.counts("policy-nokey") == {"complete": 0, "dropped": 1}, "the group ends, dropped"
        [group] = store.groups(job="policy-nokey")
        assert "UNSET_LLM_KEY" in group.reason
    assert result["outcome"] == "infra_error" and result["reward"] is None
    assert "agent.api_key_env" in result["reason"] and "UNSET_LLM_KEY" in result["reason"]
