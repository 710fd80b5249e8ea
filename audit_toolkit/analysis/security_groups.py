"""Security-group changes, one row per rule change, from every request shape CloudTrail writes.

Shapes handled (all seen in real trails):
- `requestParameters.ipPermissions.items[]` with ipRanges / ipv6Ranges / groups / prefixListIds
- the flat form: `ipProtocol`, `fromPort`, `toPort`, `cidrIp` (or a source group) at the top
- `ModifySecurityGroupRulesRequest` in PascalCase, one rule or a list, keyed by rule id
- `responseElements.securityGroupRuleSet.items[]`: what an authorize really created, with rule ids
- revocation by rule id (`securityGroupRuleIds`), resolved from rules seen earlier in the evidence
- `responseElements.revokedSecurityGroupRuleSet.items[]`: what a revoke really removed, with rule ids,
  and `unknownIpPermissionSet`: what it removed nothing for (action `revoke_unmatched`)
- CreateSecurityGroup / DeleteSecurityGroup (by id or by name) and rule description updates
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # pandas only where DataFrames are built: the Lambda imports this module bare
    import pandas as pd

from .actors import ACTOR_COLUMNS, with_actors
from .events import in_order, json_object, records

CHANGE_COLUMNS = [
    "event_time", "event_id", "event_name", "account", "region", "group_id", "group_name",
    "action", "direction", "protocol", "from_port", "to_port", "peer", "peer_type", "rule_id",
    "description", *ACTOR_COLUMNS, "access_key_id", "source_ip", "user_agent", "error_code", "error_message",
]

_ACTIONS = {
    "AuthorizeSecurityGroupIngress": ("authorize", "ingress"),
    "AuthorizeSecurityGroupEgress": ("authorize", "egress"),
    "RevokeSecurityGroupIngress": ("revoke", "ingress"),
    "RevokeSecurityGroupEgress": ("revoke", "egress"),
    "UpdateSecurityGroupRuleDescriptionsIngress": ("update_description", "ingress"),
    "UpdateSecurityGroupRuleDescriptionsEgress": ("update_description", "egress"),
    "ModifySecurityGroupRules": ("modify", None),
    "CreateSecurityGroup": ("create_group", None),
    "DeleteSecurityGroup": ("delete_group", None),
}
EVENT_NAMES = frozenset(_ACTIONS)  # the CloudTrail calls this module understands
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1", "-1": "-1"}


@dataclass
class Rule:
    protocol: str | None = None
    from_port: int | None = None
    to_port: int | None = None
    peer: str | None = None
    peer_type: str | None = None  # cidr_ipv4 | cidr_ipv6 | security_group | prefix_list
    rule_id: str | None = None
    description: str | None = None
    direction: str | None = None  # only when the shape says it (responses, modify); else the event's
    action: str | None = None  # only when the response says otherwise (revoke_unmatched); else the event's
    group_id: str | None = None  # only when a response names it; else the request's


def protocol_name(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    return _PROTOCOLS.get(text, text)


def _port(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _items(node: Any) -> list:
    """CloudTrail writes lists as {"items": [...]}, sometimes as a bare list or a single object."""
    if isinstance(node, dict):
        if "items" in node:
            return [i for i in node["items"] or [] if isinstance(i, dict)]
        return [node] if node else []
    if isinstance(node, list):
        return [i for i in node if isinstance(i, dict)]
    return []


def _get(node: dict, *names: str) -> Any:
    """A member by any of its spellings (CloudTrail mixes camelCase and PascalCase)."""
    for name in names:
        if name in node:
            return node[name]
    lowered = {k.lower(): v for k, v in node.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _permission_rules(p: dict) -> Iterator[Rule]:
    proto = protocol_name(_get(p, "ipProtocol"))
    base = dict(protocol=proto, from_port=_port(_get(p, "fromPort")), to_port=_port(_get(p, "toPort")))
    found = False
    for r in _items(_get(p, "ipRanges")):
        found = True
        yield Rule(**base, peer=_get(r, "cidrIp"), peer_type="cidr_ipv4", description=_get(r, "description"))
    for r in _items(_get(p, "ipv6Ranges")):
        found = True
        yield Rule(**base, peer=_get(r, "cidrIpv6"), peer_type="cidr_ipv6", description=_get(r, "description"))
    for r in _items(_get(p, "groups")):
        found = True
        peer = _get(r, "groupId") or _get(r, "groupName")
        yield Rule(**base, peer=peer, peer_type="security_group", description=_get(r, "description"))
    for r in _items(_get(p, "prefixListIds")):
        found = True
        yield Rule(**base, peer=_get(r, "prefixListId"), peer_type="prefix_list", description=_get(r, "description"))
    if not found:
        yield Rule(**base)


def _flat_rule(req: dict) -> Rule | None:
    """The flat form: ipProtocol / fromPort / toPort / cidrIp (or a source group) at the top."""
    if not any(k in req for k in ("ipProtocol", "cidrIp", "sourceSecurityGroupName", "sourceSecurityGroupId")):
        return None
    peer, peer_type = req.get("cidrIp"), "cidr_ipv4"
    if peer is None and (req.get("sourceSecurityGroupId") or req.get("sourceSecurityGroupName")):
        peer, peer_type = req.get("sourceSecurityGroupId") or req.get("sourceSecurityGroupName"), "security_group"
    return Rule(
        protocol=protocol_name(req.get("ipProtocol") or ("-1" if peer_type == "security_group" else None)),
        from_port=_port(req.get("fromPort")),
        to_port=_port(req.get("toPort")),
        peer=peer,
        peer_type=peer_type if peer else None,
    )


def _response_rules(resp: dict, name: str) -> list[Rule]:
    """What an authorize created (securityGroupRuleSet) or a revoke removed (revokedSecurityGroupRuleSet),
    as the response lists it (with rule ids)."""
    rules = []
    for r in _items((resp or {}).get(name)):
        # A created rule names its peer group in referencedGroupInfo, a revoked one in referencedGroupId.
        group = (r.get("referencedGroupInfo") or {}).get("groupId") or r.get("referencedGroupId")
        for key, kind in (("cidrIpv4", "cidr_ipv4"), ("cidrIpv6", "cidr_ipv6"), ("prefixListId", "prefix_list")):
            if r.get(key):
                peer, peer_type = r[key], kind
                break
        else:
            peer, peer_type = (group, "security_group") if group else (None, None)
        rules.append(
            Rule(
                protocol=protocol_name(r.get("ipProtocol")),
                from_port=_port(r.get("fromPort")),
                to_port=_port(r.get("toPort")),
                peer=peer,
                peer_type=peer_type,
                rule_id=r.get("securityGroupRuleId"),
                description=r.get("description"),
                group_id=r.get("groupId"),
                direction=None if r.get("isEgress") is None else ("egress" if r.get("isEgress") else "ingress"),
            )
        )
    return rules


def _modify_rules(req: dict) -> tuple[str | None, list[Rule]]:
    body = _get(req, "ModifySecurityGroupRulesRequest") or req
    group = _get(body, "GroupId")
    rules = []
    for update in _items(_get(body, "SecurityGroupRule", "SecurityGroupRules")):
        spec = _get(update, "SecurityGroupRule") or {}
        peer, peer_type = None, None
        for key, kind in (("CidrIpv4", "cidr_ipv4"), ("CidrIpv6", "cidr_ipv6"), ("PrefixListId", "prefix_list"), ("ReferencedGroupId", "security_group")):
            if _get(spec, key):
                peer, peer_type = _get(spec, key), kind
                break
        rules.append(
            Rule(
                protocol=protocol_name(_get(spec, "IpProtocol")),
                from_port=_port(_get(spec, "FromPort")),
                to_port=_port(_get(spec, "ToPort")),
                peer=peer,
                peer_type=peer_type,
                rule_id=_get(update, "SecurityGroupRuleId"),
                description=_get(spec, "Description"),
            )
        )
    return group, rules


def _rules_of(event: dict, known: dict[str, Rule]) -> Iterator[tuple[str | None, str | None, Rule]]:
    """(group id, group name, rule) for each rule change in one event."""
    action, _ = _ACTIONS[event["eventname"]]
    req, resp = json_object(event.get("requestparameters")), json_object(event.get("responseelements"))
    group_id, group_name = req.get("groupId"), req.get("groupName")
    if action == "create_group":
        yield resp.get("groupId"), group_name, Rule(description=req.get("groupDescription"))
        return
    if action == "delete_group":
        yield group_id, group_name, Rule()
        return
    if action == "modify":
        group_id, rules = _modify_rules(req)
        for rule in rules:
            yield group_id, None, rule
        return
    # authorize / revoke / update_description: a successful call's response says what really changed
    success = not event.get("errorcode")
    if success and action == "authorize":
        rules = _response_rules(resp, "securityGroupRuleSet") or list(_requested(req, known))
    elif success and action == "revoke":
        rules = _revoked(req, resp, known)
    else:
        rules = list(_requested(req, known))
    for rule in rules:
        yield rule.group_id or group_id, group_name, rule


def _requested(req: dict, known: dict[str, Rule]) -> Iterator[Rule]:
    """The rules an authorize, revoke or description update asks for."""
    rule_ids = [i.get("securityGroupRuleId") for i in _items(req.get("securityGroupRuleIds"))]
    if rule_ids:
        for rule_id in rule_ids:
            yield known.get(rule_id) or Rule(rule_id=rule_id)
        return
    permissions = _items(req.get("ipPermissions"))
    if permissions:
        for p in permissions:
            yield from _permission_rules(p)
        return
    yield _flat_rule(req) or Rule()


def _revoked(req: dict, resp: dict, known: dict[str, Rule]) -> list[Rule]:
    """What a successful revoke removed, and (action revoke_unmatched) what it matched nothing for.

    In a default VPC a revoke that matches no rule still succeeds, and the response lists those
    permissions in unknownIpPermissionSet: they were not removed. Newer responses also list what was
    removed (revokedSecurityGroupRuleSet, with rule ids); older ones leave it to the request.
    """
    unknown = [r for p in _items(resp.get("unknownIpPermissionSet")) for r in _permission_rules(p)]
    removed = _response_rules(resp, "revokedSecurityGroupRuleSet")
    if removed:
        return removed + [replace(r, action="revoke_unmatched") for r in unknown]
    return [replace(r, action="revoke_unmatched") if any(_same(r, u) for u in unknown) else r
            for r in _requested(req, known)]


def _same(a: Rule, b: Rule) -> bool:
    """One rule's content, however each shape spells it (the unknown set may differ from the request)."""
    def content(r: Rule) -> tuple:
        ports = (None, None) if r.protocol == "-1" else (r.from_port, r.to_port)
        return (r.protocol, *ports, str(network(r.peer) or r.peer))
    return content(a) == content(b)


