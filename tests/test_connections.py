"""Who came in through the hole: the demo's flow logs joined to its exposure windows, against the
story's ground truth; the verdicts, ties and gaps of analysis.connections on small hand-made cases."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from audit_toolkit.analysis import connections as conn
from audit_toolkit.analysis.events import records
from audit_toolkit.analysis.findings import MEMBERSHIP_COLUMNS, config_memberships
from audit_toolkit.cli import main
from audit_toolkit.settings import Settings

SOURCE_KEYS = [
    "group_id",
    "opened_at",
    "source",
    "verdict",
    "known_as",
    "finding_ids",
    "accepted",
    "rejected",
    "packets_in",
    "bytes_in",
    "packets_out",
    "bytes_out",
    "largest_connection_bytes",
    "before_rejected",
    "after_rejected",
    "interfaces",
]
GAP_KEYS = ["group_id", "opened_at", "gap", "interfaces", "first_seen", "last_seen"]


def _iso(value):
    return (
        None
        if value is None or pd.isna(value)
        else pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def as_truth(found: pd.DataFrame) -> tuple[list[dict], list[dict]]:
    """The rows in the ground truth's words: sources and gaps, times as ISO text."""
    rows = json.loads(found.to_json(orient="records", date_format="iso"))
    out = []
    for row, (_, r) in zip(rows, found.iterrows()):
        row.update({k: _iso(r[k]) for k in ("opened_at", "first_seen", "last_seen")})
        out.append(row)
    sources = [{k: r[k] for k in SOURCE_KEYS} for r in out if r["kind"] == "source"]
    gaps = [{k: r[k] for k in GAP_KEYS} for r in out if r["kind"] == "gap"]
    return sources, gaps


def assert_matches_truth(found: pd.DataFrame, truth: dict) -> None:
    sources, gaps = as_truth(found)
    key = lambda r: (
        r["opened_at"] or "",
        r["group_id"],
        r.get("source") or "",
        r.get("interfaces") or "",  # noqa: E731
        r.get("gap") or "",
    )
    assert sorted(sources, key=key) == sorted(truth["connections"], key=key)
    assert sorted(gaps, key=key) == sorted(truth["connection_gaps"], key=key)
    assert set(found["kind"]) == {"source", "gap"}


def test_demo_connections_are_the_ground_truth(demo_inv, truth):
    assert_matches_truth(demo_inv.connections(), truth)


def test_the_unknown_session_leads_its_window(demo_inv, truth):
    found = demo_inv.connections(group="sg-0e000000000000005")
    first = found.iloc[0]
    assert (first["kind"], first["source"], first["verdict"], first["known_as"]) == (
        "source",
        "198.51.100.200",
        "session",
        "",
    )
    assert set(found["group_id"]) == {"sg-0e000000000000005"}


def test_demo_flow_intake_conserves_every_line(demo_inv, truth):
    flows = demo_inv.flow_intake
    counts = truth["flow_records"]
    assert len(flows.files) == counts["files"] == truth["totals"]["flow_log_files"]
    assert (flows.read, flows.used, flows.rejected) == (
        counts["records"] + 1,
        counts["records"],
        counts["rejected_lines"],
    )
    (bad,) = [f for f in flows.files if f.rejected]
    assert bad.rejections == ["line 14: Expected Number of Columns: 19 Found: 7"]
    # The flow logs are not CloudTrail: the trail reader never saw them.
    assert not any("vpcflowlogs" in f.path for f in demo_inv.intake.files)


def test_known_networks_name_a_source(demo_inv):
    demo_inv.settings = Settings(known_networks=("198.51.100.0/25",))
    try:
        found = demo_inv.connections(group="sg-0a000000000000001")
    finally:
        demo_inv.settings = Settings()
    brute = found[found["source"] == "198.51.100.7"].iloc[0]
    assert brute["known_as"] == "known network 198.51.100.0/25"
    alice = found[found["source"] == "203.0.113.50"].iloc[0]
    assert alice["known_as"] == "actor: opened the window from this address"  # the actor says more


# --- analysis.connections on hand-made rows --------------------------------------------------------

T0 = pd.Timestamp("2026-01-05T10:00:00Z")
E0 = int(T0.timestamp())


