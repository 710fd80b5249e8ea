"""The periodic audit report: one self-contained HTML file and a Markdown summary.

    write_report(inv, "out/", since="2026-11-01", until="2026-11-08")

The report is a list of SECTIONS, each a title and a function from the audit scope to what it shows
(facts, charts, tables). Another feature adds its part by appending a Section; a section that has
nothing to say for this evidence returns None and is left out. The evidence appendix always closes the
report: the input files with their SHA-256, and every query run with its text, engine and version.

Everything from the logs is untrusted: the HTML template escapes it (jinja2 autoescape), the Markdown
renderer backslash-escapes it, and charts keep it out of mathtext (charts.label). In both files
every control and bidi character is shown as its escape (export.visible), as on the terminal: a raw
ESC would drive the terminal of whoever cats report.md, and a right-to-left override reorders what
an HTML reader sees. The files are written through temporary names in --out (paths.write_atomic).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import jinja2
import markupsafe
import numpy as np
import pandas as pd

from . import charts, export, phrases, queries
from .analysis import actors, connections
from .analysis.events import records
from .analysis.security_groups import port_span
from .analysis.state import unlogged_actors
from .errors import AuditToolkitError, OutputError
from .evidence.digest_chain import IntegrityReport, said
from .evidence.reader import IntakeReport
from .export import visible
from .investigation import Investigation, When
from .paths import write_atomic
from .phrases import TEXT, in_language, say


@dataclass
class Chart:
    name: str  # file name stem: out/charts/<name>.png
    caption: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[list[str]]  # cells already formatted as text (times in the display zone)


@dataclass
class Part:
    """What one section shows."""

    facts: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    subsections: list[tuple[str, "Part"]] = field(default_factory=list)  # (title, what it shows), after the tables


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    build: Callable[["Audit"], Part | None]  # None: nothing to report for this evidence, section left out


@dataclass
class Audit:
    """The scope of one report and the answers its sections share (each question asked once)."""

    inv: Investigation
    since: When = None
    until: When = None
    account: str | None = None
    region: str | None = None

    @property
    def scope(self) -> dict:
        return dict(since=self.since, until=self.until, account=self.account, region=self.region)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.inv.settings.display_tz)  # Settings checked it

    @cached_property
    def span(self) -> dict:
        return self.inv.span(**self.scope)

    @cached_property
    def start(self) -> pd.Timestamp | None:
        value = self.since if self.since is not None else self.span["first_event"]
        return None if value is None or pd.isna(value) else pd.Timestamp(queries.scope(value)["since"])

    @cached_property
    def end(self) -> pd.Timestamp | None:
        value = self.until if self.until is not None else self.span["last_event"]
        return None if value is None or pd.isna(value) else pd.Timestamp(queries.scope(until=value)["until"])

    @cached_property
    def covered(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The part of the range the evidence covers, what the time charts draw (the rest is said, not
        drawn as an empty stretch that squeezes the bars into a corner)."""
        first, last = self.span["first_event"], self.span["last_event"]
        if first is None or pd.isna(first) or self.start is None:
            return self.start, self.end
        return max(self.start, pd.Timestamp(first)), min(self.end, pd.Timestamp(last)) if self.end else last

    @cached_property
    def uncovered(self) -> list[tuple]:
        """The stretches of the range the evidence does not cover, as the exposure chart draws them,
        each (start, end, account): all of the range when nothing in it was read, else each logging
        outage (a successful StopLogging or DeleteTrail to the next StartLogging) in its account.
        Silent hours are not among them: a quiet night is covered, and said in its own section."""
        first = self.span["first_event"]
        if first is None or pd.isna(first):
            return [] if self.start is None else [(self.start, self.end, None)]
        if self.gaps is None or self.gaps.empty:
            return []
        off = self.gaps[self.gaps["kind"] != "no_events"]
        return list(zip(off["start"], off["end"], off["account"]))

    @cached_property
    def changes(self) -> pd.DataFrame:
        return self.inv.sg_changes(**self.scope)

    @cached_property
    def windows(self) -> pd.DataFrame:
        return self.inv.ssh_exposure(**self.scope)

    @cached_property
    def disagreements(self) -> pd.DataFrame | None:
        """Where security-group state and the logs disagree, in the range (None: no reconcile)."""
        if not hasattr(self.inv, "reconcile"):
            return None
        found = self.inv.reconcile(self.until, self.account, self.region)
        if self.start is not None:
            found = found[found["before"] >= self.start].reset_index(drop=True)
        return found

    @cached_property
    def failed(self) -> pd.DataFrame:
        return self.inv.failed_openings(**self.scope)

    @cached_property
    def findings(self) -> pd.DataFrame | None:
        """GuardDuty findings in the scope; None where the investigation cannot read findings."""
        return self.inv.findings(**self.scope) if hasattr(self.inv, "findings") else None

    @cached_property
    def correlations(self) -> pd.DataFrame | None:
        """Findings that attacked an exposure window while it was open (one row per pair)."""
        if self.findings is None or self.findings.empty or not hasattr(self.inv, "correlate"):
            return None
        return self.inv.correlate(**self.scope)

    @cached_property
    def hits(self) -> pd.DataFrame | None:
        """The detection catalogue's hits in the scope; None where the investigation cannot detect."""
        return self.inv.detect(**self.scope) if hasattr(self.inv, "detect") else None

    @cached_property
    def gaps(self) -> pd.DataFrame | None:
        """Silent hours and logging outages in the scope (Investigation.coverage)."""
        return self.inv.coverage(**self.scope) if hasattr(self.inv, "coverage") else None

    @cached_property
    def flow_logs(self) -> bool | str:
        """Whether the investigation has flow logs (on Athena the Glue catalog is asked once), or
        why it could not be told (a role without glue:GetTable): the section says so."""
        try:
            return bool(getattr(self.inv, "has_flow_logs", False))
        except AuditToolkitError as e:
            return str(e)

    @cached_property
    def connections(self) -> pd.DataFrame | None:
        """Who came in through each window, from the VPC flow logs; None where there are none."""
        if self.flow_logs is not True or self.windows.empty:
            return None
        return self.inv.connections(**self.scope)

    @property
    def unknown_sessions(self) -> pd.DataFrame | None:
        """Sessions in the range through an open window from addresses that are neither its actor's
        nor known."""
        found = self.sessions
        if found is None:
            return None
        return found[found["known_as"].astype(object).fillna("") == ""]

    @property
    def sessions(self) -> pd.DataFrame | None:
        """The sessions whose flows fall in the range (first to last flow overlapping it), drawn on the
        exposure chart: a window open across --since brings along flows from before it, which the
        range does not report (the sources table still lists them, with their times)."""
        found = self.connections
        if found is None:
            return None
        found = found[found["verdict"] == "session"]
        first, last = (pd.to_datetime(found[c], utc=True) for c in ("first_seen", "last_seen"))
        inside = pd.Series(True, index=found.index)
        if self.start is not None:
            inside &= ~(last < self.start)
        if self.end is not None:
            inside &= ~(first > self.end)
        return found[inside]

    @property
    def findings_on_groups(self) -> pd.DataFrame | None:
        """The findings drawn on the exposure chart: those that hit a window, on that window's group."""
        return self.correlations

    @cached_property
    def integrity(self) -> IntegrityReport | None:
        """The digest chain's verdict on the evidence folder: the one validate_logs() gave, else
        validated now with the keys collect stored; None where there is no folder to validate."""
        inv = self.inv
        folder = inv.engine.name != "athena" and inv.evidence and Path(inv.evidence).is_dir()
        if inv.integrity is None and folder:
            try:
                inv.validate_logs()
            except AuditToolkitError:
                return None
        return inv.integrity

    def when(self, value) -> str:
        """A time as the reader reads it: in the display zone, with the zone's abbreviation."""
        if value is None or pd.isna(value):
            return ""
        return pd.Timestamp(value).tz_convert(self.zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    @property
    def language(self) -> str:
        return self.inv.settings.language

    @cached_property
    def words(self) -> dict[str, str]:
        return TEXT[self.language]  # Settings checked the language

    def say(self, key: str, **values) -> str:
        """The report's phrase `key` (phrases.TEXT `report.<key>`) in the settings' language; a
        count `n` of 1 takes the phrase's `.one` form where it has one."""
        return phrases.words(self.language, f"report.{key}", **values)

    def value(self, column: str | None, value: object) -> str:
        """A value of ours in words (an action, a severity, an outcome); any other value as it
        is."""
        return self.words.get(f"report.value.{column}.{value}", str(value))

    @property
    def ports(self) -> str:
        return ", ".join(map(str, self.inv.settings.watched_ports))

    def table(self, caption: str, frame: pd.DataFrame,
              columns: list[str] | dict[str, str]) -> Table:
        """`columns` are the frame's columns, each headed by the catalogue's `report.col.<column>`
        (`opened_at.since` picks the heading `report.col.opened_at.since` for `opened_at`); times
        become display-zone text and the toolkit's own values words. A dict maps a column to its
        heading as given."""
        headings = columns if isinstance(columns, dict) else {
            c: self.words[f"report.col.{c}"] for c in columns}
        names = [c.split(".")[0] for c in headings]
        rows = [[self.cell(row.get(c), c) for c in names]
                for row in frame.astype(object).to_dict("records")]
        return Table(caption, list(headings.values()), rows)

    def cell(self, value, column: str | None = None) -> str:
        if value is None or value is pd.NA or (not isinstance(value, str) and pd.isna(value)):
            return ""
        if isinstance(value, pd.Timestamp):
            return self.when(value)
        if isinstance(value, pd.Timedelta):
            return _duration(value, self.words)
        if column == "hours" and isinstance(value, (int, float, np.number)):  # a gap's length, as every duration
            return _duration(pd.Timedelta(hours=value), self.words)
        if isinstance(value, (bool, np.bool_)):
            return self.value("bool", bool(value))
        if column in IDENTITIES and isinstance(value, str):
            return self.identity(value)
        if column == "known_as":
            return say(connections.who(value), self.language, "flow") if value else ""
        return self.value(column, value) if column in WORDED else str(value)

    def identity(self, actor: str) -> str:
        """An actor in the one short form every report table uses (actors.short: `ops-admin / mallory`,
        `alice`, `carol@example.com (SSO)`), as the lead says it, with the toolkit's own words in it
        (via a service, root, role, federated, SSO) in the report's language. The full ARN is in the
        CSV and JSON of the commands."""
        head, via, service = actor.rpartition(" via ")
        if via and service.endswith("amazonaws.com"):
            return self.say("via", actor=self.identity(head), service=service)
        if m := _ROOT.fullmatch(actor):
            return self.say("root", account=m[1]) if m[1] else self.say("root_alone")
        if actor in ("AWS service", "unknown"):
            return self.words.get(f"report.value.actor.{actor}", actor)
        shown = actors.short(actor)
        for kind in ("role", "federated", "SSO"):
            if shown.endswith(f" ({kind})"):
                return shown[:-len(kind) - 3] + self.say(f"kind.{kind}")
        return shown


# Columns that hold an actor (actors.resolve's wording), shown by Audit.identity.
IDENTITIES = {"actor", "opened_by", "closed_by"}
_ROOT = re.compile(r"root(?: \((\d+)\))?")
# Columns whose values are the toolkit's own words (not the evidence's), shown in the report's
# language.
WORDED = {"action", "direction", "outcome", "severity", "close_reason", "opened_how", "kind",
          "status", "tool", "opened_tool", "verdict", "gap", "evidence"}


def _duration(value: pd.Timedelta, words: dict[str, str]) -> str:
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hm = words["report.hours_minutes"].format(h=rest // 60, m=rest % 60)
    return words["report.days_hours_minutes"].format(d=days, hm=hm) if days else hm


SEVERITY_ORDER = ("critical", "high", "medium", "low")  # counts lead with what needs action


def _counts(a: Audit, series: pd.Series, column: str | None = None) -> str:
    """`authorize 3, revoke 1`: each value (in words where it is one of ours) with its count, most
    first; severities in SEVERITY_ORDER (critical first, whatever its count)."""
    counted = series.value_counts()
    if column == "severity":
        rank = {s: n for n, s in enumerate(SEVERITY_ORDER)}
        counted = counted.sort_index(key=lambda i: i.map(lambda v: rank.get(str(v).lower(), len(rank))),
                                     kind="stable")
    counts = [a.say("count", what=a.value(column, k), n=v) for k, v in counted.items()]
    return a.say("sep").join(counts) or a.say("none")


# --- the sections -------------------------------------------------------------------------------


def _range(a: Audit) -> str:
    if a.start is None:
        return a.say("range_empty")
    first = a.when(a.start) if a.since is not None else a.say("range_first", when=a.when(a.start))
    last = a.say("range_until" if a.until is not None else "range_last", when=a.when(a.end))
    return a.say("range", first=first, last=last)


PROOF_ROWS = 500  # files not proven, listed in the report's first section


def _unproven(a: Audit) -> list[dict]:
    """Each file the digest chain did not prove, where a key checked some digest (without digests
    or keys the scope section says why nothing is proven, and a row per file would say it again)."""
    integrity = a.integrity
    if not integrity or not any(r.kind == "digest" and r.status != "no_key" for r in integrity.rows):
        return []
    return [r for r in integrity.table(a.language) if r["status"] != "valid"]


# Each reader's intake (Investigation's attribute) and the kind of evidence it read, as a table shows it.
INTAKES = {"intake": "CloudTrail", "findings_intake": "GuardDuty", "state_intake": "security-group state",
           "flow_intake": "VPC flow logs"}


def _intakes(inv: Investigation) -> list[tuple[str, IntakeReport]]:
    return [(kind, intake) for name, kind in INTAKES.items() if (intake := getattr(inv, name)) is not None]


def _evidence_gaps(a: Audit) -> str | None:
    """The lead's line on evidence that was not fully used: files that could not be read, records
    rejected (every reader: logs, findings, state, flow logs) and log files not proven; None if none."""
    files = [f for _, intake in _intakes(a.inv) for f in intake.files]
    counts = {"unreadable": sum(1 for f in files if f.error), "rejected": sum(f.rejected for f in files),
              "damaged": sum(1 for f in files if f.damaged and not f.error), "unproven": len(_unproven(a)),
              "conflicts": sum(len(getattr(intake, "conflicts", ())) for _, intake in _intakes(a.inv))}
    parts = [a.say(f"action.{key}", n=n) for key, n in counts.items() if n]
    # each may be a window's opening: named, not counted only (Athena reads no intake)
    if a.inv.intake is not None and (calls := a.inv.intake.unusable):
        parts.append(a.say("action.unusable", n=len(calls), calls="; ".join(in_language(c, a.language) for c in calls)))
    if a.inv.state_intake is not None and (rules := a.inv.state_intake.unusable):
        parts.append(a.say("action.unusable_state", n=len(rules),
                           rules="; ".join(in_language(r, a.language) for r in rules)))
    return a.say("action.evidence", counts=TEXT[a.language]["detail.sep"].join(parts)) if parts else None


def _problem_files(a: Audit) -> list[dict]:
    """Each file of any kind of evidence that could not be read, or had records rejected or warned
    about, with why in the report's language."""
    sep = a.say("list_sep")
    return [{"evidence": kind, "path": f.path, "read": f.read, "used": f.used, "rejected": f.rejected,
             "reason": in_language(f.error, a.language) if f.error else
             sep.join(in_language(r, a.language) for r in f.rejections + f.warnings
                      + ([f.damaged] if f.damaged and f.damaged not in f.warnings else []))}
            for kind, intake in _intakes(a.inv) for f in intake.problems]


def intake_summary(a: Audit) -> str:
    """The intake's counts: its own summary in English, the same counts in words for another
    language."""
    intake = a.inv.intake
    if a.language == "en":
        return intake.summary()
    said = a.say("intake", files=len(intake.files), read=intake.read, used=intake.used,
                 rejected=intake.rejected, bad=len(intake.bad_files), duplicates=intake.duplicates)
    if intake.conflicts:
        said += a.say("intake_conflicts", n=len(intake.conflicts))
    if intake.unusable:
        said += a.say("intake_unusable", n=len(intake.unusable))
    if intake.damaged:
        said += a.say("intake_damaged", n=len(intake.damaged))
    return said


def _source(inv: Investigation, a: Audit) -> str:
    """What the answers come from (Investigation.source), in words."""
    if inv.engine.name == "athena":
        return a.say("source.athena", database=(inv.evidence or "").removeprefix("athena:"))
    if inv.store:
        return a.say("source.store", path=inv.store)
    return a.say("source.evidence", path=inv.evidence)


def scope_section(a: Audit) -> Part:
    span, inv = a.span, a.inv
    facts = [
        _range(a),
        a.say("evidence", source=_source(inv, a), engine=inv.engine.name),
        a.say("events", events=f"{int(span['events'] or 0):,}", accounts=int(span["accounts"] or 0),
              regions=int(span["regions"] or 0), first=a.when(span["first_event"]),
              last=a.when(span["last_event"])) if int(span["events"] or 0) else a.say("events_none"),
    ]
    if a.account or a.region:
        anywhere = a.say("any")
        facts.append(a.say("only", account=a.account or anywhere, region=a.region or anywhere))
    if inv.intake is not None:
        facts.append(a.say("read", summary=intake_summary(a)))
    integrity = a.integrity
    if integrity:
        facts.append(a.say("proof", summary=integrity.summary(a.language)))
        facts += [a.say("not_checked", note=note) for note in integrity.notes(a.language)]
    else:
        facts.append(a.say("proof_unchecked"))
    part = Part(facts)
    bad = _unproven(a)
    if bad:
        shown = pd.DataFrame(bad[:PROOF_ROWS], columns=["status", "kind", "path", "reason"])
        caption = a.say("table.not_proven") + (
            a.say("first_of", shown=PROOF_ROWS, n=len(bad)) if len(bad) > PROOF_ROWS else "")
        part.tables.append(a.table(caption, shown, ["status", "kind", "path", "reason"]))
    if integrity and integrity.gaps:
        gaps = pd.DataFrame([{**vars(g), "hours": g.hours, "reason": said(g.why, a.language)}
                             for g in integrity.gaps])
        columns = ["account", "region", "trail", "start", "end", "hours", "reason"]
        part.tables.append(a.table(a.say("table.digest_gaps"), gaps, columns))
    problems = _problem_files(a)
    if problems:
        part.tables.append(a.table(a.say("table.bad_files"), pd.DataFrame(problems),
                                   ["evidence", "path", "read", "used", "rejected", "reason"]))
    if inv.intake is not None and inv.intake.skipped:
        paths = pd.DataFrame([(s.path, say(s.why, a.language, "skip")) for s in inv.intake.skipped],
                             columns=["path", "why"])
        part.tables.append(a.table(a.say("table.skipped"), paths, ["path", "why"]))
    return part


CHANGE_TABLE = ["event_time", "account", "region", "group_id", "action", "rule", "description",
                "actor", "source_ip", "tool", "user_agent", "error_code"]


def _rule(row: dict, a: Audit) -> str:
    """`ingress tcp/22 from 0.0.0.0/0`: a rule in one cell, from whichever parts the change names."""
    if row.get("protocol") == "-1":
        ports = a.say("all_traffic")
    elif row.get("protocol") is None or pd.isna(row.get("protocol")):
        ports = ""
    else:
        low, high = row.get("from_port"), row.get("to_port")
        ports = row["protocol"] + ("" if low is None or pd.isna(low) else f"/{port_span(row['protocol'], low, high)}")
    peer = row.get("peer") if isinstance(row.get("peer"), str) else ""
    direction = row.get("direction") if isinstance(row.get("direction"), str) else ""
    toward = a.say("rule_to" if direction == "egress" else "rule_from", peer=peer) if peer else ""
    way = a.value("direction", direction) if direction else ""
    return " ".join(p for p in (way, ports, toward) if p)


def _with_rules(frame: pd.DataFrame, a: Audit, group_names: bool = True) -> pd.DataFrame:
    rules = [_rule(r, a) for r in frame.astype(object).to_dict("records")]
    names = [f"{g} ({n})" if isinstance(n, str) and n else g for g, n in zip(frame["group_id"], frame["group_name"])]
    return frame.assign(rule=rules, group_id=names if group_names else frame["group_id"])


def changes_section(a: Audit) -> Part:
    changes = a.changes
    failed = changes["error_code"].notna().sum() if len(changes) else 0
    people = changes["actor"].nunique() if len(changes) else 0
    part = Part([a.say("changes", n=len(changes), actors=people, failed=failed)])
    if changes.empty:
        return part
    part.facts.append(a.say("by_action", counts=_counts(a, changes["action"], "action")))
    by_actor = _counts(a, changes["actor"].map(lambda w: a.identity(w) if isinstance(w, str) else ""))
    part.facts.append(a.say("by_actor", counts=by_actor))
    ax = charts.plot_changes(changes, settings=a.inv.settings)
    part.charts.append(Chart("changes", a.say("chart.changes"), charts.to_png(ax)))
    part.tables.append(a.table(a.say("table.changes"), _with_rules(changes, a), CHANGE_TABLE))
    return part


# A column's heading is the catalogue's `report.col.<column>`; `opened_at.since` picks another one.
WINDOW_TABLE = ["account", "region", "group_id", "rule", "opened_at", "opened_by", "opened_from_ip",
                "opened_tool", "closed_at", "closed_by", "close_reason", "duration", "state",
                "opened_how"]
EXPOSED_TABLE = ["account", "region", "group_id", "rule", "opened_at.since", "opened_how.known",
                 "opened_by"]
RECONCILE_TABLE = ["kind.disagreement", "account", "region", "group_id", "rule", "after", "before",
                   "coverage", "detail"]


def exposed_section(a: Audit) -> Part:
    """What is open to the internet at the end of the range, from state and logs together."""
    windows = a.windows
    still = windows[windows["still_open"]] if len(windows) else windows
    part = Part([a.say("exposed", n=len(still), ports=a.ports)])
    if len(still):
        unlogged = int(still["opened_how"].isin(["state", "config"]).sum())
        part.facts.append(a.say("exposed_unlogged", n=unlogged))
        shown = _with_rules(unlogged_actors(still, a.language).assign(peer=still["cidr"]), a)
        part.tables.append(a.table(a.say("section.exposed"), shown, EXPOSED_TABLE))
    return part


def reconcile_section(a: Audit) -> Part | None:
    """Disagreements of state and logs: each is a change the logs do not show."""
    found = a.disagreements
    if found is None:
        return None
    counts = a.say("colon", counts=_counts(a, found["kind"], "kind")) if len(found) else ""
    part = Part([a.say("disagreements", n=len(found)) + counts])
    if len(found):
        named = _with_rules(found, a).assign(
            coverage=[say(p, a.language, "state") for p in found["coverage_phrase"]],
            detail=[say(p, a.language, "state") for p in found["detail_phrase"]])
        part.tables.append(a.table(a.say("table.disagreements"), named, RECONCILE_TABLE))
    return part


def _open_for(windows: pd.DataFrame, a: Audit) -> pd.DataFrame:
    """`windows` with a still-open window's `duration` said as a lower bound: measured, as the CLI's
    duration is, to the earlier of the range's end and the evidence's (Investigation._end), and saying
    which; the evidence shows the window open until then, and cannot say for how much longer."""
    def bound(opened, held) -> str:
        end = opened + held
        at = "at.range" if a.until is not None and a.end is not None and end >= a.end else "at.evidence"
        return a.say("open_at_least", d=_duration(held, a.words), at=a.say(at), end=a.when(end))

    if not len(windows):
        return windows
    return windows.assign(duration=[
        bound(opened, held) if still and not pd.isna(opened) and not pd.isna(held) else held
        for still, opened, held in zip(windows["still_open"].astype(bool), windows["opened_at"], windows["duration"])])


def _state(window: dict, a: Audit) -> str:
    """A window's state in words, its uncertainties included."""
    words = [a.say("state.still_open" if window["still_open"] else "state.closed")]
    if window["open_before_evidence"]:
        words.append(a.say("state.before_evidence"))
    if window.get("reach") == "unknown":
        words.append(a.say("state.unknown_reach"))
    if window.get("ambiguous_order") is True:
        words.append(a.say("state.order"))
    return a.say("sep").join(words)


def exposure_section(a: Audit) -> Part:
    windows, failed = a.windows, a.failed
    still = int(windows["still_open"].sum()) if len(windows) else 0
    part = Part([a.say("windows", n=len(windows), ports=a.ports, still=still),
                 a.say("failed_openings", n=len(failed))])
    if len(windows):
        start, end = a.covered
        ax = charts.plot_exposure(windows, changes=a.changes, findings=a.findings_on_groups, start=start, end=end,
                                  settings=a.inv.settings, sessions=a.sessions, uncovered=a.uncovered)
        caption = a.say("chart.exposure", ports=a.ports)
        part.charts.append(Chart("exposure", caption, charts.to_png(ax)))
        shown = _with_rules(unlogged_actors(_open_for(windows, a), a.language).assign(peer=windows["cidr"]), a)
        shown = shown.assign(state=[_state(w, a) for w in records(windows)])
        part.tables.append(a.table(a.say("table.windows"), shown, WINDOW_TABLE))
    if len(failed):
        part.tables.append(a.table(a.say("table.failed"), _with_rules(failed, a),
                                   [c for c in CHANGE_TABLE if c != "description"]))
    return part


FINDING_TABLE = ["first_seen", "last_seen", "rating", "type", "title", "account", "region",
                 "instance_id", "security_group_ids", "origin", "local_port", "count"]


def _findings_shown(found: pd.DataFrame, a: Audit) -> pd.DataFrame:
    """Severity with its band, and the attacker with where it is, each in one cell."""
    rating = [f"{s:.1f} {a.value('severity', b)}" if pd.notna(s) else ""
              for s, b in zip(found["severity"], found["severity_label"].fillna(""))]
    origin = [" ".join(p for p in (ip if isinstance(ip, str) else "", f"({', '.join(w for w in (c, o) if isinstance(w, str) and w)})"
                                   if any(isinstance(w, str) and w for w in (c, o)) else "") if p)
              for ip, c, o in zip(found["remote_ip"], found["remote_country"], found["remote_org"])]
    # A sample finding (GuardDuty's CreateSampleFindings) is no attack: said so where its title is read.
    title = [a.say("sample", title=t) if s is True else t
             for t, s in zip(found["title"], found["sample"].astype(object))]
    return found.assign(rating=rating, origin=origin, title=title)


CORRELATION_TABLE = ["group_id", "cidr", "finding_type", "severity", "remote_ip", "local_port",
                     "overlap_start", "overlap_end", "summary"]


def findings_section(a: Audit) -> Part | None:
    found = a.findings
    if found is None:
        return None
    counts = ""
    if len(found):
        counts = a.say("colon", counts=_counts(a, found["severity_label"], "severity"))
    part = Part([a.say("findings", n=len(found)) + counts])
    if found.empty:
        return part
    tied = a.correlations
    part.facts.append(a.say("findings_tied", n=0 if tied is None else len(tied)))
    part.facts.append(a.say("by_type", counts=_counts(a, found["type"])))
    part.charts.append(Chart("findings", a.say("chart.findings"),
                             charts.to_png(charts.plot_findings(found, settings=a.inv.settings))))
    if tied is not None and len(tied):
        part.tables.append(a.table(a.say("table.tied"), tied, CORRELATION_TABLE))
    part.tables.append(a.table(a.say("table.findings"), _findings_shown(found, a), FINDING_TABLE))
    return part


SOURCE_TABLE = ["group_id", "cidr", "opened_at", "source", "verdict", "known_as", "finding_ids",
                "first_seen", "last_seen", "accepted", "rejected.flows", "bytes_in", "bytes_out",
                "before_rejected", "after_accepted", "after_rejected", "interfaces"]
GAP_TABLE = ["group_id", "cidr", "opened_at", "gap", "first_seen.from", "last_seen.to",
             "detail.gap"]


def connections_section(a: Audit) -> Part | None:
    """What came in through each window: sessions from nobody known first, then every source, then
    the places where the flow logs are silent (a gap is never 'nobody came in')."""
    found = a.connections
    if found is None:  # on Athena, say why: a database set up without --flow-logs
        athena = a.inv.engine.name == "athena" and not a.windows.empty
        if not athena:
            return None
        database, why = a.inv.engine.settings.database, a.flow_logs
        return Part([a.say("conn.no_table", database=database) if why is False
                     else a.say("conn.table_unknown", database=database, why=why)])
    sources, gaps = found[found["kind"] == "source"], found[found["kind"] == "gap"]
    unknown = a.unknown_sessions
    verdicts = _counts(a, sources["verdict"], "verdict")
    reached = (a.say("conn.reached", n=len(sources), verdicts=verdicts) if len(sources)
               else a.say("conn.none"))
    part = Part([a.say("conn.unknown", n=len(unknown)), reached, a.say("conn.gaps", n=len(gaps))])
    if len(unknown):
        part.tables.append(a.table(a.say("table.sessions"), unknown, SOURCE_TABLE))
    if len(sources):
        part.tables.append(a.table(a.say("table.sources"), sources, SOURCE_TABLE))
    if len(gaps):
        zone = a.inv.settings.display_tz
        shown = gaps.assign(detail=[connections.describe(g, a.language, zone)
                                    for g in records(gaps)])
        part.tables.append(a.table(a.say("table.gaps"), shown, GAP_TABLE))
    return part


DETECTION_TABLE = ["event_time", "account", "region", "event_name", "outcome", "target", "detail",
                   "actor", "source_ip"]


def detections_section(a: Audit) -> Part | None:
    """One sub-section per detection with hits, most severe first (catalogue order within a severity)."""
    if a.hits is None:
        return None
    from .analysis.detections import CATALOGUE, SEVERITIES, detail_text

    hits = a.hits
    counts = a.say("colon", counts=_counts(a, hits["severity"], "severity")) if len(hits) else ""
    part = Part([a.say("hits", n=len(hits)) + counts])
    shown = hits.assign(detail=[detail_text(h, a.language) for h in records(hits)])
    for d in sorted((d for d in CATALOGUE if d.id in set(hits["detection"])), key=lambda d: -SEVERITIES.index(d.severity)):
        found = shown[shown["detection"] == d.id]
        attempts = int((found["outcome"] == "attempt").sum())
        part.subsections.append((a.say("detection_title", title=d.title(a.language)), Part(
            [a.say("detection", id=d.id, severity=a.value("severity", d.severity),
                   technique=d.technique),
             a.say("detection_hits", n=len(found), attempts=a.say("detection_attempts", n=attempts))],
            tables=[a.table(a.say("table.hits"), found, DETECTION_TABLE)])))
    return part


COVERAGE_TABLE = ["kind", "account", "region", "start", "end", "hours", "ongoing", "trail",
                  "actor.by"]


def coverage_section(a: Audit) -> Part | None:
    """Where the evidence is silent, beside the tampering hits: a gap in the logs is evidence too."""
    if a.gaps is None:
        return None
    found = a.gaps
    silent, off = found[found["kind"] == "no_events"], found[found["kind"] != "no_events"]
    ongoing = a.say("ongoing", n=int(off["ongoing"].sum())) if len(off) else ""
    part = Part([a.say("silent_runs", n=len(silent), hours=f"{silent['hours'].sum():g}"),
                 a.say("outages", n=len(off)) + ongoing])
    if len(found):
        part.tables.append(a.table(a.say("table.coverage"), found, COVERAGE_TABLE))
    return part


OPEN_TABLE = ["account", "region", "group_id", "rule", "opened_at.since", "opened_by", "opened_from_ip",
              "duration"]
URGENT_TABLE = ["event_time", "severity", "title.detection", "account", "target", "actor",
                "outcome"]


def actions_section(a: Audit) -> Part:
    """What needs action, before everything else: windows still open, attacks that came through a window
    while it was open, critical and high detections, and where the evidence is silent."""
    windows = a.windows[a.windows["still_open"].astype(bool)] if len(a.windows) else a.windows
    tied = a.correlations if a.correlations is not None else pd.DataFrame()
    sessions = a.unknown_sessions
    hits = a.hits if a.hits is not None else pd.DataFrame(columns=["severity"])
    urgent = hits[hits["severity"].isin(["critical", "high"])]
    if len(urgent):
        from .analysis.detections import BY_ID

        urgent = urgent.assign(title=[BY_ID[d].title(a.language) if d in BY_ID else t
                                      for d, t in zip(urgent["detection"], urgent["title"])])
    gaps = a.gaps if a.gaps is not None else pd.DataFrame(columns=["kind", "ongoing"])
    outages = gaps[gaps["kind"] != "no_events"]
    open_now = a.say("list_sep").join(
        a.say("open_window", group=g, since=a.when(t) or a.say("before_evidence"),
              who=(actors.short(w) if isinstance(w, str) else None) or a.say("no_logged_call"))
        for g, t, w in zip(windows["group_id"], windows["opened_at"], windows["opened_by"]))
    ongoing = a.say("ongoing", n=int(outages["ongoing"].sum())) if len(outages) else ""
    part = Part([
        a.say("action.open", n=len(windows), ports=a.ports)
        + (a.say("colon", counts=open_now) if open_now else ""),
        a.say("action.tied", n=len(tied)),
        *([] if sessions is None else [a.say("action.sessions", n=len(sessions))]),
        a.say("action.urgent", n=len(urgent)),
        a.say("action.outages", n=len(outages)) + ongoing
        + a.say("action.silent", n=int((gaps["kind"] == "no_events").sum())),
    ])
    # A gap in what was read is one too: an unreadable or unproven file may hold the event that matters.
    if (unused := _evidence_gaps(a)) is not None:
        part.facts.append(unused)
    if a.start is not None and a.span["first_event"] is not None and not pd.isna(a.span["first_event"]):
        first, last = pd.Timestamp(a.span["first_event"]), pd.Timestamp(a.span["last_event"])
        if first - a.start > pd.Timedelta(hours=1) or (a.end is not None and a.end - last > pd.Timedelta(hours=1)):
            part.facts.insert(0, a.say("covers_only", first=a.when(first), last=a.when(last)))
    elif a.since is not None or a.until is not None:  # first: every other line is of nothing read
        part.facts.insert(0, a.say("covers_nothing"))
    if len(windows):
        shown = _with_rules(unlogged_actors(_open_for(windows, a), a.language).assign(peer=windows["cidr"]), a)
        part.tables.append(a.table(a.say("table.open"), shown, OPEN_TABLE))
    if len(tied):
        part.tables.append(a.table(a.say("table.attacks"), tied, CORRELATION_TABLE))
    if sessions is not None and len(sessions):
        part.tables.append(a.table(a.say("table.sessions"), sessions, SOURCE_TABLE))
    if len(urgent):
        part.tables.append(a.table(a.say("table.urgent"), urgent, URGENT_TABLE))
    if len(outages):
        part.tables.append(a.table(a.say("table.outages"), outages, COVERAGE_TABLE))
    return part


# Features add their sections here; a section whose data the investigation cannot give returns None.
# Its title is shown in the language of the settings where the catalogue has `report.section.<id>`.
SECTIONS: list[Section] = [
    Section("actions", "What needs action", actions_section),
    Section("exposed", "Exposed at the end of the range", exposed_section),
    Section("scope", "Time range and evidence", scope_section),
    Section("changes", "Security-group changes", changes_section),
    Section("exposure", "Exposure windows", exposure_section),
    Section("findings", "GuardDuty findings", findings_section),
    Section("connections", "What came in through each window", connections_section),
    Section("detections", "Detections", detections_section),
    Section("coverage", "Coverage of the evidence", coverage_section),
    Section("reconcile", "Security-group state and logs", reconcile_section),
]


# --- the evidence appendix ------------------------------------------------------------------------


def evidence_files(inv: Investigation, integrity: IntegrityReport | None = None) -> list[dict]:
    """The input files with the size and SHA-256 of the bytes that were read (by the scan, or at
    ingest), and whether the digest chain proves each AWS-delivered and unaltered."""
    read = [f for _, intake in _intakes(inv) for f in intake.files]
    verdicts = {r.path: r for r in integrity.rows if r.kind == "log"} if integrity else {}
    words = TEXT[inv.settings.language]
    return [{"path": f.path, "size": f.size,
             "sha256": f.sha256 or words["report.not_read"].format(error=in_language(f.error, inv.settings.language)),
             "proven": _proven(verdicts.get(_relative(f.path, inv.evidence)), words,
                               inv.settings.language)}
            for f in sorted(read, key=lambda f: f.path)]


def _relative(path: str, folder: str | None) -> str:
    try:
        return Path(path).relative_to(folder or "").as_posix()
    except ValueError:
        return path


def _proven(row, words: dict[str, str], language: str) -> str:
    if row is None:  # no validation, not in the S3 layout's CloudTrail/ folders, or out of range
        return words["report.proven_unchecked"]
    if row.status == "valid":
        return words["report.proven_yes"]
    return words["report.proven_no"].format(status=row.status, reason=said(row.why, language))


def inputs_line(inv: Investigation, files: list[dict]) -> str:
    """The appendix's line on the input files: how many were hashed, or why none are listed."""
    words = TEXT[inv.settings.language]
    if inv.engine.name == "athena":  # the logs stay in S3: nothing passed through this machine to hash
        return words["report.inputs_in_s3"].format(source=inv.source)
    return phrases.words(inv.settings.language, "report.inputs_hashed", n=len(files))


def queries_run(inv: Investigation) -> list[dict]:
    """Each distinct query the report ran: name, engine and version, its Athena SQL text (the canonical
    text, whichever engine ran it: `audit-toolkit sql NAME` prints it bound), and every set of parameters."""
    engine_version = getattr(inv.engine, "version", None) or "(the workgroup's engine version)"
    by_text: dict[tuple, dict] = {}
    for entry in inv.log:
        key = (entry["query"], entry["engine"], entry["athena_sql"])
        item = by_text.setdefault(key, {"query": entry["query"], "engine": f"{entry['engine']} {engine_version}",
                                        "sql": entry["athena_sql"], "params": []})
        params = ", ".join(f"{k}={v!r}" for k, v in entry["params"].items())
        if params not in item["params"]:
            item["params"].append(params)
    return list(by_text.values())


# --- rendering ------------------------------------------------------------------------------------

# Enough inline: no link, image, HTML, emphasis, math ($ on GitHub) or cell break.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|!~&$@])")
_MD_AUTOLINK = re.compile(r":(?=//)|(?<=www)\.", re.IGNORECASE)  # GitHub links bare URLs: break them


def md(value: object) -> str:
    """Evidence text made inert in Markdown, inline: one line, control and bidi characters as
    escapes, markup characters backslash-escaped."""
    text = _MD_SPECIAL.sub(r"\\\1", visible(" ".join(str(value).split())))
    return _MD_AUTOLINK.sub(lambda m: "\\" + m.group(), text)


def md_code(value: object) -> str:
    """Text as an inline Markdown code span that no backtick in it can close (CommonMark: the
    fence is one backtick longer than the longest run inside); `|` escaped, as GFM tables need."""
    text = visible(" ".join(str(value).split())).replace("|", "\\|")
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@jinja2.pass_eval_context
def _shown(context: jinja2.nodes.EvalContext, value: object) -> object:
    """Every value the HTML prints: text with its control and bidi characters as escapes (markup
    already made, a macro's output, is left whole; the Markdown escapes with its `md` filter)."""
    if context.autoescape and isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return visible(value)
    return value


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("audit_toolkit", "templates"),
                             autoescape=jinja2.select_autoescape(["html.j2"]), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             finalize=_shown)
    env.filters["md"] = md
    env.filters["md_code"] = md_code
    return env


@dataclass
class Report:
    title: str
    generated: str
    parts: list[tuple[Section, Part]]
    files: list[dict]
    queries: list[dict]
    inputs: str = ""  # the appendix's line on the input files (inputs_line)
    words: dict[str, str] = field(default_factory=dict)  # the templates' fixed text (report.page.*)
    html: Path | None = None
    markdown: Path | None = None

    @property
    def charts(self) -> list[Chart]:
        return [c for _, p in self.parts for c in p.charts]


def build(inv: Investigation, since: When = None, until: When = None, account: str | None = None,
          region: str | None = None, sections: list[Section] | None = None) -> Report:
    """Run every section on the scope; nothing is written."""
    audit = Audit(inv, since, until, account, region)
    parts = []
    for section in SECTIONS if sections is None else sections:
        part = section.build(audit)
        if part is not None:
            title = audit.words.get(f"report.section.{section.id}", section.title)
            parts.append((replace(section, title=title), part))
    title = audit.say("title", start=audit.when(audit.start)[:10], end=audit.when(audit.end)[:10]) \
        if audit.start is not None else audit.say("title_empty")
    now = datetime.now(timezone.utc).astimezone(audit.zone)
    generated = audit.say("generated", when=f"{now:%Y-%m-%d %H:%M %Z}", version=version("audit_toolkit"))
    files = evidence_files(inv, audit.integrity)
    words = {k.removeprefix("report.page."): v for k, v in audit.words.items()
             if k.startswith("report.page.")}
    return Report(title, generated, parts, files, queries_run(inv), inputs_line(inv, files), words)


def prepare(out: Path) -> Path:
    """Make out/ and out/charts/ (returned); OutputError, with the path and why, if they cannot be.
    The CLI calls it before reading any evidence, so a bad --out fails at once."""
    charts_dir = out / "charts"
    if charts_dir.is_symlink():  # followed, the charts would be written wherever it points
        raise OutputError(f"cannot write the report's charts: {charts_dir} is a symbolic link; the "
                          "report writes only into folders under --out")
    try:
        charts_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError as e:
        raise OutputError(f"cannot write the report's charts: {e.filename} exists and is not a "
                          "folder") from e
    except OSError as e:
        raise OutputError(f"cannot make the report folder {out}: {e.strerror or e}") from e
    return charts_dir


def write_report(inv: Investigation, out: str | Path, since: When = None, until: When = None, account: str | None = None,
                 region: str | None = None, sections: list[Section] | None = None) -> Report:
    """Write out/report.html (self-contained), out/report.md and out/charts/*.png; return them.

    Each file goes through a temporary name (paths.write_atomic); a folder that cannot be made or
    written raises OutputError, with the path and the reason.
    """
    out = Path(out)
    charts_dir = prepare(out)
    report = build(inv, since, until, account, region, sections)
    for chart in report.charts:
        write_atomic(charts_dir / f"{chart.name}.png", chart.png)
    env = _templates()
    report.html = out / "report.html"
    report.markdown = out / "report.md"
    write_atomic(report.html, env.get_template("report.html.j2").render(r=report).encode("utf-8"))
    write_atomic(report.markdown, env.get_template("report.md.j2").render(r=report).encode("utf-8"))
    return report


__all__ = ["SECTIONS", "Section", "Part", "Chart", "Table", "Audit", "Report", "build", "prepare",
           "write_report", "md"]
