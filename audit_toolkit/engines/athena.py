"""Athena at scale, over PyAthena: the registry's SQL as written, parameters bound by PyAthena.

Returns the same DataFrames as the DuckDB engine (same columns, same dtypes), reports what each
query scanned and its estimated cost, stops the query in Athena on Ctrl-C (PyAthena's
kill_on_interrupt) or when it runs past the timeout.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

import boto3
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from .. import aws
from ..errors import ConfigError, QueryError

log = logging.getLogger(__name__)

MB = 2**20
TB = 2**40
MIN_BILLED = 10 * MB  # Athena bills at least 10 MB a query, rounded up to the megabyte


@dataclass(frozen=True)
class AthenaSettings:
    """Where and how to run on Athena. Credentials come from the AWS credential chain, never here."""

    database: str = "audit_toolkit"
    workgroup: str = "primary"
    output_location: str | None = None  # s3://bucket/prefix/ for results; None: the workgroup's setting
    region: str | None = None  # None: AWS_REGION, AWS_DEFAULT_REGION, or the profile's region
    profile: str | None = None  # None: AWS_PROFILE or the default credential chain
    price_per_tb: float = 5.0  # USD per TB scanned (the us-east-1 price when written)
    timeout: float = 1800.0  # seconds before a query is stopped in Athena
    poll_interval: float = 1.0
    # Whether the database has the vpcflowlogs table (`athena setup --flow-logs`); None: ask the
    # Glue catalog (AthenaEngine.has_table). AUDIT_TOOLKIT_ATHENA_FLOW_LOGS=1/0 says it outright.
    flow_logs: bool | None = None

    @classmethod
    def load(cls, **overrides: Any) -> "AthenaSettings":
        """Explicit values (None means unset), then AUDIT_TOOLKIT_ATHENA_* and AWS_* variables."""
        env = os.environ
        values: dict[str, Any] = {}
        for key, var, kind in (
            ("database", "AUDIT_TOOLKIT_ATHENA_DATABASE", str),
            ("workgroup", "AUDIT_TOOLKIT_ATHENA_WORKGROUP", str),
            ("output_location", "AUDIT_TOOLKIT_ATHENA_OUTPUT", str),
            ("price_per_tb", "AUDIT_TOOLKIT_ATHENA_PRICE_PER_TB", float),
            ("timeout", "AUDIT_TOOLKIT_ATHENA_TIMEOUT", float),
            ("region", "AWS_REGION", str),
            ("profile", "AWS_PROFILE", str),
        ):
            if env.get(var):
                try:
                    values[key] = kind(env[var])
                except ValueError as e:
                    raise ConfigError(f"{var} must be a number, got {env[var]!r}") from e
        if env.get("AUDIT_TOOLKIT_ATHENA_FLOW_LOGS"):
            values["flow_logs"] = env["AUDIT_TOOLKIT_ATHENA_FLOW_LOGS"].strip().lower() in ("1", "true", "yes")
        values.update({k: v for k, v in overrides.items() if v is not None})
        found = replace(cls(), **values)
        if found.output_location is not None and not found.output_location.startswith("s3://"):
            raise ConfigError(f"the Athena output location must be an s3:// URI, got {found.output_location!r}")
        if found.timeout <= 0 or found.price_per_tb < 0:
            raise ConfigError("the Athena timeout must be positive and the price per TB not negative")
        return found


@dataclass(frozen=True)
class ScanReport:
    """What one Athena query scanned and what it is estimated to cost."""

    query_id: str | None
    state: str  # SUCCEEDED | FAILED | CANCELLED | TIMED_OUT
    bytes_scanned: int
    cost_usd: float
    seconds: float

    def summary(self) -> str:
        return (
            f"athena query {self.query_id}: {self.state}, scanned {self.bytes_scanned / MB:,.1f} MB, "
            f"estimated ${self.cost_usd:.4f}, {self.seconds:.1f} s"
        )


def estimated_cost(bytes_scanned: int, price_per_tb: float) -> float:
    """Athena's bill for a query that scanned this much; nothing when nothing was scanned (DDL)."""
    if bytes_scanned <= 0:
        return 0.0
    billed = max(math.ceil(bytes_scanned / MB) * MB, MIN_BILLED)
    return billed / TB * price_per_tb


class _TimedOut(Exception):
    pass


