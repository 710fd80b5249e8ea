"""The report in the language setting (`ja` by default, `en`): every heading, sentence, table header
and chart label in that language, values from the logs as they are; golden files for a small report
in both (tests/golden/report/*.md, up to the appendix). UPDATE_GOLDEN=1 rewrites them."""

from __future__ import annotations

import json
import os
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import pytest

from audit_toolkit import report as rep
from audit_toolkit.analysis.detections import CATALOGUE
from audit_toolkit.investigation import Investigation
from audit_toolkit.phrases import TEXT
from audit_toolkit.settings import Settings
from detection_cases import ALICE, ROLE, call
from util import ALLOWED_ASCII, ENGLISH, log_words, phrase_values

GOLDEN = Path(__file__).parent / "golden" / "report"
EC2, CT = "ec2.amazonaws.com", "cloudtrail.amazonaws.com"
SSH = {"groupId": "sg-0a1b2c3d4e5f60718", "ipPermissions": {"items": [
    {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}
# A role session opens SSH to the internet, alice closes it; the role fails to stop the trail, and
# opens SSH on a second group that stays open.
RECORDS = [
    call(EC2, "AuthorizeSecurityGroupIngress", SSH, {"_return": True}, identity=ROLE,
         eventTime="2026-11-03T09:00:00Z", eventID="00000000-0000-4000-8000-000000000001"),
    call(EC2, "RevokeSecurityGroupIngress", SSH, {"_return": True}, identity=ALICE,
         eventTime="2026-11-03T11:30:00Z", eventID="00000000-0000-4000-8000-000000000002"),
    call(CT, "StopLogging", {"name": "main-trail"}, error="AccessDenied", identity=ROLE,
         eventTime="2026-11-03T12:00:00Z", eventID="00000000-0000-4000-8000-000000000003"),
    call(EC2, "AuthorizeSecurityGroupIngress", {**SSH, "groupId": "sg-0f1e2d3c4b5a69788"}, {"_return": True},
         identity=ROLE, eventTime="2026-11-03T12:30:00Z", eventID="00000000-0000-4000-8000-000000000004"),
]
# Words the Japanese report may hold beyond chat's: the toolkit's and the engine's names, the
# report's file name, AWS Config and EC2, CIDR, AWS CLI, file names, and what the catalogue names
# in English by design
# (MITRE's technique names, detection ids).
REPORT_WORDS = {"audit", "toolkit", "report", "html", "Config", "EC", "CIDR", "duckdb", "CLI",
                # the files and the command the digest chain's notes name
                "public", "keys", "json", "Digest", "aws", "cloudtrail", "list"} | {
    w for d in CATALOGUE for w in re.findall(r"[A-Za-z]+", f"{d.technique} {d.id}")}


@pytest.fixture(scope="module")
def evidence(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lang") / "evidence"
    folder.mkdir()
    (folder / "trail.json").write_text(json.dumps({"Records": RECORDS}), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def written(evidence, tmp_path_factory) -> dict[str, rep.Report]:
    out = tmp_path_factory.mktemp("reports")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reports = {lang: rep.write_report(Investigation.from_evidence(evidence, Settings(language=lang)),
                                          out / lang) for lang in ("ja", "en")}
    reports["warnings"] = [str(w.message) for w in caught]
    return reports


def _sections(report: rep.Report) -> str:
    """The Markdown up to the evidence appendix (the appendix is file paths, hashes and SQL), with
    the time it was written and the evidence folder masked."""
    text = report.markdown.read_text(encoding="utf-8")
    text = text[:text.index(f"## {report.words['appendix']}")]
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC \(audit\\_toolkit [^)]*\)", "(written)", text, count=1)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC by audit\\_toolkit [\d.]*\d", "(written)", text, count=1)
    return text.replace(str(report.markdown.parents[2]).replace("_", "\\_"), "<tmp>")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_small_report_against_its_golden_file(written, lang):
    text = _sections(written[lang])
    path = GOLDEN / f"small_{lang}.md"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"the {lang} report differs from {path.name}"


def test_the_japanese_report_holds_no_english_but_what_the_logs_say(written, evidence):
    report = written["ja"]
    text = re.sub(r"<tmp>\S*|\(written\)|\]\(charts/\w+\.png\)", "", _sections(report))  # masks, image files
    # What the digest chain could not check, in Japanese too (its file names stay as they are).
    notes = re.findall(r"^- 未確認: (.*)$", text, flags=re.M)
    assert [n[:9] for n in notes] == ["公開鍵がありません", " にダイジェストフ"]
    allowed = ALLOWED_ASCII | REPORT_WORDS | log_words(RECORDS)
    assert set(re.findall(r"[A-Za-z]+", text)) - allowed == set()
    # every heading, caption and header in Japanese: none is the English report's
    english = written["en"]
    assert [s.title for s, _ in report.parts] == [
        "対応が必要なこと", "範囲の終わりに公開中のもの", "期間と証跡", "セキュリティグループの変更", "公開期間",
        "GuardDuty の検出結果", "検知", "証跡のカバー範囲", "セキュリティグループの状態とログ"]
    ja_tables = [t for _, p in report.parts for t in p.tables + [t for _, s in p.subsections for t in s.tables]]
    en_tables = [t for _, p in english.parts for t in p.tables + [t for _, s in p.subsections for t in s.tables]]
    assert len(ja_tables) == len(en_tables) > 0
    for ja, en in zip(ja_tables, en_tables):
        assert ja.caption != en.caption and not re.search(r"[A-Za-z]{3}", ja.caption)
        assert all(not re.fullmatch(r"[A-Za-z ]+", c) or c in ("CIDR",) for c in ja.columns), ja.columns
    assert [c.caption for c in report.charts] == [
        "セキュリティグループの変更の推移 (実行者別)", "ポート 22 のインターネットへの公開期間"]
    html = report.html.read_text(encoding="utf-8")
    assert '<html lang="ja">' in html and "<h2>証跡の付録</h2>" in html


def test_the_japanese_report_says_the_detection_detail_and_actors_in_japanese(written):
    report = written["ja"]
    sub = dict(dict((s.id, p) for s, p in report.parts)["detections"].subsections)["CloudTrail ログ記録の停止"]
    [row] = sub.tables[0].rows
    assert row[4:8] == ["未遂", "main-trail", "未遂: ログ記録を停止",
                        "ops / alice"]
    actions = dict((s.id, p) for s, p in report.parts)["actions"].facts[0]
    assert actions == ("範囲の終わりにポート 22 をインターネットに公開中の期間 1 件: sg-0f1e2d3c4b5a69788 "
                       "(2026-11-03 12:30:00 UTC から、公開したのは ops / alice)")


def test_the_lead_names_evidence_that_was_not_fully_used(evidence, tmp_path):
    """An unreadable file and a rejected record are gaps in the evidence: the lead says so, in the
    report's language, and a clean read (the golden files) adds no line."""
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / "trail.json").write_text((evidence / "trail.json").read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "broken.json").write_text("garbage", encoding="utf-8")
    (folder / "odd.json").write_text(json.dumps({"Records": [{"eventTime": "2026-11-03T09:00:00Z"}]}))
    leads = {}
    for lang in ("ja", "en"):
        report = rep.write_report(Investigation.from_evidence(folder, Settings(language=lang)), tmp_path / lang)
        leads[lang] = dict((s.id, p) for s, p in report.parts)["actions"].facts[-1]
    assert leads == {
        "ja": "証跡の問題: 読めないファイル 1 個、除外したレコード 1 件 (「期間と証跡」とコマンドの標準エラーに一覧)",
        "en": "Evidence not fully used: 1 file could not be read, 1 record rejected (listed under “Time range "
              "and evidence” and on the command's stderr)"}


FLOW_HEADER = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
               "start end action log-status")


def test_every_kind_of_evidence_lists_its_problem_files_with_why_in_the_report_language(evidence, tmp_path):
    """CloudTrail, GuardDuty, state and flow logs each list the files they could not fully use, the
    toolkit's reasons in the report's language around the evidence's values (still escaped), DuckDB's
    reason for a line of the wrong width too."""
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / "trail.json").write_text((evidence / "trail.json").read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "odd.json").write_text(json.dumps({"Records": [
        {"eventTime": "<b>9</b>", "eventName": "X", "eventSource": "y", "userIdentity": {}}]}))
    (folder / "findings.json").write_text(json.dumps({"findings": [{"schemaVersion": "2.0", "id": "f1"}]}))
    (folder / "describe-security-groups.json").write_text(json.dumps(
        {"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": []}]}))
    (folder / "flows.log").write_text(f"{FLOW_HEADER}\n2 111111111111 eni-0a 198.51.100.7 10.0.0.5 50000 22 6 "
                                      "10 840 1793696400 1793696460 ACCEPT OK\n2 111111111111 eni-0a\n")
    tables = {}
    for lang in ("ja", "en"):
        report = rep.write_report(Investigation.from_evidence(folder, Settings(language=lang)), tmp_path / lang)
        [problems] = [t for t in dict((s.id, p) for s, p in report.parts)["scope"].tables
                      if t.caption == TEXT[lang]["report.table.bad_files"]]
        tables[lang] = [problems.columns, *[[c.replace(str(folder), "<ev>") for c in r] for r in problems.rows]]
        html = report.html.read_text(encoding="utf-8")
        assert "&#39;&lt;b&gt;9&lt;/b&gt;&#39;" in html and "<b>9</b>" not in html
    assert tables["ja"] == [
        ["証跡の種類", "ファイル", "読み込み", "使用", "除外", "理由"],
        ["CloudTrail", "<ev>/odd.json", "1", "0", "1", "レコード 0: eventTime が ISO 8601 の時刻ではありません: "
         "'<b>9</b>' は YYYY-MM-DDThh:mm:ssZ の形式ではありません"],
        ["GuardDuty", "<ev>/findings.json", "1", "0", "1",
         "レコード 0: id または type がありません: GuardDuty の検出結果ではありません"],
        ["セキュリティグループの状態", "<ev>/describe-security-groups.json", "0", "0", "0",
         "describe の出力には取得時刻がありません: --state-at (ISO 8601) で取得時刻を指定するか、時刻を記録する "
         "`audit-toolkit collect --state` で収集してください"],
        ["VPC フローログ", "<ev>/flows.log", "2", "1", "1", "3 行目: 列の数が 14 ではなく 3 です"]]
    assert tables["en"] == [
        ["evidence", "file", "read", "used", "rejected", "why"],
        ["CloudTrail", "<ev>/odd.json", "1", "0", "1", "record 0: eventTime is not an ISO 8601 time: "
         "'<b>9</b>' is not of the form YYYY-MM-DDThh:mm:ssZ"],
        ["GuardDuty", "<ev>/findings.json", "1", "0", "1", "record 0: no id or type: not a GuardDuty finding"],
        ["security-group state", "<ev>/describe-security-groups.json", "0", "0", "0",
         "describe output does not say when it was taken: give its capture time with --state-at (ISO 8601), "
         "or collect it with `audit-toolkit collect --state`, which records it"],
        ["VPC flow logs", "<ev>/flows.log", "2", "1", "1", "line 3: Expected Number of Columns: 14 Found: 3"]]


