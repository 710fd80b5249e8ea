"""The detection catalogue: its queries read exactly its events, it fires on real recorded attacks with
exact counts, stays silent on decoys, and batch and real time decide every event alike."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from audit_toolkit import queries
from audit_toolkit.alerts import cloudtrail_row
from audit_toolkit.analysis import detections
from audit_toolkit.analysis.detections import BY_ID, CATALOGUE, Context, evaluate, match, select
from audit_toolkit.analysis.events import records
from audit_toolkit.errors import ConfigError
from audit_toolkit.investigation import Investigation
from audit_toolkit.settings import Settings
from audit_toolkit.synthetic import Scenario, user

INVICTUS_HITS = {  # counted by hand from the records (SOURCES.md lists the trail events)
    "cloudtrail_stopped": 3, "cloudtrail_deleted": 3, "cloudtrail_selectors_reduced": 1, "trail_bucket_changed": 6,
    "flow_logs_deleted": 1, "organization_left": 1, "ssm_command_sent": 2, "resource_shared_externally": 3,
    "iam_user_created": 6, "console_login_without_mfa": 1, "iam_admin_policy_attached": 2, "role_trust_external": 1,
    "credential_for_other_user": 4,  # two access keys and two console passwords (Stratus' login profile)
    # Stratus' Lambda backdoor (AddPermission for *), its code overwrite (zip, then S3), Roles Anywhere.
    "lambda_policy_public": 1, "lambda_code_replaced": 2, "roles_anywhere_trust": 2,
    # Stratus' EC2 password data (29) and user data (15) enumeration, every call denied.
    "instance_secrets_enumerated": 44,
    "ec2_unusual_instances": 2,  # Stratus' ten p2.xlarge, twice denied
    "secrets_read_burst": 147,  # Stratus' 60 secrets and 87 SecureString parameters read in ten minutes
    "ssh_exposure_opened": 1,  # tcp/22 from 0.0.0.0/0 on sg-04cfb7a4712d75b00 at 12:10:08Z (SOURCES.md); 443 is not watched
}


def _literals(sql: str) -> dict[str, set[str]]:
    """source -> names, read back from the query's WHERE clause."""
    tree = sqlglot.parse_one(sql, read="athena")
    found: dict[str, set[str]] = {}
    for conj in tree.find_all(exp.And):
        eq, names, family = conj.find(exp.EQ), conj.find(exp.In), conj.find(exp.Like)
        if eq is None or eq.this.name != "eventsource":
            continue
        if names is not None and names.this.name == "eventname":
            found.setdefault(eq.expression.name, set()).update(e.name for e in names.expressions)
        if family is not None and family.this.name == "eventname":  # LIKE 'AddPermission%'
            family_name = family.expression.name.replace("%", "*")
            found.setdefault(eq.expression.name, set()).add(family_name)
    return found


@pytest.mark.parametrize("detection", CATALOGUE, ids=lambda d: d.id)
def test_each_query_reads_exactly_the_events_the_catalogue_names(detection):
    query = queries.get(detection.query)
    assert query.params == queries.SCOPE_PARAMS
    assert detection.severity in detections.SEVERITIES and detection.technique.startswith("T1")
    assert detection.title_ja and detection.rationale and detection.false_positive
    expected = {source: set(names) for source, names in detection.events.items()}
    assert _literals(query.sql) == expected
    if not detection.events:
        assert "useridentity.type = 'Root'" in query.sql


def test_every_detect_query_belongs_to_the_catalogue():
    assert {n for n in queries.QUERIES if n.startswith("detect_")} == {d.query for d in CATALOGUE}


@pytest.fixture(scope="module")
def invictus_inv(real_data):
    return Investigation.from_evidence(real_data / "invictus-ir-aws_dataset" / "CloudTrail")


@pytest.fixture(scope="module")
def invictus_hits(invictus_inv):
    return invictus_inv.detect()


def test_real_attack_simulation_hits_exactly(invictus_hits):
    assert invictus_hits.groupby("detection").size().to_dict() == INVICTUS_HITS


