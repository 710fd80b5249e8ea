"""DataFrames out as JSON, CSV or a text table: times in ISO 8601 in the display zone (UTC by
default, `Z`; another zone with its offset), durations in seconds.

Evidence text is hostile: the table shows control and bidi characters as escapes (a raw ESC would
drive the terminal), and the CSV defuses spreadsheet formulas (OWASP CSV injection).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd

from .invisible import INVISIBLE as _INVISIBLE


def _iso(value: pd.Timestamp, tz: str) -> str:
    value = value.tz_localize("UTC") if value.tzinfo is None else value
    if tz == "UTC":
        return value.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.tz_convert(tz).isoformat(timespec="seconds")


def _plain(value: Any, tz: str = "UTC") -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return _iso(value, tz)
    if isinstance(value, (pd.Timedelta, timedelta)):
        return int(pd.Timedelta(value).total_seconds())
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def to_records(frame: pd.DataFrame, tz: str = "UTC") -> list[dict]:
    """JSON-ready rows: ISO 8601 times in `tz` (with its offset; `Z` for UTC), durations in whole
    seconds, null for anything missing."""
    renamed = frame.rename(columns={"duration": "duration_seconds"})
    return [{k: _plain(v, tz) for k, v in row.items()} for row in renamed.astype(object).to_dict("records")]


def localize(frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    """The frame with every time column in zone `tz` (for a notebook's tables beside its charts)."""
    zoned = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    return frame.assign(**{c: frame[c].dt.tz_convert(tz) for c in zoned})


def to_json(frame: pd.DataFrame, tz: str = "UTC") -> str:
    """JSON with every control and bidi character as a `\\uXXXX` escape: the same values once
    parsed, and nothing raw for a terminal (json.dumps escapes C0 but leaves DEL, C1 and bidi)."""
    text = json.dumps(to_records(frame, tz), indent=2, ensure_ascii=False)
    # json.dumps's own escape: a character past U+FFFF as its surrogate pair
    return _INVISIBLE.sub(lambda m: m[0] if m[0] == "\n" else json.dumps(m[0])[1:-1], text)


_FORMULA = re.compile(r"[=+@\t\r]|-(?!\d+(?:\.\d+)?\Z)")  # a leading '-' is a formula unless the cell is a number


def visible(text: str) -> str:
    """`text` for a terminal: each character _INVISIBLE names as its escape (`\\x1b`, `\\n`,
    `\\u202e`, `\\u200b`)."""
    return _INVISIBLE.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


def _inert_cell(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and _FORMULA.match(value) else value


def to_csv(frame: pd.DataFrame, tz: str = "UTC") -> str:
    """CSV; a text cell a spreadsheet would run as a formula gets a leading `'`. Integers stay integers.

    Lines end in CRLF (RFC 4180), so a value holding a lone CR is quoted too and cannot split its row.
    """
    rows = [{k: _inert_cell(v) for k, v in row.items()} for row in to_records(frame, tz)]
    columns = [c if c != "duration" else "duration_seconds" for c in frame.columns]
    return pd.DataFrame(rows, columns=columns, dtype=object).to_csv(index=False, lineterminator="\r\n")


@dataclass(frozen=True)
class Table:
    """A text table for a terminal and what had to be left out to fit it."""

    text: str
    dropped: tuple[str, ...] = ()


def terminal_width(stream=None) -> int | None:
    """`COLUMNS`, else the width of the terminal `stream` (stdout) is on; None when it is on none (a pipe
    keeps every column: `| grep` and `> file` get whole lines, as git and kubectl give them).

    `COLUMNS` is read as shutil.get_terminal_size reads it: a value that is no number, or not above 0
    (`COLUMNS=0`, as some shells and CI runners export it), is as if unset."""
    columns = _columns_env()
    if columns is not None:
        return columns
    stream = stream or sys.stdout
    if not stream.isatty():
        return None
    try:  # stderr's own terminal when stdout is a pipe
        return os.get_terminal_size(stream.fileno()).columns or shutil.get_terminal_size().columns
    except (OSError, ValueError):
        return shutil.get_terminal_size().columns


def _columns_env() -> int | None:
    """A positive `COLUMNS`, else None."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return None
    return columns if columns > 0 else None


def to_table(frame: pd.DataFrame, columns: list[str] | None = None, width: int | None = None,
             tz: str = "UTC", drop_order: tuple[str, ...] = ()) -> Table:
    """A text table for a terminal, at most `width` characters wide (None: as wide as it needs).

    Nothing is cut: long cells wrap onto more lines, an id (ID_WORD) never. Only when even the
    squeezed layout (a time's clock under its date, identities between their words) does not fit
    are the columns of `drop_order` left out, those with one value in every row first, and named
    in `Table.dropped`.
    Times are shown in `tz` without the offset (the caller says the zone once), unless the table's
    times have more than one offset (they straddle a DST change): then every time cell carries its
    offset (`2026-11-01 01:30:00-04:00`), so an hour across the change never reads as none.
    """
    if frame.empty:
        return Table("(none)")
    values = list((frame[columns] if columns else frame).astype(object).itertuples(index=False))
    offsets = {_zoned(v, tz).utcoffset() for row in values for v in row if _is_time(v)}
    rows = [[_cell(v, tz, len(offsets) > 1) for v in row] for row in values]
    headers = list(columns or frame.columns)
    keep = list(range(len(headers)))
    def fit() -> list[int] | None:  # wrap harder before a column is left out
        return _fit(headers, rows, keep, width) or _fit(headers, rows, keep, width, SQUEEZED)

    widths = fit()
    dropped = []
    same = [n for n in drop_order if n in headers and len({r[headers.index(n)] for r in rows}) == 1]
    for name in [*same, *(n for n in drop_order if n not in same)]:
        if widths is not None or name not in headers:
            continue
        keep.remove(headers.index(name))
        dropped.append(name)
        widths = fit()
    if widths is None:  # still too wide: break every value inside its words, past that be wider than asked
        widths = _fit(headers, rows, keep, width, HARD) or [
            _min_width(headers[i], [r[i] for r in rows], HARD) for i in keep]
    lines = _render([headers[i] for i in keep], [[r[i] for i in keep] for r in rows], widths)
    return Table("\n".join(lines), tuple(dropped))


def _is_time(value: Any) -> bool:
    return isinstance(value, pd.Timestamp) and value is not pd.NaT


def _zoned(value: pd.Timestamp, tz: str) -> pd.Timestamp:
    return (value.tz_localize("UTC") if value.tzinfo is None else value).tz_convert(tz)


def _cell(value: Any, tz: str, offset: bool = False) -> str:
    if _is_time(value):
        return _zoned(value, tz).isoformat(sep=" ", timespec="seconds") if offset else \
            _zoned(value, tz).strftime("%Y-%m-%d %H:%M:%S")
    plain = _plain(value, tz)
    return "" if plain is None else visible(str(plain))


def _width(text: str) -> int:
    """Terminal columns: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


_TIME_CELL = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:[+-]\d\d:\d\d)?")  # with its offset across a DST change
# An id a reader searches for whole (sg-0a000000000000001, i-..., eni-..., pl-..., an access key):
# never split across lines, at any width.
ID_WORD = re.compile(r"\b(?:[a-z]+-(?=[0-9a-z]*\d)[0-9a-z]{8,}|A[KS]IA[0-9A-Z]{16})\b")
_NAME_BREAK = re.compile(r"(?<=_)|(?<=\.)(?=[A-Za-z])")  # not inside an address: 198.51.100.7
SQUEEZED, HARD = 1, 2  # how hard `_min_width` may wrap: 0 is the first try


def _min_width(header: str, cells: list[str], squeeze: int = 0) -> int:
    # An id (ID_WORD) is never broken, however long. First, a value of one word up to 20
    # characters (an address, an account, an event name) is never broken and a phrase such as an
    # identity wraps between its words, down to 12 columns. SQUEEZED (before a column is left out):
    # a name wraps after its '_' or '.', a time puts its clock under its date, down to 10 columns.
    # HARD (the last resort before a table wider than asked): every other value wraps inside its words.
    def unbroken(cell: str) -> list[str]:
        if _TIME_CELL.fullmatch(cell):
            return cell.split() if squeeze else [cell]
        if squeeze == HARD:
            return []
        if squeeze:  # a name (`ssh_exposure_opened`) wraps after its '_', a host name after its '.'
            return [part for word in cell.split()  # an email is an identity: whole
                    for part in ([word] if "@" in word else _NAME_BREAK.split(word))]
        return cell.split()

    natural = max([_width(header), *map(_width, cells)])
    words = [min(_width(w), 20) for c in cells for w in unbroken(c)]
    ids = [_width(m[0]) for c in cells for m in ID_WORD.finditer(c)]
    return min(natural, max(_width(header), 10 if squeeze else 12, *words, *ids))


def _fit(headers: list[str], rows: list[list[str]], keep: list[int], width: int | None,
         squeeze: int = 0) -> list[int] | None:
    """Column widths for the kept columns within `width`, or None if they cannot fit."""
    natural = [max([_width(headers[i]), *(_width(r[i]) for r in rows)]) for i in keep]
    if width is None:
        return natural
    widths = [_min_width(headers[i], [r[i] for r in rows], squeeze) for i in keep]
    room = width - sum(widths) - 2 * (len(keep) - 1)
    if room < 0:
        return None
    # the spare room first to the columns it unwraps whole, those needing least first; the rest to
    # the columns that still wrap, a column at a time (not to times: they are on one line or two)
    for k in sorted(range(len(keep)), key=lambda k: natural[k] - widths[k]):
        if 0 < natural[k] - widths[k] <= room:
            room -= natural[k] - widths[k]
            widths[k] = natural[k]
    times = [all(_TIME_CELL.fullmatch(r[i]) for r in rows if r[i]) for i in keep]
    while room > 0:
        short = [k for k, w in enumerate(widths) if w < natural[k] and not times[k]]
        if not short:
            break
        for k in short:
            if room == 0:
                break
            widths[k] += 1
            room -= 1
    return widths


def _wrap(text: str, width: int, dash: bool = False) -> list[str]:
    """Lines of at most `width` columns, broken after the last space, '/', ':', ',' or '_' that fits
    (with `dash`, where none is, after a '-' when the part after it fits a line: a role or session name
    breaks between its words, a group id is not cut at 'sg-'), else after a '.' before a letter."""
    if _TIME_CELL.fullmatch(text) and _width(text) > width:
        return text.split()  # the clock under its date, never split at its ':'
    if _width(text) <= width and not text.startswith(" "):
        return [text]  # as the loop would give it, without growing a long line a character at a time
    lines, line = [], ""
    ids = {i for m in ID_WORD.finditer(text) for i in range(m.start(), m.end())}  # never cut inside
    for at, char in enumerate(text):
        if _width(line + char) > width:
            cut = max(line.rfind(c) for c in " /:,_")
            hyphen = line.rfind("-") if dash and char != " " else -1
            if hyphen >= 0 and at - len(line) + hyphen in ids:
                hyphen = -1
            # the rest of the text past a line's width cannot fit: not copied (a long cell, quadratic)
            after = line[hyphen + 1:] + text[at:at + width + 1]
            if cut <= 0 < hyphen and _width(re.match(r"[^ /:,_-]*", after)[0]) <= width:
                cut = hyphen
            if cut <= 0 and char != " ":  # a host name, after a '.' (a path keeps `a.json` whole)
                cut = max([m.start() for m in re.finditer(r"\.(?=[A-Za-z])", line + char)], default=-1)
            head, line = (line[: cut + 1], line[cut + 1:]) if cut > 0 else (line, "")
            lines.append(head.rstrip())
        if line or char != " ":  # a wrapped line does not start with a space
            line += char
    return [*lines, line]


def fill(text: str, width: int | None, indent: str = "  ") -> str:
    """`text` wrapped between its words to `width` terminal columns (None: as it is), each later line
    under the first's leading spaces and `indent`. A word longer than a line (a path, an ARN) breaks
    as a table cell does, after a '/', ':', ',' or '_', on lines of its own."""
    if "\n" in text:
        return "\n".join(fill(line, width, indent) for line in text.split("\n"))
    lead = text[: len(text) - len(text.lstrip(" "))]
    if width is None or _width(text) <= width:
        return text
    rest = lead + indent
    room = max(width - _width(rest), 10)
    lines, space = [lead], ""
    for word, after in re.findall(r"([^ ]+)( *)", text):  # the spaces inside a line kept as they are
        for n, piece in enumerate(_wrap(word, room) if _width(word) > room else [word]):
            if n or (lines[-1].strip() and _width(lines[-1] + space + piece) > width):
                lines.append(rest + piece)
            else:
                lines[-1] += space + piece
        space = after
    return "\n".join(lines)


def _render(headers: list[str], rows: list[list[str]], widths: list[int]) -> list[str]:
    def pad(text: str, w: int) -> str:
        return text + " " * (w - _width(text))

    out = ["  ".join(pad(h, w) for h, w in zip(headers, widths)).rstrip()]
    for row in rows:
        wrapped = [_wrap(cell, w, dash=True) for cell, w in zip(row, widths)]
        for n in range(max(map(len, wrapped))):
            out.append("  ".join(pad(c[n] if n < len(c) else "", w) for c, w in zip(wrapped, widths)).rstrip())
    return out