def window(**over) -> pd.DataFrame:
    w = {
        "account": "111111111111",
        "region": "us-east-1",
        "group_id": "sg-1",
        "protocol": "tcp",
        "from_port": 22,
        "to_port": 22,
        "cidr": "0.0.0.0/0",
        "opened_at": T0,
        "closed_at": T0 + pd.Timedelta("2h"),
        "still_open": False,
        "open_before_evidence": False,
        "opened_by": "alice",
        "opened_from_ip": "192.0.2.10",
        "closed_from_ip": "192.0.2.11",
    }
    w.update(over)
    return pd.DataFrame([w])


def member(eni="eni-1", instance="i-1", since=T0 - pd.Timedelta("1D"), until=None) -> dict:
    return {
        "account": "111111111111",
        "region": "us-east-1",
        "instance_id": instance,
        "network_interface_id": eni,
        "group_id": "sg-1",
        "since": since,
        "until": until,
        "event_name": "RunInstances",
        "event_id": "e1",
    }


def flow(
    remote,
    direction="in",
    action="ACCEPT",
    minute=10,
    size=100,
    eni="eni-1",
    phase="during",
    instance=None,
    records=1,
    largest=None,
) -> dict:
    """A `source` row of the connections query: one remote address's flows one way."""
    start = E0 + minute * 60
    return {
        "window": 0,
        "part": "source",
        "account": "111111111111",
        "region": "us-east-1",
        "interface_id": eni,
        "instance_id": instance,
        "log_status": None,
        "hour": None,
        "phase": phase,
        "direction": direction,
        "action": action,
        "remote_addr": remote,
        "records": records,
        "packets": 2,
        "bytes": size,
        "first_start": start,
        "last_end": start + 60,
        "largest_connection_bytes": size if largest is None and action == "ACCEPT" else largest,
    }


def hours(eni="eni-1", upto=3, status="OK", instance=None) -> list[dict]:
    """`coverage` rows on every hour of the window, so no hour is a gap."""
    return [
        {
            "window": 0,
            "part": "coverage",
            "account": "111111111111",
            "region": "us-east-1",
            "interface_id": eni,
            "instance_id": instance,
            "log_status": status,
            "hour": E0 + 3600 * h,
            "phase": "during",
            "direction": None,
            "action": None,
            "remote_addr": None,
            "records": 1,
            "packets": 1,
            "bytes": 1,
            "first_start": E0 + 3600 * h + 60,
            "last_end": E0 + 3600 * h + 120,
            "largest_connection_bytes": None,
        }
        for h in range(upto)
    ]


def run(flows, members, findings=None, **settings):
    return conn.connections(
        window(),
        pd.DataFrame(flows),
        pd.DataFrame(members, columns=MEMBERSHIP_COLUMNS),
        findings,
        Settings(**settings),
    )


@pytest.mark.parametrize(
    "rows, verdict",
    [
        ([flow("198.51.100.1", action="REJECT")], "rejected only"),
        (
            [
                flow("198.51.100.1", size=4_000, largest=9_000),
                flow("198.51.100.1", "out", size=5_000, largest=9_000),
            ],
            "accepted, no data",
        ),
        (
            [
                flow("198.51.100.1", size=4_000, largest=10_001),
                flow("198.51.100.1", "out", size=6_001, largest=10_001),
            ],
            "session",
        ),
    ],
)
def test_verdict_follows_the_largest_connection(rows, verdict):
    found = run(rows + hours(), [member()])
    (row,) = found[found["kind"] == "source"].to_dict("records")
    assert row["verdict"] == verdict