def test_failed_calls_are_attempts_never_the_change(invictus_hits):
    stops = invictus_hits[invictus_hits["detection"] == "cloudtrail_stopped"]
    assert list(stops["outcome"]) == ["attempt"] * 3
    assert set(stops["error_code"]) == {"TrailNotFoundException"}
    deletes = invictus_hits[invictus_hits["detection"] == "cloudtrail_deleted"]
    assert sorted(zip(deletes["event_time"].dt.strftime("%H:%M:%S"), deletes["outcome"], deletes["target"])) == [
        ("11:59:02", "attempt", "stratus-red-team-cloudtraild-trail-aueolsaccp"),
        ("12:08:04", "success", "stratus-red-team-ctes-trail-qyxyekjbtk"),
        ("12:08:04", "success", "stratus-red-team-ctlr-trail-zqfsvooxqj"),
    ]
    left = invictus_hits[invictus_hits["detection"] == "organization_left"].iloc[0]
    assert (left["outcome"], left["error_code"], left["actor_type"]) == ("attempt", "AccessDenied", "AssumedRole")


def test_real_hits_name_target_actor_and_detail(invictus_hits):
    def one(detection):
        rows = invictus_hits[invictus_hits["detection"] == detection]
        return [tuple(r) for r in rows[["target", "detail", "actor"]].itertuples(index=False)]

    bert = "arn:aws:iam::123837392027:user/bert-jan"
    assert one("cloudtrail_selectors_reduced") == [
        ("stratus-red-team-ctes-trail-qyxyekjbtk", "management events no longer recorded (includeManagementEvents false)", bert)]
    assert one("console_login_without_mfa") == [("arn:aws:iam::123837392027:user/stratus-red-team-nmfalu-gfjyeaypjt",
                                                 "console sign-in without MFA",
                                                 "arn:aws:iam::123837392027:user/stratus-red-team-nmfalu-gfjyeaypjt")]
    assert one("role_trust_external") == [("stratus-red-team-backdoor-r-role", "role trusts arn:aws:iam::193672423079:root", bert)]
    assert one("credential_for_other_user") == [
        ("stratus-red-team-nmfalu-gfjyeaypjt", "console password created for user stratus-red-team-nmfalu-gfjyeaypjt", bert),
        ("stratus-red-team-backdoor-u-user", "access key created for user stratus-red-team-backdoor-u-user", bert),
        ("malicious-iam-user", "access key created for user malicious-iam-user", bert),
        ("stratus-red-team-login-profile-user", "console password created for user stratus-red-team-login-profile-user", bert)]
    assert [t for t, _, _ in one("iam_admin_policy_attached")] == ["stratus-red-team-backdoor-r-role", "malicious-iam-user"]
    assert one("flow_logs_deleted") == [("fl-064ed3a785e4a37ef", "VPC flow logs deleted", bert)]
    assert [d for _, d, _ in one("resource_shared_externally")] == [
        "shared with 012345678901", "shared with 012345678912", "shared with 193672423079"]
    bucket = invictus_hits[invictus_hits["detection"] == "trail_bucket_changed"]
    assert list(zip(bucket["event_name"], bucket["outcome"])) == [
        ("PutBucketLifecycle", "success"), ("DeleteBucket", "attempt"), ("DeleteBucket", "attempt"),
        ("DeleteBucket", "success"), ("DeleteBucket", "attempt"), ("DeleteBucket", "success")]
    assert bucket.iloc[0]["detail"] == "logs expire after 1 day"


def test_real_decoys_stay_silent(invictus_hits, invictus_inv):
    """The records that look like hits and are not: set-up and undo by the same simulation."""
    events = invictus_inv.events()
    hit_ids = set(invictus_hits["event_id"])
    decoys = events[
        ((events["eventname"] == "PutEventSelectors") & events["requestparameters"].str.contains('"includeManagementEvents":true'))
        | (events["eventname"] == "RemovePermission20150331v2")  # Lambda's, not SNS's
        | ((events["eventname"] == "PutBucketPolicy") & events["requestparameters"].str.contains("cloudtrail.amazonaws.com"))
        | (events["eventname"].isin(["ModifySnapshotAttribute", "ModifyImageAttribute", "ModifyDBSnapshotAttribute"])
           & ~events["requestparameters"].str.contains("add", case=False))
        | ((events["eventname"] == "UpdateAssumeRolePolicy") & ~events["requestparameters"].str.contains("193672423079"))
        | (events["eventname"].isin(["DeleteBucketLifecycle", "CreateTrail", "PutRolePolicy", "CreateRole"]))
        | ((events["eventname"] == "AttachRolePolicy") & ~events["requestparameters"].str.contains("AdministratorAccess"))
    ]
    # 1 selector restore, 1 Lambda permission, 2 trail bucket policies, 3 un-shares, 1 trust restore,
    # 1 lifecycle removal, 2 CreateTrail, 5 PutRolePolicy, 13 CreateRole, 5 non-admin AttachRolePolicy
    assert len(decoys) == 34
    assert not set(decoys["eventid"]) & hit_ids
    mfa = invictus_hits[invictus_hits["event_name"] == "ConsoleLogin"]
    assert len(mfa) == 1  # the other real sign-in used MFA


