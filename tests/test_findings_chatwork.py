"""Findings and correlations shared to Chatwork: rendered from Investigation's frames, escaped, each once,
and a finding the real-time alert posted is the same message for `notify --kind findings`."""

from __future__ import annotations

import gzip
import json

from click.testing import CliRunner

from audit_toolkit import alerts
from audit_toolkit.chatwork.share import infer_kind, messages_for, outgoing
from audit_toolkit.cli import main
from audit_toolkit.settings import Settings

EN = Settings(language="en", display_tz="UTC")


def dry_run(demo, tmp_path, *args) -> list[dict]:
    result = CliRunner().invoke(main, ["notify", "--evidence", str(demo / "evidence"), "--room", "42", "--dry-run",
                                       "--format", "json", "--outbox", str(tmp_path / "outbox.sqlite"), *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_notify_findings_and_correlations(demo, tmp_path):
    findings = dry_run(demo, tmp_path, "--kind", "findings")
    assert len(findings) == 11 and {m["kind"] for m in findings} == {"guardduty"}
    high = dry_run(demo, tmp_path, "--kind", "findings", "--min-severity", "7")
    assert len(high) == 1 and "CryptoCurrency:EC2/BitcoinTool.B!DNS" in high[0]["body"]
    tied = dry_run(demo, tmp_path, "--kind", "correlations")
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
