"""Who came in through the hole: VPC flow records joined to the exposure windows.

For each window (exposure.WINDOW_COLUMNS), the interfaces that were in its group while it was open
(instance_groups, completed by the flow log's own instance-id), and on them the inbound flows from
public addresses to the window's ports: one row per source address, with its flows before the window
opened and after it closed, the GuardDuty findings that name it, and whether it is the window's
actor or a known network. Where the flow log cannot answer (no interface known, an interface with no
records, an hour without records, NODATA or SKIPDATA) a `gap` row says so: silence is never shown as
"nobody came in".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pandas as pd

from ..phrases import Phrase, phrase, say
from ..settings import Settings
from .events import records
from .security_groups import network, port_span

CONNECTION_COLUMNS = [  # fmt: skip
    "account", "region", "group_id", "protocol", "from_port", "to_port", "cidr", "opened_at",
    "closed_at", "still_open", "opened_by", "kind", "source", "gap", "verdict", "known_as",
    "finding_ids", "first_seen", "last_seen", "accepted", "rejected", "packets_in", "bytes_in",
    "packets_out", "bytes_out", "largest_connection_bytes", "before_accepted", "before_rejected",
    "after_accepted", "after_rejected", "interfaces", "instances", "detail"
]
VERDICTS = ("session", "accepted, no data", "rejected only")
HOUR = 3600
# Packets and bytes are capped at 2^53, as the query caps its sums: exact below it, in float64 too
# (a column with gaps), so that any number the evidence holds costs nothing but its own size.
CAP = 2**53
# Not the internet. Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
# 2001:db8::/32) are left public on purpose: anonymised logs put attackers there.
_NOT_PUBLIC = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
]
_PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}


def is_public(address) -> bool:
    try:
        ip = ipaddress.ip_address(str(address))
    except ValueError:
        return False
    return not any(ip.version == n.version and ip in n for n in _NOT_PUBLIC)


@dataclass(frozen=True)
class Span:
    """What one window's flow query asks: its bounds in epoch seconds (None: unbounded)."""

    opened: int | None
    closed: int | None
    protocol: int | None  # IANA number; None: any (protocol -1)
    from_port: int
    to_port: int


def span_of(window) -> Span:
    """The window's open time, ports and protocol as the flow query takes them; a still-open
    window has no end. Where state says only that the rule was open by some time, the window is
    taken from the earliest it can have opened (analysis.state: `config` after `opened_after`,
    `state` at any time before), so no connection through it is left out."""
    how = window.get("opened_how")
    if how == "config" and not pd.isna(window.get("opened_after")):
        opened = window["opened_after"]
    elif window["open_before_evidence"] or how == "state" or pd.isna(window["opened_at"]):
        opened = None
    else:
        opened = window["opened_at"]
    closed = None if pd.isna(window["closed_at"]) else window["closed_at"]
    protocol = str(window["protocol"]).lower()
    any_port = protocol == "-1"
    low = (
        0
        if any_port or pd.isna(window["from_port"]) or window["from_port"] < 0
        else int(window["from_port"])
    )
    high = (
        65535
        if any_port or pd.isna(window["to_port"]) or window["to_port"] < 0
        else int(window["to_port"])
    )
    return Span(
        epoch(opened), epoch(closed), None if any_port else _PROTOCOLS.get(protocol, -1), low, high
    )


def epoch(when) -> int | None:
    return None if when is None or pd.isna(when) else int(pd.Timestamp(when).timestamp())


def members(window, span: Span, memberships: pd.DataFrame) -> list[dict]:
    """The memberships of the window's group that overlap its open time (rows of
    analysis.findings.instance_groups), each clipped to it: `since` and `until` in epoch seconds
    (None: unbounded)."""
    found = []
    for m in records(memberships) if len(memberships) else []:
        if (m["account"], m["region"], m["group_id"]) != (
            window["account"],
            window["region"],
            window["group_id"],
        ):
            continue
        since, until = epoch(m["since"]), epoch(m["until"])
        start = since if span.opened is None else max(since or span.opened, span.opened)
        end = until if span.closed is None else min(until or span.closed, span.closed)
        if start is None or end is None or start <= end:
            found.append({**m, "since": start, "until": end})
    return found


