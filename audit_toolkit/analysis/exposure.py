"""Exposure windows: when a watched port stood open to the internet, who opened it, who closed it.

The replay (RuleState) holds every rule of every group. After each successful change it measures,
per group, watched port and address family, the public address space the group's ingress rules let
in together (address_space: all its CIDRs on that port, across calls, and the entries of the prefix
lists it names), kept as rules come and go (address_space.PublicUnion): a change costs what it
touches, never a pass over the group's rules. A window opens when that union reaches the internet
threshold and closes when it falls below: on a revoke, a modify, a prefix-list change, or the
deletion of the group. A rule
naming a prefix list whose entries the evidence does not hold is an exposure of unknown reach
(`reach` = `unknown`), never dropped. A revoke of a rule never seen is a window already open before
the evidence. Failed calls change nothing; they are attempts. Changes of one second whose order the
evidence does not prove were put in the order that keeps an exposure open (security_groups
.in_proven_order); a window they open or close says so (`ambiguous_order`, `caveat`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..phrases import words
from ..settings import Settings
from .address_space import PublicUnion, network_public, reaches_internet
from .events import is_missing, records
from .security_groups import DB_SECURITY_GROUP_EVENTS, network

if TYPE_CHECKING:  # pandas only where DataFrames are built: the Lambda imports this module bare
    import pandas as pd

WINDOW_COLUMNS = [
    "account", "region", "group_id", "group_name", "direction", "protocol", "from_port", "to_port",
    "cidr", "exposed_ports", "rule_id", "reach",
    "opened_at", "opened_by", "opened_by_arn", "opened_from_ip", "opened_tool", "opened_event_id",
    "closed_at", "closed_by", "closed_by_arn", "closed_from_ip", "closed_event_id", "close_reason",
    "still_open", "open_before_evidence", "ambiguous_order", "caveat", "duration",
]
# A classic DB security group lets a CIDR in to its database's port, which the call does not name:
# these are the default ports of RDS's engines (MySQL/MariaDB, PostgreSQL, SQL Server, Oracle, Db2).
DATABASE_PORTS = (3306, 5432, 1433, 1521, 50000)
_CLOSED_FIELDS = ("closed_at", "closed_by", "closed_by_arn", "closed_from_ip", "closed_event_id",
                  "close_reason")
_CLOSE_REASONS = {
    "revoke": "revoked",
    "modify": "modified",
    "delete_group": "group deleted",
    "prefix_list_add": "prefix list modified",
    "prefix_list_remove": "prefix list modified",
    "prefix_list_restore": "prefix list modified",
}


def covered_ports(row: dict, settings: Settings) -> list[int]:
    """The watched ports an ingress rule's protocol and port range let in, whatever its peer."""
    # A modify of a rule never seen before does not say its direction: count it, rather than
    # miss an opening.
    direction = row.get("direction") or ("ingress" if row.get("action") == "modify" else None)
    if direction != "ingress":
        return []
    if row.get("event_name") in DB_SECURITY_GROUP_EVENTS:
        return [p for p in settings.watched_ports if p in DATABASE_PORTS]
    protocol = row.get("protocol")
    if protocol == "-1":
        return list(settings.watched_ports)
    if protocol != "tcp":
        return []
    low, high = _bound(row.get("from_port"), 0), _bound(row.get("to_port"), 65535)
    return [p for p in settings.watched_ports if low <= p <= high]


def exposed_ports(row: dict, settings: Settings) -> list[int]:
    """The watched ports one rule change lets in from the internet on its own (empty if none)."""
    net = network(row.get("peer")) if row.get("peer_type") in ("cidr_ipv4", "cidr_ipv6") else None
    if net is None or not reaches_internet([net], net.version, settings.internet_prefix_len):
        return []
    return covered_ports(row, settings)


