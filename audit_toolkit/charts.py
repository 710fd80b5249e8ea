"""Charts: each `plot_x(df, ax=None, ...) -> Axes`, drawn on the caller's Axes, never shown.

Times are drawn in the display time zone (Settings.display_tz, UTC by default; Asia/Tokyo is what
most Chatwork readers want). Every string from the evidence goes through `label()` (free text, cut
to a width) or `whole()` (an identity or a group id, wrapped, cut only past the longest AWS
writes): a `$` in a group description must not switch matplotlib into mathtext, and a newline must
not break the layout. A figure is at most MAX_FIGURE_INCHES tall, so its bitmap stays small
whatever the evidence holds; the report's tables keep every value whole.
A legend lists exactly what its chart draws.
Japanese text renders with the IPAex Gothic font bundled by matplotlib-fontja, so it does not depend
on what fonts the machine has.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

# The backend is matplotlib's choice: inline in a notebook, Agg on a server without a display.
import matplotlib
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib_fontja  # registers IPAexGothic: Japanese text as glyphs, not boxes
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from .analysis import actors
from .analysis.events import records
from .analysis.security_groups import port_span
from .evidence.guardduty import SEVERITY_BANDS, severity_label
from .export import visible
from . import phrases
from .settings import Settings

# Latin text in DejaVu Sans as usual; glyphs it lacks (Japanese) fall back to the bundled IPAexGothic.
matplotlib.rcParams["font.family"] = ["DejaVu Sans", matplotlib_fontja.matplotlib_fontja.FONT_NAME]

# GuardDuty's severity bands (docs: "Severity levels of GuardDuty findings"), lowest first.
BAND_COLORS = dict(zip([name for name, _ in SEVERITY_BANDS], ["#4c9be8", "#f0a30a", "#d9480f", "#7b1fa2"]))  # Low .. Critical
FINDING_TIME_COLUMNS = ("first_seen", "created_at", "updated_at", "event_time", "time")
OPEN_COLOR, BEFORE_COLOR, STILL_OPEN_COLOR = "#e03131", "#f08c00", "#c92a2a"
# A session from an address nobody knows; from the actor or a known network.
SESSION_COLOR, KNOWN_SESSION_COLOR = "#1b1b1b", "#9e9e9e"
UNCOVERED_COLOR, UNCOVERED_EDGE = "#e0e0e0", "#9e9e9e"  # time the evidence does not cover
# What says the most is drawn on top: no finding or session marker may hide the mark that a window
# began before the range or is still open; the uncovered stretches lie behind everything.
Z_UNCOVERED, Z_BAR, Z_MARKER, Z_MARK = 0.5, 1, 3, 4
# The longest identity AWS writes is an IAM ARN, 2,048 characters; a longer one is no identity AWS
# wrote, and drawn whole (wrapped) it would make the figure an enormous bitmap.
MAX_IDENTITY = 2048
MAX_FIGURE_INCHES = 100  # 11,000 pixels at to_png's 110 dpi: more rows are drawn closer together


def label(value: object, width: int = 60) -> str:
    """Evidence text made inert for matplotlib: no mathtext, one line, visible characters only,
    at most `width` characters."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    # Newlines and tabs become spaces; other control and bidi characters their escapes, so that no
    # override reorders a label and no missing-glyph warning prints one raw to the terminal.
    text = visible(" ".join(str(value).split()))
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("$", r"\$")


def whole(value: object, width: int = 40) -> str:
    """An identity (an actor, its short form, an access key) or a group id made inert as `label` makes
    evidence text, but not cut: one that is longer than `width` is wrapped onto lines of at most
    `width` characters, broken after a `/`, `:`, `@` or space where the line holds one. Cut with an
    ellipsis, two roles or two sessions that differ only at the end would read as one. Only text
    past MAX_IDENTITY characters is cut, marked `…[+N]` with the number of characters left out."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text, lines = visible(" ".join(str(value).split())), []
    if len(text) > MAX_IDENTITY:
        text = f"{text[:MAX_IDENTITY]}…[+{len(text) - MAX_IDENTITY:,}]"
    while len(text) > width:
        at = max(text.rfind(mark, 1, width) for mark in "/:@ ") + 1 or width
        lines.append(text[:at].rstrip())
        text = text[at:].lstrip()
    lines.append(text)
    return "\n".join(lines).replace("$", r"\$")


def short_actor(actor: object) -> str:
    """The actor's short form (actors.short: `alice`, `ops-admin / mallory`); "" for none."""
    return actors.short(actor) if isinstance(actor, str) else ""


