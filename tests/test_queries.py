"""The query registry: headers checked at load, values bound not formatted, every query runs on DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from audit_toolkit import queries
from audit_toolkit.engines.duckdb import DuckDBEngine
from audit_toolkit.errors import ConfigError, QueryError
from audit_toolkit.queries import QUERIES, load


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.sql"
    path.write_text(text, encoding="utf-8")
    return path


def test_header_names_the_file(tmp_path):
    with pytest.raises(QueryError, match="-- name: q"):
        load(write(tmp_path, "q", "-- name: other\nSELECT 1"))


def test_declared_and_used_parameters_must_agree(tmp_path):
    with pytest.raises(QueryError, match=r"declared parameters \['a', 'b'\] but the SQL uses \['a'\]"):
        load(write(tmp_path, "q", "-- name: q\n-- params: a, b\nSELECT :a"))
    with pytest.raises(QueryError, match=r"uses \['a', 'c'\]"):
        load(write(tmp_path, "q", "-- name: q\n-- params: a\nSELECT :a, :c"))


def test_doc_lines_and_override_file(tmp_path):
    (tmp_path / "duckdb").mkdir()
    write(tmp_path / "duckdb", "q", "SELECT 2 AS x")
    q = load(write(tmp_path, "q", "-- name: q\n-- The answer.\n-- Second line.\nSELECT 1 AS x;"))
    assert q.doc == "The answer.\nSecond line."
    assert q.render("athena") == "SELECT 1 AS x"
    assert q.render("duckdb") == "SELECT 2 AS x"


def test_bind_rejects_unknown_and_missing_values():
    q = QUERIES["sg_changes"]
    with pytest.raises(QueryError, match="unknown: \\['colour'\\], missing: none"):
        q.bind({**queries.scope(), "colour": "red"})
    with pytest.raises(QueryError, match="missing: \\['region'\\]"):
        q.bind({k: v for k, v in queries.scope().items() if k != "region"})


def test_values_are_bound_never_formatted(demo_inv):
    hostile = "x' OR '1'='1"
    assert demo_inv.sg_changes(account=hostile).empty
    assert hostile not in demo_inv.log[-1]["sql"]


def test_scope_derives_partition_days():
    s = queries.scope("2026-11-03T09:00:00+09:00", "2026-11-04T23:30:00Z", "111111111111", "us-east-1")
    assert s == {
        "since": "2026-11-03T00:00:00Z", "until": "2026-11-04T23:30:00Z",
        "since_day": "2026/11/03", "until_day": "2026/11/05",  # files are delivered after their events
        "account": "111111111111", "region": "us-east-1",
    }
    assert queries.scope() == dict.fromkeys(queries.SCOPE_PARAMS)


def test_scope_refuses_an_empty_range():
    # --until is exclusive: a range that ends where it starts, or earlier, can hold nothing.
    for until in ("2026-11-03T09:00:00Z", "2026-11-03T08:59:59Z"):
        with pytest.raises(ConfigError, match=rf"^--since 2026-11-03T09:00:00Z is not before --until {until}: the time range is empty$"):
            queries.scope("2026-11-03T18:00:00+09:00", until)
    assert queries.scope("2026-11-03T09:00:00Z", "2026-11-03T09:00:01Z")["until"] == "2026-11-03T09:00:01Z"


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_query_parses_as_athena_and_runs_on_duckdb(name, demo_inv):
    q = QUERIES[name]
    sqlglot.parse_one(q.sql, read="athena")
    values = {p: None for p in q.params} | ({"principal": "alice"} if "principal" in q.params else {})
    result = demo_inv.engine.run(q.render("duckdb"), q.bind(values))
    assert len(result.columns) > 0


def test_json_extract_scalar_on_an_object_is_null_as_in_athena():
    engine = DuckDBEngine()
    sql = queries.Query("q", (), "", """SELECT json_extract_scalar('{"a": {"b": 1}, "c": "x", "n": 2}', '$.a') AS obj,
        json_extract_scalar('{"a": {"b": 1}, "c": "x", "n": 2}', '$.c') AS str,
        json_extract_scalar('{"a": {"b": 1}, "c": "x", "n": 2}', '$.n') AS num""").render("duckdb")
    row = engine.run(sql, {}).iloc[0]
    assert row["obj"] is None and row["str"] == "x" and row["num"] == "2"


def test_duckdb_sessions_are_utc():
    engine = DuckDBEngine()
    row = engine.run("SELECT CAST(CAST('2026-11-03T09:00:00Z' AS TIMESTAMPTZ) AS VARCHAR) AS t, current_setting('TimeZone') AS tz", {})
    assert (row["t"].iloc[0], row["tz"].iloc[0]) == ("2026-11-03 09:00:00+00", "UTC")


def test_engine_errors_are_query_errors():
    with pytest.raises(QueryError, match="DuckDB could not run the query"):
        DuckDBEngine().run("SELECT * FROM no_such_table", {})


def test_a_union_of_detection_queries_is_one_scan_with_the_same_rows(demo_inv):
    from audit_toolkit.analysis.detections import CATALOGUE

    names = [d.query for d in CATALOGUE]
    union = queries.union(names)
    assert union.params == queries.SCOPE_PARAMS and union.sql.count("FROM cloudtrail") == 1
    sqlglot.parse_one(union.sql, read="athena")
    scope = queries.scope()
    together = demo_inv.query(union, **scope)
    apart = set().union(*(set(demo_inv.query(n, **scope)["eventid"]) for n in names))
    # each candidate once; 13 of them the security-group calls ssh_exposure_opened reads, one the
    # flow story's RunInstances (ec2_unusual_instances reads every RunInstances)
    assert set(together["eventid"]) == apart and len(together) == len(apart) == 539


def test_a_union_refuses_queries_of_another_shape():
    with pytest.raises(QueryError, match="differ in columns or scope"):
        queries.union(["detect_root_used", "sg_changes"])
    with pytest.raises(QueryError, match="not a filter over the common columns"):
        queries.union(["evidence_span"])
    with pytest.raises(QueryError, match="at least one"):
        queries.union([])


def test_a_query_knows_whether_a_scan_for_some_events_holds_what_it_reads():
    from audit_toolkit.analysis import security_groups

    assert queries.get("sg_changes").runs_on_focused_scan(security_groups.EVENT_NAMES)
    assert not queries.get("sg_changes").runs_on_focused_scan(frozenset({"AuthorizeSecurityGroupIngress"}))
    assert queries.get("evidence_span").runs_on_focused_scan(frozenset())  # the spine alone: time and place
    assert not queries.get("principal_events").runs_on_focused_scan(security_groups.EVENT_NAMES)
    union = queries.union(["detect_cloudtrail_stopped", "detect_cloudtrail_deleted"])  # OR-ed filters
    assert union.runs_on_focused_scan(frozenset({"StopLogging", "DeleteTrail"}))
    assert not union.runs_on_focused_scan(frozenset({"StopLogging"}))


def test_a_filter_file_is_its_templates_query_with_its_condition(tmp_path):
    write(tmp_path, "base", "-- name: base\n-- params: a\nSELECT x FROM t WHERE (:a IS NULL OR x = :a)\nORDER BY x")
    write(tmp_path, "only_z", "-- name: only_z\n-- filters: base\n-- Rows of z.\ny = 'z'")
    q = queries.load_all(tmp_path)["only_z"]
    assert (q.params, q.doc, q.template, q.condition) == (("a",), "Rows of z.", "base", "y = 'z'")
    composed = "SELECT x FROM t WHERE (y = 'z') AND (:a IS NULL OR x = :a) ORDER BY x"
    assert sqlglot.parse_one(q.sql, read="athena") == sqlglot.parse_one(composed, read="athena")
    for bad, why in (("-- name: f\n-- filters: base\n-- params: a\ny = :a", "declares no parameters"),
                     ("-- name: f\n-- filters: nowhere\ny = 1", "must name a query of the registry"),
                     ("-- name: f\n-- filters: base\ny = :b", "may not hold parameters")):
        write(tmp_path, "f", bad)
        with pytest.raises(QueryError, match=why):
            queries.load_all(tmp_path)


def test_each_detection_file_holds_only_its_filter():
    """The detections' shared SELECT and scope are written once (candidate_events.sql)."""
    for name, q in QUERIES.items():
        if name.startswith("detect_"):
            condition = sqlglot.parse_one(q.condition, read="athena")
            assert q.template == "candidate_events" and not condition.find(sqlglot.exp.Select), name
            tree = sqlglot.parse_one(q.sql, read="athena")
            first = next(tree.args["where"].this.flatten())  # the filter, then the template's scope
            assert first.unnest() == condition.unnest(), name
            assert tree.sql("athena").count("FROM cloudtrail") == 1, name