def exposed_ports_together(rows: list[dict], settings: Settings) -> list[list[int]]:
    """For each rule change (rows of security_groups.CHANGE_COLUMNS), the watched ports that its
    event's CIDRs of the same group, action and direction let in from the internet together.

    One call granting 22 to 0.0.0.0/1 and 128.0.0.0/1 opens it to the whole internet, though
    neither rule does alone: measured as the replay measures a group, by the union
    (address_space.reaches_internet), per watched port and address family. What one event decides
    alone (the real-time alert, a shared change, a failed attempt); the replay goes across events.
    """
    def key(row: dict, port: int, net) -> tuple:
        event = row.get("event_id") if not is_missing(row.get("event_id")) else id(row)
        return event, row.get("group_id"), row.get("action"), row.get("direction"), port, net.version

    nets = [network(r.get("peer")) if r.get("peer_type") in ("cidr_ipv4", "cidr_ipv6") else None
            for r in rows]
    ports = [covered_ports(r, settings) if n is not None else [] for r, n in zip(rows, nets)]
    together: dict[tuple, list] = {}
    for row, net, covered in zip(rows, nets, ports):
        for port in covered:
            together.setdefault(key(row, port, net), []).append(net)
    return [[p for p in covered if reaches_internet(together[key(r, p, n)], n.version,
                                                    settings.internet_prefix_len)]
            for r, n, covered in zip(rows, nets, ports)]


def _bound(value, default: int) -> int:
    return default if is_missing(value) or int(value) < 0 else int(value)


def _int(value) -> int | None:
    return None if is_missing(value) else int(value)


RuleKey = tuple  # (account, region, group, direction, protocol, from_port, to_port, peer)
_RULE_FIELDS = ("account", "region", "group_id", "group_name", "event_name", "direction",
                "protocol", "from_port", "to_port", "peer", "peer_type", "rule_id")