def band(severity: object) -> str:
    """The GuardDuty band of a severity; one that is not a number is drawn as Low."""
    return severity_label(severity) or "Low"


def _zone(settings: Settings | None) -> ZoneInfo:
    return ZoneInfo((settings or Settings()).display_tz)


def _num(when) -> float:
    return float(mdates.date2num(pd.Timestamp(when).tz_convert("UTC") if pd.Timestamp(when).tzinfo else pd.Timestamp(when).tz_localize("UTC")))


def _words(settings: Settings | None) -> Callable[..., str]:
    """The charts' phrases (phrases.TEXT `chart.*`) in the settings' language."""
    language = (settings or Settings()).language
    return lambda key, **values: phrases.words(language, f"chart.{key}", **values)  # `.one` for a count of 1


def _time_axis(ax: Axes, zone: ZoneInfo, say: Callable[..., str]) -> None:
    locator = mdates.AutoDateLocator(tz=zone, minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=zone))
    ax.set_xlabel(say("time", zone=zone.key))


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=(size[0], min(size[1], MAX_FIGURE_INCHES)), layout="constrained")
    return ax


def _group_key(row: Mapping) -> tuple:
    return (row.get("account"), row.get("region"), row.get("group_id") or row.get("group_name"))


def group_names(changes: pd.DataFrame | None) -> dict[tuple, str]:
    """(account, region, group) -> "name (description)" from CreateSecurityGroup rows, when the evidence
    holds them, as drawn: the name whole (`whole`), the description, free text, cut to 36 characters."""
    names: dict[tuple, str] = {}
    if changes is None or changes.empty:
        return names
    for row in records(changes[changes["action"] == "create_group"]):
        parts = [whole(row.get("group_name"), 36)]
        if row.get("description"):
            parts.append(f"({label(row['description'], 36)})")
        names[_group_key(row)] = " ".join(p for p in parts if p)
    return names


def _row_label(key: tuple, names: Mapping[tuple, str]) -> str:
    account, region, group = key
    name = names.get(key)
    head = whole(group, 30) + (f" {name}" if name else "")
    return f"{head}\n{whole(account, 14)} {whole(region, 16)}"


def _ports(row: Mapping, say: Callable[..., str]) -> str:
    if row["protocol"] == "-1":
        return say("all_traffic")
    low, high = row["from_port"], row["to_port"]
    if low is None:  # a classic DB security group: the database's port, as watched
        return f"{label(row['protocol'], 8)}/{label(row.get('exposed_ports'), 20)}"
    return f"{label(row['protocol'], 8)}/{port_span(row['protocol'], low, high)}"


