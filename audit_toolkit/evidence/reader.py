"""Read CloudTrail files of any shape into Arrow batches shaped like Athena's table.

A file may be gzipped or plain, and hold a `{"Records": [...]}` object (what a trail writes), a JSON
array of events, one event per line, or one event. Nothing here trusts the file: a record that cannot
be used is rejected with its reason, a file that cannot be read at all is reported with its reason,
and the other records and files go on. For every file, read = used + rejected.
"""

from __future__ import annotations

import codecs
import gc
import hashlib
import ipaddress
import itertools
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import compress
from operator import attrgetter
from pathlib import Path
from typing import Iterable, Iterator

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from isal import igzip, igzip_lib

from ..phrases import Reason, plural, reason, reason_of
from ..settings import Settings
from . import layout
from .kinds import findings_only, spells_findings
from .layout import PathPartition, partition_of
from .schema import (
    STORED_SCHEMA,
    KNOWN_EVENT_VERSIONS,
    Event,
    OnBehalfOf,
    SessionAttributes,
    SessionContext,
    SessionIssuer,
    TlsDetails,
    UserIdentity,
)
from ..analysis.events import name_key

MAX_REASONS_PER_FILE = 20  # keep a report readable when a whole file is garbage
MAX_DOCUMENTS = 100  # gzip members read as documents of their own; the rest are read as one
MAX_FILE_BYTES = Settings.max_file_bytes  # the default: a file whose text is larger is rejected
# A large file is converted this much text at a time: the objects of one chunk's records are held
# at once, not those of the whole file (5x its text).
CHUNK_BYTES = 32 << 20
# ... and at most this many records: a tiny record ('{}', 3 bytes with its comma) costs some 700
# bytes as objects while it is checked, so a chunk of records is bounded by their count too (20
# million '{}' in 60 MB, read as one chunk, would have taken 14 GB). A trail's record is 1-2 KB:
# 32 MB of them is some 20,000.
CHUNK_RECORDS = 50_000
# The records of a file are found by msgspec (a Raw, 56 bytes, a record) only where the text holds
# fewer commas than this (each record but the last is followed by one): at most 56 MB of Raws.
MAX_RAWS = 1_000_000
# A record is decoded to objects only if it holds at most this many containers and values (counted
# as its '{', '[' and ',' bytes, strings included: an upper bound). A tiny container costs 50-100x
# its text (20 million '{}' in 60 MB took 1.7 GB); CloudTrail records are at most 256 KB of text.
MAX_RECORD_VALUES = 1_000_000
# CloudTrail was launched on 2013-11-13: an event time before it is not a real event's. An event
# time more than a day after the evidence is read (a clock may run ahead, not a day) is not either.
EARLIEST_EVENT = "2013-11-13T00:00:00Z"
FUTURE_MARGIN = timedelta(days=1)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")  # the common case, 10x faster than ipaddress
_HOSTNAME = re.compile(r"^[A-Za-z0-9.-]+$")  # 'ec2.amazonaws.com', 'AWS Internal' is handled apart


