"""Evidence collection from a real S3 API (moto's server on 127.0.0.1) with the real invictus logs:
collect, investigate, resume after a kill, verify, and the faults a collection meets."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pandas as pd
import pytest
from click.testing import CliRunner

from _aws import ACCOUNT, REGION, arrange_invictus, aws_env, moto_server, s3_error, fake_response, upload  # noqa: F401
from audit_toolkit.cli import main
from audit_toolkit.errors import ConfigError, EvidenceError
from audit_toolkit.evidence.collect import collect
from audit_toolkit.evidence.manifest import MANIFEST, SEAL, verify
from audit_toolkit.investigation import Investigation
from util import tree

SINCE, UNTIL = "2023-07-10T00:00:00Z", "2023-07-11T00:00:00Z"
MOTO_CALLER = "arn:aws:sts::123456789012:user/moto"


@pytest.fixture
def invictus(tmp_path):
    """The 55 invictus files, gzipped in the S3 layout locally: key -> bytes."""
    return arrange_invictus(tmp_path / "local")


def decoys() -> dict[str, bytes]:
    """Objects outside the scope: other days, another account, another region, a GuardDuty export."""
    finding = json.dumps({"schemaVersion": "2.0", "accountId": ACCOUNT, "region": REGION, "id": "f1", "type": "Recon:EC2/PortProbeUnprotectedPort"})
    return {
        f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2023/07/01/early.json.gz": gzip.compress(b'{"Records": []}', mtime=0),
        f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2023/08/01/late.json.gz": gzip.compress(b'{"Records": []}', mtime=0),
        f"AWSLogs/111122223333/CloudTrail/{REGION}/2023/07/10/other-account.json.gz": gzip.compress(b'{"Records": []}', mtime=0),
        f"AWSLogs/{ACCOUNT}/CloudTrail/eu-west-1/2023/07/10/other-region.json.gz": gzip.compress(b'{"Records": []}', mtime=0),
        f"AWSLogs/{ACCOUNT}/GuardDuty/{REGION}/2023/07/10/finding.jsonl.gz": gzip.compress(finding.encode() + b"\n", mtime=0),
    }


def test_collect_keeps_the_layout_records_custody_and_gives_the_same_answer(aws_env, invictus, tmp_path):
    upload("trail-logs", {**invictus, **decoys()}, prefix="org/")
    listed = []
    session = boto3.Session()
    session.events.register("before-parameter-build.s3.ListObjectsV2", lambda params, **_: listed.append(dict(params)))

    report = collect("s3://trail-logs/org", SINCE, UNTIL, tmp_path / "out", accounts=[ACCOUNT], regions=[REGION],
                     session=session, progress=False)

    out = tmp_path / "out"
    gd_key = f"AWSLogs/{ACCOUNT}/GuardDuty/{REGION}/2023/07/10/finding.jsonl.gz"
    assert (report.listed, report.downloaded, report.skipped, report.failed) == (56, 56, 0, [])
    for key, data in invictus.items():
        assert (out / "org" / key).read_bytes() == data
    assert (out / "org" / gd_key).read_bytes() == decoys()[gd_key]
    assert not (out / "org" / "AWSLogs" / "111122223333").exists()
    # Only the scope's day folders were listed (until's day + 1 for late delivery), never the bucket.
    day_listings = {p["Prefix"] for p in listed if "Delimiter" not in p}
    assert day_listings == {f"org/AWSLogs/{ACCOUNT}/{product}/{REGION}/{day}/"
                            for product in ("CloudTrail", "CloudTrail-Digest", "GuardDuty", "vpcflowlogs")
                            for day in ("2023/07/10", "2023/07/11", "2023/07/12")} | {
        f"org/AWSLogs/{ACCOUNT}/Config/{REGION}/{day}/" for day in ("2023/7/10", "2023/7/11", "2023/7/12")}
    assert all(p.get("Prefix", "").startswith("org/AWSLogs/") for p in listed)

    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["source"] == "s3://trail-logs/org/"
    assert manifest["runs"][0]["caller"]["arn"] == MOTO_CALLER
    entries = {o["path"]: o for o in manifest["objects"]}
    assert set(entries) == {f"org/{k}" for k in invictus} | {f"org/{gd_key}"}
    for key, data in invictus.items():
        entry = entries[f"org/{key}"]
        assert entry["uri"] == f"s3://trail-logs/org/{key}"
        assert (entry["size"], entry["sha256"], entry["etag"]) == (len(data), hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest())
        assert entry["retrieved_by"] == MOTO_CALLER and entry["retrieved_at"].endswith("Z")
    assert verify(out).ok

    collected = Investigation.from_evidence(out)
    local = Investigation.from_evidence(tmp_path / "local")
    assert collected.intake.summary() == local.intake.summary().replace(str(tmp_path / "local"), str(out))
    windows = collected.ssh_exposure()
    pd.testing.assert_frame_equal(windows, local.ssh_exposure())
    assert [(w.group_id, str(w.opened_at), str(w.closed_at)) for w in windows.itertuples()] == [
        ("sg-04cfb7a4712d75b00", "2023-07-10 12:10:08+00:00", "2023-07-10 12:11:57+00:00")
    ]

    again = collect("s3://trail-logs/org", SINCE, UNTIL, out, accounts=[ACCOUNT], regions=[REGION], progress=False)
    assert (again.listed, again.downloaded, again.skipped) == (56, 0, 56)


def test_flow_logs_of_the_scope_are_collected_with_their_hourly_folders(aws_env, invictus, tmp_path):
    header = b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
    record = b"2 218007301253 eni-1 198.51.100.7 10.0.0.5 4242 22 6 3 180 1688990400 1688990460 ACCEPT OK\n"
    flows = f"AWSLogs/{ACCOUNT}/vpcflowlogs/{REGION}"
    name = f"{ACCOUNT}_vpcflowlogs_{REGION}_fl-0123abcd_20230710T1205Z_a1b2c3d4.log.gz"
    inside = {f"{flows}/2023/07/10/12/{name}": gzip.compress(header + record, mtime=0)}
    outside = {f"{flows}/2023/07/01/12/{name}": gzip.compress(header + record, mtime=0)}
    upload("flow-logs", {**invictus, **inside, **outside})
    report = collect("s3://flow-logs", SINCE, UNTIL, tmp_path / "out", accounts=[ACCOUNT], regions=[REGION], progress=False)
    assert (report.listed, report.downloaded) == (56, 56)
    (key,) = inside
    assert (tmp_path / "out" / key).read_bytes() == inside[key]
    collected = Investigation.from_evidence(tmp_path / "out")
    assert (collected.flow_intake.read, collected.flow_intake.used) == (1, 1)
    assert collected.intake.read == Investigation.from_evidence(tmp_path / "local").intake.read  # not CloudTrail


def test_organization_trails_and_unnamed_regions_are_found_by_one_level_listings(aws_env, invictus, tmp_path):
    org = {f"AWSLogs/o-abcdefghij/{k.removeprefix('AWSLogs/')}": v for k, v in invictus.items()}
    upload("org-trail", {**org, "AWSLogs/o-abcdefghij/111122223333/CloudTrail/eu-west-1/2023/07/10/b.json.gz": b"b"})
    report = collect("s3://org-trail", SINCE, UNTIL, tmp_path / "out", progress=False)
    assert (report.listed, report.downloaded) == (56, 56)
    assert (tmp_path / "out/AWSLogs/o-abcdefghij/111122223333/CloudTrail/eu-west-1/2023/07/10/b.json.gz").read_bytes() == b"b"


SLOW_COLLECT = """
import sys, time, boto3
from audit_toolkit.evidence.collect import collect
session = boto3.Session()
session.events.register("before-send.s3.GetObject", lambda **_: time.sleep(0.15))
collect("s3://trail-logs", sys.argv[1], sys.argv[2], sys.argv[3], workers=2, session=session, progress=False)
"""


def test_a_killed_collection_resumes_without_losing_or_corrupting_anything(aws_env, invictus, tmp_path):
    upload("trail-logs", invictus)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    child = subprocess.Popen([sys.executable, "-c", SLOW_COLLECT, SINCE, UNTIL, str(out)], env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            if (out / MANIFEST).exists() and len(json.loads((out / MANIFEST).read_text())["objects"]) >= 10:
                break
            time.sleep(0.05)
        assert child.poll() is None, "the collection finished before it could be killed"
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    recorded = {o["path"] for o in json.loads((out / MANIFEST).read_text())["objects"]}
    on_disk = [p for p in out.rglob("*.json.gz")]
    assert 10 <= len(recorded) < 55
    for path in on_disk:  # every file with its final name is whole
        assert path.read_bytes() == invictus[path.relative_to(out).as_posix()]

    report = collect("s3://trail-logs", SINCE, UNTIL, out, progress=False)
    assert report.skipped >= len(recorded)
    assert report.downloaded == 55 - report.skipped and report.failed == []
    assert not list(out.rglob("*.partial"))
    assert verify(out).ok
    entries = {o["path"]: o for o in json.loads((out / MANIFEST).read_text())["objects"]}
    assert {p: e["sha256"] for p, e in entries.items()} == {k: hashlib.sha256(v).hexdigest() for k, v in invictus.items()}
    assert len(json.loads((out / MANIFEST).read_text())["runs"]) == 2


def test_verify_reports_changed_missing_and_added_files(aws_env, invictus, tmp_path):
    upload("trail-logs", invictus)
    out = tmp_path / "out"
    collect("s3://trail-logs", SINCE, UNTIL, out, progress=False)
    keys = sorted(invictus)
    tampered, deleted = out / keys[0], out / keys[1]
    data = bytearray(tampered.read_bytes())
    data[-10] ^= 0x01  # one bit, same size
    tampered.write_bytes(bytes(data))
    deleted.unlink()
    (out / "AWSLogs" / "planted.json").write_text("{}")
    # Neither a file nor a folder: a link to a folder of other logs, a FIFO. Both were added.
    (tmp_path / "forged").mkdir()
    (tmp_path / "forged" / "more.json").write_text('{"Records": []}')
    (out / "AWSLogs" / "linked").symlink_to(tmp_path / "forged", target_is_directory=True)
    os.mkfifo(out / "AWSLogs" / "pipe.json")

    report = verify(out)
    assert not report.ok and report.checked == 54
    assert report.changed == [f"{keys[0]}: SHA-256 differs from the one recorded at collection"]
    assert report.missing == [keys[1]]
    assert report.added == ["AWSLogs/linked", "AWSLogs/pipe.json", "AWSLogs/planted.json"]

    result = CliRunner().invoke(main, ["verify", str(out)])
    assert result.exit_code == 1
    assert f"changed: {keys[0]}" in result.output and f"missing: {keys[1]}" in result.output
    assert "added: AWSLogs/planted.json" in result.output


def test_a_missing_bucket_is_named(aws_env, tmp_path):
    with pytest.raises(EvidenceError, match=r"bucket 'no-such-bucket' does not exist"):
        collect("s3://no-such-bucket/logs", SINCE, UNTIL, tmp_path / "out", progress=False)


def test_access_denied_on_listing_names_the_permission(aws_env, invictus, tmp_path):
    upload("trail-logs", invictus)
    session = boto3.Session()
    session.events.register("before-send.s3.ListObjectsV2", lambda **_: s3_error(403, "AccessDenied", "Access Denied"))
    with pytest.raises(EvidenceError, match=r"access denied.*s3:ListBucket on arn:aws:s3:::trail-logs"):
        collect("s3://trail-logs", SINCE, UNTIL, tmp_path / "out", session=session, progress=False)


def test_a_throttled_listing_is_retried_then_explained(aws_env, invictus, tmp_path, monkeypatch):
    upload("trail-logs", invictus)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    calls = []

    def throttle_first(**_):
        calls.append(1)
        if len(calls) <= 2:
            return s3_error(503, "SlowDown", "Please reduce your request rate.")

    session = boto3.Session()
    session.events.register("before-send.s3.ListObjectsV2", throttle_first)
    report = collect("s3://trail-logs", SINCE, UNTIL, tmp_path / "out", session=session, progress=False)
    assert report.downloaded == 55  # two throttles, then the retries went through

    always = boto3.Session()
    always.events.register("before-send.s3.ListObjectsV2", lambda **_: s3_error(503, "SlowDown", "Please reduce your request rate."))
    with pytest.raises(EvidenceError, match=r"kept throttling.*SlowDown.*re-run"):
        collect("s3://trail-logs", SINCE, UNTIL, tmp_path / "out", session=always, progress=False)
    assert verify(tmp_path / "out").ok  # what was collected before is untouched


def test_an_expired_session_stops_the_run_and_keeps_what_was_collected(aws_env, invictus, tmp_path):
    upload("trail-logs", invictus)
    served = []

    def expire_after_20(**_):
        served.append(1)
        if len(served) > 20:
            return s3_error(400, "ExpiredToken", "The provided token has expired.")

    session = boto3.Session()
    session.events.register("before-send.s3.GetObject", expire_after_20)
    out = tmp_path / "out"
    with pytest.raises(EvidenceError, match=r"session has expired.*ExpiredToken.*files collected so far are kept; re-run to resume"):
        collect("s3://trail-logs", SINCE, UNTIL, out, workers=1, session=session, progress=False)
    assert verify(out).ok
    assert len(json.loads((out / MANIFEST).read_text())["objects"]) == 20
    assert not list(out.rglob("*.partial"))
    resumed = collect("s3://trail-logs", SINCE, UNTIL, out, progress=False)
    assert (resumed.skipped, resumed.downloaded) == (20, 35)


def test_a_partial_download_is_retried_then_reported_and_never_kept(aws_env, invictus, tmp_path):
    upload("trail-logs", invictus)
    victim = sorted(invictus)[3]

    def cut_short(request, **_):
        if request.url.split("?")[0].endswith(victim):
            whole = invictus[victim]
            return fake_response(200, whole[: len(whole) // 2], {"Content-Length": str(len(whole))})

    session = boto3.Session()
    session.events.register("before-send.s3.GetObject", cut_short)
    out = tmp_path / "out"
    report = collect("s3://trail-logs", SINCE, UNTIL, out, session=session, progress=False)
    assert report.downloaded == 54
    assert len(report.failed) == 1 and report.failed[0].startswith(f"{victim}: download incomplete after 3 attempts")
    assert not (out / victim).exists() and not list(out.rglob("*.partial"))
    assert verify(out).ok

    result = CliRunner().invoke(main, ["collect", "s3://trail-logs", "--since", SINCE, "--until", UNTIL, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / victim).read_bytes() == invictus[victim]


def test_scope_and_uri_mistakes_are_explained(tmp_path):
    with pytest.raises(ConfigError, match="not an S3 URI"):
        collect("trail-logs/AWSLogs", SINCE, UNTIL, tmp_path)
    with pytest.raises(ConfigError, match="the prefix above AWSLogs/"):
        collect("s3://trail-logs/org/AWSLogs/218007301253", SINCE, UNTIL, tmp_path)
    with pytest.raises(ConfigError, match="12-digit"):
        collect("s3://trail-logs", SINCE, UNTIL, tmp_path, accounts=["12345"])
    with pytest.raises(ConfigError, match=r"^--since 2023-07-11T00:00:00Z is not before --until 2023-07-01T00:00:00Z: the time range is empty$"):
        collect("s3://trail-logs", UNTIL, "2023-07-01", tmp_path)


def config_snapshot(group: str, captured: str) -> bytes:
    """A configuration snapshot as AWS Config delivers it (developer guide: example-s3-snapshot), one security
    group open to the world on port 22."""
    item = {"configurationItemVersion": "1.3", "configurationItemCaptureTime": captured, "configurationStateId": 1,
            "awsAccountId": ACCOUNT, "configurationItemStatus": "OK", "resourceType": "AWS::EC2::SecurityGroup",
            "resourceId": group, "resourceName": "legacy", "awsRegion": REGION, "relatedEvents": [],
            "configuration": {"groupId": group, "groupName": "legacy", "vpcId": "vpc-1", "ipPermissionsEgress": [],
                              "ipPermissions": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                                                 "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}], "ipRanges": ["0.0.0.0/0"],
                                                 "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}]}}
    return gzip.compress(json.dumps({"fileVersion": "1.0", "configurationItems": [item]}).encode(), mtime=0)


def test_collect_copies_config_and_asks_ec2_for_the_state_now(aws_env, invictus, tmp_path):
    folder = f"AWSLogs/{ACCOUNT}/Config/{REGION}"
    name = f"{ACCOUNT}_Config_{REGION}_ConfigSnapshot_20230710T000000Z_1.json.gz"
    snapshot = {f"{folder}/2023/7/10/ConfigSnapshot/{name}": config_snapshot("sg-0legacy", "2022-01-01T00:00:00.000Z"),
                f"{folder}/2023/7/1/ConfigSnapshot/{name}": config_snapshot("sg-0early", "2022-01-01T00:00:00.000Z")}
    upload("trail-logs", {**invictus, **snapshot})
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="web <b>", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])

    with pytest.raises(ConfigError, match="--state asks EC2 in each region"):
        collect("s3://trail-logs", SINCE, UNTIL, tmp_path / "out", state=True, progress=False)
    collect("s3://trail-logs", SINCE, UNTIL, tmp_path / "out", regions=[REGION], state=True, progress=False)

    out = tmp_path / "out"
    manifest = json.loads((out / MANIFEST).read_text())
    described = [o for o in manifest["objects"] if o["uri"].startswith("ec2:")]
    assert sorted(o["uri"] for o in described) == [f"ec2:{REGION}:describe-security-group-rules",
                                                    f"ec2:{REGION}:describe-security-groups"]
    # The caller's account (moto's), whose groups EC2 answers for.
    assert all(o["captured_at"] and o["path"].startswith(f"AWSLogs/123456789012/EC2/{REGION}/") for o in described)
    assert (out / list(snapshot)[0]).exists() and not (out / list(snapshot)[1]).exists()
    assert verify(out).ok

    inv = Investigation.from_evidence(out)  # the describe answers' time comes from the manifest
    assert inv.state_intake.bad_files == [] and len(inv.state_intake.files) == 3
    found = inv.ssh_exposure()
    legacy = found[found["group_id"] == "sg-0legacy"]
    assert list(legacy["opened_how"]) == ["state"] and list(legacy["opened_at"]) == [pd.Timestamp("2022-01-01", tz="UTC")]
    now = found[found["group_id"] == group]
    assert list(now["opened_how"]) == ["state"] and list(now["still_open"]) == [True]
    assert list(now["group_name"]) == ["web <b>"] and list(now["vpc_id"]) == [vpc]


DAY = f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2023/07/10/"
COLLECT = ["collect", "s3://trail-logs", "--since", SINCE, "--until", UNTIL]


def collected(out: Path) -> dict[str, str]:
    """The collected files' texts, by path (the manifest and its seal aside)."""
    return {p: d.decode() for p, d in tree(out).items() if p not in (MANIFEST, SEAL)}
