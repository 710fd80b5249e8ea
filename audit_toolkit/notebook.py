"""What the notebooks need beyond the package's answers: paths that resolve the same from the
repository's root and from `notebooks/`, pandas showing whole values and every row, and the lines
they print in the language setting (Settings.language), as the report says them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .analysis import connections
from .analysis.events import records
from .evidence.digest_chain import IntegrityReport
from .phrases import words
from .settings import Settings


def count_line(findings: pd.DataFrame, settings: Settings) -> str:
    """How many findings the range holds, in the language setting ("1 GuardDuty finding")."""
    return words(settings.language, "triage.findings", n=len(findings))


def project_path(path: str | Path | None, cwd: Path | None = None) -> Path | None:
    """A notebook parameter's path: absolute as given; relative to the folder that holds `notebooks/`,
    whether the notebook runs from there (papermill from the root) or from `notebooks/` (Jupyter)."""
    if path is None:
        return None
    path, cwd = Path(path), (cwd or Path.cwd())
    if path.is_absolute() or cwd.name != "notebooks" or (cwd / "notebooks").is_dir():
        return path
    return Path("..") / path  # in notebooks/: the root is one up


def show_everything() -> None:
    """Tables show every row and whole cells: an identity cut at 50 characters loses its session name."""
    pd.set_option("display.max_rows", None)
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.width", None)


def proof_lines(proof: IntegrityReport | None, settings: Settings) -> str:
    """The digest chain's verdict, each file it did not prove and each gap, with why; None (the logs
    read where they are: Athena, a store): that nothing was checked."""
    language = settings.language
    if proof is None:
        return words(language, "proof.not_here")
    lines = [proof.summary(language)]
    lines += [f"{r['status']:18} {r['kind']:6} {r['path']}: {r['reason']}"
              for r in proof.table(language) if r["status"] != "valid"]
    lines += [gap.line(language, settings.display_tz) for gap in proof.gaps]
    return "\n".join(lines)


def connection_lines(found: pd.DataFrame, settings: Settings) -> str:
    """Each row of `Investigation.connections` in a sentence, times in the display zone."""
    return "\n".join(connections.describe(r, settings.language, settings.display_tz) for r in records(found))


def _when(value, settings: Settings) -> str:
    return "" if value is None or pd.isna(value) else str(pd.Timestamp(value).tz_convert(settings.display_tz))


def exposure_chart(inv, since=None, until=None, findings: pd.DataFrame | None = None):
    """The triage notebook's chart of the range's exposure windows with the attacks on them. A range
    with no event draws an empty chart over the range and prints why: windows "still open" there
    would rest on no evidence of the range."""
    from . import charts, queries

    span = inv.span(since, until)
    windows, changes = inv.ssh_exposure(since, until), inv.sg_changes(since, until)
    start, end = span["first_event"], span["last_event"]
    if not int(span["events"] or 0):
        whole, settings = inv.span(), inv.settings
        print(words(settings.language, "triage.no_events", first=_when(whole["first_event"], settings),
                    last=_when(whole["last_event"], settings)) if int(whole["events"] or 0)
              else words(settings.language, "triage.no_evidence"))
        bounds = queries.scope(since, until)
        start, end = (None if v is None else pd.Timestamp(v) for v in (bounds["since"], bounds["until"]))
        windows, findings = windows.iloc[0:0], None if findings is None else findings.iloc[0:0]
    return charts.plot_exposure(windows, findings=findings, changes=changes, start=start, end=end,
                                settings=inv.settings)


FINDING_SHOWN = ["title", "first_seen", "last_seen", "count", "remote_ip", "remote_country", "remote_org",
                 "local_port", "security_group_ids"]
OTHERS_SHOWN = ["type", "severity", "first_seen", "last_seen", "remote_ip", "title"]
WINDOWS_SHOWN = ["group_id", "cidr", "opened_at", "opened_by", "closed_at", "closed_by", "tied_by"]
CHANGES_SHOWN = ["event_time", "group_id", "action", "protocol", "from_port", "peer", "actor", "source_ip"]
EVENTS_SHOWN = ["event_time", "event_name", "actor", "source_ip", "error_code", "mentioned"]


class DrillDown:
    """The triage notebook's drill-down into one finding: each part a table in the display zone,
    with its line printed; with no finding in the range, each part says so and is an empty table."""

    def __init__(self, inv, tied: pd.DataFrame, findings: pd.DataFrame, finding_id: str | None = None,
                 margin: str = "1h") -> None:
        self.inv, self.settings = inv, inv.settings
        most_severe = tied.sort_values(["severity", "first_seen"], ascending=[False, True])["finding_id"] \
            if len(tied) else pd.Series(dtype=object)
        self.chosen = finding_id or (most_severe.iloc[0] if len(most_severe)
                                     else findings["id"].iloc[0] if len(findings) else None)
        self.ctx = None if self.chosen is None else inv.finding_context(self.chosen, margin=margin)

    def _say(self, key: str, **values) -> None:
        print(words(self.settings.language, key, **values))

    def _table(self, frame: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
        if frame is None:
            self._say("triage.no_finding")
            return pd.DataFrame(columns=columns)
        return self.inv.local(frame)[columns]

    def finding(self) -> pd.DataFrame:
        """The chosen finding, its context's range, and its own activity, in the display zone."""
        if self.ctx is None:
            return self._table(None, FINDING_SHOWN)
        f = self.ctx.finding
        self._say("triage.finding", id=self.chosen, type=f["type"], severity=f["severity"], instance=f["instance_id"])
        self._say("triage.context", start=_when(self.ctx.start, self.settings), end=_when(self.ctx.end, self.settings))
        return self._table(pd.DataFrame([f]).infer_objects(), FINDING_SHOWN)

    def others(self) -> pd.DataFrame:
        if self.ctx is not None:
            self._say("triage.others", n=len(self.ctx.others), instance=self.ctx.finding["instance_id"])
        return self._table(None if self.ctx is None else self.ctx.others, OTHERS_SHOWN)

    def windows(self) -> pd.DataFrame:
        return self._table(None if self.ctx is None else self.ctx.windows, WINDOWS_SHOWN)

    def changes(self) -> pd.DataFrame:
        return self._table(None if self.ctx is None else self.ctx.changes, CHANGES_SHOWN)

    def events(self) -> pd.DataFrame:
        if self.ctx is not None:
            self._say("triage.events", n=len(self.ctx.events))
        return self._table(None if self.ctx is None else self.ctx.events, EVENTS_SHOWN)


def appendix_lines(report, settings: Settings) -> str:
    """The periodic-audit notebook's appendix: the input files hashed, and each distinct query with
    its engine and how many times it ran, all in the language setting."""
    language = settings.language
    lines = [words(language, "notebook.appendix", inputs=report.inputs, n=len(report.queries))]
    lines += [words(language, "notebook.query_runs", query=q["query"], engine=q["engine"], n=len(q["params"]))
              for q in report.queries]
    return "\n".join(lines)
