"""The detection catalogue: where an attacker blinds the alarms, opens another way in, or takes an identity.

Each detection has one query (`queries/detect_<id>.sql`, Athena SQL) that cuts the evidence down to its
candidate events, and one Python decision (`match`) that says whether a candidate event is a hit.
The batch investigation and the real-time Lambda both call `match` on rows of the same shape (the
columns every detection query selects), so the two cannot disagree about an event.

A failed call (`errorcode`) is a hit with outcome "attempt" and a detail that starts "attempted: ": a
StopLogging that failed did not stop logging, and is shown as what it was. A decision returns its
detail as a phrase of the catalogue with the fields it read (phrases.phrase); the hit keeps that
phrase (`detail_phrase`) beside its English text (`detail`), and each renderer says it in the
language of the settings (`detail_text`). Strings read from the
evidence are untrusted; they go into `target` and `detail` as data, and the renderers escape them. A
request whose fields a decision cannot read (a list where an object belongs, text for a port) is a hit
whose detail says so: a tampering call we cannot parse is still worth showing.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

if TYPE_CHECKING:  # pandas only where DataFrames are built: the Lambda imports this module bare
    import pandas as pd

from ..errors import ConfigError
from ..phrases import Items, Phrase, phrase, say
from ..settings import Settings
from .actors import resolve
from .events import Unreadable, error_blank, failed, json_object, json_text, records
from .exposure import exposed_ports
from .security_groups import changes_of

SEVERITIES = ("low", "medium", "high", "critical")
HIT_COLUMNS = [
    "detection", "severity", "title", "technique", "event_time", "account", "region", "event_source",
    "event_name", "outcome", "error_code", "target", "detail", "actor", "actor_type", "actor_arn",
    "source_ip", "tool", "event_id", "detail_phrase",
]


@dataclass(frozen=True)
class Context:
    """What a decision may know beyond the event itself."""

    settings: Settings = field(default_factory=Settings)
    trail_buckets: frozenset[str] = frozenset()  # buckets that receive a trail's logs
    security_rule_calls: frozenset[str] = frozenset()  # PutRule calls (event ids) on a rule that delivered security events
    # Calls (event ids) in one identity's burst of secret reads across instances (learn_bursts):
    # batch only, the Lambda sees one event at a time.
    burst_calls: frozenset[str] = frozenset()


Decision = tuple[str | None, Phrase] | None  # (target, detail) for a hit; None for no hit


@dataclass(frozen=True)
class Detection:
    id: str
    title_en: str
    title_ja: str
    severity: str
    technique: str  # MITRE ATT&CK id and name
    # event source -> event names read; empty: any event (see decide). A name ending in "*" is a
    # family: Lambda logs its calls with an API version, AddPermission20150331 and ...v2.
    events: Mapping[str, tuple[str, ...]]
    rationale: str
    false_positive: str
    decide: Callable[[dict, dict, Context], Decision]  # (row, requestparameters, context)

    @property
    def query(self) -> str:
        return f"detect_{self.id}"

    def title(self, language: str = "en") -> str:
        return self.title_ja if language == "ja" else self.title_en

    def reads(self, row: Mapping) -> bool:
        if not self.events:
            return True
        name = str(row.get("eventname"))
        return any(name == n or n.endswith("*") and name.startswith(n[:-1])
                   for n in self.events.get(row.get("eventsource") or "", ()))

    @property
    def event_names(self) -> tuple[str, ...]:
        return tuple(name for names in self.events.values() for name in names)


# --- reading request parameters -----------------------------------------------------------------

def _object(value: Any, what: str) -> dict:
    """A JSON object, {} for nothing; anything else is unreadable."""
    if value is None or isinstance(value, dict):
        return value or {}
    raise Unreadable(f"{what} is not an object")


def _port(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) or isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise Unreadable(f"{what} is not a port number")


def _json(text: Any) -> Any:
    if text is None or isinstance(text, (dict, list)):
        return unwrap(text)
    try:
        return unwrap(json.loads(text))
    except (TypeError, ValueError, RecursionError):
        return None


def unwrap(value: Any) -> Any:
    """The value with every one-element list of a scalar taken as that scalar, at any depth.

    CloudTrail logs S3's request headers as lists (`"x-amz-acl": ["public-read"]`) and most other
    fields as strings; a decision reads either form alike. A field read as a list goes through
    `_list`, which takes a scalar as a one-element list, so both forms give the same decision."""
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) == 1 and not isinstance(value[0], (dict, list)):
            return value[0]
        return [unwrap(v) for v in value]
    return value


def _list(value: Any) -> list:
    """A list however CloudTrail wrapped it: a list, {"items": [...]}, one object, or nothing."""
    if value is None:
        return []
    if isinstance(value, dict):
        return _list(value["items"]) if "items" in value else [value]
    return value if isinstance(value, list) else [value]


def _false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def _statements(policy: Any) -> list[dict]:
    doc = _json(policy)
    if not isinstance(doc, dict):
        return []
    return [s for s in _list(doc.get("Statement")) if isinstance(s, dict)]


def _principals(statement: dict) -> list[str]:
    principal = statement.get("Principal")
    if isinstance(principal, str):
        return [principal]
    if isinstance(principal, dict):
        return [str(p) for key in ("AWS", "Federated", "CanonicalUser") for p in _list(principal.get(key))]
    return []


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) > 4 and parts[4]:
        return parts[4]
    return arn if arn.isdigit() else None


def _bucket(req: dict) -> str | None:
    return req.get("bucketName") or (req.get("Host") or "").split(".s3", 1)[0] or None


# --- decisions: each returns (target, detail) for a hit, None otherwise ----------------------------

def _always(target_key: str | None = None,
            key: str = "") -> Callable[[dict, dict, Context], Decision]:
    """A hit on every call: its detail the phrase `key`, or the event's name."""
    def decide(row: dict, req: dict, ctx: Context) -> Decision:
        target = req.get(target_key) if target_key else None
        said = phrase(key) if key else phrase("event", event=row["eventname"])
        return target, said
    return decide


def _trail(row: dict, req: dict, ctx: Context) -> Decision:
    name = req.get("name") or req.get("trailName")
    if row["eventname"] == "UpdateTrail":
        changed = sorted(k for k in req if k != "name")
        if not changed:
            return name, phrase("trail_updated_nothing")
        return name, phrase("trail_updated", fields=Items(f"{k}={req[k]}" for k in changed))
    return name, phrase("event", event=row["eventname"])


def _selectors(row: dict, req: dict, ctx: Context) -> Decision:
    """PutEventSelectors that no longer records every management event."""
    name = req.get("trailName")
    basic = [s for s in _list(req.get("eventSelectors")) if isinstance(s, dict)]
    advanced = [s for s in _list(req.get("advancedEventSelectors")) if isinstance(s, dict)]
    if advanced:
        management = [s for s in advanced if any(
            f.get("field") == "eventCategory" and "Management" in _list(f.get("equals"))
            for f in _list(s.get("fieldSelectors")) if isinstance(f, dict))]
        if not management:
            return name, phrase("selectors_no_management")
        for s in management:
            for f in _list(s.get("fieldSelectors")):
                if isinstance(f, dict) and f.get("field") == "readOnly":
                    return name, phrase("selectors_read_only", value=_list(f.get("equals")))
        return None
    if not basic:
        return None
    with_management = [s for s in basic if not _false(s.get("includeManagementEvents", True))]
    if not with_management:
        return name, phrase("selectors_management_off")
    if all(s.get("readWriteType", "All") != "All" for s in with_management):
        kinds = sorted({s.get("readWriteType") for s in with_management})
        return name, phrase("selectors_only", kinds=Items(map(str, kinds)))
    excluded = sorted({e for s in with_management for e in _list(s.get("excludeManagementEventSources"))})
    if excluded:
        return name, phrase("selectors_excluded", sources=Items(map(str, excluded)))
    return None