@dataclass
class FileReport:
    path: str
    shape: str = ""  # records | array | lines | single | digest | empty
    size: int | None = None  # of the bytes read, and their SHA-256: the record of what was examined
    sha256: str | None = None
    read: int = 0
    used: int = 0
    rejected: int = 0
    error: str | None = None  # the whole file could not be read
    # phrases.Reason where the toolkit says why (English text, the report's language at hand)
    rejections: list[str] = field(default_factory=list)  # 'record 3: reason'
    warnings: list[str] = field(default_factory=list)  # used, but something is off
    offset: int = 0  # the number in the file of the first record of the chunk being read
    # Elements of a list (or lines) of another kind, left to that kind's reader: not read here.
    elsewhere: int = 0
    too_large: bool = False  # rejected for its size alone (store.ingest reads it again, alone)
    # Read, but part of its text is not a record nor a trail document (text after the document, a
    # gzip member that is not JSON): the file may have held more than was read. Why, the first time.
    damaged: str | None = None

    def damage(self, why: str) -> None:
        self.damaged = self.damaged or why

    def reject(self, index: int, why: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REASONS_PER_FILE:
            self.rejections.append(reason("record", index=index + self.offset, reason=why))

    def warn(self, message: str, index: int | None = None) -> None:
        """A warning about the file, or (`index`) about one of its records."""
        if len(self.warnings) < MAX_REASONS_PER_FILE:
            self.warnings.append(message if index is None else
                                 reason("record", index=index + self.offset, reason=message))


def report_dict(report: FileReport) -> dict:
    """A FileReport as JSON-safe data for a store's catalog: its fields, and under `phrases` the
    phrase of each reason the toolkit said (Reason), which its text alone loses, so a report read
    back (`file_report`) says them in its own language like one read from the evidence."""
    data = asdict(report)
    said = {"error": _said(report.error), "rejections": [_said(r) for r in report.rejections],
            "warnings": [_said(w) for w in report.warnings]}
    if said["error"] or any(said["rejections"]) or any(said["warnings"]):
        data["phrases"] = said
    return data


def file_report(data: dict) -> FileReport:
    """A FileReport from `report_dict`'s data (or a catalog's from before it kept phrases): each
    reason a Reason again where its phrase still says its text in English; else the text kept."""
    data = dict(data)
    said = data.pop("phrases", None)
    report = FileReport(**data)
    if isinstance(said, dict):
        report.error = _again(report.error, said.get("error"))
        for name in ("rejections", "warnings"):
            phrases = said.get(name)
            if isinstance(phrases, list) and len(phrases) == len(getattr(report, name)):
                setattr(report, name, [_again(t, p) for t, p in zip(getattr(report, name), phrases)])
    return report


def _said(text: str | None) -> dict | None:
    return text.phrase if isinstance(text, Reason) else None


def _again(text: str | None, said: object) -> str | None:
    """`text` as the Reason `said` makes, if it makes that very text (a catalog is a file anyone can
    edit, and the catalogue changes): else `text` as it was stored."""
    if not isinstance(said, dict) or not isinstance(text, str):
        return text
    try:
        again = Reason(said)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return text
    return again if again == text else text


@dataclass
class IntakeReport:
    """What was read from the evidence, file by file, and what could not be used and why."""

    files: list[FileReport] = field(default_factory=list)
    duplicates: int = 0  # events whose eventID was already seen (e.g. delivered by two trails)
    skipped: list = field(default_factory=list)  # layout.Skipped: paths never read, and why
    # eventIDs held by records of different content: both kept, each such pair a finding in itself.
    conflicts: list[str] = field(default_factory=list)
    ids: str = "eventID"  # what `conflicts` counts: "finding id" for GuardDuty's (id, updatedAt)
    # Events read, with a member the analysis cannot read: 'event <id> (<name> at <time>): reason'.
    unusable: list[str] = field(default_factory=list)

    def set_aside(self, reasons: list[str]) -> None:
        """Record events an analysis left out, each once however often the analysis runs."""
        self.unusable.extend(r for r in reasons if r not in self.unusable)

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files)

    @property
    def used(self) -> int:
        return sum(f.used for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def bad_files(self) -> list[FileReport]:
        return [f for f in self.files if f.error]

    @property
    def damaged(self) -> list[FileReport]:
        """Files read only in part: the evidence cannot show that nothing is missing."""
        return [f for f in self.files if f.damaged and not f.error]

    @property
    def problems(self) -> list[FileReport]:
        return [f for f in self.files if f.error or f.rejected or f.warnings or f.damaged]

    def summary(self) -> str:
        conflicts = unusable = ""
        if self.conflicts:
            conflicts = f", {plural(len(self.conflicts), self.ids)} held by different records (all kept)"
        if self.unusable:
            unusable = f", {plural(len(self.unusable), 'event')} the analysis could not read"
        damaged = f", {plural(len(self.damaged), 'damaged file')} read in part" if self.damaged else ""
        return (
            f"{plural(len(self.files), 'file')}, {plural(self.read, 'event')} read, {self.used:,} used, "
            f"{self.rejected:,} rejected, {plural(len(self.bad_files), 'unreadable file')}, "
            f"{plural(self.duplicates, 'duplicate event')} counted once{conflicts}{unusable}{damaged}"
        )


class _Envelope(msgspec.Struct):
    Records: list[msgspec.Raw] | None = None
    # The output of `aws cloudtrail lookup-events`: the record is a JSON string in CloudTrailEvent.
    Events: list[msgspec.Raw] | None = None
    digestStartTime: str | None = None
    eventName: str | None = None


class _EnvelopeText(msgspec.Struct):
    """An envelope, its lists each one undecoded text: whether a value is a trail document is told
    without an object a record (a 256 MB document of `{}` would have taken GBs of Raws)."""

    Records: msgspec.Raw = msgspec.Raw(b"null")
    Events: msgspec.Raw = msgspec.Raw(b"null")
    digestStartTime: str | None = None
    eventName: str | None = None


class _LookupEvent(msgspec.Struct):
    CloudTrailEvent: str | None = None


class _Trail(msgspec.Struct):
    """What a trail writes: the fast path decodes a whole file of good records in one call."""

    Records: list[Event]


class _Identity(msgspec.Struct):
    accountId: str | None = None


class _Glance(msgspec.Struct):
    """What every record must show to be counted, checked and placed, without converting the rest."""

    eventVersion: str | None = None
    userIdentity: _Identity | None | msgspec.UnsetType = msgspec.UNSET
    eventTime: str | None = None
    eventSource: str | None = None
    eventName: str | None = None
    awsRegion: str | None = None
    sourceIPAddress: str | None = None
    eventID: str | None = None
    recipientAccountId: str | None = None
    timestamp: str | None = msgspec.field(default=None, name="@timestamp")


class _GlanceTrail(msgspec.Struct):
    Records: list[_Glance]


class _RawTrail(msgspec.Struct):
    Records: list[msgspec.Raw]


class _RecordsText(msgspec.Struct):
    """A trail document, its records one undecoded text (their array's): the document is checked
    to be JSON in one C call, and no object is made for any record."""

    Records: msgspec.Raw


_event_decoder = msgspec.json.Decoder(Event)
_trail_decoder = msgspec.json.Decoder(_Trail)
_glance_decoder = msgspec.json.Decoder(_GlanceTrail)
_raw_trail_decoder = msgspec.json.Decoder(_RawTrail)
_records_raw_decoder = msgspec.json.Decoder(_RecordsText)
_any_raw_decoder = msgspec.json.Decoder(msgspec.Raw)
_envelope_decoder = msgspec.json.Decoder(_Envelope)
_envelope_text_decoder = msgspec.json.Decoder(_EnvelopeText)
_raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_lookup_decoder = msgspec.json.Decoder(_LookupEvent)


class _KeyedTrail(msgspec.Struct):
    Records: list[dict[str, msgspec.Raw]]


_keyed_trail_decoder = msgspec.json.Decoder(_KeyedTrail)
_keyed_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_COLON = re.compile(rb"\s*:")


def _kept_every_member(raw: bytes, encoded: bytes) -> bool:
    """Whether `encoded`, the JSON `raw` decoded to objects and encoded again, kept every member of
    them: then no key was there twice (a decoder keeps the last of a repeated key, silently).

    Encoding never lengthens a key (msgspec writes the shortest escapes) and copies raw values as
    they are; a member dropped takes at least its key's two quotes. Where no quote is spelled as
    \\u0022 (the one escape encoded with a quote more: \\"), the text holds as many quotes
    encoded as raw, whatever the white space and other escapes (a caf\\u00e9 took the brackets).
    """
    return len(encoded) == len(raw) or (b"\\u0022" not in raw and raw.count(b'"') == encoded.count(b'"'))


def _trail_keys_unique(text: bytes, deep: bool = True) -> bool:
    """True when the text is a trail document whose envelope holds every key once, and each of its
    records every key once in every object at every depth (without `deep`, at its top level);
    False when that is not proven (another shape, white space and escapes, or a repeated key: then
    each record is checked on its own)."""
    try:
        if not deep:
            trail = _keyed_trail_decoder.decode(text)
            return _kept_every_member(text, msgspec.json.encode(trail)) and not any(
                map(_folded_twice, trail.Records))
        records = _raw_trail_decoder.decode(text).Records
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return False
    # One record at a time: decoding the whole file to objects at once cost 1.6x and its memory.
    return repeated_key(text) is None and all(_proven_unique(r) for r in records)


def _proven_unique(raw: bytes | msgspec.Raw) -> bool:
    """Whether every object of the JSON `raw`, at every depth, is proven to hold each key once."""
    try:
        value = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return False  # not JSON to msgspec (a NaN, deep nesting): the brackets tell
    return _unique(raw, value)


def _unique(raw: bytes | msgspec.Raw, value: object) -> bool:
    """Whether every object of `value`, decoded from `raw`, is proven to hold each key once (a Raw
    is copied to bytes only where white space or escapes make the lengths differ)."""
    if isinstance(value, dict) and _folded_twice(value):
        return False
    encoded = msgspec.json.encode(value)
    return len(encoded) == len(raw) or _kept_every_member(bytes(raw), encoded)


def _folded_twice(members: dict) -> bool:
    """Whether two keys of an object are one key case aside (`eventName`, `eventname`): Athena's
    JSON SerDe reads top-level names so, and would read another value than msgspec does."""
    return len(set(map(str.lower, members))) < len(members)


def repeated_key(raw: bytes | str, deep: bool = False) -> str | None:
    """A key that the JSON object `raw` holds twice at its top level (with `deep`, in any object at
    any depth, named by its path: `userIdentity.arn`), or None.

    A decoder keeps the last of a repeated key without a word, so an attacker can log a real call
    under a first `eventName` and a harmless one after it, or a forged actor under a first
    `userIdentity.arn`: such a record is rejected, never read as either. Proven absent in C where it
    can be (_kept_every_member), else found by brackets.
    """
    raw = raw.encode() if isinstance(raw, str) else bytes(raw)
    if deep and _proven_unique(raw):
        return None
    if not deep:
        try:
            members = _keyed_decoder.decode(raw)
            if _kept_every_member(raw, msgspec.json.encode(members)) and not _folded_twice(members):
                return None
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
            pass  # not an object, or not JSON to msgspec (a NaN, deep nesting): the brackets tell
    # One frame per open bracket: an object's keys seen (top-level ones case aside, as Athena reads
    # them, each to its first spelling), or None (an array); and the last key of each object ("" for
    # an array). A path is built from them only when it is reported: a full path kept per bracket
    # cost O(depth^2) (200,000 nested '[' took 22 GB); this is a few pointers a level.
    frames: list[dict | None] = []
    lasts: list[str] = []
    for token in _TOKEN.finditer(raw):
        char = raw[token.start()]
        if char in b"{[":
            frames.append({} if char == 123 else None)  # 123: '{'
            lasts.append("")
        elif char in b"]}":
            if frames:
                frames.pop()
                lasts.pop()
        elif char == 34 and frames and frames[-1] is not None and _COLON.match(raw, token.end()):
            if not deep and len(frames) > 1:
                continue
            try:
                key = msgspec.json.decode(token.group())
            except msgspec.DecodeError:
                continue
            seen = frames[-1]
            name = key.lower() if len(frames) == 1 else key
            if name in seen:
                path = _path(frames, lasts)
                return f"{path}.{seen[name]}" if path else seen[name]
            seen[name] = key
            lasts[-1] = key
    return None


def _path(frames: list[dict | None], lasts: list[str]) -> str:
    """The path of the innermost open object (repeated_key): `userIdentity.sessionContext`, `c.d[]`."""
    path = "".join(f".{last}" if seen is not None else "[]" for seen, last in zip(frames[:-1], lasts))
    return path[1:] if path.startswith(".") else path


class TooLarge(ValueError):
    """A file whose text is over the size limit: rejected, having held no more than the limit."""


def _members(data: bytes, limit: int = MAX_FILE_BYTES) -> tuple[list[bytes], str | None]:
    """The file's text, one piece per gzip member (a file that is not gzip is one piece as it is),
    and why the bytes after the last piece could not be read (None when all were).

    Inflating stops one byte past `limit`: a small file that inflates to gigabytes is rejected
    (TooLarge) having held no more than the limit; a later member that would pass it costs only
    itself and what follows. A first member that is corrupt raises BadGzipFile (an OSError), a
    truncated one EOFError, like any other broken gzip; a later broken member, or bytes that are
    not gzip after a member, cost only themselves.
    """
    if data[:2] != b"\x1f\x8b":
        if len(data) > limit:
            raise TooLarge(reason("too_big", size=f"{len(data):,}", limit=f"{limit:,}"))
        return [data], None
    pieces: list[bytes] = []
    left, at = limit, 0
    while at < len(data):
        if data[at:at + 2] != b"\x1f\x8b":
            if pieces:
                return pieces, reason("after_member", size=f"{len(data) - at:,}", member=len(pieces))
            raise igzip.BadGzipFile("not a gzip file")
        try:
            text, at = _inflate(data, at, left, limit)
        except TooLarge:
            if not pieces:
                raise
            return pieces, reason("member_inflates", member=len(pieces) + 1, at=f"{at:,}",
                                  limit=f"{limit:,}", size=f"{len(data) - at:,}")
        except (igzip_lib.IsalError, EOFError) as e:
            if not pieces:
                raise igzip.BadGzipFile(f"corrupt deflate data: {e}") if isinstance(
                    e, igzip_lib.IsalError) else e from None
            return pieces, reason("member_broken", member=len(pieces) + 1, at=f"{at:,}", error=e,
                                  size=f"{len(data) - at:,}")
        pieces.append(text)
        left -= len(text)
        while at < len(data) and data[at] == 0:  # zero padding after a member is fine
            at += 1
    return pieces, None


FEED = 64 << 10  # compressed bytes given at a time to a member after the first (the rest is copied)


def _inflate(data: bytes, at: int, left: int, limit: int) -> tuple[bytes, int]:
    """The text of the gzip member at data[at:], at most `left` bytes (else TooLarge), and where
    the next member starts. The first member is given the whole file (one copy of its text); a
    later one 64 KB at a time, so that many members do not copy the rest of the file each."""
    member = igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)
    if at == 0:
        text = member.decompress(data, max_length=left + 1)
        if len(text) > left:
            raise TooLarge(reason("inflates", limit=f"{limit:,}"))
        if not member.eof:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        return text, len(data) - len(member.unused_data)
    view, out, size = memoryview(data), [], 0
    while not member.eof:
        chunk = view[at:at + FEED] if member.needs_input else b""
        if member.needs_input and not chunk:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        at += len(chunk)
        out.append(member.decompress(chunk, max_length=left + 1 - size))
        size += len(out[-1])
        if size > left:
            raise TooLarge(reason("inflates", limit=f"{limit:,}"))
    return b"".join(out), at - len(member.unused_data)