def plot_exposure(windows: pd.DataFrame, ax: Axes | None = None, *, findings: pd.DataFrame | None = None,
                  changes: pd.DataFrame | None = None, start=None, end=None, settings: Settings | None = None,
                  sessions: pd.DataFrame | None = None, uncovered=None,
                  ) -> Axes:
    """Exposure windows: one row per security group, a bar per window from opened to closed.

    A still-open window runs to `end` (the end of the evidence) and ends in an arrow; a window already
    open before the evidence starts at `start` with a hatched lead. Each bar says its port and CIDR and
    who opened and closed it. `findings` (with `group_id` and a time column) are drawn as markers on
    their group's row, coloured by severity band. `changes` gives group names and descriptions.
    `sessions` (connections rows whose verdict is session) are stars at their first flow on their
    window's lane: black from an address nobody knows, grey from the actor or a known network.
    `uncovered` are the stretches of time the evidence does not cover, each `(start, end)` or
    `(start, end, account)` (a logging outage stops its account's trail; None or no account: every
    lane): grey and cross-hatched on their lanes, and a window across one is drawn there as a dashed
    outline, not a solid bar, for whether it stayed open then is not known. The legend lists exactly
    what is drawn, and the marks that say a window began before the range or is still open are
    drawn above any finding or session marker.
    """
    zone, say = _zone(settings), _words(settings)
    rows = records(windows)
    keys = list(dict.fromkeys(_group_key(r) for r in rows))
    rows.sort(key=lambda r: keys.index(_group_key(r)))  # stable: a group's windows in adjacent lanes, in time order
    ax = _axes(ax, (12, 1.5 + 0.75 * max(1, len(rows))))
    times = [t for r in rows for t in (r["opened_at"], r["closed_at"]) if t is not None]
    if start is None:
        start = min(times) - pd.Timedelta(hours=1) if times else pd.Timestamp.now(tz="UTC")
    if end is None:
        end = max(times) + pd.Timedelta(hours=1) if times else pd.Timestamp(start) + pd.Timedelta(hours=1)
    x0, x1 = _num(start), _num(end)
    if x1 <= x0:  # evidence of a single instant: show an hour either side
        x0, x1 = x0 - 1 / 24, x1 + 1 / 24
    lead = (x1 - x0) * 0.03  # the hatched lead of a window open before the evidence
    names = group_names(changes)
    spans = _uncovered_spans(uncovered, x0, x1)
    lanes: dict[tuple, list[int]] = {}
    window_lane: dict[tuple, int] = {}
    drawn: set[str] = set()  # what the legend lists
    for y, r in enumerate(rows):
        lanes.setdefault(_group_key(r), []).append(y)
        window_lane[_window_key(r)] = y
        left = _num(r["opened_at"]) if r["opened_at"] is not None else x0
        right = _num(r["closed_at"]) if r["closed_at"] is not None else x1
        # opened before the range shown (--since, or a state long before it): drawn from the range's start
        earlier = left < x0 and not r["open_before_evidence"]
        left, right = max(left, x0), min(max(right, x0), x1)
        color = STILL_OPEN_COLOR if r["still_open"] else OPEN_COLOR
        gaps = _merged([(a, b) for a, b, account in spans if account is None or account == r.get("account")])
        for a, b in gaps:
            ax.barh(y, b - a, left=a, height=1.0, facecolor=UNCOVERED_COLOR, edgecolor=UNCOVERED_EDGE, hatch="xx",
                    linewidth=0, zorder=Z_UNCOVERED, gid="uncovered")
            drawn.add("uncovered")
        text = say("rule", ports=_ports(r, say), cidr=label(r["cidr"], 43))
        if r.get("reach") == "unknown":
            text += say("unknown_reach")
        if r["open_before_evidence"]:
            ax.barh(y, min(lead, right - left), left=left, height=0.4, color="white", edgecolor=BEFORE_COLOR,
                    hatch="////", zorder=Z_BAR, gid="before-evidence")
            drawn |= {"before"} | _window_bar(ax, y, left + lead, max(right, left + lead), BEFORE_COLOR, gaps)
            opened = say("open_before")
        else:
            drawn |= {"open"} | _window_bar(ax, y, left, right, color, gaps)
            opened = say("opened_by", who=whole(short_actor(r["opened_by"]), 40) or say("no_logged_call"))
        if earlier:  # the bar starts at the range's start; the mark says it began before
            ax.plot([left], [y], marker="<", markersize=10, color=color, markeredgecolor="white", zorder=Z_MARK,
                    clip_on=False, gid="began-earlier")
            drawn.add("earlier")
            began = pd.Timestamp(r["opened_at"]).tz_convert(zone)
            opened += say("began_earlier", when=f"{began:%Y-%m-%d %H:%M}")
        if r["still_open"]:
            ax.plot([right], [y], marker=">", markersize=10, color=color, zorder=Z_MARK, clip_on=False,
                    gid="still-open")
            drawn.add("still")
            closed = say("still_open")
        else:
            # a window seen only in the state has no caller: say so, not an empty "closed by"
            closed = say("closed_by", who=whole(short_actor(r["closed_by"]), 40) or say("no_logged_call"))
        ax.annotate(text, (left, y - 0.24), fontsize=8, va="bottom", annotation_clip=False)
        if r.get("ambiguous_order") is True:
            closed += say("order")
        who = say("opened_closed", opened=opened, closed=closed)
        ax.annotate(who, (left, y + 0.24), fontsize=6 if "\n" in who else 7,  # a wrapped identity: smaller
                    va="top", color="#444", annotation_clip=False)
    y_of = {k: ys[0] for k, ys in lanes.items()}
    for ys in list(lanes.values())[1:]:
        ax.axhline(ys[0] - 0.5, color="#bbb", linewidth=0.8)
    legend = {
        "open": Patch(color=OPEN_COLOR, alpha=0.8, label=say("legend_open")),
        "before": Patch(facecolor="white", edgecolor=BEFORE_COLOR, hatch="////", label=say("open_before")),
        "still": Line2D([], [], marker=">", color=STILL_OPEN_COLOR, linestyle="", label=say("legend_still")),
        "earlier": Line2D([], [], marker="<", color=OPEN_COLOR, linestyle="", label=say("legend_earlier")),
        "uncovered": Patch(facecolor=UNCOVERED_COLOR, edgecolor=UNCOVERED_EDGE, hatch="xx",
                           label=say("legend_uncovered")),
    }
    handles = [handle for name, handle in legend.items() if name in drawn]
    if findings is not None and len(findings):
        handles += _finding_markers(ax, findings, y_of, window_lane, say, x0, (x1 + lead - x0) * 0.03)
    if sessions is not None and len(sessions):
        handles += _session_markers(ax, sessions, window_lane, say)
    ax.set_yticks([sum(ys) / len(ys) for ys in lanes.values()], [_row_label(k, names) for k in lanes], fontsize=8)
    ax.set_ylim(len(rows) - 0.4, -0.6)  # first group on top
    ax.set_xlim(x0, x1 + lead)
    _time_axis(ax, zone, say)
    ax.set_title(say("exposure_title"))
    ax.grid(axis="x", alpha=0.3)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return ax


