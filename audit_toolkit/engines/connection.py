"""Every DuckDB connection the toolkit opens: UTC, no progress bar, and a spill folder of its own.

DuckDB spills to `.tmp` in the current working directory when a query outgrows its memory (an
in-memory database), or beside the database file: a folder the user never named. Each connection
spills instead into a private temporary folder, removed when the connection is closed or dropped.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref

import duckdb


def connect(database: str = ":memory:", memory_limit: str | None = None,
            threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up as every query of the toolkit expects."""
    con = duckdb.connect(database)
    spill = tempfile.mkdtemp(prefix="audit-toolkit-duckdb-")
    weakref.finalize(con, shutil.rmtree, spill, ignore_errors=True)
    con.execute("SET temp_directory = $dir", {"dir": spill})
    # DuckDB's time functions follow the session time zone; CloudTrail and Athena are UTC.
    con.execute("SET TimeZone = 'UTC'")
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException:
        # Inside Jupyter without ipywidgets DuckDB refuses to touch this setting at all; the bar is
        # already off there (it cannot draw one), so there is nothing to turn off.
        pass
    if memory_limit:
        con.execute("SET memory_limit = $limit", {"limit": memory_limit})
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con
