"""For every detection of the catalogue, the CloudTrail records that must hit and those that must
not.

Records are written as CloudTrail logs each call (request and response shapes, failure forms) in
AWS's documentation and in detection engineers' public test events (Panther's rule tests, Stratus
Red Team's recorded runs): S3 headers as lists, EC2's `items` wrappers, sign-in outcomes in the
response. Every detection has at least one case of each kind:
- "hit": the technique done;
- "failed": the same call refused (an attempt, whose detail starts "attempted: ");
- "self": the caller acting on itself or on its own account (a hit only where that still matters);
- "benign": a look-alike that is not the technique.
The expected value is the hit's detail, or None for no hit by that detection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import count

OWN, OUTSIDE = "111111111111", "999988887777"
ALICE = {
    "type": "IAMUser",
    "principalId": "AIDAEXAMPLEALICE",
    "arn": f"arn:aws:iam::{OWN}:user/alice",
    "accountId": OWN,
    "accessKeyId": "AKIAEXAMPLEALICE0001",
    "userName": "alice",
}
ROLE = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLEOPS:alice",
    "arn": f"arn:aws:sts::{OWN}:assumed-role/ops/alice",
    "accountId": OWN,
    "accessKeyId": "ASIAEXAMPLEOPS000001",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROAEXAMPLEOPS",
            "arn": f"arn:aws:iam::{OWN}:role/ops",
            "accountId": OWN,
            "userName": "ops",
        },
        "attributes": {"creationDate": "2026-11-03T09:00:00Z", "mfaAuthenticated": "false"},
    },
}
ROOT = {
    "type": "Root",
    "principalId": OWN,
    "arn": f"arn:aws:iam::{OWN}:root",
    "accountId": OWN,
    "accessKeyId": "AKIAEXAMPLEROOT00001",
}
# Root in the console: IAM and other services see the console sign-in as `invokedBy`.
ROOT_CONSOLE = {
    **ROOT,
    "accessKeyId": "ASIAEXAMPLEROOT00001",
    "invokedBy": "signin.amazonaws.com",
    "sessionContext": {
        "attributes": {"creationDate": "2026-11-03T09:00:00Z", "mfaAuthenticated": "true"}
    },
}
ROOT_BY_SERVICE = {**ROOT, "invokedBy": "support.amazonaws.com"}
TRAIL_BUCKET = "org-trail-logs"
_ids = count(1)


@dataclass(frozen=True)
class Case:
    kind: str  # hit | failed | self | benign
    record: dict
    detail: str | None  # the hit's detail, None: no hit by this detection


def call(
    source: str,
    name: str,
    request: dict | None = None,
    response: dict | None = None,
    *,
    error: str | None = None,
    identity: dict = ALICE,
    **extra,
) -> dict:
    """One CloudTrail record as a trail delivers it."""
    n = next(_ids)
    record = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": f"2026-11-03T10:{n // 60:02d}:{n % 60:02d}Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request,
        "responseElements": response,
        "requestID": f"req-{n}",
        "eventID": f"case-{n:04d}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": OWN,
        "eventCategory": "Management",
        **extra,
    }
    if error:
        record |= {
            "errorCode": error,
            "errorMessage": f"{error}: not authorized",
            "responseElements": None,
        }
    return record


def signin(name: str, outcome: str, *, identity: dict = ALICE, mfa: str = "Yes", **extra) -> dict:
    """A console sign-in event: its outcome is in the response, keyed by the event name."""
    return call(
        "signin.amazonaws.com",
        name,
        None,
        {name: outcome},
        identity=identity,
        eventType="AwsConsoleSignIn",
        userAgent="Mozilla/5.0",
        additionalEventData={"MFAUsed": mfa, "LoginTo": "https://console.aws.amazon.com/"},
        **extra,
    )


R53R = "route53resolver.amazonaws.com"
RA = "rolesanywhere.amazonaws.com"
LAMBDA = "lambda.amazonaws.com"
SM = "secretsmanager.amazonaws.com"
BEDROCK = "bedrock.amazonaws.com"
CT, GD, SNS, EB, EC2, IAM, S3 = (
    "cloudtrail.amazonaws.com",
    "guardduty.amazonaws.com",
    "sns.amazonaws.com",
    "events.amazonaws.com",
    "ec2.amazonaws.com",
    "iam.amazonaws.com",
    "s3.amazonaws.com",
)
DENIED = "AccessDenied"
TOPIC = f"arn:aws:sns:us-east-1:{OWN}:security-alerts"
GD_PATTERN = json.dumps({"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]})
TRUST = lambda account: json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {  # noqa: E731
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
NACL = {
    "networkAclId": "acl-0a1b2c",
    "ruleNumber": 100,
    "protocol": "6",
    "aclProtocol": "6",
    "ruleAction": "allow",
    "egress": False,
    "cidrBlock": "0.0.0.0/0",
    "portRange": {"from": 22, "to": 22},
}
SSH_FLAT = {"groupId": "sg-04cfb7a4712d75b00", "ipPermissions": {}, "ipProtocol": "tcp", "fromPort": 22,
            "toPort": 22, "cidrIp": "0.0.0.0/0"}
SG_NESTED = lambda cidr, port=22: {  # noqa: E731
    "groupId": "sg-04cfb7a4712d75b00",
    "ipPermissions": {"items": [{
        "ipProtocol": "tcp", "fromPort": port, "toPort": port, "groups": {},
        "ipRanges": {} if ":" in cidr else {"items": [{"cidrIp": cidr}]},
        "ipv6Ranges": {"items": [{"cidrIpv6": cidr}]} if ":" in cidr else {}, "prefixListIds": {}}]},
}
SG_MODIFY = lambda cidr: {"ModifySecurityGroupRulesRequest": {  # noqa: E731
    "GroupId": "sg-0a1b2c", "SecurityGroupRule": {"SecurityGroupRuleId": "sgr-0a1b2c", "SecurityGroupRule": {
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": cidr}}}}
# As S3 logs PutBucketLifecycle(Configuration).
LIFECYCLE = lambda days, status="Enabled": {  # noqa: E731
    "bucketName": TRAIL_BUCKET,
    "Host": f"{TRAIL_BUCKET}.s3.us-east-1.amazonaws.com",
    "lifecycle": "",
    "LifecycleConfiguration": {
        "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
        "Rule": {
            "ID": "expire",
            "Status": status,
            "Filter": {"Prefix": ""},
            "Expiration": {"Days": days},
        },
    },
}
SNAPSHOT = lambda op, item: {  # noqa: E731
    "snapshotId": "snap-0a1b",
    "attributeType": "CREATE_VOLUME_PERMISSION",
    "createVolumePermission": {op: {"items": [item]}},
}
PUBLIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::site/*",
        }
    ],
}

BURST_PASSWORD = "password data read: one of 5 or more instances in 60 minutes"
BURST_USER_DATA = "user data read: one of 5 or more instances in 60 minutes"
BURST_SECRET = "read with decryption: one of 3 or more secrets in 60 minutes"

CASES: dict[str, list[Case]] = {
    "sns_subscription_changed": [
        Case(
            "hit",
            call(
                SNS,
                "Subscribe",
                {"topicArn": TOPIC, "protocol": "email", "endpoint": "x@example.net"},
                {"subscriptionArn": "pending confirmation"},
            ),
            "subscribed email endpoint x@example.net",
        ),
        Case("hit", call(SNS, "Unsubscribe", {"subscriptionArn": f"{TOPIC}:0f1e"}), "unsubscribed"),
        Case(
            "failed",
            call(SNS, "Unsubscribe", {"subscriptionArn": f"{TOPIC}:0f1e"}, error=DENIED),
            "attempted: unsubscribed",
        ),
        Case(
            "self",
            call(
                SNS,
                "SetSubscriptionAttributes",
                {
                    "subscriptionArn": f"{TOPIC}:0f1e",
                    "attributeName": "FilterPolicy",
                    "attributeValue": "{}",
                },
            ),
            "subscription FilterPolicy changed",
        ),
        Case("benign", call(SNS, "ConfirmSubscription", {"topicArn": TOPIC, "token": "t"}), None),
    ],
    "sns_topic_deleted": [
        Case("hit", call(SNS, "DeleteTopic", {"topicArn": TOPIC}), "topic deleted"),
        Case(
            "failed",
            call(SNS, "DeleteTopic", {"topicArn": TOPIC}, error="AuthorizationError"),
            "attempted: topic deleted",
        ),
        Case("self", call(SNS, "DeleteTopic", {"topicArn": TOPIC}, identity=ROLE), "topic deleted"),
        Case(
            "benign",
            call(SNS, "CreateTopic", {"name": "security-alerts"}, {"topicArn": TOPIC}),
            None,
        ),
    ],
    "sns_topic_policy_changed": [
        Case(
            "hit",
            call(
                SNS,
                "SetTopicAttributes",
                {"topicArn": TOPIC, "attributeName": "Policy", "attributeValue": "{}"},
            ),
            "topic Policy changed",
        ),
        Case(
            "hit",
            call(SNS, "RemovePermission", {"topicArn": TOPIC, "label": "events"}),
            "permission events removed",
        ),
        Case(
            "failed",
            call(
                SNS,
                "RemovePermission",
                {"topicArn": TOPIC, "label": "events"},
                error="AuthorizationError",
            ),
            "attempted: permission events removed",
        ),
        Case(
            "self",
            call(
                SNS,
                "SetTopicAttributes",
                {"topicArn": TOPIC, "attributeName": "DisplayName", "attributeValue": "Alerts"},
            ),
            None,
        ),
        Case(
            "benign",
            call(
                "lambda.amazonaws.com",
                "RemovePermission20150331v2",
                {"functionName": "f", "statementId": "s"},
            ),
            None,
        ),
    ],
    "eventbridge_rule_disabled": [
        Case("hit", call(EB, "DisableRule", {"name": "guardduty-to-sns"}), "DisableRule"),
        Case(
            "hit",
            call(EB, "RemoveTargets", {"rule": "guardduty-to-sns", "ids": ["sns"]}),
            "RemoveTargets",
        ),
        Case(
            "failed",
            call(EB, "DeleteRule", {"name": "guardduty-to-sns"}, error=DENIED),
            "attempted: DeleteRule",
        ),
        Case(
            "self",
            call(EB, "DeleteRule", {"name": "guardduty-to-sns"}, identity=ROLE),
            "DeleteRule",
        ),
        Case("benign", call(EB, "EnableRule", {"name": "guardduty-to-sns"}), None),
    ],
    "eventbridge_security_rule_changed": [
        Case(
            "hit",
            call(
                EB,
                "PutRule",
                {"name": "gd-alerts", "eventPattern": GD_PATTERN, "state": "DISABLED"},
            ),
            "rule delivering security events changed (state DISABLED)",
        ),
        Case(
            "failed",
            call(EB, "PutRule", {"name": "gd-alerts-2", "eventPattern": GD_PATTERN}, error=DENIED),
            "attempted: rule delivering security events changed (state ENABLED)",
        ),
        Case(
            "self",
            call(EB, "PutRule", {"name": "gd-alerts-3", "eventPattern": GD_PATTERN}, identity=ROLE),
            "rule delivering security events changed (state ENABLED)",
        ),
        Case(
            "benign",
            call(EB, "PutRule", {"name": "nightly", "scheduleExpression": "cron(0 0 * * ? *)"}),
            None,
        ),
    ],
    "cloudtrail_stopped": [
        Case("hit", call(CT, "StopLogging", {"name": "org-trail"}), "logging stopped"),
        Case(
            "failed",
            call(CT, "StopLogging", {"name": "gone"}, error="TrailNotFoundException"),
            "attempted: logging stopped",
        ),
        Case(
            "self",
            call(
                CT,
                "StopLogging",
                {"name": f"arn:aws:cloudtrail:us-east-1:{OWN}:trail/org-trail"},
                identity=ROLE,
            ),
            "logging stopped",
        ),
        Case("benign", call(CT, "StartLogging", {"name": "org-trail"}), None),
    ],
    "cloudtrail_deleted": [
        Case("hit", call(CT, "DeleteTrail", {"name": "org-trail"}), "trail deleted"),
        Case(
            "failed",
            call(CT, "DeleteTrail", {"name": "org-trail"}, error=DENIED),
            "attempted: trail deleted",
        ),
        Case(
            "self", call(CT, "DeleteTrail", {"name": "org-trail"}, identity=ROLE), "trail deleted"
        ),
        Case("benign", call(CT, "DescribeTrails", {"trailNameList": []}, {"trailList": []}), None),
    ],
    "cloudtrail_updated": [
        Case(
            "hit",
            call(CT, "UpdateTrail", {"name": "org-trail", "isMultiRegionTrail": False}),
            "UpdateTrail: isMultiRegionTrail=False",
        ),
        Case(
            "failed",
            call(
                CT, "UpdateTrail", {"name": "org-trail", "s3BucketName": "elsewhere"}, error=DENIED
            ),
            "attempted: UpdateTrail: s3BucketName=elsewhere",
        ),
        Case(
            "self",
            call(
                CT,
                "UpdateTrail",
                {"name": "org-trail", "enableLogFileValidation": False},
                identity=ROLE,
            ),
            "UpdateTrail: enableLogFileValidation=False",
        ),
        Case("benign", call(CT, "GetTrailStatus", {"name": "org-trail"}), None),
    ],
    "cloudtrail_selectors_reduced": [
        Case(
            "hit",
            call(
                CT,
                "PutEventSelectors",
                {
                    "trailName": "org-trail",
                    "eventSelectors": [
                        {
                            "readWriteType": "ReadOnly",
                            "includeManagementEvents": False,
                            "dataResources": [],
                            "excludeManagementEventSources": [],
                        }
                    ],
                },
            ),
            "management events no longer recorded (includeManagementEvents false)",
        ),
        Case(
            "failed",
            call(
                CT,
                "PutEventSelectors",
                {
                    "trailName": "org-trail",
                    "eventSelectors": [
                        {"readWriteType": "ReadOnly", "includeManagementEvents": True}
                    ],
                },
                error=DENIED,
            ),
            "attempted: only ReadOnly management events recorded",
        ),
        Case(
            "self",
            call(
                CT,
                "PutEventSelectors",
                {
                    "trailName": "org-trail",
                    "eventSelectors": [
                        {
                            "readWriteType": "All",
                            "includeManagementEvents": True,
                            "excludeManagementEventSources": ["kms.amazonaws.com"],
                        }
                    ],
                },
                identity=ROLE,
            ),
            "management events of kms.amazonaws.com excluded",
        ),
        Case(
            "benign",
            call(
                CT,
                "PutEventSelectors",
                {
                    "trailName": "org-trail",
                    "eventSelectors": [
                        {
                            "readWriteType": "All",
                            "includeManagementEvents": True,
                            "dataResources": [],
                            "excludeManagementEventSources": [],
                        }
                    ],
                },
            ),
            None,
        ),
    ],
    "cloudtrail_insights_disabled": [
        Case(
            "hit",
            call(CT, "PutInsightSelectors", {"trailName": "org-trail", "insightSelectors": []}),
            "CloudTrail Insights turned off (no insight selectors)",
        ),
        Case(
            "failed",
            call(
                CT,
                "PutInsightSelectors",
                {"trailName": "org-trail", "insightSelectors": []},
                error=DENIED,
            ),
            "attempted: CloudTrail Insights turned off (no insight selectors)",
        ),
        Case(
            "self",
            call(
                CT,
                "PutInsightSelectors",
                {"trailName": "org-trail", "insightSelectors": []},
                identity=ROLE,
            ),
            "CloudTrail Insights turned off (no insight selectors)",
        ),
        Case(
            "benign",
            call(
                CT,
                "PutInsightSelectors",
                {
                    "trailName": "org-trail",
                    "insightSelectors": [{"insightType": "ApiCallRateInsight"}],
                },
            ),
            None,
        ),
    ],
    "trail_bucket_changed": [
        Case("hit", call(S3, "PutBucketLifecycle", LIFECYCLE(1)), "logs expire after 1 day"),
        Case(
            "hit",
            call(S3, "DeleteBucketPolicy", {"bucketName": TRAIL_BUCKET, "policy": ""}),
            "DeleteBucketPolicy",
        ),
        Case(
            "failed",
            call(S3, "DeleteBucket", {"bucketName": TRAIL_BUCKET}, error=DENIED),
            "attempted: DeleteBucket",
        ),
        Case(
            "self",
            call(S3, "PutBucketLifecycle", LIFECYCLE(30), identity=ROLE),
            "logs expire after 30 days",
        ),
        Case(
            "benign", call(S3, "PutBucketLifecycle", LIFECYCLE(730)), None
        ),  # keeps the logs two years
        Case("benign", call(S3, "PutBucketLifecycle", LIFECYCLE(1, "Disabled")), None),
        Case(
            "benign",
            call(S3, "PutBucketLifecycle", {**LIFECYCLE(1), "bucketName": "app-assets"}),
            None,
        ),
    ],
    "dns_query_logging_removed": [
        Case(
            "hit",
            call(
                R53R,
                "DeleteResolverQueryLogConfig",
                {"originSequenceNumber": 0, "resolverQueryLogConfigId": "rqlc-5aa5"},
                {"resolverQueryLogConfig": {"id": "rqlc-5aa5", "status": "DELETING"}},
            ),
            "DNS query logging removed",
        ),
        Case(
            "hit",
            call(
                R53R,
                "DisassociateResolverQueryLogConfig",
                {"resolverQueryLogConfigId": "rqlc-5aa5", "resourceId": "vpc-0a1"},
            ),
            "DNS query logging removed",
        ),
        Case(
            "failed",
            call(
                R53R,
                "DeleteResolverQueryLogConfig",
                {"resolverQueryLogConfigId": "rqlc-5aa5"},
                error=DENIED,
            ),
            "attempted: DNS query logging removed",
        ),
        Case(
            "self",
            call(
                R53R,
                "DisassociateResolverQueryLogConfig",
                {"resolverQueryLogConfigId": "rqlc-5aa5", "resourceId": "vpc-0a1"},
                identity=ROLE,
            ),
            "DNS query logging removed",
        ),
        Case(
            "benign",
            call(
                R53R,
                "AssociateResolverQueryLogConfig",
                {"resolverQueryLogConfigId": "rqlc-5aa5", "resourceId": "vpc-0a1"},
            ),
            None,
        ),
    ],
    "guardduty_detector_deleted": [
        Case("hit", call(GD, "DeleteDetector", {"detectorId": "12abc34d"}), "detector deleted"),
        Case(
            "failed",
            call(GD, "DeleteDetector", {"detectorId": "12abc34d"}, error=DENIED),
            "attempted: detector deleted",
        ),
        Case(
            "self",
            call(GD, "DeleteDetector", {"detectorId": "12abc34d"}, identity=ROLE),
            "detector deleted",
        ),
        Case(
            "benign", call(GD, "CreateDetector", {"enable": True}, {"detectorId": "12abc34d"}), None
        ),
    ],
    "guardduty_detector_disabled": [
        Case(
            "hit",
            call(GD, "UpdateDetector", {"detectorId": "d0", "enable": False}),
            "detector disabled (enable=false)",
        ),
        Case(
            "hit",
            call(
                GD,
                "UpdateDetector",
                {
                    "detectorId": "d0",
                    "features": [{"name": "RUNTIME_MONITORING", "status": "DISABLED"}],
                },
            ),
            "protection features disabled: RUNTIME_MONITORING",
        ),
        Case(
            "failed",
            call(GD, "UpdateDetector", {"detectorId": "d0", "enable": False}, error=DENIED),
            "attempted: detector disabled (enable=false)",
        ),
        Case(
            "self",
            call(
                GD,
                "UpdateDetector",
                {"detectorId": "d0", "dataSources": {"s3Logs": {"enable": False}}},
                identity=ROLE,
            ),
            "data sources disabled: s3Logs",
        ),
        Case(
            "benign",
            call(
                GD,
                "UpdateDetector",
                {"detectorId": "d0", "findingPublishingFrequency": "SIX_HOURS"},
            ),
            None,
        ),
    ],
    "guardduty_trusted_ip_list": [
        Case(
            "hit",
            call(
                GD,
                "CreateIPSet",
                {
                    "detectorId": "d0",
                    "name": "ok",
                    "format": "TXT",
                    "location": "s3://attacker/ips.txt",
                    "activate": True,
                },
            ),
            "trusted IP list s3://attacker/ips.txt",
        ),
        Case(
            "failed",
            call(
                GD,
                "UpdateIPSet",
                {"detectorId": "d0", "ipSetId": "i1", "location": "s3://attacker/ips.txt"},
                error=DENIED,
            ),
            "attempted: trusted IP list s3://attacker/ips.txt",
        ),
        Case(
            "self",
            call(
                GD,
                "UpdateIPSet",
                {"detectorId": "d0", "ipSetId": "i1", "activate": True},
                identity=ROLE,
            ),
            "trusted IP list",
        ),
        Case(
            "benign",
            call(
                GD,
                "CreateThreatIntelSet",
                {"detectorId": "d0", "name": "bad", "location": "s3://b/bad.txt"},
            ),
            None,
        ),
    ],
    "guardduty_auto_archive_filter": [
        Case(
            "hit",
            call(GD, "CreateFilter", {"detectorId": "d0", "name": "quiet", "action": "ARCHIVE"}),
            "findings filter that archives automatically",
        ),
        Case(
            "failed",
            call(
                GD,
                "UpdateFilter",
                {"detectorId": "d0", "filterName": "quiet", "action": "ARCHIVE"},
                error=DENIED,
            ),
            "attempted: findings filter that archives automatically",
        ),
        Case(
            "self",
            call(
                GD,
                "UpdateFilter",
                {"detectorId": "d0", "filterName": "quiet", "action": "archive"},
                identity=ROLE,
            ),
            "findings filter that archives automatically",
        ),
        Case(
            "benign",
            call(GD, "CreateFilter", {"detectorId": "d0", "name": "view", "action": "NOOP"}),
            None,
        ),
    ],
    "guardduty_publishing_removed": [
        Case(
            "hit",
            call(GD, "DeletePublishingDestination", {"detectorId": "d0", "destinationId": "dest1"}),
            "publishing destination deleted",
        ),
        Case(
            "failed",
            call(
                GD,
                "DeletePublishingDestination",
                {"detectorId": "d0", "destinationId": "dest1"},
                error=DENIED,
            ),
            "attempted: publishing destination deleted",
        ),
        Case(
            "self",
            call(
                GD,
                "DeletePublishingDestination",
                {"detectorId": "d0", "destinationId": "dest1"},
                identity=ROLE,
            ),
            "publishing destination deleted",
        ),
        Case(
            "benign",
            call(GD, "UpdatePublishingDestination", {"detectorId": "d0", "destinationId": "dest1"}),
            None,
        ),
    ],
    "guardduty_member_disassociated": [
        Case(
            "hit",
            call(GD, "DisassociateFromAdministratorAccount", {"detectorId": "d1"}),
            "account left its GuardDuty administrator",
        ),
        Case(
            "failed",
            call(GD, "DisassociateFromMasterAccount", {"detectorId": "d1"}, error=DENIED),
            "attempted: account left its GuardDuty administrator",
        ),
        Case(
            "self",
            call(GD, "DisassociateFromAdministratorAccount", {"detectorId": "d1"}, identity=ROLE),
            "account left its GuardDuty administrator",
        ),
        Case(
            "benign",
            call(
                GD,
                "AcceptAdministratorInvitation",
                {"detectorId": "d1", "administratorId": OUTSIDE},
            ),
            None,
        ),
    ],
    "lambda_layer_added": [
        Case(
            "hit",
            call(
                LAMBDA,
                "UpdateFunctionConfiguration20150331v2",
                {
                    "functionName": "billing",
                    "layers": [f"arn:aws:lambda:us-east-1:{OUTSIDE}:layer:hook:3"],
                },
            ),
            f"layers set: arn:aws:lambda:us-east-1:{OUTSIDE}:layer:hook:3 (1 from another account)",
        ),
        Case(
            "failed",
            call(
                LAMBDA,
                "UpdateFunctionConfiguration20150331v2",
                {
                    "functionName": "billing",
                    "layers": [f"arn:aws:lambda:us-east-1:{OWN}:layer:common:7"],
                },
                error=DENIED,
            ),
            f"attempted: layers set: arn:aws:lambda:us-east-1:{OWN}:layer:common:7",
        ),
        Case(
            "self",
            call(
                LAMBDA,
                "UpdateFunctionConfiguration20150331",
                {
                    "functionName": "billing",
                    "layers": [f"arn:aws:lambda:us-east-1:{OWN}:layer:common:7"],
                },
                identity=ROLE,
            ),
            f"layers set: arn:aws:lambda:us-east-1:{OWN}:layer:common:7",
        ),
        Case(
            "benign",
            call(
                LAMBDA,
                "UpdateFunctionConfiguration20150331v2",
                {"functionName": "billing", "memorySize": 512},
            ),
            None,
        ),
        Case(
            "benign",
            call(
                LAMBDA,
                "UpdateFunctionConfiguration20150331v2",
                {"functionName": "billing", "layers": []},
            ),
            None,
        ),
    ],
    "lambda_code_replaced": [
        Case(
            "hit",
            call(
                LAMBDA,
                "UpdateFunctionCode20150331v2",
                {"functionName": "billing", "publish": True, "zipFile": "<sensitiveDataRemoved>"},
            ),
            "function code replaced from a zip file",
        ),
        Case(
            "hit",
            call(
                LAMBDA,
                "UpdateFunctionCode20150331v2",
                {"functionName": "billing", "s3Bucket": "drop", "s3Key": "x.zip"},
            ),
            "function code replaced from s3://drop/x.zip",
        ),
        Case(
            "failed",
            call(
                LAMBDA,
                "UpdateFunctionCode20150331v2",
                {
                    "functionName": "billing",
                    "imageUri": f"{OUTSIDE}.dkr.ecr.us-east-1.amazonaws.com/x:latest",
                },
                error=DENIED,
            ),
            f"attempted: function code replaced from {OUTSIDE}.dkr.ecr.us-east-1.amazonaws.com/x:latest",
        ),
        Case(
            "self",
            call(
                LAMBDA,
                "UpdateFunctionCode20150331v2",
                {"functionName": "billing", "zipFile": "<sensitiveDataRemoved>"},
                identity=ROLE,
            ),
            "function code replaced from a zip file",
        ),
        Case("benign", call(LAMBDA, "GetFunction20150331v2", {"functionName": "billing"}), None),
        Case("benign", call(LAMBDA, "PublishVersion20150331", {"functionName": "billing"}), None),
    ],
    "lambda_policy_public": [
        Case(
            "hit",
            call(
                LAMBDA,
                "AddPermission20150331v2",
                {
                    "action": "lambda:InvokeFunction",
                    "functionName": "stratus-red-team-backdoor-f-func",
                    "principal": "*",
                    "statementId": "backdoor",
                },
                {
                    "statement": json.dumps(
                        {
                            "Sid": "backdoor",
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "lambda:InvokeFunction",
                        }
                    )
                },
            ),
            "any principal may call lambda:InvokeFunction (statement backdoor)",
        ),
        Case(
            "failed",
            call(
                LAMBDA,
                "AddPermission20150331",
                {
                    "action": "lambda:InvokeFunction",
                    "functionName": "billing",
                    "principal": "*",
                    "statementId": "open",
                },
                error=DENIED,
            ),
            "attempted: any principal may call lambda:InvokeFunction (statement open)",
        ),
        Case(
            "self",
            call(
                LAMBDA,
                "AddPermission20150331v2",
                {
                    "action": "lambda:InvokeFunction",
                    "functionName": "billing",
                    "principal": "*",
                    "principalOrgID": "o-a1b2c3d4e5",
                    "statementId": "org",
                },
            ),
            None,
        ),
        Case(
            "benign",
            call(
                LAMBDA,
                "AddPermission20150331v2",
                {
                    "action": "lambda:InvokeFunction",
                    "functionName": "processor",
                    "principal": "apigateway.amazonaws.com",
                    "statementId": "AllowAPIInvoke",
                    "sourceArn": f"arn:aws:execute-api:us-east-1:{OWN}:3c8y72vp6f/api/POST/watermark",
                },
            ),
            None,
        ),
        Case(
            "benign",
            call(
                LAMBDA,
                "RemovePermission20150331v2",
                {"functionName": "billing", "statementId": "backdoor"},
            ),
            None,
        ),
    ],
    "bedrock_unexpected_use": [
        Case(
            "hit",
            call(BEDROCK, "PutUseCaseForModelAccess", {"formData": "eyJ9"}),
            "model access turned on (PutUseCaseForModelAccess)",
        ),
        Case(
            "hit",
            call(
                BEDROCK,
                "CreateFoundationModelAgreement",
                {"modelId": "anthropic.claude-3-sonnet-20240229-v1:0", "offerToken": "t"},
            ),
            "model access turned on (CreateFoundationModelAgreement)",
        ),
        Case(
            "hit",
            call(BEDROCK, "InvokeModel", {"modelId": "anthropic.claude-3-sonnet-20240229-v1:0"}),
            "model anthropic.claude-3-sonnet-20240229-v1:0 invoked by an identity not expected to use Bedrock",
        ),
        Case(
            "failed",
            call(BEDROCK, "InvokeModel", {"modelId": "anthropic.claude-v2"}, error=DENIED),
            "attempted: model anthropic.claude-v2 invoked by an identity not expected to use Bedrock",
        ),
        Case(
            "self",
            call(BEDROCK, "InvokeModel", {"modelId": "anthropic.claude-v2"}, identity=ROLE),
            None,
        ),
        Case("benign", call(BEDROCK, "ListFoundationModels", None), None),
    ],
    # One identity reading five instances' secrets within the hour (three refused), beside reads that
    # are no burst: the burst is learned from all these records (batch only).
    "instance_secrets_enumerated": [
        Case(
            "hit",
            call(
                EC2,
                "GetPasswordData",
                {"instanceId": "i-0b1"},
                {"instanceId": "i-0b1", "passwordData": "<sensitiveDataRemoved>"},
            ),
            BURST_PASSWORD,
        ),
        Case(
            "failed",
            call(
                EC2,
                "GetPasswordData",
                {"instanceId": "i-0b2"},
                error="Client.UnauthorizedOperation",
            ),
            "attempted: " + BURST_PASSWORD,
        ),
        Case(
            "failed",
            call(
                EC2,
                "GetPasswordData",
                {"instanceId": "i-0b3"},
                error="Client.UnauthorizedOperation",
            ),
            "attempted: " + BURST_PASSWORD,
        ),
        Case(
            "failed",
            call(
                EC2,
                "DescribeInstanceAttribute",
                {"instanceId": "i-0b4", "attribute": "userData"},
                error="Client.UnauthorizedOperation",
            ),
            "attempted: " + BURST_USER_DATA,
        ),
        Case(
            "hit",
            call(
                EC2,
                "DescribeInstanceAttribute",
                {"instanceId": "i-0b5", "attribute": "userData"},
                {"instanceId": "i-0b5", "userData": {"value": "<sensitiveDataRemoved>"}},
            ),
            BURST_USER_DATA,
        ),
        Case(
            "self",
            call(
                EC2,
                "DescribeInstanceAttribute",
                {"instanceId": "i-0b1", "attribute": "userData"},
                identity=ROLE,
            ),
            None,
        ),
        Case(
            "benign",
            call(
                EC2,
                "DescribeInstanceAttribute",
                {"instanceId": "i-0b6", "attribute": "instanceType"},
            ),
            None,
        ),
    ],
    "ec2_unusual_instances": [
        Case(
            "hit",
            call(
                EC2,
                "RunInstances",
                {
                    "instanceType": "p2.xlarge",
                    "instancesSet": {"items": [{"maxCount": 1, "minCount": 1}]},
                    "availabilityZone": "us-west-2a",
                },
            ),
            "1 x p2.xlarge: p is a GPU or accelerated family",
        ),
        Case(
            "hit",
            call(
                EC2,
                "RunInstances",
                {
                    "instanceType": {"value": "t3.micro"},
                    "instancesSet": {
                        "items": [{"imageId": "ami-0a1", "maxCount": 50, "minCount": 1}]
                    },
                },
            ),
            "50 x t3.micro: 50 instances at once",
        ),
        Case(
            "failed",
            call(
                EC2,
                "RunInstances",
                {
                    "instanceType": "p2.xlarge",
                    "instancesSet": {
                        "items": [{"imageId": "ami-0a1", "maxCount": 10, "minCount": 1}]
                    },
                },
                error="Client.UnauthorizedOperation",
            ),
            "attempted: 10 x p2.xlarge: p is a GPU or accelerated family; 10 instances at once",
        ),
        Case(
            "self",
            call(
                EC2,
                "RunInstances",
                {
                    "instanceType": "g5.xlarge",
                    "instancesSet": {"items": [{"maxCount": 1, "minCount": 1}]},
                },
                identity={**ROLE, "invokedBy": "autoscaling.amazonaws.com"},
            ),
            "1 x g5.xlarge: g is a GPU or accelerated family",
        ),
        Case(
            "benign",
            call(
                EC2,
                "RunInstances",
                {
                    "instanceType": "t3.micro",
                    "instancesSet": {
                        "items": [{"imageId": "ami-0a1", "maxCount": 1, "minCount": 1}]
                    },
                },
            ),
            None,
        ),
    ],
    # Three secrets read with decryption within the hour (AUDIT_TOOLKIT_BURST_SECRETS is 3 in these
    # tests), one refused, beside reads that are no burst.
    "secrets_read_burst": [
        Case("hit", call(SM, "GetSecretValue", {"secretId": "prod/db"}), BURST_SECRET),
        Case(
            "failed",
            call(
                SM, "BatchGetSecretValue", {"secretIdList": ["prod/api", "prod/db"]}, error=DENIED
            ),
            "attempted: " + BURST_SECRET,
        ),
        Case(
            "hit",
            call(
                "ssm.amazonaws.com",
                "GetParameters",
                {"names": ["/prod/token"], "withDecryption": True},
            ),
            BURST_SECRET,
        ),
        Case("self", call(SM, "GetSecretValue", {"secretId": "ops/own"}, identity=ROLE), None),
        Case(
            "benign",
            call(
                "ssm.amazonaws.com", "GetParameter", {"name": "/prod/ami", "withDecryption": False}
            ),
            None,
        ),
    ],
    "ec2_instance_connect_key": [
        Case(
            "hit",
            call(
                "ec2-instance-connect.amazonaws.com",
                "SendSSHPublicKey",
                {
                    "instanceId": "i-0a1",
                    "instanceOSUser": "ec2-user",
                    "sSHPublicKey": "ssh-ed25519 AAAA",
                },
            ),
            "SSH public key sent",
        ),
        Case(
            "failed",
            call(
                "ec2-instance-connect.amazonaws.com",
                "SendSerialConsoleSSHPublicKey",
                {"instanceId": "i-0a1", "serialPort": 0, "sSHPublicKey": "ssh-ed25519 AAAA"},
                error=DENIED,
            ),
            "attempted: SSH public key sent",
        ),
        Case(
            "self",
            call(
                "ec2-instance-connect.amazonaws.com",
                "SendSSHPublicKey",
                {
                    "instanceId": "i-0a1",
                    "instanceOSUser": "alice",
                    "sSHPublicKey": "ssh-ed25519 AAAA",
                },
                identity=ROLE,
            ),
            "SSH public key sent",
        ),
        Case(
            "benign",
            call(EC2, "DescribeInstances", {"instancesSet": {"items": [{"instanceId": "i-0a1"}]}}),
            None,
        ),
    ],
    "ec2_serial_console_enabled": [
        Case(
            "hit",
            call(EC2, "EnableSerialConsoleAccess", {}, {"serialConsoleAccessEnabled": True}),
            "serial console access enabled for the account",
        ),
        Case(
            "failed",
            call(EC2, "EnableSerialConsoleAccess", {}, error="Client.UnauthorizedOperation"),
            "attempted: serial console access enabled for the account",
        ),
        Case(
            "self",
            call(EC2, "EnableSerialConsoleAccess", None, identity=ROOT_CONSOLE),
            "serial console access enabled for the account",
        ),
        Case(
            "benign",
            call(EC2, "DisableSerialConsoleAccess", {}, {"serialConsoleAccessEnabled": False}),
            None,
        ),
        Case(
            "benign",
            call(EC2, "GetSerialConsoleAccessStatus", {}, {"serialConsoleAccessEnabled": False}),
            None,
        ),
    ],
    "ec2_key_pair_imported": [
        Case(
            "hit",
            call(EC2, "ImportKeyPair", {"keyName": "backup", "publicKeyMaterial": "c3No"}),
            "key pair imported",
        ),
        Case(
            "failed",
            call(EC2, "ImportKeyPair", {"keyName": "backup"}, error="Client.UnauthorizedOperation"),
            "attempted: key pair imported",
        ),
        Case(
            "self",
            call(EC2, "ImportKeyPair", {"keyName": "alice-laptop"}, identity=ROLE),
            "key pair imported",
        ),
        Case("benign", call(EC2, "CreateKeyPair", {"keyName": "generated"}), None),
    ],
    "ssm_session_started": [
        Case(
            "hit",
            call(
                "ssm.amazonaws.com", "StartSession", {"target": "i-0a1"}, {"sessionId": "alice-0a1"}
            ),
            "Session Manager shell",
        ),
        Case(
            "failed",
            call("ssm.amazonaws.com", "StartSession", {"target": "i-0a1"}, error=DENIED),
            "attempted: Session Manager shell",
        ),
        Case(
            "self",
            call("ssm.amazonaws.com", "StartSession", {"target": "i-0a1"}, identity=ROLE),
            "Session Manager shell",
        ),
        Case(
            "benign",
            call("ssm.amazonaws.com", "TerminateSession", {"sessionId": "alice-0a1"}),
            None,
        ),
    ],
    "ssm_command_sent": [
        Case(
            "hit",
            call(
                "ssm.amazonaws.com",
                "SendCommand",
                {
                    "instanceIds": ["i-0a1"],
                    "documentName": "AWS-RunShellScript",
                    "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
                },
            ),
            "command sent",
        ),
        Case(
            "failed",
            call(
                "ssm.amazonaws.com",
                "SendCommand",
                {"documentName": "AWS-RunShellScript"},
                error=DENIED,
            ),
            "attempted: command sent",
        ),
        Case(
            "self",
            call(
                "ssm.amazonaws.com",
                "SendCommand",
                {"documentName": "AWS-RunPatchBaseline"},
                identity=ROLE,
            ),
            "command sent",
        ),
        Case(
            "benign", call("ssm.amazonaws.com", "ListCommandInvocations", {"commandId": "c1"}), None
        ),
    ],
    "ec2_user_data_replaced": [
        Case(
            "hit",
            call(
                EC2,
                "ModifyInstanceAttribute",
                {"instanceId": "i-0a1", "userData": "<sensitiveDataRemoved>"},
                {"_return": True},
            ),
            "instance user data replaced (runs as root at the next start)",
        ),
        Case(
            "hit",
            call(
                EC2,
                "ModifyInstanceAttribute",
                {"instanceId": "i-0a1", "attribute": "userData", "value": "<sensitiveDataRemoved>"},
            ),
            "instance user data replaced (runs as root at the next start)",
        ),
        Case(
            "failed",
            call(
                EC2,
                "ModifyInstanceAttribute",
                {"instanceId": "i-0a1", "userData": "<sensitiveDataRemoved>"},
                error="Client.IncorrectInstanceState",
            ),
            "attempted: instance user data replaced (runs as root at the next start)",
        ),
        Case(
            "self",
            call(
                EC2,
                "ModifyInstanceAttribute",
                {"instanceId": "i-0a1", "userData": "<sensitiveDataRemoved>"},
                identity=ROLE,
            ),
            "instance user data replaced (runs as root at the next start)",
        ),
        Case(
            "benign",
            call(
                EC2,
                "ModifyInstanceAttribute",
                {"instanceId": "i-0a1", "instanceType": {"value": "t3.nano"}},
            ),
            None,
        ),
        Case(
            "benign",
            call(
                EC2, "DescribeInstanceAttribute", {"instanceId": "i-0a1", "attribute": "userData"}
            ),
            None,
        ),
    ],
    # Shapes as CloudTrail logs them: the flat and the nested forms are the invictus run's own
    # AuthorizeSecurityGroupIngress calls; ModifySecurityGroupRules in PascalCase, with an
    # anonymised /0 (still the whole internet).
    "ssh_exposure_opened": [
        Case("hit", call(EC2, "AuthorizeSecurityGroupIngress", SSH_FLAT), "allows port 22 from 0.0.0.0/0"),
        Case("hit", call(EC2, "AuthorizeSecurityGroupIngress", SG_NESTED("::/0")),
             "allows port 22 from ::/0"),
        Case("hit", call(EC2, "ModifySecurityGroupRules", SG_MODIFY("203.0.113.9/0")),
             "allows port 22 from 203.0.113.9/0"),
        Case("hit", call(EC2, "AuthorizeSecurityGroupIngress", None),
             "a rule of unknown content (the request is not in the event): it may open a watched port"),
        Case("failed", call(EC2, "AuthorizeSecurityGroupIngress", SSH_FLAT, error="Client.UnauthorizedOperation"),
             "attempted: allows port 22 from 0.0.0.0/0"),
        Case("self", call(EC2, "AuthorizeSecurityGroupIngress", {**SSH_FLAT, "cidrIp": "198.51.100.7/32"}),
             None),
        Case("benign", call(EC2, "AuthorizeSecurityGroupIngress", SG_NESTED("0.0.0.0/0", port=443)), None),
        Case("benign", call(EC2, "ModifySecurityGroupRules", SG_MODIFY("10.0.0.0/8")), None),
    ],
    "nacl_ssh_open": [
        Case(
            "hit",
            call(EC2, "CreateNetworkAclEntry", NACL),
            "rule 100 allows port 22 from 0.0.0.0/0",
        ),
        Case(
            "failed",
            call(EC2, "ReplaceNetworkAclEntry", NACL, error="Client.UnauthorizedOperation"),
            "attempted: rule 100 allows port 22 from 0.0.0.0/0",
        ),
        Case("self", call(EC2, "CreateNetworkAclEntry", {**NACL, "cidrBlock": "10.0.0.0/8"}), None),
        Case("benign", call(EC2, "CreateNetworkAclEntry", {**NACL, "egress": True}), None),
    ],
    "root_used": [
        Case("hit", call(S3, "ListBuckets", None, identity=ROOT), "root called ListBuckets"),
        Case(
            "hit",
            call(
                IAM,
                "CreateAccessKey",
                None,
                {"accessKey": {"userName": "root"}},
                identity=ROOT_CONSOLE,
            ),
            "root called CreateAccessKey",
        ),
        Case(
            "hit",
            signin("PasswordUpdated", "Success", identity=ROOT),
            "root called PasswordUpdated",
        ),
        Case(
            "failed",
            signin("PasswordUpdated", "Failure", identity=ROOT),
            "attempted: root called PasswordUpdated",
        ),
        Case(
            "failed",
            call(
                IAM,
                "DeleteAccessKey",
                {"accessKeyId": "AKIA0"},
                error=DENIED,
                identity=ROOT_CONSOLE,
            ),
            "attempted: root called DeleteAccessKey",
        ),
        Case("self", call(IAM, "GetAccountSummary", None, identity=ROOT_BY_SERVICE), None),
        Case("benign", call(S3, "ListBuckets", None), None),
    ],
    "console_login_without_mfa": [
        Case("hit", signin("ConsoleLogin", "Success", mfa="No"), "console sign-in without MFA"),
        Case(
            "failed",
            signin("ConsoleLogin", "Failure", mfa="No", errorMessage="Failed authentication"),
            None,
        ),
        Case(
            "self",
            signin("ConsoleLogin", "Success", mfa="No", identity={**ROLE, "type": "AssumedRole"}),
            None,
        ),
        Case("benign", signin("ConsoleLogin", "Success", mfa="Yes"), None),
    ],
    "console_login_failed": [
        Case(
            "hit",
            signin("ConsoleLogin", "Failure", mfa="No", errorMessage="Failed authentication"),
            "console sign-in failed: Failed authentication",
        ),
        Case(
            "failed", signin("CheckMfa", "Failure"), "console sign-in failed at CheckMfa: Failure"
        ),
        Case(
            "failed",
            signin(
                "ExternalIdPDirectoryLogin",
                "Failure",
                identity={"type": "Unknown", "accountId": OWN},
            ),
            "console sign-in failed at ExternalIdPDirectoryLogin: Failure",
        ),
        Case("self", signin("ConsoleLogin", "Success", identity=ROOT), None),
        Case("benign", signin("CheckMfa", "Success"), None),
    ],
    "credential_for_other_user": [
        Case(
            "hit",
            call(
                IAM,
                "CreateAccessKey",
                {"userName": "bob"},
                {"accessKey": {"userName": "bob", "status": "Active"}},
            ),
            "access key created for user bob",
        ),
        Case(
            "hit",
            call(IAM, "UpdateLoginProfile", {"userName": "bob", "passwordResetRequired": False}),
            "console password changed for user bob",
        ),
        Case(
            "hit",
            call(
                IAM, "UploadSSHPublicKey", {"userName": "bob", "sSHPublicKeyBody": "ssh-rsa AAAA"}
            ),
            "SSH public key uploaded for user bob",
        ),
        Case(
            "hit",
            call(
                IAM,
                "CreateServiceSpecificCredential",
                {"userName": "bob", "serviceName": "codecommit.amazonaws.com"},
            ),
            "service-specific credential created for user bob",
        ),
        Case(
            "hit",
            call(
                IAM,
                "EnableMFADevice",
                {"userName": "bob", "serialNumber": f"arn:aws:iam::{OWN}:mfa/attacker"},
            ),
            "MFA device enabled for user bob",
        ),
        Case(
            "hit",
            call(
                IAM,
                "CreateLoginProfile",
                {"userName": "alice", "passwordResetRequired": False},
                identity=ROLE,
            ),
            "console password created for user alice",
        ),  # a role session named alice is not user alice
        Case(
            "hit",
            call(IAM, "CreateAccessKey", {"userName": "bob"}, identity=ROOT_CONSOLE),
            "access key created for user bob",
        ),
        Case(
            "failed",
            call(IAM, "UpdateLoginProfile", {"userName": "bob"}, error=DENIED),
            "attempted: console password changed for user bob",
        ),
        Case("self", call(IAM, "CreateAccessKey", {"userName": "alice"}), None),
        Case("self", call(IAM, "CreateAccessKey", None, identity=ROOT_CONSOLE), None),
        Case(
            "self",
            call(
                IAM, "UploadSSHPublicKey", {"userName": "alice", "sSHPublicKeyBody": "ssh-rsa AAAA"}
            ),
            None,
        ),
        Case(
            "benign", call(IAM, "ChangePassword", None), None
        ),  # a user changing their own password
        Case("benign", call(IAM, "DeleteLoginProfile", {"userName": "bob"}), None),
    ],
    "sts_federation_token": [
        Case(
            "hit",
            call(
                "sts.amazonaws.com",
                "GetFederationToken",
                {
                    "name": "bob",
                    "durationSeconds": 129600,
                    "policy": json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                        }
                    ),
                },
                {
                    "federatedUser": {
                        "federatedUserId": f"{OWN}:bob",
                        "arn": f"arn:aws:sts::{OWN}:federated-user/bob",
                    }
                },
            ),
            "federation token for bob (session policy allows * on *)",
        ),
        Case(
            "hit",
            call(
                "sts.amazonaws.com",
                "GetFederationToken",
                {
                    "name": "proxy",
                    "policy": json.dumps(
                        {
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": ["s3:GetObject"],
                                    "Resource": "arn:aws:s3:::b/*",
                                }
                            ]
                        }
                    ),
                },
            ),
            "federation token for proxy (session policy allows s3:GetObject)",
        ),
        Case(
            "failed",
            call(
                "sts.amazonaws.com",
                "GetFederationToken",
                {"name": "bob"},
                error=DENIED,
                identity=ROLE,
            ),
            "attempted: federation token for bob (no inline session policy)",
        ),
        Case(
            "self",
            call(
                "sts.amazonaws.com",
                "GetFederationToken",
                {
                    "name": "alice",
                    "policyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
                },
            ),
            "federation token for alice (no inline session policy; managed session policies "
            "arn:aws:iam::aws:policy/ReadOnlyAccess)",
        ),
        Case(
            "benign", call("sts.amazonaws.com", "GetSessionToken", {"durationSeconds": 3600}), None
        ),
        Case("benign", call("sts.amazonaws.com", "GetCallerIdentity", None), None),
    ],
    "roles_anywhere_trust": [
        Case(
            "hit",
            call(
                RA,
                "CreateTrustAnchor",
                {
                    "name": "ca",
                    "enabled": True,
                    "source": {
                        "sourceType": "CERTIFICATE_BUNDLE",
                        "sourceData": {"x509CertificateData": "MIIB"},
                    },
                },
                {"trustAnchor": {"name": "ca", "trustAnchorId": "ta-1"}},
            ),
            "Roles Anywhere trust anchor set (CERTIFICATE_BUNDLE)",
        ),
        Case(
            "hit",
            call(
                RA,
                "CreateProfile",
                {"name": "p", "enabled": True, "roleArns": [f"arn:aws:iam::{OWN}:role/ops"]},
            ),
            f"Roles Anywhere profile for arn:aws:iam::{OWN}:role/ops",
        ),
        Case(
            "failed",
            call(
                RA,
                "UpdateTrustAnchor",
                {"trustAnchorId": "ta-1", "source": {"sourceType": "AWS_ACM_PCA"}},
                error=DENIED,
            ),
            "attempted: Roles Anywhere trust anchor set (AWS_ACM_PCA)",
        ),
        Case(
            "self",
            call(
                RA,
                "CreateProfile",
                {"name": "p", "roleArns": [f"arn:aws:iam::{OWN}:role/ops"]},
                identity=ROLE,
            ),
            f"Roles Anywhere profile for arn:aws:iam::{OWN}:role/ops",
        ),
        Case("benign", call(RA, "ListTrustAnchors", None), None),
        Case("benign", call(RA, "DisableTrustAnchor", {"trustAnchorId": "ta-1"}), None),
    ],
    "iam_user_created": [
        Case(
            "hit",
            call(
                IAM, "CreateUser", {"userName": "svc-backup"}, {"user": {"userName": "svc-backup"}}
            ),
            "CreateUser",
        ),
        Case(
            "failed",
            call(IAM, "CreateUser", {"userName": "svc-backup"}, error=DENIED),
            "attempted: CreateUser",
        ),
        Case(
            "self",
            call(IAM, "CreateLoginProfile", {"userName": "alice", "passwordResetRequired": True}),
            "CreateLoginProfile",
        ),
        Case("benign", call(IAM, "CreateGroup", {"groupName": "ops"}), None),
    ],
    "iam_admin_policy_attached": [
        Case(
            "hit",
            call(IAM, "AttachUserPolicy", {"userName": "svc", "policyArn": ADMIN}),
            "AdministratorAccess attached",
        ),
        Case(
            "hit",
            call(
                IAM,
                "PutRolePolicy",
                {
                    "roleName": "r",
                    "policyName": "all",
                    "policyDocument": json.dumps(
                        {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
                    ),
                },
            ),
            "inline policy all allows * on *",
        ),
        Case(
            "failed",
            call(IAM, "AttachRolePolicy", {"roleName": "r", "policyArn": ADMIN}, error=DENIED),
            "attempted: AdministratorAccess attached",
        ),
        Case(
            "self",
            call(IAM, "AttachUserPolicy", {"userName": "alice", "policyArn": ADMIN}),
            "AdministratorAccess attached",
        ),
        Case(
            "benign",
            call(
                IAM,
                "AttachUserPolicy",
                {"userName": "alice", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
            ),
            None,
        ),
    ],
    "role_trust_external": [
        Case(
            "hit",
            call(
                IAM, "UpdateAssumeRolePolicy", {"roleName": "ops", "policyDocument": TRUST(OUTSIDE)}
            ),
            f"role trusts arn:aws:iam::{OUTSIDE}:root",
        ),
        Case(
            "failed",
            call(
                IAM,
                "CreateRole",
                {"roleName": "back", "assumeRolePolicyDocument": TRUST(OUTSIDE)},
                error=DENIED,
            ),
            f"attempted: role trusts arn:aws:iam::{OUTSIDE}:root",
        ),
        Case(
            "self",
            call(IAM, "UpdateAssumeRolePolicy", {"roleName": "ops", "policyDocument": TRUST(OWN)}),
            None,
        ),
        Case(
            "benign",
            call(
                IAM,
                "CreateRole",
                {
                    "roleName": "lambda",
                    "assumeRolePolicyDocument": json.dumps(
                        {
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Principal": {"Service": "lambda.amazonaws.com"},
                                    "Action": "sts:AssumeRole",
                                }
                            ]
                        }
                    ),
                },
            ),
            None,
        ),
    ],
    "resource_shared_externally": [
        Case(
            "hit",
            call(EC2, "ModifySnapshotAttribute", SNAPSHOT("add", {"userId": OUTSIDE})),
            f"shared with {OUTSIDE}",
        ),
        Case(
            "hit",
            call(
                EC2,
                "ModifyImageAttribute",
                {
                    "imageId": "ami-0a1",
                    "attributeType": "launchPermission",
                    "launchPermission": {"add": {"items": [{"group": "all"}]}},
                },
            ),
            "shared with everyone",
        ),
        Case(
            "hit",
            call(
                EC2,
                "ModifyImageAttribute",
                {
                    "imageId": "ami-0a1",
                    "launchPermission": {"add": {"items": [{"group": "admins"}]}},
                },
            ),
            "request could not be read (group 'admins' is not 'all', the only group AWS accepts)",
        ),
        Case(
            "hit",
            call(
                "rds.amazonaws.com",
                "ModifyDBSnapshotAttribute",
                {
                    "dBSnapshotIdentifier": "db-snap",
                    "attributeName": "restore",
                    "valuesToAdd": ["all"],
                },
            ),
            "shared with everyone",
        ),
        Case(
            "failed",
            call(
                "rds.amazonaws.com",
                "ModifyDBClusterSnapshotAttribute",
                {
                    "dBClusterSnapshotIdentifier": "c-snap",
                    "attributeName": "restore",
                    "valuesToAdd": [OUTSIDE],
                },
                error=DENIED,
            ),
            f"attempted: shared with {OUTSIDE}",
        ),
        Case("self", call(EC2, "ModifySnapshotAttribute", SNAPSHOT("add", {"userId": OWN})), None),
        Case(
            "benign",
            call(EC2, "ModifySnapshotAttribute", SNAPSHOT("remove", {"userId": OUTSIDE})),
            None,
        ),
    ],
    "s3_public_access": [
        Case(
            "hit",
            call(
                S3,
                "PutBucketAcl",
                {
                    "bucketName": "site",
                    "Host": "site.s3.amazonaws.com",
                    "acl": "",
                    "x-amz-acl": ["public-read"],
                },
            ),
            "canned ACL public-read",
        ),
        Case(
            "hit",
            call(
                S3,
                "PutBucketPolicy",
                {"bucketName": "site", "bucketPolicy": PUBLIC_POLICY, "policy": ""},
            ),
            "bucket policy allows everyone",
        ),
        Case(
            "hit",
            call(
                S3, "DeleteBucketPublicAccessBlock", {"bucketName": "site", "publicAccessBlock": ""}
            ),
            "public access block removed",
        ),
        Case(
            "failed",
            call(
                "s3control.amazonaws.com",
                "DeletePublicAccessBlock",
                {"accountId": OWN},
                error=DENIED,
            ),
            "attempted: public access block removed",
        ),
        Case(
            "self", call(S3, "PutBucketAcl", {"bucketName": "site", "x-amz-acl": ["private"]}), None
        ),
        Case(
            "benign",
            call(
                S3,
                "PutBucketPublicAccessBlock",
                {
                    "bucketName": "site",
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "IgnorePublicAcls": True,
                        "BlockPublicPolicy": True,
                        "RestrictPublicBuckets": True,
                    },
                },
            ),
            None,
        ),
    ],
    "config_recorder_stopped": [
        Case(
            "hit",
            call(
                "config.amazonaws.com",
                "StopConfigurationRecorder",
                {"configurationRecorderName": "default"},
            ),
            "StopConfigurationRecorder",
        ),
        Case(
            "failed",
            call(
                "config.amazonaws.com",
                "DeleteDeliveryChannel",
                {"deliveryChannelName": "default"},
                error=DENIED,
            ),
            "attempted: DeleteDeliveryChannel",
        ),
        Case(
            "self",
            call(
                "config.amazonaws.com",
                "DeleteConfigurationRecorder",
                {"configurationRecorderName": "default"},
                identity=ROLE,
            ),
            "DeleteConfigurationRecorder",
        ),
        Case(
            "benign",
            call(
                "config.amazonaws.com",
                "StartConfigurationRecorder",
                {"configurationRecorderName": "default"},
            ),
            None,
        ),
    ],
    "kms_key_deletion": [
        Case(
            "hit",
            call(
                "kms.amazonaws.com",
                "ScheduleKeyDeletion",
                {"keyId": "k1", "pendingWindowInDays": 7},
            ),
            "key deletion scheduled in 7 days",
        ),
        Case(
            "failed",
            call("kms.amazonaws.com", "DisableKey", {"keyId": "k1"}, error=DENIED),
            "attempted: key disabled",
        ),
        Case(
            "self",
            call("kms.amazonaws.com", "ScheduleKeyDeletion", {"keyId": "k1"}, identity=ROLE),
            "key deletion scheduled in 30 days",
        ),
        Case("benign", call("kms.amazonaws.com", "CancelKeyDeletion", {"keyId": "k1"}), None),
    ],
    "flow_logs_deleted": [
        Case(
            "hit",
            call(
                EC2,
                "DeleteFlowLogs",
                {"DeleteFlowLogsRequest": {"FlowLogId": {"tag": 1, "content": "fl-0a1"}}},
            ),
            "VPC flow logs deleted",
        ),
        Case(
            "failed",
            call(
                EC2,
                "DeleteFlowLogs",
                {"DeleteFlowLogsRequest": {"FlowLogId": {"tag": 1, "content": "fl-0a1"}}},
                error="Client.UnauthorizedOperation",
            ),
            "attempted: VPC flow logs deleted",
        ),
        Case(
            "self",
            call(EC2, "DeleteFlowLogs", {"flowLogIds": ["fl-0a2"]}, identity=ROLE),
            "VPC flow logs deleted",
        ),
        Case(
            "benign",
            call(
                EC2,
                "CreateFlowLogs",
                {"CreateFlowLogsRequest": {"ResourceId": {"tag": 1, "content": "vpc-1"}}},
            ),
            None,
        ),
    ],
    "organization_left": [
        Case(
            "hit",
            call("organizations.amazonaws.com", "LeaveOrganization", None, identity=ROOT),
            "account left the organization",
        ),
        Case(
            "failed",
            call(
                "organizations.amazonaws.com",
                "LeaveOrganization",
                None,
                error=DENIED,
                identity=ROLE,
            ),
            "attempted: account left the organization",
        ),
        Case(
            "self",
            call("organizations.amazonaws.com", "LeaveOrganization", None, identity=ROOT_CONSOLE),
            "account left the organization",
        ),
        Case("benign", call("organizations.amazonaws.com", "DescribeOrganization", None), None),
    ],
}

# The trail whose bucket `trail_bucket_changed` watches: the batch learns it from this call.
CREATE_TRAIL = call(
    CT, "CreateTrail", {"name": "org-trail", "s3BucketName": TRAIL_BUCKET}, {"name": "org-trail"}
)


def as_lists(value):
    """The request with each scalar field a one-element list, as CloudTrail logs S3's headers."""
    if isinstance(value, dict):
        return {k: as_lists(v) if isinstance(v, (dict, list)) else [v] for k, v in value.items()}
    if isinstance(value, list):
        return [as_lists(v) for v in value]
    return value