HOSTILE_KEYS = {  # key -> why it is refused (None: written)
    DAY + "../" * 8 + "escaped": "has a '..' part",
    DAY + "./dot.json.gz": "has a '.' part",
    DAY + "e//f.json.gz": "has an empty part ('//' or a trailing '/')",
    DAY + "n" * 300 + ".json.gz": "has a part longer than 255 bytes, too long for a file name",
    DAY + "a": None,
    DAY + "a/b": f"collides with the key '{DAY}a': one path cannot be both a file and a folder",
    DAY + "x/./y": "has a '.' part",
    DAY + "x/y": None,
    DAY + "good.json.gz": None,
}


def test_keys_that_cannot_be_paths_under_out_are_refused_listed_and_fail_the_run(aws_env, tmp_path):
    upload("trail-logs", {key: key.encode() for key in HOSTILE_KEYS})
    out = tmp_path / "out"

    result = CliRunner().invoke(main, COLLECT + ["--out", str(out)])

    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Error: 6 objects were refused" in result.output
    assert not (tmp_path / "escaped").exists()
    written = {k for k, why in HOSTILE_KEYS.items() if why is None}
    assert collected(out) == {k: k for k in written}
    manifest = json.loads((out / MANIFEST).read_text())
    assert {o["path"] for o in manifest["objects"]} == written
    refused = {k: why for k, why in HOSTILE_KEYS.items() if why}
    assert {r["key"]: r["reason"] for r in manifest["refused"]} == refused
    assert all(r["uri"] == f"s3://trail-logs/{r['key']}" and r["size"] == len(r["key"])
               for r in manifest["refused"])
    run = manifest["runs"][0]
    counts = (run["listed"], run["downloaded"], run["skipped"], run["failed"], run["refused"])
    assert counts == (9, 3, 0, 0, 6)
    assert verify(out).ok

    # The same answer again, nothing overwritten.
    again = collect("s3://trail-logs", SINCE, UNTIL, out, progress=False)
    assert (again.listed, again.downloaded, again.skipped, len(again.refused)) == (9, 0, 3, 6)
    assert collected(out) == {k: k for k in written}


