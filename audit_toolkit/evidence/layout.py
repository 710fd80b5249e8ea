"""The CloudTrail S3 layout: which files are evidence, and what their paths say."""

from __future__ import annotations

import gzip
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import EvidenceError
from .manifest import SEAL

# AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>
_S3_LAYOUT = re.compile(
    r"AWSLogs/(?:o-[a-z0-9]+/)?(?P<account>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
)
# <account>_CloudTrail_<region>_YYYYMMDDTHHMMZ_<random>.json[.gz], the name a trail gives a file
_FILE_NAME = re.compile(
    r"(?P<account>\d{12})_CloudTrail_(?P<region>[a-z0-9-]+)_(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})T\d{4}Z"
)
# AWSLogs/<account>/GuardDuty/<region>/YYYY/MM/DD/<file>.jsonl.gz, what the findings export writes
_GUARDDUTY_LAYOUT = re.compile(
    r"AWSLogs/(?:o-[a-z0-9]+/)?(?P<account>\d{12})/GuardDuty/(?P<region>[a-z0-9-]+)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
)
# Kept beside the logs by collect and validate-logs: the manifest, public keys, signatures.
NOT_EVIDENCE = ("manifest.json", "public-keys.json", "digest-signatures.json")
_EVIDENCE_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".log", ".log.gz", ".gz", ".ndjson")


@dataclass(frozen=True)
class PathPartition:
    account: str | None = None
    region: str | None = None
    day: str | None = None  # 'YYYY/MM/DD', as in the S3 key and Athena's partition projection


def partition_of(path: str | Path) -> PathPartition:
    """Account, region and day as the S3 layout or the trail's file name gives them."""
    text = Path(path).as_posix()
    match = _S3_LAYOUT.search(text) or _FILE_NAME.search(Path(path).name)
    if not match:
        return PathPartition()
    return PathPartition(match["account"], match["region"], f"{match['y']}/{match['m']}/{match['d']}")


def is_digest(path: str | Path) -> bool:
    """Digest files hold hashes of log files, not events."""
    text = Path(path).as_posix()
    return "/CloudTrail-Digest/" in text or "_CloudTrail-Digest_" in text


def guardduty_partition_of(path: str | Path) -> PathPartition:
    """Account, export region and day of a findings export file, from its S3 key."""
    match = _GUARDDUTY_LAYOUT.search(Path(path).as_posix())
    if not match:
        return PathPartition()
    return PathPartition(match["account"], match["region"], f"{match['y']}/{match['m']}/{match['d']}")


# What the first KB of a file says when its path does not (see is_guardduty).
_CLOUDTRAIL_MARKS = (b'"eventVersion"', b'"eventName"')
_GUARDDUTY_MARKS = (b'"Findings"', b'"findings"', b'"detail-type"', b'"TopicArn"')


def is_guardduty(path: str | Path) -> bool:
    """A findings file rather than CloudTrail, decided in this order:

    the S3 layout's folder (`/GuardDuty/` or `/CloudTrail/`, or a trail's file name); a name saying
    `guardduty`; the first KB: `"eventVersion"`/`"eventName"` is CloudTrail, `"Findings"`, `"findings"`,
    `"detail-type"`, `"TopicArn"` or `"schemaVersion"` with `"type"` is GuardDuty (get-findings output,
    an EventBridge event, an SNS notification, the export); anything else goes to the CloudTrail
    reader, which reports what it cannot use.
    """
    path = Path(path)
    if "/GuardDuty/" in path.as_posix():
        return True
    if "/CloudTrail/" in path.as_posix() or _FILE_NAME.search(path.name):
        return False
    if "guardduty" in path.name.lower():
        return True
    head = _head(path)
    if any(mark in head for mark in _CLOUDTRAIL_MARKS):
        return False
    return any(mark in head for mark in _GUARDDUTY_MARKS) or (b'"schemaVersion"' in head and b'"type"' in head)


def _head(path: Path, size: int = 1024) -> bytes:
    """The first `size` bytes of a file, gunzipped if it is gzip; b"" if it cannot be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(size)
            if head[:2] == b"\x1f\x8b":
                f.seek(0)
                head = gzip.GzipFile(fileobj=f).read(size)
    except (OSError, EOFError, zlib.error):
        return b""  # the reader opens it again and reports why
    return head


def _existing(evidence: str | Path, what: str) -> Path:
    root = Path(evidence)
    if not root.exists():
        raise EvidenceError(f"evidence path {root} does not exist: give a folder or a file of {what}")
    return root


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and p.name.lower().endswith(_EVIDENCE_SUFFIXES) and not p.name.startswith("."))


def skipped(evidence: str | Path) -> list[str]:
    """Every path under an evidence folder that no reader takes, with why ('path: why'), sorted.

    A hidden file, a name without an evidence suffix, a path that is not a regular file, a folder
    that cannot be listed, a symbolic link to a folder (not followed). Files known not to hold
    events (digests, collect's manifest and its seal) are expected, and not listed.
    """
    root = Path(evidence)
    if not root.is_dir():
        return [] if root.is_file() else [f"{root}: not a regular file"]
    found = []

    def unreadable(error: OSError) -> None:
        found.append(f"{error.filename}: folder cannot be listed ({error.strerror or error})")

    for folder, folders, names in os.walk(root, onerror=unreadable):
        found += [f"{Path(folder) / d}: symbolic link to a folder, not followed" for d in folders
                  if (Path(folder) / d).is_symlink()]
        for name in names:
            path = Path(folder) / name
            if not path.is_file():
                found.append(f"{path}: not a regular file")
            elif name.startswith("."):
                found.append(f"{path}: hidden file (its name starts with '.')")
            elif not name.lower().endswith(_EVIDENCE_SUFFIXES) and name != SEAL:
                found.append(f"{path}: not an evidence file name ({', '.join(_EVIDENCE_SUFFIXES)})")
    return sorted(found)


def discover_findings(evidence: str | Path) -> list[Path]:
    """Every GuardDuty findings file under a folder (or the single file given, if it is one), sorted by path."""
    root = _existing(evidence, "GuardDuty findings")
    return [p for p in ([root] if root.is_file() else _files(root)) if is_guardduty(p)]


def discover_files(evidence: str | Path) -> list[Path]:
    """Every CloudTrail evidence file under a folder (or the single file given, if it is one), sorted by path.

    Digest files, GuardDuty findings, VPC flow logs and NOT_EVIDENCE are not CloudTrail events and
    are left out.
    """
    from .flowlogs import is_flow_log  # flow logs are text named *.log.gz, as trail files can be

    root = _existing(evidence, "CloudTrail logs")
    if root.is_file():
        return [] if is_guardduty(root) or is_flow_log(root) else [root]
    return [p for p in _files(root)
            if not is_digest(p) and p.name not in NOT_EVIDENCE and not is_guardduty(p)
            and not is_flow_log(p)]
