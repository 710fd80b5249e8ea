"""Read CloudTrail files of any shape into Arrow batches shaped like Athena's table.

A file may be gzipped or plain, and hold a `{"Records": [...]}` object (what a trail writes), a JSON
array of events, one event per line, or one event. Nothing here trusts the file: a record that cannot
be used is rejected with its reason, a file that cannot be read at all is reported with its reason,
and the other records and files go on. For every file, read = used + rejected.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import msgspec
import pyarrow as pa
from isal import igzip

from .layout import PathPartition, partition_of
from .schema import CLOUDTRAIL_SCHEMA, KNOWN_EVENT_VERSIONS, Event

MAX_REASONS_PER_FILE = 20  # keep a report readable when a whole file is garbage
_HOSTNAME = re.compile(r"^[A-Za-z0-9.-]+$")  # 'ec2.amazonaws.com', 'AWS Internal' is handled apart


@dataclass
class FileReport:
    path: str
    shape: str = ""  # records | array | lines | single | digest | empty
    read: int = 0
    used: int = 0
    rejected: int = 0
    error: str | None = None  # the whole file could not be read
    rejections: list[str] = field(default_factory=list)  # 'record 3: reason'
    warnings: list[str] = field(default_factory=list)  # used, but something is off

    def reject(self, index: int, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REASONS_PER_FILE:
            self.rejections.append(f"record {index}: {reason}")

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_REASONS_PER_FILE:
            self.warnings.append(message)


@dataclass
class IntakeReport:
    """What was read from the evidence, file by file, and what could not be used and why."""

    files: list[FileReport] = field(default_factory=list)
    duplicates: int = 0  # events whose eventID was already seen (e.g. delivered by two trails)

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
    def problems(self) -> list[FileReport]:
        return [f for f in self.files if f.error or f.rejected or f.warnings]

    def summary(self) -> str:
        return (
            f"{len(self.files)} files, {self.read} events read, {self.used} used, {self.rejected} rejected, "
            f"{len(self.bad_files)} unreadable files, {self.duplicates} duplicate events counted once"
        )


class _Envelope(msgspec.Struct):
    Records: list[msgspec.Raw] | None = None
    # The output of `aws cloudtrail lookup-events`: the record is a JSON string in CloudTrailEvent.
    Events: list[msgspec.Raw] | None = None
    digestStartTime: str | None = None
    eventName: str | None = None


class _LookupEvent(msgspec.Struct):
    CloudTrailEvent: str | None = None


_event_decoder = msgspec.json.Decoder(Event)
_envelope_decoder = msgspec.json.Decoder(_Envelope)
_raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_lookup_decoder = msgspec.json.Decoder(_LookupEvent)


def _decompress(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return igzip.decompress(data)
    return data


def _split(data: bytes, report: FileReport) -> list[bytes | msgspec.Raw]:
    """The file's records, undecoded, and its shape."""
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        report.shape = "empty"
        return []
    if text[:1] == b"[":
        report.shape = "array"
        return _raw_list_decoder.decode(text)
    try:
        envelope = _envelope_decoder.decode(text)
    except msgspec.DecodeError:
        # Not one JSON document: one event per line (blank lines allowed), or not JSON at all.
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines[0].lstrip().startswith(b"{"):
            raise ValueError(f"not JSON: the file starts with {lines[0][:40]!r}") from None
        report.shape = "lines"
        return lines
    except msgspec.ValidationError as e:
        raise ValueError(f"not a CloudTrail file: {e}") from None
    if envelope.Records is not None:
        report.shape = "records"
        return envelope.Records
    if envelope.Events is not None:
        report.shape = "lookup-events"
        return [_lookup_decoder.decode(raw).CloudTrailEvent or b"null" for raw in envelope.Events]
    if envelope.digestStartTime is not None:
        report.shape = "digest"
        return []
    report.shape = "single"
    return [text]


def _text(raw: msgspec.Raw, report: FileReport, index: int) -> str | None:
    data = bytes(raw)
    if not data or data == b"null":
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        report.warn(f"record {index}: invalid UTF-8 replaced by U+FFFD")
        return data.decode("utf-8", errors="replace")


def _flag(value: str | bool | None) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _event_time(event: Event) -> str:
    """The event's time as Athena's eventtime string; raises ValueError when there is none."""
    if event.eventTime is not None:
        datetime.fromisoformat(event.eventTime.replace("Z", "+00:00"))  # validates
        return event.eventTime
    if event.timestamp is not None:
        moment = datetime.fromisoformat(event.timestamp.replace("Z", "+00:00")).astimezone(timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise ValueError("no eventTime")


def _source_ip_ok(value: str | None) -> bool:
    if value is None or value == "AWS Internal":
        return True
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(value)) and "." in value  # a service such as ec2.amazonaws.com


