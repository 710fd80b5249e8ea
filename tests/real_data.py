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


# Detection queries whose candidate events lie in the invictus window 12:00-12:30Z; the others
# return no rows there (tests/test_detections.py covers them on constructed rows).
DETECT_WITH_ROWS = ("detect_cloudtrail_stopped", "detect_cloudtrail_deleted", "detect_cloudtrail_selectors_reduced",
                    "detect_trail_bucket_changed", "detect_flow_logs_deleted", "detect_organization_left",
                    "detect_resource_shared_externally", "detect_console_login_without_mfa",
                    "detect_credential_for_other_user")


def queries_with_rows() -> list[str]:
    """Registry queries that return rows on the invictus window: every query but the silent detections."""
    from audit_toolkit import queries

    return sorted(n for n in queries.QUERIES if (not n.startswith("detect_") or n in DETECT_WITH_ROWS)
                  and n not in NOT_CLOUDTRAIL)


# Queries of the `guardduty` and `vpcflowlogs` tables, not of CloudTrail: tests/test_findings_athena.py
# and tests/test_connections_athena.py run them on findings and flow logs.
# sg_state reads `config` (tests/test_state.py), interface_state too (tests/test_connections.py).
NOT_CLOUDTRAIL = ("findings", "sg_state", "connections", "interface_state")
