"""Discovery of the evidence: what is read, and every path that is not, with why."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from audit_toolkit import report
from audit_toolkit.cli import main
from audit_toolkit.evidence.layout import discover_files, skipped
from audit_toolkit.investigation import Investigation
from audit_toolkit.settings import Settings

RECORD = {"eventVersion": "1.09", "eventTime": "2026-11-03T09:00:00Z",
          "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
          "awsRegion": "us-east-1", "eventID": "e1",
          "userIdentity": {"type": "IAMUser", "accountId": "111122223333"},
          "recipientAccountId": "111122223333"}


def evidence_with_strays(root: Path, monkeypatch) -> dict[str, str]:
    """A folder of one good log and every kind of path no reader takes; returns path -> why."""
    (root / "sub").mkdir(parents=True)
    (root / "locked").mkdir()
    (root / "elsewhere").mkdir()
    (root / "log.json").write_text(json.dumps({"Records": [RECORD]}))
    (root / "notes.txt").write_text("not evidence")
    (root / "log.json.bz2").write_bytes(b"BZh9")
    (root / ".hidden.json").write_text(json.dumps({"Records": [RECORD]}))
    os.mkfifo(root / "pipe.json")
    (root / "broken.json").symlink_to(root / "nowhere")
    (root / "sub" / "linked").symlink_to(root / "elsewhere")
    # What is expected beside collected evidence is not listed: digests, the manifest and its seal.
    digest = root / "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/03/d.json.gz"
    digest.parent.mkdir(parents=True)
    digest.write_bytes(b"")
    (root / "manifest.json").write_text("{}")
    (root / "manifest.json.sha256").write_text("0" * 64)
    scandir = os.scandir

    def root_cannot_list_locked(path="."):  # root reads any folder whatever its mode
        if not isinstance(path, int) and Path(path) == root / "locked":  # rmtree passes fds
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", root_cannot_list_locked)
    suffixes = ".json, .json.gz, .jsonl, .jsonl.gz, .log, .log.gz, .gz, .ndjson, .log.parquet"
    return {
        ".hidden.json": "hidden file (its name starts with '.')",
        "broken.json": "not a regular file",
        "locked": "folder cannot be listed (Permission denied)",
        "log.json.bz2": f"not an evidence file name ({suffixes})",
        "notes.txt": f"not an evidence file name ({suffixes})",
        "pipe.json": "not a regular file",
        "sub/linked": "symbolic link to a folder, not followed",
    }


def test_every_path_not_read_is_listed_with_its_reason(tmp_path, monkeypatch):
    root = tmp_path / "evidence"
    expected = [f"{root / p}: {why}" for p, why in evidence_with_strays(root, monkeypatch).items()]
    assert list(map(str, skipped(root))) == sorted(expected)

    inv = Investigation.from_evidence(root, Settings(language="en"))  # the caption is read in English
    assert list(map(str, inv.intake.skipped)) == sorted(expected) and inv.intake.used == 1
    scope_section = next(s for s in report.SECTIONS if s.id == "scope")  # the second: exposed first
    [(_, scope)] = report.build(inv, sections=[scope_section]).parts
    assert scope.tables[-1].caption == "Paths under the evidence that were not read"
    assert scope.tables[-1].rows == [s.rsplit(": ", 1) for s in sorted(expected)]
    # the Japanese report says why in Japanese (the reason is a phrase, not English to translate)
    inv.settings = Settings(language="ja")
    [(_, scope)] = report.build(inv, sections=[scope_section]).parts
    suffixes = ".json, .json.gz, .jsonl, .jsonl.gz, .log, .log.gz, .gz, .ndjson, .log.parquet"
    assert [why for _, why in scope.tables[-1].rows] == [
        "隠しファイル (名前が '.' で始まる)", "通常のファイルではありません",
        "フォルダの中身を一覧できません (Permission denied)", f"証跡のファイル名ではありません ({suffixes})",
        f"証跡のファイル名ではありません ({suffixes})", "通常のファイルではありません",
        "フォルダへのシンボリックリンク (たどりません)"]

    result = CliRunner().invoke(main, ["sg-changes", "--evidence", str(root),
                                       "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    said = [line.removeprefix("  skipped ") for line in result.stderr.splitlines()
            if "skipped" in line]
    assert said == sorted(expected)


def test_evidence_that_is_neither_a_file_nor_a_folder_is_said_so(tmp_path):
    os.mkfifo(tmp_path / "trail.json")  # reading it would wait forever for a writer
    result = CliRunner().invoke(main, ["sg-changes", "--evidence", str(tmp_path / "trail.json")])
    assert result.exit_code == 0
    assert f"  skipped {tmp_path / 'trail.json'}: not a regular file\n" in result.stderr


def test_recognising_a_loose_file_never_holds_its_records_as_objects_nor_inflates_a_bomb(
        tmp_path, monkeypatch):
    """Four loose files of 230 MB of records took an ingest's parent to 4.2 GB: each was inflated
    and decoded whole to be recognised. Now only an outline is decoded, and a bomb is left to the
    reader (which rejects it by name)."""
    import gzip
    import tracemalloc

    from audit_toolkit.evidence import kinds
    from audit_toolkit.evidence.layout import discover_files
    from util import event

    records = [event(i % 60, requestParameters={"items": [{"k": "v" * 20}] * 10}) for i in range(20_000)]
    text = json.dumps({"Records": records}).encode()
    (tmp_path / "loose.json.gz").write_bytes(gzip.compress(text, 1))
    monkeypatch.setattr(kinds, "MAX_RECOGNISED", 4 << 20)
    (tmp_path / "bomb.json.gz").write_bytes(gzip.compress(b'{"Records": [' + b" " * (64 << 20) + b"]}"))
    (tmp_path / "config.json").write_text(json.dumps({"configurationItems": [{"a": [1]}]}))
    monkeypatch.setattr(kinds, "MAX_RECOGNISED", 2 * len(text))
    tracemalloc.start()
    assert kinds.recognise(tmp_path / "loose.json.gz") == ("cloudtrail",)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # inflating costs about 3x the text (zlib's buffer grows); decoded to objects it took 6.4x
    assert peak < 4 * len(text)
    monkeypatch.setattr(kinds, "MAX_RECOGNISED", 4 << 20)
    tracemalloc.start()
    assert kinds.recognise(tmp_path / "bomb.json.gz") == ()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * (4 << 20)  # stopped one byte past the limit, not 64 MB
    assert kinds.recognise(tmp_path / "config.json") == ("config",)
    assert discover_files(tmp_path) == [tmp_path / "bomb.json.gz", tmp_path / "loose.json.gz"]


def test_a_file_named_like_collects_own_is_read_unless_it_is_collects_at_the_root(tmp_path):
    # Names alone hid events: a manifest.json deep in a trail's folder, a CloudTrail-Digest folder
    # outside AWS's digest layout, a public-keys.json of records. Only collect's own files at the
    # evidence root, and AWS's digests, are left out unlisted; a seal elsewhere is listed.
    root = tmp_path / "evidence"
    day = root / "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/03"
    read = [day / "manifest.json", root / "case-2/CloudTrail-Digest/export.json", root / "public-keys.json"]
    for i, path in enumerate(read):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"Records": [{**RECORD, "eventID": f"e{i}"}]}))
    (root / "manifest.json").write_text("{}")
    (root / "manifest.json.sha256").write_text("0" * 64)
    (day / "manifest.json.sha256").write_text("0" * 64)
    digest = root / "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/03/d.json.gz"
    digest.parent.mkdir(parents=True)
    digest.write_bytes(b"")
    assert discover_files(root) == sorted(read)
    suffixes = ".json, .json.gz, .jsonl, .jsonl.gz, .log, .log.gz, .gz, .ndjson, .log.parquet"
    assert list(map(str, skipped(root))) == [
        f"{day / 'manifest.json.sha256'}: not an evidence file name ({suffixes})"]
    inv = Investigation.from_evidence(root)
    assert (len(inv.intake.files), inv.intake.read, inv.intake.used) == (3, 3, 3)


def test_a_link_to_a_file_outside_the_evidence_is_skipped_and_its_text_never_shown(tmp_path):
    # A link `notes.json` -> a token file outside --evidence was read as evidence: its first 40 bytes
    # went to stderr and into report.html, which is meant to be shared. It is listed as skipped, by
    # the link's name alone; a link to a file inside the folder is read as before.
    secret = "cw_tok_SECRETSECRETSECRETSECRETSECRET0123456789abcdef"
    (tmp_path / "token").write_text(secret)
    (tmp_path / "other_case.json").write_text(json.dumps({"Records": [{**RECORD, "eventID": "x"}]}))
    root = tmp_path / "evidence"
    (root / "logs").mkdir(parents=True)
    (root / "logs" / "log.json").write_text(json.dumps({"Records": [RECORD]}))
    (root / "notes.json").symlink_to(tmp_path / "token")
    (root / "logs" / "passwd.json").symlink_to("../../token")  # relative, through '..'
    (root / "logs" / "case.json").symlink_to(tmp_path / "other_case.json")  # another case's logs
    (root / "same.json").symlink_to(root / "logs" / "log.json")  # inside: read (counted once)
    why = "symbolic link to a file outside the evidence folder, not read"
    expected = [f"{root / p}: {why}" for p in ("logs/case.json", "logs/passwd.json", "notes.json")]
    assert list(map(str, skipped(root))) == expected
    assert discover_files(root) == [root / "logs" / "log.json", root / "same.json"]

    inv = Investigation.from_evidence(root, Settings(language="en"))
    assert (len(inv.intake.files), inv.intake.read, inv.intake.used, inv.intake.rejected,
            inv.intake.duplicates) == (2, 2, 2, 0, 1)
    result = CliRunner().invoke(main, ["sg-changes", "--evidence", str(root)])
    assert result.exit_code == 0, result.output
    assert "SECRET" not in result.output + result.stderr
    assert [line for line in result.stderr.splitlines() if "skipped" in line] == [
        f"  skipped {line}" for line in expected]
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["report", "--evidence", str(root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not any("SECRET" in p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    assert "notes.json" in (out / "report.html").read_text()
