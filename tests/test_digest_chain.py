"""The digest chain validator as a pure function: the demo trail, signed by its demo key, read once,
then changed in memory the ways an attacker would change it; each change must be named exactly."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_toolkit.evidence.digest_chain import DigestFile, LogFile, PublicKey, validate
from audit_toolkit.evidence.log_validation import Inputs, gather
from audit_toolkit.synthetic import key_fingerprint

CHAIN = "AWSLogs/222222222222/CloudTrail-Digest/us-east-1/2026/11/03/"
DIGEST = CHAIN + "222222222222_CloudTrail-Digest_us-east-1_account-trail_us-east-1_{}.json.gz"
HOUR_10, HOUR_11 = DIGEST.format("20261103T100000Z"), DIGEST.format("20261103T110000Z")


@pytest.fixture(scope="module")
def signed(demo) -> Inputs:
    return gather(demo / "evidence")  # the demo's key and signatures are in the folder


def run(given: Inputs, digests=None, logs=None, keys=None, since=None, until=None):
    return validate(
        given.digests if digests is None else digests,
        given.logs if logs is None else logs,
        given.keys if keys is None else keys,
        given.bucket,
        since,
        until,
    )


def statuses(report) -> dict[str, str]:
    """path -> status of every row that is not valid."""
    return {r.path: r.status for r in report.rows if r.status != "valid"}


def listed_by(given: Inputs, digest_path: str) -> set[str]:
    import json

    body = json.loads(next(d.content for d in given.digests if d.path == digest_path))
    return {f["s3Object"] for f in body["logFiles"]}


def test_the_untouched_demo_trail_is_all_valid_and_its_hours_covered(signed, truth):
    report = run(signed)
    assert report.ok and report.unchecked == [] and report.gaps == []
    files, digests = truth["totals"]["files"], truth["totals"]["digests"]
    assert report.counts("log")["valid"] == files == len(signed.logs) > 1900
    assert report.counts("digest")["valid"] == digests == len(signed.digests) == 655
    assert {r.status for r in report.rows} == {"valid"}
    spans = [
        (s.account, s.region, s.trail, s.start, s.end)
        for s in report.spans
        if s.account == "222222222222"
    ]
    assert spans[0] == (
        "222222222222",
        "ap-northeast-1",
        "account-trail (ap-northeast-1)",
        datetime(2026, 11, 2, tzinfo=timezone.utc),
        datetime(2026, 11, 5, tzinfo=timezone.utc),
    )
    assert report.summary().startswith(f"{files:,} of {files:,} log files and 655 of 655 digests proven")


def test_a_changed_a_deleted_and_a_forged_log_file(signed):
    logs = list(signed.logs)
    changed, deleted = sorted(listed_by(signed, HOUR_11))[:2]
    logs = [
        dataclasses.replace(f, sha256=hashlib.sha256(b"edited").hexdigest())
        if f.path == changed
        else f
        for f in logs
        if f.path != deleted
    ]
    forged = (
        CHAIN.replace("CloudTrail-Digest", "CloudTrail")
        + "222222222222_CloudTrail_us-east-1_20261103T1005Z_forged.json.gz"
    )
    logs.append(LogFile(forged, hashlib.sha256(b'{"Records": []}').hexdigest()))
    report = run(signed, logs=logs)
    assert statuses(report) == {changed: "modified", deleted: "missing", forged: "not_covered"}
    assert not report.ok and report.gaps == []
    row = next(r for r in report.rows if r.path == deleted)
    assert (row.kind, row.reason) == ("log", f"listed by {HOUR_11}, absent")


def test_a_deleted_digest_breaks_the_chain_and_uncovers_its_files(signed):
    digests = [d for d in signed.digests if d.path != HOUR_10]
    report = run(signed, digests=digests)
    assert statuses(report) == {
        HOUR_10: "missing_digest",
        **{f: "not_covered" for f in listed_by(signed, HOUR_10)},
    }
    assert len(listed_by(signed, HOUR_10)) == 4
    gaps = [(g.account, g.region, g.start, g.end, g.reason) for g in report.gaps]
    assert gaps == [
        (
            "222222222222",
            "us-east-1",
            datetime(2026, 11, 3, 9, tzinfo=timezone.utc),
            datetime(2026, 11, 3, 10, tzinfo=timezone.utc),
            f"missing digest {HOUR_10}",
        )
    ]


def test_a_corrupt_signature_and_a_missing_one(signed):
    digests = [
        dataclasses.replace(
            d, signature=("0" + d.signature[1:]) if d.signature[0] != "0" else "1" + d.signature[1:]
        )
        if d.path == HOUR_10
        else dataclasses.replace(d, signature=None)
        if d.path == HOUR_11
        else d
        for d in signed.digests
    ]
    report = run(signed, digests=digests)
    uncovered = listed_by(signed, HOUR_10) | listed_by(signed, HOUR_11)
    assert statuses(report) == {
        HOUR_10: "signature_invalid",
        HOUR_11: "signature_invalid",
        **{f: "not_covered" for f in uncovered},
    }
    reasons = {r.path: r.reason for r in report.rows if r.kind == "digest"}
    assert (
        reasons[HOUR_10] == "the signature does not verify: the digest or its signature was changed"
    )
    assert reasons[HOUR_11].startswith(
        "no signature: the S3 object metadata `signature` was not recorded"
    )


def test_an_edited_digest_fails_its_signature(signed):
    digests = [
        dataclasses.replace(d, content=d.content.replace(b'"hashValue": "', b'"hashValue": "0', 1))
        if d.path == HOUR_10
        else d
        for d in signed.digests
    ]
    assert statuses(run(signed, digests=digests))[HOUR_10] == "signature_invalid"


def test_keys_of_another_fingerprint_or_another_key_under_the_right_one(signed):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = other.public_bytes(Encoding.DER, PublicFormat.PKCS1)
    report = run(signed, keys=[PublicKey(key_fingerprint(other), der)])
    assert report.counts("digest") == {**dict.fromkeys(report.counts(), 0), "no_key": 655}
    uncovered = len(signed.logs)
    assert report.counts("log") == {**dict.fromkeys(report.counts(), 0), "not_covered": uncovered}
    impostor = run(signed, keys=[PublicKey(signed.keys[0].fingerprint, der)])
    assert impostor.counts("digest")["signature_invalid"] == 655


def test_a_digest_copied_to_another_place_is_not_believed(signed):
    moved = HOUR_10.replace("222222222222_CloudTrail-Digest", "x_222222222222_CloudTrail-Digest")
    digests = [
        dataclasses.replace(d, path=moved) if d.path == HOUR_10 else d for d in signed.digests
    ]
    report = run(signed, digests=digests)
    assert statuses(report)[moved] == "signature_invalid"
    assert next(r.reason for r in report.rows if r.path == moved).startswith(
        "moved: it names itself s3://demo-trail-logs/"
    )


@pytest.mark.parametrize("content", [b"[" * 100_000, b"not json", b'{"digestEndTime": 7}', None])
def test_garbage_in_a_digest_is_a_finding_not_a_crash(signed, content):
    digests = [
        DigestFile(HOUR_10, content, "00", error="truncated") if d.path == HOUR_10 else d
        for d in signed.digests
    ]
    report = run(signed, digests=digests)
    assert statuses(report) == {
        HOUR_10: "signature_invalid",
        **{f: "not_covered" for f in listed_by(signed, HOUR_10)},
    }


def test_the_range_decides_whether_an_absent_first_digest_is_a_break(signed):
    # This chain's digests held only from the 2026/11/03 folder on, as if collected from that day.
    digests = [
        d
        for d in signed.digests
        if "222222222222/CloudTrail-Digest/us-east-1/" not in d.path or d.path >= CHAIN
    ]
    logs_folder = CHAIN.replace("CloudTrail-Digest", "CloudTrail")
    logs = [
        f
        for f in signed.logs
        if "222222222222/CloudTrail/us-east-1/" not in f.path or f.path >= logs_folder
    ]
    first, before = (
        DIGEST.format("20261103T000000Z"),
        DIGEST.format("20261102T230000Z").replace("/11/03/", "/11/02/"),
    )
    day = datetime(2026, 11, 3, tzinfo=timezone.utc)
    in_range = run(signed, digests=digests, logs=logs, since=day)
    assert statuses(in_range) == {} and in_range.ok
    assert all(r.time is None or r.time >= day for r in in_range.rows)
    no_range = run(signed, digests=digests, logs=logs)
    # Without a range nothing says the day before was not collected: its files the first digest
    # lists are missing, and the digest before it is named as not checked.
    assert set(statuses(no_range).values()) == {"missing"}
    assert {p.rsplit("_", 2)[-2] for p in statuses(no_range)} == {
        "20261102T2315Z",
        "20261102T2345Z",
    }
    assert [n.split(":")[0] for n in no_range.notes()] == [first]
    assert before in no_range.notes()[0]
    earlier = datetime(
        2026, 11, 2, 23, tzinfo=timezone.utc
    )  # the day before's last digest is in range
    broken = run(signed, digests=digests, logs=logs, since=earlier)
    assert statuses(broken) == {
        before: "missing_digest",
        **{p: "missing" for p in statuses(no_range)},
    }