def _uncovered_spans(uncovered, x0: float, x1: float) -> list[tuple[float, float, object]]:
    """The stretches the evidence does not cover, as (left, right, account) within the chart's x range;
    a missing start or end is the chart's edge (an outage still ongoing runs to its end)."""
    spans = []
    for span in uncovered if uncovered is not None else []:
        begin, finish, account = (*span, None)[:3]
        account = None if account is None or (not isinstance(account, str) and pd.isna(account)) else account
        a = x0 if begin is None or pd.isna(begin) else max(_num(begin), x0)
        b = x1 if finish is None or pd.isna(finish) else min(_num(finish), x1)
        if b > a:
            spans.append((a, b, account))
    return spans


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _window_bar(ax: Axes, y: int, left: float, right: float, color: str,
                gaps: list[tuple[float, float]]) -> set[str]:
    """A window's bar from left to right: solid where the evidence covers it, a dashed outline
    across each uncovered stretch (`gaps`, merged); what it drew, for the legend."""
    pieces, at = [], left
    for a, b in gaps:
        a, b = max(a, at), min(b, right)
        if b <= a:
            continue
        if a > at:
            pieces.append((at, a, True))
        pieces.append((a, b, False))
        at = b
    if at < right or not pieces:
        pieces.append((at, right, True))
    for a, b, known in pieces:
        if known:
            ax.barh(y, b - a, left=a, height=0.4, color=color, alpha=0.8, zorder=Z_BAR, gid="window")
        else:
            ax.barh(y, b - a, left=a, height=0.4, fill=False, edgecolor=color, linestyle="--",
                    zorder=Z_BAR, gid="window-unknown")
    return {"uncovered"} if any(not known for _, _, known in pieces) else set()


def _finding_time(findings: pd.DataFrame) -> str:
    for column in FINDING_TIME_COLUMNS:
        if column in findings.columns:
            return column
    raise ValueError(f"findings need a time column, one of {', '.join(FINDING_TIME_COLUMNS)}")


