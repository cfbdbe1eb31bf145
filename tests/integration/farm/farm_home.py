"""An envfarm home ready for local jobs on the calc sample, without network: the sample tasks in the task
store, the calc repository built and cached, and the task's venv seeded from this project's packages.

The builder would pip-install the sample's only dependency (pytest); CI has no network, so the venv is
made with ``python -m venv --without-pip`` at the path the builder would use and given a copy of pytest
and its dependencies from this virtualenv, then marked finished exactly as the builder marks it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from envfarm.models.task import SweTask, parse_task
from envfarm.sandbox.builder import MARKER
from envfarm.sandbox.envhash import env_hash, python_version
from envfarm.sandbox.interpreters import find_python
from envfarm.sandbox.repos import RepoCache
from envfarm.settings import Settings
from envfarm.store.tasks import TaskStore
from envfarm.testing.samples import SAMPLES_DIR, build_sample

CALC = "envfarm-samples__calc-3"
SITE = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
PYTEST_DISTS = ("pytest", "_pytest", "pluggy", "iniconfig", "packaging", "pygments", "py.py")


def sample_tasks() -> dict[str, SweTask]:
    lines = (SAMPLES_DIR / "tasks.jsonl").read_text().splitlines()
    tasks = [parse_task(json.loads(line)) for line in lines if line.strip()]
    return {t.instance_id: t for t in tasks if isinstance(t, SweTask)}


def seed_venv(settings: Settings, task: SweTask) -> Path:
    """The task's venv at the builder's path, with pytest, marked as built."""
    venv = settings.venvs_dir / env_hash(task)
    interp = find_python(python_version(task))
    subprocess.run([str(interp.executable), "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / f"python{interp.version}" / "site-packages"
    metadata = [p.name for p in SITE.glob("*.dist-info") if p.name.split("-")[0].lower() in PYTEST_DISTS]
    for name in [*PYTEST_DISTS, *metadata]:
        src = SITE / name
        if src.is_dir():
            shutil.copytree(src, site / name)
        elif src.exists():
            shutil.copy2(src, site / name)
    script = venv / "bin" / "pytest"
    script.write_text(
        f"#!{venv}/bin/python\nimport sys\nfrom pytest import console_main\nsys.exit(console_main())\n"
    )
    script.chmod(0o755)
    (venv / MARKER).write_text(json.dumps({"hash": venv.name, "python": interp.version, "size": 0}))
    return venv


def calc_home(root: Path) -> Settings:
    """A home with the sample tasks stored, the calc repository cached and calc-3's venv seeded."""
    settings = Settings.from_env(root).ensure()
    tasks = sample_tasks()
    with TaskStore(settings.task_db) as store:
        for task in tasks.values():
            store.upsert(task)
    build_sample("calc", root / "src" / "calc")
    RepoCache(settings.repos_dir).add("envfarm-samples/calc", root / "src" / "calc")
    seed_venv(settings, tasks[CALC])
    return settings
