"""EventBridge events and SNS -> Lambda invocations as AWS delivers them, around any record."""

from __future__ import annotations

import json
import uuid


def eventbridge(
    detail: dict, detail_type: str = "AWS API Call via CloudTrail", source: str | None = None
) -> dict:
    """An event as EventBridge delivers it, around a CloudTrail record or a GuardDuty finding."""
    source = source or (
        "aws.guardduty"
        if detail_type == "GuardDuty Finding"
        else "aws." + detail["eventSource"].split(".")[0]
    )
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(detail, sort_keys=True))),
        "detail-type": detail_type,
        "source": source,
        "account": detail.get("recipientAccountId") or detail.get("accountId"),
        "time": detail.get("eventTime") or detail.get("updatedAt"),
        "region": detail.get("awsRegion") or detail.get("region"),
        "resources": [],
        "detail": detail,
    }


def sns(*events: dict) -> dict:
    """An SNS -> Lambda invocation with one record per event."""
    topic = "arn:aws:sns:us-east-1:123837392027:audit-toolkit-alerts"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic,
                    "Subject": None,
                    "Message": json.dumps(e),
                    "Timestamp": "2023-07-10T12:10:10.000Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.example/cert.pem",
                    "UnsubscribeUrl": "https://sns.example/unsubscribe",
                    "MessageAttributes": {},
                },
            }
            for e in events
        ]
    }
