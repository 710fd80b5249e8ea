"""GuardDuty findings in every shape they come in, to one flat table; bad input reported with reasons."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from datetime import datetime, timezone

import pandas as pd
import pytest
from click.testing import CliRunner

from audit_toolkit.evidence.guardduty import (
    FINDING_COLUMNS,
    GUARDDUTY_SCHEMA,
    latest,
    read_findings,
    read_guardduty,
    read_guardduty_file,
    severity_label,
)
from audit_toolkit.cli import main
from audit_toolkit.evidence import reader
from audit_toolkit.evidence.layout import discover_files, discover_findings
from audit_toolkit.synthetic import gd_finding, port_probe, ssh_connection
from real_data import real_data

T0 = datetime(2026, 11, 3, 9, 40, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 3, 10, 55, tzinfo=timezone.utc)


def brute_force(finding_id="a1" * 16, **kw) -> dict:
    return gd_finding(finding_id, "UnauthorizedAccess:EC2/SSHBruteForce", 5, "198.51.100.7 is performing SSH brute force attacks against i-0abc.",
                      "111111111111", "ap-northeast-1", first_seen=T0, last_seen=T1, count=412, instance="i-0abc",
                      groups=(("sg-0a000000000000001", "bastion-tmp"), ("sg-0d000000000000004", "db")), public_ip="54.1.2.3",
                      action=ssh_connection("198.51.100.7", "Netherlands", "Example Hosting B.V.", "64496"), **kw)


def pascal(value):
    """What `aws guardduty get-findings` prints: the same finding with PascalCase keys."""
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pascal(v) for v in value]
    return value


def write(path, text: str | bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_severity_bands_are_aws():
    assert [severity_label(v) for v in (1, 3.9, 4, 6.9, 7, 8.9, 9, 10, "8.0", None, "HIGH", float("nan"))] == [
        "Low", "Low", "Medium", "Medium", "High", "High", "Critical", "Critical", "High", None, None, None]


def test_brute_force_is_flattened():
    row = read_findings_of([brute_force()]).iloc[0]
    assert list(read_findings_of([brute_force()]).columns) == FINDING_COLUMNS
    assert (row["type"], row["threat_purpose"], row["type_resource"], row["threat_family"]) == (
        "UnauthorizedAccess:EC2/SSHBruteForce", "UnauthorizedAccess", "EC2", "SSHBruteForce")
    assert (row["severity"], row["severity_label"], row["account"], row["region"]) == (5.0, "Medium", "111111111111", "ap-northeast-1")
    assert (row["instance_id"], row["security_group_ids"], row["security_group_names"], row["public_ips"]) == (
        "i-0abc", "sg-0a000000000000001,sg-0d000000000000004", "bastion-tmp,db", "54.1.2.3")
    assert (row["action_type"], row["remote_ip"], row["remote_port"], row["local_port"], row["local_ports"]) == (
        "NETWORK_CONNECTION", "198.51.100.7", 51234, 22, "22")
    assert (row["remote_country"], row["remote_org"], row["remote_asn"], row["direction"], row["protocol"]) == (
        "Netherlands", "Example Hosting B.V.", "64496", "INBOUND", "TCP")
    assert (row["first_seen"], row["last_seen"], row["count"]) == (pd.Timestamp(T0), pd.Timestamp(T1), 412)
    assert (row["archived"], row["sample"], row["blocked"]) == (False, False, False)


def test_empty_geo_fields_are_null_not_empty_strings():
    # GuardDuty writes "" where GeoIP knows nothing (cityName most often); missing is null in every output.
    finding = brute_force()
    finding["service"]["action"] = ssh_connection("198.51.100.7", "", "", "")
    assert finding["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]["city"] == {"cityName": ""}
    row = read_findings_of([finding]).iloc[0]
    assert [row[c] for c in ("remote_ip", "remote_country", "remote_city", "remote_org", "remote_asn")] == [
        "198.51.100.7", None, None, None, None]


def test_port_probe_keeps_every_probed_port():
    finding = gd_finding("b2" * 16, "Recon:EC2/PortProbeUnprotectedPort", 2, "Unprotected port on i-0abc is being probed.",
                         "111111111111", "ap-northeast-1", first_seen=T0, last_seen=T1, instance="i-0abc",
                         groups=(("sg-0a000000000000001", "bastion-tmp"),),
                         action=port_probe("203.0.113.99", "Brazil", "Probe Net", "64500", (3389, 22, 22)))
    row = read_findings_of([finding]).iloc[0]
    assert (row["action_type"], row["local_port"], row["local_ports"], row["remote_ip"], row["severity_label"]) == (
        "PORT_PROBE", 3389, "22,3389", "203.0.113.99", "Low")


def read_findings_of(findings: list[dict], tmp=None) -> pd.DataFrame:
    table, report = _read_lines(findings)
    assert report.rejected == 0, report.rejections
    from audit_toolkit.evidence.guardduty import normalize

    return normalize(table.to_pandas())


def _read_lines(findings):
    data = "\n".join(json.dumps(f) for f in findings).encode()
    return read_guardduty_file("findings.jsonl", data)


@pytest.fixture
def real_lines():
    path = real_data() / "elastic-integrations-aws" / "guardduty" / "test-guardduty.log"
    return path, [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_every_real_record_loads(real_lines):
    path, _ = real_lines
    frame, intake = read_findings([path])
    (report,) = intake.files
    assert (report.shape, report.read, report.used, report.rejected, report.error) == ("lines", 5, 5, 0, None)
    assert report.warnings == ["an empty page of findings ({'findings': []})"]
    by_type = frame.set_index("type")
    assert list(frame["type"]) == [  # most severe first, then by last seen
        "Persistence:Kubernetes/SuccessfulAnonymousAccess", "CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin",
        "Discovery:Kubernetes/TorIPCaller", "Trojan:EC2/BlackholeTraffic!DNS", "PrivilegeEscalation:Runtime/DockerSocketAccessed"]
    assert list(frame["severity_label"]) == ["High", "High", "Medium", "Medium", "Medium"]
    assert list(frame["sample"]) == [True, True, True, True, False]
    trojan = by_type.loc["Trojan:EC2/BlackholeTraffic!DNS"]
    assert (trojan["instance_id"], trojan["security_group_ids"], trojan["public_ips"], trojan["action_type"], trojan["blocked"]) == (
        "i-99999999", "GeneratedFindingSecurityId", "175.16.199.1", "DNS_REQUEST", True)
    runtime = by_type.loc["PrivilegeEscalation:Runtime/DockerSocketAccessed"]  # `service.action` is {}
    assert (runtime["resource_type"], runtime["security_group_ids"], runtime["security_group_names"], runtime["action_type"]) == (
        "Container", "sg-abcd1234", "build,main", None)
    rds = by_type.loc["CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin"]  # other key order, detectorId last
    assert (rds["resource_name"], rds["remote_ip"], rds["detector_id"], rds["instance_id"]) == (
        "GeneratedFindingDBInstanceId", "175.16.199.1", "4ec22961e1defabcdefabcdef2a1234", None)
    k8s = by_type.loc["Persistence:Kubernetes/SuccessfulAnonymousAccess"]
    assert (k8s["resource_type"], k8s["resource_name"], k8s["remote_org"], k8s["count"]) == (
        "EKSCluster", "GeneratedFindingEKSClusterName", "GeneratedFindingASNOrg", 2)


def test_every_shape_gives_the_same_table(tmp_path, real_lines):
    path, lines = real_lines
    findings = [f for f in lines if "id" in f] + [brute_force()]
    expected, _ = read_findings([write(tmp_path / "lines.jsonl", "\n".join(json.dumps(f) for f in findings))])
    export = tmp_path / "AWSLogs/111111111111/GuardDuty/ap-northeast-1/2026/11/03/abc.jsonl.gz"
    eventbridge = [{"version": "0", "id": "e1", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
                    "account": f["accountId"], "region": f["region"], "detail": f} for f in findings]
    shapes = {
        "findings": json.dumps({"Findings": [pascal(f) for f in findings]}, indent=2),  # aws guardduty get-findings
        "array": json.dumps(findings),
        "export": gzip.compress("\n".join(json.dumps(f) for f in findings).encode()),
        "eventbridge": "\n".join(json.dumps(e) for e in eventbridge),
        "sns": json.dumps([{"Type": "Notification", "MessageId": "m", "Message": json.dumps(e)} for e in eventbridge]),
        "lambda": json.dumps({"Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": json.dumps(e)}}
                                          for e in eventbridge]}),
    }
    for name, text in shapes.items():
        target = export if name == "export" else tmp_path / f"{name}.json"
        frame, intake = read_findings([write(target, text)])
        assert (intake.read, intake.used, intake.rejected) == (6, 6, 0), name
        pd.testing.assert_frame_equal(frame, expected, obj=name)
    table, _ = read_guardduty([export])
    assert set(table.to_pandas()[["account", "export_region", "day"]].itertuples(index=False)) == {
        ("111111111111", "ap-northeast-1", "2026/11/03")}  # the export's partitions come from its key


def test_bad_records_and_files_are_reported_and_the_rest_kept(tmp_path):
    good = brute_force()
    odd = brute_force("c3" * 16) | {"schemaVersion": "3.1"}
    odd["resource"] = {"resourceType": "QuantumComputer", "quantumDetails": {"qubits": 9}}
    odd["service"] = json.dumps(odd["service"])  # JSON inside a string
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({"id": "x"}),
        json.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "RunInstances"}}),
        json.dumps([1, 2]),
        json.dumps(odd),
    ]
    # in AWS's GuardDuty folder, read as findings alone (loose, its CloudTrail event would be the
    # CloudTrail reader's, and the lines of no kind with it: kinds.kinds_of)
    mixed = tmp_path / "AWSLogs/111111111111/GuardDuty/us-east-1/2026/11/03/mixed.jsonl"
    frame, intake = read_findings([write(mixed, "\n".join(lines)),
                                   write(tmp_path / "truncated.jsonl.gz", gzip.compress(b'{"id": 1}\n' * 50)[:30]),
                                   write(tmp_path / "text.json", "GuardDuty export, see attachment")])
    mixed, truncated, text = intake.files
    assert (mixed.read, mixed.used, mixed.rejected) == (7, 2, 5)
    assert mixed.rejections == [
        "record 1: line 2 is not JSON: JSON is malformed: object keys must be strings (byte 1)",
        "record 2: no id or type: not a GuardDuty finding",
        "record 3: an EventBridge event of another kind ('AWS API Call via CloudTrail')",
        "record 4: a JSON int, not a finding object",
        "record 5: a JSON int, not a finding object",
    ]
    assert mixed.warnings == ["record 6: unknown schemaVersion '3.1', read as 2.0",
                              "record 6: resource type 'QuantumComputer' not known; its common fields are kept"]
    assert truncated.error.startswith("truncated or corrupt gzip") and truncated.used == 0
    assert text.error == ("not JSON: no line starts with '{' or '[' (the text of a file that may not be "
                          "evidence is not shown)")
    odd_row = frame.set_index("id").loc["c3" * 16]
    assert (odd_row["resource_type"], odd_row["instance_id"], odd_row["remote_ip"], odd_row["local_port"]) == (
        "QuantumComputer", None, "198.51.100.7", 22)


@pytest.mark.parametrize("deep_first", [True, False])
def test_a_line_nested_too_deep_costs_only_itself(tmp_path, deep_first):
    """msgspec raises RecursionError, not DecodeError, on deep nesting: it was a traceback when the
    deep line came first (hypothesis found it)."""
    deep = '{"id": "d", "x": ' + "[" * 10_000 + "]" * 10_000 + "}"
    lines = [deep, json.dumps(brute_force())] if deep_first else [json.dumps(brute_force()), deep]
    frame, intake = read_findings([write(tmp_path / "deep.jsonl", "\n".join(lines))])
    [report] = intake.files
    assert list(frame["id"]) == [brute_force()["id"]]
    assert (report.read, report.used, report.rejected) == (2, 1, 1)
    assert report.rejections == [f"record {0 if deep_first else 1}: line {1 if deep_first else 2} "
                                 "is nested too deeply to read"]


@pytest.mark.parametrize("shape", ["lines", "array", "findings"])
def test_a_finding_of_millions_of_tiny_containers_is_rejected_without_decoding_it(tmp_path, monkeypatch, shape):
    # 20 MB of '{}' in one finding peaked at 854 MB. Past the bound (reader.MAX_RECORD_VALUES, made
    # smaller here for speed) the finding is rejected by its count alone; the others are read.
    monkeypatch.setattr(reader, "MAX_RECORD_VALUES", 100_000)
    crowd = json.dumps({**brute_force(), "id": "crowd", "x": "@"}).replace('"@"', "[" + ",".join(["{}"] * 50_000) + "]")
    good = json.dumps(brute_force())
    text = {"lines": crowd + "\n" + good, "array": f"[{crowd}, {good}]",
            "findings": f'{{"Findings": [{crowd}, {good}]}}'}[shape]
    tracemalloc.start()
    try:
        frame, intake = read_findings([write(tmp_path / "crowd.json", text)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [report] = intake.files
    assert list(frame["id"]) == [brute_force()["id"]]
    assert (report.read, report.used, report.rejected) == (2, 1, 1)
    assert report.rejections == [f"record 0: {'line 1: ' if shape == 'lines' else ''}more than 100,000 "
                                 "brackets and commas (a value or container each to decode): over the "
                                 "bound that keeps memory under 1 GB"]
    assert peak < 6 * len(text)  # decoded, its 50,000 objects took about 170x


def test_a_finding_delivered_twice_is_held_once(tmp_path):
    a = write(tmp_path / "a.jsonl", json.dumps(brute_force()))
    b = write(tmp_path / "b.json", json.dumps({"Findings": [pascal(brute_force())]}))
    table, intake = read_guardduty([a, b])
    assert (table.num_rows, intake.used, intake.duplicates) == (1, 2, 1)
    assert table.schema == GUARDDUTY_SCHEMA


def test_a_finding_forged_under_the_id_and_update_of_another_is_kept_beside_it_as_a_conflict(tmp_path):
    """The same id and updatedAt with other content is not a second delivery: a forged copy (low severity,
    archived, another type) placed first must not replace the genuine finding."""
    genuine = brute_force()
    forged = {**genuine, "severity": 1, "type": "Recon:EC2/Portscan",
              "service": {**genuine["service"], "archived": True}}
    reordered = json.loads(json.dumps(genuine, sort_keys=True))  # key order aside, a copy
    evidence = tmp_path / "evidence"
    paths = [write(evidence / "a.jsonl", json.dumps(forged)), write(evidence / "b.jsonl", json.dumps(genuine)),
             write(evidence / "c.json", json.dumps({"Findings": [pascal(reordered)]}))]
    frame, intake = read_findings(paths)
    assert (len(frame), intake.used, intake.duplicates) == (2, 3, 1)
    assert sorted(zip(latest(frame)["type"], latest(frame)["severity"])) == [
        ("Recon:EC2/Portscan", 1.0), ("UnauthorizedAccess:EC2/SSHBruteForce", 5.0)]
    assert intake.conflicts == [f"finding {genuine['id']} (updated {genuine['updatedAt']}) is held by 2 findings "
                                "that differ in type, severity, service"]
    assert "1 finding id held by different records (all kept)" in intake.summary()
    for language, said in (("en", "1 id held by records that differ (one forged or corrupted; all kept)"),
                           ("ja", "同じ ID で内容の異なるレコード 1 組 (一方は偽造か破損: すべて保持)")):
        out = tmp_path / f"report-{language}"
        result = CliRunner().invoke(main, ["report", "--evidence", str(evidence), "--out", str(out)],
                                    env={"AUDIT_TOOLKIT_LANGUAGE": language})
        assert result.exit_code == 0, result.output
        assert said in (out / "report.html").read_text()  # the lead's evidence not fully used


def test_findings_files_are_found_apart_from_cloudtrail(tmp_path):
    export = write(tmp_path / "AWSLogs/111111111111/GuardDuty/us-east-1/2026/11/03/x.jsonl.gz", b"")
    # A name decides nothing: an empty list named for GuardDuty goes to the CloudTrail reader, which reports it.
    named = write(tmp_path / "exports/guardduty-findings.json", "[]")
    trail = write(tmp_path / "AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/03/y.json.gz", b"")
    assert discover_findings(tmp_path) == [export]
    assert discover_files(tmp_path) == [trail, named]


def test_loose_files_go_to_the_reader_their_content_says(tmp_path):
    """Outside the S3 layout the file's structure decides (evidence.kinds), not its name or first KB."""
    real = real_data() / "elastic-integrations-aws"
    finding = json.loads((real / "guardduty" / "test-guardduty.log").read_text().splitlines()[0])
    event = {"version": "0", "id": "e1", "detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": finding}
    loose = tmp_path / "case-42"
    get = write(loose / "get-findings.json", json.dumps({"Findings": [pascal(finding)]}))
    bridge = write(loose / "event.json", json.dumps(event))
    export = write(loose / "export.jsonl.gz", gzip.compress(json.dumps(finding).encode()))
    sns = write(loose / "sns.json", json.dumps({"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:gd",
                                               "Message": json.dumps(event)}))
    trail = loose / "ingress.log"
    # a copy: a link to a file outside the folder is not evidence (layout._leaves)
    trail.write_bytes((real / "cloudtrail" / "test-authorize-security-group-ingress-json.log").read_bytes())
    broken = write(loose / "broken.json.gz", b"\x1f\x8bgarbage")  # unreadable: the CloudTrail reader says why
    assert discover_findings(loose) == [bridge, export, get, sns]
    assert discover_files(loose) == [broken, trail]
    frame, intake = read_findings(discover_findings(loose))
    assert (intake.used, intake.rejected, intake.duplicates, list(frame["id"])) == (4, 0, 3, [finding["id"]])
    assert [discover_findings(p) for p in (get, trail)] == [[get], []]  # a single file, the same way
    assert [discover_files(p) for p in (get, trail)] == [[], [trail]]


