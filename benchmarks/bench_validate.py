"""validate-logs speed and memory against `zcat | sha256sum` on all cores, over the same files.

    python benchmarks/bench_validate.py          # 250k and 1M events (generated and signed once)
    python benchmarks/bench_validate.py --quick  # 100k events

Validation is decompression and hashing of every log file (and the digests' signatures): the
baseline hashes each file's uncompressed content with coreutils, one pipeline a file, on all cores.
Times, CPU and the peak RSS of each process tree as bench_scan measures them; ratios against the
baseline of the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from bench_scan import CORES, PYTHON, ensure_evidence, measure

_VALIDATE = """
import sys
from audit_toolkit.evidence.log_validation import validate_folder
report = validate_folder(sys.argv[1])
print(report.summary())
assert report.ok, report.summary()
"""


def ensure_signed(folder: Path, events: int) -> Path:
    """The benchmark evidence with an hourly digest chain signed by a key made here."""
    ensure_evidence(folder, events)
    marker = folder / ".signed"
    if not marker.exists():
        from cryptography.hazmat.primitives.asymmetric import rsa

        from audit_toolkit.synthetic import START, public_keys_answer, write_digests

        print(f"signing {folder} ...", file=sys.stderr)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        signatures = write_digests(folder, key)
        answer = public_keys_answer(key, START - timedelta(days=30), START + timedelta(days=365))
        (folder / "public-keys.json").write_text(json.dumps(answer))
        (folder / "digest-signatures.json").write_text(json.dumps(signatures))
        marker.touch()
    return folder


def bench(folder: Path) -> list[tuple[str, float, int, float]]:
    logs = f"find {folder}/AWSLogs -path '*/CloudTrail/*' -name '*.json.gz' -print0"
    rows = []
    for label, args, shell in [
        (
            f"zcat | sha256sum, {CORES} processes (baseline)",
            f"{logs} | xargs -0 -P{CORES} -n64 "
            "sh -c 'for f; do zcat \"$f\" | sha256sum; done' _ > /dev/null",
            True,
        ),
        (
            "toolkit: validate-logs (digests, signatures, every file)",
            [PYTHON, "-c", _VALIDATE, str(folder)],
            False,
        ),
    ]:
        seconds, peak, out, cpu = measure(args, shell)
        rows.append((label, seconds, peak, cpu))
        print(
            f"  {label:<58} {seconds:8.2f} s  {cpu:8.2f} CPU s  {peak / 2**20:8.0f} MB  "
            f"{out.strip()[:60]}",
            file=sys.stderr,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--quick", action="store_true", help="only 100k events")
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "audit-toolkit-bench-validate"
    )
    args = parser.parse_args()
    for events in [100_000] if args.quick else args.sizes:
        folder = ensure_signed(args.data / f"{events}", events)
        rows = bench(folder)
        gz = sum(p.stat().st_size for p in folder.rglob("*.json.gz"))
        print(f"\n{events:,} events, {gz / 2**20:,.0f} MB gz, {CORES} cores")
        base, base_cpu = rows[0][1], rows[0][3]
        print(
            "| method | seconds | x baseline | CPU s | CPU x baseline | peak RSS MB |\n"
            "|---|---:|---:|---:|---:|---:|"
        )
        for label, seconds, peak, cpu in rows:
            print(
                f"| {label} | {seconds:.2f} | {seconds / base:.2f} | {cpu:.2f} | "
                f"{cpu / base_cpu:.2f} | {peak / 2**20:,.0f} |"
            )
        print()


if __name__ == "__main__":
    main()
