"""VPC Flow Logs delivered to S3: which files they are, and the `vpcflowlogs` table over them.

A text file is gzip with a first line naming its fields (`version account-id interface-id ...`), in
the order the flow log's format gives; `-` stands for a field with no value (NODATA and SKIPDATA
records, a field that does not apply). Parquet delivery names its columns as the table does. The
files are read by DuckDB's CSV and Parquet readers where they lie: nothing is converted, nothing is
opened for writing (a file with a carriage return inside a line, which DuckDB cannot read, is read
from a copy made apart: `mended`). Files with the same header are read by one `read_csv`; each bad
line is rejected with DuckDB's reason and its line number; a file whose header is not a flow log's
is reported whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from ..phrases import reason
from .kinds import first_line, flow_log_header
from .layout import PathPartition
from .reader import MAX_REASONS_PER_FILE, FileReport, IntakeReport

TABLE = "vpcflowlogs"
STORE, CATALOG = "vpcflowlogs", "intake.json"  # STORE/vpcflowlogs/part-*.parquet and what they hold
# Field of the flow log format -> (column, type), in the order of AWS's Athena DDL for flow logs.
FIELDS: dict[str, tuple[str, str]] = {
    "version": ("version", "INTEGER"),
    "account-id": ("account_id", "VARCHAR"),
    "interface-id": ("interface_id", "VARCHAR"),
    "srcaddr": ("srcaddr", "VARCHAR"),
    "dstaddr": ("dstaddr", "VARCHAR"),
    "srcport": ("srcport", "INTEGER"),
    "dstport": ("dstport", "INTEGER"),
    "protocol": ("protocol", "BIGINT"),
    "packets": ("packets", "BIGINT"),
    "bytes": ("bytes", "BIGINT"),
    "start": ("start", "BIGINT"),
    "end": ("end", "BIGINT"),
    "action": ("action", "VARCHAR"),
    "log-status": ("log_status", "VARCHAR"),
    "vpc-id": ("vpc_id", "VARCHAR"),
    "subnet-id": ("subnet_id", "VARCHAR"),
    "instance-id": ("instance_id", "VARCHAR"),
    "tcp-flags": ("tcp_flags", "INTEGER"),
    "type": ("type", "VARCHAR"),
    "pkt-srcaddr": ("pkt_srcaddr", "VARCHAR"),
    "pkt-dstaddr": ("pkt_dstaddr", "VARCHAR"),
    "az-id": ("az_id", "VARCHAR"),
    "sublocation-type": ("sublocation_type", "VARCHAR"),
    "sublocation-id": ("sublocation_id", "VARCHAR"),
    "pkt-src-aws-service": ("pkt_src_aws_service", "VARCHAR"),
    "pkt-dst-aws-service": ("pkt_dst_aws_service", "VARCHAR"),
    "flow-direction": ("flow_direction", "VARCHAR"),
    "traffic-path": ("traffic_path", "INTEGER"),
}
# The record's own region is the path's: the `region` partition column, as in AWS's projection DDL.
PARTITIONED_FIELDS = {"region"}
PARTITIONS = (("account", "VARCHAR"), ("region", "VARCHAR"), ("day", "VARCHAR"))
COLUMNS = [c for c, _ in FIELDS.values()] + [c for c, _ in PARTITIONS]
DEFAULT_FORMAT = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status"
).split()

# AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/[HH/]<file>, and the Hive-compatible variant
_LAYOUT = re.compile(
    r"AWSLogs/(?:o-[a-z0-9]+/)?(?P<account>\d{12})/vpcflowlogs/(?P<region>[a-z0-9-]+)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?:(?P<h>\d{2})/)?"
)
_HIVE = re.compile(
    r"aws-account-id=(?P<account>\d{12})/aws-service=vpcflowlogs/aws-region=(?P<region>[a-z0-9-]+)/"
    r"year=(?P<y>\d{4})/month=(?P<m>\d{2})/day=(?P<d>\d{2})/(?:hour=(?P<h>\d{2})/)?"
)
# <account>_vpcflowlogs_<region>_<flow log id>_YYYYMMDDTHHmmZ_<hash>.log.gz: a flow log's file name
_FILE_NAME = re.compile(
    r"(?P<account>\d{12})_vpcflowlogs_(?P<region>[a-z0-9-]+)_fl-[0-9a-f]+_"
    r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})T(?P<h>\d{2})\d{2}Z"
)


def partition_of(path: str | Path) -> PathPartition:
    """Account, region and day ('YYYY/MM/DD', 'YYYY/MM/DD/HH' if partitioned by hour) of a file."""
    text = Path(path).as_posix()
    match = _LAYOUT.search(text) or _HIVE.search(text)
    if match:
        hour = f"/{match['h']}" if match["h"] else ""
        return PathPartition(
            match["account"], match["region"], f"{match['y']}/{match['m']}/{match['d']}{hour}"
        )
    match = _FILE_NAME.search(Path(path).name)
    if match:
        return PathPartition(
            match["account"], match["region"], f"{match['y']}/{match['m']}/{match['d']}"
        )
    return PathPartition()


def held(folder: Path) -> dict[str, dict]:
    """The flow log files a store holds: resolved source path -> its FileReport as a dict."""
    catalog = folder / CATALOG
    return json.loads(catalog.read_text(encoding="utf-8")) if catalog.exists() else {}


def unreadable(paths: Iterable[Path]) -> dict[str, str]:
    """The files that cannot be read to their end (a gzip stream cut short, a broken Parquet file),
    with the reason: what DuckDB's error does not say, found by reading each file once more."""
    import pyarrow.parquet as pq
    from isal import igzip

    found = {}
    for path in paths:
        try:
            if is_parquet(path):
                pq.read_table(path)
                continue
            with open(path, "rb") as raw:
                gzipped = raw.read(2) == b"\x1f\x8b"
                raw.seek(0)
                stream = igzip.IGzipFile(fileobj=raw) if gzipped else raw
                while stream.read(1 << 20):
                    pass
        except Exception as e:  # noqa: BLE001 - zlib, isal, OS, EOF, pyarrow: all the same here
            found[str(path)] = reason("not_to_end", error=e)
    return found


