"""Messy and hostile evidence: every bad file or record is reported with its reason, nothing else is lost."""

from __future__ import annotations

import gzip
import hashlib
import json
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from audit_toolkit.cli import main
from audit_toolkit.errors import EvidenceError
from audit_toolkit.evidence.layout import PathPartition, discover_files, partition_of
from audit_toolkit.evidence import reader
from audit_toolkit.evidence.reader import read_cloudtrail_file
from audit_toolkit.evidence.schema import SPINE_COLUMNS
from audit_toolkit.investigation import Investigation
from audit_toolkit.settings import Settings
from util import event, records_file, write


@pytest.mark.parametrize(
    "shape, payload",
    [
        ("records", lambda evs: json.dumps({"Records": evs})),
        ("array", lambda evs: json.dumps(evs)),
        ("lines", lambda evs: "\n".join(json.dumps(e) for e in evs) + "\n\n"),
    ],
)
def test_every_file_shape_reads(tmp_path, shape, payload):
    path = write(tmp_path / "f.json", payload([event(1), event(2), event(3)]).encode())
    batch, report = read_cloudtrail_file(path)
    assert (report.shape, report.read, report.used, report.rejected) == (shape, 3, 3, 0)
    assert batch.column("eventid").to_pylist()[0] == "00000000-0000-0000-0000-000000000001"
    # JSON members stay JSON text, as Athena keeps them; null stays null.
    assert json.loads(batch.column("requestparameters")[0].as_py()) == {"a": [1, {"b": None}]}
    assert batch.column("responseelements")[0].as_py() is None
    assert batch.column("readonly")[0].as_py() == "true"


def test_single_event_file(tmp_path):
    _, report = read_cloudtrail_file(write(tmp_path / "one.json", json.dumps(event(4)).encode()))
    assert (report.shape, report.read, report.used) == ("single", 1, 1)


def test_corrupt_gzip_is_reported_and_other_files_go_on(tmp_path):
    good = records_file(tmp_path / "ev", "good.json.gz", [event(1), event(2)])
    whole = gzip.compress(json.dumps({"Records": [event(3), event(4)]}).encode())
    write(tmp_path / "ev" / "corrupt.json.gz", whole[:20] + b"\x00garbage" * 5 + whole[60:])
    inv = Investigation.from_evidence(tmp_path / "ev")
    bad = {Path(f.path).name: f for f in inv.intake.files}
    assert bad["corrupt.json.gz"].error == "truncated or corrupt gzip: corrupt deflate data: Error -1 Invalid deflate block found"
    assert (bad[good.name].read, bad[good.name].used) == (2, 2)


@pytest.mark.parametrize("codec, name, bom", [
    ("utf-16-le", "UTF-16LE", b"\xff\xfe"), ("utf-16-be", "UTF-16BE", b"\xfe\xff"),
    ("utf-32-le", "UTF-32LE", b"\xff\xfe\x00\x00"), ("utf-32-be", "UTF-32BE", b"\x00\x00\xfe\xff")])
@pytest.mark.parametrize("zipped", [False, True])
def test_utf16_and_utf32_with_a_byte_order_mark_are_read(tmp_path, codec, name, bom, zipped):
    # Windows PowerShell's `>` writes UTF-16LE with a BOM: the whole file was lost ("not JSON").
    text = json.dumps({"Records": [event(1, userAgent="caf\u00e9 \U0001f600"), event(2)]}, ensure_ascii=False)
    path = write(tmp_path / "ps.json", bom + text.encode(codec), zipped)
    batch, report = read_cloudtrail_file(path)
    assert (report.error, report.read, report.used, report.rejected) == (None, 2, 2, 0)
    assert report.warnings == [f"read as {name} (its byte order mark)"]
    assert batch.column("useragent").to_pylist() == ["caf\u00e9 \U0001f600", "aws-cli/2"]
    assert report.size == path.stat().st_size  # what was examined: the bytes on disk


def test_invalid_utf16_is_replaced_and_reported(tmp_path):
    text = json.dumps({"Records": [event(1, userAgent="MARKER"), event(2)]}).encode("utf-16-le")
    path = write(tmp_path / "ps.json", b"\xff\xfe" + text.replace("MARKER".encode("utf-16-le"), b"\x00\xd8A\x00"))
    batch, report = read_cloudtrail_file(path)
    assert (report.read, report.used, report.rejected) == (2, 2, 0)
    assert report.warnings == ["read as UTF-16LE (its byte order mark)", "invalid UTF-16LE replaced by U+FFFD"]
    assert batch.column("useragent").to_pylist() == ["\ufffdA", "aws-cli/2"]


def test_the_byte_order_mark_warnings_are_said_in_the_report_language(tmp_path):
    from audit_toolkit.phrases import in_language

    text = json.dumps({"Records": [event(1, userAgent="MARKER"), event(2)]}).encode("utf-16-le")
    path = write(tmp_path / "ps.json", b"\xff\xfe" + text.replace("MARKER".encode("utf-16-le"), b"\x00\xd8A\x00"))
    _, report = read_cloudtrail_file(path)
    assert [in_language(w, "ja") for w in report.warnings] == [
        "UTF-16LE として読み込みました (バイトオーダーマークによる)", "UTF-16LE として不正なバイトを U+FFFD に置き換えました"]


def test_utf16_whose_utf8_is_over_the_limit_is_rejected(tmp_path):
    # 3 bytes of UTF-8 for 2 of UTF-16: the limit bounds the text read, whatever its encoding.
    text = json.dumps({"Records": [event(1, userAgent="\u20ac" * 1000)]}, ensure_ascii=False)
    path = write(tmp_path / "ps.json", b"\xff\xfe" + text.encode("utf-16-le"))
    _, report = read_cloudtrail_file(path, max_bytes=path.stat().st_size)
    assert (report.error, report.read, report.too_large) == (
        f"the file's text, as UTF-8, is more than the limit of {path.stat().st_size:,} bytes", 0, True)


def test_a_utf8_byte_order_mark_starting_a_line_is_not_a_record_lost(tmp_path):
    # `cat a.json b.json` of files saved with a BOM: every line after the first starts with one.
    text = b"".join(b"\xef\xbb\xbf" + json.dumps(event(i)).encode() + b"\n" for i in (1, 2, 3))
    batch, report = read_cloudtrail_file(write(tmp_path / "cat.json", text))
    assert (report.shape, report.read, report.used, report.rejected) == ("lines", 3, 3, 0)
    assert batch.column("eventid").to_pylist() == [event(i)["eventID"] for i in (1, 2, 3)]


def test_several_gzip_members_are_one_file(tmp_path):
    members = gzip.compress(json.dumps({"Records": [event(1)]}).encode()[:-2]) + gzip.compress(b"]}")
    batch, report = read_cloudtrail_file(write(tmp_path / "members.json.gz", members))
    assert (report.error, report.read, report.used) == (None, 1, 1)


