"""The detection catalogue and coverage on a columnar store, against one registry query in the same run.

    python benchmarks/bench_detect.py             # 1M events (generated and ingested once, then reused)
    python benchmarks/bench_detect.py --quick     # 100k events
    python benchmarks/bench_detect.py --events 4000000 --data /tmp/evidence

Measured in one process on DuckDB over the store (`ingest`), best of `--repeat` runs each:
- baseline: `sg_changes`, one registry query over the same scope;
- one query per detection, one after the other, each with its Python decision;
- `detect()`: one scan for the union of every detection's candidate events (`queries.union`), then the
  same Python decisions (the hits are checked equal);
- `coverage()`: hourly event counts, trail calls and the evidence span;
- the per-event decision alone (`detections.evaluate`, what the Lambda runs), in events per second;
- with `--sigma PATH` (SigmaHQ's CloudTrail rules), `detect(sigma=...)`: one query per rule, each
  rule's time printed.
The evidence is benchmark noise (benchmarks/noise.py) with the demo's scripted stories mixed in.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from noise import ACCOUNTS  # noqa: E402

from audit_toolkit import queries  # noqa: E402
from audit_toolkit.analysis import detections  # noqa: E402
from audit_toolkit.analysis.events import records  # noqa: E402
from audit_toolkit.investigation import Investigation  # noqa: E402


NOISE_ACCOUNT = ACCOUNTS[0]


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def prepare(data: Path, events: int) -> Path:
    noise_dir, demo_dir, store = data / f"noise-{events}", data / "demo", data / f"store-{events}"
    if not store.exists():
        from noise import generate

        from audit_toolkit.evidence.layout import discover_files
        from audit_toolkit.evidence.store import ingest
        from audit_toolkit.synthetic import generate as demo

        print(f"generating {events:,} events of noise and the demo stories under {data} ...", flush=True)
        generate(noise_dir, events)
        demo(demo_dir, events=1000, seed=3)
        report = ingest([*discover_files(noise_dir), *discover_files(demo_dir / "evidence")], store)
        print(f"ingested: {report.summary()}", flush=True)
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="only 100k events")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "audit-toolkit-bench-detect")
    parser.add_argument("--sigma", type=Path, help="a folder of Sigma rules to time beside the catalogue")
    args = parser.parse_args()
    events = 100_000 if args.quick else args.events
    inv = Investigation.from_store(prepare(args.data, events))
    held = inv.span()["events"]
    scope = queries.scope()

    base, _ = best(lambda: inv.query("sg_changes", **scope), args.repeat)
    ctx = detections.Context(inv.settings, frozenset(inv.settings.trail_buckets))

    def each():
        found = [detections.hits(d, inv.query(d.query, **scope), ctx) for d in detections.CATALOGUE]
        return detections.to_frame([r for f in found if len(f) for r in records(f)])

    full, apart = best(each, args.repeat)
    one, hits = best(lambda: inv.detect(), args.repeat)
    assert sorted(apart["event_id"] + apart["detection"]) == sorted(hits["event_id"] + hits["detection"])
    union = queries.union([d.query for d in detections.CATALOGUE])
    rows = records(inv.query(union, **scope))
    # Coverage over the noise's own hours (the demo stories lie two years later: the hours between are
    # no evidence, not a gap worth timing).
    noise_span = inv.span(account=NOISE_ACCOUNT)
    cover, gaps = best(lambda: inv.coverage(noise_span["first_event"], noise_span["last_event"]), args.repeat)
    decide, _ = best(lambda: [detections.evaluate(r, ctx) for r in rows], args.repeat)

    print(f"\n{held:,} events in the store; {len(rows):,} candidate events; {len(hits)} hits; {len(gaps)} coverage rows")
    print(f"{'what':58} {'seconds':>8} {'x baseline':>10}")
    for name, seconds in (
        ("baseline: sg_changes (one registry query)", base),
        (f"{len(detections.CATALOGUE)} queries, one per detection, + decisions", full),
        ("detect(): one union scan + the same decisions", one),
        ("coverage(): hourly counts + trail calls + span", cover),
    ):
        print(f"{name:58} {seconds:8.3f} {seconds / base:10.1f}")
    print(f"per-event decision (detections.evaluate, all {len(detections.CATALOGUE)} detections): "
          f"{len(rows) / decide:,.0f} events/s over {len(rows):,} candidates")
    if args.sigma:
        from audit_toolkit import sigma

        rules = sigma.load([args.sigma])
        whole, found = best(lambda: inv.detect(only=["cloudtrail_stopped"], sigma=rules), args.repeat)
        print(f"\n{len(rules.rules)} Sigma rules ({len(rules.refused)} refused): detect(sigma=...) {whole:.3f} s "
              f"({whole / base:.1f} x baseline), {int(found['rule_author'].notna().sum())} hits; each rule:")
        for rule in rules.rules:
            took, rows = best(lambda: inv.query(rule.query, **scope), 1)
            print(f"  {took:6.3f} s {len(rows):6d} rows  {rule.title}")


if __name__ == "__main__":
    main()
