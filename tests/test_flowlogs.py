"""VPC flow log files: which files they are, and what DuckDB's readers make of them, line by line.

The records are AWS's own examples ("Flow log record examples" in the VPC user guide): accepted SSH,
rejected RDP, NODATA with '-' in every field but the interface and the times, an IPv6 flow.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from audit_toolkit.engines.duckdb import DuckDBEngine
from audit_toolkit.evidence import flowlogs
from audit_toolkit.evidence.layout import discover_files, discover_flow_logs

HEADER = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
          "start end action log-status")
ACCEPTED = ("2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
            "1418530010 1418530070 ACCEPT OK")
REJECTED = ("2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 "
            "1418530010 1418530070 REJECT OK")
NODATA = "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"
IPV6 = (
    "3 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 "
    "2001:db8:1234:a102:3304:8879:34cf:4071 "
    "34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK"
)
FOLDER = "AWSLogs/123456789010/vpcflowlogs/us-east-1/2024/03/05"
NAME = "123456789010_vpcflowlogs_us-east-1_fl-1234abcd_20240305T1005Z_abcd1234.log.gz"


def write(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def read(paths):
    engine = DuckDBEngine()
    report = engine.load_flow_logs(paths)
    return (
        engine,
        report,
        engine.con.sql(f"SELECT * FROM {flowlogs.TABLE} ORDER BY filename, start, srcaddr").df(),
    )


def test_default_format_reads_awss_examples_with_dash_as_null(tmp_path):
    path = write(tmp_path / FOLDER / NAME, HEADER, ACCEPTED, REJECTED, NODATA, IPV6)
    _, report, rows = read([path])
    assert (report.read, report.used, report.rejected) == (4, 4, 0)
    assert report.files[0].warnings == [
        "1 record with log-status NODATA or SKIPDATA (shown as a coverage gap)"
    ]
    nodata = rows[rows["log_status"] == "NODATA"].iloc[0]
    assert nodata[["srcaddr", "dstport", "packets", "bytes", "action"]].isna().all()
    assert (nodata["start"], nodata["end"]) == (1431280876, 1431280934)
    assert rows["srcaddr"].fillna("-").tolist() == [
        "172.31.16.139",
        "172.31.9.69",
        "-",
        "2001:db8:1234:a100:8d6e:3477:df66:f105",
    ]
    assert set(rows["account"]) == {"123456789010"} and set(rows["region"]) == {"us-east-1"}
    assert set(rows["day"]) == {"2024/03/05"}
    assert rows["instance_id"].isna().all()  # not in the default format


def test_custom_order_and_unknown_fields_are_read_by_name(tmp_path):
    header = ("instance-id interface-id flow-direction srcaddr dstport srcport action log-status start "
              "end bytes packets protocol reject-reason")
    line = "i-0abc eni-2 ingress 198.51.100.7 22 555 REJECT OK 100 160 40 1 6 -"
    hourly = tmp_path / "AWSLogs/123456789010/vpcflowlogs/us-east-1/2024/03/05/10" / NAME
    default = write(tmp_path / FOLDER / NAME, HEADER, ACCEPTED)
    custom = write(hourly, header, line)
    _, report, rows = read([default, custom])
    assert report.files[1].warnings == ["fields not known to this toolkit, not read: reject-reason"]
    row = rows[rows["interface_id"] == "eni-2"].iloc[0]
    assert (
        row["instance_id"],
        row["flow_direction"],
        row["srcaddr"],
        row["dstport"],
        row["srcport"],
    ) == ("i-0abc", "ingress", "198.51.100.7", 22, 555)
    assert (row["bytes"], row["packets"], row["protocol"], row["day"]) == (
        40,
        1,
        6,
        "2024/03/05/10",
    )
    assert pd_isna(row["version"]) and pd_isna(row["dstaddr"])


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_bad_lines_are_rejected_each_with_its_reason_and_the_rest_kept(tmp_path):
    path = write(
        tmp_path / FOLDER / NAME,
        HEADER,
        ACCEPTED,
        "2 123456789010 eni-1 truncated",
        ACCEPTED.replace(" 22 6 ", " x22 6 "),
        REJECTED,
        ACCEPTED + " extra",
    )
    _, report, rows = read([path])
    f = report.files[0]
    assert (f.read, f.used, f.rejected) == (5, 2, 3)
    assert [r.split(":")[0] for r in f.rejections] == ["line 3", "line 4", "line 6"]
    assert "Expected Number of Columns: 14 Found: 4" in f.rejections[0]
    assert 'Could not convert string "x22"' in f.rejections[1]
    assert "Expected Number of Columns: 14 Found: 15" in f.rejections[2]
    assert len(rows) == 2


def test_a_line_over_duckdbs_size_limit_costs_that_line_alone(tmp_path):
    # DuckDB's reject table gives such a line no column (and so, read by column, no reason)
    long = ACCEPTED[:-2] + "O" * 2_200_000
    path = write(tmp_path / FOLDER / NAME, HEADER, *[ACCEPTED] * 5, long, *[ACCEPTED] * 5)
    _, report, rows = read([path])
    f = report.files[0]
    assert (f.read, f.used, f.rejected, f.error) == (11, 10, 1, None)
    assert f.rejections == ["line 7: longer than DuckDB's limit of 2,000,000 bytes for a line "
                            f"({len(long):,} bytes)"]
    assert len(rows) == 10


@hsettings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(1_999_900, 2_000_100))
def test_a_line_about_duckdbs_size_limit_is_read_or_rejected_alone(tmp_path, size):
    # the line's log-status is padded: read, it is a record that is not OK (a no_data warning)
    path = write(tmp_path / FOLDER / NAME, HEADER, ACCEPTED,
                 ACCEPTED[:-2] + "O" * (size - len(ACCEPTED) + 2), ACCEPTED)
    _, report, rows = read([path])
    f = report.files[0]
    assert (f.read, f.used + f.rejected, f.error) == (3, 3, None)
    assert len(rows) == f.used
    assert f.rejections == ([] if size < 2_000_000 else [
        f"line 3: longer than DuckDB's limit of 2,000,000 bytes for a line ({size:,} bytes)"])


def test_a_file_that_is_not_a_flow_log_is_reported_whole(tmp_path):
    bad = write(tmp_path / FOLDER / "not-a-flow-log.log.gz", '{"Records": []}')
    good = write(tmp_path / FOLDER / NAME, HEADER, ACCEPTED)
    _, report, rows = read([bad, good])
    assert report.files[0].error.startswith("the first line is not a flow log header")
    assert (report.read, report.used, len(rows)) == (1, 1, 1)


def test_parquet_delivery_is_read_with_the_same_columns(tmp_path):
    # The Parquet option's columns are the table's names (AWS's Athena DDL for Parquet flow logs).
    table = pa.table(
        {
            "version": pa.array([2], pa.int32()),
            "account_id": ["123456789010"],
            "interface_id": ["eni-9"],
            "srcaddr": ["198.51.100.7"],
            "dstaddr": ["10.0.0.5"],
            "srcport": pa.array([4242], pa.int32()),
            "dstport": pa.array([22], pa.int32()),
            "protocol": pa.array([6], pa.int32()),
            "packets": [3],
            "bytes": [180],
            "start": [1700000000],
            "end": [1700000060],
            "action": ["ACCEPT"],
            "log_status": ["OK"],
        }
    )
    path = tmp_path / FOLDER / NAME.replace(".log.gz", ".log.parquet")
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)
    text = write(tmp_path / FOLDER / NAME, HEADER, ACCEPTED)
    engine, report, rows = read([path, text])
    assert report.files[0].shape == "parquet" and (report.read, report.used) == (2, 2)
    row = rows[rows["interface_id"] == "eni-9"].iloc[0]
    assert (row["dstport"], row["bytes"], row["region"]) == (22, 180, "us-east-1")
    # narrowed, the text lines are searched and the Parquet file read as it is
    both = " eni-9 eni-1235b8ca123456789 "
    assert _both(engine, _values(both, " ", anytime=True)) == (2, True)


def test_flow_logs_are_found_by_path_or_header_and_kept_out_of_cloudtrail(tmp_path):
    in_layout = write(tmp_path / FOLDER / NAME, HEADER, ACCEPTED)
    loose = write(tmp_path / "loose" / "exported.log.gz", HEADER, ACCEPTED)
    trail = tmp_path / "AWSLogs/123456789010/CloudTrail/us-east-1/2024/03/05/x.json.gz"
    write(trail, '{"Records": []}')
    assert discover_flow_logs(tmp_path) == sorted([in_layout, loose])
    assert discover_files(tmp_path) == [trail]


@pytest.mark.parametrize(
    "path, expected",
    [
        (f"{FOLDER}/{NAME}", ("123456789010", "us-east-1", "2024/03/05")),
        (
            "AWSLogs/123456789010/vpcflowlogs/us-east-1/2024/03/05/10/x.log.gz",
            ("123456789010", "us-east-1", "2024/03/05/10"),
        ),
        (
            "AWSLogs/aws-account-id=123456789010/aws-service=vpcflowlogs/aws-region=us-east-1/"
            "year=2024/month=03/day=05/x.log.gz",
            ("123456789010", "us-east-1", "2024/03/05"),
        ),
        (f"loose/{NAME}", ("123456789010", "us-east-1", "2024/03/05")),
        ("loose/exported.log.gz", (None, None, None)),
    ],
)
def test_partition_of_reads_the_s3_layouts(path, expected):
    p = flowlogs.partition_of(path)
    assert (p.account, p.region, p.day) == expected


def test_scope_bounds_days_and_hours_around_the_window():
    opened = 1762160400  # 2025-11-03T09:00:00Z
    values = flowlogs.scope(opened, opened + 5400, 3600, None, "111111111111", "ap-northeast-1")
    assert values["since_epoch"] == opened - 3600 and values["until_epoch"] == opened + 9000
    # 15 minutes before the margin for records that began earlier; an hour after for late files.
    assert (values["since_day"], values["since_hour"], values["until_hour"]) == (
        "2025/11/03",
        "2025/11/03/07",
        "2025/11/03/12",
    )
    still_open = flowlogs.scope(opened, None, 3600)
    assert (
        still_open["until_epoch"] is None
        and still_open["until_hour"] is None
        and still_open["closed_epoch"] is None
    )


def test_a_gzip_cut_short_is_reported_and_the_other_files_read(tmp_path):
    lines = [HEADER] + [ACCEPTED.replace("20641", str(20000 + i)) for i in range(5000)]
    whole = write(tmp_path / FOLDER / NAME, *lines)
    data = whole.read_bytes()
    cut = tmp_path / FOLDER / NAME.replace("abcd1234", "cut00000")
    cut.write_bytes(data[: len(data) * 2 // 3])
    _, report, rows = read([whole, cut])
    by_path = {f.path: f for f in report.files}
    assert by_path[str(cut)].error.startswith("cannot be read to its end")
    assert (by_path[str(whole)].read, by_path[str(whole)].used) == (5000, 5000)
    assert len(rows) == 5000


def test_a_carriage_return_inside_a_line_costs_that_line_alone(tmp_path):
    """DuckDB's CSV reader ends a line at a lone CR, and stops on a file of LF lines that holds one
    (or a CRLF ending): the whole file was rejected. Now such a file is read from a copy made
    apart (flowlogs.mended), each line with a CR inside rejected with its number and reason, a CR
    at either end of a line read as part of its end, every other line kept with its number; the evidence is
    untouched, and a window's answer the same narrowed or not (the copy is never narrowed)."""
    whole = write(tmp_path / FOLDER / NAME, HEADER, ACCEPTED, REJECTED)
    cr = write(tmp_path / FOLDER / NAME.replace("abcd1234", "cr000000"), HEADER, ACCEPTED,
               ACCEPTED.replace("eni-", "eni-\r"), REJECTED + "\r", "2 123456789010 eni-1 truncated",
               "\r" + IPV6, IPV6.replace("ACCEPT", "ACC\rEPT"))
    before = hashlib.sha256(cr.read_bytes()).hexdigest()
    engine, report, rows = read([whole, cr])
    by_path = {f.path: f for f in report.files}
    bad = by_path[str(cr)]
    assert (bad.error, bad.read, bad.used, bad.rejected) == (None, 6, 3, 3)
    assert bad.rejections == [f"line 3: {flowlogs.CARRIAGE_RETURN}",
                              "line 5: Expected Number of Columns: 14 Found: 4",
                              f"line 7: {flowlogs.CARRIAGE_RETURN}"]
    assert flowlogs.CARRIAGE_RETURN.startswith("a carriage return inside the line")
    from audit_toolkit.phrases import in_language  # the report says it in its language: Japanese too

    assert [in_language(r, "ja") for r in bad.rejections] == [
        "3 行目: 行の途中に復帰文字 (CR) があります (DuckDB の CSV リーダーはそこで行を終え、LF 改行のファイルに"
        "それがあると読み込みを止めます): その行は読み込みません",
        "5 行目: 列の数が 14 ではなく 4 です",
        "7 行目: 行の途中に復帰文字 (CR) があります (DuckDB の CSV リーダーはそこで行を終え、LF 改行のファイルに"
        "それがあると読み込みを止めます): その行は読み込みません"]
    assert (bad.sha256, hashlib.sha256(cr.read_bytes()).hexdigest()) == (before, before)
    assert (by_path[str(whole)].read, by_path[str(whole)].used) == (2, 2)
    assert sorted(rows.loc[rows["filename"] == str(cr.resolve()), "srcport"]) == [20641, 34892, 49761]
    assert len(rows) == 5 and set(rows["day"]) == {"2024/03/05"}
    assert _both(engine, _values(" eni-1235b8ca123456789 ", " ", anytime=True)) == (5, False)


