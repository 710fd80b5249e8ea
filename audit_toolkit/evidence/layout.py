"""The CloudTrail S3 layout: which files are evidence, and what their paths say."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..errors import EvidenceError
from ..phrases import Phrase, phrase, say
from .kinds import recognise
from .manifest import SEAL

STATE_KINDS = ("config", "ec2-describe")

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
# Kept beside the logs by collect and validate-logs, at the evidence root: the manifest, public
# keys, signatures (_collects_own).
NOT_EVIDENCE = ("manifest.json", "public-keys.json", "digest-signatures.json")
# AWSLogs/[o-org/]<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/: where AWS delivers digests
_DIGEST_LAYOUT = re.compile(
    r"AWSLogs/(?:o-[a-z0-9]+/)?\d{12}/CloudTrail-Digest/[a-z0-9-]+/\d{4}/\d{2}/\d{2}/")
EVIDENCE_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".log", ".log.gz", ".gz", ".ndjson",
                      ".log.parquet")  # the last: VPC flow logs delivered as Parquet


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


def _aws_digest(path: Path) -> bool:
    """A digest where AWS delivers them, or named as AWS names them: validate-logs reads it. Any
    other file is read for what it holds, whatever its folder is called."""
    return bool(_DIGEST_LAYOUT.search(path.as_posix())) or "_CloudTrail-Digest_" in path.name


def _collects_own(path: Path, root: Path) -> bool:
    """collect's (and validate-logs') own file at the evidence root, where they write it, unless it
    holds evidence: elsewhere, or holding records, a file so named is read like any other."""
    return path.parent == root and path.name in NOT_EVIDENCE and not kinds(path)


def guardduty_partition_of(path: str | Path) -> PathPartition:
    """Account, export region and day of a findings export file, from its S3 key."""
    match = _GUARDDUTY_LAYOUT.search(Path(path).as_posix())
    if not match:
        return PathPartition()
    return PathPartition(match["account"], match["region"], f"{match['y']}/{match['m']}/{match['d']}")


def kinds(path: str | Path) -> tuple[str, ...]:
    """cloudtrail, guardduty, config, ec2-describe, flowlog: by the S3 folder or a trail's file
    name, else by the file's structure (kinds.recognise), every kind it holds; () if none."""
    return ("cloudtrail",) if _FILE_NAME.search(Path(path).name) else recognise(path)


def _existing(evidence: str | Path, what: str) -> Path:
    root = Path(evidence)
    if not root.exists():
        raise EvidenceError(f"evidence path {root} does not exist: give a folder or a file of {what}")
    return root


def _files(root: Path) -> list[Path]:
    inside = root.resolve()
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and p.name.lower().endswith(EVIDENCE_SUFFIXES) and not p.name.startswith(".")
                  and not _leaves(p, inside))


def _leaves(path: Path, inside: Path) -> bool:
    """Whether `path` is a symbolic link whose target resolves outside the folder `inside` (resolved):
    such a file is not evidence (a link to ~/.aws/credentials, or to another case's logs), never read."""
    if not path.is_symlink():
        return False
    try:
        return not path.resolve(strict=True).is_relative_to(inside)
    except (OSError, RuntimeError):  # a loop, or a target gone: not a regular file, skipped as such
        return False


class Skipped(NamedTuple):
    """A path no reader takes, and why: a phrase of the catalogue's `skip.*`, so the report says it
    in its language; as text, 'path: why' in English (the CLI's stderr)."""

    path: str
    why: Phrase

    def __str__(self) -> str:
        return f"{self.path}: {say(self.why, 'en', 'skip')}"


def skipped(evidence: str | Path) -> list[Skipped]:
    """Every path under an evidence folder that no reader takes, with why, sorted by path.

    A hidden file, a name without an evidence suffix, a path that is not a regular file, a folder
    that cannot be listed, a symbolic link to a folder (not followed), a symbolic link to a file
    outside the evidence folder (not read). Files known not to hold
    events (AWS's digests, collect's manifest and its seal at the root) are expected, and not listed.
    """
    root = Path(evidence)
    if not root.is_dir():
        return [] if root.is_file() else [Skipped(str(root), phrase("not_regular"))]
    found, inside = [], root.resolve()

    def unreadable(error: OSError) -> None:
        found.append(Skipped(str(error.filename), phrase("unlistable", error=error.strerror or error)))

    for folder, folders, names in os.walk(root, onerror=unreadable):
        found += [Skipped(str(Path(folder) / d), phrase("folder_link")) for d in folders
                  if (Path(folder) / d).is_symlink()]
        for name in names:
            path = Path(folder) / name
            if _leaves(path, inside):  # named by the link's path alone: its target is never read
                found.append(Skipped(str(path), phrase("outside_link")))
            elif not path.is_file():
                found.append(Skipped(str(path), phrase("not_regular")))
            elif name.startswith("."):
                found.append(Skipped(str(path), phrase("hidden")))
            elif not name.lower().endswith(EVIDENCE_SUFFIXES) and path != root / SEAL:
                found.append(Skipped(str(path), phrase("not_evidence", suffixes=", ".join(EVIDENCE_SUFFIXES))))
    return sorted(found, key=lambda s: s.path)


def discover_findings(evidence: str | Path) -> list[Path]:
    """Every GuardDuty findings file under a folder (or the single file given, if it is one), sorted by path."""
    root = _existing(evidence, "GuardDuty findings")
    return [p for p in ([root] if root.is_file() else _files(root)) if "guardduty" in kinds(p)]


def discover_files(evidence: str | Path) -> list[Path]:
    """Every CloudTrail evidence file under a folder (or the single file given, if it is one), sorted by path.

    AWS's digest files, collect's own files, GuardDuty findings, security-group state and VPC flow
    logs are not CloudTrail events and are left out.
    """
    root = _existing(evidence, "CloudTrail logs")
    files = [root] if root.is_file() else [
        p for p in _files(root) if not _aws_digest(p) and not _collects_own(p, root)]
    # the CloudTrail reader reports a file that is none of them
    return [p for p in files if "cloudtrail" in (found := kinds(p)) or not found]


def discover_state(evidence: str | Path) -> list[Path]:
    """Every security-group state file (Config items, EC2 describe output) under a folder, sorted."""
    root = _existing(evidence, "security-group state")
    files = [root] if root.is_file() else [p for p in _files(root) if not _collects_own(p, root)]
    return [p for p in files if set(kinds(p)) & set(STATE_KINDS)]


def discover_flow_logs(evidence: str | Path) -> list[Path]:
    """Every VPC flow log file under a folder (or the file given, if it is one), sorted by path:
    under AWS's vpcflowlogs layout, or text whose first line is a flow log header."""
    root = Path(evidence)
    if not root.exists():
        return []
    files = [root] if root.is_file() else _files(root)
    return [p for p in files if "flowlog" in kinds(p)]
