"""Security-group state: AWS Config items and EC2 describe output, as a `config` table.

Sources, each recognised by its structure, not its name:
- AWS Config delivery to S3: `AWSLogs/<account>/Config/<region>/YYYY/M/D/ConfigSnapshot/*.json.gz`
  and `.../ConfigHistory/*.json.gz` (month and day not zero-padded),
  `{"fileVersion", "configurationItems"}`.
- `aws configservice get-resource-config-history` output: `{"configurationItems": [...]}` where
  `configuration` is a JSON string and the account is `accountId`.
- `aws ec2 describe-security-groups` (`{"SecurityGroups"}`) and `describe-security-group-rules`
  (`{"SecurityGroupRules"}`) output. They carry no time: it comes from `state_at`, or from the
  manifest where `collect --state` wrote it; a file whose time is unknown is refused, saying why.

The table is shaped like the Athena table over Config's delivery (ddl/create_config.sql): a row per
file with its `configurationitems`, so one SQL text (queries/sg_state.sql) serves both engines. EC2
describe output becomes one item per group, as Config would record it. Items of other resource types
are counted and left; a malformed item is rejected with its reason, the rest of the file is used.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import msgspec
import pyarrow as pa

from ..errors import EvidenceError
from ..phrases import plural, reason, reason_of
from .kinds import CONFIG_LAYOUT, EC2_LAYOUT, kinds_of, layout_kind
from .manifest import Manifest
from .reader import (
    CHUNK_BYTES,
    MAX_FILE_BYTES,
    BadElement,
    FileReport,
    IntakeReport,
    TooLarge,
    decode_by_element,
    decode_element,
    plausible,
    read_text,
    repeated_in,
    repeated_key,
)

SECURITY_GROUP = "AWS::EC2::SecurityGroup"
# Which interface belonged to which instance and groups, and when (for the flow logs' connections).
NETWORK_INTERFACE, INSTANCE = "AWS::EC2::NetworkInterface", "AWS::EC2::Instance"
KEPT_TYPES = (SECURITY_GROUP, NETWORK_INTERFACE, INSTANCE)
STATUSES = frozenset(
    {
        "OK",
        "ResourceDiscovered",
        "ResourceDeleted",
        "ResourceNotRecorded",
        "ResourceDeletedNotRecorded",
    }
)
DELETED = frozenset({"ResourceDeleted", "ResourceDeletedNotRecorded"})

_ITEM = pa.struct(
    [
        (name, pa.list_(pa.string()) if name == "relatedevents" else pa.string())
        for name in (
            "configurationitemversion",
            "configurationitemcapturetime",
            "configurationstateid",
            "awsaccountid",
            "configurationitemstatus",
            "resourcetype",
            "resourceid",
            "resourcename",
            "arn",
            "awsregion",
            "availabilityzone",
            "resourcecreationtime",
            "configuration",
            "relatedevents",
        )
    ]
)
CONFIG_SCHEMA = pa.schema(
    [
        ("fileversion", pa.string()),
        ("configsnapshotid", pa.string()),
        ("configurationitems", pa.list_(_ITEM)),
        ("account", pa.string()),  # partitions, as the S3 key gives them (Athena's projection)
        ("region", pa.string()),
        ("day", pa.string()),  # 'YYYY/M/D', not zero-padded, as in Config's keys
        ("kind", pa.string()),  # ConfigSnapshot | ConfigHistory; 'describe' for EC2's answers
    ]
)

_ARN = re.compile(r"^arn:aws[a-z-]*:ec2:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):")
PAGE_OF_RULES = reason("page_of_rules")
NO_TIME = reason("no_time")


@dataclass
class StateReport(IntakeReport):
    """What was read of the state files; items of other resource types are counted, not used."""

    other_types: Counter = field(default_factory=Counter)
    interfaces: int = 0  # of the items read, those of network interfaces and instances

    def summary(self) -> str:
        others = sum(self.other_types.values())
        kinds = "security-group"
        if self.interfaces:
            kinds = "security-group, network-interface and instance"
        return (
            f"{plural(len(self.files), 'state file')}, {plural(self.read, kinds + ' item')} read, "
            f"{self.used:,} used, "
            f"{self.rejected:,} rejected, {plural(len(self.bad_files), 'unreadable file')}, "
            f"{plural(others, 'item')} of other resource types left"
        )


def read_state(
    paths: Iterable[Path], state_at: str | datetime | None = None, root: Path | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> tuple[pa.Table, StateReport]:
    """The `config` table of these files, and what could not be used and why.

    `state_at` is the capture time of describe output that has none in the manifest under `root`;
    a file whose text is over `max_file_bytes` is refused, as the other readers do.
    """
    manifest = _manifest(root)
    report = StateReport()
    tables = []
    for path in paths:
        file = FileReport(path=str(path))
        report.files.append(file)
        try:
            text = read_text(path, None, file, max_file_bytes)
            key = repeated_key(text)  # a second, empty item list hid the first's groups
            # an item that cannot be decoded (a NaN, deep nesting) costs only itself
            document = None if key else decode_by_element(text, _ITEM_LISTS)
            del text
        except TooLarge as e:
            file.error, file.too_large = reason_of(e), True
            continue
        except (OSError, EOFError, msgspec.DecodeError) as e:  # corrupt gzip, not JSON
            corrupt = not isinstance(e, msgspec.DecodeError)
            file.error = reason("unreadable" if corrupt else "not_json", error=e)
            continue
        except RecursionError:
            file.error = reason("nested_too_deep")
            continue
        if key:
            file.error = reason("key_twice_file", key=repr(key[:40]))
            continue
        # A file may hold both (and CloudTrail records too, which their reader reads): each part
        # is read, so an extra key hides neither.
        # a list holds the kinds of its elements, but they are not read here
        kinds = kinds_of(document) if isinstance(document, dict) else ()
        file.shape = ",".join(k for k in kinds if k in ("config", "ec2-describe"))
        others = [k for k in kinds if k not in ("config", "ec2-describe")]
        if others and layout_kind(path) is not None:  # no other reader is given it: say so
            file.warn(reason("also_holds", kinds=" and ".join(others), folder=layout_kind(path)))
        if "config" in kinds:
            tables += _config_rows(document, path, file, report)
        if "ec2-describe" in kinds:
            try:
                captured, problem = _captured_at(path, manifest, root, state_at), NO_TIME
            except ValueError as e:
                captured, problem = None, reason_of(e)
            if captured is not None:
                tables += _describe_rows(document, path, captured, file)
            elif "config" in kinds:  # the file's Config items are read: only this part is refused
                file.warn(reason("describe_not_read", problem=problem))
            else:
                file.error = problem
                continue
        if not file.shape:
            keys = sorted(document)[:10] if isinstance(document, dict) else type(document).__name__
            file.error = reason("not_state", keys=keys)
    return pa.concat_tables([empty_table(), *tables]), report


def _table(rows: list[dict | None]) -> pa.Table:
    return pa.Table.from_pylist([r for r in rows if r], schema=CONFIG_SCHEMA)


_ITEM_LISTS = ("configurationItems", "SecurityGroups", "SecurityGroupRules")


def _manifest(root: Path | None) -> Manifest | None:
    """collect's manifest, for the capture time of describe output; one that cannot be read gives
    none (the describe files are then refused, saying how to give their time)."""
    try:
        return Manifest.read(root) if root is not None and root.is_dir() else None
    except EvidenceError:
        return None


def _captured_at(path: Path, manifest: Manifest | None, root: Path | None, state_at) -> str | None:
    if manifest is not None and root is not None:
        try:
            entry = manifest.objects.get(
                Path(path).resolve().relative_to(root.resolve()).as_posix()
            )
        except ValueError:
            entry = None
        if entry and entry.get("captured_at"):
            return plausible(iso_time(entry["captured_at"]), "the capture time in the manifest")
    return None if state_at is None else plausible(iso_time(state_at), "--state-at")


def iso_time(value: Any) -> str:
    """A capture time as ISO 8601 UTC with milliseconds; ValueError if it is none.

    Config's S3 delivery writes '2026-11-02T00:30:00.123Z'; the CLI writes an offset; raw API JSON
    may hold epoch seconds.
    """
    if isinstance(value, bool):
        raise ValueError(reason("not_a_time", value=repr(value)))
    if isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, timezone.utc)
    elif isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    else:
        raise ValueError(reason("not_a_time", value=repr(value)))
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _partition(path: Path, layout: re.Pattern) -> dict:
    match = layout.search(Path(path).as_posix())
    if not match:
        return {"account": None, "region": None, "day": None, "kind": None}
    found = match.groupdict()
    day = f"{match['y']}/{int(match['m'])}/{int(match['d'])}" if "y" in found else None
    return {"account": match["account"], "region": match["region"], "day": day,
            "kind": found.get("kind")}


def _config_rows(document: dict, path: Path, file: FileReport, report: StateReport) -> list[pa.Table]:
    """The file's items, a row (of the same file) for each CHUNK_BYTES of their text: only one
    chunk's items are ever objects at once."""
    tables, items, size = [], [], 0
    raws = document["configurationItems"]
    for index, raw in enumerate(raws):
        item = decode_element(raw)
        size += len(raw) if isinstance(raw, (bytes, msgspec.Raw)) else 0
        kind = item.get("resourceType") if isinstance(item, dict) else None
        if kind is not None and kind not in KEPT_TYPES:
            report.other_types[str(kind)] += 1
        else:
            _config_use(item, index, items, file, report, _partition(path, CONFIG_LAYOUT))
        if size >= CHUNK_BYTES:
            tables.append(_table([_config_row(document, path, items)]))
            items, size = [], 0
    if items or not tables:
        tables.append(_table([_config_row(document, path, items)]))
    return tables