def test_a_carriage_return_duckdb_reads_past_still_costs_its_line_alone(tmp_path):
    """A file of one record with a CR after its first field did not stop DuckDB's scan: it read
    two short lines ('2 ' and the rest), both rejected, so the file counted 2 records where it
    holds 1 and every later line's number was off by one (found by the property test below)."""
    line = ACCEPTED.replace(" ", " \r", 1)
    path = write(tmp_path / FOLDER / NAME, HEADER, line, REJECTED)
    _, report, rows = read([path])
    (f,) = report.files
    assert (f.error, f.read, f.used, f.rejected) == (None, 2, 1, 1)
    assert f.rejections == [f"line 2: {flowlogs.CARRIAGE_RETURN}"]
    assert len(rows) == 1


def test_a_file_whose_text_is_over_the_size_bound_is_left_out_with_its_reason(tmp_path):
    """Settings.max_file_bytes bounds flow logs as it does CloudTrail: a small gzip that inflates past
    it (several members, as a bomb may be) is reported and not read; the other files are."""
    small = write(tmp_path / FOLDER / NAME, HEADER, ACCEPTED)
    lines = [ACCEPTED.replace("20641", str(20000 + i)) for i in range(400)]
    big = tmp_path / FOLDER / NAME.replace("abcd1234", "big00000")
    big.write_bytes(gzip.compress((HEADER + "\n").encode())
                    + gzip.compress(("\n".join(lines) + "\n").encode()))
    text = len(HEADER) + 1 + sum(len(line) + 1 for line in lines)
    assert text > 20_000 and big.stat().st_size < 20_000  # over the bound only once inflated
    engine = DuckDBEngine()
    report = engine.load_flow_logs([small, big], max_file_bytes=20_000)
    by_path = {f.path: f for f in report.files}
    assert by_path[str(big)].error == "the file inflates to more than the limit of 20,000 bytes"
    assert by_path[str(big)].sha256 == hashlib.sha256(big.read_bytes()).hexdigest()
    assert (report.read, report.used, report.rejected) == (1, 1, 0)
    assert engine.con.sql(f"SELECT count(*) FROM {flowlogs.TABLE}").fetchall() == [(1,)]
    # Under a bound it fits, the same file is read whole, both members.
    assert DuckDBEngine().load_flow_logs([big], max_file_bytes=text).used == 400


