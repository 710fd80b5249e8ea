"""Findings from the GuardDuty API, with no network: botocore's `before-send` hook answers each request
with the JSON GuardDuty would send (camelCase on the wire), and botocore parses it as it would AWS's.
Moto has no GuardDuty findings, so this is the whole API path short of AWS itself."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pandas as pd
import pytest
from click.testing import CliRunner

from _aws import fake_response
from audit_toolkit.cli import main
from audit_toolkit.errors import EvidenceError
from audit_toolkit.evidence import guardduty_api
from audit_toolkit.evidence.guardduty import normalize, read_findings
from audit_toolkit.evidence.guardduty_api import fetch_findings
from audit_toolkit.investigation import Investigation
from audit_toolkit.synthetic import gd_finding, ssh_connection
from real_data import real_data
from test_guardduty import T0, T1

REGION = "ap-northeast-1"


class FakeGuardDuty:
    """GuardDuty's REST API for two detectors: `findings[detector]` listed `page` ids at a time."""

    def __init__(self, findings: dict[str, list[dict]], page: int = 100, fail: str | None = None):
        self.findings, self.page, self.fail = findings, page, fail
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, request, **_):
        path = request.url.split(".amazonaws.com", 1)[1].split("?")[0]
        body = json.loads(request.body or b"{}")
        self.calls.append((f"{request.method} {path}", body))
        if self.fail:
            error = {"__type": self.fail, "message": "User is not authorized to perform: guardduty:ListFindings"}
            return fake_response(403, json.dumps(error).encode(), {"x-amzn-ErrorType": self.fail})
        parts = path.strip("/").split("/")
        if parts == ["detector"]:
            return self.reply({"detectorIds": list(self.findings)})
        detector = parts[1]
        if parts[2:] == ["findings"]:
            ids = [f["id"] for f in self.findings[detector]]
            start = int(body.get("nextToken") or 0)
            more = start + self.page < len(ids)
            return self.reply({"findingIds": ids[start:start + self.page], **({"nextToken": str(start + self.page)} if more else {})})
        if parts[2:] == ["findings", "get"]:
            by_id = {f["id"]: f for f in self.findings[detector]}
            return self.reply({"findings": [by_id[i] for i in body["findingIds"]]})
        raise AssertionError(f"unexpected request {request.method} {path}")

    def reply(self, body: dict):
        return fake_response(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


def client_with(fake: FakeGuardDuty):
    session = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    session.events.register("before-send.guardduty", fake)
    return session


@pytest.fixture
def many() -> list[dict]:
    """The real findings (camelCase, as the API's wire format is) and 115 brute-force findings."""
    path = real_data() / "elastic-integrations-aws" / "guardduty" / "test-guardduty.log"
    real = [f for f in map(json.loads, path.read_text().splitlines()) if "id" in f]
    made = [gd_finding(f"{n:032x}", "UnauthorizedAccess:EC2/SSHBruteForce", 2 + n % 7, f"brute force {n}", "111111111111", REGION,
                       first_seen=T0 + timedelta(minutes=n), last_seen=T1, instance=f"i-{n:017x}", groups=(("sg-1", "a"),),
                       action=ssh_connection("198.51.100.7", "NL", "Org", "64496")) for n in range(115)]
    return real + made


def test_every_finding_of_every_detector_by_pages_and_batches_of_50(many, tmp_path):
    fake = FakeGuardDuty({"d1": many, "d2": []})
    table, report = fetch_findings(since="2026-11-03T00:00:00Z", min_severity=7.5, client=client_with(fake).client("guardduty"))
    calls = [c for c, _ in fake.calls]
    assert calls == ["GET /detector", "POST /detector/d1/findings", "POST /detector/d1/findings/get", "POST /detector/d1/findings/get",
                     "POST /detector/d1/findings", "POST /detector/d1/findings/get", "POST /detector/d2/findings"]
    assert [len(b["findingIds"]) for c, b in fake.calls if c.endswith("/get")] == [50, 50, 20]
    assert fake.calls[1][1]["findingCriteria"] == {"criterion": {
        "updatedAt": {"greaterThanOrEqual": 1793664000000}, "severity": {"greaterThanOrEqual": 7},
        "service.archived": {"equals": ["false"]}}}
    assert [f.path for f in report.files] == [f"guardduty-api:{REGION}/d1/page-1", f"guardduty-api:{REGION}/d1/page-2",
                                              f"guardduty-api:{REGION}/d2/page-1"]
    assert (report.read, report.used, report.rejected, table.num_rows) == (120, 120, 0, 120)
    # The same findings read from a file give the same flat frame: one path for every source.
    lines = tmp_path / "findings.jsonl"
    lines.write_text("\n".join(json.dumps(f) for f in many))
    pd.testing.assert_frame_equal(normalize(table.to_pandas()), read_findings([lines])[0])


def test_access_denied_is_explained(many):
    fake = FakeGuardDuty({"d1": many}, fail="AccessDeniedException")
    with pytest.raises(EvidenceError, match=r"reading GuardDuty findings in ap-northeast-1: access denied \(AccessDeniedException"):
        fetch_findings(client=client_with(fake).client("guardduty"))


def test_findings_from_the_api_beside_the_evidence(demo, many, monkeypatch):
    fake = FakeGuardDuty({"d1": many[5:10]})
    inv = Investigation.from_evidence(demo / "evidence")
    before = len(inv.findings())
    report = inv.add_findings_from_api(client=client_with(fake).client("guardduty"))
    assert report.used == 5 and len(inv.findings()) == before + 5
    assert len(inv.findings_intake.files) == 13  # the 12 export files and the API's page
    again = inv.add_findings_from_api(client=client_with(fake).client("guardduty"))
    assert again.duplicates == 5 and len(inv.findings()) == before + 5


def test_cli_from_api_alone(many, monkeypatch):
    fake = FakeGuardDuty({"d1": many})
    monkeypatch.setattr(guardduty_api.aws, "session", lambda region=None, profile=None: client_with(fake))
    result = CliRunner().invoke(main, ["findings", "--from-api", "--min-severity", "8", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == sum(1 for f in many if f["severity"] >= 8) == 18
    assert "GuardDuty API: 2 files, 120 events read, 120 used" in result.stderr
