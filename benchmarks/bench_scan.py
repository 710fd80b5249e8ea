"""Scan speed and memory, side by side in one run, against `zcat` on all cores.

    python benchmarks/bench_scan.py                 # 1M and 4M events (generated once, then reused)
    python benchmarks/bench_scan.py --quick         # 100k events
    python benchmarks/bench_scan.py --sizes 2000000 --data /tmp/evidence

Every method runs in its own process tree; its peak memory is the largest sum of the RSS of that
tree, sampled every 250 ms from /proc. Ratios are against the all-core zcat time of the same run.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
CORES = os.cpu_count() or 1
SG_FILTER = (
    '.Records[] | select(.eventSource == "ec2.amazonaws.com" and (.eventName | test('
    '"^(Authorize|Revoke)SecurityGroup(Ingress|Egress)$|^(Create|Delete)SecurityGroup$|^ModifySecurityGroupRules$|'
    '^UpdateSecurityGroupRuleDescriptions")))'
)

# Each method is a command; `{data}` is the evidence folder, `{store}` a store folder.
_IGZIP = "import sys; from isal import igzip\nfor p in sys.argv[1:]: igzip.decompress(open(p, \"rb\").read())"
_PY_LOOP = """
import gzip, json, pathlib, sys
found = 0
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.json.gz")):
    with gzip.open(path) as f:
        for r in json.load(f)["Records"]:
            if r.get("eventSource") == "ec2.amazonaws.com" and "SecurityGroup" in r.get("eventName", ""):
                found += 1
print(found)
"""
_SCAN = """
import sys
from audit_toolkit import queries
from audit_toolkit.engines.duckdb import DuckDBEngine
from audit_toolkit.evidence.layout import discover_files
from audit_toolkit.investigation import Investigation
engine = DuckDBEngine()
intake = engine.load_cloudtrail(discover_files(sys.argv[1]))
print(len(Investigation(engine).query("sg_changes", **queries.scope())))
"""
# What `audit-toolkit sg-changes --evidence` runs: every record read and checked, only SG events converted.
_FOCUSED = """
import sys
from audit_toolkit.analysis import security_groups
from audit_toolkit.investigation import Investigation
print(len(Investigation.from_evidence(sys.argv[1], only=security_groups.EVENT_NAMES).sg_changes()))
"""
_INGEST = """
import sys
from audit_toolkit.evidence.layout import discover_files
from audit_toolkit.evidence.store import ingest
print(ingest(discover_files(sys.argv[1]), sys.argv[2]).summary())
"""
_QUERIES = """
import sys, time
from audit_toolkit import queries
from audit_toolkit.investigation import Investigation
inv = Investigation.from_store(sys.argv[1])
# principal_events twice: a busy user (10% of all events) and one role session (a handful).
# `events` (the whole table into pandas) last: its gigabytes would slow the others.
runs = [(name, {}) for name, q in sorted(queries.QUERIES.items())
        if name != "events" and q.params == queries.SCOPE_PARAMS]  # `findings` reads the guardduty table
runs += [("principal_events", {"principal": "alice"}), ("principal_events", {"principal": "session-42"})]
runs += [(name, {}) for name in ["events"] if name in queries.QUERIES]
for name, values in runs:
    start = time.perf_counter()
    rows = len(inv.query(name, **values, **queries.scope()))
    print(f"QUERY {name}{values.get('principal', '')and ':' + values['principal']} {time.perf_counter() - start:.3f} {rows}")
"""


def _tree_rss(pid: int) -> int:
    """Bytes resident in a process and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total


