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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import jinja2
import markupsafe
import pandas as pd

from . import charts, export, queries
from .analysis import actors
from .analysis.events import records
from .errors import AuditToolkitError, OutputError
from .evidence.digest_chain import IntegrityReport
from .export import visible
from .investigation import Investigation, When
from .paths import write_atomic


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
    def connections(self) -> pd.DataFrame | None:
        """Who came in through each window, from the VPC flow logs; None where there are none."""
        if not getattr(self.inv, "has_flow_logs", False) or self.windows.empty:
            return None
        return self.inv.connections(**self.scope)

    @property
    def unknown_sessions(self) -> pd.DataFrame | None:
        """Sessions through an open window from addresses that are neither its actor's nor known."""
        found = self.connections
        if found is None:
            return None
        return found[(found["verdict"] == "session") & (found["known_as"].fillna("") == "")]

    @property
    def sessions(self) -> pd.DataFrame | None:
        """The sessions drawn on the exposure chart."""
        found = self.connections
        return None if found is None else found[found["verdict"] == "session"]

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

    def table(self, caption: str, frame: pd.DataFrame, columns: dict[str, str]) -> Table:
        """`columns` maps a frame column to its heading; times become display-zone text."""
        rows = [[self.cell(row.get(c)) for c in columns] for row in frame.astype(object).to_dict("records")]
        return Table(caption, list(columns.values()), rows)

    def cell(self, value) -> str:
        if value is None or value is pd.NA or (not isinstance(value, str) and pd.isna(value)):
            return ""
        if isinstance(value, pd.Timestamp):
            return self.when(value)
        if isinstance(value, pd.Timedelta):
            return _duration(value)
        return str(value)


