"""Collect evidence from S3 to a local folder, with a chain of custody (see manifest.py).

Only the date prefixes the scope needs are listed, never the whole bucket:
    <prefix>AWSLogs/[o-org/]<account>/<CloudTrail|CloudTrail-Digest|GuardDuty>/<region>/YYYY/MM/DD/
    <prefix>AWSLogs/[o-org/]<account>/Config/<region>/YYYY/M/D/ (AWS Config: day, month unpadded)
    <prefix>AWSLogs/[o-org/]<account>/vpcflowlogs/<region>/YYYY/MM/DD/ (VPC flow logs; their
        hourly folders, .../DD/HH/, come with their day's listing)
With `state`, the security groups are also asked of EC2 now (DescribeSecurityGroupRules,
DescribeSecurityGroups for names and VPCs) in each region, written under
AWSLogs/<account>/EC2/<region>/ and recorded in the manifest with their capture time and who asked.
The caller's credentials answer for the caller's account only; with `state_role`, each account of
the scope (--account, else those found in the logs) is asked through the role of that name in it
(STS AssumeRole), and without it the other accounts are named in the report as not asked.
Files keep their S3 keys as paths. Each is written to a temporary name and renamed when its size
(and MD5, where the ETag is one) match, so a file on disk is always whole. A re-run skips files
already collected whose ETag, size and SHA-256 still match, so an interrupted collection resumes.

A key is attacker-controlled text. It becomes a local path only if every part is a plain name and
the path stays under --out (paths.inside); a key that cannot (`..`, `.`, an empty part, a leading
`/`, a name too long), whose path another key already takes as a folder (`a` and `a/b`), or that
changed in S3 since it was collected (the first copy is kept) is not written: it is listed in the
manifest as refused, with its reason, and the run ends with a non-zero status. Keys that are one
path where case or Unicode normalization is ignored (`A` and `a`, as on macOS and Windows) are all
written, each under its own name: the key's, with a hash of the exact key before the suffix; the
manifest entry's URI holds the key.
--out is a new or empty folder, or one that collect made (it holds a manifest).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import unicodedata
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

import boto3
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, IncompleteReadError, ResponseStreamingError
from tqdm import tqdm

from .. import aws, queries
from ..errors import ConfigError, EvidenceError
from ..paths import inside
from . import public_keys
from .layout import EVIDENCE_SUFFIXES, is_digest
from .manifest import MANIFEST, PARTIAL, Manifest, seal, sha256_of

PRODUCTS = ("CloudTrail", "CloudTrail-Digest", "GuardDuty", "Config", "vpcflowlogs")
_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?$")
_ACCOUNT = re.compile(r"^\d{12}$")
_ORG = re.compile(r"^o-[a-z0-9]{10,32}$")
_KEY_ACCOUNT = re.compile(r"AWSLogs/(?:o-[a-z0-9]{10,32}/)?(\d{12})/")
_ROLE_NAME = re.compile(r"^(?:[\w+=,.@-]{1,64}/)*[\w+=,.@-]{1,64}$")  # IAM: a name, maybe a path
_DIGEST_REGION = re.compile(r"/CloudTrail-Digest/(?P<region>[a-z0-9-]+)/")
ATTEMPTS = 3  # per object, for a body cut short or a dropped connection
FLUSH_SECONDS = 1.0  # how often the manifest is rewritten during a run
_TRANSIENT = (IncompleteReadError, ResponseStreamingError, ConnectionError)  # retried, with _Corrupt


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int
    etag: str  # without quotes
    last_modified: str
    path: str = ""  # where it is written under --out: the key, or the key renamed (_twin_name)


@dataclass
class CollectReport:
    source: str
    out: str
    listed: int = 0
    downloaded: int = 0
    skipped: int = 0  # already collected and unchanged
    bytes_downloaded: int = 0
    list_calls: int = 0
    failed: list[str] = field(default_factory=list)  # 'key: reason'
    notes: list[str] = field(default_factory=list)  # what could not be fetched beside the files
    refused: list[str] = field(default_factory=list)  # 'key: reason': never written (paths.inside)
    manifest_sha256: str = ""  # of manifest.json as this run left it: for the case notes

    def summary(self) -> str:
        return (
            f"{self.source} -> {self.out}: {self.listed} objects listed ({self.list_calls} list calls), "
            f"{self.downloaded} downloaded ({self.bytes_downloaded / 2**20:,.1f} MB), {self.skipped} already "
            f"collected, {len(self.failed)} failed, {len(self.refused)} refused"
        )


class _Corrupt(Exception):
    """The bytes received do not match the size or MD5 that S3 listed."""


class _Fatal(Exception):
    """Stop the whole collection: retrying other objects cannot help (expired session, access denied)."""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Bucket and key prefix (empty, or ending with '/') of s3://bucket/prefix."""
    match = _URI.match(uri)
    if not match:
        raise ConfigError(f"{uri!r} is not an S3 URI: give s3://bucket or s3://bucket/prefix (the trail's key prefix)")
    prefix = (match["prefix"] or "").strip("/")
    if "AWSLogs" in prefix.split("/"):
        raise ConfigError(
            f"give the prefix above AWSLogs/ (e.g. s3://{match['bucket']}/{prefix.split('AWSLogs')[0]}) "
            "and choose accounts and regions with --account and --region"
        )
    return match["bucket"], f"{prefix}/" if prefix else ""