# Why a line of a mended copy is left blank (mended): a Reason, said in the report's language
CARRIAGE_RETURN = reason("carriage_return")


def mended(path: Path, folder: Path) -> tuple[Path, list[tuple[int, str]]] | None:
    """A copy in `folder` (never beside the evidence) of a text flow log whose lines hold a carriage
    return, that DuckDB's CSV reader can read: lines end at LF alone, a CR at either end of a line
    is part of its end (CRLF, LF CR), and a line with a CR inside is blank (read_csv skips a blank line and goes on counting lines, so every
    other line keeps its number); with the number of each line left blank and why. None if the file
    holds no CR, or its header does: then the file is refused for another reason, or whole."""
    from isal import igzip

    if is_parquet(path):
        return None
    copy = folder / f"{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]}.log"
    left, crs = [], False
    with open(path, "rb") as raw, open(copy, "wb") as out:  # the evidence read only, as always
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        for number, line in enumerate(igzip.IGzipFile(fileobj=raw) if gzipped else raw, 1):
            text = line.removesuffix(b"\n")
            crs |= b"\r" in text
            # at either end, a CR is part of the line's end, as DuckDB reads a file it can read
            text = text.removesuffix(b"\r").removeprefix(b"\r")
            if b"\r" in text:
                if number == 1:
                    return None
                left.append((number, CARRIAGE_RETURN))
                text = b""
            out.write(text + b"\n")
    return (copy, left) if crs else None


def is_parquet(path: str | Path) -> bool:
    return Path(path).name.lower().endswith(".parquet")


def header_of(path: Path) -> list[str] | None:
    """The field names of a text flow log's first line; None if it is not a flow log header."""
    return flow_log_header(first_line(path))


def scope(
    opened: int | None,
    closed: int | None,
    margin: int,
    until: int | None = None,
    account: str | None = None,
    region: str | None = None,
) -> dict:
    """The `connections` query's values for a window open from `opened` to `closed` (epoch seconds,
    None: unbounded), with `margin` seconds each side; `until` bounds a still-open window.

    A record lies in the file of the five minutes after it (or later), so the last partition read
    is an hour after the end; a record can start up to its aggregation interval before the window.
    """
    since = None if opened is None else opened - margin
    end = closed if closed is not None else until
    last = None if end is None else end + margin
    stamp = lambda t, fmt: (
        None if t is None else datetime.fromtimestamp(t, timezone.utc).strftime(fmt)
    )  # noqa: E731
    first = None if since is None else since - 15 * 60
    return dict(
        since_epoch=since,
        until_epoch=last,
        opened_epoch=opened,
        closed_epoch=closed,
        since_day=stamp(first, "%Y/%m/%d"),
        since_hour=stamp(first, "%Y/%m/%d/%H"),
        until_hour=stamp(None if last is None else last + 3600, "%Y/%m/%d/%H"),
        account=account,
        region=region,
    )