def _finding_groups(finding: Mapping) -> list[str]:
    """The groups a finding concerns: `group_id` (a correlated row) or GuardDuty's `security_group_ids`."""
    if finding.get("group_id"):
        return [str(finding["group_id"])]
    return [g for g in str(finding.get("security_group_ids") or "").split(",") if g]


def _session_markers(ax: Axes, sessions: pd.DataFrame, window_lane: Mapping[tuple, int],
                     say: Callable[..., str]) -> list:
    drawn = set()
    for r in records(sessions):
        y = window_lane.get(_window_key(r))
        if y is None or r["first_seen"] is None:
            continue
        unknown = not r["known_as"]
        drawn.add(unknown)
        ax.plot([_num(r["first_seen"])], [y], marker="*", markersize=13, linestyle="",
                color=SESSION_COLOR if unknown else KNOWN_SESSION_COLOR, zorder=Z_MARKER,
                gid="session" if unknown else "known-session")
    legend = ((True, SESSION_COLOR, say("session_unknown")),
              (False, KNOWN_SESSION_COLOR, say("session_known")))
    return [Line2D([], [], marker="*", color=c, linestyle="", label=text)
            for unknown, c, text in legend if unknown in drawn]


def _window_key(row: Mapping) -> tuple:
    opened = row.get("opened_at")
    return (*_group_key(row), row.get("cidr"), None if opened is None or pd.isna(opened) else pd.Timestamp(opened))


def _finding_markers(ax: Axes, findings: pd.DataFrame, y_of: Mapping[tuple, int],
                     window_lane: Mapping[tuple, int], say: Callable[..., str], x0: float | None = None,
                     apart: float = 0.0) -> list:
    """A marker per finding on its group's row; on the very window's lane when the row names the window
    (a correlation row carries the window's cidr and opened_at). A finding active at the range's start
    `x0` but begun before it is drawn there with a small `<` (else it would be off the axes), and none
    sits `apart` or less right of `x0`, where a window's began-earlier `<` would hide it."""
    column = _finding_time(findings)
    rows_of: dict[str, list[int]] = {}
    for key, y in y_of.items():
        rows_of.setdefault(str(key[2]), []).append(y)
    drawn: dict[str, Line2D] = {}
    for f in records(findings):
        if f.get(column) is None:
            continue
        at, last = _num(f[column]), f.get("last_seen")
        if x0 is not None and last is not None and not pd.isna(last) and _num(last) < x0:
            continue  # over before the range began
        earlier = x0 is not None and at < x0
        if earlier or (x0 is not None and at <= x0 + apart):  # at the range's start: right of its `<` marks
            at = x0 + apart
        name = band(f.get("severity"))
        color = BAND_COLORS[name]
        for group in _finding_groups(f):
            exact = window_lane.get(_window_key({**f, "group_id": group})) if "cidr" in f else None
            exact = exact if exact is not None else y_of.get((f.get("account"), f.get("region"), group))
            for y in [exact] if exact is not None else rows_of.get(group, []):
                ax.plot([at], [y], marker="X", markersize=9, color=color, markeredgecolor="black",
                        linestyle="", zorder=Z_MARKER, gid="finding")
                if earlier:
                    ax.plot([at - apart * 0.45], [y], marker="<", markersize=6, color=color,
                            markeredgecolor="black", linestyle="", zorder=Z_MARKER, gid="finding-earlier")
                    drawn["earlier"] = Line2D([], [], marker="<", color="white", markeredgecolor="black",
                                              linestyle="", label=say("finding_earlier"))
                drawn[name] = Line2D([], [], marker="X", color=color, markeredgecolor="black", linestyle="",
                                     label=say("finding", band=say(f"band.{name}")))
    return [drawn[b] for b in [*BAND_COLORS, "earlier"] if b in drawn]


ACTION_MARKERS = {"authorize": "^", "revoke": "v", "modify": "D", "create_group": "s", "delete_group": "X",
                  "update_description": "o", "revoke_unmatched": "1"}


