"""The Athena SQL itself, without AWS: rendering for PyAthena, parsing with sqlglot's Athena dialect,
partition pruning in the rendered text, the DDL against the embedded table's schema, and every
registry query run on DuckDB."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
import sqlglot
from pyathena.formatter import DefaultParameterFormatter
from sqlglot import exp
from sqlglot.optimizer.simplify import simplify

from _aws import ACCOUNT, REGION, invictus_files
from real_data import queries_with_rows
from audit_toolkit.analysis.state import config_days
from audit_toolkit import queries
from audit_toolkit.errors import ConfigError
from audit_toolkit.evidence.flowlogs import scope as flow_scope
from audit_toolkit.evidence.schema import CLOUDTRAIL_SCHEMA, PARTITION_COLUMNS
from audit_toolkit.investigation import Investigation
from audit_toolkit.evidence.state import CONFIG_SCHEMA
from audit_toolkit.queries import ddl, to_pyformat

SCOPE = queries.scope("2023-07-10T12:00:00Z", "2023-07-10T13:00:00Z", ACCOUNT, REGION)


def athena_text(name: str, values: dict) -> str:
    """What PyAthena sends to Athena for a registry query: its own formatter binds the values."""
    query, values = queries.get(name).expand(values)  # a list: one placeholder an element
    return DefaultParameterFormatter().format(query.render("athena"), query.bind(values))


def values_for(name: str, scope: dict) -> dict:
    """The scope, and a value for each other parameter, as far as the query declares them."""
    if name == "connections":  # a window's flows: its own bounds (tests/test_connections_athena.py)
        return {**flow_scope(1688990400, 1688994000, 3600, None, scope["account"], scope["region"]),
                "protocol": 6, "from_port": 22, "to_port": 22, "interfaces": " eni-1 ", "instances": " i-1 "}
    params = queries.get(name).params
    days = ["2023/7/9", "2023/7/10", "2023/7/11"]  # sg_state's Config day folders
    values = {"principal": "bert-jan", "min_severity": 7.0, "first_day": days[0], "days": days,
              **scope}
    return {k: v for k, v in values.items() if k in params}


def test_pyformat_binds_placeholders_and_escapes_every_other_percent():
    sql = "SELECT a % 2 AS m, 'at 12:30 %' AS s FROM t -- 100 % :ignored\nWHERE x = :p AND y LIKE '%:p%' AND z = :q"
    rendered = to_pyformat(sql)
    assert rendered == (
        "SELECT a %% 2 AS m, 'at 12:30 %%' AS s FROM t -- 100 %% :ignored\n"
        "WHERE x = %(p)s AND y LIKE '%%:p%%' AND z = %(q)s"
    )
    bound = DefaultParameterFormatter().format(rendered, {"p": "it's", "q": None})
    assert bound == "SELECT a % 2 AS m, 'at 12:30 %' AS s FROM t -- 100 % :ignored\nWHERE x = 'it''s' AND y LIKE '%:p%' AND z = null"


@pytest.mark.parametrize("name", sorted(queries.QUERIES))
def test_every_query_as_sent_to_athena_parses_and_means_the_canonical_sql(name):
    values = values_for(name, SCOPE)
    sent = sqlglot.parse_one(athena_text(name, values), read="athena")
    assert isinstance(sent, exp.Select)
    # The canonical text with each placeholder replaced by its value's literal must be the same tree.
    query, values = queries.get(name).expand(values)
    canonical = sqlglot.parse_one(query.sql, read="athena").transform(
        lambda node: exp.convert(values[node.name]) if isinstance(node, exp.Placeholder) else node
    )
    assert sent == canonical


def _conjuncts(sql: str) -> set[str]:
    where = simplify(sqlglot.parse_one(sql, read="athena")).args["where"].this
    return {c.sql("athena") for c in where.flatten()} if isinstance(where, exp.And) else {where.sql("athena")}


# sg_state reads AWS Config's table, whose days are not zero-padded: it takes a list of days.
# connections bounds the hours of a window: tests/test_connections_athena.py checks them.
@pytest.mark.parametrize("name", sorted(n for n, q in queries.QUERIES.items()
                                        if "since_day" in q.params and n != "connections"))
def test_scope_constrains_the_partition_columns_in_the_sql_athena_runs(name):
    terms = _conjuncts(athena_text(name, values_for(name, SCOPE)))
    # A file lands in the folder of the day it is delivered, so the last day is until's day + 1.
    assert {"day >= '2023/07/10'", "day <= '2023/07/11'", f"account = '{ACCOUNT}'", f"region = '{REGION}'"} <= terms
    unscoped = _conjuncts(athena_text(name, values_for(name, queries.scope("2023-07-10", "2023-07-12"))))
    assert {"day >= '2023/07/10'", "day <= '2023/07/13'"} <= unscoped
    assert not any(t.startswith(("account", "region")) for t in unscoped)


def _hive_type(t: pa.DataType) -> str:
    if pa.types.is_struct(t):
        return "STRUCT<" + ", ".join(f"{f.name}: {_hive_type(f.type)}" for f in t) + ">"
    if pa.types.is_list(t):
        return f"ARRAY<{_hive_type(t.value_type)}>"
    assert pa.types.is_string(t), t
    return "STRING"


def _columns(defs) -> list[tuple[str, str]]:
    return [(d.name, d.args["kind"].sql("hive").lower()) for d in defs]


DDL_ARGS = dict(logs="s3://trail-bucket/org", accounts=["111122223333", "444455556666"], regions=["us-east-1", "eu-west-1"])


def test_ddl_parses_with_athena_dialect_and_declares_the_embedded_table():
    database, cloudtrail, guardduty, _ = ddl.render(**DDL_ARGS, org_id="o-abcdefghij")
    parsed = [sqlglot.parse_one(s, read="athena") for s in (database, cloudtrail, guardduty)]
    assert [(type(p), p.args["kind"]) for p in parsed] == [(exp.Create, "DATABASE"), (exp.Create, "TABLE"), (exp.Create, "TABLE")]

    table = parsed[1]
    props = {p.name: p.text("value") for p in table.find_all(exp.Property) if p.name}
    partitions = table.find(exp.PartitionedByProperty).this.expressions
    data = [c for c in table.this.expressions if isinstance(c, exp.ColumnDef)]
    expected = [(f.name, _hive_type(f.type).lower()) for f in CLOUDTRAIL_SCHEMA]
    assert _columns(data) + _columns(partitions) == expected
    assert tuple(c.name for c in partitions) == PARTITION_COLUMNS
    assert props["projection.account.values"] == "111122223333,444455556666"
    assert props["projection.region.values"] == "us-east-1,eu-west-1"
    assert props["projection.day.format"] == "yyyy/MM/dd" and props["projection.day.type"] == "date"
    assert props["storage.location.template"] == "s3://trail-bucket/org/AWSLogs/o-abcdefghij/${account}/CloudTrail/${region}/${day}"

    gd_props = {p.name: p.text("value") for p in parsed[2].find_all(exp.Property) if p.name}
    assert gd_props["storage.location.template"] == "s3://trail-bucket/org/AWSLogs/${account}/GuardDuty/${export_region}/${day}"
    gd_columns = [c.name for c in parsed[2].this.expressions if isinstance(c, exp.ColumnDef)]
    assert gd_columns[:4] == ["schemaversion", "accountid", "region", "partition"]


def test_ddl_without_org_reads_account_folders_directly():
    _, cloudtrail, _, _ = ddl.render(**DDL_ARGS)
    assert "'s3://trail-bucket/org/AWSLogs/${account}/CloudTrail/${region}/${day}'" in cloudtrail


def test_config_ddl_declares_the_embedded_config_table_and_configs_unpadded_keys():
    *_, config = ddl.render(**DDL_ARGS, first_day="2020/01/05", config="s3://config-bucket/cfg")
    table = sqlglot.parse_one(config, read="athena")
    props = {p.name: p.text("value") for p in table.find_all(exp.Property) if p.name}
    data = [c for c in table.this.expressions if isinstance(c, exp.ColumnDef)]
    partitions = table.find(exp.PartitionedByProperty).this.expressions
    expected = [(f.name, _hive_type(f.type).lower()) for f in CONFIG_SCHEMA]
    assert _columns(data) + _columns(partitions) == expected
    assert [c.name for c in partitions] == ["account", "region", "day", "kind"]
    assert props["projection.day.format"] == "yyyy/M/d" and props["projection.day.range"] == "2020/1/5,NOW"
    assert props["projection.kind.values"] == "ConfigSnapshot,ConfigHistory"
    assert props["storage.location.template"] == "s3://config-bucket/cfg/AWSLogs/${account}/Config/${region}/${day}/${kind}"


@pytest.mark.parametrize(
    "override",
    [
        {"accounts": ["1111'; DROP TABLE x; --"]},
        {"regions": ["us-east-1' , 'x"]},
        {"logs": "s3://bucket/it's"},
        {"config": "s3://bucket/x' , 'y"},
        {"database": "audit-toolkit"},
        {"first_day": "2020-01-01"},
        {"accounts": []},
    ],
)
def test_ddl_rejects_values_that_could_change_the_statement(override):
    with pytest.raises(ConfigError):
        ddl.render(**{**DDL_ARGS, **override})


@pytest.fixture(scope="module")
def invictus():
    return Investigation.from_evidence(invictus_files()[0].parent)


@pytest.mark.parametrize("name", queries_with_rows())
def test_every_query_runs_on_duckdb_and_the_athena_text_means_the_same(invictus, name):
    """The text Athena would receive, literals and all, translated to DuckDB, gives the same rows."""
    values = values_for(name, queries.scope("2023-07-10T12:00:00Z", "2023-07-10T12:30:00Z", ACCOUNT, REGION))
    bound = invictus.query(name, **values)
    literal = invictus.engine.run(sqlglot.transpile(athena_text(name, values), read="athena", write=queries._DuckDB)[0], {})
    assert len(bound) > 0
    embedded = list(queries.get(name).embedded_columns)  # what Athena's table has no column for
    assert bound[embedded].notna().all().all()
    pd.testing.assert_frame_equal(bound.drop(columns=embedded), literal)


def test_sg_changes_on_duckdb_finds_the_ssh_window(invictus):
    changes = invictus.query("sg_changes", **queries.scope("2023-07-10T12:00:00Z", "2023-07-10T12:30:00Z", ACCOUNT, REGION))
    ssh = changes[changes["eventname"].isin(["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"])]
    assert list(ssh["eventtime"]) == ["2023-07-10T12:10:05Z", "2023-07-10T12:10:08Z", "2023-07-10T12:11:57Z"]


def test_the_state_from_since_lists_configs_unpadded_day_folders_in_the_sql_athena_runs():
    """A string range over 'YYYY/M/D' is no range of days ('2023/10/1' < '2023/9/30'): the days are
    listed, literal values that partition projection prunes by, across a month's end too."""
    days = config_days("2023-09-29T08:00:00Z", "2023-10-01T12:00:00Z")
    assert days == ["2023/9/28", "2023/9/29", "2023/9/30", "2023/10/1", "2023/10/2"]
    values = {**values_for("sg_state", SCOPE), "first_day": days[0], "days": days}
    sent = sqlglot.parse_one(athena_text("sg_state", values), read="athena")
    (listed,) = [n for n in sent.find_all(exp.In) if n.this.name == "day"]
    assert [v.this for v in listed.expressions] == days
    assert config_days("2020-01-01T00:00:00Z", "2023-01-01T00:00:00Z") is None  # every day
    unbounded = {**values, "first_day": None, "days": []}
    guarded = "(null IS NULL OR c.day IS NULL OR c.day IN (null))"  # first_day NULL: every day
    assert guarded in athena_text("sg_state", unbounded)
