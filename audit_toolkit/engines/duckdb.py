"""The embedded engine: DuckDB in-process, with a `cloudtrail` table shaped like Athena's."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import duckdb
import pandas as pd
import pyarrow as pa

from ..errors import EvidenceError, QueryError
from ..evidence.reader import MAX_FILE_BYTES, FileReport, IntakeReport, file_report, report_dict
from ..evidence.schema import STORED_SCHEMA
from ..evidence.store import TABLE, Store, ingest
from ..phrases import reason, reason_key
from .connection import connect

# The raw first scan writes a temporary store: snappy writes faster than zstd, and it is read once or twice.
SCAN_COMPRESSION = "snappy"
SCAN_TASK_BYTES = 4 << 20  # small tasks keep both cores busy to the end; the parts are read once


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBEngine:
    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, database: str | Path = ":memory:", threads: int | None = None) -> None:
        self.database = str(database)
        self.con = connect(self.database, threads=threads)
        self.version = duckdb.__version__
        self._flow_files: list[Path] = []  # the checked flow log files the view reads where they lie
        self._flow_view = ""
        self._flow_scratch: Path | None = None  # copies of flow logs mended of carriage returns
        self._flow_mended = False  # whether the view reads such a copy (then it is never narrowed)

    def load_cloudtrail(self, paths: Iterable[Path], workers: int | None = None, progress: bool = False,
                        only: frozenset[str] | None = None,
                        max_file_bytes: int = MAX_FILE_BYTES) -> IntakeReport:
        """Scan raw CloudTrail files into the `cloudtrail` view; what could not be used is in the report.

        Workers convert the files to Parquet parts in a temporary store (deleted on close), so memory
        stays bounded whatever the size of the evidence; each eventID is held once. With `only`, a set
        of event names, only those events are converted whole (reader.read_cloudtrail_file).
        """
        scratch = tempfile.mkdtemp(prefix="audit-toolkit-scan-")
        weakref.finalize(self, shutil.rmtree, scratch, ignore_errors=True)
        # A focused scan's parts are mostly NULLs and unique ids, which snappy barely shrinks.
        compression = SCAN_COMPRESSION if only is None else "none"
        report = ingest(paths, scratch, workers=workers, compression=compression, progress=progress, only=only,
                        task_bytes=SCAN_TASK_BYTES, cluster=False, max_file_bytes=max_file_bytes)
        self._view(Store.open(scratch))
        return report

    def attach_store(self, root: str | Path) -> IntakeReport:
        """Query a store made by `ingest` as the `cloudtrail` view; returns what the store holds."""
        store = Store.open(root)
        self._view(store)
        return store.intake()

    def _view(self, store: Store) -> None:
        parts = store.part_paths()
        if parts:
            files = ", ".join(_literal(str(p.resolve())) for p in parts)
            source = f"read_parquet([{files}], union_by_name = true)"  # older parts: no provenance
        else:
            self.con.register("_empty", pa.Table.from_batches([], schema=STORED_SCHEMA))
            self.con.execute("CREATE OR REPLACE TABLE _cloudtrail_empty AS SELECT * FROM _empty")
            self.con.unregister("_empty")
            source = "_cloudtrail_empty"
        self.con.execute(f"CREATE OR REPLACE VIEW {TABLE} AS SELECT * FROM {source}")

    def load_flow_logs(self, paths: Iterable[Path],
                       max_file_bytes: int = MAX_FILE_BYTES) -> IntakeReport:
        """VPC Flow Logs files as the `vpcflowlogs` view, read where they lie (evidence.flowlogs).

        One checking scan counts each file's records and keeps each rejected line with its reason;
        the view then skips those lines, so every query sees the records the report counted. A
        file whose text is over `max_file_bytes` is left out with its reason.
        """
        from ..evidence import flowlogs

        paths = list(paths)
        unreadable: dict[str, str] = {}  # a file DuckDB cannot inflate stops the whole scan
        copies: dict[str, Path] = {}  # resolved path -> the copy read in its place (flowlogs.mended)
        left: list[tuple[str, int, str]] = []  # the lines the copies leave blank, and why
        while True:
            readable = [p for p in paths if str(p) not in unreadable]
            checked = flowlogs.source(readable, rejects="_flow_rejects", max_bytes=max_file_bytes,
                                      copies=copies)
            try:
                counted, rejected = self._check_flow_logs(checked, copies)
                # a CR inside a line need not stop the scan: DuckDB may read it as two rejected
                # lines, which shifts every count; a file with a rejected line is mended if so
                if self._mend({path for path, _, _ in rejected} - set(copies), copies, left):
                    continue
                rejected = sorted(rejected + left)
                kept = [p for p in readable if not checked.files[str(p.resolve())].error]
                strict = frozenset(str(Path(path).resolve()) for path, _, _ in rejected)
                view = flowlogs.source(kept, strict=strict, copies=copies).sql
                self.con.execute(f"CREATE OR REPLACE VIEW {flowlogs.TABLE} AS {view}")
                self._flow_files, self._flow_view = kept, view
                self._flow_mended = bool(copies)
                break
            except duckdb.Error as e:
                # which file it was, and why; then the rest
                found = flowlogs.unreadable(readable) or self._unparsable(readable, copies)
                if not found:
                    raise QueryError(f"DuckDB could not read the flow logs: {e}") from e
                for path, why in found.items():
                    resolved = str(Path(path).resolve())
                    # a carriage return inside a line costs that line alone, not its file
                    if resolved in copies or reason_key(why) == "not_to_end" or \
                            not self._mend([resolved], copies, left):
                        unreadable[path] = why
        report = flowlogs.intake(checked.files, counted, rejected)
        report.files += [FileReport(path, shape="flowlog", error=why)
                         for path, why in unreadable.items()]
        return report

    def _mend(self, paths, copies: dict[str, Path], left: list) -> bool:
        """Read each of `paths` (resolved) from a copy of its own if a line of it holds a CR
        (flowlogs.mended), noting the lines left blank; whether any was."""
        from ..evidence import flowlogs

        mended = False
        for resolved in sorted(paths):
            mend = flowlogs.mended(Path(resolved), self._scratch())
            if mend is not None:
                copies[resolved] = mend[0]
                left += [(resolved, line, reason) for line, reason in mend[1]]
                mended = True
        return mended

    def _unparsable(self, paths: list[Path], copies: dict[str, Path]) -> dict[str, str]:
        """The files DuckDB's CSV reader stops on even alone, with its reason: a line it cannot
        reject on its own (a carriage return inside it, in a file of LF lines) stops the scan."""
        from ..evidence import flowlogs

        found = {}
        for path in paths:
            try:
                self._check_flow_logs(flowlogs.source([path], rejects="_flow_rejects", copies=copies),
                                      copies)
            except duckdb.Error as e:
                found[str(path)] = reason("unparsable", error=str(e).splitlines()[0])
        return found

    def _scratch(self) -> Path:
        """A folder of the engine's own, deleted with it (never beside the evidence)."""
        if self._flow_scratch is None:
            self._flow_scratch = Path(tempfile.mkdtemp(prefix="audit-toolkit-flow-"))
            weakref.finalize(self, shutil.rmtree, self._flow_scratch, ignore_errors=True)
        return self._flow_scratch

    def _check_flow_logs(self, checked, copies: dict[str, Path]) -> tuple[list, list]:
        """Each file's records counted, and each rejected line with its first reason (a copy's
        under its file's name)."""
        from ..evidence import flowlogs

        columns = ", ".join(f'"{c}"' for c in flowlogs.COLUMNS)
        for i in range(checked.groups):  # a retry after an unreadable file starts afresh
            self.con.execute(f"DROP TABLE IF EXISTS _flow_rejects_{i}")
            self.con.execute(f"DROP TABLE IF EXISTS _flow_rejects_scan_{i}")
        # hash() of every column makes DuckDB cast every field, so a bad one rejects its line.
        counted = self.con.execute(
            f"SELECT filename, count(hash({columns})), "
            f"count(*) FILTER (WHERE log_status = 'OK') FROM ({checked.sql}) GROUP BY filename",
        ).fetchall()
        rejected = []
        for i in range(checked.groups):
            rejected += self.con.execute(
                # a line over DuckDB's size limit has no column: its reason is kept all the same
                f"SELECT s.file_path, e.line, arg_min(coalesce(e.error_message, e.error_type), "
                f"coalesce(e.column_idx, 0)) "
                f"FROM _flow_rejects_{i} e "
                f"JOIN _flow_rejects_scan_{i} s USING (scan_id, file_id) "
                f"GROUP BY s.file_path, e.line ORDER BY s.file_path, e.line").fetchall()
        named = {str(copy.resolve()): path for path, copy in copies.items()}
        return counted, [(named.get(path, path), line, why) for path, line, why in rejected]

    def ingest_flow_logs(self, paths: Iterable[Path], root: str | Path,
                         max_file_bytes: int = MAX_FILE_BYTES) -> IntakeReport:
        """Convert the flow log files a store does not hold yet into one Parquet part of it
        (STORE/vpcflowlogs/), after the same line-by-line check; returns what was read of them."""
        import json
        import uuid

        from ..evidence import flowlogs

        folder = Path(root) / flowlogs.STORE
        if folder.is_symlink():  # as the store's own folders (Store.check): writes would follow it
            raise EvidenceError(f"the store {root} has a {flowlogs.STORE}/ that is a symbolic link: "
                                "the store writes only in folders of its own; remove the link or "
                                "ingest into a new store")
        held = flowlogs.held(folder)
        todo = [p for p in paths if str(p.resolve()) not in held]
        report = self.load_flow_logs(todo, max_file_bytes)
        if todo:
            folder.mkdir(parents=True, exist_ok=True)
            part = folder / f"part-{uuid.uuid4().hex}.parquet"
            columns = ", ".join(f'"{c}"' for c in flowlogs.COLUMNS)
            self.con.execute(f"COPY (SELECT {columns} FROM {flowlogs.TABLE}) "
                             f"TO {_literal(str(part))} (FORMAT parquet, COMPRESSION zstd)")
            for path, f in zip(todo, report.files):
                held[str(path.resolve())] = report_dict(f)
            (folder / flowlogs.CATALOG).write_text(json.dumps(held, indent=1), encoding="utf-8")
        return report

    def attach_flow_logs(self, root: str | Path) -> IntakeReport:
        """The store's flow logs as the `vpcflowlogs` view (empty if none); what they were made of."""
        from ..evidence import flowlogs

        folder = Path(root) / flowlogs.STORE
        parts = sorted(folder.glob("part-*.parquet"))
        files = ", ".join(_literal(str(p.resolve())) for p in parts)
        source = f"SELECT * FROM read_parquet([{files}])" if parts else flowlogs.empty_sql()
        self.con.execute(f"CREATE OR REPLACE VIEW {flowlogs.TABLE} AS {source}")
        self._flow_files, self._flow_view = [], source  # Parquet parts: nothing to narrow
        self._flow_mended = False
        return IntakeReport(files=[file_report(f) for f in flowlogs.held(folder).values()])

    @contextmanager
    def narrowed_flow_logs(self, values: Mapping[str, Any]) -> Iterator[None]:
        """For the `connections` query with these `values`, the `vpcflowlogs` view over only the
        lines of the files it reads that name one of its interfaces or instances
        (flowlogs.narrowed): the same answer, without parsing every line. The whole view again
        after it; it stays whole for a store, for every interface (`interfaces` NULL), when it
        reads a copy mended of carriage returns (flowlogs.mended: the files hold them), and when
        the narrowing read cannot hold a line."""
        from ..evidence import flowlogs

        ids = {key: [] if values.get(key) is None else values[key].strip(" ").split(" ")
               for key in ("interfaces", "instances")}  # as the query's trim and split
        narrowed = (bool(self._flow_files) and values.get("interfaces") is not None
                    and not self._flow_mended)
        statements: list[tuple[str, dict]] = []
        if narrowed:
            files = [p for p in self._flow_files if flowlogs.in_scope(p, values)]
            statements, view = flowlogs.narrowed(files, **ids)
            try:
                for sql, params in statements:
                    self.con.execute(sql, params)
                self.con.execute(f"CREATE OR REPLACE VIEW {flowlogs.TABLE} AS {view}")
            except duckdb.Error:
                narrowed = False
        try:
            yield
        finally:
            if narrowed:
                self.con.execute(f"CREATE OR REPLACE VIEW {flowlogs.TABLE} AS {self._flow_view}")
            for i in range(len(statements)):
                self.con.execute(f"DROP TABLE IF EXISTS _flow_lines_{i}")

    def load_guardduty(self, paths: Iterable[Path],
                       max_file_bytes: int = MAX_FILE_BYTES) -> IntakeReport:
        """Read GuardDuty findings files into the `guardduty` table (shaped like Athena's); report the rest."""
        from ..evidence.guardduty import read_guardduty

        table, report = read_guardduty(paths, max_file_bytes)
        self.guardduty(table)
        return report

    def attach_findings(self, root: str | Path) -> IntakeReport:
        """The store's findings (STORE/guardduty/findings.parquet) as the `guardduty` table, if it has any."""
        from ..evidence.guardduty import GUARDDUTY_SCHEMA
        from ..evidence.store import FINDINGS

        path = Path(root) / FINDINGS
        self.guardduty(path if path.exists() else GUARDDUTY_SCHEMA.empty_table())
        return Store.open(root).findings_intake()

    def add_guardduty(self, table: pa.Table) -> tuple[int, list[str]]:
        """Add rows to the `guardduty` table (each finding and update once); returns the copies left out,
        and the ids and updates held by findings that differ (all kept)."""
        from ..evidence.guardduty import unique_findings

        held = self.con.sql("SELECT * FROM guardduty").to_arrow_table().cast(table.schema)
        merged, dropped, conflicts = unique_findings(pa.concat_tables([held, table]))
        self.guardduty(merged)
        return dropped, conflicts

    def guardduty(self, table: pa.Table | str | Path) -> None:
        """The `guardduty` table from rows of GUARDDUTY_SCHEMA, or a view of a Parquet file of them."""
        if isinstance(table, pa.Table):
            self.con.register("_findings", table)
            self.con.execute("CREATE OR REPLACE TABLE guardduty AS SELECT * FROM _findings")
            self.con.unregister("_findings")
        else:
            self.con.execute(f"CREATE OR REPLACE VIEW guardduty AS SELECT * FROM read_parquet({_literal(str(Path(table).resolve()))})")

    def load_state(self, paths: Iterable[Path], state_at: str | None = None,
                   root: Path | None = None, max_file_bytes: int = MAX_FILE_BYTES):
        """Read AWS Config items and EC2 describe output into the `config` table (evidence.state)."""
        from ..evidence.state import read_state

        table, report = read_state(paths, state_at, root, max_file_bytes)
        self.state(table)
        return report

    def attach_state(self, root: str | Path):
        """The store's security-group state (STORE/config/state.parquet) as the `config` table;
        returns what the store holds of it (evidence.state.StateReport)."""
        from ..evidence.state import CONFIG_SCHEMA, empty_table
        from ..evidence.store import STATE

        path = Path(root) / STATE
        if path.exists():
            names = ", ".join(CONFIG_SCHEMA.names)
            self.con.execute(f"CREATE OR REPLACE VIEW config AS SELECT {names} "
                             f"FROM read_parquet({_literal(str(path.resolve()))})")
        else:
            self.state(empty_table())
        return Store.open(root).state_intake()

    def state(self, table: pa.Table) -> None:
        """The `config` table, shaped like Athena's over Config's delivery (state.CONFIG_SCHEMA)."""
        self.con.register("_config", table)
        self.con.execute("CREATE OR REPLACE TABLE config AS SELECT * FROM _config")
        self.con.unregister("_config")

    def run(self, sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
        try:
            return self.con.execute(sql, dict(params)).df()
        except duckdb.Error as e:
            raise QueryError(f"DuckDB could not run the query: {e}") from e

    def close(self) -> None:
        self.con.close()
