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
    assert list(zip(ctx.events["event_name"], ctx.events["mentioned"])) == [
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


def test_the_triage_drill_down_speaks_the_display_zone_and_activitys_column_names(demo, truth, capsys):
    from audit_toolkit.investigation import Investigation
    from audit_toolkit.notebook import DrillDown
    from audit_toolkit.settings import Settings

    inv = Investigation.from_evidence(demo / "evidence", Settings(language="en", display_tz="America/St_Johns"),
                                      state_at=truth["state_at"])
    drill = DrillDown(inv, inv.correlate(), inv.findings())
    finding = drill.finding()
    assert capsys.readouterr().out.splitlines() == [
        "5e000000000000000000000000000001: UnauthorizedAccess:EC2/SSHBruteForce (severity 2.0) on i-0ba5710n000000001",
        "context 2026-11-03 05:10:00-03:30 to 2026-11-03 08:25:00-03:30"]
    assert str(finding["first_seen"].iloc[0].tz) == "America/St_Johns"
    events = drill.events()
    assert list(events.columns) == ["event_time", "event_name", "actor", "source_ip", "error_code", "mentioned"]
    assert str(events["event_time"].iloc[0]) == "2026-11-03 05:30:00-03:30"
    # a range with no event: an empty chart with why, and no finding to drill into, said by each part
    far = dict(since="2027-01-01", until="2027-01-02")
    from audit_toolkit.notebook import exposure_chart

    capsys.readouterr()
    ax = exposure_chart(inv, **far, findings=inv.correlate(**far))
    whole = {k: str(pd.Timestamp(v).tz_convert("America/St_Johns")) for k, v in inv.span().items() if k.endswith("_event")}
    assert capsys.readouterr().out == (f"No event in the range: the evidence runs from {whole['first_event']} "
                                       f"to {whole['last_event']}\n")
    assert whole["first_event"].startswith("2026-11-01 20:30:") and whole["last_event"].startswith("2026-11-04 20:")
    assert not [p for p in ax.patches if p.get_gid() == "window"]
    empty = DrillDown(inv, inv.correlate(**far), inv.findings(**far))
    tables = [empty.finding(), empty.others(), empty.windows(), empty.changes(), empty.events()]
    assert capsys.readouterr().out == "No finding in the range\n" * 5
    assert all(t.empty for t in tables) and list(tables[-1].columns)[:3] == ["event_time", "event_name", "actor"]
