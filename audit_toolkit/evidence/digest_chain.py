"""CloudTrail's signed digest chain, validated as AWS documents it: a pure function, no I/O.

Each hour a trail writes a digest that lists every log file delivered in the hour with the SHA-256
of its uncompressed content, and names the digest before it (its hash and signature). The digest is
signed (SHA256withRSA) over the string

    digestEndTime \\n digestS3Bucket/digestS3Object \\n hex(SHA-256 of the uncompressed digest) \\n
    previousDigestSignature (the literal `null` for the first digest of a chain)

and the signature is kept in the digest object's S3 metadata, not in the file. The public key is
chosen by the digest's `digestPublicKeyFingerprint` among those `ListPublicKeys` returns.

`validate` takes the digests (uncompressed bytes and signatures), the SHA-256 of each log file held
and the public keys, and returns a report in which every break is a finding: one row per log file
and per digest with a status (STATUSES), the hours each chain proves and its gaps. The evidence is
an attacker's: nothing a digest says is believed before its signature is verified.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..phrases import TEXT, Phrase, phrase, say, words

VALID = "valid"
MODIFIED = "modified"  # the SHA-256 differs from the one a valid digest signed
MISSING = "missing"  # listed by a valid digest, absent from the evidence
NOT_COVERED = "not_covered"  # present, listed by no valid digest (forged, or its digest is gone)
SIGNATURE_INVALID = "signature_invalid"  # the digest's signature does not verify (or is absent)
MISSING_DIGEST = "missing_digest"  # named as previous by a valid digest, absent: a break
NO_KEY = "no_key"  # no public key has the digest's fingerprint
STATUSES = (VALID, MODIFIED, MISSING, NOT_COVERED, SIGNATURE_INVALID, MISSING_DIGEST, NO_KEY)
ALGORITHM = "SHA256withRSA"

# <account>_CloudTrail-Digest_<region>_<trail>_<home region>_<YYYYMMDDTHHMMSSZ>[_backfill].json.gz
_DIGEST_NAME = re.compile(
    r"(?P<account>\d{12})_CloudTrail-Digest_(?P<region>[a-z0-9-]+)_(?P<trail>.+)_(?P<home>[a-z0-9-]+)"
    r"_(?P<end>\d{8}T\d{6}Z)(?P<backfill>_backfill)?\.json\.gz$"
)
# <account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<random>.json.gz
_LOG_NAME = re.compile(
    r"(?P<account>\d{12})_CloudTrail_(?P<region>[a-z0-9-]+)_(?P<time>\d{8}T\d{4}Z)_"
)


@dataclass(frozen=True)
class PublicKey:
    fingerprint: str
    der: bytes  # PKCS #1 RSAPublicKey, DER, as ListPublicKeys returns it (base64 in its JSON)


@dataclass(frozen=True)
class DigestFile:
    path: str  # where it is in the evidence: its S3 key, or a path ending with one
    content: bytes | None  # uncompressed; None when it could not be read (then `error` says why)
    signature: str | None  # hex, S3 metadata `signature`; None when nobody recorded it
    algorithm: str | None = ALGORITHM  # S3 metadata `signature-algorithm`
    error: str | None = None


@dataclass(frozen=True)
class LogFile:
    path: str
    sha256: str | None  # of the uncompressed content; None when it could not be read
    error: str | None = None


def said(reason: Phrase | None, language: str = "en") -> str:
    """A reason or note of the validation (phrases.TEXT `proof.*`) in `language`."""
    return "" if reason is None else say(reason, language, "proof")


@dataclass
class Row:
    kind: str  # "digest" or "log"
    path: str
    status: str
    why: Phrase  # the reason, as a code and its values; `reason` says it in English
    account: str | None = None
    region: str | None = None
    trail: str | None = None
    time: datetime | None = None  # a digest's end, a log file's delivery (from its name)

    @property
    def reason(self) -> str:
        return said(self.why)


@dataclass
class Span:
    """A run of hours one chain proves (kind "covered"), or does not (kind "gap")."""

    kind: str
    account: str
    region: str
    trail: str
    start: datetime
    end: datetime
    why: Phrase | None = None

    @property
    def reason(self) -> str:
        return said(self.why)

    @property
    def hours(self) -> float:
        return round((self.end - self.start).total_seconds() / 3600, 2)

    def line(self, language: str = "en", zone: str = "UTC") -> str:
        """The span in a line (`proof.gap_line`), its bounds in `zone` with their offset (Z for UTC)."""
        def at(t: datetime) -> str:
            return t.astimezone(ZoneInfo(zone)).isoformat(timespec="minutes").replace("+00:00", "Z")

        return words(language, "proof.gap_line", account=self.account, region=self.region, trail=self.trail,
                     start=at(self.start), end=at(self.end), hours=f"{self.hours:g}",
                     reason=said(self.why, language))


@dataclass
class IntegrityReport:
    rows: list[Row] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    unchecked: list[Phrase] = field(default_factory=list)  # what could not be checked, and why

    def notes(self, language: str = "en") -> list[str]:
        """What could not be checked, and why, in `language`."""
        return [said(n, language) for n in self.unchecked]

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r.status == VALID for r in self.rows)

    def counts(self, kind: str | None = None) -> dict[str, int]:
        found = {s: 0 for s in STATUSES}
        for r in self.rows:
            if kind is None or r.kind == kind:
                found[r.status] += 1
        return found

    @property
    def gaps(self) -> list[Span]:
        return [s for s in self.spans if s.kind == "gap"]

    def table(self, language: str = "en") -> list[dict]:
        """One dict per row, for a DataFrame or CSV/JSON: its reason in `language`, and as a code
        with its values (`why`)."""
        return [{**vars(r), "reason": said(r.why, language)} for r in self.rows]

    def summary(self, language: str = "en") -> str:
        """The verdict in one line, in `language`."""
        logs, digests = self.counts("log"), self.counts("digest")
        proven = sum(s.hours for s in self.spans if s.kind == "covered")
        status = TEXT[language]
        bad = status["proof.sep"].join(
            words(language, "proof.status_count", n=n,
                  status=status.get(f"report.value.status.{s}", s))
            for s, n in self.counts().items() if n and s != VALID)
        return words(  # each count with its own noun: "1 of 1 log file", "2 hours", "1 gap"
            language, "proof.counts",
            logs=words(language, "proof.logs", n=sum(logs.values()), valid=f"{logs[VALID]:,}"),
            digests=words(language, "proof.digests", n=sum(digests.values()), valid=f"{digests[VALID]:,}"),
            hours=words(language, "proof.hours", n=f"{proven:g}"),
            gaps=words(language, "proof.gaps", n=len(self.gaps)),
        ) + (words(language, "proof.not_valid", bad=bad) if bad else "")


def tail(key: str) -> str:
    """The part of an S3 key from AWSLogs/ on: what a local copy and the digest's name share."""
    at = key.find("AWSLogs/")
    return key[at:] if at >= 0 else key