def ids(found: list[dict]) -> dict[str, str | None]:
    """The `interfaces` and `instances` values of the connections query for these memberships."""
    enis = sorted({m["network_interface_id"] for m in found if m["network_interface_id"]})
    instances = sorted({m["instance_id"] for m in found if m["instance_id"]})
    return {"interfaces": f" {' '.join(enis)} ", "instances": f" {' '.join(instances)} "}


def _interfaces(found: list[dict], flows: list[dict]) -> dict[str, list]:
    """interface -> [(instance, since, until)] while it was in the window's group and the window
    open; an interface CloudTrail did not name is found by the flow log's own instance-id."""
    owner = {}  # instance -> its interfaces, as the flow log's instance-id says
    for f in flows:
        if f["instance_id"] and f["interface_id"]:
            owner.setdefault(f["instance_id"], set()).add(f["interface_id"])
    interfaces: dict[str, list] = {}
    for m in found:
        enis = (
            [m["network_interface_id"]]
            if m["network_interface_id"]
            else sorted(owner.get(m["instance_id"], ()))
        )
        for eni in enis or [f"(interface of {m['instance_id']})"]:
            interfaces.setdefault(eni, []).append((m["instance_id"], m["since"], m["until"]))
    return interfaces


def _in(spans: list, first: int, last: int) -> bool:
    return any((s is None or last >= s) and (e is None or first <= e) for _, s, e in spans)


def _gaps(window: dict, span: Span, interfaces: dict[str, list], flows: list[dict]) -> list[dict]:
    """Where the flow log cannot say who came in while the window was open: `gap` is no interface,
    no records, NODATA, SKIPDATA or missing hours; first_seen and last_seen bound it."""
    if not interfaces:
        return [
            {"gap": "no interface"}
        ]
    gaps = []
    flows = [f for f in flows if f["part"] == "coverage"]
    all_hours = [f["hour"] for f in flows]
    for eni, spans in sorted(interfaces.items()):
        instances = ", ".join(sorted({i for i, _, _ in spans if i}))
        name = f"{eni} ({instances})" if instances else eni
        mine = [
            f for f in flows if f["interface_id"] == eni
        ]  # any record shows the flow log was on
        if not mine:
            gaps.append(
                {
                    "gap": "no records",
                    "interfaces": eni,
                    "instances": instances,
                }
            )
            continue
        during = [
            f
            for f in mine
            if f["phase"] == "during" and _in(spans, f["first_start"], f["last_end"])
        ]
        for status in ("NODATA", "SKIPDATA"):
            marked = [f for f in during if f["log_status"] == status]
            if marked:
                first, last = (
                    min(f["first_start"] for f in marked),
                    max(f["last_end"] for f in marked),
                )
                gaps.append(
                    {
                        "gap": status,
                        "interfaces": eni,
                        "instances": instances,
                        "first_seen": first,
                        "last_seen": last,
                    }
                )
        start = (
            min(s for _, s, _ in spans)
            if all(s is not None for _, s, _ in spans)
            else min(all_hours)
        )
        end = (
            max(e for _, _, e in spans)
            if all(e is not None for _, _, e in spans)
            else max(all_hours)
        )
        seen = {f["hour"] for f in mine}
        missing = [h for h in range(start - start % HOUR, end + 1, HOUR) if h not in seen]
        for first, last in _runs(missing):
            gaps.append(
                {
                    "gap": "missing hours",
                    "interfaces": eni,
                    "instances": instances,
                    "first_seen": first,
                    "last_seen": last + HOUR,
                }
            )
    return gaps


def _runs(hours: list[int]) -> list[tuple[int, int]]:
    runs: list[list[int]] = []
    for h in hours:
        if runs and h == runs[-1][1] + HOUR:
            runs[-1][1] = h
        else:
            runs.append([h, h])
    return [(a, b) for a, b in runs]


def _known_as(address: str, window: dict, settings: Settings) -> str:
    if address == window.get("opened_from_ip"):
        return OPENED_FROM
    if address == window.get("closed_from_ip"):
        return CLOSED_FROM
    ip = ipaddress.ip_address(address)
    for net in settings.known_networks:
        net = ipaddress.ip_network(net, strict=False)
        if ip.version == net.version and ip in net:
            return f"{KNOWN_NETWORK}{net}"
    return ""


def _activity(finding: dict) -> tuple[int, int]:
    start = finding["first_seen"] if finding["first_seen"] is not None else finding["created_at"]
    end = finding["last_seen"] if finding["last_seen"] is not None else finding["updated_at"]
    return epoch(start), epoch(end)