def test_the_size_bound_comes_from_the_settings(tmp_path, monkeypatch):
    from audit_toolkit.investigation import Investigation
    from audit_toolkit.settings import Settings

    write(tmp_path / FOLDER / NAME, HEADER, *[ACCEPTED] * 50)
    monkeypatch.setenv("AUDIT_TOOLKIT_MAX_FILE_BYTES", "1000")
    inv = Investigation.from_evidence(tmp_path, Settings.load())
    (flow,) = inv.flow_intake.files
    assert flow.error == "the file inflates to more than the limit of 1,000 bytes"


# --- flow-log lines of any shape through the whole pipeline ---------------------------------------
# reader -> vpcflowlogs -> connections -> report and chat, on an SSH window opened to the internet
# on sg-1 at 10:00 and never closed, with i-1 (interface eni-1) and i-2 (its interface named only by
# the flow log's instance-id, so any text the log holds there reaches the outputs) in sg-1.

T_OPEN = 1767607200  # 2026-01-05T10:00:00Z
TRAIL = "AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/05"
FLOWS = "AWSLogs/111111111111/vpcflowlogs/us-east-1/2026/01/05"
FLOW_NAME = "111111111111_vpcflowlogs_us-east-1_fl-0a1b2c3d_20260105T1000Z_0a1b2c3d.log.gz"
GROUP = {"items": [{"groupId": "sg-1", "groupName": "bastion"}]}