class RuleState:
    """The rules each security group holds, replayed change by change, and the windows they make.

    - `apply(change)`: one normalized change (a row of security_groups.CHANGE_COLUMNS, as a dict),
      in the normalizer's order. Failed calls change nothing.
    - `seed(rules)`: rules known to be held when the replay starts (AWS Config items, EC2 describe
      output), each a mapping with account, region, group_id, direction, protocol, from_port,
      to_port, peer, peer_type and optionally group_name and rule_id. What they expose is a window
      open before the evidence.
    - `held()`: the set of rules held now (each a RuleKey), to compare two states; `rules(group)`
      those of one group, with their fields.
    - `windows()`: every window so far, closed and still open, as rows of WINDOW_COLUMNS but
      `duration` (window_frame adds it, from the end of the evidence).
    """

    def __init__(self, settings: Settings | None = None, shared: Iterable[str] = ()) -> None:
        self.settings = settings or Settings()
        self.shared = frozenset(shared)  # eventIDs held by different records: shared_event_ids
        self._held: dict[tuple, dict[RuleKey, dict]] = {}  # (account, region, group) -> rule -> row
        # (account, region, group, rule id) -> rule: a rule id is one group's, and a record placed in
        # another account, region or group must not redefine what a revoke or modify by id changes here.
        self._by_rule_id: dict[tuple, RuleKey] = {}
        # (account, region, group name) -> id, from CreateSecurityGroup
        self._group_ids: dict[tuple, str] = {}
        # (account, region, pl id) -> {"entries", "complete", "public" and "family": entries that
        # are public, and all, by family}
        self._lists: dict[tuple, dict] = {}
        # What each where (account, region, group, reach, family or peer, port) is made of, kept
        # as rules come and go so that a change costs what it touches, never the group's rules:
        self._unions: dict[tuple, PublicUnion] = {}  # internet where -> its public addresses
        self._cidrs: dict[tuple, dict[RuleKey, dict]] = {}  # internet where -> public CIDR rules
        self._unread: dict[tuple, dict[RuleKey, dict]] = {}  # unknown where -> unreadable CIDRs
        # (group, port) -> prefix list id -> the rules naming it there; each list's (group, port)s
        self._refs: dict[tuple, dict[str, dict[RuleKey, dict]]] = {}
        self._referrers: dict[tuple, dict[tuple, None]] = {}
        self._naming: dict[tuple, dict[tuple, int]] = {}  # (account, region, peer) -> group -> n
        self._order: dict[tuple, int] = {}  # a group's or rule's place in the order of holding
        self._dirty: dict[tuple, dict[tuple, None]] = {}  # group -> wheres changed since settled
        self._clock = 0  # orders rules held and windows opened
        # (account, region, group) -> (reach, family or prefix list id, port) -> its open window
        self._open: dict[tuple, dict[tuple, dict]] = {}
        self._done: list[dict] = []
        self._last_closed: dict[tuple, dict] = {}  # (group, reach, ..., port) -> its last window
        self._duplicates: list[dict] = []  # the rows of the last authorize refused as a duplicate
        # Within the current second: what its calls prove was held, and the groups they changed.
        self._second, self._proofs, self._changed = None, [], set()

    def held(self) -> frozenset[RuleKey]:
        return frozenset(k for rules in self._held.values() for k in rules)

    def rules(self, group: tuple) -> dict[RuleKey, dict]:
        """The rules one (account, region, group id) holds now, each with its fields."""
        return dict(self._held.get(group, {}))

    def seed(self, rules) -> None:
        touched = set()
        for rule in rules:
            row = {"group_name": None, "rule_id": None, "event_name": None, **rule}
            touched.add(self._hold(row))
        for group in touched:
            self._settle(group, {}, before=True)

    def apply(self, change) -> None:
        row = dict(change)
        self._resolve_duplicate(row["event_id"])
        if row["event_time"] != self._second:
            self._prove_held()
            self._second = row["event_time"]
        if row.get("error_code") is not None:
            if row["action"] == "authorize" and str(row["error_code"]).endswith("InvalidPermission.Duplicate"):
                self._duplicates.append(row)
            return  # a failed call changes nothing
        action = row["action"]
        if action == "update_description":
            if row["peer"] is not None:  # AWS describes a rule that is there, else fails
                self._proofs.append((row, "_described"))
            return
        if row.get("group_id") or row.get("group_name"):
            self._changed.add(self._group(row))
        removal = action in ("revoke", "delete_group", "prefix_list_remove")
        if removal and (row["event_id"] in self.shared or row.get("doubt") == "name_unlike_aws"):
            # Another record holds its eventID, or it names its call unlike AWS (one of them
            # forged): whether this removal happened cannot be decided, so it removes nothing,
            # and the open windows say why.
            why = "_shared" if row["event_id"] in self.shared else "_misnamed"
            for window in self._open.get(self._group(row), {}).values():
                window[why] = window.get(why) or row["event_id"]
            return
        if action == "create_group":
            if row["group_name"] and row["group_id"]:
                # Names are unique per VPC only: a name created twice names no id (None).
                name = (row["account"], row["region"], row["group_name"])
                known = self._group_ids.get(name, row["group_id"])
                self._group_ids[name] = row["group_id"] if known == row["group_id"] else None
        elif action in ("prefix_list_create", "prefix_list_add", "prefix_list_remove", "prefix_list_restore"):
            self._change_list(row)
        elif action == "delete_group":
            self._delete_group(row)
        elif action == "authorize":
            self._settle(self._hold(row), row)
        elif action == "revoke":
            self._revoke(row)
        elif action == "modify" and row["rule_id"]:
            old = self._by_rule_id.get((*self._group(row), row["rule_id"]))
            if old is not None and row.get("doubt") != "name_unlike_aws":  # else both are held
                self._release(old)
            group = self._hold(row)
            self._settle(group, row)

    def _prove_held(self) -> None:
        """At the end of a second, the rules its calls prove were there (a description changed,
        an authorize refused as a duplicate): held since before the evidence where the replay did
        not hold them, the window naming the event. A group changed in that second proves
        nothing: the call that granted the rule may have come first, unproven."""
        for row, proof in self._proofs:
            key = self._key(row)
            if key[:3] not in self._changed and key not in self._held.get(key[:3], {}):
                group = self._hold(row)
                self._settle(group, row, before=True)
                for window in self._open.get(group, {}).values():
                    window[proof] = window.get(proof) or row["event_id"]
        self._proofs, self._changed = [], set()

    def _resolve_duplicate(self, event_id) -> None:
        """An authorize of one rule refused as a duplicate proves the rule was there. (Of several
        rules, which one was there the record does not say: nothing is proven.)"""
        if not self._duplicates or self._duplicates[0]["event_id"] == event_id:
            return  # its rows are one event's: decided once its last is read, never row by row
        pending, self._duplicates = self._duplicates, []
        if len(pending) == 1:
            self._proofs.append((pending[0], "_duplicate"))

    def prefix_list(self, place: tuple) -> tuple[frozenset, bool] | None:
        """(entries, whether the evidence holds them all) of the list (account, region, id) now."""
        listed = self._lists.get(place)
        return None if listed is None else (frozenset(listed["entries"]), listed["complete"])

    def windows(self) -> list[dict]:
        self._resolve_duplicate(None)
        self._prove_held()
        still = [{**w, "still_open": True} for ws in self._open.values() for w in ws.values()]
        return [_public_fields(w) for w in self._done + still]

    # --- rules held ---------------------------------------------------------------------------

    def _group(self, row: dict) -> tuple:
        """(account, region, group): the id, or the name where the evidence never said which id."""
        if row.get("event_name") in DB_SECURITY_GROUP_EVENTS:
            return row["account"], row["region"], f"rds:{row['group_name']}"
        named = self._group_ids.get((row["account"], row["region"], row["group_name"]))
        return row["account"], row["region"], row["group_id"] or named or row["group_name"]

    def _key(self, row: dict) -> RuleKey:
        net = network(row["peer"])
        ports = (
            (None, None)
            if row["protocol"] == "-1"
            else (_int(row["from_port"]), _int(row["to_port"]))
        )
        return (
            *self._group(row),
            row["direction"] or "ingress",
            row["protocol"],
            *ports,
            str(net) if net is not None else row["peer"],
        )

    def _hold(self, row: dict) -> tuple:
        key = self._key(row)
        rule = {f: row.get(f) for f in _RULE_FIELDS}
        rule["direction"] = key[3]  # a modify of a rule never seen: ingress, as its key says
        # Parsed and measured once: the union is measured after every change of the group.
        rule["network"] = network(rule["peer"])
        rule["ports"] = covered_ports(rule, self.settings)
        rule["public"] = network_public(rule["network"]) if rule["network"] is not None else 0
        if key[:3] not in self._held:
            self._order[key[:3]] = self._tick()
        held = self._held.setdefault(key[:3], {})
        if key in held:
            self._count(key, held[key], -1)
        else:
            self._order[key] = self._tick()
        held[key] = rule
        self._count(key, rule, 1)
        if row.get("rule_id"):
            self._by_rule_id[(*key[:3], row["rule_id"])] = key
        return key[:3]

    def _release(self, key: RuleKey) -> None:
        rule = self._held.get(key[:3], {}).pop(key, None)
        if rule:
            self._count(key, rule, -1)
            del self._order[key]
        by_id = (*key[:3], rule["rule_id"]) if rule else None
        if rule and rule["rule_id"] and self._by_rule_id.get(by_id) == key:
            # A later rule with the same content is another rule.
            del self._by_rule_id[by_id]

    def _revoke(self, row: dict) -> None:
        by_id = (*self._group(row), row["rule_id"])
        key = self._by_rule_id.get(by_id) if row["rule_id"] else None
        key = key or self._key(row)
        group = key[:3]
        if key not in self._held.get(group, {}):
            # Never seen: it was held before the evidence, with what the group holds now.
            self._hold(row)
            self._settle(group, row, before=True)
        if row.get("inconsistent") is True:
            # Its response contradicts its request: which rule went cannot be decided, so none
            # did, and the group's open windows say why they stayed open.
            for window in self._open.get(group, {}).values():
                window["_inconsistent"] = window.get("_inconsistent") or row["event_id"]
            return
        self._release(key)
        self._settle(group, row)

    def _delete_group(self, row: dict) -> None:
        # Rules are keyed by id, or by name where no id was known: a delete by either removes them.
        names = {self._group(row)[2], row["group_id"], row["group_name"]} - {None}
        place = (row["account"], row["region"])
        for group in [g for g in self._held if g[:2] == place and g[2] in names]:
            for key, rule in self._held.pop(group).items():
                self._count(key, rule, -1)
                del self._order[key]
            del self._order[group]
            self._settle(group, row)
        # Its name is free again: a group created with it next is the one the name means.
        for name in [n for n, i in self._group_ids.items() if n[:2] == place and i in names]:
            del self._group_ids[name]

    def _change_list(self, row: dict) -> None:
        place = (row["account"], row["region"], row["prefix_list_id"])
        # The groups with a rule naming the list, in the order they were first held.
        named = sorted(self._naming.get(place, {}), key=self._order.__getitem__)
        seen = place in self._lists
        entries = self._lists.setdefault(place, {"entries": set(), "complete": False,
                                                 "public": {4: 0, 6: 0}, "family": {4: 0, 6: 0}})
        if row["action"] == "prefix_list_create" and (named or seen):
            # A list is created before a rule names it or it is changed: a create logged after
            # contradicts the records before it (one of them forged or misdated). Its entries are
            # added, but they prove nothing of the list's whole: its reach stays unknown.
            entries["complete"] = False
            for group in named:
                for where, window in self._open.get(group, {}).items():
                    if where[4] == place[2]:
                        window["_late_list"] = window.get("_late_list") or row["event_id"]
        elif row["action"] == "prefix_list_create":
            entries["complete"] = True
        elif row["action"] == "prefix_list_add" and network(row["peer"]) is None:
            # An entry AWS took that cannot be read (no Cidr, `0/0`): the list's reach is unknown.
            entries["complete"] = False
        elif row["action"] == "prefix_list_add":
            self._list_entry(place, network(row["peer"]), 1)
        elif row["action"] == "prefix_list_remove":
            self._list_entry(place, network(row["peer"]), -1)
        elif row["action"] == "prefix_list_restore":
            # An earlier version's entries, which the record does not list: reach unknown from now.
            for net in list(entries["entries"]):
                self._list_entry(place, net, -1)
            entries["complete"] = False
        for group, port in self._referrers.get(place, {}):
            self._touch(group, *_list_wheres(place[2], port))
        for group in named:
            self._settle(group, row)

    def _list_entry(self, place: tuple, net, step: int) -> None:
        """Add (1) or remove (-1) one entry of a list, in the unions of the groups naming it."""
        listed = self._lists[place]
        if net is None or (net in listed["entries"]) == (step > 0):
            return
        (listed["entries"].add if step > 0 else listed["entries"].discard)(net)
        listed["family"][net.version] += step
        if network_public(net):  # 10/8 lets in nothing public
            listed["public"][net.version] += step
            for group, port in self._referrers.get(place, {}):
                self._union((*group, "internet", net.version, port)).change(net, step)

    def _count(self, key: RuleKey, rule: dict, step: int) -> None:
        """Count a rule held (1) or released (-1) in what the wheres of its group are made of."""
        group = key[:3]
        naming = self._naming.setdefault((*group[:2], rule["peer"]), {})
        naming[group] = naming.get(group, 0) + step
        if not naming[group]:
            del naming[group]
        if not naming:
            del self._naming[(*group[:2], rule["peer"])]
        cidr = rule["peer_type"] in ("cidr_ipv4", "cidr_ipv6")
        for port in rule["ports"]:
            if rule["peer_type"] == "prefix_list":
                self._refer(key, rule, port, step)
            elif cidr and rule["public"]:
                where = (*group, "internet", rule["network"].version, port)
                self._union(where).change(rule["network"], step)
                _count_in(self._cidrs, where, key, rule, step)
                self._touch(group, where[3:])
            elif cidr and rule["network"] is None and rule["peer"]:
                where = (*group, "unknown", rule["peer"], port)  # AWS took what we can't read
                _count_in(self._unread, where, key, rule, step)
                self._touch(group, where[3:])

    def _refer(self, key: RuleKey, rule: dict, port: int, step: int) -> None:
        """A rule naming a prefix list on a port: the first lets the list's entries in there, the
        last to go takes them out."""
        group, place = key[:3], (*key[:2], rule["peer"])
        naming = self._refs.setdefault((group, port), {})
        _count_in(naming, rule["peer"], key, rule, step)
        if len(naming.get(rule["peer"], ())) != (1 if step > 0 else 0):
            return  # others name it there still, or named it already
        listed = self._lists.get(place)
        for net in listed["entries"] if listed else ():
            if network_public(net):
                self._union((*group, "internet", net.version, port)).change(net, step)
        if step > 0:
            self._referrers.setdefault(place, {})[(group, port)] = None
        else:
            del self._referrers[place][(group, port)]
        self._touch(group, *_list_wheres(rule["peer"], port))

    def _union(self, where: tuple) -> PublicUnion:
        if where not in self._unions:
            self._unions[where] = PublicUnion(where[4])
        return self._unions[where]

    def _touch(self, group: tuple, *places: tuple) -> None:
        dirty = self._dirty.setdefault(group, {})
        for place in places:
            dirty[(*group, *place)] = None

    # --- exposure -----------------------------------------------------------------------------

    def _exposed(self, where: tuple) -> bool:
        """Whether a where (account, region, group, reach, family or peer, port) is exposed now."""
        if where[3] == "internet":
            union = self._unions.get(where)
            return union is not None and union.reaches(self.settings.internet_prefix_len)
        listed = self._lists.get((*where[:2], where[4]))
        naming = self._refs.get((where[:3], where[5]), {}).get(where[4])
        return bool(self._unread.get(where)) or bool(naming and not (listed and listed["complete"]))

    def _exposing(self, where: tuple) -> tuple[tuple, list[dict]]:
        """The rules exposing an exposed where, in the order they were held (the last completed
        it), and where a pass over the group's rules and their entries meets it first."""
        group, port = where[:3], where[5]
        met = []  # rules naming a list of this family but no public entry: met, exposing nothing
        if where[3] == "internet":
            pairs = list(self._cidrs.get(where, {}).items())
            for listed, naming in self._refs.get((group, port), {}).items():
                entries = self._lists.get((*group[:2], listed), {})
                if entries.get("public", {}).get(where[4]):
                    pairs += naming.items()
                elif entries.get("family", {}).get(where[4]):
                    met += naming.items()
        else:
            pairs = [*self._unread.get(where, {}).items(),
                     *self._refs.get((group, port), {}).get(where[4], {}).items()]
        pairs.sort(key=lambda pair: self._order[pair[0]])
        key, rule = min([pairs[0], *met], key=lambda pair: self._order[pair[0]])
        entry = 0  # a list's entries are met in the order of its set, family by family
        if where[3] == "internet" and rule["peer_type"] == "prefix_list":
            entries = self._lists[(*group[:2], rule["peer"])]["entries"]
            entry = next(i for i, net in enumerate(entries) if net.version == where[4])
        return (self._order[key], entry), [rule for _, rule in pairs]

    def _settle(self, group: tuple, row: dict, before: bool = False) -> None:
        """Open and close the group's windows to match what its rules expose now: only where a
        change since the last settle touched."""
        dirty = self._dirty.pop(group, {})
        opened = self._open.setdefault(group, {})
        closing = [w for w in dirty if w in opened and not self._exposed(w)]
        for where in sorted(closing, key=lambda w: opened[w]["_n"]):
            self._close(opened.pop(where), row)
        fresh = [(w, *self._exposing(w)) for w in dirty if w not in opened and self._exposed(w)]
        ports = list(self.settings.watched_ports)
        # In the order a pass over the group's rules meets them: unknown reach first.
        fresh.sort(key=lambda f: (f[0][3] == "internet", f[1], str(f[0][4]), ports.index(f[0][5])))
        for where, _, rules in fresh:
            opened[where] = self._open_window(where, rules, row, before)
            opened[where]["_n"] = self._tick()

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    def _close(self, window: dict, row: dict) -> None:
        window.update(
            closed_at=row["event_time"],
            closed_by=row["actor"],
            closed_by_arn=row["actor_arn"],
            closed_from_ip=row["source_ip"],
            closed_event_id=row["event_id"],
            close_reason=_CLOSE_REASONS.get(row["action"], row["action"]),
        )
        if row.get("ambiguous_order"):
            window["_ambiguous_at"] = window["_closed_unproven"] = row["event_time"]
        if row.get("event_id") in self.shared:  # a modify or a prefix list's change
            window["_shared"] = window.get("_shared") or row["event_id"]
        self._done.append(window)
        self._last_closed[window["_where"]] = window

    def _open_window(self, where: tuple, rules: list[dict], row: dict, before: bool) -> dict:
        ambiguous = bool(row.get("ambiguous_order"))
        last = self._last_closed.get(where)
        if ambiguous and last is not None and last.get("_closed_unproven") == row["event_time"]:
            # Closed and reopened within one unordered second: it may never have closed.
            self._done.remove(last)
            for field in _CLOSED_FIELDS:
                last[field] = None
            last["_closed_unproven"] = None
            return last
        rule = rules[-1]  # the one held last: what completed the exposure
        opened = {}
        if not before:
            opened = dict(
                opened_at=row["event_time"],
                opened_by=row["actor"],
                opened_by_arn=row["actor_arn"],
                opened_from_ip=row["source_ip"],
                opened_tool=row["tool"],
                opened_event_id=row["event_id"],
            )
        unknown = where[3] == "unknown"
        peers = ", ".join(sorted({str(r["peer"]) for r in rules}))
        return dict(
            _where=where,
            _ambiguous_at=row["event_time"] if ambiguous else None,
            _inconsistent=row["event_id"] if row.get("inconsistent") is True else None,
            _doubt=(row["doubt"], row["event_id"], row.get("rule_id")) if row.get("doubt") else None,
            _prefix_list=rule["peer_type"] == "prefix_list",
            _shared=row["event_id"] if row.get("event_id") in self.shared else None,
            # a call naming its group by name alone (a default VPC's): keyed by the name, and said
            _by_name=None if str(where[2]).startswith(("sg-", "rds:")) else row.get("event_id"),
            account=where[0],
            region=where[1],
            group_id=where[2] if str(where[2]).startswith("sg-") else rule["group_id"],
            group_name=rule["group_name"],
            direction="ingress",
            protocol=rule["protocol"],
            from_port=rule["from_port"],
            to_port=rule["to_port"],
            cidr=peers,
            exposed_ports=str(where[5]),
            rule_id=", ".join(sorted({r["rule_id"] for r in rules if r["rule_id"]})) or None,
            reach=where[3],
            open_before_evidence=before,
            **opened,
        )