def _whole(text: bytes) -> bool:
    """Whether the text is one JSON value (a NaN or deep nesting in it aside), nothing after it."""
    try:
        msgspec.json.decode(text, type=msgspec.Raw)
        return True
    except (msgspec.DecodeError, RecursionError):
        stripped = text.strip()
        return stripped[:1] in (b"{", b"[") and any(
            char in b"]}" and depth == 0 and token.end() == len(stripped)
            for token, char, depth in _walk(stripped))


# A string (escapes skipped) or a bracket or comma: what finding the elements of an array needs.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')
_ARRAY_VALUE = re.compile(rb"\s*:\s*\[")


def _walk(text: bytes, at: int = 0) -> Iterator[tuple[re.Match, int, int]]:
    """Each string, bracket and comma of the text from `at`, its first byte, and the depth after it
    (brackets counted, strings skipped): the structure, found without decoding anything."""
    depth = 0
    for token in _TOKEN.finditer(text, at):
        char = text[token.start()]
        depth += 1 if char in b"[{" else -1 if char in b"]}" else 0
        yield token, char, depth


def _records_array(text: bytes) -> tuple[str, int] | None:
    """The member (Records or Events) of the top object that holds the records, and where its array
    opens; found by brackets alone, whatever precedes it (a value nested too deep, a NaN)."""
    for token, char, depth in _walk(text):
        if char in b"]}" and depth <= 0:
            return None
        if depth == 1 and token.group() in (b'"Records"', b'"Events"'):
            value = _ARRAY_VALUE.match(text, token.end())
            if value:
                return token.group()[1:-1].decode(), value.end() - 1
    return None


def _elements(text: bytes, at: int) -> list[bytes]:
    """The elements of the JSON array opening at text[at], each undecoded, found by brackets alone.

    For a document that cannot be decoded whole (a `NaN`, a value nested too deep, a broken record):
    each element is then decoded on its own, so one bad record costs only itself. An element left
    open at the end of the text is returned as it is, for the decoder to reject as truncated.
    """
    found, start = [], at + 1
    for token, char, depth in _walk(text, at):
        if char in b"]}" and depth == 0:
            if text[start:token.start()].strip():
                found.append(text[start:token.start()])
            return found
        if char == ord(",") and depth == 1:
            found.append(text[start:token.start()])
            start = token.end()
    found.append(text[start:])
    return found


def _one_document(text: bytes) -> bool:
    """Whether the JSON value that opens the text ('{' or '[') is all of it (else: one value a
    line); one left open is one truncated document."""
    end = _close(text, 0)
    return end is None or not text[end:].strip()


# A line, and a line that opens an object (after a byte order mark and white space, if any).
_LINE = re.compile(rb"[^\r\n]+")
_OBJECT_LINE = re.compile(rb"(?:^|[\r\n])(?:\xef\xbb\xbf)?[ \t\x0b\x0c]*\{")


def _lines(text: bytes, report: FileReport) -> Iterator[bytes]:
    """One event a line (blank lines allowed), a line at a time: a file of millions of lines is
    never a list of them; ValueError if no line is even an object."""
    if not _OBJECT_LINE.search(text):  # a first line may be hostile
        raise ValueError(reason("starts_with", start="'{'"))  # its text never shown: it may be a secret
    report.shape = "lines"
    # a UTF-8 byte order mark starting a line: files saved with one, then joined by `cat`
    return (line.group().removeprefix(b"\xef\xbb\xbf") for line in _LINE.finditer(text)
            if line.group().strip())


def _split(data: bytes, report: FileReport) -> Iterable[bytes | msgspec.Raw | Refused]:
    """The file's records, undecoded (one at a time where they are lines or among documents), and
    its shape."""
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        report.shape = "empty"
        report.warn(reason("empty_file"))
        return []
    if text[:1] == b"[":
        try:
            _any_raw_decoder.decode(text)  # JSON as a whole? Asked first: no Raw a record made
            records = _raw_list_decoder.decode(text)
        except (msgspec.DecodeError, RecursionError):
            if not _one_document(text) or _value_end(text, 0)[0] is None:
                documents = _documents(text)  # '[' written before a trail document, say
                if documents:
                    return _from_documents(text, _parts(text), documents, report)
            if not _one_document(text):
                return _lines(text, report)
            records = _elements(text, 0)
        if any(_DOCUMENT_START.match(r) for r in records):  # `jq -s . *.json`: trail documents
            parts = [("document" if _is_trail_document(bytes(r)) else "value", r) for r in records]
            documents = sum(kind == "document" for kind, _ in parts)
            return _from_documents(text, parts, documents, report)
        report.shape = "array"
        return records
    try:
        _envelope_text_decoder.decode(text)  # JSON as a whole? Asked first: no Raw a record made
        envelope = _envelope_decoder.decode(text)
    except (msgspec.DecodeError, RecursionError):
        found = _records_array(text) if text[:1] == b"{" and _one_document(text) else None
        if found and _value_end(text, 0)[0] is None and any(  # left open: '{"Records":[' before a document?
                kind == "document" and start > 0 for kind, start, _ in _parts(text)):
            return _from_documents(text, _parts(text), _documents(text), report)
        if found:
            _refuse_repeated_envelope_key(text)
        if found and found[0] == "Records":
            report.shape = "records"
            return _elements(text, found[1])
        if found:
            report.shape = "lookup-events"
            return [_lookup_event(raw) for raw in _elements(text, found[1])]
        # Not one document: text after (or before) a trail document, or documents one after
        # another. Read one event a line, the whole file was one line rejected: every record of a
        # genuine file lost to ' garbage' appended, and counted as one.
        documents = _documents(text)
        if documents:
            return _from_documents(text, _parts(text), documents, report)
        return _lines(text, report)
    except msgspec.ValidationError as e:
        raise ValueError(reason("not_cloudtrail", error=e)) from None
    if envelope.Records is not None or envelope.Events is not None:
        _refuse_repeated_envelope_key(text)
    if envelope.Records is not None:
        report.shape = "records"
        return envelope.Records
    if envelope.Events is not None:
        report.shape = "lookup-events"
        return [_lookup_event(raw) for raw in envelope.Events]
    if envelope.digestStartTime is not None:
        report.shape = "digest"
        return []
    report.shape = "single"
    return [text]


def _refuse_repeated_envelope_key(text: bytes) -> None:
    """ValueError (the file is rejected) if the envelope holds a key twice: two `Records` arrays, of
    which a decoder would read one and hide the other."""
    key = repeated_key(text)
    if key is not None:
        raise ValueError(reason("key_twice_file", key=repr(key[:40])))


@dataclass(frozen=True)
class Refused:
    """A part of a file that is no record, in the place of one: rejected with its reason."""

    reason: str


# Where a trail document (or lookup-events output) may open, to find one after text that is none.
_DOCUMENT_START = re.compile(rb'\{\s*"(?:Records|Events)"\s*:\s*\[')
# How many places that open a value never closed are tried: each costs a walk to the text's end.
MAX_OPEN_TRIES = 8
_SPACE = re.compile(rb"[ \t\r\n]*")


