"""Who did it: one readable actor per CloudTrail identity, with the tool they used.

Input columns are the flattened `useridentity` that every CloudTrail query selects (identity_type,
identity_arn, issuer_arn, access_key_id, ...); output adds `actor`, `actor_type`, `actor_arn`,
`session_name`, `tool`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas only where DataFrames are built: the Lambda imports this module bare
    import pandas as pd

from .events import records

ACTOR_COLUMNS = ["actor", "actor_type", "actor_arn", "session_name", "tool"]

# Order matters: the first match names the tool. Terraform and CloudFormation send SDK user agents too.
_TOOLS = [
    (re.compile(r"Terraform|terraform-provider", re.I), "Terraform"),
    (re.compile(r"^cloudformation\.amazonaws\.com$|CloudFormation", re.I), "CloudFormation"),
    (re.compile(r"^(console|signin)\.(aws\.)?amazonaws\.com|^console\.[a-z0-9]+\.amazonaws\.com|AWS-Console|aws-internal/3", re.I), "console"),
    (re.compile(r"^aws-cli/|^aws-cli|\baws-cli/", re.I), "AWS CLI"),
    (re.compile(r"^Boto3/|\bBoto3/|^Botocore/", re.I), "boto3"),
    (re.compile(r"Pulumi", re.I), "Pulumi"),
    (re.compile(r"aws-cdk|CDK", re.I), "CDK"),
    (re.compile(r"aws-sdk-go", re.I), "AWS SDK (Go)"),
    (re.compile(r"aws-sdk-java|aws-java-sdk", re.I), "AWS SDK (Java)"),
    (re.compile(r"aws-sdk-js|aws-sdk-nodejs", re.I), "AWS SDK (JavaScript)"),
    (re.compile(r"aws-sdk-|aws-internal", re.I), "AWS SDK"),
    (re.compile(r"^[a-z0-9.-]+\.amazonaws\.com$", re.I), "AWS service"),
    (re.compile(r"^AWS Internal$", re.I), "AWS internal"),
]


def tool_of(user_agent: str | None, invoked_by: str | None = None) -> str:
    """The tool behind a call, from invokedBy (a service acting for the caller) or the user agent."""
    if invoked_by and "cloudformation" in invoked_by.lower():
        return "CloudFormation"
    text = user_agent or ""
    for pattern, name in _TOOLS:
        if pattern.search(text):
            return name
    if invoked_by:
        return "AWS service"
    return "other" if text else "unknown"


def _value(row: dict, name: str) -> str | None:
    value = row.get(name)
    return None if value is None else str(value)


def resolve(row: dict) -> dict[str, str | None]:
    """One identity, as an investigator names it."""
    kind = _value(row, "identity_type")
    arn = _value(row, "identity_arn")
    account = _value(row, "identity_account")
    issuer_arn = _value(row, "issuer_arn")
    invoked_by = _value(row, "invoked_by")
    session = None
    if kind == "Root":
        actor, actor_arn = f"root ({account})" if account else "root", arn
    elif kind == "IAMUser":
        actor, actor_arn = arn or f"user/{_value(row, 'user_name')}", arn
    elif kind == "AssumedRole":
        session = arn.rsplit("/", 1)[-1] if arn and "/" in arn else None
        role = issuer_arn or arn
        actor_arn = role
        issuer_name = _value(row, "issuer_name") or ""
        if issuer_name.startswith("AWSReservedSSO_"):
            kind = "SSOUser"
            actor = f"{session} (SSO via {role})"
        else:
            actor = f"{role} (session {session})" if session else role
    elif kind == "FederatedUser":
        actor, actor_arn = arn or _value(row, "principal_id"), arn
    elif kind == "AWSService":
        actor, actor_arn = invoked_by or "AWS service", None
    elif kind == "IdentityCenterUser":
        actor, actor_arn = _value(row, "on_behalf_of") or _value(row, "principal_id"), arn
    elif kind in ("SAMLUser", "WebIdentityUser"):
        actor, actor_arn = _value(row, "user_name") or _value(row, "principal_id"), arn
    elif kind == "AWSAccount":
        actor, actor_arn = f"account {account or _value(row, 'principal_id')}", None
    else:
        actor, actor_arn = arn or _value(row, "principal_id") or invoked_by or "unknown", arn
    if invoked_by and kind != "AWSService":
        actor = f"{actor} via {invoked_by}"
    return {
        "actor": actor,
        "actor_type": kind,
        "actor_arn": actor_arn,
        "session_name": session,
        "tool": tool_of(_value(row, "useragent"), invoked_by),
    }


_ROLE_SESSION = re.compile(r"^arn:aws[\w-]*:(?:iam|sts)::\d*:(?:assumed-)?role/(?:.*/)?([^/ ]+) \(session (.*)\)$")
_SSO = re.compile(r"^(.*) \(SSO via .*\)$")
_NAMED = re.compile(r"^arn:aws[\w-]*:(?:iam|sts)::\d*:(user|federated-user|role)/(?:.*/)?([^/]+)$")
# Any user allowed GetFederationToken can mint a federated `dave`: never shown as the IAM user dave.
_KIND = {"user": "", "role": " (role)", "federated-user": " (federated)"}


def short(actor: str | None) -> str | None:
    """An actor as an investigator reads it at a glance: `ops-admin / mallory` for a role session,
    `carol@example.com (SSO)`, `alice` for an IAM user, `dave (federated)`, `ops-admin (role)`; the
    full form stays in `actor`."""
    if not isinstance(actor, str):
        return actor
    head, via, service = actor.partition(" via ")
    if via and not service.endswith("amazonaws.com"):  # " via " inside a session name, not a service
        head, via, service = actor, "", ""
    if m := _ROLE_SESSION.match(head):
        head = f"{m[1]} / {m[2]}"
    elif m := _SSO.match(head):
        head = f"{m[1]} (SSO)"
    elif m := _NAMED.match(head):
        head = m[2] + _KIND[m[1]]
    return f"{head}{via}{service}"


def principal(row: dict | pd.Series) -> str | None:
    """What Investigation.activity takes to follow the actor of one change: a temporary key (ASIA...)
    belongs to one session, so a role's other sessions stay out; otherwise the actor's ARN, or its name."""
    key = row.get("access_key_id")
    if isinstance(key, str) and key.startswith("ASIA"):
        return key
    return row.get("actor_arn") or row.get("actor")


def with_actors(events: pd.DataFrame) -> pd.DataFrame:
    """The events with the ACTOR_COLUMNS added, one resolution per distinct identity."""
    import pandas as pd

    keys = ["identity_type", "identity_arn", "identity_account", "issuer_arn", "issuer_name",
            "invoked_by", "user_name", "principal_id", "on_behalf_of", "useragent"]
    if events.empty:
        return events.assign(**{c: pd.Series(dtype="object") for c in ACTOR_COLUMNS})
    present = [k for k in keys if k in events.columns]
    distinct = events[present].drop_duplicates()
    resolved = pd.DataFrame([resolve(r) for r in records(distinct)], index=distinct.index)
    table = pd.concat([distinct, resolved], axis=1)
    return events.merge(table, on=present, how="left")


def summarize(events: pd.DataFrame) -> pd.DataFrame:
    """Who acted, how often, from where and with what: one row per actor."""
    import pandas as pd

    if events.empty:
        return pd.DataFrame(columns=["actor", "actor_type", "events", "failed", "first_seen", "last_seen", "source_ips", "tools"])
    frame = events if "actor" in events.columns else with_actors(events)
    grouped = frame.groupby("actor", dropna=False)
    return (
        pd.DataFrame(
            {
                "actor_type": grouped["actor_type"].first(),
                "events": grouped.size(),
                "failed": grouped["errorcode"].apply(lambda s: int(s.notna().sum())),
                "first_seen": grouped["eventtime"].min(),
                "last_seen": grouped["eventtime"].max(),
                "source_ips": grouped["sourceipaddress"].apply(lambda s: ", ".join(sorted(set(s.dropna().astype(str))))),
                "tools": grouped["tool"].apply(lambda s: ", ".join(sorted(set(s.dropna())))),
            }
        )
        .reset_index()
        .sort_values(["events", "actor"], ascending=[False, True], ignore_index=True)
    )
