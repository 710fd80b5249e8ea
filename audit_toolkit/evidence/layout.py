"""The CloudTrail S3 layout: which files are evidence, and what their paths say."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import EvidenceError

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


def is_guardduty(path: str | Path) -> bool:
    """A findings file: under a GuardDuty folder (the export's layout), or named for GuardDuty."""
    path = Path(path)
    return "/GuardDuty/" in path.as_posix() or "guardduty" in path.name.lower()


def discover_findings(evidence: str | Path) -> list[Path]:
    """Every GuardDuty findings file under a folder (or the single file given), sorted by path."""
    root = Path(evidence)
    if not root.exists():
        raise EvidenceError(f"evidence path {root} does not exist: give a folder or a file of GuardDuty findings")
    if root.is_file():
        return [root]
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.name.lower().endswith(_EVIDENCE_SUFFIXES) and not p.name.startswith(".") and is_guardduty(p)
    )


def discover_files(evidence: str | Path) -> list[Path]:
    """Every CloudTrail evidence file under a folder (or the single file given), sorted by path.

    Digest files and GuardDuty exports are not CloudTrail events and are left out here.
    """
    root = Path(evidence)
    if not root.exists():
        raise EvidenceError(f"evidence path {root} does not exist: give a folder or a file of CloudTrail logs")
    if root.is_file():
        return [root]
    files = [
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.name.lower().endswith(_EVIDENCE_SUFFIXES)
        and not p.name.startswith(".")
        and not is_digest(p)
        and not is_guardduty(p)
        and p.name != "manifest.json"
    ]
    return sorted(files)