def test_an_eventbridge_event_saved_without_detail_type_is_a_finding(tmp_path):
    """Lambda test events are often saved as {"region", "detail": finding}: no detail-type, no hint in the name."""
    when = datetime(2026, 11, 3, 9, 0, tzinfo=timezone.utc)
    finding = gd_finding("f-bare", "Recon:EC2/PortProbeUnprotectedPort", 2.0, "probe", "111111111111", "us-east-1",
                         first_seen=when, last_seen=when,
                         action=port_probe("198.51.100.7", "Japan", "Example", "64500", (22,)))
    bare = write(tmp_path / "case" / "event.json", json.dumps({"region": "us-east-1", "detail": finding}))
    assert discover_findings(tmp_path) == [bare] and discover_files(tmp_path) == []
    frame, intake = read_findings([bare])
    assert (intake.used, intake.rejected, list(frame["id"])) == (1, 0, ["f-bare"])


def test_a_finding_time_aws_could_not_have_written_is_left_out_with_the_reason(tmp_path):
    """The intake's one rule for times (reader.plausible): a last seen in year 9999 would tie the
    finding to every later exposure window."""
    when = datetime(2026, 11, 3, 9, 0, tzinfo=timezone.utc)
    finding = gd_finding("f-far", "Recon:EC2/PortProbeUnprotectedPort", 2.0, "probe", "111111111111",
                         "us-east-1", first_seen=when, last_seen=when)
    finding["service"].update(eventFirstSeen="2005-01-01T00:00:00Z",
                              eventLastSeen="9999-12-31T23:59:59.000Z")
    finding["updatedAt"] = "yesterday"
    path = write(tmp_path / "finding.json", json.dumps(finding))
    frame, intake = read_findings([path])
    (file,) = intake.files
    assert [w.split(" is outside ")[0] for w in file.warnings] == [
        "record 0: updatedAt 'yesterday' is not an ISO 8601 time; left out",
        "record 0: eventFirstSeen 2005-01-01T00:00:00Z",
        "record 0: eventLastSeen 9999-12-31T23:59:59Z"]
    assert file.warnings[2].endswith("(a day after the evidence was read); left out")
    assert (intake.used, frame["last_seen"].isna().all()) == (1, True)