def _value_end(text: bytes, at: int) -> tuple[int | None, bool]:
    """Where the JSON value opening at text[at] ('{' or '[') ends, by its brackets, None if it is
    left open; and whether it is JSON (decoded as a Raw: no object made) or only brackets that
    close (a NaN in it, deep nesting, or text that is no JSON). Its end was read from msgspec's
    error message ('trailing characters (byte N)'), whose N is one past the byte it names: no value
    among documents was ever found to be JSON, and a record after a document was lost as text."""
    end = _close(text, at)
    if end is None:
        return None, False
    try:  # no copy: a damaged file is as large as any (256 MB)
        msgspec.json.decode(memoryview(text)[at:end], type=msgspec.Raw)
        return end, True
    except (msgspec.DecodeError, RecursionError):
        return end, False


WALKED = 256  # brackets, commas and strings of a value walked in Python; past them it is scanned


def _close(text: bytes, at: int) -> int | None:
    """Just past the bracket that closes the one at text[at] (strings skipped), None if none does:
    a small value by _walk, the rest of a large one (a 256 MB document) by _structure, in C."""
    depth, end, walked = 0, at, 0
    for walked, (token, _, depth) in enumerate(itertools.islice(_walk(text, at), WALKED), 1):
        if depth == 0:
            return token.end()
        end = token.end()
    if walked < WALKED:
        return None  # the text ended first
    for places, kinds, levels in _structure(text, end, len(text), depth):
        closes = places[(kinds == 2) & (levels == 0)]
        if len(closes):
            return int(closes[0]) + 1
    return None


def _is_trail_document(text: bytes | memoryview) -> bool:
    """Whether the JSON value `text` is a trail document (or lookup-events output)."""
    try:
        envelope = _envelope_text_decoder.decode(text)
    except msgspec.ValidationError:
        return False
    except (msgspec.DecodeError, RecursionError):  # a NaN, deep nesting: the brackets tell
        return bytes(text[:1]) == b"{" and _records_array(bytes(text)) is not None
    # _Envelope's types: each list a list or null, else the value is no envelope at all
    starts = {bytes(memoryview(raw)[:1]) for raw in (envelope.Records, envelope.Events)}
    return starts <= {b"[", b"n"} and b"[" in starts


def _parts(text: bytes) -> Iterator[tuple[str, int, int]]:
    """The text as its parts, (kind, start, end) each: a trail `document`, another JSON `value`, or
    `text` that is neither (up to the next trail document that closes). Found one at a time: a
    file of millions of lines is never a list of them."""
    at, tries = _SPACE.match(text).end(), 0
    while at < len(text):
        end, kind = None, "text"
        if text[at:at + 1] in (b"{", b"[") and tries < MAX_OPEN_TRIES:
            end, exact = _value_end(text, at)
            tries += end is None
            if end is not None:
                document = _is_trail_document(memoryview(text)[at:end])
                kind = "document" if document else "value" if exact else "text"
        if kind == "text":  # no JSON value: text up to the next trail document that closes
            end = len(text)
            for start in _DOCUMENT_START.finditer(text, at + 1):
                if tries >= MAX_OPEN_TRIES:
                    break
                if _value_end(text, start.start())[0] is not None:
                    end = start.start()
                    break
                tries += 1
        yield kind, at, end
        at = _SPACE.match(text, end).end()


def _documents(text: bytes) -> int:
    """How many of the text's parts are trail documents (none: the file is read as before, one
    event a line)."""
    if b"Records" not in text and b"Events" not in text and b"\\u" not in text:
        return 0  # none spells an envelope's key (whose letters may be escapes): found in C
    return sum(kind == "document" for kind, _, _ in _parts(text))


def _from_documents(text: bytes, parts: Iterable[tuple], documents: int,
                    report: FileReport) -> Iterator:
    """The records of every trail document of the text (`documents` of them), in order; any other
    part in their place: a JSON value as a record (rejected if it is none), text as a Refused. The
    file is damaged if any part is not a trail document: it may have held more than was read.
    The records come a document's chunk at a time (_cut), as an intact file's do."""
    if documents > 1:
        report.warn(reason("documents", n=documents))
    report.shape = "documents"
    return _document_records(text, parts, report)


def _document_records(text: bytes, parts: Iterable[tuple], report: FileReport) -> Iterator:
    for kind, *where in parts:
        element = len(where) == 1  # an element of an array (`jq -s`): a record is in its place
        source, (start, end) = (bytes(where[0]), (0, len(where[0]))) if element else (text, where)
        if kind == "document":
            try:
                for chunk in _cut(source, start, end) or [source[start:end]]:
                    yield from _split(chunk, FileReport(path=report.path))  # its shape is not the file's
            except ValueError as e:  # a document holding Records twice: only it is refused
                yield Refused(reason_of(e))
                report.damage(reason_of(e) if element else
                              reason("document_refused", at=f"{start:,}", reason=reason_of(e)))
        elif kind == "value":
            yield source[start:end]
            if not element:
                report.damage(reason("among_documents", at=f"{start:,}"))
        else:
            size = f"{len(source[start:end].rstrip()):,}"
            yield Refused(reason("outside_documents", size=size, at=f"{start:,}"))
            report.damage(reason("damaged_text", size=size, at=f"{start:,}"))


def _lookup_event(raw: bytes | msgspec.Raw) -> bytes | msgspec.Raw:
    """The record inside one `lookup-events` entry (the CloudTrailEvent string, as UTF-8 like every
    other record); the entry itself where it is not one, for the decoder to reject with its reason."""
    try:
        return (_lookup_decoder.decode(raw).CloudTrailEvent or "null").encode()
    except (msgspec.DecodeError, RecursionError):
        return raw


# CloudTrail's own form (second precision, UTC), a fraction and an offset allowed; nothing looser
# (fromisoformat also takes '20261103T090000Z' and ISO week dates, which no AWS writer produces).
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)")


def utc_time(text: str) -> str:
    """An event time as CloudTrail writes it, in UTC: '2026-11-03T09:00:00Z'. ValueError if it is
    not an ISO 8601 time of the form AWS writes. Offsets are brought to UTC, fractions dropped."""
    if not _ISO_TIME.fullmatch(text):
        raise ValueError(reason("time_form", text=repr(text[:40])))
    zone = text[19:].lstrip(".0123456789").replace("Z", "+00:00")
    moment = datetime.fromisoformat(text[:19] + zone)
    try:
        moment = moment.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00:00+09:00 is before year 1 in UTC
        raise ValueError(reason("time_range", text=repr(text[:40]))) from None
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _latest_event() -> str:
    """The latest plausible event time for evidence read now."""
    return (datetime.now(timezone.utc) + FUTURE_MARGIN).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event_time(event: Event, latest: str) -> str:
    """The event's time in UTC (Athena's eventtime string); ValueError when there is none usable."""
    if event.eventTime is None and event.timestamp is None:
        raise ValueError(reason("no_event_time"))
    try:
        time = utc_time(event.eventTime if event.eventTime is not None else event.timestamp)
    except ValueError as e:
        raise ValueError(reason("event_time", error=reason_of(e))) from None
    return plausible(time, "eventTime", latest)


def plausible(time: str, what: str, latest: str | None = None) -> str:
    """`time` (ISO 8601 UTC, 'YYYY-MM-DDThh:mm:ss[.fff]Z') if AWS could have written it: from
    CloudTrail's launch to a day after the evidence is read (`latest`, default now); else a
    ValueError naming `what`. One rule for every time in the evidence: a year 9999 would stretch
    every window it bounds."""
    latest = latest or _latest_event()
    if not EARLIEST_EVENT <= time <= latest:
        raise ValueError(reason("implausible", what=what, time=time, earliest=EARLIEST_EVENT[:10],
                                latest=latest[:10]))
    return time


def _source_ip_ok(value: str | None) -> bool:
    if value is None or value == "AWS Internal" or _IPV4.fullmatch(value):
        return True
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(value)) and "." in value  # a service such as ec2.amazonaws.com


def _attr(objects: list, attr: str) -> list:
    """The attribute of each object, None where the object is None (map + attrgetter run in C)."""
    if None in objects:
        return [getattr(o, attr) if o is not None else None for o in objects]
    return list(map(attrgetter(attr), objects))


def _flags(values: list) -> list:
    return [("true" if v else "false") if v.__class__ is bool else v for v in values]


def _strings(values: list) -> pa.Array:
    return pa.array(values, pa.string())


# Arrow field name -> attribute of the msgspec struct, where lowercasing the attribute does not give it.
_RENAMED = {"clientprovidedhostheader": "clientProvidedHostHeader"}
_FLAGS = {"mfaauthenticated", "readonly"}


