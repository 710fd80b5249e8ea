"""GuardDuty findings on Athena: the `guardduty` table's DDL is the embedded table, and findings and
correlations come out of the Athena engine exactly as out of DuckDB.

Moto does not execute SQL: each query gets the next canned result. The canned results are DuckDB's
answers to the very queries (name, SQL, parameters) that the DuckDB investigation logged, so what is
tested is the Athena path (binding, submission, result types, flattening), not Athena's SQL engine.
"""

from __future__ import annotations

import boto3
import pandas as pd
import sqlglot
from sqlglot import exp

from _aws import aws_env, moto_server, set_athena_results  # noqa: F401
from audit_toolkit import queries
from audit_toolkit.evidence.guardduty import GUARDDUTY_SCHEMA
from audit_toolkit.investigation import Investigation
from audit_toolkit.queries import ddl
from test_athena_engine import engine_with, logged_answers


def test_the_guardduty_ddl_declares_the_embedded_table():
    statement = ddl.render("s3://trail-bucket/org", ["111122223333"], ["us-east-1"])[2]
    table = sqlglot.parse_one(statement, read="athena")
    data = [c.name for c in table.this.expressions if isinstance(c, exp.ColumnDef)]
    partitions = [c.name for c in table.find(exp.PartitionedByProperty).this.expressions]
    assert data + partitions == GUARDDUTY_SCHEMA.names


def replay_on_athena(duck: Investigation, endpoint: str, ask) -> tuple[Investigation, pd.DataFrame]:
    """Ask DuckDB, queue its answer to every query it ran as Athena's results, ask Athena the same."""
    duck.log.clear()
    expected = ask(duck)
    set_athena_results(endpoint, logged_answers(duck, duck.log))
    athena = Investigation(engine_with(), evidence="athena:forensics")
    got = ask(athena)
    assert [e["query"] for e in athena.log] == [e["query"] for e in duck.log]
    return athena, got, expected


def test_findings_on_athena_are_duckdbs(aws_env, demo):
    duck = Investigation.from_evidence(demo / "evidence")
    athena, got, expected = replay_on_athena(duck, aws_env, lambda inv: inv.findings("2026-11-03T00:00:00Z", min_severity=2))
    assert len(expected) == 10
    pd.testing.assert_frame_equal(got, expected)
    (execution,) = [e for e in athena.log if e["query"] == "findings"]
    sent = boto3.client("athena").get_query_execution(QueryExecutionId=athena.engine.reports[-1].query_id)["QueryExecution"]["Query"]
    assert "FROM guardduty" in sent and "day >= '2026/11/03'" in sent and ">= 2.0" in sent
    assert execution["params"]["min_severity"] == 2.0


def test_correlations_on_athena_are_duckdbs(aws_env, demo):
    duck = Investigation.from_evidence(demo / "evidence")
    athena, got, expected = replay_on_athena(duck, aws_env, lambda inv: inv.correlate())
    assert [e["query"] for e in athena.log] == ["sg_state", "sg_changes", "evidence_span", "findings", "instance_changes",
                                               "interface_state"]  # state first: it seeds the windows
    assert len(expected) == 5
    pd.testing.assert_frame_equal(got, expected)
    assert queries.get("findings").render("athena").count("%(min_severity)s") == 2
