"""What ssh-exposure reads of the logs with and without a state at the start of the range.

    python benchmarks/bench_state_cost.py                 # the demo story in 20,000 events of noise
    python benchmarks/bench_state_cost.py --events 100000 --config-days 365

Athena reads whole gzip objects, and partition projection lets it read only the day folders a
query's day bounds select: the bytes a query scans are the bytes of the objects under the
partitions it reads. For each query ssh_exposure runs, this sums the sizes of the CloudTrail (and
AWS Config) objects under the partitions its bound values select, once replaying from the first day
of the logs (the baseline, measured in the same run) and once from the state at `--since`
(`ssh_exposure(since, from_state=True)`). Both answers are checked to be the same windows.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit_toolkit import export, queries  # noqa: E402
from audit_toolkit.evidence.kinds import CONFIG_LAYOUT  # noqa: E402
from audit_toolkit.evidence.layout import partition_of  # noqa: E402
from audit_toolkit.investigation import Investigation  # noqa: E402
from audit_toolkit.synthetic import PROD, STATE_REGION, generate  # noqa: E402

KEYS = ["group_id", "cidr", "opened_how", "opened_at", "opened_by", "closed_at", "close_reason"]


def scanned(evidence: Path, log: list[dict]) -> dict[str, int]:
    """Bytes of the objects under the partitions each logged query reads, by table."""
    account, region = log[0]["params"]["account"], log[0]["params"]["region"]
    files = [p for p in evidence.rglob("*.json.gz")]
    total = {"cloudtrail": 0, "config": 0}
    for entry in log:
        params = entry["params"]
        if entry["query"] == "sg_state":  # every day folder, or the days listed (days_0, ...)
            days = {v for k, v in params.items() if k.startswith("days_")}
            for path in files:
                key = CONFIG_LAYOUT.search(path.as_posix())
                day = key and f"{key['y']}/{key['m']}/{key['d']}"
                if key and (params["first_day"] is None or day in days):
                    total["config"] += path.stat().st_size
            continue
        for path in files:
            part = partition_of(path)
            if part.day is None or "/CloudTrail/" not in path.as_posix():
                continue
            if (account, region) != (part.account, part.region):  # projected partitions
                continue
            low, high = params.get("since_day"), params.get("until_day")
            if (low is None or part.day >= low) and (high is None or part.day <= high):
                total["cloudtrail"] += path.stat().st_size
    return total


def older_snapshots(evidence: Path, days: int) -> None:
    """The demo's snapshot delivered again on each of `days` days before it, unchanged: the daily
    snapshots of a recorder that ran before the trail (the groups did not change meanwhile)."""
    (snapshot,) = [p for p in evidence.rglob("*.json.gz") if "/ConfigSnapshot/" in p.as_posix()]
    key = CONFIG_LAYOUT.search(snapshot.as_posix())
    delivered = datetime(int(key["y"]), int(key["m"]), int(key["d"]))
    folder = snapshot.parents[4]  # .../Config/<region>/
    for back in range(1, days + 1):
        day = delivered - timedelta(days=back)
        target = folder / f"{day.year}/{day.month}/{day.day}/ConfigSnapshot" / snapshot.name
        target.parent.mkdir(parents=True)
        shutil.copyfile(snapshot, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--since", default="2026-11-03T00:00:00Z", help="the range asked for")
    parser.add_argument("--config-days", type=int, default=30,
                        help="daily Config snapshots delivered before the demo's (a recorder older "
                             "than the trail, as is common)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        truth = generate(Path(tmp), events=args.events)
        evidence = Path(tmp) / "evidence"
        older_snapshots(evidence, args.config_days)
        inv = Investigation.from_evidence(evidence, state_at=truth["state_at"])
        place = dict(account=PROD, region=STATE_REGION)  # where the demo has AWS Config
        baseline = inv.ssh_exposure(since=args.since, **place)
        first = len(inv.log)
        seeded = inv.ssh_exposure(since=args.since, from_state=True, **place)
        same = export.to_records(baseline[KEYS]) == export.to_records(seeded[KEYS])
        full, from_state = scanned(evidence, inv.log[:first]), scanned(evidence, inv.log[first:])
    days = queries.scope(args.since)["since_day"]
    print(f"ssh-exposure --since {args.since} --account {PROD} --region {STATE_REGION}, "
          f"{args.events:,} events of noise over 3 days, {args.config_days} older daily snapshots")
    runs = (("from the first day of the logs", full), (f"from the state at {days}", from_state))
    for name, read in runs:
        print(f"  {name:<32} CloudTrail {read['cloudtrail']:>10,}  Config {read['config']:>8,}  "
              f"total {sum(read.values()):>10,} bytes "
              f"({sum(read.values()) / sum(full.values()):.2f}x the baseline)")
    print(f"  the same windows: {same}")


if __name__ == "__main__":
    main()
