"""The Lambda handler with real-shaped EventBridge and SNS events built around real CloudTrail records."""

from __future__ import annotations

import json
import random

import pandas as pd
import pytest
from moto.events.models import EventPattern

from audit_toolkit import Investigation, alerts
from audit_toolkit.analysis.events import records
from audit_toolkit.analysis.security_groups import EC2_GROUP_EVENTS
from audit_toolkit.chatwork import messages
from audit_toolkit.chatwork.client import ChatworkClient, Token
from audit_toolkit.chatwork.outbox import Outbox
from audit_toolkit.errors import ConfigError
from audit_toolkit.settings import Settings
from audit_toolkit.synthetic import STORIES, Scenario, write_findings
from fake_chatwork import TOKEN, api, clock  # noqa: F401 (api, clock: fixtures)
from aws_events import eventbridge, sns
from real_data import cloudtrail_record, elastic_lines
from test_chatwork_notation import live_tags
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


@pytest.fixture
def ssh_open():
    return eventbridge(cloudtrail_record("AuthorizeSecurityGroupIngress", '"fromPort": 22'))


@pytest.fixture
def others():
    return {
        "tls_open": eventbridge(cloudtrail_record("AuthorizeSecurityGroupIngress", '"fromPort": 443')),
        "ssh_close": eventbridge(cloudtrail_record("RevokeSecurityGroupIngress")),
        "subscribe": eventbridge(elastic_lines("cloudtrail/test-subscribe-json.log")[0]),
        "create_topic": eventbridge(elastic_lines("cloudtrail/test-create-topic-json.log")[0]),
        "gd_high": eventbridge(elastic_lines("guardduty/test-guardduty.log")[1], "GuardDuty Finding"),  # severity 8
        "gd_medium": eventbridge(elastic_lines("guardduty/test-guardduty.log")[0], "GuardDuty Finding"),  # 5
        "describe": eventbridge(cloudtrail_record("DescribeSecurityGroups")),
        "detector": eventbridge(elastic_lines("cloudtrail/test-delete-detector-json.log")[0]),
    }


def run(event, api, clock, tmp_path, min_severity=4.0, samples=True):
    """The handler; the real GuardDuty records here are all sample findings, so samples are asked for."""
    client = ChatworkClient(Token(TOKEN), base_url=api.base, clock=clock, sleep=clock.sleep)
    return alerts.handle(event, client, "42", Settings(display_tz="Asia/Tokyo"), Outbox(tmp_path / "o.sqlite"),
                         min_severity, samples)


def titles(api) -> list[str]:
    return [b.split("[title]", 1)[1].split("[/title]", 1)[0] for b in api.bodies()]


def test_raw_eventbridge_ssh_opening(api, clock, tmp_path, ssh_open):
    report = run(ssh_open, api, clock, tmp_path)
    assert len(report.sent) == 1
    assert titles(api) == ["【高】SSH(22) をインターネットに公開"]
    [body] = api.bodies()
    assert "sg-04cfb7a4712d75b00" in body and "TCP 22 ← 0.0.0.0/0" in body and "2023-07-10 21:10:08 JST" in body
    post = [r for r in api.state.requests if r["method"] == "POST"][0]
    assert post["content_type"] == "application/x-www-form-urlencoded" and post["query"] == ""  # not the blog's query string


def test_every_record_of_an_sns_batch_is_read(api, clock, tmp_path, ssh_open, others):
    batch = sns(ssh_open, *others.values())
    report = run(batch, api, clock, tmp_path)
    assert titles(api) == [
        "【高】SSH(22) をインターネットに公開",
        "【情報】インバウンドルールを追加: TCP 443",  # tcp/443 is not a watched port
        "【低】SSH(22) のインターネット公開を終了",
        "【中】検知: SNS サブスクリプションの変更",  # a hit of the catalogue, posted as `notify --kind detections` would
        "【情報】SNS トピックを作成",
        "【高】【サンプル】GuardDuty の検出: Kubernetes API commonly used in Persistence tactics invoked by the anonymous user.",
        "【中】【サンプル】GuardDuty の検出: Blackholed domain name queried by EC2 instance i-99999999.",
        "【重大】検知: GuardDuty ディテクターの削除",  # the detection catalogue's guardduty_detector_deleted
    ]  # DescribeSecurityGroups is not watched by this handler
    assert len(report.sent) == 8
    # SNS and Lambda deliver at least once: the same batch again posts nothing.
    assert len(run(batch, api, clock, tmp_path).sent) == 0 and len(api.bodies()) == 8


