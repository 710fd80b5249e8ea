"""The chain of custody beside collected evidence: what each file was in S3, and proof it is unchanged.

`manifest.json` sits at the top of the evidence folder. For each object: its S3 URI, size, ETag,
SHA-256, when it was retrieved and by whom (the STS caller identity); each key refused, with why.
At the end of a collection the manifest's own SHA-256 is printed (for the case notes) and kept in
`manifest.json.sha256`. `verify` checks the manifest against that hash and `--expect`, then
re-hashes the folder and reports every file changed, missing or added since collection. A manifest
path that would lead outside the folder is refused, never opened.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EvidenceError
from ..paths import inside, write_atomic
from .public_keys import PUBLIC_KEYS

MANIFEST = "manifest.json"
SEAL = "manifest.json.sha256"  # `sha256sum -c` reads it too
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
    refused: dict[str, dict] = field(default_factory=dict)  # key -> uri, size, etag, reason

    @classmethod
    def read(cls, folder: Path) -> "Manifest | None":
        path = folder / MANIFEST
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, expected {FORMAT!r}")
            objects = {o["path"]: o for o in data["objects"]}
            for o in objects.values():
                if not (isinstance(o["path"], str) and type(o["size"]) is int
                        and isinstance(o["sha256"], str)):
                    raise ValueError(f"entry {o['path']!r} needs a text path, an integer size "
                                     "and a text SHA-256")
            refused = {o["key"]: o for o in data.get("refused", [])}
            return cls(data["source"], objects, data["runs"], refused)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise EvidenceError(f"{path} is not a readable evidence manifest ({e}); it must not be edited by hand") from e

    def write(self, folder: Path) -> Path:
        """Write atomically: a reader sees the old manifest or the new one, never half of one."""
        data = {
            "format": FORMAT,
            "source": self.source,
            "runs": self.runs,
            "objects": [self.objects[p] for p in sorted(self.objects)],
            "refused": [{"key": k, **self.refused[k]} for k in sorted(self.refused)],
        }
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST}.", suffix=PARTIAL, dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / MANIFEST)
        return folder / MANIFEST


def seal(folder: Path) -> str:
    """The manifest's SHA-256, also kept beside it in SEAL; what the investigator writes down."""
    digest = sha256_of(folder / MANIFEST)
    write_atomic(folder / SEAL, f"{digest}  {MANIFEST}\n".encode("ascii"))
    return digest


@dataclass
class VerifyReport:
    folder: str
    manifest_sha256: str = ""
    manifest: list[str] = field(default_factory=list)  # why the manifest itself cannot be trusted
    checked: int = 0
    changed: list[str] = field(default_factory=list)  # 'path: why'
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)  # 'path: why': refused, never opened
    refused_at_collection: int = 0  # keys collect would not write (listed in the manifest)

    @property
    def ok(self) -> bool:
        return not (self.manifest or self.changed or self.missing or self.added or self.outside)

    def summary(self) -> str:
        state = "intact" if self.ok else "NOT intact"
        return (
            f"{self.folder}: {state}: manifest SHA-256 {self.manifest_sha256}; "
            f"{self.checked} files checked, {len(self.changed)} changed, "
            f"{len(self.missing)} missing, {len(self.added)} added since collection, "
            f"{len(self.outside)} manifest paths refused; "
            f"{self.refused_at_collection} keys refused at collection"
        )


def _manifest_problems(root: Path, digest: str, expect: str | None) -> list[str]:
    """Whether the manifest is the one collect sealed: against --expect, and against SEAL."""
    problems = []
    if expect is not None and expect.strip().lower() != digest:
        problems.append(f"{MANIFEST} has SHA-256 {digest}, not the {expect.strip()} expected: "
                        "it was changed since collection")
    seal_path = root / SEAL
    if seal_path.is_file():
        with open(seal_path, "rb") as f:  # a hash and a name: nothing longer is read
            recorded = f.read(256).decode("ascii", "replace").split(" ", 1)[0].strip().lower()
        if recorded != digest:
            problems.append(f"{MANIFEST} has SHA-256 {digest}, not the {recorded} recorded in "
                            f"{SEAL} at the end of collection: it was changed, or the collection "
                            "did not finish")
    elif expect is None:
        problems.append(f"the manifest's own SHA-256 cannot be checked: {SEAL} is missing; give "
                        "--expect with the SHA-256 printed at the end of collection")
    return problems


def _held_to(report: VerifyReport, local: Path, name: str, entry: dict) -> None:
    """A collected file (or the public keys) held to what the manifest recorded of it: its size,
    where recorded, then its SHA-256. One way for every file: a link in its place is not the file
    collected, whatever it points to (it is missing), as the public keys' check had it alone."""
    if not local.is_file() or local.is_symlink():
        report.missing.append(name)
        return
    report.checked += 1
    size = local.stat().st_size
    if isinstance(entry.get("size"), int) and size != entry["size"]:
        report.changed.append(f"{name}: size {size}, collected {entry['size']}")
    elif sha256_of(local) != entry["sha256"]:
        report.changed.append(f"{name}: SHA-256 differs from the one recorded at collection")


def verify(folder: str | Path, expect: str | None = None) -> VerifyReport:
    """Check the manifest (against `expect`, the SHA-256 in the case notes, and SEAL), then re-hash
    every collected file against it."""
    root = Path(folder)
    manifest = Manifest.read(root)
    if manifest is None:
        raise EvidenceError(f"{root / MANIFEST} not found: verify needs a folder made by `audit-toolkit collect`")
    digest = sha256_of(root / MANIFEST)
    report = VerifyReport(str(root), digest, _manifest_problems(root, digest, expect),
                          refused_at_collection=len(manifest.refused))
    for path, entry in sorted(manifest.objects.items()):
        try:
            local = inside(root, path)
        except EvidenceError as e:
            report.outside.append(str(e))
            continue
        _held_to(report, local, path, entry)
    # The public keys collect fetched last: validate-logs trusts them, so they are held to their hash.
    keys = next((r["public_keys"] for r in reversed(manifest.runs)
                 if isinstance(r, dict) and isinstance(r.get("public_keys"), dict)
                 and r["public_keys"].get("sha256")), None)
    if keys is not None:
        _held_to(report, root / PUBLIC_KEYS, PUBLIC_KEYS, keys)
    # Anything but a folder was added: a link to a folder of other files, or a FIFO, too.
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*")
               if p.is_symlink() or not p.is_dir()}
    # The public keys are fetched beside the files (collect), not copied from the bucket.
    report.added = sorted(on_disk - set(manifest.objects) - {MANIFEST, SEAL, PUBLIC_KEYS})
    return report
