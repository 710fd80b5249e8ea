"""Every DuckDB connection spills into a private folder, never into the working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from audit_toolkit.engines.connection import connect
from audit_toolkit.engines.duckdb import DuckDBEngine
from audit_toolkit.evidence import store as store_module
from util import event, records_file

# A hash aggregate of 2M distinct md5 strings does not fit in 64 MB: DuckDB spills it to disk.
SPILLING = ("SELECT count(*) AS groups, max(n) AS most FROM "
            "(SELECT md5(range::VARCHAR) AS s, count(*) AS n FROM range(2000000) GROUP BY s)")


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_a_query_that_spills_writes_nothing_in_the_working_directory(cwd: Path):
    engine = DuckDBEngine(threads=1)
    engine.con.execute("SET memory_limit = '64MB'")
    spill = Path(engine.con.execute("SELECT current_setting('temp_directory')").fetchone()[0])
    assert engine.run(SPILLING, {}).to_dict("records") == [{"groups": 2_000_000, "most": 1}]
    assert os.listdir(cwd) == []  # DuckDB's default is `.tmp` here, while the connection lives
    assert spill.is_dir() and not spill.is_relative_to(cwd)
    del engine
    assert not spill.exists()  # removed with its connection


def test_the_duplicate_check_spills_into_its_own_folder(cwd: Path, tmp_path: Path, monkeypatch):
    settings = []

    def recorded(*args, **kwargs):
        con = connect(*args, **kwargs)
        settings.append(con.execute("SELECT current_setting('temp_directory'), "
                                    "current_setting('memory_limit')").fetchone())
        return con

    monkeypatch.setattr(store_module, "connect", recorded)
    twice = [event(1), event(2), event(1)]  # one event delivered twice: the check runs in DuckDB
    report = store_module.ingest([records_file(tmp_path, "a.json.gz", twice)], tmp_path / "store")
    assert report.duplicates == 1
    assert len(settings) == 1
    spill, limit = settings[0]
    assert Path(spill).name.startswith("audit-toolkit-duckdb-") and not Path(spill).exists()
    assert limit == "488.2 MiB"  # DUPLICATES_MEMORY
    assert os.listdir(cwd) == []
