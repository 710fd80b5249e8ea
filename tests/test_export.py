"""Output formats: JSON, CSV and the terminal table, with evidence made inert for each."""

from __future__ import annotations

import json
import re

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

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


WINDOW_ROW = pd.DataFrame({"event_time": [pd.Timestamp("2026-11-03T09:00:00Z")], "group_id": ["sg-0a000000000000001"],
                           "tool": ["AWS CLI"], "region": ["ap-northeast-1"], "actor": ["ops-admin / mallory"]})


def test_table_leaves_out_the_least_useful_columns_first_and_says_which():
    wide = export.to_table(WINDOW_ROW, width=None)
    assert wide.dropped == () and "ap-northeast-1" in wide.text
    narrow = export.to_table(WINDOW_ROW, width=45, drop_order=("tool", "region", "group_id"))
    assert narrow.dropped == ("tool", "region")
    assert narrow.text.splitlines() == [
        "event_time  group_id              actor",
        "2026-11-03  sg-0a000000000000001  ops-admin /",
        "09:00:00                          mallory",
    ]


def test_table_wraps_times_before_it_leaves_a_column_out_and_leaves_one_out_before_it_splits_an_id():
    squeezed = export.to_table(WINDOW_ROW, width=70, drop_order=("tool", "region", "group_id"))
    assert squeezed.dropped == ()
    assert squeezed.text.splitlines() == [
        "event_time  group_id              tool     region          actor",
        "2026-11-03  sg-0a000000000000001  AWS CLI  ap-northeast-1  ops-admin /",
        "09:00:00                                                   mallory",
    ]
    narrower = export.to_table(WINDOW_ROW, width=60, drop_order=("tool", "region", "group_id"))
    assert narrower.dropped == ("tool",) and narrower.text.splitlines()[1] == (
        "2026-11-03  sg-0a000000000000001  ap-northeast-1  ops-admin")


def test_a_squeezed_table_breaks_names_and_host_names_but_not_addresses():
    frame = pd.DataFrame({"detection": ["ssh_exposure_opened", "root_used"], "source_ip": ["198.51.100.23", ""],
                          "actor": ["cfn-exec / AWSCloudFormation via cloudformation.amazonaws.com",
                                    "carol@example.com (SSO)"]})
    table = export.to_table(frame, width=45, drop_order=("source_ip",))
    assert table.dropped == ()
    assert table.text.splitlines() == [
        "detection    source_ip      actor",
        "ssh_         198.51.100.23  cfn-exec /",
        "exposure_                   AWSCloudFormation",
        "opened                      via",
        "                            cloudformation.",
        "                            amazonaws.com",
        "root_used                   carol@example.com",
        "                            (SSO)",
    ]
    assert export.to_table(frame, width=40, drop_order=("source_ip",)).dropped == ("source_ip",)
    # an email is an identity: a column is left out before it breaks at its '.'
    carol = pd.DataFrame({"actor": ["carol@example.com (SSO)"], "region": ["ap-northeast-1"]})
    table = export.to_table(carol, width=31, drop_order=("region",))
    assert table.dropped == ("region",) and table.text.splitlines()[1] == "carol@example.com (SSO)"


def test_a_line_for_stderr_wraps_between_its_words_and_a_long_path_at_its_slashes():
    problem = ("  /evidence/ec2/describe-security-groups.json: read 0, used 0, rejected 0: describe output does "
               "not say when it was taken")
    assert export.fill(problem, 40).splitlines() == [
        "  /evidence/ec2/",
        "    describe-security-groups.json: read",
        "    0, used 0, rejected 0: describe",
        "    output does not say when it was",
        "    taken",
    ]
    skipped = "  skipped /evidence/AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/03/a.json"
    assert export.fill(skipped, 30).splitlines() == [
        "  skipped /evidence/AWSLogs/", "    111111111111/CloudTrail/", "    us-east-1/2026/11/03/", "    a.json"]
    # wide characters take two columns; a line that fits, or no width (a pipe), is left as it is
    assert export.fill("証跡: ファイル 2542 個、イベント 20396 件を読み込み、20396 件を使用", 30).splitlines() == [
        "証跡: ファイル 2542", "  個、イベント 20396", "  件を読み込み、20396 件を使用"]
    assert export.fill(problem, None) == problem and export.fill("times in UTC", 12) == "times in UTC"


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


class _Stream:
    """A stdout that is (or is not) a terminal, without a real one."""

    def __init__(self, tty: bool):
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def fileno(self) -> int:
        return 1