def _insights(row: dict, req: dict, ctx: Context) -> Decision:
    if _list(req.get("insightSelectors")):
        return None
    return req.get("trailName"), phrase("insights_off")


def _trail_bucket(row: dict, req: dict, ctx: Context) -> Decision:
    if row["eventsource"] != "s3.amazonaws.com":
        return None  # CreateTrail/UpdateTrail are read only to learn the trails' buckets
    bucket = _bucket(req)
    if bucket not in ctx.trail_buckets:
        return None
    name = row["eventname"]
    if name == "PutBucketLifecycle":
        short = _short_lifecycle(req, row.get("eventtime"), ctx.settings.log_retention_days)
        return (bucket, phrase("lifecycle", clauses=Items(short))) if short else None
    if name == "PutBucketPolicy":
        grants = any("cloudtrail.amazonaws.com" in json.dumps(s.get("Principal")) and s.get("Effect") == "Allow"
                     for s in _statements(req.get("bucketPolicy")))
        denies = any(s.get("Effect") == "Deny" for s in _statements(req.get("bucketPolicy")))
        if grants and not denies:
            return None  # the policy a trail needs: how every trail bucket is set up
        return bucket, phrase("bucket_policy_no_delivery" if not grants else "bucket_policy_deny")
    return bucket, phrase("event", event=name)


def _short_lifecycle(req: dict, event_time: Any, retention_days: int) -> list[Phrase]:
    """What the enabled rules of a lifecycle configuration do to objects sooner than the retention:
    expire them, or move them to another storage class. A rule of any other status does nothing."""
    config = _object(req.get("LifecycleConfiguration"), "LifecycleConfiguration")
    rules = [_object(r, "a lifecycle Rule") for r in _list(config.get("Rule"))]
    expire: set[int] = set()
    move: set[tuple[str, int]] = set()
    for rule in rules:
        if str(rule.get("Status", "Enabled")).lower() != "enabled":
            continue  # a disabled rule expires nothing (and a rule with no status is kept visible)
        expiration = _object(rule.get("Expiration"), "a lifecycle rule's Expiration")
        if expiration.get("Days") is not None or expiration.get("Date") is not None:
            expire.add(_lifecycle_days(expiration, event_time, "Expiration"))
        for t in _list(rule.get("Transition")):
            t = _object(t, "a lifecycle rule's Transition")
            move.add((str(t.get("StorageClass")), _lifecycle_days(t, event_time, "Transition")))
    days = sorted(d for d in expire if d < retention_days)
    said = [phrase("lifecycle_expire", days=Items(map(str, days)))] if days else []
    return said + [phrase("lifecycle_move", storage_class=c, days=d)
                   for c, d in sorted(move, key=lambda m: m[1]) if d < retention_days]


def _lifecycle_days(action: dict, event_time: Any, what: str) -> int:
    """The days after which a lifecycle action applies: `Days`, or a `Date` counted from the call"""
    if action.get("Days") is not None:
        days = action["Days"]
        if isinstance(days, bool) or not (isinstance(days, int) or str(days).strip().isdigit()):
            raise Unreadable(f"a lifecycle rule's {what}.Days is not a number of days")
        return int(days)
    try:
        when = datetime.fromisoformat(str(action["Date"]).replace("Z", "+00:00"))
        now = datetime.fromisoformat(str(event_time).replace("Z", "+00:00"))
        when, now = (t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in (when, now))
    except ValueError:
        raise Unreadable(f"a lifecycle rule's {what}.Date is not a date") from None
    return max(0, (when - now).days)


def _guardduty_disabled(row: dict, req: dict, ctx: Context) -> Decision:
    detector = req.get("detectorId")
    if _false(req.get("enable")):
        return detector, phrase("detector_disabled")
    off = sorted(str(f.get("name")) for f in _list(req.get("features"))
                 if isinstance(f, dict) and str(f.get("status", "")).upper() == "DISABLED")
    if off:
        return detector, phrase("features_disabled", features=Items(off))
    sources = _object(req.get("dataSources"), "dataSources")
    off = sorted(k for k, v in sources.items() if isinstance(v, dict) and _false(v.get("enable")))
    return (detector, phrase("sources_disabled", sources=Items(off))) if off else None


def _guardduty_filter(row: dict, req: dict, ctx: Context) -> Decision:
    if str(req.get("action", "")).upper() != "ARCHIVE":
        return None
    return req.get("name") or req.get("filterName"), phrase("archive_filter")


def _ipset(row: dict, req: dict, ctx: Context) -> Decision:
    location = req.get("location")
    if not location:
        return req.get("name") or req.get("ipSetId"), phrase("trusted_ip_list_unnamed")
    return req.get("name") or req.get("ipSetId"), phrase("trusted_ip_list", location=location)


def _sns_topic_attributes(row: dict, req: dict, ctx: Context) -> Decision:
    topic = req.get("topicArn")
    if row["eventname"] == "RemovePermission":
        return topic, phrase("permission_removed", label=req.get("label"))
    attribute = req.get("attributeName")
    if attribute in ("Policy", "KmsMasterKeyId", "DeliveryPolicy"):
        return topic, phrase("topic_changed", attribute=attribute)
    return None


def _sns_subscription(row: dict, req: dict, ctx: Context) -> Decision:
    name = row["eventname"]
    if name == "Subscribe":
        said = phrase("subscribed", protocol=req.get("protocol"), endpoint=req.get("endpoint"))
        return req.get("topicArn"), said
    if name == "SetSubscriptionAttributes":
        said = phrase("subscription_changed", attribute=req.get("attributeName"))
        return req.get("subscriptionArn"), said
    return req.get("subscriptionArn"), phrase("unsubscribed")


SECURITY_SOURCES = ("aws.guardduty", "aws.cloudtrail", "aws.securityhub", "aws.config", "aws.access-analyzer",
                    "AWS API Call via CloudTrail", "GuardDuty Finding", "Security Hub")


def _names_security_source(req: dict) -> bool:
    pattern = str(req.get("eventPattern") or "")
    return any(s in pattern for s in SECURITY_SOURCES)


def _put_rule(row: dict, req: dict, ctx: Context) -> Decision:
    """A rule that names a security source, set or changed; or a rule that delivered security events
    (learned from earlier PutRule calls, learn_security_rule_calls) given a pattern that no longer does."""
    state = req.get("state") or "ENABLED"
    if _names_security_source(req):
        return req.get("name"), phrase("security_rule_changed", state=state)
    if row.get("eventid") in ctx.security_rule_calls:
        return req.get("name"), phrase("security_rule_unmatched", state=state)
    return None


def _nacl_ssh(row: dict, req: dict, ctx: Context) -> Decision:
    """A network ACL entry that allows a watched port in from the internet."""
    if str(req.get("ruleAction", "")).lower() != "allow" or str(req.get("egress", False)).lower() == "true":
        return None
    cidr = req.get("cidrBlock") or req.get("ipv6CidrBlock")
    try:
        net = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        return None
    if net.prefixlen > ctx.settings.internet_prefix_len:
        return None
    protocol = str(req.get("aclProtocol", ""))
    if protocol == "-1":
        low, high = 0, 65535
    elif protocol in ("6", "tcp"):
        ports = _object(req.get("portRange"), "portRange")
        low, high = _port(ports.get("from", 0), "portRange.from"), _port(ports.get("to", 65535), "portRange.to")
    else:
        return None
    open_ports = [p for p in ctx.settings.watched_ports if low <= p <= high]
    if not open_ports:
        return None
    said = phrase("nacl_open", rule=req.get("ruleNumber"), ports=Items(map(str, open_ports)),
                  cidr=cidr)
    return req.get("networkAclId"), said