def days(since, until) -> list[str]:
    """The 'YYYY/MM/DD' folders that can hold events of [since, until): a file lands the day it is delivered."""
    scope = queries.scope(since, until)
    if scope["since_day"] is None or scope["until_day"] is None:
        raise ConfigError("collection needs both --since and --until, so that only those days are listed")
    first = datetime.strptime(scope["since_day"], "%Y/%m/%d")
    last = datetime.strptime(scope["until_day"], "%Y/%m/%d")
    return [(first + timedelta(d)).strftime("%Y/%m/%d") for d in range((last - first).days + 1)]


def collect(
    uri: str,
    since,
    until,
    out: str | Path,
    accounts: Iterable[str] = (),
    regions: Iterable[str] = (),
    products: Iterable[str] = PRODUCTS,
    workers: int = 8,
    session: boto3.Session | None = None,
    progress: bool = True,
    state: bool = False,
    state_role: str | None = None,
) -> CollectReport:
    """Download the scope's CloudTrail (and digest) files, GuardDuty exports, AWS Config delivery
    and VPC flow logs from S3 into `out`; with `state`, also the EC2 API's answer on security
    groups now (needs `regions`), in each account of the scope through the role `state_role` where
    given."""
    bucket, prefix = parse_s3_uri(uri)
    source = f"s3://{bucket}/{prefix}"
    accounts, regions = tuple(accounts), tuple(regions)
    if state_role is not None and not state:
        raise ConfigError("--state-role is the role --state assumes: give --state too")
    if state and not regions:
        raise ConfigError("--state asks EC2 in each region: give them with --region")
    if state_role is not None and not _ROLE_NAME.match(state_role):
        raise ConfigError(f"--state-role must be an IAM role name (with its path, if any), got "
                          f"{state_role[:80]!r}")
    for account in accounts:
        if not _ACCOUNT.match(account):
            raise ConfigError(f"--account must be a 12-digit AWS account id, got {account!r}")
    wanted_days = days(since, until)
    root = Path(out)
    manifest = Manifest.read(root)
    if manifest is None:
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise EvidenceError(f"{root} is not empty and holds no {MANIFEST}: collect into a new "
                                "or empty folder")
        manifest = Manifest(source)
    if manifest.source != source:
        raise EvidenceError(f"{root} already holds evidence from {manifest.source}; collect {source} into another --out folder")
    _remove_partials(root, manifest)

    session = session or aws.session()
    s3 = session.client("s3", config=aws.retry_config())
    caller = _caller(session)
    report = CollectReport(source, str(root))
    run = {
        "started": _now(),
        "caller": caller,
        "scope": {"since": str(since), "until": str(until), "accounts": list(accounts), "regions": list(regions)},
    }
    manifest.runs.append(run)
    lister = _Lister(s3, bucket, report)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        try:
            listing = _list_scope(lister, pool, prefix, accounts, regions, tuple(products), wanted_days)
        except ClientError as e:
            raise _listing_error(e, bucket, source) from e
        except BotoCoreError as e:
            raise EvidenceError(aws.explain(e, f"listing {source}")) from e
        report.listed = len(listing)
        writable = _refuse_unsafe_keys(root, bucket, listing, manifest, report)
        todo = [o for o in writable if not _already_collected(root, manifest, bucket, o)]
        report.skipped = len(writable) - len(todo)
        manifest.write(root)  # marks the folder as collect's before any file is written in it
        try:
            _download_all(pool, s3, bucket, root, todo, manifest, caller, report, progress)
            if state:
                scope = accounts or sorted({_account_of(o.key) for o in listing} - {None})
                for account, asking in _state_sessions(session, caller, scope, state_role, report):
                    for region in regions:
                        manifest.objects.update(describe_state(asking, region, root, account))
        finally:
            run.update(finished=_now(), listed=report.listed, downloaded=report.downloaded,
                       skipped=report.skipped, failed=len(report.failed),
                       refused=len(report.refused))
            manifest.write(root)
            report.manifest_sha256 = seal(root)
    run["public_keys"] = _public_keys(session, root, listing, since, until, report)
    manifest.write(root)
    report.manifest_sha256 = seal(root)  # sealed last, over what this run left
    return report