def _time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _name_time(pattern: re.Pattern, key: str, group: str, fmt: str) -> datetime | None:
    match = pattern.search(key.rsplit("/", 1)[-1])
    return datetime.strptime(match[group], fmt).replace(tzinfo=timezone.utc) if match else None


def log_time(key: str) -> datetime | None:
    """When a log file was delivered, from its name; None for a name CloudTrail did not give."""
    return _name_time(_LOG_NAME, key, "time", "%Y%m%dT%H%MZ")


def digest_time(key: str) -> datetime | None:
    return _name_time(_DIGEST_NAME, key, "end", "%Y%m%dT%H%M%SZ")


def signing_string(digest: dict, content: bytes) -> bytes:
    """What CloudTrail signs for a digest (AWS: custom implementation of log file validation)."""
    previous = digest.get("previousDigestSignature")
    return "\n".join(
        [
            str(digest["digestEndTime"]),
            f"{digest['digestS3Bucket']}/{digest['digestS3Object']}",
            hashlib.sha256(content).hexdigest(),
            "null" if previous is None else str(previous),
        ]
    ).encode()


@dataclass
class _Checked:
    file: DigestFile
    status: str
    reason: Phrase | None
    body: dict = field(default_factory=dict)
    sha256: str = ""
    chain: tuple[str, str, str] | None = None  # account, region, trail (with its home region)
    backfill: bool = False

    @property
    def start(self) -> datetime | None:
        return _time(self.body.get("digestStartTime"))

    @property
    def end(self) -> datetime | None:
        return _time(self.body.get("digestEndTime")) or digest_time(self.file.path)


