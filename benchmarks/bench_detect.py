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
- with `--sigma PATH` (SigmaHQ's CloudTrail rules, `--sigma-only` to skip the catalogue): their SQL
  translation, the rules one query each (the first design), `detect(sigma=...)` with the plain rules
  (each of its queries timed) and with the correlations, and each rule's own query time.
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
    parser.add_argument("--sigma-only", action="store_true",
                        help="time the Sigma rules, not the catalogue")
    args = parser.parse_args()
    events = 100_000 if args.quick else args.events
    inv = Investigation.from_store(prepare(args.data, events))
    held = inv.span()["events"]
    scope = queries.scope()

    base, _ = best(lambda: inv.query("sg_changes", **scope), args.repeat)
    if not args.sigma_only:
        catalogue(inv, base, held, args.repeat)
    if args.sigma:
        sigma_rules(inv, base, args.sigma)


def catalogue(inv: Investigation, base: float, held: int, repeat: int) -> None:
    scope = queries.scope()
    ctx = detections.Context(inv.settings, frozenset(inv.settings.trail_buckets))

    def each():
        found = [detections.hits(d, inv.query(d.query, **scope), ctx) for d in detections.CATALOGUE]
        return detections.to_frame([r for f in found if len(f) for r in records(f)])

    full, apart = best(each, repeat)
    one, hits = best(lambda: inv.detect(), repeat)
    assert sorted(apart["event_id"] + apart["detection"]) == sorted(hits["event_id"] + hits["detection"])
    union = queries.union([d.query for d in detections.CATALOGUE])
    rows = records(inv.query(union, **scope))
    # Coverage over the noise's own hours (the demo stories lie two years later: the hours between are
    # no evidence, not a gap worth timing).
    noise_span = inv.span(account=NOISE_ACCOUNT)
    first, last = noise_span["first_event"], noise_span["last_event"]
    cover, gaps = best(lambda: inv.coverage(first, last), repeat)
    decide, _ = best(lambda: [detections.evaluate(r, ctx) for r in rows], repeat)

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


def sigma_rules(inv: Investigation, base: float, folder: Path) -> None:
    """Each rule its own query, then detect(sigma=...) with the plain rules (the issue's target) and
    with the correlations, each query of it timed: run once."""
    from audit_toolkit import sigma

    scope = queries.scope()
    rules = sigma.load([folder])
    plain = sigma.RuleSet([r for r in rules.rules if r.correlation is None])
    queries.to_duckdb.cache_clear()
    both = (sigma.scan(plain.rules), sigma.scan(plain.rules, counted=True))
    translate, _ = best(lambda: [q.render("duckdb") for q in both], 1)

    def counted(query) -> int:
        """The rows a query matches, counted by the engine without fetching them."""
        sql = f"SELECT count(*) AS n FROM ({query.render('duckdb')}) AS matched"
        return int(inv.engine.run(sql, query.bind(scope))["n"].iloc[0])

    each = [(*best(lambda: counted(rule.query), 1), rule) for rule in plain.rules]
    apart = sum(took for took, _, _ in each)
    asked: list[tuple[float, str, int]] = []
    run = inv.query

    def timed(query, **values):
        started = time.perf_counter()
        rows = run(query, **values)
        name = query if isinstance(query, str) else query.name
        asked.append((time.perf_counter() - started, name, len(rows)))
        return rows

    inv.query = timed
    whole, found = best(lambda: inv.detect(only=["cloudtrail_stopped"], sigma=plain), 1)
    steps, asked[:] = list(asked), []
    corr, corr_found = best(lambda: inv.detect(only=["cloudtrail_stopped"], sigma=rules), 1)
    inv.query = run
    capped = found.attrs["sigma_capped"]
    correlations = len(rules.rules) - len(plain.rules)
    print(f"\n{len(plain.rules)} Sigma rules and {correlations} correlations "
          f"({len(rules.refused)} refused); capped at {sigma.ROWS_PER_RULE} rows: "
          + ", ".join(f"{r.title} ({capped[r.id]:,} matched)"
                      for r in plain.rules if r.id in capped))
    print(f"{'what':58} {'seconds':>8} {'x baseline':>10}")
    for name, seconds in (
        ("baseline: sg_changes (one registry query)", base),
        ("the rules' SQL translated for DuckDB (cached after)", translate),
        (f"{len(each)} queries, one per rule, rows counted (before)", apart),
        (f"detect(sigma=...) with the {len(plain.rules)} rules: {len(found):,} hits", whole),
        (f"  + the {correlations} correlations: {len(corr_found):,} hits", corr),
    ):
        print(f"{name:58} {seconds:8.3f} {seconds / base:10.1f}")
    print("detect's queries (with the 57 rules; rows returned):")
    for took, name, n in steps:
        print(f"  {took:6.3f} s {n:7,d} rows  {name}")
    print("the correlations' queries:")
    for took, name, n in asked[len(steps):]:
        print(f"  {took:6.3f} s {n:7,d} rows  {name}")
    print("each rule alone (its own query, rows counted):")
    for took, n, rule in sorted(each, key=lambda e: -e[0]):
        print(f"  {took:6.3f} s {n:9,d} rows  {rule.title}")


if __name__ == "__main__":
    main()