def test_a_cold_container_with_a_new_outbox_does_not_post_again(api, clock, tmp_path, ssh_open, others):
    batch = sns(ssh_open, others["subscribe"])
    assert len(run(batch, api, clock, tmp_path / "first").sent) == 2
    gets = sum(r["method"] == "GET" for r in api.state.requests)
    # Redelivered to another container: its /tmp outbox is empty, the room is what remembers.
    again = run(batch, api, clock, tmp_path / "second")
    assert len(again.sent) == 0 and len(again.skipped) == 2 and len(api.bodies()) == 2
    assert sum(r["method"] == "GET" for r in api.state.requests) == gets + 1  # one look at the room per batch


def test_guardduty_findings_below_the_severity_are_not_posted(api, clock, tmp_path, others):
    run(sns(others["gd_high"], others["gd_medium"]), api, clock, tmp_path, min_severity=7.0)
    assert titles(api) == ["【高】【サンプル】GuardDuty の検出: Kubernetes API commonly used in Persistence tactics invoked by the anonymous user."]
    assert "8.0 (高)" in api.bodies()[0]  # the severity as the batch renders it


def test_a_finding_by_eventbridge_gives_the_fields_of_the_same_finding_read_from_the_export(tmp_path):
    """One flattener for the alert and the batch: every real and synthetic finding, as EventBridge delivers
    it, gives the fields (and exactly the message) `findings` gives for it read from the S3 export."""
    story = Scenario(random.Random(11))
    for play in STORIES:
        play(story)
    last = {f["id"]: f for f in sorted(story.findings, key=lambda f: f["updatedAt"])}  # the export's latest of each
    real = [f for f in elastic_lines("guardduty/test-guardduty.log") if "id" in f]
    findings = real + list(last.values())
    write_findings(Scenario(random.Random(0), findings=findings), tmp_path)
    batch = {f["id"]: f for f in records(Investigation.from_evidence(tmp_path).findings())}
    assert (len(real), len(last), len(batch)) == (5, 11, 16)
    settings = Settings(display_tz="Asia/Tokyo")
    for finding in findings:
        [(kind, box, fields)] = alerts.boxes(eventbridge(finding, "GuardDuty Finding"), settings, 0, True)
        expected = batch[finding["id"]]
        assert kind == "guardduty" and set(fields) == set(expected), finding["id"]
        # The batch has pandas types (Timestamp, Int64); the Lambda plain ones: the same values.
        for key, value in fields.items():
            want = expected[key]
            if key in ("created_at", "updated_at", "first_seen", "last_seen") and value is not None:
                value = pd.Timestamp(value)
            assert value == want or (value != value and want != want), (finding["id"], key, value, want)
        assert box.render() == messages.guardduty_finding(expected, settings).render()
    # Spot checks that the fields are the normalized ones: bands, groups, the action's remote end.
    brute = batch["5e" + "1".rjust(30, "0")]
    assert (brute["severity"], brute["severity_label"], brute["security_group_ids"], brute["remote_ip"], brute["local_port"],
            brute["remote_country"], brute["remote_org"], brute["count"]) == (
        2.0, "Low", "sg-0a000000000000001", "198.51.100.7", 22, "Netherlands", "Example Hosting B.V.", 412)


def test_sample_findings_are_left_out_unless_asked_for(api, clock, tmp_path, others):
    assert alerts.boxes(others["gd_high"], Settings(), 0) == []  # additionalInfo.sample: true
    run(sns(others["gd_high"]), api, clock, tmp_path, samples=False)
    assert api.bodies() == []
    run(sns(others["gd_high"]), api, clock, tmp_path, samples=True)
    assert len(api.bodies()) == 1