class AthenaEngine:
    name = "athena"
    dialect = "athena"

    def __init__(
        self,
        settings: AthenaSettings | None = None,
        session: boto3.Session | None = None,
        on_report: Callable[[ScanReport], None] | None = None,
    ) -> None:
        self.settings = settings or AthenaSettings.load()
        self.session = session or aws.session(self.settings.profile, self.settings.region)
        self.on_report = on_report
        self.reports: list[ScanReport] = []  # one per query run, in order
        self._connection = None

    def _connect(self):
        if self._connection is None:
            from pyathena import connect

            s = self.settings
            try:
                self._connection = connect(
                    session=self.session,
                    region_name=self.session.region_name,
                    schema_name=s.database,
                    work_group=s.workgroup,
                    s3_staging_dir=s.output_location,
                    poll_interval=s.poll_interval,
                    kill_on_interrupt=True,
                    config=aws.retry_config(),
                )
            except (BotoCoreError, ClientError) as e:
                raise ConfigError(aws.explain(e, "connecting to Athena")) from e
        return self._connection

    def run(self, sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
        from pyathena.error import Error as AthenaError

        started = time.monotonic()
        deadline = started + self.settings.timeout

        def check_deadline(_execution) -> None:
            if time.monotonic() > deadline:
                raise _TimedOut

        cursor = self._connect().cursor(on_poll=check_deadline)
        try:
            # Always a dict, even empty: PyAthena then applies `%`, so the rendered `%%` become `%`.
            cursor.execute(sql, dict(params))
            frame = _frame(cursor.description or [], cursor.fetchall())
            self._report(cursor, "SUCCEEDED", started)
            return frame
        except KeyboardInterrupt:
            # PyAthena has already sent StopQueryExecution (kill_on_interrupt); say so, then stop.
            self._report(cursor, "CANCELLED", started)
            raise
        except _TimedOut:
            cursor.cancel()
            self._report(cursor, "TIMED_OUT", started)
            raise QueryError(
                f"Athena query {cursor.query_id} ran longer than {self.settings.timeout:.0f} s and was stopped in Athena. "
                "Narrow --since/--until/--account/--region, or raise AUDIT_TOOLKIT_ATHENA_TIMEOUT."
            ) from None
        except AthenaError as e:
            self._report(cursor, "FAILED", started)
            raise QueryError(_explain_failure(e, cursor.query_id, self.settings)) from e
        except (BotoCoreError, ClientError) as e:
            raise QueryError(aws.explain(e, "running the Athena query")) from e
        finally:
            cursor.close()

    def _report(self, cursor, state: str, started: float) -> None:
        scanned = getattr(cursor, "data_scanned_in_bytes", None) or 0
        report = ScanReport(
            cursor.query_id,
            state,
            scanned,
            estimated_cost(scanned, self.settings.price_per_tb) if state != "FAILED" else 0.0,
            time.monotonic() - started,
        )
        self.reports.append(report)
        log.info(report.summary())
        if self.on_report:
            self.on_report(report)

    def has_table(self, name: str) -> bool:
        """Whether the database holds the table `name`, asked of the Glue Data Catalog that Athena
        reads (GetTable): no query runs, nothing is scanned or billed, no failure is logged."""
        glue = self.session.client("glue", config=aws.retry_config())
        try:
            glue.get_table(DatabaseName=self.settings.database, Name=name)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                return False  # no such table, or no such database
            raise QueryError(aws.explain(e, f"asking the Glue catalog for the table {name}")) from e
        except BotoCoreError as e:
            raise QueryError(aws.explain(e, f"asking the Glue catalog for the table {name}")) from e
        return True

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


# Athena (Trino) names a missing table in full:
# Table 'awsdatacatalog.<database>.config' does not exist
_STATE_TABLE_MISSING = re.compile(r"Table '(?:[^'.]+\.)*config' does not exist", re.IGNORECASE)


def _explain_failure(error: Exception, query_id: str | None, settings: AthenaSettings) -> str:
    cause = error.__cause__ if isinstance(error.__cause__, (BotoCoreError, ClientError)) else None
    if cause is not None:  # Athena refused the request itself (StartQueryExecution, GetQueryExecution)
        message = aws.explain(cause, "running the Athena query")
    else:  # the query ran and failed: PyAthena gives Athena's StateChangeReason
        message = f"Athena query {query_id or '(not started)'} failed: {error or type(error).__name__}."
    upper = message.upper()
    if _STATE_TABLE_MISSING.search(message):
        return (f"{message} The database {settings.database!r} was set up before it held AWS "
                "Config's security-group state: re-run `audit-toolkit athena setup` (with "
                "--config s3://bucket/prefix if Config delivers elsewhere than the trail); it adds "
                "the config table and leaves the others as they are.")
    if "TABLE_NOT_FOUND" in upper or "SCHEMA_NOT_FOUND" in upper or ("DOES NOT EXIST" in upper and "WORKGROUP" not in upper):
        return f"{message} Create the database and tables with `audit-toolkit athena setup` (database {settings.database!r})."
    if "WORKGROUP" in upper:
        return f"{message} Check the workgroup {settings.workgroup!r} (AUDIT_TOOLKIT_ATHENA_WORKGROUP)."
    if "OUTPUT LOCATION" in upper or "OUTPUTLOCATION" in upper:
        return f"{message} Set AUDIT_TOOLKIT_ATHENA_OUTPUT to an s3:// folder for query results."
    return message


def _frame(description, rows: list[tuple]) -> pd.DataFrame:
    """Rows as DuckDB's engine returns them: the same dtypes for the same SQL types."""
    columns = {}
    for i, column in enumerate(description):
        name, athena_type = column[0], (column[1] or "").lower()
        columns[name] = _series([row[i] for row in rows], athena_type)
    return pd.DataFrame(columns, columns=[c[0] for c in description])


def _series(values: list, athena_type: str) -> pd.Series:
    if athena_type.startswith("timestamp"):
        stamps = pd.to_datetime(pd.Series(values, dtype=object), utc="with time zone" in athena_type)
        return stamps.astype("datetime64[us, UTC]" if "with time zone" in athena_type else "datetime64[us]")
    if athena_type in ("bigint", "integer", "smallint", "tinyint"):
        return pd.Series(values, dtype="float64" if None in values else "int64")
    if athena_type in ("double", "real", "float") or athena_type.startswith("decimal"):
        return pd.Series(values, dtype="float64")
    return pd.Series(values, dtype=object if not values else None)
