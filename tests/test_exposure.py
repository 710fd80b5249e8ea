"""Exposure decided by prefix length and port coverage, never by string match; windows replayed rule by rule."""

from __future__ import annotations

import pandas as pd
import pytest

from audit_toolkit import export
from audit_toolkit.analysis.exposure import exposed_ports, windows
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
    assert exposed_ports(change("128.0.0.0/1", low=3389, high=3389), settings) == [3389]
    assert Settings.load(watched_ports="22, 3389").watched_ports == (22, 3389)


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
