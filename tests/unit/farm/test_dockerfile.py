"""The Dockerfile cannot be built here (no Docker engine), so check what can be checked: it is
multi-stage, its final stage is non-root, every file it copies from the context exists and is not
excluded by .dockerignore, its install step is scripts/install.sh (valid bash), and it ships the env
runtime where the env pods' init container copies it from."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import tomllib
from pathlib import Path

import yaml

from envfarm.farm import podspec

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), split into stages."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    out: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            out.append([])
        if out:
            out[-1].append(line)
    return out


def copies(stage: list[str]) -> list[tuple[list[str], str]]:
    found = []
    for line in stage:
        parts = line.split()
        if parts[0].upper() == "COPY" and not any(p.startswith("--from") for p in parts):
            found.append((parts[1:-1], parts[-1]))
    return found


def ignored(rel: str) -> bool:
    excluded = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate, pattern = rule.startswith("!"), rule.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(rel, pattern) or rel.startswith(pattern + "/"):
            excluded = not negate
    return excluded


def test_multi_stage_with_a_non_root_final_stage() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    names = [s[0].split()[-1] for s in all_stages]
    assert names == ["build", "runtime"]
    final = all_stages[-1]
    user = next(line.split()[1] for line in final if line.upper().startswith("USER "))
    assert user.split(":")[0] not in ("0", "root")
    assert all("slim" in s[0] for s in all_stages), "slim base images"
    entry = next(line for line in final if line.upper().startswith("ENTRYPOINT"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert f'"{next(iter(scripts))}"' in entry


def test_every_copied_file_exists_and_is_in_the_build_context() -> None:
    for stage in stages():
        for sources, _ in copies(stage):
            for src in sources:
                assert (ROOT / src).exists(), f"COPY {src}: no such file in the repository"
                assert not ignored(src), f"COPY {src}: excluded by .dockerignore"


def test_install_step_is_the_ci_install_script() -> None:
    build = stages()[0]
    runs = " ".join(line for line in build if line.upper().startswith("RUN "))
    assert "bash scripts/install.sh" in runs
    script = ROOT / "scripts" / "install.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    assert "VENV" in script.read_text() and "EXTRAS" in script.read_text(), "the Dockerfile sets both"
    env = " ".join(line for line in build if line.upper().startswith("ENV "))
    assert "VENV=/opt/venv" in env and "k8s" in env


def test_image_ships_the_runtime_where_env_pods_copy_it_from() -> None:
    final = stages()[-1]
    targets = {dest: src for srcs, dest in copies(final) for src in srcs}
    assert targets.get(podspec.RUNTIME_SOURCE) == "envfarm/sandbox/runtime.py"
    init = podspec.init_container("img")
    assert init["command"] == ["cp", podspec.RUNTIME_SOURCE, podspec.RUNTIME_PATH]


def test_deployment_runs_this_image_as_the_same_non_root_user() -> None:
    deploy = yaml.safe_load((ROOT / "k8s" / "deployment.yaml").read_text())
    pod = deploy["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001 and "USER 10001:10001" in DOCKERFILE
    assert pod["containers"][0]["command"] == ["envfarm"]
