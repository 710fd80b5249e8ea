"""DataFrames out as JSON, CSV or a text table: times in ISO 8601 UTC, durations in seconds.

Evidence text is hostile: the table shows control and bidi characters as escapes (a raw ESC would
drive the terminal), and the CSV defuses spreadsheet formulas (OWASP CSV injection).
"""

from __future__ import annotations

import json
import math
import re
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
    """JSON with every control and bidi character as a `\\uXXXX` escape: the same values once
    parsed, and nothing raw for a terminal (json.dumps escapes C0 but leaves DEL, C1 and bidi)."""
    text = json.dumps(to_records(frame), indent=2, ensure_ascii=False)
    return _INVISIBLE.sub(lambda m: m[0] if m[0] == "\n" else f"\\u{ord(m[0]):04x}", text)


# C0, DEL, C1, the bidi marks (ALM, LRM, RLM), line and paragraph separators, and the bidi
# embeddings, overrides and isolates
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_FORMULA = re.compile(r"[=+@\t\r]|-(?!\d+(?:\.\d+)?\Z)")  # a leading '-' is a formula unless the cell is a number


def visible(text: str) -> str:
    """`text` for a terminal: each control or bidi character as its escape (`\\x1b`, `\\n`, `\\u202e`)."""
    return _INVISIBLE.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


def _inert_cell(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and _FORMULA.match(value) else value


def to_csv(frame: pd.DataFrame) -> str:
    """CSV; a text cell a spreadsheet would run as a formula gets a leading `'`. Integers stay integers.

    Lines end in CRLF (RFC 4180), so a value holding a lone CR is quoted too and cannot split its row.
    """
    rows = [{k: _inert_cell(v) for k, v in row.items()} for row in to_records(frame)]
    columns = [c if c != "duration" else "duration_seconds" for c in frame.columns]
    return pd.DataFrame(rows, columns=columns, dtype=object).to_csv(index=False, lineterminator="\r\n")


def to_table(frame: pd.DataFrame, columns: list[str] | None = None, width: int = 48) -> str:
    """A text table for a terminal; long values are cut at `width` characters (the CSV/JSON keep them)."""
    if frame.empty:
        return "(none)"
    rows = pd.DataFrame(to_records(frame[columns] if columns else frame), dtype=object)
    shown = rows.map(lambda v: "" if _plain(v) is None else _cut(visible(str(v)), width))
    return shown.to_string(index=False)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