@dataclass
class Source:
    """The `vpcflowlogs` relation over some files, and what was found wrong before reading them."""

    sql: str  # a SELECT of COLUMNS
    groups: int  # read_csv calls: one per distinct header
    files: dict[str, FileReport]  # by path


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _files_sql(files: list[Path]) -> str:
    return "[" + ", ".join(_literal(str(p.resolve())) for p in files) + "]"


def _partition_sql(files: list[Path]) -> str:
    """account, region and day of each row, from its file's path: a literal when the files share it
    (the common case, no per-row work), else a CASE on the file name."""
    parts = {str(p.resolve()): partition_of(p) for p in files}
    out = []
    for column in ("account", "region", "day"):
        values = {path: getattr(part, column) for path, part in parts.items()}
        sql = lambda v: "NULL" if v is None else _literal(v)  # noqa: E731
        if len(set(values.values())) == 1:
            out.append(f"{sql(next(iter(values.values())))}::VARCHAR AS {column}")
        else:
            cases = " ".join(f"WHEN {_literal(p)} THEN {sql(v)}" for p, v in values.items())
            out.append(f"CASE filename {cases} END AS {column}")
    return ", ".join(out)


def _select(present: set[str], read: str, partitions: str) -> str:
    picked = [f'"{c}"' if c in present else f'NULL::{t} AS "{c}"' for c, t in FIELDS.values()]
    return f"SELECT {', '.join(picked)}, {partitions}, filename FROM {read}"


def _parquet_columns(path: Path) -> set[str]:
    import pyarrow.parquet as pq

    return set(pq.read_schema(path).names)


def measure(path: Path, limit: int | None) -> tuple[int, str, str | None]:
    """A file's size, SHA-256 and, if its text is over `limit` bytes, why: in one pass, a MB at a
    time. Gzip is inflated (every member) only to count its text, and no further than the limit,
    so a small file that inflates to gigabytes costs no more than the limit's worth of work."""
    from isal import isal_zlib

    digest, size, text, over = hashlib.sha256(), 0, 0, None
    with open(path, "rb") as f:  # read only, as all evidence
        gzipped = f.read(2) == b"\x1f\x8b"
        if limit is None:
            f.seek(0)
            return os.fstat(f.fileno()).st_size, hashlib.file_digest(f, "sha256").hexdigest(), None
        f.seek(0)
        inflate = None
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            if over is not None:
                continue
            if not gzipped:
                text += len(chunk)
            while gzipped and chunk and text <= limit:
                if inflate is None:
                    chunk = chunk.lstrip(b"\x00")  # zero padding after the last member is fine
                    if not chunk:
                        break
                    inflate = isal_zlib.decompressobj(wbits=31)
                try:
                    text += len(inflate.decompress(chunk, limit + 1 - text))
                except isal_zlib.error:
                    gzipped = False  # corrupt: counted no further; the reading reports why
                    break
                chunk = inflate.unused_data if inflate.eof else inflate.unconsumed_tail
                inflate = None if inflate.eof else inflate
            if text > limit:
                over = reason("inflates" if gzipped else "over_limit", limit=f"{limit:,}")
    return size, digest.hexdigest(), over


