"""The real-time alert: a cold start's imports, and the handler's work per event, against baselines.

    python benchmarks/bench_alerts.py              # 2,000 events, best of 5
    python benchmarks/bench_alerts.py --events 500

Cold start: a fresh interpreter importing the handler's module (`audit_toolkit.alerts`), against one
importing the batch investigation (`audit_toolkit.investigation`: pandas, pyarrow, DuckDB),
which is what the Lambda imported before the core was made lean. Per event: `alerts.boxes`
(normalize, decide, render) on real-shaped security-group, SNS and GuardDuty events, against
`json.loads(json.dumps(e))`, the least any handler does with an event. Each figure is the best
of --repeat runs in this process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit_toolkit import alerts  # noqa: E402
from bench_exposure import best  # noqa: E402  (one timing helper for the benchmarks)
from audit_toolkit.settings import Settings  # noqa: E402


def import_seconds(module: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, check=True)
        best = min(best, time.perf_counter() - start)
    return best


def events(n: int) -> list[dict]:
    """Security-group openings, SNS subscriptions and GuardDuty findings, in equal parts."""
    made = []
    for i in range(n):
        when = f"2026-11-03T{i % 24:02d}:{i % 60:02d}:00Z"
        identity = {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::111122223333:assumed-role/ops-admin/user{i}",
            "accountId": "111122223333",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": "arn:aws:iam::111122223333:role/ops-admin",
                    "userName": "ops-admin",
                }
            },
        }
        common = {
            "eventTime": when,
            "eventID": str(uuid.UUID(int=i)),
            "awsRegion": "ap-northeast-1",
            "recipientAccountId": "111122223333",
            "userIdentity": identity,
            "sourceIPAddress": "203.0.113.5",
            "userAgent": "aws-cli/2.15.30",
        }
        if i % 3 == 0:
            detail = {
                **common,
                "eventSource": "ec2.amazonaws.com",
                "eventName": "AuthorizeSecurityGroupIngress",
                "requestParameters": {
                    "groupId": "sg-0123456789abcdef0",
                    "ipPermissions": {
                        "items": [
                            {
                                "ipProtocol": "tcp",
                                "fromPort": 22,
                                "toPort": 22,
                                "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
                            }
                        ]
                    },
                },
            }
            made.append(
                {
                    "detail-type": "AWS API Call via CloudTrail",
                    "source": "aws.ec2",
                    "detail": detail,
                }
            )
        elif i % 3 == 1:
            detail = {
                **common,
                "eventSource": "sns.amazonaws.com",
                "eventName": "Subscribe",
                "requestParameters": {
                    "topicArn": "arn:aws:sns:ap-northeast-1:111122223333:alerts",
                    "protocol": "email",
                    "endpoint": f"x{i}@example.com",
                },
            }
            made.append(
                {
                    "detail-type": "AWS API Call via CloudTrail",
                    "source": "aws.sns",
                    "detail": detail,
                }
            )
        else:
            finding = {
                "schemaVersion": "2.0",
                "accountId": "111122223333",
                "region": "ap-northeast-1",
                "id": f"{i:032x}",
                "type": "UnauthorizedAccess:EC2/SSHBruteForce",
                "severity": 5,
                "title": "SSH brute force",
                "updatedAt": when,
                "createdAt": when,
                "resource": {
                    "resourceType": "Instance",
                    "instanceDetails": {"instanceId": "i-0abc"},
                },
                "service": {
                    "count": i,
                    "action": {
                        "actionType": "NETWORK_CONNECTION",
                        "networkConnectionAction": {
                            "localPortDetails": {"port": 22},
                            "remoteIpDetails": {
                                "ipAddressV4": "198.51.100.7",
                                "country": {"countryName": "Netherlands"},
                            },
                        },
                    },
                },
            }
            made.append(
                {"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": finding}
            )
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    lean = import_seconds("audit_toolkit.alerts", args.repeat)
    batch = import_seconds("audit_toolkit.investigation", args.repeat)
    print(
        f"cold import   audit_toolkit.alerts {lean * 1000:7.0f} ms   "
        f"audit_toolkit.investigation {batch * 1000:7.0f} ms   ratio {lean / batch:.2f}"
    )

    found = events(args.events)
    settings = Settings(display_tz="Asia/Tokyo")
    base = best(lambda: [json.loads(json.dumps(e)) for e in found], args.repeat)
    work = best(lambda: [alerts.boxes(e, settings) for e in found], args.repeat)
    each, floor = work / len(found) * 1e6, base / len(found) * 1e6
    print(f"per event     boxes {each:7.0f} us   json round trip {floor:7.1f} us   "
          f"ratio {work / base:.1f}x   ({len(found)} events)")


if __name__ == "__main__":
    main()
