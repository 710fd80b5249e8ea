"""Helpers shared by the tests: CloudTrail records and evidence files written as a trail would, and
a folder's files to compare before and after."""

from __future__ import annotations

import gzip
import re
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


# --- no stray English in Japanese -----------------------------------------------------------------

# Words the Japanese text may hold that are not from the logs: names of products and features,
# protocols, units and the API's own literals. Everything else in ASCII letters must come from the
# evidence itself.
ALLOWED_ASCII = {"GuardDuty", "CloudTrail", "SNS", "ARN", "ID", "IP", "TCP", "UDP", "ICMP", "SSH", "RDP",
                 "SSO", "MITRE", "ATT", "CK", "AWS", "JST", "UTC",
                 # detection details: features, and request fields as the API spells them
                 "Insights", "Bedrock", "Roles", "Anywhere", "Session", "Manager", "Sigma", "VPC", "DNS",
                 "ACL", "MFA", "GPU", "ZIP", "Deny", "readOnly", "includeManagementEvents", "enable",
                 "false"}


# Two or more lowercase English words in a row ("no interface", "accepted, no data"): a sentence or
# a value of ours left in English; identifiers (ARNs, user agents, paths) are not words here.
ENGLISH = re.compile(r"(?<![\w/.#:@=-])[A-Za-z][a-z]+(?:,? [a-z]{2,})+(?![\w/.#:@=-])")


def log_words(*values) -> set[str]:
    words: set[str] = set()
    for value in values:
        if isinstance(value, dict):
            words |= log_words(*value.keys(), *value.values())
        elif isinstance(value, (list, tuple)):
            words |= log_words(*value)
        elif value is not None:  # as the message shows it: booleans in a request as JSON
            text = str(value).lower() if isinstance(value, bool) else str(value)
            words |= set(re.findall(r"[A-Za-z]+", text))
    return words


def stray_english(body: str, *inputs) -> set[str]:
    """ASCII words in `body` that are neither allowed nor taken from `inputs` (the evidence shown)."""
    text = re.sub(r"https://\S+", "", body)
    text = re.sub(r"^ref: .*$", "", text, flags=re.M)
    text = re.sub(r"\[/?(info|title|code)\]", "", text)
    return set(re.findall(r"[A-Za-z]+", text)) - ALLOWED_ASCII - log_words(*inputs)


def phrase_values(said) -> list:
    """The values a phrase shows (from the evidence), without its keys: a nested phrase's key is
    ours, not the log's."""
    if isinstance(said, dict):
        return [v for value in (said.get("values") or {}).values() for v in phrase_values(value)]
    if isinstance(said, list):
        return [v for item in said for v in phrase_values(item)]
    return [said]


def hit_evidence(hit: dict) -> list:
    """What a detection hit took from the log: every field but its detail text, which is ours."""
    return [{k: v for k, v in hit.items() if k not in ("detail", "detail_phrase")},
            *phrase_values(hit.get("detail_phrase"))]