def _signature_of(key: str, response: dict) -> dict:
    """A digest's signature is in its S3 metadata, not in the file: validate-logs needs it."""
    if not is_digest(key):
        return {}
    metadata = response.get("Metadata") or {}
    return {"signature": metadata.get("signature"),
            "signature_algorithm": metadata.get("signature-algorithm")}


def _public_keys(session, root: Path, listing: list[S3Object], since, until,
                 report: CollectReport) -> dict:
    """ListPublicKeys in each region whose digests were collected, merged into PUBLIC_KEYS beside
    the manifest; a region that refuses is noted and the collection goes on (validate-logs
    --public-keys then takes the keys saved by someone allowed)."""
    regions = sorted({m["region"] for o in listing if (m := _DIGEST_REGION.search(o.key))})
    if not regions:
        return {}
    bounds = queries.scope(since, until)
    start, end = (datetime.fromisoformat(bounds[b].replace("Z", "+00:00"))
                  for b in ("since", "until"))
    day = timedelta(days=1)  # a digest of the range may be signed with the key of the day beside it
    answer, notes = public_keys.fetch(session, regions, start - day, end + day)
    path = root / public_keys.PUBLIC_KEYS
    if path.exists():  # keys of earlier runs are kept
        held = public_keys.load_answer(path)
        both = held["PublicKeyList"] + answer["PublicKeyList"]
        answer["PublicKeyList"] = list({k["Fingerprint"]: k for k in both}.values())
    public_keys.write_answer(root, answer)
    report.notes += [f"public keys: {n}" for n in notes.values() if not n.endswith(" keys")]
    # not an object of the bucket, but validate-logs trusts it: verify checks it as the others
    return {"file": public_keys.PUBLIC_KEYS, "regions": notes, "sha256": sha256_of(path),
            "size": path.stat().st_size}


