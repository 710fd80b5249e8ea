"""Exposure windows: when a watched port stood open to the internet, who opened it, who closed it.

A window opens on a successful rule change that lets a watched port (22 by default) in from a CIDR
whose prefix length is at most the internet prefix length (0 by default, so 0.0.0.0/0, ::/0 and an
anonymised 203.0.113.9/0 alike). It closes on the revoke of that rule, a modify that changes it, or
the deletion of its group; otherwise it is still open at the end of the evidence. A revoke of a rule
never seen opening is a window that was already open before the evidence began. Failed calls change
nothing; they are attempts.
"""

from __future__ import annotations

import pandas as pd

from ..settings import Settings
from .events import records
from .security_groups import network

WINDOW_COLUMNS = [
    "account", "region", "group_id", "group_name", "direction", "protocol", "from_port", "to_port",
    "cidr", "exposed_ports", "rule_id",
    "opened_at", "opened_by", "opened_by_arn", "opened_from_ip", "opened_tool", "opened_event_id",
    "closed_at", "closed_by", "closed_by_arn", "closed_from_ip", "closed_event_id", "close_reason",
    "still_open", "open_before_evidence", "duration",
]


def exposed_ports(row: dict, settings: Settings) -> list[int]:
    """The watched ports a rule change lets in from the internet (empty if none)."""
    # A modify of a rule never seen before does not say its direction: count it, rather than miss an opening.
    direction = row.get("direction") or ("ingress" if row.get("action") == "modify" else None)
    if direction != "ingress" or row.get("peer_type") not in ("cidr_ipv4", "cidr_ipv6"):
        return []
    net = network(row.get("peer"))
    if net is None or net.prefixlen > settings.internet_prefix_len:
        return []
    protocol = row.get("protocol")
    if protocol == "-1":
        return list(settings.watched_ports)
    if protocol != "tcp":
        return []
    low, high = _bound(row.get("from_port"), 0), _bound(row.get("to_port"), 65535)
    return [p for p in settings.watched_ports if low <= p <= high]


def _bound(value, default: int) -> int:
    return default if value is None or pd.isna(value) or int(value) < 0 else int(value)


