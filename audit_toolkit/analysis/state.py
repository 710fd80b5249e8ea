"""Security-group state beside the logs: the rules AWS Config and EC2 describe output saw, the
exposure windows of state and logs together, and every place where the two disagree.

An observation is one group at one capture time (a Config item, or a describe answer): the rules it
held then, or that it was deleted. The logged windows (exposure.windows) are checked against each
observation in time order, rule by rule:
- a rule the state holds and no logged window covers was opened without a logged call: from the
  previous observation that lacked it (`opened_how` = `config`, both ends given), or it was already
  there at the first observation (`state`: open since at least then);
- a window the logs leave open that a later observation lacks closed without a logged call, between
  the last time it was known open and that observation (`close_reason` says it was not logged);
- a logged window opened before the evidence (a revoke of a rule never seen opening) takes the first
  observation that shows the rule as its opening (`state`).
An item that records nothing (ResourceNotRecorded) is no observation: it never closes a window.
"""

from __future__ import annotations

import json

import pandas as pd

from ..phrases import Items, Phrase, phrase, reason, say, words
from ..settings import Settings
from .events import Unreadable, is_missing, json_object, records, text_of
from .address_space import network_public, reaches_internet
from .exposure import (
    WINDOW_COLUMNS, RuleState, covered_ports, exposed_ports, in_time_order, ports_together,
    prefix_list_caveat,
)
from .security_groups import _get, is_true, network, protocol_name

RULE_COLUMNS = [
    "observed_at", "account", "region", "group_id", "group_name", "vpc_id", "deleted",
    "related_events", "direction", "protocol", "from_port", "to_port", "peer", "peer_type",
    "rule_id", "description",
]
OBSERVED = RULE_COLUMNS[1:8]  # account .. related_events: what an observation says of its group
STATE_WINDOW_COLUMNS = [*WINDOW_COLUMNS, "vpc_id", "opened_how", "opened_after", "closed_after"]
# `rule` in words and in its parts; `detail` and `coverage` in English, and as phrases (codes and
# values, phrases.TEXT `state.*`) that the report says in its language.
RULE_PARTS = ["direction", "protocol", "from_port", "to_port", "peer"]
RECONCILE_COLUMNS = [
    "kind", "account", "region", "group_id", "group_name", "vpc_id", "rule", *RULE_PARTS, "after",
    "before", "related_events", "coverage", "detail", "coverage_phrase", "detail_phrase",
]
_CLOSED_BY = ("closed_at", "closed_by", "closed_by_arn", "closed_from_ip", "closed_event_id",
              "close_reason")
NOT_LOGGED = "closed, not logged"
DELETED_NOT_LOGGED = "group deleted, not logged"
_DELETED = frozenset({"ResourceDeleted", "ResourceDeletedNotRecorded"})


def unlogged_actors(frame: pd.DataFrame, language: str = "en") -> pd.DataFrame:
    """Windows whose opened_by and closed_by say, in `language`, when no logged call opened the window
    (open before the evidence, known from state) or closed it (not logged, group deleted unlogged), so
    an empty cell in a table never reads as missing data. For tables: CSV and JSON keep them empty."""
    if frame.empty:
        return frame

    def said(parts: list[str]) -> str | None:
        return words(language, "window.by", said=words(language, "window.by.sep").join(
            words(language, f"window.by.{p}") for p in parts)) if parts else None

    def opener(by, before, how) -> object:
        if isinstance(by, str) and by:
            return by
        return said([*(["before_evidence"] if before is True else []),
                     *(["from_state"] if how in ("state", "config") else [])]) or by

    def closer(by, at, reason) -> object:
        if (isinstance(by, str) and by) or at is None or pd.isna(at):
            return by
        return said({NOT_LOGGED: ["not_logged"], DELETED_NOT_LOGGED: ["deleted_not_logged"]}.get(reason, [])) or by

    absent = [None] * len(frame)
    return frame.assign(
        opened_by=[opener(b, not is_missing(e) and bool(e), h) for b, e, h in zip(
            frame["opened_by"], frame.get("open_before_evidence", absent), frame.get("opened_how", absent))],
        closed_by=[closer(b, t, r) for b, t, r in zip(
            frame["closed_by"], frame["closed_at"], frame.get("close_reason", absent))])
# (member of an IpPermission, member of each entry, peer type): Config and describe alike
_PEERS = (
    ("ipv6Ranges", "cidrIpv6", "cidr_ipv6"),
    ("prefixListIds", "prefixListId", "prefix_list"),
    ("userIdGroupPairs", "groupId", "security_group"),
)
_RULE_PEERS = (
    ("cidrIpv4", "cidr_ipv4"),
    ("cidrIpv6", "cidr_ipv6"),
    ("prefixListId", "prefix_list"),
)


_MISSING = float("nan")
ROWS_AT_ONCE = 50_000  # rules turned into dicts at a time: a rule as a dict costs about 1 KB
CHUNK_TEXT = 1 << 20  # configurations read into rules at a time (State): some 20,000 rules
MAX_LISTED_DAYS = 1000  # Athena takes 256 kB of query text: a longer list reads every day instead


def config_days(
    since: str, until: str | None, today: pd.Timestamp | None = None
) -> list[str] | None:
    """The day folders of Config's delivery ('YYYY/M/D') that hold the state from `since` to
    `until`: from the day before `since` (a daily snapshot is delivered at least once a day) to
    the day after `until` (history is delivered hours after its items), or to tomorrow. None
    (every day) for more than MAX_LISTED_DAYS."""
    first = pd.Timestamp(since).normalize() - pd.Timedelta(days=1)
    last = pd.Timestamp(until) if until is not None else today or pd.Timestamp.now(tz="UTC")
    days = pd.date_range(first, max(first, last.normalize() + pd.Timedelta(days=1)))
    return None if len(days) > MAX_LISTED_DAYS else [f"{d.year}/{d.month}/{d.day}" for d in days]


