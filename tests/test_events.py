"""Shared readers of query results: request and response members as objects."""

from __future__ import annotations

from audit_toolkit.analysis.events import json_object


def test_json_object_reads_text_or_an_object_and_nothing_else():
    assert json_object('{"groupId": "sg-1", "ipPermissions": {"items": []}}') == {"groupId": "sg-1", "ipPermissions": {"items": []}}
    decoded = {"groupId": "sg-1"}
    assert json_object(decoded) is decoded
    assert [json_object(v) for v in (None, "", "null", "not json", "[1, 2]", '"text"', 3, ["a"])] == [{}] * 8