def test_collect_refuses_a_folder_it_did_not_make(aws_env, invictus, tmp_path):
    upload("trail-logs", invictus)
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".download.partial").write_bytes(b"someone else's")
    with pytest.raises(EvidenceError, match="is not empty and holds no manifest.json"):
        collect("s3://trail-logs", SINCE, UNTIL, tmp_path / "home", progress=False)
    assert tree(tmp_path / "home") == {".download.partial": b"someone else's"}


def test_the_manifest_is_sealed_and_an_edited_manifest_is_never_intact(aws_env, invictus, tmp_path):
    upload("trail-logs", invictus)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, COLLECT + ["--out", str(out)])
    assert result.exit_code == 0, result.output
    sealed = hashlib.sha256((out / MANIFEST).read_bytes()).hexdigest()
    assert f"manifest SHA-256 {sealed} " in result.stdout
    assert (out / SEAL).read_text() == f"{sealed}  {MANIFEST}\n"
    assert CliRunner().invoke(main, ["verify", str(out), "--expect", sealed.upper()]).exit_code == 0
    assert CliRunner().invoke(main, ["verify", str(out), "--expect", "0" * 64]).exit_code == 1

    # Whoever deletes a file and its entry, or edits a hash to match an edited file, edits the
    # manifest.
    keys = sorted(invictus)
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["objects"] = [o for o in manifest["objects"] if o["path"] != keys[0]]
    (out / keys[0]).unlink()
    edited = out / keys[1]
    edited.write_bytes(b"{}")
    entry = next(o for o in manifest["objects"] if o["path"] == keys[1])
    entry.update(size=2, sha256=hashlib.sha256(b"{}").hexdigest())
    (out / MANIFEST).write_text(json.dumps(manifest))
    now = hashlib.sha256((out / MANIFEST).read_bytes()).hexdigest()

    report = verify(out)
    assert (report.changed, report.missing, report.added) == ([], [], [])
    assert not report.ok and report.manifest == [
        f"{MANIFEST} has SHA-256 {now}, not the {sealed} recorded in {SEAL} at the end of "
        "collection: it was changed, or the collection did not finish"]
    (out / SEAL).unlink()  # and whoever also deletes the seal
    assert not verify(out).ok
    assert verify(out, expect=sealed).manifest == [
        f"{MANIFEST} has SHA-256 {now}, not the {sealed} expected: it was changed since collection"]
    result = CliRunner().invoke(main, ["verify", str(out), "--expect", sealed])
    assert result.exit_code == 1 and f"manifest: {MANIFEST} has SHA-256 {now}" in result.stdout


