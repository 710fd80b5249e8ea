"""validate-logs end to end: the real invictus trail signed by a key made here, uploaded to moto's
S3 with each digest's signature as object metadata, collected, then tampered with on disk. Moto has
no ListPublicKeys: botocore's before-send hook answers it as CloudTrail would (JSON, base64)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from datetime import datetime, timezone

import boto3
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import rsa

from _aws import ACCOUNT, REGION, arrange_invictus, aws_env, fake_response, moto_server, upload  # noqa: F401
from audit_toolkit.cli import main
from audit_toolkit.evidence.collect import collect
from audit_toolkit.evidence.log_validation import validate_folder
from audit_toolkit.evidence.manifest import MANIFEST, verify
from audit_toolkit.investigation import Investigation
from audit_toolkit.synthetic import public_keys_answer, write_digests

SINCE, UNTIL = "2023-07-10T00:00:00Z", "2023-07-11T00:00:00Z"
BUCKET = "trail-logs"
DIGESTS = (
    f"org/AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/2023/07/10/"
    f"{ACCOUNT}_CloudTrail-Digest_{REGION}_account-trail_{REGION}_"
)
HOUR_12, HOUR_13 = DIGESTS + "20230710T120000Z.json.gz", DIGESTS + "20230710T130000Z.json.gz"
TRAIL = f"{ACCOUNT} {REGION} account-trail ({REGION})"
LOGS = f"org/AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2023/07/10/"


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """The terminal's lines are read in English here (the default language, ja, is tested apart)."""
    monkeypatch.setenv("AUDIT_TOOLKIT_LANGUAGE", "en")


def list_public_keys(answer: dict, calls: list, deny: bool = False):
    """CloudTrail's ListPublicKeys on the wire: JSON, the key as base64, times as epoch seconds."""

    def reply(request, **_):
        calls.append(json.loads(request.body))
        if deny:
            error = {
                "__type": "AccessDeniedException",
                "message": "not authorized to perform: cloudtrail:ListPublicKeys",
            }
            return fake_response(
                400, json.dumps(error).encode(), {"x-amzn-ErrorType": "AccessDeniedException"}
            )
        epoch = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()  # noqa: E731
        keys = [
            {
                **k,
                "ValidityStartTime": epoch(k["ValidityStartTime"]),
                "ValidityEndTime": epoch(k["ValidityEndTime"]),
            }
            for k in answer["PublicKeyList"]
        ]
        return fake_response(
            200,
            json.dumps({"PublicKeyList": keys}).encode(),
            {"Content-Type": "application/x-amz-json-1.1"},
        )

    return reply


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def collected(aws_env, key, tmp_path):
    """The invictus trail signed, in moto's S3 under org/ with signatures as metadata, collected."""
    local = tmp_path / "local"
    logs = arrange_invictus(local)
    signatures = write_digests(local, key, BUCKET, prefix="org/")
    assert sorted(signatures) == [HOUR_12, HOUR_13]
    upload(BUCKET, {f"org/{k}": v for k, v in logs.items()})
    s3 = boto3.client("s3")
    for digest_key, signature in signatures.items():
        s3.put_object(
            Bucket=BUCKET,
            Key=digest_key,
            Body=(local / digest_key.removeprefix("org/")).read_bytes(),
            Metadata={"signature": signature, "signature-algorithm": "SHA256withRSA"},
        )
    answer = public_keys_answer(
        key, datetime(2023, 1, 1, tzinfo=timezone.utc), datetime(2024, 1, 1, tzinfo=timezone.utc)
    )
    calls: list = []
    session = boto3.Session()
    session.events.register(
        "before-send.cloudtrail.ListPublicKeys", list_public_keys(answer, calls)
    )
    out = tmp_path / "out"
    report = collect(f"s3://{BUCKET}/org", SINCE, UNTIL, out, session=session, progress=False)
    assert (report.downloaded, report.failed, report.notes) == (57, [], [])
    assert calls == [
        {"StartTime": 1688860800, "EndTime": 1689120000}
    ]  # the period, a day either side
    return out


