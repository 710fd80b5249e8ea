"""The real-time alert: a Lambda handler for CloudTrail and GuardDuty events from EventBridge.

The flow the SRE team runs: CloudTrail / GuardDuty -> EventBridge rule -> SNS -> Lambda -> Chatwork.
The handler takes EventBridge events raw (rule target = Lambda) or inside SNS records (every record
of a batch), and posts:
- security-group operations, decided by the investigation's own normalizer
  (analysis.security_groups.changes_of, what `normalize` does per event) and exposure measure
  (analysis.exposure.exposed_ports_together: the union of the event's CIDRs, as the replay
  measures a group), so an alert and a later investigation agree on what opened SSH
  to the internet;
- every hit of the detection catalogue (analysis.detections: trail, GuardDuty and alert tampering,
  SNS subscription and topic changes, other ways into an instance, root use, sign-ins without MFA, ...),
  decided by the same `detections.evaluate` the batch `detect` uses, and shared under the same
  fingerprint (detection and event id), so `notify --kind detections` later does not post them again;
- other SNS subscription and topic calls (CreateTopic, ConfirmSubscription, ...), with their request;
- GuardDuty findings at or above ALERT_MIN_SEVERITY (default 4: Medium and up), flattened by
  evidence.guardduty_finding exactly as the batch flattens the S3 export; sample findings
  (additionalInfo.sample) only with ALERT_INCLUDE_SAMPLES=1, and then tagged as samples.
Messages come from the same renderer, client and outbox as `share`.

It runs on the Lambda Python runtime as it is: the standard library and boto3, nothing else
(tests/test_lambda_package.py installs `make lambda`'s zip beside boto3 alone and runs it).

Environment: CHATWORK_ROOM_ID; the token from CHATWORK_TOKEN_PARAMETER (an SSM SecureString, read
again every CHATWORK_TOKEN_TTL seconds, default 300, and at once after a 401) or, for local runs,
CHATWORK_API_TOKEN; ALERT_MIN_SEVERITY; ALERT_INCLUDE_SAMPLES; ALERT_OUTBOX (default /tmp, which
dedupes Lambda's retries within a warm container only); AUDIT_TOOLKIT_LANGUAGE and
AUDIT_TOOLKIT_DISPLAY_TZ as for the toolkit.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

from .analysis import detections
from .analysis.actors import resolve
from .analysis.events import Unreadable
from .analysis.exposure import exposed_ports_together
from .analysis.security_groups import EC2_GROUP_EVENTS, changes_of
from .chatwork import messages
from .chatwork.client import API_BASE, ChatworkAuthError, ChatworkClient, Token, load_token
from .chatwork.outbox import Outbox
from .chatwork.share import ShareReport, outgoing, share
from .errors import ConfigError
from .evidence.guardduty_finding import finding_fields
from .settings import Settings

log = logging.getLogger(__name__)

CLOUDTRAIL_TYPES = ("AWS API Call via CloudTrail", "AWS Console Action via CloudTrail",
                    "AWS Console Sign In via CloudTrail")
SNS_EVENTS = ("Subscribe", "Unsubscribe", "SetSubscriptionAttributes", "ConfirmSubscription",
              "CreateTopic", "DeleteTopic", "SetTopicAttributes")
DEFAULT_MIN_SEVERITY = 4.0
# Catalogue detections whose hit on an EC2 security-group call is the sg-changes message itself.
SHOWN_AS_SG_CHANGE = ("ssh_exposure_opened",)
DEFAULT_TOKEN_TTL = 300.0  # seconds a token read from SSM is used before it is read again
_token_cache: dict[str, tuple[Token, float]] = {}


def eventbridge_events(event: Mapping) -> Iterator[dict]:
    """Every EventBridge event in a Lambda invocation: the event itself, or one per SNS record."""
    if "Records" not in event:
        yield dict(event)
        return
    for record in event["Records"]:
        sns = record.get("Sns") or record.get("sns")
        if not sns:
            log.warning("skipping a record that is not from SNS: %s", record.get("EventSource") or record.get("eventSource"))
            continue
        try:
            message = json.loads(sns["Message"])
        except (KeyError, TypeError, ValueError):
            log.warning("skipping an SNS record whose message is not JSON (MessageId %s)", sns.get("MessageId"))
            continue
        if isinstance(message, dict):
            yield message


def cloudtrail_row(detail: Mapping, event: Mapping | None = None) -> dict:
    """One CloudTrail record (an event's `detail`) as the row the `sg_changes` query returns for it,
    with the actor resolved as the batch resolves it (actors.resolve)."""
    identity = _object(detail.get("userIdentity"))
    context = _object(identity.get("sessionContext"))
    issuer = _object(context.get("sessionIssuer"))

    def text(value: Any) -> str | None:
        return None if value is None else json.dumps(value)

    row = {
        "eventtime": detail.get("eventTime"),
        "eventid": detail.get("eventID"),
        "eventname": detail.get("eventName"),
        "eventsource": detail.get("eventSource"),
        "account": detail.get("recipientAccountId") or (event or {}).get("account"),
        "region": detail.get("awsRegion") or (event or {}).get("region"),
        "identity_type": identity.get("type"),
        "principal_id": identity.get("principalId"),
        "identity_arn": identity.get("arn"),
        "identity_account": identity.get("accountId"),
        "invoked_by": identity.get("invokedBy"),
        "access_key_id": identity.get("accessKeyId"),
        "user_name": identity.get("userName"),
        "issuer_type": issuer.get("type"),
        "issuer_arn": issuer.get("arn"),
        "issuer_name": issuer.get("userName"),
        "mfa_authenticated": _object(context.get("attributes")).get("mfaAuthenticated"),
        "on_behalf_of": _object(identity.get("onBehalfOf")).get("userId"),
        "sourceipaddress": detail.get("sourceIPAddress"),
        "useragent": detail.get("userAgent"),
        "errorcode": detail.get("errorCode"),
        "errormessage": detail.get("errorMessage"),
        "requestparameters": text(detail.get("requestParameters")),
        "responseelements": text(detail.get("responseElements")),
        "additionaleventdata": text(detail.get("additionalEventData")),
    }
    return {**row, **resolve(row)}


def _object(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def boxes(event: Mapping, settings: Settings, min_severity: float = DEFAULT_MIN_SEVERITY,
          include_samples: bool = False) -> list[tuple[str, messages.Box, Mapping]]:
    """What one EventBridge event says to post, as (kind, box, identity); [] for anything not watched."""
    detail = event.get("detail") or {}
    kind = event.get("detail-type")
    if kind == "GuardDuty Finding":
        try:  # read as the batch flattens the S3 export, so the alert and `findings` say the same
            finding = finding_fields(detail)
        except ValueError as e:
            log.warning("GuardDuty finding in event %s: %s", event.get("id"), e)
            return []
        if finding["sample"] and not include_samples:
            log.info("GuardDuty sample finding %s left out (ALERT_INCLUDE_SAMPLES)", finding["id"])
            return []
        severity = finding["severity"]
        # A finding whose severity cannot be read (NaN) is shown, not dropped.
        if severity == severity and severity < min_severity:
            return []
        return [("guardduty", messages.guardduty_finding(finding, settings), finding)]
    if kind not in CLOUDTRAIL_TYPES:
        return []
    name, source = detail.get("eventName"), detail.get("eventSource")
    found = []
    row = cloudtrail_row(detail, event)
    if source == "ec2.amazonaws.com" and name in EC2_GROUP_EVENTS:
        try:
            rows = changes_of(row, {})
        except Unreadable as reason:
            # A member no writer of CloudTrail uses: the call is posted with its request, as read,
            # and the detections below still decide (one bad permission hid every alert of it).
            log.warning("security-group call %s: %s", detail.get("eventID"), reason)
            found.append(("api-call", messages.api_call(detail, settings, row),
                          {"event_id": detail.get("eventID")}))
            rows = []
        found += [("sg-changes", messages.sg_change(r, settings, exposed), r)
                  for r, exposed in zip(rows, exposed_ports_together(rows, settings))]
    # The detection catalogue, decided exactly as `Investigation.detect` decides it (root use included).
    context = detections.Context(settings, frozenset(settings.trail_buckets))
    hits = detections.evaluate(row, context)
    # A security-group opening is posted once, as the security-group message above says it.
    sg_call = source == "ec2.amazonaws.com" and name in EC2_GROUP_EVENTS
    shown = [h for h in hits if not (sg_call and h["detection"] in SHOWN_AS_SG_CHANGE)]
    found += [("detections", messages.detection_hit(hit, settings), hit) for hit in shown]
    if source == "sns.amazonaws.com" and name in SNS_EVENTS and not hits:
        # An SNS call no detection flags (CreateTopic, ...) still gets its own message, with the request.
        box = messages.api_call(detail, settings, row)
        found.append(("api-call", box, {"event_id": detail.get("eventID")}))
    return found


def handle(event: Mapping, client: ChatworkClient, room: str, settings: Settings, outbox: Outbox,
           min_severity: float = DEFAULT_MIN_SEVERITY, include_samples: bool = False) -> ShareReport:
    """Post what an invocation carries. Every record is rendered before anything is sent, so one bad
    record is logged and skipped without losing the others."""
    found = []
    for e in eventbridge_events(event):
        try:
            found += boxes(e, settings, min_severity, include_samples)
        except Exception:  # noqa: BLE001 - one malformed event must not hide the rest of the batch
            log.exception("could not read event %s (%s)", e.get("id"), e.get("detail-type"))
    out = outgoing(found)
    report = share(out, room, client=client, outbox=outbox, check_room=True) if out else ShareReport(room)
    log.info("posted %d messages, %d already posted", len(report.sent), len(report.skipped))
    return report


def _token(now: float | None = None) -> Token:
    """The token from the SSM SecureString CHATWORK_TOKEN_PARAMETER, read again once
    CHATWORK_TOKEN_TTL seconds have passed (so a rotated token is used without a cold start);
    CHATWORK_API_TOKEN locally."""
    name = os.environ.get("CHATWORK_TOKEN_PARAMETER")
    if not name:
        return load_token()
    now = time.monotonic() if now is None else now
    cached = _token_cache.get(name)
    if cached and now - cached[1] < _number("CHATWORK_TOKEN_TTL", DEFAULT_TOKEN_TTL):
        return cached[0]
    import boto3

    try:
        answer = boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)
        value = answer["Parameter"]["Value"]
    except Exception as e:  # botocore's errors name the parameter, never its value
        raise ConfigError(f"cannot read the Chatwork token from SSM parameter {name}: "
                          f"{type(e).__name__}") from e
    _token_cache[name] = (Token(value), now)
    return _token_cache[name][0]


def _number(name: str, default: float) -> float:
    text = os.environ.get(name) or ""
    try:
        return float(text) if text.strip() else default
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {text[:40]!r}") from None


def handler(event: dict, context: Any = None) -> dict:
    """The Lambda entry point (audit_toolkit.alerts.handler). A failure to deliver raises, so
    Lambda retries the invocation and then hands it to the on-failure destination
    (deploy/template.yaml)."""
    room = os.environ.get("CHATWORK_ROOM_ID")
    if not room:
        raise ConfigError("CHATWORK_ROOM_ID is not set")
    settings = Settings.load()
    min_severity = _number("ALERT_MIN_SEVERITY", DEFAULT_MIN_SEVERITY)
    samples = os.environ.get("ALERT_INCLUDE_SAMPLES", "").strip().lower() in ("1", "true", "yes")
    client = ChatworkClient(_token(), base_url=os.environ.get("CHATWORK_API_BASE") or API_BASE)
    outbox = Outbox(os.environ.get("ALERT_OUTBOX") or "/tmp/audit_toolkit_alerts.sqlite")
    try:
        report = handle(event, client, room, settings, outbox, min_severity, samples)
    except ChatworkAuthError:
        _token_cache.clear()  # a rotated token: the retry reads the new one
        raise
    finally:
        outbox.close()
    return {"posted": len(report.sent), "already_posted": len(report.skipped)}
