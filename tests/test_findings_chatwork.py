"""Findings and correlations shared to Chatwork: rendered from Investigation's frames, escaped, each once,
and a finding the real-time alert posted is the same message for `notify --kind findings`."""

from __future__ import annotations

import gzip
import json
import random

from click.testing import CliRunner

from audit_toolkit import alerts
from audit_toolkit.chatwork.share import infer_kind, messages_for, outgoing
from audit_toolkit.cli import main
from audit_toolkit.settings import Settings
from audit_toolkit.synthetic import Scenario, write_findings
from real_data import elastic_lines

EN = Settings(language="en", display_tz="UTC")


def dry_run(demo, tmp_path, *args, evidence=None) -> list[dict]:
    """notify --dry-run, which needs no --room."""
    result = CliRunner().invoke(main, ["notify", "--evidence", str(evidence or demo / "evidence"), "--dry-run",
                                       "--format", "json", "--outbox", str(tmp_path / "outbox.sqlite"), *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def titles(messages: list[dict]) -> list[str]:
    return [m["body"].split("[title]", 1)[1].split("[/title]", 1)[0] for m in messages]


def test_notify_findings_and_correlations(demo, tmp_path):
    findings = dry_run(demo, tmp_path, "--kind", "findings", "--min-severity", "low")
    assert len(findings) == 10 and {m["kind"] for m in findings} == {"guardduty"}
    assert len(dry_run(demo, tmp_path, "--kind", "findings")) == 1  # below medium is left out unless asked for
    high = dry_run(demo, tmp_path, "--kind", "findings", "--min-severity", "7")
    assert len(high) == 1 and "CryptoCurrency:EC2/BitcoinTool.B!DNS" in high[0]["body"]
    assert dry_run(demo, tmp_path, "--kind", "correlations") == []  # the brute forces are low
    tied = dry_run(demo, tmp_path, "--kind", "correlations", "--min-severity", "low")
    assert len(tied) == 5 and {m["kind"] for m in tied} == {"correlations"}
    assert len({m["fingerprint"] for m in tied}) == 5
    bastion = next(m["body"] for m in tied if "i-0ba5710n000000001" in m["body"])
    assert "UnauthorizedAccess:EC2/SSHBruteForce" in bastion and "sg-0a000000000000001" in bastion and "198.51.100.7" in bastion
    summary = dry_run(demo, tmp_path, "--kind", "summary")
    assert "CryptoCurrency:EC2/BitcoinTool.B!DNS" in summary[0]["body"]


def test_the_flat_frames_are_recognised_and_escaped(demo_inv):
    tied = demo_inv.correlate()
    assert infer_kind(tied) == "correlations" and infer_kind(demo_inv.findings()) == "guardduty"
    hostile = tied.head(1).assign(finding_type="[/info][toall] x", remote_country="[To:1] y")
    (message,) = messages_for(hostile, settings=EN)
    assert "[toall]" not in message.body and "[To:1]" not in message.body
    assert "x" in message.body and "Port: 22" in message.body


def test_an_alerted_finding_is_the_same_message_for_notify(demo, demo_inv):
    line = next((demo / "evidence").rglob("*.jsonl.gz"))
    finding = json.loads(gzip.decompress(line.read_bytes()).splitlines()[0])
    event = {"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": finding}
    (alerted,) = outgoing(alerts.boxes(event, EN, min_severity=0))
    frame = demo_inv.findings()
    (shared,) = messages_for(frame[frame["id"] == finding["id"]], settings=EN)
    assert alerted.fingerprint == shared.fingerprint


def test_sample_findings_are_left_out_unless_asked_for_and_then_tagged(tmp_path):
    real = [f for f in elastic_lines("guardduty/test-guardduty.log") if "id" in f]  # 4 samples, 1 not
    write_findings(Scenario(random.Random(0), findings=real), tmp_path / "evidence")
    plain = titles(dry_run(None, tmp_path, "--kind", "findings", evidence=tmp_path / "evidence"))
    assert plain == ["【中】GuardDuty の検出: A container is communicating with a docker socket."]
    every = titles(dry_run(None, tmp_path, "--kind", "findings", "--include-samples", evidence=tmp_path / "evidence"))
    assert len(every) == 5 and sum("【サンプル】" in t for t in every) == 4
    assert every[0] == ("【高】【サンプル】GuardDuty の検出: Kubernetes API commonly used in Persistence tactics invoked "
                        "by the anonymous user.")


def test_notify_digest_posts_one_message_counting_by_kind_and_severity(demo, tmp_path):
    [digest] = dry_run(demo, tmp_path, "--digest")
    assert digest["kind"] == "digest"
    lines = digest["body"].split("\n")
    assert lines[0] == "[info][title]監査ダイジェスト: 150 件[/title]2026-11-02 00:00:00 UTC から 2026-11-04 23:59:19 UTC まで"
    assert lines[1:5] == ["インターネット公開: 11 件 (高 2 件、中 9 件)",
                          "セキュリティグループの変更: 24 件 (高 7 件、中 1 件、低 4 件、情報 12 件)",
                          "検知: 114 件 (重大 10 件、高 61 件、中 32 件、低 11 件)",  # 8 of them SSH openings
                          "GuardDuty の検出: 1 件 (高 1 件)"]
    top = [line for line in lines if line.startswith("- ")]
    assert len(top) == 10 and top[0] == "- 【重大】検知: CloudTrail 証跡の削除"
    assert "ほか 140 件はレポートを参照してください。[/info]" in lines
    days = dry_run(demo, tmp_path, "--digest", "--per-day")
    # the windows known from state (demo ground truth) opened in 2025, each counted on its day
    assert titles(days) == ["監査ダイジェスト 2025-03-14: 1 件", "監査ダイジェスト 2025-11-30: 1 件",
                            "監査ダイジェスト 2026-11-02: 5 件", "監査ダイジェスト 2026-11-03: 38 件",
                            "監査ダイジェスト 2026-11-04: 105 件"]


def test_notify_without_a_room_posts_nothing_and_says_why(demo):
    result = CliRunner().invoke(main, ["notify", "--evidence", str(demo / "evidence")])
    assert result.exit_code == 2 and "Error: --room is needed to post; only --dry-run works without one" in result.output
    assert "Traceback" not in result.output
