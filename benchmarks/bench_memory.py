"""Peak memory of reading one evidence file, whatever it holds (issue 16: bounded memory).

    python benchmarks/bench_memory.py              # limit: the reader's default MAX_FILE_BYTES
    python benchmarks/bench_memory.py --scale 0.25 # smaller files, for a quick look
    python benchmarks/bench_memory.py --set 4 --lying  # an ingest whose gzip trailers lie
    python benchmarks/bench_memory.py --state      # ssh-exposure over large state files
    python benchmarks/bench_memory.py --state --question reconcile  # or from-state (held_at)

Each case reads one file with read_cloudtrail_file in a fresh process and reports that process's
peak resident memory (VmHWM). The ratio is against the baseline of the same run: a fresh process
reading a small ordinary trail file (1,250 events), which is what the interpreter and the libraries
cost before the evidence does.
- bomb: a few MB of gzip that inflate to 8x the limit: rejected, never held whole;
- at the limit: ordinary trail records filling nearly the limit, read and converted;
- one 200 MB record: a single record with a 200 MB requestParameters;
- tiny records: a `Records` array of 20 million `{}` (60 MB), each rejected.

With `--state`, the peak of a fresh process answering the whole `ssh-exposure` question
(Investigation.from_evidence(...).ssh_exposure()) over crafted security-group state, against a
fresh process answering it over a small Config file in the same run (issue 16: the analysis of
state files, not only their reading, stays under 1 GB):
- 4 AWS Config history files of about 49 MB each: the same groups captured once a file, each
  item with many rules (public and private CIDRs on many ports), so that windows open and close;
- one `describe-security-groups` output of nearly the limit.

With `--set`, the peak of a whole ingest (every process of it, sampled as bench_scan does) of a
folder of files each nearly at the limit, and bombs, with a worker per core: the store's
memory_plan bounds them together (issue 16), against the single-file baseline of the same run.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

from isal import igzip

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from audit_toolkit.evidence.reader import MAX_FILE_BYTES, read_cloudtrail_file  # noqa: E402
from noise import START, _record  # noqa: E402

import random  # noqa: E402


def _read(path: str, out) -> None:
    start = time.perf_counter()
    batch, report = read_cloudtrail_file(path)
    seconds = time.perf_counter() - start
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a spawned child would start with
    # the parent's peak.
    status = Path("/proc/self/status").read_text()
    peak = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) * 1024
    out.send((peak, seconds, batch.num_rows, report.error))


def peak_of(path: Path) -> tuple[int, float, int, str | None]:
    """The peak RSS, time, rows and error of a fresh process reading `path`."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=_read, args=(str(path), theirs))
    child.start()
    found = ours.recv()
    child.join()
    return found


def _records(count: int) -> bytes:
    rng = random.Random(1)
    return b",".join(json.dumps(_record(rng, "111122223333", "us-east-1", START)).encode() for _ in range(count))


