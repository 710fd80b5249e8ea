"""The audit report: what the evidence holds, nothing from the logs live, self-contained, with its evidence."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import duckdb
import matplotlib.dates as mdates
import pandas as pd
import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from audit_toolkit import export, queries, report as rep
from audit_toolkit.cli import main
from audit_toolkit.demo import run_demo
from audit_toolkit.evidence.layout import NOT_EVIDENCE
from audit_toolkit.evidence.store import ingest
from audit_toolkit.investigation import Investigation
from audit_toolkit.phrases import in_language, plural, reason
from audit_toolkit.settings import Settings
from test_investigation import revoked_by_rule_id
from util import ENGLISH

EN = Settings(language="en")  # the tests that read the report's English wording say so
# An audit of nothing, for the helpers that only word things (say, value).
AUDIT_EN, AUDIT_JA = (rep.Audit(SimpleNamespace(settings=s)) for s in (EN, Settings(language="ja")))
UA = "<script>alert('ua')</script>"
DESCRIPTION = "</td><img src=x onerror=alert(1)> [click](javascript:alert(1)) | $x$ https://a.example www.b.example c@d.example 踏み台"


class Page(HTMLParser):
    """Every tag and attribute of a page, and its visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def hostile_event() -> dict:
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::444444444444:user/eve<b>", "accountId": "444444444444"},
        "eventTime": "2026-11-03T10:30:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "AuthorizeSecurityGroupIngress",
        "awsRegion": "us-west-2",
        "sourceIPAddress": "198.51.100.66",
        "userAgent": UA,
        "requestParameters": {"groupId": "sg-0bad", "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
             "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0", "description": DESCRIPTION}]}}]}},
        "responseElements": {"_return": True},
        "eventID": "00000000-0000-0000-0000-00000000bad1",
        "recipientAccountId": "444444444444",
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, demo) -> tuple[Investigation, rep.Report]:
    """The demo evidence plus one file whose user agent and rule description are attacks on the reader."""
    out = tmp_path_factory.mktemp("hostile")
    evidence = out / "evidence"
    evidence.mkdir()
    (evidence / "hostile.json").write_text(json.dumps({"Records": [hostile_event()]}), encoding="utf-8")
    inv = Investigation.from_evidence(evidence, EN)
    return inv, rep.write_report(inv, out / "report")


@pytest.fixture(scope="module")
def written(tmp_path_factory, demo) -> tuple[Investigation, rep.Report]:
    inv = Investigation.from_evidence(demo / "evidence", EN)
    return inv, rep.write_report(inv, tmp_path_factory.mktemp("report"), since="2026-11-03", until="2026-11-04")


def test_log_text_in_the_html_is_text_never_markup(hostile):
    _, report = hostile
    html = report.html.read_text(encoding="utf-8")
    page = parse(html)
    assert [t for t, _ in page.tags if t == "script"] == []
    assert [a for t, a in page.tags if t == "img" and a.get("onerror")] == []
    assert "&lt;script&gt;alert(&#39;ua&#39;)&lt;/script&gt;" in html
    assert UA in "".join(page.text)  # the reader sees the user agent exactly as it was logged
    assert DESCRIPTION in "".join(page.text)
    # the identity in the tables' short form (cda887e), its markup shown as text
    assert "eve<b>" in "".join(page.text) and "eve&lt;b&gt;" in html


def test_log_text_in_the_markdown_is_escaped(hostile):
    _, report = hostile
    text = report.markdown.read_text(encoding="utf-8")
    text = re.sub(r"```sql\n.*?```", "", text, flags=re.S)  # our own SQL, fenced as code
    assert not re.search(r"(?<!\\)<", text) and not re.search(r"(?<!\\)\]\(javascript", text)  # every < and ] escaped
    assert r"\<script\>alert('ua')\</script\>" in text
    assert (r"\</td\>\<img src=x onerror=alert(1)\> \[click\](javascript:alert(1)) \| \$x\$ https\://a.example"
            r" www\.b.example c\@d.example 踏み台") in text
    # the hostile rule is one table row: its `|` did not add a cell
    [row] = [line for line in text.splitlines() if "sg-0bad" in line and "authorize" in line]
    header = next(line for line in text.splitlines() if line.startswith("| time | account"))
    assert row.count(" | ") == header.count(" | ")


def test_the_html_is_self_contained_and_its_images_are_the_charts(written):
    _, report = written
    html = report.html.read_text(encoding="utf-8")
    page = parse(html)
    links = [(t, k, v) for t, a in page.tags for k, v in a.items() if k in ("src", "href", "action", "data", "poster")]
    assert all(v.startswith("data:image/png;base64,") or v.startswith("#") for _, _, v in links), links
    assert not [t for t, _ in page.tags if t in ("link", "script", "iframe", "object", "embed")]
    assert "url(" not in html and "@import" not in html
    images = [a["src"] for t, a in page.tags if t == "img"]
    assert [c.name for c in report.charts] == ["changes", "exposure", "findings"]
    for src, chart in zip(images, report.charts, strict=True):
        png = base64.b64decode(src.split(",", 1)[1])
        assert png == chart.png == (report.html.parent / "charts" / f"{chart.name}.png").read_bytes()
        assert png.startswith(b"\x89PNG")
    assert "@media print" in html


