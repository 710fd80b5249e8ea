"""The Athena DDL of `audit-toolkit athena setup`: the database; cloudtrail, guardduty, config tables.

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
) -> list[str]:
    """The statements, in order, for the trail at `logs` (s3://bucket/prefix, the trail's key prefix).

    `org_id` is given for an organization trail (logs under AWSLogs/o-.../<account>/). GuardDuty
    exports are read from `findings` (s3://bucket/prefix of the export), and AWS Config's delivery
    from `config` (s3://bucket/prefix of the delivery channel), by default the same place.
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
    statements = []
    for name in FILES:
        text = (HERE / name).read_text(encoding="utf-8")
        body = "\n".join(line for line in text.splitlines() if not line.startswith("--")).strip().rstrip(";")
        for key, value in values.items():
            body = body.replace("{{" + key + "}}", value)
        statements.append(body)
    return statements
