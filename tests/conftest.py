"""Shared fixtures: the real recorded data beside the repository, and small demo evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit_toolkit.investigation import Investigation
from audit_toolkit.synthetic import generate

ROOT = Path(__file__).resolve().parents[1]


def _real_data() -> Path | None:
    for candidate in (ROOT.parent / "shared" / "data" / "real", Path("/work/shared/data/real")):
        if (candidate / "SOURCES.md").exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def real_data() -> Path:
    """../shared/data/real: CloudTrail and GuardDuty data recorded in real AWS accounts (never copied here)."""
    found = _real_data()
    if found is None:
        pytest.skip("../shared/data/real is absent: the real recorded data lives beside the repository, not in it")
    return found


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """Small demo evidence with the scripted incident: <dir>/evidence and <dir>/ground_truth.json."""
    out = tmp_path_factory.mktemp("demo")
    generate(out, events=3000, seed=11)
    return out


@pytest.fixture(scope="session")
def truth(demo) -> dict:
    return json.loads((demo / "ground_truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def demo_inv(demo, truth) -> Investigation:
    return Investigation.from_evidence(demo / "evidence", state_at=truth["state_at"])