def _call(name: str, at: str, request: dict, response: dict | None) -> dict:
    return {"eventVersion": "1.10", "eventTime": at, "eventSource": "ec2.amazonaws.com",
            "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "192.0.2.10",
            "userAgent": "aws-cli/2", "recipientAccountId": "111111111111",
            "eventID": f"00000000-0000-4000-8000-00000000000{len(at) % 9}{name[0]}",
            "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "111111111111",
                             "arn": "arn:aws:iam::111111111111:user/alice",
                             "accessKeyId": "AKIAALICE0000000001"},
            "eventType": "AwsApiCall", "requestParameters": request, "responseElements": response}


TRAIL_RECORDS = [
    _call("RunInstances", "2026-01-05T09:00:00Z",
          {"instancesSet": {"items": [{"imageId": "ami-1"}]}},
          {"instancesSet": {"items": [{"instanceId": "i-1", "groupSet": GROUP,
                                       "networkInterfaceSet": {"items": [
                                           {"networkInterfaceId": "eni-1", "groupSet": GROUP}]}},
                                      {"instanceId": "i-2", "groupSet": GROUP}]}}),
    _call("AuthorizeSecurityGroupIngress", "2026-01-05T10:00:00Z",
          {"groupId": "sg-1", "ipPermissions": {"items": [{
              "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
              "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}},
          {"_return": True}),
]
NUMERIC = {n for n, (_, t) in flowlogs.FIELDS.items() if t != "VARCHAR"}
# Text a field may hold: markup for chat, HTML and Markdown, controls, bidi, any letters.
token = st.one_of(
    st.sampled_from(
        ["[toall]", "[/info][info]", "<script>x</script>", "`|*_#", "\u202e", "\x1b[2J"]
    ),
    st.text(st.characters(blacklist_characters=" \n\r", blacklist_categories=("Cs",)), min_size=1,
            max_size=12),
)
public_v4 = st.builds("{}.{}".format, st.sampled_from(["198.51.100", "203.0.113", "8.8.8"]),
                      st.integers(1, 254))
address = st.one_of(public_v4, st.sampled_from(["10.0.0.5", "2001:db8::7", "-"]))
big = st.one_of(st.integers(0, 2**63 - 1), st.just(2**63 - 1))  # sums past BIGINT


@st.composite
def flow_file(draw):
    """A header (the default format, or custom: any order, instance-id, a field unknown here) and
    lines, each either good or bad by construction; the good ones' fields as the file gives them."""
    extra = draw(st.sampled_from([[], ["instance-id"], ["instance-id", "reject-reason"]]))
    names = flowlogs.DEFAULT_FORMAT
    if extra:
        names = draw(st.permutations(names + extra))
    lines, good = [], []
    for kind in draw(st.lists(st.sampled_from(["good", "good", "count", "number", "cr"]), max_size=12)):
        f = {"version": "2", "account-id": "111111111111",
             "interface-id": draw(st.one_of(st.just("eni-1"), token.map("eni-".__add__))),
             "instance-id": draw(st.sampled_from(["i-1", "i-2"])), "srcaddr": draw(address),
             "dstaddr": "10.0.0.9", "srcport": str(draw(st.integers(1024, 65535))),
             "dstport": draw(st.sampled_from(["22", "-"])),
             "protocol": "6", "packets": str(draw(big)), "bytes": str(draw(big)),
             "start": str(T_OPEN + draw(st.integers(0, 3000))),
             "log-status": draw(st.sampled_from(["OK", "OK", "NODATA", "SKIPDATA"])),
             "reject-reason": draw(token)}
        f["end"] = str(int(f["start"]) + 60)
        # '-' only where AWS writes it: a record that says nothing (an OK record without an action
        # is a source with neither accepts nor rejects, shown as 'rejected only': not decided here)
        actions = ["ACCEPT", "REJECT"] + ["-"] * (f["log-status"] != "OK")
        f["action"] = draw(st.sampled_from(actions))
        if kind == "count":  # a field too many or too few
            fields = [f[n] for n in names]
            fields = fields + [draw(token)] if draw(st.booleans()) else fields[:-1]
        elif kind == "number":  # a numeric field that is no number (or too big for its type)
            field_name = draw(st.sampled_from([n for n in names if n in NUMERIC]))
            f[field_name] = draw(st.sampled_from(["x22", "22x", "9" * 25, "++1", "1-"]))
            fields = [f[n] for n in names]
        else:
            fields = [f[n] for n in names]
            if kind == "good":
                good.append(f)
        line = " ".join(fields)
        if kind == "cr":  # a carriage return inside the line (at an end it is part of the line's end)
            at = draw(st.integers(1, len(line) - 1))
            line = line[:at] + "\r" + line[at:]
        lines.append(line)
    return names, lines, good


def windowed(folder: Path, header: str, lines: list[str]):
    """An investigation of the window's CloudTrail records and one flow log file of these lines."""
    from audit_toolkit.investigation import Investigation
    from audit_toolkit.settings import Settings

    evidence = folder / "evidence"
    trail = evidence / TRAIL / "111111111111_CloudTrail_us-east-1_20260105T1005Z_a1.json.gz"
    trail.parent.mkdir(parents=True)
    trail.write_bytes(gzip.compress(json.dumps({"Records": TRAIL_RECORDS}).encode()))
    write(evidence / FLOWS / FLOW_NAME, header, *lines)
    return Investigation.from_evidence(evidence, Settings(language="en"))


def _public_v4(text: str) -> bool:
    return text.split(".")[0] in ("198", "203", "8")


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
           phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(flow_file(), st.booleans())
def test_any_flow_log_lines_go_through_the_pipeline_counted_and_inert(case, header_ok):
    import tempfile

    from audit_toolkit.analysis.connections import CONNECTION_COLUMNS
    from audit_toolkit.chatwork.messages import connection
    from audit_toolkit.report import SECTIONS, write_report

    names, lines, good = case
    header = " ".join(names) if header_ok else "version account_id interface;id " + " ".join(names)
    with tempfile.TemporaryDirectory() as folder:
        inv = windowed(Path(folder), header, lines)
        (f,) = inv.flow_intake.files
        if not header_ok:  # the whole file is reported, with its reason
            assert f.error and f.error.startswith("the first line is not a flow log header")
            assert (f.read, f.used) == (0, 0)
        else:  # counts conserved; each bad line rejected with its number and reason
            kept = {" ".join(g[n] for n in names) for g in good}
            bad = [i + 2 for i, line in enumerate(lines) if line not in kept]
            assert (f.error, f.read, f.used, f.rejected) == (None, len(lines), len(good), len(bad))
            assert [r.split(":")[0] for r in f.rejections] == [f"line {n}" for n in bad][:20]
        found = inv.connections()
        assert list(found.columns) == CONNECTION_COLUMNS
        # Every public IPv4 knock on port 22 during the window is a source, and counted once.
        # i-2's interfaces are those its records name (if the format has instance-id): all their
        # records count then, whatever instance a record of theirs names.
        joined = {"eni-1"} | {g["interface-id"] for g in good
                              if "instance-id" in names and g["instance-id"] == "i-2"}
        knocks = [g for g in good if header_ok and g["log-status"] == "OK" and g["dstport"] == "22"
                  and _public_v4(g["srcaddr"]) and g["action"] in ("ACCEPT", "REJECT")
                  and g["interface-id"] in joined]
        sources = found[found["kind"] == "source"]
        assert set(sources["source"]) == {g["srcaddr"] for g in knocks}
        assert int(sources["accepted"].sum() + sources["rejected"].sum()) == len(knocks)
        if not knocks:  # silence from a file that said nothing is a gap, never 'nobody came in'
            assert (found["kind"] == "gap").any() or (found["kind"] == "none").all()
        for row in found.to_dict("records"):
            rendered = connection(row, inv.settings).render()
            assert rendered.count("[info]") == 1 and rendered.count("[/info]") == 1
            assert "[toall]" not in rendered
        (section,) = [s for s in SECTIONS if s.id == "connections"]
        report = write_report(inv, Path(folder) / "out", sections=[section])
        html = report.html.read_text(encoding="utf-8")
        assert "<script>" not in html and "\u202e" not in html and "\x1b" not in html
        assert "\u202e" not in report.markdown.read_text(encoding="utf-8")


def test_counts_that_add_up_past_bigint_are_capped_not_a_failed_query(tmp_path):
    """Two records of 2^63-1 bytes each (any number may be in evidence): on both engines a sum of
    BIGINT past its range fails the whole query, and with it every window's answer."""
    from audit_toolkit import queries

    big = 2**63 - 1
    line = (f"2 111111111111 eni-1 198.51.100.1 10.0.0.5 {{port}} 22 6 {big} {big} {T_OPEN + 10} "
            f"{T_OPEN + 70} ACCEPT OK")
    path = write(tmp_path / FLOWS / FLOW_NAME, HEADER, line.format(port=40001),
                 line.format(port=40002), line.format(port=40002))
    engine, report, _ = read([path])
    assert (report.read, report.used) == (3, 3)
    query = queries.get("connections")
    values = dict(flowlogs.scope(T_OPEN, T_OPEN + 3600, 3600), protocol=6, from_port=22, to_port=22,
                  interfaces=" eni-1 ", instances=" ")
    rows = engine.run(query.render("duckdb"), query.bind(values))
    (source,) = rows[rows["part"] == "source"].to_dict("records")
    assert (source["records"], source["packets"], source["bytes"]) == (3, 2**53, 2**53)
    assert source["largest_connection_bytes"] == 2**53


def test_a_source_whose_bytes_add_up_past_float_precision_is_capped_beside_a_gap(tmp_path):
    """The same source on two interfaces (eni-1, and i-2's) adds 2^53 and 309 bytes: a count column
    holding a gap's NULL is float64, in which 2^53 + 309 is no integer (it stopped the answer)."""
    names = [*flowlogs.DEFAULT_FORMAT, "instance-id"]
    line = ("2 111111111111 {eni} 198.51.100.1 10.0.0.9 40001 22 6 {n} {n} {start} {end} ACCEPT OK "
            "{i}")
    at = T_OPEN + 10
    found = windowed(tmp_path, " ".join(names), [
        line.format(eni="eni-1", n=2**63 - 1, start=at, end=at + 60, i="i-1"),
        line.format(eni="eni-2", n=309, start=at, end=at + 60, i="i-2"),
        f"2 111111111111 eni-1 - - - - - - - {at + 600} {at + 660} - NODATA i-1",
    ]).connections()
    (source,) = found[found["kind"] == "source"].to_dict("records")
    assert (source["source"], source["accepted"], source["bytes_in"]) == ("198.51.100.1", 2, 2**53)
    assert source["interfaces"] == "eni-1,eni-2"
    assert found[found["kind"] == "gap"]["gap"].tolist() == ["NODATA"]


def test_a_line_rejected_for_a_field_no_query_reads_is_not_counted_by_any(tmp_path):
    """DuckDB casts only the fields a query reads: a bad `version` (which connections never reads)
    was rejected by the check yet counted by the query, so the counts disagreed."""
    bad_version = "9" * 25 + ACCEPTED.removeprefix("2")
    engine, report, _ = read([write(tmp_path / FOLDER / NAME, HEADER, ACCEPTED, bad_version)])
    assert (report.read, report.used, report.rejected) == (2, 1, 1)
    counted = engine.con.execute(f"SELECT count(srcaddr), count(*) FROM {flowlogs.TABLE}").fetchone()
    assert counted == (1, 1)


# --- the narrowed read: only the lines that name the window's ids, split by read_csv's rules -----

def _both(engine, values: dict):
    """The vpcflowlogs rows the connections query's interface and day filters keep, and its answer: read
    whole, then narrowed; and whether the narrowed read was used."""
    from audit_toolkit import queries

    query = queries.get("connections")
    keep = ("WHERE (contains(split(trim($interfaces), ' '), interface_id) "
            "OR contains(split(trim($instances), ' '), instance_id) OR $interfaces IS NULL) "
            "AND (day IS NULL OR $since_hour IS NULL OR day >= $since_hour OR day = $since_day) "
            "AND (day IS NULL OR $until_hour IS NULL OR day <= $until_hour)")
    ids = {k: values[k] for k in ("interfaces", "instances", "since_hour", "since_day", "until_hour")}

    def answer():
        columns = ", ".join(f'"{c}"' for c in flowlogs.COLUMNS)
        rows = engine.con.execute(f"SELECT {columns} FROM {flowlogs.TABLE} {keep}", ids).df()
        found = engine.run(query.render("duckdb"), query.bind(values))
        # the query's order leaves ties (log statuses of one hour): compared in full order
        return [f.sort_values(list(f.columns), ignore_index=True) for f in (rows, found)]

    def view():
        return engine.con.execute("SELECT sql FROM duckdb_views() WHERE view_name = $v",
                                  {"v": flowlogs.TABLE}).fetchone()

    whole, before = answer(), view()
    with engine.narrowed_flow_logs(values):
        narrowed, during = answer(), view()
    for a, b in zip(whole, narrowed):
        assert a.equals(b)
    assert view() == before
    return len(whole[0]), during != before


def _values(interfaces: str | None, instances: str | None, anytime: bool = False) -> dict:
    scope = flowlogs.scope(None if anytime else T_OPEN, None if anytime else T_OPEN + 3600, 3600)
    return dict(scope, protocol=6, from_port=22, to_port=22, interfaces=interfaces,
                instances=instances)


@hsettings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_file(), st.data())
def test_the_narrowed_read_gives_the_whole_reads_rows_on_any_lines(tmp_path_factory, case, data):
    names, lines, good = case
    path = write(tmp_path_factory.mktemp("narrow") / FLOWS / FLOW_NAME, " ".join(names), *lines)
    engine = DuckDBEngine()
    engine.load_flow_logs([path])
    seen = sorted({g["interface-id"] for g in good} | {"eni-1"})
    interfaces = data.draw(st.lists(st.sampled_from(seen), min_size=1, unique=True))
    instances = data.draw(st.sampled_from(["", "i-1", "i-2", "i-1 i-2"]))
    _, narrowed = _both(engine, _values(f" {' '.join(interfaces)} ", f" {instances} "))  # same answer
    # A NUL is the search's delimiter: anywhere in a line it stops the narrowing (read whole); so
    # does a carriage return (the view reads a copy mended of it)
    assert narrowed == ("\x00" not in "\n".join(lines) and "\r" not in "\n".join(lines))


def test_the_narrowed_read_keeps_read_csvs_rules_on_hostile_lines(tmp_path):
    """What read_csv makes of each field, the split makes too: numbers it casts ('+1', '1_000',
    '0x10', '1e3', '1.5', a tab beside digits), numbers it refuses, '-' as NULL, an empty text field
    (two spaces) as '', tabs and controls inside text, a field too many at either end."""
    def line(i: int, value: str) -> str:
        fields = ACCEPTED.split(" ")
        fields[2], fields[i] = "eni-1", value
        return " ".join(fields)

    numbers = ["+1", "1_000", "0x10", "0b1", "1e3", "1.5", ".5", "5.", "\t1", "1\x0b", "-0", "01",
               "x22", "++1", "1,0", "\u0663", "inf", "9" * 25, "2147483648", "", "-"]
    hostile = [line(5, n) for n in numbers] + [line(8, n) for n in numbers] + [
        line(3, "-"), line(3, ""), line(2, ""), line(2, "-"), line(3, "a\tb\x0b\x0c\x85\u2028"),
        line(2, "eni-1 eni-1"), " " + line(3, "x"), line(3, "x") + " ", line(3, "x  y"), "", "   ",
        NODATA.replace("eni-1235b8ca123456789", "eni-1"),
    ]
    lf = write(tmp_path / FOLDER / NAME, HEADER, *hostile)
    crlf = tmp_path / FOLDER / NAME.replace("abcd1234", "crlf0000")
    crlf.write_bytes(gzip.compress("\r\n".join([HEADER, *hostile[:12], ""]).encode()))
    engine = DuckDBEngine()
    report = engine.load_flow_logs([lf, crlf])
    assert report.rejected > 0 and report.used > 0
    values = _values(" eni-1 ", " ", anytime=True)
    assert _both(engine, values) == (report.used - 2, True)  # all but those of eni '' and NULL
    assert _both(engine, _values(" eni-1 ", " i-9 ")) == (0, True)  # no line in the window's hours
    with_nul = write(tmp_path / "nul" / FOLDER / NAME, HEADER, line(3, "y"), line(3, "a\x00b"))
    engine.load_flow_logs([with_nul])
    assert _both(engine, values) == (2, False)  # read whole: the same answer
    # read as the search's delimiter, a NUL ending a line (after its last field, or after a space)
    # would be a trailing one and lost: the log status 'OK\x00' read as 'OK'
    for end in ("\x00", " \x00", "\x00\x00"):
        ends = write(tmp_path / f"end{len(end)}{end[0] == ' '}" / FOLDER / NAME, HEADER,
                     line(3, "y"), line(3, "z") + end)
        engine.load_flow_logs([ends])
        assert _both(engine, values) == (2 if end[0] == "\x00" else 1, False)


def test_a_store_and_every_interface_are_read_whole(tmp_path):
    path = write(tmp_path / FOLDER / NAME, HEADER, ACCEPTED, REJECTED, ACCEPTED.replace("eni-", "x"))
    engine = DuckDBEngine()
    engine.ingest_flow_logs([path], tmp_path / "store")
    values = _values(" eni-1235b8ca123456789 ", " ", anytime=True)
    assert _both(engine, values) == (2, True)
    assert _both(engine, _values(None, None, anytime=True)) == (3, False)  # NULL: no filter
    engine.attach_flow_logs(tmp_path / "store")
    assert _both(engine, values) == (2, False)


def test_a_gzip_cut_short_is_known_by_its_reason_not_by_its_english_words(tmp_path, monkeypatch):
    """load_flow_logs told a file that cannot be read to its end (never to be mended) by its reason's
    English text ('cannot be read...'): a catalogue edit of those words made it mend the file, whose
    gzip then raised. It compares the reason's key."""
    from audit_toolkit import phrases

    monkeypatch.setitem(phrases.TEXT["en"], "reason.not_to_end", "unreadable to the end: {error}")
    lines = [HEADER] + [ACCEPTED.replace("20641", str(20000 + i)) for i in range(5000)]
    whole = write(tmp_path / FOLDER / NAME, *lines)
    data = whole.read_bytes()
    cut = tmp_path / FOLDER / NAME.replace("abcd1234", "cut00000")
    cut.write_bytes(data[: len(data) * 2 // 3])
    _, report, rows = read([whole, cut])
    by_path = {f.path: f for f in report.files}
    assert by_path[str(cut)].error == ("unreadable to the end: Compressed file ended before the "
                                       "end-of-stream marker was reached")
    assert (by_path[str(whole)].read, by_path[str(whole)].used, len(rows)) == (5000, 5000, 5000)