def test_a_columns_of_zero_or_no_number_is_unset_as_shutil_reads_it(monkeypatch):
    import os

    monkeypatch.setattr(os, "get_terminal_size", lambda fd=1: os.terminal_size((132, 40)))
    for value in ("0", "-5", "abc", "", "80x"):
        monkeypatch.setenv("COLUMNS", value)
        assert export.terminal_width(_Stream(tty=True)) == 132, value  # the terminal's own width
        assert export.terminal_width(_Stream(tty=False)) is None, value  # a pipe: no width at all
    monkeypatch.setenv("COLUMNS", "100")  # set on purpose: kept, on a terminal and in a pipe alike
    assert export.terminal_width(_Stream(tty=True)) == export.terminal_width(_Stream(tty=False)) == 100


def test_with_columns_zero_and_no_terminal_the_width_falls_back_to_80_as_shutil_does(monkeypatch):
    import os

    def no_terminal(fd=1):
        raise OSError("not a terminal")

    monkeypatch.setenv("COLUMNS", "0")
    monkeypatch.setattr(os, "get_terminal_size", no_terminal)
    assert export.terminal_width(_Stream(tty=True)) == 80


def test_a_role_or_session_name_wraps_after_its_hyphens_and_an_id_only_when_a_part_is_too_wide():
    frame = pd.DataFrame({"group_id": ["sg-0f000000000000006"], "reach": ["internet"],
                          "opened_by": ["very-long-role-name-for-break-glass / 山田太郎-インシデント対応-0001"]})
    assert export.to_table(frame, width=56).text.splitlines() == [
        "group_id              reach     opened_by",
        "sg-0f000000000000006  internet  very-long-role-name-for-",
        "                                break-glass /",
        "                                山田太郎-",
        "                                インシデント対応-0001"]
    # an id is never split: the name beside it wraps at its hyphens instead
    narrow = pd.DataFrame({"group_id": ["sg-0d000000000000004"], "opened_by": ["ops-admin-break-glass-responders"]})
    assert export.to_table(narrow, width=30).text.splitlines() == [
        "group_id              opened_by",
        "sg-0d000000000000004  ops-admin-",
        "                      break-",
        "                      glass-",
        "                      responders"]


IDS = st.sampled_from(["sg-0f000000000000006", "i-0ba5710n000000001", "eni-0app200000000007", "pl-0a1b2c3d",
                       "AKIAIOSFODNN7EXAMPLE", "ASIAMALLORY000000001", "sg-0a000000000000001 (bastion-tmp)"])


@settings(max_examples=150, deadline=None)
# the note's letters spell no id prefix ("i-a" is a note, yet the check below would read it as an id's piece)
@given(rows=st.lists(st.tuples(IDS, IDS, st.text(" abcdefghj-/", max_size=30)), min_size=1, max_size=4),
       width=st.integers(10, 120))
def test_an_id_is_never_split_at_any_width_a_column_is_left_out_first(rows, width):
    frame = pd.DataFrame(rows, columns=["group_id", "peer", "note"])
    frame = frame.assign(protocol="tcp", reach="internet")
    table = export.to_table(frame, width=width, drop_order=("note", "protocol", "reach", "peer"))
    kept = [c for c in frame.columns if c not in table.dropped]
    lines = table.text.splitlines()
    for value in frame[kept].to_numpy().ravel():
        for id_ in export.ID_WORD.findall(value):
            assert any(id_ in line for line in lines), (id_, table.text)
    ids = {i for v in frame.to_numpy().ravel() for i in export.ID_WORD.findall(v)}
    assert set(re.findall(r"\b(?:sg|i|eni|pl)-[0-9a-z]+|A[KS]IA[0-9A-Z]+", table.text)) <= ids
    same = {c for c in ("note", "protocol", "reach", "peer") if frame[c].nunique() == 1}
    for at, column in enumerate(table.dropped):  # a column with one value in every row goes first
        assert column in same or same <= set(table.dropped[:at])


def test_a_long_cell_is_laid_out_in_linear_time(monkeypatch):
    # 900 KB took minutes (each character re-measured the whole line, each cut copied the rest):
    # the characters measured grow as the cell does, counted rather than timed
    measured = []
    width = export._width
    monkeypatch.setattr(export, "_width", lambda text: measured.append(len(text)) or width(text))

    def work(pieces: int) -> int:
        measured.clear()
        arn = "arn:aws:iam::123456789012:user/" + "-".join(["ab"] * pieces)
        whole = export.to_table(pd.DataFrame({"actor": [arn], "n": [1]})).text
        assert whole.splitlines()[1] == f"{arn}  1"
        return sum(measured)

    small, large = work(10_000), work(100_000)
    assert large < 15 * small, (small, large)  # ten times the cell: about ten times the work