class _Columns:
    """Rows gathered column by column, for a fast Arrow build."""

    def __init__(self) -> None:
        self.cols: dict[str, list] = {name: [] for name in CLOUDTRAIL_SCHEMA.names}

    def add(self, e: Event, time: str, raw_json: dict, part: PathPartition) -> None:
        c = self.cols
        ui = e.userIdentity if isinstance(e.userIdentity, msgspec.Struct) else None
        if ui is None:
            c["useridentity"].append(None)
        else:
            sc = ui.sessionContext
            attrs = sc.attributes if sc else None
            issuer = sc.sessionIssuer if sc else None
            obo = ui.onBehalfOf
            c["useridentity"].append(
                {
                    "type": ui.type,
                    "principalid": ui.principalId,
                    "arn": ui.arn,
                    "accountid": ui.accountId,
                    "invokedby": ui.invokedBy,
                    "accesskeyid": ui.accessKeyId,
                    "username": ui.userName,
                    "onbehalfof": None if obo is None else {"userid": obo.userId, "identitystorearn": obo.identityStoreArn},
                    "sessioncontext": None
                    if sc is None
                    else {
                        "attributes": None
                        if attrs is None
                        else {"mfaauthenticated": _flag(attrs.mfaAuthenticated), "creationdate": attrs.creationDate},
                        "sessionissuer": None
                        if issuer is None
                        else {
                            "type": issuer.type,
                            "principalid": issuer.principalId,
                            "arn": issuer.arn,
                            "accountid": issuer.accountId,
                            "username": issuer.userName,
                        },
                        "ec2roledelivery": sc.ec2RoleDelivery,
                        "sourceidentity": sc.sourceIdentity,
                    },
                }
            )
        c["eventversion"].append(e.eventVersion)
        c["eventtime"].append(time)
        c["eventsource"].append(e.eventSource)
        c["eventname"].append(e.eventName)
        c["awsregion"].append(e.awsRegion)
        c["sourceipaddress"].append(e.sourceIPAddress)
        c["useragent"].append(e.userAgent)
        c["errorcode"].append(e.errorCode)
        c["errormessage"].append(e.errorMessage)
        for name, value in raw_json.items():
            c[name].append(value)
        c["requestid"].append(e.requestID)
        c["eventid"].append(e.eventID)
        c["resources"].append(
            None if e.resources is None else [{"arn": r.ARN, "accountid": r.accountId, "type": r.type} for r in e.resources]
        )
        c["eventtype"].append(e.eventType)
        c["apiversion"].append(e.apiVersion)
        c["readonly"].append(_flag(e.readOnly))
        c["recipientaccountid"].append(e.recipientAccountId)
        c["sharedeventid"].append(e.sharedEventID)
        c["vpcendpointid"].append(e.vpcEndpointId)
        c["eventcategory"].append(e.eventCategory)
        tls = e.tlsDetails
        c["tlsdetails"].append(
            None
            if tls is None
            else {"tlsversion": tls.tlsVersion, "ciphersuite": tls.cipherSuite, "clienthostheader": tls.clientProvidedHostHeader}
        )
        c["account"].append(part.account or e.recipientAccountId or (ui.accountId if ui else None))
        c["region"].append(part.region or e.awsRegion)
        c["day"].append(part.day or time[:10].replace("-", "/"))

    def batch(self) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays(
            [pa.array(self.cols[f.name], type=f.type) for f in CLOUDTRAIL_SCHEMA], schema=CLOUDTRAIL_SCHEMA
        )


def _use(raw: bytes | msgspec.Raw, index: int, report: FileReport) -> Event | None:
    """Decode one record, or reject it with the reason."""
    try:
        try:
            event = _event_decoder.decode(raw)
        except UnicodeDecodeError:
            event = _event_decoder.decode(bytes(raw).decode("utf-8", errors="replace").encode())
            report.warn(f"record {index}: invalid UTF-8 replaced by U+FFFD")
    except msgspec.ValidationError as e:
        report.reject(index, str(e))
        return None
    except msgspec.DecodeError as e:
        report.reject(index, f"not JSON: {e}")
        return None
    if event.userIdentity is None:
        report.reject(index, "userIdentity is null where an object was expected")
        return None
    if not event.eventName or not event.eventSource:
        report.reject(index, "no eventName or eventSource: not a CloudTrail record")
        return None
    return event


def read_cloudtrail_file(path: str | Path) -> tuple[pa.RecordBatch, FileReport]:
    """One file's usable events as an Arrow batch of the `cloudtrail` schema, and its report."""
    report = FileReport(path=str(path))
    columns = _Columns()
    try:
        data = _decompress(Path(path).read_bytes())
        records = _split(data, report)
    except (OSError, EOFError, ValueError, msgspec.DecodeError) as e:  # truncated gzip, not JSON, ...
        report.error = _reason(e)
        return columns.batch(), report
    part = partition_of(path)
    report.read = len(records)
    for index, raw in enumerate(records):
        event = _use(raw, index, report)
        if event is None:
            continue
        try:
            time = _event_time(event)
        except ValueError as e:
            report.reject(index, f"eventTime is not an ISO 8601 time: {e}")
            continue
        if event.eventVersion is not None and event.eventVersion not in KNOWN_EVENT_VERSIONS:
            report.warn(f"record {index}: unknown eventVersion {event.eventVersion!r}, read as the latest known")
        if not _source_ip_ok(event.sourceIPAddress):
            report.warn(f"record {index}: sourceIPAddress {event.sourceIPAddress!r} is neither an IP nor a service")
        raw_json = {
            "requestparameters": _text(event.requestParameters, report, index),
            "responseelements": _text(event.responseElements, report, index),
            "additionaleventdata": _text(event.additionalEventData, report, index),
            "serviceeventdetails": _text(event.serviceEventDetails, report, index),
        }
        columns.add(event, time, raw_json, part)
        report.used += 1
    return columns.batch(), report


def _reason(error: BaseException) -> str:
    if isinstance(error, (EOFError, igzip.BadGzipFile)) or "gzip" in str(error).lower() or "compressed" in str(error).lower():
        return f"truncated or corrupt gzip: {error}"
    if isinstance(error, msgspec.DecodeError):
        return f"not JSON: {error}"
    return str(error) or type(error).__name__
