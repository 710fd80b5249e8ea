"""What kind of evidence a file is: decided by AWS's S3 layout where the path has one, else by the
structure of the parsed file, never by its name or its first kilobyte.

Kinds: `cloudtrail`, `guardduty`, `config` (AWS Config items), `ec2-describe` (EC2 describe output),
`flowlog` (VPC flow logs: text whose first line names the flow log's fields, or Parquet whose
columns do).
A new kind is one layout pattern in LAYOUTS (if AWS delivers it to S3) and one test in `kinds_of`
(or, for a format that is not JSON, beside `flow_log_header`).
"""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path
from typing import Any, Iterable, Iterator

import msgspec

_ORG = r"AWSLogs/(?:o-[a-z0-9]+/)?(?P<account>\d{12})/"
# AWSLogs/[o-org/]<account>/Config/<region>/YYYY/M/D/ConfigSnapshot|ConfigHistory/<file>
CONFIG_LAYOUT = re.compile(
    _ORG
    + r"Config/(?P<region>[a-z0-9-]+)/(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})/"
    + r"(?P<kind>Config(?:Snapshot|History))/"
)
# AWSLogs/[o-org/]<account>/EC2/<region>/<file>: where `collect --state` writes describe output
EC2_LAYOUT = re.compile(_ORG + r"EC2/(?P<region>[a-z0-9-]+)/")
LAYOUTS = (
    ("cloudtrail", re.compile(_ORG + r"CloudTrail/")),
    # AWSLogs/<account>/vpcflowlogs/<region>/..., or the Hive-compatible aws-service=vpcflowlogs/
    ("flowlog", re.compile(_ORG + r"vpcflowlogs/|/aws-service=vpcflowlogs/")),
    ("guardduty", re.compile(_ORG + r"GuardDuty/")),
    ("config", CONFIG_LAYOUT),
    ("ec2-describe", EC2_LAYOUT),
)


KINDS = ("cloudtrail", "guardduty", "config", "ec2-describe", "flowlog")


def kinds_of(document: Any) -> tuple[str, ...]:
    """Every kind one parsed JSON document holds, in KINDS order; () if none.

    Each marker is looked for, not the first one found: a CloudTrail file with an extra
    `"configurationItems": []` holds both, and is read by both readers (its records as CloudTrail,
    its items as Config), so an attacker's extra key hides neither part. A list holds what each of
    its elements holds (exports concatenated: findings and events in one array or JSON-lines file).
    """
    from .reader import Elements  # here: the reader imports this module

    if isinstance(document, list):
        found = {kind for element in document for kind in kinds_of(element)}
        return tuple(k for k in KINDS if k in found)
    if not isinstance(document, dict):
        return ()
    found = set()
    if isinstance(document.get("configurationItems"), (list, Elements)):  # decode_by_element's
        found.add("config")
    if any(isinstance(document.get(k), (list, Elements)) for k in ("SecurityGroups", "SecurityGroupRules")):
        found.add("ec2-describe")
    if isinstance(document.get("Records"), list):
        first = document["Records"][0] if document["Records"] else {}
        # SNS delivered to a Lambda wraps findings in Records too
        found.add("guardduty" if isinstance(first, dict) and "Sns" in first else "cloudtrail")
    if "eventName" in document or "Events" in document or "digestStartTime" in document:
        found.add("cloudtrail")
    if any(isinstance(document.get(k), list) for k in ("Findings", "findings")):
        found.add("guardduty")
    if document.get("Type") == "Notification" and "Message" in document:
        found.add("guardduty")
    # An EventBridge event, with or without detail-type (Lambda test events are often saved without)
    detail = document.get("detail")
    if isinstance(detail, dict) and not {"id", "type"} <= document.keys():
        found.update(kinds_of(detail))
    if {"schemaVersion", "id", "type"} <= document.keys():
        found.add("guardduty")
    return tuple(k for k in KINDS if k in found)


# A flow log header: field names (`version account-id interface-id srcaddr ...`), one of them
# interface-id, and at least one of the fields every useful format has.
_FLOW_FIELD = re.compile(r"^[a-z][a-z0-9-]*$")
_FLOW_CORE = {"srcaddr", "dstaddr", "srcport", "dstport", "action", "log-status", "start", "end"}
MAX_HEADER = 4096  # a flow log header is a few hundred bytes; a longer first line is not one


def flow_log_header(line: bytes) -> list[str] | None:
    """The field names of a flow log's first line; None if the line is not a flow log header."""
    try:
        names = line.decode("ascii").split()
    except UnicodeDecodeError:
        return None
    if not all(_FLOW_FIELD.match(n) for n in names) or "interface-id" not in names:
        return None
    return names if _FLOW_CORE & set(names) else None


def first_line(path: Path) -> bytes:
    """The first line of a file, gzip or not, at most MAX_HEADER bytes (b"" if unreadable)."""
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
            return stream.readline(MAX_HEADER)
    except (OSError, EOFError, zlib.error):
        return b""


