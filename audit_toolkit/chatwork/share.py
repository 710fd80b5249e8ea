"""Share findings to a Chatwork room: render, skip what was already sent, post the rest, record it.

    from audit_toolkit.chatwork import share
    share(inv.ssh_exposure(), room=123456, dry_run=True).preview()   # exactly what would be posted
    share(inv.ssh_exposure(), room=123456)                           # posts each window once, ever

Each message ends with a `ref:` line naming its fingerprint and part. The outbox keys on the same
fingerprint, and a post whose answer was lost is looked for by that line in the room before it is
posted again: so neither a re-run, a fault nor an interrupted batch posts a finding twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..analysis.events import records
from ..analysis.exposure import exposed_ports_together
from ..errors import ConfigError
from ..settings import Settings
from . import messages
from .client import API_BASE, ChatworkClient, ChatworkError, SendUncertain, load_token
from .notation import MAX_BODY, Box, is_missing
from .outbox import Outbox

if TYPE_CHECKING:  # findings may come as DataFrames; the Lambda shares plain rows without pandas
    import pandas as pd

KINDS = ("sg-changes", "ssh-exposure", "guardduty", "correlations", "detections", "connections",
         "summary", "digest")
OUTBOX_ENV = "AUDIT_TOOLKIT_CHATWORK_OUTBOX"
DEFAULT_OUTBOX = Path("~/.local/state/audit-toolkit/chatwork-outbox.sqlite")
BASE_ENV = "CHATWORK_API_BASE"
_REF_SPACE = 64  # room kept in each body for the ref line
_POST_TRIES = 3

# What makes two rows the same finding (so the same message): never the wording, language or zone.
IDENTITY = {
    "sg-changes": ["event_id", "account", "region", "group_id", "group_name", "direction", "protocol",
                   "from_port", "to_port", "peer", "rule_id"],
    # A window that has since closed is news: its closing event is part of its identity.
    "ssh-exposure": ["account", "region", "group_id", "group_name", "direction", "protocol", "from_port",
                     "to_port", "cidr", "opened_event_id", "closed_event_id", "still_open"],
    # A finding whose severity rose is news; so is each of findings that share an id (one forged).
    "guardduty": ["id", "account", "region", "type", "severity", "title", "description", "resource_type",
                  "instance_id", "action_type", "remote_ip"],
    # The Lambda's hit and the batch's hit of one record are one message; records that share an
    # eventID (one forged) are each their own message.
    "detections": ["detection", "event_id", "event_time", "outcome", "error_code", "target"],
    # A source whose flows grew through a still-open window is news again; so is a gap that changed.
    "connections": ["account", "region", "group_id", "cidr", "opened_at", "kind", "source", "gap",
                    "interfaces", "verdict", "accepted", "rejected", "bytes_in", "bytes_out",
                    "first_seen", "last_seen"],
}


@dataclass(frozen=True)
class Outgoing:
    """One message as it will be posted: `body` ends with its `ref:` line."""

    kind: str
    fingerprint: str
    part: int
    parts: int
    body: str

    @property
    def ref(self) -> str:
        return ref_line(self.fingerprint, self.part)


REF_PREFIX = "ref: "


def ref_line(fingerprint: str, part: int) -> str:
    return f"{REF_PREFIX}{fingerprint}-{part}"


def _plain(value: object) -> object:
    if is_missing(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def fingerprint(kind: str, identity: Mapping) -> str:
    text = json.dumps([kind, {k: _plain(v) for k, v in identity.items()}], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _is_frame(items: object) -> bool:
    return hasattr(items, "columns") and hasattr(items, "to_dict")


def _rows(items: pd.DataFrame | Iterable[Mapping]) -> list[dict]:
    return records(items) if _is_frame(items) else [dict(i) for i in items]


def infer_kind(items: pd.DataFrame | Iterable[Mapping]) -> str:
    columns = set(items.columns) if _is_frame(items) else set().union(*(set(r) for r in items))
    if {"kind", "verdict", "opened_at"} <= columns:
        return "connections"
    if {"finding", "window"} <= columns or {"finding_id", "opened_at"} <= columns:
        return "correlations"
    if {"detection", "outcome"} <= columns:
        return "detections"
    if {"opened_at", "cidr"} <= columns:
        return "ssh-exposure"
    if {"event_id", "action"} <= columns:
        return "sg-changes"
    if {"type", "severity"} <= columns:
        return "guardduty"
    raise ConfigError(f"cannot tell what these findings are; pass kind= one of {', '.join(KINDS[:-2])}")


def correlation_parts(row: Mapping) -> tuple[dict, dict]:
    """A flat row of Investigation.correlate (analysis.findings.CORRELATION_COLUMNS) as (finding, window)."""
    finding = {"id": row.get("finding_id"), "type": row.get("finding_type"), "severity": row.get("severity"),
               "severity_label": row.get("severity_label"), "title": row.get("title"), "account": row.get("account"),
               "region": row.get("region"), "instance_id": row.get("instance_id"), "remote_ip": row.get("remote_ip"),
               "country": row.get("remote_country"), "port": row.get("local_port"), "updated_at": row.get("last_seen")}
    window = {k: row.get(k) for k in ("account", "region", "group_id", "group_name", "direction", "protocol", "from_port",
                                      "to_port", "cidr", "opened_at", "opened_by", "closed_at", "closed_by", "still_open",
                                      "opened_event_id", "closed_event_id", "exposed_ports")}
    return finding, window


def _box(kind: str, row: Mapping, settings: Settings,
         exposed: list[int] | None = None) -> tuple[Box, Mapping]:
    if kind == "sg-changes":
        return messages.sg_change(row, settings, exposed), row
    if kind == "ssh-exposure":
        return messages.exposure_window(row, settings), row
    if kind == "guardduty":
        return messages.guardduty_finding(row, settings), row
    if kind == "detections":
        return messages.detection_hit(row, settings), row
    if kind == "connections":
        return messages.connection(row, settings), row
    if kind == "correlations":
        finding, window = (row["finding"], row["window"]) if "finding" in row else correlation_parts(row)
        identity = {"finding": finding.get("id"), **{k: window.get(k) for k in IDENTITY["ssh-exposure"]}}
        return messages.correlation(finding, window, settings), identity
    raise ConfigError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")


def _identity(kind: str, row: Mapping) -> Mapping:
    """What makes a message the same message. A group's name counts only where its id is unknown:
    names reach rows from state and other calls (analysis.state), and a name learnt later must not
    make an item already shared look new."""
    if kind not in IDENTITY:
        return row
    identity = {k: row.get(k) for k in IDENTITY[kind]}
    if "event_time" in identity:
        identity["event_time"] = _instant(identity["event_time"])
    group_id = identity.get("group_id")
    if "group_name" in identity and isinstance(group_id, str) and group_id:
        identity["group_name"] = None
    return identity


def _instant(value: object) -> object:
    """A time as one text, whether it came as the batch's Timestamp or the Lambda's AWS text."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def outgoing(boxes: Iterable[tuple[str, Box, Mapping]]) -> list[Outgoing]:
    """Messages for (kind, box, identity) triples: each box split to fit, each part with its ref line."""
    out = []
    for kind, box, identity in boxes:
        fp = fingerprint(kind, _identity(kind, identity))
        bodies = box.split(MAX_BODY - _REF_SPACE)
        out += [Outgoing(kind, fp, i, len(bodies), f"{body}\n{ref_line(fp, i)}") for i, body in enumerate(bodies, 1)]
    return out


