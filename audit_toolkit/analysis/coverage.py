"""Coverage: where the evidence is silent. A gap in the logs is evidence too.

Two kinds of silence, one table (COVERAGE_COLUMNS):
- `no_events`: whole hours in which an account and region that logs elsewhere in the evidence has no
  event at all (files missing, delivery broken, a region switched off, or logs deleted);
- `logging_stopped` / `trail_deleted`: a successful StopLogging or DeleteTrail, until a successful
  StartLogging of the same trail (or the end of the evidence: `ongoing`). Failed calls stopped nothing.
"""

from __future__ import annotations

import json

import pandas as pd

from .actors import resolve
from .events import records

COVERAGE_COLUMNS = ["kind", "account", "region", "start", "end", "hours", "ongoing", "trail", "actor", "event_id"]
HOUR = pd.Timedelta(hours=1)


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COVERAGE_COLUMNS)
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.sort_values(["start", "kind", "account", "region"], kind="stable", ignore_index=True)


def gaps(hourly: pd.DataFrame, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None,
         min_hours: int = 1, places: "list[tuple[str, str]] | None" = None) -> pd.DataFrame:
    """Runs of at least `min_hours` empty hours per account and region, between `start` and `end`.

    `hourly` is the `hourly_events` query (account, region, hour, events). The range defaults to the
    first and last hour of the whole evidence, so a region that stops logging while others go on shows.
    `places`: the (account, region) pairs known from elsewhere (the whole evidence, the scope asked
    for); each is measured over the range too, so a place with no event in the whole range is one gap.
    """
    hours = pd.to_datetime(hourly["hour"], utc=True)
    first = (start.floor("h") if start is not None else hours.min() if len(hours) else None)
    last = (end.ceil("h") - HOUR if end is not None else hours.max() if len(hours) else None)
    if first is None or last is None or last < first:
        return _frame([])
    seen_at = {key: set(group["hour"]) for key, group in hourly.assign(hour=hours).groupby(["account", "region"], sort=True)}
    for place in places or ():
        seen_at.setdefault(tuple(place), set())
    found = []
    for (account, region), seen in sorted(seen_at.items()):
        run_start = None
        for hour in pd.date_range(first, last, freq="h"):
            if hour not in seen and run_start is None:
                run_start = hour
            elif hour in seen and run_start is not None:
                found.append((account, region, run_start, hour))
                run_start = None
        if run_start is not None:
            found.append((account, region, run_start, last + HOUR))
    rows = [{"kind": "no_events", "account": a, "region": r, "start": s, "end": e, "hours": _hours(s, e),
             "ongoing": False, "trail": None, "actor": None, "event_id": None}
            for a, r, s, e in found if (e - s) / HOUR >= min_hours]
    return _frame(rows)


def _trail_name(request: str | None) -> str | None:
    try:
        name = (json.loads(request or "{}") or {}).get("name")
    except (TypeError, ValueError):
        return None
    return None if name is None else str(name).rsplit("trail/", 1)[-1]  # an ARN or a bare name


def outages(trail_events: pd.DataFrame, end: pd.Timestamp | None) -> pd.DataFrame:
    """Logging outages from the `trail_logging` query: successful stop or delete, to the next start."""
    if trail_events.empty:
        return _frame([])
    events = trail_events.assign(when=pd.to_datetime(trail_events["eventtime"], utc=True, format="ISO8601"))
    events = events.sort_values(["when", "eventid"], kind="stable")
    open_: dict[tuple, dict] = {}
    rows = []
    for row in records(events):
        if row.get("errorcode"):
            continue
        trail = _trail_name(row.get("requestparameters"))
        key = (row.get("account"), trail)
        name = row["eventname"]
        if name in ("StopLogging", "DeleteTrail") and key not in open_:
            open_[key] = {"kind": "logging_stopped" if name == "StopLogging" else "trail_deleted", "account": row.get("account"),
                          "region": row.get("region"), "start": row["when"], "trail": trail,
                          "actor": resolve(row)["actor"], "event_id": row.get("eventid")}
        elif name == "StartLogging" and key in open_:
            rows.append({**open_.pop(key), "end": row["when"], "ongoing": False})
    for outage in open_.values():
        rows.append({**outage, "end": end, "ongoing": True})
    for row in rows:
        row["hours"] = None if row["end"] is None or pd.isna(row["end"]) else _hours(row["start"], row["end"])
    return _frame(rows)


def _hours(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Hours to two decimals (36 s): `start` and `end` hold the exact times."""
    return round((end - start) / HOUR, 2)
