"""VPC flow log files: which files they are, and what DuckDB's readers make of them, line by line.

The records are AWS's own examples ("Flow log record examples" in the VPC user guide): accepted SSH,
rejected RDP, NODATA with '-' in every field but the interface and the times, an IPv6 flow.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

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
        "1 records with log-status NODATA or SKIPDATA (shown as coverage gaps)"
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
    _, report, rows = read([path, text])
    assert report.files[0].shape == "parquet" and (report.read, report.used) == (2, 2)
    row = rows[rows["interface_id"] == "eni-9"].iloc[0]
    assert (row["dstport"], row["bytes"], row["region"]) == (22, 180, "us-east-1")


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