def plot_changes(changes: pd.DataFrame, ax: Axes | None = None, *, settings: Settings | None = None,
                 max_actors: int = 10) -> Axes:
    """Security-group changes over time: one row per group, a marker per change coloured by actor,
    shaped by action; failed attempts drawn hollow, ringed in the actor's colour."""
    zone, say = _zone(settings), _words(settings)
    rows = records(changes)
    keys = list(dict.fromkeys(_group_key(r) for r in rows))
    ax = _axes(ax, (12, 1.5 + 0.6 * max(1, len(keys))))
    actors = list(pd.Series([short_actor(r["actor"]) for r in rows], dtype=object).value_counts(sort=True).index)
    shown = actors[:max_actors]
    cmap = plt.get_cmap("tab10")
    colors = {a: cmap(i % 10) for i, a in enumerate(shown)}
    y_of = {k: i for i, k in enumerate(keys)}
    offsets = _spread(rows)
    for r, dy in zip(rows, offsets):
        actor = short_actor(r["actor"])
        color = colors.get(actor, "#999999")
        failed = r["error_code"] is not None
        ax.plot([_num(r["event_time"])], [y_of[_group_key(r)] + dy], marker=ACTION_MARKERS.get(r["action"], "o"),
                markersize=11 if failed else 8, linestyle="", color=color,
                markerfacecolor="white" if failed else color, markeredgecolor=color,
                markeredgewidth=2.5 if failed else 1, gid="failed" if failed else "change")
    handles = [Line2D([], [], marker="o", linestyle="", color=colors[a], label=whole(a, 40)) for a in shown]
    if len(actors) > len(shown):
        others = say("other_actors", n=len(actors) - len(shown))
        handles.append(Line2D([], [], marker="o", linestyle="", color="#999999", label=others))
    handles += [Line2D([], [], marker=m, linestyle="", color="#555", label=say(f"action.{a}"))
                for a, m in ACTION_MARKERS.items() if any(r["action"] == a for r in rows)]
    if any(r["error_code"] is not None for r in rows):
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="#555",
                              markeredgewidth=2.5, color="#555", label=say("failed")))
    names = group_names(changes)
    ax.set_yticks(range(len(keys)), [_row_label(k, names) for k in keys], fontsize=8)
    ax.set_ylim(len(keys) - 0.5, -0.5)
    _time_axis(ax, zone, say)
    ax.set_title(say("changes_title"))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return ax


def _spread(rows: list[dict]) -> list[float]:
    """Vertical offsets within a lane for markers of one group that would land on one another: those
    within 1/150 of the chart's time span of each other are spread evenly across the lane."""
    times = [_num(r["event_time"]) for r in rows]
    width = (max(times) - min(times)) / 150 if len(times) > 1 and max(times) > min(times) else 1.0
    buckets: dict[tuple, list[int]] = {}
    for i, (r, t) in enumerate(zip(rows, times)):
        buckets.setdefault((_group_key(r), round(t / width)), []).append(i)
    offsets = [0.0] * len(rows)
    for members in buckets.values():
        step = min(0.2, 0.7 / len(members))
        for k, i in enumerate(members):
            offsets[i] = (k - (len(members) - 1) / 2) * step
    return offsets


