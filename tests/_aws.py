"""Moto in server mode on 127.0.0.1 as the S3, STS and Athena endpoint, and the real evidence in S3 layout.

Fake credentials are set only in the tests' environment; nothing here can reach AWS.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import boto3
import pytest
import requests

ACCOUNT = "218007301253"
REGION = "us-east-1"
INVICTUS_DAY = "2023/07/10"


def real_data() -> Path:
    """The shared real data beside the repository, else /work/shared; skip with the reason if absent."""
    for candidate in (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real", Path("/work/shared/data/real")):
        if candidate.is_dir():
            return candidate
    pytest.skip("the shared real data (../shared/data/real) is not on this machine")


def invictus_files() -> list[Path]:
    folder = real_data() / "invictus-ir-aws_dataset" / "CloudTrail"
    files = sorted(folder.glob("*.json"))
    if len(files) != 55:
        pytest.skip(f"expected the 55 invictus CloudTrail files in {folder}, found {len(files)}")
    return files


def arrange_invictus(root: Path) -> dict[str, bytes]:
    """The invictus files gzipped into the S3 layout under `root`; returns key -> bytes."""
    out: dict[str, bytes] = {}
    for f in invictus_files():
        key = f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{INVICTUS_DAY}/{f.name}.gz"
        data = gzip.compress(f.read_bytes(), mtime=0)
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
        out[key] = data
    return out


@pytest.fixture(scope="session")
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_server, monkeypatch, tmp_path):
    """Fake credentials and the moto endpoint in this test's environment, and a clean moto."""
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    fake_aws(monkeypatch, moto_server, tmp_path)
    return moto_server


def fake_aws(monkeypatch: pytest.MonkeyPatch, endpoint: str, folder: Path) -> None:
    """Fake credentials and the moto endpoint in the environment (a notebook's kernel inherits it)."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(folder / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "no-aws-credentials"))


def upload(bucket: str, objects: dict[str, bytes], prefix: str = "") -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    for key, data in objects.items():
        s3.put_object(Bucket=bucket, Key=f"{prefix}{key}", Body=data)


def set_athena_results(endpoint: str, results: list[dict]) -> None:
    """Queue canned Athena results in moto (moto does not execute SQL)."""
    body = {"account_id": "123456789012", "region": REGION, "results": results}
    assert requests.post(f"{endpoint}/moto-api/static/athena/query-results", json=body, timeout=10).status_code == 201


def hold_athena_queries(endpoint: str, polls: int) -> None:
    """Keep each Athena query QUEUED for `polls` status requests (moto's state manager)."""
    body = {"model_name": "athena::execution", "transition": {"progression": "manual", "times": polls}}
    assert requests.post(f"{endpoint}/moto-api/state-manager/set-transition", data=json.dumps(body), timeout=10).ok


def fake_response(status: int, body: bytes, headers: dict | None = None):
    """An HTTP response for a botocore `before-send` hook: botocore parses it as it would AWS's."""
    import io

    import urllib3
    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders

    headers = {"Content-Length": str(len(body)), **(headers or {})}
    raw = urllib3.HTTPResponse(body=io.BytesIO(body), status=status, headers=headers, preload_content=False)
    return AWSResponse("https://fake", status, HTTPHeaders(headers.items()), raw)


def s3_error(status: int, code: str, message: str):
    body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return fake_response(status, body.encode(), {"Content-Type": "application/xml"})
