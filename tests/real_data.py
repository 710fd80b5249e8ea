"""Real records by name, for tests that build events around them (the data is found as conftest finds it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import _real_data


def real_data() -> Path:
    found = _real_data()
    if found is None:
        pytest.skip("../shared/data/real is absent: the real recorded data lives beside the repository, not in it")
    return found


def invictus() -> Path:
    return real_data() / "invictus-ir-aws_dataset" / "CloudTrail"


def cloudtrail_record(event_name: str, contains: str = "") -> dict:
    """The first real invictus record with this event name (and this text in its request)."""
    for path in sorted(invictus().glob("*.json")):
        for record in json.loads(path.read_text())["Records"]:
            if record["eventName"] == event_name and contains in json.dumps(record.get("requestParameters")):
                return record
    raise LookupError(event_name)


def elastic_lines(name: str) -> list[dict]:
    path = real_data() / "elastic-integrations-aws" / name
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