def test_the_query_sums_each_connection_both_ways(tmp_path):
    """Two connections of 6,000 bytes are not one of 12,000: the session threshold is per remote port."""
    import gzip

    from audit_toolkit import queries
    from audit_toolkit.engines.duckdb import DuckDBEngine
    from audit_toolkit.evidence import flowlogs

    header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
    t = E0 + 600
    lines = [
        header,
        f"2 111111111111 eni-1 198.51.100.1 10.0.0.5 40001 22 6 5 2000 {t} {t + 60} ACCEPT OK",
        f"2 111111111111 eni-1 10.0.0.5 198.51.100.1 22 40001 6 5 4000 {t} {t + 60} ACCEPT OK",
        f"2 111111111111 eni-1 198.51.100.1 10.0.0.5 40002 22 6 5 2500 {t + 60} {t + 120} ACCEPT OK",
        f"2 111111111111 eni-1 10.0.0.5 198.51.100.1 22 40002 6 5 3500 {t + 60} {t + 120} ACCEPT OK",
        f"2 111111111111 eni-1 198.51.100.1 10.0.0.5 40003 22 6 1 40 {t + 120} {t + 180} REJECT OK",
        f"2 111111111111 eni-9 198.51.100.1 10.0.0.9 40004 22 6 1 40 {t + 120} {t + 180} ACCEPT OK",
    ]
    path = tmp_path / "flows.log.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    engine = DuckDBEngine()
    engine.load_flow_logs([path])
    query = queries.get("connections")
    values = dict(
        flowlogs.scope(E0, E0 + 7200, 3600),
        protocol=6,
        from_port=22,
        to_port=22,
        interfaces=" eni-1 ",
        instances=" ",
    )
    rows = engine.run(query.render("duckdb"), query.bind(values))
    sources = rows[rows["part"] == "source"].set_index(["direction", "action"])
    assert sources.loc[
        ("in", "ACCEPT"), ["records", "bytes", "largest_connection_bytes"]
    ].tolist() == [2, 4500, 6000]
    assert sources.loc[
        ("out", "ACCEPT"), ["records", "bytes", "largest_connection_bytes"]
    ].tolist() == [2, 7500, 6000]
    assert sources.loc[("in", "REJECT"), "records"] == 1
    assert set(rows["interface_id"]) == {"eni-1"}  # only the group's interfaces are read
    coverage = rows[rows["part"] == "coverage"]
    assert coverage[["hour", "records"]].values.tolist() == [[E0, 5]]


def test_private_addresses_other_families_and_other_interfaces_are_not_sources():
    rows = [
        flow("10.1.2.3"),
        flow("2001:db8::5"),
        flow("198.51.100.9", eni="eni-other"),
        flow("198.51.100.1"),
    ]
    found = run(rows + hours(), [member()])
    assert found[found["kind"] == "source"]["source"].tolist() == ["198.51.100.1"]


def test_before_and_after_are_counted_apart_and_an_accept_after_closing_is_said():
    rows = [
        flow("198.51.100.1", action="REJECT", phase="before", minute=-20),
        flow("198.51.100.1", minute=30),
        flow("198.51.100.1", phase="after", minute=130, records=3),
    ]
    (row,) = run(rows + hours(), [member()]).query("kind == 'source'").to_dict("records")
    assert (row["accepted"], row["before_rejected"], row["after_accepted"]) == (1, 1, 3)
    assert "3 flows still accepted after the window closed" in row["detail"]


def test_the_flow_logs_instance_id_finds_the_interface_cloudtrail_did_not_name():
    rows = [flow("198.51.100.1", eni="eni-7", instance="i-7"), *hours("eni-7", instance="i-7")]
    found = run(rows, [member(eni=None, instance="i-7")])
    assert found[["kind", "source", "interfaces"]].values.tolist() == [
        ["source", "198.51.100.1", "eni-7"]
    ]


def test_silence_is_a_gap_and_complete_coverage_says_so():
    assert run([], []).iloc[0]["gap"] == "no interface"
    assert run([], [member()]).iloc[0]["gap"] == "no records"
    quiet = run(hours(), [member()])
    assert quiet[["kind", "verdict"]].values.tolist() == [["none", "no public source"]]
    missing = run(hours()[:1] + hours()[2:], [member()])
    nodata = run(hours() + hours(status="NODATA")[1:2], [member()])
    assert nodata[["gap", "first_seen"]].values.tolist() == [["NODATA", T0 + pd.Timedelta("61min")]]
    assert missing[["gap", "first_seen"]].values.tolist() == [
        ["missing hours", T0 + pd.Timedelta("1h")]
    ]