def write_cases(folder: Path, limit: int) -> dict[str, Path]:
    cases = {}
    small = _records(1250)
    cases["baseline: 1,250 events"] = folder / "small.json.gz"
    cases["baseline: 1,250 events"].write_bytes(gzip.compress(b'{"Records": [' + small + b"]}"))
    # A bomb: the same kilobyte of zeros repeated; zlib's level 9 makes 8x the limit a few MB.
    bomb = folder / "bomb.json.gz"
    with igzip.open(bomb, "wb", compresslevel=3) as f:
        f.write(b'{"Records": [')
        block = b" " * (16 << 20)
        for _ in range(8 * limit // len(block)):
            f.write(block)
        f.write(b"]}")
    cases[f"bomb: inflates to {8 * limit >> 20:,} MB"] = bomb
    full = folder / "full.json.gz"
    with igzip.open(full, "wb", compresslevel=1) as f:
        f.write(b'{"Records": [')
        written = 0
        while written + len(small) < limit * 0.95:
            f.write((b"," if written else b"") + small)
            written += len(small) + 1
        f.write(b"]}")
    cases[f"at the limit: {written >> 20} MB of records"] = full
    big = folder / "big.json.gz"
    record = _records(1)
    payload = json.dumps({"items": ["x" * 1000] * (200 << 10)}).encode()
    with igzip.open(big, "wb", compresslevel=1) as f:
        f.write(b'{"Records": [' + record.replace(b'"requestParameters": ', b'"requestParameters": ' + payload + b', "x": ', 1) + b"]}")
    cases["one record of 200 MB"] = big
    # Millions of tiny records ('{}', 3 bytes with its comma; 20 million at the default limit):
    # each is rejected, a chunk of them at a time, never all objects at once.
    tiny = folder / "tiny.json.gz"
    count = int(limit * 60 / 256) // 3
    with igzip.open(tiny, "wb", compresslevel=1) as f:
        f.write(b'{"Records":[' + b",".join([b"{}"] * count) + b"]}")
    cases[f"{count:,} tiny records ({{}})"] = tiny
    return cases


_INGEST = """
import sys
from audit_toolkit.evidence.layout import discover_files
from audit_toolkit.evidence.store import ingest
print(ingest(discover_files(sys.argv[1]), sys.argv[2], workers=int(sys.argv[3])).summary())
"""


def ingest_set(folder: Path, limit: int, files: int, base: int, lying: bool) -> None:
    """Peak of an ingest of `files` files near the limit (each its own events) and two bombs.
    `lying`: each file is two gzip members, the last holding its closing `]}`, so that its
    trailer (ISIZE, the last member's size) says 2 bytes and the file is read in the parallel pass."""
    from bench_scan import CORES, measure

    evidence = folder / ("lying" if lying else "set")
    evidence.mkdir()
    rng = random.Random(2)
    for i in range(files):
        with igzip.open(evidence / f"full-{i}.json.gz", "wb", compresslevel=1) as f:
            f.write(b'{"Records": [')
            written = 0
            while written < limit * 0.9:
                chunk = b",".join(json.dumps(_record(rng, "111122223333", "us-east-1", START)).encode()
                                  for _ in range(1000))
                f.write((b"," if written else b"") + chunk)
                written += len(chunk) + 1
            if not lying:
                f.write(b"]}")
        if lying:
            with open(evidence / f"full-{i}.json.gz", "ab") as f:
                f.write(gzip.compress(b"]}"))
    for i in range(2):
        (evidence / f"bomb-{i}.json.gz").write_bytes((folder / "bomb.json.gz").read_bytes())
    seconds, peak, out, _ = measure([sys.executable, "-c", _INGEST, str(evidence),
                                     str(folder / "store"), str(CORES)])
    print(f"\ningest of {files} {'two-member ' if lying else ''}files of ~{limit * 0.9 / 2**20:.0f} MB "
          f"of records and 2 bombs, "
          f"{CORES} workers asked: peak {peak / 2**20:.0f} MB (all processes), "
          f"{peak / base:.2f} x base, {seconds:.1f} s\n  {out.strip()}")


QUESTIONS = {  # --question: what is asked of the state
    "ssh-exposure": lambda inv: inv.ssh_exposure(),
    "reconcile": lambda inv: inv.reconcile(),
    # held_at: the replay seeded from the state at --since (the CLI's --from-state)
    "from-state": lambda inv: inv.ssh_exposure(since="2026-11-05T06:00:00Z", account="111122223333",
                                               region="us-east-1", from_state=True),
}


def _exposure(folder: str, out, question: str = "ssh-exposure") -> None:
    from audit_toolkit.investigation import Investigation

    start = time.perf_counter()
    inv = Investigation.from_evidence(folder, state_at="2026-11-05T00:00:00Z")
    read = _peak()
    found = QUESTIONS[question](inv)
    digest = hashlib.sha256(found.to_csv(index=False).encode()).hexdigest()[:12]
    out.send((_peak(), read, time.perf_counter() - start, len(found), digest))


def _peak() -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) * 1024


def _cidrs(rng: random.Random, count: int) -> list[str]:
    """Public /32s and private /24s, and now and then the internet."""
    return ["0.0.0.0/0" if rng.random() < 0.002 else
            f"10.{rng.randrange(256)}.{rng.randrange(256)}.0/24" if rng.random() < 0.3 else
            f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}/32"
            for _ in range(count)]


