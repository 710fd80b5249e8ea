"""What attacked the hole while it was open: GuardDuty findings joined to the exposure windows.

A finding is tied to a window when
- it is on an instance in the window's group: the group is among the security groups of the
  instance's network interfaces in the finding, or CloudTrail (RunInstances, ModifyInstanceAttribute,
  ModifyNetworkInterfaceAttribute, CreateNetworkInterface, AttachNetworkInterface) had the instance
  in that group while the window was open and the activity went on (a finding shows the groups at
  its last update, which may be after a change);
- its activity (first to last seen) overlaps the window (a still-open window has no end);
- its local port is within the rule's port range (any port for protocol -1), its protocol is the
  rule's, and its remote IP is of the family of the rule's CIDR (an IPv4 attacker does not come in
  through ::/0). A finding without a local port (DNS, API calls) did not come in through a port: it
  is not tied to a window.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Iterator

import pandas as pd

from ..phrases import TEXT
from .actors import short
from .events import json_object, records, text_of
from .security_groups import network

MEMBERSHIP_COLUMNS = ["account", "region", "instance_id", "network_interface_id", "group_id", "since", "until",
                      "event_name", "event_id"]
CORRELATION_COLUMNS = [
    "account", "region", "group_id", "group_name", "direction", "protocol", "from_port", "to_port", "cidr",
    "exposed_ports", "opened_at", "opened_by", "opened_by_arn", "opened_event_id", "closed_at", "closed_by",
    "closed_by_arn", "closed_event_id", "still_open", "open_before_evidence", "finding_id", "finding_type", "severity", "severity_label", "title", "instance_id",
    "remote_ip", "remote_country", "remote_org", "local_port", "first_seen", "last_seen", "count",
    "overlap_start", "overlap_end", "tied_by", "summary",
]


# --- which instance was in which group, from CloudTrail -------------------------------------------

def _items(value: Any) -> list[dict]:
    if isinstance(value, dict):
        value = value.get("items")
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _name(value: Any) -> str | None:
    """An id as CloudTrail writes it; a value of another JSON type names nothing (hostile input)."""
    return value if isinstance(value, str) and value else None


def _groups(holder: dict) -> list[str]:
    return [g["groupId"] for g in _items(holder.get("groupSet")) if _name(g.get("groupId"))]


def _assignments(row: dict, eni_owner: dict,
                 ) -> Iterator[tuple[str | None, str | None, list[str] | None]]:
    """(instance, network interface, groups) that one call set; groups None: unchanged."""
    request, response = json_object(row["requestparameters"]), json_object(row["responseelements"])
    name = row["eventname"]
    if name == "RunInstances":
        for instance in _items(response.get("instancesSet")):
            interfaces = _items(instance.get("networkInterfaceSet"))
            for eni in interfaces:
                if _name(eni.get("networkInterfaceId")):
                    owner = (row["account"], row["region"], eni["networkInterfaceId"])
                    eni_owner[owner] = _name(instance.get("instanceId"))
            if interfaces:
                for eni in interfaces:
                    yield (_name(instance.get("instanceId")), _name(eni.get("networkInterfaceId")),
                           _groups(eni) or _groups(instance))
            else:
                yield _name(instance.get("instanceId")), None, _groups(instance) or _groups(request)
    elif name == "ModifyInstanceAttribute" and _groups(request):
        yield _name(request.get("instanceId")), None, _groups(request)
    elif name == "ModifyNetworkInterfaceAttribute" and _groups(request):
        eni = _name(request.get("networkInterfaceId"))
        yield eni_owner.get((row["account"], row["region"], eni)), eni, _groups(request)
    elif name == "CreateNetworkInterface":  # a detached interface, in its groups from now on
        eni = response.get("networkInterface") or {}
        if eni.get("networkInterfaceId"):
            yield None, eni["networkInterfaceId"], _groups(eni) or _groups(request)
    elif name == "AttachNetworkInterface" and request.get("networkInterfaceId"):
        eni, instance = request["networkInterfaceId"], request.get("instanceId")
        eni_owner[(row["account"], row["region"], eni)] = instance
        yield instance, eni, None  # the interface keeps its groups, now on this instance


def instance_groups(events: pd.DataFrame) -> pd.DataFrame:
    """Which instance (or network interface) was in which security group, from when until when.

    `events` are rows of the `instance_changes` query. A new group set for the same instance or
    interface ends the previous one; ModifyInstanceAttribute sets the groups of the primary interface.
    """
    eni_owner: dict[tuple, str | None] = {}
    primary: dict[tuple, str | None] = {}  # (account, region, instance) -> the first interface seen
    current: dict[tuple, list[dict]] = {}
    done: list[dict] = []
    for row in records(events.sort_values(["eventtime", "eventid"])) if len(events) else []:
        for instance, eni, groups in _assignments(row, eni_owner):
            if instance is None and eni is None:
                continue
            attached = row["eventname"] == "AttachNetworkInterface"  # a second interface, not the first
            if instance is not None and eni is not None and not attached:
                primary.setdefault((row["account"], row["region"], instance), eni)
            if eni is None:
                eni = primary.get((row["account"], row["region"], instance))
            key = (row["account"], row["region"], eni or instance)
            if groups is None:  # same groups, new owner
                groups = [m["group_id"] for m in current.get(key, [])]
            for old in current.pop(key, []):
                done.append({**old, "until": row["eventtime"]})
            current[key] = [{"account": row["account"], "region": row["region"], "instance_id": instance,
                             "network_interface_id": eni, "group_id": g, "since": row["eventtime"], "until": None,
                             "event_name": row["eventname"], "event_id": row["eventid"]} for g in groups]
    done.extend(m for members in current.values() for m in members)
    frame = pd.DataFrame(done, columns=MEMBERSHIP_COLUMNS)
    for column in ("since", "until"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.sort_values(["since", "instance_id", "group_id"], ignore_index=True)


_DELETED = frozenset({"ResourceDeleted", "ResourceDeletedNotRecorded"})


def _ids(entries: Any, key: str) -> list[str]:
    """The string `key` of each object in a list (groups' groupId): evidence may hold anything."""
    entries = entries if isinstance(entries, list) else []
    return [e[key] for e in entries if isinstance(e, dict) and isinstance(e.get(key), str)]


def _held(item: dict) -> set[tuple[str | None, str | None, str]]:
    """(instance, interface, group) that one AWS Config item shows; none for a deleted resource or
    a terminated instance. An interface's item names its attachment's instance; an instance's item
    each of its interfaces with their groups (or its own groups, where it lists no interface)."""
    config = json_object(item["configuration"])
    if item["status"] in _DELETED or not config:
        return set()
    if item["resource_type"] == "AWS::EC2::NetworkInterface":
        eni = text_of(config.get("networkInterfaceId")) or item["resource_id"]
        attachment = config.get("attachment") if isinstance(config.get("attachment"), dict) else {}
        instance = attachment.get("instanceId") if attachment.get("status") != "detached" else None
        instance = instance if isinstance(instance, str) else None
        return {(instance, eni, g) for g in _ids(config.get("groups"), "groupId")}
    state = config.get("state") if isinstance(config.get("state"), dict) else {}
    if state.get("name") == "terminated":
        return set()
    instance = text_of(config.get("instanceId")) or item["resource_id"]
    listed = config.get("networkInterfaces")
    interfaces = [n for n in listed if isinstance(n, dict)] if isinstance(listed, list) else []
    held = {
        (instance, n["networkInterfaceId"], g)
        for n in interfaces
        if isinstance(n.get("networkInterfaceId"), str)
        for g in _ids(n.get("groups"), "groupId")
    }
    return held or {(instance, None, g) for g in _ids(config.get("securityGroups"), "groupId")}


def config_memberships(items: pd.DataFrame) -> pd.DataFrame:
    """Which interface (of which instance) was in which security group, from when until when, as
    AWS Config's items of network interfaces and instances show it (rows of the `interface_state`
    query; MEMBERSHIP_COLUMNS, `event_name` the item's resource type, no `event_id`).

    A membership holds from the item that first shows it until the next item of that resource that
    lacks it (a deleted resource, a terminated instance). One shown by a resource's first item has
    no known start (`since` missing): it may have held before Config recorded it, and counting it
    so keeps a connection through the window visible rather than lost.
    """
    current: dict[tuple, dict[tuple, dict]] = {}
    done: list[dict] = []
    for item in records(items.sort_values(["capture_time", "resource_id"])) if len(items) else []:
        key = (item["account"], item["region"], item["resource_type"], item["resource_id"])
        first = key not in current
        held = current.setdefault(key, {})
        now = _held(item)
        for gone in [m for m in held if m not in now]:
            done.append({**held.pop(gone), "until": item["capture_time"]})
        for instance, eni, group in sorted(now - held.keys(), key=str):
            held[(instance, eni, group)] = {
                "account": item["account"], "region": item["region"], "instance_id": instance,
                "network_interface_id": eni, "group_id": group,
                "since": None if first else item["capture_time"], "until": None,
                "event_name": item["resource_type"], "event_id": None}
    done.extend(m for held in current.values() for m in held.values())
    frame = pd.DataFrame(done, columns=MEMBERSHIP_COLUMNS)
    for column in ("since", "until"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.sort_values(["since", "instance_id", "group_id"], ignore_index=True,
                             na_position="first")


# --- the join --------------------------------------------------------------------------------------

def _ports(finding: dict) -> list[int]:
    text = finding.get("local_ports")
    if isinstance(text, str) and text:
        return [int(p) for p in text.split(",")]
    port = finding.get("local_port")
    return [] if port is None or pd.isna(port) else [int(port)]


def _port_in(window: dict, port: int) -> bool:
    if window["protocol"] == "-1":
        return True
    low = window["from_port"] if not pd.isna(window["from_port"]) and window["from_port"] >= 0 else 0
    high = window["to_port"] if not pd.isna(window["to_port"]) and window["to_port"] >= 0 else 65535
    return low <= port <= high


def _same_family(window: dict, ip: Any) -> bool:
    net = network(window["cidr"])
    try:
        address = ipaddress.ip_address(ip)
    except (TypeError, ValueError):
        return True  # no remote address to say otherwise
    return net is None or net.version == address.version


def _protocol_ok(window: dict, finding: dict) -> bool:
    protocol = (finding.get("protocol") or "").lower()
    return window["protocol"] == "-1" or not protocol or protocol == window["protocol"]


def _activity(finding: dict) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = finding["first_seen"] if not pd.isna(finding["first_seen"]) else finding["created_at"]
    end = finding["last_seen"] if not pd.isna(finding["last_seen"]) else finding["updated_at"]
    return start, end


def _overlap(a_start, a_end, b_start, b_end) -> tuple | None:
    """The overlap of two closed intervals; a missing bound is unbounded."""
    start = a_start if pd.isna(b_start) else b_start if pd.isna(a_start) else max(a_start, b_start)
    end = a_end if pd.isna(b_end) else b_end if pd.isna(a_end) else min(a_end, b_end)
    if not pd.isna(start) and not pd.isna(end) and start > end:
        return None
    return start, end


def _when(value, tz: str, date: bool = True) -> str:
    """A time in the display zone, with the zone's abbreviation (UTC, JST)."""
    if pd.isna(value):
        return "?"
    return pd.Timestamp(value).tz_convert(tz).strftime("%Y-%m-%d %H:%M %Z" if date else "%H:%M %Z")


def _summary(w: dict, f: dict, port: int, tz: str, language: str) -> str:
    """The pair in one sentence in `language`, identities in their short form (the full ARNs are in
    the row's own columns)."""
    words = TEXT[language]

    def say(key: str, **values) -> str:
        return words[f"correlate.{key}"].format(**values)

    origin = ", ".join(str(v) for v in (f["remote_country"], f["remote_org"]) if v)
    source = ""
    if f["remote_ip"]:
        source = say("source", ip=f["remote_ip"]) + (say("origin", origin=origin) if origin else "")
    start, end = _activity(f)
    local = [None if pd.isna(t) else pd.Timestamp(t).tz_convert(tz) for t in (start, end)]
    same_day = None not in local and local[0].date() == local[1].date()
    seen = say("seen", start=_when(start, tz), end=_when(end, tz, not same_day))
    ports = say("all_ports") if w["protocol"] == "-1" else f"{w['protocol']}/{w['from_port']}" + (
        f"-{w['to_port']}" if w["to_port"] != w["from_port"] else "")
    opened = say("before_evidence") if w["open_before_evidence"] else \
        say("opened", who=short(w["opened_by"]), when=_when(w["opened_at"], tz))
    closed = say("still_open") if w["still_open"] else \
        say("closed", who=short(w["closed_by"]), when=_when(w["closed_at"], tz))
    return say("sentence", type=f["type"], instance=f["instance_id"], source=source, port=port,
               seen=seen, group=w["group_id"], cidr=w["cidr"], ports=ports, opened=opened,
               closed=closed)


def correlate(findings: pd.DataFrame, windows: pd.DataFrame, memberships: pd.DataFrame | None = None,
              tz: str = "UTC", language: str = "en") -> pd.DataFrame:
    """One row per (window, finding) that attacked the window's opening while it was open.

    `findings` has evidence.guardduty.FINDING_COLUMNS, `windows` exposure.WINDOW_COLUMNS, and
    `memberships` (optional) instance_groups(...) from CloudTrail; the sentences (`summary`) are in
    `language` and give times in `tz`.
    """
    rows = []
    members = records(memberships) if memberships is not None and len(memberships) else []
    by_instance: dict[tuple, list[dict]] = {}
    for m in members:
        by_instance.setdefault((m["account"], m["region"], m["instance_id"]), []).append(m)
    by_group: dict[tuple, list[dict]] = {}  # only windows of a group the instance was in can be tied
    for w in records(windows) if len(windows) else []:
        by_group.setdefault((w["account"], w["region"], w["group_id"]), []).append(w)
    for f in records(findings) if len(findings) else []:
        ports = _ports(f)
        if not ports:
            continue
        start, end = _activity(f)
        groups = set((f["security_group_ids"] or "").split(",")) - {""}
        where = (f["account"], f["region"])
        candidates = groups | {m["group_id"] for m in by_instance.get((*where, f["instance_id"]), [])}
        for w in [w for g in sorted(candidates) for w in by_group.get((*where, g), [])]:
            open_span = _overlap(start, end, None if w["open_before_evidence"] else w["opened_at"], w["closed_at"])
            port = next((p for p in ports if _port_in(w, p)), None)
            if open_span is None or port is None or not _protocol_ok(w, f) or not _same_family(w, f["remote_ip"]):
                continue
            tied = ["finding"] if w["group_id"] in groups else []
            for m in by_instance.get((f["account"], f["region"], f["instance_id"]), []):
                if m["group_id"] == w["group_id"] and _overlap(*open_span, m["since"], m["until"]) is not None:
                    tied.append(f"CloudTrail {m['event_name']} {m['event_id']}")
            if not tied:
                continue
            rows.append({
                **{c: w[c] for c in CORRELATION_COLUMNS[:CORRELATION_COLUMNS.index("finding_id")]},
                "finding_id": f["id"], "finding_type": f["type"], "severity": f["severity"],
                "severity_label": f["severity_label"], "title": f["title"], "instance_id": f["instance_id"],
                "remote_ip": f["remote_ip"], "remote_country": f["remote_country"], "remote_org": f["remote_org"],
                "local_port": port, "first_seen": start, "last_seen": end, "count": f["count"],
                "overlap_start": open_span[0], "overlap_end": open_span[1], "tied_by": "; ".join(dict.fromkeys(tied)),
                "summary": _summary(w, f, port, tz, language),
            })
    frame = pd.DataFrame(rows, columns=CORRELATION_COLUMNS)
    for column in ("opened_at", "closed_at", "first_seen", "last_seen", "overlap_start", "overlap_end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    for column in ("from_port", "to_port", "local_port", "count"):
        frame[column] = frame[column].astype("Int64")
    return frame.sort_values(["first_seen", "group_id", "finding_id"], ignore_index=True)


def same_instance(findings: pd.DataFrame, finding: pd.Series, windows: pd.DataFrame,
                  start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The other findings on `finding`'s instance whose activity overlaps one of `windows` (correlate
    rows: the exposure windows it came through), or the range start..end when it came through none."""
    if not isinstance(finding["instance_id"], str) or findings.empty:
        return findings.iloc[0:0]
    spans = [(w["opened_at"], w["closed_at"]) for w in records(windows)] if len(windows) else [(start, end)]
    others = findings[(findings["instance_id"] == finding["instance_id"]) & (findings["id"] != finding["id"])]
    keep = [any(_overlap(*_activity(o), *span) is not None for span in spans) for o in records(others)]
    return others[pd.Series(keep, index=others.index, dtype=bool)].reset_index(drop=True)
