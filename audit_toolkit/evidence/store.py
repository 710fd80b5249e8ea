"""The columnar evidence store: CloudTrail converted once to Parquet, then queried many times.

    STORE/catalog.json                  what the store holds: its parts, every source file it has read
                                        (path, size, SHA-256) with that file's intake report, and how
                                        many duplicate events it left out
    STORE/cloudtrail/part-*.parquet     the `cloudtrail` table, zstd-compressed, each part sorted by
                                        event source, name and time (CLUSTER_BY)
    STORE/guardduty/findings.parquet    the `guardduty` table (GuardDuty findings, each id and update
                                        once), rewritten whole by each run that adds files: findings
                                        are few beside events
    STORE/config/state.parquet          the `config` table (security-group state: AWS Config items,
                                        EC2 describe output; evidence.state), one row per source
                                        file, rewritten whole by each run that adds files

Conversion runs in worker processes, one part per task of files. It goes in rounds: a round's parts
are written under temporary names and renamed (atomic), events already in the store or earlier in
the round (same eventID) are taken out, and the catalog is replaced last (atomic). A run killed
half-way leaves only parts the catalog does not name; the next run deletes them and converts the
files the catalog does not hold, so nothing is lost and nothing is held twice.
The store deletes only files it names itself (its parts and temporary files), only inside a folder
that it created or found empty and marked at once with its catalog; a folder that holds or lies in
the evidence is refused before anything is written (paths.refuse_overlap).
A store whose folders are symbolic links, or whose catalog names a part that is not there or not
one of its parts, is refused in one line (Store.check). The workers' memory is bounded together
(memory_plan). The raw first scan uses the same path into a temporary store (see engines/duckdb.py).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..engines.connection import connect
from ..errors import EvidenceError, OutputError
from ..paths import refuse_overlap
from .reader import MAX_FILE_BYTES, FileReport, IntakeReport, file_report, read_cloudtrail_file, report_dict
from .schema import CLOUDTRAIL_SCHEMA, PROVENANCE_COLUMNS, STORED_SCHEMA

CATALOG = "catalog.json"
FINDINGS = "guardduty/findings.parquet"
STATE = "config/state.parquet"
TABLE = "cloudtrail"
FORMAT_VERSION = 1
TASK_BYTES = 12 << 20  # gzipped input per task, and so per part: ~70k events
ROUND_BYTES = 512 << 20  # gzipped input between two commits of the catalog
ROW_GROUP = 128 * 1024  # rows per row group of a scan's scratch parts, written as the files are read
# A kept store's part is sorted by these columns and cut into small row groups, so that a question
# about a few event names (security groups, every detection) reads only the row groups that hold
# them: DuckDB skips a row group by the min and max of its columns and, for an IN list, whose
# min..max spans other names, by the column's Bloom filter.
CLUSTER_BY = [("eventsource", "ascending"), ("eventname", "ascending"), ("eventtime", "ascending")]
CLUSTER_ROW_GROUP = 16 * 1024
CLUSTER_BLOOM = {"eventsource": {"ndv": 1000, "fpp": 0.01}, "eventname": {"ndv": 1000, "fpp": 0.01}}
WORKERS_FROM_BYTES = 64 << 20
# Peak memory of all the processes of an ingest, whatever the evidence. A process costs about
# PROCESS_BYTES before any evidence (184-191 MB measured), and reading a file, or inflating one up
# to its limit and giving it up, about TEXT_FACTOR times its text more (benchmarks/bench_memory.py:
# 2.5 for 242 MB of records read, 3.8 for a worker giving up a file at its limit).
MEMORY_BUDGET = 1 << 30
PROCESS_BYTES = 192 << 20
TEXT_FACTOR = 4.0
MIN_PARALLEL_FILE = 32 << 20  # a smaller per-worker limit is not worth the second pass
DUPLICATES_MEMORY = "512MB"  # DuckDB's limit in the duplicate check; past it, it spills
# (folder, glob) of the files an interrupted run can leave: the only files the sweep deletes
FOLDERS = (TABLE, "guardduty", "config")  # the folders the store writes and sweeps, beside its root
_PART = re.compile(r"part-[A-Za-z0-9_-]+\.parquet")
LEFTOVERS = ((".", f".{CATALOG}.*.tmp"), (TABLE, "part-*.parquet"), (TABLE, "part-*.parquet.tmp"),
             ("guardduty", ".findings.parquet.*.tmp"), ("config", ".state.parquet.*.tmp"))


@dataclass
class Store:
    root: Path
    parts: list[str] = field(default_factory=list)  # file names under root/cloudtrail, in order
    sources: dict[str, dict] = field(default_factory=dict)  # absolute path -> size, sha256, part, report
    duplicates: int = 0  # events left out because the store held them (same eventID and content)
    findings: dict[str, dict] = field(default_factory=dict)  # findings files: absolute path -> size, sha256, report
    conflicts: list[str] = field(default_factory=list)  # eventIDs held by different records
    # state files (Config items, describe output): absolute path -> size, sha256, report
    state: dict[str, dict] = field(default_factory=dict)
    finding_conflicts: list[str] = field(default_factory=list)  # finding ids and updates held by different findings

    @classmethod
    def open(cls, root: str | Path, create: bool = False) -> "Store":
        """The store at `root`; with `create`, a new one if `root` is absent or an empty folder.

        A new store is marked (its catalog written) before anything else, so a run killed at once
        still leaves a folder the next run knows as a store. Any other folder is refused: the store
        deletes what an interrupted run left, and must never mistake someone else's files for that.
        """
        root = Path(root)
        catalog = root / CATALOG
        if not catalog.exists():
            if not create:
                raise EvidenceError(f"{root} is not an evidence store (no {CATALOG}): create one "
                                    "with `audit-toolkit ingest`")
            if root.exists() and (not root.is_dir() or any(root.iterdir())):
                raise EvidenceError(f"{root} is not empty and is not a store made by audit-toolkit "
                                    f"(no {CATALOG}): give a new or empty folder as the store")
            store = cls(root)
            store.commit()
            return store
        try:
            data = json.loads(catalog.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise EvidenceError(f"the catalog of the store {root} cannot be read: {e}") from e
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            version = data.get("version") if isinstance(data, dict) else None
            raise EvidenceError(f"the store {root} has format {version!r}; this toolkit reads "
                                f"{FORMAT_VERSION}")
        try:
            store = cls(root, list(data["parts"]), dict(data["sources"]), int(data["duplicates"]),
                        dict(data.get("findings", {})), list(data.get("conflicts", [])),
                        dict(data.get("state", {})), list(data.get("finding_conflicts", [])))
            for entry in [*store.sources.values(), *store.findings.values()]:
                _file_report(entry)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise EvidenceError(f"the catalog of the store {root} is damaged ({type(e).__name__}: "
                                f"{e}); ingest the evidence into a new store") from e
        store.check()
        return store

    def check(self) -> None:
        """EvidenceError, in one line, unless every folder the store writes is a real folder and every
        part its catalog names is a Parquet file of the table (its footer read, not its rows).

        A folder that is a symbolic link would make the store write and sweep where it points; a
        part missing or damaged would make every query fail inside DuckDB.
        """
        for folder in FOLDERS:
            if (self.root / folder).is_symlink():
                raise EvidenceError(f"the store {self.root} has a {folder}/ that is a symbolic link: "
                                    "the store writes and deletes only in folders of its own; "
                                    "remove the link or ingest into a new store")
        parts = [(name, STORED_SCHEMA) for name in self.parts]
        if self.findings:  # every run that names findings files writes the table
            parts.append((FINDINGS, None))
        for name, schema in parts:
            path = self.root / (name if schema is None else f"{TABLE}/{name}")
            if not isinstance(name, str) or schema is not None and not _PART.fullmatch(name):
                problem = "is not a name the store gives its parts"
            elif not path.is_file() or path.is_symlink():
                problem = "is missing" if not path.is_symlink() else "is a symbolic link"
            else:
                problem = _parquet_problem(path, schema)
            if problem:
                raise EvidenceError(f"the store {self.root} is damaged: {str(name)[:80]!r} {problem}; "
                                    "ingest the evidence into a new store (audit-toolkit ingest "
                                    "--evidence EVIDENCE --store NEW_FOLDER)")

    @property
    def folder(self) -> Path:
        return self.root / TABLE

    def part_paths(self) -> list[Path]:
        return [self.folder / name for name in self.parts]

    @property
    def events(self) -> int:
        return sum(s["report"]["used"] for s in self.sources.values()) - self.duplicates

    def intake(self) -> IntakeReport:
        """The intake report of every source file the store holds, as it was when it was converted."""
        return IntakeReport(files=[_file_report(s) for s in self.sources.values()],
                            duplicates=self.duplicates, conflicts=list(self.conflicts))

    def findings_intake(self) -> IntakeReport:
        """The intake report of every GuardDuty findings file the store holds."""
        return IntakeReport(files=[_file_report(s) for s in self.findings.values()],
                            conflicts=list(self.finding_conflicts), ids="finding id")

    def state_intake(self):
        """The intake report of every security-group state file the store holds."""
        from .state import StateReport

        report = StateReport()
        for entry in self.state.values():
            report.files.append(_file_report(entry))
            report.other_types.update(entry.get("other_types", {}))
        return report

    def holds(self, path: Path, limit: int | None = None) -> bool:
        known = self.sources.get(str(path.resolve()))
        return known is not None and known["size"] == path.stat().st_size and not _under(known, limit)

    def commit(self) -> None:
        """Replace the catalog atomically: until this returns, the store is what it was."""
        data = {"version": FORMAT_VERSION, "parts": self.parts, "sources": self.sources, "duplicates": self.duplicates,
                "findings": self.findings, "conflicts": self.conflicts, "state": self.state,
                "finding_conflicts": self.finding_conflicts}
        tmp = self.root / f".{CATALOG}.{uuid.uuid4().hex}.tmp"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with open(tmp, "x", encoding="utf-8") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.root / CATALOG)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise OutputError(f"cannot write the store's catalog in {self.root}: "
                              f"{e.strerror or e}") from e

    def sweep(self) -> None:
        """Delete what an interrupted run left: parts the catalog does not name, temporary files.

        Only names the store gives its own files are touched (LEFTOVERS); anything else is left be.
        """
        held = set(self.parts)
        for folder, pattern in LEFTOVERS:
            for leftover in (self.root / folder).glob(pattern):
                if leftover.name not in held and leftover.is_file() and not leftover.is_symlink():
                    leftover.unlink()

def _parquet_problem(path: Path, schema: pa.Schema | None) -> str | None:
    """Why the Parquet file at `path` cannot be read as a part of `schema`; None if it can."""
    try:
        found = pq.read_schema(path)
    except (OSError, pa.ArrowException) as e:
        return f"is not a Parquet file ({str(e)[:120]})"
    # Parts written before the provenance columns are read without them (engines.duckdb).
    if schema is not None and found.names not in (schema.names, CLOUDTRAIL_SCHEMA.names):
        return "does not hold the columns of the cloudtrail table"
    return None


def _file_report(entry: dict) -> FileReport:
    """A catalog entry's report; catalogs written before reports held size and SHA-256 have them beside."""
    return file_report({"size": entry["size"], "sha256": entry["sha256"], **entry["report"]})