@pytest.mark.parametrize("shape", ["array", "lines"])
def test_exports_concatenated_are_each_read_by_the_reader_of_their_kind(tmp_path, shape):
    """Found by an attack review: a JSON array or JSON-lines file was read as the kind of its first
    element, so CloudTrail records after a finding were rejected, not read (and findings after a
    record). An incident responder who joins the exports of a case expects each record read as
    what it is: each element is read where its kind is read, counted once, by one reader; an
    element of no kind is the CloudTrail reader's to reject, with its reason."""
    from audit_toolkit.evidence.reader import read_cloudtrail_file
    from util import event

    elements = [brute_force(), event(1), "junk", event(2), brute_force("b2" * 16)]
    text = json.dumps(elements) if shape == "array" else "\n".join(json.dumps(e) for e in elements)
    path = write(tmp_path / "case" / "joined.json", text)
    assert discover_files(tmp_path) == [path] and discover_findings(tmp_path) == [path]
    events, trail = read_cloudtrail_file(path)
    frame, intake = read_findings([path])
    (found,) = intake.files
    assert (trail.read, trail.used, trail.rejected, found.read, found.used, found.rejected) == (
        3, 2, 1, 2, 2, 0)
    assert events.column("eventid").to_pylist() == [event(1)["eventID"], event(2)["eventID"]]
    assert sorted(frame["id"]) == ["a1" * 16, "b2" * 16]
    assert trail.rejections == ["record 2: Expected `object`, got `str`"]
    assert trail.warnings == ["2 GuardDuty findings among its records, left to the GuardDuty reader"]
    assert found.warnings == ["3 records that are no GuardDuty findings, left to the CloudTrail reader"]