def _config_row(document: dict, path: Path, items: list[dict]) -> dict:
    return {
        "fileversion": _str(document.get("fileVersion")),
        "configsnapshotid": _str(document.get("configSnapshotId")),
        "configurationitems": items,
        **_partition(path, CONFIG_LAYOUT),
    }


def _config_use(item: Any, index: int, items: list[dict], file: FileReport, report: StateReport,
                place: dict) -> None:
    """One item of a kept type read into `items`, or rejected with its reason."""
    report.interfaces += isinstance(item, dict) and item.get("resourceType") in (NETWORK_INTERFACE, INSTANCE)
    file.read += 1
    try:
        row, configuration = _config_item(item)
        _in_its_folder(row, place)
    except ValueError as e:
        file.reject(index, reason_of(e))
        return
    items.append(row)
    file.used += 1
    for name in ("ipPermissions", "ipPermissionsEgress"):
        if _bad_protocol((configuration or {}).get(name) or [], "ipProtocol"):
            file.warn(reason("config_protocol", name=name), index)
        if _reversed_ports((configuration or {}).get(name) or []):
            file.warn(reason("reversed_ports"), index)


def _in_its_folder(row: dict, place: dict) -> None:
    """ValueError where the item's account or region is not those of the folder AWS delivered it
    to (AWSLogs/<account>/Config/<region>/): such an item, read as its own, closed the windows of
    another account's group. Rejected rather than kept, so it never bounds a window at all."""
    arn = _ARN.match(row["arn"] or "")
    said = [("awsAccountId", row["awsaccountid"], "account"),
            ("awsRegion", row["awsregion"], "region"),
            ("the ARN's account", arn and arn["account"], "account"),
            ("the ARN's region", arn and arn["region"], "region")]
    for name, value, part in said:
        if value and place[part] and value != place[part]:
            raise ValueError(f"{name} {value} is not {place[part]}, the {part} of the folder AWS "
                             "delivered it to: it is not read")


