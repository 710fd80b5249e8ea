"""The embedded engine: DuckDB in-process, with a `cloudtrail` table shaped like Athena's."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import duckdb
import pandas as pd
import pyarrow as pa

from ..errors import QueryError
from ..evidence.reader import FileReport, IntakeReport, read_cloudtrail_file
from ..evidence.schema import CLOUDTRAIL_SCHEMA

_ROWS_PER_INSERT = 200_000
_FILES_PER_TASK = 16
_BYTES_FOR_WORKERS = 64 << 20


def _read_many(paths: list[str]) -> list[tuple[pa.RecordBatch, FileReport]]:
    return [read_cloudtrail_file(p) for p in paths]


def _read_all(paths: list[Path], workers: int) -> Iterator[tuple[pa.RecordBatch, FileReport]]:
    """Read files in worker processes when there is enough evidence to pay for starting them."""
    if workers <= 1 or sum(p.stat().st_size for p in paths) < _BYTES_FOR_WORKERS:
        for p in paths:
            yield read_cloudtrail_file(p)
        return
    chunks = [[str(p) for p in paths[i : i + _FILES_PER_TASK]] for i in range(0, len(paths), _FILES_PER_TASK)]
    with ProcessPoolExecutor(workers) as pool:
        for results in pool.map(_read_many, chunks):
            yield from results


class DuckDBEngine:
    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, database: str | Path = ":memory:", threads: int | None = None) -> None:
        self.database = str(database)
        self.con = duckdb.connect(self.database)
        # DuckDB's time functions follow the session time zone; CloudTrail and Athena are UTC.
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self.version = duckdb.__version__

    def load_cloudtrail(self, paths: Iterable[Path], workers: int | None = None) -> IntakeReport:
        """Read CloudTrail files into the `cloudtrail` table; what could not be used is in the report."""
        report = IntakeReport()
        self.con.execute("DROP TABLE IF EXISTS cloudtrail")
        empty = pa.Table.from_batches([], schema=CLOUDTRAIL_SCHEMA)
        self.con.register("_batch", empty)
        self.con.execute("CREATE TABLE cloudtrail AS SELECT * FROM _batch")
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch, file_report in _read_all(list(paths), workers or os.cpu_count() or 1):
            report.files.append(file_report)
            if batch.num_rows:
                pending.append(batch)
                rows += batch.num_rows
            if rows >= _ROWS_PER_INSERT:
                self._insert(pending)
                pending, rows = [], 0
        self._insert(pending)
        self.con.unregister("_batch")
        report.duplicates = self.con.execute(
            "SELECT count(eventid) - count(DISTINCT eventid) FROM cloudtrail"
        ).fetchone()[0]
        return report

    def _insert(self, batches: list[pa.RecordBatch]) -> None:
        if batches:
            # One contiguous table: DuckDB scans thousands of tiny batches slowly.
            table = pa.Table.from_batches(batches, schema=CLOUDTRAIL_SCHEMA).combine_chunks()
            self.con.register("_batch", table)
            self.con.execute("INSERT INTO cloudtrail SELECT * FROM _batch")

    def run(self, sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
        try:
            return self.con.execute(sql, dict(params)).df()
        except duckdb.Error as e:
            raise QueryError(f"DuckDB could not run the query: {e}") from e

    def close(self) -> None:
        self.con.close()