@dataclass(frozen=True)
class _Task:
    paths: list[str]
    part: str  # final path of the part this task writes
    compression: str
    only: frozenset[str] | None = None  # reader.read_cloudtrail_file's `only`
    cluster: bool = False  # sort the part by CLUSTER_BY (a kept store) or write it as read (a scan)
    max_bytes: int = MAX_FILE_BYTES  # reader.read_cloudtrail_file's `max_bytes`


def _convert(task: _Task) -> tuple[str | None, int, list[dict]]:
    """Read a few files and write their events as one Parquet part (temporary name, then renamed)."""
    sources = []
    tables: Iterable[pa.Table] = _read_task(task, sources)
    if task.cluster:  # the whole part at once (a task is ~70k events, a sorted copy of them fits)
        tables = [pa.concat_tables(list(tables)).sort_by(CLUSTER_BY)]
    rows = 0
    tmp = f"{task.part}.tmp"
    writer: pq.ParquetWriter | None = None
    try:
        for table in tables:
            if not table.num_rows:
                continue
            if writer is None:
                writer = pq.ParquetWriter(tmp, STORED_SCHEMA, compression=task.compression,
                                          bloom_filter_options=CLUSTER_BLOOM if task.cluster else None)
            writer.write_table(table, row_group_size=CLUSTER_ROW_GROUP if task.cluster else ROW_GROUP)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        return None, 0, sources
    os.replace(tmp, task.part)
    return Path(task.part).name, rows, sources