def _list_wheres(prefix_list: str, port: int) -> tuple[tuple, ...]:
    """What a rule naming a prefix list may expose on a port: of unknown reach, or the internet."""
    return ("unknown", prefix_list, port), ("internet", 4, port), ("internet", 6, port)


def _count_in(table: dict, where, key: RuleKey, rule: dict, step: int) -> None:
    """Hold (1) or release (-1) a rule among those of one where of a table."""
    if step > 0:
        table.setdefault(where, {})[key] = rule
        return
    del table[where][key]
    if not table[where]:
        del table[where]


_LIST_ACTIONS = ("prefix_list_create", "prefix_list_add", "prefix_list_remove",
                 "prefix_list_restore")


def prefix_list_history(changes: pd.DataFrame,
                        settings: Settings | None = None) -> dict[tuple, list]:
    """(account, region, list id) -> [(time, entries, complete)] after each logged change of the
    list, in time order, replayed as RuleState does: what a state's rule naming the list reaches
    at a time (analysis.state), as the logged path resolves it."""
    replay, history = RuleState(settings), {}
    rows = records(changes[changes["action"].isin(_LIST_ACTIONS)]) if len(changes) else []
    for row in rows:
        replay.apply(row)
        place = (row["account"], row["region"], row["prefix_list_id"])
        if row.get("error_code") is None and place[2] is not None:
            history.setdefault(place, []).append((row["event_time"], *replay.prefix_list(place)))
    return history


