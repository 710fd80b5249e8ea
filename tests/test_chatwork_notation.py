"""No value from evidence can ever act as a Chatwork tag, and long content splits without cutting one."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import example, given, settings as hsettings, strategies as st

from audit_toolkit.chatwork import messages
from audit_toolkit.chatwork.notation import MAX_BODY, Box, neutralize, size
from audit_toolkit.settings import Settings

# Every tag Chatwork documents or is known to parse, open or closed, any case.
LIVE_TAG = re.compile(
    r"\[/?(?:toall|to:\d+|rp\b[^\[\]]*|info|title|code|hr|qt|qtmeta\b[^\[\]]*|picon:\d+|piconname:\d+"
    r"|preview\b[^\[\]]*|download:\d+|task\b[^\[\]]*|dtext:[^\[\]]*)\]",
    re.I,
)
ANY_BRACKETED = re.compile(r"\[[^\[\]]*\]")

HOSTILE = [
    "[toall]", "[To:1]", "[to:1234567]", "[TOALL]", "[ToAll]", "[/code]", "[/info]", "[/title]", "[qt]", "[/qt]",
    "[hr]", "[info][title]fake[/title]fake[/info]", "[[toall]]", "[[/code]]", "[/co[/code]de]", "[toa[toall]ll]",
    "x[/code][toall][code]y", "[qt][qtmeta aid=1 time=1][toall][/qt]", "[rp aid=1 to=2-3]", "[piconname:1]",
    "[preview id=1 ht=2]", "[download:1]", "[dtext:chatroom_chat_edited]", "[task aid=1 st=open lt=1]",
    "[to\x00all]", "[toall\r\n]", "\u202e[llaot]\u202c", "[to\u200ball]", "[\ttoall]", "\x1b[31m[toall]\x1b[0m",
    "[" * 5000 + "toall" + "]" * 5000, "[toall]" * 20_000, "\ud800[toall]", "[To:1][To:2][To:3]",
    "\uff3btoall\uff3d", "[CODE]" + "a" * 70_000 + "[/CODE]",
]


def live_tags(text: str) -> list[str]:
    return [m.group(0).lower() for m in LIVE_TAG.finditer(text)]


@pytest.mark.parametrize("value", HOSTILE)
def test_neutralized_value_has_no_bracket_and_reads_the_same(value):
    out = neutralize(value)
    assert "[" not in out and "]" not in out
    assert not live_tags(out)
    assert len(out) <= 1000
    assert all(ch not in out for ch in "\x00\r\n\t\x1b\u202e\u200b")


def test_neutralize_keeps_what_a_person_reads():
    assert neutralize("[toall] please") == "\uff3btoall\uff3d please"
    assert neutralize("line1\nline2\ttab") == "line1 line2 tab"
    assert neutralize("a\nb", multiline=True) == "a\nb"
    assert neutralize("x" * 2000) == "x" * 999 + "\u2026"
    assert neutralize("\ud800ok") == "\ufffdok"
    assert neutralize("sg-0123 (prod) 日本語") == "sg-0123 (prod) 日本語"


def _rows(value: str) -> dict[str, object]:
    """Every kind of message, with `value` in every evidence field."""
    change = {c: value for c in ["event_time", "event_id", "event_name", "account", "region", "group_id", "group_name",
                                 "action", "direction", "protocol", "from_port", "to_port", "peer", "peer_type", "rule_id",
                                 "description", "actor", "actor_type", "actor_arn", "session_name", "tool",
                                 "access_key_id", "source_ip", "user_agent", "error_code", "error_message"]}
    window = {c: value for c in ["account", "region", "group_id", "group_name", "direction", "protocol", "from_port",
                                 "to_port", "cidr", "exposed_ports", "rule_id", "opened_at", "opened_by", "opened_from_ip",
                                 "opened_tool", "closed_at", "closed_by", "closed_from_ip", "close_reason", "duration"]}
    finding = {c: value for c in ["id", "type", "severity", "severity_label", "title", "account", "region",
                                  "instance_id", "remote_ip", "port", "country", "updated_at"]}
    detail = {"eventName": value, "eventTime": value, "recipientAccountId": value, "awsRegion": value, "eventID": value,
              "sourceIPAddress": value, "errorCode": value, "errorMessage": value,
              "userIdentity": {"arn": value}, "requestParameters": {value: value, "topicArn": value, "endpoint": value}}
    return {"change": change, "window": window, "finding": finding, "detail": detail}


def _render_all(value: str, s: Settings) -> list[str]:
    r = _rows(value)
    boxes = [
        messages.sg_change(r["change"], s, [22]),
        messages.sg_change({**r["change"], "action": "authorize", "direction": "ingress"}, s, [22]),
        messages.exposure_window(r["window"], s),
        messages.exposure_window({**r["window"], "still_open": True, "open_before_evidence": True}, s),
        messages.guardduty_finding(r["finding"], s),
        messages.correlation(r["finding"], r["window"], s),
        messages.summary(*(pd.DataFrame([r[k]], dtype=object) for k in ("change", "window", "finding")), s, value, value),
        messages.api_call(r["detail"], s),
    ]
    return [body for box in boxes for body in box.split()]


BENIGN = {lang: _render_all("x", Settings(language=lang)) for lang in ("ja", "en")}


def _assert_inert(value: str, lang: str) -> None:
    bodies = _render_all(value, Settings(language=lang))
    for body in bodies:
        assert 1 <= size(body) <= MAX_BODY
    # Splitting may add parts, but every part has only the template's own tags, in the template's order.
    expected = [ANY_BRACKETED.findall(b) for b in BENIGN[lang]]
    got = [ANY_BRACKETED.findall(b) for b in bodies]
    template_tags = {t for tags in expected for t in tags}
    assert {t for tags in got for t in tags} <= template_tags
    assert all(live_tags(b) == [t.lower() for t in ANY_BRACKETED.findall(b)] for b in bodies)
    if len(bodies) == len(BENIGN[lang]):
        assert got == expected
    # Blocks stay balanced: each part opens and closes its info, title and code.
    for body in bodies:
        for tag in ("info", "title", "code"):
            assert body.count(f"[{tag}]") == body.count(f"[/{tag}]")
        assert "[toall]" not in body.lower() and not re.search(r"\[to:\d+\]", body, re.I)


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_hostile_corpus_never_produces_a_live_tag(value, lang):
    _assert_inert(value, lang)


FRAGMENTS = st.sampled_from(["[", "]", "[toall]", "[To:1]", "[/code]", "[/info]", "[/title]", "[qt]", "[TOALL]",
                             "[/CoDe]", "[info]", "[title]", "[code]", "/", ":", "To", "toall", "\n", "\r", "\t",
                             "\x00", "\u202e", "\u200b", "\ud800", "a", "あ", " ", "\uff3b", "1"])
HOSTILE_TEXT = st.one_of(st.lists(FRAGMENTS, max_size=40).map("".join), st.text(max_size=200))


@example("/1")  # parses as year 0, which strftime cannot print: once crashed the renderer
@hsettings(max_examples=300, deadline=None)
@given(HOSTILE_TEXT)
def test_no_generated_value_produces_a_live_tag(value):
    out = neutralize(value)
    assert "[" not in out and "]" not in out
    _assert_inert(value, "ja")


@hsettings(max_examples=200, deadline=None)
@given(st.lists(HOSTILE_TEXT, min_size=1, max_size=30), st.integers(min_value=200, max_value=3000))
def test_split_parts_fit_and_keep_every_character(values, limit):
    box = Box("title", tuple(neutralize(v, limit=5000) for v in values), neutralize("\n".join(values), 20_000, multiline=True))
    parts = box.split(limit)
    assert all(size(p) <= limit for p in parts)
    for p in parts:
        assert ANY_BRACKETED.findall(p)[:2] == ["[info]", "[title]"]
        assert p.endswith("[/info]") and p.count("[code]") == p.count("[/code]") <= 1
    text = "".join(re.sub(r"\[info\]\[title\][^\[]*\[/title\]|\[/?code\]|\[/info\]|\n", "", p) for p in parts)
    assert text == "".join(box.lines) + box.code.replace("\n", "")


def test_a_huge_summary_is_split_into_numbered_parts_under_the_limit():
    lines = tuple(f"- window {i} " + "x" * 900 for i in range(300))
    parts = Box("監査サマリー", lines).split()
    assert len(parts) == 5
    assert [p.split("[/title]")[0] for p in parts] == [f"[info][title]監査サマリー ({i}/5)" for i in range(1, 6)]
    assert all(size(p) <= MAX_BODY for p in parts)
    assert sum(p.count("- window ") for p in parts) == 300


def test_box_refuses_content_that_skipped_neutralize():
    with pytest.raises(ValueError, match="unneutralized"):
        Box("t", ("[toall]",))
