"""GuardDuty findings straight from the API: ListFindings (paginated, filtered) then GetFindings by 50.

    table, report = fetch_findings(since="2026-11-03", min_severity=7)   # every detector of the region

The findings come back from boto3 with PascalCase keys, as `aws guardduty get-findings` prints them,
and go through the same reader as files (evidence.guardduty), so they land in the same `guardduty`
table: one path for every source. Each page is reported as a source in the intake report
(`guardduty-api:<region>/<detector>/page-N`).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Iterable

import msgspec
import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from .. import aws
from ..errors import EvidenceError
from ..queries import scope
from .guardduty import GUARDDUTY_SCHEMA, read_guardduty_file, unique_findings
from .reader import IntakeReport

BATCH = 50  # GetFindings takes at most 50 finding ids


def criteria(since: datetime | str | None = None, min_severity: float | None = None, types: Iterable[str] = (),
             include_archived: bool = False) -> dict:
    """The FindingCriteria of ListFindings: updated since, severity at least, these types, not archived."""
    criterion: dict[str, dict] = {}
    if since is not None:
        start = datetime.fromisoformat(scope(since)["since"].replace("Z", "+00:00"))
        criterion["updatedAt"] = {"GreaterThanOrEqual": int(start.timestamp() * 1000)}  # a finding active since is updated since
    if min_severity is not None:
        # The API compares with a whole number; the exact bound (7.5, say) is applied by the findings query.
        criterion["severity"] = {"GreaterThanOrEqual": math.floor(min_severity)}
    if types:
        criterion["type"] = {"Equals": list(types)}
    if not include_archived:
        criterion["service.archived"] = {"Equals": ["false"]}
    return {"Criterion": criterion}


def fetch_findings(since: datetime | str | None = None, min_severity: float | None = None, types: Iterable[str] = (),
                   include_archived: bool = False, detector_ids: Iterable[str] = (), region: str | None = None,
                   client=None) -> tuple[pa.Table, IntakeReport]:
    """Findings of every detector of the region (or those given) as rows of the `guardduty` table."""
    client = client or aws.session(region=region).client("guardduty", config=aws.retry_config())
    where = client.meta.region_name
    report = IntakeReport(ids="finding id")
    tables = []
    try:
        detectors = list(detector_ids) or [d for page in client.get_paginator("list_detectors").paginate()
                                           for d in page["DetectorIds"]]
        wanted = criteria(since, min_severity, types, include_archived)
        for detector in detectors:
            pages = client.get_paginator("list_findings").paginate(DetectorId=detector, FindingCriteria=wanted)
            for number, page in enumerate(pages, 1):
                ids = page["FindingIds"]
                found = [f for start in range(0, len(ids), BATCH)
                         for f in client.get_findings(DetectorId=detector, FindingIds=ids[start:start + BATCH])["Findings"]]
                table, file_report = read_guardduty_file(f"guardduty-api:{where}/{detector}/page-{number}",
                                                         msgspec.json.encode({"Findings": found}))
                tables.append(table)
                report.files.append(file_report)
    except (ClientError, BotoCoreError) as e:
        raise EvidenceError(aws.explain(e, f"reading GuardDuty findings in {where}")) from e
    table, report.duplicates, report.conflicts = unique_findings(
        pa.concat_tables(tables) if tables else GUARDDUTY_SCHEMA.empty_table())
    return table, report