def _int(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


RuleKey = tuple  # (account, region, group, direction, protocol, from_port, to_port, peer)


class RuleState:
    """The rules each security group holds, replayed change by change, and the windows they make.

    - `apply(change)`: one normalized change (a row of security_groups.CHANGE_COLUMNS, as a dict),
      in evidence order. Failed calls change nothing.
    - `seed(rules)`: rules known to be held when the replay starts (AWS Config items, EC2 describe
      output), each a mapping with account, region, group_id, direction, protocol, from_port,
      to_port, peer, peer_type and optionally rule_id. An exposing one is a window open before the
      evidence.
    - `held()`: the set of rules held now (each a RuleKey), to compare two states.
    - `windows()`: every window so far, closed and still open, as WINDOW_COLUMNS rows.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._held: dict[RuleKey, str | None] = {}  # rule -> its rule id, where the evidence gave one
        self._by_rule_id: dict[str, RuleKey] = {}
        self._group_ids: dict[tuple, str] = {}  # (account, region, group name) -> id, from CreateSecurityGroup
        self._open: dict[RuleKey, dict] = {}
        self._done: list[dict] = []

    def held(self) -> frozenset[RuleKey]:
        return frozenset(self._held)

    def seed(self, rules) -> None:
        for rule in rules:
            row = {"action": "authorize", "group_name": None, "rule_id": None, **rule}
            key = self._key(row)
            self._hold(key, row.get("rule_id"))
            ports = exposed_ports(row, self.settings)
            if ports and key not in self._open:
                self._open_window(key, row, ports, before=True)

    def apply(self, change) -> None:
        row = dict(change)
        if row.get("error_code") is not None:
            return  # a failed call changes nothing
        action = row["action"]
        if action == "create_group":
            if row["group_name"] and row["group_id"]:
                self._group_ids[(row["account"], row["region"], row["group_name"])] = row["group_id"]
        elif action == "delete_group":
            self._delete_group(row)
        elif action == "authorize":
            self._authorize(row)
        elif action == "revoke":
            self._revoke(row)
        elif action == "modify" and row["rule_id"]:
            self._modify(row)

    def windows(self) -> list[dict]:
        return self._done + [{**w, "still_open": True} for w in self._open.values()]

    def _group(self, row: dict) -> str:
        """The group's id, or its name where the evidence never said which id it has."""
        named = self._group_ids.get((row["account"], row["region"], row["group_name"]))
        return row["group_id"] or named or row["group_name"]

    def _key(self, row: dict) -> RuleKey:
        net = network(row["peer"])
        ports = (None, None) if row["protocol"] == "-1" else (_int(row["from_port"]), _int(row["to_port"]))
        return (row["account"], row["region"], self._group(row), row["direction"] or "ingress",
                row["protocol"], *ports, str(net) if net is not None else row["peer"])

    def _hold(self, key: RuleKey, rule_id: str | None) -> None:
        self._held[key] = rule_id
        if rule_id:
            self._by_rule_id[rule_id] = key

    def _release(self, key: RuleKey) -> None:
        rule_id = self._held.pop(key, None)
        if rule_id and self._by_rule_id.get(rule_id) == key:
            del self._by_rule_id[rule_id]  # a later rule with the same content is another window

    def _authorize(self, row: dict) -> None:
        key = self._key(row)
        self._hold(key, row["rule_id"])
        ports = exposed_ports(row, self.settings)
        if ports and key not in self._open:
            self._open_window(key, row, ports)

    def _revoke(self, row: dict) -> None:
        ports = exposed_ports(row, self.settings)
        key = self._by_rule_id.get(row["rule_id"]) if row["rule_id"] else None
        if key is None:
            key = self._key(row)
        self._release(key)
        if key in self._open:
            self._close(key, row, "revoked")
        elif ports:
            self._open_window(key, row, ports, before=True)
            self._close(key, row, "revoked")

    def _modify(self, row: dict) -> None:
        old = self._by_rule_id.get(row["rule_id"])
        new = self._key(row)
        if old is not None:
            self._release(old)
        self._hold(new, row["rule_id"])
        ports = exposed_ports(row, self.settings)
        if old in self._open and (old != new or not ports):
            self._close(old, row, "modified")
        if ports and new not in self._open:
            self._open_window(new, row, ports)

    def _delete_group(self, row: dict) -> None:
        # Windows are keyed by id, or by name where no id was known: a delete by either closes them.
        names = {self._group(row), row["group_id"], row["group_name"]} - {None}
        place = (row["account"], row["region"])
        for key in [k for k in self._held if k[:2] == place and k[2] in names]:
            self._release(key)
        for key in [k for k in self._open if k[:2] == place and k[2] in names]:
            self._close(key, row, "group deleted")

    def _close(self, key: RuleKey, row: dict, reason: str) -> None:
        window = self._open.pop(key)
        window.update(
            closed_at=row["event_time"],
            closed_by=row["actor"],
            closed_by_arn=row["actor_arn"],
            closed_from_ip=row["source_ip"],
            closed_event_id=row["event_id"],
            close_reason=reason,
        )
        self._done.append(window)

    def _open_window(self, key: RuleKey, row: dict, ports: list[int], before: bool = False) -> None:
        opened = {} if before else dict(
            opened_at=row["event_time"],
            opened_by=row["actor"],
            opened_by_arn=row["actor_arn"],
            opened_from_ip=row["source_ip"],
            opened_tool=row["tool"],
            opened_event_id=row["event_id"],
        )
        self._open[key] = dict(
            account=row["account"],
            region=row["region"],
            group_id=key[2] if str(key[2]).startswith("sg-") else row["group_id"],
            group_name=row["group_name"],
            direction=row["direction"] or "ingress",
            protocol=row["protocol"],
            from_port=row["from_port"],
            to_port=row["to_port"],
            cidr=row["peer"],
            exposed_ports=",".join(map(str, ports)),
            rule_id=row["rule_id"],
            open_before_evidence=before,
            **opened,
        )


def windows(changes: pd.DataFrame, settings: Settings | None = None,
            evidence_end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Every exposure window of the watched ports, from normalized security-group changes.

    `evidence_end` is when the evidence stops (default: the last change); it ends still-open windows.
    """
    state = RuleState(settings)
    for row in records(changes):
        state.apply(row)
    end = evidence_end
    if end is None and len(changes):
        end = changes["event_time"].max()
    return window_frame(state.windows(), end)


def window_frame(rows: list[dict], end: pd.Timestamp | None) -> pd.DataFrame:
    """Windows as a frame of WINDOW_COLUMNS, still-open ones lasting until `end`."""
    frame = pd.DataFrame(rows, columns=WINDOW_COLUMNS)
    frame["still_open"] = frame["still_open"].eq(True)
    frame["open_before_evidence"] = frame["open_before_evidence"].eq(True)
    for col in ("opened_at", "closed_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    frame["duration"] = frame["closed_at"].fillna(end if end is not None else pd.NaT) - frame["opened_at"]
    for col in ("from_port", "to_port"):
        frame[col] = frame[col].astype("Int64")
    order = ["opened_at", "account", "region", "group_id"]
    return frame.sort_values(order, na_position="first", ignore_index=True)


def failed_openings(changes: pd.DataFrame, settings: Settings | None = None) -> pd.DataFrame:
    """Failed calls that would have opened a watched port to the internet: attempts, not windows."""
    settings = settings or Settings()
    if changes.empty:
        return changes
    mask = [
        r["error_code"] is not None and r["action"] in ("authorize", "modify") and bool(exposed_ports(r, settings))
        for r in records(changes)
    ]
    return changes[mask].reset_index(drop=True)