def test_a_guardduty_event_that_is_not_a_finding_is_logged_not_posted(caplog):
    event = eventbridge({"accountId": "111111111111", "region": "us-east-1", "severity": 8}, "GuardDuty Finding")
    assert alerts.boxes(event, Settings()) == []
    assert f"GuardDuty finding in event {event['id']}: no id or type: not a GuardDuty finding" in caplog.text


def test_a_malformed_record_does_not_hide_the_rest(api, clock, tmp_path, ssh_open, caplog):
    batch = sns(ssh_open)
    batch["Records"].insert(0, {"EventSource": "aws:sns", "Sns": {"MessageId": "m-1", "Message": "not json"}})
    bad = eventbridge({**ssh_open["detail"], "eventID": "bad", "eventTime": "yesterday"})
    batch["Records"].insert(0, sns(bad)["Records"][0])
    run(batch, api, clock, tmp_path)
    assert "not JSON" in caplog.text
    # An opening whose time cannot be read is still an opening: posted, its time shown as written.
    assert len(api.bodies()) == 2 and "日時: yesterday" in api.bodies()[0]


def test_hostile_values_in_an_event_stay_inert(api, clock, tmp_path, others):
    detail = json.loads(json.dumps(others["subscribe"]["detail"]))
    detail["requestParameters"]["endpoint"] = "[toall][/code][/info][To:1]attacker@example.com"
    detail["userAgent"] = "[toall]"
    run(eventbridge(detail), api, clock, tmp_path)
    [body] = api.bodies()  # a detection hit
    assert live_tags(body) == ["[info]", "[title]", "[/title]", "[/info]"]
    assert "内容: email エンドポイント ［toall］［/code］［/info］［To:1］attacker@example.com をサブスクライブ" in body
    created = json.loads(json.dumps(others["create_topic"]["detail"]))  # not a hit: its own message, request in a code block
    created["requestParameters"]["name"] = "[toall][/code][/info][To:1]x"
    created["userAgent"] = "[toall]"
    run(eventbridge(created), api, clock, tmp_path)
    body = api.bodies()[1]
    assert live_tags(body) == ["[info]", "[title]", "[/title]", "[code]", "[/code]", "[/info]"]
    assert "［toall］［/code］［/info］［To:1］x" in body
    assert "\n実行者: " in body and "\n実行者のARN: " in body  # the caller named as the other messages name it


def test_the_handler_entry_point_reads_its_configuration_from_the_environment(api, monkeypatch, tmp_path, ssh_open):
    monkeypatch.setenv("CHATWORK_ROOM_ID", "42")
    monkeypatch.setenv("CHATWORK_API_TOKEN", TOKEN)
    monkeypatch.setenv("CHATWORK_API_BASE", api.base)
    monkeypatch.setenv("ALERT_OUTBOX", str(tmp_path / "o.sqlite"))
    monkeypatch.delenv("CHATWORK_TOKEN_PARAMETER", raising=False)
    assert alerts.handler(sns(ssh_open), None) == {"posted": 1, "already_posted": 0}
    assert alerts.handler(ssh_open, None) == {"posted": 0, "already_posted": 1}


def test_the_token_can_come_from_ssm(monkeypatch):
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("CHATWORK_TOKEN_PARAMETER", "/audit-toolkit/chatwork-token")
    monkeypatch.setattr(alerts, "_token_cache", {})
    with mock_aws():
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name="/audit-toolkit/chatwork-token", Value=TOKEN, Type="SecureString")
        token = alerts._token(now=1000.0)
        ssm.put_parameter(Name="/audit-toolkit/chatwork-token", Value="rotated-token", Type="SecureString",
                          Overwrite=True)
        cached = alerts._token(now=1000.0 + 299)
        fresh = alerts._token(now=1000.0 + 301)  # the default lifetime is 300 s: a rotation is picked up
    assert token.reveal() == TOKEN and TOKEN not in repr(token)
    assert cached.reveal() == TOKEN and fresh.reveal() == "rotated-token"