def _security_group_opened(row: dict, req: dict, ctx: Context) -> Decision:
    """A security-group rule that alone lets a watched port in from the internet, read by the
    investigation's own normalizer (security_groups.changes_of) and exposure rule
    (exposure.exposed_ports): what `ssh-exposure` replays and the Lambda's alert says. A rule whose
    content the event does not hold (no request logged) may be one: shown, and said uncertain."""
    found = []
    # the request as every decision reads it (a one-element list as its value), the response alike
    event = {**row, **resolve(row), "requestparameters": req,
             "responseelements": unwrap(json_object(row.get("responseelements")))}
    for change in changes_of(event, {}):
        ports = exposed_ports(change, ctx.settings)
        unknown = change["action"] in ("authorize", "modify") and change["direction"] != "egress" \
            and change["peer"] is None and change["protocol"] is None
        if ports:
            found.append((change["group_id"], phrase("sg_open", ports=Items(map(str, ports)),
                                                     peer=change["peer"])))
        elif unknown:
            found.append((change["group_id"], phrase("sg_unknown")))
    if not found:
        return None
    groups = ", ".join(dict.fromkeys(str(g) for g, _ in found if g)) or None
    clauses = Items(p for i, (_, p) in enumerate(found) if p not in [q for _, q in found[:i]])
    return groups, phrase("sg_opened", clauses=clauses)


# A call made in the console by a person reaches the service with the console as `invokedBy`: the
# person acted. Any other `invokedBy` is an AWS service acting for the account.
PERSON_INVOKERS = frozenset({"signin.amazonaws.com", "console.amazonaws.com"})


def by_person(row: Mapping) -> bool:
    """Whether the caller itself made the call (no AWS service acting for it)."""
    return not row.get("invoked_by") or str(row["invoked_by"]).lower() in PERSON_INVOKERS


def _root(row: dict, req: dict, ctx: Context) -> Decision:
    if row.get("identity_type") != "Root" or not by_person(row):
        return None
    return None, phrase("root_called", event=row["eventname"])


def _login_mfa(row: dict, req: dict, ctx: Context) -> Decision:
    if row.get("identity_type") not in ("IAMUser", "Root") or signin_failed(row):
        return None  # federated and SSO sign-ins carry MFAUsed "No": their MFA is at the identity provider
    extra = unwrap(json_object(row.get("additionaleventdata")))
    if extra.get("MFAUsed") != "No":
        return None
    return row.get("identity_arn"), phrase("login_no_mfa")


SIGNIN = "signin.amazonaws.com"


def signin_failed(row: Mapping) -> bool:
    """A sign-in event whose response says Failure (`{"ConsoleLogin": "Failure"}`, `{"CheckMfa":
    "Failure"}`, `{"PasswordUpdated": "Failure"}`, ...) or that carries an error code. Sign-in
    events log their outcome in the response, not in `errorCode` alone."""
    if row.get("eventsource") != SIGNIN:
        return False
    if failed(row):
        return True
    try:
        response = unwrap(json_object(row.get("responseelements")))
    except RecursionError:
        return True  # a response nested past reading: keep the event an attempt, never a success
    return any(str(v).lower() == "failure" for v in response.values())


def _login_failure(row: dict, req: dict, ctx: Context) -> Decision:
    if not signin_failed(row):
        return None
    reason = row.get("errormessage") or row.get("errorcode") or phrase("login_failure")
    who = row.get("identity_arn") or row.get("user_name")
    if row["eventname"] == "ConsoleLogin":
        return who, phrase("login_failed", reason=reason)
    return who, phrase("login_failed_at", step=row["eventname"], reason=reason)


# IAM calls that set a credential of a user (the words for each: phrases' `detail.credential.*`).
CREDENTIAL_CALLS = ("CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile",
                    "UploadSSHPublicKey", "CreateServiceSpecificCredential",
                    "ResetServiceSpecificCredential", "EnableMFADevice", "UploadSigningCertificate")


def _caller_user(row: dict) -> str | None:
    """The IAM user name of the caller, None for any other identity. A role session's name is chosen
    by whoever assumed the role, so it never makes the caller the user of the same name."""
    if row.get("identity_type") != "IAMUser":
        return None
    return row.get("user_name") or str(row.get("identity_arn") or "").rsplit("/", 1)[-1] or None


def _credential_for_other(row: dict, req: dict, ctx: Context) -> Decision:
    target = req.get("userName")
    if not target:
        return None  # no user named: the call sets the caller's own credential
    if isinstance(target, (dict, list)):
        raise Unreadable("userName is not a name")
    if str(target) == _caller_user(row):
        return None
    return str(target), phrase(f"credential.{row['eventname']}", user=target)


ADMIN_POLICIES = ("arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/IAMFullAccess")


def _admin_policy(row: dict, req: dict, ctx: Context) -> Decision:
    principal = req.get("userName") or req.get("roleName") or req.get("groupName")
    arn = req.get("policyArn")
    if arn is not None:
        if arn not in ADMIN_POLICIES:
            return None
        return principal, phrase("policy_attached", policy=arn.rsplit("/", 1)[-1])
    for s in _statements(req.get("policyDocument")):
        actions, resources = _list(s.get("Action")), _list(s.get("Resource"))
        if s.get("Effect") == "Allow" and ("*" in actions or "iam:*" in actions) and "*" in resources:
            return principal, phrase("inline_admin", policy=req.get("policyName"),
                                     actions=Items(map(str, actions)))
    return None


def _trust(row: dict, req: dict, ctx: Context) -> Decision:
    own = {row.get("account"), row.get("identity_account")} - {None}  # the path's account, and the caller's
    outside = sorted({p for s in _statements(req.get("policyDocument")) if s.get("Effect") == "Allow"
                      for p in _principals(s) if p == "*" or _account_of(p) not in (own | {None})})
    if not outside:
        return None
    return req.get("roleName"), phrase("role_trusts", principals=Items(outside))


def _shared(row: dict, req: dict, ctx: Context) -> Decision:
    """A snapshot or image shared with another account, an organization, or everyone (`all`, the
    only group AWS accepts). Any other group is a malformed request, shown as such."""
    if row["eventname"] in ("ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute"):
        target = req.get("dBSnapshotIdentifier") or req.get("dBClusterSnapshotIdentifier")
        added = [_share_target(json_text(v), "account") for v in _list(req.get("valuesToAdd")) if v]
    else:
        target = req.get("snapshotId") or req.get("imageId")
        permission = req.get("createVolumePermission") or req.get("launchPermission")
        permission = _object(permission, "the permission")
        added = []
        for item in _list(permission.get("add")):
            item = _object(item, "a permission item")
            for key in ("userId", "group", "organizationArn", "organizationalUnitArn"):
                if item.get(key):
                    added.append(_share_target(json_text(item[key]), key))
    own = {row.get("account"), row.get("identity_account")} - {None}
    # shared with its own account: nothing leaves
    added = [a for a in added if isinstance(a, Phrase) or a not in own]
    return (target, phrase("shared", targets=Items(added))) if added else None


def _share_target(value: str, kind: str) -> str | Phrase:
    if value.lower() == "all":
        return phrase("everyone")
    if kind == "group":
        raise Unreadable(f"group {value!r} is not 'all', the only group AWS accepts")
    return value


BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _public_s3(row: dict, req: dict, ctx: Context) -> Decision:
    name, bucket = row["eventname"], _bucket(req)
    if name in ("DeleteBucketPublicAccessBlock", "DeleteAccountPublicAccessBlock", "DeletePublicAccessBlock"):
        return bucket or row.get("account"), phrase("public_block_removed")
    if name in ("PutBucketPublicAccessBlock", "PutAccountPublicAccessBlock", "PutPublicAccessBlock"):
        config = req.get("PublicAccessBlockConfiguration") or req.get("publicAccessBlockConfiguration") or {}
        off = [f for f in BLOCK_FLAGS if _false(config.get(f))]
        if not off:
            return None
        return bucket or row.get("account"), phrase("public_block_off", flags=Items(off))
    if name == "PutBucketPolicy":
        for s in _statements(req.get("bucketPolicy")):
            if s.get("Effect") == "Allow" and "*" in _principals(s) + ([s["Principal"]] if s.get("Principal") == "*" else []) \
                    and not s.get("Condition"):
                return bucket, phrase("bucket_policy_public")
        return None
    if name == "PutBucketAcl":
        text = json.dumps(req)
        for group in ("AllUsers", "AuthenticatedUsers"):
            if f"acs.amazonaws.com/groups/global/{group}" in text:
                return bucket, phrase("bucket_acl_grants", group=group)
        public = [str(a) for a in _list(req.get("x-amz-acl")) if str(a).startswith("public-")]
        if public:
            return bucket, phrase("canned_acl", acl=Items(public))
        return None
    return None


def _kms(row: dict, req: dict, ctx: Context) -> Decision:
    key = req.get("keyId")
    if row["eventname"] == "ScheduleKeyDeletion":
        return key, phrase("key_deletion", days=req.get("pendingWindowInDays", 30))
    return key, phrase("key_disabled")


def _flow_logs(row: dict, req: dict, ctx: Context) -> Decision:
    request = req.get("DeleteFlowLogsRequest") or req
    ids = [i.get("content") if isinstance(i, dict) else i for i in _list(request.get("FlowLogId") or request.get("flowLogIds"))]
    return ", ".join(str(i) for i in ids if i) or None, phrase("flow_logs_deleted")


def _user_data(row: dict, req: dict, ctx: Context) -> Decision:
    """ModifyInstanceAttribute that sets the user data, in either request shape: `userData` given,
    or `attribute: userData` with its `value`. Any other attribute is not a hit."""
    if "userData" not in req and str(req.get("attribute", "")).lower() != "userdata":
        return None
    return req.get("instanceId"), phrase("user_data")


def _federation_token(row: dict, req: dict, ctx: Context) -> Decision:
    """GetFederationToken: temporary credentials that outlive the deletion of the key that made
    them, with the session policy's breadth in the detail."""
    name = req.get("name")
    statements = [s for s in _statements(req.get("policy")) if s.get("Effect") == "Allow"]
    managed = [str(p.get("arn") if isinstance(p, dict) else p)
               for p in _list(req.get("policyArns"))]
    if any("*" in _list(s.get("Action")) and "*" in _list(s.get("Resource")) for s in statements):
        breadth = phrase("session_all")
    elif statements:
        actions = sorted({str(a) for s in statements for a in _list(s.get("Action"))})
        breadth = (phrase("session_actions", actions=Items(actions)) if actions
                   else phrase("session_no_action"))
    else:
        breadth = phrase("session_none")
    if managed:
        said = phrase("federation_managed", name=name, breadth=breadth, managed=Items(managed))
        return name, said
    return name, phrase("federation", name=name, breadth=breadth)


def _roles_anywhere(row: dict, req: dict, ctx: Context) -> Decision:
    """A Roles Anywhere trust anchor (a certificate authority whose certificates get role sessions)
    or profile (the roles they get) created, or an anchor's authority replaced."""
    name = req.get("name") or req.get("trustAnchorId")
    if row["eventname"] == "CreateProfile":
        roles = [str(r) for r in _list(req.get("roleArns"))]
        if not roles:
            return name, phrase("ra_profile_no_role")
        return name, phrase("ra_profile", roles=Items(roles))
    kind = _object(req.get("source"), "source").get("sourceType")
    return name, phrase("ra_anchor", kind=kind) if kind else phrase("ra_anchor_unknown")


def _lambda_layers(row: dict, req: dict, ctx: Context) -> Decision:
    """A function configuration that sets layers: code that runs inside the function. A
    configuration without layers, or one that removes them all, is not a hit."""
    layers = [str(x.get("arn") if isinstance(x, dict) else x) for x in _list(req.get("layers"))]
    if not layers:
        return None
    own = {row.get("account"), row.get("identity_account")} - {None}
    outside = [x for x in layers if _account_of(x) not in own]
    if outside:
        said = phrase("layers_outside", layers=Items(layers), n=len(outside))
        return req.get("functionName"), said
    return req.get("functionName"), phrase("layers", layers=Items(layers))


def _lambda_code(row: dict, req: dict, ctx: Context) -> Decision:
    bucket = req.get("s3Bucket")
    from_s3 = f"s3://{bucket}/{req.get('s3Key')}" if bucket else None
    source = req.get("imageUri") or from_s3
    said = phrase("code_from", source=source) if source else phrase("code_from_zip")
    return req.get("functionName"), said


def _lambda_public(row: dict, req: dict, ctx: Context) -> Decision:
    """A function policy statement for any principal ("*"), unless limited to an organization."""
    if str(req.get("principal")) != "*" or req.get("principalOrgID"):
        return None
    action, statement = req.get("action"), req.get("statementId")
    return req.get("functionName"), phrase("function_public", action=action, statement=statement)


BEDROCK_ACCESS = ("PutFoundationModelEntitlement", "PutUseCaseForModelAccess",
                  "CreateFoundationModelAgreement")
BEDROCK_USE = ("InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream")


def _bedrock(row: dict, req: dict, ctx: Context) -> Decision:
    """Bedrock model access turned on, or a model invoked, by an identity not among the expected
    ones (AUDIT_TOOLKIT_BEDROCK_IDENTITIES: user or role ARNs; none by default, so in an account
    that does not use Bedrock every call is shown)."""
    caller = {row.get("identity_arn"), row.get("issuer_arn")} - {None}
    if caller & set(ctx.settings.bedrock_identities):
        return None
    model = req.get("modelId")
    if row["eventname"] in BEDROCK_ACCESS:
        return model, phrase("bedrock_access", event=row["eventname"])
    return model, phrase("bedrock_invoked", model=model)


def _secret_read_burst(row: dict, req: dict, ctx: Context) -> Decision:
    if row.get("eventid") not in ctx.burst_calls:
        return None
    kind, targets = _secrets_read(row, req) or ("", ())
    minutes = ctx.settings.burst_minutes
    if kind == "instance":
        key = "password_burst" if row["eventname"] == "GetPasswordData" else "user_data_burst"
        return req.get("instanceId"), phrase(key, n=ctx.settings.burst_instances, minutes=minutes)
    said = phrase("secret_burst", n=ctx.settings.burst_secrets, minutes=minutes)
    return ", ".join(targets) or None, said


# The reads a burst counts: what each call reads, (kind, targets), or None for a call that reads no
# secret (another instance attribute, a parameter read without decryption).
BURST_READS = ("GetPasswordData", "DescribeInstanceAttribute", "GetSecretValue",
               "BatchGetSecretValue", "GetParameter", "GetParameters")


def _secrets_read(row: Mapping, req: dict) -> tuple[str, tuple[str, ...]] | None:
    name = row.get("eventname")
    if name == "GetPasswordData" or name == "DescribeInstanceAttribute" and \
            str(req.get("attribute", "")).lower() == "userdata":
        return "instance", (str(req.get("instanceId")),)
    if name in ("GetSecretValue", "BatchGetSecretValue"):
        ids = _list(req.get("secretId")) + _list(req.get("secretIdList"))
        return "secret", tuple(str(i) for i in ids) or ("(by filter)",)
    decrypted = str(req.get("withDecryption")).lower() == "true"
    if name in ("GetParameter", "GetParameters") and decrypted:
        return "secret", tuple(str(n) for n in _list(req.get("name")) + _list(req.get("names")))
    return None