def complete_at(items: pd.DataFrame, at: pd.Timestamp) -> bool:
    """Whether the sg_state items read hold the whole state at `at`: a configuration snapshot
    (every group of the region, as it was then) or an EC2 describe answer from the day before."""
    if not len(items):
        return False
    snapshot = items["delivery"].eq("ConfigSnapshot")
    described = items["delivery"].eq("describe") & pd.to_datetime(
        items["capture_time"], utc=True
    ).between(at - pd.Timedelta(days=1), at)
    return bool((snapshot | described).any())


def rules(items: pd.DataFrame) -> pd.DataFrame:
    """One row per rule per observation (RULE_COLUMNS) from the `sg_state` query's items, in order.

    An observation with no rule, or of a deleted group, is one row whose `direction` is None. The
    same item delivered twice (a snapshot and a history file) counts once.
    """
    rows = []
    for item in records(items):
        conf = json_object(item["configuration"])
        base = {
            "observed_at": pd.Timestamp(item["capture_time"]),
            "account": item["account"],
            "region": item["region"],
            "group_id": item["group_id"],
            "group_name": text_of(item["group_name"]) or text_of(conf.get("groupName")),
            "vpc_id": text_of(conf.get("vpcId")),
            "deleted": item["status"] in _DELETED,
            "related_events": tuple(e for e in (item["related_events"] or "").split(",") if e),
        }
        found = [] if base["deleted"] else list(_rules_of(conf))
        # a tuple a rule, not a dict: millions of rules as dicts took over 1 GB (issue 16); a part
        # a rule does not give is NaN, as a DataFrame of dicts makes it
        rows.extend(tuple(rule[c] if c in rule else base.get(c, _MISSING) for c in RULE_COLUMNS)
                    for rule in found or [{"direction": None}])
    frame = pd.DataFrame.from_records(rows, columns=RULE_COLUMNS)
    del rows
    frame = frame.drop_duplicates(
        subset=[c for c in RULE_COLUMNS if c not in ("related_events", "description")]
    )
    for col in ("from_port", "to_port"):
        frame[col] = frame[col].astype("Int64")
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    return frame.sort_values(
        ["observed_at", "account", "region", "group_id"], kind="stable", ignore_index=True
    )


def _rules_of(conf: dict):
    """A configuration's rules: Config's camelCase, describe's PascalCase, or describe's rules."""
    for direction, member in (("ingress", "ipPermissions"), ("egress", "ipPermissionsEgress")):
        for permission in _get(conf, member) or []:
            if isinstance(permission, dict):
                yield from _readable(lambda: list(_permission(permission, direction)))
    for rule in _get(conf, "securityGroupRules") or []:
        if isinstance(rule, dict):
            yield from _readable(lambda: [_rule(rule)])


def _readable(read) -> list[dict]:
    """The rules `read` gives; none where a protocol is not one (an object, a list): the intake
    rejects such an item with its reason (evidence/state.py), and nothing else stops on it."""
    try:
        return read()
    except Unreadable:
        return []


def _permission(p: dict, direction: str):
    base = {
        "direction": direction,
        "protocol": protocol_name(_get(p, "ipProtocol")),
        "from_port": _port(_get(p, "fromPort")),
        "to_port": _port(_get(p, "toPort")),
    }
    # Config writes IPv4 twice, ipv4Ranges [{cidrIp}] and ipRanges ["0.0.0.0/0"]; describe IpRanges.
    # Both are read (an empty ipv4Ranges beside a full ipRanges hid an opening), each CIDR once.
    seen = set()
    for entry in [*_list(_get(p, "ipv4Ranges")), *_list(_get(p, "ipRanges"))]:
        peer = _address(_get(entry, "cidrIp") if isinstance(entry, dict) else entry)
        if peer not in seen:
            seen.add(peer)
            yield {
                **base,
                "peer": peer,
                "peer_type": "cidr_ipv4",
                "description": _description(entry),
            }
    for member, name, kind in _PEERS:
        for entry in _list(_get(p, member)):
            address = kind == "cidr_ipv6" and isinstance(entry, dict)
            if isinstance(entry, dict) and (address or isinstance(_get(entry, name), str)):
                yield {
                    **base,
                    "peer": _address(_get(entry, name)) if address else _get(entry, name),
                    "peer_type": kind,
                    "description": _description(entry),
                }


def _rule(r: dict) -> dict:
    """One rule of describe-security-group-rules."""
    peer, kind = None, None
    for name, peer_type in _RULE_PEERS:
        if _get(r, name) and isinstance(_get(r, name), str):
            peer, kind = _get(r, name), peer_type
            break
    else:
        group = _get(r, "referencedGroupInfo")
        if isinstance(group, dict) and text_of(_get(group, "groupId")):
            peer, kind = _get(group, "groupId"), "security_group"
    return {
        # only a JSON true is egress (security_groups.is_true, as the logs are read): "false" as
        # text read as egress hid an opening, and 1 == True
        "direction": "egress" if is_true(_get(r, "isEgress")) is True else "ingress",
        "protocol": protocol_name(_get(r, "ipProtocol")),
        "from_port": _port(_get(r, "fromPort")),
        "to_port": _port(_get(r, "toPort")),
        "peer": peer,
        "peer_type": kind,
        "rule_id": text_of(_get(r, "securityGroupRuleId")),
        "description": text_of(_get(r, "description")),
    }


def _address(value) -> str:
    """A CIDR as the state gives it; anything else (a number, an object, nothing) as its JSON text:
    an address no CIDR can be read from is a rule of unknown reach, never no rule (issue 16)."""
    return value if isinstance(value, str) else json.dumps(value, default=str)[:80]


def unreadable(row: dict) -> str | None:
    """Why a state's rule cannot be measured (phrases `reason.*`), or None: a TCP or UDP range
    ending below its start, or an address that is no CIDR. The logged path leaves such a call out
    as unreadable (security_groups._check_readable, exposure.RuleState)."""
    if row["direction"] is None:
        return None
    low, high = _int(row["from_port"]), _int(row["to_port"])
    reversed_range = low is not None and high is not None and 0 <= high < low
    if row["protocol"] in ("tcp", "udp") and reversed_range:
        return reason("reversed_ports")
    if row["peer_type"] in ("cidr_ipv4", "cidr_ipv6") and network(row["peer"]) is None:
        return reason("state_address", address=str(row["peer"])[:80])
    return None