def prefix_list_caveat(prefix_list: str) -> str:
    """The caveat of a window whose rule names a prefix list of unknown entries (state.py too)."""
    return (f"The rule names prefix list {prefix_list}, whose entries the evidence does "
            "not fully hold: its reach is unknown.")


def _public_fields(window: dict) -> dict:
    """A window as WINDOW_COLUMNS, its uncertainties said in a sentence."""
    caveats = []
    if window.get("_ambiguous_at") is not None:
        caveats.append(
            f"Changes at {window['_ambiguous_at']} on this group share one second and the "
            "evidence does not prove their order; the order that keeps the exposure open "
            "was taken."
        )
    if window.get("_inconsistent") is not None:
        caveats.append(
            f"The response of event {window['_inconsistent']} contradicts its request (another "
            "port, address or group): both readings were kept, the one that keeps the exposure "
            "open among them."
        )
    if window.get("_doubt") is not None:
        doubt, event, rule = window["_doubt"]
        caveats.append(words("en", f"exposure.{doubt}", event=event, rule=rule))
    if window.get("_late_list") is not None:
        caveats.append(words("en", "exposure.prefix_list_late", event=window["_late_list"],
                             prefix_list=window["cidr"]))
    if window.get("_duplicate") is not None and window.get("opened_at") is None:
        caveats.append(
            f"AWS refused event {window['_duplicate']}, an authorize of this rule, as a duplicate: "
            "the rule was there then, from before the evidence."
        )
    if window.get("_described") is not None and window.get("opened_at") is None:
        caveats.append(
            f"Event {window['_described']} changed the description of this rule, which AWS does "
            "only for a rule that is there: it was there then, from before the evidence."
        )
    if window.get("_by_name") is not None:
        caveats.append(words("en", "exposure.group_by_name", event=window["_by_name"],
                             name=window["group_name"]))
    if window.get("_misnamed") is not None:
        caveats.append(words("en", "exposure.name_unlike_aws_kept", event=window["_misnamed"]))
    if window.get("_shared") is not None:
        caveats.append(
            f"Event {window['_shared']} is held by different records (one of them forged or "
            "corrupted): which is the evidence cannot be decided, so the reading that keeps the "
            "exposure open was taken."
        )
    if window["reach"] == "unknown" and window.get("_prefix_list"):
        caveats.append(prefix_list_caveat(window["cidr"]))
    elif window["reach"] == "unknown":
        caveats.append(
            f"The rule's address {window['cidr']} is no CIDR this toolkit can read, yet the "
            "call succeeded: its reach is unknown."
        )
    undecided = window.get("_ambiguous_at") is not None or window.get("_shared") is not None
    flags = {"ambiguous_order": undecided,
             "caveat": " ".join(caveats) or None, "still_open": window.get("still_open") is True}
    return {c: flags[c] if c in flags else window.get(c) for c in WINDOW_COLUMNS if c != "duration"}