def _unusual_instances(row: dict, req: dict, ctx: Context) -> Decision:
    """RunInstances of a GPU or accelerated family (AUDIT_TOOLKIT_UNUSUAL_INSTANCE_FAMILIES) or of
    many instances at once (AUDIT_TOOLKIT_UNUSUAL_INSTANCE_COUNT): mining and model runs on the
    account's bill. The type is logged as text or as {"value": ...}."""
    kind = req.get("instanceType")
    kind = str(kind.get("value") if isinstance(kind, dict) else kind or "")
    family = re.match(r"[a-z-]*", kind.split(".")[0].lower())[0]
    counts = [_port(_object(i, "an instancesSet item").get(k, 1), f"instancesSet {k}")
              for i in _list(_object(req.get("instancesSet"), "instancesSet").get("items"))
              for k in ("minCount", "maxCount")]
    count = max(counts, default=1)
    unusual = family in ctx.settings.unusual_instance_families
    many = count >= ctx.settings.unusual_instance_count
    if not (unusual or many):
        return None
    key = "unusual_both" if unusual and many else "unusual_family" if unusual else "unusual_count"
    said = phrase(key, count=count, kind=kind or phrase("unknown_type"), family=family)
    return kind or None, said


# --- the catalogue -------------------------------------------------------------------------------

IMPAIR_LOGS = "T1562.008 Impair Defenses: Disable or Modify Cloud Logs"
IMPAIR_TOOLS = "T1562.001 Impair Defenses: Disable or Modify Tools"
CLOUD_FIREWALL = "T1562.007 Impair Defenses: Disable or Modify Cloud Firewall"
VALID_CLOUD = "T1078.004 Valid Accounts: Cloud Accounts"
EXTRA_CREDS = "T1098.001 Account Manipulation: Additional Cloud Credentials"
EXTRA_ROLES = "T1098.003 Account Manipulation: Additional Cloud Roles"
SSH_KEYS = "T1098.004 Account Manipulation: SSH Authorized Keys"

LAMBDA = "lambda.amazonaws.com"
CT, GD, SNS, EB, EC2, IAM, S3 = ("cloudtrail.amazonaws.com", "guardduty.amazonaws.com", "sns.amazonaws.com",
                                 "events.amazonaws.com", "ec2.amazonaws.com", "iam.amazonaws.com", "s3.amazonaws.com")

