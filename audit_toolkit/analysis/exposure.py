"""Exposure windows: when a watched port stood open to the internet, who opened it, who closed it.

A window opens on a successful rule change that lets a watched port (22 by default) in from a CIDR
whose prefix length is at most the internet prefix length (0 by default, so 0.0.0.0/0, ::/0 and an
anonymised 203.0.113.9/0 alike). It closes on the revoke of that rule, a modify that changes it, or
the deletion of its group; otherwise it is still open at the end of the evidence. A revoke of a rule
never seen opening is a window that was already open before the evidence began. Failed calls change
nothing; they are attempts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..settings import Settings
from .events import is_missing, records
from .security_groups import network

if TYPE_CHECKING:  # pandas only where DataFrames are built: the Lambda imports this module bare
    import pandas as pd

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
    return default if is_missing(value) or int(value) < 0 else int(value)


def _key(row: dict, group: str) -> tuple:
    net = network(row["peer"])
    ports = (None, None) if row["protocol"] == "-1" else (_int(row["from_port"]), _int(row["to_port"]))
    return (row["account"], row["region"], group, row["direction"] or "ingress", row["protocol"], *ports, str(net))


def _int(value) -> int | None:
    return None if is_missing(value) else int(value)


def windows(changes: pd.DataFrame, settings: Settings | None = None, evidence_end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Every exposure window of the watched ports, from normalized security-group changes.

    `evidence_end` is when the evidence stops (default: the last change); it ends still-open windows.
    """
    import pandas as pd

    settings = settings or Settings()
    open_: dict[tuple, dict] = {}
    by_rule_id: dict[str, tuple] = {}
    group_ids: dict[tuple, str] = {}  # (account, region, group name) -> group id, from CreateSecurityGroup
    done: list[dict] = []

    def group(row: dict) -> str:
        """The group's id, or its name where the evidence never said which id it has."""
        return row["group_id"] or group_ids.get((row["account"], row["region"], row["group_name"])) or row["group_name"]

    def close(key: tuple, row: dict, reason: str) -> None:
        window = open_.pop(key)
        for rule_id in [r for r, k in by_rule_id.items() if k == key]:
            del by_rule_id[rule_id]  # a later rule with the same content is another window
        window.update(
            closed_at=row["event_time"],
            closed_by=row["actor"],
            closed_by_arn=row["actor_arn"],
            closed_from_ip=row["source_ip"],
            closed_event_id=row["event_id"],
            close_reason=reason,
        )
        done.append(window)

    def open_window(key: tuple, row: dict, ports: list[int], before: bool = False) -> None:
        opened = {} if before else dict(
            opened_at=row["event_time"],
            opened_by=row["actor"],
            opened_by_arn=row["actor_arn"],
            opened_from_ip=row["source_ip"],
            opened_tool=row["tool"],
            opened_event_id=row["event_id"],
        )
        open_[key] = dict(
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
        if row["rule_id"]:
            by_rule_id[row["rule_id"]] = key

    for row in records(changes):
        if row["error_code"] is not None:
            continue  # a failed call changes nothing
        action = row["action"]
        if action == "create_group" and row["group_name"] and row["group_id"]:
            group_ids[(row["account"], row["region"], row["group_name"])] = row["group_id"]
            continue
        if action == "delete_group":
            # Windows are keyed by id, or by name where no id was known: a delete by either closes them.
            names = {group(row), row["group_id"], row["group_name"]} - {None}
            for key in [k for k in open_ if k[:2] == (row["account"], row["region"]) and k[2] in names]:
                close(key, row, "group deleted")
            continue
        ports = exposed_ports(row, settings)
        if action == "authorize" and ports:
            key = _key(row, group(row))
            if key not in open_:
                open_window(key, row, ports)
        elif action == "revoke":
            key = by_rule_id.get(row["rule_id"]) if row["rule_id"] else None
            if key is None and ports:
                key = _key(row, group(row))
            if key in open_:
                close(key, row, "revoked")
            elif ports:
                open_window(key, row, ports, before=True)
                close(key, row, "revoked")
        elif action == "modify" and row["rule_id"]:
            old = by_rule_id.get(row["rule_id"])
            new = _key(row, group(row)) if ports else None
            if old in open_ and old != new:
                close(old, row, "modified")
            if new is None:
                by_rule_id.pop(row["rule_id"], None)  # no longer exposing: its rule id names no window
            if new and new not in open_:
                open_window(new, row, ports)

    end = evidence_end if evidence_end is not None else (changes["event_time"].max() if len(changes) else None)
    for window in open_.values():
        window["still_open"] = True
        done.append(window)
    frame = pd.DataFrame(done, columns=WINDOW_COLUMNS)
    frame["still_open"] = frame["still_open"].eq(True)
    frame["open_before_evidence"] = frame["open_before_evidence"].eq(True)
    for col in ("opened_at", "closed_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    frame["duration"] = frame["closed_at"].fillna(end if end is not None else pd.NaT) - frame["opened_at"]
    for col in ("from_port", "to_port"):
        frame[col] = frame[col].astype("Int64")
    return frame.sort_values(["opened_at", "account", "region", "group_id"], na_position="first", ignore_index=True)


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