def source(paths: Iterable[Path], rejects: str | None = None,
           max_bytes: int | None = None, strict: frozenset[str] = frozenset(),
           copies: dict[str, Path] | None = None) -> Source:
    """The SELECT that reads these flow log files as the `vpcflowlogs` table (with `filename`).

    `rejects` (a table name prefix) makes DuckDB keep each rejected line with its reason
    (`{rejects}_{i}` per header group), and each file is hashed; without it bad lines are skipped.
    With `max_bytes`, a file whose text is larger (Settings.max_file_bytes) is left out with its
    reason, as the CloudTrail reader does. The files in `strict` (resolved paths: those with
    rejected lines) are read casting every field, so that a line the check rejected for a field a
    query does not read (DuckDB casts only what it reads) is not counted by that query either.
    `copies` (resolved path -> copy) are read in place of their files, under their files' names:
    the copies `mended` made of files with a carriage return inside a line.
    """
    copies = copies or {}
    reports: dict[str, FileReport] = {}
    groups: dict[tuple[tuple[str, ...], bool], list[Path]] = {}
    parquet: list[Path] = []
    present_in_parquet: set[str] = set()
    for path in paths:
        report = reports[str(path.resolve())] = FileReport(str(path), shape="flowlog")
        try:
            report.size = path.stat().st_size
            if rejects:  # the checking read: the record of what was examined, as for CloudTrail
                report.size, report.sha256, over = measure(path, max_bytes)
                if over:
                    report.error = over
                    continue
            if is_parquet(path):
                present_in_parquet |= _parquet_columns(path)
                report.shape = "parquet"
                parquet.append(path)
                continue
        except Exception as e:  # noqa: BLE001 - pyarrow raises several kinds on a bad file
            report.error = reason("cannot_read", error=e)
            continue
        names = header_of(path)
        if names is None:
            report.error = reason("no_header")
        elif len(set(names)) != len(names):
            report.error = reason("header_twice")
        else:
            unknown = [n for n in names if n not in FIELDS and n not in PARTITIONED_FIELDS]
            if unknown:
                report.warn(reason("unknown_fields", fields=", ".join(unknown)))
            groups.setdefault((tuple(names), str(path.resolve()) in strict), []).append(path)
    selects = []
    for i, ((names, cast_all), files) in enumerate(groups.items()):
        renamed = {n: FIELDS[n][0] if n in FIELDS else f"_{n}" for n in names}
        spec = ", ".join(
            f"{_literal(renamed[n])}: {_literal(FIELDS.get(n, ('', 'VARCHAR'))[1])}" for n in names
        )
        errors = (
            f"store_rejects = true, rejects_table = '{rejects}_{i}', "
            f"rejects_scan = '{rejects}_scan_{i}'"
            if rejects
            else "ignore_errors = true"
        )
        # quote and escape off: a flow log has neither, and a stray '"' must not swallow lines.
        read = (
            f"read_csv({_files_sql([copies.get(str(p.resolve()), p) for p in files])}, "
            f"delim = ' ', header = true, columns = {{{spec}}}, "
            f"nullstr = '-', auto_detect = false, quote = '', escape = '', filename = true, "
            f"{errors})"
        )
        named = {str(copies[k].resolve()): k for k in (str(p.resolve()) for p in files) if k in copies}
        if named:  # a copy's rows under its file's name
            cases = " ".join(f"WHEN {_literal(c)} THEN {_literal(k)}" for c, k in named.items())
            read = f"(SELECT * REPLACE (CASE filename {cases} ELSE filename END AS filename) FROM {read})"
        known = [renamed[n] for n in names if n in FIELDS]  # the others are text: no cast fails
        select = _select(set(known), read, _partition_sql(files))
        if cast_all:  # reading every field in the filter casts it: a bad one skips its line
            fields = ", ".join(f'"{c}"' for c in known)
            select += f" WHERE hash({fields}) IS NOT NULL"
        selects.append(select)
    if parquet:
        read = f"read_parquet({_files_sql(parquet)}, union_by_name = true, filename = true)"
        present = present_in_parquet & {c for c, _ in FIELDS.values()}
        casts = {c: t for c, t in FIELDS.values()}
        select = _select(present, read, _partition_sql(parquet))
        for c in present:  # Parquet's integer widths differ from the table's: cast to the table's
            select = select.replace(f'"{c}",', f'CAST("{c}" AS {casts[c]}) AS "{c}",', 1)
        selects.append(select)
    sql = "\nUNION ALL\n".join(selects) if selects else empty_sql()
    return Source(sql, len(groups), reports)


def in_scope(path: Path, values: dict) -> bool:
    """Whether a file's partition can hold what the `connections` query asks with these `values`
    (its `day` filter, as the file's `day` column is: partition_of)."""
    day = partition_of(path).day
    since, until = values.get("since_hour"), values.get("until_hour")
    return day is None or ((since is None or day >= since or day == values.get("since_day"))
                           and (until is None or day <= until))


