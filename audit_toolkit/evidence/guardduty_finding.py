"""One GuardDuty finding, flattened: what the batch and the real-time Lambda share.

The standard library only (msgspec when it is installed, for speed): the Lambda imports this module
bare. `evidence.guardduty` reads files into the `guardduty` table and builds DataFrames on top of it.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Mapping

from ..phrases import reason

try:  # msgspec decodes and encodes 2-3x faster; the Lambda has the standard library's json only
    from msgspec.json import decode as _decode
    from msgspec.json import encode as _encode
except ImportError:
    from json import loads as _decode

    def _encode(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

KNOWN_SCHEMA_VERSIONS = frozenset({"2.0"})
# Resource types whose details this module reads; others keep the finding's common fields.
KNOWN_RESOURCE_TYPES = frozenset({
    "Instance", "AccessKey", "S3Bucket", "EKSCluster", "KubernetesCluster", "ECSCluster", "Container",
    "RDSDBInstance", "RDSLimitlessDB", "Lambda", "EC2Instance", "EC2NetworkInterface", "EBSVolume",
    "S3Object", "AutoScalingGroup", "IAMInstanceProfile",
})

# The flat fields of a finding, what the analysis, the CLI and the messages read.
FINDING_COLUMNS = [
    "id", "type", "threat_purpose", "type_resource", "threat_family", "severity", "severity_label", "title",
    "description", "account", "region", "partition", "arn", "detector_id", "schema_version",
    "created_at", "updated_at", "first_seen", "last_seen", "count", "archived", "sample",
    "resource_type", "resource_name", "instance_id", "security_group_ids", "security_group_names",
    "public_ips", "private_ips", "action_type", "remote_ip", "remote_port", "remote_country", "remote_city",
    "remote_org", "remote_asn", "local_port", "local_ports", "protocol", "direction", "blocked",
]

# The finding's top-level fields, by their column in the `guardduty` table.
_TOP = {"schemaversion": "schemaVersion", "accountid": "accountId", "region": "region", "partition": "partition",
        "id": "id", "arn": "arn", "type": "type", "severity": "severity", "createdat": "createdAt",
        "updatedat": "updatedAt", "title": "title", "description": "description"}

# AWS's bands by lowest bound: Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0
# (docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings.html, "Severity levels").
SEVERITY_BANDS = (("Low", 1.0), ("Medium", 4.0), ("High", 7.0), ("Critical", 9.0))


def severity_label(severity: object) -> str | None:
    """AWS's band for a severity number (below 1.0 counts as Low); None when it is not a number."""
    try:
        value = float(severity)
    except (TypeError, ValueError):
        return None
    if math.isnan(value):
        return None
    return [name for name, low in SEVERITY_BANDS if value >= low or name == "Low"][-1]


def _camel(value: Any) -> Any:
    """The API's PascalCase keys (AccountId, Resource.InstanceDetails, ...) as the export's camelCase."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:] if k[:1].isupper() else k): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _json_in_string(value: Any) -> Any:
    """A JSON document carried as a string (an SNS Message, a re-encoded field), decoded; else unchanged."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return _decode(value)
        except (ValueError, RecursionError):  # msgspec's DecodeError is a ValueError
            return value
    return value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return _encode(value).decode()
    return str(value)


def _obj(value: Any) -> dict:
    if value.__class__ is dict:  # the common case, first: this runs a dozen times a finding
        return value
    value = _json_in_string(value)
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    value = _json_in_string(value)
    return value if isinstance(value, list) else []


def _join(values: Iterable[Any]) -> str | None:
    seen = list(dict.fromkeys(str(v) for v in values if v not in (None, "")))
    return ",".join(seen) or None


def _port(value: Any) -> int | None:
    try:
        port = int(_obj(value).get("port"))
    except (TypeError, ValueError):
        return None
    return port if 0 <= port <= 65535 else None


def _remote(details: dict) -> dict:
    # GuardDuty writes "" where GeoIP knows nothing (cityName most often): that is missing, not a value.
    organization = _obj(details.get("organization"))
    return {
        "remote_ip": _text(details.get("ipAddressV4") or details.get("ipAddressV6") or None),
        "remote_country": _text(_obj(details.get("country")).get("countryName") or None),
        "remote_city": _text(_obj(details.get("city")).get("cityName") or None),
        "remote_org": _text(organization.get("asnOrg") or organization.get("org") or None),
        "remote_asn": _text(organization.get("asn") or None),
    }


