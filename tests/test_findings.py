"""Findings tied to exposure windows: the demo's ground truth, the edges of the join, the CLI and the store."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest
from click.testing import CliRunner

from audit_toolkit.analysis.exposure import WINDOW_COLUMNS
from audit_toolkit.analysis.findings import CORRELATION_COLUMNS, correlate
from audit_toolkit.cli import main
from audit_toolkit.evidence.guardduty import FINDING_COLUMNS
from audit_toolkit.investigation import Investigation
from audit_toolkit.settings import Settings

KEYS = ["finding_id", "group_id", "opened_at", "local_port", "tied_by"]


def fid(n: int) -> str:
    return f"5e{n:030x}"


def as_rows(frame: pd.DataFrame, keys: list[str]) -> list[tuple]:
    plain = frame[keys].astype(object).where(frame[keys].notna(), None)
    return sorted(tuple(v.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(v, pd.Timestamp) else v for v in row)
                  for row in plain.itertuples(index=False))


def test_every_finding_once_as_of_its_last_update(demo_inv, truth):
    found = demo_inv.findings()
    assert list(found.columns) == FINDING_COLUMNS
    expected = sorted((f["id"], f["updated_at"]) for f in truth["findings"])
    assert sorted(zip(found["id"], found["updated_at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").str.replace("000Z", "Z"))) == expected
    assert found.set_index("id").loc[fid(1), "count"] == 412  # the second export of F1, not the first
    assert demo_inv.findings_intake.rejected == 0 and len(demo_inv.findings_intake.files) == truth["totals"]["findings_files"]


def test_correlations_are_the_ground_truth(demo_inv, truth):
    found = demo_inv.correlate()
    assert list(found.columns) == CORRELATION_COLUMNS
    assert as_rows(found, KEYS) == sorted(tuple(c[k] for k in KEYS) for c in truth["correlations"])
    # The sentence is in the language setting (ja by default), identities in their short form; the
    # full ARNs stay in the row's opened_by and closed_by.
    bastion = found.set_index("finding_id").loc[fid(1)]
    assert bastion["summary"] == (
        "UnauthorizedAccess:EC2/SSHBruteForce を i-0ba5710n000000001 で検出、送信元 198.51.100.7 (Netherlands, "
        "Example Hosting B.V.)、ポート 22、2026-11-03 09:40 UTC から 10:55 UTC。この間 sg-0a000000000000001 は"
        "インターネットに公開中でした (0.0.0.0/0, tcp/22): 2026-11-03 09:02 UTC に alice が公開、"
        "2026-11-03 11:32 UTC に bob が終了。")
    assert bastion["opened_by"] == "arn:aws:iam::111111111111:user/alice"
    english = replace(demo_inv, settings=Settings(language="en")).correlate()
    assert english.set_index("finding_id").loc[fid(1), "summary"] == (
        "UnauthorizedAccess:EC2/SSHBruteForce on i-0ba5710n000000001 from 198.51.100.7 (Netherlands, Example Hosting B.V.) "
        "to port 22, 2026-11-03 09:40 UTC to 10:55 UTC, happened while sg-0a000000000000001 was open to the internet "
        "(0.0.0.0/0, tcp/22): opened by alice at 2026-11-03 09:02 UTC, closed at 2026-11-03 11:32 UTC by bob.")
    assert english.set_index("finding_id").loc[fid(2), "summary"].endswith(
        "opened by ops-admin / mallory at 2026-11-03 09:30 UTC, still open.")


def test_severity_and_time_scope(demo_inv):
    assert list(demo_inv.findings(min_severity=7)["id"]) == [fid(5)]
    assert demo_inv.correlate(min_severity=7).empty
    # activity overlapping 11:00-12:00: the DNS finding, the decoy after dave closed, the IPv6 brute force
    scoped = demo_inv.findings(since="2026-11-03T11:00:00Z", until="2026-11-03T12:00:00Z")
    assert sorted(scoped["id"]) == [fid(3), fid(5), fid(7)]
    assert list(demo_inv.correlate(since="2026-11-03T11:00:00Z", until="2026-11-03T12:00:00Z")["finding_id"]) == [fid(3)]
    assert sorted(demo_inv.findings(account="333333333333")["id"]) == [fid(6), fid(7)]
    assert sorted(demo_inv.findings(types=("Recon:",))["id"]) == [fid(2), fid(9)]
    assert sorted(demo_inv.findings(types=("UnauthorizedAccess:EC2/RDPBruteForce", "Policy:S3/"))["id"]) == [fid(4), fid(10)]
    assert demo_inv.findings(types=("Recon",)).empty  # not a prefix: an exact type
    assert sorted(demo_inv.findings(types=("recon:",))["id"]) == [fid(2), fid(9)]  # case says nothing in a type
    assert list(demo_inv.correlate(types=("Recon:",))["finding_id"]) == [fid(2)]


def window(**kw) -> dict:
    base = {c: None for c in WINDOW_COLUMNS} | dict(account="1", region="r", group_id="sg-1", group_name=None, protocol="tcp", from_port=22, to_port=22,
                cidr="0.0.0.0/0", opened_at=pd.Timestamp("2026-01-01T10:00Z"), opened_by="a", opened_by_arn="a",
                closed_at=pd.Timestamp("2026-01-01T11:00Z"), closed_by="b", closed_by_arn="b", still_open=False,
                open_before_evidence=False)
    return base | kw


def finding(**kw) -> dict:
    base = {c: None for c in FINDING_COLUMNS} | dict(
        id="f", type="UnauthorizedAccess:EC2/SSHBruteForce", account="1", region="r", instance_id="i-1",
        security_group_ids="sg-1", remote_ip="198.51.100.7", local_port=22, local_ports="22", protocol="TCP",
        first_seen=pd.Timestamp("2026-01-01T10:30Z"), last_seen=pd.Timestamp("2026-01-01T10:40Z"), count=3)
    return base | kw


@pytest.mark.parametrize("w, f, tied", [
    (window(), finding(), True),
    (window(), finding(local_port=2222, local_ports="2222"), False),          # not the rule's port
    (window(from_port=20, to_port=25), finding(), True),                      # within a range
    (window(protocol="-1", from_port=-1, to_port=-1), finding(local_port=3389, local_ports="3389"), True),
    (window(), finding(protocol="UDP"), False),                               # a tcp rule lets no UDP in
    (window(cidr="::/0"), finding(), False),                                  # IPv4 attacker, IPv6 rule
    (window(cidr="::/0"), finding(remote_ip="2001:db8::7"), True),
    (window(), finding(local_port=None, local_ports=None), False),            # no port: not through the hole
    (window(), finding(first_seen=pd.Timestamp("2026-01-01T11:00:01Z"), last_seen=pd.Timestamp("2026-01-01T12:00Z")), False),
    (window(), finding(first_seen=pd.Timestamp("2026-01-01T09:00Z"), last_seen=pd.Timestamp("2026-01-01T10:00Z")), True),
    (window(closed_at=pd.NaT, still_open=True), finding(first_seen=pd.Timestamp("2027-01-01T00:00Z"),
                                                       last_seen=pd.Timestamp("2027-01-01T01:00Z")), True),
    (window(opened_at=pd.NaT, open_before_evidence=True), finding(first_seen=pd.Timestamp("2025-01-01T00:00Z"),
                                                                  last_seen=pd.Timestamp("2025-01-01T01:00Z")), True),
    (window(), finding(security_group_ids="sg-2"), False),                    # another group, no CloudTrail
    (window(region="other"), finding(), False),
    (window(), finding(local_port=3389, local_ports="22,3389"), True),        # any probed port
])
def test_the_join_edges(w, f, tied):
    found = correlate(pd.DataFrame([f]), pd.DataFrame([w]))
    assert len(found) == (1 if tied else 0)


def test_cloudtrail_ties_only_while_the_instance_was_in_the_group():
    members = pd.DataFrame([dict(account="1", region="r", instance_id="i-1", network_interface_id="eni-1", group_id="sg-1",
                                 since=pd.Timestamp("2026-01-01T10:35Z"), until=pd.NaT, event_name="ModifyInstanceAttribute",
                                 event_id="e1")])
    f = finding(security_group_ids="sg-9")
    assert list(correlate(pd.DataFrame([f]), pd.DataFrame([window()]), members)["tied_by"]) == ["CloudTrail ModifyInstanceAttribute e1"]
    members["since"] = pd.Timestamp("2026-01-01T10:41Z")  # joined after the activity
    assert correlate(pd.DataFrame([f]), pd.DataFrame([window()]), members).empty


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_findings_and_correlate(demo):
    evidence = str(demo / "evidence")
    result = run("findings", "--evidence", evidence, "--min-severity", "7", "--format", "json")
    assert [f["id"] for f in json.loads(result.stdout)] == [fid(5)]
    assert "GuardDuty findings: 12 files, 12 events read, 12 used" in result.stderr
    result = run("correlate", "--evidence", evidence)
    lines = result.stdout.splitlines()
    assert sum(line.startswith("- ") for line in lines) == 5
    assert ("- Recon:EC2/PortProbeUnprotectedPort を i-0app000000000003 で検出、送信元 203.0.113.99 (Brazil, "
            "Probe Net Ltda)、ポート 22、") in result.stdout  # the language setting: ja by default
    english = CliRunner(env={"AUDIT_TOOLKIT_LANGUAGE": "en"}).invoke(main, ["correlate", "--evidence", evidence])
    assert ("- Recon:EC2/PortProbeUnprotectedPort on i-0app000000000003 from 203.0.113.99 (Brazil, Probe Net Ltda) "
            "to port 22") in english.stdout and "opened by ops-admin / mallory at" in english.stdout
    rows = list(json.loads(run("correlate", "--evidence", evidence, "--format", "json").stdout))
    assert sorted(r["finding_id"] for r in rows) == sorted(fid(n) for n in (1, 2, 3, 4, 6))
    assert run("correlate", "--evidence", evidence, "--format", "csv").stdout.splitlines()[0] == ",".join(CORRELATION_COLUMNS)


def test_the_store_holds_the_findings(demo, tmp_path, demo_inv):
    store = tmp_path / "store"
    result = run("ingest", "--evidence", str(demo / "evidence"), "--store", str(store))
    assert "GuardDuty findings: 12 files, 12 events read, 12 used" in result.stdout
    assert (store / "guardduty" / "findings.parquet").exists()
    again = run("ingest", "--evidence", str(demo / "evidence"), "--store", str(store))
    assert "GuardDuty findings: 0 files" in again.stdout
    held = Investigation.from_store(store)
    pd.testing.assert_frame_equal(held.findings(), demo_inv.findings())
    pd.testing.assert_frame_equal(held.correlate(), demo_inv.correlate())
    assert len(held.findings_intake.files) == 12


def test_the_drill_down_lists_the_other_findings_on_the_instance_while_its_window_was_open(demo_inv):
    tied = demo_inv.correlate()
    bastion = tied[tied["group_id"] == "sg-0a000000000000001"]["finding_id"].iloc[0]
    ctx = demo_inv.finding_context(bastion)
    # the DNS finding came while the bastion's window was open; the brute force of the day before did not
    assert ctx.others[["type", "instance_id"]].values.tolist() == [
        ["CryptoCurrency:EC2/BitcoinTool.B!DNS", "i-0ba5710n000000001"]]
    probe = demo_inv.finding_context(demo_inv.findings(types=("Recon:EC2/PortProbeUnprotectedPort",))["id"].iloc[0])
    assert probe.others.empty and list(probe.others.columns) == list(ctx.others.columns)