def test_in_aws_folders_an_element_of_the_other_kind_is_rejected_naming_its_kind(tmp_path):
    """AWS's folders route a file to one reader: what it holds of the other kind is rejected, saying
    what it is and why it is not read (AWS writes neither mix; an attacker who writes the logs may)."""
    from audit_toolkit.evidence.reader import read_cloudtrail_file
    from util import event

    day = "us-east-1/2026/11/03"
    trail = write(tmp_path / f"AWSLogs/111111111111/CloudTrail/{day}/t.json", json.dumps([event(1), brute_force()]))
    export = write(tmp_path / f"AWSLogs/111111111111/GuardDuty/{day}/g.jsonl",
                   json.dumps(brute_force()) + "\n" + json.dumps(event(2)))
    assert discover_files(tmp_path) == [trail] and discover_findings(tmp_path) == [export]
    _, records = read_cloudtrail_file(trail)
    _, intake = read_findings([export])
    (findings,) = intake.files
    assert [(f.read, f.used, f.rejected, f.rejections) for f in (records, findings)] == [
        (2, 1, 1, ["record 1: a GuardDuty finding, not a CloudTrail record: this file is not read as "
                   "GuardDuty findings (AWS's CloudTrail folder, or a trail's file name)"]),
        (2, 1, 1, ["record 1: a CloudTrail record, not a GuardDuty finding: this file is not read as "
                   "CloudTrail (AWS's GuardDuty folder, or an envelope of findings)"])]


