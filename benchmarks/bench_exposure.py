"""The exposure replay (RuleState: union of public space per group and port), against normalizing.

    python benchmarks/bench_exposure.py                  # 50k rule changes on 500 groups
    python benchmarks/bench_exposure.py --changes 20000 --crowded 500 5000

Everything runs in this one process, each the best of --repeat runs; ratios are against the
baseline of the same run: `security_groups.normalize` of the same events, the step every replay
needs first. Two shapes: changes spread over many groups (a real account), and one crowded group
whose port 22 gains --crowded public /24 rules, one a change (attack16r C3: the union was measured
again over all of them after each, hours for 50,000). For the crowded group each size also prints
its replay's cost per rule against that of the first size: 1.0x is linear.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit_toolkit.analysis.exposure import windows  # noqa: E402
from audit_toolkit.analysis.security_groups import normalize  # noqa: E402

CIDRS = ("0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/8", "::/0", "198.51.100.0/24")


def event(n: int, second: int, name: str, group: str, cidr: str) -> dict:
    key = "cidrIpv6" if ":" in cidr else "cidrIp"
    ranges = "ipv6Ranges" if ":" in cidr else "ipRanges"
    request = {"groupId": group, "ipPermissions": {"items": [
        {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, ranges: {"items": [{key: cidr}]}}]}}
    clock = f"{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
    return {"eventtime": f"2026-11-03T{clock}Z",
            "eventid": f"{n:032x}", "eventname": name, "eventsource": "ec2.amazonaws.com",
            "account": "111111111111", "region": "us-east-1", "identity_type": "IAMUser",
            "identity_arn": "arn:aws:iam::111111111111:user/a", "sourceipaddress": "192.0.2.1",
            "useragent": "aws-cli/2", "errorcode": None, "errormessage": None,
            "requestparameters": json.dumps(request), "responseelements": None}


def spread(changes: int, groups: int, seed: int = 7) -> pd.DataFrame:
    """Authorizes and revokes on many groups, a tenth of them sharing a second with another."""
    rng = random.Random(seed)
    rows, second = [], 0
    for n in range(changes):
        second += 0 if rng.random() < 0.1 else 1
        name = rng.choice(("AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"))
        rows.append(event(n, second, name, f"sg-{rng.randrange(groups):017x}", rng.choice(CIDRS)))
    return pd.DataFrame(rows)


def crowded(rules: int) -> pd.DataFrame:
    """One group gaining `rules` public /24s on port 22, one a second."""
    return pd.DataFrame([event(n, n, "AuthorizeSecurityGroupIngress", "sg-1",
                               f"{8 + n // 65536 % 200}.{n // 256 % 256}.{n % 256}.0/24")
                         for n in range(rules)])


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=50_000)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--crowded", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    many = f"{args.changes} changes on {args.groups} groups"
    shapes = [(many, spread(args.changes, args.groups))]
    shapes += [(f"one group with {n} rules on port 22", crowded(n)) for n in args.crowded]
    first = None  # the replay's seconds per rule of the first crowded size
    for label, events in shapes:
        changes = normalize(events)
        base = best(lambda: normalize(events), args.repeat)
        replay = best(lambda: windows(changes), args.repeat)
        print(f"{label}: normalize {base:.2f} s (baseline), replay {replay:.2f} s "
              f"= {replay / base:.2f}x the baseline, {len(windows(changes))} windows", end="")
        if label != many:
            first = first or replay / len(events)
            per_rule = replay / len(events) / first
            print(f"; per rule {per_rule:.2f}x that of {args.crowded[0]} rules", end="")
        print(flush=True)


if __name__ == "__main__":
    main()