def messages_for(items: pd.DataFrame | Iterable[Mapping], kind: str | None = None,
                 settings: Settings | None = None) -> list[Outgoing]:
    """The messages for findings of one kind (inferred from their columns when not given)."""
    settings = settings or Settings.load()
    rows = _rows(items)
    kind = kind or (infer_kind(items) if rows else "sg-changes")
    return outgoing((kind, *_box(kind, row, settings, exposed))
                    for row, exposed in zip(rows, _exposures(kind, rows, settings)))


def _exposures(kind: str, rows: list[dict], settings: Settings) -> list[list[int] | None]:
    """The watched ports each change lets in from the internet, with the rest of its event."""
    return exposed_ports_together(rows, settings) if kind == "sg-changes" else [None] * len(rows)


def summary_messages(changes: pd.DataFrame | None, windows: pd.DataFrame | None, findings: pd.DataFrame | None = None,
                     settings: Settings | None = None, since: object = None, until: object = None) -> list[Outgoing]:
    """The audit summary as messages; the same summary is shared once, a changed one again."""
    box = messages.summary(changes, windows, findings, settings or Settings.load(), since, until)
    return outgoing([("summary", box, {"content": box.render()})])


# When each kind of item happened (the first field set): what a --per-day digest groups by.
_ITEM_TIME = {"sg-changes": ("event_time",), "ssh-exposure": ("opened_at", "closed_at"),
              "detections": ("event_time",), "guardduty": ("updated_at", "last_seen"),
              "connections": ("first_seen", "opened_at")}


