"""The Athena DDL of `audit-toolkit athena setup`: the database; cloudtrail, guardduty, config tables,
and the vpcflowlogs table when the flow logs' location is given.

DDL takes no bound parameters, so each value is checked against a strict pattern before it goes
into the text: nothing from the command line can close a quote or add a statement.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Iterable

from ...errors import ConfigError
from .. import SQL_DIR

HERE = SQL_DIR / "ddl"
FILES = ("create_database.sql", "create_cloudtrail.sql", "create_guardduty.sql",
         "create_config.sql")
_DATABASE = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_ORG = re.compile(r"^o-[a-z0-9]{10,32}$")
_FLOW_FIELD = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_S3 = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9!_.*()/-]*)?$")


def _check(pattern: re.Pattern, value: str, what: str) -> str:
    if not pattern.match(value):
        raise ConfigError(f"{what} {value!r} is not valid")
    return value


def _logs_root(uri: str, org_id: str | None) -> str:
    """s3://bucket/prefix -> s3://bucket/prefix/AWSLogs/[o-org/], the folder above the account ids."""
    base = _check(_S3, uri.rstrip("/"), "S3 location")
    return f"{base}/AWSLogs/" + (f"{_check(_ORG, org_id, 'organization id')}/" if org_id else "")


def render(
    logs: str,
    accounts: Iterable[str],
    regions: Iterable[str],
    database: str = "audit_toolkit",
    first_day: str = "2020/01/01",
    org_id: str | None = None,
    findings: str | None = None,
    config: str | None = None,
    flow_logs: str | None = None,
    flow_format: Iterable[str] | None = None,
    flow_hourly: bool = False,
    flow_parquet: bool = False,
) -> list[str]:
    """The statements, in order, for the trail at `logs` (s3://bucket/prefix, the trail's key prefix).

    `org_id` is given for an organization trail (logs under AWSLogs/o-.../<account>/). GuardDuty
    exports are read from `findings` (s3://bucket/prefix of the export), and AWS Config's delivery
    from `config` (s3://bucket/prefix of the delivery channel), by default the same place.
    `flow_logs` (s3://bucket/prefix above AWSLogs/) adds the vpcflowlogs table: its text files have
    the fields of `flow_format` (default: the default format), in that order; `flow_hourly` for
    hourly partitions, `flow_parquet` for the Parquet delivery.
    """
    accounts, regions = list(accounts), list(regions)
    if not accounts or not regions:
        raise ConfigError("give at least one --account and one --region: partition projection enumerates them")
    try:
        datetime.strptime(first_day, "%Y/%m/%d")
    except ValueError as e:
        raise ConfigError(f"the first day must be YYYY/MM/DD, got {first_day!r}") from e
    values = {
        "database": _check(_DATABASE, database, "database name"),
        "logs": _logs_root(logs, org_id),
        "findings": _logs_root(findings or logs, None),
        "config": _logs_root(config or logs, None),
        "first_day_config": datetime.strptime(first_day, "%Y/%m/%d").strftime("%Y/%-m/%-d"),
        "accounts": ",".join(_check(_ACCOUNT, a, "account id") for a in accounts),
        "regions": ",".join(_check(_REGION, r, "region") for r in regions),
        "first_day": first_day,
    }
    names = list(FILES)
    if flow_logs is not None:
        values.update(_flow_values(flow_logs, flow_format, flow_hourly, flow_parquet))
        values["flow_first"] = first_day + ("/00" if flow_hourly else "")
        names.append("create_vpcflowlogs.sql")
    statements = []
    for name in names:
        text = (HERE / name).read_text(encoding="utf-8")
        body = "\n".join(line for line in text.splitlines() if not line.startswith("--")).strip().rstrip(";")
        for key, value in values.items():
            body = body.replace("{{" + key + "}}", value)
        statements.append(body)
    return statements


_HIVE_TYPES = {"VARCHAR": "STRING", "INTEGER": "INT", "BIGINT": "BIGINT"}
_TEXT = ("ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe'\n"
         "WITH SERDEPROPERTIES ('field.delim' = ' ', 'serialization.null.format' = '-')\n"
         "STORED AS TEXTFILE")
_PARQUET = "STORED AS PARQUET"


def _flow_values(uri: str, fields: Iterable[str] | None, hourly: bool, parquet: bool,
                 ) -> dict[str, str]:
    """The flow table's columns: the format's fields in its order, then the table's others."""
    from ...evidence.flowlogs import DEFAULT_FORMAT, FIELDS

    fields = list(fields or DEFAULT_FORMAT)
    for name in fields:
        _check(_FLOW_FIELD, name, "flow log field")
    if len(set(fields)) != len(fields):
        raise ConfigError("the flow log format names a field twice")
    # A field this toolkit does not read still takes its place in the line; `region` is the
    # partition, so the record's own is `record_region`.
    own = [FIELDS[f] if f in FIELDS else ("record_" + f.replace("-", "_"), "VARCHAR")
           for f in fields] if not parquet else []
    rest = [(c, t) for c, t in FIELDS.values() if c not in {name for name, _ in own}]
    columns = ",\n".join(f"    `{c}` {_HIVE_TYPES[t]}" for c, t in own + rest)
    return {
        "flow_logs": _logs_root(uri, None),
        "columns": columns,
        "storage": _PARQUET if parquet else _TEXT,
        "header": "" if parquet else "    'skip.header.line.count' = '1',\n",
        "day_format": "yyyy/MM/dd/HH" if hourly else "yyyy/MM/dd",
        "day_unit": "HOURS" if hourly else "DAYS",
    }