def test_a_finding_names_its_source_only_while_the_window_was_open():
    findings = pd.DataFrame(
        [
            {
                "id": "during",
                "remote_ip": "198.51.100.1",
                "account": "111111111111",
                "region": "us-east-1",
                "first_seen": T0 + pd.Timedelta("30min"),
                "last_seen": T0 + pd.Timedelta("40min"),
                "created_at": T0,
                "updated_at": T0,
            },
            {
                "id": "day-before",
                "remote_ip": "198.51.100.1",
                "account": "111111111111",
                "region": "us-east-1",
                "first_seen": T0 - pd.Timedelta("1D"),
                "last_seen": T0 - pd.Timedelta("23h"),
                "created_at": T0,
                "updated_at": T0,
            },
        ]
    )
    (row,) = (
        run([flow("198.51.100.1"), *hours()], [member()], findings)
        .query("kind == 'source'")
        .to_dict("records")
    )
    assert row["finding_ids"] == "during"


# --- the command -----------------------------------------------------------------------------------


def test_cli_connections_prints_sources_gaps_and_the_flow_intake(demo, truth):
    result = CliRunner().invoke(
        main,
        [
            "connections",
            "--evidence",
            str(demo / "evidence"),
            "--format",
            "json",
            "--known-network",
            "203.0.113.48/28",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        f"VPC flow logs: {truth['flow_records']['files']} files" in result.stderr
        and "line 14: Expected Number of Columns" in result.stderr
    )
    rows = json.loads(result.stdout)
    assert sorted(r["source"] for r in rows if r["kind"] == "source") == sorted(
        r["source"] for r in truth["connections"]
    )
    assert sum(r["kind"] == "gap" for r in rows) == len(truth["connection_gaps"])


def test_cli_connections_says_its_sentences_in_the_zone_of_its_times(demo):
    args = ["connections", "--evidence", str(demo / "evidence")]
    utc = json.loads(CliRunner().invoke(main, [*args, "--format", "json"]).stdout)
    jst = json.loads(CliRunner().invoke(main, [*args, "--tz", "JST", "--format", "json"]).stdout)
    assert len(jst) == len(utc) and any(" UTC" in r["detail"] for r in utc)
    assert [" UTC" in r["detail"] for r in jst] == [False] * len(jst)
    assert sum(" JST" in r["detail"] for r in jst) == sum(" UTC" in r["detail"] for r in utc)
    table = " ".join(CliRunner().invoke(main, [*args, "--tz", "JST"]).stdout.split())
    assert all(f"- {r['detail']}" in table for r in jst)


def test_cli_connections_checks_settings_before_reading(demo):
    result = CliRunner().invoke(
        main, ["connections", "--evidence", str(demo / "evidence"), "--known-network", "office"]
    )
    assert result.exit_code == 1 and "known network 'office' is not a CIDR" in result.output


# --- report and chart ------------------------------------------------------------------------------


def test_report_section_leads_with_the_session_nobody_knows(demo_inv, truth):
    from audit_toolkit.report import SECTIONS, build

    chosen = [s for s in SECTIONS if s.id in ("exposure", "connections")]
    report = build(dataclasses.replace(demo_inv, settings=Settings(language="en")), sections=chosen)
    (part,) = [p for s, p in report.parts if s.id == "connections"]
    assert (
        part.facts[0]
        == "1 session from an address that is neither the window's actor nor a known network"
    )
    assert (
        part.facts[2]
        == f"{len(truth['connection_gaps'])} coverage gaps: where the flow logs cannot say who came in"
    )
    lead = part.tables[0]
    assert lead.caption == "Sessions from addresses nobody knows"
    assert [row[lead.columns.index("source")] for row in lead.rows] == ["198.51.100.200"]
    assert len(part.tables[2].rows) == len(truth["connection_gaps"])
    # The flow log files are in the evidence appendix, hashed.
    flow_files = [f for f in report.files if "vpcflowlogs" in f["path"]]
    assert len(flow_files) == truth["totals"]["flow_log_files"] and all(
        len(f["sha256"]) == 64 for f in flow_files
    )


def test_exposure_chart_marks_sessions_on_their_windows_lane(demo_inv):
    import matplotlib.dates as mdates

    from audit_toolkit import charts

    windows, found = demo_inv.ssh_exposure(), demo_inv.connections()
    sessions = found[found["verdict"] == "session"]
    ax = charts.plot_exposure(windows, sessions=sessions, settings=Settings(language="en"))
    marks = {
        line.get_gid(): line for line in ax.lines if line.get_gid() in ("session", "known-session")
    }
    unknown, known = marks["session"], marks["known-session"]
    assert mdates.num2date(unknown.get_xdata()[0]) == pd.Timestamp("2026-11-03T10:15:00Z")
    assert mdates.num2date(known.get_xdata()[0]) == pd.Timestamp("2026-11-03T09:05:00Z")
    # each star sits on the bar of its own window
    bars = {round(p.get_y() + p.get_height() / 2): p for p in ax.patches if p.get_gid() == "window"}
    for mark, opened in ((unknown, "2026-11-03T09:30:00Z"), (known, "2026-11-03T09:02:00Z")):
        bar = bars[round(mark.get_ydata()[0])]
        assert mdates.num2date(bar.get_x()) == pd.Timestamp(opened)
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {
        "session from an unknown address",
        "session from the actor or a known network",
    }


def test_ingested_flow_logs_answer_as_the_raw_files_do(demo, demo_inv, truth, tmp_path):
    from audit_toolkit.investigation import Investigation

    store = ["--store", str(tmp_path / "store"), "--state-at", truth["state_at"]]
    result = CliRunner().invoke(main, ["ingest", "--evidence", str(demo / "evidence"), *store])
    assert result.exit_code == 0, result.output
    n = truth["flow_records"]
    assert (
        f"VPC flow logs: {n['files']} new files, {n['records'] + 1} records read, {n['records']} used, "
        "1 rejected"
    ) in result.output
    stored = Investigation.from_store(tmp_path / "store")
    assert (stored.flow_intake.read, stored.flow_intake.rejected) == (demo_inv.flow_intake.read, 1)
    pd.testing.assert_frame_equal(stored.connections(), demo_inv.connections())
    again = CliRunner().invoke(main, ["ingest", "--evidence", str(demo / "evidence"), *store])
    assert "VPC flow logs: 0 new files" in again.output


def test_a_store_whose_flow_log_folder_is_a_link_is_refused_before_anything_is_written(demo, tmp_path):
    import shutil

    args = ["ingest", "--evidence", str(demo / "evidence"), "--store", str(tmp_path / "store"),
            "--state-at", "2026-11-03T00:00:00Z"]
    assert CliRunner().invoke(main, args).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(tmp_path / "store" / "vpcflowlogs")
    (tmp_path / "store" / "vpcflowlogs").symlink_to(elsewhere, target_is_directory=True)
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and "vpcflowlogs/ that is a symbolic link" in result.output
    assert list(elsewhere.iterdir()) == []


# --- Chatwork --------------------------------------------------------------------------------------


def test_notify_dry_run_posts_each_source_and_gap_once(demo, truth):
    result = CliRunner().invoke(
        main,
        [
            "notify",
            "--evidence",
            str(demo / "evidence"),
            "--room",
            "42",
            "--kind",
            "connections",
            "--dry-run",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    posts = json.loads(result.stdout)
    assert len(posts) == len(truth["connections"]) + len(truth["connection_gaps"])
    assert len({p["fingerprint"] for p in posts}) == len(posts)
    (unknown,) = [p for p in posts if "198.51.100.200" in p["body"]]
    assert unknown["body"].startswith(
        "[info][title]【重大】公開中の SSH(22) に 198.51.100.200 から接続: "
        "データを送受信したセッション[/title]"
    )
    assert "送信元: 198.51.100.200 (不明なアドレス)" in unknown["body"]
    assert "受信 40000、送信 1200000" in unknown["body"]


def test_a_hostile_interface_id_stays_inert_in_chat():
    from audit_toolkit.chatwork.messages import connection
    from audit_toolkit.chatwork.notation import Box

    row = {
        "kind": "source",
        "source": "198.51.100.1",
        "verdict": "session",
        "known_as": "",
        "interfaces": "eni-1[toall][/info][info]pwned",
        "group_id": "sg-1",
        "cidr": "0.0.0.0/0",
        "protocol": "tcp",
        "from_port": 22,
        "to_port": 22,
        "accepted": 1,
        "rejected": 0,
        "bytes_in": 1,
        "bytes_out": 2,
    }
    box = connection(row, Settings(language="en"))
    assert isinstance(box, Box)
    rendered = box.render()
    assert (
        "[toall]" not in rendered
        and rendered.count("[info]") == 1
        and rendered.count("[/info]") == 1
    )
    assert box.title == "CRITICAL: 198.51.100.1 reached SSH(22) while open: session with data"


# --- AWS Config items of network interfaces and instances ------------------------------------------
# Shaped as AWS documents them: an item's `configuration` is the Describe API's answer in camelCase
# (the Config developer guide's example change notification for AWS::EC2::Instance i-007d374c8912e3e90,
# its interface eni-fde9493f in sg-3f1fef43; an interface item as DescribeNetworkInterfaces gives it).


def config_item(kind, resource, captured, configuration, status="OK") -> dict:
    return {
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": captured,
        "configurationStateId": "1484002214328",
        "awsAccountId": "111111111111",
        "configurationItemStatus": status,
        "resourceType": kind,
        "resourceId": resource,
        "ARN": f"arn:aws:ec2:us-east-1:111111111111:{resource}",
        "awsRegion": "us-east-1",
        "availabilityZone": "us-east-1c",
        "configuration": configuration,
        "relatedEvents": [],
        "relationships": [],
        "tags": {},
    }


def interface_config(groups, instance="i-1", eni="eni-1", status="attached") -> dict:
    return {
        "networkInterfaceId": eni,
        "subnetId": "subnet-2372be7b",
        "vpcId": "vpc-14400670",
        "ownerId": "111111111111",
        "status": "in-use",
        "privateIpAddress": "172.31.16.84",
        "groups": [{"groupName": f"name-{g}", "groupId": g} for g in groups],
        "attachment": {"attachmentId": "eni-attach-85bd89d9", "deviceIndex": 0, "status": status,
                       "attachTime": "2026-01-05T09:00:00.000Z", "deleteOnTermination": True,
                       "instanceId": instance},
    }


def instance_config(groups, state="running") -> dict:
    return {
        "instanceId": "i-007d374c8912e3e90",
        "state": {"code": 16 if state == "running" else 48, "name": state},
        "instanceType": "t2.micro",
        "subnetId": "subnet-2372be7b",
        "vpcId": "vpc-14400670",
        "securityGroups": [{"groupName": "example-security-group-2", "groupId": g} for g in groups],
        "networkInterfaces": [{
            "networkInterfaceId": "eni-fde9493f",
            "subnetId": "subnet-2372be7b",
            "vpcId": "vpc-14400670",
            "status": "in-use",
            "groups": [{"groupName": "example-security-group-2", "groupId": g} for g in groups],
            "attachment": {"attachmentId": "eni-attach-85bd89d9", "deviceIndex": 0,
                           "status": "attached", "attachTime": "2017-01-09T19:36:02.000Z",
                           "deleteOnTermination": True},
        }],
    }


ENI, INSTANCE = "AWS::EC2::NetworkInterface", "AWS::EC2::Instance"


def config_file(path, *items):
    import gzip

    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"fileVersion": "1.0", "configSnapshotId": "4f1e0e7a", "configurationItems": list(items)}
    path.write_bytes(gzip.compress(json.dumps(body).encode()))
    return path


def test_config_items_say_which_interface_was_in_which_group_when(tmp_path):
    from audit_toolkit.investigation import Investigation

    folder = "AWSLogs/111111111111/Config/us-east-1/2026/1/5/ConfigHistory"
    config_file(
        tmp_path / folder / "111111111111_Config_us-east-1_ConfigHistory_1.json.gz",
        config_item(ENI, "eni-1", "2026-01-05T09:00:00.000Z", interface_config(["sg-0"])),
        # moved into the window's group at 09:30, then out of every group at 11:00
        config_item(ENI, "eni-1", "2026-01-05T09:30:00.000Z", interface_config(["sg-1", "sg-0"])),
        config_item(ENI, "eni-1", "2026-01-05T11:00:00.000Z", interface_config([])),
        config_item(INSTANCE, "i-007d374c8912e3e90", "2026-01-05T08:00:00.000Z",
                    instance_config(["sg-1"])),
        config_item(INSTANCE, "i-007d374c8912e3e90", "2026-01-05T12:00:00.000Z",
                    instance_config(["sg-1"], state="terminated")),
        config_item("AWS::EC2::Volume", "vol-0a2d63a256bce35c5", "2026-01-05T08:00:00.000Z", {}),
    )
    inv = Investigation.from_evidence(tmp_path)
    assert (inv.state_intake.read, inv.state_intake.interfaces) == (5, 5)
    found = inv.instance_groups()
    got = sorted(
        (m["network_interface_id"], m["instance_id"], m["group_id"],
         None if pd.isna(m["since"]) else m["since"].strftime("%H:%M"),
         None if pd.isna(m["until"]) else m["until"].strftime("%H:%M"), m["event_name"])
        for m in records(found))
    assert got == [
        # the first item of a resource: held since no known time (Config may have started later)
        ("eni-1", "i-1", "sg-0", None, "11:00", ENI),
        ("eni-1", "i-1", "sg-1", "09:30", "11:00", ENI),
        ("eni-fde9493f", "i-007d374c8912e3e90", "sg-1", None, "12:00", INSTANCE),
    ]


def test_an_interface_only_config_names_is_joined_to_the_window():
    """CloudTrail says nothing of eni-1 here: without Config the window is a 'no interface' gap;
    with its item, the session through it is found, and only while eni-1 was in the group."""
    items = pd.DataFrame([
        {"capture_time": "2026-01-05T09:00:00.000Z", "status": "ResourceDiscovered",
         "resource_type": ENI, "resource_id": "eni-1", "account": "111111111111",
         "region": "us-east-1", "configuration": json.dumps(interface_config(["sg-1"]))},
        {"capture_time": "2026-01-05T10:30:00.000Z", "status": "OK", "resource_type": ENI,
         "resource_id": "eni-1", "account": "111111111111", "region": "us-east-1",
         "configuration": json.dumps(interface_config(["sg-2"]))},
    ])
    members = config_memberships(items)
    rows = [flow("198.51.100.1", size=20_000, minute=10), flow("198.51.100.2", minute=50)]
    found = run(rows + hours(upto=1), records(members))
    sources = found[found["kind"] == "source"]
    assert sources["source"].tolist() == ["198.51.100.1"]  # 10:50 is after eni-1 left sg-1
    assert sources["interfaces"].tolist() == ["eni-1"] and sources["verdict"].tolist() == ["session"]
    assert run(rows + hours(upto=1), [])["gap"].tolist() == ["no interface"]


@pytest.mark.parametrize("configuration", [
    "not json", "[]", json.dumps({"groups": "sg-1"}), json.dumps({"groups": [1, None, {"groupId": 7}]}),
    json.dumps({"networkInterfaces": {"x": 1}, "securityGroups": [{"groupId": ["sg-1"]}]}),
    json.dumps({"attachment": [], "groups": [{"groupId": "sg-1[toall]"}]}),
])
def test_a_malformed_config_item_gives_no_membership_or_an_inert_one(configuration):
    items = pd.DataFrame([{"capture_time": "2026-01-05T09:00:00.000Z", "status": "OK",
                           "resource_type": kind, "resource_id": "r-1", "account": "111111111111",
                           "region": "us-east-1", "configuration": configuration}
                          for kind in (ENI, INSTANCE)])
    found = config_memberships(items)
    assert set(found["group_id"]) <= {"sg-1[toall]"}  # a string id is kept as evidence, as given


def test_a_gap_says_the_window_it_belongs_to(demo_inv):
    """Two windows of one group without flow-log records read alike in make demo's terminal: each
    gap now names its window's span, with words where an end is unknown."""
    gaps = records(demo_inv.connections(group="sg-0b000000000000002"))
    assert [conn.describe(g) for g in gaps] == [
        "eni-0web000000000002 (i-0web000000000002): no flow log record while the window was open "
        f"(2026-11-03 {a} UTC to 2026-11-03 {b} UTC; no flow log on this interface, or its files are missing)"
        for a, b in (("09:05", "11:40"), ("09:10", "12:00"))]
    assert conn.describe(gaps[0], "ja", "Asia/Tokyo") == (
        "eni-0web000000000002 (i-0web000000000002): 公開中 (2026-11-03 18:05 JST から 2026-11-03 20:40 JST) "
        "のフローログの記録がありません (このインターフェイスにフローログがないか、ファイルが欠落)")
    unknown = {**gaps[0], "gap": "no interface", "opened_at": None, "closed_at": None}
    assert conn.describe(unknown) == (
        "no network interface is known to have been in sg-0b000000000000002 while it was open "
        "(before the evidence to still open; CloudTrail shows none): its flows cannot be found")