def test_real_time_decides_every_real_record_as_the_batch_does(real_data, invictus_hits):
    """Each raw record through the Lambda's row builder and `evaluate` gives the batch's hits."""
    ctx = Context(Settings(), frozenset({"stratus-red-team-ctes-bucket-qyxyekjbtk", "stratus-red-team-ctlr-bucket-zqfsvooxqj"}))
    live = set()
    for path in sorted((real_data / "invictus-ir-aws_dataset" / "CloudTrail").glob("*.json")):
        for record in json.loads(path.read_text())["Records"]:
            row = cloudtrail_row(record)
            live |= {(h["event_id"], h["detection"], h["outcome"], h["detail"]) for h in evaluate(row, ctx)}
    batch = set(zip(invictus_hits["event_id"], invictus_hits["detection"], invictus_hits["outcome"], invictus_hits["detail"]))
    # Bursts count across events: the Lambda, one event at a time, cannot make them.
    once = {h for h in batch if h[1] not in detections.BATCH_ONLY}
    assert live == once
    assert len(once) == sum(n for d, n in INVICTUS_HITS.items() if d not in detections.BATCH_ONLY)


def test_elastic_guardduty_and_sns_records(real_data):
    inv = Investigation.from_evidence(real_data / "elastic-integrations-aws" / "cloudtrail")
    found = inv.detect()
    # CreateTopic and CreateDetector are not tampering.
    assert sorted(zip(found["detection"], found["event_name"], found["outcome"])) == [
        ("guardduty_detector_deleted", "DeleteDetector", "success"), ("sns_subscription_changed", "Subscribe", "success")]


# --- decisions on constructed rows: each hit has a decoy beside it --------------------------------

def row(source: str, name: str, request: dict | None = None, **extra) -> dict:
    base = {"eventsource": source, "eventname": name, "eventtime": "2026-11-03T10:00:00Z", "eventid": "e1",
            "account": "111111111111", "region": "us-east-1", "identity_type": "IAMUser",
            "identity_arn": "arn:aws:iam::111111111111:user/alice", "identity_account": "111111111111",
            "user_name": "alice", "requestparameters": json.dumps(request) if request is not None else None}
    return base | extra


def hit(detection: str, r: dict, ctx: Context | None = None):
    found = match(BY_ID[detection], r, ctx)
    return None if found is None else found["detail"]


GD, EB, SNS, EC2 = "guardduty.amazonaws.com", "events.amazonaws.com", "sns.amazonaws.com", "ec2.amazonaws.com"


def test_guardduty_disabling_and_its_decoys():
    assert hit("guardduty_detector_disabled", row(GD, "UpdateDetector", {"detectorId": "d1", "enable": False})) == "detector disabled (enable=false)"
    assert hit("guardduty_detector_disabled", row(GD, "UpdateDetector", {"detectorId": "d1", "features": [
        {"name": "S3_DATA_EVENTS", "status": "DISABLED"}, {"name": "EKS_AUDIT_LOGS", "status": "ENABLED"}]})) == \
        "protection features disabled: S3_DATA_EVENTS"
    assert hit("guardduty_detector_disabled", row(GD, "UpdateDetector", {"detectorId": "d1", "findingPublishingFrequency": "SIX_HOURS"})) is None
    assert hit("guardduty_auto_archive_filter", row(GD, "CreateFilter", {"name": "hide", "action": "ARCHIVE"})) is not None
    assert hit("guardduty_auto_archive_filter", row(GD, "CreateFilter", {"name": "view", "action": "NOOP"})) is None
    assert hit("guardduty_trusted_ip_list", row(GD, "CreateIPSet", {"name": "office", "location": "s3://b/ips.txt"})) == "trusted IP list s3://b/ips.txt"


