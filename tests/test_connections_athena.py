"""Connections on Athena: the vpcflowlogs DDL of `athena setup`, the same answers as DuckDB through the
moto server, and only the window's days or hours named in the SQL Athena receives.

Moto does not execute SQL: each query gets the next canned result, DuckDB's answer to the very query
(name, SQL, parameters) the DuckDB investigation logged. What is tested is the Athena path (binding,
submission, result types) and the text submitted, not Athena's SQL engine.
"""

from __future__ import annotations

import boto3
import pandas as pd
import sqlglot
from click.testing import CliRunner
from sqlglot import exp
from sqlglot.optimizer.simplify import simplify

from _aws import aws_env, moto_server, set_athena_results  # noqa: F401
from audit_toolkit.cli import main
from audit_toolkit.evidence import flowlogs
from audit_toolkit.investigation import Investigation
from audit_toolkit.queries import ddl
from test_athena_engine import engine_with, logged_answers

CUSTOM = (
    "version account-id vpc-id instance-id interface-id flow-direction srcaddr dstaddr srcport dstport "
    "protocol packets bytes start end action log-status tcp-flags reject-reason"
).split()


def _table(statement: str):
    table = sqlglot.parse_one(statement, read="athena")
    columns = [c.name for c in table.this.expressions if isinstance(c, exp.ColumnDef)]
    partitions = [c.name for c in table.find(exp.PartitionedByProperty).this.expressions]
    props = {p.name: p.text("value") for p in table.find_all(exp.Property) if p.name}
    return columns, partitions, props


def test_flow_ddl_takes_the_formats_order_then_the_tables_other_columns():
    statements = ddl.render(
        "s3://trail/org",
        ["111111111111"],
        ["ap-northeast-1"],
        flow_logs="s3://flows/vpc",
        flow_format=CUSTOM,
        flow_hourly=True,
    )
    assert len(statements) == 5  # database, cloudtrail, guardduty, config, vpcflowlogs
    columns, partitions, props = _table(statements[-1])
    fields = [
        flowlogs.FIELDS[f][0] if f in flowlogs.FIELDS else "record_reject_reason" for f in CUSTOM
    ]
    assert columns[: len(CUSTOM)] == fields
    # Every column of the embedded table is declared, so one query text runs on both engines.
    assert set(columns) - {"record_reject_reason"} | set(partitions) == set(flowlogs.COLUMNS)
    assert partitions == ["account", "region", "day"]
    assert (
        props["projection.day.format"] == "yyyy/MM/dd/HH"
        and props["projection.day.interval.unit"] == "HOURS"
    )
    assert (
        props["projection.day.range"] == "2020/01/01/00,NOW"
        and props["skip.header.line.count"] == "1"
    )
    assert (
        props["storage.location.template"]
        == "s3://flows/vpc/AWSLogs/${account}/vpcflowlogs/${region}/${day}"
    )
    assert "'serialization.null.format' = '-'" in statements[-1]


def test_flow_ddl_for_daily_parquet_and_the_default_format():
    text = ddl.render(
        "s3://trail/org", ["111111111111"], ["us-east-1"], flow_logs="s3://flows/vpc"
    )[-1]
    columns, _, props = _table(text)
    assert columns[:14] == [flowlogs.FIELDS[f][0] for f in flowlogs.DEFAULT_FORMAT]
    assert (
        props["projection.day.format"] == "yyyy/MM/dd"
        and props["projection.day.range"] == "2020/01/01,NOW"
    )
    parquet = ddl.render(
        "s3://trail/org",
        ["111111111111"],
        ["us-east-1"],
        flow_logs="s3://flows/vpc",
        flow_parquet=True,
    )[-1]
    assert "STORED AS PARQUET" in parquet and "skip.header.line.count" not in parquet


def test_flow_ddl_refuses_a_field_that_could_change_the_statement():
    result = CliRunner().invoke(
        main,
        [
            "athena",
            "setup",
            "--logs",
            "s3://trail/org",
            "--account",
            "111111111111",
            "--region",
            "us-east-1",
            "--flow-logs",
            "s3://flows/vpc",
            "--flow-log-format",
            "version `x` STRING) --",
            "--dry-run",
        ],
    )
    assert result.exit_code == 1 and "flow log field '`x`' is not valid" in result.output