def test_collect_records_the_signatures_and_the_keys(collected, key):
    manifest = json.loads((collected / MANIFEST).read_text())
    entries = {o["path"]: o for o in manifest["objects"]}
    assert {
        p: (e["signature_algorithm"], len(e["signature"]))
        for p, e in entries.items()
        if "signature" in e
    } == {HOUR_12: ("SHA256withRSA", 512), HOUR_13: ("SHA256withRSA", 512)}
    keys_file = collected / "public-keys.json"
    assert manifest["runs"][0]["public_keys"] == {
        "file": "public-keys.json",
        "regions": {REGION: "1 keys"},
        "sha256": hashlib.sha256(keys_file.read_bytes()).hexdigest(),
        "size": keys_file.stat().st_size,
    }
    stored = json.loads((collected / "public-keys.json").read_text())["PublicKeyList"]
    assert [base64.b64decode(k["Value"]) for k in stored] == [
        base64.b64decode(
            public_keys_answer(key, datetime.now(), datetime.now())["PublicKeyList"][0]["Value"]
        )
    ]
    assert verify(collected).ok  # the keys file is not evidence that appeared from nowhere


def test_verify_holds_the_public_keys_to_the_hash_collect_recorded(collected):
    """validate-logs trusts public-keys.json: emptied, or replaced by an attacker's keys, it was
    still 'intact' (found by an attack review)."""
    keys_file = collected / "public-keys.json"
    size = keys_file.stat().st_size
    keys_file.write_text('{"PublicKeyList": []}')
    report = verify(collected)
    assert not report.ok  # held to its size, then its hash, as every collected file is
    assert report.changed == [f"public-keys.json: size 21, collected {size}"]
    keys_file.write_text(" " * size)
    assert verify(collected).changed == [
        "public-keys.json: SHA-256 differs from the one recorded at collection"]
    keys_file.unlink()
    assert verify(collected).missing == ["public-keys.json"]