def narrowed(paths: Iterable[Path], interfaces: list[str],
             instances: list[str]) -> tuple[list[tuple[str, dict]], str]:
    """The `vpcflowlogs` relation over only the lines of these files that contain one of the
    window's interface or instance ids: the statements (with their parameters) that keep those
    lines, one temporary table `_flow_lines_{i}` per header, and the SELECT that splits them.

    Tokenizing every field of every line is most of a window's time; a line that names none of the
    ids cannot pass the query's interface filter, so it is only searched. The statements are apart
    from the SELECT because in one query DuckDB moves the query's filters and casts beneath the
    search. The split keeps read_csv's rules (tests/test_flowlogs.py): `-` is NULL, a line with
    another number of fields, or a field that does not cast (TRY_CAST is read_csv's cast), is left
    out, as the strict read of `source` leaves it. A line with a NUL (the search's delimiter: read
    as one, a NUL ending a line would be lost) or that read_csv cannot hold fails the statements:
    the caller then reads the files whole.
    Parquet files are read as `source` reads them.
    """
    groups: dict[tuple[str, ...], list[Path]] = {}
    parquet = []
    for path in paths:
        if is_parquet(path):
            parquet.append(path)
        else:
            groups.setdefault(tuple(header_of(path) or ()), []).append(path)
    # An empty id matches an empty field: a line with two spaces in a row, or one at an end.
    empty = "(contains(line, '  ') OR starts_with(line, ' ') OR ends_with(line, ' '))"
    statements, selects = [], []
    for i, (names, files) in enumerate(groups.items()):
        ids = sorted(set(interfaces) | (set(instances) if "instance-id" in names else set()))
        found = " OR ".join(f"contains(line, $id{k})" if t else empty for k, t in enumerate(ids))
        # `rest` is NULL only when a line has no NUL: nullstr is a newline, which no field holds.
        statements.append((
            f"CREATE OR REPLACE TEMP TABLE _flow_lines_{i} AS "
            f"SELECT string_split(CASE WHEN rest IS NULL THEN line "
            f"ELSE error('a NUL in a line: read the files whole') END, ' ') AS f, filename "
            f"FROM read_csv({_files_sql(files)}, delim = chr(0), header = true, "
            f"columns = {{'line': 'VARCHAR', 'rest': 'VARCHAR'}}, null_padding = true, "
            f"nullstr = chr(10), auto_detect = false, quote = '', escape = '', "
            f"filename = true) WHERE rest IS NOT NULL OR {found or 'false'}",
            {f"id{k}": t for k, t in enumerate(ids) if t}))
        fields, valid = [], [f"len(f) = {len(names)}"]
        for k, n in enumerate(names, start=1):
            column, kind = FIELDS.get(n, (f"_{n}", "VARCHAR"))
            value = f"nullif(f[{k}], '-')"
            if kind != "VARCHAR":
                value = f"TRY_CAST({value} AS {kind})"
                valid.append(f"(f[{k}] = '-' OR {value} IS NOT NULL)")
            fields.append(f'{value} AS "{column}"')
        split = (f"(SELECT {', '.join(fields)}, filename FROM _flow_lines_{i} "
                 f"WHERE {' AND '.join(valid)})")
        known = {FIELDS[n][0] for n in names if n in FIELDS}
        selects.append(_select(known, split, _partition_sql(files)))
    if parquet:
        selects.append(source(parquet).sql)
    return statements, "\nUNION ALL\n".join(selects) if selects else empty_sql()


def empty_sql() -> str:
    columns = [*FIELDS.values(), *PARTITIONS, ("filename", "VARCHAR")]
    return "SELECT " + ", ".join(f'NULL::{t} AS "{c}"' for c, t in columns) + " WHERE false"


# DuckDB's reasons for a line of the wrong width or length, said from the catalogue; its others as it says them
_WIDTH = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")
_LONG = re.compile(r"Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+) bytes\.")


def _why(message: str | None) -> str:
    width, long = _WIDTH.fullmatch(message or ""), _LONG.fullmatch(message or "")
    if width:
        return reason("columns", expected=width[1], found=width[2])
    if long:
        return reason("line_too_long", limit=f"{int(long[1]):,}", size=f"{int(long[2]):,}")
    return message or reason("no_reason")


def intake(
    files: dict[str, FileReport],
    counted: list[tuple[str, int, int]],
    rejected: list[tuple[str, int, str]],
) -> IntakeReport:
    """Per file: rows read and used (`counted`: path, rows, rows with log-status OK), and each
    rejected line with its reason (`rejected`: path, line, reason). read = used + rejected; a
    NODATA or SKIPDATA record is used (it says the flow log was not recording) and warned about."""
    for path, rows, ok in counted:
        f = files[path]
        f.read += rows
        f.used += rows
        if rows - ok:
            f.warn(reason("no_data", count=rows - ok))
    for path, line, why in rejected:
        f = files[path]
        f.read += 1
        f.rejected += 1
        if len(f.rejections) < MAX_REASONS_PER_FILE:
            f.rejections.append(reason("line", line=line, reason=_why(why)))
    return IntakeReport(files=list(files.values()))
