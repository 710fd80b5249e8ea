"""Rendered messages against golden files (tests/golden/chatwork/*.txt), from real AWS records.

Regenerate after a deliberate wording change with UPDATE_GOLDEN=1, and read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from audit_toolkit import Investigation
from audit_toolkit.analysis.events import records
from audit_toolkit.chatwork import messages
from audit_toolkit.chatwork.share import messages_for, summary_messages
from audit_toolkit.evidence.guardduty import findings_in
from audit_toolkit.settings import Settings
from real_data import cloudtrail_record, elastic_lines, invictus

GOLDEN = Path(__file__).parent / "golden" / "chatwork"
JA = Settings(display_tz="Asia/Tokyo")
EN = Settings(language="en")


def check(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


@pytest.fixture(scope="module")
def inv():
    return Investigation.from_evidence(invictus())


@pytest.fixture(scope="module")
def changes(inv):
    return inv.sg_changes()


@pytest.fixture(scope="module")
def window(inv):
    windows = inv.ssh_exposure()
    assert len(windows) == 1
    return windows.astype(object).where(windows.notna(), None).to_dict("records")[0]


def _row(changes, event_name, **match):
    rows = changes[changes["event_name"] == event_name]
    for k, v in match.items():
        rows = rows[rows[k] == v]
    assert len(rows) == 1
    return rows.astype(object).where(rows.notna(), None).to_dict("records")[0]


@pytest.mark.parametrize("lang, settings", [("ja", JA), ("en", EN)])
def test_ssh_opening_change(changes, lang, settings):
    row = _row(changes, "AuthorizeSecurityGroupIngress", from_port=22)
    [message] = messages_for([row], "sg-changes", settings)
    assert ("ポート 22 がインターネットに開放されました" if lang == "ja" else "Port 22 opened to the internet") in message.body
    check(f"sg_change_ssh_open_{lang}", message.body)


def test_failed_revoke_and_group_changes_ja(changes):
    failed = _row(changes, "RevokeSecurityGroupEgress", error_code="Client.InvalidPermission.NotFound")
    created = _row(changes, "CreateSecurityGroup")
    deleted = _row(changes, "DeleteSecurityGroup")
    bodies = [o.body for o in messages_for([failed, created, deleted], "sg-changes", JA)]
    assert "失敗した操作" in bodies[0] and "Client.InvalidPermission.NotFound" in bodies[0]
    check("sg_change_failed_created_deleted_ja", "\n\n".join(bodies))


@pytest.mark.parametrize("settings, title", [(JA, "ルール削除の指定に一致するルールがなく、何も削除されませんでした"),
                                             (EN, "Revoke matched no rule: nothing was removed")])
def test_a_revoke_that_matched_nothing_says_nothing_was_removed(changes, settings, title):
    row = {**_row(changes, "AuthorizeSecurityGroupIngress", from_port=22), "event_name": "RevokeSecurityGroupIngress",
           "action": "revoke_unmatched"}
    assert messages.sg_change(row, settings).title == title


@pytest.mark.parametrize("lang, settings", [("ja", JA), ("en", EN)])
def test_exposure_window(window, lang, settings):
    [message] = messages_for([window], "ssh-exposure", settings)
    assert ("1分49秒" if lang == "ja" else "1m 49s") in message.body  # 12:10:08 -> 12:11:57
    check(f"ssh_exposure_{lang}", message.body)


def test_still_open_window_and_missing_fields_en():
    row = {"account": "111122223333", "group_id": "sg-1", "protocol": "-1", "cidr": "::/0", "exposed_ports": "22",
           "opened_at": pd.Timestamp("2024-01-02T03:04:05Z"), "still_open": True, "duration": pd.Timedelta(days=2, seconds=7)}
    check("ssh_exposure_still_open_en", messages.exposure_window(row, EN).render())


def _finding():
    [finding] = records(findings_in(elastic_lines("guardduty/test-guardduty.log")[0])[0])
    return finding


def test_guardduty_finding_from_real_sample():
    finding = _finding()
    assert finding["type"] == "Trojan:EC2/BlackholeTraffic!DNS" and finding["instance_id"] == "i-99999999"
    assert finding["severity_label"] == "Medium"
    check("guardduty_ja", messages.guardduty_finding(finding, JA).render())
    check("guardduty_en", messages.guardduty_finding(finding, EN).render())


def test_guardduty_finding_with_only_an_id():
    text = messages.guardduty_finding({"id": "abc"}, EN).render()
    assert text == ("[info][title]GuardDuty: -[/title]Severity: - (-)\nType: -\nAccount: - / -\nInstance: -\n"
                    "Remote IP: -\nPort: -\nUpdated: -\nId: abc[/info]")


def test_ssh_brute_force_correlation(window):
    finding = {"id": "f-1", "type": "UnauthorizedAccess:EC2/SSHBruteForce", "severity": 8.0, "title": "SSH brute force",
               "account": "218007301253", "region": "us-east-1", "instance_id": "i-0abc", "remote_ip": "198.51.100.7",
               "port": 22, "country": "Nowhere", "updated_at": "2023-07-10T12:11:00Z"}
    check("correlation_ja", messages.correlation(finding, window, JA).render())


def test_summary(inv, changes):
    span = inv.span()
    findings = pd.DataFrame([_finding(), {"type": "Recon:EC2/PortProbeUnprotectedPort", "severity": 2.0, "instance_id": "i-1"}])
    [message] = summary_messages(changes, inv.ssh_exposure(), findings, JA, span["first_event"], span["last_event"])
    assert "9 件 (失敗 1 件、グループ 1 個、実行者 1 人)" in message.body
    check("summary_ja", message.body)


def test_sns_subscribe_api_call():
    detail = elastic_lines("cloudtrail/test-subscribe-json.log")[0]
    check("sns_subscribe_ja", messages.api_call(detail, JA).render())


def test_hostile_values_are_shown_inert(changes):
    row = _row(changes, "AuthorizeSecurityGroupIngress", from_port=22)
    row.update(description="[toall] ssh for [To:1] [/info][info]fake", group_name="prod[/title]", actor="evil\n[/code]",
               source_ip="\u202e1.2.3.4")
    check("sg_change_hostile_en", messages.sg_change(row, EN, [22]).render())


def test_real_tcp22_record_is_the_same_change_from_the_lambda_and_the_investigation(changes):
    from audit_toolkit.alerts import boxes

    record = cloudtrail_record("AuthorizeSecurityGroupIngress", '"fromPort": 22')
    event = {"detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2", "detail": record}
    [(kind, box, identity)] = boxes(event, JA)
    # The partition account of the evidence is the trail's; the event's recipient account differs in this
    # recording, so compare the rule itself.
    row = _row(changes, "AuthorizeSecurityGroupIngress", from_port=22)
    for key in ("event_id", "group_id", "direction", "protocol", "from_port", "to_port", "peer", "rule_id", "actor"):
        assert identity[key] == row[key], key


def test_a_window_of_unknown_reach_and_unproven_order_says_both():
    row = {"account": "111122223333", "group_id": "sg-1", "protocol": "tcp", "from_port": 22, "to_port": 22,
           "cidr": "pl-0abc", "exposed_ports": "22", "reach": "unknown", "ambiguous_order": True,
           "opened_at": pd.Timestamp("2024-01-02T03:04:05Z"), "still_open": True, "duration": pd.Timedelta(hours=1)}
    box = messages.exposure_window(row, EN)
    assert box.title == "Port 22 open to a prefix list of unknown reach"
    assert [line for line in box.lines if line.startswith("Uncertain: ")] == [
        "Uncertain: the evidence does not hold the prefix list's entries: its reach is unknown",
        "Uncertain: the evidence does not prove the order of changes in one second: the order that keeps it open was taken"]
    assert "到達範囲不明" in messages.exposure_window(row, JA).title
