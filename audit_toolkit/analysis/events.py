"""CloudTrail events as query results: each once, in time order."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Mapping

from ..invisible import blank
from ..phrases import Reason, reason

if TYPE_CHECKING:  # pandas only where DataFrames are built: the Lambda imports this module bare
    import pandas as pd


def in_order(events: pd.DataFrame) -> pd.DataFrame:
    """Each event once (the same record delivered by two trails counts once), ordered by time.

    Two records with one eventID and different content are both evidence (a forged or corrupted
    record is a finding in itself): both are kept. `eventtime` becomes a UTC timestamp; ties keep
    the event id order, so results are stable.
    """
    import pandas as pd

    events = events.copy()
    events["eventtime"] = pd.to_datetime(events["eventtime"], utc=True, format="ISO8601")
    repeated = events["eventid"].notna() & events["eventid"].duplicated(keep=False)
    if repeated.any():
        content = [json.dumps(r, sort_keys=True, default=str) for r in records(events[repeated])]
        again = pd.Series(content, index=events.index[repeated]).duplicated()
        events = events.drop(index=again.index[again])
    return events.sort_values(["eventtime", "eventid"], kind="stable", ignore_index=True)


def is_missing(value: object) -> bool:
    """None, NaN, pd.NA and NaT alike (what pd.isna says of a scalar), without importing pandas."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, float) and value != value


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts, with None for every kind of missing value (NaN, NA, NaT)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def json_text(value: Any) -> str | None:
    """A value from a log as text: a string as it is, anything else as its JSON (`{"x":[1]}`), never
    as a Python repr; the renderers escape it like any other evidence."""
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return str(value)


def failed(row: Mapping) -> bool:
    """Whether the call failed: an errorCode with something in it a reader can see. A blank one
    (white space, U+200B) cannot say, and is never read as a failure: that reading would hide the change."""
    return bool(row.get("errorcode")) and not error_blank(row)


def error_blank(row: Mapping) -> bool:
    """An errorCode present but blank: whether the call succeeded cannot be decided."""
    error = row.get("errorcode")
    return isinstance(error, str) and bool(error) and blank(error)


class Unreadable(ValueError):
    """A member of an event of a shape the analysis cannot read: the event is reported with it."""


def text_of(value: Any) -> str | None:
    """A name or id from the evidence as text: whatever else an attacker put there (an object, a
    list, a number) is none, never its Python repr."""
    return value if isinstance(value, str) and value else None


def json_object(text: Any) -> dict:
    """A JSON object as the queries return it (text, e.g. `requestparameters`), or one already decoded;
    {} for anything else (null, not JSON, a list, nested deeper than Python follows)."""
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def strict_object(text: Any, what: str) -> dict:
    """A JSON object member, {} for null or absent; Unreadable for anything else."""
    if text is None:
        return {}
    try:
        value = text if isinstance(text, dict) else json.loads(text, object_pairs_hook=_once)
    except _RepeatedKey as e:
        raise Unreadable(reason("member_key_twice", what=what, key=repr(e.args[0][:40]))) from None
    except (TypeError, ValueError, RecursionError):
        raise Unreadable(reason("member_not_json", what=what)) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Unreadable(reason("member_type", what=what, kind=_kind(value), expected=reason("kind_object")))
    return value


class _RepeatedKey(Exception):
    """A JSON object holds a key twice: json.loads would keep the last value without a word."""


def _once(pairs: list[tuple[str, Any]]) -> dict:
    """An object whose keys are each there once, case aside: the security-group normalizer reads
    members in either case (`_get`), so `IpPermissions` beside `ipPermissions` is a key twice."""
    found = dict(pairs)
    if len({k.lower() for k in found}) < len(pairs):
        seen: set[str] = set()
        raise _RepeatedKey(next(k for k, _ in pairs if k.lower() in seen or seen.add(k.lower())))
    return found


def _kind(value: Any) -> Reason | str:
    """The JSON type of a decoded value, for a reason: 'a string', 'a number', ..."""
    if isinstance(value, bool):
        return reason("kind_boolean")
    if isinstance(value, (int, float)):
        return reason("kind_number")
    names = {str: "kind_string", list: "kind_list", dict: "kind_object"}
    return reason(names[type(value)]) if type(value) in names else type(value).__name__


# The request parameter that names what a call acted on, first found first (case aside): a security
# group, a bucket, a trail (`name` of StopLogging, DeleteTrail, UpdateTrail), an instance, an IAM
# identity or policy, a key, a function, a detector, a topic, a secret, a log group, ...
TARGET_KEYS = ("groupId", "bucketName", "trailName", "name", "instanceId", "instanceIds", "userName",
               "roleName", "groupName", "policyArn", "keyId", "keyName", "functionName", "detectorId",
               "topicArn", "subscriptionArn", "secretId", "secretIdList", "logGroupName",
               "dBInstanceIdentifier", "snapshotId", "imageId", "volumeId", "networkInterfaceId",
               "networkAclId", "subnetId", "vpcId", "flowLogId", "flowLogIds", "configurationRecorderName",
               "resolverQueryLogConfigId", "clusterName", "modelId", "target", "resourceArn", "arn")
_TARGET_KEYS = tuple(k.lower() for k in TARGET_KEYS)


def target_of(request: Any) -> str | None:
    """What a call acted on, from its `requestparameters` (JSON text or decoded): the first of
    TARGET_KEYS that holds a name or a list of names (comma-separated), in the parameters or in the
    `...Request` object EC2's newer calls wrap them in (ModifySecurityGroupRules' GroupId); else the
    instances or image of `instancesSet` (RunInstances'). None when it names none; whatever else
    evidence put there (an object, a number) is none too."""
    req = json_object(request)
    wrapped = [v for k, v in req.items() if isinstance(k, str) and k.endswith("Request") and isinstance(v, dict)]
    for holder in (req, *wrapped):
        lower = {k.lower(): v for k, v in holder.items() if isinstance(k, str)}
        for key in _TARGET_KEYS:
            names = _names(lower.get(key))
            if names:
                return ", ".join(names)
    instances = req.get("instancesSet")
    items = instances.get("items") if isinstance(instances, dict) else None
    ids = [text_of(i.get("instanceId")) or text_of(i.get("imageId"))
           for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    return ", ".join(i for i in ids if i) or None


def _names(value: Any) -> list[str]:
    """A name, a list of names, or EC2's `{"tag": 1, "content": name}`, as a list of text."""
    if isinstance(value, dict):
        value = value.get("content")
    values = value if isinstance(value, list) else [value]
    return [v for v in values if text_of(v)]


def name_key(name: object) -> str | None:
    """An event name as the analysis matches it: lowercase, letters and digits alone. AWS writes
    `AuthorizeSecurityGroupIngress`; a record spelling it `authorizesecuritygroupingress` or padded
    (` ...`, `...\\u200b`) is forged or corrupt, and must not hide the call it names. The SQL says
    the same: regexp_replace(lower(eventname), '[^a-z0-9]', '')."""
    return re.sub(r"[^a-z0-9]", "", name.lower()) if isinstance(name, str) else None