CATALOGUE: tuple[Detection, ...] = (
    # Notifications
    Detection("sns_subscription_changed", "SNS subscription changed", "SNS サブスクリプションの変更", "medium", IMPAIR_TOOLS,
              {SNS: ("Subscribe", "Unsubscribe", "SetSubscriptionAttributes")},
              "Alerts reach people through SNS subscriptions: removing one silences an alarm, adding one copies it to an outsider.",
              "A team rotating its on-call e-mail or wiring a new Lambda subscriber.", _sns_subscription),
    Detection("sns_topic_deleted", "SNS topic deleted", "SNS トピックの削除", "high", IMPAIR_TOOLS, {SNS: ("DeleteTopic",)},
              "Deleting the topic an alarm publishes to drops every alert sent to it.",
              "Tearing down a stack that owned the topic.", _always("topicArn", "topic_deleted")),
    Detection("sns_topic_policy_changed", "SNS topic policy changed", "SNS トピックポリシーの変更", "medium", IMPAIR_TOOLS,
              {SNS: ("SetTopicAttributes", "RemovePermission")},
              "A topic policy decides who may publish: removing EventBridge's or CloudWatch's right silences alarms.",
              "Infrastructure code re-applying the same policy; display-name changes are not hits.", _sns_topic_attributes),
    Detection("eventbridge_rule_disabled", "EventBridge rule deleted or disabled", "EventBridge ルールの削除・無効化", "high", IMPAIR_TOOLS,
              {EB: ("DeleteRule", "DisableRule", "RemoveTargets")},
              "The rules that carry GuardDuty and CloudTrail events to the alert path can be switched off without touching either.",
              "Deploys that replace rules; check the rule name against the alerting stack.", _always("name")),
    Detection("eventbridge_security_rule_changed", "EventBridge rule for security events changed", "セキュリティイベント用 EventBridge ルールの変更",
              "medium", IMPAIR_TOOLS, {EB: ("PutRule",)},
              "A changed pattern on a rule that delivers security events can quietly match nothing.",
              "Deploys of the alerting stack itself.", _put_rule),
    # CloudTrail tampering
    Detection("cloudtrail_stopped", "CloudTrail logging stopped", "CloudTrail ログ記録の停止", "critical", IMPAIR_LOGS,
              {CT: ("StopLogging",)}, "With logging stopped, nothing that follows is recorded.",
              "Almost none in production; test trails in sandboxes.", _always("name", "logging_stopped")),
    Detection("cloudtrail_deleted", "CloudTrail trail deleted", "CloudTrail 証跡の削除", "critical", IMPAIR_LOGS,
              {CT: ("DeleteTrail",)}, "A deleted trail records nothing and its configuration is gone.",
              "Replacing an account trail with an organization trail.", _always("name", "trail_deleted")),
    Detection("cloudtrail_updated", "CloudTrail trail updated", "CloudTrail 証跡の設定変更", "high", IMPAIR_LOGS,
              {CT: ("UpdateTrail",)}, "UpdateTrail can move logs to another bucket, drop regions or global events, or remove validation.",
              "Planned changes of the log bucket or KMS key.", _trail),
    Detection("cloudtrail_selectors_reduced", "CloudTrail event selectors drop management events",
              "CloudTrail イベントセレクタで管理イベントを除外", "high", IMPAIR_LOGS, {CT: ("PutEventSelectors",)},
              "Selectors that exclude management events (or their writes) keep the trail 'on' while it records nothing useful.",
              "Data-event-only trails created on purpose beside a management trail.", _selectors),
    Detection("cloudtrail_insights_disabled", "CloudTrail Insights turned off", "CloudTrail Insights の無効化", "low", IMPAIR_LOGS,
              {CT: ("PutInsightSelectors",)}, "Insights flags unusual API volumes; turning it off hides a noisy attacker.",
              "Cost reduction.", _insights),
    Detection("trail_bucket_changed", "Trail log bucket changed", "証跡のログバケットの変更", "high", IMPAIR_LOGS,
              {S3: ("PutBucketLifecycle", "PutBucketPolicy", "DeleteBucketPolicy", "DeleteBucket"), CT: ("CreateTrail", "UpdateTrail")},
              "Logs can be destroyed where they land: an expiry rule, a policy that stops delivery, or the bucket deleted.",
              "Retention policies set on purpose; trail buckets are those named by CreateTrail/UpdateTrail in the evidence "
              "or AUDIT_TOOLKIT_TRAIL_BUCKETS.", _trail_bucket),
    # GuardDuty tampering
    Detection("guardduty_detector_deleted", "GuardDuty detector deleted", "GuardDuty ディテクターの削除", "critical", IMPAIR_TOOLS,
              {GD: ("DeleteDetector",)}, "No detector, no findings.", "Moving to delegated administration.",
              _always("detectorId", "detector_deleted")),
    Detection("guardduty_detector_disabled", "GuardDuty detector or protection disabled", "GuardDuty の無効化", "critical", IMPAIR_TOOLS,
              {GD: ("UpdateDetector",)}, "A suspended detector or a disabled protection plan stops findings silently.",
              "Cost reviews turning off a protection plan; frequency changes are not hits.", _guardduty_disabled),
    Detection("guardduty_trusted_ip_list", "GuardDuty trusted IP list set", "GuardDuty 信頼済み IP リストの設定", "high", IMPAIR_TOOLS,
              {GD: ("CreateIPSet", "UpdateIPSet")}, "GuardDuty raises no finding for traffic from a trusted IP list: an attacker adds its own.",
              "Adding office ranges.", _ipset),
    Detection("guardduty_auto_archive_filter", "GuardDuty auto-archive filter", "GuardDuty 自動アーカイブフィルタ", "high", IMPAIR_TOOLS,
              {GD: ("CreateFilter", "UpdateFilter")}, "An ARCHIVE filter hides matching findings from every console and export.",
              "Suppression rules for known scanners.", _guardduty_filter),
    Detection("guardduty_publishing_removed", "GuardDuty export destination removed", "GuardDuty エクスポート先の削除", "high",
              IMPAIR_TOOLS, {GD: ("DeletePublishingDestination",)}, "Findings stop reaching the S3 export the investigation reads.",
              "Moving the export bucket.", _always("destinationId", "destination_deleted")),
    Detection("guardduty_member_disassociated", "GuardDuty member left its administrator", "GuardDuty メンバーの管理者からの離脱",
              "high", IMPAIR_TOOLS, {GD: ("DisassociateFromMasterAccount", "DisassociateFromAdministratorAccount")},
              "A member account that leaves its administrator stops sending findings to the security team.",
              "Reorganizing accounts.", _always("detectorId", "left_administrator")),
    Detection("dns_query_logging_removed", "Route 53 Resolver query logging removed",
              "Route 53 Resolver クエリログの削除", "high", IMPAIR_LOGS,
              {"route53resolver.amazonaws.com": ("DeleteResolverQueryLogConfig",
                                                 "DisassociateResolverQueryLogConfig")},
              "DNS query logs show which names a compromised host resolved: command and control, "
              "exfiltration domains.", "Replacing a logging configuration or tearing down a VPC.",
              _always("resolverQueryLogConfigId", "dns_logging_removed")),
    # Lambda: code that runs with the function's role
    Detection("lambda_layer_added", "Lambda layer set on a function", "Lambda 関数へのレイヤー追加",
              "medium", "T1525 Implant Internal Image", {LAMBDA: ("UpdateFunctionConfiguration*",)},
              "A layer's code runs inside the function with its role: an implant that survives code "
              "deploys.",
              "Deploys that pin a new layer version.", _lambda_layers),
    Detection("lambda_code_replaced", "Lambda function code replaced", "Lambda 関数コードの置き換え",
              "low", "T1525 Implant Internal Image", {LAMBDA: ("UpdateFunctionCode*",)},
              "New code runs with the function's role at its next invocation.",
              "Every deploy of the function: check the actor and tool against the pipeline.",
              _lambda_code),
    Detection("lambda_policy_public", "Lambda function opened to any principal", "Lambda 関数の公開",
              "high", "T1546 Event Triggered Execution", {LAMBDA: ("AddPermission*",)},
              "A function policy for principal * lets anyone invoke it: a back door into the "
              "account's role.", "Public function URLs on purpose.", _lambda_public),
    Detection("bedrock_unexpected_use", "Bedrock used by an unexpected identity",
              "想定外の ID による Bedrock の利用", "high", "T1496 Resource Hijacking",
              {"bedrock.amazonaws.com": BEDROCK_ACCESS + BEDROCK_USE},
              "Stolen keys are used to run language models at the account's expense (LLMjacking): "
              "model access turned on, then invocations.",
              "Teams starting to use Bedrock: list their roles in "
              "AUDIT_TOOLKIT_BEDROCK_IDENTITIES.",
              _bedrock),
    Detection("instance_secrets_enumerated",
              "Instance passwords or user data read across instances",
              "複数インスタンスのパスワード・ユーザーデータの読み取り", "medium",
              "T1552.005 Unsecured Credentials: Cloud Instance Metadata API",
              {EC2: ("GetPasswordData", "DescribeInstanceAttribute")},
              "Windows passwords and user data scripts hold credentials: one identity reading them "
              "across many instances is enumeration, mostly denied (failed calls count).",
              "Fleet tooling that reads user data; raise AUDIT_TOOLKIT_BURST_INSTANCES.",
              _secret_read_burst),
    Detection("ec2_unusual_instances", "Unusual EC2 instances launched",
              "通常と異なる EC2 インスタンスの起動", "medium", "T1496 Resource Hijacking",
              {EC2: ("RunInstances",)},
              "Stolen keys launch GPU instances or fleets for mining and model runs at the "
              "account's expense.",
              "Teams that train models: set AUDIT_TOOLKIT_UNUSUAL_INSTANCE_FAMILIES.",
              _unusual_instances),
    Detection("secrets_read_burst", "Many secrets read with decryption",
              "多数のシークレットの復号読み取り", "high",
              "T1555.006 Credentials from Password Stores: Cloud Secrets Management Stores",
              {"secretsmanager.amazonaws.com": ("GetSecretValue", "BatchGetSecretValue"),
               "ssm.amazonaws.com": ("GetParameter", "GetParameters")},
              "One identity reading many secrets or SecureString parameters in a short time is "
              "harvesting credentials; failed reads count.",
              "Deploys that read their configuration: raise AUDIT_TOOLKIT_BURST_SECRETS.",
              _secret_read_burst),
    # Other ways into an instance
    Detection("ec2_instance_connect_key", "SSH key pushed to an instance", "インスタンスへの SSH 公開鍵の送信", "medium",
              "T1021.004 Remote Services: SSH", {"ec2-instance-connect.amazonaws.com": ("SendSSHPublicKey", "SendSerialConsoleSSHPublicKey")},
              "EC2 Instance Connect and the serial console let anyone with the API right log in, past security groups for the serial console.",
              "Engineers using Instance Connect as their normal way in.", _always("instanceId", "ssh_key_sent")),
    Detection("ec2_serial_console_enabled", "EC2 serial console access enabled", "EC2 シリアルコンソールの有効化",
              "medium", "T1021 Remote Services", {EC2: ("EnableSerialConsoleAccess",)},
              "The serial console reaches an instance's login prompt past security groups and network "
              "ACLs; it is off in an account until someone turns it on.",
              "Engineers recovering an instance that lost its network.",
              _always(None, "serial_console")),
    Detection("ec2_key_pair_imported", "EC2 key pair imported", "EC2 キーペアのインポート", "low", SSH_KEYS, {EC2: ("ImportKeyPair",)},
              "An imported key pair is a key the attacker holds, ready for new instances.", "Engineers registering their own keys.",
              _always("keyName", "key_pair_imported")),
    Detection("ssm_session_started", "SSM session started", "SSM セッションの開始", "medium", "T1021.007 Remote Services: Cloud Services",
              {"ssm.amazonaws.com": ("StartSession",)}, "Session Manager is a shell on the instance with no port open at all.",
              "Routine administration through Session Manager.", _always("target", "session_manager")),
    Detection("ssm_command_sent", "SSM command sent to instances", "SSM コマンドの送信", "low", "T1651 Cloud Administration Command",
              {"ssm.amazonaws.com": ("SendCommand",)}, "Run Command executes scripts on instances as root.",
              "Patch and inventory automation.", _always("documentName", "command_sent")),
    Detection("ec2_user_data_replaced", "EC2 instance user data replaced", "EC2 ユーザーデータの置き換え", "high",
              "T1059 Command and Scripting Interpreter", {EC2: ("ModifyInstanceAttribute",)},
              "User data runs as root when the instance starts: replacing it is code execution at the next "
              "stop and start.", "Redeploying an instance's bootstrap script by hand.", _user_data),
    Detection("ssh_exposure_opened", "SSH (a watched port) opened to the internet",
              "SSH (監視ポート) のインターネット公開", "high", CLOUD_FIREWALL,
              {EC2: ("AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules"),
               "rds.amazonaws.com": ("AuthorizeDBSecurityGroupIngress",)},
              "SSH or another watched port open to the whole internet is the door scanners find "
              "within minutes; `ssh-exposure` says how long it stood open.",
              "Bastion hosts opened on purpose; ports from AUDIT_TOOLKIT_WATCHED_PORTS.",
              _security_group_opened),
    Detection("nacl_ssh_open", "Network ACL allows a watched port from the internet", "ネットワーク ACL でインターネットからの SSH を許可",
              "high", CLOUD_FIREWALL, {EC2: ("CreateNetworkAclEntry", "ReplaceNetworkAclEntry")},
              "Network ACLs are a second door beside security groups.", "Public subnets of bastion hosts.", _nacl_ssh),
    # Identity
    Detection("root_used", "Root user activity", "ルートユーザーの利用", "high", VALID_CLOUD, {},
              "The root user cannot be restricted by IAM; day-to-day use is a finding by itself.",
              "The few tasks only root can do (billing, account settings).", _root),
    Detection("console_login_without_mfa", "Console sign-in without MFA", "MFA なしのコンソールサインイン", "medium", VALID_CLOUD,
              {SIGNIN: ("ConsoleLogin",)}, "A password alone let someone into the console.",
              "None for IAM users once MFA is required; SSO and federated sign-ins are not hits.", _login_mfa),
    Detection("console_login_failed", "Failed console sign-in", "コンソールサインインの失敗", "low", "T1110 Brute Force",
              {SIGNIN: ("ConsoleLogin", "CheckMfa", "ExternalIdPDirectoryLogin")},
              "Repeated failures are password guessing; a failed MFA check means the password was "
              "right.",
              "Mistyped passwords and MFA codes.", _login_failure),
    Detection("credential_for_other_user", "Credential set for another user", "他ユーザーの認証情報の設定",
              "high", EXTRA_CREDS, {IAM: tuple(CREDENTIAL_CALLS)},
              "An access key, password, SSH key, service credential or MFA device set for someone else "
              "is a way in the caller holds in that user's name.",
              "Administrators provisioning service users or resetting a colleague's password.",
              _credential_for_other),
    Detection("sts_federation_token", "Federation token obtained", "フェデレーショントークンの取得",
              "medium",
              "T1550.001 Use Alternate Authentication Material: Application Access Token",
              {"sts.amazonaws.com": ("GetFederationToken",)},
              "A federation token keeps working for up to 36 hours after the key that made it is "
              "deleted: attackers use it to stay in when the key is found.",
              "Proxy applications that hand out scoped credentials by design.", _federation_token),
    Detection("roles_anywhere_trust", "IAM Roles Anywhere trust anchor or profile set",
              "IAM Roles Anywhere のトラストアンカー・プロファイル設定", "high", EXTRA_CREDS,
              {"rolesanywhere.amazonaws.com": ("CreateTrustAnchor", "UpdateTrustAnchor",
                                               "CreateProfile")},
              "A trust anchor lets anyone holding a certificate of its authority take the profile's "
              "roles from outside AWS: a back door that survives key and password rotation.",
              "Workloads outside AWS onboarded on purpose.", _roles_anywhere),
    Detection("iam_user_created", "IAM user or console password created", "IAM ユーザー・パスワードの作成", "low",
              "T1136.003 Create Account: Cloud Account", {IAM: ("CreateUser", "CreateLoginProfile")},
              "New users and passwords are persistence.", "Onboarding.", _always("userName")),
    Detection("iam_admin_policy_attached", "Administrator rights granted", "管理者権限の付与", "high", EXTRA_ROLES,
              {IAM: ("AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy", "PutUserPolicy", "PutRolePolicy", "PutGroupPolicy")},
              "AdministratorAccess, IAMFullAccess or an inline '*' on '*' is the whole account.", "Break-glass roles set up on purpose.",
              _admin_policy),
    Detection("role_trust_external", "Role trusts another account", "ロールの信頼ポリシーに外部アカウント", "high", EXTRA_ROLES,
              {IAM: ("UpdateAssumeRolePolicy", "CreateRole")},
              "A trust policy naming an outside account is a back door that survives password and key rotation.",
              "Cross-account roles for partners and the organization's tooling accounts.",
              lambda row, req, ctx: _trust(row, {**req, "policyDocument": req.get("policyDocument") or req.get("assumeRolePolicyDocument")}, ctx)),
    Detection("resource_shared_externally", "Snapshot or image shared outside the account", "スナップショット・AMI の外部共有", "high",
              "T1537 Transfer Data to Cloud Account",
              {EC2: ("ModifySnapshotAttribute", "ModifyImageAttribute"), "rds.amazonaws.com": ("ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute")},
              "Sharing a disk snapshot or database snapshot copies the data to an account the attacker owns.",
              "Sharing AMIs with the organization's other accounts.", _shared),
    Detection("s3_public_access", "S3 opened to the public", "S3 の公開設定", "high", "T1530 Data from Cloud Storage",
              {S3: ("PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock", "PutBucketPolicy", "PutBucketAcl"),
               "s3control.amazonaws.com": ("PutPublicAccessBlock", "DeletePublicAccessBlock")},
              "A public bucket is readable by anyone who guesses its name.", "Static website buckets.", _public_s3),
    Detection("config_recorder_stopped", "AWS Config recording stopped", "AWS Config 記録の停止", "high", IMPAIR_LOGS,
              {"config.amazonaws.com": ("StopConfigurationRecorder", "DeleteConfigurationRecorder", "DeleteDeliveryChannel")},
              "Config keeps the history of every resource's configuration; stopped, changes go unrecorded.",
              "Region clean-up.", _always("configurationRecorderName")),
    Detection("kms_key_deletion", "KMS key disabled or scheduled for deletion", "KMS キーの無効化・削除予約", "high",
              "T1485 Data Destruction", {"kms.amazonaws.com": ("ScheduleKeyDeletion", "DisableKey")},
              "Data encrypted under a deleted key is lost for good, logs included.", "Retiring unused keys.", _kms),
    Detection("flow_logs_deleted", "VPC flow logs deleted", "VPC フローログの削除", "high", IMPAIR_LOGS, {EC2: ("DeleteFlowLogs",)},
              "Flow logs are the network record; deleting them hides exfiltration and lateral movement.", "Network clean-up.",
              _flow_logs),
    Detection("organization_left", "Account left its organization", "組織からのアカウント離脱", "critical", IMPAIR_TOOLS,
              {"organizations.amazonaws.com": ("LeaveOrganization",)},
              "Outside the organization, its trails, SCPs and delegated GuardDuty no longer apply.", "Planned account moves.",
              _always(None, "left_organization")),
)