def _refuse_unsafe_keys(root: Path, bucket: str, listing: list[S3Object], manifest: Manifest,
                        report: CollectReport) -> list[S3Object]:
    """The objects that can be written under root, each with its local path; the others go to the
    manifest as refused.

    Keys come sorted, so of `a` and `a/b` the file `a` is kept and `a/b`, which needs `a` to be a
    folder, is refused: neither overwrites the other, whatever order the downloads finish in. Case
    or normalization twins are never refused (an attacker who can only add keys would otherwise
    choose which copy is collected): each is written under its own name (_local_paths). An object
    changed in S3 since it was collected is refused: the copy collected first may be the only one
    an attacker did not rewrite, and is never replaced.
    """
    safe, reasons = [], {}
    for obj in listing:
        try:
            inside(root, obj.key)
            safe.append(obj)
        except EvidenceError as e:
            reasons[obj.key] = str(e).removeprefix(f"{obj.key!r} ")
    local = _local_paths(safe, manifest)
    folders: dict[str, str] = {}  # every folder a kept key needs, folded -> that key
    files: dict[str, str] = {}  # kept local paths, folded -> the key
    writable = []
    for obj in listing:
        reason = reasons.get(obj.key)
        path = local.get(obj.key, obj.key)
        parts = _folded(path).split("/")
        above = ["/".join(parts[:i]) for i in range(1, len(parts))]
        clash = next((files[f] for f in above if f in files), None) or folders.get("/".join(parts))
        if reason is None and path != obj.key:
            try:
                inside(root, path)
            except EvidenceError as e:
                reason = str(e).removeprefix(f"{path!r} ")
        if reason is None and clash is not None:
            reason = f"collides with the key {clash!r}: one path cannot be both a file and a folder"
        if reason is None:
            files["/".join(parts)] = obj.key
            folders.update({f: obj.key for f in above})
            held = manifest.objects.get(path)
            if held is not None and held["etag"] != obj.etag:
                reason = (f"changed in S3 since it was collected at {held.get('retrieved_at')} (ETag "
                          f"{held['etag']}, now {obj.etag}): the copy collected then is kept")
        if reason is not None:
            report.refused.append(f"{obj.key}: {reason}")
            manifest.refused[obj.key] = {"uri": f"s3://{bucket}/{obj.key}", "size": obj.size,
                                         "etag": obj.etag, "last_modified": obj.last_modified,
                                         "reason": reason}
            continue
        manifest.refused.pop(obj.key, None)
        writable.append(replace(obj, path=path))
    return writable


def _local_paths(listing: list[S3Object], manifest: Manifest) -> dict[str, str]:
    """Key -> local path, no two paths one where case or Unicode normalization is ignored.

    A key collected before keeps the path it was written at; every other key that shares a folded
    path is renamed (_twin_name), again while a new name is taken, so each twin is written and
    which is kept does not depend on which sorts first.
    """
    held = {entry["uri"].split("/", 3)[3]: path for path, entry in manifest.objects.items()
            if entry.get("uri", "").startswith("s3://")}
    local = {o.key: held.get(o.key, o.key) for o in listing}
    for _ in range(len(local)):
        by_path: dict[str, list[str]] = {}
        for key, path in local.items():
            by_path.setdefault(_folded(path), []).append(key)
        twins = [k for keys in by_path.values() if len(keys) > 1 for k in keys if k not in held]
        if not twins:
            break
        for key in twins:
            local[key] = _twin_name(local[key], key)
    return local


def _twin_name(path: str, key: str) -> str:
    """`path` with a short hash of the exact key before its suffix (`x.json.gz` -> `x~1a2b...json.gz`),
    so that the readers still see its kind and partition."""
    tag = "~" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    folder, _, name = path.rpartition("/")
    suffix = next((s for s in sorted(EVIDENCE_SUFFIXES, key=len, reverse=True)
                   if name.lower().endswith(s)), "")
    name = name[:len(name) - len(suffix)] + tag + name[len(name) - len(suffix):]
    return f"{folder}/{name}" if folder else name


def _folded(key: str) -> str:
    """A key as a file system that ignores case and Unicode normalization sees it."""
    return unicodedata.normalize("NFC", key).casefold()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _caller(session: boto3.Session) -> dict:
    try:
        who = session.client("sts", config=aws.retry_config()).get_caller_identity()
    except (BotoCoreError, ClientError) as e:
        raise EvidenceError(aws.explain(e, "asking STS who is collecting (GetCallerIdentity)")) from e
    return {"account": who["Account"], "arn": who["Arn"], "user_id": who["UserId"]}