def test_verify_never_opens_a_manifest_path_outside_the_folder(aws_env, invictus, tmp_path):
    upload("trail-logs", invictus)
    out = tmp_path / "out"
    report = collect("s3://trail-logs", SINCE, UNTIL, out, progress=False)
    secret = tmp_path / "secret"
    secret.write_bytes(b"outside")
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["objects"].append({"path": "../secret", "size": 7,
                                "sha256": hashlib.sha256(b"outside").hexdigest()})
    (out / MANIFEST).write_text(json.dumps(manifest))

    checked = verify(out, expect=hashlib.sha256((out / MANIFEST).read_bytes()).hexdigest())
    assert checked.outside == ["'../secret' has a '..' part"]
    assert checked.checked == report.downloaded
    assert not checked.ok


def test_an_object_changed_in_s3_since_collection_never_replaces_the_copy_collected_first(
        aws_env, invictus, tmp_path):
    upload("trail-logs", invictus)
    out = tmp_path / "out"
    collect("s3://trail-logs", SINCE, UNTIL, out, progress=False)
    key = sorted(invictus)[0]
    first = json.loads((out / MANIFEST).read_text())
    boto3.client("s3").put_object(Bucket="trail-logs", Key=key, Body=b'{"Records": []}')  # rewritten

    result = CliRunner().invoke(main, COLLECT + ["--out", str(out)])

    assert result.exit_code == 1 and "Error: 1 object was refused: its key cannot be" in result.output
    assert (out / key).read_bytes() == invictus[key]
    entry = next(o for o in json.loads((out / MANIFEST).read_text())["objects"] if o["path"] == key)
    assert entry == next(o for o in first["objects"] if o["path"] == key)
    [refused] = json.loads((out / MANIFEST).read_text())["refused"]
    new_etag = hashlib.md5(b'{"Records": []}').hexdigest()
    assert refused["key"] == key and refused["etag"] == new_etag
    assert refused["reason"] == (f"changed in S3 since it was collected at {entry['retrieved_at']} (ETag "
                                 f"{entry['etag']}, now {new_etag}): the copy collected then is kept")
    assert verify(out).ok


