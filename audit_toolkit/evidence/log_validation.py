"""validate-logs on an evidence folder: read the digests, their signatures and the public keys, hash
every log file, and let digest_chain.validate judge. Offline: nothing here touches AWS.

Signatures come from the manifest (collect records each digest's S3 metadata `signature` and
`signature-algorithm`), or, for a folder `collect` did not make, from a JSON map of digest key to
hex signature (`--signatures`, else SIGNATURES in the folder). Keys come from `--public-keys`, else
PUBLIC_KEYS in the folder (where collect stores ListPublicKeys' answer).
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from isal import igzip

from .. import queries
from ..errors import EvidenceError
from ..phrases import Phrase, phrase
from .digest_chain import DigestFile, IntegrityReport, LogFile, PublicKey, tail, validate
from .layout import discover_files, is_digest
from .manifest import Manifest
from .public_keys import PUBLIC_KEYS, read_keys

DIGEST_LIMIT = 64 << 20  # uncompressed bytes: a real digest is a few MB; more is a gzip bomb
CHUNK = 1 << 20
WORKERS_FROM_BYTES = 16 << 20  # below this, starting processes costs more than it saves
SIGNATURES = "digest-signatures.json"


def sha256_uncompressed(path: Path) -> tuple[str | None, str | None]:
    """SHA-256 of a file's content, gunzipped if it is gzip, read in chunks (memory flat);
    (None, why) when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream = igzip.open(raw) if gz else raw
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
    except (OSError, EOFError, igzip.BadGzipFile) as e:
        return None, f"{type(e).__name__}: {e}"
    return digest.hexdigest(), None


def _read_digest(path: Path, key: str, signature: str | None, algorithm: str | None) -> DigestFile:
    try:
        with igzip.open(path) as f:
            content = f.read(DIGEST_LIMIT + 1)
    except (OSError, EOFError, igzip.BadGzipFile) as e:
        return DigestFile(key, None, signature, algorithm, f"{type(e).__name__}: {e}")
    if len(content) > DIGEST_LIMIT:
        return DigestFile(
            key, None, signature, algorithm, f"over {DIGEST_LIMIT >> 20} MB uncompressed"
        )
    return DigestFile(key, content, signature, algorithm)


def _signatures(
    root: Path, manifest: Manifest | None, given: Path | None
) -> dict[str, tuple[str, str | None]]:
    """Digest key tail -> (hex signature, algorithm)."""
    found: dict[str, tuple[str, str | None]] = {}
    if manifest is not None:
        for path, entry in manifest.objects.items():
            if entry.get("signature"):
                found[tail(path)] = (entry["signature"], entry.get("signature_algorithm"))
    if given is not None:
        try:
            data = json.loads(Path(given).read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                raise ValueError("expected an object of digest key to hex signature")
        except (OSError, ValueError) as e:
            raise EvidenceError(f"--signatures {given}: {e}") from e
        found.update({tail(k): (v, "SHA256withRSA") for k, v in data.items()})
    return found


def _window(manifest: Manifest | None, since, until) -> tuple[datetime | None, datetime | None]:
    """The range judged: --since/--until, else the range `collect` was asked for."""
    if since is None and until is None and manifest is not None and manifest.runs:
        scopes = [r.get("scope", {}) for r in manifest.runs]
        since = min(
            (s["since"] for s in scopes if s.get("since") not in (None, "None")), default=None
        )
        until = max(
            (s["until"] for s in scopes if s.get("until") not in (None, "None")), default=None
        )
    bounds = queries.scope(since, until)
    return tuple(
        None if bounds[b] is None else datetime.fromisoformat(bounds[b].replace("Z", "+00:00"))
        for b in ("since", "until")
    )


def _hash_all(paths: list[Path], workers: int | None) -> list[tuple[str | None, str | None]]:
    if workers is None:
        big = sum(p.stat().st_size for p in paths) >= WORKERS_FROM_BYTES
        workers = (os.cpu_count() or 1) if big else 1
    if workers <= 1:
        return [sha256_uncompressed(p) for p in paths]
    with ProcessPoolExecutor(workers) as pool:
        return list(
            pool.map(sha256_uncompressed, paths, chunksize=max(1, len(paths) // (8 * workers)))
        )


@dataclass
class Inputs:
    """What a folder gives the validator: every argument of digest_chain.validate."""

    digests: list[DigestFile]
    logs: list[LogFile]
    keys: list[PublicKey]
    bucket: str | None
    since: datetime | None
    until: datetime | None
    unchecked: list[Phrase] = field(default_factory=list)


def gather(
    folder: str | Path,
    public_keys: str | Path | None = None,
    signatures: str | Path | None = None,
    since=None,
    until=None,
    workers: int | None = None,
) -> Inputs:
    """Read a folder's digests, signatures, keys and log file hashes (the I/O of validate-logs)."""
    root = Path(folder)
    if not root.is_dir():
        raise EvidenceError(f"{root} is not a folder: give the evidence folder (S3 layout)")
    manifest = Manifest.read(root)
    bucket = manifest.source.removeprefix("s3://").split("/", 1)[0] if manifest else None
    keys_file = Path(public_keys) if public_keys else root / PUBLIC_KEYS
    unchecked = []
    if keys_file.exists():
        keys = read_keys(keys_file)
    elif public_keys:
        raise EvidenceError(f"--public-keys {public_keys} does not exist")
    else:
        keys = []
        unchecked.append(phrase("no_public_keys", file=PUBLIC_KEYS))
    if signatures is None and (root / SIGNATURES).exists():
        signatures = root / SIGNATURES
    known = _signatures(root, manifest, Path(signatures) if signatures else None)
    digests = []
    for path in sorted(
        p for p in root.rglob("*.json.gz") if is_digest(p) and not p.name.startswith(".")
    ):
        key = path.relative_to(root).as_posix()
        signature, algorithm = known.get(tail(key), (None, None))
        digests.append(_read_digest(path, key, signature, algorithm))
    if not digests:
        unchecked.append(phrase("no_digests", folder=root))
    paths = [
        p
        for p in discover_files(root)
        if "/CloudTrail/" in p.as_posix() or "_CloudTrail_" in p.name
    ]
    # With no digest, no file can be proven: reading them all would change no answer.
    hashes = _hash_all(paths, workers) if digests else [(None, "not read: no digest")] * len(paths)
    logs = [
        LogFile(p.relative_to(root).as_posix(), sha, error)
        for p, (sha, error) in zip(paths, hashes)
    ]
    return Inputs(digests, logs, keys, bucket, *_window(manifest, since, until), unchecked)


def validate_folder(folder: str | Path, *args, **kwargs) -> IntegrityReport:
    """Validate the CloudTrail evidence of `folder` (S3 layout) against its signed digest chain
    (the other arguments are gather's: public_keys, signatures, since, until, workers)."""
    given = gather(folder, *args, **kwargs)
    report = validate(given.digests, given.logs, given.keys, given.bucket, given.since, given.until)
    report.unchecked[:0] = given.unchecked
    return report