def _load_key(key: PublicKey) -> rsa.RSAPublicKey | None:
    try:
        loaded = serialization.load_der_public_key(key.der)
    except (ValueError, UnsupportedAlgorithm):
        return None
    return loaded if isinstance(loaded, rsa.RSAPublicKey) else None


def _check(d: DigestFile, keys: dict[str, PublicKey], bucket: str | None) -> _Checked:
    """One digest against its signature: readable, where it says it is, signed by a known key."""
    if d.content is None:
        return _Checked(d, SIGNATURE_INVALID, phrase("unreadable", error=d.error))
    sha = hashlib.sha256(d.content).hexdigest()
    try:
        body = json.loads(d.content)
    except (ValueError, RecursionError):
        body = None
    needed = (
        "digestEndTime",
        "digestStartTime",
        "digestS3Bucket",
        "digestS3Object",
        "digestPublicKeyFingerprint",
    )
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in needed):
        return _Checked(d, SIGNATURE_INVALID, phrase("not_digest"), sha256=sha)
    checked = _Checked(d, SIGNATURE_INVALID, None, body, sha)
    if tail(body["digestS3Object"]) != tail(d.path) or (
        bucket and body["digestS3Bucket"] != bucket
    ):
        checked.reason = phrase("moved", bucket=body["digestS3Bucket"],
                                object=body["digestS3Object"], path=d.path)
        return checked
    name = _DIGEST_NAME.search(body["digestS3Object"].rsplit("/", 1)[-1])
    if name:
        checked.chain = (name["account"], name["region"], f"{name['trail']} ({name['home']})")
        checked.backfill = bool(name["backfill"])
    if not d.signature:
        checked.reason = phrase("no_signature")
        return checked
    if d.algorithm != ALGORITHM or body.get("digestSignatureAlgorithm", ALGORITHM) != ALGORITHM:
        checked.reason = phrase("algorithm", algorithm=repr(d.algorithm), expected=ALGORITHM)
        return checked
    key = keys.get(body["digestPublicKeyFingerprint"].lower())
    loaded = _load_key(key) if key else None
    if loaded is None:
        checked.status = NO_KEY
        checked.reason = phrase("bad_key" if key else "no_key",
                                fingerprint=body["digestPublicKeyFingerprint"])
        return checked
    try:
        loaded.verify(
            bytes.fromhex(d.signature),
            signing_string(body, d.content),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        checked.reason = phrase("not_verified")
        return checked
    checked.status, checked.reason = VALID, phrase("verified")
    return checked


def validate(
    digests: list[DigestFile],
    logs: list[LogFile],
    keys: list[PublicKey],
    bucket: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> IntegrityReport:
    """Every digest and log file judged (`since`/`until`: only what falls in that range, and the
    chain's boundary: a digest named before `since` is not expected in the evidence)."""
    by_fingerprint = {k.fingerprint.lower(): k for k in keys}
    checked = {tail(d.path): _check(d, by_fingerprint, bucket) for d in digests}
    report = IntegrityReport()
    chains: dict[tuple, list[_Checked]] = {}
    for c in checked.values():
        if c.status == VALID and c.chain and not c.backfill and c.start and c.end:
            chains.setdefault(c.chain, []).append(c)
    for chain, links in chains.items():
        links.sort(key=lambda c: c.end)
        _link(chain, links, checked, report, since, until)
    _log_rows(checked, logs, report, since, until)
    for c in sorted(checked.values(), key=lambda c: c.file.path):
        end = c.end
        if not _within(end, since, None) or (until and c.start and c.start >= until):
            continue
        account, region, trail = c.chain or (None, None, None)
        report.rows.append(
            Row("digest", c.file.path, c.status, c.reason, account, region, trail, end)
        )
    report.rows.sort(key=lambda r: (r.kind != "digest", r.path))
    report.spans.sort(key=lambda s: (s.account, s.region, s.trail, s.start))
    return report


def _link(
    chain,
    links: list[_Checked],
    checked: dict[str, _Checked],
    report: IntegrityReport,
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Each valid digest against the one it names; the hours proven and the gaps between them."""
    account, region, trail = chain
    spans: list[Span] = []

    def gap(start: datetime, end: datetime, reason: Phrase) -> None:
        if end > start:
            spans.append(Span("gap", account, region, trail, start, end, reason))

    for c in links:
        start, end = c.start or c.end, c.end
        reason = _previous(c, checked, report, since, first=not spans)
        if spans and not reason and start <= spans[-1].end:
            spans[-1].end = max(spans[-1].end, end)
            continue
        gap(spans[-1].end if spans else since or start, start, reason or phrase("no_valid"))
        spans.append(Span("covered", account, region, trail, start, end))
    if until is not None and spans:
        gap(spans[-1].end, until, phrase("none_after"))
    report.spans += spans


def _previous(
    c: _Checked,
    checked: dict[str, _Checked],
    report: IntegrityReport,
    since: datetime | None,
    first: bool,
) -> Phrase | None:
    """Why the chain breaks before digest `c` (None when it does not): the digest it names is absent
    (a missing_digest row) or differs from what `c` signed of it (then it is `modified`)."""
    named = c.body.get("previousDigestS3Object")
    if c.body.get("previousDigestSignature") is None or not isinstance(named, str):
        return phrase("restarts")
    named_end = digest_time(named)
    previous = checked.get(tail(named))
    if previous is None:
        if since is not None and named_end is not None and named_end < since:
            return None  # before the range validated: not expected in the evidence
        if first and since is None:
            report.unchecked.append(phrase("first_without_previous", path=c.file.path, named=named))
            return None
        reason = phrase("named_absent", path=c.file.path)
        report.rows.append(Row("digest", named, MISSING_DIGEST, reason, *c.chain, named_end))
        return phrase("missing_digest", named=named)
    if previous.status == VALID and (
        previous.sha256 != str(c.body.get("previousDigestHashValue", "")).lower()
        or (previous.file.signature or "").lower() != str(c.body["previousDigestSignature"]).lower()
    ):
        previous.status = MODIFIED
        previous.reason = phrase("differs", path=c.file.path)
        return phrase("changed_digest", path=previous.file.path)
    return None


def _within(when: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    return when is None or ((since is None or when >= since) and (until is None or when < until))


def _log_rows(
    checked: dict[str, _Checked],
    logs: list[LogFile],
    report: IntegrityReport,
    since: datetime | None,
    until: datetime | None,
) -> None:
    held = {tail(f.path): f for f in logs}
    listed: dict[str, tuple[_Checked, dict]] = {}
    for c in checked.values():
        if c.status != VALID:
            continue
        for entry in c.body.get("logFiles") or []:
            if isinstance(entry, dict) and isinstance(entry.get("s3Object"), str):
                listed.setdefault(tail(entry["s3Object"]), (c, entry))
    for key, (c, entry) in listed.items():
        when = log_time(key)
        if not _within(when, since, until):
            continue
        f, by = held.get(key), c.file.path
        if f is None:
            path, status, reason = entry["s3Object"], MISSING, phrase("listed_absent", by=by)
        elif f.sha256 is None:
            path, status = f.path, MODIFIED
            reason = phrase("listed_unreadable", error=f.error, by=by)
        elif f.sha256 != str(entry.get("hashValue", "")).lower():
            path, status, reason = f.path, MODIFIED, phrase("hash_differs", by=by)
        else:
            path, status, reason = f.path, VALID, phrase("hash_signed", by=by)
        report.rows.append(Row("log", path, status, reason, *(c.chain or (None,) * 3), when))
    unlisted = phrase("unlisted")
    for key, f in held.items():
        when = log_time(key)
        if key not in listed and _within(when, since, until):
            name = _LOG_NAME.search(key.rsplit("/", 1)[-1])
            account, region = (name["account"], name["region"]) if name else (None, None)
            row = Row("log", f.path, NOT_COVERED, unlisted, account, region, None, when)
            report.rows.append(row)