def test_the_english_report_is_english_throughout(written):
    text = _sections(written["en"])
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff\u3000-\u303f\uff01-\uff5e]", text)


def test_japanese_charts_draw_every_glyph(written):
    """matplotlib warns 'Glyph ... missing from font' when a character has no glyph: the Japanese
    charts use the bundled IPAex Gothic (matplotlib-fontja)."""
    assert [w for w in written["warnings"] if "missing from" in w or "Glyph" in w] == []
    assert written["ja"].charts and all(c.png.startswith(b"\x89PNG") for c in written["ja"].charts)


class _Prose(HTMLParser):
    """The HTML's text outside code, preformatted text and styles, up to the evidence appendix."""

    def __init__(self, appendix: str):
        super().__init__()
        self.appendix, self.tag, self.inside, self.done, self.texts = appendix, "", 0, False, []

    def handle_starttag(self, tag, attrs):
        self.tag = tag
        self.inside += tag in ("code", "pre", "style", "script")

    def handle_endtag(self, tag):
        self.inside -= tag in ("code", "pre", "style", "script")

    def handle_data(self, data):
        self.done = self.done or (self.tag == "h2" and data == self.appendix)
        if not (self.inside or self.done):
            self.texts.append(data)


def test_the_demo_report_in_japanese_holds_no_english_sentence_but_the_logs(demo, truth, tmp_path):
    inv = Investigation.from_evidence(demo / "evidence", Settings(language="ja"),
                                      state_at=truth["state_at"])
    report = rep.write_report(inv, tmp_path / "ja")
    prose = _Prose(report.words["appendix"])
    prose.feed(report.html.read_text(encoding="utf-8"))
    hits = inv.detect()
    # What the evidence says in English, shown as it is: GuardDuty's titles, the groups' own
    # descriptions, the values in a detection's detail; and MITRE's technique names.
    evidence = "\n".join(map(str, [
        *inv.findings()["title"], *inv.sg_changes()["description"].dropna(),
        *[v for said in hits["detail_phrase"] for v in phrase_values(said)],
        *[d.technique for d in CATALOGUE]]))
    english = {m for text in prose.texts for m in ENGLISH.findall(text) if m not in evidence}
    assert english == set()
    parts = dict((s.id, p) for s, p in report.parts)
    [disagreements] = parts["reconcile"].tables
    assert disagreements.rows[0][3:9] == [
        "sg-03c0000000000000c (build-runner)", "インバウンド tcp/22 送信元 0.0.0.0/0",
        "2026-09-01 00:00:00 UTC", "2026-11-02 13:10:00 UTC",
        "一部がログの開始前。欠落もログ記録の停止もない: ログはあり、操作を記録していない",
        "以前の状態にはなく、この状態にある"]
    gaps = parts["connections"].tables[-1]
    assert ["eni-0ba5710n00000001 (i-0ba5710n000000001): 2026-11-03 11:10 UTC から "
            "2026-11-03 11:20 UTC まで NODATA: フローログは通信を記録していません"] in [
        r[-1:] for r in gaps.rows]


def test_every_security_group_action_has_a_japanese_label():
    """The report's tables show a change's action in the room's language; prefix-list entries
    added or removed were shown as their code."""
    from audit_toolkit.analysis import exposure, security_groups
    from audit_toolkit.phrases import TEXT as PHRASES

    actions = {a for a, _ in security_groups._ACTIONS.values()} | set(exposure._CLOSE_REASONS)
    assert {a for a in actions if f"report.value.action.{a}" not in PHRASES["ja"]} == set()