def test_connections_on_athena_are_duckdbs_and_name_only_the_windows_hours(aws_env, demo):
    duck = Investigation.from_evidence(demo / "evidence")
    duck.log.clear()
    expected = duck.connections()
    set_athena_results(aws_env, logged_answers(duck, duck.log))
    athena = Investigation(engine_with(), evidence="athena:forensics")
    got = athena.connections()
    assert [e["query"] for e in athena.log] == [e["query"] for e in duck.log]
    pd.testing.assert_frame_equal(got, expected)

    client = boto3.client("athena")
    sent = [
        client.get_query_execution(QueryExecutionId=r.query_id)["QueryExecution"]["Query"]
        for r in athena.engine.reports
    ]
    flows = [s for s, e in zip(sent, athena.log) if e["query"] == "connections"]
    assert len(flows) == 5  # one a window whose group has a known interface (the sandbox's have none)
    # alice's window, 09:02 to 11:32:15 on Nov 3, an hour's margin each side: hours 07 to 13 only.
    opened = int(pd.Timestamp("2026-11-03T09:02:00Z").timestamp())
    (bastion,) = [s for s in flows if f"WHEN \"end\" < {opened} THEN 'before'" in s]
    # The WHERE on the table itself (the outer ones filter the aggregates).
    (scan,) = [w for w in sqlglot.parse_one(bastion, read="athena").find_all(exp.Where)
               if isinstance(w.parent, exp.Select) and isinstance(w.parent.args["from_"].this, exp.Table)
               and w.parent.args["from_"].this.name == "vpcflowlogs"]
    where = simplify(scan.this)
    terms = {c.sql("athena") for c in where.flatten()}
    # Only partition values from hour 07 (or the day folder of a daily flow log) up to hour 13.
    assert "day = '2026/11/03' OR day >= '2026/11/03/07' OR day IS NULL" in terms
    assert "day <= '2026/11/03/13' OR day IS NULL" in terms
    assert {"account = '111111111111'", "region = 'ap-northeast-1'"} <= terms


def test_interface_state_on_athena_reads_only_the_config_days_from_the_day_before_since(
        aws_env, tmp_path):
    """Like sg_state: with a snapshot the day before `since`, memberships from then on need no
    earlier day, and the SQL Athena receives lists only those days; without a snapshot every day
    is read, so a membership recorded earlier and never changed is not lost."""
    from test_connections import ENI, config_file, config_item, interface_config

    config = tmp_path / "AWSLogs/111111111111/Config/us-east-1/2026/1"
    name = "111111111111_Config_us-east-1_{}_1.json.gz"
    old = config_file(config / "1/ConfigHistory" / name.format("ConfigHistory"),
                      config_item(ENI, "eni-1", "2026-01-01T09:00:00.000Z",
                                  interface_config(["sg-0"])))
    snapshot = config_file(config / "4/ConfigSnapshot" / name.format("ConfigSnapshot"),
                           config_item(ENI, "eni-1", "2026-01-04T00:20:00.000Z",
                                       interface_config(["sg-1"])))
    config_file(config / "5/ConfigHistory" / name.format("ConfigHistory"),
                config_item(ENI, "eni-1", "2026-01-05T10:00:00.000Z",
                            interface_config(["sg-1", "sg-2"])))
    scope = dict(since="2026-01-05T00:00:00Z", until="2026-01-06T00:00:00Z",
                 account="111111111111", region="us-east-1")
    duck = Investigation.from_evidence(tmp_path)
    duck.log.clear()
    expected = duck.instance_groups(**scope)
    assert [(m["group_id"], str(m["since"])) for _, m in expected.iterrows()] == [
        ("sg-1", "NaT"), ("sg-2", "2026-01-05 10:00:00+00:00")]  # sg-1: held before the snapshot
    set_athena_results(aws_env, logged_answers(duck, duck.log))
    athena = Investigation(engine_with(), evidence="athena:forensics")
    pd.testing.assert_frame_equal(athena.instance_groups(**scope), expected)
    client = boto3.client("athena")
    (sent,) = [client.get_query_execution(QueryExecutionId=r.query_id)["QueryExecution"]["Query"]
               for r, e in zip(athena.engine.reports, athena.log)
               if e["query"] == "interface_state"]
    assert "c.day IN ('2026/1/4', '2026/1/5', '2026/1/6', '2026/1/7')" in sent

    snapshot.unlink()  # no snapshot the day before: every day, and sg-0 from 2026/1/1 is kept
    duck = Investigation.from_evidence(tmp_path)
    found = duck.instance_groups(**scope)
    assert [e["params"]["first_day"] for e in duck.log if e["query"] == "interface_state"] == [
        "2026/1/4", None]
    assert sorted(found["group_id"]) == ["sg-0", "sg-1", "sg-2"]
    assert old.exists()


