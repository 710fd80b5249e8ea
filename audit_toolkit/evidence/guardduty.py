"""Read GuardDuty findings of any shape into the `guardduty` table, and flatten them for analysis.

A file may be gzipped or plain and hold what `aws guardduty get-findings` prints (`{"Findings": [...]}`,
PascalCase keys), a JSON array of findings, one finding a line (the S3 export,
`AWSLogs/<account>/GuardDuty/<region>/YYYY/MM/DD/*.jsonl.gz`), EventBridge events
(`"detail-type": "GuardDuty Finding"`), SNS notifications around them (`"Message"` a JSON string,
also inside a Lambda's `{"Records": [{"Sns": ...}]}`), or one finding. Keys are brought to the
export's camelCase, so every source gives the same table.

Two steps, as for CloudTrail ("SQL filters, Python interprets"):
- `read_guardduty_file` gives rows of the `guardduty` table, the columns of AWS's Athena table for
  the export (nested `resource` and `service` kept as JSON text) plus its partition columns;
- `normalize` turns rows of that table (from DuckDB or Athena alike) into one flat DataFrame,
  FINDING_COLUMNS, which is what the analysis and the CLI use.
Nothing here trusts the input: a record that is not a finding is rejected with its reason, a file
that cannot be read is reported, a finding of an unknown shape keeps its common fields and a warning.
"""

from __future__ import annotations

import gc
import re
from collections import Counter
from datetime import datetime, timezone
from itertools import compress
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import msgspec
import pandas as pd
import pyarrow as pa

from .guardduty_finding import (  # noqa: F401 (severity_label, SEVERITY_BANDS: the public names)
    _TOP, FINDING_COLUMNS, KNOWN_RESOURCE_TYPES, KNOWN_SCHEMA_VERSIONS, SEVERITY_BANDS, _camel, _json_in_string, _text,
    flatten, severity_label,
)
from ..phrases import reason, reason_of
from . import reader
from .kinds import findings_only, kinds_of
from .layout import guardduty_partition_of, kinds
from .reader import (
    MAX_FILE_BYTES, MAX_REASONS_PER_FILE, FileReport, IntakeReport, _elements, _one_document, _reason, _whole, plausible,
    read_text,
)

_s = pa.string()
# The columns of AWS's Athena table for the export (queries/ddl/create_guardduty.sql), then the
# partition columns its path gives: account, export_region, day ('YYYY/MM/DD').
GUARDDUTY_SCHEMA = pa.schema([
    (name, _s) for name in (
        "schemaversion", "accountid", "region", "partition", "id", "arn", "type", "resource", "service",
        "severity", "createdat", "updatedat", "title", "description", "account", "export_region", "day",
    )
])

CHUNK_LINES = 10_000  # lines of a JSON-lines file decoded at a time (_lines)
_LINE = re.compile(rb"[^\r\n]+")  # a line as bytes.splitlines cuts it
_OPENING_LINE = re.compile(rb"(?:\A|[\r\n])[ \t\f\v]*[{\[]")  # a line that opens an object or list
_TIMES = ("created_at", "updated_at", "first_seen", "last_seen")
_NUMBERS = ("severity", "count", "remote_port", "local_port", "archived", "blocked", "sample")
_TEXT = [c for c in FINDING_COLUMNS if c not in _TIMES + _NUMBERS]


# --- reading -------------------------------------------------------------------------------------