def _description(entry) -> str | None:
    return text_of(_get(entry, "description")) if isinstance(entry, dict) else None


def _port(value) -> int | None:
    """A port (or ICMP type/code) as AWS writes it, -1 to 65535; anything else is no port."""
    if isinstance(value, bool):
        return None
    try:
        port = None if value is None else int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return port if port is None or -1 <= port <= 65535 else None


def _list(value) -> list:
    """A list of peers: as describe and Config write it, or as CloudTrail's request does
    ({"items": [...]}), which read as none hid an opening (F9)."""
    if isinstance(value, dict) and isinstance(_get(value, "items"), list):
        return _get(value, "items")
    return value if isinstance(value, list) else []


def _key(row: dict) -> tuple:
    """A rule's identity as exposure's replay keys it: all traffic has no ports, no host bits."""
    peer = row.get("peer") or row.get("cidr")
    net = network(peer)
    ports = (
        (None, None) if row["protocol"] == "-1" else (_int(row["from_port"]), _int(row["to_port"]))
    )
    return (
        row["account"],
        row["region"],
        row["group_id"],
        row["direction"] or "ingress",
        row["protocol"],
        *ports,
        str(net) if net is not None else peer,
    )


def _int(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


class State:
    """The `sg_state` query's items, standing for their rules (`rules`) without holding them all:
    `frames()` gives the rules table a chunk of items (CHUNK_TEXT of configurations) at a time, in
    the order `rules` gives, an observation never split. Every rule of a dense state at full size
    as one table (3 million rules, about 1 KB each) took some 3 GB (issue 16).

    `places` is one row an item (account, region, group_id, observed_at), in the same order."""

    def __init__(self, items: pd.DataFrame) -> None:
        at = pd.to_datetime(pd.Series([pd.Timestamp(t) for t in items["capture_time"]], dtype=object),
                            utc=True)
        places = pd.DataFrame({"observed_at": at, **{c: items[c].to_numpy() for c in OBSERVED[:3]}})
        order = places.sort_values(["observed_at", *OBSERVED[:3]], kind="stable").index
        self.items = items.iloc[order].reset_index(drop=True)
        self.places = places.loc[order].reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.items)

    def frames(self):
        sizes = [len(c) if isinstance(c, str) else 0 for c in self.items["configuration"]]
        places = list(self.places.itertuples(index=False, name=None))
        start, size = 0, 0
        for i, length in enumerate(sizes):
            size += length
            if i + 1 == len(sizes) or size >= CHUNK_TEXT and places[i + 1] != places[i]:
                yield rules(self.items.iloc[start:i + 1])
                start, size = i + 1, 0

    def related_events(self) -> set[str]:
        """Every CloudTrail event id an item names."""
        return {e for events in self.items["related_events"] for e in (events or "").split(",") if e}


def _frames(state_rules: pd.DataFrame | State):
    """The rules table a part at a time: a State's chunk of items, or ROWS_AT_ONCE rows of a table."""
    if isinstance(state_rules, State):
        yield from state_rules.frames()
        return
    for start in range(0, len(state_rules), ROWS_AT_ONCE):
        yield state_rules.iloc[start:start + ROWS_AT_ONCE]


def _rows(state_rules: pd.DataFrame | State):
    """records of the rules table (or of a State's), ROWS_AT_ONCE rows at a time."""
    for frame in _frames(state_rules):
        for start in range(0, len(frame), ROWS_AT_ONCE):
            yield from records(frame.iloc[start:start + ROWS_AT_ONCE])


def _last_observed(state_rules: pd.DataFrame | State) -> dict[tuple, pd.Timestamp]:
    """(account, region, group id) -> the time of its last observation."""
    frame = state_rules.places if isinstance(state_rules, State) else state_rules
    columns = [frame[c] for c in ("account", "region", "group_id", "observed_at")]
    return {tuple(None if pd.isna(v) else v for v in place): at  # in time order: the last stays
            for *place, at in zip(*columns)}


def _listed(lists: dict | None, place: tuple, at: pd.Timestamp) -> tuple[frozenset, bool] | None:
    """(entries, complete) of a prefix list at `at`, from the logged calls (prefix_list_history)."""
    found = None
    for when, entries, complete in (lists or {}).get(place, []):
        if pd.Timestamp(when) > at:
            break
        found = (entries, complete)
    return found


def observations(state_rules: pd.DataFrame | State, settings: Settings, every_rule: bool = True,
                 lists: dict | None = None):
    """Each observation once, in time order: its place, time, deletion, related events and what
    it exposes: (account, region, group, family, port) -> the rules that together let the internet
    in to that watched port, measured like the replay (exposure.RuleState): the union of the
    group's public CIDRs on the port, so 0.0.0.0/1 with 128.0.0.0/1 is the internet too.
    `every_rule`: also each rule it holds (`rules`) and which of them expose (`in_exposure`).
    `lists` (exposure.prefix_list_history): a prefix list's entries where the logged calls hold
    them all, so a rule naming it is measured by them, as the replay measures it.

    `state_rules` (a table in the order `rules` gives, or a State) are read a part at a time and the
    observations given one by one, so only one observation's rules are held at a time (all of them
    at once took over 1 GB, issue 16)."""
    seen: dict | None = None
    nets: dict[tuple, list] = {}  # (family, port) -> [(network, rule row)] of the observation read
    place = None
    for row in _rows(state_rules):
        if (row["account"], row["region"], row["group_id"], row["observed_at"]) != place:
            if seen is not None:
                _expose(seen, nets, settings, every_rule)
                yield seen
            nets = {}
            place = (row["account"], row["region"], row["group_id"], row["observed_at"])
            seen = {**{k: row[k] for k in OBSERVED}, "at": pd.Timestamp(row["observed_at"]),
                    "exposing": {}, "rules": {}, "in_exposure": set(), "unreadable": {}}
        if every_rule and row["direction"] is not None:
            seen["rules"][_key(row)] = row
        why = unreadable(row)
        if why is not None:
            seen["unreadable"][_key(row)] = (row, why)
        if row["direction"] is not None and row["peer_type"] == "prefix_list":
            # its entries are not in the state: the logged calls' where they hold them all, else an
            # exposure of unknown reach, as in the replay (exposure.RuleState), keyed by the list in
            # place of the address family
            known = _listed(lists, (row["account"], row["region"], row["peer"]), place[3])
            for port in covered_ports(row, settings) if isinstance(row["peer"], str) else []:
                if known is None or not known[1]:
                    nets.setdefault((row["peer"], port), []).append((None, row))
                    continue
                for net in filter(network_public, known[0]):
                    nets.setdefault((net.version, port), []).append((net, row))
            continue
        cidr = row["direction"] is not None and row["peer_type"] in ("cidr_ipv4", "cidr_ipv6")
        ports = covered_ports(row, settings) if cidr else []
        net = network(row["peer"]) if ports else None
        if ports and net is None:  # AWS took an address we cannot read: reach unknown, by its text
            for port in ports:
                nets.setdefault((str(row["peer"]), port), []).append((None, row))
            continue
        if net is None or not network_public(net):  # 10.0.0.0/8 adds nothing to the union
            continue
        for port in ports:
            nets.setdefault((net.version, port), []).append((net, row))
    if seen is not None:
        _expose(seen, nets, settings, every_rule)
        yield seen


