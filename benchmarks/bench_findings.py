"""GuardDuty findings: reading the S3 export and tying findings to windows, against gzip + json.loads.

    python benchmarks/bench_findings.py                  # 100k findings in 100 export files
    python benchmarks/bench_findings.py --findings 20000

Everything runs in this one process, one method after the other, each the best of --repeat runs;
ratios are against the baseline of the same run: the standard library decompressing each file and
json.loads-ing each line, which reads the findings and does nothing else.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pandas as pd
from isal import igzip

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit_toolkit.analysis.exposure import WINDOW_COLUMNS  # noqa: E402
from audit_toolkit.analysis.findings import correlate  # noqa: E402
from audit_toolkit.evidence.guardduty import read_findings, read_guardduty  # noqa: E402
from audit_toolkit.evidence.layout import discover_findings  # noqa: E402
from audit_toolkit.investigation import Investigation  # noqa: E402
from audit_toolkit.synthetic import gd_finding, port_probe, ssh_connection  # noqa: E402

START = datetime(2026, 11, 2, tzinfo=timezone.utc)
PER_FILE = 1000


def make(folder: Path, count: int, groups: int, seed: int = 7) -> None:
    """`count` findings in the export's layout, on instances spread over `groups` security groups."""
    rng = random.Random(seed)
    encoder = msgspec.json.Encoder()
    for start in range(0, count, PER_FILE):
        lines = []
        for n in range(start, min(start + PER_FILE, count)):
            first = START + timedelta(minutes=rng.randrange(3 * 24 * 60))
            ip = f"198.51.{rng.randrange(256)}.{rng.randrange(256)}"
            action = ssh_connection(ip, "NL", "Org", "64496") if n % 3 else port_probe(ip, "BR", "Probe", "64500", (22, 3389))
            kind = "UnauthorizedAccess:EC2/SSHBruteForce" if n % 3 else "Recon:EC2/PortProbeUnprotectedPort"
            lines.append(encoder.encode(gd_finding(
                f"{n:032x}", kind, rng.choice((2, 5, 8)), f"finding {n}", "111111111111", "ap-northeast-1",
                first_seen=first, last_seen=first + timedelta(minutes=rng.randrange(1, 120)), count=rng.randrange(1, 500),
                instance=f"i-{n % 5000:017x}", groups=((f"sg-{n % groups:017x}", "g"),), public_ip="54.1.2.3", action=action)))
        path = folder / "AWSLogs/111111111111/GuardDuty/ap-northeast-1/2026/11/04" / f"{start:08d}.jsonl.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(igzip.compress(b"\n".join(lines) + b"\n"))


def windows(groups: int) -> pd.DataFrame:
    """One SSH window per group, each open three hours on the second day."""
    rows = []
    for g in range(groups):
        opened = START + timedelta(days=1, minutes=g)
        rows.append({c: None for c in WINDOW_COLUMNS} | dict(
            account="111111111111", region="ap-northeast-1", group_id=f"sg-{g:017x}", direction="ingress", protocol="tcp",
            from_port=22, to_port=22, cidr="0.0.0.0/0", exposed_ports="22", opened_at=opened, opened_by="x",
            closed_at=opened + timedelta(hours=3), closed_by="y", still_open=False, open_before_evidence=False))
    return pd.DataFrame(rows, columns=WINDOW_COLUMNS)


def baseline(files: list[Path]) -> int:
    found = 0
    for path in files:
        for line in gzip.decompress(path.read_bytes()).splitlines():
            if line.strip():
                json.loads(line)
                found += 1
    return found


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=50, help="security groups, each with one window")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-findings-") as tmp:
        folder = Path(tmp)
        make(folder, args.findings, args.groups)
        files = discover_findings(folder)
        size = sum(p.stat().st_size for p in files)
        print(f"{args.findings:,} findings in {len(files)} export files ({size / 1e6:.1f} MB gzipped), "
              f"{args.groups} windows; best of {args.repeat}")
        base, n = best(lambda: baseline(files), args.repeat)
        assert n == args.findings
        rows = []

        def measure(name: str, fn, expect=None):
            seconds, result = best(fn, args.repeat)
            if expect is not None:
                assert expect(result), name
            rows.append((name, seconds))
            return result

        rows.append(("gzip + json.loads per line (baseline)", base))
        measure("read_guardduty: files -> guardduty table", lambda: read_guardduty(files)[0],
                lambda t: t.num_rows == args.findings)
        flat = measure("read_findings: files -> flat FINDING_COLUMNS frame", lambda: read_findings(files)[0],
                       lambda f: len(f) == args.findings)

        def investigate():
            from audit_toolkit.engines.duckdb import DuckDBEngine

            engine = DuckDBEngine()
            engine.load_cloudtrail([])
            engine.load_guardduty(files)
            return Investigation(engine).findings()

        measure("Investigation: DuckDB table + findings query + flatten", investigate, lambda f: len(f) == args.findings)
        tied = measure(f"correlate with {args.groups} windows", lambda: correlate(flat, windows(args.groups)), lambda c: len(c) > 0)
        print(f"\n{'method':<58} {'seconds':>8} {'x baseline':>11} {'findings/s':>11}")
        for name, seconds in rows:
            print(f"{name:<58} {seconds:8.2f} {seconds / base:11.2f} {args.findings / seconds:11,.0f}")
        print(f"\n{len(tied):,} findings tied to a window")


if __name__ == "__main__":
    main()