def _unwrap(obj: Any, report: FileReport, depth: int = 0) -> Iterator[Any]:
    """The findings inside one decoded document, whatever envelope it came in."""
    obj = _json_in_string(obj)
    if depth > 4:  # envelopes nest two or three deep; deeper is hostile input
        yield obj
        return
    if isinstance(obj, list):
        for item in obj:
            yield from _unwrap(item, report, depth + 1)
        return
    if not isinstance(obj, dict):
        yield obj
        return
    if {"schemaVersion", "id", "type"} <= obj.keys():
        yield obj  # a finding, whatever else an attacker added to it (a `Records` list)
        return
    # Every envelope the object holds is opened: an extra key hides no finding (evidence.kinds)
    opened = False
    for key in ("Findings", "findings"):
        if isinstance(obj.get(key), list):
            opened = True
            if not obj[key]:
                report.warn(reason("empty_page"))
            for item in obj[key]:
                yield from _unwrap(item, report, depth + 1)
    if "detail-type" in obj and "detail" in obj:
        opened = True
        if obj["detail-type"] != "GuardDuty Finding":
            yield ValueError(reason("other_event", kind=repr(str(obj["detail-type"])[:60])))
        else:
            yield from _unwrap(obj["detail"], report, depth + 1)
    elif isinstance(obj.get("detail"), dict) and not {"id", "type"} <= obj.keys():
        # An EventBridge event saved without its detail-type, as Lambda test events often are
        opened = True
        yield from _unwrap(obj["detail"], report, depth + 1)
    if "Message" in obj and obj.get("Type") == "Notification":  # SNS
        opened = True
        yield from _unwrap(obj["Message"], report, depth + 1)
    records = obj.get("Records")
    if isinstance(records, list) and (not opened or _sns(records)):  # SNS delivered to a Lambda
        # Beside another envelope, only SNS records: CloudTrail's are for its reader
        opened = True
        for record in records:
            sns = record.get("Sns") if isinstance(record, dict) else None
            yield from _unwrap(sns if isinstance(sns, dict) else record, report, depth + 1)
    if not opened:
        yield obj


def _sns(records: list) -> bool:
    return bool(records) and isinstance(records[0], dict) and "Sns" in records[0]


def _documents(data: bytes, report: FileReport) -> Iterable[Any]:
    """The file's top-level JSON documents: one document; or, as chunks, one a line (_lines)."""
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        report.shape = "empty"
        return []
    try:
        if reader.crowded(text) and not _whole(text):  # never decoded whole, even to find it is lines
            return _lines(text, report)
        # one too large to decode whole: its findings one at a time
        document = _crowded_document(text) if reader.crowded(text) else msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError):  # JSON lines, or one line nested too deep
        if text[:1] == b"[" and _one_document(text):  # an array with a bad element: it alone is lost
            report.shape = "array"
            return [[_decoded(element, "element", n) for n, element in enumerate(_elements(text, 0), 1)]]
        return _lines(text, report)
    report.shape = _shape(document)
    return [document]


def _decoded(text: bytes | msgspec.Raw, where: str, n: int) -> Any:
    """Element or line `n` decoded, within the bound on objects; a ValueError saying why if it
    cannot be."""
    try:
        document = _bounded(text)
    except msgspec.DecodeError as e:
        return _unread(ValueError(reason(f"{where}_not_json", line=n, error=e)), text)
    except RecursionError:
        return _unread(ValueError(reason(f"{where}_too_deep", line=n)), text)
    return _unread(ValueError(reason("line", line=n, reason=reason_of(document))), text) \
        if isinstance(document, ValueError) else document


def _unread(error: ValueError, text: bytes | msgspec.Raw) -> ValueError:
    """`error`, marked with whether its text is a finding's as the CloudTrail reader judges it
    (kinds.findings_only): an element neither reader decodes is counted by exactly one of them."""
    error.findings = findings_only(bytes(text))
    return error


def _bounded(raw: bytes | msgspec.Raw) -> Any:
    """One finding (or a document) decoded; a ValueError with the reason if it may make too many objects."""
    if reader.crowded(raw):
        return ValueError(reason("crowded", bound=f"{reader.MAX_RECORD_VALUES:,}"))
    return msgspec.json.decode(raw)