def _expose(seen: dict, nets: dict[tuple, list], settings: Settings, every_rule: bool) -> None:
    """An observation's `exposing` (and `in_exposure`) from its public CIDRs on watched ports,
    and its prefix lists on watched ports (`family` the list's id: reach unknown)."""
    for (family, port), pairs in nets.items():
        listed = isinstance(family, str)
        if listed or reaches_internet([n for n, _ in pairs], family, settings.internet_prefix_len):
            rules = [r for _, r in pairs]
            if every_rule:
                seen["in_exposure"] |= {_key(r) for r in rules}
            ids = sorted({r["rule_id"] for r in rules if isinstance(r["rule_id"], str)})
            place = (seen["account"], seen["region"], seen["group_id"])
            seen["exposing"][(*place, family, port)] = {
                **rules[-1],
                "peer": ", ".join(sorted({str(r["peer"]) for r in rules})),
                "rule_id": ", ".join(ids) or None,
                "exposed_ports": str(port),
                "reach": "unknown" if listed else "internet",
                "caveat": None if not listed else prefix_list_caveat(family)
                if rules[-1]["peer_type"] == "prefix_list" else words(
                    "en", "exposure.address_caveat", address=family),
            }


def _exposed_at(window: dict, lists: dict | None = None) -> list[tuple]:
    """The (account, region, group, family, port) places a logged window exposes, keyed as
    observations key theirs: a prefix list or an address of unknown reach by its text in place of
    the family; one of the internet by its family, a prefix list's by its entries' (`lists`)."""
    ports = [int(p) for p in str(window["exposed_ports"]).split(",") if p]
    place = (window["account"], window["region"], window["group_id"])
    if window["reach"] == "unknown":
        return [(*place, window["cidr"], p) for p in ports]
    peers = str(window["cidr"] or "").split(", ")
    families = {n.version for n in map(network, peers) if n is not None}
    families |= {net.version for peer in peers for _, entries, _ in
                 (lists or {}).get((*place[:2], peer), []) for net in entries}
    if window["reach"] != "internet" or not families:
        return []
    return [(*place, family, p) for family in sorted(families)[:1] for p in ports]


def held_at(state_rules: pd.DataFrame | State, at: pd.Timestamp) -> list[dict]:
    """The rules each group held at `at`, by its last observation before then (a deleted group
    holds none): what exposure.RuleState.seed takes to replay from a state rather than nothing.

    The rules are read in time order, a part at a time: each group keeps only its latest
    observation's rules (all of them as one table took 1 KB a rule, issue 16)."""
    last: dict[tuple, tuple[int, pd.Timestamp, list]] = {}  # place -> (first row, time, its rules)
    # Config items carry no rule ids; describe-security-group-rules does, at any time. An id names
    # one rule for its whole life, so each held rule takes every id the state gives its content:
    # a later revoke by id alone (no response detail) then finds the rule it removes.
    ids: dict[tuple, set] = {}
    dropped = ("observed_at", "deleted", "related_events", "description")
    for number, row in enumerate(_rows(state_rules)):
        if row["rule_id"] is not None:
            ids.setdefault(_key(row), set()).add(row["rule_id"])
        if row["observed_at"] > at:
            continue
        place = (row["account"], row["region"], row["group_id"])
        if place not in last or last[place][1] != row["observed_at"]:
            last[place] = (number, row["observed_at"], [])
        if not row["deleted"] and row["direction"] is not None:
            last[place][2].append({k: v for k, v in row.items() if k not in dropped})
    held = [rule for _, _, found in sorted(last.values(), key=lambda h: h[0]) for rule in found]
    return [
        {**rule, "rule_id": rule_id}
        for rule in held
        for rule_id in sorted(ids.get(_key(rule), set()) | {rule["rule_id"]} - {None}) or [None]
    ]