@pytest.mark.parametrize("name, expected", [
    ("security-groups.json", {"ssh_open", "tls_open", "ssh_close"}),
    ("sns.json", {"subscribe", "create_topic"}),
    ("guardduty.json", {"gd_high", "gd_medium"}),
])
def test_rule_patterns_match_exactly_the_events_the_handler_posts(name, expected, ssh_open, others):
    pattern = EventPattern.load((DEPLOY / "eventbridge" / name).read_text())
    events = {"ssh_open": ssh_open, **others}
    assert {k for k, e in events.items() if pattern.matches_event(e)} == expected


def test_rule_patterns_list_the_calls_the_handler_understands():
    sg = json.loads((DEPLOY / "eventbridge" / "security-groups.json").read_text())
    sns_rule = json.loads((DEPLOY / "eventbridge" / "sns.json").read_text())
    assert set(sg["detail"]["eventName"]) == EC2_GROUP_EVENTS
    assert set(sns_rule["detail"]["eventName"]) == set(alerts.SNS_EVENTS)


def test_an_unknown_language_fails_the_invocation_instead_of_posting_japanese(api, monkeypatch, tmp_path, ssh_open):
    monkeypatch.setenv("CHATWORK_ROOM_ID", "42")
    monkeypatch.setenv("CHATWORK_API_TOKEN", TOKEN)
    monkeypatch.setenv("CHATWORK_API_BASE", api.base)
    monkeypatch.setenv("ALERT_OUTBOX", str(tmp_path / "o.sqlite"))
    monkeypatch.setenv("AUDIT_TOOLKIT_LANGUAGE", "english")
    monkeypatch.delenv("CHATWORK_TOKEN_PARAMETER", raising=False)
    with pytest.raises(ConfigError, match="unknown language 'english'"):  # Lambda retries, then queues it
        alerts.handler(ssh_open, None)
    assert api.bodies() == []


def test_a_security_group_call_with_an_unreadable_permission_is_still_posted(api, clock, tmp_path):
    """Found by an attack review: one permission of a shape no writer of CloudTrail uses made the
    whole event post nothing; it is posted with its request, as any other watched call."""
    record = cloudtrail_record("AuthorizeSecurityGroupIngress", '"fromPort": 22')
    group = record["requestParameters"].get("groupId", "sg-0123456789abcdef0")
    record["requestParameters"] = {"groupId": group, "ipPermissions": {"items": [
        {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}},
        {"ipProtocol": "tcp", "fromPort": "x", "toPort": 22}]}}
    report = run(eventbridge(record), api, clock, tmp_path)
    assert len(report.sent) == 1
    [title] = titles(api)
    assert "AuthorizeSecurityGroupIngress" in title, title


def test_one_call_opening_ssh_to_the_internet_in_two_halves_is_alerted_as_the_internet(
        api, clock, tmp_path):
    """22 to 0.0.0.0/1 and 128.0.0.0/1 in one call: neither rule reaches the internet alone, their
    union does (the replay's measure); a half alone, or halves on two ports, stay low."""
    def halves(ports: tuple[int, int], cidrs=("0.0.0.0/1", "128.0.0.0/1")) -> dict:
        record = cloudtrail_record("AuthorizeSecurityGroupIngress", '"fromPort": 22')
        rule = record["responseElements"]["securityGroupRuleSet"]["items"][0]
        record["requestParameters"] = {"groupId": rule["groupId"], "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": p, "toPort": p, "ipRanges": {"items": [{"cidrIp": c}]}}
            for p, c in zip(ports, cidrs)]}}
        record["responseElements"]["securityGroupRuleSet"]["items"] = [
            {**rule, "securityGroupRuleId": f"sgr-{i}", "fromPort": p, "toPort": p, "cidrIpv4": c}
            for i, (p, c) in enumerate(zip(ports, cidrs))]
        record["eventID"] += str(ports) + str(cidrs)
        return eventbridge(record)

    report = run(sns(halves((22, 22)), halves((22, 443)), halves((22, 22), ("0.0.0.0/1", "10.0.0.0/8"))),
                 api, clock, tmp_path)

    assert len(report.sent) == 6
    assert titles(api)[:2] == ["【高】SSH(22) をインターネットに公開"] * 2
    assert "【高】SSH(22) をインターネットに公開" not in titles(api)[2:]