def _struct(objects: list, arrow_type: pa.StructType, attrs: dict[str, str]) -> pa.Array:
    """A struct column from a list of msgspec structs (or None), built child by child."""
    children = []
    for f in arrow_type:
        values = _attr(objects, attrs.get(f.name, f.name))
        if pa.types.is_struct(f.type):
            children.append(_struct(values, f.type, attrs))
        else:
            children.append(_strings(_flags(values) if f.name in _FLAGS else values))
    mask = pa.array([o is None for o in objects], pa.bool_())
    return pa.StructArray.from_arrays(children, fields=list(arrow_type), mask=mask)


def _attrs(*structs: type[msgspec.Struct]) -> dict[str, str]:
    names = {a.lower(): a for s in structs for a in s.__struct_fields__}
    return names | _RENAMED


_UI_ATTRS = _attrs(UserIdentity, SessionContext, SessionIssuer, SessionAttributes, OnBehalfOf)
_RESOURCE_ATTRS = {"arn": "ARN", "accountid": "accountId", "type": "type"}
_TLS_ATTRS = _attrs(TlsDetails)
_EVENT_ATTRS = _attrs(Event)
_JSON_COLUMNS = {"requestparameters", "responseelements", "additionaleventdata", "serviceeventdetails"}
_STRUCT_COLUMNS = {"useridentity": _UI_ATTRS, "tlsdetails": _TLS_ATTRS}


def _json_text(values: list, name: str, report: FileReport, indexes: list[int]) -> pa.Array:
    """Raw JSON members as text; `null` and absent are NULL. Invalid UTF-8 is replaced and reported."""
    data = [b if (b := bytes(v)) and b != b"null" else None for v in values]
    try:
        return pa.array(data, pa.binary()).cast(pa.string())
    except pa.ArrowInvalid:
        text = []
        for value, index in zip(data, indexes):
            try:
                text.append(None if value is None else value.decode("utf-8"))
            except UnicodeDecodeError:
                report.warn(reason("utf8_in", name=name), index)
                text.append(value.decode("utf-8", errors="replace"))
        return pa.array(text, pa.string())


def _batch(events: list[Event], times: list[str], indexes: list[int], part: PathPartition, report: FileReport) -> pa.RecordBatch:
    """The usable events of one file as a batch of the stored schema (the `cloudtrail` table and
    where each event was read), built column by column."""
    uis = _attr(events, "userIdentity")
    columns = []
    for f in STORED_SCHEMA:
        name = f.name
        if name == "eventtime":
            columns.append(_strings(times))
        elif name in _STRUCT_COLUMNS:
            attr = "userIdentity" if name == "useridentity" else "tlsDetails"
            columns.append(_struct(_attr(events, attr), f.type, _STRUCT_COLUMNS[name]))
        elif name == "resources":
            columns.append(_resources(_attr(events, "resources"), f.type))
        elif name in _JSON_COLUMNS:
            columns.append(_json_text(_attr(events, _EVENT_ATTRS[name]), name, report, indexes))
        elif name == "account":
            columns.append(_strings([part.account or e.recipientAccountId or (u.accountId if u else None) for e, u in zip(events, uis)]))
        elif name == "region":
            columns.append(_strings([part.region or e.awsRegion for e in events]))
        elif name == "day":
            columns.append(_strings(_days(times)))
        elif name == "$path":
            columns.append(_strings([report.path] * len(events)))
        elif name == "record_index":
            columns.append(pa.array([i + report.offset for i in indexes], pa.int64()))
        else:
            values = _attr(events, _EVENT_ATTRS[name])
            columns.append(_strings(_flags(values) if name in _FLAGS else values))
    return pa.RecordBatch.from_arrays(columns, schema=STORED_SCHEMA)


def _days(times: list[str]) -> list[str]:
    """The `day` partition of each event: the UTC day of its time, whatever folder its file was
    in, so that a scope's days (queries.scope) find every event of the scope."""
    return [t[:10].replace("-", "/") for t in times]


def _resources(lists: list, arrow_type: pa.ListType) -> pa.Array:
    offsets = [0]
    flat = []
    for items in lists:
        if items:
            flat.extend(items)
        offsets.append(len(flat))
    values = _struct(flat, arrow_type.value_type, _RESOURCE_ATTRS)
    mask = pa.array([items is None for items in lists], pa.bool_())
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, type=arrow_type, mask=mask)


# Said once: a file of millions of records that are not events spent most of its time saying why.
_NO_USER_IDENTITY, _NOT_RECORD = reason("no_user_identity"), reason("not_record")


def _check(event: Event, index: int, report: FileReport, latest: str) -> str | None:
    """The event's time if the event can be used; otherwise it is rejected with the reason."""
    if event.userIdentity is None:
        report.reject(index, _NO_USER_IDENTITY)
        return None
    if not event.eventName or not event.eventSource:
        report.reject(index, _NOT_RECORD)
        return None
    try:
        time = _event_time(event, latest)
    except ValueError as e:
        report.reject(index, reason_of(e))
        return None
    if event.eventVersion is not None and event.eventVersion not in KNOWN_EVENT_VERSIONS:
        report.warn(reason("event_version", version=repr(event.eventVersion)), index)
    if not _source_ip_ok(event.sourceIPAddress):
        ip = event.sourceIPAddress
        report.warn(reason("source_ip", ip=repr(ip)), index)
    return time


# The usual record, which _check would pass without a word: its time and source IP checked a column
# at a time in Arrow, the rest in C-speed Python. Days 29-31 are left to _check, which knows the
# length of each month.
_USUAL_TIME = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ$"
_USUAL_IP = f"^{_IPV4.pattern}$"
_USUAL_VERSIONS = KNOWN_EVENT_VERSIONS | {None}


def _check_all(decoded: list, report: FileReport) -> tuple[list[int], list[str]]:
    """The indexes and times of the usable records; the others are rejected with their reasons.

    The usual record is recognised on whole columns; only the rest go one by one through _check,
    in order, so the reasons and warnings are exactly those of _check.
    """
    latest = _latest_event()
    if not decoded or None in decoded:  # a file with records that are not even CloudTrail records
        usual = [False] * len(decoded)
    else:
        times, ips = _attr(decoded, "eventTime"), pa.array(_attr(decoded, "sourceIPAddress"), pa.string())
        placed = pc.or_kleene(pc.is_null(ips), pc.or_(pc.equal(ips, "AWS Internal"), pc.match_substring_regex(ips, _USUAL_IP)))
        column = pa.array(times, pa.string())
        timely = pc.and_(pc.greater_equal(column, EARLIEST_EVENT), pc.less_equal(column, latest))
        usual_time = pc.and_(pc.match_substring_regex(column, _USUAL_TIME), timely)
        fine = pc.fill_null(pc.and_(usual_time, placed), False)
        names, sources = _attr(decoded, "eventName"), _attr(decoded, "eventSource")
        versions, identities = _attr(decoded, "eventVersion"), _attr(decoded, "userIdentity")
        if (pc.all(fine).as_py() and all(names) and all(sources) and set(versions) <= _USUAL_VERSIONS
                and None not in identities):  # a trail's file, as it nearly always is
            return list(range(len(decoded))), times
        usual = [f and bool(n) and bool(s) and u is not None and v in _USUAL_VERSIONS
                 for f, n, s, u, v in zip(fine.to_pylist(), names, sources, identities, versions)]
    indexes, times = [], []
    for index, (event, fine) in enumerate(zip(decoded, usual)):
        if event is None:  # rejected already, with its reason, when it was decoded
            continue
        time = event.eventTime if fine else _check(event, index, report, latest)
        if time is not None:
            indexes.append(index)
            times.append(time)
    return indexes, times


def crowded(raw: bytes | msgspec.Raw) -> bool:
    """Whether decoding `raw` (one record, finding or element) may make more than
    MAX_RECORD_VALUES containers and values: its '{', '[' and ',' bytes bound them, counted only
    in a text longer than the bound (counting every record cost about a quarter more CPU)."""
    if len(raw) <= MAX_RECORD_VALUES:
        return False
    raw = bytes(raw)
    return raw.count(b"{") + raw.count(b"[") + raw.count(b",") > MAX_RECORD_VALUES


def _any_crowded(text: bytes) -> bool:
    """Whether a record of the text may hold more than MAX_RECORD_VALUES values (then no record
    is decoded to objects before its own count is checked, in _decode_one)."""
    if len(text) <= MAX_RECORD_VALUES:
        return False
    try:  # only a record longer than the bound can pass it
        return any(map(crowded, _raw_trail_decoder.decode(text).Records))
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return True  # another shape: record by record


