"""Detection hits in Chatwork and in the real-time alert: one renderer, one fingerprint, the same
decision; the EventBridge rules deliver every event the catalogue can hit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from moto.events.models import EventPattern

from audit_toolkit import alerts
from audit_toolkit.analysis.detections import BATCH_ONLY, CATALOGUE
from audit_toolkit.chatwork import messages
from audit_toolkit.chatwork.client import ChatworkClient, Token
from audit_toolkit.chatwork.outbox import Outbox
from audit_toolkit.chatwork.share import messages_for
from audit_toolkit.cli import main
from audit_toolkit.investigation import Investigation
from audit_toolkit.settings import Settings
from fake_chatwork import TOKEN, api, clock  # noqa: F401 (api, clock: fixtures)
from real_data import cloudtrail_record, elastic_lines, invictus
from test_alerts import eventbridge, sns
from test_chatwork_notation import live_tags
from test_deploy import _CfnLoader

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


@pytest.fixture(scope="module")
def real_hits():
    return Investigation.from_evidence(invictus()).detect()


def test_a_failed_stop_is_shown_as_an_attempt(real_hits):
    stop = real_hits[real_hits["detection"] == "cloudtrail_stopped"].iloc[0].to_dict()
    ja = messages.detection_hit(stop, Settings(display_tz="Asia/Tokyo")).render()
    assert "[title]【重大】検知 (未遂): CloudTrail ログ記録の停止[/title]" in ja
    assert "日時: 2023-07-10 21:00:42 JST" in ja and "エラー: TrailNotFoundException" in ja
    assert "内容: attempted: logging stopped" in ja and "対象: stratus-red-team-ct-stop-trail-qzbgnfqisx" in ja
    en = messages.detection_hit(stop, Settings(language="en")).render()
    assert "[title]CRITICAL: Detection (attempt): CloudTrail logging stopped[/title]" in en
    assert "MITRE ATT&CK: T1562.008 Impair Defenses: Disable or Modify Cloud Logs" in en
    done = real_hits[(real_hits["detection"] == "cloudtrail_deleted") & (real_hits["outcome"] == "success")].iloc[0].to_dict()
    body = messages.detection_hit(done, Settings(language="en")).render()
    assert "[title]CRITICAL: Detection: CloudTrail trail deleted[/title]" in body and "Outcome: done" in body and "Error" not in body


def test_hostile_values_in_a_hit_stay_inert():
    hit = {"detection": "sns_subscription_changed", "severity": "medium", "outcome": "success", "event_time": "2026-11-04T00:01:00Z",
           "detail": "subscribed https endpoint https://x/[toall][/info]", "target": "[To:1234] <b>", "actor": "[piconname:1]",
           "event_name": "Subscribe", "event_id": "e[1]"}
    body = messages.detection_hit(hit, Settings()).render()
    assert live_tags(body) == ["[info]", "[title]", "[/title]", "[/info]"]


def test_notify_detections_dry_run_lists_each_hit_once(demo, truth):
    result = CliRunner().invoke(main, ["notify", "--evidence", str(demo / "evidence"), "--room", "42", "--kind", "detections",
                                       "--min-severity", "critical", "--dry-run", "--format", "json"], catch_exceptions=False)
    sent = json.loads(result.stdout)
    critical = [h for h in truth["detections"]["hits"] if h["detection"] in {d.id for d in CATALOGUE if d.severity == "critical"}]
    assert len(sent) == len(critical) == 10 and len({s["fingerprint"] for s in sent}) == 10
    assert all(s["kind"] == "detections" and s["body"].startswith("[info][title]【重大】検知") for s in sent)


def test_the_lambda_posts_real_hits_with_the_fingerprint_notify_uses(api, clock, tmp_path, real_hits):  # noqa: F811
    stop = cloudtrail_record("StopLogging")
    login = cloudtrail_record("ConsoleLogin", "")  # the first real sign-in: without MFA
    describe = cloudtrail_record("DescribeSecurityGroups")
    client = ChatworkClient(Token(TOKEN), base_url=api.base, clock=clock, sleep=clock.sleep)
    batch = sns(eventbridge(stop), eventbridge(login, "AWS Console Sign In via CloudTrail", "aws.signin"), eventbridge(describe))
    report = alerts.handle(batch, client, "42", Settings(), Outbox(tmp_path / "o.sqlite"))
    assert len(report.sent) == 2
    titles = [b.split("[title]", 1)[1].split("[/title]", 1)[0] for b in api.bodies()]
    assert titles == ["【重大】検知 (未遂): CloudTrail ログ記録の停止", "【中】検知: MFA なしのコンソールサインイン"]
    batch_side = {o.fingerprint for o in messages_for(real_hits, "detections", Settings())}
    assert {o.fingerprint for o in report.sent} <= batch_side  # notify afterwards finds them already posted


def test_the_lambda_alerts_sns_hits_as_detections_with_notifys_fingerprint(api, clock, tmp_path):  # noqa: F811
    """An SNS call the catalogue hits is posted once, as a detection, root use included; one it does not
    hit (CreateTopic) keeps its own message."""
    subscribe = elastic_lines("cloudtrail/test-subscribe-json.log")[0]
    by_root = {**subscribe, "eventID": "root-subscribe-1", "userIdentity": {
        "type": "Root", "principalId": subscribe["recipientAccountId"], "arn": f"arn:aws:iam::{subscribe['recipientAccountId']}:root",
        "accountId": subscribe["recipientAccountId"]}}
    create = elastic_lines("cloudtrail/test-create-topic-json.log")[0]
    (tmp_path / "sns.json").write_text(json.dumps({"Records": [subscribe, by_root, create]}))
    batch_hits = Investigation.from_evidence(tmp_path / "sns.json").detect()
    assert sorted(zip(batch_hits["event_id"], batch_hits["detection"])) == [
        (subscribe["eventID"], "sns_subscription_changed"), ("root-subscribe-1", "root_used"), ("root-subscribe-1", "sns_subscription_changed")]
    client = ChatworkClient(Token(TOKEN), base_url=api.base, clock=clock, sleep=clock.sleep)
    report = alerts.handle(sns(eventbridge(subscribe), eventbridge(by_root), eventbridge(create)), client, "42",
                           Settings(language="en"), Outbox(tmp_path / "o.sqlite"))
    notify_side = [o.fingerprint for o in messages_for(batch_hits, "detections", Settings())]
    assert sorted(o.fingerprint for o in report.sent if o.kind == "detections") == sorted(notify_side)
    assert [o.kind for o in report.sent] == ["detections", "detections", "detections", "api-call"]
    assert [b.split("[title]", 1)[1].split("[/title]", 1)[0] for b in api.bodies()] == [
        "MEDIUM: Detection: SNS subscription changed", "MEDIUM: Detection: SNS subscription changed",
        "HIGH: Detection: Root user activity", "INFO: SNS topic created"]


def test_root_activity_is_alerted(api, clock, tmp_path):  # noqa: F811
    record = {**cloudtrail_record("DescribeSecurityGroups"),  # a real record, made as root would have made it
              "userIdentity": {"type": "Root", "principalId": "123837392027", "arn": "arn:aws:iam::123837392027:root",
                               "accountId": "123837392027"}}
    client = ChatworkClient(Token(TOKEN), base_url=api.base, clock=clock, sleep=clock.sleep)
    alerts.handle(eventbridge(record), client, "42", Settings(language="en"), Outbox(tmp_path / "o.sqlite"))
    [body] = api.bodies()
    assert "[title]HIGH: Detection: Root user activity[/title]" in body and "Actor: root user (123837392027)" in body


def test_the_rules_deliver_every_real_event_the_catalogue_hits(real_hits):
    detections_rule = EventPattern.load((DEPLOY / "eventbridge" / "detections.json").read_text())
    root_rule = EventPattern.load((DEPLOY / "eventbridge" / "root.json").read_text())
    sns_rule = EventPattern.load((DEPLOY / "eventbridge" / "sns.json").read_text())
    hit_ids = set(real_hits.loc[~real_hits["detection"].isin(BATCH_ONLY), "event_id"])  # the Lambda's
    matched, unmatched_hits = set(), set()
    for path in sorted(invictus().glob("*.json")):
        for record in json.loads(path.read_text())["Records"]:
            kind = "AWS Console Sign In via CloudTrail" if record["eventName"] == "ConsoleLogin" else "AWS API Call via CloudTrail"
            event = eventbridge(record, kind)
            if any(rule.matches_event(event) for rule in (detections_rule, root_rule, sns_rule)):
                matched.add(record["eventID"])
            elif record["eventID"] in hit_ids:
                unmatched_hits.add(record["eventID"])
    assert not unmatched_hits and hit_ids <= matched
    assert len(matched) < 200  # of 2,900 records: the rules carry candidates, not the noise


def test_the_detection_rule_names_exactly_the_catalogue_events():
    rule = json.loads((DEPLOY / "eventbridge" / "detections.json").read_text())
    # SNS calls the handler renders itself come through sns.json; every other catalogue call through this rule.
    # Bursts count across events: the Lambda cannot decide them, so the rule does not send their calls.
    wanted = {(s, n) for d in CATALOGUE if d.id not in BATCH_ONLY for s, names in d.events.items() for n in names
              if not (s == "sns.amazonaws.com" and n in alerts.SNS_EVENTS)}
    assert set(rule["detail"]["eventSource"]) == {s for s, _ in wanted}
    # A family of names (Lambda's AddPermission20150331, ...v2) is an EventBridge prefix pattern.
    names = {n if isinstance(n, str) else n["prefix"] + "*" for n in rule["detail"]["eventName"]}
    assert names == {n for _, n in wanted}
    sns_names = {n for d in CATALOGUE for s, names in d.events.items() if s == "sns.amazonaws.com" for n in names} & set(alerts.SNS_EVENTS)
    assert sns_names == {"Subscribe", "Unsubscribe", "SetSubscriptionAttributes", "DeleteTopic", "SetTopicAttributes"}
    assert sns_names <= set(json.loads((DEPLOY / "eventbridge" / "sns.json").read_text())["detail"]["eventName"])
    template = yaml.load((DEPLOY / "template.yaml").read_text(), Loader=_CfnLoader)["Resources"]
    for name, file in (("DetectionRule", "detections.json"), ("RootActivityRule", "root.json")):
        assert template[name]["Properties"]["EventPattern"] == json.loads((DEPLOY / "eventbridge" / file).read_text())
        sources = template["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
        assert {"GetAtt": f"{name}.Arn"} in sources  # EventBridge may publish to the topic from this rule