def _listing_error(error: ClientError, bucket: str, source: str) -> EvidenceError:
    code = aws.code_of(error)
    if code == "NoSuchBucket":
        return EvidenceError(f"bucket {bucket!r} does not exist (or is in another partition): check the name in {source}")
    if code in aws.DENIED:
        return EvidenceError(aws.explain(error, f"listing {source}") + f" Listing needs s3:ListBucket on arn:aws:s3:::{bucket}.")
    return EvidenceError(aws.explain(error, f"listing {source}") + " Nothing collected so far was changed; re-run to resume.")


class _Lister:
    def __init__(self, s3, bucket: str, report: CollectReport) -> None:
        self.s3, self.bucket, self.report = s3, bucket, report
        self._lock = threading.Lock()

    def _pages(self, **kwargs):
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, **kwargs):
            with self._lock:
                self.report.list_calls += 1
            yield page

    def folders(self, prefix: str) -> list[str]:
        """The names of the 'folders' directly under prefix (one delimiter level, not a deep listing)."""
        return [
            cp["Prefix"][len(prefix) :].rstrip("/")
            for page in self._pages(Prefix=prefix, Delimiter="/")
            for cp in page.get("CommonPrefixes", [])
        ]

    def objects(self, prefix: str) -> list[S3Object]:
        return [
            S3Object(o["Key"], o["Size"], o["ETag"].strip('"'), o["LastModified"].isoformat(), o["Key"])
            for page in self._pages(Prefix=prefix)
            for o in page.get("Contents", [])
            if not o["Key"].endswith("/")
        ]


def _list_scope(lister: _Lister, pool, prefix, accounts, regions, products, wanted_days) -> list[S3Object]:
    logs = f"{prefix}AWSLogs/"
    account_roots = []  # 'AWSLogs/<account>/' or 'AWSLogs/o-org/<account>/', with the prefix
    for name in lister.folders(logs):
        if _ACCOUNT.match(name):
            account_roots.append((name, f"{logs}{name}/"))
        elif _ORG.match(name):  # an organization trail: accounts one level further down
            account_roots += [(a, f"{logs}{name}/{a}/") for a in lister.folders(f"{logs}{name}/") if _ACCOUNT.match(a)]
    if accounts:
        account_roots = [(a, r) for a, r in account_roots if a in accounts]
    products_roots = [(p, f"{r}{p}/") for _, r in account_roots for p in products]
    if regions:
        region_roots = [(p, f"{pr}{region}/") for p, pr in products_roots for region in regions]
    else:
        found = pool.map(lister.folders, [pr for _, pr in products_roots])
        region_roots = [(p, f"{pr}{region}/")
                        for (p, pr), names in zip(products_roots, found) for region in names]
    day_prefixes = [f"{r}{_day_folder(p, day)}/" for p, r in region_roots for day in wanted_days]
    return sorted((o for batch in pool.map(lister.objects, day_prefixes) for o in batch), key=lambda o: o.key)


def _day_folder(product: str, day: str) -> str:
    """A day's folder: 'YYYY/MM/DD', or 'YYYY/M/D' where AWS Config delivers."""
    if product != "Config":
        return day
    moment = datetime.strptime(day, "%Y/%m/%d")
    return f"{moment.year}/{moment.month}/{moment.day}"


def _account_of(key: str) -> str | None:
    found = _KEY_ACCOUNT.search(key)
    return found and found[1]


