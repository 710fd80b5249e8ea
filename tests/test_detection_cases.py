"""Every detection against its table of CloudTrail records (tests/detection_cases.py): the real-time
path, the batch path over DuckDB, the request fields given as strings or as lists, and the README's
count of cases."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from audit_toolkit.alerts import cloudtrail_row
from audit_toolkit.analysis.detections import (
    BATCH_ONLY, BY_ID, CATALOGUE, Context, evaluate, learned)
from audit_toolkit.analysis.events import records
from audit_toolkit.errors import ConfigError
from audit_toolkit.investigation import Investigation
from audit_toolkit.settings import Settings
from conftest import ROOT
from detection_cases import CASES, CREATE_TRAIL, ROLE, S3, TRAIL_BUCKET, as_lists, call

# The ops role is expected to use Bedrock.
SETTINGS = Settings(bedrock_identities=(ROLE["sessionContext"]["sessionIssuer"]["arn"],),
                    burst_secrets=3)
ALL = [(d, case) for d, cases in CASES.items() for case in cases]
# What the batch learns from all the cases (bursts across events), given to each one-event decision.
def _frame(record: dict) -> pd.DataFrame:
    """One record as the row a detection query returns for it (the Lambda's row, in a frame)."""
    return pd.DataFrame([cloudtrail_row(record)])


EVERY_CASE = pd.concat([_frame(r) for r in [CREATE_TRAIL] + [c.record for _, c in ALL]])
CONTEXT = learned(Context(SETTINGS, frozenset({TRAIL_BUCKET})), EVERY_CASE)


def decided(detection: str, record: dict) -> list[tuple[str, str]]:
    """(outcome, detail) of this detection's hits on one record, as the Lambda decides it."""
    row = cloudtrail_row(record)
    return [(h["outcome"], h["detail"]) for h in evaluate(row, CONTEXT, [BY_ID[detection]])]


def _expected(case) -> list[tuple[str, str]]:
    if case.detail is None:
        return []
    failed = case.record.get("errorCode") or "Failure" in json.dumps(
        case.record.get("responseElements")
    )
    return [("attempt" if failed else "success", case.detail)]


def test_every_detection_has_a_table_with_each_kind_of_case():
    assert set(CASES) == set(BY_ID)
    for detection, cases in CASES.items():
        kinds = {c.kind for c in cases}
        assert kinds == {"hit", "failed", "self", "benign"}, detection
        assert any(c.detail for c in cases if c.kind == "hit"), detection
        assert all(c.detail is None for c in cases if c.kind == "benign"), detection
        assert all(
            c.detail is None or c.detail.startswith(("attempted: ", "console sign-in failed"))
            for c in cases
            if c.kind == "failed"
        ), detection


@pytest.mark.parametrize(
    "detection, case", ALL, ids=[f"{d}-{c.kind}-{c.record['eventName']}" for d, c in ALL]
)
def test_each_case_decides_as_its_table_says(detection, case):
    assert decided(detection, case.record) == _expected(case)


@pytest.mark.parametrize(
    "detection, case", ALL, ids=[f"{d}-{c.kind}-{c.record['eventName']}" for d, c in ALL]
)
def test_a_field_given_as_a_list_decides_as_the_string(detection, case):
    """CloudTrail logs some request fields (S3's headers) as one-element lists: every field a
    decision reads gives the same answer in either form."""
    listed = {
        **case.record,
        "requestParameters": as_lists(case.record["requestParameters"]),
        "responseElements": as_lists(case.record["responseElements"]),
    }
    assert decided(detection, listed) == _expected(case)


def test_the_batch_decides_every_case_as_the_lambda(tmp_path):
    """The cases in one trail file through the queries on DuckDB and `detect`: each detection's
    query brings its cases, and the hits are the table's."""
    path = tmp_path / "cases.json"
    path.write_text(json.dumps({"Records": [CREATE_TRAIL] + [c.record for _, c in ALL]}))
    found = Investigation.from_evidence(path, SETTINGS).detect()
    got = {(h["event_id"], h["detection"], h["outcome"], h["detail"]) for h in records(found)}
    want = {(c.record["eventID"], d, *o) for d, c in ALL for o in _expected(c)}
    # A case may hit other detections too (root's calls are root_used as well): compare its own.
    own = {(c.record["eventID"], d) for d, c in ALL}
    assert {g for g in got if (g[0], g[1]) in own} == want


def test_the_readme_counts_the_cases_of_each_detection():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    counted = {m[1]: int(m[2]) for m in re.finditer(r"^\| `(\w+)` \|.*\| (\d+) \|$", text, re.M)}
    assert counted == {d.id: len(CASES[d.id]) for d in CATALOGUE}


def test_the_retention_setting_decides_which_lifecycle_rules_matter(monkeypatch):
    lifecycle = [c.record for c in CASES["trail_bucket_changed"]
                 if c.record["eventName"] == "PutBucketLifecycle"]
    short, kept = lifecycle[1:3]  # 30 days and 730 days
    longer = Context(Settings(log_retention_days=800), frozenset({TRAIL_BUCKET}))
    row = cloudtrail_row(kept)
    assert [h["detail"] for h in evaluate(row, longer, [BY_ID["trail_bucket_changed"]])] == [
        "logs expire after 730 days"]
    shorter = Context(Settings(log_retention_days=10), frozenset({TRAIL_BUCKET}))
    assert evaluate(cloudtrail_row(short), shorter, [BY_ID["trail_bucket_changed"]]) == []
    monkeypatch.setenv("AUDIT_TOOLKIT_LOG_RETENTION_DAYS", "90")
    assert Settings.load().log_retention_days == 90
    monkeypatch.setenv("AUDIT_TOOLKIT_LOG_RETENTION_DAYS", "a year")
    with pytest.raises(ConfigError, match="AUDIT_TOOLKIT_LOG_RETENTION_DAYS must be an integer"):
        Settings.load()
    with pytest.raises(ConfigError, match="log retention must be 1 day or more"):
        Settings(log_retention_days=0)


def test_a_lifecycle_rule_that_moves_or_dates_the_logs(tmp_path):
    rule = {"ID": "cold", "Status": "Enabled", "Expiration": {"Date": "2026-12-01T00:00:00Z"},
            "Transition": [{"Days": 30, "StorageClass": "GLACIER"}]}
    request = {"bucketName": TRAIL_BUCKET, "LifecycleConfiguration": {"Rule": [rule]}}
    found = decided("trail_bucket_changed", call(S3, "PutBucketLifecycle", request))
    assert found == [("success", "logs expire after 27 days; logs move to GLACIER after 30 days")]
    rule["Expiration"] = {"Date": "next week"}
    assert decided("trail_bucket_changed", call(S3, "PutBucketLifecycle", request)) == [
        ("success", "request could not be read (a lifecycle rule's Expiration.Date is not a date)")]


def test_bedrock_identities_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("AUDIT_TOOLKIT_BEDROCK_IDENTITIES", "arn:aws:iam::1:role/a, arn:aws:iam::1:role/b")
    assert Settings.load().bedrock_identities == ("arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b")


def test_the_lambda_cannot_make_a_burst_detection():
    """One event at a time, a burst is not seen: the batch-only detections give no hit without
    what the batch learned, and every other detection decides alike with or without it."""
    plain = Context(SETTINGS, frozenset({TRAIL_BUCKET}))
    for detection, case in ALL:
        row = cloudtrail_row(case.record)
        alone = evaluate(row, plain, [BY_ID[detection]])
        if detection in BATCH_ONLY:
            assert alone == []
        else:
            assert alone == evaluate(row, CONTEXT, [BY_ID[detection]])


def test_a_burst_needs_enough_instances_within_the_window():
    burst = pd.concat([_frame(c.record) for c in CASES["instance_secrets_enumerated"]])
    ids = set(burst["eventid"])
    assert len(learned(Context(Settings(burst_instances=5)), burst).burst_calls & ids) == 5
    assert learned(Context(Settings(burst_instances=6)), burst).burst_calls & ids == frozenset()
    later = burst.assign(eventtime=[f"2026-11-03T{10 + i}:00:00Z" for i in range(len(burst))])
    assert learned(Context(Settings(burst_minutes=60)), later).burst_calls == frozenset()
