"""What proving every key is written once (reader.repeated_key's class) costs the reader, in one run.

    python benchmarks/bench_intake_checks.py [--data /tmp/audit-toolkit-bench] [--rounds 3]

Reads the same trail files (bench_scan's evidence, generated once) with the check and with it
skipped, alternating, one process; prints CPU seconds of each and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from audit_toolkit.evidence import reader  # noqa: E402
from audit_toolkit.evidence.layout import discover_files  # noqa: E402


def _read_all(files: list[Path], only: frozenset[str] | None) -> float:
    start = time.process_time()
    for path in files:
        reader.read_cloudtrail_file(path, only=only)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "audit-toolkit-bench")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from bench_scan import ensure_evidence

    files = list(discover_files(ensure_evidence(args.data / str(args.events), args.events)))
    checked = reader._trail_keys_unique
    print(f"{len(files)} files, {args.events:,} events; CPU seconds, best of {args.rounds}")
    print("| read | without the check | with it | ratio |\n|---|---:|---:|---:|")
    for label, only in (("every event whole", None),
                        ("focused (sg-changes)", frozenset({"AuthorizeSecurityGroupIngress"}))):
        without, with_ = [], []
        for _ in range(args.rounds):
            reader._trail_keys_unique = lambda text, deep=True: True  # the reader before the check
            without.append(_read_all(files, only))
            reader._trail_keys_unique = checked
            with_.append(_read_all(files, only))
        print(f"| {label} | {min(without):.2f} | {min(with_):.2f} | {min(with_) / min(without):.2f} |")


if __name__ == "__main__":
    main()