def test_notifications_and_their_decoys():
    assert hit("sns_topic_policy_changed", row(SNS, "SetTopicAttributes", {"topicArn": "t", "attributeName": "Policy"})) == "topic Policy changed"
    assert hit("sns_topic_policy_changed", row(SNS, "SetTopicAttributes", {"topicArn": "t", "attributeName": "DisplayName"})) is None
    assert hit("sns_topic_policy_changed", row("lambda.amazonaws.com", "RemovePermission", {"label": "x"})) is None
    assert hit("sns_topic_policy_changed", row(SNS, "RemovePermission", {"topicArn": "t", "label": "events"})) == "permission events removed"
    security = {"name": "gd", "eventPattern": json.dumps({"source": ["aws.guardduty"]}), "state": "DISABLED"}
    assert hit("eventbridge_security_rule_changed", row(EB, "PutRule", security)) == "rule delivering security events changed (state DISABLED)"
    assert hit("eventbridge_security_rule_changed", row(EB, "PutRule", {"name": "cron", "scheduleExpression": "rate(5 minutes)"})) is None


def test_trail_selectors_and_insights():
    kept = {"trailName": "t", "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": True}]}
    assert hit("cloudtrail_selectors_reduced", row("cloudtrail.amazonaws.com", "PutEventSelectors", kept)) is None
    write_only = {"trailName": "t", "eventSelectors": [{"readWriteType": "ReadOnly", "includeManagementEvents": True}]}
    assert hit("cloudtrail_selectors_reduced", row("cloudtrail.amazonaws.com", "PutEventSelectors", write_only)) == "only ReadOnly management events recorded"
    advanced = {"trailName": "t", "advancedEventSelectors": [{"fieldSelectors": [
        {"field": "eventCategory", "equals": ["Data"]}, {"field": "resources.type", "equals": ["AWS::S3::Object"]}]}]}
    assert hit("cloudtrail_selectors_reduced", row("cloudtrail.amazonaws.com", "PutEventSelectors", advanced)) == \
        "advanced event selectors record no management events"
    assert hit("cloudtrail_insights_disabled", row("cloudtrail.amazonaws.com", "PutInsightSelectors", {"trailName": "t", "insightSelectors": []})) is not None
    assert hit("cloudtrail_insights_disabled", row("cloudtrail.amazonaws.com", "PutInsightSelectors",
                                                   {"trailName": "t", "insightSelectors": [{"insightType": "ApiCallRateInsight"}]})) is None


def test_network_acl_entries_by_prefix_length_and_port():
    entry = lambda **k: row(EC2, "CreateNetworkAclEntry", {"networkAclId": "acl-1", "ruleNumber": 100, "egress": False,  # noqa: E731
                                                           "ruleAction": "allow", "aclProtocol": "6", "cidrBlock": "0.0.0.0/0",
                                                           "portRange": {"from": 22, "to": 22}} | k)
    assert hit("nacl_ssh_open", entry()) == "rule 100 allows port 22 from 0.0.0.0/0"
    assert hit("nacl_ssh_open", entry(cidrBlock="203.0.113.9/0")) == "rule 100 allows port 22 from 203.0.113.9/0"
    assert hit("nacl_ssh_open", entry(cidrBlock=None, ipv6CidrBlock="::/0", aclProtocol="-1")) == "rule 100 allows port 22 from ::/0"
    assert hit("nacl_ssh_open", entry(cidrBlock="10.0.0.0/8")) is None
    assert hit("nacl_ssh_open", entry(portRange={"from": 443, "to": 443})) is None
    assert hit("nacl_ssh_open", entry(egress=True)) is None
    assert hit("nacl_ssh_open", entry(ruleAction="deny")) is None
    assert hit("nacl_ssh_open", entry(aclProtocol="17")) is None
    rdp = Context(Settings(watched_ports=(3389,)))
    assert hit("nacl_ssh_open", entry(portRange={"from": 3000, "to": 4000}), rdp) == "rule 100 allows port 3389 from 0.0.0.0/0"


@pytest.mark.parametrize("blank", [" ", "\u200b", "\ufeff", "\u3164", "\x00"])
def test_a_blank_error_code_leaves_the_tampering_shown_as_done_and_says_it_is_uncertain(blank):
    stop = row("cloudtrail.amazonaws.com", "StopLogging", {"name": "main"}, errorcode=blank)
    found = match(BY_ID["cloudtrail_stopped"], stop)  # was "attempted: logging stopped", outcome attempt
    assert (found["outcome"], found["detail"]) == (
        "success", "logging stopped (errorCode is blank: whether the call succeeded cannot be decided)")
    refused = match(BY_ID["cloudtrail_stopped"], {**stop, "errorcode": "AccessDenied"})
    assert (refused["outcome"], refused["detail"]) == ("attempt", "attempted: logging stopped")


