"""Where the shared real AWS data is: beside the repository, or at /work/shared (never copied in)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def real_data() -> Path:
    for candidate in (ROOT.parent / "shared" / "data" / "real", Path("/work/shared/data/real")):
        if candidate.is_dir():
            return candidate
    pytest.skip("the shared real AWS data (shared/data/real) is not beside the repository nor at /work/shared")


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