def _parquet_flow_log(path: Path) -> bool:
    import pyarrow.parquet as pq  # only for a .parquet file outside AWS's layout

    try:
        names = set(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001 - pyarrow raises several kinds on a file that is not Parquet
        return False
    return "interface_id" in names and bool({n.replace("-", "_") for n in _FLOW_CORE} & names)


def layout_kind(path: str | Path) -> str | None:
    """The kind AWS's S3 layout gives a path (its folder), None outside it."""
    text = Path(path).as_posix()
    return next((kind for kind, layout in LAYOUTS if layout.search(text)), None)


# How a text spells the keys kinds_of finds each kind by, the keys of an EventBridge `detail` among
# them (`\\u`, an escape, may spell any).
_MARKS = {
    "cloudtrail": (b'"eventName"', b'"Events"', b'"digestStartTime"', b'"Records"'),
    "guardduty": (b'"schemaVersion"', b'"Findings"', b'"findings"', b'"Sns"', b'"Notification"'),
    "config": (b'"configurationItems"',),
    "ec2-describe": (b'"SecurityGroups"', b'"SecurityGroupRules"'),
}


def _spells(text: bytes, kinds: Iterable[str]) -> bool:
    return b"\\u" in text or any(mark in text for kind in kinds for mark in _MARKS[kind])


def element_kinds(raw: bytes) -> tuple[str, ...]:
    """kinds_of one element of a JSON array, or one line of a JSON-lines file, from its text; none
    for one that may make more objects than a record may (its reader rejects it by that count:
    outlined, its lists alone took 20 times its text)."""
    from . import reader

    if reader.crowded(raw):
        return ()
    try:
        return kinds_of(_outline(raw, 2))
    except (msgspec.DecodeError, RecursionError):
        return ()


def spells_findings(text: bytes) -> bool:
    """Whether the text may hold a finding: none does that spells no key of one (searched in C)."""
    return _spells(text, ("guardduty",))


def findings_only(raw: bytes) -> bool:
    """Whether an element of a list (or a line) is GuardDuty's alone: its reader's, not CloudTrail's.
    An element that spells no key of a finding (most CloudTrail records) is not outlined."""
    if not spells_findings(raw):
        return False
    kinds = element_kinds(raw)
    return "guardduty" in kinds and "cloudtrail" not in kinds


def _each(elements: Iterable, text: bytes) -> tuple[str, ...]:
    """Every kind the elements of `text` (a list's, or its lines) hold, each outlined apart; only
    one that spells a kind not found yet, and only while the text spells one (most files hold
    one kind: their first element is outlined, and the rest searched in C)."""
    found: set[str] = set()
    for element in elements:
        element = bytes(element)
        if _spells(element, [k for k in _MARKS if k not in found]):
            before = len(found)
            found.update(element_kinds(element))
            if len(found) > before and not _spells(text, [k for k in _MARKS if k not in found]):
                break
    return tuple(k for k in KINDS if k in found)


def recognise(path: str | Path) -> tuple[str, ...]:
    """A file's kinds: its S3 layout folder, else its structure (kinds_of; (): unreadable, none)."""
    path = Path(path)
    if layout_kind(path) is not None:
        return (layout_kind(path),)
    if path.name.lower().endswith(".parquet"):
        return ("flowlog",) if _parquet_flow_log(path) else ()
    # Flow logs are text: their first line says so before the whole file is read as JSON.
    if flow_log_header(first_line(path)) is not None:
        return ("flowlog",)
    return _kinds_in(path)


# Inflated at most this far to recognise a file (reader.MAX_FILE_BYTES): a larger one, a bomb
# among them, is left to the reader, which rejects it by name and reason.
MAX_RECOGNISED = 256 << 20
_object_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])


def _kinds_in(path: Path) -> tuple[str, ...]:
    """What kinds_of finds in the file: in its outline (_outline), or, in a JSON array or a file of
    one JSON document a line, in each element's, one at a time. Neither the file nor its records
    are ever held whole as objects: an ingest's parent recognising four loose files of 230 MB of
    records that way took 4.2 GB."""
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":  # the first member is enough to recognise
            data = zlib.decompressobj(31).decompress(data, MAX_RECOGNISED + 1)
    except (OSError, EOFError, zlib.error):
        return ()  # the reader opens it again and reports why
    if len(data) > MAX_RECOGNISED:
        return ()
    data = _as_utf8(data)
    data = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    try:
        if data[:1] == b"[":
            return _each(_list_decoder.decode(data), data)
        return kinds_of(_outline(data))
    except (msgspec.DecodeError, RecursionError):
        from .reader import _elements, _one_document  # the readers split such an array so too

        if data[:1] == b"[" and _one_document(data):  # a NaN in one element hides none of the others
            return _each(_elements(data, 0), data)
        # nor does a line nested too deep: a document that is, read line by line, is of no kind
        return _each(_lines(data), data)


def _as_utf8(data: bytes) -> bytes:
    """Text in UTF-16 or UTF-32 with a byte order mark (Windows PowerShell's `>` writes UTF-16LE)
    as UTF-8, as the readers read it (reader._as_utf8: invalid code units replaced), at most
    MAX_RECOGNISED bytes of it (else b"": left to the reader, which rejects it by name); any
    other text as it is. Such a GuardDuty or state file was recognised as nothing, and so went to
    the CloudTrail reader, which read no finding or item in it."""
    from .reader import _BOMS, TooLarge, _recoded

    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return _recoded(memoryview(data)[len(bom):], codec, "replace", MAX_RECOGNISED,
                                MAX_RECOGNISED)
            except TooLarge:
                return b""
    return data


def _lines(data: bytes) -> Iterator[bytes]:
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        yield data[start:end]
        start = end + 1


def _outline(raw: bytes, depth: int = 3) -> Any:
    """The JSON value `raw` as kind_of reads it: objects with every member, lists with their first
    element alone, `depth` levels down (deeper values None); scalars as they are."""
    head = bytes(memoryview(raw)[:64]).lstrip()[:1]  # a view: a Raw copied is the whole value
    if head == b"{":
        members = _object_decoder.decode(raw)
        return {k: _outline(v, depth - 1) if depth else None for k, v in members.items()}
    if head == b"[":
        items = _list_decoder.decode(raw)
        return [_outline(items[0], depth - 1) if depth else None] if items else []
    return msgspec.json.decode(raw)