def windows(
    changes: pd.DataFrame,
    settings: Settings | None = None,
    evidence_end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Every exposure window of the watched ports, from normalized security-group changes.

    `evidence_end` is when the evidence stops (default: the last change); it ends still-open
    windows.
    """
    state = RuleState(settings, shared_event_ids(changes))
    for row in records(changes):
        state.apply(row)
    end = evidence_end
    if end is None and len(changes):
        end = changes["event_time"].max()
    return window_frame(state.windows(), end)


# What every change of one record shares: rows of one eventID that differ here are two records.
_RECORD = ("event_time", "event_name", "account", "region", "actor_arn", "source_ip", "user_agent",
           "error_code")


def shared_event_ids(changes: pd.DataFrame) -> set[str]:
    """The eventIDs held by different records: as `normalize` found them among the events, and
    those whose changes differ in what one record's changes share (a frame that lost its attrs)."""
    found = set(changes.attrs.get("shared_event_ids", ()))
    if len(changes):
        columns = [c for c in _RECORD if c in changes]
        differs = changes.groupby("event_id")[columns].nunique(dropna=False).gt(1).any(axis=1)
        found |= set(differs.index[differs])
    return found


_SAME_WINDOW = (
    "account",
    "region",
    "group_id",
    "group_name",
    "cidr",
    "reach",
    "opened_event_id",
    "closed_event_id",
    "opened_at",
    "closed_at",
    "open_before_evidence",
)


def window_frame(rows: list[dict], end: pd.Timestamp | None) -> pd.DataFrame:
    """Windows as a frame of WINDOW_COLUMNS, still-open ones lasting until `end`; the windows of
    several ports that one change opened and one change closed are one window."""
    import pandas as pd

    frame = pd.DataFrame(ports_together(rows, _SAME_WINDOW), columns=WINDOW_COLUMNS)
    for col in ("still_open", "open_before_evidence", "ambiguous_order"):
        frame[col] = frame[col].eq(True)
    for col in ("opened_at", "closed_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return in_time_order(frame, end)


def ports_together(rows: list[dict], same: tuple[str, ...]) -> list[dict]:
    """The windows equal in every field of `same` as one window of all their exposed ports."""
    merged: dict[tuple, dict] = {}
    for row in rows:
        key = tuple(str(row.get(k)) for k in same)
        if key in merged:
            ports = {*merged[key]["exposed_ports"].split(","), *row["exposed_ports"].split(",")}
            merged[key]["exposed_ports"] = ",".join(sorted(ports, key=int))
        else:
            merged[key] = dict(row)
    return list(merged.values())


def in_time_order(frame: pd.DataFrame, end: pd.Timestamp | None) -> pd.DataFrame:
    """A frame of windows with its `duration` (a still-open window's lasts until `end`), integer
    ports, in the order of their opening (those open before the evidence first)."""
    import pandas as pd

    frame["duration"] = (
        frame["closed_at"].fillna(end if end is not None else pd.NaT) - frame["opened_at"]
    )
    for col in ("from_port", "to_port"):
        frame[col] = frame[col].astype("Int64")
    order = ["opened_at", "account", "region", "group_id"]
    return frame.sort_values(order, na_position="first", ignore_index=True)


def failed_openings(changes: pd.DataFrame, settings: Settings | None = None) -> pd.DataFrame:
    """Failed calls that would have opened a watched port to the internet: attempts, not windows."""
    settings = settings or Settings()
    if changes.empty:
        return changes
    rows = records(changes)
    mask = [
        r["error_code"] is not None and r["action"] in ("authorize", "modify") and bool(exposed)
        for r, exposed in zip(rows, exposed_ports_together(rows, settings))
    ]
    return changes[mask].reset_index(drop=True)