def _read_task(task: _Task, sources: list[dict]) -> Iterator[pa.Table]:
    """The task's events in tables of about ROW_GROUP rows, as its files are read; each file's report
    is appended to `sources`."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for path in task.paths:
        table, report = read_cloudtrail_file(path, only=task.only, max_bytes=task.max_bytes)
        sources.append({"size": report.size, "sha256": report.sha256, "report": report_dict(report)})
        pending.extend(table.to_batches())
        pending_rows += table.num_rows
        if pending_rows >= ROW_GROUP:
            yield pa.Table.from_batches(pending, STORED_SCHEMA)
            pending, pending_rows = [], 0
    yield pa.Table.from_batches(pending, STORED_SCHEMA)


def _tasks(paths: list[Path], folder: Path, compression: str, task_bytes: int, workers: int,
           only: frozenset[str] | None, cluster: bool, max_bytes: int,
           alone: bool = False) -> list[_Task]:
    """The tasks of the parallel pass, each reading with the limit `max_bytes`. With `alone` (a
    file over that limit is read again alone, with the full one), a gzip file whose trailer says
    its text is over the limit gets a task of its own with a limit of 0: it is only hashed, and
    goes to that second reading at once, never inflated up to the limit by a worker for nothing
    (two workers doing so took an ingest to 1.28 GB). A trailer that lies costs only that."""
    # Small evidence is still cut into a few tasks per worker, so that every core has work.
    task_bytes = max(1, min(task_bytes, sum(p.stat().st_size for p in paths) // (4 * workers)))
    run = time.strftime("%Y%m%dT%H%M%S") + f"-{uuid.uuid4().hex[:6]}"  # part names sort in ingest order
    tasks: list[_Task] = []
    chunk: list[str] = []
    size = 0
    for path in paths:
        if alone and _inflates_past(path, max_bytes):
            part = str(folder / f"part-{run}-{len(tasks):06d}.parquet")
            tasks.append(_Task([str(path)], part, compression, only, cluster, 0))
            continue
        chunk.append(str(path))
        size += path.stat().st_size
        if size >= task_bytes or path == paths[-1]:
            part = str(folder / f"part-{run}-{len(tasks):06d}.parquet")
            tasks.append(_Task(chunk, part, compression, only, cluster, max_bytes))
            chunk, size = [], 0
    if chunk:  # the last file had a task of its own
        part = str(folder / f"part-{run}-{len(tasks):06d}.parquet")
        tasks.append(_Task(chunk, part, compression, only, cluster, max_bytes))
    return tasks


def _inflates_past(path: Path, limit: int) -> bool:
    """Whether a gzip file's trailer (ISIZE: its last member's text, modulo 4 GiB) is over `limit`."""
    try:
        with open(path, "rb") as f:  # read only, as all evidence
            if f.read(2) != b"\x1f\x8b" or os.fstat(f.fileno()).st_size < 22:
                return False
            f.seek(-4, os.SEEK_END)
            return int.from_bytes(f.read(4), "little") > limit
    except OSError:
        return False  # the reader opens it again and reports why


def _keep_freed_memory() -> None:
    """Ask glibc to keep 32 MB free at the top of the heap rather than hand each freed file's buffers back
    to the kernel: taking them back one page fault at a time was a fifth of a scan's CPU (system time)."""
    try:
        ctypes.CDLL(None).mallopt(-2, 32 << 20)  # M_TOP_PAD; inherited by the forked workers
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def _worker_memory() -> None:
    """Workers take Arrow memory from glibc malloc: pyarrow's default pool (mimalloc) kept what each part
    had freed, and with sorted parts that took ingest past 1 GB."""
    pa.set_memory_pool(pa.system_memory_pool())