def _config_item(item: Any) -> tuple[dict, dict | None]:
    """One item (a security group, network interface or instance) as the table holds it, and its
    configuration decoded; ValueError says why it cannot be used."""
    if isinstance(item, BadElement):
        raise ValueError(item.reason)
    if not isinstance(item, dict):
        raise ValueError(reason("not_object"))
    kind = item.get("resourceType")
    if kind not in KEPT_TYPES:
        raise ValueError(reason("no_resource_type"))
    status = item.get("configurationItemStatus")
    if not isinstance(status, str) or status not in STATUSES:  # a list is no status (nor hashable)
        raise ValueError(reason("unknown_status", status=repr(str(status)[:40])))
    if status == "ResourceNotRecorded":
        raise ValueError(reason("not_recorded"))
    if not isinstance(item.get("resourceId"), str) or not item["resourceId"]:
        raise ValueError(reason("no_resource_id"))
    try:
        captured = iso_time(item.get("configurationItemCaptureTime"))
    except (ValueError, OverflowError, OSError) as e:
        raise ValueError(reason("capture_time", error=reason_of(e))) from None
    plausible(captured, "configurationItemCaptureTime")
    configuration = item.get("configuration")
    if isinstance(configuration, str):  # get-resource-config-history writes it as JSON text
        text = configuration.encode()
        try:
            configuration = msgspec.json.decode(text) if configuration.strip() else None
        except msgspec.DecodeError:
            raise ValueError(reason("configuration_text")) from None
        except RecursionError:
            raise ValueError(reason("configuration_too_deep")) from None
        # the text is a document of its own: a key twice in it hides a rule as it would anywhere
        key = repeated_in(text, configuration) if configuration is not None else None
        if key:
            raise ValueError(reason("key_twice_item", key=f"configuration.{key}"))
    if configuration is not None and not isinstance(configuration, dict):
        raise ValueError(reason("configuration_not_object"))
    if configuration is None and status not in DELETED:
        raise ValueError(reason("no_configuration", status=status))
    for name in ("ipPermissions", "ipPermissionsEgress"):
        if configuration and not isinstance(configuration.get(name) or [], list):
            raise ValueError(reason("not_a_list", name=name))
    if kind == SECURITY_GROUP and configuration is not None and not _has_list(configuration, "ipPermissions"):
        # Config always writes the list, [] for none: without it the item does not say which
        # rules the group holds, and read as none it closed every window of the group.
        raise ValueError(reason("no_ip_permissions"))
    related = item.get("relatedEvents") or []
    return {
        "configurationitemversion": _str(item.get("configurationItemVersion"))
        or _str(item.get("version")),
        "configurationitemcapturetime": captured,
        "configurationstateid": _str(item.get("configurationStateId"), numbers=True),
        "awsaccountid": _str(item.get("awsAccountId")) or _str(item.get("accountId")),
        "configurationitemstatus": status,
        "resourcetype": kind,
        "resourceid": item["resourceId"],
        "resourcename": _str(item.get("resourceName")),
        "arn": _str(item.get("ARN")) or _str(item.get("arn")),
        "awsregion": _str(item.get("awsRegion")),
        "availabilityzone": _str(item.get("availabilityZone")),
        "resourcecreationtime": _str(item.get("resourceCreationTime")),
        "configuration": None
        if configuration is None
        else msgspec.json.encode(configuration).decode(),
        "relatedevents": [str(e) for e in related if isinstance(e, str)]
        if isinstance(related, list)
        else [],
    }, configuration