def _state_sessions(session: boto3.Session, caller: dict, accounts: Iterable[str],
                    role: str | None, report: CollectReport):
    """(account, caller in it) for each account whose security groups are asked of EC2: the
    caller's own account with its credentials; with `role`, every other account of the scope
    through that role (STS AssumeRole); without it, the others are named as not asked."""
    others = [a for a in accounts if a != caller["account"]]
    if role is None:
        if others:
            report.notes.append(
                f"security groups of {', '.join(others)} not asked of EC2: the caller is in "
                f"{caller['account']}; give --state-role NAME to assume a role in each account")
        yield caller["account"], (session, caller)
        return
    if caller["account"] in accounts or not others:
        yield caller["account"], (session, caller)
    partition = caller["arn"].split(":")[1] if caller["arn"].count(":") >= 5 else "aws"
    sts = session.client("sts", config=aws.retry_config())
    for account in others:
        arn = f"arn:{partition}:iam::{account}:role/{role}"
        try:
            answer = sts.assume_role(RoleArn=arn, RoleSessionName="audit-toolkit-collect")
        except (BotoCoreError, ClientError) as e:
            raise EvidenceError(aws.explain(e, f"assuming {arn} to ask EC2 for the security "
                                               f"groups of {account}")) from e
        keys = answer["Credentials"]
        assumed = boto3.Session(aws_access_key_id=keys["AccessKeyId"],
                                aws_secret_access_key=keys["SecretAccessKey"],
                                aws_session_token=keys["SessionToken"],
                                region_name=session.region_name)
        yield account, (assumed, {"account": account, "arn": answer["AssumedRoleUser"]["Arn"]})


def describe_state(asking: tuple[boto3.Session, dict], region: str, root: Path,
                   account: str) -> dict[str, dict]:
    """The EC2 API's security groups of one region now, written beside the logs; manifest entries.

    The answers are written as `aws ec2 describe-security-group-rules` / `describe-security-groups`
    print them; the manifest gives their capture time, which the answers themselves do not carry.
    """
    session, caller = asking
    ec2 = session.client("ec2", region_name=region, config=aws.retry_config())
    entries = {}
    for operation, member in (("describe_security_group_rules", "SecurityGroupRules"),
                              ("describe_security_groups", "SecurityGroups")):
        captured = _now()
        try:
            found = [x for page in ec2.get_paginator(operation).paginate() for x in page[member]]
        except ClientError as e:
            raise EvidenceError(aws.explain(e, f"asking EC2 in {region} ({operation})")) from e
        except BotoCoreError as e:
            raise EvidenceError(aws.explain(e, f"asking EC2 in {region} ({operation})")) from e
        name = operation.replace("_", "-")
        path = f"AWSLogs/{account}/EC2/{region}/{name}_{captured.replace(':', '')}.json"
        local = root / path
        local.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({member: found}, indent=4, default=str).encode()
        local.write_bytes(data)
        entries[path] = {
            "path": path, "uri": f"ec2:{region}:{name}", "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "captured_at": captured,
            "retrieved_at": captured, "retrieved_by": caller["arn"],
        }
    return entries


def _already_collected(root: Path, manifest: Manifest, bucket: str, obj: S3Object) -> bool:
    entry = manifest.objects.get(obj.path)
    local = root.joinpath(*obj.path.split("/"))
    return (
        entry is not None
        and entry["uri"] == f"s3://{bucket}/{obj.key}"
        and entry["etag"] == obj.etag
        and entry["size"] == obj.size
        and local.is_file()
        and local.stat().st_size == obj.size
        and sha256_of(local) == entry["sha256"]
    )


def _remove_partials(root: Path, manifest: Manifest) -> None:
    """Downloads cut short by a killed run: never evidence, always re-fetched. A collected key that
    happens to end in the same suffix is evidence, and is kept."""
    if root.exists():
        for p in root.rglob(f".*{PARTIAL}"):
            ours = p.relative_to(root).as_posix() not in manifest.objects
            if ours and p.is_file() and not p.is_symlink():
                p.unlink(missing_ok=True)