def memory_plan(workers: int, max_file_bytes: int, budget: int = MEMORY_BUDGET) -> tuple[int, int]:
    """(workers, the per-file limit of the parallel pass) that keep every process of an ingest,
    the parent and each worker at the peak of its largest file, within `budget` together.

    Each worker alone may hold a file at the limit; several at once could not. So workers read
    with a smaller limit, and a file over it is read again after them, alone, with the full limit
    (ingest): at most `workers` x (PROCESS_BYTES + TEXT_FACTOR x the smaller limit) + the parent,
    or the parent alone with one file at the full limit. Fewer workers where the smaller limit
    would fall under MIN_PARALLEL_FILE; one where even that does not fit.
    """
    for n in range(workers, 1, -1):
        per_file = int(((budget - PROCESS_BYTES) // n - PROCESS_BYTES) / TEXT_FACTOR)
        if per_file >= min(max_file_bytes, MIN_PARALLEL_FILE):
            return n, min(max_file_bytes, per_file)
    return 1, max_file_bytes


def _run(tasks: list[_Task], workers: int) -> Iterator[tuple[str | None, int, list[dict]]]:
    if workers <= 1 or not tasks:
        yield from map(_convert, tasks)
        return
    # even one task: the parent would keep what it took while a file is read again alone
    with ProcessPoolExecutor(min(workers, len(tasks)), initializer=_worker_memory) as pool:
        yield from pool.map(_convert, tasks)


def _one_by_one(tasks: list[_Task]) -> Iterator[tuple[str | None, int, list[dict]]]:
    """Each task in a process of its own, one at a time: what a file at the full limit took is
    handed back to the system when its process ends (the parent's allocator kept it: four such
    files read in the parent took 4.2 GB)."""
    if not tasks:
        return
    with ProcessPoolExecutor(1, initializer=_worker_memory, max_tasks_per_child=1) as pool:
        yield from pool.map(_convert, tasks)


def _rounds(tasks: list[_Task], round_bytes: int) -> Iterator[list[_Task]]:
    batch: list[_Task] = []
    size = 0
    for task in tasks:
        batch.append(task)
        size += sum(os.stat(p).st_size for p in task.paths)
        if size >= round_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


_JSON_TEXT = ("requestparameters", "responseelements", "additionaleventdata", "serviceeventdetails")


def _canonical(row: dict) -> dict[str, str]:
    """A record's content, column by column, whatever the order of the keys in its JSON members (the
    row's own columns are in the schema's order): two deliveries of one event are equal in this."""
    content = {}
    for name, value in row.items():
        if name in PROVENANCE_COLUMNS:  # where a copy was read is not its content
            continue
        if name in _JSON_TEXT and value is not None:
            try:
                value = json.loads(value)
            except (ValueError, RecursionError):
                pass  # compared as the text it is
        content[name] = json.dumps(value, sort_keys=True, default=str)
    return content


def _drop_duplicates(store: Store, new_parts: list[str]) -> tuple[int, list[str]]:
    """Take out of the new parts every event that the store, or an earlier new event, holds already:
    the same eventID and the same content (key order aside), e.g. delivered by two trails.

    Two records with one eventID and different content are both evidence: both are kept, and the
    eventID is returned among the conflicts. Events without an eventID cannot be matched and are all
    kept. Returns how many events were taken out, and the conflicts.
    """
    if not new_parts:
        return 0, []
    new = [str(store.folder / p) for p in new_parts]
    old = [str(p) for p in store.part_paths()]
    con = connect(memory_limit=DUPLICATES_MEMORY)
    con.execute("SET preserve_insertion_order = true")
    columns = ", ".join(CLOUDTRAIL_SCHEMA.names)
    scan = ("SELECT eventid, filename, file_row_number AS rownum, "
            "md5(CAST(struct_pack({c}) AS VARCHAR)) AS content, {old} AS old "
            "FROM read_parquet({parts}, filename = true, file_row_number = true) "
            "WHERE eventid IS NOT NULL")
    rows = scan.format(c=columns, old="false", parts="$new")
    params: dict = {"new": new}
    repeated = f"SELECT eventid FROM ({rows}) GROUP BY eventid HAVING count(*) > 1"
    if old:
        params["old"] = old
        repeated += " UNION SELECT eventid FROM read_parquet($old) WHERE eventid IN (SELECT eventid FROM read_parquet($new))"
        rows += " UNION ALL " + scan.format(c=columns, old="true", parts="$old")
    con.execute(f"CREATE TEMP TABLE repeated AS {repeated}", params)
    if not con.execute("SELECT count(*) FROM repeated").fetchone()[0]:
        return 0, []
    con.execute(f"CREATE TEMP TABLE copies AS SELECT * FROM ({rows}) "
                "WHERE eventid IN (SELECT eventid FROM repeated)", params)
    # The store's events first, then the new ones in order: the first of each content is kept.
    drop = con.execute("""SELECT filename, rownum FROM (
            SELECT *, row_number() OVER (
                PARTITION BY eventid, content ORDER BY old DESC, filename, rownum) AS k
            FROM copies) WHERE k > 1 AND NOT old""").fetchall()
    differing = con.execute("""
            SELECT eventid, list((filename, rownum, old) ORDER BY old DESC, filename, rownum)
            FROM (SELECT DISTINCT ON (eventid, content) * FROM copies
                  ORDER BY eventid, content, old DESC, filename, rownum)
            GROUP BY eventid HAVING count(*) > 1 ORDER BY eventid""").fetchall()
    conflicts = []
    for eventid, copies in differing:  # different bytes; the same content if only key order differs
        drop_here, contents = _same_content(con, [tuple(c) for c in copies])
        drop += drop_here
        if len(contents) > 1:
            differ = sorted({k for c in contents[1:] for k in c if c[k] != contents[0][k]})
            first = contents[0]
            conflicts.append(f"eventID {eventid} is held by {len(contents)} records that differ in "
                             f"{', '.join(differ)} ({first['eventname']} at {first['eventtime']})")
    by_part: dict[str, list[int]] = {}
    for filename, row in drop:
        by_part.setdefault(filename, []).append(row)
    for filename, rows in by_part.items():
        tmp = f"{filename}.tmp"
        con.execute(
            "COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet($part, file_row_number = true) "
            "WHERE NOT list_contains($rows, file_row_number) ORDER BY file_row_number) "
            f"TO '{tmp.replace(chr(39), chr(39) * 2)}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {CLUSTER_ROW_GROUP})",
            {"part": filename, "rows": rows},
        )
        os.replace(tmp, filename)
    con.close()
    return len(drop), conflicts


def _same_content(con, copies: list[tuple[str, int, bool]]
                  ) -> tuple[list[tuple[str, int]], list[dict]]:
    """Of a few records with one eventID and different bytes: the new ones equal to an earlier one
    when the keys of their JSON members are sorted (to drop), and the different contents."""
    contents: list[dict] = []
    drop = []
    for filename, rownum, is_old in copies:
        row = con.execute("SELECT * EXCLUDE (file_row_number) "
                          "FROM read_parquet($f, file_row_number = true) "
                          "WHERE file_row_number = $n",
                          {"f": filename, "n": rownum}).fetch_df()
        record = row.astype(object).where(row.notna(), None).to_dict("records")[0]
        content = _canonical(record)
        if content in contents and not is_old:
            drop.append((filename, rownum))
        elif content not in contents:
            contents.append(content)
    return drop, [{k: json.loads(v) for k, v in c.items()} for c in contents]


def ingest(
    files: Iterable[Path],
    root: str | Path,
    workers: int | None = None,
    compression: str = "zstd",
    progress: bool = False,
    task_bytes: int = TASK_BYTES,
    round_bytes: int = ROUND_BYTES,
    on_round: Callable[[Store], None] | None = None,
    only: frozenset[str] | None = None,
    cluster: bool = True,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> IntakeReport:
    """Convert the files the store does not hold yet; returns the intake report of those files.

    A file the store holds (same path, same size) is skipped. `on_round` is called after each commit.
    `only` and `cluster=False` are for the scratch store of a scan (engines.duckdb), read once or
    twice: a store kept for many questions holds every event whole, its parts sorted (CLUSTER_BY).
    A file whose text is over `max_file_bytes` is rejected with its reason (see Settings).
    """
    files = list(files)
    for path in files:  # before anything is written: the sweep must never see evidence
        refuse_overlap(root, path, "the store")
    _keep_freed_memory()
    store = Store.open(root, create=True)
    store.folder.mkdir(parents=True, exist_ok=True)
    store.sweep()
    todo = [p for p in files if not store.holds(p, max_file_bytes)]
    if workers is None:  # starting worker processes pays only for enough evidence
        workers = os.cpu_count() or 1 if sum(p.stat().st_size for p in todo) >= WORKERS_FROM_BYTES else 1
    workers, per_file = memory_plan(workers, max_file_bytes)
    report = IntakeReport()
    bar = _bar(len(todo), progress)
    try:
        tasks = _tasks(todo, store.folder, compression, task_bytes, workers, only, cluster,
                       per_file, alone=per_file < max_file_bytes)
        for round_tasks in _rounds(tasks, round_bytes):
            new_parts: list[str] = []
            sources: dict[str, dict] = {}
            again: list[str] = []  # over the parallel pass's limit: read alone, with the full one
            results = list(zip(round_tasks, _run(round_tasks, workers)))
            if per_file < max_file_bytes:
                again = [p for task, (_, _, found) in results for p, s in zip(task.paths, found)
                         if s["report"]["too_large"]]
            alone = [replace(round_tasks[-1], paths=[path], max_bytes=max_file_bytes,
                             part=round_tasks[-1].part.replace(".parquet", f"-alone{n}.parquet"))
                     for n, path in enumerate(again)]  # one part each: a part is sorted whole
            results += zip(alone, _one_by_one(alone))
            for task, (part, rows, task_sources) in results:
                if part:
                    new_parts.append(part)
                for path, source in zip(task.paths, task_sources):
                    if task.max_bytes < max_file_bytes and path in again:
                        continue  # its report is the second reading's
                    sources[str(Path(path).resolve())] = {**source, "part": part,
                                                          **_limit(source["report"], max_file_bytes)}
                    report.files.append(file_report(source["report"]))
                bar.update(len([p for p in task.paths if task.max_bytes == max_file_bytes
                                or p not in again]))
                bar.set_postfix(events=f"{report.used:,}", refresh=False)
            dropped, conflicts = _drop_duplicates(store, new_parts)
            report.duplicates += dropped
            store.duplicates += dropped
            report.conflicts += conflicts
            store.conflicts += conflicts
            store.parts.extend(new_parts)
            store.sources.update(sources)
            store.commit()
            if on_round:
                on_round(store)
    finally:
        bar.close()
    return report


def _bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="file", desc="ingest", disable=not enabled, file=sys.stderr, dynamic_ncols=True)


def ingest_findings(files: Iterable[Path], root: str | Path,
                    max_file_bytes: int = MAX_FILE_BYTES) -> IntakeReport:
    """Add the GuardDuty findings files the store does not hold yet to STORE/guardduty/findings.parquet.

    The table is written under a temporary name and renamed before the catalog names the files, so
    a run killed in between reads those files again next time, and the same finding (id, updatedAt)
    is held once.
    """
    from .guardduty import GUARDDUTY_SCHEMA, read_guardduty_file, unique_findings

    files = list(files)
    for path in files:
        refuse_overlap(root, path, "the store")
    store = Store.open(root, create=True)
    todo = [p for p in files if (store.findings.get(str(Path(p).resolve())) or {}).get("size") != Path(p).stat().st_size]
    report = IntakeReport(ids="finding id")
    if not todo:
        return report
    target = store.root / FINDINGS
    tables = [pq.read_table(target)] if target.exists() else []
    for path in todo:
        table, found_report = read_guardduty_file(path, max_bytes=max_file_bytes)
        tables.append(table)
        report.files.append(found_report)
        store.findings[str(Path(path).resolve())] = {"size": found_report.size, "sha256": found_report.sha256,
                                                     "report": report_dict(found_report)}
    table, report.duplicates, report.conflicts = unique_findings(
        pa.concat_tables(tables) if tables else GUARDDUTY_SCHEMA.empty_table())
    store.finding_conflicts = report.conflicts  # found again over every finding the store holds
    _replace(target, table)
    store.commit()
    return report


def _replace(target: Path, table: pa.Table) -> None:
    """Write a table the store rewrites whole: under a temporary name, then renamed (atomic)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, target)


def ingest_state(files: Iterable[Path], root: str | Path, state_at=None,
                 evidence: Path | None = None, max_file_bytes: int = MAX_FILE_BYTES):
    """Add the security-group state files (AWS Config items, EC2 describe output) the store does not
    hold yet to STORE/config/state.parquet; returns their intake report (state.StateReport).

    `state_at` and the manifest under `evidence` give describe output its capture time, as for a raw
    scan. A describe file refused for want of one is named in the catalog but not held: the next run
    given its time reads it. Written like ingest_findings: temporary name, rename, then the catalog.
    """
    from .state import CONFIG_SCHEMA, NO_TIME, StateReport, read_state

    files = list(files)
    for path in files:
        refuse_overlap(root, path, "the store")
    store = Store.open(root, create=True)
    todo = [p for p in files if not _holds_state(store, Path(p), max_file_bytes)]
    report = StateReport()
    if not todo:
        return report
    target = store.root / STATE
    held = pq.read_table(target) if target.exists() else None
    tables = []
    for path in todo:
        source = str(Path(path).resolve())
        table, file_report = read_state([Path(path)], state_at, evidence, max_file_bytes)
        tables.append(table.append_column("source", pa.array([source] * table.num_rows,
                                                             pa.string())))
        report.files += file_report.files
        report.other_types += file_report.other_types
        (entry,) = file_report.files
        store.state[source] = {"size": entry.size, "sha256": entry.sha256, "report": report_dict(entry),
                               **_limit(asdict(entry), max_file_bytes),
                               "other_types": dict(file_report.other_types),
                               "held": entry.error != NO_TIME}
    if held is not None:  # a file read again (its size changed) replaces its rows
        replaced = pa.array([str(Path(p).resolve()) for p in todo], pa.string())
        tables.insert(0, held.filter(pc.invert(pc.is_in(held["source"], value_set=replaced))))
    schema = CONFIG_SCHEMA.append(pa.field("source", pa.string()))
    table = pa.concat_tables([t.cast(schema) for t in tables])
    _replace(target, table)
    store.commit()
    return report


def _holds_state(store: Store, path: Path, limit: int | None = None) -> bool:
    known = store.state.get(str(path.resolve()))
    return bool(known and known["held"] and known["size"] == path.stat().st_size
                and not _under(known, limit))


def _limit(report: dict, limit: int) -> dict:
    """The limit a file was refused for its size under, kept in its catalog entry."""
    return {"refused_over": limit} if report.get("too_large") else {}


def _under(known: dict, limit: int | None) -> bool:
    """Whether a file refused for its size was refused under a smaller limit than `limit`: it is
    read again (a store made with AUDIT_TOOLKIT_MAX_FILE_BYTES lowered kept it unread)."""
    return limit is not None and "refused_over" in known and limit > known["refused_over"]


def ingest_evidence(evidence: str | Path, root: str | Path, progress: bool = False,
                    max_file_bytes: int = MAX_FILE_BYTES, state_at=None):
    """Every CloudTrail, GuardDuty and security-group state file under `evidence` the store does not
    hold yet, converted; a store that holds or lies inside the evidence is refused first. Returns
    the three intake reports (the CloudTrail one lists the paths skipped under the evidence).
    `state_at`: when EC2 describe output that no manifest dates was taken."""
    from .layout import discover_files, discover_findings, discover_state, skipped

    refuse_overlap(root, evidence, "the store")
    report = ingest(discover_files(evidence), root, progress=progress, max_file_bytes=max_file_bytes)
    report.skipped = skipped(evidence)
    found = ingest_findings(discover_findings(evidence), root, max_file_bytes=max_file_bytes)
    folder = Path(evidence) if Path(evidence).is_dir() else None
    return report, found, ingest_state(discover_state(evidence), root, state_at, folder,
                                       max_file_bytes)