def test_collect_state_role_asks_ec2_in_each_account_of_the_scope(aws_env, invictus, tmp_path):
    """The logs are of ACCOUNT; moto's caller is 123456789012: its credentials answer only for its
    own account, the role in ACCOUNT answers for ACCOUNT (moto keeps accounts apart by the
    assumed role's credentials)."""
    upload("trail-logs", invictus)
    member = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/AuditReader", RoleSessionName="setup")["Credentials"]
    ec2 = boto3.client("ec2", region_name=REGION, aws_access_key_id=member["AccessKeyId"],
                       aws_secret_access_key=member["SecretAccessKey"],
                       aws_session_token=member["SessionToken"])
    group = ec2.create_security_group(GroupName="member-bastion", Description="d")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])

    alone = collect("s3://trail-logs", SINCE, UNTIL, tmp_path / "alone", regions=[REGION],
                    state=True, progress=False)
    assert [n for n in alone.notes if "not asked" in n] == [
        f"security groups of {ACCOUNT} not asked of EC2: the caller is in 123456789012; "
        "give --state-role NAME to assume a role in each account"]

    report = collect("s3://trail-logs", SINCE, UNTIL, tmp_path / "out", regions=[REGION],
                     state=True, state_role="AuditReader", progress=False)
    assert not [n for n in report.notes if "not asked" in n]
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    described = [o for o in manifest["objects"] if o["uri"].startswith("ec2:")]
    assert sorted(o["path"].rsplit("_", 1)[0] for o in described) == [
        f"AWSLogs/{ACCOUNT}/EC2/{REGION}/describe-security-group-rules",
        f"AWSLogs/{ACCOUNT}/EC2/{REGION}/describe-security-groups"]
    assert {o["retrieved_by"] for o in described} == {
        f"arn:aws:sts::{ACCOUNT}:assumed-role/AuditReader/audit-toolkit-collect"}

    found = Investigation.from_evidence(tmp_path / "out").ssh_exposure()
    assert [(r["account"], r["group_name"], r["opened_how"], r["still_open"])
            for r in found[found["group_id"].eq(group)].to_dict("records")] == [
        (ACCOUNT, "member-bastion", "state", True)]
    with pytest.raises(ConfigError, match="--state-role is the role --state assumes"):
        collect("s3://trail-logs", SINCE, UNTIL, tmp_path / "x", state_role="AuditReader")
    with pytest.raises(ConfigError, match="must be an IAM role name"):
        collect("s3://trail-logs", SINCE, UNTIL, tmp_path / "x", regions=[REGION], state=True,
                state_role="../evil role")