BY_ID: Mapping[str, Detection] = {d.id: d for d in CATALOGUE}


def select(only: Iterable[str] | None = None, min_severity: str | None = None) -> list[Detection]:
    """The detections asked for, by id and by lowest severity; an unknown id is an error."""
    chosen = list(CATALOGUE)
    if only:
        unknown = sorted(set(only) - set(BY_ID))
        if unknown:
            import difflib

            near = sorted({n for u in unknown for n in difflib.get_close_matches(u, list(BY_ID), n=3, cutoff=0.6)})
            raise ConfigError(f"unknown detection {', '.join(unknown)}; "
                              + (f"nearest: {', '.join(near)}" if near else "none is near")
                              + " (`audit-toolkit detect --catalogue` lists them all)")
        chosen = [d for d in chosen if d.id in set(only)]
    if min_severity:
        if min_severity not in SEVERITIES:
            raise ConfigError(f"severity must be one of {', '.join(SEVERITIES)}, got {min_severity!r}")
        floor = SEVERITIES.index(min_severity)
        chosen = [d for d in chosen if SEVERITIES.index(d.severity) >= floor]
    return chosen


def outcome(row: Mapping) -> str:
    """"attempt" for a call that failed (errorCode, or a sign-in whose response says Failure), else
    "success"."""
    return "attempt" if failed(row) or signin_failed(row) else "success"


# Detections whose detail already says the call failed: no "attempted: " before it.
ABOUT_FAILURE = frozenset({"console_login_failed"})