def _crowded_document(text: bytes) -> Any:
    """A document too large to decode whole: a list's elements, or a findings page's, each decoded
    on its own (one over the bound is a ValueError); any other document a ValueError."""
    try:
        return [_bounded(raw) for raw in msgspec.json.decode(text, type=list[msgspec.Raw])]
    except msgspec.ValidationError:
        members = msgspec.json.decode(text, type=dict[str, msgspec.Raw])
    page = {k: v for k, v in members.items() if k in ("Findings", "findings")}
    try:
        return {k: [_bounded(raw) for raw in msgspec.json.decode(v, type=list[msgspec.Raw])]
                for k, v in page.items()} or _bounded(text)
    except msgspec.ValidationError:
        return _bounded(text)


def _lines(text: bytes, report: FileReport) -> Iterator[list[Any]]:
    """One document a line, each decoded on its own, CHUNK_LINES at a time: a file of millions of
    tiny lines never holds them all decoded (nor all its lines) at once."""
    # any line may be another reader's ('null' first, in an export of both kinds): one is enough
    if not _OPENING_LINE.search(text):
        raise ValueError(reason("starts_with", start="'{' or '['")) from None  # its text never shown
    report.shape = "lines"
    return _line_chunks(text)


def _line_chunks(text: bytes) -> Iterator[list[Any]]:
    chunk, n = [], 0
    for match in _LINE.finditer(text):
        if match[0].strip():
            n += 1
            chunk.append(_decoded(match[0], "line", n))
            if len(chunk) == CHUNK_LINES:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _shape(document: Any) -> str:
    if isinstance(document, list):
        return "array"
    if isinstance(document, dict):
        if "Findings" in document or "findings" in document:
            return "findings"
        if "detail-type" in document:
            return "eventbridge"
        if document.get("Type") == "Notification" or "Records" in document:
            return "sns"
    return "single"