def test_a_finding_no_decoder_reads_in_a_json_array_costs_only_itself(tmp_path):
    """Found while joining exports: a NaN in one finding of a JSON array lost every finding of it
    (the array was read as one line that is not JSON), and the file was not even recognised as
    findings. The array is now split by its brackets, as the CloudTrail reader splits one."""
    bad = json.dumps(brute_force("b2" * 16)).replace('"severity": 5', '"severity": NaN', 1)
    assert "NaN" in bad
    path = write(tmp_path / "case" / "findings.json",
                 f"[{json.dumps(brute_force())}, {bad}, {json.dumps(brute_force('c3' * 16))}]")
    assert discover_findings(tmp_path) == [path] and discover_files(tmp_path) == []
    frame, intake = read_findings([path])
    (found,) = intake.files
    assert (found.shape, found.read, found.used, found.rejected) == ("array", 3, 2, 1)
    assert [r.split(" (byte")[0] for r in found.rejections] == [
        "record 1: element 2 is not JSON: JSON is malformed: invalid character"]
    assert sorted(frame["id"]) == ["a1" * 16, "c3" * 16]


@pytest.mark.parametrize("codec, bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
                                        ("utf-32-le", b"\xff\xfe\x00\x00")])
def test_utf16_and_utf32_findings_and_state_in_an_evidence_folder_are_recognised_and_read(
        tmp_path, codec, bom):
    """Windows PowerShell's `>` writes UTF-16LE with a byte order mark. The CloudTrail reader read
    such a file, but recognising a loose file did not: a GuardDuty export or a Config file in
    UTF-16 was recognised as nothing, went to the CloudTrail reader, and no finding or item in it
    was read. Plain or gzipped, each now goes to its reader, which reads it as UTF-8."""
    from audit_toolkit.evidence.layout import discover_state
    from audit_toolkit.investigation import Investigation
    from test_state import item, permission

    def encoded(document: dict) -> bytes:
        return bom + json.dumps(document).encode(codec)

    case = tmp_path / "case"
    finding = write(case / "findings.json", encoded({"Findings": [pascal(brute_force())]}))
    findings_gz = write(case / "more-findings.json.gz", gzip.compress(encoded(
        {"Findings": [pascal(brute_force("b2" * 16))]})))
    config = write(case / "config.json.gz", gzip.compress(encoded({"fileVersion": "1.0",
        "configurationItems": [item("sg-1", "2026-09-28T10:00:00Z", [permission("0.0.0.0/0")])]})))
    config_plain = write(case / "config-plain.json", encoded({"fileVersion": "1.0",
        "configurationItems": [item("sg-2", "2026-09-28T10:00:00Z", [permission("0.0.0.0/0")])]}))
    assert discover_findings(case) == [finding, findings_gz]
    assert discover_state(case) == [config_plain, config]
    assert discover_files(case) == []
    inv = Investigation.from_evidence(case)
    name = codec.upper().replace("-LE", "LE").replace("-BE", "BE")
    for intake, used in ((inv.findings_intake, 2), (inv.state_intake, 2)):
        assert (intake.read, intake.used, intake.rejected, [f.error for f in intake.files]) == (
            used, used, 0, [None, None])
        assert [f.warnings for f in intake.files] == [[f"read as {name} (its byte order mark)"]] * 2
    assert sorted(inv.findings()["id"]) == ["a1" * 16, "b2" * 16]
    assert (inv.intake.read, inv.intake.files) == (0, [])