def _describe_rows(document: dict, path: Path, captured: str, file: FileReport) -> list[pa.Table]:
    """EC2 describe output as items: one per group, its rules as describe gave them, a chunk of
    groups a row. Each entry is checked as it is read and decoded again when its group is
    written (_group_configuration), so only one group's entries are objects at once: 152 MB of
    groups took 2.1 GB held as objects."""
    place = _partition(path, EC2_LAYOUT)
    groups: dict[str, dict] = {}
    entries = [("SecurityGroups", g) for g in document.get("SecurityGroups") or []]
    if document.get("SecurityGroupRules") and document.get("NextToken"):
        # One page of the rules: a group's other rules may be on the next, and a rule missing
        # from a state would close its window. (A page of SecurityGroups holds whole groups.)
        if not entries:
            file.error = PAGE_OF_RULES
            return []
        file.warn(PAGE_OF_RULES)
    else:
        entries += [("SecurityGroupRules", r) for r in document.get("SecurityGroupRules") or []]
    file.shape = (
        "describe-security-groups"
        if document.get("SecurityGroups")
        else "describe-security-group-rules"
    )
    for index, (kind, entry) in enumerate(entries):
        entry = decode_element(entry)
        file.read += 1
        if isinstance(entry, BadElement):
            file.reject(index, entry.reason)
            continue
        group_id = entry.get("GroupId") if isinstance(entry, dict) else None
        if not isinstance(group_id, str) or not group_id:
            file.reject(index, reason("no_group_id"))
            continue
        arn = _ARN.match(
            str(entry.get("SecurityGroupArn") or entry.get("SecurityGroupRuleArn") or "")
        )
        region = arn["region"] if arn else place["region"]
        account = (
            _str(entry.get("OwnerId"))
            or _str(entry.get("GroupOwnerId"))
            or (arn["account"] if arn else place["account"])
        )
        if not region:
            file.reject(index, reason("no_region"))
            continue
        if kind == "SecurityGroups" and not all(
            isinstance(entry.get(n) or [], list) for n in ("IpPermissions", "IpPermissionsEgress")
        ):
            file.reject(index, reason("permissions_not_list"))
            continue
        if kind == "SecurityGroups" and not _has_list(entry, "IpPermissions"):
            file.reject(index, reason("no_permissions"))
            continue
        permissions = [*(entry.get("IpPermissions") or []), *(entry.get("IpPermissionsEgress") or [])]
        if _bad_protocol(permissions if kind == "SecurityGroups" else [entry], "IpProtocol"):
            file.warn(reason("protocol"), index)
        if _reversed_ports(permissions if kind == "SecurityGroups" else [entry]):
            file.warn(reason("reversed_ports"), index)
        file.used += 1
        group = groups.setdefault(group_id, {"id": group_id, "account": account, "region": region,
                                             "entries": [], "described": False})
        group["entries"].append(index)
        if kind == "SecurityGroups":
            if group["described"]:  # the later entry replaced the rules, and closed windows
                file.warn(reason("described_twice", group=group_id), index)
            group["described"] = True
    tables, items, size = [], [], 0
    for index, g in enumerate(groups.values()):
        name, configuration = _group_configuration(
            g, [(entries[i][0], msgspec.json.decode(entries[i][1])) for i in g["entries"]])  # checked when read
        items.append({
            "configurationitemversion": None,
            "configurationitemcapturetime": captured,
            "configurationstateid": None,
            "awsaccountid": g["account"],
            "configurationitemstatus": "OK",
            "resourcetype": SECURITY_GROUP,
            "resourceid": g["id"],
            "resourcename": name,
            "arn": None,
            "awsregion": g["region"],
            "availabilityzone": None,
            "resourcecreationtime": None,
            "configuration": configuration,
            "relatedevents": [],
        })
        size += len(configuration)
        if size >= CHUNK_BYTES or index == len(groups) - 1:
            tables.append(_table([_describe_row(place, items)]))
            items, size = [], 0
    return tables or [_table([_describe_row(place, [])])]