def normalize(events: pd.DataFrame) -> pd.DataFrame:
    """One row per rule change (CHANGE_COLUMNS) from the `sg_changes` query's events, in time order.

    Duplicate deliveries of one event (same eventID) count once.
    """
    import pandas as pd

    if events.empty:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    events = in_order(events)
    events = with_actors(events)
    known: dict[str, Rule] = {}  # rule id -> rule, learnt from responses and modifies as time goes
    rows = [row for e in records(events) for row in changes_of(e, known)]
    frame = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    for col in ("from_port", "to_port"):
        frame[col] = frame[col].astype("Int64")
    return frame


def changes_of(e: dict, known: dict[str, Rule]) -> list[dict]:
    """The rows (CHANGE_COLUMNS) of one event, a row of the `sg_changes` query with ACTOR_COLUMNS;
    `known` (rule id -> rule) learns from it. What `normalize` does per event, and the Lambda per alert."""
    rows = []
    action, direction = _ACTIONS[e["eventname"]]
    for group_id, group_name, rule in _rules_of(e, known):
        if action == "modify" and rule.rule_id in known:
            rule.direction = known[rule.rule_id].direction  # the request does not say; the rule did
        if rule.rule_id and not e.get("errorcode") and action in ("authorize", "modify"):
            known[rule.rule_id] = rule
        rows.append(
            {
                "event_time": e["eventtime"],
                "event_id": e["eventid"],
                "event_name": e["eventname"],
                "account": e["account"],
                "region": e["region"],
                "group_id": group_id,
                "group_name": group_name,
                "action": rule.action or action,
                "direction": rule.direction or direction,
                "protocol": rule.protocol,
                "from_port": rule.from_port,
                "to_port": rule.to_port,
                "peer": rule.peer,
                "peer_type": rule.peer_type,
                "rule_id": rule.rule_id,
                "description": rule.description,
                **{c: e[c] for c in ACTOR_COLUMNS},
                "access_key_id": e.get("access_key_id"),
                "source_ip": e.get("sourceipaddress"),
                "user_agent": e.get("useragent"),
                "error_code": e.get("errorcode"),
                "error_message": e.get("errormessage"),
            }
        )
    return rows


def network(peer: str | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network a CIDR peer names, host bits dropped (203.0.113.9/0 is 0.0.0.0/0)."""
    if not peer:
        return None
    try:
        return ipaddress.ip_network(str(peer).strip(), strict=False)
    except ValueError:
        return None