def _time_problem(value: Any, key: str) -> str | None:
    """Why a finding's time cannot be used: not ISO 8601, or one AWS could not have written (the
    intake's one rule, reader.plausible: a year 9999 would match every later window)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        utc = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError):
        return reason("time_not_iso", key=key, value=repr(str(value)[:40]))
    try:
        plausible(utc, key)
    except ValueError as e:
        return reason_of(e)
    return None


def _row(finding: Any, index: int, report: FileReport, part) -> dict | None:
    """One finding as a row of the `guardduty` table, or None (rejected, with the reason)."""
    if isinstance(finding, Exception):
        report.reject(index, reason_of(finding))
        return None
    if not isinstance(finding, dict):
        report.reject(index, reason("not_finding", kind=type(finding).__name__))
        return None
    if any(k[:1].isupper() for k in finding):  # the API's and the CLI's PascalCase
        finding = _camel(finding)
    if not finding.get("id") or not finding.get("type"):
        if "cloudtrail" in kinds_of(finding):  # in a file the CloudTrail reader is not given
            report.reject(index, reason("cloudtrail_in_findings"))
        else:
            report.reject(index, reason("no_id"))
        return None
    version = finding.get("schemaVersion")
    if version is not None and str(version) not in KNOWN_SCHEMA_VERSIONS:
        report.warn(reason("record", index=index, reason=reason("schema_version", version=repr(str(version)[:20]))))
    resource = _json_in_string(finding.get("resource"))
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if kind is not None and (not isinstance(kind, str) or kind not in KNOWN_RESOURCE_TYPES):
        report.warn(reason("record", index=index, reason=reason("resource_type", kind=repr(str(kind)[:40]))))
    service = _json_in_string(finding.get("service"))
    for holder, key in ((finding, "createdAt"), (finding, "updatedAt"), (service, "eventFirstSeen"), (service, "eventLastSeen")):
        problem = _time_problem(holder[key], key) if isinstance(holder, dict) and \
            holder.get(key) is not None else None
        if problem:
            report.warn(reason("record", index=index, reason=reason("left_out", problem=problem)))
            holder[key] = None  # a bad time would fail every time filter of the query, on both engines
    row = {column: _text(finding.get(key)) for column, key in _TOP.items()}
    row["resource"] = _text(resource)
    row["service"] = _text(service)
    day = (row["updatedat"] or row["createdat"] or "")[:10].replace("-", "/") or None
    row.update(account=part.account or row["accountid"], export_region=part.region or row["region"],
               day=part.day or day)
    return row


def read_guardduty_file(path: str | Path, data: bytes | None = None,
                        max_bytes: int = MAX_FILE_BYTES) -> tuple[pa.Table, FileReport]:
    """One file's findings as rows of the `guardduty` table, and what could not be used and why;
    a file whose text is over `max_bytes` is rejected whole, with its reason."""
    report = FileReport(path=str(path))
    enabled = gc.isenabled()
    gc.disable()  # millions of small dicts and no cycles: the cyclic GC would only slow decoding
    try:
        try:
            documents = _documents(read_text(path, data, report, max_bytes), report)
        except (OSError, EOFError, ValueError, msgspec.DecodeError) as e:
            report.error = _reason(e)
            return GUARDDUTY_SCHEMA.empty_table(), report
        if report.shape in ("array", "lines"):  # chunks of elements, or of lines
            return _table(documents, report, guardduty_partition_of(path), path), report
        return _table([documents], report, guardduty_partition_of(path)), report
    finally:
        if enabled:
            gc.enable()


def _own(elements: list[Any]) -> list[bool]:
    """Which elements of a list (or lines) are this reader's: exports concatenated, each element is
    read by the reader of its own kind (kinds.kinds_of)."""
    return [getattr(e, "findings", False) if isinstance(e, Exception) else "guardduty" in kinds_of(e)
            for e in elements]


def _table(chunks: Iterable[list[Any]], report: FileReport, part,
           path: str | Path | None = None) -> pa.Table:
    """The findings of the documents, a chunk at a time, as rows. With `path` (a list's elements,
    or lines), where the CloudTrail reader reads the file too, it counts (and rejects, with their
    reasons) all but the findings: they are left out here and counted once."""
    rows = []
    index = left = 0
    mark = len(report.warnings)  # the count of elements left to CloudTrail goes first, as it did
    shared = None  # whether the CloudTrail reader reads the file too: recognising it reads it, so once
    for documents in chunks:
        theirs = _own(documents) if path is not None else ()
        if not all(theirs):
            shared = "cloudtrail" in kinds(path) if shared is None else shared
            if shared:
                left += len(documents) - sum(theirs)
                documents = list(compress(documents, theirs))
        for document in documents:
            for finding in ([document] if isinstance(document, Exception) else _unwrap(document, report)):
                row = _row(finding, index, report, part)
                if row is not None:
                    rows.append(row)
                index += 1
    if left:
        report.elsewhere += left
        report.warnings.insert(mark, reason("left_to_cloudtrail.one" if left == 1 else "left_to_cloudtrail",
                                            count=f"{left:,}"))
        del report.warnings[MAX_REASONS_PER_FILE:]
    report.read, report.used = index, len(rows)
    return pa.Table.from_pylist(rows, schema=GUARDDUTY_SCHEMA)


_CONTENT = (*_TOP, "resource", "service")  # the finding's own fields; the rest say where it was delivered


def _content(row: dict) -> tuple:
    """A finding's fields with its objects' keys in one order: a delivery that differs only there is a copy."""
    def same(value):
        try:
            return msgspec.json.encode(msgspec.json.decode(value), order="sorted")
        except (msgspec.DecodeError, TypeError):
            return value
    return tuple(same(row[c]) if c in ("resource", "service") else row[c] for c in _CONTENT)


def unique_findings(table: pa.Table) -> tuple[pa.Table, int, list[str]]:
    """Each finding (id, updatedAt) once, the first delivery kept; how many copies were left out; and
    each id and update held by findings that differ (all kept: one is forged or corrupted)."""
    keys = list(zip(table["id"].to_pylist(), table["updatedat"].to_pylist()))
    counts = Counter(keys)
    if all(n == 1 for n in counts.values()):
        return table, 0, []
    rows = {i: r for i, r in enumerate(table.select(_CONTENT).to_pylist()) if counts[keys[i]] > 1}
    seen: dict[tuple, list[tuple]] = {}
    keep = [True] * len(keys)
    for i, row in rows.items():
        contents = seen.setdefault(keys[i], [])
        content = _content(row)
        keep[i] = content not in contents
        if keep[i]:
            contents.append(content)
    conflicts = [f"finding {key[0]} (updated {key[1]}) is held by {len(contents)} findings that differ in "
                 f"{', '.join(c for n, c in enumerate(_CONTENT) if len({x[n] for x in contents}) > 1)}"
                 for key, contents in seen.items() if len(contents) > 1]
    dropped = len(keep) - sum(keep)
    return (table.filter(pa.array(keep, pa.bool_())) if dropped else table), dropped, conflicts


def read_guardduty(paths: Iterable[str | Path],
                   max_bytes: int = MAX_FILE_BYTES) -> tuple[pa.Table, IntakeReport]:
    """Every file's findings in one table; a finding delivered twice (same id and updatedAt) is held once."""
    intake = IntakeReport(ids="finding id")
    tables = []
    for path in paths:
        table, report = read_guardduty_file(path, max_bytes=max_bytes)
        intake.files.append(report)
        tables.append(table)
    table, intake.duplicates, intake.conflicts = unique_findings(
        pa.concat_tables(tables) if tables else GUARDDUTY_SCHEMA.empty_table())
    return table, intake