def test_truncated_gzip_is_reported_and_other_files_go_on(tmp_path):
    good = records_file(tmp_path / "ev", "good.json.gz", [event(1), event(2)])
    whole = gzip.compress(json.dumps({"Records": [event(3), event(4)]}).encode())
    write(tmp_path / "ev" / "cut.json.gz", whole[: len(whole) // 2])
    inv = Investigation.from_evidence(tmp_path / "ev")
    bad = {Path(f.path).name: f for f in inv.intake.files}
    assert "gzip" in bad["cut.json.gz"].error
    assert (bad["cut.json.gz"].read, bad["cut.json.gz"].used) == (0, 0)
    assert (bad[good.name].read, bad[good.name].used) == (2, 2)
    assert inv.span()["events"] == 2


def test_non_json_file(tmp_path):
    _, report = read_cloudtrail_file(write(tmp_path / "x.json", b"<html>not json</html>"))
    # never its text: a file in the folder may be a secret that is not evidence (report.html is shared)
    assert report.error == ("not JSON: no line starts with '{' (the text of a file that may not be "
                            "evidence is not shown)")
    assert (report.read, report.used) == (0, 0)


def test_empty_file(tmp_path):
    _, report = read_cloudtrail_file(write(tmp_path / "empty.json.gz", b"", zipped=True))
    assert (report.shape, report.read, report.used, report.rejected, report.error, report.warnings) == ("empty", 0, 0, 0, None, ["empty file"])


def test_bad_records_are_rejected_with_reasons_and_totals_add_up(tmp_path):
    missing = {k: v for k, v in event(2).items() if k not in ("eventName", "eventSource")}
    records = [
        event(1),
        missing,
        event(3, userIdentity=None),
        event(4, eventTime="yesterday"),
        event(5, userIdentity="root"),
        "just a string",
        event(7),
    ]
    _, report = read_cloudtrail_file(records_file(tmp_path, "mixed.json.gz", records))
    assert (report.read, report.used, report.rejected) == (7, 2, 5)
    reasons = "\n".join(report.rejections)
    assert "record 1: no eventName or eventSource" in reasons
    assert "record 2: userIdentity is null" in reasons
    assert "record 3: eventTime is not an ISO 8601 time" in reasons
    assert "record 4: Expected `object | null`, got `str` - at `$.userIdentity`" in reasons
    assert "record 5: Expected `object`, got `str`" in reasons


def test_a_summary_counts_in_words_with_thousands_separated_like_every_other_count():
    intake = reader.IntakeReport(files=[reader.FileReport("a.json", read=1250, used=1249, rejected=1)],
                                 duplicates=1000)
    assert intake.summary() == ("1 file, 1,250 events read, 1,249 used, 1 rejected, 0 unreadable files, "
                                "1,000 duplicate events counted once")


def test_record_without_event_time_is_rejected(tmp_path):
    _, report = read_cloudtrail_file(records_file(tmp_path, "f.json.gz", [{**event(1), "eventTime": None}]))
    assert report.rejected == 1 and "no eventTime" in report.rejections[0]


def test_invalid_utf8_is_replaced_and_reported(tmp_path):
    text = json.dumps({"Records": [event(1, requestParameters={"description": "MARKER"})]}).encode()
    path = write(tmp_path / "bad-utf8.json", text.replace(b"MARKER", b"caf\xe9 \xff"))
    batch, report = read_cloudtrail_file(path)
    assert (report.read, report.used) == (1, 1)
    assert "invalid UTF-8" in report.warnings[0]
    assert json.loads(batch.column("requestparameters")[0].as_py())["description"] == "caf\ufffd \ufffd"


def test_invalid_utf8_in_a_string_field_is_replaced_and_reported(tmp_path):
    text = json.dumps({"Records": [event(1, userAgent="MARKER"), event(2)]}).encode()
    path = write(tmp_path / "bad-utf8-ua.json", text.replace(b"MARKER", b"ua\xff\xfe"))
    batch, report = read_cloudtrail_file(path)
    assert (report.read, report.used, report.rejected) == (2, 2, 0)
    assert report.warnings == ["record 0: invalid UTF-8 replaced by U+FFFD"]
    assert batch.column("useragent")[0].as_py() == "ua\ufffd\ufffd"


def test_unknown_event_version_is_used_and_reported(tmp_path):
    _, report = read_cloudtrail_file(records_file(tmp_path, "f.json.gz", [event(1, eventVersion="9.99")]))
    assert report.used == 1 and "unknown eventVersion '9.99'" in report.warnings[0]


def test_source_ip_that_is_not_an_ip_is_used_and_reported(tmp_path):
    records = [event(1, sourceIPAddress="<script>alert(1)</script>"), event(2, sourceIPAddress="ec2.amazonaws.com"),
               event(3, sourceIPAddress="AWS Internal"), event(4, sourceIPAddress="2001:db8::1")]
    batch, report = read_cloudtrail_file(records_file(tmp_path, "f.json.gz", records))
    assert report.used == 4
    assert report.warnings == ["record 0: sourceIPAddress '<script>alert(1)</script>' is neither an IP nor a service"]
    assert batch.column("sourceipaddress")[0].as_py() == "<script>alert(1)</script>"  # kept as evidence


def test_digest_files_are_not_events(tmp_path):
    digest = {"awsAccountId": "111111111111", "digestStartTime": "2026-01-01T00:00:00Z", "logFiles": []}
    path = write(tmp_path / "AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2026/01/01/d.json.gz", json.dumps(digest).encode(), True)
    assert discover_files(tmp_path) == []  # skipped by path
    _, report = read_cloudtrail_file(path)  # and by content, if given directly
    assert (report.shape, report.read) == ("digest", 0)


def test_events_are_ordered_by_time_not_by_file_name(tmp_path):
    records_file(tmp_path, "a.json.gz", [event(30), event(20)])
    records_file(tmp_path, "b.json.gz", [event(10)])
    inv = Investigation.from_evidence(tmp_path)
    assert [i[-2:] for i in inv.events()["eventid"]] == ["10", "20", "30"]


def test_partitions_come_from_the_path():
    account_trail = "x/AWSLogs/111111111111/CloudTrail/ap-northeast-1/2026/11/03/f.json.gz"
    org_trail = "AWSLogs/o-abc123def4/222222222222/CloudTrail/us-east-1/2026/11/04/f.json.gz"
    by_name = "loose/333333333333_CloudTrail_eu-west-1_20230710T1145Z_7xgocspSowgK0Gto.json"
    assert partition_of(account_trail) == PathPartition("111111111111", "ap-northeast-1", "2026/11/03")
    assert partition_of(org_trail) == PathPartition("222222222222", "us-east-1", "2026/11/04")
    assert partition_of(by_name) == PathPartition("333333333333", "eu-west-1", "2023/07/10")
    assert partition_of("loose.json") == PathPartition()


def test_loose_file_takes_partitions_from_the_event(tmp_path):
    batch, _ = read_cloudtrail_file(records_file(tmp_path, "loose.json", [event(1)], zipped=False))
    assert (batch.column("account")[0].as_py(), batch.column("region")[0].as_py(), batch.column("day")[0].as_py()) == (
        "111111111111", "us-east-1", "2026/01/01")


def test_missing_evidence_is_a_clear_error(tmp_path):
    with pytest.raises(EvidenceError, match="does not exist"):
        discover_files(tmp_path / "nope")


def test_lookup_events_output(tmp_path):
    # `aws cloudtrail lookup-events` prints each record as a JSON string inside CloudTrailEvent.
    output = {"Events": [{"EventId": "x", "EventName": "DescribeInstances", "CloudTrailEvent": json.dumps(event(1))},
                         {"EventId": "y", "EventName": "DescribeInstances", "CloudTrailEvent": json.dumps(event(2))}]}
    batch, report = read_cloudtrail_file(write(tmp_path / "lookup.json", json.dumps(output).encode()))
    assert (report.shape, report.read, report.used) == ("lookup-events", 2, 2)
    assert batch.column("eventid").to_pylist() == ["00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"]


def test_a_lookup_event_that_is_not_json_costs_only_itself(tmp_path):
    # The CloudTrailEvent string is attacker text: not JSON, or nested 20,000 deep (a TypeError
    # aborted the run and lost the good event).
    output = {"Events": [{"EventId": "a", "CloudTrailEvent": "{not json"},
                         {"EventId": "b", "CloudTrailEvent": '{"a": ' + "[" * 20_000 + "]" * 20_000 + "}"},
                         {"EventId": "c", "CloudTrailEvent": json.dumps(event(3))}]}
    batch, report = read_cloudtrail_file(write(tmp_path / "lookup.json", json.dumps(output).encode()))
    assert (report.shape, report.read, report.used, report.rejected) == ("lookup-events", 3, 1, 2)
    assert report.rejections == [
        "record 0: not JSON: JSON is malformed: object keys must be strings (byte 1)",
        "record 1: nested deeper than the decoder follows (about 1,000 levels)"]
    assert batch.column("eventid").to_pylist() == ["00000000-0000-0000-0000-000000000003"]


OPENING = "AuthorizeSecurityGroupIngress"


@pytest.mark.parametrize("only", [None, frozenset({OPENING})])
@pytest.mark.parametrize("where", ["requestParameters", "resources"])
def test_a_record_of_millions_of_tiny_containers_is_rejected_without_decoding_it(
        tmp_path, monkeypatch, only, where):
    # 20 million '{}' (60 MB) in one record peaked at 1.7 GB: a tiny container costs 50-100x its
    # text as an object. Past the bound (of '{', '[' and ',': two a '{}' here) the record is
    # rejected by its count alone, never decoded; one just under it is read. (A smaller bound
    # than the real one, for speed.)
    monkeypatch.setattr(reader, "MAX_RECORD_VALUES", 100_000)

    def records(*elements: int) -> bytes:
        crowds = ["[" + ",".join(["{}"] * n) + "]" if n else "null" for n in elements]
        text = json.dumps({"Records": [event(i, eventName=OPENING, **{where: f"@{i}@"})
                                       for i in range(1, len(elements) + 1)]})
        for i, crowd in enumerate(crowds, 1):
            text = text.replace(f'"@{i}@"', crowd)
        return text.encode()

    text = records(50_000, 0)
    tracemalloc.start()
    try:
        batch, report = read_cloudtrail_file(write(tmp_path / "crowd.json", text), only=only)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (report.error, report.read, report.used, report.rejected) == (None, 2, 1, 1)
    assert report.rejections == ["record 0: more than 100,000 brackets and commas (a value or container "
                                 "each to decode): over the bound that keeps memory under 1 GB"]
    assert batch.column("eventid").to_pylist() == [event(2)["eventID"]]
    assert peak < 6 * len(text)  # 2.5x; decoded, its 50,000 objects took 170x
    _, report = read_cloudtrail_file(write(tmp_path / "under.json", records(49_900)), only=only)
    assert (report.error, report.read, report.used, report.rejected) == (None, 1, 1, 0)


@pytest.mark.parametrize("only", [None, frozenset({OPENING})])
def test_a_lone_surrogate_escape_is_replaced_and_reported(tmp_path, only):
    # '\\ud83d' alone is valid JSON that Python reads and msgspec refuses: it hid an opening.
    # A pair stays one character; an escaped backslash before 'ud83d' is no escape at all.
    records = [event(1, eventName=OPENING, userAgent="LONE", requestParameters={"d": "LOW"}),
               event(2, userAgent="PAIR"), event(3, userAgent="NONE")]
    text = json.dumps({"Records": records}).encode()
    for marker, spelt in ((b"LONE", rb"aws-cli/2 \ud83d"), (b"LOW", rb"x\udc00y"), (b"PAIR", rb"\ud83d\ude00"),
                          (b"NONE", rb"\\ud83d")):
        text = text.replace(marker, spelt)
    batch, report = read_cloudtrail_file(write(tmp_path / "lone.json", text), only=only)
    assert (report.read, report.used, report.rejected) == (3, 3, 0)
    assert report.warnings == ["record 0: a lone UTF-16 surrogate escape replaced by U+FFFD"]
    rows = batch.to_pylist()
    assert rows[0]["eventname"] == OPENING and rows[0]["useragent"] == "aws-cli/2 \ufffd"
    assert json.loads(rows[0]["requestparameters"]) == {"d": "x\ufffdy"}
    if only is None:
        assert [r["useragent"] for r in rows[1:]] == ["\U0001f600", "\\ud83d"]


def test_a_focused_read_converts_the_named_events_whole_and_keeps_the_spine_of_the_others(tmp_path):
    path = records_file(tmp_path, "f.json.gz", [event(1), event(2, eventName=OPENING), event(3)])
    full, full_report = read_cloudtrail_file(path)
    focused, report = read_cloudtrail_file(path, only=frozenset({OPENING}))
    assert (report.read, report.used, report.rejected) == (full_report.read, full_report.used, 0) == (3, 3, 0)
    rows = {r["eventid"]: r for r in focused.to_pylist()}
    whole = {r["eventid"]: r for r in full.to_pylist()}
    opening = "00000000-0000-0000-0000-000000000002"
    assert rows[opening] == whole[opening]
    for eventid in set(whole) - {opening}:
        kept = {k: v for k, v in rows[eventid].items() if v is not None}
        assert kept == {k: whole[eventid][k] for k in SPINE_COLUMNS}
        assert kept["account"] == "111111111111" and kept["day"] == "2026/01/01"


def test_a_focused_read_counts_and_rejects_every_record_as_a_full_read_does(tmp_path):
    records = [event(1), {**event(2), "eventName": None}, event(3, userIdentity=None), event(4, eventTime="yesterday"),
               event(5, userIdentity="root"), "just a string", event(7, eventName=OPENING)]
    path = records_file(tmp_path, "mixed.json.gz", records)
    _, full = read_cloudtrail_file(path)
    focused, report = read_cloudtrail_file(path, only=frozenset({OPENING}))
    assert (report.read, report.used, report.rejected) == (full.read, full.used, full.rejected) == (7, 2, 5)
    assert report.rejections == full.rejections
    assert focused.column("eventname").to_pylist() == [OPENING, None]


def test_a_focused_read_rejects_a_named_event_whose_other_members_are_unusable(tmp_path):
    # Only the events converted whole are decoded whole: a bad `resources` is found where it is read.
    records = [event(1, eventName=OPENING, resources="bad"), event(2, resources="bad")]
    batch, report = read_cloudtrail_file(records_file(tmp_path, "f.json.gz", records), only=frozenset({OPENING}))
    assert (report.read, report.used, report.rejected) == (2, 1, 1)
    assert report.rejections == ["record 0: Expected `array | null`, got `str` - at `$.resources`"]
    assert batch.column("eventid").to_pylist() == ["00000000-0000-0000-0000-000000000002"]


def test_a_focused_read_replaces_invalid_utf8_in_a_named_event(tmp_path):
    text = json.dumps({"Records": [event(1, eventName=OPENING, userAgent="MARKER"), event(2)]}).encode()
    path = write(tmp_path / "bad-utf8-ua.json", text.replace(b"MARKER", b"ua\xff\xfe"))
    batch, report = read_cloudtrail_file(path, only=frozenset({OPENING}))
    assert (report.read, report.used, report.rejected) == (2, 2, 0)
    assert report.warnings == ["record 0: invalid UTF-8 replaced by U+FFFD"]
    assert batch.column("useragent").to_pylist() == ["ua\ufffd\ufffd", None]


# One crafted record never stops a file, and never hides another (issue 16).
DEEP = "[" * 10_000 + "]" * 10_000


def _with_member(record: dict, member: str, raw: str) -> str:
    """The record as JSON text with `member` set to `raw`, a text that json.dumps cannot write."""
    return json.dumps({**record, member: "@@"}).replace('"@@"', raw)


@pytest.mark.parametrize("shape", ["records", "array", "lines"])
@pytest.mark.parametrize("bad", ["NaN", "Infinity", DEEP, '{"x": ' + DEEP + "}", "[1, 2"])
def test_a_record_the_decoder_cannot_use_costs_only_itself(tmp_path, shape, bad):
    texts = [json.dumps(event(1)), _with_member(event(2), "requestParameters", bad), json.dumps(event(3))]
    if bad == "[1, 2":  # an unterminated value swallows what follows it: the last record is cut
        texts = texts[:2]
    body = {"records": '{"Records": [%s]}', "array": "[%s]"}.get(shape, "%s")
    joined = ("\n" if shape == "lines" else ", ").join(texts)
    batch, report = read_cloudtrail_file(write(tmp_path / "f.json.gz", (body % joined).encode(), zipped=True))
    kept = ["00000000-0000-0000-0000-000000000001"] + (["00000000-0000-0000-0000-000000000003"] if len(texts) == 3 else [])
    assert batch.column("eventid").to_pylist() == kept
    assert (report.error, report.read, report.used, report.rejected) == (None, len(texts), len(kept), 1)
    assert report.rejections[0].startswith("record 1: ")


def test_a_value_nested_too_deep_is_rejected_with_its_reason(tmp_path):
    path = write(tmp_path / "f.json", ('{"Records": [%s, %s]}' % (
        json.dumps(event(1)), _with_member(event(2), "additionalEventData", DEEP))).encode())
    batch, report = read_cloudtrail_file(path)
    assert report.rejections == ["record 1: nested deeper than the decoder follows (about 1,000 levels)"]
    assert batch.num_rows == 1


@pytest.mark.parametrize("time, reason", [
    ("20261103T090000Z", "eventTime is not an ISO 8601 time: '20261103T090000Z' is not of the form"),
    ("2026-W45-2T09:00:00Z", "eventTime is not an ISO 8601 time: '2026-W45-2T09:00:00Z' is not of the form"),
    ("2026-11-03", "eventTime is not an ISO 8601 time: '2026-11-03' is not of the form"),
    ("9999-12-31T23:59:59Z", "eventTime 9999-12-31T23:59:59Z is outside 2013-11-13 (CloudTrail's launch) .."),
    ("0001-01-01T00:00:00Z", "eventTime 0001-01-01T00:00:00Z is outside 2013-11-13"),
    ("0001-01-01T00:00:00+09:00", "eventTime is not an ISO 8601 time: '0001-01-01T00:00:00+09:00' is out of the range"),
    ("2013-11-12T23:59:59Z", "eventTime 2013-11-12T23:59:59Z is outside 2013-11-13"),
])
def test_an_event_time_that_is_not_a_real_time_is_rejected_and_the_rest_is_read(tmp_path, time, reason):
    evidence = tmp_path / "ev"
    records_file(evidence, "f.json.gz", [event(1), event(2, eventTime=time), event(3, eventName="StopLogging")])
    _, report = read_cloudtrail_file(evidence / "f.json.gz")
    assert (report.read, report.used, report.rejected) == (3, 2, 1)
    assert report.rejections[0].startswith(f"record 1: {reason}")
    inv = Investigation.from_evidence(evidence)  # the engine, the span and the report no longer fail
    assert inv.span()["events"] == 2 and len(inv.events()) == 2


def test_event_times_are_brought_to_utc_at_intake_and_partitioned_by_their_utc_day(tmp_path):
    evidence = tmp_path / "AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/01"
    records_file(evidence, "f.json.gz", [
        event(1, eventTime="2026-01-01T20:00:00-09:00", eventSource="cloudtrail.amazonaws.com",
              eventName="StopLogging", requestParameters={"name": "trail"}),
        event(2, eventTime="2026-01-01T08:00:00.250+09:00"),
    ])
    batch, _ = read_cloudtrail_file(evidence / "f.json.gz")
    assert batch.column("eventtime").to_pylist() == ["2026-01-02T05:00:00Z", "2025-12-31T23:00:00Z"]
    assert batch.column("day").to_pylist() == ["2026/01/02", "2025/12/31"]
    inv = Investigation.from_evidence(tmp_path)
    found = inv.detect(since="2026-01-02T00:00:00Z")
    assert list(found["event_name"]) == ["StopLogging"]
    assert [str(t) for t in inv.events()["eventtime"]] == ["2025-12-31 23:00:00+00:00", "2026-01-02 05:00:00+00:00"]


def test_a_file_over_the_size_limit_is_rejected_unread_and_the_rest_goes_on(tmp_path):
    limit = 1 << 20
    bomb = write(tmp_path / "bomb.json.gz", b'{"Records": [' + b" " * (limit * 4) + b"]}", zipped=True)
    plain = write(tmp_path / "big.json", b'{"Records": [' + b" " * limit + b"]}")
    good = records_file(tmp_path, "good.json.gz", [event(1)])
    _, report = read_cloudtrail_file(bomb, max_bytes=limit)
    assert report.error == f"the file inflates to more than the limit of {limit:,} bytes"
    assert (report.read, report.size) == (0, bomb.stat().st_size)
    _, report = read_cloudtrail_file(plain, max_bytes=limit)
    assert report.error == f"the file is {limit + 15:,} bytes, over the limit of {limit:,}"
    assert report.sha256 == hashlib.sha256(plain.read_bytes()).hexdigest()
    batch, report = read_cloudtrail_file(good, max_bytes=limit)
    assert (report.error, batch.num_rows) == (None, 1)


def test_the_size_limit_is_a_setting_the_investigation_and_the_cli_apply(tmp_path, monkeypatch):
    records_file(tmp_path / "ev", "good.json.gz", [event(1)])
    write(tmp_path / "ev" / "big.json", json.dumps({"Records": [event(i) for i in range(2, 40)]}).encode())
    inv = Investigation.from_evidence(tmp_path / "ev", Settings(max_file_bytes=4096))
    big = next(f for f in inv.intake.files if f.path.endswith("big.json"))
    assert big.error.startswith("the file is ") and big.error.endswith("bytes, over the limit of 4,096")
    assert inv.span()["events"] == 1
    monkeypatch.setenv("AUDIT_TOOLKIT_MAX_FILE_BYTES", "4096")
    result = CliRunner().invoke(main, ["sg-changes", "--evidence", str(tmp_path / "ev")])
    assert result.exit_code == 0 and "over the limit of 4,096" in result.stderr


@pytest.mark.parametrize("only", [None, frozenset({"StopLogging"})])
def test_a_large_file_is_read_a_chunk_at_a_time_with_the_same_result(tmp_path, monkeypatch, only):
    records = [event(i, eventName="StopLogging" if i % 3 else "DescribeInstances") for i in range(1, 12)]
    records[7] = {**records[7], "eventTime": "0001-01-01T00:00:00Z"}
    records[9] = {**records[9], "eventVersion": "9.99"}
    path = records_file(tmp_path, "f.json.gz", records)
    whole, whole_report = read_cloudtrail_file(path, only=only)
    monkeypatch.setattr(reader, "CHUNK_BYTES", 1500)  # about two records a chunk
    chunked, report = read_cloudtrail_file(path, only=only)
    assert chunked.to_batches()[0].num_rows < chunked.num_rows  # it was cut
    by_id = lambda table: sorted(table.to_pylist(), key=lambda row: row["eventid"])  # noqa: E731
    assert by_id(chunked) == by_id(whole)  # a focused read puts each chunk's named events first
    assert (report.read, report.used, report.rejected) == (11, 10, 1)
    assert report.rejections == whole_report.rejections and report.rejections[0].startswith("record 7: ")
    assert report.warnings == whole_report.warnings == ["record 9: unknown eventVersion '9.99', read as the latest known"]


@pytest.mark.parametrize("before", ['"deep": ' + DEEP, '"bad": NaN', '"note": "Records"'])
def test_what_precedes_the_records_in_the_envelope_hides_none_of_them(tmp_path, before):
    text = '{%s, "Records": [%s, %s]}' % (before, json.dumps(event(1)), json.dumps(event(2)))
    batch, report = read_cloudtrail_file(write(tmp_path / "f.json", text.encode()))
    assert (report.error, report.shape, report.read, report.used) == (None, "records", 2, 2)
    assert batch.num_rows == 2


@pytest.mark.parametrize("first", [b"null", b"[]", b"[1, 2]", b"{\"x\": NaN}"])
def test_a_hostile_first_line_hides_none_of_the_lines_after_it(tmp_path, first):
    text = b"\n".join([first, json.dumps(event(1)).encode(), json.dumps(event(2)).encode()])
    batch, report = read_cloudtrail_file(write(tmp_path / "f.jsonl", text))
    assert (report.error, report.shape) == (None, "lines")
    assert (report.read, report.used, report.rejected) == (3, 2, 1)
    assert batch.column("eventid").to_pylist() == [event(1)["eventID"], event(2)["eventID"]]


def test_each_gzip_member_that_is_a_whole_document_is_read_as_one(tmp_path):
    """`cat a.json.gz b.json.gz`: two trail documents in one file, each read."""
    first = gzip.compress(json.dumps({"Records": [event(1), event(2)]}).encode())
    second = gzip.compress(json.dumps({"Records": [event(3)]}).encode())
    batch, report = read_cloudtrail_file(write(tmp_path / "cat.json.gz", first + second))
    assert (report.error, report.read, report.used, report.warnings) == (None, 3, 3, [])
    assert batch.column("eventid").to_pylist() == [event(i)["eventID"] for i in (1, 2, 3)]


@pytest.mark.parametrize("tail, reason", [
    (b"garbage after the member", "24 bytes after gzip member 1 are not gzip: left unread"),
    (gzip.compress(b'{"Records": []}')[:15], "gzip member 2 (at byte "),
    (b"\x1f\x8b\x08\x00" + b"\xff" * 30, "gzip member 2 (at byte "),
])
def test_a_gzip_with_a_broken_tail_keeps_its_valid_members_and_says_why_the_rest_is_lost(
        tmp_path, tail, reason):
    whole = gzip.compress(json.dumps({"Records": [event(1), event(2)]}).encode())
    batch, report = read_cloudtrail_file(write(tmp_path / "tail.json.gz", whole + tail))
    assert (report.error, report.read, report.used) == (None, 2, 2)
    assert batch.column("eventid").to_pylist() == [event(1)["eventID"], event(2)["eventID"]]
    [warning] = report.warnings
    assert warning.startswith(reason)



AUTHORIZE = {"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22,
             "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}


def _twice(record: dict, key: str, first: object) -> str:
    """The record as JSON with `key` written twice: `first`, then the record's own value."""
    text = json.dumps(record, separators=(",", ":"))
    return "{" + json.dumps(key) + ":" + json.dumps(first) + "," + text[1:]


@pytest.mark.parametrize("key, first", [
    ("eventName", "AuthorizeSecurityGroupIngress"),
    ("requestParameters", AUTHORIZE),
    ("eventTime", "2026-01-01T00:00:59Z"),
    ("event\\u004eame", "AuthorizeSecurityGroupIngress"),  # the same key, spelt with an escape
    # The same key to Athena, whose JSON SerDe reads names case aside: the engines would disagree.
    ("eventname", "AuthorizeSecurityGroupIngress"),
    ("EventName", "AuthorizeSecurityGroupIngress"),
])
@pytest.mark.parametrize("only", [None, frozenset({"AuthorizeSecurityGroupIngress"})])
@pytest.mark.parametrize("spacing", ["compact", "pretty"])
def test_a_record_with_a_key_twice_is_rejected_with_the_key_and_the_others_are_read(
        tmp_path, key, first, only, spacing):
    hidden = _twice(event(2), "@@", first).replace('"@@"', '"' + key + '"', 1)
    records = [json.dumps(event(1)), hidden, json.dumps(event(3))]
    if spacing == "pretty":
        records = [json.dumps(json.loads(r), indent=2) if r is not hidden else hidden.replace(",", ",\n ")
                   for r in records]
    text = '{"Records": [' + ", ".join(records) + "]}"
    batch, report = read_cloudtrail_file(write(tmp_path / "twice.json", text.encode()), only=only)
    assert (report.error, report.read, report.used, report.rejected) == (None, 3, 2, 1)
    assert report.rejections == ["record 1: the key 'eventName' appears twice in the record: which "
                                 "value is the evidence cannot be decided".replace(
                                     "eventName", json.loads(f'"{key}"'))]
    assert batch.column("eventid").to_pylist() == [event(1)["eventID"], event(3)["eventID"]]


def _nested_twice(record: dict, member: str, path: list[str], key: str, first) -> str:
    """The record as JSON with `key` written twice in the object at `path` under `member`:
    `first`, then the object's own value."""
    record = json.loads(json.dumps(record))  # a copy: the marker must not reach shared objects
    inner = record[member]
    for name in path:
        inner = inner[name]
    marker = {"@@marker@@": True}
    inner_text = json.dumps(inner, separators=(",", ":"))
    twice = "{" + json.dumps(key) + ":" + json.dumps(first) + "," + inner_text[1:]
    target = record[member]
    if path:
        for name in path[:-1]:
            target = target[name]
        target[path[-1]] = marker
    else:
        record = {**record, member: marker}
    return json.dumps(record, separators=(",", ":")).replace(json.dumps(marker, separators=(",", ":")), twice)


IDENTITY = {"type": "AssumedRole", "principalId": "AROAEXAMPLE:attacker",
            "arn": "arn:aws:sts::111111111111:assumed-role/attacker/s", "accountId": "111111111111",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111111111111:role/attacker"},
                               "attributes": {"mfaAuthenticated": "false"}}}


@pytest.mark.parametrize("member, path, key, first, name", [
    # a forged actor: the first arn is the real one, a decoder keeps the second
    ("userIdentity", [], "arn", "arn:aws:iam::111111111111:user/innocent", "DescribeRegions"),
    ("userIdentity", ["sessionContext", "sessionIssuer"], "arn", "arn:aws:iam::111111111111:role/x",
     "DescribeRegions"),
    ("userIdentity", [], "a\\u0072n", "arn:aws:iam::111111111111:user/innocent", "DescribeRegions"),
    # the trail a StopLogging stopped, and a console login's outcome, which detections read
    ("requestParameters", [], "name", "arn:aws:cloudtrail:us-east-1:111111111111:trail/other", "StopLogging"),
    ("responseElements", [], "ConsoleLogin", "Success", "ConsoleLogin"),
])
@pytest.mark.parametrize("only", [None, frozenset({"StopLogging", "ConsoleLogin", "DescribeRegions"})])
@pytest.mark.parametrize("size", ["small", "chunked"])
def test_a_record_with_a_key_twice_at_any_depth_is_rejected_with_its_path_and_the_others_are_read(
        tmp_path, monkeypatch, member, path, key, first, name, only, size):
    if size == "chunked":
        monkeypatch.setattr(reader, "CHUNK_BYTES", 100)
    record = event(2, eventName=name, userIdentity=IDENTITY,
                   requestParameters={"name": "arn:aws:cloudtrail:us-east-1:111111111111:trail/main"},
                   responseElements={"ConsoleLogin": "Failure"})
    hidden = _nested_twice(record, member, path, json.loads(f'"{key}"') if "\\" not in key else "@@", first)
    if "\\" in key:
        hidden = hidden.replace('"@@"', '"' + key.replace("\\\\", "\\") + '"', 1)
    text = '{"Records": [' + ",".join([json.dumps(event(1)), hidden, json.dumps(event(3))]) + "]}"
    batch, report = read_cloudtrail_file(write(tmp_path / "twice.json", text.encode()), only=only)
    assert (report.error, report.read, report.used, report.rejected) == (None, 3, 2, 1)
    where = ".".join([member, *path, json.loads('"' + key.replace("\\\\", "\\") + '"')])
    assert report.rejections == [f"record 1: the key {where!r} appears twice in the record: which "
                                 "value is the evidence cannot be decided"]
    assert batch.column("eventid").to_pylist() == [event(1)["eventID"], event(3)["eventID"]]


def test_keys_repeated_in_different_objects_are_not_a_repeated_key(tmp_path):
    """arn in userIdentity and in its session issuer, items at every level: each object holds its
    keys once, so the record is read (proven in C, and by brackets where msgspec cannot)."""
    record = event(2, userIdentity=IDENTITY, requestParameters={"items": [{"items": [{"a": 1}, {"a": 2}]}]})
    nan = json.dumps(event(4)).replace('"readOnly": true', '"readOnly": true, "x": [{"a": NaN}, {"a": 1}]')
    text = '{"Records": [' + ",".join([json.dumps(event(1)), json.dumps(record), nan]) + "]}"
    _, report = read_cloudtrail_file(write(tmp_path / "ok.json", text.encode()))
    assert (report.read, report.used, report.rejected) == (3, 2, 1)
    assert report.rejections[0].startswith("record 2: not JSON")  # the NaN, not a key
    assert reader.repeated_key(nan, deep=True) is None
    assert reader.repeated_key('{"a": {"b": 1}, "c": {"b": 2, "d": [{"b": 3, "b": 4}]}}', deep=True) == "c.d[].b"


@pytest.mark.parametrize("size", ["small", "chunked"])
def test_a_file_whose_envelope_holds_records_twice_is_rejected_with_the_reason(
        tmp_path, size, monkeypatch):
    if size == "chunked":
        monkeypatch.setattr(reader, "CHUNK_BYTES", 100)
    evil = json.dumps([event(1, eventName="AuthorizeSecurityGroupIngress",
                             requestParameters=AUTHORIZE)])
    text = '{"Records":' + evil + ',"Records":' + json.dumps([event(2), event(3)]) + "}"
    batch, report = read_cloudtrail_file(write(tmp_path / "twice.json", text.encode()))
    assert report.error == ("the file's top-level object holds the key 'Records' twice: which of "
                            "its values is the evidence cannot be decided")
    assert (report.read, report.used, batch.num_rows) == (0, 0, 0)


def test_keys_once_at_every_level_are_proven_in_one_pass(tmp_path):
    """A trail file of good records (and nested objects that repeat the top-level names) is read."""
    nested = event(2, requestParameters={"eventName": "x", "Records": [{"eventName": "y"}]})
    for separators in ((",", ":"), (", ", ": ")):
        text = json.dumps({"Records": [event(1), nested, event(3)]}, separators=separators)
        _, report = read_cloudtrail_file(write(tmp_path / "ok.json", text.encode()))
        assert (report.read, report.used, report.rejected) == (3, 3, 0)
    assert reader.repeated_key(b'{"a": 1, "b": {"a": 2}, "c": "\\u0022a\\u0022"}') is None
    assert reader.repeated_key(b'{"a": 1, "b": NaN, "a": 2}') == "a"


def test_a_gzip_member_that_is_not_json_costs_only_itself(tmp_path):
    good = gzip.compress(json.dumps({"Records": [event(1), event(2)]}).encode())
    batch, report = read_cloudtrail_file(write(tmp_path / "two.json.gz", good + gzip.compress(b"garbage")))
    assert (report.error, report.read, report.used) == (None, 2, 2)
    assert report.warnings == ["gzip member 2: not JSON: no line starts with '{' (the text of a file "
                               "that may not be evidence is not shown): its records are not read"]


def test_many_gzip_members_of_trail_documents_are_read_as_one_in_their_order(tmp_path):
    """Members are merged, not read one document each (40,000 tiny members took minutes)."""
    members = b"".join(gzip.compress(json.dumps({"Records": [event(i % 60)]}).encode())
                       for i in range(500))
    batch, report = read_cloudtrail_file(write(tmp_path / "many.json.gz", members))
    assert (report.error, report.read, report.used, report.warnings) == (None, 500, 500, [])
    assert batch.column("record_index").to_pylist() == list(range(500))


def test_a_file_of_millions_of_tiny_records_is_read_a_bounded_chunk_of_records_at_a_time(tmp_path):
    # A `Records` array of tiny records ('{}', 3 bytes with its comma) cost some 1,100 bytes a
    # record at once, all of the file's together: 20 million in 60 MB would take 20 GB. Records are
    # now converted CHUNK_RECORDS at a time, found without an object a record, and the reasons they
    # are rejected for are said once, not kept as cycles while the GC is off.
    good = {at: event(number) for number, at in enumerate(_GOOD_AT, 1)}
    text = b'{"Records": [' + b",".join(_tiny_records()) + b"]}"
    batch, report, peak = _traced(write(tmp_path / "tiny.json", text))
    assert (report.error, report.shape, report.read, report.used, report.rejected) == (
        None, "records", 300_000, 3, 299_997)
    assert batch.column("eventid").to_pylist() == [e["eventID"] for e in good.values()]
    assert batch.column("record_index").to_pylist() == list(good)
    assert report.rejections[:3] == ["record 2: Expected `object`, got `array`",  # when decoded
                                     "record 3: Expected `object`, got `int`",
                                     "record 4: Expected `object`, got `null`"]
    assert len(report.rejections) == reader.MAX_REASONS_PER_FILE
    assert peak < 50 << 20, f"{peak / 2**20:.0f} MB"  # 28 MB; 99 MB when read as one chunk


@given(st.lists(st.one_of(st.integers(1, 9), st.sampled_from(
    ["{}", "[]", "0", "null", '"a,]}"', '{"eventVersion":"1"}', '{"k":"\\\\"}', '{"k":"\\"],"}'])),
    max_size=40),
    st.integers(1, 5), st.integers(1, 64), st.sampled_from([",", ", ", " ,\n "]),
    st.sampled_from(["records", "array"]), st.booleans())
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_records_are_chunked_by_count_and_text_without_losing_one(elements, per_chunk, scan, comma,
                                                                   shape, few):
    # Whatever the records, their count per chunk and the text scanned at a time, every good record
    # is read in its place and every other one rejected: read = used + rejected = the records.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "CHUNK_RECORDS", per_chunk, raising=False)
        patch.setattr(reader, "SCAN_BYTES", scan, raising=False)
        patch.setattr(reader, "CHUNK_BYTES", 200)
        patch.setattr(reader, "MAX_RAWS", 10**9 if few else 0)  # msgspec's Raws, or the scan
        texts = [json.dumps(event(e)) if isinstance(e, int) else e for e in elements]
        text = ("[" + comma.join(texts) + "]" if shape == "array" else
                '{"Records": [' + comma.join(texts) + "]}").encode()
        report = reader.FileReport(path="x.json")
        chunks = list(reader._chunks(text, report))
        batches = [reader._read_chunk(c, None, partition_of("x.json"), report) for c in chunks]
    ids = [i for b in batches for i in b.column("eventid").to_pylist()]
    assert ids == [event(e)["eventID"] for e in elements if isinstance(e, int)]
    assert [i for b in batches for i in b.column("record_index").to_pylist()] == [
        n for n, e in enumerate(elements) if isinstance(e, int)]
    assert (report.read, report.used, report.rejected) == (len(elements), len(ids), len(elements) - len(ids))
    assert report.shape == (shape if elements or shape == "array" else "records")
    if len(elements) > per_chunk:
        assert len(chunks) >= -(-len(elements) // per_chunk)


_HOSTILE_TEXT = st.text(alphabet='\\"[]{},:ab \u00e9\u2028', max_size=8)
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | _HOSTILE_TEXT,
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(_HOSTILE_TEXT, inner, max_size=4), max_leaves=20)


@given(st.lists(_JSON, max_size=8), st.integers(1, 40), st.booleans(), st.booleans())
@settings(max_examples=300, deadline=None)
def test_the_commas_between_records_are_found_whatever_the_strings_hold(values, scan, spaced, ascii):
    # Backslashes and quotes in strings, brackets and commas inside them, escapes cut by the end
    # of the text scanned at a time: the records found are the records written.
    text = json.dumps({"Records": values}, ensure_ascii=ascii,
                      separators=(", ", ": ") if spaced else (",", ":")).encode()
    start, end = text.index(b"[") + 1, len(text) - 2
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "SCAN_BYTES", scan)
        commas = [int(c) for found in reader._top_level_commas(text, start, end) for c in found]
    pieces = [text[a:b] for a, b in zip([start] + [c + 1 for c in commas], commas + [end])]
    assert [json.loads(p) for p in pieces if values] == values


def test_a_json_array_of_tiny_records_is_read_a_bounded_chunk_at_a_time(tmp_path):
    # The array shape was read as one chunk whatever its size: the same records as a bare array.
    elements = [b"{}"] * 300_000
    elements[150_000] = json.dumps(event(1)).encode()
    path = write(tmp_path / "tiny-array.json", b"[" + b",".join(elements) + b"]")
    read_cloudtrail_file(write(tmp_path / "warm.json", b"[{}]"))
    tracemalloc.start()
    try:
        batch, report = read_cloudtrail_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (report.error, report.shape, report.read, report.used, report.rejected) == (
        None, "array", 300_000, 1, 299_999)
    assert batch.column("record_index").to_pylist() == [150_000]
    assert peak < 50 << 20, f"{peak / 2**20:.0f} MB"


def _deep_record(depth: int) -> bytes:
    """A file of one genuine record and one whose requestParameters nest `depth` arrays."""
    text = json.dumps({"Records": [event(1, requestParameters="@deep@"), event(2)]})
    return text.replace('"@deep@"', '{"x": ' + "[" * depth + "]" * depth + "}").encode()


@pytest.mark.parametrize("only", [None, frozenset({"DescribeInstances"})])
def test_a_record_nested_thousands_of_arrays_deep_costs_memory_linear_in_its_depth(tmp_path, only):
    # 200,000 nested '[' (1.6 KB gzipped) took 22 GB: the duplicate-key walk kept a full path
    # string per open bracket, O(depth^2) (10,000 levels peaked at 102 MB, 20,000 at 404 MB).
    # Now a few pointers a level: the record is rejected with its reason, the other one is read.
    text = _deep_record(10_000)
    tracemalloc.start()
    try:
        batch, report = read_cloudtrail_file(write(tmp_path / "deep.json", text), only=only)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (report.error, report.read, report.used, report.rejected) == (None, 2, 1, 1)
    assert report.rejections == ["record 0: nested deeper than the decoder follows (about 1,000 levels)"]
    assert batch.column("eventid").to_pylist() == [event(2)["eventID"]]
    assert peak < 4 << 20


def test_the_duplicate_key_walk_is_linear_in_nesting_depth():
    for depth in (5_000, 20_000):
        raw = b'{"a": 1, "b": ' + b"[" * depth + b'{"k": 1, "k": 2}' + b"]" * depth + b"}"
        tracemalloc.start()
        try:
            key = reader.repeated_key(raw, deep=True)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert key == "b" + "[]" * depth + ".k"  # the path is built when reported, and only then
        assert peak < 3 * depth * 8 + len(key) * 4 + (1 << 20)  # 404 MB at 20,000 before


def _trail(*numbers: int) -> bytes:
    return json.dumps({"Records": [event(i) for i in numbers]}).encode()


DAMAGED = ("{size} bytes at byte {at} are neither a record nor a trail document: the file is damaged, "
           "and may have held more records than were read")


@pytest.mark.parametrize("zipped", [False, True])
def test_text_after_a_trail_document_costs_only_itself_and_the_file_is_damaged(tmp_path, zipped):
    # ' garbage' appended to a genuine file made it '1 event read, 1 rejected' (it held 2): read one
    # event a line, the whole file was one line. Its records are read; the text is rejected as one.
    good = _trail(1, 2)
    batch, report = read_cloudtrail_file(write(tmp_path / "t.json.gz", good + b" garbage", zipped))
    assert (report.error, report.read, report.used, report.rejected) == (None, 3, 2, 1)
    assert report.rejections == [f"record 2: 7 bytes at byte {len(good) + 1:,} are not JSON (text "
                                 "outside the file's documents)"]
    assert report.damaged == DAMAGED.format(size=7, at=f"{len(good) + 1:,}")
    assert batch.column("eventid").to_pylist() == [event(1)["eventID"], event(2)["eventID"]]


@pytest.mark.parametrize("sep", [b"", b"\n", b" \r\n "])
def test_trail_documents_one_after_another_are_each_read(tmp_path, sep):
    text = sep.join([_trail(1, 2), _trail(), _trail(3)])
    batch, report = read_cloudtrail_file(write(tmp_path / "t.json", text))
    assert (report.error, report.read, report.used, report.rejected, report.damaged) == (None, 3, 3, 0, None)
    assert report.warnings == ["3 JSON documents one after another: each was read"]
    assert batch.column("eventid").to_pylist() == [event(i)["eventID"] for i in (1, 2, 3)]


def test_one_bad_part_among_trail_documents_costs_only_itself(tmp_path):
    first, twice = _trail(1), b'{"Records": [], "Records": []}'
    text = first + b"\n#!x\n" + _trail(2) + twice + b'{"not": "a record"}' + _trail(3)
    batch, report = read_cloudtrail_file(write(tmp_path / "t.json", text))
    assert (report.error, report.read, report.used, report.rejected) == (None, 6, 3, 3)
    at = len(first) + 1
    refused = ("the file's top-level object holds the key 'Records' twice: which of its values a reader "
               "takes is undefined")
    assert [r.split(": ", 1)[0] for r in report.rejections] == ["record 1", "record 3", "record 4"]
    assert report.rejections[0] == f"record 1: 3 bytes at byte {at:,} are not JSON (text outside the file's documents)"
    assert report.rejections[1].startswith("record 3: " + refused[:40])
    assert report.damaged == DAMAGED.format(size=3, at=f"{at:,}")
    assert batch.column("eventid").to_pylist() == [event(i)["eventID"] for i in (1, 2, 3)]


def test_text_before_a_trail_document_costs_only_itself(tmp_path):
    for prefix in (b"xyz", b"[", b"{", b'"', b'{"a": '):
        batch, report = read_cloudtrail_file(write(tmp_path / "t.json", prefix + _trail(1, 2)))
        assert (report.error, report.read, report.used, report.rejected) == (None, 3, 2, 1), prefix
        assert report.damaged == DAMAGED.format(size=len(prefix.rstrip()), at=0)
        assert batch.column("eventid").to_pylist() == [event(1)["eventID"], event(2)["eventID"]]


def test_a_damaged_file_makes_fail_on_open_say_the_evidence_cannot_answer(tmp_path):
    folder = tmp_path / "ev" / "AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/01"
    write(folder / "111111111111_CloudTrail_us-east-1_20260101T0000Z_x.json.gz", _trail(1, 2) + b"garbage", True)
    result = CliRunner().invoke(main, ["ssh-exposure", "--evidence", str(tmp_path / "ev"), "--fail-on-open"])
    assert result.exit_code == 4, result.output  # was 0: '1 event read, 1 rejected', nothing open
    assert "1 file, 3 events read, 2 used, 1 rejected, 0 unreadable files, 0 duplicate events counted once, " \
           "1 damaged file read in part" in result.stderr
    assert "the evidence cannot show that nothing is open: 1 damaged file read in part" in result.stderr
    for language, said in (("en", "1 damaged file read in part"), ("ja", "一部しか読めなかった壊れたファイル 1 個")):
        out = tmp_path / f"report-{language}"
        result = CliRunner().invoke(main, ["report", "--evidence", str(tmp_path / "ev"), "--out", str(out)],
                                    env={"AUDIT_TOOLKIT_LANGUAGE": language})
        assert result.exit_code == 0, result.output
        assert said in (out / "report.html").read_text()  # the lead's evidence not fully used


_NOT_TEXT = (b"\x1f\x8b", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")  # gzip, or a BOM of UTF-16/32


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(before=st.binary(max_size=30), after=st.binary(max_size=30))
@example(before=b"", after=b" garbage")
@example(before=b"", after=b'{"Records": []}')
@example(before=b"[", after=b"]")
@example(before=b'{"x":', after=b"")
def test_bytes_around_a_genuine_trail_document_never_lose_its_records(tmp_path_factory, before, after):
    if before.startswith(_NOT_TEXT) or (not before and after.startswith(_NOT_TEXT)):
        return  # another encoding or a gzip file: not this document's text any more
    good = _trail(1, 2)
    try:  # bytes that make one JSON object holding the document ('{"x":' and '}') are another
        if isinstance(json.loads(before + good + after), dict) and before.strip():  # file: not read
            return
    except ValueError:
        pass
    path = write(tmp_path_factory.mktemp("p") / "t.json", before + good + after)
    batch, report = read_cloudtrail_file(path)
    assert report.error is None
    assert report.read == report.used + report.rejected
    assert {event(1)["eventID"], event(2)["eventID"]} <= set(batch.column("eventid").to_pylist())
    if (before + after).strip(b" \t\r\n") and report.used == 2 and report.read > 2:
        assert report.damaged or report.warnings


_TINY = [b"{}", b'{"eventVersion":"1"}', b"[]", b"1", b"null", b'{"x":[{},{}]}']
_GOOD_AT = (0, 150_000, 299_999)


def _tiny_records(count: int = 300_000) -> list[bytes]:
    """Tiny records of six kinds, a genuine event at each of _GOOD_AT."""
    elements = [_TINY[i % len(_TINY)] for i in range(count)]
    for number, at in enumerate(_GOOD_AT, 1):
        elements[at] = json.dumps(event(number)).encode()
    return elements


def _traced(path: Path) -> tuple:
    """The file read: its table, report and peak traced memory."""
    read_cloudtrail_file(write(path.parent / "warm.json", b'{"Records": [{}]}\n[{}]'))  # imports, caches
    tracemalloc.start()
    try:
        batch, report = read_cloudtrail_file(path)
        return batch, report, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _peak_and_whole(path: Path, monkeypatch) -> tuple:
    """The file read (its table, report and peak traced memory), and read again as one chunk."""
    batch, report, peak = _traced(path)
    with monkeypatch.context() as patch:
        patch.setattr(reader, "CHUNK_RECORDS", 10**9)
        patch.setattr(reader, "CHUNK_BYTES", 1 << 40)
        whole = read_cloudtrail_file(path)
    return batch, report, peak, whole


def _same_answer(batch, report, whole) -> None:
    assert batch.to_pylist() == whole[0].to_pylist()
    assert report == whole[1]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_a_file_of_millions_of_tiny_lines_is_read_a_bounded_chunk_of_lines_at_a_time(
        tmp_path, monkeypatch, newline):
    # One record a line was read whole: every line a bytes object and every record's objects at
    # once (300,000 tiny lines peaked at 194 MB traced; 2 million at 790 MB resident).
    text = b"\xef\xbb\xbf" + newline.join(_tiny_records()) + newline + b"   " + newline
    batch, report, peak, whole = _peak_and_whole(write(tmp_path / "tiny.jsonl", text), monkeypatch)
    assert (report.error, report.shape, report.read, report.used, report.rejected) == (
        None, "lines", 300_000, 3, 299_997)
    assert batch.column("eventid").to_pylist() == [event(n)["eventID"] for n in (1, 2, 3)]
    assert batch.column("record_index").to_pylist() == list(_GOOD_AT)
    assert report.rejections[:3] == ["record 2: Expected `object`, got `array`",  # when decoded
                                     "record 3: Expected `object`, got `int`",
                                     "record 4: Expected `object`, got `null`"]
    _same_answer(batch, report, whole)
    assert peak < 50 << 20, f"{peak / 2**20:.0f} MB"


@pytest.mark.parametrize("before, shape", [(b"\xef\xbb\xbf", "records"), (b" \r\n\t", "records"),
                                           (b"\xef\xbb\xbf", "array"), (b"\n ", "array")])
def test_records_after_white_space_or_a_byte_order_mark_are_read_a_bounded_chunk_at_a_time(
        tmp_path, monkeypatch, before, shape):
    # The chunking started only at the text's first byte: an array after white space, or either
    # shape after a byte order mark, was one chunk (300,000 tiny records: 194 MB traced).
    records = b",".join(_tiny_records())
    text = before + (b'{"Records": [' + records + b"]}" if shape == "records" else b"[" + records + b"]")
    batch, report, peak, whole = _peak_and_whole(write(tmp_path / "tiny.json", text), monkeypatch)
    assert (report.error, report.shape, report.read, report.used, report.rejected) == (
        None, shape, 300_000, 3, 299_997)
    assert batch.column("record_index").to_pylist() == list(_GOOD_AT)
    _same_answer(batch, report, whole)
    assert peak < 50 << 20, f"{peak / 2**20:.0f} MB"


@pytest.mark.parametrize("after", [b" garbage", b"\n" + b'{"not": "a record"}\n' * 200_000])
def test_a_damaged_file_of_millions_of_tiny_records_is_read_a_bounded_chunk_at_a_time(
        tmp_path, monkeypatch, after):
    # A damaged file was decoded whole: a Raw for every record of its document, then every
    # record's objects at once (300,000 tiny records and ' garbage': 180 MB traced). Its document
    # is now cut as an intact file is, and the parts among documents come a chunk at a time.
    text = b'{"Records": [' + b",".join(_tiny_records()) + b"]}" + after
    batch, report, peak, whole = _peak_and_whole(write(tmp_path / "tiny.json", text), monkeypatch)
    values = after.count(b"{")
    assert (report.error, report.shape, report.read, report.used, report.rejected) == (
        None, "documents", 300_000 + max(values, 1), 3, 299_997 + max(values, 1))
    assert batch.column("record_index").to_pylist() == list(_GOOD_AT)
    at = len(text) - len(after) + 1  # after the white space that ends the document
    assert report.damaged == (DAMAGED.format(size=7, at=f"{at:,}") if not values else
                              f"the JSON value at byte {at:,} is not a trail document, yet among them: "
                              "read as one record")
    _same_answer(batch, report, whole)
    assert peak < 50 << 20, f"{peak / 2**20:.0f} MB"


def test_a_record_among_trail_documents_is_read_as_a_record(tmp_path):
    # A value's end was read from msgspec's error message ('trailing characters (byte N)'), whose
    # N is one past the byte it names: no value among documents was ever found to be JSON, and a
    # genuine record after a document was refused as text ("... bytes are not JSON").
    text = _trail(1) + b"\n" + json.dumps(event(2)).encode() + b"\n" + _trail(3)
    batch, report = read_cloudtrail_file(write(tmp_path / "t.json", text))
    assert (report.error, report.read, report.used, report.rejected) == (None, 3, 3, 0)
    assert batch.column("eventid").to_pylist() == [event(i)["eventID"] for i in (1, 2, 3)]
    assert report.damaged == (f"the JSON value at byte {len(_trail(1)) + 1:,} is not a trail document, "
                              "yet among them: read as one record")
    assert report.warnings == ["2 JSON documents one after another: each was read"]


@given(st.one_of(st.lists(_JSON, max_size=4), st.dictionaries(_HOSTILE_TEXT, _JSON, max_size=4)),
       st.sampled_from([b"", b" ", b"\n", b"x", b"{}", b" ]"]), st.integers(1, 8), st.integers(1, 64))
@settings(max_examples=300, deadline=None)
def test_a_value_ends_where_its_brackets_close_whatever_its_strings_hold(value, after, walked, scan):
    # Walked in Python or scanned a block at a time past `walked` tokens: the end is the value's.
    text = json.dumps(value).encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "WALKED", walked)
        patch.setattr(reader, "SCAN_BYTES", scan)
        assert reader._value_end(text + after, 0) == (len(text), True)
        assert reader._value_end(text[:-1], 0)[0] is None  # left open


def test_a_damaged_file_is_never_a_raw_a_record_while_its_shape_is_found(tmp_path):
    # Whether the text was one envelope was asked of a decoder that made a Raw (56 bytes) of every
    # record before it met the text after the document: 20 million `{}` and ' garbage' took
    # 1,288 MB resident. The text is now checked as JSON first, without a Raw a record.
    text = b'{"Records": [' + b",".join([b"{}"] * 1_500_000) + b"]} garbage"
    batch, report, peak = _traced(write(tmp_path / "tiny.json", text))
    assert (report.error, report.shape, report.read, report.used, report.rejected) == (
        None, "documents", 1_500_001, 0, 1_500_001)
    assert report.damaged == DAMAGED.format(size=7, at=f"{len(text) - 7:,}")
    assert peak < 50 << 20, f"{peak / 2**20:.0f} MB"  # 84 MB before