def _action(service: dict) -> dict:
    """The action's remote end, ports, direction and protocol, for the action types that have them."""
    action = _obj(service.get("action"))
    out: dict = {"action_type": _text(action.get("actionType"))}
    if "networkConnectionAction" in action:
        detail = _obj(action["networkConnectionAction"])
        local = _port(detail.get("localPortDetails"))
        out.update(_remote(_obj(detail.get("remoteIpDetails"))), remote_port=_port(detail.get("remotePortDetails")),
                   local_port=local, local_ports=None if local is None else str(local),
                   protocol=_text(detail.get("protocol")),
                   direction=_text(detail.get("connectionDirection")),
                   blocked=_flag(detail.get("blocked")))
    elif "portProbeAction" in action:
        detail = _obj(action["portProbeAction"])
        probes = [_obj(p) for p in _list(detail.get("portProbeDetails"))]
        first = probes[0] if probes else {}
        ports = [p for p in (_port(probe.get("localPortDetails")) for probe in probes) if p is not None]
        out.update(_remote(_obj(first.get("remoteIpDetails"))), local_port=ports[0] if ports else None,
                   local_ports=_join(sorted(set(ports))), direction="INBOUND",
                   blocked=_flag(detail.get("blocked")))
    else:
        for kind in ("awsApiCallAction", "kubernetesApiCallAction", "rdsLoginAttemptAction", "dnsRequestAction"):
            if kind in action:
                detail = _obj(action[kind])
                out.update(_remote(_obj(detail.get("remoteIpDetails"))),
                           protocol=_text(detail.get("protocol")),
                           blocked=_flag(detail.get("blocked")))
                break
    if not out["action_type"] and action:
        out["action_type"] = next(iter(action))
    return out


def _resource(resource: dict) -> dict:
    kind = resource.get("resourceType")
    instance = _obj(resource.get("instanceDetails"))
    interfaces = [_obj(n) for n in _list(instance.get("networkInterfaces"))]
    groups = [_obj(g) for n in interfaces for g in _list(n.get("securityGroups"))]
    name = instance.get("instanceId")
    if name is None:
        for key, field in (("eksClusterDetails", "name"), ("ecsClusterDetails", "name"), ("lambdaDetails", "functionName"),
                           ("rdsDbInstanceDetails", "dbInstanceIdentifier"), ("accessKeyDetails", "userName")):
            name = _obj(resource.get(key)).get(field)
            if name:
                break
        else:
            name = _join(_obj(b).get("name") for b in _list(resource.get("s3BucketDetails")))
    return {
        "resource_type": _text(kind),
        "resource_name": _text(name),
        "instance_id": _text(instance.get("instanceId")),
        "security_group_ids": _join(g.get("groupId") for g in groups),
        "security_group_names": _join(g.get("groupName") for g in groups),
        "public_ips": _join(n.get("publicIp") for n in interfaces),
        "private_ips": _join(n.get("privateIpAddress") for n in interfaces),
    }


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _count(value: Any) -> int | None:
    """How many times GuardDuty saw the activity: a whole number, None for anything else."""
    if isinstance(value, str) and value.strip().isdigit() and len(value) < 19:
        return int(value)
    whole = isinstance(value, int) and not isinstance(value, bool)
    return value if whole and 0 <= value < 2**63 else None


def _severity(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def flatten(row: Mapping) -> dict:
    """One row of the `guardduty` table (JSON text or objects in resource/service) as FINDING_COLUMNS."""
    kind = row.get("type") or ""
    purpose, _, rest = kind.partition(":")
    type_resource, _, family = rest.partition("/")
    service = _obj(row.get("service"))
    info = _obj(service.get("additionalInfo"))
    severity = _severity(row.get("severity"))
    title = row.get("title")
    # The export flattens `sample` into additionalInfo; the API keeps it only in the JSON string `value`.
    sample = _flag(info.get("sample")) or _flag(_obj(info.get("value")).get("sample"))
    out = {
        "id": row.get("id"),
        "type": row.get("type"),
        "threat_purpose": purpose or None,
        "type_resource": type_resource or None,
        "threat_family": family or None,
        "severity": severity,
        "severity_label": severity_label(severity),
        "title": title,
        "description": row.get("description"),
        "account": row.get("accountid") or row.get("account"),
        "region": row.get("region"),
        "partition": row.get("partition"),
        "arn": row.get("arn"),
        "detector_id": _text(service.get("detectorId")),
        "schema_version": row.get("schemaversion"),
        "created_at": row.get("createdat"),
        "updated_at": row.get("updatedat"),
        "first_seen": _text(service.get("eventFirstSeen")),
        "last_seen": _text(service.get("eventLastSeen")),
        "count": _count(service.get("count")),
        "archived": _flag(service.get("archived")),
        "sample": bool(sample) or (isinstance(title, str) and title.startswith("[SAMPLE]")),
        **_resource(_obj(row.get("resource"))),
        **_action(service),
    }
    return out


def finding_fields(finding: Any) -> dict:
    """One finding as EventBridge delivers it (an event's `detail`, camelCase or the API's PascalCase),
    flattened as `flatten` flattens a row of the table: what the real-time alert posts. A ValueError
    says why a document is not a finding."""
    if not isinstance(finding, dict):
        raise ValueError(reason("not_finding", kind=type(finding).__name__))
    if any(k[:1].isupper() for k in finding):
        finding = _camel(finding)
    if not finding.get("id") or not finding.get("type"):
        raise ValueError(reason("no_id"))
    row = {column: finding.get(key) for column, key in _TOP.items()}
    flat = flatten({**row, "resource": finding.get("resource"), "service": finding.get("service")})
    return {column: flat.get(column) for column in FINDING_COLUMNS}