# --- flattening ----------------------------------------------------------------------------------

def _times(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")


def normalize(raw: pd.DataFrame) -> pd.DataFrame:
    """Rows of the `guardduty` table as one flat DataFrame of FINDING_COLUMNS, most severe first."""
    names = list(raw.columns)
    columns = [raw[c].tolist() for c in names]  # 3x faster than to_dict("records") on Arrow-backed strings
    frame = pd.DataFrame([flatten(dict(zip(names, values))) for values in zip(*columns)], columns=FINDING_COLUMNS)
    for column in _TIMES:
        frame[column] = _times(frame[column])
    frame["severity"] = frame["severity"].astype(float)
    for column in ("count", "remote_port", "local_port"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    for column in ("archived", "blocked"):
        frame[column] = frame[column].astype("boolean")
    frame["sample"] = frame["sample"].astype(bool)
    for column in _TEXT:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)  # None, never NaN
    return frame.sort_values(["severity", "last_seen", "id"], ascending=[False, True, True], ignore_index=True,
                             na_position="last")


def latest(frame: pd.DataFrame) -> pd.DataFrame:
    """Each finding once, as of its last update: GuardDuty exports a finding again each time it updates it.
    Findings that differ under one id and update (unique_findings' conflicts) are all kept."""
    newest = frame.groupby("id", sort=False)["updated_at"].transform("max")
    kept = (frame["updated_at"] == newest) | (frame["updated_at"].isna() & newest.isna())
    return frame.loc[kept.to_numpy()].reset_index(drop=True)


def findings_in(document: Any, source: str = "event") -> tuple[pd.DataFrame, FileReport]:
    """The findings in one decoded document (an EventBridge event or its `detail`, an SNS record, a
    finding) as FINDING_COLUMNS, read and flattened exactly as a file's: what the real-time alert uses,
    so that it and the batch give the same fields for the same finding."""
    report = FileReport(path=source, shape=_shape(document))
    return normalize(_table([[document]], report, guardduty_partition_of(source)).to_pandas()), report


def read_findings(paths: Iterable[str | Path]) -> tuple[pd.DataFrame, IntakeReport]:
    """Files of findings straight to the flat DataFrame (FINDING_COLUMNS), with what could not be used."""
    table, intake = read_guardduty(paths)
    return normalize(table.to_pandas()), intake
