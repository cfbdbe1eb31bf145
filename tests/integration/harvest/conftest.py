from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from envfarm.harvest.ghclient import GitHubClient, RateBudget
from envfarm.testing.fake_github import FakeClock, FakeGitHub

RECORDINGS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "github"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeGitHub]:
    server = FakeGitHub(clock=clock.time)
    if not RECORDINGS.is_dir():
        pytest.skip(f"recorded GitHub exchanges not found at {RECORDINGS}")
    server.load_recordings(RECORDINGS)
    with server:
        yield server


@pytest.fixture
def client(fake: FakeGitHub, clock: FakeClock) -> Iterator[GitHubClient]:
    gh = GitHubClient(fake.base_url, token="ghp_SECRETTOKEN123", budget=RateBudget(clock.time, clock.sleep))
    yield gh
    gh.close()
