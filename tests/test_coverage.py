"""Coverage: hours with no events per account and region, and logging stopped until restarted."""

from __future__ import annotations

import json

import pandas as pd

from audit_toolkit.analysis.coverage import gaps, outages
from audit_toolkit.investigation import Investigation


def test_story_gaps_and_outages_exactly(demo_inv, truth):
    story = truth["detections"]
    found = demo_inv.coverage()
    silent = found[found["kind"] == "no_events"]
    assert [(r.account, r.region, r.start.isoformat(), r.end.isoformat(), r.hours) for r in silent.itertuples()] == [
        (g["account"], g["region"], g["start"].replace("Z", "+00:00"), g["end"].replace("Z", "+00:00"), g["hours"])
        for g in sorted(story["gaps"], key=lambda g: (g["start"], g["account"], g["region"]))]
    off = found[found["kind"] != "no_events"]
    assert [(r.kind, r.account, r.trail, r.start.isoformat(), r.end.isoformat(), r.ongoing, r.event_id) for r in off.itertuples()] == [
        (o["kind"], o["account"], o["trail"], o["start"].replace("Z", "+00:00"), o["end"].replace("Z", "+00:00"), o["ongoing"], o["event_id"])
        for o in sorted(story["outages"], key=lambda o: o["start"])]
    stopped = off[off["kind"] == "logging_stopped"].iloc[0]
    assert stopped["actor"] == story["outages"][1]["actor"]


def test_story_coverage_scoped(demo_inv, truth):
    only = demo_inv.coverage(account="333333333333", region="eu-west-1")
    assert list(only["kind"]) == ["no_events"]  # the outages are in other accounts
    later = demo_inv.coverage(since="2026-11-04T12:00:00Z")
    assert set(later["kind"]) == {"no_events", "logging_stopped"} and len(later) == 4
    assert demo_inv.coverage(min_hours=4).query("kind == 'no_events'").empty


def test_real_trail_deletions_are_ongoing_outages(real_data):
    inv = Investigation.from_evidence(real_data / "invictus-ir-aws_dataset" / "CloudTrail")
    found = inv.coverage()
    assert sorted(found["trail"]) == ["stratus-red-team-ctes-trail-qyxyekjbtk", "stratus-red-team-ctlr-trail-zqfsvooxqj"]
    assert set(found["kind"]) == {"trail_deleted"} and found["ongoing"].all()  # the three StopLogging calls all failed
    assert set(found["start"]) == {pd.Timestamp("2023-07-10T12:08:04Z")}
    assert set(found["end"]) == {inv.span()["last_event"]}
    wide = inv.coverage(since="2023-07-10T09:00:00Z", until="2023-07-10T14:00:00Z")
    silent = wide[wide["kind"] == "no_events"]
    assert [(r.start.hour, r.end.hour) for r in silent.itertuples()] == [(9, 11), (13, 14)]


def hourly(*rows):
    return pd.DataFrame([{"account": a, "region": r, "hour": pd.Timestamp(h, tz="UTC"), "events": 1} for a, r, h in rows])


def test_gaps_are_runs_of_empty_hours_per_region():
    frame = hourly(("1", "a", "2026-01-01 00:00"), ("1", "a", "2026-01-01 03:00"), ("1", "b", "2026-01-01 00:00"),
                   ("1", "b", "2026-01-01 01:00"), ("1", "b", "2026-01-01 02:00"), ("1", "b", "2026-01-01 03:00"))
    found = gaps(frame)
    assert [(r.region, r.start.hour, r.end.hour, r.hours) for r in found.itertuples()] == [("a", 1, 3, 2.0)]
    assert gaps(frame, min_hours=3).empty
    tail = gaps(frame, end=pd.Timestamp("2026-01-01 06:00", tz="UTC"))
    assert [(r.region, r.start.hour, r.end.hour) for r in tail.itertuples()] == [("a", 1, 3), ("a", 4, 6), ("b", 4, 6)]
    assert gaps(frame.iloc[0:0]).empty


def trail_call(name, when, trail, error=None, eid=None):
    return {"eventtime": when, "eventid": eid or when, "eventname": name, "account": "1", "region": "us-east-1",
            "identity_type": "IAMUser", "identity_arn": "arn:aws:iam::1:user/x", "errorcode": error,
            "requestparameters": json.dumps({"name": trail})}


def test_outages_need_a_successful_stop_and_end_at_the_next_start():
    calls = pd.DataFrame([
        trail_call("StopLogging", "2026-01-01T00:00:00Z", "t", error="AccessDenied"),
        trail_call("StopLogging", "2026-01-01T01:00:00Z", "arn:aws:cloudtrail:us-east-1:1:trail/t"),
        trail_call("StopLogging", "2026-01-01T01:30:00Z", "t"),  # already stopped: the outage began at 01:00
        trail_call("StartLogging", "2026-01-01T02:00:00Z", "other"),
        trail_call("StartLogging", "2026-01-01T03:00:00Z", "t"),
        trail_call("DeleteTrail", "2026-01-01T04:00:00Z", "u"),
    ])
    found = outages(calls, pd.Timestamp("2026-01-01T06:00:00Z"))
    assert [(r.kind, r.trail, r.start.hour, r.end.hour, r.hours, r.ongoing) for r in found.itertuples()] == [
        ("logging_stopped", "t", 1, 3, 2.0, False), ("trail_deleted", "u", 4, 6, 2.0, True)]


def test_a_place_silent_for_the_whole_range_is_a_gap(demo_inv):
    """Asking exactly about the silent hours keeps them: the places come from the whole evidence."""
    found = demo_inv.coverage(since="2026-11-04T14:00:00Z", until="2026-11-04T17:00:00Z")
    assert [(r.kind, r.account, r.region, r.start.hour, r.end.hour) for r in found.itertuples()] == [
        ("logging_stopped", "111111111111", "us-east-1", 13, 17),
        ("no_events", "111111111111", "ap-northeast-1", 14, 17),
        ("no_events", "111111111111", "eu-west-1", 14, 17),
        ("no_events", "111111111111", "us-east-1", 14, 17)]


def test_a_range_outside_the_evidence_is_silent_everywhere(demo_inv):
    found = demo_inv.coverage(since="2027-06-01T00:00:00Z", until="2027-06-02T00:00:00Z")
    assert set(found["kind"]) == {"no_events"} and set(found["hours"]) == {24.0}
    assert sorted(zip(found["account"], found["region"])) == [
        (a, r) for a in ("111111111111", "222222222222", "333333333333")
        for r in ("ap-northeast-1", "eu-west-1", "us-east-1")]
    # a place the scope names is measured even if the evidence never saw it
    named = demo_inv.coverage(since="2027-06-01T00:00:00Z", until="2027-06-01T02:00:00Z",
                              account="999999999999", region="us-east-1")
    assert [(r.account, r.region, r.hours) for r in named.itertuples()] == [("999999999999", "us-east-1", 2.0)]


def test_gaps_measure_known_places_with_no_hour_in_range():
    frame = hourly(("1", "a", "2026-01-01 00:00"))
    start, end = pd.Timestamp("2026-01-01 00:00", tz="UTC"), pd.Timestamp("2026-01-01 03:00", tz="UTC")
    found = gaps(frame, start, end, places=[("1", "a"), ("1", "b")])
    assert [(r.region, r.start.hour, r.end.hour) for r in found.itertuples()] == [("b", 0, 3), ("a", 1, 3)]
    assert [(r.region, r.hours) for r in gaps(frame.iloc[0:0], start, end, places=[("2", "c")]).itertuples()] == [("c", 3.0)]