def test_the_report_holds_the_scoped_changes_windows_findings_and_detections(written, truth):
    inv, report = written
    since, until = "2026-11-03", "2026-11-04"
    parts = {section.id: part for section, part in report.parts}
    assert list(parts) == ["actions", "exposed", "scope", "changes", "exposure", "findings", "connections",
                           "detections", "coverage", "reconcile"]
    tied, every = parts["findings"].tables
    assert sorted(r[2] + " " + r[0] for r in tied.rows) == sorted(
        next(f["type"] for f in truth["findings"] if f["id"] == c["finding_id"]) + " " + c["group_id"] for c in truth["correlations"])
    assert len(every.rows) == len(inv.findings(since, until)) == 10
    assert every.rows[0][:4] == ["2026-11-03 11:00:00 UTC", "2026-11-03 11:20:00 UTC", "8.0 High", "CryptoCurrency:EC2/BitcoinTool.B!DNS"]
    assert ["198.51.100.7 (Netherlands, Example Hosting B.V.)", "22"] in [r[9:11] for r in every.rows]
    assert parts["findings"].facts[1] == "5 of them attacked an exposure window while it was open"
    changes = inv.sg_changes(since, until)
    windows = inv.ssh_exposure(since, until)
    assert len(parts["changes"].tables[0].rows) == len(changes) == 22  # the two changes of 11-02 are out of range
    # root's window and the build runner's (known from Config) closed on 11-02
    assert len(parts["exposure"].tables[0].rows) == len(windows) == 9
    assert parts["exposure"].facts[0] == "9 windows in which port 22 stood open to the internet; 2 still open at the end of the range"
    assert parts["exposure"].tables[1].caption == "Failed attempts" and len(parts["exposure"].tables[1].rows) == 1
    assert parts["scope"].facts[0] == "Time range: 2026-11-03 00:00:00 UTC to 2026-11-04 00:00:00 UTC (end exclusive)"
    alice = [r for r in parts["exposure"].tables[0].rows if r[4] == "2026-11-03 09:02:00 UTC"]
    assert len(alice) == 1
    assert alice[0][2:4] == ["sg-0a000000000000001 (bastion-tmp)", "ingress tcp/22 from 0.0.0.0/0"]
    assert alice[0][5] == "alice" and alice[0][8] == "2026-11-03 11:32:15 UTC"
    assert alice[0][11] == "2h 30m" and alice[0][12] == "closed"
    rules = {r[5] for r in parts["changes"].tables[0].rows}
    assert {"ingress all traffic from 0.0.0.0/0", "ingress tcp/20-25 from 0.0.0.0/0", "egress all traffic to 0.0.0.0/0", "ingress tcp/5432 from sg-0b000000000000002", ""} <= rules
    # root acted on 11-02; on 11-03 the incident's 7 logged SSH openings and its refused one
    assert parts["detections"].facts == ["8 detection hits: high 8"]
    assert [t for t, _ in parts["detections"].subsections] == [
        "SSH (a watched port) opened to the internet"]
    # The demo's silences and outages are on 11-04.
    assert parts["coverage"].facts == ["0 runs of hours with no event (0 h in all)", "0 logging outages"]
    # The report opens with what is exposed at the end of its range, from the logs and the state together.
    assert parts["exposed"].facts == ["2 rules expose port 22 to the internet at the end of the range",
                                      "1 of them was opened by no logged call: known from AWS Config or EC2 state"]
    assert sorted(r[2:6] for r in parts["exposed"].tables[0].rows) == [
        ["sg-01a0000000000000a (legacy-bastion)", "ingress tcp/22 from 0.0.0.0/0", "2025-03-14 08:21:07 UTC", "state"],
        ["sg-0e000000000000005", "ingress tcp/22 from 0.0.0.0/0", "2026-11-03 09:30:00 UTC", "logged"]]
    # State and logs disagree four times on 11-03: old-web deleted and jump-host closed with no logged call.
    expected = [r for r in truth["reconcile"] if r["before"] >= "2026-11-03"]
    assert [(r[0], r[3].split()[0]) for r in parts["reconcile"].tables[0].rows] == [
        (r["kind"], r["group_id"]) for r in expected]
    assert len(expected) == 4


def test_the_changes_section_says_what_a_revoke_by_rule_id_after_since_removed(tmp_path):
    audit = rep.Audit(Investigation.from_evidence(revoked_by_rule_id(tmp_path / "evidence"), EN), since="2026-01-01T09:30:00Z")
    [table] = rep.changes_section(audit).tables
    assert [r[:6] for r in table.rows] == [["2026-01-01 10:00:00 UTC", "111111111111", "us-east-1", "sg-1", "revoke", "ingress tcp/22 from 0.0.0.0/0"]]


@pytest.fixture
def exposure_charts(monkeypatch) -> list:
    """Each exposure chart the report draws, as (keyword arguments, Axes)."""
    drawn = []
    plot = rep.charts.plot_exposure
    monkeypatch.setattr(rep.charts, "plot_exposure", lambda *a, **k: drawn.append((k, plot(*a, **k))) or drawn[-1][1])
    return drawn


def test_the_exposure_chart_marks_each_finding_on_the_lane_of_the_window_it_attacked(demo, truth, exposure_charts):
    demo_inv = Investigation.from_evidence(demo / "evidence", EN, state_at=truth["state_at"])
    audit = rep.Audit(demo_inv)
    assert sorted(zip(audit.findings_on_groups["finding_id"], audit.findings_on_groups["group_id"])) == sorted(
        (c["finding_id"], c["group_id"]) for c in truth["correlations"])
    part = rep.exposure_section(audit)
    [(kwargs, ax)] = exposure_charts
    assert kwargs["findings"] is audit.findings_on_groups and part.charts[0].name == "exposure"
    num = lambda t: round(float(mdates.date2num(pd.Timestamp(t))), 9)  # noqa: E731
    lane_of = {round(b.get_x(), 9): b.get_y() + b.get_height() / 2 for b in ax.patches if b.get_gid() == "window"}
    first_seen = demo_inv.findings().set_index("id")["first_seen"]
    marks = sorted((round(m.get_xdata()[0], 9), float(m.get_ydata()[0])) for m in ax.lines if m.get_gid() == "finding")
    assert marks == sorted((num(first_seen[c["finding_id"]]), lane_of[num(c["opened_at"])]) for c in truth["correlations"])
    assert len(marks) == 5
    # The windows' entries (and the logging outage, drawn as not covered), the findings, then the
    # sessions the flow logs show (flow_story): exactly what is drawn.
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "open to the internet", "open before the evidence", "still open at the end",
        "not covered by the evidence (open or closed: unknown)",
        "GuardDuty finding (Low)", "session from an unknown address", "session from the actor or a known network"]


def test_the_exposure_chart_draws_a_logging_outage_as_not_covered(demo, truth, exposure_charts):
    demo_inv = Investigation.from_evidence(demo / "evidence", EN, state_at=truth["state_at"])
    audit = rep.Audit(demo_inv)
    rep.exposure_section(audit)
    [(kwargs, ax)] = exposure_charts
    # ops-admin's StopLogging on the org trail until its StartLogging; erin's deleted staging trail
    stopped = (pd.Timestamp("2026-11-04T13:59:00Z"), pd.Timestamp("2026-11-04T17:00:00Z"), "111111111111")
    deleted = (pd.Timestamp("2026-11-04T00:26:00Z"), pd.Timestamp("2026-11-04T00:29:00Z"), "222222222222")
    assert sorted(kwargs["uncovered"]) == sorted([stopped, deleted])
    num = lambda t: round(float(mdates.date2num(pd.Timestamp(t))), 9)  # noqa: E731
    grey = {(round(p.get_x(), 9), round(p.get_x() + p.get_width(), 9)) for p in ax.patches if p.get_gid() == "uncovered"}
    assert grey == {(num(stopped[0]), num(stopped[1])), (num(deleted[0]), num(deleted[1]))}
    # the two windows of account 111111111111 still open across the outage are not drawn as certain there
    unknown = sorted((round(p.get_x(), 9), round(p.get_x() + p.get_width(), 9), p.get_y() + p.get_height() / 2)
                     for p in ax.patches if p.get_gid() == "window-unknown")
    assert [(x0, x1) for x0, x1, _ in unknown] == [(num(stopped[0]), num(stopped[1]))] * 2
    lanes = [b.get_y() + b.get_height() / 2 for b in ax.patches if b.get_gid() == "window"]
    assert all(y in lanes for _, _, y in unknown)
    assert "not covered by the evidence (open or closed: unknown)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_the_lead_lists_only_the_sessions_in_the_range(demo, truth, exposure_charts):
    demo_inv = Investigation.from_evidence(demo / "evidence", EN, state_at=truth["state_at"])
    # mallory's window is still open on the 4th, but the session nobody knows came through it on the 3rd
    audit = rep.Audit(demo_inv, since="2026-11-04")
    found = audit.connections
    [session] = found[(found["verdict"] == "session") & (found["group_id"] == "sg-0e000000000000005")].to_dict("records")
    assert (session["source"], session["last_seen"]) == ("198.51.100.200", pd.Timestamp("2026-11-03T10:55:00Z"))
    lead = rep.actions_section(audit)
    assert "0 sessions through an open window from addresses nobody knows (VPC flow logs)" in lead.facts
    assert "Sessions from addresses nobody knows" not in [t.caption for t in lead.tables]
    assert rep.connections_section(audit).facts[0] == (
        "0 sessions from addresses that are neither the window's actor nor a known network")
    rep.exposure_section(audit)
    [(kwargs, ax)] = exposure_charts
    assert kwargs["sessions"].empty and [m for m in ax.lines if m.get_gid() in ("session", "known-session")] == []
    # in a range that holds it, it is listed
    inside = rep.Audit(demo_inv, since="2026-11-03T10:30:00Z", until="2026-11-03T12:00:00Z")
    assert "1 session through an open window from an address nobody knows (VPC flow logs)" in (
        rep.actions_section(inside).facts)
    assert inside.unknown_sessions["source"].tolist() == ["198.51.100.200"]


