"""CloudTrail's digest-signing public keys: fetched with ListPublicKeys, kept as its JSON answer.

The file has the shape `aws cloudtrail list-public-keys` prints ({"PublicKeyList": [{"Value":
base64 DER, "ValidityStartTime", "ValidityEndTime", "Fingerprint"}]}), so either that command's
output or what `collect` stored (PUBLIC_KEYS beside the manifest) can be given to validate-logs.
CloudTrail signs with one key pair per region: `collect` asks each region its digests come from.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from datetime import datetime
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .. import aws
from ..errors import EvidenceError
from .digest_chain import PublicKey

PUBLIC_KEYS = "public-keys.json"


def load_answer(path: str | Path) -> dict:
    """A list-public-keys JSON file, checked."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        for k in data["PublicKeyList"]:
            base64.b64decode(k["Value"], validate=True)
            str(k["Fingerprint"])
        return data
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as e:
        raise EvidenceError(
            f"{path} is not the JSON of `aws cloudtrail list-public-keys` ({e})"
        ) from e


def read_keys(path: str | Path) -> list[PublicKey]:
    """The keys of a list-public-keys JSON file."""
    return [
        PublicKey(str(k["Fingerprint"]), base64.b64decode(k["Value"]))
        for k in load_answer(path)["PublicKeyList"]
    ]


def write_answer(folder: Path, answer: dict) -> Path:
    """PUBLIC_KEYS in `folder`, written whole or not at all."""
    path = folder / PUBLIC_KEYS
    tmp = folder / f".{PUBLIC_KEYS}.partial"
    tmp.write_text(json.dumps(answer, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return path


def fetch(
    session: boto3.Session, regions: list[str], since: datetime, until: datetime
) -> tuple[dict, dict]:
    """ListPublicKeys in each region for [since, until]: the merged answer (list-public-keys JSON),
    and per region what happened ("3 keys", or why none: denied, throttled...)."""
    keys: dict[str, dict] = {}
    notes: dict[str, str] = {}
    for region in sorted(set(regions)):
        client = session.client("cloudtrail", region_name=region, config=aws.retry_config())
        try:
            found = [
                k
                for page in client.get_paginator("list_public_keys").paginate(
                    StartTime=since, EndTime=until
                )
                for k in page.get("PublicKeyList", [])
            ]
        except (ClientError, BotoCoreError) as e:
            notes[region] = aws.explain(e, f"cloudtrail:ListPublicKeys in {region}")
            continue
        for k in found:
            keys[k["Fingerprint"]] = {
                "Value": base64.b64encode(k["Value"]).decode(),
                "ValidityStartTime": k["ValidityStartTime"].isoformat(),
                "ValidityEndTime": k["ValidityEndTime"].isoformat(),
                "Fingerprint": k["Fingerprint"],
            }
        notes[region] = f"{len(found)} keys"
    return {"PublicKeyList": [keys[f] for f in sorted(keys)]}, notes
