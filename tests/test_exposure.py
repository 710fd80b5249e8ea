"""Exposure decided by prefix length and port coverage, never by string match; windows replayed rule by rule."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from audit_toolkit import export
from audit_toolkit.analysis.exposure import exposed_ports, exposed_ports_together, failed_openings, windows
from audit_toolkit.analysis.security_groups import normalize
from audit_toolkit.settings import Settings
from test_security_groups import row


def change(peer, protocol="tcp", low=22, high=22, direction="ingress", peer_type=None, action="authorize"):
    kind = peer_type or ("cidr_ipv6" if ":" in peer else "cidr_ipv4")
    return {"direction": direction, "peer": peer, "peer_type": kind, "protocol": protocol, "from_port": low, "to_port": high, "action": action}


@pytest.mark.parametrize(
    "rule, ports",
    [
        (change("0.0.0.0/0"), [22]),
        (change("::/0"), [22]),
        (change("203.0.113.9/0"), [22]),  # anonymised, still the whole internet
        (change("0.0.0.0/1"), []),
        (change("10.0.0.0/8"), []),
        (change("0.0.0.0/0", low=0, high=1024), [22]),
        (change("0.0.0.0/0", low=23, high=1024), []),
        (change("0.0.0.0/0", protocol="-1", low=None, high=None), [22]),
        (change("0.0.0.0/0", protocol="udp"), []),
        (change("0.0.0.0/0", direction="egress"), []),
        (change("sg-123", peer_type="security_group"), []),
        (change("0.0.0.0/0", direction=None, action="modify"), [22]),  # direction unknown: counted
        (change("not-a-cidr"), []),
    ],
)
def test_exposed_ports(rule, ports):
    assert exposed_ports(rule, Settings()) == ports


def test_settings_choose_ports_and_prefix():
    settings = Settings(watched_ports=(22, 3389), internet_prefix_len=1)
    assert exposed_ports(change("0.0.0.0/0", low=0, high=65535), settings) == [22, 3389]
    # At /1 a rule must let in half the public IPv4 space: 0.0.0.0/1 holds 57% of it, 128.0.0.0/1
    # only 43% (multicast and the reserved 240.0.0.0/4 are there).
    assert exposed_ports(change("0.0.0.0/1", low=3389, high=3389), settings) == [3389]
    assert exposed_ports(change("128.0.0.0/1", low=3389, high=3389), settings) == []
    assert Settings.load(watched_ports="22, 3389").watched_ports == (22, 3389)
    # At /8, 1/256 of the public space: a public /8 is more, a private or reserved one is nothing.
    at_8 = Settings(internet_prefix_len=8)
    assert [exposed_ports(change(c), at_8) for c in ("8.0.0.0/8", "10.0.0.0/8", "240.0.0.0/8")] == [[22], [], []]


WINDOW_KEYS = ["group_id", "group_name", "cidr", "rule_id", "opened_at", "closed_at", "close_reason", "still_open", "open_before_evidence"]
SSH = {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22}


def at(minute: int) -> str:
    return f"2026-01-01T00:{minute:02d}:00Z"


def replayed(*events: dict) -> list[tuple]:
    """The windows of these CloudTrail events (rows as the sg_changes query returns them)."""
    found = windows(normalize(pd.DataFrame([{**e, "eventid": f"e{i}"} for i, e in enumerate(events)])))
    return sorted((tuple(r[k] for k in WINDOW_KEYS) for r in export.to_records(found[WINDOW_KEYS])), key=str)


def authorize(minute: int, cidrs: list[dict], rule_ids: list[str] | None = None, **group) -> dict:
    request = {**(group or {"groupId": "sg-1"}), "ipPermissions": {"items": [{**SSH, "ipRanges": {"items": [c for c in cidrs if "cidrIp" in c]},
                                                                              "ipv6Ranges": {"items": [c for c in cidrs if "cidrIpv6" in c]}}]}}
    created = [{"groupId": "sg-1", "securityGroupRuleId": rid, "isEgress": False, **SSH, "cidrIpv4" if "cidrIp" in c else "cidrIpv6": c.get("cidrIp", c.get("cidrIpv6"))}
               for rid, c in zip(rule_ids or [], cidrs)]
    return row("AuthorizeSecurityGroupIngress", request, {"securityGroupRuleSet": {"items": created}} if created else None, t=at(minute))


def by_rule_id(name: str, minute: int, rule_id: str, response: dict | None = None) -> dict:
    request = {"groupId": "sg-1", "securityGroupRuleIds": {"items": [{"securityGroupRuleId": rule_id}]}}
    return row(name, request, response, t=at(minute))


def test_a_rule_modified_away_no_longer_names_the_window_a_later_rule_opens():
    modify = row("ModifySecurityGroupRules", {"ModifySecurityGroupRulesRequest": {"GroupId": "sg-1", "SecurityGroupRule": {
        "SecurityGroupRuleId": "sgr-a", "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "10.0.0.0/8"}}}}, t=at(1))
    assert replayed(authorize(0, [{"cidrIp": "0.0.0.0/0"}], ["sgr-a"]), modify, authorize(2, [{"cidrIp": "0.0.0.0/0"}], ["sgr-b"]),
                    by_rule_id("RevokeSecurityGroupIngress", 3, "sgr-a")) == [
        ("sg-1", None, "0.0.0.0/0", "sgr-a", at(0), at(1), "modified", False, False),
        ("sg-1", None, "0.0.0.0/0", "sgr-b", at(2), None, None, True, False),  # sgr-a's revoke is not sgr-b's
    ]


def test_a_group_named_not_numbered_closes_when_deleted_by_id_or_name():
    create = row("CreateSecurityGroup", {"groupName": "web", "groupDescription": "web"}, {"groupId": "sg-9"}, t=at(0))
    delete_web = row("DeleteSecurityGroup", {"groupId": "sg-9"}, t=at(2))
    delete_legacy = row("DeleteSecurityGroup", {"groupName": "legacy"}, t=at(3))
    assert replayed(create, authorize(1, [{"cidrIp": "0.0.0.0/0"}], groupName="web"), authorize(1, [{"cidrIp": "0.0.0.0/0"}], groupName="legacy"),
                    delete_web, delete_legacy) == [
        ("sg-9", "web", "0.0.0.0/0", None, at(1), at(2), "group deleted", False, False),
        (None, "legacy", "0.0.0.0/0", None, at(1), at(3), "group deleted", False, False),
    ]


def test_deleting_a_group_by_name_closes_no_window_of_another_vpcs_group_of_that_name():
    # Names are unique per VPC: the default VPC's "web" (sg-a) deleted by name is not vpc-x's "web".
    default = row("CreateSecurityGroup", {"groupName": "web", "groupDescription": "d"}, {"groupId": "sg-a"}, t=at(0))
    other = row("CreateSecurityGroup", {"groupName": "web", "groupDescription": "d", "vpcId": "vpc-x"}, {"groupId": "sg-1"}, t=at(0))
    opened = authorize(1, [{"cidrIp": "0.0.0.0/0"}])
    answered = row("DeleteSecurityGroup", {"groupName": "web"}, {"_return": True, "groupId": "sg-a"}, t=at(2))
    assert replayed(other, opened, answered) == [("sg-1", None, "0.0.0.0/0", None, at(1), None, None, True, False)]
    # An older record's response does not name the group: a name created twice names neither.
    silent = row("DeleteSecurityGroup", {"groupName": "web"}, t=at(2))
    assert replayed(default, other, opened, silent) == [("sg-1", None, "0.0.0.0/0", None, at(1), None, None, True, False)]
    # A name deleted with its group is free again: the group created with it next is the one it means.
    gone = row("DeleteSecurityGroup", {"groupId": "sg-a"}, t=at(0))
    again = row("CreateSecurityGroup", {"groupName": "web", "groupDescription": "d"}, {"groupId": "sg-9"}, t=at(1))
    assert replayed(default, gone, again, authorize(2, [{"cidrIp": "0.0.0.0/0"}], groupName="web"), silent) == [
        ("sg-9", "web", "0.0.0.0/0", None, at(2), at(2), "group deleted", False, False)]


def test_a_revoke_response_closes_a_window_opened_before_the_evidence():
    removed = {"_return": True, "revokedSecurityGroupRuleSet": {"items": [
        {"groupId": "sg-1", "securityGroupRuleId": "sgr-old", "isEgress": False, **SSH, "cidrIpv4": "0.0.0.0/0"}]}}
    assert replayed(by_rule_id("RevokeSecurityGroupIngress", 5, "sgr-old", removed)) == [
        ("sg-1", None, "0.0.0.0/0", "sgr-old", None, at(5), "revoked", False, True)]


def test_a_revoke_that_matched_nothing_closes_no_window():
    # AWS answered success but listed the permission as unknown: the rule it names was not removed.
    revoke = row("RevokeSecurityGroupIngress", {"groupId": "sg-1", **SSH, "cidrIp": "0.0.0.0/0"},
                 {"_return": True, "unknownIpPermissionSet": {"items": [{**SSH, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}, t=at(1))
    assert replayed(authorize(0, [{"cidrIp": "0.0.0.0/0"}]), revoke) == [
        ("sg-1", None, "0.0.0.0/0", None, at(0), None, None, True, False)]


def test_each_internet_rule_of_one_authorize_has_its_own_window():
    both = authorize(0, [{"cidrIp": "0.0.0.0/0"}, {"cidrIpv6": "::/0"}], ["sgr-4", "sgr-6"])
    assert replayed(both, by_rule_id("RevokeSecurityGroupIngress", 1, "sgr-6")) == [
        ("sg-1", None, "0.0.0.0/0", "sgr-4", at(0), None, None, True, False),
        ("sg-1", None, "::/0", "sgr-6", at(0), at(1), "revoked", False, False),
    ]
    # One CIDR twice with two descriptions is one rule to AWS (a duplicate): one window.
    twice = authorize(0, [{"cidrIp": "0.0.0.0/0", "description": "office"}, {"cidrIp": "0.0.0.0/0", "description": "home"}])
    assert replayed(twice) == [("sg-1", None, "0.0.0.0/0", None, at(0), None, None, True, False)]


def test_a_seeded_state_holds_its_rules_and_a_later_revoke_closes_its_exposure():
    from audit_toolkit.analysis.exposure import RuleState, window_frame

    state = RuleState()
    place = {"account": "111111111111", "region": "us-east-1", "group_id": "sg-1", "direction": "ingress"}
    state.seed([{**place, **SSH_RULE, "peer": "0.0.0.0/0", "peer_type": "cidr_ipv4", "rule_id": "sgr-s"},
                {**place, **SSH_RULE, "peer": "10.0.0.0/8", "peer_type": "cidr_ipv4"}])
    assert len(state.held()) == 2
    revoke = normalize(pd.DataFrame([by_rule_id("RevokeSecurityGroupIngress", 4, "sgr-s")]))
    for change in export.to_records(revoke):
        state.apply(change)
    found = window_frame(state.windows(), None)
    assert [tuple(r[k] for k in WINDOW_KEYS) for r in export.to_records(found[WINDOW_KEYS])] == [
        ("sg-1", None, "0.0.0.0/0", "sgr-s", None, at(4), "revoked", False, True)]
    assert [k[-1] for k in state.held()] == ["10.0.0.0/8"]


SSH_RULE = {"protocol": "tcp", "from_port": 22, "to_port": 22}


# --- issue 16: answers an attacker cannot bend --------------------------------------------------

FULL_KEYS = WINDOW_KEYS + ["exposed_ports", "reach", "ambiguous_order"]


def replay(events: list[dict], settings: Settings | None = None) -> list[dict]:
    """The windows of these events, each eventID as given (it decides nothing within a second)."""
    found = windows(normalize(pd.DataFrame(events)), settings)
    return export.to_records(found[FULL_KEYS + ["caveat"]])


def flat(name: str, minute: int, cidr: str, eid: str, **extra) -> dict:
    return {**row(name, {"groupId": "sg-1", **SSH, "cidrIp": cidr}, t=at(minute), eid=eid), **extra}


def test_a_revoke_and_a_reauthorize_in_one_second_after_an_opening_close_and_reopen():
    # 08:00 opened; at 10:00:00 a revoke and a re-authorize of the same rule. Their eventIDs put the
    # authorize first, which would read as closed at 10:00. The rule was held just before 10:00
    # (the authorize at 08:00), and a successful authorize needs it absent: the revoke came first.
    found = replay([flat("AuthorizeSecurityGroupIngress", 0, "0.0.0.0/0", "e0"),
                    flat("AuthorizeSecurityGroupIngress", 10, "0.0.0.0/0", "e1"),
                    flat("RevokeSecurityGroupIngress", 10, "0.0.0.0/0", "e2")])
    assert [tuple(w[k] for k in FULL_KEYS) for w in found] == [
        ("sg-1", None, "0.0.0.0/0", None, at(0), at(10), "revoked", False, False, "22", "internet", False),
        ("sg-1", None, "0.0.0.0/0", None, at(10), None, None, True, False, "22", "internet", False)]
    assert [w["caveat"] for w in found] == [None, None]


def test_a_revoke_and_an_authorize_in_one_second_after_a_revoke_open_and_close():
    # Revoked at 05:00, so absent just before 10:00: the authorize came first, then the revoke.
    found = replay([flat("AuthorizeSecurityGroupIngress", 0, "0.0.0.0/0", "e0"),
                    flat("RevokeSecurityGroupIngress", 5, "0.0.0.0/0", "e1"),
                    flat("RevokeSecurityGroupIngress", 10, "0.0.0.0/0", "e2"),
                    flat("AuthorizeSecurityGroupIngress", 10, "0.0.0.0/0", "e3")])
    assert [tuple(w[k] for k in FULL_KEYS) for w in found] == [
        ("sg-1", None, "0.0.0.0/0", None, at(0), at(5), "revoked", False, False, "22", "internet", False),
        ("sg-1", None, "0.0.0.0/0", None, at(10), at(10), "revoked", False, False, "22", "internet", False)]


def test_a_revoke_and_a_reauthorize_in_one_second_of_a_rule_never_seen_keep_the_window_open():
    # Nothing says whether the rule was held before 10:00: kept open, flagged, said in the caveat.
    found = replay([flat("AuthorizeSecurityGroupIngress", 10, "0.0.0.0/0", "e1"),
                    flat("RevokeSecurityGroupIngress", 10, "0.0.0.0/0", "e2")])
    assert [tuple(w[k] for k in FULL_KEYS) for w in found] == [
        ("sg-1", None, "0.0.0.0/0", None, None, None, None, True, True, "22", "internet", True)]
    assert "does not prove their order" in found[0]["caveat"]


@pytest.mark.parametrize("ids", [("e1", "e2"), ("e2", "e1")])
def test_two_modifies_of_one_rule_in_one_second_keep_the_exposure_open_whatever_their_ids(ids):
    # sgr-1 opened at 08:00; at 10:00:00 one modify sets it to 0.0.0.0/0, another to 10.0.0.0/8,
    # in different files: nothing proves their order, and the eventIDs (random) must not decide.
    def modify(cidr: str, eid: str) -> dict:
        return row("ModifySecurityGroupRules", {"ModifySecurityGroupRulesRequest": {
            "GroupId": "sg-1", "SecurityGroupRule": {"SecurityGroupRuleId": "sgr-1", "SecurityGroupRule": {
                "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": cidr}}}}, t=at(10), eid=eid)

    opened = {**authorize(0, [{"cidrIp": "0.0.0.0/0"}], ["sgr-1"]), "eventid": "e0"}
    found = replay([opened, modify("0.0.0.0/0", ids[0]), modify("10.0.0.0/8", ids[1])])
    assert [(w["opened_at"], w["closed_at"], w["still_open"], w["ambiguous_order"]) for w in found] == [
        (at(0), None, True, True)]
    assert "the order that keeps the exposure open was taken" in found[0]["caveat"]


def test_a_rule_a_state_held_decides_the_order_of_one_second():
    # The state says sg-1 held the rule before the logs start (normalize's `held`): revoke first.
    held = [{"account": "111111111111", "region": "us-east-1", "group_id": "sg-1", "direction": "ingress",
             "protocol": "tcp", "from_port": 22, "to_port": 22, "peer": "0.0.0.0/0",
             "peer_type": "cidr_ipv4", "rule_id": None}]
    events = [flat("AuthorizeSecurityGroupIngress", 10, "0.0.0.0/0", "e1"),
              flat("RevokeSecurityGroupIngress", 10, "0.0.0.0/0", "e2")]
    frame = normalize(pd.DataFrame(events), held)
    assert export.to_records(frame[["action", "ambiguous_order"]]) == [
        {"action": "revoke", "ambiguous_order": False}, {"action": "authorize", "ambiguous_order": False}]
    unknown = normalize(pd.DataFrame(events))
    assert list(unknown["ambiguous_order"]) == [True, True]


def test_a_revoke_by_a_rule_id_comes_after_the_authorize_that_created_it():
    # Same second, and the revoke's eventID sorts first: the rule id proves the order.
    opened = authorize(10, [{"cidrIp": "0.0.0.0/0"}], ["sgr-new"])
    found = replay([{**opened, "eventid": "e9"}, {**by_rule_id("RevokeSecurityGroupIngress", 10, "sgr-new"), "eventid": "e1"}])
    assert [tuple(w[k] for k in FULL_KEYS) for w in found] == [
        ("sg-1", None, "0.0.0.0/0", "sgr-new", at(10), at(10), "revoked", False, False, "22", "internet", False)]
    assert found[0]["caveat"] is None


def test_the_order_of_records_in_the_delivered_file_decides_one_second():
    # The file lists the authorize before the revoke: opened and closed at 10:00, no ambiguity.
    found = replay([flat("RevokeSecurityGroupIngress", 10, "0.0.0.0/0", "e1", source_file="f.json.gz", record_index=7),
                    flat("AuthorizeSecurityGroupIngress", 10, "0.0.0.0/0", "e2", source_file="f.json.gz", record_index=3)])
    assert [tuple(w[k] for k in FULL_KEYS) for w in found] == [
        ("sg-1", None, "0.0.0.0/0", None, at(10), at(10), "revoked", False, False, "22", "internet", False)]


def test_the_internet_in_pieces_is_the_internet():
    halves = authorize(0, [{"cidrIp": "0.0.0.0/1"}, {"cidrIp": "128.0.0.0/1"}], ["sgr-lo", "sgr-hi"])
    found = replay([halves, {**by_rule_id("RevokeSecurityGroupIngress", 5, "sgr-hi"), "eventid": "e2"}])
    assert [tuple(w[k] for k in FULL_KEYS) for w in found] == [
        ("sg-1", None, "0.0.0.0/1, 128.0.0.0/1", "sgr-hi, sgr-lo", at(0), at(5), "revoked", False, False, "22", "internet",
         False)]
    # Across calls: the window opens when the union reaches the internet, not before.
    lower, upper = authorize(0, [{"cidrIp": "0.0.0.0/1"}]), authorize(3, [{"cidrIp": "128.0.0.0/1"}])
    assert [(w["opened_at"], w["still_open"]) for w in replay([{**lower, "eventid": "a"}, {**upper, "eventid": "b"}])] == [
        (at(3), True)]


def test_private_and_reserved_space_never_counts():
    # Every address but 10.0.0.0/8, in 8 CIDRs: all the public space, so the internet.
    import ipaddress
    pieces = [str(n) for n in ipaddress.ip_network("0.0.0.0/0").address_exclude(ipaddress.ip_network("10.0.0.0/8"))]
    assert [w["reach"] for w in replay([authorize(0, [{"cidrIp": c} for c in pieces])])] == ["internet"]
    # Every public range but one /24 is short of it; private and reserved space fill no gap.
    public = [str(n) for n in ipaddress.ip_network("0.0.0.0/0").address_exclude(ipaddress.ip_network("8.8.8.0/24"))]
    assert replay([authorize(0, [{"cidrIp": c} for c in public])]) == []


def pl_rule(minute: int, prefix_list: str, eid: str) -> dict:
    request = {"groupId": "sg-1", "ipPermissions": {"items": [{**SSH, "prefixListIds": {"items": [{"prefixListId": prefix_list}]}}]}}
    return row("AuthorizeSecurityGroupIngress", request, t=at(minute), eid=eid)


def prefix_list_call(name: str, minute: int, eid: str, request: dict, list_id: str) -> dict:
    response = {f"{name}Response": {"prefixList": {"prefixListId": list_id, "addressFamily": "IPv4", "version": 1}}}
    return row(name, {f"{name}Request": request}, response, t=at(minute), eid=eid)


def test_a_prefix_list_the_evidence_does_not_hold_is_an_exposure_of_unknown_reach():
    found = replay([pl_rule(0, "pl-0abc", "e1")])
    assert [tuple(w[k] for k in FULL_KEYS) for w in found] == [
        ("sg-1", None, "pl-0abc", None, at(0), None, None, True, False, "22", "unknown", False)]
    assert "pl-0abc" in found[0]["caveat"] and "reach is unknown" in found[0]["caveat"]


def test_an_address_the_toolkit_cannot_read_in_a_successful_authorize_is_an_exposure_of_unknown_reach():
    # AWS took the call; a forged or odd CIDR must not make the opening vanish.
    found = replay([{**authorize(0, [{"cidrIp": "00.0.0.0/0"}, {"cidrIp": "10.0.0.0/8"}]), "eventid": "e1"},
                    {**row("RevokeSecurityGroupIngress", {"groupId": "sg-1", **SSH, "cidrIp": "00.0.0.0/0"},
                           t=at(5)), "eventid": "e2"}])
    assert [(w["cidr"], w["reach"], w["opened_at"], w["closed_at"]) for w in found] == [
        ("00.0.0.0/0", "unknown", at(0), at(5))]
    assert found[0]["caveat"] == ("The rule's address 00.0.0.0/0 is no CIDR this toolkit can read, yet "
                                  "the call succeeded: its reach is unknown.")


def test_a_prefix_list_is_resolved_from_its_creation_and_modifications():
    create = prefix_list_call("CreateManagedPrefixList", 0, "e1", {
        "PrefixListName": "office", "AddressFamily": "IPv4", "MaxEntries": 10,
        "Entry": [{"Cidr": "0.0.0.0/1", "Description": "lo", "tag": 1}, {"Cidr": "128.0.0.0/1", "tag": 2}]}, "pl-0abc")
    narrow = prefix_list_call("ModifyManagedPrefixList", 5, "e3", {
        "PrefixListId": "pl-0abc", "CurrentVersion": 1, "RemoveEntry": {"Cidr": "128.0.0.0/1", "tag": 1}}, "pl-0abc")
    found = replay([create, pl_rule(2, "pl-0abc", "e2"), narrow])
    assert [tuple(w[k] for k in FULL_KEYS) for w in found] == [
        ("sg-1", None, "pl-0abc", None, at(2), at(5), "prefix list modified", False, False, "22", "internet", False)]
    # A list of private entries only is no exposure.
    office = prefix_list_call("CreateManagedPrefixList", 0, "e1", {"Entry": {"Cidr": "10.0.0.0/8", "tag": 1}}, "pl-0abc")
    assert replay([office, pl_rule(2, "pl-0abc", "e2")]) == []


def db_call(name: str, minute: int, eid: str, cidr: str = "0.0.0.0/0") -> dict:
    event = row(name, {"dBSecurityGroupName": "legacy-db", "cIDRIP": cidr},
                {"dBSecurityGroupName": "legacy-db", "iPRanges": [{"cIDRIP": cidr, "status": "authorizing"}]}, t=at(minute), eid=eid)
    return {**event, "eventsource": "rds.amazonaws.com"}


def test_a_classic_db_security_group_opened_to_the_internet_exposes_the_database_ports_watched():
    events = [db_call("AuthorizeDBSecurityGroupIngress", 0, "e1"), db_call("RevokeDBSecurityGroupIngress", 4, "e2")]
    changes = normalize(pd.DataFrame(events))
    assert export.to_records(changes[["group_id", "group_name", "action", "direction", "peer", "peer_type"]]) == [
        {"group_id": None, "group_name": "legacy-db", "action": "authorize", "direction": "ingress", "peer": "0.0.0.0/0", "peer_type": "cidr_ipv4"},
        {"group_id": None, "group_name": "legacy-db", "action": "revoke", "direction": "ingress", "peer": "0.0.0.0/0", "peer_type": "cidr_ipv4"},
    ]
    found = replay(events, Settings(watched_ports=(22, 3306, 5432)))
    assert [tuple(w[k] for k in FULL_KEYS) for w in found] == [
        (None, "legacy-db", "0.0.0.0/0", None, at(0), at(4), "revoked", False, False, "3306,5432", "internet", False)]
    assert replay(events) == []  # SSH alone is watched: a database port is not SSH


def test_a_modify_of_a_rule_never_seen_into_ssh_from_anywhere_opens_a_window():
    # The request does not say ingress or egress: counted as ingress rather than miss an opening.
    modify = row("ModifySecurityGroupRules", {"ModifySecurityGroupRulesRequest": {"GroupId": "sg-1", "SecurityGroupRule": {
        "SecurityGroupRuleId": "sgr-x", "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                                              "CidrIpv4": "0.0.0.0/0"}}}}, t=at(1))
    assert [tuple(w[k] for k in FULL_KEYS) for w in replay([modify])] == [
        ("sg-1", None, "0.0.0.0/0", "sgr-x", at(1), None, None, True, False, "22", "internet", False)]


POOL = ["0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1", "0.0.0.0/2", "64.0.0.0/2", "10.0.0.0/8", "128.0.0.0/2", "192.0.0.0/2"]


@hyp_settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["authorize", "revoke"]), st.sampled_from(POOL)), max_size=12))
def test_windows_follow_the_union_of_the_rules_held(ops):
    """A model: the window is open exactly while the held CIDRs cover the public IPv4 space."""
    import ipaddress

    from audit_toolkit.analysis.address_space import reaches_internet
    from audit_toolkit.analysis.exposure import RuleState

    def covers(cidrs):
        return reaches_internet([ipaddress.ip_network(c) for c in cidrs], 4, 0)

    state, held, expected, start = RuleState(), set(), [], None
    for minute, (action, cidr) in enumerate(ops):
        when = at(minute)
        if action == "revoke" and cidr not in held and covers(held | {cidr}) and start is None:
            start = "before"  # it was held before the evidence, with what the group holds now
        held = held | {cidr} if action == "authorize" else held - {cidr}
        if start is None and covers(held):
            start = when
        elif start is not None and not covers(held):
            expected.append((None if start == "before" else start, when))
            start = None
        state.apply({"event_time": when, "event_id": f"e{minute}", "account": "1", "region": "r", "group_id": "sg-1",
                     "group_name": None, "action": action, "direction": "ingress", "protocol": "tcp", "from_port": 22,
                     "to_port": 22, "peer": cidr, "peer_type": "cidr_ipv4", "rule_id": None, "error_code": None,
                     "actor": "a", "actor_arn": "a", "source_ip": "192.0.2.1", "tool": "cli", "event_name": None})
    if start is not None:
        expected.append((None if start == "before" else start, None))
    assert sorted(((w["opened_at"], w["closed_at"]) for w in state.windows()), key=str) == sorted(expected, key=str)


def test_the_changes_of_one_event_are_measured_together_and_apart_from_other_events():
    def of(event: str, peer: str, **kw) -> dict:
        return {**change(peer, **kw), "event_id": event, "group_id": "sg-1"}

    rows = [of("e1", "0.0.0.0/1"), of("e1", "128.0.0.0/1"),  # one call: the internet in two halves
            of("e2", "0.0.0.0/1"), of("e3", "128.0.0.0/1"),  # two calls: each measured alone
            of("e4", "0.0.0.0/1"), of("e4", "128.0.0.0/1", low=443, high=443),  # two ports
            of("e5", "0.0.0.0/1"), of("e5", "::/0"),  # two families
            of("e6", "0.0.0.0/1"), of("e6", "128.0.0.0/1", action="revoke")]  # two actions
    assert exposed_ports_together(rows, Settings()) == [
        [22], [22], [], [], [], [], [], [22], [], []]


def test_a_failed_call_opening_the_internet_in_halves_is_an_attempt():
    halves = {"groupId": "sg-1", "ipPermissions": {"items": [{
        "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/1"}, {"cidrIp": "128.0.0.0/1"}]}}]}}
    changes = normalize(pd.DataFrame([row("AuthorizeSecurityGroupIngress", halves,
                                          error="Client.UnauthorizedOperation")]))
    assert list(failed_openings(changes)["peer"]) == ["0.0.0.0/1", "128.0.0.0/1"]


def _sg_call(i: int, name: str, time: str) -> dict:
    from util import event

    request = {"groupId": "sg-1", "ipPermissions": {"items": [{
        "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}
    return event(i, eventName=name, eventTime=time, readOnly=False, requestParameters=request,
                  responseElements={"_return": True})


@pytest.mark.parametrize("source", ["evidence", "store"])
def test_calls_of_one_second_in_one_delivered_file_are_ordered_by_their_position(tmp_path, source):
    """Opened at 08:00; at 10:00:00 an authorize then a revoke of the same rule, in that order in
    one file: closed at 10:00, proven (without the file's order it would read still open)."""
    from audit_toolkit.evidence.store import ingest
    from audit_toolkit.evidence.layout import discover_files
    from audit_toolkit.investigation import Investigation
    from util import records_file

    evidence = tmp_path / "evidence"
    records_file(evidence, "a.json.gz", [_sg_call(1, "AuthorizeSecurityGroupIngress", "2026-01-01T08:00:00Z")])
    records_file(evidence, "b.json.gz", [
        _sg_call(2, "AuthorizeSecurityGroupIngress", "2026-01-01T10:00:00Z"),
        _sg_call(3, "RevokeSecurityGroupIngress", "2026-01-01T10:00:00Z")])
    if source == "store":
        ingest(discover_files(evidence), tmp_path / "store")
        inv = Investigation.from_store(tmp_path / "store")
    else:
        inv = Investigation.from_evidence(evidence)

    found = inv.ssh_exposure()

    assert export.to_records(found[["opened_at", "closed_at", "still_open", "ambiguous_order"]]) == [
        {"opened_at": "2026-01-01T08:00:00Z", "closed_at": "2026-01-01T10:00:00Z",
         "still_open": False, "ambiguous_order": False}]


TEN = "2026-01-01T10:00:00Z"


@pytest.mark.parametrize("calls, expected", [
    # revoke, authorize, revoke of one rule in one second: only that order explains three
    # successes (an authorize needs the rule absent, a revoke present): closed, reopened, closed
    (["RevokeSecurityGroupIngress", "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"],
     [("2026-01-01T08:00:00Z", TEN, False), (TEN, TEN, False)]),
    # one of each: the state before decides (held since 08:00): revoked, then opened again
    (["RevokeSecurityGroupIngress", "AuthorizeSecurityGroupIngress"],
     [("2026-01-01T08:00:00Z", TEN, False), (TEN, None, False)]),
    # two of each, held before: revoke, authorize, revoke, authorize, open at the end
    (["RevokeSecurityGroupIngress", "AuthorizeSecurityGroupIngress"] * 2,
     [("2026-01-01T08:00:00Z", TEN, False), (TEN, TEN, False), (TEN, None, False)]),
    # two authorizes and a revoke while held: no order explains them (forged?): open, flagged
    (["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "AuthorizeSecurityGroupIngress"],
     [("2026-01-01T08:00:00Z", None, True)]),
])
def test_successful_authorizes_and_revokes_of_one_rule_alternate(calls, expected):
    request = {"groupId": "sg-1", "ipPermissions": {"items": [{
        "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}
    events = [row("AuthorizeSecurityGroupIngress", request, t="2026-01-01T08:00:00Z", eid="e0")]
    events += [row(name, request, t="2026-01-01T10:00:00Z", eid=f"e{9 - i}")  # ids against the order
               for i, name in enumerate(calls)]
    found = windows(normalize(pd.DataFrame(events)))
    assert export.to_records(found[["opened_at", "closed_at", "ambiguous_order"]]) == [
        {"opened_at": o, "closed_at": c, "ambiguous_order": a} for o, c, a in expected]


def test_a_restored_prefix_list_version_makes_its_reach_unknown_rather_than_hide_an_opening():
    # Version 1 holds 0.0.0.0/0, version 2 only 10/8; restoring version 1 brings the internet back,
    # and the record names the version, not its entries.
    create = prefix_list_call("CreateManagedPrefixList", 0, "e1", {"Entry": {"Cidr": "0.0.0.0/0", "tag": 1}}, "pl-0abc")
    narrow = prefix_list_call("ModifyManagedPrefixList", 5, "e3", {
        "PrefixListId": "pl-0abc", "CurrentVersion": 1, "RemoveEntry": {"Cidr": "0.0.0.0/0", "tag": 1},
        "AddEntry": {"Cidr": "10.0.0.0/8", "tag": 1}}, "pl-0abc")
    restore = prefix_list_call("RestoreManagedPrefixListVersion", 9, "e4", {
        "PrefixListId": "pl-0abc", "PreviousVersion": 1, "CurrentVersion": 2}, "pl-0abc")
    found = replay([create, pl_rule(2, "pl-0abc", "e2"), narrow, restore])
    assert [tuple(w[k] for k in FULL_KEYS) for w in found] == [
        ("sg-1", None, "pl-0abc", None, at(2), at(5), "prefix list modified", False, False, "22", "internet", False),
        ("sg-1", None, "pl-0abc", None, at(9), None, None, True, False, "22", "unknown", False)]
    # A restore of a list whose entries were public closes that reading and opens one of unknown reach.
    found = replay([create, pl_rule(2, "pl-0abc", "e2"), restore])
    assert [tuple(w[k] for k in FULL_KEYS) for w in found] == [
        ("sg-1", None, "pl-0abc", None, at(2), at(9), "prefix list modified", False, False, "22", "internet", False),
        ("sg-1", None, "pl-0abc", None, at(9), None, None, True, False, "22", "unknown", False)]


def test_an_authorize_refused_as_a_duplicate_proves_the_rule_was_already_open():
    # InvalidPermission.Duplicate: the rule was there. A failed "attempt" to open SSH to the world
    # was the proof that it was open, from before the evidence.
    request = {"groupId": "sg-1", "ipPermissions": {"items": [{**SSH, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}
    duplicate = row("AuthorizeSecurityGroupIngress", request, error="Client.InvalidPermission.Duplicate", t=at(1), eid="e1")
    found = replay([duplicate])
    assert [tuple(w[k] for k in FULL_KEYS) for w in found] == [
        ("sg-1", None, "0.0.0.0/0", None, None, None, None, True, True, "22", "internet", False)]
    assert found[0]["caveat"].startswith("AWS refused event e1, an authorize of this rule, as a duplicate")
    revoked = row("RevokeSecurityGroupIngress", request, t=at(3), eid="e2")
    assert [tuple(w[k] for k in FULL_KEYS) for w in replay([duplicate, revoked])] == [
        ("sg-1", None, "0.0.0.0/0", None, None, at(3), "revoked", False, True, "22", "internet", False)]
    # Of two rules, which one was there the record does not say; another error proves nothing.
    two = {"groupId": "sg-1", "ipPermissions": {"items": [{**SSH, "ipRanges": {"items": [
        {"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/8"}]}}]}}
    assert replay([row("AuthorizeSecurityGroupIngress", two, error="Client.InvalidPermission.Duplicate", t=at(1))]) == []
    assert replay([row("AuthorizeSecurityGroupIngress", request, error="Client.UnauthorizedOperation", t=at(1))]) == []
    # A retry refused in the second its first try succeeded, in whichever order: opened by that try.
    opened = {**authorize(1, [{"cidrIp": "0.0.0.0/0"}]), "eventid": "e9"}
    for events in ([duplicate, opened], [opened, duplicate]):
        assert [tuple(w[k] for k in FULL_KEYS) for w in replay(events)] == [
            ("sg-1", None, "0.0.0.0/0", None, at(1), None, None, True, False, "22", "internet", False)]


def test_a_description_changed_on_a_rule_proves_it_was_already_open():
    # AWS updates the description of a rule that is there, and fails otherwise.
    request = {"groupId": "sg-1", "ipPermissions": {"items": [{**SSH, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0", "description": "x"}]}}]}}
    described = row("UpdateSecurityGroupRuleDescriptionsIngress", request, {"_return": True}, t=at(1), eid="e1")
    found = replay([described])
    assert [tuple(w[k] for k in FULL_KEYS) for w in found] == [
        ("sg-1", None, "0.0.0.0/0", None, None, None, None, True, True, "22", "internet", False)]
    assert found[0]["caveat"].startswith("Event e1 changed the description of this rule")
    # After the authorize that opened it, it proves nothing new: one window, opened by the call.
    opening = {**authorize(0, [{"cidrIp": "0.0.0.0/0"}]), "eventid": "e0"}  # not described's e1
    assert [tuple(w[k] for k in FULL_KEYS) for w in replay([opening, described])] == [
        ("sg-1", None, "0.0.0.0/0", None, at(0), None, None, True, False, "22", "internet", False)]
    # In one second with the authorize, in an order nothing proves, it proves nothing either.
    same = {**authorize(1, [{"cidrIp": "0.0.0.0/0"}]), "eventid": "e0"}
    assert [tuple(w[k] for k in FULL_KEYS) for w in replay([described, same])] == [
        ("sg-1", None, "0.0.0.0/0", None, at(1), None, None, True, False, "22", "internet", False)]


def test_a_window_whose_event_id_is_held_by_different_records_stays_open_and_says_so():
    """Found by an attack review: a forged revoke reusing the opening's eventID closed the window
    with no caveat, though the intake counted the eventID as held by different records."""
    revoke = row("RevokeSecurityGroupIngress", {"groupId": "sg-1", "ipPermissions": {"items": [
        {**SSH, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}, t=at(9))
    keys = ["opened_at", "closed_at", "close_reason", "still_open", "ambiguous_order", "caveat"]

    def found(*events: dict) -> list[tuple]:
        frame = windows(normalize(pd.DataFrame(list(events))))
        return [tuple(r[k] for k in keys) for r in export.to_records(frame[keys])]

    said = ("Event {} is held by different records (one of them forged or corrupted): which is the "
            "evidence cannot be decided, so the reading that keeps the exposure open was taken.")
    opened = {**authorize(8, [{"cidrIp": "0.0.0.0/0"}]), "eventid": "e-8"}
    assert found(opened, {**revoke, "eventid": "e-8"}) == [
        (at(8), None, None, True, True, said.format("e-8"))]
    # A revoke whose eventID another record holds (here a call on another group) removes nothing.
    elsewhere = {**authorize(9, [{"cidrIp": "10.0.0.0/8"}], groupId="sg-2"), "eventid": "e-9"}
    assert found(opened, {**revoke, "eventid": "e-9"}, elsewhere) == [
        (at(8), None, None, True, True, said.format("e-9"))]
    # Two records alike but for their rules: normalize finds them, as the intake does.
    twin = {**revoke, "eventid": "e-9", "requestparameters": revoke["requestparameters"].replace(
        "0.0.0.0/0", "10.0.0.0/8")}
    assert found(opened, {**revoke, "eventid": "e-9"}, twin) == [
        (at(8), None, None, True, True, said.format("e-9"))]
    # With an eventID of its own, the revoke closes the window, and nothing is said.
    assert found(opened, {**revoke, "eventid": "e-10"}) == [
        (at(8), at(9), "revoked", False, False, None)]


# attack16r C3: the union was measured again over all of a group's rules after each rule, so 50,000
# rules in one group took hours. The address operations (address_space._public) are counted, never
# timed: they must grow with the rules, not with their square.


def _sg_row(n: int, action: str, peer: str, **extra) -> dict:
    from audit_toolkit.analysis.security_groups import CHANGE_COLUMNS

    row = {c: None for c in CHANGE_COLUMNS}
    return {**row, "event_time": f"2026-01-01T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
            "event_id": f"e{n}", "event_name": "AuthorizeSecurityGroupIngress", "account": "1", "region": "r",
            "group_id": "sg-1", "action": action, "direction": "ingress", "protocol": "tcp", "from_port": 22,
            "to_port": 22, "peer": peer, "peer_type": "cidr_ipv4", "actor": "a", **extra}


def _public_operations(monkeypatch, rows: list[dict]) -> tuple[int, list[dict]]:
    from audit_toolkit.analysis import address_space
    from audit_toolkit.analysis.exposure import RuleState

    calls, public = [], address_space._public
    monkeypatch.setattr(address_space, "_public", lambda *a: calls.append(a) or public(*a))
    state = RuleState()
    for r in rows:
        state.apply(r)
    return len(calls), state.windows()


@pytest.mark.parametrize("base", [1, 2])  # other /24s each time: network_public's cache holds none
def test_the_union_of_a_crowded_group_costs_linear_address_operations(monkeypatch, base):
    def crowd(rules: int) -> list[dict]:
        cidrs = [f"{base * 40 + n // 256}.{n % 256}.0.0/24" for n in range(rules)]
        rows = [_sg_row(n, "authorize", c) for n, c in enumerate(cidrs)]
        rows += [_sg_row(rules + n, "revoke", c) for n, c in enumerate(cidrs[:100])]
        return rows + [_sg_row(rules + 100, "authorize", "0.0.0.0/0"), _sg_row(rules + 101, "revoke", "0.0.0.0/0")]

    small, _ = _public_operations(monkeypatch, crowd(200))
    large, found = _public_operations(monkeypatch, crowd(2000))
    assert small <= 3 * 302 and large <= 3 * 2102  # was 596,452 for 1,100 rules
    assert [(w["opened_event_id"], w["closed_event_id"], w["still_open"], len(w["cidr"].split(", ")))
            for w in found] == [("e2100", "e2101", False, 1901)]  # the /0 and the /24s still held


def test_a_prefix_list_growing_in_a_group_costs_linear_address_operations(monkeypatch):
    def grow(entries: int) -> list[dict]:
        rows = [_sg_row(0, "prefix_list_create", None, group_id=None, prefix_list_id="pl-1"),
                _sg_row(1, "authorize", "pl-1", peer_type="prefix_list")]
        rows += [_sg_row(2 + n, "prefix_list_add", f"{100 + n // 256}.{n % 256}.0.0/24", group_id=None,
                         prefix_list_id="pl-1") for n in range(entries)]
        return rows + [_sg_row(2 + entries, "prefix_list_add", "0.0.0.0/0", group_id=None, prefix_list_id="pl-1")]

    operations, found = _public_operations(monkeypatch, grow(2000))
    assert operations <= 3 * 2002  # each entry was measured again with every other on each change
    assert [(w["cidr"], w["reach"], w["opened_event_id"], w["still_open"]) for w in found] == [
        ("pl-1", "internet", "e2002", True)]


def test_a_refused_authorize_of_many_rules_costs_linear_comparisons():
    """Its rows were compared with all those before them, row by row: 10,000 took 42 s."""
    from audit_toolkit.analysis.exposure import RuleState

    compared = []

    class Counted(str):  # an eventID counting how often it is compared
        def __eq__(self, other):
            compared.append(1)
            return str.__eq__(self, other)

        __hash__ = str.__hash__

    state = RuleState()
    refused = [_sg_row(0, "authorize", f"{40 + n // 256}.{n % 256}.0.0/24", event_id=Counted("e0"),
                       error_code="Client.InvalidPermission.Duplicate") for n in range(2000)]
    for r in [*refused, _sg_row(1, "authorize", "0.0.0.0/0")]:
        state.apply(r)
    assert len(compared) <= 3 * 2001
    assert [(w["opened_event_id"], w["still_open"]) for w in state.windows()] == [("e1", True)]