def _sources(
    window: dict,
    span: Span,
    interfaces: dict[str, list],
    flows: list[dict],
    findings: list[dict],
    settings: Settings,
) -> list[dict]:
    net = network(window["cidr"])  # an IPv4 rule lets no IPv6 address in
    mine = [
        f
        for f in flows
        if f["part"] == "source"
        and f["interface_id"] in interfaces
        and is_public(f["remote_addr"])
        and (net is None or ipaddress.ip_address(f["remote_addr"]).version == net.version)
    ]
    rows = []
    inbound = {
        f["remote_addr"]
        for f in mine
        if f["direction"] == "in"
        and f["phase"] == "during"
        and _in(interfaces[f["interface_id"]], f["first_start"], f["last_end"])
    }
    for address in sorted(inbound):
        own = [f for f in mine if f["remote_addr"] == address]
        during = [
            f
            for f in own
            if f["phase"] == "during"
            and _in(interfaces[f["interface_id"]], f["first_start"], f["last_end"])
        ]
        count = lambda fs, d, a: int(
            sum(f["records"] for f in fs if f["direction"] == d and f["action"] == a)
        )  # noqa: E731
        total = lambda fs, d, k: min(  # noqa: E731
            int(sum(f[k] or 0 for f in fs if f["direction"] == d)), CAP
        )
        phase = lambda p: [f for f in own if f["phase"] == p]  # noqa: E731
        largest = int(
            max(
                (f["largest_connection_bytes"] or 0 for f in during if f["action"] == "ACCEPT"),
                default=0,
            )
        )
        accepted, rejected = count(during, "in", "ACCEPT"), count(during, "in", "REJECT")
        verdict = (
            "rejected only"
            if not accepted
            else "session"
            if largest > settings.session_bytes
            else "accepted, no data"
        )
        ids = sorted(
            {
                f["id"]
                for f in findings
                if f["remote_ip"] == address
                and (f["account"], f["region"]) == (window["account"], window["region"])
                and _in([(None, span.opened, span.closed)], *_activity(f))
            }
        )
        rows.append(
            {
                "kind": "source",
                "source": address,
                "verdict": verdict,
                "known_as": _known_as(address, window, settings),
                "finding_ids": ",".join(ids),
                "first_seen": min(f["first_start"] for f in during),
                "last_seen": max(f["last_end"] for f in during),
                "accepted": accepted,
                "rejected": rejected,
                "packets_in": total(during, "in", "packets"),
                "bytes_in": total(during, "in", "bytes"),
                "packets_out": total(during, "out", "packets"),
                "bytes_out": total(during, "out", "bytes"),
                "largest_connection_bytes": largest,
                "before_accepted": count(phase("before"), "in", "ACCEPT"),
                "before_rejected": count(phase("before"), "in", "REJECT"),
                "after_accepted": count(phase("after"), "in", "ACCEPT"),
                "after_rejected": count(phase("after"), "in", "REJECT"),
                "interfaces": ",".join(sorted({f["interface_id"] for f in during})),
                "instances": ",".join(
                    sorted({i for f in during for i, _, _ in interfaces[f["interface_id"]] if i})
                ),
            }
        )
    # Sessions from nobody known lead: they are the answer to "did anyone get in".
    rank = {v: i for i, v in enumerate(VERDICTS)}
    return sorted(
        rows, key=lambda r: (rank[r["verdict"]], bool(r["known_as"]), r["first_seen"], r["source"])
    )


