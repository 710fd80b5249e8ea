"""The window question on VPC flow logs in gzip text, against `zcat` on all cores, in one run.

    python benchmarks/bench_flowlogs.py                      # 10M records (generated once, then reused)
    python benchmarks/bench_flowlogs.py --records 1000000

The records are written by DuckDB in the default format, one flow log partitioned by hour, four files
an hour over one day, on 50 interfaces, 10% of them to port 22. Each method runs in its own process tree (bench_scan's
`measure`: wall and CPU seconds, peak RSS of the tree). Ratios are against the all-core zcat time.
A window on some interfaces is asked as `connections()` asks it, of only the lines that name them
(DuckDBEngine.narrowed_flow_logs), and once more with every line parsed, as before issue 22.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_scan import CORES, PYTHON, measure  # noqa: E402

DAY = 1793664000  # 2026-11-03T00:00:00Z
FILES = 96
_GENERATE = """
import sys
from pathlib import Path
import duckdb
root, total, files, day = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
per, step = total // files, 86400 // files
con = duckdb.connect()
for i in range(files):
    start, hour = day + i * step, i * step // 3600
    folder = root / f"AWSLogs/111111111111/vpcflowlogs/us-east-1/2026/11/03/{hour:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"111111111111_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261103T{hour:02d}{i * step // 60 % 60:02d}Z_{i:08x}.log.gz"
    con.execute(f'''COPY (SELECT 2 AS version, '111111111111' AS "account-id",
        'eni-' || lpad(((r * 7) % 50)::VARCHAR, 17, '0') AS "interface-id",
        CASE WHEN r % 3 = 0 THEN '198.51.' || ((r // 7) % 256) || '.' || (r % 251)
             ELSE '10.0.' || ((r // 3) % 256) || '.' || (r % 250) END AS srcaddr,
        '10.20.' || (r % 200) || '.' || (r % 97) AS dstaddr, 1024 + r % 60000 AS srcport,
        CASE WHEN r % 10 = 0 THEN 22 WHEN r % 10 < 6 THEN 443 ELSE 1024 + (r * 13) % 60000 END AS dstport,
        6 AS protocol, 1 + r % 40 AS packets, 60 + (r * 31) % 20000 AS bytes,
        {start} + r % {step} AS start, {start} + r % {step} + 60 AS "end",
        CASE WHEN r % 4 = 0 THEN 'REJECT' ELSE 'ACCEPT' END AS action, 'OK' AS "log-status"
        FROM range({i * per}, {(i + 1) * per}) t(r))
        TO '{folder / name}' (FORMAT csv, DELIMITER ' ', HEADER true, COMPRESSION gzip, QUOTE '')''')
"""
# The question `connections` asks of one window: its flows, its margins, its coverage, in one query.
_WINDOW = """
import sys
from audit_toolkit import queries
from audit_toolkit.engines.duckdb import DuckDBEngine
from audit_toolkit.evidence import flowlogs
from audit_toolkit.evidence.layout import discover_flow_logs
opened, closed, how = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
enis = sys.argv[5:]  # the window's group's interfaces; none: every interface
engine = DuckDBEngine()
files = discover_flow_logs(sys.argv[1])
view = flowlogs.source(files).sql
engine.con.execute(f"CREATE VIEW {flowlogs.TABLE} AS {view}")
if how == "narrowed":  # what load_flow_logs leaves for connections(), without its check
    engine._flow_files, engine._flow_view = files, view
values = dict(flowlogs.scope(opened, closed, 3600), protocol=6, from_port=22, to_port=22,
              interfaces=f" {' '.join(enis)} " if enis else None, instances=" ")
query = queries.get("connections")
with engine.narrowed_flow_logs(values):
    print(len(engine.run(query.render("duckdb"), query.bind(values))))
"""
# What `--evidence` does first: every line of every file read, checked and counted.
_INTAKE = """
import sys
from audit_toolkit.engines.duckdb import DuckDBEngine
from audit_toolkit.evidence.layout import discover_flow_logs
report = DuckDBEngine().load_flow_logs(discover_flow_logs(sys.argv[1]))
print(report.read, report.used, report.rejected)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "audit-toolkit-bench-flows"
    )
    args = parser.parse_args()
    folder = args.data / str(args.records)
    marker = folder / ".complete"
    if not marker.exists():
        print(f"generating {args.records:,} flow records in {folder} ...", file=sys.stderr)
        measure([PYTHON, "-c", _GENERATE, str(folder), str(args.records), str(FILES), str(DAY)])
        marker.touch()
    files = f"find {folder} -name '*.log.gz' -print0"
    rows = []

    def run(label: str, command, shell: bool = False) -> None:
        seconds, peak, out, cpu = measure(command, shell)
        rows.append((label, seconds, cpu, peak))
        print(
            f"  {label:<52} {seconds:8.2f} s {cpu:8.2f} CPU s {peak / 2**20:8.0f} MB  -> {out.strip()}",
            file=sys.stderr,
        )

    run(
        f"zcat, {CORES} processes (baseline)",
        f"{files} | xargs -0 -P{CORES} -n8 zcat > /dev/null",
        shell=True,
    )
    two_hours = [str(DAY + 9 * 3600), str(DAY + 11 * 3600)]
    group = ["eni-00000000000000007", "eni-00000000000000014"]  # 2 of the 50 interfaces
    run(
        "toolkit: a 2-hour window, its group's 2 interfaces",
        [PYTHON, "-c", _WINDOW, str(folder), *two_hours, "narrowed", *group],
    )
    whole_day = [str(DAY + 3600), str(DAY + 23 * 3600)]
    run(
        "toolkit: a whole-day window, its group's 2 interfaces",
        [PYTHON, "-c", _WINDOW, str(folder), *whole_day, "narrowed", *group],
    )
    run(
        "the same, every line parsed (before issue 22)",
        [PYTHON, "-c", _WINDOW, str(folder), *whole_day, "whole", *group],
    )
    run(
        "toolkit: a whole-day window, all 50 interfaces",
        [PYTHON, "-c", _WINDOW, str(folder), *whole_day, "whole"],
    )
    run("toolkit: intake (every line read, checked, counted, size-bounded)", [PYTHON, "-c", _INTAKE, str(folder)])
    size = sum(p.stat().st_size for p in folder.rglob("*.log.gz"))
    base, base_cpu = rows[0][1], rows[0][2]
    print(
        f"\n{args.records:,} flow records: {FILES} files, {size / 2**20:,.0f} MB gz ({CORES} cores)"
    )
    print(
        "| method | seconds | x zcat | CPU s | CPU x zcat | peak RSS MB |\n|---|---:|---:|---:|---:|---:|"
    )
    for label, seconds, cpu, peak in rows:
        print(
            f"| {label} | {seconds:.2f} | {seconds / base:.2f} | {cpu:.2f} | {cpu / base_cpu:.2f} | {peak / 2**20:,.0f} |"
        )


if __name__ == "__main__":
    main()