def measure(args: list[str], shell: bool = False) -> tuple[float, int, str, float]:
    """Wall seconds, peak RSS of the process tree, stdout, and CPU seconds (user + system) of the tree.

    CPU seconds barely move when other work shares the machine; wall seconds do.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)  # every process the command waited for counts
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(args, shell=shell, stdout=out, stderr=subprocess.PIPE, text=True, env=env)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.25)  # sampling /proc costs CPU: often enough for peaks, rarely enough to stay out of the timings
        seconds = time.perf_counter() - start
        err = proc.stderr.read()
        if proc.returncode:
            raise SystemExit(f"failed: {args}\n{err}")
        out.seek(0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        return seconds, peak, out.read(), cpu


def ensure_evidence(folder: Path, events: int) -> Path:
    marker = folder / f".complete-{events}"
    if not marker.exists():
        sys.path.insert(0, str(HERE))
        from noise import generate

        print(f"generating {events:,} events in {folder} ...", file=sys.stderr)
        generate(folder, events)
        marker.touch()
    return folder


def bench(folder: Path, events: int) -> list[tuple[str, float, int, float | None]]:
    files = f"find {folder} -name '*.json.gz' -print0"
    rows: list[tuple[str, float, int, float | None]] = []

    def run(label: str, args, shell: bool = False) -> str:
        seconds, peak, out, cpu = measure(args, shell)
        rows.append((label, seconds, peak, cpu))
        print(f"  {label:<46} {seconds:8.2f} s  {cpu:8.2f} CPU s  {peak / 2**20:8.0f} MB", file=sys.stderr)
        return out

    run(f"zcat, {CORES} processes (baseline)", f"{files} | xargs -0 -P{CORES} -n32 zcat > /dev/null", shell=True)
    run(f"ISA-L decompression only (python isal), {CORES} processes",
        f"{files} | xargs -0 -P{CORES} -n256 {PYTHON} -c '{_IGZIP}'", shell=True)
    with tempfile.NamedTemporaryFile("w", suffix=".jq") as jq_filter:
        jq_filter.write(SG_FILTER)
        jq_filter.flush()
        run(f"jq security-group filter, {CORES} processes",
            f"{files} | xargs -0 -P{CORES} -n32 sh -c 'zcat \"$@\" | jq -c -f {jq_filter.name}' _ > /dev/null", shell=True)
    run("python gzip + json loop, 1 process", [PYTHON, "-c", _PY_LOOP, str(folder)])
    run("toolkit: sg-changes scan (only SG events whole)", [PYTHON, "-c", _FOCUSED, str(folder)])
    run("toolkit: first raw scan (every event) + sg_changes", [PYTHON, "-c", _SCAN, str(folder)])
    with tempfile.TemporaryDirectory(prefix="audit-toolkit-bench-store-") as store:
        run("toolkit: ingest into the store", [PYTHON, "-c", _INGEST, str(folder), store])
        seconds, peak, out, _ = measure([PYTHON, "-c", _QUERIES, store])
        for line in out.splitlines():
            if line.startswith("QUERY "):
                _, name, took, count = line.split()
                rows.append((f"store: {name} ({count} rows)", float(took), peak, None))
                print(f"  {rows[-1][0]:<46} {float(took):8.2f} s", file=sys.stderr)
        size = sum(p.stat().st_size for p in Path(store).rglob("*.parquet"))
    gz = sum(p.stat().st_size for p in folder.rglob("*.json.gz"))
    print(f"\n{events:,} events: {gz / 2**20:,.0f} MB gz, store {size / 2**20:,.0f} MB ({CORES} cores)")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 4_000_000])
    parser.add_argument("--quick", action="store_true", help="only 100k events")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "audit-toolkit-bench")
    args = parser.parse_args()
    for events in [100_000] if args.quick else args.sizes:
        folder = ensure_evidence(args.data / f"{events}", events)
        rows = bench(folder, events)
        base, base_cpu = rows[0][1], rows[0][3]
        print("| method | seconds | x zcat | CPU s | CPU x zcat | peak RSS MB |\n|---|---:|---:|---:|---:|---:|")
        for label, seconds, peak, cpu in rows:
            cpus = f"{cpu:.2f} | {cpu / base_cpu:.2f}" if cpu is not None else " | "
            print(f"| {label} | {seconds:.2f} | {seconds / base:.2f} | {cpus} | {peak / 2**20:,.0f} |")
        print()


if __name__ == "__main__":
    main()