def test_an_untouched_collected_trail_is_all_valid_with_exit_0(collected):
    result = CliRunner().invoke(main, ["validate-logs", str(collected), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {(r["kind"], r["status"]) for r in rows} == {("digest", "valid"), ("log", "valid")}
    assert (
        sum(r["kind"] == "log" for r in rows) == 55
        and sum(r["kind"] == "digest" for r in rows) == 2
    )
    assert (
        "55 of 55 log files and 2 of 2 digests proven AWS-delivered and unaltered; 2 hours covered"
        in result.stderr
    )
    # The trail began at 11:00 and the day was collected to its end: both ends are said, not hidden.
    assert f"gap: {TRAIL}: 2023-07-10T00:00Z to 2023-07-10T11:00Z" in result.stderr
    assert (
        "2023-07-10T13:00Z to 2023-07-11T00:00Z (11 h): no valid digest after this" in result.stderr
    )
    assert Investigation.from_evidence(collected).validate_logs().ok


def test_validate_logs_shows_its_times_in_the_zone_asked(collected):
    """It prints times (the table, the gaps) like every other command: --tz applies to it too."""
    result = CliRunner().invoke(main, ["validate-logs", str(collected), "--tz", "JST", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert all(r["time"].endswith("+09:00") for r in json.loads(result.stdout) if r["time"])
    assert f"gap: {TRAIL}: 2023-07-10T09:00+09:00 to 2023-07-10T20:00+09:00 (11 h)" in result.stderr
    bad = CliRunner().invoke(main, ["validate-logs", str(collected), "--tz", "Nowhere/X"])
    assert bad.exit_code == 2 and "unknown time zone 'Nowhere/X'" in bad.output


def test_each_tampering_is_named_exactly(collected, tmp_path):
    names = sorted(p.name for p in (collected / LOGS).iterdir())
    hour_11 = [n for n in names if "T11" in n]
    changed, deleted = collected / LOGS / names[10], collected / LOGS / names[20]
    data = bytearray(changed.read_bytes())
    data[-12] ^= 0x01
    changed.write_bytes(bytes(data))
    deleted.unlink()
    forged = (
        collected / LOGS / f"{ACCOUNT}_CloudTrail_{REGION}_20230710T1230Z_forgedforgedforg.json.gz"
    )
    shutil.copy(collected / LOGS / names[30], forged)
    (collected / HOUR_12).unlink()

    result = CliRunner().invoke(main, ["validate-logs", str(collected), "--format", "json"])
    assert result.exit_code == 1, result.output
    bad = {r["path"]: r["status"] for r in json.loads(result.stdout) if r["status"] != "valid"}
    assert bad == {
        f"{LOGS}{names[10]}": "modified",
        f"{LOGS}{names[20]}": "missing",
        f"{LOGS}{forged.name}": "not_covered",
        HOUR_12: "missing_digest",
        **{f"{LOGS}{n}": "not_covered" for n in hour_11},
    }
    assert len(hour_11) == 3
    assert (
        f"gap: {TRAIL}: 2023-07-10T00:00Z to 2023-07-10T12:00Z (12 h): missing digest"
        in result.stderr
    )


def test_a_corrupt_signature_and_a_key_of_another_fingerprint(collected, tmp_path):
    manifest = json.loads((collected / MANIFEST).read_text())
    for entry in manifest["objects"]:
        if entry["path"] == HOUR_13:
            entry["signature"] = entry["signature"][:-4] + (
                "0000" if entry["signature"][-4:] != "0000" else "1111"
            )
    (collected / MANIFEST).write_text(json.dumps(manifest))
    report = validate_folder(collected)
    bad = {r.path: r.status for r in report.rows if r.status != "valid"}
    assert bad[HOUR_13] == "signature_invalid" and HOUR_12 not in bad
    assert sum(s == "not_covered" for s in bad.values()) == 52 and len(bad) == 53

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = tmp_path / "other-keys.json"
    keys.write_text(
        json.dumps(public_keys_answer(other, datetime(2023, 1, 1), datetime(2024, 1, 1)))
    )
    result = CliRunner().invoke(
        main, ["validate-logs", str(collected), "--public-keys", str(keys), "--format", "csv"]
    )
    assert result.exit_code == 1
    statuses = [line.split(",")[0] for line in result.stdout.splitlines()[1:]]
    assert sorted(set(statuses)) == ["no_key", "not_covered"] and statuses.count("no_key") == 2


def test_a_refused_list_public_keys_is_said_and_the_collection_goes_on(aws_env, key, tmp_path):
    local = tmp_path / "local"
    upload(BUCKET, arrange_invictus(local))
    signatures = write_digests(local, key, BUCKET)
    s3 = boto3.client("s3")
    for digest_key, signature in signatures.items():
        s3.put_object(
            Bucket=BUCKET,
            Key=digest_key,
            Body=(local / digest_key).read_bytes(),
            Metadata={"signature": signature, "signature-algorithm": "SHA256withRSA"},
        )
    session = boto3.Session()
    session.events.register(
        "before-send.cloudtrail.ListPublicKeys", list_public_keys({}, [], deny=True)
    )
    out = tmp_path / "out"
    report = collect(f"s3://{BUCKET}", SINCE, UNTIL, out, session=session, progress=False)
    assert report.downloaded == 57 and len(report.notes) == 1
    assert report.notes[0].startswith(
        "public keys: cloudtrail:ListPublicKeys in us-east-1: access denied (AccessDeniedException"
    )
    result = CliRunner().invoke(main, ["validate-logs", str(out)])
    assert result.exit_code == 1
    assert (
        "0 of 55 log files and 0 of 2 digests proven" in result.stderr
        and "2 no_key" in result.stderr
    )


def test_a_folder_not_made_by_collect_with_signatures_as_a_json_map(key, tmp_path):
    local = tmp_path / "local"
    arrange_invictus(local)
    signatures = write_digests(local, key, BUCKET)
    (tmp_path / "signatures.json").write_text(json.dumps(signatures))
    (tmp_path / "keys.json").write_text(
        json.dumps(public_keys_answer(key, datetime(2023, 1, 1), datetime(2024, 1, 1)))
    )
    args = ["validate-logs", str(local), "--public-keys", str(tmp_path / "keys.json")]
    result = CliRunner().invoke(main, [*args, "--signatures", str(tmp_path / "signatures.json")])
    assert result.exit_code == 0, result.output
    unsigned = CliRunner().invoke(main, [*args, "--format", "json"])
    assert unsigned.exit_code == 1 and "2 signature_invalid" in unsigned.stderr
    reasons = {r["reason"] for r in json.loads(unsigned.stdout) if r["kind"] == "digest"}
    assert [r.split(":")[0] for r in reasons] == ["no signature"]
    bad = CliRunner().invoke(main, [*args, "--since", "yesterday"])
    assert bad.exit_code == 2
    (tmp_path / "broken.json").write_text("[1]")
    broken = CliRunner().invoke(main, [*args, "--signatures", str(tmp_path / "broken.json")])
    assert (
        broken.exit_code == 2
        and "expected an object of digest key to hex signature" in broken.output
    )


def test_a_folder_without_digests_says_so_and_reads_no_file(tmp_path, monkeypatch):
    from audit_toolkit.evidence import log_validation

    arrange_invictus(tmp_path)
    monkeypatch.setattr(
        log_validation, "sha256_uncompressed", lambda path: pytest.fail(f"read {path}")
    )
    report = validate_folder(tmp_path)
    assert {r.status for r in report.rows} == {"not_covered"} and len(report.rows) == 55
    assert [n.split(":")[0] for n in report.notes()] == [
        "no public keys (public-keys.json absent, no --public-keys)",
        f"no digest files under {tmp_path}",
    ]


def test_a_hostile_file_name_reaches_the_terminal_inert(tmp_path):
    arrange_invictus(tmp_path)
    folder = tmp_path / f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2023/07/10"
    name = f"{ACCOUNT}_CloudTrail_{REGION}_20230710T1230Z_\x1b[2J\x1b]0;pwned\x07\nfake: valid.json.gz"
    (folder / name).write_bytes((folder / sorted(p.name for p in folder.iterdir())[0]).read_bytes())
    result = CliRunner().invoke(main, ["validate-logs", str(tmp_path)])
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert sum("not_covered" in line for line in result.stdout.splitlines()) == 56


def test_validate_logs_says_what_it_could_not_check_in_the_language_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("AUDIT_TOOLKIT_LANGUAGE")
    arrange_invictus(tmp_path)
    result = CliRunner().invoke(main, ["validate-logs", str(tmp_path)])
    assert result.exit_code == 1
    # (the table's own note, "times in UTC", is the CLI's, still English everywhere)
    assert result.stderr.splitlines()[1:] == [
        "未確認: 公開鍵がありません (public-keys.json がなく、--public-keys の指定もありません): どの"
        "ダイジェストも検証できません。期間の `aws cloudtrail list-public-keys` を保存して指定してください",
        f"未確認: {tmp_path} にダイジェストファイルがありません: 証跡のログファイルの検証は有効でしたか。"
        "CloudTrail-Digest/ のオブジェクトを収集しましたか",
        "ログファイル 55 個のうち 0 個、ダイジェスト 0 個のうち 0 個が AWS の配信で改変なしと証明されました。"
        "チェーンがカバーする時間 0 時間、欠落 0 件。検証に失敗: ダイジェストなし 55 件",
    ]
    assert "not_covered" in result.stdout  # the status, a code, stays as it is in the table
