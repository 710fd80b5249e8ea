"""DataFrames out as JSON, CSV or a text table: times in ISO 8601 UTC, durations in seconds."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

import pandas as pd


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ") if value.tzinfo else value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, (pd.Timedelta, timedelta)):
        return int(pd.Timedelta(value).total_seconds())
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def to_records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: ISO 8601 UTC times, durations in whole seconds, null for anything missing."""
    renamed = frame.rename(columns={"duration": "duration_seconds"})
    return [{k: _plain(v) for k, v in row.items()} for row in renamed.astype(object).to_dict("records")]


def to_json(frame: pd.DataFrame) -> str:
    return json.dumps(to_records(frame), indent=2, ensure_ascii=False)


def to_csv(frame: pd.DataFrame) -> str:
    return pd.DataFrame(to_records(frame), columns=[c if c != "duration" else "duration_seconds" for c in frame.columns]).to_csv(index=False)


def to_table(frame: pd.DataFrame, columns: list[str] | None = None, width: int = 48) -> str:
    """A text table for a terminal; long values are cut at `width` characters (the CSV/JSON keep them)."""
    if frame.empty:
        return "(none)"
    rows = pd.DataFrame(to_records(frame[columns] if columns else frame), dtype=object)
    shown = rows.map(lambda v: "" if _plain(v) is None else (str(v) if len(str(v)) <= width else str(v)[: width - 1] + "…"))
    return shown.to_string(index=False)
