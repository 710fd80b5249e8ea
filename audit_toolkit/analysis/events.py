"""CloudTrail events as query results: each once, in time order."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas only where DataFrames are built: the Lambda imports this module bare
    import pandas as pd


def in_order(events: pd.DataFrame) -> pd.DataFrame:
    """Each event once (the same eventID delivered by two trails counts once), ordered by time.

    `eventtime` becomes a UTC timestamp; ties keep the event id order, so results are stable.
    """
    import pandas as pd

    events = events.copy()
    events["eventtime"] = pd.to_datetime(events["eventtime"], utc=True, format="ISO8601")
    with_id = events[events["eventid"].notna()].drop_duplicates("eventid")
    events = pd.concat([with_id, events[events["eventid"].isna()]])
    return events.sort_values(["eventtime", "eventid"], kind="stable", ignore_index=True)


def is_missing(value: object) -> bool:
    """None, NaN, pd.NA and NaT alike (what pd.isna says of a scalar), without importing pandas."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, float) and value != value


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts, with None for every kind of missing value (NaN, NA, NaT)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def json_object(text: Any) -> dict:
    """A JSON object as the queries return it (text, e.g. `requestparameters`), or one already decoded;
    {} for anything else (null, not JSON, a list)."""
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