def _config_file(path: Path, size: int, day: int, rng: random.Random) -> None:
    """A Config history file of about `size` bytes: groups sg-000000.. captured on `day`."""
    with open(path, "wb") as f:
        f.write(b'{"fileVersion": "1.0", "configurationItems": [')
        written, group = 0, 0
        while written < size:
            permissions = [{"ipProtocol": "tcp", "fromPort": port, "toPort": port,
                            "ipv4Ranges": [{"cidrIp": c} for c in cidrs], "ipRanges": cidrs,
                            "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}
                           for port in (22, 80, 443, 3389, 8080)
                           for cidrs in [_cidrs(rng, 20)]]
            item = {"configurationItemCaptureTime": f"2026-11-0{day}T{group // 3600 % 24:02d}:"
                                                    f"{group // 60 % 60:02d}:{group % 60:02d}.000Z",
                    "configurationItemStatus": "OK", "awsAccountId": "111122223333",
                    "awsRegion": "us-east-1", "resourceType": "AWS::EC2::SecurityGroup",
                    "resourceId": f"sg-{group:06d}", "resourceName": "web", "relatedEvents": [],
                    "configuration": {"groupId": f"sg-{group:06d}", "groupName": "web",
                                      "vpcId": "vpc-1", "ipPermissions": permissions,
                                      "ipPermissionsEgress": []}}
            text = (b"," if written else b"") + json.dumps(item).encode()
            f.write(text)
            written += len(text)
            group += 1
        f.write(b"]}")


def _describe_file(path: Path, size: int, rng: random.Random) -> None:
    """describe-security-groups output of about `size` bytes."""
    with open(path, "wb") as f:
        f.write(b'{"SecurityGroups": [')
        written, group = 0, 0
        while written < size:
            arn = f"arn:aws:ec2:us-east-1:111122223333:security-group/sg-{group:06d}"
            permissions = [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                            "IpRanges": [{"CidrIp": c} for c in _cidrs(rng, 20)],
                            "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}
                           for port in (22, 80, 443, 3389, 8080)]
            entry = {"GroupId": f"sg-{group:06d}", "GroupName": "web", "OwnerId": "111122223333",
                     "VpcId": "vpc-1", "SecurityGroupArn": arn, "IpPermissions": permissions,
                     "IpPermissionsEgress": []}
            text = (b"," if written else b"") + json.dumps(entry).encode()
            f.write(text)
            written += len(text)
            group += 1
        f.write(b"]}")


def state_cases(folder: Path, limit: int, scale: float, question: str = "ssh-exposure") -> None:
    """The peak of `question` over crafted state, each case in a fresh process (the baseline
    answers ssh-exposure). from-state needs the state at --since whole: the describe case only."""
    rng = random.Random(3)
    cases = {"baseline: one Config file of 1 MB": folder / "small",
             f"4 Config files of {49 * scale:.0f} MB": folder / "config",
             f"describe-security-groups of {limit * 0.95 / 2**20:.0f} MB": folder / "describe"}
    for path in cases.values():
        path.mkdir()
    _config_file(folder / "small" / "history.json", 1 << 20, 1, rng)
    for day in range(1, 5):
        _config_file(folder / "config" / f"history-{day}.json", int(49e6 * scale), day, rng)
    _describe_file(folder / "describe" / "groups.json", int(limit * 0.95), rng)
    ctx = multiprocessing.get_context("spawn")
    if question == "from-state":
        del cases[f"4 Config files of {49 * scale:.0f} MB"]
    print(f"{question + ' over':42} {'files MB':>8} {'read MB':>8} {'peak MB':>8} {'x base':>7} "
          f"{'s':>6} {'windows':>8}  answer")
    base = None
    for name, path in cases.items():
        ours, theirs = ctx.Pipe()
        asked = "ssh-exposure" if path.name == "small" else question
        child = ctx.Process(target=_exposure, args=(str(path), theirs, asked))
        child.start()
        peak, read, seconds, count, digest = ours.recv()
        child.join()
        base = base or peak
        size = sum(p.stat().st_size for p in path.iterdir()) / 2**20
        print(f"{name:42} {size:8.1f} {read / 2**20:8.0f} {peak / 2**20:8.0f} {peak / base:7.2f} "
              f"{seconds:6.1f} {count:8,}  {digest}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the default limit to fill")
    parser.add_argument("--set", type=int, default=0, metavar="N",
                        help="also ingest N files near the limit and two bombs, all workers")
    parser.add_argument("--lying", action="store_true",
                        help="with --set, write each file as two gzip members whose trailer says 2 bytes")
    parser.add_argument("--state", action="store_true",
                        help="ssh-exposure over large Config and describe files instead")
    parser.add_argument("--question", choices=sorted(QUESTIONS), default="ssh-exposure",
                        help="with --state, what is asked: ssh-exposure, reconcile, or from-state "
                             "(held_at: the replay from the state at --since)")
    args = parser.parse_args()
    limit = MAX_FILE_BYTES
    if args.state:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"limit (MAX_FILE_BYTES): {limit >> 20} MB")
            state_cases(Path(tmp), int(limit * args.scale), args.scale, args.question)
        return
    with tempfile.TemporaryDirectory() as tmp:
        cases = write_cases(Path(tmp), int(limit * args.scale))
        base = None
        print(f"limit (MAX_FILE_BYTES): {limit >> 20} MB")
        print(f"{'case':42} {'file MB':>8} {'peak MB':>8} {'x base':>7} {'s':>6} {'rows':>9}  outcome")
        for name, path in cases.items():
            peak, seconds, rows, error = peak_of(path)
            base = base or peak
            size = path.stat().st_size / 2**20
            print(f"{name:42} {size:8.1f} {peak / 2**20:8.0f} {peak / base:7.2f} {seconds:6.2f} {rows:9,}  "
                  f"{error or 'read'}")
        if args.set:
            ingest_set(Path(tmp), int(limit * args.scale), args.set, base, args.lying)


if __name__ == "__main__":
    main()