def connections(
    windows: pd.DataFrame,
    flows: pd.DataFrame,
    memberships: pd.DataFrame,
    findings: pd.DataFrame | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """One row per (window, public source address) that reached the window's ports while it was open
    (`kind` source), then the window's coverage gaps (`gap`); a window with neither gets one `none`
    row, which says its flow logs were complete (CONNECTION_COLUMNS).

    `flows` are rows of the `connections` query with a `window` column (the window's index in
    `windows`), asked of the interfaces `members` found; `memberships`
    analysis.findings.instance_groups(...);
    `findings` GuardDuty findings
    (evidence.guardduty.FINDING_COLUMNS), to name those whose remote address is a source.
    """
    settings = settings or Settings()
    found = records(findings) if findings is not None and len(findings) else []
    by_window: dict = {}
    numbers = ["hour", "records", "packets", "bytes", "first_start", "last_end", "largest_connection_bytes"]
    if len(flows):  # whole numbers, whichever engine (Athena gives a column with NULLs as floats)
        flows = flows.astype({c: "Int64" for c in numbers if c in flows.columns})
    for f in records(flows) if len(flows) else []:
        by_window.setdefault(f["window"], []).append(f)
    rows = []
    for i, w in enumerate(records(windows) if len(windows) else []):
        span = span_of(w)
        flows_of = by_window.get(windows.index[i], [])
        interfaces = _interfaces(members(w, span, memberships), flows_of)
        head = {c: w[c] for c in CONNECTION_COLUMNS[: CONNECTION_COLUMNS.index("kind")]}
        sources = _sources(w, span, interfaces, flows_of, found, settings)
        gaps = _gaps(w, span, interfaces, flows_of)
        for row in sources:
            rows.append({**head, **row})
        for gap in gaps:
            rows.append({**head, "kind": "gap", "verdict": "coverage gap", **gap})
        if not sources and not gaps:  # said only when the flow logs cover every interface all along
            enis = ",".join(sorted(interfaces))
            rows.append(
                {
                    **head,
                    "kind": "none",
                    "verdict": "no public source",
                    "interfaces": enis,
                }
            )
    frame = pd.DataFrame(rows, columns=CONNECTION_COLUMNS)
    for column in ("first_seen", "last_seen"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    for column in ("opened_at", "closed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    counts = CONNECTION_COLUMNS[
        CONNECTION_COLUMNS.index("accepted") : CONNECTION_COLUMNS.index("interfaces")
    ]
    for column in ("from_port", "to_port", *counts):
        frame[column] = frame[column].astype("Int64")
    frame["detail"] = [describe(r) for r in records(frame)] if len(frame) else []
    return frame


# analysis's `known_as` values, said in a sentence (phrases.TEXT `flow.known.*`)
OPENED_FROM = "actor: opened the window from this address"
CLOSED_FROM = "actor: closed the window from this address"
KNOWN_NETWORK = "known network "


def who(known_as: str | None) -> Phrase:
    """A source's `known_as` as a phrase (`flow.known.*`)."""
    known = known_as or ""
    if known.startswith(KNOWN_NETWORK):
        return phrase("known.network", net=known.removeprefix(KNOWN_NETWORK))
    return phrase({OPENED_FROM: "known.opened", CLOSED_FROM: "known.closed"}.get(
        known, "known.nobody"))


def describe(row: dict, language: str = "en", zone: str = "UTC") -> str:
    """A row of `connections` in a sentence, in `language` (phrases.TEXT `flow.*`), its times in
    `zone`: the English one is its `detail`."""
    def when(value) -> str:
        return "?" if value is None else f"{pd.Timestamp(value).tz_convert(zone):%Y-%m-%d %H:%M %Z}"

    name = row["interfaces"] or ""
    name += f" ({row['instances']})" if row["instances"] else ""
    times = {"first": when(row["first_seen"]), "last": when(row["last_seen"])}
    if row["kind"] == "gap":  # the window's span tells two windows of one group apart
        span = phrase("span", opened=phrase("span.before") if pd.isna(row.get("opened_at"))
                      else when(row["opened_at"]),
                      closed=phrase("span.open") if pd.isna(row.get("closed_at")) else when(row["closed_at"]))
        return say(phrase(f"gap.{row['gap']}", group=row["group_id"], name=name, span=span, **times),
                   language, "flow")
    if row["kind"] == "none":
        return say(phrase("none", interfaces=name), language, "flow")
    protocol = row["protocol"]
    ports = (phrase("all_ports") if protocol == "-1"
             else f"{protocol}/{port_span(protocol, row['from_port'], row['to_port'])}")
    said = phrase("source", source=row["source"], who=who(row["known_as"]), group=row["group_id"],
                  ports=ports,
                  verdict=phrase(f"verdict.{row['verdict']}"),
                  # counts with thousands separators in every language: 1,200,000 bytes
                  **{k: f"{int(row[k]):,}" for k in ("accepted", "rejected", "bytes_in", "bytes_out")},
                  findings=phrase("findings", ids=row["finding_ids"]) if row["finding_ids"] else "",
                  after=phrase("after", n=row["after_accepted"]) if row["after_accepted"] else "",
                  **times)
    return say(said, language, "flow")
