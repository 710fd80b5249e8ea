"""Output formats: JSON, CSV and the terminal table, with evidence made inert for each."""

from __future__ import annotations

import json

import pandas as pd

from audit_toolkit import export


def test_visible_escapes_controls_and_bidi_but_keeps_text():
    text = "a\x00\x1b[31mb\x07\t\n\x7f\x85\x9b\u202a\u202e\u2066\u2069 é 日本 \u200b"
    assert export.visible(text) == r"a\x00\x1b[31mb\x07\t\n\x7f\x85\x9b\u202a\u202e\u2066\u2069 é 日本 \u200b"


def test_visible_escapes_every_invisible_character_so_no_value_passes_for_another():
    # `0.0.0.0/0` and a zero-width joiner read as the whole internet in a table that found no window
    hidden = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u2061\U000e0041\u034f\u115f\u3164\ue000\ud83d"
    text = export.visible("0.0.0.0/0" + hidden)
    assert text == r"0.0.0.0/0\u200b\u200c\u200d\u2060\ufeff\xad\u180e\u2061\U000e0041\u034f\u115f\u3164\ue000\ud83d"
    assert export.visible("日本語 é ü ﾊﾝｶｸ 😀 ℃") == "日本語 é ü ﾊﾝｶｸ 😀 ℃"  # what a reader sees stays
    parsed = json.loads(export.to_json(pd.DataFrame({"cidr": ["0.0.0.0/0" + hidden[:-1]]})))
    assert parsed == [{"cidr": "0.0.0.0/0" + hidden[:-1]}]
    assert set(export._INVISIBLE.findall(export.to_json(pd.DataFrame({"cidr": [hidden[:-1]]})))) == {"\n"}


def test_table_escapes_then_wraps_and_never_cuts_a_value():
    frame = pd.DataFrame({"actor": ["\u202eevil", "x" * 50], "port": pd.array([22, None], dtype="Int64")})
    table = export.to_table(frame, width=30)
    assert table.text.splitlines() == [
        "actor                     port",
        "\\u202eevil                22",
        "x" * 24,
        "x" * 24,
        "xx",
    ]
    assert table.dropped == ()


def test_table_wraps_an_identity_at_its_separators_and_keeps_every_character():
    who = "arn:aws:iam::111111111111:role/ops-admin (session mallory)"
    lines = export.to_table(pd.DataFrame({"actor": [who]}), width=24).text.splitlines()
    assert lines == ["actor", "arn:aws:iam::", "111111111111:role/", "ops-admin (session", "mallory)"]
    assert "".join(lines[1:]).replace(" ", "") == who.replace(" ", "")


def test_table_leaves_out_the_least_useful_columns_first_and_says_which():
    frame = pd.DataFrame({"event_time": [pd.Timestamp("2026-11-03T09:00:00Z")], "group_id": ["sg-0a000000000000001"],
                          "tool": ["AWS CLI"], "region": ["ap-northeast-1"], "actor": ["ops-admin / mallory"]})
    wide = export.to_table(frame, width=None)
    assert wide.dropped == () and "ap-northeast-1" in wide.text
    narrow = export.to_table(frame, width=70, drop_order=("tool", "region", "group_id"))
    assert narrow.dropped == ("tool", "region")
    assert narrow.text.splitlines()[0].split() == ["event_time", "group_id", "actor"]
    assert "ops-admin / mallory" in narrow.text


def test_times_are_shown_in_the_display_zone_with_its_offset_in_json_and_csv():
    frame = pd.DataFrame({"opened_at": [pd.Timestamp("2026-11-03T09:02:00Z")]})
    assert export.to_records(frame) == [{"opened_at": "2026-11-03T09:02:00Z"}]
    assert export.to_records(frame, "Asia/Tokyo") == [{"opened_at": "2026-11-03T18:02:00+09:00"}]
    assert export.to_csv(frame, "Asia/Tokyo") == "opened_at\r\n2026-11-03T18:02:00+09:00\r\n"
    assert export.to_table(frame, tz="Asia/Tokyo").text.splitlines()[1] == "2026-11-03 18:02:00"


def test_csv_formulas_get_a_quote_and_numbers_stay_numbers():
    frame = pd.DataFrame({
        "value": ["=1+1", "+1", "@SUM(A1)", "\tx", "\rx", "-1", "-12.5", "-2+3", "-", "a=b", None],
        "port": pd.array([22, 3389, None, -1, 0, 65535, 1, 2, 3, 4, 5], dtype="Int64"),
    })
    assert export.to_csv(frame).split("\r\n") == [
        "value,port", "'=1+1,22", "'+1,3389", "'@SUM(A1),", "'\tx,-1", '"\'\rx",0', "-1,65535", "-12.5,1",
        "'-2+3,2", "'-,3", "a=b,4", ",5", "",
    ]


def test_csv_integers_with_missing_values_are_not_floats():
    frame = pd.DataFrame({"from_port": pd.array([22, None], dtype="Int64"), "duration": [pd.Timedelta(seconds=9015), None]})
    assert export.to_csv(frame) == "from_port,duration_seconds\r\n22,9015\r\n,\r\n"


def test_visible_also_escapes_bidi_marks_and_line_separators():
    marks = "a\u061cb\u200ec\u200fd\u2028e\u2029f"
    assert export.visible(marks) == r"a\u061cb\u200ec\u200fd\u2028e\u2029f"


def test_json_escapes_what_json_dumps_leaves_raw_and_keeps_every_value():
    import json

    value = "a\x7f\x9b[2J\u202eb\u2066 日本 \x1b"
    text = export.to_json(pd.DataFrame({"ua": [value]}))
    assert set(export._INVISIBLE.findall(text)) == {"\n"}  # the layout's line breaks only
    assert r"a\u007f\u009b[2J\u202eb\u2066 日本 \u001b" in text
    assert json.loads(text) == [{"ua": value}]