def test_the_exposure_chart_has_no_finding_markers_without_findings(tmp_path, exposure_charts):
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "one.json").write_text(json.dumps({"Records": [hostile_event()]}), encoding="utf-8")
    audit = rep.Audit(Investigation.from_evidence(evidence, EN))
    assert audit.findings is not None and audit.findings.empty and audit.findings_on_groups is None
    rep.exposure_section(audit)
    [(kwargs, ax)] = exposure_charts
    assert kwargs["findings"] is None and len(ax.patches) > 0
    assert [m for m in ax.lines if m.get_gid() == "finding"] == []


def test_detections_are_reported_most_severe_first(demo, truth):
    from audit_toolkit.analysis.detections import BY_ID, CATALOGUE

    inv = Investigation.from_evidence(demo / "evidence", EN)
    parts = dict((s.id, p) for s, p in rep.build(inv).parts)
    span = inv.span()
    assert parts["scope"].facts[0] == (f"Time range: {span['first_event']:%Y-%m-%d %H:%M:%S} UTC (the first event) to "
                                       f"{span['last_event']:%Y-%m-%d %H:%M:%S} UTC (the last event, included)")
    part = parts["detections"]
    hits = inv.detect()
    story = truth["detections"]["hits"]  # the detections story of 11-04, and root's revoke on 11-02
    # and the incident's 7 logged SSH openings and its refused one (tests/test_detections.py says which)
    ssh = [{"outcome": "success"}] * 7 + [{"outcome": "attempt"}]
    expected = {}
    for severity in [BY_ID[h["detection"]].severity for h in story] + ["high"] * (1 + len(ssh)):
        expected[severity] = expected.get(severity, 0) + 1
    count, _, counts = part.facts[0].partition(" detection hits: ")
    assert int(count) == len(hits) == len(story) + 1 + len(ssh) == 114
    assert dict((k, int(v)) for k, v in (c.split(" ") for c in counts.split(", "))) == expected
    # One sub-section per detection with hits, most severe first, catalogue order within a severity.
    order = ["critical", "high", "medium", "low"]
    played = [d for d in CATALOGUE if d.id in set(hits["detection"])]
    expected_ids = sorted(played, key=lambda d: order.index(d.severity))
    assert len(played) == len(CATALOGUE) and part.tables == []  # the story plays every detection
    assert [title for title, _ in part.subsections] == [d.title_en for d in expected_ids]
    by_title = dict(part.subsections)
    for d in played:
        sub = by_title[d.title_en]
        mine = [h for h in story if h["detection"] == d.id] + ([{"outcome": "success"}] if d.id == "root_used" else []) \
            + (ssh if d.id == "ssh_exposure_opened" else [])
        attempts = sum(h['outcome'] == 'attempt' for h in mine)  # the second count's noun agrees too
        assert sub.facts == [f"{d.id}: severity {d.severity}, MITRE ATT&CK {d.technique}",
                             f"{plural(len(mine), 'hit')}, "
                             + ("1 of them an attempt" if attempts == 1 else f"{attempts} of them attempts")]
        [table] = sub.tables
        assert table.columns == ["time", "account", "region", "event", "outcome", "target", "detail", "actor", "source IP"]
        assert len(table.rows) == len(mine) and [r[0] for r in table.rows] == sorted(r[0] for r in table.rows)
    stopped = by_title["CloudTrail logging stopped"].tables[0].rows
    stops = [h for h in story if h["detection"] == "cloudtrail_stopped"]
    assert [(r[0], r[4], r[6]) for r in stopped] == [(h["event_time"].replace("T", " ").replace("Z", " UTC"), h["outcome"],
                                                      "attempted: logging stopped" if h["outcome"] == "attempt" else "logging stopped")
                                                     for h in stops]
    root = by_title["Root user activity"].tables[0].rows
    assert [(r[4], r[7]) for r in root if r[0] == "2026-11-02 08:00:00 UTC"] == [("success", "root (333333333333)")]


def test_times_are_shown_in_the_display_zone(demo):
    inv = Investigation.from_evidence(demo / "evidence", Settings(display_tz="Asia/Tokyo", language="en"))
    report = rep.build(inv, since="2026-11-03", until="2026-11-04")
    exposure = dict((s.id, p) for s, p in report.parts)["exposure"]
    assert "2026-11-03 18:02:00 JST" in [r[4] for r in exposure.tables[0].rows]  # 09:02 UTC


