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