def test_verify_holds_every_collected_file_one_way_a_link_in_its_place_is_missing(
        aws_env, invictus, tmp_path):
    """verify held the public keys one way (a link in their place: missing) and the collected files
    another: a link inside the folder was followed, and its target's bytes verified as the file
    collected. One way now: a link is not the file collected, even to an identical copy, which
    may change after verify said 'intact'. (A link that leads outside is 'outside', as before.)"""
    upload("trail-logs", invictus)
    out = tmp_path / "out"
    collect("s3://trail-logs", SINCE, UNTIL, out, progress=False)
    linked = out / sorted(invictus)[2]
    copy = out / "copy.json.gz"
    copy.write_bytes(linked.read_bytes())
    linked.unlink()
    linked.symlink_to(copy)
    report = verify(out)
    assert (report.ok, report.checked, report.missing, report.changed, report.added) == (
        False, 54, [sorted(invictus)[2]], [], ["copy.json.gz"])


def test_keys_one_path_where_case_or_normalization_is_ignored_are_each_collected_and_read(
        aws_env, tmp_path):
    """An attacker who can only add keys adds a twin of the genuine log's key (one letter of its
    random part upper-cased; `é` spelt decomposed): the twin sorts first, yet the genuine file is
    collected too, each under its own name, verified and read."""
    name = f"{ACCOUNT}_CloudTrail_{REGION}_20230710T0905Z_KwO5cWqwuyxBSuI9"
    genuine, forged = f"{DAY}{name}.json.gz", f"{DAY}{name.replace('KwO', 'KWO')}.json.gz"
    composed, decomposed = f"{DAY}caf\u00e9.json.gz", f"{DAY}cafe\u0301.json.gz"

    def trail(event_id: str, error: str | None) -> bytes:
        record = {"eventVersion": "1.08", "eventTime": "2023-07-10T09:10:00Z", "eventID": event_id,
                  "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
                  "awsRegion": REGION, "recipientAccountId": ACCOUNT,
                  "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/x"},
                  **({"errorCode": error} if error else {})}
        return gzip.compress(json.dumps({"Records": [record]}).encode(), mtime=0)

    objects = {genuine: trail("e-genuine", None), forged: trail("e-forged", "AccessDenied"),
               composed: trail("e-composed", None), decomposed: trail("e-decomposed", None)}
    upload("trail-logs", objects)
    out = tmp_path / "out"

    result = CliRunner().invoke(main, COLLECT + ["--out", str(out)])

    assert result.exit_code == 0, result.output
    tags = {k: "~" + hashlib.sha256(k.encode()).hexdigest()[:12] for k in objects}
    paths = {k: k.removesuffix(".json.gz") + tags[k] + ".json.gz" for k in objects}
    assert {p: d for p, d in tree(out).items() if p not in (MANIFEST, SEAL)} == {
        paths[k]: d for k, d in objects.items()}
    manifest = json.loads((out / MANIFEST).read_text())
    assert {o["path"]: o["uri"] for o in manifest["objects"]} == {
        paths[k]: f"s3://trail-logs/{k}" for k in objects}
    assert manifest["refused"] == []
    run = manifest["runs"][0]
    assert (run["listed"], run["downloaded"], run["skipped"], run["failed"], run["refused"]) == (4, 4, 0, 0, 0)
    assert verify(out).ok

    events = Investigation.from_evidence(out).events()
    assert sorted(zip(events.eventid, events.account, events.region, events.errorcode.fillna(""))) == [
        ("e-composed", ACCOUNT, REGION, ""), ("e-decomposed", ACCOUNT, REGION, ""),
        ("e-forged", ACCOUNT, REGION, "AccessDenied"), ("e-genuine", ACCOUNT, REGION, "")]

    again = collect("s3://trail-logs", SINCE, UNTIL, out, progress=False)
    assert (again.listed, again.downloaded, again.skipped, len(again.refused)) == (4, 0, 4, 0)


def test_a_twin_added_after_collection_leaves_the_collected_file_where_it_is(aws_env, tmp_path):
    genuine = f"{DAY}{ACCOUNT}_CloudTrail_{REGION}_20230710T0905Z_abc.json.gz"
    forged = genuine.replace("_abc", "_ABC")
    upload("trail-logs", {genuine: b"genuine"})
    out = tmp_path / "out"
    collect("s3://trail-logs", SINCE, UNTIL, out, progress=False)
    upload("trail-logs", {forged: b"forged"})

    again = collect("s3://trail-logs", SINCE, UNTIL, out, progress=False)

    assert (again.listed, again.downloaded, again.skipped, again.refused) == (2, 1, 1, [])
    renamed = forged.removesuffix(".json.gz") + "~" + hashlib.sha256(forged.encode()).hexdigest()[:12] + ".json.gz"
    assert {p: d for p, d in tree(out).items() if p not in (MANIFEST, SEAL)} == {
        genuine: b"genuine", renamed: b"forged"}
    assert verify(out).ok