def test_identity_decisions_and_decoys():
    signin = "signin.amazonaws.com"
    no_mfa = dict(additionaleventdata=json.dumps({"MFAUsed": "No"}), responseelements=json.dumps({"ConsoleLogin": "Success"}))
    assert hit("console_login_without_mfa", row(signin, "ConsoleLogin", None, **no_mfa)) == "console sign-in without MFA"
    assert hit("console_login_without_mfa", row(signin, "ConsoleLogin", None, **no_mfa, identity_type="AssumedRole")) is None
    failed = row(signin, "ConsoleLogin", None, responseelements=json.dumps({"ConsoleLogin": "Failure"}),
                 errormessage="Failed authentication", additionaleventdata=json.dumps({"MFAUsed": "No"}))
    assert hit("console_login_failed", failed) == "console sign-in failed: Failed authentication"
    assert match(BY_ID["console_login_failed"], failed)["outcome"] == "attempt"
    assert hit("console_login_without_mfa", failed) is None  # nobody got in
    assert hit("console_login_failed", row(signin, "ConsoleLogin", None, **no_mfa)) is None
    iam = "iam.amazonaws.com"
    assert hit("credential_for_other_user", row(iam, "CreateAccessKey", {"userName": "alice"})) is None
    assert hit("credential_for_other_user", row(iam, "CreateAccessKey", {})) is None
    assert hit("credential_for_other_user", row(iam, "CreateAccessKey", {"userName": "bob"})) == "access key created for user bob"
    root = row("s3.amazonaws.com", "ListBuckets", None, identity_type="Root", identity_arn="arn:aws:iam::111111111111:root")
    assert hit("root_used", root) == "root called ListBuckets"
    assert hit("root_used", root | {"invoked_by": "support.amazonaws.com"}) is None
    assert hit("root_used", row("s3.amazonaws.com", "ListBuckets", None)) is None
    inline = {"userName": "u", "policyName": "p", "policyDocument": json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})}
    assert hit("iam_admin_policy_attached", row(iam, "PutUserPolicy", inline)) == "inline policy p allows * on *"
    scoped = {"userName": "u", "policyName": "p", "policyDocument": json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})}
    assert hit("iam_admin_policy_attached", row(iam, "PutUserPolicy", scoped)) is None


