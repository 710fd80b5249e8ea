"""The CloudTrail around a finding: the events that name its instance, groups or remote address."""

from __future__ import annotations

import pandas as pd

from audit_toolkit.analysis.context import mentions


def events() -> pd.DataFrame:
    return pd.DataFrame({
        "eventid": ["a", "b", "c", "d"],
        "requestparameters": ['{"instanceId": "i-0abc"}', '{"groupId": "sg-1"}', None, '{"instanceId": "i-0abcd"}'],
        "responseelements": [None, None, '{"x": 1}', None],
        "sourceipaddress": ["10.0.0.1", "10.0.0.1", "203.0.113.7", "10.0.0.1"],
    })


def test_events_naming_any_identifier_and_which():
    found = mentions(events(), ["i-0abc", "sg-1", "203.0.113.7", None, ""])
    assert list(zip(found["eventid"], found["mentioned"])) == [("a", "i-0abc"), ("b", "sg-1"), ("c", "203.0.113.7")]


def test_identifiers_are_text_not_patterns():
    assert mentions(events(), [".*"]).empty
    assert mentions(events(), ["10.0.0.1"])["eventid"].tolist() == ["a", "b", "d"]
    assert mentions(events(), ["10.0.0"]).empty and mentions(events(), ["0.0.1"]).empty  # whole addresses only
    assert mentions(events(), ["i-0abcd"])["eventid"].tolist() == ["d"]
    assert mentions(events(), []).empty and "mentioned" in mentions(events(), []).columns


def test_a_findings_context_in_cloudtrail(demo_inv):
    ctx = demo_inv.finding_context("5e000000000000000000000000000001", margin="1h")
    assert (ctx.start, ctx.end) == (pd.Timestamp("2026-11-03T08:40Z"), pd.Timestamp("2026-11-03T11:55Z"))
    assert ctx.finding["type"] == "UnauthorizedAccess:EC2/SSHBruteForce"
    assert ctx.windows[["group_id", "cidr", "opened_by"]].values.tolist() == [
        ["sg-0a000000000000001", "0.0.0.0/0", "arn:aws:iam::111111111111:user/alice"]]
    assert ctx.changes["action"].tolist() == ["create_group", "authorize", "authorize", "revoke"]
    assert list(zip(ctx.events["eventname"], ctx.events["mentioned"])) == [
        ("CreateSecurityGroup", "sg-0a000000000000001"),
        ("RunInstances", "i-0ba5710n000000001, sg-0a000000000000001"),
        ("AuthorizeSecurityGroupEgress", "sg-0a000000000000001"),
        ("AuthorizeSecurityGroupIngress", "sg-0a000000000000001"),
        ("RevokeSecurityGroupIngress", "sg-0a000000000000001"),
    ]


def test_an_unknown_finding_is_a_clean_error(demo_inv):
    import pytest

    from audit_toolkit.errors import ConfigError

    with pytest.raises(ConfigError, match="no GuardDuty finding 'nope'"):
        demo_inv.finding_context("nope")