def _item_time(kind: str, row: Mapping) -> object:
    return next((row.get(k) for k in _ITEM_TIME[kind] if not is_missing(row.get(k))), None)


def _failed(row: Mapping) -> bool:
    """An attempt (a failed call) ranks after the change itself among items of one severity."""
    return row.get("outcome") == "attempt" or not is_missing(row.get("error_code"))


def _digest_item(kind: str, row: Mapping, settings: Settings,
                 exposed: list[int] | None) -> tuple[str, str, Box]:
    box, _ = _box(kind, row, settings, exposed)
    if kind == "sg-changes":
        severity = messages.sg_severity(row, exposed)
    elif kind == "ssh-exposure":
        severity = "high" if row.get("still_open") is True else "medium"
    elif kind == "detections":
        severity = str(row.get("severity") or "").lower()
    elif kind == "connections":
        severity = messages.connection_severity(row)
    else:
        severity = messages.finding_severity(row)
    return kind, severity if severity in messages.SEVERITY_ORDER else "info", box


def digest_messages(sections: Mapping[str, pd.DataFrame | Iterable[Mapping]],
                    settings: Settings | None = None, since: object = None, until: object = None,
                    per_day: bool = False) -> list[Outgoing]:
    """One message for everything found (sections: kind -> rows), or one a day with `per_day`:
    counts by kind and severity and the most severe items; the same digest is shared once, a
    changed one again."""
    settings = settings or Settings.load()
    found = []
    for kind, items in sections.items():
        rows = _rows(items)
        found += [(_digest_item(kind, row, settings, exposed), _item_time(kind, row), _failed(row))
                  for row, exposed in zip(rows, _exposures(kind, rows, settings))]
    found.sort(key=lambda f: (messages.SEVERITY_ORDER.index(f[0][1]), f[2]))
    items = [(item, when) for item, when, _ in found]
    if not per_day:
        boxes = [messages.digest([i for i, _ in items], settings, since, until)]
    else:
        words = messages._Words(settings)
        days: dict[str, list] = {}
        for item, when in items:
            day = words.when(when)[:10] if when is not None else words.t["no_day"]
            days.setdefault(day, []).append(item)
        boxes = [messages.digest(found, settings, day=day) for day, found in sorted(days.items())]
    return outgoing([("digest", box, {"content": box.render()}) for box in boxes])


@dataclass
class ShareReport:
    room: str
    sent: list[Outgoing] = field(default_factory=list)  # posted now
    skipped: list[Outgoing] = field(default_factory=list)  # already in the room (outbox or found by ref)
    to_send: list[Outgoing] = field(default_factory=list)  # dry run: what would be posted
    dry_run: bool = False

    def preview(self) -> str:
        """The messages a dry run would post, exactly, with a separator line between them."""
        return "\n".join(
            f"----- {i}/{len(self.to_send)} {o.kind} {o.fingerprint}-{o.part} -----\n{o.body}"
            for i, o in enumerate(self.to_send, 1)
        )

    def __repr__(self) -> str:
        what = f"to_send={len(self.to_send)}" if self.dry_run else f"sent={len(self.sent)}"
        return f"ShareReport(room={self.room!r}, {what}, skipped={len(self.skipped)})"


def default_client() -> ChatworkClient:
    """A client with the token from the environment or the token file."""
    return ChatworkClient(load_token(), base_url=os.environ.get(BASE_ENV) or API_BASE)