def match(detection: Detection, row: Mapping, ctx: Context | None = None) -> dict | None:
    """The hit one event is for this detection, or None. The one decision batch and real time share."""
    if not detection.reads(row):
        return None
    row = dict(row)
    try:
        request = unwrap(json_object(row.get("requestparameters")))
        decided = detection.decide(row, request, ctx or Context())
    except Exception as e:  # noqa: BLE001 - evidence is hostile input: a call the decision cannot read is shown, not lost
        why = e if isinstance(e, Unreadable) else type(e).__name__
        decided = None, phrase("unreadable", why=why)
    if decided is None:
        return None
    target, said = decided
    if outcome(row) == "attempt" and detection.id not in ABOUT_FAILURE:
        # a failed call changed nothing: never state the change
        said = phrase("attempted", what=said)
    elif error_blank(row):  # shown as the change, which it may have been, and said to be uncertain
        said = phrase("error_blank", what=said)
    who = resolve(row)
    return {
        "detection": detection.id, "severity": detection.severity, "title": detection.title_en,
        "technique": detection.technique, "event_time": row.get("eventtime"), "account": row.get("account"),
        "region": row.get("region"), "event_source": row.get("eventsource"), "event_name": row.get("eventname"),
        "outcome": outcome(row), "error_code": row.get("errorcode"), "target": json_text(target),
        "detail": say(said, "en"), "actor": who["actor"], "actor_type": who["actor_type"],
        "actor_arn": who["actor_arn"],
        "source_ip": row.get("sourceipaddress"), "tool": who["tool"], "event_id": row.get("eventid"),
        "detail_phrase": said,
    }


def detail_text(hit: Mapping, language: str) -> str:
    """A hit's detail in `language`, from its phrase; a hit that has none (a Sigma rule's, a row
    from elsewhere) shows its `detail` as it is."""
    said = hit.get("detail_phrase")
    return say(said, language) if isinstance(said, Mapping) else hit.get("detail")


def evaluate(row: Mapping, ctx: Context | None = None, detections: Iterable[Detection] = CATALOGUE) -> list[dict]:
    """Every hit one event makes (the real-time path)."""
    return [hit for d in detections if (hit := match(d, row, ctx)) is not None]


# Detections whose decision learns from other events (learned): their queries also run over the whole evidence.
LEARN_FROM_HISTORY = ("trail_bucket_changed", "eventbridge_security_rule_changed",
                      "instance_secrets_enumerated", "secrets_read_burst")
# Detections the real-time Lambda cannot make: they count across events.
BATCH_ONLY = ("instance_secrets_enumerated", "secrets_read_burst")


def learn_trail_buckets(events: pd.DataFrame, settings: Settings | None = None) -> frozenset[str]:
    """Buckets that receive a trail's logs: named by CreateTrail/UpdateTrail in the evidence, or configured."""
    found = set(getattr(settings or Settings(), "trail_buckets", ()) or ())
    if len(events):
        for row in records(events[(events["eventsource"] == CT) & events["eventname"].isin(["CreateTrail", "UpdateTrail"])]):
            bucket = json_object(row.get("requestparameters")).get("s3BucketName")
            if bucket and not failed(row):
                found.add(str(bucket))
    return frozenset(found)


def learn_security_rule_calls(events: pd.DataFrame) -> frozenset[str]:
    """The PutRule calls (event ids) made on a rule that delivered security events just before: the
    successful PutRule calls replayed in time order, per account, region and rule name."""
    import pandas as pd

    if not len(events):
        return frozenset()
    puts = events[(events["eventsource"] == EB) & (events["eventname"] == "PutRule")]
    puts = puts.sort_values("eventtime", key=lambda t: pd.to_datetime(t, utc=True, format="ISO8601", errors="coerce"), kind="stable")
    delivering, found = set(), set()
    for row in records(puts):
        req = json_object(row.get("requestparameters"))
        rule = (row.get("account"), row.get("region"), str(req.get("name")))
        if rule in delivering and row.get("eventid"):
            found.add(str(row["eventid"]))
        if not failed(row):  # a failed PutRule changed nothing
            (delivering.add if _names_security_source(req) else delivering.discard)(rule)
    return frozenset(found)


def learn_bursts(events: pd.DataFrame, settings: Settings) -> frozenset[str]:
    """The calls, failed ones included, of an identity's burst of secret reads: the password data
    or user data of `burst_instances` instances, or `burst_secrets` secrets and SecureString
    parameters read with decryption, within `burst_minutes`."""
    import pandas as pd

    if not len(events):
        return frozenset()
    window = pd.Timedelta(minutes=settings.burst_minutes)
    found: set[str] = set()
    for kind, enough in (("instance", settings.burst_instances),
                         ("secret", settings.burst_secrets)):
        by_identity: dict[tuple, list[tuple[pd.Timestamp, str, tuple[str, ...]]]] = {}
        for row in records(events[events["eventname"].isin(BURST_READS)]):
            req = unwrap(json_object(row.get("requestparameters")))
            when = pd.to_datetime(row.get("eventtime"), utc=True, errors="coerce", format="ISO8601")
            read = _secrets_read(row, req)
            if read and read[0] == kind and row.get("eventid") and not pd.isna(when):
                who = (row.get("account"), row.get("identity_arn") or row.get("principal_id"))
                by_identity.setdefault(who, []).append((when, str(row["eventid"]), read[1]))
        for calls in by_identity.values():
            calls.sort()
            first = 0
            for last in range(len(calls)):
                while calls[last][0] - calls[first][0] > window:
                    first += 1
                if len({t for _, _, targets in calls[first:last + 1] for t in targets}) >= enough:
                    found |= {event for _, event, _ in calls[first:last + 1]}
    return frozenset(found)


def learned(ctx: Context | None, history: pd.DataFrame) -> Context:
    """The context with what the evidence teaches: the trails' buckets and the PutRule calls on security rules."""
    ctx = ctx or Context()
    return replace(ctx, trail_buckets=ctx.trail_buckets | learn_trail_buckets(history),
                   security_rule_calls=ctx.security_rule_calls | learn_security_rule_calls(history),
                   burst_calls=ctx.burst_calls | learn_bursts(history, ctx.settings))


def hits(detection: Detection, events: pd.DataFrame, ctx: Context | None = None,
         learn: bool = True) -> pd.DataFrame:
    """The hits among a detection query's rows, in time order. `learn=False` for a decision that
    reads nothing learned from the evidence (a Sigma rule's), which the learning would only slow."""
    ctx = learned(ctx, events) if learn else ctx
    return to_frame([h for row in records(events) if (h := match(detection, row, ctx)) is not None])


def detect(candidates: pd.DataFrame, chosen: Iterable[Detection] = CATALOGUE, ctx: Context | None = None,
           history: pd.DataFrame | None = None) -> pd.DataFrame:
    """The hits of several detections among the rows of their union query: each row read once.

    `history`: the LEARN_FROM_HISTORY queries' rows over the whole evidence, when the candidates are a
    narrower scope (default: the candidates themselves)."""
    ctx = learned(ctx, candidates if history is None else history)
    chosen = list(chosen)
    return to_frame([hit for row in records(candidates) for hit in evaluate(row, ctx, chosen)])


def to_frame(found: list[dict]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(found, columns=HIT_COLUMNS)
    if frame.empty:
        return frame.astype({"event_time": "datetime64[ns, UTC]"})
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True, format="ISO8601")
    return frame.sort_values(["event_time", "detection", "event_id"], kind="stable", ignore_index=True)


def catalogue_table(language: str = "en") -> pd.DataFrame:
    """The catalogue as a table: id, title, severity, technique, events read, rationale, false positives."""
    import pandas as pd

    return pd.DataFrame([{
        "id": d.id, "title": d.title(language), "severity": d.severity, "technique": d.technique,
        "events": ", ".join(d.event_names) or "any event by root", "rationale": d.rationale,
        "false_positive": d.false_positive, "query": d.query,
    } for d in CATALOGUE])