def _glue_table(database: str, name: str) -> None:
    glue = boto3.client("glue")
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(DatabaseName=database, TableInput={"Name": name})


def test_whether_the_flow_log_table_exists_is_asked_of_glue_without_a_query(aws_env, monkeypatch):
    monkeypatch.delenv("AUDIT_TOOLKIT_ATHENA_FLOW_LOGS", raising=False)
    inv = Investigation(engine_with(), evidence="athena:forensics")
    assert inv.has_flow_logs is False  # no database at all yet
    _glue_table("forensics", "cloudtrail")
    assert inv.has_flow_logs is False  # the database, without the flow logs' table
    _glue_table("other", flowlogs.TABLE)
    assert inv.has_flow_logs is False  # another database's table is not this one's
    boto3.client("glue").create_table(DatabaseName="forensics", TableInput={"Name": flowlogs.TABLE})
    assert inv.has_flow_logs is True
    assert inv.engine.reports == []  # not one Athena query: nothing failed, nothing billed
    # The setting still says it outright (a role that may not call glue:GetTable).
    told = Investigation(engine_with(flow_logs=False), evidence="athena:forensics")
    assert told.has_flow_logs is False


def test_a_report_on_athena_without_the_flow_log_table_says_so(aws_env, demo, monkeypatch):
    from audit_toolkit.report import Audit, connections_section
    from audit_toolkit.settings import Settings

    monkeypatch.delenv("AUDIT_TOOLKIT_ATHENA_FLOW_LOGS", raising=False)
    duck = Investigation.from_evidence(demo / "evidence")
    duck.log.clear()
    windows = duck.ssh_exposure()
    set_athena_results(aws_env, logged_answers(duck, duck.log))
    athena = Investigation(engine_with(), evidence="athena:forensics", settings=Settings(language="en"))
    audit = Audit(athena)
    assert len(audit.windows) == len(windows) > 0
    part = connections_section(audit)
    assert part.facts == [
        "not looked at: the Athena database forensics has no vpcflowlogs table, so who came in "
        "through the windows is unknown (add it with `audit-toolkit athena setup --flow-logs "
        "s3://...`)"
    ]
    assert "connections" not in [e["query"] for e in audit.inv.log]  # no query sent to fail


def test_a_report_that_cannot_ask_glue_says_who_came_in_is_unknown(aws_env, demo, monkeypatch):
    from audit_toolkit.errors import QueryError
    from audit_toolkit.report import Audit, connections_section
    from audit_toolkit.settings import Settings

    monkeypatch.delenv("AUDIT_TOOLKIT_ATHENA_FLOW_LOGS", raising=False)
    duck = Investigation.from_evidence(demo / "evidence")
    duck.log.clear()
    duck.ssh_exposure()
    set_athena_results(aws_env, logged_answers(duck, duck.log))
    athena = Investigation(engine_with(), evidence="athena:forensics", settings=Settings(language="en"))

    def denied(name):
        raise QueryError("asking the Glue catalog for the table vpcflowlogs: AccessDenied")

    monkeypatch.setattr(athena.engine, "has_table", denied)
    part = connections_section(Audit(athena))
    assert part.facts == [
        "not looked at: whether the Athena database forensics has a vpcflowlogs table could not be "
        "asked (asking the Glue catalog for the table vpcflowlogs: AccessDenied); who came in through "
        "the windows is unknown (if it has, set AUDIT_TOOLKIT_ATHENA_FLOW_LOGS=1)"
    ]