def test_a_joined_lines_file_read_in_chunks_counts_what_it_leaves_to_cloudtrail_once(tmp_path, monkeypatch):
    from audit_toolkit.evidence import guardduty
    from util import event

    monkeypatch.setattr(guardduty, "CHUNK_LINES", 2)  # five lines: three chunks, each of both kinds
    elements = [brute_force(), event(1), "junk", event(2), brute_force("b2" * 16)]
    path = write(tmp_path / "case" / "joined.jsonl", "\n".join(json.dumps(e) for e in elements))
    recognised = []  # recognising the file reads it whole: once a file, not once a chunk
    kinds = guardduty.kinds
    monkeypatch.setattr(guardduty, "kinds", lambda p: recognised.append(p) or kinds(p))
    frame, intake = read_findings([path])
    assert len(recognised) == 1
    (found,) = intake.files
    assert (found.read, found.used, found.rejected, found.elsewhere) == (2, 2, 0, 3)
    assert sorted(frame["id"]) == ["a1" * 16, "b2" * 16]
    assert found.warnings == ["3 records that are no GuardDuty findings, left to the CloudTrail reader"]


def test_millions_of_tiny_lines_are_read_in_bounded_memory(tmp_path):
    """Found by an attack review: an export of 8 million `{}` lines (105 KB gzipped) took 1.31 GB,
    every line decoded at once (118 bytes a line of 3 here). Read a chunk at a time, what a line
    costs is let go with its chunk. (Not gzipped: inflating holds 16 MB whatever the file.)"""
    lines = 100_000
    text = b"{}\n" * lines
    path = write(tmp_path / "AWSLogs" / "123456789012" / "GuardDuty" / "us-east-1" / "2026" / "11" / "03" /
                 "t.jsonl", text)
    tracemalloc.start()
    try:
        frame, intake = read_findings([path])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [report] = intake.files
    assert (len(frame), report.read, report.used, report.rejected) == (0, lines, 0, lines)
    assert report.rejections[:2] == ["record 0: no id or type: not a GuardDuty finding",
                                     "record 1: no id or type: not a GuardDuty finding"]
    assert len(report.rejections) == reader.MAX_REASONS_PER_FILE
    assert peak < 10 * len(text)  # 6x now (the text, a copy, a chunk); 39x with every line decoded


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_lines_are_cut_at_every_line_end_a_first_line_of_no_object_aside(tmp_path, end):
    text = end.join(["null", json.dumps(brute_force()), "", json.dumps(brute_force("b2" * 16))])
    frame, intake = read_findings([write(tmp_path / "t.jsonl", text)])
    [report] = intake.files
    assert sorted(frame["id"]) == ["a1" * 16, "b2" * 16]
    assert (report.read, report.used, report.rejected) == (3, 2, 1)
