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
- managed prefix lists (`CreateManagedPrefixList`, `ModifyManagedPrefixList`): their entries, so a
  rule naming a `pl-...` list has a known reach where the evidence has them
- classic RDS DB security groups (`AuthorizeDBSecurityGroupIngress` / `Revoke...`): a CIDR let in to
  the database's port, whatever it is (peer_type `cidr_ipv4`, no ports)

Events of one second are put in the order the evidence proves (`in_proven_order`); what it does not
prove is flagged `ambiguous_order`, in the order that keeps an exposure open.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from itertools import zip_longest
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

if TYPE_CHECKING:  # pandas only where DataFrames are built: the Lambda imports this module bare
    import pandas as pd

from .actors import ACTOR_COLUMNS, with_actors
from .address_space import network_public
from ..phrases import reason, reason_of
from .events import (
    Unreadable, _kind, error_blank, in_order, json_object, name_key, records, strict_object,
)

CHANGE_COLUMNS = [
    "event_time", "event_id", "event_name", "account", "region", "group_id", "group_name",
    "action", "direction", "protocol", "from_port", "to_port", "peer", "peer_type", "rule_id",
    "prefix_list_id", "description", *ACTOR_COLUMNS, "access_key_id", "source_ip", "user_agent",
    "error_code", "error_message", "ambiguous_order", "inconsistent", "doubt",
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
    "CreateManagedPrefixList": ("prefix_list_create", None),
    "ModifyManagedPrefixList": ("prefix_list_modify", None),
    "RestoreManagedPrefixListVersion": ("prefix_list_restore", None),
    "AuthorizeDBSecurityGroupIngress": ("authorize", "ingress"),
    "RevokeDBSecurityGroupIngress": ("revoke", "ingress"),
    "DeleteDBSecurityGroup": ("delete_group", None),
}
DB_SECURITY_GROUP_EVENTS = frozenset(
    {"AuthorizeDBSecurityGroupIngress", "RevokeDBSecurityGroupIngress", "DeleteDBSecurityGroup"})
EVENT_NAMES = frozenset(_ACTIONS)  # the CloudTrail calls this module understands
PREFIX_LIST_EVENTS = frozenset({"CreateManagedPrefixList", "ModifyManagedPrefixList",
                                "RestoreManagedPrefixListVersion"})
# What one EC2 event decides alone (the real-time alert): a prefix list needs the history before it.
EC2_GROUP_EVENTS = EVENT_NAMES - DB_SECURITY_GROUP_EVENTS - PREFIX_LIST_EVENTS
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1", "-1": "-1"}


def port_span(protocol, low, high) -> str:
    """A rule's ports as one text: `22`, `20-25`. For ICMP the numbers are a type and a code, so
    `8` (any code, -1) or `8/0`, never `8--1`."""
    if str(protocol).lower() in ("icmp", "icmpv6"):
        return f"{low}" if high in (None, -1) else f"{low}/{high}"
    return f"{low}" if high in (None, low) else f"{low}-{high}"


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
    prefix_list_id: str | None = None  # the managed prefix list whose entry this row changes
    inconsistent: bool = False  # the event's response contradicts its request (_created, _revoked)
    # What the record leaves undecided, read the way that keeps an exposure visible (DOUBTS)
    doubt: str | None = None


# A change's `doubt`: what its record leaves undecided, which the window it opens says in its caveat
# (phrases `exposure.<doubt>`). `name_unlike_aws`: its eventName is a call's only case and other
# characters aside (events.name_key), which AWS never writes: read as that call, and a removal
# so named removes nothing (exposure.RuleState).
DOUBTS = ("rule_elsewhere", "is_egress_unread", "name_unlike_aws")
_BY_KEY = {name_key(n): n for n in _ACTIONS}


def call_named(name: Any) -> str | None:
    """The call an eventName names, as AWS writes it: itself, or the call it spells case and all
    but letters and digits aside (` authorizesecuritygroupingress`); None for no call here."""
    return name if name in _ACTIONS else _BY_KEY.get(name_key(name))


# Each member a rule is made of is checked for its JSON type here: a value of another type (a port
# 1e400, a groupId that is an object, `"items": 5`) raises Unreadable, and `normalize` rejects that
# event with the reason instead of failing the run.

def protocol_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Unreadable(reason("member_type", what="ipProtocol", kind=_kind(value), expected=reason("kind_protocol")))
    text = str(value).strip().lower()
    if text.isdigit() and len(text) < 7:  # a protocol number however written: "06" is 6, TCP
        text = str(int(text))
    return _PROTOCOLS.get(text, text)


# The protocols AWS takes: these names, or an IP protocol number (0-255) it keeps as written.
_KNOWN_PROTOCOLS = frozenset({"tcp", "udp", "icmp", "icmpv6", "-1"})


def is_true(value: Any) -> bool | None:
    """A JSON boolean read strictly: True or False only for true or false; None for anything else
    (absent, "false", 0, 1, an object): what it means is not known, and the caller keeps the
    reading that keeps an exposure visible. Shared with the state (analysis/state.py)."""
    return value if isinstance(value, bool) else None