def _duration(value: pd.Timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    return (f"{days}d " if days else "") + f"{rest // 60}h {rest % 60:02d}m"


def _counts(series: pd.Series) -> str:
    return ", ".join(f"{k} {v}" for k, v in series.value_counts().items()) or "none"


# --- the sections -------------------------------------------------------------------------------


def _range(a: Audit) -> str:
    if a.start is None:
        return "Time range: the whole evidence (it holds no events)"
    first = a.when(a.start) + ("" if a.since is not None else " (the first event)")
    last = f"{a.when(a.end)} (end exclusive)" if a.until is not None else f"{a.when(a.end)} (the last event, included)"
    return f"Time range: {first} to {last}"


PROOF_ROWS = 500  # files not proven, listed in the report's first section


def scope_section(a: Audit) -> Part:
    span, inv = a.span, a.inv
    facts = [
        _range(a),
        f"Evidence: {inv.source} on {inv.engine.name}",
        f"Events in range: {int(span['events'] or 0):,} in {int(span['accounts'] or 0)} accounts and {int(span['regions'] or 0)} regions; "
        f"first {a.when(span['first_event'])}, last {a.when(span['last_event'])}",
    ]
    if a.account or a.region:
        facts.append(f"Only account {a.account or 'any'}, region {a.region or 'any'}")
    if inv.intake is not None:
        facts.append(f"Read: {inv.intake.summary()}")
    integrity = a.integrity
    facts.append(
        f"Proof of origin (CloudTrail's signed digests): {integrity.summary()}" if integrity
        else "Proof of origin: not checked (no evidence folder to validate against "
             "CloudTrail's digests)")
    facts += [f"Not checked: {note}" for note in (integrity.unchecked if integrity else [])]
    part = Part(facts)
    # Each file that failed, where a key checked some digest (without digests or keys, the lines
    # above say why nothing is proven, and a row per file would say it again).
    if integrity and any(r.kind == "digest" and r.status != "no_key" for r in integrity.rows):
        bad = [r for r in integrity.table() if r["status"] != "valid"]
        if bad:
            shown = pd.DataFrame(bad[:PROOF_ROWS], columns=["status", "kind", "path", "reason"])
            caption = "Evidence not proven AWS-delivered and unaltered" + (
                f" (the first {PROOF_ROWS} of {len(bad)})" if len(bad) > PROOF_ROWS else "")
            columns = {"status": "status", "kind": "kind", "path": "file", "reason": "why"}
            part.tables.append(a.table(caption, shown, columns))
    if integrity and integrity.gaps:
        gaps = pd.DataFrame([{**vars(g), "hours": g.hours} for g in integrity.gaps])
        columns = {"account": "account", "region": "region", "trail": "trail", "start": "from",
                   "end": "to", "hours": "hours", "reason": "why"}
        part.tables.append(a.table("Hours no valid digest covers", gaps, columns))
    if inv.intake is not None and inv.intake.problems:
        problems = [{"path": f.path, "read": f.read, "used": f.used, "rejected": f.rejected,
                     "reason": f.error or "; ".join(f.rejections + f.warnings)} for f in inv.intake.problems]
        part.tables.append(a.table("Evidence files with records that could not be used", pd.DataFrame(problems),
                                   {"path": "file", "read": "read", "used": "used", "rejected": "rejected", "reason": "reason"}))
    if inv.intake is not None and inv.intake.skipped:
        paths = pd.DataFrame([s.rsplit(": ", 1) for s in inv.intake.skipped],
                             columns=["path", "why"])
        part.tables.append(a.table("Paths under the evidence that were not read", paths,
                                   {"path": "path", "why": "why"}))
    return part


CHANGE_TABLE = {"event_time": "time", "account": "account", "region": "region", "group_id": "group", "action": "action",
                "rule": "rule", "description": "description", "actor": "actor", "source_ip": "source IP", "tool": "tool",
                "user_agent": "user agent", "error_code": "error"}


def _rule(row: dict) -> str:
    """`ingress tcp/22 from 0.0.0.0/0`: a rule in one cell, from whichever parts the change names."""
    if row.get("protocol") == "-1":
        ports = "all traffic"
    elif row.get("protocol") is None or pd.isna(row.get("protocol")):
        ports = ""
    else:
        low, high = row.get("from_port"), row.get("to_port")
        ports = row["protocol"] + ("" if low is None or pd.isna(low) else f"/{low}" if low == high else f"/{low}-{high}")
    peer = row.get("peer") if isinstance(row.get("peer"), str) else ""
    direction = row.get("direction") if isinstance(row.get("direction"), str) else ""
    return " ".join(p for p in (direction, ports, f"{'from' if direction != 'egress' else 'to'} {peer}" if peer else "") if p)


def _with_rules(frame: pd.DataFrame, group_names: bool = True) -> pd.DataFrame:
    rules = [_rule(r) for r in frame.astype(object).to_dict("records")]
    names = [f"{g} ({n})" if isinstance(n, str) and n else g for g, n in zip(frame["group_id"], frame["group_name"])]
    return frame.assign(rule=rules, group_id=names if group_names else frame["group_id"])


def changes_section(a: Audit) -> Part:
    changes = a.changes
    failed = changes["error_code"].notna().sum() if len(changes) else 0
    part = Part([f"{len(changes)} security-group rule changes by {changes['actor'].nunique() if len(changes) else 0} actors, "
                 f"{failed} of them failed calls"])
    if changes.empty:
        return part
    part.facts.append(f"By action: {_counts(changes['action'])}")
    part.facts.append(f"By actor: {_counts(changes['actor'].map(charts.short_actor))}")
    part.charts.append(Chart("changes", "Security-group changes over time, by actor", charts.to_png(charts.plot_changes(changes, settings=a.inv.settings))))
    part.tables.append(a.table("Every security-group rule change", _with_rules(changes), CHANGE_TABLE))
    return part


WINDOW_TABLE = {"account": "account", "region": "region", "group_id": "group", "rule": "rule", "opened_at": "opened", "opened_by": "opened by", "opened_from_ip": "from IP",
                "opened_tool": "tool", "closed_at": "closed", "closed_by": "closed by", "close_reason": "how",
                "duration": "open for", "state": "state", "opened_how": "opening known from"}
EXPOSED_TABLE = {"account": "account", "region": "region", "group_id": "group", "rule": "rule",
                 "opened_at": "open since", "opened_how": "known from", "opened_by": "opened by"}
RECONCILE_TABLE = {"kind": "disagreement", "account": "account", "region": "region",
                   "group_id": "group", "rule": "rule", "after": "after", "before": "before",
                   "coverage": "coverage", "detail": "detail"}


def exposed_section(a: Audit) -> Part:
    """What is open to the internet at the end of the range, from state and logs together."""
    windows = a.windows
    still = windows[windows["still_open"]] if len(windows) else windows
    ports = ", ".join(map(str, a.inv.settings.watched_ports))
    part = Part([f"{len(still)} rules expose port {ports} to the internet at the end of the range"])
    if len(still):
        unlogged = int(still["opened_how"].isin(["state", "config"]).sum())
        part.facts.append(f"{unlogged} of them were opened by no logged call: "
                          "known from AWS Config or EC2 state")
        shown = _with_rules(still.assign(peer=still["cidr"]))
        part.tables.append(a.table("Exposed at the end of the range", shown, EXPOSED_TABLE))
    return part


def reconcile_section(a: Audit) -> Part | None:
    """Disagreements of state and logs: each is a change the logs do not show."""
    found = a.disagreements
    if found is None:
        return None
    part = Part([f"{len(found)} disagreements between security-group state and the logs" +
                 (f": {_counts(found['kind'])}" if len(found) else "")])
    if len(found):
        named = found.assign(group_id=_with_rules(found.assign(peer=None))["group_id"])
        part.tables.append(a.table("Where state and logs disagree", named, RECONCILE_TABLE))
    return part


def _state(window: dict) -> str:
    """A window's state in words, its uncertainties included."""
    words = ["still open" if window["still_open"] else "closed"]
    if window["open_before_evidence"]:
        words.append("open before the evidence")
    if window.get("reach") == "unknown":
        words.append("prefix list of unknown reach")
    if window.get("ambiguous_order") is True:
        words.append("order within one second unproven, kept open")
    return ", ".join(words)


def exposure_section(a: Audit) -> Part:
    windows, failed = a.windows, a.failed
    ports = ", ".join(map(str, a.inv.settings.watched_ports))
    still = int(windows["still_open"].sum()) if len(windows) else 0
    part = Part([f"{len(windows)} windows in which port {ports} stood open to the internet; {still} still open at the end of the range",
                 f"{len(failed)} failed attempts to open a watched port to the internet"])
    if len(windows):
        start, end = a.covered
        ax = charts.plot_exposure(windows, changes=a.changes, findings=a.findings_on_groups, start=start, end=end,
                                  settings=a.inv.settings, sessions=a.sessions)
        part.charts.append(Chart("exposure", f"Exposure windows of port {ports} to the internet", charts.to_png(ax)))
        shown = _with_rules(windows.assign(peer=windows["cidr"]))
        shown = shown.assign(state=[_state(w) for w in records(windows)])
        part.tables.append(a.table("Every exposure window", shown, WINDOW_TABLE))
    if len(failed):
        part.tables.append(a.table("Failed attempts", _with_rules(failed), {k: v for k, v in CHANGE_TABLE.items() if k != "description"}))
    return part


FINDING_TABLE = {"first_seen": "first seen", "last_seen": "last seen", "rating": "severity", "type": "type", "title": "title",
                 "account": "account", "region": "region", "instance_id": "instance", "security_group_ids": "groups",
                 "origin": "from", "local_port": "port", "count": "count"}


def _findings_shown(found: pd.DataFrame) -> pd.DataFrame:
    """Severity with its band, and the attacker with where it is, each in one cell."""
    rating = [f"{s:.1f} {b}" if pd.notna(s) else "" for s, b in zip(found["severity"], found["severity_label"].fillna(""))]
    origin = [" ".join(p for p in (ip if isinstance(ip, str) else "", f"({', '.join(w for w in (c, o) if isinstance(w, str) and w)})"
                                   if any(isinstance(w, str) and w for w in (c, o)) else "") if p)
              for ip, c, o in zip(found["remote_ip"], found["remote_country"], found["remote_org"])]
    # A sample finding (GuardDuty's CreateSampleFindings) is no attack: said so where its title is read.
    title = [f"SAMPLE: {t}" if s is True else t for t, s in zip(found["title"], found["sample"].astype(object))]
    return found.assign(rating=rating, origin=origin, title=title)


CORRELATION_TABLE = {"group_id": "group", "cidr": "CIDR", "finding_type": "finding", "severity": "severity",
                     "remote_ip": "remote IP", "local_port": "port", "overlap_start": "from", "overlap_end": "to",
                     "summary": "what happened"}


def findings_section(a: Audit) -> Part | None:
    found = a.findings
    if found is None:
        return None
    part = Part([f"{len(found)} GuardDuty findings active in the range" +
                 (f": {_counts(found['severity_label'])}" if len(found) else "")])
    if found.empty:
        return part
    tied = a.correlations
    part.facts.append(f"{0 if tied is None else len(tied)} of them attacked an exposure window while it was open")
    part.facts.append(f"By type: {_counts(found['type'])}")
    part.charts.append(Chart("findings", "GuardDuty findings per day, by severity band",
                             charts.to_png(charts.plot_findings(found, settings=a.inv.settings))))
    if tied is not None and len(tied):
        part.tables.append(a.table("Findings that attacked an exposure window while it was open", tied, CORRELATION_TABLE))
    part.tables.append(a.table("Every finding, most severe first", _findings_shown(found), FINDING_TABLE))
    return part


SOURCE_TABLE = {"group_id": "group", "cidr": "CIDR", "opened_at": "opened", "source": "source",
                "verdict": "verdict", "known_as": "known as", "finding_ids": "GuardDuty findings",
                "first_seen": "first seen", "last_seen": "last seen", "accepted": "accepted",
                "rejected": "rejected", "bytes_in": "bytes in", "bytes_out": "bytes out",
                "before_rejected": "rejected before", "after_accepted": "accepted after",
                "after_rejected": "rejected after", "interfaces": "interfaces"}
GAP_TABLE = {"group_id": "group", "cidr": "CIDR", "opened_at": "opened", "gap": "gap",
             "first_seen": "from", "last_seen": "to", "detail": "what the flow logs cannot say"}


def connections_section(a: Audit) -> Part | None:
    """What came in through each window: sessions from nobody known first, then every source, then
    the places where the flow logs are silent (a gap is never 'nobody came in')."""
    found = a.connections
    if found is None:
        return None
    sources, gaps = found[found["kind"] == "source"], found[found["kind"] == "gap"]
    unknown = a.unknown_sessions
    reached = (f"{len(sources)} public sources reached an open window: {_counts(sources['verdict'])}"
               if len(sources) else "no public source reached an open window where the flow logs recorded")
    part = Part([f"{len(unknown)} sessions from addresses that are neither the window's actor nor a "
                 "known network", reached,
                 f"{len(gaps)} coverage gaps: where the flow logs cannot say who came in"])
    if len(unknown):
        part.tables.append(a.table("Sessions from addresses nobody knows", unknown, SOURCE_TABLE))
    if len(sources):
        part.tables.append(a.table("Every source, by window", sources, SOURCE_TABLE))
    if len(gaps):
        part.tables.append(a.table("Coverage gaps", gaps, GAP_TABLE))
    return part


DETECTION_TABLE = {"event_time": "time", "account": "account", "region": "region", "event_name": "event", "outcome": "outcome",
                   "target": "target", "detail": "detail", "actor": "actor", "source_ip": "source IP"}


def detections_section(a: Audit) -> Part | None:
    """One sub-section per detection with hits, most severe first (catalogue order within a severity)."""
    if a.hits is None:
        return None
    from .analysis.detections import CATALOGUE, SEVERITIES

    hits = a.hits
    part = Part([f"{len(hits)} detection hits" + (f": {_counts(hits['severity'])}" if len(hits) else "")])
    for d in sorted((d for d in CATALOGUE if d.id in set(hits["detection"])), key=lambda d: -SEVERITIES.index(d.severity)):
        found = hits[hits["detection"] == d.id]
        attempts = int((found["outcome"] == "attempt").sum())
        part.subsections.append((f"{d.title_en} / {d.title_ja}", Part(
            [f"{d.id}: severity {d.severity}, MITRE ATT&CK {d.technique}", f"{len(found)} hits, {attempts} of them attempts"],
            tables=[a.table("Hits", found, DETECTION_TABLE)])))
    return part


COVERAGE_TABLE = {"kind": "kind", "account": "account", "region": "region", "start": "from", "end": "to", "hours": "hours",
                  "ongoing": "ongoing", "trail": "trail", "actor": "by"}


def coverage_section(a: Audit) -> Part | None:
    """Where the evidence is silent, beside the tampering hits: a gap in the logs is evidence too."""
    if a.gaps is None:
        return None
    found = a.gaps
    silent, off = found[found["kind"] == "no_events"], found[found["kind"] != "no_events"]
    part = Part([f"{len(silent)} runs of hours with no event ({silent['hours'].sum():g} hours in all)",
                 f"{len(off)} logging outages" + (f" ({int(off['ongoing'].sum())} still ongoing)" if len(off) else "")])
    if len(found):
        part.tables.append(a.table("Silent hours and logging outages", found, COVERAGE_TABLE))
    return part


OPEN_TABLE = {"account": "account", "region": "region", "group_id": "group", "rule": "rule", "opened_at": "open since",
              "opened_by": "opened by", "opened_from_ip": "from IP", "duration": "open for"}
URGENT_TABLE = {"event_time": "time", "severity": "severity", "title": "detection", "account": "account",
                "target": "target", "actor": "actor", "outcome": "outcome"}


def actions_section(a: Audit) -> Part:
    """What needs action, before everything else: windows still open, attacks that came through a window
    while it was open, critical and high detections, and where the evidence is silent."""
    windows = a.windows[a.windows["still_open"].astype(bool)] if len(a.windows) else a.windows
    tied = a.correlations if a.correlations is not None else pd.DataFrame()
    sessions = a.unknown_sessions
    hits = a.hits if a.hits is not None else pd.DataFrame(columns=["severity"])
    urgent = hits[hits["severity"].isin(["critical", "high"])]
    gaps = a.gaps if a.gaps is not None else pd.DataFrame(columns=["kind", "ongoing"])
    outages = gaps[gaps["kind"] != "no_events"]
    ports = ", ".join(map(str, a.inv.settings.watched_ports))
    part = Part([
        f"{export.plural(len(windows), 'window')} still open to the internet on port {ports} at the end of the range"
        + ("" if windows.empty else ": " + "; ".join(
            f"{g} since {a.when(t) or 'before the evidence'} "
            f"(opened by {(actors.short(w) if isinstance(w, str) else None) or 'no logged call'})"
            for g, t, w in zip(windows["group_id"], windows["opened_at"], windows["opened_by"]))),
        f"{export.plural(len(tied), 'GuardDuty finding')} attacked an exposure window while it was open",
        *([] if sessions is None else [
            f"{export.plural(len(sessions), 'session')} through an open window from addresses nobody knows "
            "(VPC flow logs)"]),
        f"{export.plural(len(urgent), 'critical or high detection hit', 'critical or high detection hits')}",
        f"{export.plural(len(outages), 'logging outage')}"
        + (f" ({int(outages['ongoing'].sum())} still ongoing)" if len(outages) else "")
        + f"; {export.plural(int((gaps['kind'] == 'no_events').sum()), 'run')} of silent hours",
    ])
    if a.start is not None and a.span["first_event"] is not None and not pd.isna(a.span["first_event"]):
        first, last = pd.Timestamp(a.span["first_event"]), pd.Timestamp(a.span["last_event"])
        if first - a.start > pd.Timedelta(hours=1) or (a.end is not None and a.end - last > pd.Timedelta(hours=1)):
            part.facts.append(f"The evidence covers only {a.when(first)} to {a.when(last)} of the range: "
                              "nothing is known of the rest")
    elif a.since is not None or a.until is not None:
        part.facts.append("The evidence holds no event in the range: nothing is known of it")
    if len(windows):
        part.tables.append(a.table("Windows still open", _with_rules(windows.assign(peer=windows["cidr"])), OPEN_TABLE))
    if len(tied):
        part.tables.append(a.table("Attacks that came through an open window", tied, CORRELATION_TABLE))
    if sessions is not None and len(sessions):
        part.tables.append(a.table("Sessions from addresses nobody knows", sessions, SOURCE_TABLE))
    if len(urgent):
        part.tables.append(a.table("Critical and high detections", urgent, URGENT_TABLE))
    if len(outages):
        part.tables.append(a.table("Logging outages", outages, COVERAGE_TABLE))
    return part


# Features add their sections here; a section whose data the investigation cannot give returns None.
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
    intakes = (inv.intake, inv.findings_intake, inv.state_intake, inv.flow_intake)
    read = [f for intake in intakes if intake for f in intake.files]
    verdicts = {r.path: r for r in integrity.rows if r.kind == "log"} if integrity else {}
    return [{"path": f.path, "size": f.size, "sha256": f.sha256 or f"(not read: {f.error})",
             "proven": _proven(verdicts.get(_relative(f.path, inv.evidence)))}
            for f in sorted(read, key=lambda f: f.path)]


def _relative(path: str, folder: str | None) -> str:
    try:
        return Path(path).relative_to(folder or "").as_posix()
    except ValueError:
        return path


def _proven(row) -> str:
    if row is None:  # no validation, not in the S3 layout's CloudTrail/ folders, or out of range
        return "not checked"
    return "yes" if row.status == "valid" else f"NO: {row.status} ({row.reason})"


def inputs_line(inv: Investigation, files: list[dict]) -> str:
    """The appendix's line on the input files: how many were hashed, or why none are listed."""
    if inv.engine.name == "athena":  # the logs stay in S3: nothing passed through this machine to hash
        return f"No input files hashed: the logs were read where they are in S3 ({inv.source}), not on this machine"
    return f"{len(files)} input files hashed"


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
            parts.append((section, part))
    title = f"Security audit {audit.when(audit.start)[:10]} to {audit.when(audit.end)[:10]}" if audit.start is not None else "Security audit"
    generated = f"{datetime.now(timezone.utc).astimezone(audit.zone):%Y-%m-%d %H:%M %Z} by audit_toolkit {version('audit_toolkit')}"
    files = evidence_files(inv, audit.integrity)
    return Report(title, generated, parts, files, queries_run(inv), inputs_line(inv, files))


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
