"""The Athena client flow against moto's Athena on 127.0.0.1: submission, polling, result types,
scanned-bytes report, errors, cancellation and timeout.

Moto does not execute SQL: each query gets the next canned result queued through moto's API. The
canned results are DuckDB's answers to the same registry queries, written the way Athena's
GetQueryResults writes them (a header row, text values, NULL as a missing value), so the test shows
that the Athena engine turns them into the very DataFrames the DuckDB engine returns.
"""

from __future__ import annotations

import signal

import boto3
import pandas as pd
import pytest
from pyathena.formatter import DefaultParameterFormatter

from _aws import ACCOUNT, REGION, aws_env, hold_athena_queries, invictus_files, moto_server, set_athena_results  # noqa: F401
from real_data import queries_with_rows
from audit_toolkit import queries
from audit_toolkit.engines.athena import MB, TB, AthenaEngine, AthenaSettings, estimated_cost
from audit_toolkit.errors import ConfigError, QueryError
from audit_toolkit.investigation import Investigation

OUTPUT = "s3://athena-results/audit/"


@pytest.fixture(scope="module")
def duck():
    return Investigation.from_evidence(invictus_files()[0].parent)


def athena_result(frame: pd.DataFrame, types: dict[str, str]) -> dict:
    """A frame as Athena's GetQueryResults gives it: header row, VarCharValue text, NULL left out."""

    def cell(value, athena_type):
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return {}
        if athena_type == "timestamp with time zone":
            return {"VarCharValue": value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"}
        if athena_type == "boolean":
            return {"VarCharValue": "true" if value else "false"}
        return {"VarCharValue": str(value)}

    header = {"Data": [{"VarCharValue": c} for c in frame.columns]}
    rows = [{"Data": [cell(v, types[c]) for c, v in zip(frame.columns, row)]} for row in frame.itertuples(index=False)]
    info = [{"Name": c, "Label": c, "Type": types[c], "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": True}
            for c in frame.columns]
    return {"rows": [header, *rows], "column_info": info}


def athena_types(duck: Investigation, name, values: dict) -> dict[str, str]:
    """The Athena type of each result column, from DuckDB's types for the same query (a name or a Query)."""
    query = queries.get(name) if isinstance(name, str) else name
    query, values = query.expand(values)
    relation = duck.engine.con.execute(f"DESCRIBE {query.render('duckdb')}", values).fetchall()
    return {column: ATHENA_TYPES[kind] for column, kind, *_ in relation}


ATHENA_TYPES = {"VARCHAR": "varchar", "BIGINT": "bigint", "INTEGER": "integer", "BOOLEAN": "boolean",
                "DOUBLE": "double", "HUGEINT": "bigint",
                "TIMESTAMP WITH TIME ZONE": "timestamp with time zone"}


def logged_answers(duck: Investigation, log: list[dict]) -> list[dict]:
    """DuckDB's answer to each query in an investigation's log (its SQL and parameters), as Athena's results, in order."""
    results = []
    for entry in log:
        frame = duck.engine.run(entry["sql"], entry["params"])
        kinds = duck.engine.con.execute(f"DESCRIBE {entry['sql']}", entry["params"]).fetchall()
        results.append(athena_result(frame, {column: ATHENA_TYPES[kind] for column, kind, *_ in kinds}))
    return results


def engine_with(session=None, **settings) -> AthenaEngine:
    base = dict(output_location=OUTPUT, poll_interval=0.02, database="forensics", workgroup="primary")
    return AthenaEngine(AthenaSettings.load(**{**base, **settings}), session=session)


def canned(duck, endpoint, name, values) -> pd.DataFrame:
    expected = duck.query(name, **values)
    set_athena_results(endpoint, [athena_result(expected, athena_types(duck, name, values))])
    return expected


def values_for(name: str) -> dict:
    scope = queries.scope("2023-07-10T12:00:00Z", "2023-07-10T12:40:00Z", ACCOUNT, REGION)
    values = {"principal": "bert-jan", **scope} if name == "principal_events" else scope
    return {"min_severity": 7.0, **values} if "min_severity" in queries.get(name).params else values


@pytest.mark.parametrize("name", queries_with_rows())
def test_each_registry_query_submits_the_bound_sql_and_returns_duckdbs_frame(aws_env, duck, name):
    values = values_for(name)
    expected = canned(duck, aws_env, name, values)
    engine = engine_with()
    query = queries.get(name)
    got = engine.run(query.render("athena"), query.bind(values))

    assert len(expected) > 0
    pd.testing.assert_frame_equal(got, expected)
    execution = boto3.client("athena").get_query_execution(QueryExecutionId=engine.reports[-1].query_id)["QueryExecution"]
    assert execution["Query"] == DefaultParameterFormatter().format(query.render("athena"), values)
    assert f"day >= '2023/07/10'" in execution["Query"] and f"account = '{ACCOUNT}'" in execution["Query"]
    assert execution["QueryExecutionContext"]["Database"] == "forensics"
    assert execution["WorkGroup"] == "primary"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(OUTPUT)


def test_scanned_bytes_and_cost_are_reported_per_query(aws_env, duck):
    scanned = 3 * 2**30 + 12345  # moto always reports 0 bytes: Athena's figure is set on the response
    session = boto3.Session()

    def athena_says(parsed, **_):
        parsed["QueryExecution"]["Statistics"]["DataScannedInBytes"] = scanned

    session.events.register("after-call.athena.GetQueryExecution", athena_says)
    reports = []
    engine = engine_with(session, price_per_tb=5.0)
    engine.on_report = reports.append
    values = values_for("evidence_span")
    canned(duck, aws_env, "evidence_span", values)
    engine.run(queries.get("evidence_span").render("athena"), values)

    assert [r.state for r in reports] == ["SUCCEEDED"]
    assert reports[0].bytes_scanned == scanned
    assert reports[0].cost_usd == pytest.approx((3 * 1024 + 1) * MB / TB * 5.0)  # rounded up to the megabyte
    assert "3,072.0 MB" in reports[0].summary() and "$0.0147" in reports[0].summary()
    assert estimated_cost(1, 5.0) == pytest.approx(10 * MB / TB * 5.0)  # Athena's 10 MB minimum
    assert estimated_cost(0, 5.0) == 0.0


def test_a_query_that_fails_in_athena_says_what_to_fix(aws_env):
    session = boto3.Session()

    def athena_says(parsed, **_):
        status = parsed["QueryExecution"]["Status"]
        status["State"] = "FAILED"
        status["StateChangeReason"] = "TABLE_NOT_FOUND: line 7:6: Table 'awsdatacatalog.forensics.cloudtrail' does not exist"

    session.events.register("after-call.athena.GetQueryExecution", athena_says)
    engine = engine_with(session)
    with pytest.raises(QueryError, match=r"TABLE_NOT_FOUND.*audit-toolkit athena setup.*'forensics'") as caught:
        engine.run("SELECT count(*) FROM cloudtrail", {})
    assert caught.value.__cause__ is not None
    assert engine.reports[-1].state == "FAILED" and engine.reports[-1].cost_usd == 0.0


def test_an_unknown_workgroup_is_named_in_the_error(aws_env):
    engine = engine_with(workgroup="no-such-workgroup")
    with pytest.raises(QueryError, match=r"WorkGroup does not exist.*no-such-workgroup.*AUDIT_TOOLKIT_ATHENA_WORKGROUP"):
        engine.run("SELECT 1", {})


def test_missing_credentials_are_explained(aws_env, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    with pytest.raises(QueryError, match="no AWS credentials found.*AWS_PROFILE"):
        engine_with().run("SELECT 1", {})


@pytest.fixture
def held_queries(aws_env):
    hold_athena_queries(aws_env, polls=10_000)  # every query stays QUEUED until stopped
    yield aws_env
    hold_athena_queries(aws_env, polls=1)


def state_of(query_id: str) -> str:
    return boto3.client("athena").get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]


@pytest.fixture
def ctrl_c_interrupts():
    """SIGINT raises KeyboardInterrupt, as in a terminal: a job started in the background by a shell
    without job control starts with SIGINT ignored, and Python then leaves it ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_the_query_in_athena(held_queries, ctrl_c_interrupts):
    # Ctrl-C while the query waits in Athena's queue: raised from the third status poll rather than
    # from a timer, so that a loaded machine cannot make the signal miss the wait.
    polls = []

    def ctrl_c(parsed, **_):
        polls.append(parsed["QueryExecution"]["Status"]["State"])
        if len(polls) == 3:
            signal.raise_signal(signal.SIGINT)

    session = boto3.Session()
    session.events.register("after-call.athena.GetQueryExecution", ctrl_c)
    engine = engine_with(session)
    with pytest.raises(KeyboardInterrupt):
        engine.run("SELECT count(*) FROM cloudtrail", {})
    assert polls[:3] == ["QUEUED"] * 3
    report = engine.reports[-1]
    assert report.state == "CANCELLED"
    assert state_of(report.query_id) == "CANCELLED"  # StopQueryExecution reached Athena


def test_a_query_past_its_timeout_is_stopped_in_athena(held_queries):
    engine = engine_with(timeout=0.3)
    with pytest.raises(QueryError, match=r"longer than 0 s and was stopped.*AUDIT_TOOLKIT_ATHENA_TIMEOUT"):
        engine.run("SELECT count(*) FROM cloudtrail", {})
    report = engine.reports[-1]
    assert report.state == "TIMED_OUT" and 0.3 <= report.seconds < 5
    assert state_of(report.query_id) == "CANCELLED"


def test_the_investigation_on_athena_finds_the_same_ssh_window(aws_env, duck, monkeypatch):
    monkeypatch.setenv("AUDIT_TOOLKIT_ATHENA_OUTPUT", OUTPUT)
    until = "2023-07-10T13:00:00Z"
    # ssh_exposure asks the security-group state (none here), sg_changes from the start of the
    # evidence, then the evidence span.
    sg_values = queries.scope(None, until)
    span_values = queries.scope(None, until)
    state_values = {**{k: sg_values[k] for k in ("until", "account", "region")},
                    "first_day": None, "days": []}
    set_athena_results(aws_env, [
        athena_result(duck.query("sg_state", **state_values), athena_types(duck, "sg_state", state_values)),
        athena_result(duck.query("sg_changes", **sg_values), athena_types(duck, "sg_changes", sg_values)),
        athena_result(duck.query("evidence_span", **span_values), athena_types(duck, "evidence_span", span_values)),
    ])
    reports = []
    inv = Investigation.open("athena", on_report=reports.append)
    windows = inv.ssh_exposure(until=until)

    pd.testing.assert_frame_equal(windows, duck.ssh_exposure(until=until))
    assert [(w.group_id, str(w.opened_at), str(w.closed_at)) for w in windows.itertuples()] == [
        ("sg-04cfb7a4712d75b00", "2023-07-10 12:10:08+00:00", "2023-07-10 12:11:57+00:00")
    ]
    assert [entry["query"] for entry in inv.log] == ["sg_state", "sg_changes", "evidence_span"]
    assert [r.state for r in reports] == ["SUCCEEDED"] * 3


def test_a_database_set_up_before_the_config_table_says_to_re_run_setup(aws_env):
    session = boto3.Session()

    def athena_says(parsed, **_):
        status = parsed["QueryExecution"]["Status"]
        status["State"] = "FAILED"
        status["StateChangeReason"] = (
            "TABLE_NOT_FOUND: line 14:6: Table 'awsdatacatalog.forensics.config' does not exist"
        )

    session.events.register("after-call.athena.GetQueryExecution", athena_says)
    engine = engine_with(session)
    query, values = queries.get("sg_state").expand(
        {**values_for("sg_state"), "first_day": None, "days": []})
    with pytest.raises(QueryError) as caught:
        engine.run(query.render("athena"), values)
    message = str(caught.value)
    assert "\n" not in message
    assert "'forensics' was set up before" in message
    assert "re-run `audit-toolkit athena setup`" in message and "--config" in message


def test_the_state_from_since_submits_only_its_config_day_folders(aws_env, duck, monkeypatch):
    monkeypatch.setenv("AUDIT_TOOLKIT_ATHENA_OUTPUT", OUTPUT)
    empty = {"until": None, "account": ACCOUNT, "region": REGION, "first_day": None, "days": []}
    set_athena_results(aws_env, [athena_result(duck.query("sg_state", **empty).iloc[0:0],
                                               athena_types(duck, "sg_state", empty))])
    inv = Investigation.open("athena")
    with pytest.raises(ConfigError, match="no AWS Config snapshot .* delivered on 2023/7/9 or"):
        inv.state(since="2023-07-10T12:00:00Z", until="2023-07-12T00:00:00Z", account=ACCOUNT,
                  region=REGION)
    athena = boto3.client("athena")
    (sent,) = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"]
               for i in athena.list_query_executions()["QueryExecutionIds"]]
    assert "c.day IN ('2023/7/9', '2023/7/10', '2023/7/11', '2023/7/12', '2023/7/13')" in sent
    assert "'2023/7/8'" not in sent and "'2023/7/14'" not in sent