def _direction_said(value: Any) -> tuple[str | None, str | None]:
    """(direction, doubt) of a response rule's isEgress: absent says nothing; true or false say
    egress or ingress; anything else ("false" as text, 0, 1) is read as ingress, with its doubt."""
    if value is None:
        return None, None
    said = is_true(value)
    if said is None:
        return "ingress", "is_egress_unread"
    return ("egress" if said else "ingress"), None


def _port(value: Any, what: str = "port") -> int | None:
    """A port (or ICMP type/code): -1..65535, as a number or a text of digits."""
    if value is None:
        return None
    number = value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) < 7:
        number = int(value)
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if isinstance(number, int) and not isinstance(number, bool) and -1 <= number <= 65535:
        return number
    raise Unreadable(reason("member_not_port", what=what, value=repr(str(value)[:40])))


def _text(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise Unreadable(reason("member_type", what=what, kind=_kind(value), expected=reason("kind_string")))


def _object(value: Any, what: str) -> dict:
    if value is None or isinstance(value, dict):
        return value or {}
    raise Unreadable(reason("member_type", what=what, kind=_kind(value), expected=reason("kind_object")))


def _items(node: Any, what: str) -> list[dict]:
    """CloudTrail writes lists as {"items": [...]}, sometimes as a bare list or a single object."""
    if isinstance(node, dict):
        if "items" not in node:
            return [node] if node else []
        node = node["items"]
    if node is None:
        return []
    if not isinstance(node, list):
        raise Unreadable(reason("member_type", what=what, kind=_kind(node), expected=reason("kind_list")))
    for item in node:
        if not isinstance(item, dict):
            raise Unreadable(reason("member_holds", what=what, kind=_kind(item)))
    return node


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


def _member(node: dict, *names: str) -> Any:
    """A request's member by any spelling of its name, case aside (`GroupId` is `groupId`); a
    name there twice case aside (`groupId` beside `GroupId`) is Unreadable: which one is the
    evidence cannot be decided. strict_object refuses such text already; a decoded request (the
    Lambda's) is checked here."""
    wanted = {n.lower() for n in names}
    found = [k for k in node if isinstance(k, str) and k.lower() in wanted]
    if len(found) > 1:
        raise Unreadable(reason("sg_member_twice", names=", ".join(sorted(found))[:80]))
    return node[found[0]] if found else None


def _permission_rules(p: dict) -> list[Rule]:
    proto = protocol_name(_get(p, "ipProtocol"))
    base = dict(protocol=proto, from_port=_port(_get(p, "fromPort"), "fromPort"),
                to_port=_port(_get(p, "toPort"), "toPort"))
    rules = []
    for list_name, key, kind in (("ipRanges", "cidrIp", "cidr_ipv4"),
                                 ("ipv6Ranges", "cidrIpv6", "cidr_ipv6"),
                                 ("groups", "groupId", "security_group"),
                                 ("prefixListIds", "prefixListId", "prefix_list")):
        for r in _items(_get(p, list_name), list_name):
            peer = _text(_get(r, key), key)
            if kind == "security_group":
                peer = peer or _text(_get(r, "groupName"), "groupName")
            rules.append(Rule(**base, peer=peer, peer_type=kind,
                              description=_text(_get(r, "description"), "description")))
    return rules or [Rule(**base)]


def _flat_rule(req: dict) -> Rule | None:
    """The flat form: ipProtocol / fromPort / toPort / cidrIp (or a source group) at the top."""
    if not any(_member(req, k) is not None for k in ("ipProtocol", "cidrIp", "sourceSecurityGroupName",
                                                     "sourceSecurityGroupId", "fromPort", "toPort")):
        return None
    peer, peer_type = _text(_member(req, "cidrIp"), "cidrIp"), "cidr_ipv4"
    source = (_text(_member(req, "sourceSecurityGroupId"), "sourceSecurityGroupId")
              or _text(_member(req, "sourceSecurityGroupName"), "sourceSecurityGroupName"))
    if peer is None and source:
        peer, peer_type = source, "security_group"
    return Rule(
        protocol=protocol_name(_member(req, "ipProtocol") or ("-1" if peer_type == "security_group" else None)),
        from_port=_port(_member(req, "fromPort"), "fromPort"),
        to_port=_port(_member(req, "toPort"), "toPort"),
        peer=peer,
        peer_type=peer_type if peer else None,
    )


def _response_rules(resp: dict, name: str) -> list[Rule]:
    """What an authorize created (securityGroupRuleSet) or a revoke removed (revokedSecurityGroupRuleSet),
    as the response lists it (with rule ids)."""
    rules = []
    for r in _items(_member(resp, name), name):
        # A created rule names its peer group in referencedGroupInfo, a revoked one in referencedGroupId.
        info = _object(r.get("referencedGroupInfo"), "referencedGroupInfo")
        group = (_text(info.get("groupId"), "groupId")
                 or _text(r.get("referencedGroupId"), "referencedGroupId"))
        for key, kind in (("cidrIpv4", "cidr_ipv4"), ("cidrIpv6", "cidr_ipv6"), ("prefixListId", "prefix_list")):
            if _text(r.get(key), key):
                peer, peer_type = r[key], kind
                break
        else:
            peer, peer_type = (group, "security_group") if group else (None, None)
        direction, doubt = _direction_said(r.get("isEgress"))
        rules.append(
            Rule(
                protocol=protocol_name(r.get("ipProtocol")),
                from_port=_port(r.get("fromPort"), "fromPort"),
                to_port=_port(r.get("toPort"), "toPort"),
                peer=peer,
                peer_type=peer_type,
                rule_id=_text(r.get("securityGroupRuleId"), "securityGroupRuleId"),
                description=_text(r.get("description"), "description"),
                group_id=_text(r.get("groupId"), "groupId"),
                direction=direction,
                doubt=doubt,
            )
        )
    return rules


def _modify_rules(req: dict) -> tuple[str | None, list[Rule]]:
    name = "ModifySecurityGroupRulesRequest"
    body = _object(_get(req, name) or req, name)
    group = _text(_get(body, "GroupId"), "GroupId")
    rules = []
    updates = _get(body, "SecurityGroupRule", "SecurityGroupRules")
    for update in _items(updates, "SecurityGroupRule"):
        spec = _object(_get(update, "SecurityGroupRule"), "SecurityGroupRule")
        peer, peer_type = None, None
        for key, kind in (("CidrIpv4", "cidr_ipv4"), ("CidrIpv6", "cidr_ipv6"), ("PrefixListId", "prefix_list"), ("ReferencedGroupId", "security_group")):
            if _text(_get(spec, key), key):
                peer, peer_type = _get(spec, key), kind
                break
        rules.append(
            Rule(
                protocol=protocol_name(_get(spec, "IpProtocol")),
                from_port=_port(_get(spec, "FromPort"), "FromPort"),
                to_port=_port(_get(spec, "ToPort"), "ToPort"),
                peer=peer,
                peer_type=peer_type,
                rule_id=_text(_get(update, "SecurityGroupRuleId"), "SecurityGroupRuleId"),
                description=_text(_get(spec, "Description"), "Description"),
            )
        )
    return group, rules


def _rules_of(event: dict, known: dict[str, Rule]) -> Iterator[tuple[str | None, str | None, Rule]]:
    """(group id, group name, rule) for each rule change in one event."""
    action, _ = _ACTIONS[event["eventname"]]
    req = strict_object(event.get("requestparameters"), "requestParameters")
    resp = strict_object(event.get("responseelements"), "responseElements")
    if event["eventname"] in DB_SECURITY_GROUP_EVENTS:
        yield None, _text(_get(req, "dBSecurityGroupName"), "DBSecurityGroupName"), _db_rule(req)
        return
    if action in ("prefix_list_create", "prefix_list_modify", "prefix_list_restore"):
        for rule in _prefix_list_rules(action, req, resp):
            yield None, None, rule
        return
    group_id = _text(_member(req, "groupId"), "groupId")
    group_name = _text(_member(req, "groupName"), "groupName")
    if action == "create_group":
        description = _text(_member(req, "groupDescription"), "groupDescription")
        yield _text(resp.get("groupId"), "groupId"), group_name, Rule(description=description)
        return
    if action == "delete_group":
        # A delete by name says which group went in its response: another VPC's group of that
        # name is not the one deleted.
        yield group_id or _text(resp.get("groupId"), "groupId"), group_name, Rule()
        return
    if action == "modify":
        group_id, rules = _modify_rules(req)
        for rule in rules:
            yield group_id, None, rule
        return
    # authorize / revoke / update_description: a successful call's response says what really changed
    success = not event.get("errorcode")
    direction = _ACTIONS[event["eventname"]][1]
    if success and action == "authorize":
        rules = _created(_response_rules(resp, "securityGroupRuleSet"),
                         list(_requested(req, known, group_id, action)), group_id, direction)
    elif success and action == "revoke":
        rules = _revoked(req, resp, known, group_id, direction)
    else:
        rules = list(_requested(req, known, group_id, action))
    for rule in rules:
        yield rule.group_id or group_id, group_name, rule


def _created(created: list[Rule], asked: list[Rule], group_id: str | None,
             direction: str | None = None) -> list[Rule]:
    """What a successful authorize changed: the rules its response lists (with their ids).

    A response that contradicts the request (a rule of another port, address or group, on either
    side) is a forged or corrupted record: the rules of both are kept, the reading that keeps an
    exposure visible, and each is flagged `inconsistent`.
    """
    if not created or all(r == Rule() for r in asked):  # the request says nothing to compare
        return [r for c in created for r in _of_call(c, direction)] or asked
    unmatched = [r for r in asked if not any(_agrees(r, c, group_id, direction) for c in created)]
    if not unmatched and all(any(_agrees(r, c, group_id, direction) for r in asked) for c in created):
        return created
    return [replace(r, inconsistent=True) for r in created + unmatched]


def _revoked_as_listed(removed: list[Rule], asked: list[Rule], group_id: str | None,
                       direction: str | None = None) -> list[Rule]:
    """What a successful revoke removed: the rules its response lists (with their ids).

    A response that contradicts the request, as in _created, is a forged or corrupted record: the
    rules of both are flagged `inconsistent`, and the replay removes none of them (RuleState), the
    reading that keeps an exposure visible.
    """
    if all(r == Rule() for r in asked):  # the request says nothing to compare
        return [r for c in removed for r in _of_call(c, direction)]
    unmatched = [r for r in asked if not any(_agrees(r, c, group_id, direction) for c in removed)]
    if not unmatched and all(any(_agrees(r, c, group_id, direction) for r in asked) for c in removed):
        return removed
    return [replace(r, inconsistent=True) for r in removed + unmatched]


def _of_call(rule: Rule, direction: str | None) -> list[Rule]:
    """A rule a response lists, where the request says nothing to compare it with: one whose
    direction contradicts its call's (isEgress true in an Ingress call's response) is flagged
    `inconsistent`, and read in the call's direction too (the reading that keeps an exposure)."""
    if rule.direction and direction and rule.direction != direction:
        return [replace(rule, inconsistent=True),
                replace(rule, direction=direction, rule_id=None, inconsistent=True)]
    return [rule]


def _agrees(asked: Rule, made: Rule, group_id: str | None, direction: str | None = None) -> bool:
    """Whether a rule the response lists is the one the request asked for: the same group,
    direction (the call's), protocol, ports and peer (a group asked by name is listed by id: the
    kind must agree); a rule asked by id alone, the same id."""
    if made.group_id and group_id and made.group_id != group_id:
        return False
    if made.direction and direction and made.direction != direction:
        return False
    if asked.rule_id and made.rule_id and asked.rule_id != made.rule_id:
        return False
    if asked.rule_id and asked.peer is None and asked.protocol is None:
        return asked.rule_id == made.rule_id
    if asked.peer is None:  # a request rule without a peer: its ports must agree
        return _same(replace(made, peer=None), asked)
    if asked.peer_type == "security_group" == made.peer_type:
        return _same(replace(made, peer=None), replace(asked, peer=None))
    return asked.peer_type == made.peer_type and _same(asked, made)


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _db_rule(req: dict) -> Rule:
    """A classic DB security group's ingress: a CIDR or EC2 group let in to its database's port."""
    cidr = _text(_get(req, "cIDRIP"), "CIDRIP")
    group = (_text(_get(req, "eC2SecurityGroupId"), "EC2SecurityGroupId")
             or _text(_get(req, "eC2SecurityGroupName"), "EC2SecurityGroupName"))
    if cidr is None and group is None:
        return Rule()
    peer, peer_type = (cidr, "cidr_ipv4") if cidr else (group, "security_group")
    return Rule(protocol="tcp", peer=peer, peer_type=peer_type)


def _prefix_list_rules(action: str, req: dict, resp: dict) -> Iterator[Rule]:
    """A prefix list's entries as rows: created with the list, added or removed by a modify.

    CloudTrail wraps these newer EC2 calls as it does ModifySecurityGroupRules
    (`{"CreateManagedPrefixListRequest": {"Entry": [{"Cidr": ...}], ...}}`, names as in the Query
    API: Entry.N, AddEntry.N, RemoveEntry.N); the bare form and the SDK names (Entries, AddEntries)
    are read too. The new list's id is in the response (`prefixList.prefixListId`).
    """
    body = _list_request(req)
    list_id = _text(_get(body, "PrefixListId"), "PrefixListId") or _response_list_id(resp)
    if action == "prefix_list_restore":
        # The entries of the version restored are not in the record.
        yield Rule(action="prefix_list_restore", prefix_list_id=list_id)
        return
    if action == "prefix_list_create":
        yield Rule(action="prefix_list_create", prefix_list_id=list_id)
        groups = (("prefix_list_add", ("Entry", "Entries")),)
    else:
        groups = (("prefix_list_add", ("AddEntry", "AddEntries")),
                  ("prefix_list_remove", ("RemoveEntry", "RemoveEntries")))
    for kind, names in groups:
        for entry in _items(_get(body, *names), names[0]):
            cidr = _text(_get(entry, "Cidr"), "Cidr")
            peer_type = None if cidr is None else ("cidr_ipv6" if ":" in cidr else "cidr_ipv4")
            yield Rule(action=kind, peer=cidr, peer_type=peer_type, prefix_list_id=list_id,
                       description=_text(_get(entry, "Description"), "Description"))


def _list_request(req: dict) -> dict:
    body = _get(req, "CreateManagedPrefixListRequest", "ModifyManagedPrefixListRequest",
                "RestoreManagedPrefixListVersionRequest")
    return req if body is None else _object(body, "ManagedPrefixListRequest")


def _response_list_id(resp: dict) -> str | None:
    node = _get(resp, "CreateManagedPrefixListResponse", "ModifyManagedPrefixListResponse",
                "RestoreManagedPrefixListVersionResponse")
    node = resp if node is None else _object(node, "ManagedPrefixListResponse")
    found = _object(_get(node, "prefixList"), "prefixList")
    return _text(_get(found, "prefixListId"), "prefixListId")


def _requested(req: dict, known: dict[str, Rule], group_id: str | None = None,
               action: str | None = None) -> Iterator[Rule]:
    """The rules an authorize, revoke or description update asks for. An authorize names no rule
    by id (AWS gives it the ids): its permissions are read whatever else it carries."""
    rule_ids = [] if action == "authorize" else [
        _text(_member(i, "securityGroupRuleId"), "securityGroupRuleId")
        for i in _items(_member(req, "securityGroupRuleIds"), "securityGroupRuleIds")]
    if rule_ids:
        for rule_id in rule_ids:
            yield _known_in_group(known, rule_id, group_id) or Rule(rule_id=rule_id)
        return
    permissions = _items(_member(req, "ipPermissions"), "ipPermissions")
    if permissions:
        for p in permissions:
            yield from _permission_rules(p)
        return
    yield _flat_rule(req) or Rule()


def _known_in_group(known: dict[str, Rule], rule_id: str | None, group_id: str | None) -> Rule | None:
    """The rule `rule_id` names as the evidence learnt it, if it was learnt in this group (or the
    call names no group): a rule id learnt in another group (a forged record?) decides nothing."""
    rule = known.get(rule_id) if rule_id else None
    if rule is None or (rule.group_id and group_id and rule.group_id != group_id):
        return None
    return rule


def _revoked(req: dict, resp: dict, known: dict[str, Rule], group_id: str | None = None,
             direction: str | None = None) -> list[Rule]:
    """What a successful revoke removed, and (action revoke_unmatched) what it matched nothing for.

    In a default VPC a revoke that matches no rule still succeeds, and the response lists those
    permissions in unknownIpPermissionSet: they were not removed. Newer responses also list what was
    removed (revokedSecurityGroupRuleSet, with rule ids); older ones leave it to the request.
    """
    unknown = [r for p in _items(_member(resp, "unknownIpPermissionSet"), "unknownIpPermissionSet")
               for r in _permission_rules(p)]
    removed = _response_rules(resp, "revokedSecurityGroupRuleSet")
    if removed:
        asked = [r for r in _requested(req, known, group_id) if not any(_same(r, u) for u in unknown)]
        return (_revoked_as_listed(removed, asked, group_id, direction)
                + [replace(r, action="revoke_unmatched") for r in unknown])
    return [replace(r, action="revoke_unmatched") if any(_same(r, u) for u in unknown) else r
            for r in _requested(req, known, group_id)]


def _same(a: Rule, b: Rule) -> bool:
    """One rule's content, however each shape spells it (the unknown set may differ from the request)."""
    def content(r: Rule) -> tuple:
        ports = (None, None) if r.protocol == "-1" else (r.from_port, r.to_port)
        return (r.protocol, *ports, str(network(r.peer) or r.peer))
    return content(a) == content(b)


# Within one second, what nothing proves is put in this order: groups and lists created first, then
# what removes access, then what changes it, then what grants it. A revoke and a re-authorize of one
# rule in one second so end with the rule held: the outcome that keeps an exposure open.
_RANK = {"create_group": 0, "prefix_list_create": 0, "revoke": 1, "delete_group": 1,
         "modify": 2, "prefix_list_modify": 2, "prefix_list_restore": 2, "update_description": 2, "authorize": 3}
_COMMUTING = {"authorize", "update_description"}  # two of these in either order end the same


def _rank(row: dict, fact: tuple) -> float:
    """Where an unproven order puts a call: what may open an exposure last, so the order taken
    keeps it open. A modify, or a prefix-list modify, that grants a public or unknown peer goes
    after those of its kind that only narrow (their eventIDs, random, decided it before)."""
    action = fact[0]
    if action not in ("modify", "prefix_list_modify"):
        return _RANK.get(action, 2)
    try:
        req = json_object(row.get("requestparameters"))
        rules = (_modify_rules(req)[1] if action == "modify" else
                 [r for r in _prefix_list_rules(action, req, {}) if r.action == "prefix_list_add"])
        opens = any(r.peer_type == "prefix_list" or network(r.peer) is None
                    or network_public(network(r.peer)) for r in rules
                    if r.peer_type != "security_group")
    except ValueError:  # Unreadable: it may open
        opens = True
    return 2.5 if opens else 1.5


def in_proven_order(events: pd.DataFrame, held: Iterable[Mapping] = ()) -> pd.DataFrame:
    """Events (sorted by time, `in_order`) reordered within each second by what the evidence proves,
    with a boolean `ambiguous_order` column.

    Proofs: the order of records within one delivered file (where the events carry `source_file`
    and `record_index`); a rule id is created (an authorize's response) before a call names it; a
    group or prefix list is created before, and deleted after, any other successful call on it;
    whether a rule was held just before the second (a `held` rule of a state, or the earlier
    seconds' calls on it): a successful authorize needs it absent, a revoke present (_alternate).
    An event is `ambiguous_order` when it shares its second and its group with a successful change
    it does not commute with and no proof orders the two.
    """
    events = events.reset_index(drop=True)
    rows = records(events)
    order, ambiguous = [], [False] * len(rows)
    known = _held_before(held)
    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and rows[end]["eventtime"] == rows[start]["eventtime"]:
            end += 1
        batch = list(range(start, end))
        facts = {i: _facts(rows[i]) for i in batch}
        if len(batch) > 1:
            batch = _order_second(rows, batch, ambiguous, facts, known)
        _learn(rows, batch, ambiguous, facts, known)
        order.extend(batch)
        start = end
    events = events.assign(ambiguous_order=ambiguous)
    return events.iloc[order].reset_index(drop=True)


def _held_before(held: Iterable[Mapping]) -> dict[tuple, bool]:
    """(account, region, "sg", group id), rule content -> True for each rule a state held."""
    known = {}
    for r in held:
        ports = (None, None) if r["protocol"] == "-1" else (r["from_port"], r["to_port"])
        content = (r["direction"], r["protocol"], *ports, str(network(r["peer"]) or r["peer"]))
        known[((r["account"], r["region"], "sg", r["group_id"]), content)] = True
    return known


def _learn(rows: list[dict], batch: list[int], ambiguous: list[bool], facts: dict,
           known: dict[tuple, bool]) -> None:
    """What the second's successful calls, in their order, leave known of each rule: an authorize
    holds its rules, a revoke removes them. A call whose rules are unknown (by rule id alone, a
    modify, a group deleted, a response that contradicts its request) or whose order is not
    proven leaves its group's rules unknown."""
    for i in batch:
        if rows[i].get("errorcode"):
            continue
        action, on = facts[i][:2]
        if action not in ("authorize", "revoke", "modify", "delete_group"):
            continue
        contents = _contents(rows[i]) if action in ("authorize", "revoke") else None
        if contents is None or ambiguous[i]:
            for key in [k for k in known if k[0] == on]:
                del known[key]
            continue
        for content in contents:
            known[(on, content)] = action == "authorize"


def _facts(e: dict) -> tuple[str, tuple, set, set, tuple | None]:
    """(action, the group or list it acts on, rule ids it creates, rule ids it names, the content
    of the one rule it grants or removes, if one); a member of another shape proves nothing (the
    normalizer reports the record)."""
    action, _ = _ACTIONS[e["eventname"]]
    req, resp = json_object(e.get("requestparameters")), json_object(e.get("responseelements"))
    try:
        if e["eventname"] in DB_SECURITY_GROUP_EVENTS:
            target = ("rds", _string(_get(req, "dBSecurityGroupName")))
        elif action.startswith("prefix_list"):
            target = ("pl", _string(_get(_list_request(req), "PrefixListId") or _response_list_id(resp)))
        elif action == "modify":
            target = ("sg", _string(_modify_rules(req)[0]))
        else:
            target = ("sg", _string(_member(req, "groupId")) or _string(_member(req, "groupName")))
    except ValueError:  # Unreadable
        target = ("unreadable", e.get("eventid"))
    try:
        created = [r.rule_id for r in _response_rules(resp, "securityGroupRuleSet")]
        named = [] if action == "authorize" else [
            _member(i, "securityGroupRuleId")
            for i in _items(_member(req, "securityGroupRuleIds"), "securityGroupRuleIds")]
        if action == "modify":
            named += [r.rule_id for r in _modify_rules(req)[1]]
    except ValueError:
        created, named = [], []

    def ids(found: list) -> set[str]:
        return {i for i in found if isinstance(i, str)}

    return (action, (e.get("account"), e.get("region"), *target), ids(created), ids(named),
            _content(e) if action in ("authorize", "revoke") else None)


def _content(e: dict) -> tuple | None:
    """The one rule a successful authorize created or a revoke removed, by content; None for none,
    several, one named by id alone, or one a revoke matched nothing for (it proves nothing)."""
    contents = _contents(e)
    return contents[0] if contents is not None and len(contents) == 1 else None


def _contents(e: dict) -> list[tuple] | None:
    """The rules a successful authorize created or a revoke removed, by content (a revoke's
    rules that matched nothing aside); None where one is named by id alone, or contradicted."""
    try:
        rules = [r for _, _, r in _rules_of(e, {}) if r.action is None]
    except ValueError:  # Unreadable
        return None
    if not rules or any(r.peer is None or r.inconsistent or r.doubt for r in rules):
        return None
    direction = _ACTIONS[e["eventname"]][1]
    return [(r.direction or direction, r.protocol,
             *((None, None) if r.protocol == "-1" else (r.from_port, r.to_port)),
             str(network(r.peer) or r.peer)) for r in rules]


MAX_PROVEN_PER_SECOND = 300  # more changes in one second (forged?) are ranked, not proven


def _order_second(rows: list[dict], batch: list[int], ambiguous: list[bool], facts: dict,
                  known: dict[tuple, bool]) -> list[int]:
    live = [i for i in batch if not rows[i].get("errorcode")]  # a failed call changes nothing
    if len(live) > MAX_PROVEN_PER_SECOND:  # the proofs cost the square of the batch: rank alone
        actions: dict[tuple, set[str]] = {}
        for i in live:
            actions.setdefault(facts[i][1], set()).add(facts[i][0])
        for i in live:
            ambiguous[i] = not actions[facts[i][1]] <= _COMMUTING
        return sorted(batch, key=lambda i: (_rank(rows[i], facts[i]), i))
    after: dict[int, set[int]] = {i: set() for i in batch}  # i -> what must come after i
    for i in live:
        for j in live:
            if i == j:
                continue
            (act_i, on_i, made_i, *_), (act_j, on_j, _, named_j, _) = facts[i], facts[j]
            same = on_i == on_j and on_i[-1] is not None
            if made_i & named_j or (same and (act_i in ("create_group", "prefix_list_create")
                                              or act_j == "delete_group")):
                after[i].add(j)
            elif _same_file(rows[i], rows[j]) and rows[i]["record_index"] < rows[j]["record_index"]:
                after[i].add(j)
    _alternate(rows, live, facts, after, known)
    reach = {i: _reachable(i, after) for i in batch}
    for i in live:
        for j in live:
            act_i, on_i = facts[i][:2]
            act_j, on_j = facts[j][:2]
            if (i != j and on_i == on_j and not {act_i, act_j} <= _COMMUTING
                    and j not in reach[i] and i not in reach[j]):
                ambiguous[i] = True
    # Kahn's algorithm, taking among the free events the one of lowest rank, then the earliest.
    before = {i: sum(i in after[k] for k in batch) for i in batch}
    free = [i for i in batch if before[i] == 0]
    order = []
    while free:
        free.sort(key=lambda i: (_rank(rows[i], facts[i]), i))
        i = free.pop(0)
        order.append(i)
        for j in after[i]:
            before[j] -= 1
            if before[j] == 0:
                free.append(j)
    return order + [i for i in batch if i not in order]  # a cycle (forged records): keep them all


def _alternate(rows: list[dict], live: list[int], facts: dict, after: dict[int, set[int]],
               known: dict[tuple, bool]) -> None:
    """Order what only one order explains: a successful authorize proves its rule was absent just
    before it, a successful revoke that its rule was there. So the authorizes and revokes of one
    rule in one second alternate, and where one kind outnumbers the other by one, the sequence
    starts and ends with it (revoke, authorize, revoke ends closed). Where they are as many, the
    rule's state just before the second decides (`known`: held, a revoke first; absent, an
    authorize first); unknown, nothing does. Calls a file already orders are left to its order."""
    calls: dict[tuple, dict[str, list[int]]] = {}
    for i in live:
        action, on, _, _, content = facts[i]
        if content is not None:
            calls.setdefault((on, content), {"authorize": [], "revoke": []})[action].append(i)
    for found in calls.values():
        grants, removals = found["authorize"], found["revoke"]
        every = grants + removals
        if any(_same_file(rows[i], rows[j]) for i in every for j in every if i < j):
            continue
        held = known.get((facts[every[0]][1], facts[every[0]][4]))
        if len(grants) != len(removals):
            first, then = (grants, removals) if len(grants) > len(removals) else (removals, grants)
        elif held is not None:
            first, then = (removals, grants) if held else (grants, removals)
        else:
            continue
        if len(first) - len(then) not in (0, 1) or held is not None and held != (first is removals):
            continue  # no order explains them all, or not from the state before: forged?
        chain = [i for pair in zip_longest(first, then) for i in pair if i is not None]
        for i, j in zip(chain, chain[1:]):
            after[i].add(j)


def _same_file(a: dict, b: dict) -> bool:
    file_a, file_b = a.get("source_file"), b.get("source_file")
    return (file_a is not None and file_a == file_b
            and a.get("record_index") is not None and b.get("record_index") is not None)


def _reachable(start: int, after: dict[int, set[int]]) -> set[int]:
    seen, stack = set(), [start]
    while stack:
        for j in after[stack.pop()]:
            if j not in seen:
                seen.add(j)
                stack.append(j)
    return seen


def normalize(events: pd.DataFrame, held: Iterable[Mapping] = ()) -> pd.DataFrame:
    """One row per rule change (CHANGE_COLUMNS) from the `sg_changes` query's events, in time order
    (within a second, in_proven_order's). `held` are rules known before the events (a state's, with
    their ids: state.held_at), so a later revoke by rule id alone says what it removed.

    Duplicate deliveries of one event (same eventID) count once. An event with a member of a shape
    no writer of CloudTrail uses is left out, and listed with the reason in `attrs["rejected"]`.
    """
    import pandas as pd

    if events.empty:
        return _with_rejected(pd.DataFrame(columns=CHANGE_COLUMNS), [])
    held = list(held)
    names = list(events["eventname"])  # a name AWS does not write is read as the call it spells
    events = events.assign(eventname=[call_named(n) or n for n in names],
                           misnamed=[n not in _ACTIONS and call_named(n) is not None
                                     for n in names])
    events = in_proven_order(in_order(events), held)
    events = with_actors(events)
    # rule id -> rule, learnt from responses and modifies as time goes, in each account and region
    # apart: a record placed in another account cannot redefine what a revoke by id there removed.
    known_in: dict[tuple, dict[str, Rule]] = {}
    for r in held:
        if isinstance(r.get("rule_id"), str):
            known_in.setdefault((r["account"], r["region"]), {})[r["rule_id"]] = Rule(
                protocol=r["protocol"], from_port=r["from_port"], to_port=r["to_port"],
                peer=r["peer"], peer_type=r["peer_type"], rule_id=r["rule_id"],
                description=r.get("description"), direction=r["direction"], group_id=r["group_id"])
    rows, rejected = [], []
    # in_order kept one record of each content: an eventID seen twice is held by different records
    shared = events.loc[events["eventid"].notna() & events["eventid"].duplicated(), "eventid"]
    for e in records(events):
        known = known_in.setdefault((e["account"], e["region"]), {})
        try:
            rows += changes_of(e, known)
        except Unreadable as why:
            rejected.append(reason("unusable_call", event=e["eventid"], name=e["eventname"],
                                   at=f"{e['eventtime']:%Y-%m-%dT%H:%M:%SZ}",
                                   by=e.get("actor") or reason("unknown_caller"), why=reason_of(why)))
    frame = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    for col in ("from_port", "to_port"):
        frame[col] = frame[col].astype("Int64")
    frame.attrs["shared_event_ids"] = sorted(set(shared))
    return _with_rejected(frame, rejected)


def _return_contradicts(e: dict) -> bool:
    """Whether a response says its call's `_return` (a modify's `return`) as anything but true."""
    resp = strict_object(e.get("responseelements"), "responseElements")
    inner = _member(resp, "ModifySecurityGroupRulesResponse")
    said = [v for node in (resp, inner if isinstance(inner, dict) else {}) for k, v in node.items()
            if isinstance(k, str) and k.lower() in ("_return", "return")]
    return any(is_true(v) is not True for v in said)


def _with_rejected(frame: pd.DataFrame, rejected: list[str]) -> pd.DataFrame:
    frame.attrs["rejected"] = rejected
    return frame


def changes_of(e: dict, known: dict[str, Rule]) -> list[dict]:
    """The rows (CHANGE_COLUMNS) of one event, a row of the `sg_changes` query with ACTOR_COLUMNS;
    `known` (rule id -> rule, of the event's account and region) learns from it. What `normalize`
    does per event, and the Lambda per alert. Unreadable: a member of a shape no writer of
    CloudTrail uses (nothing is learnt from the event then)."""
    action, direction = _ACTIONS[e["eventname"]]
    error = e.get("errorcode")
    if error_blank(e):  # " ", U+200B: read as a failure, it would hide an opening
        raise Unreadable(reason("sg_error_blank"))
    if not error and action in ("revoke", "modify", "delete_group") and _return_contradicts(e):
        # AWS answers true to every such call that succeeds: false contradicts the success, and
        # read as one it would close a window.
        raise Unreadable(reason("sg_return_not_true"))
    changes = list(_rules_of(e, known))
    if not error:
        for _, _, rule in changes:
            _check_readable(rule, action)
    if e.get("misnamed") is True:
        for _, _, rule in changes:
            rule.doubt = rule.doubt or "name_unlike_aws"
    rows = []
    for group_id, group_name, rule in changes:
        if action == "modify" and rule.rule_id in known:
            # The request does not say the direction; the rule did, where the evidence learnt it in
            # this group from a record that agrees with itself. Else it cannot be decided: read
            # as ingress (covered_ports), the reading that keeps an exposure, and said.
            was = known[rule.rule_id]
            if was.inconsistent or was.doubt or (was.group_id and group_id and was.group_id != group_id):
                rule.doubt = rule.doubt or "rule_elsewhere"
            else:
                rule.direction = was.direction
        if rule.rule_id and not error and action in ("authorize", "modify"):
            known[rule.rule_id] = replace(rule, group_id=rule.group_id or group_id)
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
                "prefix_list_id": rule.prefix_list_id,
                "description": rule.description,
                **{c: e[c] for c in ACTOR_COLUMNS},
                "access_key_id": e.get("access_key_id"),
                "source_ip": e.get("sourceipaddress"),
                "user_agent": e.get("useragent"),
                "error_code": e.get("errorcode") or None,  # an empty errorCode is no error: the call changed the rule
                "error_message": e.get("errormessage"),
                # one event alone proves no order within its second (the Lambda sees one at a time)
                "ambiguous_order": e.get("ambiguous_order", False),
                "inconsistent": rule.inconsistent,
                "doubt": rule.doubt,
            }
        )
    return rows

def _check_readable(rule: Rule, action: str) -> None:
    """A successful call's rule the analysis cannot measure is Unreadable (counted and warned,
    `ssh-exposure --fail-on-open` exits 4), never a rule that covers no port: a protocol AWS does
    not take (or none, which AWS requires), or a port range whose end is below its start."""
    if action not in ("authorize", "revoke", "modify") or rule.peer is None or rule.action:
        return
    protocol = rule.protocol
    if protocol is None or not (protocol in _KNOWN_PROTOCOLS or protocol.isdigit() and int(protocol) <= 255):
        raise Unreadable(reason("sg_protocol_unread", protocol="missing" if protocol is None else protocol[:40]))
    if (protocol in ("tcp", "udp") and rule.from_port is not None
            and rule.to_port is not None and 0 <= rule.to_port < rule.from_port):
        raise Unreadable(reason("sg_ports_reversed", low=rule.from_port, high=rule.to_port))


def network(peer: str | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network a CIDR peer names, host bits dropped (203.0.113.9/0 is 0.0.0.0/0)."""
    if not peer:
        return None
    try:
        return ipaddress.ip_network(str(peer).strip(), strict=False)
    except ValueError:
        return None
