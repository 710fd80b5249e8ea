"""The detection catalogue and coverage on the Athena engine, against moto's Athena server.

moto does not execute SQL: each query's result is canned from DuckDB's answer to the same registry
query on the real invictus records, so these tests prove the Athena side of the flow (the SQL
submitted, parameters bound by PyAthena, results typed back into the same frames, the same hits and
gaps), not that Athena itself reads the table as DuckDB does (tests/test_athena_sql.py checks the
translation; only a real account can check the rest).
"""

from __future__ import annotations

import boto3
import pandas as pd
import pytest

from _aws import aws_env, invictus_files, moto_server, set_athena_results  # noqa: F401 (fixtures)
from test_athena_engine import OUTPUT, athena_result, athena_types
from audit_toolkit import queries
from audit_toolkit.analysis.detections import CATALOGUE, LEARN_FROM_HISTORY
from audit_toolkit.engines.athena import AthenaSettings
from audit_toolkit.investigation import Investigation


@pytest.fixture(scope="module")
def duck():
    return Investigation.from_evidence(invictus_files()[0].parent)


def canned(duck: Investigation, plan: list[tuple[str, dict]]) -> list[dict]:
    return [athena_result(duck.query(name, **values), athena_types(duck, name, values)) for name, values in plan]


def athena() -> AthenaSettings:
    return AthenaSettings.load(output_location=OUTPUT, poll_interval=0.02)


def test_detect_on_athena_gives_duckdbs_hits(aws_env, duck):
    values = queries.scope("2023-07-10T11:00:00Z", "2023-07-10T13:00:00Z")
    union = queries.union([d.query for d in CATALOGUE])
    # Trail buckets and security rules are learned from the whole evidence: a second, narrow query.
    history = queries.union([d.query for d in CATALOGUE if d.id in LEARN_FROM_HISTORY])
    whole = queries.scope()
    set_athena_results(aws_env, [athena_result(duck.query(union, **values), athena_types(duck, union, values)),
                                 athena_result(duck.query(history, **whole), athena_types(duck, history, whole))])
    reports = []
    inv = Investigation.on_athena(athena(), on_report=reports.append)
    hits = inv.detect(since="2023-07-10T11:00:00Z", until="2023-07-10T13:00:00Z")

    expected = duck.detect(since="2023-07-10T11:00:00Z", until="2023-07-10T13:00:00Z")
    pd.testing.assert_frame_equal(hits, expected)
    assert len(hits) == 233 and set(hits[hits["detection"] == "cloudtrail_stopped"]["outcome"]) == {"attempt"}
    assert [entry["query"] for entry in inv.log] == [union.name, history.name]  # one scan for the whole catalogue
    assert [r.state for r in reports] == ["SUCCEEDED", "SUCCEEDED"]
    submitted = boto3.client("athena").get_query_execution(QueryExecutionId=reports[0].query_id)["QueryExecution"]["Query"]
    assert "eventname IN ('Subscribe', 'Unsubscribe', 'SetSubscriptionAttributes')" in submitted
    assert "eventname IN ('LeaveOrganization')" in submitted and "useridentity.type = 'Root'" in submitted
    assert "day >= '2023/07/10'" in submitted and "from_iso8601_timestamp('2023-07-10T11:00:00Z')" in submitted


def test_coverage_on_athena_gives_duckdbs_gaps_and_outages(aws_env, duck):
    since, until = "2023-07-10T09:00:00Z", "2023-07-10T14:00:00Z"
    set_athena_results(aws_env, canned(duck, [
        ("hourly_events", queries.scope(since, until)),
        ("evidence_places", queries.scope(None, None)),
        ("trail_logging", queries.scope(None, until)),
        ("evidence_span", queries.scope(None, None)),
    ]))
    inv = Investigation.on_athena(athena())
    found = inv.coverage(since, until)

    pd.testing.assert_frame_equal(found, duck.coverage(since, until))
    assert list(found["kind"]) == ["no_events", "trail_deleted", "trail_deleted", "no_events"]
    assert [entry["query"] for entry in inv.log] == ["hourly_events", "evidence_places", "trail_logging", "evidence_span"]