def open_outbox(outbox: Outbox | str | Path | None, readonly: bool = False) -> Outbox:
    if isinstance(outbox, Outbox):
        return outbox
    return Outbox(outbox or os.environ.get(OUTBOX_ENV) or DEFAULT_OUTBOX, readonly=readonly)


def share(items: pd.DataFrame | Iterable[Mapping] | list[Outgoing], room: str | int, *, kind: str | None = None,
          dry_run: bool = False, settings: Settings | None = None, client: ChatworkClient | None = None,
          outbox: Outbox | str | Path | None = None, self_unread: bool = False, check_room: bool = False) -> ShareReport:
    """Post each finding to `room` once. `dry_run` posts nothing, needs no token, and lists what would go.
    `check_room` also skips what the room's latest 100 messages already carry, for a sender whose outbox
    may be new (a cold Lambda container) while its events are delivered again.

    A failure stops the batch with an error that says how far it got; running it again sends the rest.
    """
    items = items if isinstance(items, list) and items and isinstance(items[0], Outgoing) else messages_for(items, kind, settings)
    room = str(room)
    report = ShareReport(room, dry_run=dry_run)
    box = open_outbox(outbox, readonly=dry_run)
    if dry_run:  # skips what the real send skips: what the outbox holds, and a message met earlier in the batch
        met = set()
        for o in items:
            sent = box.state(room, o.fingerprint, o.part) == "sent" or (o.fingerprint, o.part) in met
            (report.skipped if sent else report.to_send).append(o)
            met.add((o.fingerprint, o.part))
        return report
    client = client or default_client()
    unsent = [o for o in items if box.state(room, o.fingerprint, o.part) != "sent"]
    in_room = _refs_in_room(client, room) if check_room and unsent else {}
    for o in items:
        state = box.state(room, o.fingerprint, o.part)
        try:
            if state == "sent":
                report.skipped.append(o)
                continue
            found = in_room.get(o.ref)
            if found is None and state == "pending":  # a crash between the post and its record
                found = _refs_in_room(client, room).get(o.ref)
            if found:
                box.sent(room, o.fingerprint, o.part, found)
                report.skipped.append(o)
                continue
            box.pending(room, o.fingerprint, o.part)
            box.sent(room, o.fingerprint, o.part, _deliver(client, room, o, self_unread))
            report.sent.append(o)
        except ChatworkError as e:
            done = len(report.sent) + len(report.skipped)
            raise ChatworkError(f"{e} ({done} of {len(items)} messages are in room {room}; run again to send the rest)") from e
    return report


def _refs_in_room(client: ChatworkClient, room: str) -> dict[str, str]:
    """Ref line -> message id, for the room's latest messages."""
    return {line: str(m.get("message_id")) for m in client.recent_messages(room)
            for line in str(m.get("body", "")).splitlines() if line.startswith(REF_PREFIX)}


def _deliver(client: ChatworkClient, room: str, o: Outgoing, self_unread: bool) -> str:
    for _ in range(_POST_TRIES):
        try:
            return client.post_message(room, o.body, self_unread=self_unread)
        except SendUncertain:
            found = _refs_in_room(client, room).get(o.ref)
            if found:
                return found
    raise ChatworkError(f"{o.ref}: the answer to the post was lost {_POST_TRIES} times")


def share_file(path: str | Path, room: str | int, message: str | None = None, *, dry_run: bool = False,
               client: ChatworkClient | None = None, outbox: Outbox | str | Path | None = None) -> str | None:
    """Attach a file (a chart) to the room once; its fingerprint is its content. `message` is fixed wording
    from the caller, not evidence. Returns the file id, or None when skipped or in a dry run."""
    path = Path(path)
    content = path.read_bytes()
    fp = "file-" + hashlib.sha256(content).hexdigest()[:24]
    room = str(room)
    box = open_outbox(outbox, readonly=dry_run)
    if dry_run or box.state(room, fp, 1) == "sent":
        return None
    client = client or default_client()
    box.pending(room, fp, 1)
    mime = "image/png" if path.suffix.lower() == ".png" else "application/octet-stream"
    file_id = client.upload_file(room, content, path.name, message, mime)
    box.sent(room, fp, 1, file_id)
    return file_id