def plot_findings(findings: pd.DataFrame, ax: Axes | None = None, *, freq: str = "D",
                  settings: Settings | None = None) -> Axes:
    """GuardDuty findings over time: a stacked bar per period (`freq`, a pandas offset) by severity band."""
    zone, say = _zone(settings), _words(settings)
    ax = _axes(ax, (10, 4))
    column = _finding_time(findings) if len(findings) else None
    names = list(BAND_COLORS)
    if column is None:
        counts = pd.DataFrame(columns=names)
    else:
        frame = pd.DataFrame({
            "period": pd.to_datetime(findings[column], utc=True).dt.tz_convert(zone).dt.tz_localize(None).dt.to_period(freq),
            "band": [band(s) for s in findings.get("severity", pd.Series([None] * len(findings)))],
        })
        counts = frame.groupby(["period", "band"]).size().unstack(fill_value=0).reindex(columns=names, fill_value=0)
        every = pd.period_range(counts.index.min(), counts.index.max(), freq=counts.index.freq)
        counts = counts.reindex(every, fill_value=0)  # a quiet period is a zero, not a gap
        sample = findings["sample"].eq(True).to_numpy() if "sample" in findings else np.zeros(len(findings), bool)
        samples = frame[sample].groupby("period").size().reindex(every, fill_value=0)
    positions = np.arange(len(counts))
    bottom = np.zeros(len(counts))
    for name, color in BAND_COLORS.items():
        values = counts[name].to_numpy(dtype=float) if len(counts) else np.zeros(0)
        # the legend names a band only where a bar of it is drawn
        ax.bar(positions, values, bottom=bottom, color=color, gid=name,
               label=say(f"band.{name}") if values.any() else "_nolegend_")
        bottom += values
    if column is not None and samples.any():
        # GuardDuty's sample findings (CreateSampleFindings) are not attacks: hatched, at the foot of the bar.
        ax.bar(positions, samples.to_numpy(dtype=float), fill=False, hatch="//", edgecolor="#333333",
               label=say("samples"), gid="sample")
    ax.set_xticks(positions, [str(p) for p in counts.index], rotation=45 if len(counts) > 8 else 0,
                  ha="right" if len(counts) > 8 else "center", fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(say("day", zone=zone.key) if freq == "D" else f"{freq} ({zone.key})")
    ax.set_ylabel(say("findings"))
    ax.set_title(say("findings_title"))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(title=say("severity"), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return ax


def plot_activity(events: pd.DataFrame, ax: Axes | None = None, *, actor: str | None = None,
                  settings: Settings | None = None) -> Axes:
    """One actor's activity as a heatmap: hour of day (rows) by date (columns), events per cell on a
    log scale, and a dot on each hour that holds a call other than a read (Describe, Get, List...), so
    one security-group change stands out among thousands of reads. `events` is Investigation.activity;
    the title names the actor (its short form), and `actor`, the key followed, when it differs."""
    from matplotlib.colors import LogNorm

    zone, say = _zone(settings), _words(settings)
    ax = _axes(ax, (max(4, 1.5 + 0.6 * 7), 6))
    times = pd.to_datetime(events["event_time"], utc=True).dt.tz_convert(zone)
    dates = pd.date_range(times.min().date(), times.max().date(), freq="D").date if len(times) else []
    grid = pd.crosstab(times.dt.hour, times.dt.date).reindex(index=range(24), columns=dates, fill_value=0)
    counts = grid.to_numpy(dtype=float)
    shown = np.ma.masked_equal(counts, 0)  # an hour without events stays white
    image = ax.imshow(shown, aspect="auto", cmap="Reds", origin="upper", interpolation="nearest",
                      norm=LogNorm(vmin=1, vmax=max(2.0, counts.max())))
    writes = ~events["event_name"].astype(str).str.match(r"(Describe|Get|List|Head|Lookup|BatchGet|Search)")
    if writes.any():
        changed = pd.crosstab(times[writes].dt.hour, times[writes].dt.date).reindex(
            index=range(24), columns=dates, fill_value=0)
        ys, xs = np.nonzero(changed.to_numpy())
        ax.scatter(xs, ys, s=18, facecolor="black", edgecolor="white", linewidth=0.8, zorder=3, gid="changes",
                   label=say("change_hour"))
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.18), fontsize=8, frameon=False)
    ax.set_yticks(range(0, 24, 2), [f"{h:02d}:00" for h in range(0, 24, 2)], fontsize=8)
    ax.set_xticks(range(len(dates)), [d.isoformat() for d in dates], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(say("hour_of_day", zone=zone.key))
    ax.set_xlabel(say("date"))
    named = events["actor"].mode().iat[0] if "actor" in events and events["actor"].notna().any() else actor
    key = say("key", access_key=whole(actor, 40)) if actor and actor != named else ""
    who = whole(short_actor(named), 60) + key
    ax.set_title(say("activity_title", who=who, n=len(events)), fontsize=10)
    ax.figure.colorbar(image, ax=ax, label=say("events_log"))
    return ax


def to_png(ax: Axes, dpi: int = 110) -> bytes:
    """The figure of `ax` as PNG bytes (for a report or a chat attachment); the figure is closed."""
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(ax.figure)
    return buffer.getvalue()