def windows(
    logged: pd.DataFrame,
    state_rules: pd.DataFrame | State,
    settings: Settings | None = None,
    evidence_start: pd.Timestamp | None = None,
    evidence_end: pd.Timestamp | None = None,
    calls: pd.DataFrame | None = None,
    lists: dict | None = None,
) -> pd.DataFrame:
    """The windows of state and logs together (STATE_WINDOW_COLUMNS), from the logged windows
    (exposure.windows) and the state's rules (`rules`); `lists` (exposure.prefix_list_history)
    resolve the prefix lists a state's rule names.

    `calls` (related_calls) are CloudTrail events that Config items may name in relatedEvents: a
    window opened or closed between two items takes the actor, source IP and tool of the call on
    its group that the item names. `attrs["unreadable"]`: each rule of the state that cannot be
    measured (`unreadable`), with where and why, as `security_groups.normalize` lists the calls.
    """
    settings = settings or Settings()
    names = _names(state_rules)
    done = [
        {**w, "opened_how": "logged" if w["opened_at"] is not None else None}
        for w in records(logged)
    ]
    by_key: dict[tuple, list[dict]] = {}
    for w in done:
        for key in _exposed_at(w, lists):
            by_key.setdefault(key, []).append(w)
    known = {} if calls is None else {c["event_id"]: c for c in records(calls)}
    last_seen: dict[tuple, pd.Timestamp] = {}
    previous: dict[tuple, dict] = {}  # group place -> its previous observation
    unlogged: dict[tuple, dict] = {}  # rule key -> window opened with no logged call, still open
    unread: dict[tuple, str] = {}  # rule -> why it cannot be measured, as first observed
    for obs in observations(state_rules, settings, every_rule=False, lists=lists):
        place, at = (obs["account"], obs["region"], obs["group_id"]), obs["at"]
        before = previous.get(place)
        for key, (rule, why) in obs["unreadable"].items():
            unread.setdefault(key, reason("unusable_state_rule", group=place[2], account=place[0],
                                          region=place[1], at=_iso(at), rule=_rule_columns(rule)["rule"],
                                          why=why))
        for key, rule in obs["exposing"].items():
            last_seen[key] = at
            covering = _covering(by_key.get(key, []), at, closing_second=True)
            if covering is not None:
                closed = covering["closed_at"]
                # a revoke of a rule never seen opening: state knows more (from before the close)
                if covering["opened_at"] is None and (closed is None or at <= pd.Timestamp(closed)):
                    covering.update(opened_at=at, opened_how="state")
                continue
            if key in unlogged and _taken_over(unlogged[key], by_key.get(key, []), at):
                del unlogged[key]  # a logged call took it over and closed it: opened again since
            if key not in unlogged:
                how = "config" if before is not None and key not in before["exposing"] else "state"
                # it opened after the previous item without it, and after the logs last closed it
                bounds = [pd.Timestamp(w["closed_at"]) for w in by_key.get(key, [])
                          if w["closed_at"] is not None and pd.Timestamp(w["closed_at"]) <= at]
                if how == "config":
                    bounds.append(before["at"])
                unlogged[key] = _opened(rule, obs, how, max(bounds, default=None), known)
                unlogged[key]["_key"] = key
                done.append(unlogged[key])
        closed_how = DELETED_NOT_LOGGED if obs["deleted"] else NOT_LOGGED
        for key in [k for k in unlogged if k[:3] == place and k not in obs["exposing"]]:
            _closed(unlogged.pop(key), obs, closed_how, last_seen.get(key), known)
        for key, held in by_key.items():
            covering = (
                _covering(held, at) if key[:3] == place and key not in obs["exposing"] else None
            )
            if covering is None or not _opened_before(covering, at):
                continue
            proof = _proven_there(covering, obs, known)
            if proof is None:
                _closed(covering, obs, closed_how, last_seen.get(key), known)
            elif not covering.get("_contradicted"):  # said once: a daily snapshot repeats it
                covering["_contradicted"] = True
                covering["caveat"] = " ".join(filter(None, [covering.get("caveat"), proof[2]]))
        previous[place] = obs
    frame = pd.DataFrame(_ports_together(_one_window(done)), columns=STATE_WINDOW_COLUMNS)
    frame = _finish(frame, names, evidence_start, evidence_end)
    frame.attrs["unreadable"] = list(unread.values())  # the state's rules no window can measure
    return frame


def _opened_before(window: dict, at: pd.Timestamp) -> bool:
    """Whether the window surely opened before a state taken at `at`. CloudTrail keeps whole
    seconds and Config milliseconds: a call logged at 02:00:00 may have come at 02:00:00.9, after
    an item captured at 02:00:00.5 without its rule, which then closes nothing."""
    opened = window["opened_at"]
    if opened is None:
        return True
    late = pd.Timedelta(seconds=1) if window["opened_how"] == "logged" else pd.Timedelta(0)
    return pd.Timestamp(opened) + late <= at if late else pd.Timestamp(opened) < at


def _proven_there(window: dict, obs: dict, known: dict) -> tuple | None:
    """(event id, time, sentence) of a logged call that proves wrong a state lacking the window's
    rule, or None: a successful revoke of the rule after the state proves the rule was there until
    then, and a successful call on a group after a state that says it was deleted proves the
    group was there. The window then stays open until its logged close."""
    at, closed = obs["at"], window["closed_at"]
    if window["close_reason"] == "revoked" and closed is not None and pd.Timestamp(closed) > at:
        return window["closed_event_id"], pd.Timestamp(closed), (
            f"The state at {_iso(at)} lacks this rule, but a successful revoke of it "
            f"({window['closed_event_id']}) at {_iso(closed)} proves it was there until then: "
            "state and logs disagree, and the window stays open until the revoke.")
    later = sorted((pd.Timestamp(c["event_time"]), c["event_id"]) for c in known.values()
                   if obs["deleted"] and _on(c, obs) and pd.Timestamp(c["event_time"]) > at)
    if later:
        (when, event), *_ = later
        return event, when, (
            f"AWS Config recorded the group deleted at {_iso(at)}, but a successful call on it "
            f"({event}) at {_iso(when)} proves it was there then: state and logs disagree, and "
            "the deletion closes no window.")
    return None


def _taken_over(unlogged: dict, logged: list[dict], at: pd.Timestamp) -> bool:
    """Whether a logged window of the rule opened after the unlogged one and closed by `at`."""
    return any(_inside(w, unlogged) and w["closed_at"] is not None
               and pd.Timestamp(w["closed_at"]) <= at for w in logged)


def _inside(logged: dict, unlogged: dict) -> bool:
    """Whether a logged call opened the rule again while a state already showed it open."""
    opened, closed = logged["opened_at"], unlogged.get("closed_at")
    return (logged["opened_how"] == "logged" and pd.Timestamp(opened) > unlogged["opened_at"]
            and (closed is None or pd.Timestamp(opened) < closed))


