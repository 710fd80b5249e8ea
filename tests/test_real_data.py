"""Every record recorded in real AWS accounts loads and normalizes; the known SSH window comes out."""

from __future__ import annotations

from audit_toolkit import export
from audit_toolkit.evidence.layout import discover_files
from audit_toolkit.evidence.reader import read_cloudtrail_file
from audit_toolkit.investigation import Investigation


def test_invictus_ssh_window_with_both_actors(real_data):
    inv = Investigation.from_evidence(real_data / "invictus-ir-aws_dataset" / "CloudTrail")
    assert (inv.intake.read, inv.intake.used, inv.intake.rejected) == (2900, 2900, 0)
    windows = export.to_records(inv.ssh_exposure())
    assert len(windows) == 1
    w = windows[0]
    assert (w["group_id"], w["protocol"], w["from_port"], w["to_port"], w["cidr"]) == ("sg-04cfb7a4712d75b00", "tcp", 22, 22, "0.0.0.0/0")
    assert (w["opened_at"], w["closed_at"], w["still_open"]) == ("2023-07-10T12:10:08Z", "2023-07-10T12:11:57Z", False)
    assert w["opened_by"] == w["closed_by"] == "arn:aws:iam::123837392027:user/bert-jan"
    assert (w["rule_id"], w["duration_seconds"], w["account"]) == ("sgr-0a11552a7d225f5c7", 109, "218007301253")


def test_invictus_security_group_changes(real_data):
    inv = Investigation.from_evidence(real_data / "invictus-ir-aws_dataset" / "CloudTrail")
    changes = inv.sg_changes()
    assert changes.groupby("event_name").size().to_dict() == {
        "AuthorizeSecurityGroupEgress": 2,  # one call, two rules (IPv4 and IPv6)
        "AuthorizeSecurityGroupIngress": 2,
        "CreateSecurityGroup": 1,
        "DeleteSecurityGroup": 1,
        "RevokeSecurityGroupEgress": 2,
        "RevokeSecurityGroupIngress": 1,
    }
    failed = changes[changes["error_code"].notna()]
    assert list(failed["error_code"]) == ["Client.InvalidPermission.NotFound"]
    assert list(failed["peer"]) == ["::/0"]
    assert set(changes["tool"]) == {"Terraform", "other"}


def test_elastic_records_load(real_data):
    folder = real_data / "elastic-integrations-aws" / "cloudtrail"
    reports = [read_cloudtrail_file(p)[1] for p in discover_files(folder)]
    assert len(reports) == 6
    assert all((r.read, r.used, r.rejected, r.error) == (1, 1, 0, None) for r in reports)
    inv = Investigation.from_evidence(folder)
    changes = inv.sg_changes()
    assert sorted(zip(changes["direction"], changes["protocol"], changes["from_port"], changes["peer"])) == [
        ("egress", "tcp", 4444, "73.21.4.36/32"),
        ("ingress", "tcp", 22, "203.0.113.0/24"),
    ]
    assert inv.ssh_exposure().empty  # 203.0.113.0/24 is not the internet
    egress = changes[changes["direction"] == "egress"].iloc[0]
    assert egress["actor_type"] == "AssumedRole"


def test_otrf_records_without_event_time_load(real_data):
    path = real_data / "otrf-security-datasets-aws" / "ec2_proxy_s3_exfiltration_2020-09-14011940.json"
    batch, report = read_cloudtrail_file(path)
    assert (report.shape, report.read, report.used, report.rejected) == ("lines", 103, 103, 0)
    times = batch.column("eventtime").to_pylist()
    assert all(t.startswith("2020-09-1") and t.endswith("Z") for t in times)
    inv = Investigation.from_evidence(path)
    assert inv.sg_changes().empty
    actors = inv.activity("pedro")
    assert len(actors) > 0 and set(actors["actor"]) == {"arn:aws:iam::123456789123:user/pedro"}


def test_every_real_cloudtrail_record_normalizes(real_data):
    for folder, count in (("invictus-ir-aws_dataset", 2900), ("elastic-integrations-aws/cloudtrail", 6),
                          ("otrf-security-datasets-aws", 103)):
        inv = Investigation.from_evidence(real_data / folder)
        assert (inv.intake.read, inv.intake.used, inv.intake.rejected) == (count, count, 0), inv.intake.problems
        events = inv.events()
        assert len(events) == count  # no duplicate event ids in these sets
        assert events["actor"].notna().all() and events["tool"].notna().all()
        assert events["eventtime"].is_monotonic_increasing
