"""Kubernetes timestamps: whole seconds in, and a hold measured from them never cut short."""

from __future__ import annotations

from envfarm.farm.clock import iso, parse_time, ready_since


def test_iso_round_trips_whole_seconds() -> None:
    assert iso(1_700_000_000.75) == "2023-11-14T22:13:20Z"
    assert parse_time(iso(1_700_000_000.75)) == 1_700_000_000.0
    assert parse_time("garbage") == 0.0 and parse_time(None) == 0.0


def test_ready_since_is_the_latest_moment_the_pod_can_have_become_ready() -> None:
    written = parse_time(iso(1_700_000_000.9))  # ready at .9, written as .0
    # seen at once: the hold counts from when it was seen, not 0.9 s earlier
    assert ready_since(written, 1_700_000_000.95) == 1_700_000_000.95
    # seen long after (an adopted pod after a restart): it was ready before the next whole second
    assert ready_since(written, 1_700_000_030.0) == 1_700_000_001.0
    # no transition time at all (the unknown marker): count from now
    assert ready_since(1.0, 1_700_000_005.0) == 1_700_000_005.0