def _decode_all(data: bytes | list, report: FileReport,
                any_crowded: bool | None = None) -> list[Event | None]:
    """Every record of the file (or of a list of its records, split already: _chunks) decoded,
    None where a record is not even a CloudTrail record."""
    split = isinstance(data, list)
    any_crowded = split or (_any_crowded(data) if any_crowded is None else any_crowded)
    if not any_crowded and _trail_keys_unique(data):
        try:
            events = _trail_decoder.decode(data).Records  # one C call for a file of good records
            report.shape = "records"
            return events
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            pass  # some record is bad: record by record, with reasons
    raws = data if split else _split(data, report)
    if report.shape not in ("array", "lines") or not (split or spells_findings(data)):
        return [_decode_one(raw, index, report) for index, raw in enumerate(raws)]
    # Exports concatenated: each element is read by the reader of its own kind (kinds.kinds_of)
    decoded, theirs, left = [], None, 0
    for index, raw in enumerate(raws):
        if not findings_only(bytes(raw)):
            decoded.append(_decode_one(raw, index, report))
            continue
        decoded.append(None)
        if theirs is None:  # whether the GuardDuty reader reads the file: asked once, if it holds findings
            theirs = getattr(report, "_guardduty_reads", None)  # once a file, not once a chunk
            if theirs is None:
                theirs = report._guardduty_reads = "guardduty" in layout.kinds(report.path)
        if theirs:
            left += 1
        else:
            report.reject(index, reason("finding_in_trail_file"))
    if left:
        report.elsewhere += left
        report.warn(reason("left_to_guardduty.one" if left == 1 else "left_to_guardduty", count=f"{left:,}"))
    return decoded


def _decode_one(raw: bytes | msgspec.Raw | Refused, index: int, report: FileReport) -> Event | None:
    """One record decoded whole; None, and the reason in the report, where it cannot be."""
    if isinstance(raw, Refused):
        report.reject(index, raw.reason)
        return None
    if crowded(raw):
        report.reject(index, reason("crowded", bound=f"{MAX_RECORD_VALUES:,}"))
        return None
    key = repeated_key(raw, deep=True)
    if key is not None:
        report.reject(index, reason("key_twice_record", key=repr(key[:100])))
        return None
    try:
        try:
            return _event_decoder.decode(raw)
        except (UnicodeDecodeError, msgspec.DecodeError) as e:
            # Invalid UTF-8 (older msgspec raised UnicodeDecodeError, 0.23 raises DecodeError), or
            # a lone surrogate escape (valid JSON, which msgspec refuses): each replaced by U+FFFD.
            text = bytes(raw)
            utf8 = text.decode("utf-8", errors="replace").encode()
            mended = _ESCAPE.sub(_paired, utf8)
            if isinstance(e, msgspec.ValidationError) or mended == text:
                raise
            event = _event_decoder.decode(mended)
            if utf8 != text:
                report.warn(reason("utf8"), index)
            if mended != utf8:
                report.warn(reason("surrogate"), index)
            return event
    except msgspec.ValidationError as e:
        report.reject(index, str(e))
    except msgspec.DecodeError as e:
        report.reject(index, reason("not_json", error=e))
    except RecursionError:
        report.reject(index, reason("too_deep"))
    return None


# An escape in a JSON string: a surrogate pair, a lone surrogate (6 bytes), or any other.
_ESCAPE = re.compile(rb"\\(?:u[dD][89abAB][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
                     rb"|u[dD][c-fC-F][0-9a-fA-F]{2}|.)", re.S)


def _paired(escape: re.Match) -> bytes:
    return b"\\ufffd" if len(escape.group()) == 6 else escape.group()