def test_s3_public_access_and_kms():
    s3 = "s3.amazonaws.com"
    assert hit("s3_public_access", row(s3, "PutBucketPublicAccessBlock", {"bucketName": "b", "PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False}})) == \
        "public access block off: BlockPublicPolicy, RestrictPublicBuckets"
    assert hit("s3_public_access", row(s3, "PutBucketPublicAccessBlock", {"bucketName": "b", "PublicAccessBlockConfiguration": dict.fromkeys(detections.BLOCK_FLAGS, True)})) is None
    public = {"bucketName": "b", "bucketPolicy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}}
    assert hit("s3_public_access", row(s3, "PutBucketPolicy", public)) == "bucket policy allows everyone"
    org_only = {"bucketName": "b", "bucketPolicy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                                     "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}]}}
    assert hit("s3_public_access", row(s3, "PutBucketPolicy", org_only)) is None
    assert hit("kms_key_deletion", row("kms.amazonaws.com", "ScheduleKeyDeletion", {"keyId": "k", "pendingWindowInDays": 7})) == \
        "key deletion scheduled in 7 days"


def test_trail_bucket_needs_to_know_the_trail_buckets():
    change = row("s3.amazonaws.com", "DeleteBucketPolicy", {"bucketName": "trail-logs"})
    assert hit("trail_bucket_changed", change) is None
    assert hit("trail_bucket_changed", change, Context(trail_buckets=frozenset({"trail-logs"}))) == "DeleteBucketPolicy"
    assert Settings.load(trail_buckets=("a",)).trail_buckets == ("a",)


def test_select_by_id_and_severity():
    assert [d.id for d in select(["root_used", "cloudtrail_stopped"])] == ["cloudtrail_stopped", "root_used"]
    assert {d.severity for d in select(min_severity="critical")} == {"critical"}
    assert len(select(min_severity="low")) == len(CATALOGUE)
    with pytest.raises(ConfigError, match="unknown detection nope"):
        select(["nope"])
    with pytest.raises(ConfigError, match="severity must be one of"):
        select(min_severity="urgent")


def test_catalogue_table_lists_every_detection():
    table = detections.catalogue_table("ja")
    assert list(table["id"]) == [d.id for d in CATALOGUE]
    assert table.loc[table["id"] == "cloudtrail_stopped", "title"].item() == "CloudTrail ログ記録の停止"
    assert isinstance(table, pd.DataFrame) and len(CATALOGUE) >= 30


# --- the synthetic story: every detection done and attempted, with decoys ---------------------------

@pytest.fixture(scope="module")
def story_hits(demo_inv):
    return demo_inv.detect()


def test_story_hits_exactly_its_truth(story_hits, truth):
    story = truth["detections"]
    start, end = (pd.Timestamp(t) for t in story["window"])
    inside = story_hits[(story_hits["event_time"] >= start) & (story_hits["event_time"] < end)]
    assert set(zip(inside["event_id"], inside["detection"], inside["outcome"])) == {
        (h["event_id"], h["detection"], h["outcome"]) for h in story["hits"]}
    assert len(inside) == len(story["hits"]) == 105
    assert not set(inside["event_id"]) & {d["event_id"] for d in story["decoys"]}
    # every detection is played; the SSH openings by the security-group incident (the test below)
    played = set(BY_ID) - {"ssh_exposure_opened"}
    assert {h["detection"] for h in story["hits"]} == played
    both = {h["detection"] for h in story["hits"] if h["outcome"] == "success"} & {h["detection"] for h in story["hits"] if h["outcome"] == "attempt"}
    assert played - both == {"console_login_without_mfa", "console_login_failed"}  # a sign-in either succeeds or fails


def test_every_logged_ssh_opening_of_the_demo_is_a_hit_and_nothing_else(story_hits, truth):
    """The incident's windows that a logged call opened (not those open before the logs, nor the
    one Config alone saw) are exactly the hits, with the incident's refused opening as an attempt."""
    hits = story_hits[story_hits["detection"] == "ssh_exposure_opened"]
    logged = {(c["group_id"], pd.Timestamp(c["event_time"])) for c in truth["sg_changes"]}
    opened = {(w["group_id"], pd.Timestamp(w["opened_at"])) for w in truth["windows"]} & logged
    done = hits[hits["outcome"] == "success"]
    assert set(zip(done["target"], done["event_time"])) == opened and len(done) == len(opened) == 7
    failed = {f["event_id"] for f in truth["failed_openings"]}
    assert set(hits.loc[hits["outcome"] == "attempt", "event_id"]) == failed and len(failed) == 1


def test_story_outside_its_window_only_root_and_ssh_of_the_security_group_incident(story_hits, truth):
    start = pd.Timestamp(truth["detections"]["window"][0])
    before = story_hits[story_hits["event_time"] < start]
    root_changes = {c["event_id"] for c in truth["sg_changes"] if c["actor"] == "root (333333333333)"}
    assert set(before["detection"]) == {"root_used", "ssh_exposure_opened"}  # and the SSH openings (above)
    assert set(before.loc[before["detection"] == "root_used", "event_id"]) == root_changes


def test_story_filters_by_only_and_severity(demo_inv, truth):
    found = demo_inv.detect(only=["cloudtrail_stopped"])
    stops = [h for h in truth["detections"]["hits"] if h["detection"] == "cloudtrail_stopped"]
    assert list(zip(found["event_id"], found["outcome"])) == [(h["event_id"], h["outcome"]) for h in stops]
    assert found.iloc[1]["actor"] == "arn:aws:iam::111111111111:role/ops-admin (session mallory)"
    critical = demo_inv.detect(min_severity="critical")
    assert set(critical["severity"]) == {"critical"}
    assert len(critical) == sum(1 for h in truth["detections"]["hits"] if BY_ID[h["detection"]].severity == "critical")


# --- hostile records, history before the scope, and failed calls read as attempts ------------------

def evidence_file(path: Path, *calls) -> Path:
    """A loose CloudTrail file of these calls: (minute, name, source, request[, error]), by alice, a minute apart."""
    s = Scenario(random.Random(1))
    alice = user("111111111111", "alice", "AKIAALICE00000000001")
    for minute, name, source, request, *error in calls:
        s.call(datetime(2026, 11, 3, tzinfo=timezone.utc) + timedelta(minutes=minute), "111111111111", "us-east-1", alice,
               name, request, source=source, error=error[0] if error else None)
    path.write_text(json.dumps({"Records": [r for _, _, r in s.events]}))
    return path


MALFORMED = [  # (name, source, request, the detail it must give)
    ("CreateNetworkAclEntry", EC2, {"networkAclId": "acl-null", "ruleNumber": 1, "egress": False, "ruleAction": "allow",
                                    "aclProtocol": "6", "cidrBlock": "0.0.0.0/0", "portRange": {"from": None, "to": 22}},
     "request could not be read (portRange.from is not a port number)"),
    ("CreateNetworkAclEntry", EC2, {"networkAclId": "acl-list", "ruleNumber": 2, "egress": False, "ruleAction": "allow",
                                    "aclProtocol": "6", "cidrBlock": "0.0.0.0/0", "portRange": [22, 22]},
     "request could not be read (portRange is not an object)"),
    ("ReplaceNetworkAclEntry", EC2, {"networkAclId": "acl-text", "ruleNumber": 3, "egress": False, "ruleAction": "allow",
                                     "aclProtocol": "6", "cidrBlock": "0.0.0.0/0", "portRange": {"from": "ssh", "to": "22"}},
     "request could not be read (portRange.from is not a port number)"),
    ("UpdateDetector", GD, {"detectorId": "d-text", "dataSources": "S3Logs"}, "request could not be read (dataSources is not an object)"),
    ("PutBucketLifecycle", "s3.amazonaws.com", {"bucketName": "trail-logs", "LifecycleConfiguration": {"Rule": {"Status": "Enabled", "Expiration": "1 day"}}},
     "request could not be read (a lifecycle rule's Expiration is not an object)"),
]


@pytest.mark.parametrize("name, source, params, detail", MALFORMED, ids=[m[3].split("(")[1][:-1] + " " + m[0] for m in MALFORMED])
def test_a_request_the_decision_cannot_read_is_a_hit_that_says_so(name, source, params, detail):
    ctx = Context(trail_buckets=frozenset({"trail-logs"}))
    [found] = evaluate(row(source, name, params), ctx)
    assert (found["detail"], found["target"], found["actor"]) == (detail, None, "arn:aws:iam::111111111111:user/alice")
    failed = evaluate(row(source, name, params, errorcode="AccessDenied"), ctx)
    assert [(h["detail"], h["outcome"]) for h in failed] == [(f"attempted: {detail}", "attempt")]
    assert hit("nacl_ssh_open", row(EC2, "CreateNetworkAclEntry", {**MALFORMED[0][2], "portRange": {"from": "22", "to": "22"}})) == \
        "rule 1 allows port 22 from 0.0.0.0/0"  # a port given as text is still read


def test_malformed_records_do_not_stop_detect_or_report(tmp_path):
    from click.testing import CliRunner

    from audit_toolkit.cli import main

    trail = ("CreateTrail", "cloudtrail.amazonaws.com", {"name": "t", "s3BucketName": "trail-logs"})
    path = evidence_file(tmp_path / "hostile.json", (0, *trail), *((i + 1, n, s, r) for i, (n, s, r, _) in enumerate(MALFORMED)),
                         (9, "StopLogging", "cloudtrail.amazonaws.com", {"name": "t"}))
    result = CliRunner().invoke(main, ["detect", "--evidence", str(path), "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert [(h["detection"], h["detail"]) for h in found] == [
        ("nacl_ssh_open", MALFORMED[0][3]), ("nacl_ssh_open", MALFORMED[1][3]), ("nacl_ssh_open", MALFORMED[2][3]),
        ("guardduty_detector_disabled", MALFORMED[3][3]), ("trail_bucket_changed", MALFORMED[4][3]),
        ("cloudtrail_stopped", "logging stopped")]  # the records after the malformed ones are read too
    result = CliRunner().invoke(main, ["report", "--evidence", str(path), "--out", str(tmp_path / "out")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # the report in the language setting (ja by default): the detail in Japanese
    assert (tmp_path / "out" / "report.md").read_text().count("リクエストを読めません") == 5


def test_trail_buckets_are_learned_before_the_scope(demo, demo_inv, truth):
    """The story's CreateTrail is at 00:00:05; a --since after it still knows the trail's bucket."""
    from click.testing import CliRunner

    from audit_toolkit.cli import main

    lifecycle = [h for h in truth["detections"]["hits"] if h["detection"] == "trail_bucket_changed"]
    since = truth["detections"]["window"][0].replace("00:00:00", "00:01:00")
    assert len(lifecycle) == 2 and all(h["event_time"] > since for h in lifecycle)
    result = CliRunner().invoke(main, ["detect", "--evidence", str(demo / "evidence"), "--since", since, "--only", "trail_bucket_changed",
                                       "--format", "json"], catch_exceptions=False)
    found = json.loads(result.stdout)
    assert [(h["event_id"], h["outcome"], h["detail"]) for h in found] == [
        (lifecycle[0]["event_id"], "success", "logs expire after 1 day"), (lifecycle[1]["event_id"], "attempt", "attempted: logs expire after 1 day")]
    assert len(demo_inv.detect(since=since, region="us-east-1", only=["trail_bucket_changed"])) == 2


def test_put_rule_on_a_rule_that_delivered_security_events(tmp_path):
    guardduty = json.dumps({"source": ["aws.guardduty"]})
    path = evidence_file(
        tmp_path / "rules.json",
        (0, "PutRule", EB, {"name": "gd-to-sns", "eventPattern": guardduty}),  # hit: a rule naming a security source
        (1, "PutRule", EB, {"name": "hub", "eventPattern": json.dumps({"source": ["aws.securityhub"]})}),
        (2, "PutRule", EB, {"name": "nightly", "scheduleExpression": "cron(0 0 * * ? *)"}),  # never delivered: silent
        (3, "PutRule", EB, {"name": "gd-to-sns", "eventPattern": json.dumps({"source": ["aws.none"]})}, ("AccessDenied", "no")),
        (4, "PutRule", EB, {"name": "gd-to-sns", "eventPattern": json.dumps({"source": ["aws.none"]})}),
        (5, "PutRule", EB, {"name": "gd-to-sns", "eventPattern": json.dumps({"source": ["aws.none"]})}),  # no longer delivered: silent
        (6, "PutRule", EB, {"name": "hub", "eventPattern": json.dumps({"source": ["aws.securityhub"]}), "state": "DISABLED"}),
        (7, "PutRule", EB, {"name": "hub", "scheduleExpression": "rate(1 day)", "state": "DISABLED"}),
    )
    inv = Investigation.from_evidence(path)
    found = inv.detect(only=["eventbridge_security_rule_changed"])
    assert list(zip(found["event_time"].dt.minute, found["target"], found["outcome"], found["detail"])) == [
        (0, "gd-to-sns", "success", "rule delivering security events changed (state ENABLED)"),
        (1, "hub", "success", "rule delivering security events changed (state ENABLED)"),
        (3, "gd-to-sns", "attempt", "attempted: rule that delivered security events no longer matches them (state ENABLED)"),
        (4, "gd-to-sns", "success", "rule that delivered security events no longer matches them (state ENABLED)"),
        (6, "hub", "success", "rule delivering security events changed (state DISABLED)"),
        (7, "hub", "success", "rule that delivered security events no longer matches them (state DISABLED)"),
    ]
    assert list(inv.detect(since="2026-11-03T00:04:00Z", only=["eventbridge_security_rule_changed"])["event_time"].dt.minute) == [4, 6, 7]
    # A rule of the same name in another region or account is another rule.
    moved = row(EB, "PutRule", {"name": "gd-to-sns", "eventPattern": "{}"}, eventid="x")
    assert hit("eventbridge_security_rule_changed", moved, detections.learned(None, inv.events().assign(region="eu-west-1"))) is None


def test_failed_real_trail_deletion_reads_as_an_attempt(invictus_hits, real_data):
    from click.testing import CliRunner

    from audit_toolkit.cli import main

    deletes = invictus_hits[invictus_hits["detection"] == "cloudtrail_deleted"]
    assert list(zip(deletes["outcome"], deletes["detail"])) == [
        ("attempt", "attempted: trail deleted"), ("success", "trail deleted"), ("success", "trail deleted")]
    assert set(invictus_hits.loc[invictus_hits["error_code"].notna(), "detail"].str[:11]) == {"attempted: "}
    assert not invictus_hits.loc[invictus_hits["error_code"].isna(), "detail"].str.startswith("attempted").any()
    result = CliRunner().invoke(main, ["detect", "--evidence", str(real_data / "invictus-ir-aws_dataset" / "CloudTrail"),
                                       "--only", "cloudtrail_deleted"], catch_exceptions=False)
    lines = [line for line in result.stdout.splitlines() if "DeleteTrail" in line]
    assert len(lines) == 3 and "attempted: trail deleted" in lines[0] and "attempted" not in lines[1] + lines[2]