def _one_window(windows: list[dict]) -> list[dict]:
    """A rule a state showed open that a logged call then granted again is one window: opened as
    the state says (the earlier, known bound), closed as the logs say if they close it, the call
    named in its caveat. The logged window keeps only the ports no state window held."""
    opened = [w for w in windows if "_key" in w]
    for w in [w for w in windows if w["opened_how"] == "logged"]:
        ports = w["exposed_ports"].split(",")
        for key in _exposed_at(w):
            held = next((s for s in opened if s["_key"] == key and _inside(w, s)), None)
            if held is None:
                continue
            ports.remove(str(key[-1]))
            if w["closed_at"] is not None:
                held.update({k: w.get(k) for k in (*_CLOSED_BY, "closed_after")})
            held["caveat"] = " ".join(filter(None, [held.get("caveat"), (
                f"A logged call ({w['opened_event_id']}, {w['opened_by']}) granted this exposure "
                f"again at {_iso(w['opened_at'])} while the state showed it open since "
                f"{_iso(held['opened_at'])}: it is one window, from the state. Had the rule been "
                "removed in between, with no logged call, it was open again from that call on."
            )]))
        w["exposed_ports"] = ",".join(ports)
    return [w for w in windows if w["exposed_ports"]]


def _iso(moment) -> str:
    return pd.Timestamp(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


# The unlogged windows of several ports that opened and closed together are one window, as
# exposure.window_frame makes of logged ones (which are merged already, and left as they are).
_SAME_UNLOGGED = ("account", "region", "group_id", "cidr", "opened_how", "opened_at", "closed_at",
                  "close_reason", "opened_event_id", "closed_event_id")


def _ports_together(windows: list[dict]) -> list[dict]:
    unlogged = [w for w in windows if w["opened_how"] in ("config", "state")]
    others = [w for w in windows if w["opened_how"] not in ("config", "state")]
    return others + ports_together(unlogged, _SAME_UNLOGGED)


def _covering(held: list[dict], at: pd.Timestamp, closing_second: bool = False) -> dict | None:
    """The logged window of one rule that was open at `at` (an opening at `at` itself counts).
    `closing_second`: a state that shows the rule within the second of a logged close counts too
    (the call at 02:00:00 may have come at 02:00:00.9, after an item captured at 02:00:00.4)."""
    for w in held:
        opened, closed = w["opened_at"], w["closed_at"]
        if closed is not None and closing_second and w["close_reason"] not in (NOT_LOGGED, DELETED_NOT_LOGGED):
            closed = pd.Timestamp(closed) + pd.Timedelta(seconds=1)
        if (opened is None or pd.Timestamp(opened) <= at) and (
            closed is None or pd.Timestamp(closed) > at
        ):
            return w
    return None


def related_calls(changes: pd.DataFrame) -> pd.DataFrame:
    """The calls a Config item may name in its relatedEvents (windows' `calls`): successful ones,
    each event id once. An id that two different calls share names neither: a forged record must
    not become who opened a window."""
    columns = ["event_id", "event_time", "actor", "actor_arn", "source_ip", "tool", "account",
               "region", "group_id", "group_name"]
    done = changes.loc[changes["error_code"].isna(), columns]
    # a rule its response lists has the group id, one it does not (unknown) may not: one group
    done = done.assign(group_id=done.groupby("event_id")["group_id"].transform("first"))
    return done.drop_duplicates().drop_duplicates("event_id", keep=False)


def _related(obs: dict, known: dict) -> dict | None:
    """The call an item names that changed its own group (an id names nothing else)."""
    return next((known[e] for e in obs["related_events"] if e in known and _on(known[e], obs)), None)


def _on(call: dict, obs: dict) -> bool:
    """Whether the call changed the observed group: by its id, or by its name where the call has
    no id (a default VPC's group by name, the response naming no id)."""
    if (call["account"], call["region"]) != (obs["account"], obs["region"]):
        return False
    if isinstance(call["group_id"], str):
        return call["group_id"] == obs["group_id"]
    return isinstance(call["group_name"], str) and call["group_name"] == obs["group_name"]


def _opened(rule: dict, obs: dict, how: str, after: pd.Timestamp | None, known: dict) -> dict:
    call = _related(obs, known)
    return {
        "account": rule["account"],
        "region": rule["region"],
        "group_id": rule["group_id"],
        "group_name": rule["group_name"],
        "vpc_id": rule["vpc_id"],
        "direction": rule["direction"],
        "protocol": rule["protocol"],
        "from_port": rule["from_port"],
        "to_port": rule["to_port"],
        "cidr": rule["peer"],
        "exposed_ports": rule["exposed_ports"],
        "rule_id": rule["rule_id"],
        "reach": rule["reach"],
        "caveat": rule["caveat"],
        "opened_at": obs["at"],
        "opened_how": how,
        "opened_after": after,
        "opened_by": call and call["actor"],
        "opened_by_arn": call and call["actor_arn"],
        "opened_from_ip": call and call["source_ip"],
        "opened_tool": call and call["tool"],
        "opened_event_id": call and call["event_id"],
    }


def _closed(
    window: dict, obs: dict, reason: str, last_seen: pd.Timestamp | None, known: dict
) -> None:
    call = _related(obs, known)
    opened = window["opened_at"]
    after = max([t for t in (opened, last_seen) if t is not None and pd.notna(t)], default=None)
    window.update(
        closed_at=obs["at"],
        closed_after=after,
        close_reason=reason,
        still_open=False,
        closed_by=call and call["actor"],
        closed_by_arn=call and call["actor_arn"],
        closed_from_ip=call and call["source_ip"],
        closed_event_id=call and call["event_id"],
    )


def _names(state_rules: pd.DataFrame | State) -> dict[tuple, tuple]:
    """(account, region, group id) -> (group name, VPC id), the latest the state gives."""
    names = {}
    columns = ["account", "region", "group_id", "group_name", "vpc_id"]
    for row in (r for frame in _frames(state_rules) for r in records(frame[columns])):
        old = names.get((row["account"], row["region"], row["group_id"]), (None, None))
        names[(row["account"], row["region"], row["group_id"])] = (
            row["group_name"] or old[0],
            row["vpc_id"] or old[1],
        )
    return names


def _finish(frame: pd.DataFrame, names: dict, start, end) -> pd.DataFrame:
    for col in ("opened_at", "closed_at", "opened_after", "closed_after"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    frame["still_open"] = frame["closed_at"].isna()
    frame["ambiguous_order"] = frame["ambiguous_order"].eq(True)
    frame["reach"] = frame["reach"].astype(object).fillna("internet")  # state measures CIDRs only
    state = frame["opened_how"].eq("state")
    frame["open_before_evidence"] = frame["opened_at"].isna() | (
        state & (True if start is None else frame["opened_at"].le(start))
    )
    return in_time_order(name_groups(frame, names), end)


def name_groups(frame: pd.DataFrame, names: dict[tuple, tuple]) -> pd.DataFrame:
    """`group_name` and `vpc_id` filled on every row where any evidence names the group."""
    frame = frame.copy()
    if "vpc_id" not in frame:
        frame["vpc_id"] = None
    places = list(zip(frame["account"], frame["region"], frame["group_id"]))
    known = [names.get(p, (None, None)) for p in places]
    frame["group_name"] = [
        n if isinstance(n, str) else k[0] for n, k in zip(frame["group_name"], known)
    ]
    frame["vpc_id"] = [v if isinstance(v, str) else k[1] for v, k in zip(frame["vpc_id"], known)]
    return frame


def group_names(state_rules: pd.DataFrame | State, changes: pd.DataFrame) -> dict[tuple, tuple]:
    """(account, region, group id) -> (name, VPC id) from the state and the creating calls."""
    names = _names(state_rules)
    for row in records(changes[changes["action"].eq("create_group")] if len(changes) else changes):
        place = (row["account"], row["region"], row["group_id"])
        old = names.get(place, (None, None))
        names[place] = (old[0] or row["group_name"], old[1])
    return names


def reconcile(
    merged: pd.DataFrame,
    state_rules: pd.DataFrame | State,
    changes: pd.DataFrame,
    event_ids: set[str],
    coverage: pd.DataFrame,
    evidence_start: pd.Timestamp | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Every disagreement between state and logs (RECONCILE_COLUMNS), in time order:

    - `opened_not_logged`: a rule in a state that no logged call opened: one exposing a watched
      port (its window), or any other rule (`_other_rules`);
    - `closed_not_logged`: a window or another rule the logs leave open that a later state lacks;
    - `deleted_not_logged`: a group deleted in state with no logged DeleteSecurityGroup;
    - `related_events_missing`: a Config item naming CloudTrail events absent from the evidence;
    - `state_contradicted`: a state lacking a window's rule, or saying its group was deleted, that
      a later successful logged call proves wrong (the window stays open: `_proven_there`).
    Each gives the interval in which the unlogged change must have happened (`after`, `before`) and
    what the coverage map (`coverage`: silent hours, stopped or deleted trails) shows in it.
    """
    rows = []
    for w in records(merged):
        base = {k: w[k] for k in ("account", "region", "group_id", "group_name", "vpc_id")}
        base |= _rule_columns({**w, "peer": w["cidr"]})
        if w["opened_how"] in ("config", "state"):
            rows.append(
                {
                    **base,
                    "kind": "opened_not_logged",
                    "after": w["opened_after"],
                    "before": w["opened_at"],
                    "detail_phrase": phrase("absent_before" if w["opened_how"] == "config"
                                            else "present_first"),
                }
            )
        if w["close_reason"] == NOT_LOGGED:
            rows.append(
                {
                    **base,
                    "kind": "closed_not_logged",
                    "after": w["closed_after"],
                    "before": w["closed_at"],
                    "detail_phrase": phrase("absent_later"),
                }
            )
    rows += _contradicted(merged, state_rules, changes)
    rows += _other_rules(state_rules, changes, settings or Settings(), evidence_start)
    deleted = _logged_deletions(changes)
    previous: dict[tuple, pd.Timestamp] = {}
    for obs in observations(state_rules, Settings()):
        place = (obs["account"], obs["region"], obs["group_id"])
        base = {
            "account": obs["account"],
            "region": obs["region"],
            "group_id": obs["group_id"],
            "group_name": obs["group_name"],
            "vpc_id": obs["vpc_id"],
            "rule": None,
            "after": previous.get(place),
            "before": obs["at"],
        }
        if (
            obs["deleted"]
            and place not in deleted
            and (place[:2], obs["group_name"]) not in deleted
        ):
            rows.append(
                {
                    **base,
                    "kind": "deleted_not_logged",
                    "detail_phrase": phrase("deleted"),
                }
            )
        missing = [e for e in obs["related_events"] if e not in event_ids]
        if missing:
            rows.append(
                {
                    **base,
                    "kind": "related_events_missing",
                    "related_events": ",".join(missing),
                    "detail_phrase": phrase("events_missing", missing=len(missing),
                                            total=len(obs["related_events"])),
                }
            )
        previous[place] = obs["at"]
    frame = pd.DataFrame(rows, columns=RECONCILE_COLUMNS)
    for col in ("after", "before"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    frame = frame.astype({"from_port": "Int64", "to_port": "Int64"})  # a row without a rule: NA
    frame["coverage_phrase"] = [_coverage(r, coverage, evidence_start) for r in records(frame)]
    for column in ("coverage", "detail"):
        frame[column] = [say(p, "en", "state") for p in frame[f"{column}_phrase"]]
    names = {
        (r["account"], r["region"], r["group_id"]): (r["group_name"], r["vpc_id"])
        for r in records(merged)
    }
    frame = name_groups(frame, {**_names(state_rules), **{k: v for k, v in names.items() if v[0]}})
    return frame.sort_values(
        ["before", "kind", "account", "region", "group_id"], kind="stable", ignore_index=True
    )


def _contradicted(
    merged: pd.DataFrame, state_rules: pd.DataFrame | State, changes: pd.DataFrame
) -> list[dict]:
    """A `state_contradicted` row for each observation that a window's logged calls prove wrong,
    found as `windows` finds it: from the state (`after`) to the call that proves it (`before`)."""
    known = {c["event_id"]: c for c in records(related_calls(changes))} if len(changes) else {}
    by_key: dict[tuple, list[dict]] = {}
    for w in records(merged):
        for key in _exposed_at(w):
            by_key.setdefault(key, []).append(w)
    rows = []
    for obs in observations(state_rules, Settings()):
        place = (obs["account"], obs["region"], obs["group_id"])
        for key, held in by_key.items():
            covering = _covering(held, obs["at"]) if key[:3] == place else None
            if covering is None or key in obs["exposing"]:
                continue
            proof = _opened_before(covering, obs["at"]) and _proven_there(covering, obs, known)
            if proof:
                rows.append({k: covering[k] for k in ("account", "region", "group_id", "group_name",
                                                      "vpc_id")}
                            | _rule_columns({**covering, "peer": covering["cidr"]})
                            | {"kind": "state_contradicted", "after": obs["at"], "before": proof[1],
                               "related_events": proof[0],
                               "detail_phrase": phrase("contradicted", event=proof[0])})
    return rows


def _other_rules(state_rules: pd.DataFrame | State, changes: pd.DataFrame, settings: Settings,
                 start: pd.Timestamp | None) -> list[dict]:
    """Disagreements on the rules that expose no watched port, whose windows do not say them: the
    logged changes replayed (exposure.RuleState) to each observation, rule by rule.

    A rule in the state that the replay does not hold was opened unlogged: once, where it first
    appears (after the previous observation of its group). A rule the replay holds that the state
    lacks was removed unlogged: once, until the logs change it again. Observations from before the
    logs begin say nothing of the logs and are not compared; a group's default egress rule (all
    traffic out) comes with its logged CreateSecurityGroup, not with a call of its own.
    """
    replay = RuleState(settings)
    calls = records(changes.sort_values("event_time", kind="stable")) if len(changes) else []
    created: set[tuple] = set()
    rows: list[dict] = []
    reported_closed: dict[tuple, int] = {}  # rule -> the number of calls applied when reported
    previous: dict[tuple, dict] = {}  # place -> the rules of its previous observation, if seen again
    last = _last_observed(state_rules)
    applied = 0
    for obs in observations(state_rules, settings):
        place = (obs["account"], obs["region"], obs["group_id"])
        while applied < len(calls) and calls[applied]["event_time"] <= obs["at"]:
            call = calls[applied]
            replay.apply(call)
            if call["action"] == "create_group" and call["error_code"] is None:
                created.add((call["account"], call["region"], call["group_id"]))
            applied += 1
        before = previous.pop(place, None)
        if obs["at"] < last[place]:  # seen again: what it held then, and no more (issue 16)
            previous[place] = {"at": obs["at"], "rules": set(obs["rules"])}
        if obs["deleted"] or (start is not None and obs["at"] <= start):
            continue
        held = {k: r for k, r in replay.rules(place).items() if not exposed_ports(r, settings)}
        default = {(*place, "egress", "-1", None, None, n) for n in ("0.0.0.0/0", "::/0")}
        base = {k: obs[k] for k in ("account", "region", "group_id", "group_name", "vpc_id")}
        for key, rule in obs["rules"].items():
            new = before is None or key not in before["rules"]
            skip = key in obs["in_exposure"] or (place in created and key in default)
            if key in held or skip or not new:
                continue
            rows.append({**base, "kind": "opened_not_logged", **_rule_columns(rule),
                         "after": before["at"] if before else None, "before": obs["at"],
                         "detail_phrase": phrase("other_opened")})
        for key, rule in held.items():
            if key in obs["rules"] or reported_closed.get(key) == applied:
                continue
            reported_closed[key] = applied
            rows.append({**base, "kind": "closed_not_logged", **_rule_columns(rule),
                         "after": before["at"] if before else None, "before": obs["at"],
                         "detail_phrase": phrase("other_closed")})
    return rows


def _rule_columns(rule: dict) -> dict:
    """A rule's columns: in words (`rule`), and its parts, which the report says in its language."""
    text = f"{rule['direction']} {rule['protocol']} {_ports(rule)} from {rule['peer']}"
    return {"rule": text, **{k: rule[k] for k in RULE_PARTS}}


def _ports(w: dict) -> str:
    if w["protocol"] == "-1":
        return "all ports"
    low, high = _int(w["from_port"]), _int(w["to_port"])
    return f"port {low}" if low == high else f"ports {low}-{high}"


def _logged_deletions(changes: pd.DataFrame) -> set:
    """(account, region, group id) and ((account, region), group name) of every logged deletion."""
    found: set = set()
    for row in records(changes[changes["action"].eq("delete_group")] if len(changes) else changes):
        if row["error_code"] is None:
            found |= {
                (row["account"], row["region"], row["group_id"]),
                ((row["account"], row["region"]), row["group_name"]),
            }
    return found


def _coverage(row: dict, coverage: pd.DataFrame, start: pd.Timestamp | None) -> Phrase:
    """What the coverage map shows in a disagreement's interval."""
    after, before = row["after"], row["before"]
    if start is not None and before is not None and before <= start:
        return phrase("coverage", clauses=Items([phrase("before_logs")]))
    seen = (
        [phrase("partly_before")]
        if start is not None and (after is None or after < start)
        else []
    )
    for c in records(coverage):
        if c["account"] != row["account"] or c["region"] not in (None, row["region"]):
            continue
        ends = c["end"] if c["end"] is not None else pd.Timestamp.max.tz_localize("UTC")
        if c["start"] <= before and (after is None or ends >= after):
            seen.append(phrase("gap_from", kind=phrase(f"kind.{c['kind']}"),
                               start=f"{c['start']:%Y-%m-%d %H:%M} UTC"))
    if len(seen) <= (start is not None and (after is None or after < start)):
        seen.append(phrase("logs_there"))
    return phrase("coverage", clauses=Items(seen))
