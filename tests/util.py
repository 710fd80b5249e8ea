"""Helpers shared by the tests: CloudTrail records and evidence files written as a trail would, and
a folder's files to compare before and after."""

from __future__ import annotations

import gzip
import json
from pathlib import Path


def event(i: int, **extra) -> dict:
    record = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::111111111111:user/u{i}", "accountId": "111111111111"},
        "eventTime": f"2026-01-01T00:00:{i:02d}Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.1",
        "userAgent": "aws-cli/2",
        "requestParameters": {"a": [1, {"b": None}]},
        "responseElements": None,
        "eventID": f"00000000-0000-0000-0000-{i:012d}",
        "readOnly": True,
        "recipientAccountId": "111111111111",
    }
    record.update(extra)
    return record


def write(path: Path, data: bytes, zipped: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if zipped else data)
    return path


def records_file(tmp_path, name, events, zipped=True):
    return write(tmp_path / name, json.dumps({"Records": events}).encode(), zipped)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative POSIX path -> bytes), to compare before and after."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in files}
