"""A fast generator of large synthetic CloudTrail evidence, for benchmarks only.

Writes the CloudTrail S3 layout (AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz), about
1,250 events per file and about 1.3 KB of JSON per event, like a busy real trail. A small share of
the events are security-group changes, so the security-group query has something to find.
Speed matters more than variety here: records are built from a few shapes, encoded with msgspec and
compressed with ISA-L, in one process per core.
"""

from __future__ import annotations

import os
import random
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
from isal import igzip

ACCOUNTS = ["111122223333", "444455556666", "777788889999"]
REGIONS = ["us-east-1", "eu-west-1", "ap-northeast-1"]
EVENTS_PER_FILE = 1250
START = datetime(2024, 3, 1, tzinfo=timezone.utc)
_AGENTS = [
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/ec2.describe-instances",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.151.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
]
_NOISE = [
    ("ec2.amazonaws.com", "DescribeInstances", True),
    ("s3.amazonaws.com", "GetObject", True),
    ("s3.amazonaws.com", "PutObject", False),
    ("sts.amazonaws.com", "AssumeRole", True),
    ("kms.amazonaws.com", "Decrypt", True),
    ("iam.amazonaws.com", "ListRoles", True),
    ("lambda.amazonaws.com", "Invoke", False),
    ("logs.amazonaws.com", "PutLogEvents", False),
]
_SG = ["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "CreateSecurityGroup", "DeleteSecurityGroup"]


def _identity(rng: random.Random, account: str) -> dict:
    if rng.random() < 0.6:
        role = rng.choice(["app-deployer", "ci-runner", "lambda-exec", "ops-admin"])
        session = f"session-{rng.randrange(10_000)}"
        return {
            "type": "AssumedRole",
            "principalId": f"AROA{rng.randrange(10**15):016d}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            "accountId": account,
            "accessKeyId": f"ASIA{rng.randrange(10**15):016d}",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": f"AROA{rng.randrange(10**15):016d}",
                                  "arn": f"arn:aws:iam::{account}:role/{role}", "accountId": account, "userName": role},
                "webIdFederationData": {},
                "attributes": {"creationDate": "2024-03-01T00:00:00Z", "mfaAuthenticated": "false"},
            },
        }
    user = rng.choice(["alice", "bob", "carol", "dave"])
    return {"type": "IAMUser", "principalId": f"AIDA{rng.randrange(10**15):016d}",
            "arn": f"arn:aws:iam::{account}:user/{user}", "accountId": account,
            "accessKeyId": f"AKIA{rng.randrange(10**15):016d}", "userName": user}


def _record(rng: random.Random, account: str, region: str, when: datetime) -> dict:
    if rng.random() < 0.001:
        source, name, read_only = "ec2.amazonaws.com", rng.choice(_SG), False
        group = f"sg-{rng.randrange(16**17):017x}"
        request = {"groupId": group, "ipPermissions": {"items": [{
            "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
            "ipRanges": {"items": [{"cidrIp": rng.choice(["0.0.0.0/0", "10.0.0.0/8", "203.0.113.0/24"])}]}}]}}
    else:
        source, name, read_only = rng.choice(_NOISE)
        request = {
            "bucketName": f"data-{rng.randrange(1000)}", "key": f"logs/{uuid.UUID(int=rng.getrandbits(128))}.json",
            "maxResults": rng.randrange(1000),
        }
    event_id = str(uuid.UUID(int=rng.getrandbits(128)))
    return {
        "eventVersion": "1.09",
        "userIdentity": _identity(rng, account),
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
        "userAgent": rng.choice(_AGENTS),
        "requestParameters": request,
        "responseElements": {"requestId": event_id, "_return": True} if not read_only else None,
        "additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
                                "bytesTransferredIn": rng.randrange(5000), "AuthenticationMethod": "AuthHeader"},
        "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventID": event_id,
        "readOnly": read_only,
        "resources": [{"accountId": account, "type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::data-{rng.randrange(1000)}/x"}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com"},
    }


def _write_file(task: tuple[str, int, int]) -> int:
    root, index, events = task
    rng = random.Random(index)
    account, region = ACCOUNTS[index % len(ACCOUNTS)], REGIONS[(index // len(ACCOUNTS)) % len(REGIONS)]
    when = START + timedelta(minutes=5 * (index // 9))
    folder = Path(root) / "AWSLogs" / account / "CloudTrail" / region / when.strftime("%Y/%m/%d")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{account}_CloudTrail_{region}_{when:%Y%m%dT%H%MZ}_{index:08x}.json.gz"
    records = [_record(rng, account, region, when + timedelta(seconds=rng.randrange(300))) for _ in range(events)]
    data = msgspec.json.encode({"Records": records})
    (folder / name).write_bytes(igzip.compress(data, compresslevel=3))
    return events


def generate(root: str | Path, events: int, workers: int | None = None) -> int:
    """Write about `events` events under `root`; returns how many were written."""
    files = max(1, round(events / EVENTS_PER_FILE))
    sizes = [events // files + (1 if i < events % files else 0) for i in range(files)]
    tasks = [(str(root), i, n) for i, n in enumerate(sizes)]
    with ProcessPoolExecutor(workers or os.cpu_count() or 1) as pool:
        return sum(pool.map(_write_file, tasks, chunksize=8))