def _download_all(pool, s3, bucket, root, todo, manifest, caller, report, progress) -> None:
    bar = tqdm(total=len(todo), unit="file", desc="collecting", disable=not progress, leave=False)
    pending = {pool.submit(_download, s3, bucket, root, o, caller["arn"]): o for o in todo}
    flushed = time.monotonic()
    fatal: _Fatal | None = None

    def record(future, obj) -> None:
        nonlocal fatal
        try:
            entry = future.result()
        except _Fatal as e:
            fatal = fatal or e
        except EvidenceError as e:
            report.failed.append(f"{obj.key}: {e}")
        else:
            manifest.objects[obj.path] = entry
            report.downloaded += 1
            report.bytes_downloaded += obj.size
        bar.update(1)

    try:
        while pending and fatal is None:
            done, _ = wait(pending, timeout=FLUSH_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                record(future, pending.pop(future))
            if time.monotonic() - flushed >= FLUSH_SECONDS:
                manifest.write(root)
                flushed = time.monotonic()
    finally:
        # Stop what has not started; what is running finishes and is recorded, so no file on
        # disk is left out of the manifest.
        for future in list(pending):
            if future.cancel():
                del pending[future]
        for future in wait(pending).done:
            record(future, pending.pop(future))
        bar.close()
    if fatal is not None:
        raise EvidenceError(f"{fatal} {report.downloaded} files collected so far are kept; re-run to resume.") from fatal.__cause__


def _download(s3, bucket: str, root: Path, obj: S3Object, retrieved_by: str) -> dict:
    """One object to `root/<its path>`, through a temporary name; returns its manifest entry."""
    uri = f"s3://{bucket}/{obj.key}"
    local = inside(root, obj.path)
    last: Exception | None = None
    for _ in range(ATTEMPTS):
        # A short temporary name: any name a key may hold fits beside it.
        tmp = local.with_name(f".{uuid.uuid4().hex}{PARTIAL}")
        try:
            local.parent.mkdir(parents=True, exist_ok=True)
            retrieved_at = _now()
            # IfMatch: the bytes must be the version that was listed, or the manifest would lie.
            response = s3.get_object(Bucket=bucket, Key=obj.key, IfMatch=f'"{obj.etag}"')
            sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
            with open(tmp, "wb") as f:
                for chunk in response["Body"].iter_chunks(1 << 20):
                    sha.update(chunk)
                    md5.update(chunk)
                    size += len(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            if size != obj.size:
                raise _Corrupt(f"received {size} of {obj.size} bytes")
            encryption = response.get("ServerSideEncryption")
            # A single-part upload's ETag is its MD5, except under SSE-KMS (then it is opaque).
            if re.fullmatch(r"[0-9a-f]{32}", obj.etag) and encryption != "aws:kms" and md5.hexdigest() != obj.etag:
                raise _Corrupt(f"MD5 {md5.hexdigest()} differs from the ETag {obj.etag}")
            os.replace(tmp, local)
            return {
                "path": obj.path,
                "uri": uri,
                "size": size,
                "etag": obj.etag,
                "sha256": sha.hexdigest(),
                "last_modified": obj.last_modified,
                "server_side_encryption": encryption,
                "kms_key_id": response.get("SSEKMSKeyId"),
                "retrieved_at": retrieved_at,
                "retrieved_by": retrieved_by,
                **_signature_of(obj.key, response),
            }
        except (*_TRANSIENT, _Corrupt) as e:
            last = e
        except ClientError as e:
            code = aws.code_of(e)
            if code in aws.EXPIRED or code in aws.DENIED:
                hint = " For KMS-encrypted logs the identity also needs kms:Decrypt on the key." if code in aws.DENIED else ""
                raise _Fatal(aws.explain(e, f"downloading {uri}") + hint) from e
            if code in ("PreconditionFailed", "412"):
                raise EvidenceError("changed in S3 since it was listed; re-run to collect the current version") from e
            if code in ("NoSuchKey", "404"):
                raise EvidenceError("deleted from S3 since it was listed") from e
            last = e
        except BotoCoreError as e:
            last = e
        except OSError as e:  # the key's path cannot be made here (a file in the way, too long)
            raise EvidenceError(f"cannot be written under {root}: {e.strerror or e}") from e
        finally:
            tmp.unlink(missing_ok=True)
    raise EvidenceError(f"download incomplete after {ATTEMPTS} attempts ({aws.explain(last, 'last error')}); re-run to resume")
