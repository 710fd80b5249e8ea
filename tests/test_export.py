"""Output formats: JSON, CSV and the terminal table, with evidence made inert for each."""

from __future__ import annotations

import pandas as pd

from audit_toolkit import export


def test_visible_escapes_controls_and_bidi_but_keeps_text():
    text = "a\x00\x1b[31mb\x07\t\n\x7f\x85\x9b\u202a\u202e\u2066\u2069 é 日本 \u200b"
    assert export.visible(text) == r"a\x00\x1b[31mb\x07\t\n\x7f\x85\x9b\u202a\u202e\u2066\u2069" + " é 日本 \u200b"


def test_table_escapes_before_cutting():
    frame = pd.DataFrame({"actor": ["\u202eevil", "x" * 60], "port": pd.array([22, None], dtype="Int64")})
    assert export.to_table(frame, width=10).splitlines() == [
        "     actor port",
        "\\u202eevil   22",
        "xxxxxxxxx…     ",
    ]


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