def test_the_appendix_has_every_input_file_hash_and_every_query(written, demo):
    inv, report = written
    # Every file the scan read: the digests prove files, they are not events.
    files = sorted(str(p) for p in (demo / "evidence").rglob("*")
                   if p.is_file() and "/CloudTrail-Digest/" not in str(p)
                   and p.name not in NOT_EVIDENCE)
    assert [f["path"] for f in report.files] == files
    for f in report.files[:50]:
        assert f["sha256"] == hashlib.sha256(Path(f["path"]).read_bytes()).hexdigest()
    by_name = {q["query"]: q for q in report.queries}
    assert {"evidence_span", "sg_changes"} <= set(by_name)
    assert by_name["sg_changes"]["engine"] == f"duckdb {duckdb.__version__}"
    # the appendix shows the canonical Athena text, whichever engine ran it, never DuckDB's translation
    assert by_name["sg_changes"]["sql"] == queries.get("sg_changes").sql
    duckdb_text = next(e["sql"] for e in inv.log if e["query"] == "sg_changes")
    assert "$since" in duckdb_text and "$since" not in report.markdown.read_text(encoding="utf-8")
    html = report.html.read_text(encoding="utf-8")
    md = report.markdown.read_text(encoding="utf-8")
    assert report.files[0]["sha256"] in html and report.files[-1]["sha256"] in md
    assert f"sg_changes <span class=\"meta\">on duckdb {duckdb.__version__}</span>" in html
    assert "since='2026-11-03T00:00:00Z'" in "".join(by_name["evidence_span"]["params"])
    # Security-group rules are read from the start of the evidence (a rule id names what was learnt before since).
    assert by_name["sg_changes"]["params"] == ["since=None, until='2026-11-04T00:00:00Z', since_day=None, until_day='2026/11/05', account=None, region=None"]


def test_the_appendix_hashes_the_bytes_that_were_read_not_the_file_as_it_is_now(tmp_path):
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    path = evidence / "trail.json"
    read = json.dumps({"Records": [hostile_event()]}).encode()
    path.write_bytes(read)
    raw = Investigation.from_evidence(evidence, EN)
    ingest([path], tmp_path / "store")
    stored = Investigation.from_store(tmp_path / "store", settings=EN)
    path.write_bytes(b"rewritten after it was read")
    expected = [{"path": str(path), "size": len(read), "sha256": hashlib.sha256(read).hexdigest(),
                 "proven": "not checked"}]
    assert rep.evidence_files(raw) == expected
    assert rep.evidence_files(stored) == expected


def test_sections_are_extensible_and_a_section_with_nothing_to_say_is_left_out(demo):
    inv = Investigation.from_evidence(demo / "evidence", EN)
    extra = rep.Section("extra", "An added section", lambda a: rep.Part([f"{len(a.changes)} changes seen by another feature"]))
    silent = rep.Section("silent", "Not applicable here", lambda a: None)
    report = rep.build(inv, sections=[rep.SECTIONS[0], extra, silent])
    assert [(s.id, p.facts) for s, p in report.parts][1:] == [("extra", ["24 changes seen by another feature"])]