def _describe_row(place: dict, items: list[dict]) -> dict:
    return {"fileversion": None, "configsnapshotid": None, "configurationitems": items, **place,
            "kind": "describe"}


def _group_configuration(group: dict, entries: list[tuple[str, dict]]) -> tuple[str | None, str]:
    """A group's name and configuration, as Config writes one, from its describe entries (checked,
    and decoded again only now: a file's entries are never all objects at once)."""
    conf: dict = {"groupId": group["id"]}
    for kind, entry in entries:
        if kind == "SecurityGroups":
            conf.update(
                groupName=_str(entry.get("GroupName")),
                vpcId=_str(entry.get("VpcId")),
                ownerId=group["account"],
                ipPermissions=[*conf.get("ipPermissions", []), *(entry.get("IpPermissions") or [])],
                ipPermissionsEgress=[*conf.get("ipPermissionsEgress", []),
                                     *(entry.get("IpPermissionsEgress") or [])],
            )
        else:
            conf.setdefault("securityGroupRules", []).append(entry)
    return conf.get("groupName"), msgspec.json.encode(conf).decode()


def _has_list(node: dict, name: str) -> bool:
    """Whether `node` has the list `name`, however it is cased (the rules are read so)."""
    return any(isinstance(k, str) and k.lower() == name.lower() and isinstance(v, list)
               for k, v in node.items())


def _bad_protocol(permissions: list, name: str) -> bool:
    """Whether a permission's protocol is neither text nor a number (an object, a list, a boolean):
    no rule can be read from it."""
    protocols = [p.get(name) for p in permissions if isinstance(p, dict)]
    return any(isinstance(v, bool) or not isinstance(v, (str, int, type(None))) for v in protocols)


def _reversed_ports(permissions: list) -> bool:
    """Whether a TCP or UDP permission's FromPort is above its ToPort (65535 to 0): it covers no
    port as read, so it is named in a warning rather than read silently as no rule (an ICMP rule's
    ports are a type and a code, which may be so)."""
    def member(node: dict, name: str) -> Any:
        return next((v for k, v in node.items() if isinstance(k, str) and k.lower() == name), None)

    def number(value: Any) -> int | None:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return None
        text = str(value).strip()
        return int(text) if text.lstrip("-").isdigit() and len(text) < 8 else None

    for p in permissions:
        if not isinstance(p, dict):
            continue
        protocol = member(p, "ipprotocol")
        text = str(protocol).strip().lower() if isinstance(protocol, (str, int)) else ""
        text = str(int(text)) if text.isdigit() and len(text) < 7 else text
        low, high = number(member(p, "fromport")), number(member(p, "toport"))
        if text in ("tcp", "udp", "6", "17") and low is not None and high is not None and low > high:
            return True
    return False


def _str(value: Any, numbers: bool = False) -> str | None:
    """A value of the evidence as text. Anything else (an object, a list, a boolean; a number,
    unless `numbers`: Config writes configurationStateId as one) is no value, never its Python
    repr: an account or region then comes from the path or the ARN, a name is missing, and an
    item without its resourceId is rejected (analysis.events.text_of: the same rule)."""
    if isinstance(value, str):
        return value
    number = numbers and isinstance(value, int) and not isinstance(value, bool)
    return str(value) if number else None


def empty_table() -> pa.Table:
    return CONFIG_SCHEMA.empty_table()