def read_cloudtrail_file(
    path: str | Path, data: bytes | None = None, only: frozenset[str] | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> tuple[pa.Table, FileReport]:
    """One file's usable events as an Arrow table of the stored schema (the `cloudtrail` table's
    columns, then the file and each event's position in it), and its report.

    `data` is the file's bytes when the caller has read them already (to hash them, say).
    `only`, a set of event names, is for a scan that answers one question: every record is still
    checked and counted, and every usable event keeps its time, place and eventID (schema.SPINE_COLUMNS),
    but only the events named are converted whole; the others' other columns are NULL.
    A file whose text (inflated) is over `max_bytes` is rejected whole, with its reason.
    """
    # Decoding makes millions of small objects and no cycles: the cyclic GC would only slow it 4x.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _read(path, data, only, max_bytes)
    finally:
        if enabled:
            gc.enable()


def _read(path: str | Path, data: bytes | None, only: frozenset[str] | None,
          max_bytes: int) -> tuple[pa.Table, FileReport]:
    report = FileReport(path=str(path))
    part = partition_of(path)
    batches, failures = [], []
    try:
        documents = read_documents(path, data, report, max_bytes)
    except (OSError, EOFError, ValueError) as e:  # truncated gzip, too large, ...
        documents, failures = [], [e]
    for number, document in enumerate(documents, 1):
        try:
            for chunk in _chunks(document, report):
                batches.append(_read_chunk(chunk, only, part, report))
        except (OSError, EOFError, ValueError, msgspec.DecodeError) as e:  # not JSON, ...
            failures.append(e)
            if len(documents) > 1:  # the other members' records are still read
                lost = reason("gzip_member", member=number, reason=_reason(e))
                report.warn(lost)
                report.damage(lost)
    if failures and len(failures) >= len(documents):  # nothing in the file could be read
        report.error = _reason(failures[0])
        report.read = report.used = report.rejected = 0
        report.too_large = isinstance(failures[0], TooLarge)
        return pa.Table.from_batches([], STORED_SCHEMA), report
    report.offset = 0
    return pa.Table.from_batches(batches, STORED_SCHEMA), report


def _chunks(text: bytes, report: FileReport) -> Iterator[bytes | list]:
    """The file's text; one of more than a chunk of records as chunks of them, one at a time, so
    that only one chunk's records are ever decoded into objects at once: a trail file (or a JSON
    array of records), after white space or a byte order mark too, as documents of the same shape
    (_cut); any other (one event a line, trail documents among other text, a document that is not
    JSON as a whole) as lists of its records split already (_split), each list at most
    CHUNK_RECORDS records and CHUNK_BYTES of their text, a document among them cut as an intact
    file is."""
    if len(text) <= CHUNK_BYTES and text.count(b",") + text.count(b"\n") < CHUNK_RECORDS:
        yield text  # a record more than a comma or a line break at most
        return
    chunks = _cut(text, _LEADING.match(text).end(), len(text))
    yield from chunks if chunks is not None else _in_lists(_split(text, report))


_LEADING = re.compile(rb"[\xef\xbb\xbf \t\r\n]*")  # what _split strips before the text's value


def _cut(text: bytes, start: int, end: int) -> Iterable[bytes] | None:
    """The trail document (or JSON array of records) text[start:end] as documents of the same
    shape of at most CHUNK_RECORDS records and CHUNK_BYTES of their text each (one record over it
    alone); None where it is neither, or not JSON as a whole.

    The records are found by msgspec (a Raw of 56 bytes a record) where the text holds fewer than
    MAX_RAWS commas, else by _top_level_commas, 16 KB of text at a time, without an object a
    record: 20 million tiny records (60 MB) would have taken 1.1 GB of Raws alone."""
    array = text[start:start + 1] == b"["
    few = text.count(b",", start, end) < MAX_RAWS
    decoder = (_raw_list_decoder if few else _any_raw_decoder) if array else (
        _raw_trail_decoder if few else _records_raw_decoder)
    try:
        records = decoder.decode(memoryview(text)[start:end])
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None  # another shape, or a broken record: read record by record
    whole = [text if (start, end) == (0, len(text)) else text[start:end]]
    records = records if array else records.Records
    head, tail = (b"[", b"]") if array else (b'{"Records":[', b"]}")
    if few:
        cuts = list(_raw_cuts(records))
        if len(cuts) <= 1:  # one chunk: the text as it is
            return whole
        if not array:
            _refuse_repeated_envelope_key(whole[0])  # the chunks are new envelopes: now or never
        return (head + b",".join(bytes(r) for r in records[a:b]) + tail for a, b in cuts)
    at = _offset_in(text, records)
    if at is None or text[at:at + 1] != b"[":
        return whole
    spans = _spans(text, at + 1, at + len(records) - 1)  # between the brackets
    del records
    first, second = next(spans), next(spans, None)
    if second is None:
        return whole
    if not array:
        _refuse_repeated_envelope_key(whole[0])
    return (head + text[a:b] + tail for a, b in itertools.chain([first, second], spans))


def _in_lists(records: Iterable) -> Iterator[list]:
    """Records split already, in lists of at most CHUNK_RECORDS of them and CHUNK_BYTES of their
    text (a list ends at the record that brings it there)."""
    chunk, size = [], 0
    for record in records:
        chunk.append(record)
        size += 0 if isinstance(record, Refused) else len(record)
        if len(chunk) >= CHUNK_RECORDS or size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _raw_cuts(raws: list[msgspec.Raw]) -> Iterator[tuple[int, int]]:
    """(first, past the last) of each chunk of records: at most CHUNK_RECORDS of them, and a chunk
    ends at the record that brings it to CHUNK_BYTES."""
    start = size = 0
    for end, raw in enumerate(raws, 1):
        size += len(raw)
        if size >= CHUNK_BYTES or end - start >= CHUNK_RECORDS or end == len(raws):
            yield start, end
            start, size = end, 0


def _offset_in(text: bytes, raw: msgspec.Raw) -> int | None:
    """Where in `text` the Raw decoded from it starts (msgspec's Raw is a view of its input, not a
    copy); None where it cannot be told."""
    at = np.frombuffer(raw, np.uint8).ctypes.data - np.frombuffer(text, np.uint8).ctypes.data
    return at if 0 <= at <= len(text) - len(raw) else None


def _spans(text: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
    """(a, b) of each chunk of the elements of the array whose text is text[start:end] (between
    its brackets): at most CHUNK_RECORDS elements each, and a chunk ends at the first element that
    brings it to CHUNK_BYTES. text[a:b] is the chunk's elements and the commas between them."""
    pending = np.empty(0, np.int64)  # the top-level commas not yet given to a chunk
    a = start
    for commas in _top_level_commas(text, start, end):
        pending = np.concatenate([pending, commas]) if len(pending) else commas
        while len(pending):
            at = min(CHUNK_RECORDS - 1, int(np.searchsorted(pending, a + CHUNK_BYTES)))
            if at >= len(pending):
                break  # the chunk goes on past the commas found so far
            cut = int(pending[at])
            yield a, cut
            a, pending = cut + 1, pending[at + 1:]
    yield a, end


SCAN_BYTES = 1 << 14  # text scanned at a time for the commas between records (arrays of 8 bytes a byte of it)
# bytes.translate: a bracket or brace that opens 1, that closes 2, a comma 3, a quote 4, else 0
_STRUCTURE = bytes(1 if b in b"[{" else 2 if b in b"]}" else 3 if b == ord(",") else
                   4 if b == ord('"') else 0 for b in range(256))
_STEPS = np.array([0, 1, -1, 0, 0], np.int64)


def _top_level_commas(text: bytes, start: int, end: int) -> Iterator[np.ndarray]:
    """The positions of the commas between the elements of the array text[start:end] (its
    content, brackets excluded, valid JSON), in arrays of ascending positions, SCAN_BYTES of text
    at a time."""
    for places, kinds, levels in _structure(text, start, end):
        yield places[(kinds == 3) & (levels == 0)]


def _structure(text: bytes, start: int, end: int,
               depth: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The brackets and commas of text[start:end] outside strings, SCAN_BYTES of text at a time:
    their positions, kinds (1 opens, 2 closes, 3 a comma) and the depth after each, from `depth`
    at `start` (outside a string). Brackets and commas counted outside strings, strings found by
    their quotes once every escaped backslash and quote is blotted out (in C, the same length;
    escapes read left to right, an escape cut by the block's end carried to the next)."""
    quotes, escaped = 0, False  # at the end of the text scanned so far
    for at in range(start, end, SCAN_BYTES):
        block = text[at:min(at + SCAN_BYTES, end)]
        if escaped:  # the first byte is the character a backslash before the block escapes
            block = b"_" + block[1:]
        if b"\\" in block:
            block = block.replace(b"\\\\", b"__").replace(b'\\"', b"__")
            escaped = block.endswith(b"\\")
        else:
            escaped = False
        codes = np.frombuffer(block.translate(_STRUCTURE), np.uint8)
        places = np.flatnonzero(codes)
        kinds = codes[places]
        quoted = np.cumsum(kinds == 4) + quotes  # the quotes up to each place, this one included
        outside = (quoted % 2 == 0) & (kinds != 4)
        places, kinds = places[outside], kinds[outside]
        levels = np.cumsum(_STEPS[kinds]) + depth
        yield places + at, kinds, levels
        depth = int(levels[-1]) if len(levels) else depth
        quotes = int(quoted[-1]) % 2 if len(quoted) else quotes


def _read_chunk(text: bytes | list, only: frozenset[str] | None, part: PathPartition,
                report: FileReport) -> pa.RecordBatch:
    """The usable events of one chunk of the file (its records counted from report.read on)."""
    report.offset, elsewhere = report.read, report.elsewhere
    decoded = _decode_all(text, report) if only is None else _glance_all(text, report)
    report.read += len(decoded) - (report.elsewhere - elsewhere)
    indexes, times = _check_all(decoded, report)
    events = [decoded[i] for i in indexes]
    if only is not None:
        return _focused(text, events, times, indexes, only, part, report)
    report.used += len(events)
    return _batch(events, times, indexes, part, report)


def _glance_all(data: bytes, report: FileReport) -> list:
    """Every record glanced at (a trail file of good records, in one C call), or else decoded whole.

    A glance reads top-level members alone, so their keys are checked here; a record named by the
    scan's `only` is decoded whole later (_focused), and every key of it checked then."""
    if isinstance(data, list):  # records split already: each decoded whole
        return _decode_all(data, report)
    any_crowded = _any_crowded(data)
    if not any_crowded and _trail_keys_unique(data, deep=False):
        try:
            glances = _glance_decoder.decode(data).Records
            report.shape = "records"
            return glances
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            pass
    return _decode_all(data, report, any_crowded)


def _focused(text: bytes, events: list, times: list[str], indexes: list[int], only: frozenset[str],
             part: PathPartition, report: FileReport) -> pa.RecordBatch:
    """The named events converted whole, and every other usable event as its spine alone. A name
    is matched case and every character but letters and digits aside (events.name_key): a forged
    `authorizesecuritygroupingress` kept as its spine alone hid the call."""
    keys = {name_key(n) for n in only}
    wanted = {n for n in {e.eventName for e in events} if n in only or name_key(n) in keys}
    named = [e.eventName in wanted for e in events]
    whole, whole_times, whole_indexes = [], [], []
    raws = None
    for event, time, index in compress(zip(events, times, indexes), named):
        if isinstance(event, _Glance):  # decoded whole now; its other members may still be unusable
            raws = raws if raws is not None else _raw_trail_decoder.decode(text).Records
            event = _decode_one(raws[index], index, report)
            if event is None:
                continue
        whole.append(event)
        whole_times.append(time)
        whole_indexes.append(index)
    others = [not n for n in named]
    rest, rest_times = list(compress(events, others)), list(compress(times, others))
    rest_indexes = list(compress(indexes, others))
    report.used += len(whole) + len(rest)
    n = len(rest)
    if part.account:
        accounts = [part.account] * n
    else:
        accounts = [e.recipientAccountId or (e.userIdentity.accountId if e.userIdentity else None) for e in rest]
    spine = {  # schema.SPINE_COLUMNS
        "eventtime": rest_times,
        "eventid": _attr(rest, "eventID"),
        "account": accounts,
        "region": [part.region] * n if part.region else _attr(rest, "awsRegion"),
        "day": _days(rest_times),
        "$path": [report.path] * n,
    }
    columns = [_strings(spine[f.name]) if f.name in spine else pa.nulls(n, f.type) for f in STORED_SCHEMA]
    columns[STORED_SCHEMA.get_field_index("record_index")] = pa.array(
        [i + report.offset for i in rest_indexes], pa.int64())
    spine_batch = pa.RecordBatch.from_arrays(columns, schema=STORED_SCHEMA)
    if not whole:  # most files of a real trail: building even an empty batch costs a millisecond
        return spine_batch
    return pa.concat_batches([_batch(whole, whole_times, whole_indexes, part, report), spine_batch])


def read_documents(path: str | Path, data: bytes | None, report: FileReport,
                   limit: int = MAX_FILE_BYTES) -> list[bytes]:
    """The file's text, inflated (`data`: its bytes, if the caller has them already), as documents:
    one per gzip member that is a whole JSON value (`cat a.json.gz b.json.gz`), then one of the
    members from the first that is not. The size and SHA-256 of its bytes are in the report, and a warning for the bytes after a
    broken member. TooLarge if the file or its text is over `limit`: a file over it on disk is
    hashed a MB at a time and never held."""
    if data is None:
        with open(path, "rb") as f:  # read only, as all evidence
            if os.fstat(f.fileno()).st_size > limit:
                digest = hashlib.file_digest(f, "sha256")
                report.size, report.sha256 = f.tell(), digest.hexdigest()
                raise TooLarge(reason("too_big", size=f"{report.size:,}", limit=f"{limit:,}"))
            data = f.read()
    report.size, report.sha256 = len(data), hashlib.sha256(data).hexdigest()
    pieces, unread = _members(data, limit)
    if unread:
        report.warn(unread)
        report.damage(unread)
    left = limit
    for number, piece in enumerate(pieces):
        pieces[number] = _as_utf8(piece, left, limit, report)
        left -= len(pieces[number])
    if len(pieces) == 1:
        return pieces
    # Members that are whole documents each are one each (`cat a.json.gz b.json.gz`), those of
    # trail documents merged into one (a document costs milliseconds: 40,000 tiny members took
    # minutes); from the first that is not whole (a document cut across members, garbage appended),
    # or past MAX_DOCUMENTS, the rest is one.
    documents: list[bytes] = []
    records: list[msgspec.Raw] = []
    whole = 0
    while whole < len(pieces) and len(documents) < MAX_DOCUMENTS and _whole(pieces[whole]):
        raws = _trail_records(pieces[whole])
        if raws is None:  # another shape, or an envelope to refuse: read on its own
            documents += [_trail_document(records), pieces[whole]] if records else [pieces[whole]]
            records = []
        else:
            records += raws
        whole += 1
    if records:
        documents.append(_trail_document(records))
    rest = pieces[whole:]
    return documents + ([rest[0] if len(rest) == 1 else b"".join(rest)] if rest else [])


# The byte order marks of the other encodings JSON text may come in (UTF-32LE's begins with UTF-16LE's).
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _as_utf8(text: bytes, left: int, limit: int, report: FileReport) -> bytes:
    """Text in UTF-16 or UTF-32 with a byte order mark (Windows PowerShell's `>` writes UTF-16LE)
    as UTF-8, of at most `left` bytes (else TooLarge); any other text as it is."""
    for bom, codec in _BOMS:
        if text.startswith(bom):
            break
    else:
        return text
    name = codec.upper().replace("-LE", "LE").replace("-BE", "BE")
    report.warn(reason("byte_order_mark", name=name))
    try:
        return _recoded(memoryview(text)[len(bom):], codec, "strict", left, limit)
    except UnicodeDecodeError:
        report.warn(reason("invalid_text", name=name))
        return _recoded(memoryview(text)[len(bom):], codec, "replace", left, limit)


def _recoded(text: memoryview, codec: str, errors: str, left: int, limit: int) -> bytes:
    """`text` decoded from `codec` and encoded as UTF-8, a MB at a time: never more than `left`
    bytes of UTF-8 and one MB of str are held besides it."""
    decoder, out, size = codecs.getincrementaldecoder(codec)(errors), [], 0
    for at in range(0, len(text) + 1, 1 << 20):
        out.append(decoder.decode(text[at:at + (1 << 20)], final=at + (1 << 20) > len(text)).encode())
        size += len(out[-1])
        if size > left:
            raise TooLarge(f"the file's text, as UTF-8, is more than the limit of {limit:,} bytes")
    return b"".join(out)


def _trail_records(text: bytes) -> list[msgspec.Raw] | None:
    """The records of a trail document whose envelope holds each key once; None otherwise."""
    try:
        raws = _raw_trail_decoder.decode(text).Records
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None
    return raws if repeated_key(text) is None else None


def _trail_document(records: list[msgspec.Raw]) -> bytes:
    return b'{"Records":[' + b",".join(bytes(r) for r in records) + b"]}"


def read_text(path: str | Path, data: bytes | None, report: FileReport,
              limit: int = MAX_FILE_BYTES) -> bytes:
    """The file's text as one document (read_documents' joined)."""
    documents = read_documents(path, data, report, limit)
    return documents[0] if len(documents) == 1 else b"\n".join(documents)


@dataclass(frozen=True)
class BadElement:
    """An element of a document's array that could not be decoded on its own, and why."""

    reason: str


def decode_by_element(text: bytes, arrays: tuple[str, ...]) -> object:
    """The JSON document `text`, the elements of its top-level arrays named `arrays` left undecoded
    (decode_element decodes each when it is read: a file's items are never all objects at once,
    which took 2 GB for 197 MB of Config items). Where the document cannot be decoded (a NaN, a
    value nested too deep), its top-level object is read member by member: an element then fails
    alone, in decode_element, and another member that cannot be decoded is None. Raises
    msgspec.DecodeError or RecursionError when the text is not even an object whose members the
    brackets find."""
    try:
        members = _keyed_decoder.decode(text)
    except (msgspec.DecodeError, RecursionError):
        try:
            return msgspec.json.decode(text)  # not an object: its error, or another shape
        except (msgspec.DecodeError, RecursionError):
            text = text.lstrip(b"\xef\xbb\xbf \t\r\n")
            if text[:1] != b"{" or not _one_document(text):
                raise
        members = dict(_object_members(text))
    document: dict = {}
    for key, value in members.items():
        opening = _ARRAY_START.match(memoryview(value)) if key in arrays else None
        if opening:  # a Raw is a view of the text; a member found by brackets is a copy
            source = text if isinstance(value, msgspec.Raw) else value
            start = (_offset_in(text, value) if source is text else 0) + opening.end() - 1
            document[key] = Elements(source, start, start - opening.end() + 1 + len(value))
        else:
            element = decode_element(value)
            document[key] = None if isinstance(element, BadElement) else element
    return document


# however much whitespace precedes the '[' (a window of 64 bytes lost a list after more)
_ARRAY_START = re.compile(rb"\s*\[")
_EMPTY_ARRAY = re.compile(rb"\[\s*\]\s*")


class Elements:
    """The elements of a document's JSON array text[start:end], undecoded, found a chunk of them
    at a time (_cut) as they are iterated: a state file of millions of tiny items was a Raw an
    item (56 bytes each, 20 million `{}` some 1.3 GB) at once. An array that is not JSON as a
    whole (a NaN) is split by brackets (_elements), as before."""

    def __init__(self, text: bytes, start: int, end: int):
        self.text, self.start, self.end = text, start, end

    def __iter__(self) -> Iterator[bytes | msgspec.Raw]:
        chunks = _cut(self.text, self.start, self.end)
        if chunks is None:
            yield from _elements(self.text[self.start:self.end], 0)
            return
        for chunk in chunks:
            yield from _raw_list_decoder.decode(chunk)

    def __bool__(self) -> bool:
        return not _EMPTY_ARRAY.fullmatch(self.text, self.start, self.end)


def decode_element(raw: object) -> object:
    """One element of a document (decode_by_element); a BadElement with the reason where it cannot
    be decoded, or where it may make more objects than a record may (crowded: its text is then
    never decoded). A value that is not JSON text is already decoded, and is returned as it is."""
    if not isinstance(raw, (bytes, msgspec.Raw)):
        return raw
    if crowded(raw):  # a Config item or describe entry is bounded as a record is, never decoded
        return BadElement(reason("crowded", bound=f"{MAX_RECORD_VALUES:,}"))
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError as e:
        return BadElement(reason("not_json", error=e))
    except RecursionError:
        return BadElement(reason("too_deep"))
    # a key twice (a second resourceType or IpPermissions) is never read as its last
    key = repeated_in(raw, value)
    return BadElement(reason("key_twice_item", key=key)) if key else value


def repeated_in(raw: bytes | msgspec.Raw, value: object) -> str | None:
    """A key held twice by an object of the JSON `raw` at any depth, by its path (repeated_key),
    given `value`, `raw` decoded already: proven absent in C where it can be; else None."""
    return None if _unique(raw, value) else repeated_key(raw, deep=True)


def _object_members(text: bytes) -> Iterator[tuple[str, bytes]]:
    """(key, undecoded value) of each member of the JSON object `text`, by brackets alone."""
    key, start = None, 0
    for token, char, depth in _walk(text):
        if depth == 1 and char == 34 and key is None and _COLON.match(text, token.end()):  # '"'
            try:
                key = msgspec.json.decode(token.group())
            except msgspec.DecodeError:
                key = ""
            start = _COLON.match(text, token.end()).end()
        elif key is not None and (char == ord(",") and depth == 1 or char in b"]}" and depth == 0):
            yield key, text[start:token.start()]
            key = None


def _reason(error: BaseException) -> str:
    if isinstance(error, (EOFError, igzip.BadGzipFile)) or "gzip" in str(error).lower() or "compressed" in str(error).lower():
        return reason("corrupt_gzip", error=error)
    if isinstance(error, msgspec.DecodeError):
        return reason("not_json", error=error)
    return reason_of(error) or type(error).__name__
