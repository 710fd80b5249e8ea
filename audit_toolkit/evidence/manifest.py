"""The chain of custody beside collected evidence: what each file was in S3, and proof it is unchanged.

`manifest.json` sits at the top of the evidence folder. For each object: its S3 URI, size, ETag,
SHA-256, when it was retrieved and by whom (the STS caller identity). `verify` re-hashes the folder
and reports every file changed, missing or added since collection.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EvidenceError
from .public_keys import PUBLIC_KEYS

MANIFEST = "manifest.json"
FORMAT = "audit_toolkit evidence manifest 1"
PARTIAL = ".partial"  # suffix of a download in progress; never evidence


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Manifest:
    source: str  # s3://bucket/prefix/
    objects: dict[str, dict] = field(default_factory=dict)  # path (POSIX, relative to the folder) -> entry
    runs: list[dict] = field(default_factory=list)  # one per collection run: who, when, scope, counts

    @classmethod
    def read(cls, folder: Path) -> "Manifest | None":
        path = folder / MANIFEST
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, expected {FORMAT!r}")
            return cls(data["source"], {o["path"]: o for o in data["objects"]}, data["runs"])
        except (ValueError, KeyError, TypeError) as e:
            raise EvidenceError(f"{path} is not a readable evidence manifest ({e}); it must not be edited by hand") from e

    def write(self, folder: Path) -> Path:
        """Write atomically: a reader sees the old manifest or the new one, never half of one."""
        data = {
            "format": FORMAT,
            "source": self.source,
            "runs": self.runs,
            "objects": [self.objects[p] for p in sorted(self.objects)],
        }
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST}.", suffix=PARTIAL, dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / MANIFEST)
        return folder / MANIFEST


@dataclass
class VerifyReport:
    folder: str
    checked: int = 0
    changed: list[str] = field(default_factory=list)  # 'path: why'
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.added)

    def summary(self) -> str:
        state = "intact" if self.ok else "NOT intact"
        return (
            f"{self.folder}: {state}: {self.checked} files checked, {len(self.changed)} changed, "
            f"{len(self.missing)} missing, {len(self.added)} added since collection"
        )


def verify(folder: str | Path) -> VerifyReport:
    """Re-hash every collected file against the manifest."""
    root = Path(folder)
    manifest = Manifest.read(root)
    if manifest is None:
        raise EvidenceError(f"{root / MANIFEST} not found: verify needs a folder made by `audit-toolkit collect`")
    report = VerifyReport(str(root))
    for path, entry in sorted(manifest.objects.items()):
        local = root / path
        if not local.is_file():
            report.missing.append(path)
            continue
        report.checked += 1
        size = local.stat().st_size
        if size != entry["size"]:
            report.changed.append(f"{path}: size {size}, collected {entry['size']}")
        elif sha256_of(local) != entry["sha256"]:
            report.changed.append(f"{path}: SHA-256 differs from the one recorded at collection")
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    # The public keys are fetched beside the files (collect), not copied from the bucket.
    report.added = sorted(on_disk - set(manifest.objects) - {MANIFEST, PUBLIC_KEYS})
    return report