def test_report_command_writes_html_markdown_and_charts(demo, tmp_path):
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["report", "--evidence", str(demo / "evidence"), "--since", "2026-11-03",
                                       "--until", "2026-11-04", "--tz", "Asia/Tokyo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["changes.png", "exposure.png", "findings.png", "report.html", "report.md"]
    assert "2026-11-03 18:02:00 JST" in (out / "report.html").read_text(encoding="utf-8")
    bad = CliRunner().invoke(main, ["report", "--evidence", str(demo / "evidence"), "--tz", "Mars/Olympus", "--out", str(out)])
    assert bad.exit_code == 2 and "unknown time zone 'Mars/Olympus'" in bad.output and "Traceback" not in bad.output


def test_make_demo_writes_the_report_in_the_language_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("AUDIT_TOOLKIT_LANGUAGE", raising=False)
    run_demo(tmp_path / "ja", events=300, seed=3, echo=lambda _: None)
    assert (tmp_path / "ja" / "report" / "report.html").stat().st_size > 0
    assert (tmp_path / "ja" / "report" / "report.md").read_text(encoding="utf-8").startswith("# セキュリティ監査")
    monkeypatch.setenv("AUDIT_TOOLKIT_LANGUAGE", "en")
    run_demo(tmp_path / "en", events=300, seed=3, echo=lambda _: None)
    assert (tmp_path / "en" / "report" / "report.md").read_text(encoding="utf-8").startswith("# Security audit")


def test_coverage_is_reported_beside_the_detections(demo, truth):
    inv = Investigation.from_evidence(demo / "evidence", EN)
    part = dict((s.id, p) for s, p in rep.build(inv, since="2026-11-04", until="2026-11-05").parts)["coverage"]
    story = truth["detections"]
    assert part.facts == [f"{len(story['gaps'])} runs of hours with no event (12 h in all)",
                          f"{len(story['outages'])} logging outages (0 still ongoing)"]
    rows = part.tables[0].rows
    stopped = [r for r in rows if r[0] == "logging_stopped"]
    assert stopped == [["logging_stopped", "111111111111", "us-east-1", "2026-11-04 13:59:00 UTC", "2026-11-04 17:00:00 UTC",
                        "3h 01m", "False", "org-trail", "ops-admin / mallory"]]  # not 3.02 (hours)
    assert sorted(r[2] for r in rows if r[0] == "no_events" and r[1] == "111111111111") == ["ap-northeast-1", "eu-west-1", "us-east-1"]


def test_a_sample_finding_is_tagged_in_the_reports_findings_table():
    from audit_toolkit.report import _findings_shown

    found = pd.DataFrame({"severity": [5.0, 8.0], "severity_label": ["Medium", "High"], "title": ["Probe", "Attack"],
                          "sample": [True, False], "remote_ip": [None, "198.51.100.7"], "remote_country": [None, None],
                          "remote_org": [None, None]})
    assert _findings_shown(found, AUDIT_EN)["title"].tolist() == ["SAMPLE: Probe", "Attack"]
    assert _findings_shown(found, AUDIT_JA)["title"].tolist() == ["サンプル: Probe", "Attack"]


def test_the_report_leads_with_what_needs_action(written, truth):
    _, report = written
    title, part = report.parts[0]
    assert title.id == "actions" and title.title == "What needs action"
    still = sorted(w["group_id"] for w in truth["windows"] if w["closed_at"] is None)
    assert still == ["sg-01a0000000000000a", "sg-0e000000000000005"]  # known from state; mallory's
    assert part.facts == [
        "2 windows still open to the internet on port 22 at the end of the range: sg-01a0000000000000a since "
        "2025-03-14 08:21:07 UTC (opened by no logged call); sg-0e000000000000005 since 2026-11-03 09:30:00 UTC "
        "(opened by ops-admin / mallory)",
        f"{len(truth['correlations'])} GuardDuty findings attacked an exposure window while it was open",
        "1 session through an open window from an address nobody knows (VPC flow logs)",
        "8 critical or high detection hits",  # the incident's 7 logged SSH openings and its refused one
        "0 logging outages; 0 runs of silent hours",
        # read without --state-at, the describe output is unreadable (it carries no time); the flow
        # logs hold one malformed line: gaps in what was read are said up front
        "Evidence not fully used: 1 file could not be read, 1 record rejected (listed under “Time range and "
        "evidence” and on the command's stderr)",
    ]
    unknown = [c for c in truth["connections"] if c["verdict"] == "session" and not c["known_as"]]
    assert [c["source"] for c in unknown] == ["198.51.100.200"]  # flow_story's session nobody knows
    assert [(t.caption, len(t.rows)) for t in part.tables] == [
        ("Windows still open", 2), ("Attacks that came through an open window", len(truth["correlations"])),
        ("Sessions from addresses nobody knows", 1), ("Critical and high detections", 8)]
    html = report.html.read_text(encoding="utf-8")
    assert html.index("What needs action") < html.index("Time range and evidence")


def test_a_range_the_evidence_does_not_cover_is_said_first(demo, truth):
    demo_inv = Investigation.from_evidence(demo / "evidence", EN, state_at=truth["state_at"])
    audit = rep.Audit(demo_inv, since="2026-10-01", until="2026-11-04")
    assert rep.actions_section(audit).facts[0] == (
        "The evidence covers only 2026-11-02 00:00:00 UTC to 2026-11-03 23:54:58 UTC of the range: "
        "nothing is known of the rest")
    empty = rep.Audit(demo_inv, since="2026-01-01", until="2026-01-02")
    assert rep.actions_section(empty).facts[0] == "The evidence holds no event in the range: nothing is known of it"


def test_a_range_past_the_evidence_measures_open_windows_to_its_end_and_says_no_events(demo, truth):
    """A still-open window is open for at least the time the evidence shows it open: to the earlier of
    the range's end and the evidence's, saying which (as the CLI's duration), and an empty range says
    "no events", not "first , last"; its silent places are counted, not 0."""
    demo_inv = Investigation.from_evidence(demo / "evidence", EN, state_at=truth["state_at"])
    far = rep.Audit(demo_inv, since="2027-01-01", until="2027-01-02")
    part = rep.actions_section(far)
    assert part.facts[5] == "0 logging outages; 9 runs of silent hours"
    # nothing shows the windows open after the evidence's last event: not "658d ... at the end of the range"
    last = far.when(demo_inv.span()["last_event"])
    assert last.startswith("2026-11-04 23:59:")
    assert [row[-1] for row in part.tables[0].rows] == [
        f"at least 600d 15h 38m (still open at the end of the evidence, {last})",
        f"at least 1d 14h 29m (still open at the end of the evidence, {last})"]
    partly = rep.Audit(demo_inv, since="2026-11-04T12:00Z", until="2026-11-06T00:00Z")
    cli = demo_inv.ssh_exposure(partly.since, partly.until)  # what the CLI's duration_seconds says
    measured = dict(zip(cli["group_id"], cli["duration"]))
    assert [row[-1] for row in rep.actions_section(partly).tables[0].rows][1] == (
        f"at least {rep._duration(measured['sg-0e000000000000005'], partly.words)} "
        f"(still open at the end of the evidence, {last})") == f"at least 1d 14h 29m (still open at the end of the evidence, {last})"
    inside = rep.Audit(demo_inv, since="2026-11-03", until="2026-11-04")  # the evidence runs past the range
    assert [row[-1] for row in rep.actions_section(inside).tables[0].rows][1] == (
        "at least 14h 30m (still open at the end of the range, 2026-11-04 00:00:00 UTC)")
    assert rep.scope_section(far).facts[2] == "Events in range: 0 (no events)"
    whole = rep.Audit(demo_inv)
    assert rep.actions_section(whole).tables[0].rows[1][-1] == (
        f"at least {rep._duration(whole.end - pd.Timestamp('2026-11-03T09:30Z'), whole.words)} "
        f"(still open at the end of the evidence, {whole.when(whole.end)})")


def test_the_japanese_report_counts_actors_in_its_own_words_and_severities_in_severity_order(demo):
    inv = Investigation.from_evidence(demo / "evidence", Settings(language="ja"))
    audit = rep.Audit(inv)
    assert rep.changes_section(audit).facts[2] == (
        "実行者別: terraform-ci / tf-run-4711 6 件、ops-admin / mallory 5 件、alice 4 件、cfn-exec / "
        "AWSCloudFormation (cloudformation.amazonaws.com 経由) 2 件、carol@example.com (SSO) 2 件、"
        "dave (フェデレーション) 2 件、bob 2 件、ルートユーザー (333333333333) 1 件")
    # critical first, whatever its count: not "高 61 件、中 32 件、低 11 件、重大 10 件"
    assert rep.detections_section(audit).facts[0] == "検知 114 件: 重大 10 件、高 61 件、中 32 件、低 11 件"
    assert rep.findings_section(audit).facts[0] == "範囲内で有効な GuardDuty の検出結果 11 件: 高 1 件、中 1 件、低 9 件"
    english = rep.Audit(Investigation.from_evidence(demo / "evidence", EN))
    assert rep.detections_section(english).facts[0] == "114 detection hits: critical 10, high 61, medium 32, low 11"
    assert rep.findings_section(english).facts[0] == "11 GuardDuty findings active in the range: High 1, Medium 1, Low 9"


def test_a_window_no_logged_call_closed_says_so_in_the_reports_tables(demo):
    for settings, said in ((EN, ("(not logged)", "(group deleted, not logged)", "(before evidence; from state, unlogged)")),
                           (Settings(language="ja"), ("(記録なし)", "(グループ削除、記録なし)", "(証跡の開始前、状態から判明、記録なし)"))):
        audit = rep.Audit(Investigation.from_evidence(demo / "evidence", settings))
        table = rep.exposure_section(audit).tables[0]
        by = {row[2].split()[0]: (row[table.columns.index(audit.words["report.col.opened_by"])],
                                  row[table.columns.index(audit.words["report.col.closed_by"])]) for row in table.rows}
        assert by["sg-02b0000000000000b"] == ("alice", said[0])
        assert by["sg-04d0000000000000d"] == (said[2], said[1])
        assert by["sg-0a000000000000001"] == ("alice", "bob")
        assert by["sg-01a0000000000000a"] == (said[2], "")  # still open: nobody closed it


def test_report_tables_show_every_identity_in_the_leads_short_form():
    """The tables mixed `arn:…:role/ops-admin (session mallory)` (neither the ARN nor the lead's
    `ops-admin / mallory`), ARNs and `… (SSO via arn:…)`: one short form, in the report's language."""
    role = "arn:aws:iam::111111111111:role/ops-admin (session mallory)"
    sso = "carol@example.com (SSO via arn:aws:iam::111111111111:role/AWSReservedSSO_Admin_0123)"
    shown = [role, "arn:aws:iam::111111111111:user/alice", sso, "root (333333333333)",
             "arn:aws:iam::111111111111:role/deploy", "arn:aws:sts::111111111111:federated-user/dave",
             f"{role} via ec2.amazonaws.com", "AWS service"]
    assert [AUDIT_EN.cell(a, "opened_by") for a in shown] == [
        "ops-admin / mallory", "alice", "carol@example.com (SSO)", "root (333333333333)", "deploy (role)",
        "dave (federated)", "ops-admin / mallory via ec2.amazonaws.com", "AWS service"]
    assert [AUDIT_JA.cell(a, "actor") for a in shown] == [
        "ops-admin / mallory", "alice", "carol@example.com (SSO)", "ルートユーザー (333333333333)",
        "deploy (ロール)", "dave (フェデレーション)", "ops-admin / mallory (ec2.amazonaws.com 経由)",
        "AWS のサービス"]


def test_a_windows_state_says_its_uncertainties():
    from audit_toolkit.report import _state

    window = {"still_open": True, "open_before_evidence": True, "reach": "unknown", "ambiguous_order": True}
    assert _state(window, AUDIT_EN) == ("still open, open before the evidence, reach unknown, "
                              "order within one second unproven, kept open")
    assert _state(window, AUDIT_JA) == ("公開中、証跡の開始前から公開、到達範囲不明、"
                                        "同じ秒の順序は未証明のため公開中とみなす")
    assert _state({**window, "still_open": False, "open_before_evidence": False, "reach": "internet",
                   "ambiguous_order": False}, AUDIT_EN) == "closed"


def test_the_report_says_which_files_are_proven_aws_delivered_and_how_many(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import rsa

    from _aws import arrange_invictus
    from audit_toolkit.synthetic import public_keys_answer, write_digests

    evidence = tmp_path / "evidence"
    logs = arrange_invictus(evidence)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "sigs.json").write_text(json.dumps(write_digests(evidence, key)))
    answer = public_keys_answer(key, datetime(2023, 1, 1), datetime(2024, 1, 1))
    (tmp_path / "keys.json").write_text(json.dumps(answer))
    victim = sorted(logs)[7]  # rewritten whole, as an attacker would: still gzip, still JSON
    rewritten = gzip.decompress(logs[victim]).replace(b'"', b' "', 1)
    (evidence / victim).write_bytes(gzip.compress(rewritten))
    inv = Investigation.from_evidence(evidence, EN)
    inv.validate_logs(tmp_path / "keys.json", tmp_path / "sigs.json")
    report = rep.write_report(inv, tmp_path / "r")
    facts = dict(report.parts)[scope_section()].facts
    assert ("Proof of origin (CloudTrail's signed digests): 54 of 55 log files and 2 of 2 digests "
            "proven AWS-delivered and unaltered; 2 hours covered by the chain, 0 gaps; "
            "NOT valid: 1 modified") in facts
    proven = {Path(f["path"]).relative_to(evidence).as_posix(): f["proven"] for f in report.files}
    assert proven.pop(victim).startswith("NO: modified (SHA-256 differs from the one AWSLogs/")
    assert set(proven.values()) == {"yes"} and len(proven) == 54
    assert "NO: modified" in report.html.read_text(encoding="utf-8")
    assert "| yes |" in report.markdown.read_text(encoding="utf-8")


def test_the_report_lists_the_hours_no_valid_digest_covers(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import rsa

    from _aws import arrange_invictus
    from audit_toolkit.synthetic import public_keys_answer, write_digests

    evidence = tmp_path / "evidence"
    arrange_invictus(evidence)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signatures = write_digests(evidence, key)
    (evidence / "digest-signatures.json").write_text(json.dumps(signatures))
    answer = public_keys_answer(key, datetime(2023, 1, 1), datetime(2024, 1, 1))
    (evidence / "public-keys.json").write_text(json.dumps(answer))
    first = min(signatures)  # the 11:00-12:00 digest, deleted
    (evidence / first).unlink()
    inv = Investigation.from_evidence(evidence, EN)
    inv.validate_logs(since="2023-07-10T11:00:00Z", until="2023-07-10T13:00:00Z")
    part = dict(rep.build(inv).parts)[scope_section()]
    tables = {t.caption: t for t in part.tables}
    assert tables["Hours no valid digest covers"].rows == [[
        "218007301253", "us-east-1", "account-trail (us-east-1)", "2023-07-10 11:00:00 UTC",
        "2023-07-10 12:00:00 UTC", "1h 00m", f"missing digest {first}"]]  # a duration, as every other
    bad = tables["Evidence not proven AWS-delivered and unaltered"].rows
    assert [(r[0], r[2]) for r in bad][:1] == [("missing_digest", first)]
    assert sorted({r[0] for r in bad}) == ["missing_digest", "not_covered"] and len(bad) == 4
# Every control and bidi character an output must never carry raw (newlines aside: they are layout).
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
SPOOF = "evil\x1b[31mred\u202eabc\u2066x\x07"  # a colour, a right-to-left override, an isolate, BEL
SPOOF_SHOWN = r"evil\x1b[31mred\u202eabc\u2066x\x07"
GONE = "gone`<b>x</b>`|.json"  # a file that could not be read, named to break out of a code span


@pytest.fixture(scope="module")
def spoofed(tmp_path_factory) -> tuple[rep.Report, Path]:
    """A report of one event whose user agent, actor and rule description carry control and bidi
    characters, with an appendix entry for an unreadable file whose name holds backticks."""
    from audit_toolkit.evidence.reader import FileReport

    out = tmp_path_factory.mktemp("spoofed")
    event = hostile_event()
    event["userAgent"] = SPOOF
    event["userIdentity"]["arn"] = f"arn:aws:iam::444444444444:user/{SPOOF}"
    rule = event["requestParameters"]["ipPermissions"]["items"][0]
    rule["ipRanges"]["items"][0]["description"] = SPOOF
    (out / "evidence").mkdir()
    (out / "evidence" / "trail.json").write_text(json.dumps({"Records": [event]}), encoding="utf-8")
    inv = Investigation.from_evidence(out / "evidence", EN)
    gone = str(out / "evidence" / GONE)
    error = f"[Errno 2] No such file or directory: {gone!r}"
    inv.intake.files.append(FileReport(gone, error=error))
    return rep.write_report(inv, out / "report"), out


def test_control_and_bidi_characters_reach_neither_report_raw(spoofed):
    report, _ = spoofed
    html = report.html.read_text(encoding="utf-8")
    md = report.markdown.read_text(encoding="utf-8")
    assert RAW.findall(html) == [] and RAW.findall(md) == []
    assert "".join(parse(html).text).count(SPOOF_SHOWN) >= 3  # user agent, actor, description
    rendered = MarkdownIt("commonmark").enable("table").render(md)
    assert "".join(parse(rendered).text).count(SPOOF_SHOWN) >= 3


def scope_section() -> rep.Section:
    """The report's scope section (the report opens with what is exposed, then its scope)."""
    return next(s for s in rep.SECTIONS if s.id == "scope")


def test_a_backtick_in_a_file_name_stays_inside_its_code_span(spoofed):
    report, out = spoofed
    text = report.markdown.read_text(encoding="utf-8")
    rendered = parse(MarkdownIt("commonmark").enable("table").render(text))
    assert [t for t, _ in rendered.tags if t == "b"] == []
    gone = str(out / "evidence" / GONE)
    assert f"(not read: [Errno 2] No such file or directory: {gone!r})" in rendered.text
    row = next(line for line in text.splitlines() if "not read" in line)
    header = next(line for line in text.splitlines() if line.startswith("| file | bytes |"))
    assert row.count(" | ") == header.count(" | ")  # the '|' in the name did not add a cell


def one_event(tmp_path: Path) -> Path:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    records = json.dumps({"Records": [hostile_event()]})
    (evidence / "trail.json").write_text(records, encoding="utf-8")
    return evidence


def test_report_output_problems_are_one_line_errors_before_any_evidence_is_read(tmp_path,
                                                                                monkeypatch):
    evidence = one_event(tmp_path)
    (tmp_path / "charts-is-a-file" / "charts").parent.mkdir()
    (tmp_path / "charts-is-a-file" / "charts").write_text("a file")
    (tmp_path / "a-file").write_text("a file")
    read = []
    monkeypatch.setattr(Investigation, "from_evidence", lambda *a, **k: read.append(a))

    def run(out: Path) -> str:
        result = CliRunner().invoke(main, ["report", "--evidence", str(evidence),
                                           "--out", str(out)])
        assert result.exit_code == 1 and result.exception.__class__ is SystemExit, result.output
        assert result.output.count("\n") == 1 and "Traceback" not in result.output
        return result.output

    charts_file = tmp_path / "charts-is-a-file" / "charts"
    under_a_file = tmp_path / "a-file" / "out"
    assert run(charts_file.parent) == (f"Error: cannot write the report's charts: {charts_file} "
                                       "exists and is not a folder\n")
    assert run(under_a_file) == (f"Error: cannot make the report folder {under_a_file}: "
                                 "Not a directory\n")
    assert run(evidence / "out").startswith(
        f"Error: the report folder {evidence / 'out'} is inside the evidence")
    assert read == [] and sorted(p.name for p in evidence.iterdir()) == ["trail.json"]


def test_a_read_only_out_is_a_one_line_error(tmp_path, monkeypatch):
    evidence = one_event(tmp_path)

    def read_only(path, *args, **kwargs):  # open() on a read-only mount (root ignores chmod)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("audit_toolkit.paths.open", read_only, raising=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["report", "--evidence", str(evidence), "--out", str(out)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.splitlines()[-1].startswith(f"Error: cannot write {out / 'charts'}/")
    assert result.output.splitlines()[-1].endswith(": Permission denied")


def test_the_demo_prints_its_windows_as_a_table_with_whole_short_identities(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIT_TOOLKIT_LANGUAGE", "en")
    said: list[str] = []
    run_demo(tmp_path, events=300, seed=3, echo=said.append)
    text = "\n".join(said)
    table = next(s for s in said if s.startswith("account "))
    assert "Table(" not in text and "…" not in text
    assert "ops-admin / mallory" in table and "carol@example.com (SSO)" in table and "(SSO via" not in table
    assert "1 failed attempt to open a watched port" in text
    assert "- eni-0app000000000003 (i-0app000000000003): no flow log record from 2026-11-03 13:00 UTC to " \
           "2026-11-03 14:00 UTC (no files for those hours)" in text


def test_the_demo_keeps_what_was_opened_to_whom_at_80_columns_and_says_what_it_left_out(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIT_TOOLKIT_LANGUAGE", "en")
    monkeypatch.setenv("COLUMNS", "80")
    said: list[str] = []
    run_demo(tmp_path, events=300, seed=3, echo=said.append)
    table = next(s for s in said if s.startswith("group_id "))
    # whole group ids (20 columns) leave no room for both ports and cidr at 80: cidr is left out first
    # (an RDP window never reads as an SSH one), and said; ids never split
    assert table.splitlines()[0].split() == ["group_id", "ports", "opened_at", "opened_by", "still_open"]
    assert max(len(line) for line in table.splitlines()) <= 80
    assert said[said.index(table) + 1].split() == (
        "left out to fit the terminal: region, account, protocol, closed_by, closed_at, cidr (results/ holds "
        "every column in CSV and JSON)").split()
    assert said[said.index(table) + 2] == "times in UTC"


def test_the_demo_takes_tz_and_says_the_zone_of_its_table(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIT_TOOLKIT_LANGUAGE", "ja")
    result = CliRunner().invoke(main, ["demo", "--out", str(tmp_path), "--events", "300", "--seed", "3",
                                       "--tz", "JST"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    table = next(i for i, line in enumerate(lines) if line.startswith("account "))
    assert "時刻は Asia/Tokyo" in lines[table:]
    assert " 18:05:41" in "\n".join(lines[table:])  # mallory's 09:05:41 UTC opening, in JST
    bad = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "x"), "--tz", "Asia/Tokio"])
    assert bad.exit_code != 0 and not (tmp_path / "x").exists()


def test_the_demo_speaks_the_language_setting_on_the_terminal_too(tmp_path, monkeypatch):
    monkeypatch.delenv("AUDIT_TOOLKIT_LANGUAGE", raising=False)
    said: list[str] = []
    run_demo(tmp_path, events=300, seed=3, echo=said.append)
    lines = [line for text in said if not text.startswith("account ") for line in text.splitlines()]
    assert [m for line in lines for m in ENGLISH.findall(line)] == []
    assert "セキュリティグループのルール変更 24 件 (実行者 8 人)。監視対象のポートの公開に失敗した試み 1 件。" in lines
    assert "- eni-0app000000000003 (i-0app000000000003): 2026-11-03 13:00 UTC から 2026-11-03 14:00 UTC " \
           "までフローログの記録がありません (その時間帯のファイルなし)" in lines


def test_the_demo_never_writes_beside_evidence_it_did_not_write(tmp_path):
    from audit_toolkit.errors import OutputError

    case = tmp_path / "case"
    (case / "evidence" / "AWSLogs").mkdir(parents=True)
    (case / "evidence" / "AWSLogs" / "mine.json").write_text('{"Records": []}')
    (case / "ground_truth.json").write_text("precious")
    with pytest.raises(OutputError, match="holds evidence/AWSLogs/mine.json that no demo wrote there"):
        run_demo(case, events=300, seed=3, echo=lambda _: None)
    assert sorted(str(p.relative_to(case)) for p in case.rglob("*")) == [
        "evidence", "evidence/AWSLogs", "evidence/AWSLogs/mine.json", "ground_truth.json"]
    assert (case / "ground_truth.json").read_text() == "precious"


def test_the_demo_runs_again_in_its_own_folder_and_removes_only_what_it_wrote(tmp_path):
    from audit_toolkit.errors import OutputError

    run_demo(tmp_path, events=300, seed=3, echo=lambda _: None)
    first = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    stale = tmp_path / "evidence" / "stale.json"  # as if an earlier run with other settings wrote it
    stale.write_text("{}")
    record = tmp_path / ".audit-toolkit-demo.json"
    record.write_text(json.dumps(json.loads(record.read_text()) + ["evidence/stale.json"]))
    run_demo(tmp_path, events=300, seed=3, echo=lambda _: None)
    assert {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()} == first
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"  # an edited record never removes it
    outside.write_text("keep")
    record.write_text(json.dumps(json.loads(record.read_text()) + [f"../{outside.name}", str(outside)]))
    run_demo(tmp_path, events=300, seed=3, echo=lambda _: None)
    assert outside.read_text() == "keep"
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="holds notes.txt that no demo wrote there"):
        run_demo(tmp_path, events=300, seed=3, echo=lambda _: None)
    assert (tmp_path / "notes.txt").read_text() == "mine" and (tmp_path / "evidence").is_dir()


def test_the_lead_names_each_security_group_call_that_could_not_be_read(tmp_path):
    """Found by an attack review: a forged "GroupId" beside "groupId" set the opening aside with one
    stderr line, and the report's lead said nothing was exposed and nothing was missing."""
    from util import event

    ssh = {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22}
    request = {"groupId": "sg-9", "GroupId": "sg-other", "ipPermissions": {"items": [
        {**ssh, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}
    opened = event(1, eventName="AuthorizeSecurityGroupIngress", requestParameters=request)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "one.json").write_text(json.dumps({"Records": [opened]}), encoding="utf-8")
    facts = rep.actions_section(rep.Audit(Investigation.from_evidence(evidence, EN))).facts
    assert facts[0] == "0 windows still open to the internet on port 22 at the end of the range"
    assert facts[-1] == (
        "Evidence not fully used: 1 security-group call could not be read and may hide a window "
        "(event 00000000-0000-0000-0000-000000000001 (AuthorizeSecurityGroupIngress at "
        "2026-01-01T00:00:01Z by arn:aws:iam::111111111111:user/u1): requestParameters holds the "
        "key 'GroupId' twice in one object (case aside): which value is the evidence cannot be "
        "decided) "
        "(listed under “Time range and evidence” and on the command's stderr)")
    # in a Japanese report the call and its reason are Japanese too (they were English)
    facts = rep.actions_section(rep.Audit(Investigation.from_evidence(evidence, Settings(language="ja")))).facts
    assert ("(イベント 00000000-0000-0000-0000-000000000001 (2026-01-01T00:00:01Z の "
            "AuthorizeSecurityGroupIngress、実行者 arn:aws:iam::111111111111:user/u1): requestParameters の "
            "1 つのオブジェクトにキー 'GroupId' が (大文字小文字を除いて) 2 回あります: どちらの値が証跡か決められません)"
            in facts[-1])


def test_the_appendix_says_one_input_file_in_the_singular():
    inv = SimpleNamespace(engine=SimpleNamespace(name="duckdb"), settings=EN)
    assert rep.inputs_line(inv, [{}]) == "1 input file hashed"
    assert rep.inputs_line(inv, [{}, {}]) == "2 input files hashed"
    assert rep.inputs_line(SimpleNamespace(engine=inv.engine, settings=Settings(language="ja")), [{}]) == (
        "入力ファイル 1 個のハッシュ")


def test_the_lead_names_each_security_group_state_rule_that_could_not_be_read(tmp_path):
    """A state's rule of a reversed TCP range is one the analysis cannot measure, as the same call
    logged is: the lead names it among the evidence not fully used (issue 16)."""
    from util import event

    group = {"GroupName": "bastion", "GroupId": "sg-0ccc", "OwnerId": "111111111111", "VpcId": "vpc-1",
             "SecurityGroupArn": "arn:aws:ec2:us-east-1:111111111111:security-group/sg-0ccc",
             "IpPermissionsEgress": [], "IpPermissions": [
                 {"IpProtocol": "tcp", "FromPort": 65535, "ToPort": 0, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "one.json").write_text(json.dumps({"Records": [event(1)]}), encoding="utf-8")
    (evidence / "sg.json").write_text(json.dumps({"SecurityGroups": [group]}), encoding="utf-8")
    inv = Investigation.from_evidence(evidence, EN, state_at="2026-01-01T00:00:30Z")
    facts = rep.actions_section(rep.Audit(inv)).facts
    assert facts[-1] == (
        "Evidence not fully used: 1 security-group state rule could not be read and may hide a window "
        "(group sg-0ccc (111111111111/us-east-1) in the state at 2026-01-01T00:00:30Z: ingress tcp ports "
        "65535-0 from 0.0.0.0/0: a TCP or UDP rule whose FromPort is above its ToPort: no port range can "
        "be read, so that rule is not read (it may open a watched port)) "
        "(listed under “Time range and evidence” and on the command's stderr)")
    ja = Investigation.from_evidence(evidence, Settings(language="ja"), state_at="2026-01-01T00:00:30Z")
    said = rep.actions_section(rep.Audit(ja)).facts[-1]  # where and why in the report's language too
    assert ("状態 (2026-01-01T00:00:30Z) のグループ sg-0ccc (111111111111/us-east-1): ingress tcp ports "
            f"65535-0 from 0.0.0.0/0: {in_language(reason('reversed_ports'), 'ja')}") in said


def test_a_report_over_an_identity_of_900_kb_stays_small(tmp_path):
    # the exposure chart drew it whole: 2.5 GB, then MemoryError, and no report at all
    import os
    import subprocess
    import sys

    from PIL import Image

    record = hostile_event()
    arn = "arn:aws:iam::444444444444:user/" + "-".join(["ab"] * 300_000)
    record["userIdentity"] = {**record["userIdentity"], "arn": arn, "userName": arn[31:]}
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "long.json.gz").write_bytes(gzip.compress(json.dumps({"Records": [record]}).encode()))
    # The child says its own peak (VmHWM, this process's memory since exec) as it exits: wait4's ru_maxrss
    # also counts the parent's memory at fork, a whole test suite's in `make test` (1,015,952 KB there,
    # against 388 MB for the report alone).
    peak = ("import atexit, sys\n"
            "atexit.register(lambda: sys.stderr.write(next(l for l in open('/proc/self/status') "
            "if l.startswith('VmHWM:'))))\n"
            "from audit_toolkit.cli import main\n"
            "main(sys.argv[1:])\n")
    child = subprocess.run([sys.executable, "-c", peak, "report", "--evidence", str(evidence),
                            "--out", str(tmp_path / "out")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
    assert child.returncode == 0, child.stderr[-2000:]
    kilobytes = int(child.stderr.rsplit("VmHWM:", 1)[1].split()[0])
    assert kilobytes < 1_000_000  # KB: the 1 GB bound
    for name in ("exposure", "changes"):
        assert max(Image.open(tmp_path / "out" / "charts" / f"{name}.png").size) < 2000
    assert arn[31:] in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")  # the tables: whole
