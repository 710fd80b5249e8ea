"""The normalizer reads every request shape CloudTrail writes into one row per rule change."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from audit_toolkit import export
from audit_toolkit.analysis.exposure import windows
from audit_toolkit.analysis.security_groups import normalize, protocol_name
from audit_toolkit.investigation import Investigation


def row(name: str, request: dict | None, response: dict | None = None, error: str | None = None, t: str = "2026-01-01T00:00:00Z", eid: str = "e1") -> dict:
    return {"eventtime": t, "eventid": eid, "eventname": name, "eventsource": "ec2.amazonaws.com", "account": "111111111111",
            "region": "us-east-1", "identity_type": "IAMUser", "identity_arn": "arn:aws:iam::111111111111:user/a",
            "sourceipaddress": "192.0.2.1", "useragent": "aws-cli/2", "errorcode": error, "errormessage": None,
            "requestparameters": None if request is None else json.dumps(request),
            "responseelements": None if response is None else json.dumps(response)}


def rules(*rows: dict) -> list[tuple]:
    frame = normalize(pd.DataFrame(list(rows)))
    keys = ["group_id", "action", "direction", "protocol", "from_port", "to_port", "peer", "peer_type", "rule_id"]
    return [tuple(r[k] for k in keys) for r in export.to_records(frame[keys])]


def test_nested_permissions_with_every_peer_kind():
    request = {"groupId": "sg-1", "ipPermissions": {"items": [
        {"ipProtocol": "6", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
         "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}, "groups": {"items": [{"groupId": "sg-2"}]},
         "prefixListIds": {"items": [{"prefixListId": "pl-1"}]}}]}}
    assert rules(row("AuthorizeSecurityGroupIngress", request)) == [
        ("sg-1", "authorize", "ingress", "tcp", 22, 22, "0.0.0.0/0", "cidr_ipv4", None),
        ("sg-1", "authorize", "ingress", "tcp", 22, 22, "::/0", "cidr_ipv6", None),
        ("sg-1", "authorize", "ingress", "tcp", 22, 22, "sg-2", "security_group", None),
        ("sg-1", "authorize", "ingress", "tcp", 22, 22, "pl-1", "prefix_list", None),
    ]


def test_flat_form_with_a_source_group():
    request = {"groupName": "default", "sourceSecurityGroupName": "web", "sourceSecurityGroupOwnerId": "111111111111"}
    assert rules(row("AuthorizeSecurityGroupIngress", request)) == [
        (None, "authorize", "ingress", "-1", None, None, "web", "security_group", None)]


def test_response_rule_set_names_the_rules_and_revoke_by_id_finds_them():
    authorize = row("AuthorizeSecurityGroupEgress", {"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "udp", "fromPort": 53, "toPort": 53, "ipRanges": {"items": [{"cidrIp": "10.0.0.2/32"}]}}]}},
                    {"securityGroupRuleSet": {"items": [{"groupId": "sg-1", "securityGroupRuleId": "sgr-1", "isEgress": True, "ipProtocol": "udp", "fromPort": 53, "toPort": 53, "cidrIpv4": "10.0.0.2/32"}]}})
    revoke = row("RevokeSecurityGroupEgress", {"groupId": "sg-1", "securityGroupRuleIds": {"items": [{"securityGroupRuleId": "sgr-1"}, {"securityGroupRuleId": "sgr-unknown"}]}},
                 t="2026-01-01T01:00:00Z", eid="e2")
    assert rules(revoke, authorize) == [  # given out of order: sorted by time
        ("sg-1", "authorize", "egress", "udp", 53, 53, "10.0.0.2/32", "cidr_ipv4", "sgr-1"),
        ("sg-1", "revoke", "egress", "udp", 53, 53, "10.0.0.2/32", "cidr_ipv4", "sgr-1"),
        ("sg-1", "revoke", "egress", None, None, None, None, None, "sgr-unknown"),
    ]


def test_referenced_group_in_a_response():
    response = {"securityGroupRuleSet": {"items": [{"groupId": "sg-1", "securityGroupRuleId": "sgr-9", "isEgress": False, "ipProtocol": "tcp",
                                                    "fromPort": 5432, "toPort": 5432, "referencedGroupInfo": {"groupId": "sg-7", "userId": "111111111111"}}]}}
    assert rules(row("AuthorizeSecurityGroupIngress", {"groupId": "sg-1"}, response)) == [
        ("sg-1", "authorize", "ingress", "tcp", 5432, 5432, "sg-7", "security_group", "sgr-9")]


def test_failed_authorize_reads_the_request_not_the_response():
    request = {"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}
    frame = normalize(pd.DataFrame([row("AuthorizeSecurityGroupIngress", request, error="Client.InvalidPermission.Duplicate")]))
    assert export.to_records(frame[["peer", "error_code"]]) == [{"peer": "0.0.0.0/0", "error_code": "Client.InvalidPermission.Duplicate"}]


def test_modify_security_group_rules_list_form_and_group_lifecycle():
    create = row("CreateSecurityGroup", {"groupName": "web", "groupDescription": "<b>web</b>", "vpcId": "vpc-1"}, {"groupId": "sg-1"})
    modify = row("ModifySecurityGroupRules", {"ModifySecurityGroupRulesRequest": {"GroupId": "sg-1", "SecurityGroupRule": [
        {"SecurityGroupRuleId": "sgr-1", "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "PrefixListId": "pl-9"}},
        {"SecurityGroupRuleId": "sgr-2", "SecurityGroupRule": {"IpProtocol": "-1", "ReferencedGroupId": "sg-3"}}]}},
        t="2026-01-01T00:01:00Z", eid="e2")
    delete = row("DeleteSecurityGroup", {"groupId": "sg-1"}, t="2026-01-01T00:02:00Z", eid="e3")
    assert rules(create, modify, delete) == [
        ("sg-1", "create_group", None, None, None, None, None, None, None),
        ("sg-1", "modify", None, "tcp", 80, 80, "pl-9", "prefix_list", "sgr-1"),
        ("sg-1", "modify", None, "-1", None, None, "sg-3", "security_group", "sgr-2"),
        ("sg-1", "delete_group", None, None, None, None, None, None, None),
    ]
    frame = normalize(pd.DataFrame([create]))
    assert frame["description"].iloc[0] == "<b>web</b>"  # kept as evidence; escaped where it is shown


def test_null_parameters_are_a_change_of_unknown_content_and_garbage_is_rejected_with_its_reason():
    frame = normalize(pd.DataFrame([row("AuthorizeSecurityGroupIngress", None),
                                    row("RevokeSecurityGroupIngress", {"ipPermissions": "nonsense"}, eid="e2")]))
    assert rules(row("AuthorizeSecurityGroupIngress", None)) == [
        (None, "authorize", "ingress", None, None, None, None, None, None)]
    assert len(frame) == 1
    assert frame.attrs["rejected"] == [
        "event e2 (RevokeSecurityGroupIngress at 2026-01-01T00:00:00Z by "
        "arn:aws:iam::111111111111:user/a): ipPermissions is a string, not a list"]


def test_protocol_names():
    assert [protocol_name(p) for p in ("6", "17", "1", "-1", "ALL", "TCP", None, "50")] == ["tcp", "udp", "icmp", "-1", "-1", "tcp", None, "50"]


SSH_IN = {"isEgress": False, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22}
SSH_PERMISSION = {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}


def test_a_revoke_response_says_what_was_removed_even_by_a_rule_id_never_seen():
    # The rule was opened before the evidence: only the response says what sgr-old was.
    revoke = row("RevokeSecurityGroupIngress", {"groupId": "sg-1", "securityGroupRuleIds": {"items": [{"securityGroupRuleId": "sgr-old"}]}},
                 {"_return": True, "revokedSecurityGroupRuleSet": {"items": [
                     {"groupId": "sg-1", "securityGroupRuleId": "sgr-old", **SSH_IN, "cidrIpv6": "::/0"},
                     {"groupId": "sg-1", "securityGroupRuleId": "sgr-ref", **SSH_IN, "referencedGroupId": "sg-7"}]}})
    assert rules(revoke) == [
        ("sg-1", "revoke", "ingress", "tcp", 22, 22, "::/0", "cidr_ipv6", "sgr-old"),
        ("sg-1", "revoke", "ingress", "tcp", 22, 22, "sg-7", "security_group", "sgr-ref"),
    ]


def test_a_revoke_that_matched_nothing_is_revoke_unmatched():
    # A default VPC answers success for a revoke that matched no rule, and lists it in unknownIpPermissionSet.
    request = {"groupName": "default", "ipPermissions": {"items": [
        {**SSH_PERMISSION, "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}}]}}
    old_style = row("RevokeSecurityGroupIngress", request, {"_return": True, "unknownIpPermissionSet": {"items": [
        {"ipProtocol": "6", "fromPort": 22, "toPort": 22, "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}}]}})
    assert rules(old_style) == [
        (None, "revoke", "ingress", "tcp", 22, 22, "0.0.0.0/0", "cidr_ipv4", None),
        (None, "revoke_unmatched", "ingress", "tcp", 22, 22, "::/0", "cidr_ipv6", None),
    ]
    with_removed = row("RevokeSecurityGroupIngress", request, {"_return": True,
        "revokedSecurityGroupRuleSet": {"items": [{"groupId": "sg-1", "securityGroupRuleId": "sgr-4", **SSH_IN, "cidrIpv4": "0.0.0.0/0"}]},
        "unknownIpPermissionSet": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}}]}},
        eid="e2")
    assert rules(with_removed) == [
        ("sg-1", "revoke", "ingress", "tcp", 22, 22, "0.0.0.0/0", "cidr_ipv4", "sgr-4"),
        (None, "revoke_unmatched", "ingress", "tcp", 22, 22, "::/0", "cidr_ipv6", None),
    ]


def test_garbage_in_prefix_list_and_db_group_calls_is_rejected_with_its_reason():
    garbage = [
        row("CreateManagedPrefixList", {"CreateManagedPrefixListRequest": "x"}, {"CreateManagedPrefixListResponse": 5}),
        row("ModifyManagedPrefixList", {"ModifyManagedPrefixListRequest": {"PrefixListId": {"a": 1}}}, eid="e2"),
        row("AuthorizeDBSecurityGroupIngress", {"dBSecurityGroupName": "db", "cIDRIP": {"y": 1}}, eid="e3"),
        row("RevokeDBSecurityGroupIngress", None, eid="e4"),
    ]
    frame = normalize(pd.DataFrame(garbage))
    assert rules(garbage[-1]) == [(None, "revoke", "ingress", None, None, None, None, None, None)]
    assert list(frame["event_id"]) == ["e4"]
    assert [r.split(": ", 1)[1] for r in frame.attrs["rejected"]] == [
        "ManagedPrefixListRequest is a string, not an object", "PrefixListId is an object, not a string",
        "CIDRIP is an object, not a string"]


def test_a_flood_of_changes_in_one_second_is_ranked_and_flagged_not_proven(monkeypatch):
    import audit_toolkit.analysis.security_groups as sg

    monkeypatch.setattr(sg, "MAX_PROVEN_PER_SECOND", 2)
    request = {"groupId": "sg-1", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIp": "0.0.0.0/0"}
    flood = [row("AuthorizeSecurityGroupIngress", request, eid="e1"), row("RevokeSecurityGroupIngress", request, eid="e2"),
             row("AuthorizeSecurityGroupIngress", {**request, "groupId": "sg-2"}, eid="e3")]
    frame = normalize(pd.DataFrame(flood))
    assert export.to_records(frame[["group_id", "action", "ambiguous_order"]]) == [
        {"group_id": "sg-1", "action": "revoke", "ambiguous_order": True},
        {"group_id": "sg-1", "action": "authorize", "ambiguous_order": True},
        {"group_id": "sg-2", "action": "authorize", "ambiguous_order": False},
    ]


def test_a_response_of_another_shape_proves_no_order_and_breaks_nothing():
    # Same second: the authorize's response is garbage, so nothing proves it created sgr-1 (the
    # normalizer itself reports such a record; the ordering must not be where it breaks).
    from audit_toolkit.analysis.events import in_order
    from audit_toolkit.analysis.security_groups import in_proven_order

    authorize = row("AuthorizeSecurityGroupIngress", {"groupId": "sg-1", **SSH_PERMISSION},
                    {"securityGroupRuleSet": {"items": [{"securityGroupRuleId": "sgr-1", "referencedGroupInfo": "x"}]}}, eid="e1")
    revoke = row("RevokeSecurityGroupIngress", {"groupId": "sg-1", "securityGroupRuleIds": {"items": [{"securityGroupRuleId": {"x": 1}}]}},
                 eid="e2")
    ordered = in_proven_order(in_order(pd.DataFrame([authorize, revoke])))
    assert export.to_records(ordered[["eventname", "ambiguous_order"]]) == [
        {"eventname": "RevokeSecurityGroupIngress", "ambiguous_order": True},
        {"eventname": "AuthorizeSecurityGroupIngress", "ambiguous_order": True}]


OPEN_SSH = {"groupId": "sg-1", "ipPermissions": {"items": [
    {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}
DEEP = "[" * 10_000 + "]" * 10_000


@pytest.mark.parametrize("name, request_text, reason", [
    ("AuthorizeSecurityGroupIngress", json.dumps(OPEN_SSH).replace('"fromPort": 22', '"fromPort": 1e400'),
     "fromPort 'inf' is not a port"),
    ("AuthorizeSecurityGroupIngress", json.dumps(OPEN_SSH).replace('"toPort": 22', '"toPort": NaN'),
     "toPort 'nan' is not a port"),
    ("AuthorizeSecurityGroupIngress", json.dumps({**OPEN_SSH, "ipPermissions": {"items": 5}}),
     "ipPermissions is a number, not a list"),
    ("AuthorizeSecurityGroupIngress", json.dumps({**OPEN_SSH, "ipPermissions": {"items": [5]}}),
     "ipPermissions holds a number where an object was expected"),
    ("AuthorizeSecurityGroupIngress", json.dumps({**OPEN_SSH, "groupId": {"id": "sg-1"}}),
     "groupId is an object, not a string"),
    ("AuthorizeSecurityGroupIngress", json.dumps(OPEN_SSH).replace('"0.0.0.0/0"', '["0.0.0.0/0"]'),
     "cidrIp is a list, not a string"),
    ("AuthorizeSecurityGroupIngress", json.dumps(OPEN_SSH).replace('"tcp"', '{"p": 6}'),
     "ipProtocol is an object, not a protocol"),
    ("ModifySecurityGroupRules", json.dumps({"ModifySecurityGroupRulesRequest": "sg-1"}),
     "ModifySecurityGroupRulesRequest is a string, not an object"),
    ("RevokeSecurityGroupIngress", '{"groupId": "sg-1", "x": %s}' % DEEP,
     "requestParameters is not JSON that Python can read"),
    ("RevokeSecurityGroupIngress", "[1]", "requestParameters is a list, not an object"),
    ("AuthorizeSecurityGroupIngress",  # a real opening hidden under a first ipPermissions
     '{"groupId": "sg-1", "ipPermissions": %s, "ipPermissions": {"items": []}}'
     % json.dumps(OPEN_SSH["ipPermissions"]),
     "requestParameters holds the key 'ipPermissions' twice in one object (case aside): which value "
     "is the evidence cannot be decided"),
    ("AuthorizeSecurityGroupIngress",  # the same, spelt in another case: read by _get all the same
     '{"groupId": "sg-1", "ipPermissions": {"items": []}, "IpPermissions": %s}'
     % json.dumps(OPEN_SSH["ipPermissions"]),
     "requestParameters holds the key 'IpPermissions' twice in one object (case aside): which value "
     "is the evidence cannot be decided"),
    ("AuthorizeSecurityGroupIngress",
     '{"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, '
     '"toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0", "cidrIp": "10.0.0.0/8"}]}}]}}',
     "requestParameters holds the key 'cidrIp' twice in one object (case aside): which value is the "
     "evidence cannot be decided"),
])
def test_an_event_the_normalizer_cannot_read_is_rejected_with_its_reason_and_the_others_are_kept(
        name, request_text, reason):
    bad = {**row(name, None, eid="e2", t="2026-01-01T00:00:01Z"), "requestparameters": request_text}
    later = row("RevokeSecurityGroupIngress", OPEN_SSH, eid="e3", t="2026-01-01T00:00:02Z")
    frame = normalize(pd.DataFrame([row("AuthorizeSecurityGroupIngress", OPEN_SSH), bad, later]))
    assert list(frame["event_id"]) == ["e1", "e3"]
    assert frame.attrs["rejected"] == [
        f"event e2 ({name} at 2026-01-01T00:00:01Z by arn:aws:iam::111111111111:user/a): {reason}"]


@pytest.mark.parametrize("made, kept", [
    ({"fromPort": 443, "toPort": 443}, "another port"),
    ({"cidrIpv4": "10.0.0.0/8"}, "another address"),
    ({"groupId": "sg-2"}, "another group"),
])
def test_a_response_that_contradicts_its_request_keeps_both_readings_and_flags_the_event(made, kept):
    asked = row("AuthorizeSecurityGroupIngress", OPEN_SSH, {"securityGroupRuleSet": {"items": [{
        "groupId": "sg-1", "securityGroupRuleId": "sgr-1", "isEgress": False, "ipProtocol": "tcp",
        "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0", **made}]}})
    frame = normalize(pd.DataFrame([asked]))
    keys = ["group_id", "from_port", "peer", "rule_id", "inconsistent"]
    listed = {"group_id": "sg-1", "from_port": 22, "peer": "0.0.0.0/0", "rule_id": "sgr-1",
              "inconsistent": True}
    assert export.to_records(frame[keys]) == [
        {**listed, **{k: v for k, v in {"group_id": made.get("groupId"), "from_port": made.get("fromPort"),
                                         "peer": made.get("cidrIpv4")}.items() if v}},
        {"group_id": "sg-1", "from_port": 22, "peer": "0.0.0.0/0", "rule_id": None, "inconsistent": True},
    ], kept
    caveat = ("The response of event e1 contradicts its request (another port, address or group): "
              "both readings were kept, the one that keeps the exposure open among them.")
    groups = sorted({"sg-1", made.get("groupId", "sg-1")})  # the listed group is exposed too
    assert export.to_records(windows(frame)[["group_id", "cidr", "caveat"]]) == [
        {"group_id": g, "cidr": "0.0.0.0/0", "caveat": caveat} for g in groups]


@pytest.mark.parametrize("removed, kept", [
    ({"fromPort": 443, "toPort": 443}, "another port"),
    ({"cidrIpv4": "10.0.0.0/8"}, "another address"),
    ({"groupId": "sg-2"}, "another group"),
    ({"securityGroupRuleId": "sgr-9"}, "another rule id than the one asked"),
])
def test_a_revoke_whose_response_contradicts_its_request_is_flagged_and_closes_nothing(
        removed, kept):
    # 08:00 port 22 opened to the internet (rule sgr-1); at 09:00 a revoke whose response lists a
    # rule that is not the one its request asked for: which rule went cannot be decided.
    created = {"securityGroupRuleSet": {"items": [{
        "groupId": "sg-1", "securityGroupRuleId": "sgr-1", "isEgress": False, "ipProtocol": "tcp",
        "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}]}}
    listed = {"groupId": "sg-1", "securityGroupRuleId": "sgr-1", "isEgress": False,
              "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}
    by_id = "securityGroupRuleId" in removed
    request = ({"groupId": "sg-1", "securityGroupRuleIds": {"items": [{"securityGroupRuleId": "sgr-1"}]}}
               if by_id else OPEN_SSH)
    revoke = row("RevokeSecurityGroupIngress", request,
                 {"return": True, "revokedSecurityGroupRuleSet": {"items": [{**listed, **removed}]}},
                 t="2026-01-01T09:00:00Z", eid="e2")
    frame = normalize(pd.DataFrame([row("AuthorizeSecurityGroupIngress", OPEN_SSH, created,
                                        t="2026-01-01T08:00:00Z"), revoke]))
    assert list(frame["inconsistent"]) == [False, True, True], kept
    found = windows(frame)
    caveat = ("The response of event e2 contradicts its request (another port, address or "
              "group): both readings were kept, the one that keeps the exposure open among them.")
    # Read as listed, the revoke removed sgr-1 from sg-2, so sg-2 held it from before the evidence:
    # a rule id is one group's, and sg-1's sgr-1 does not stand for it (issue attack16 F3).
    before = ([{"group_id": "sg-2", "opened_at": None, "closed_at": None, "still_open": True,
                "caveat": caveat}] if "groupId" in removed else [])
    assert export.to_records(found[["group_id", "opened_at", "closed_at", "still_open", "caveat"]]) == [
        *before,
        {"group_id": "sg-1", "opened_at": "2026-01-01T08:00:00Z", "closed_at": None, "still_open": True,
         "caveat": caveat}]


def test_a_revoke_whose_response_lists_what_was_asked_closes_the_window():
    created = {"securityGroupRuleSet": {"items": [{
        "groupId": "sg-1", "securityGroupRuleId": "sgr-1", "isEgress": False, "ipProtocol": "tcp",
        "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}]}}
    revoked = {"revokedSecurityGroupRuleSet": created["securityGroupRuleSet"]}
    by_id = {"groupId": "sg-1", "securityGroupRuleIds": {"items": [{"securityGroupRuleId": "sgr-1"}]}}
    for request in (OPEN_SSH, by_id):
        frame = normalize(pd.DataFrame([
            row("AuthorizeSecurityGroupIngress", OPEN_SSH, created, t="2026-01-01T08:00:00Z"),
            row("RevokeSecurityGroupIngress", request, revoked, t="2026-01-01T09:00:00Z", eid="e2")]))
        assert list(frame["inconsistent"]) == [False, False]
        assert export.to_records(windows(frame)[["closed_at", "still_open", "caveat"]]) == [
            {"closed_at": "2026-01-01T09:00:00Z", "still_open": False, "caveat": None}]


def test_a_response_that_says_what_the_request_asked_is_not_flagged(real_data):
    response = {"securityGroupRuleSet": {"items": [{
        "groupId": "sg-1", "securityGroupRuleId": "sgr-1", "isEgress": False, "ipProtocol": "tcp",
        "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}]}}
    by_name = {"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "6", "fromPort": 22,
               "toPort": 22, "groups": {"items": [{"groupName": "web"}]}}]}}
    group_response = {"securityGroupRuleSet": {"items": [{
        "groupId": "sg-1", "securityGroupRuleId": "sgr-2", "isEgress": False, "ipProtocol": "tcp",
        "fromPort": 22, "toPort": 22, "referencedGroupInfo": {"groupId": "sg-9"}}]}}
    frame = normalize(pd.DataFrame([row("AuthorizeSecurityGroupIngress", OPEN_SSH, response),
                                    row("AuthorizeSecurityGroupIngress", by_name, group_response, eid="e2"),
                                    row("AuthorizeSecurityGroupIngress", None, response, eid="e3")]))
    assert list(frame["inconsistent"]) == [False, False, False]
    real = Investigation.from_evidence(real_data / "invictus-ir-aws_dataset").sg_changes()
    assert len(real) and not real["inconsistent"].any()


# --- attack16: records a log-writing attacker shapes to hide an opening of port 22 -------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from audit_toolkit.analysis.events import Unreadable  # noqa: E402
from audit_toolkit.analysis.security_groups import changes_of  # noqa: E402

ACTOR = "arn:aws:iam::111111111111:user/a"
PERMISSION = {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}
WINDOW_KEYS = ["group_id", "cidr", "reach", "opened_at", "opened_event_id", "closed_at", "close_reason",
               "still_open", "open_before_evidence", "caveat"]


def exposure(*rows: dict) -> tuple[list[dict], list[str]]:
    """The windows (WINDOW_KEYS) and the rejected events' reasons of some records."""
    frame = normalize(pd.DataFrame(list(rows)))
    found = windows(frame)
    return export.to_records(found[WINDOW_KEYS]), [r.split(": ", 1)[1] for r in frame.attrs["rejected"]]


def opened(group: str = "sg-1", at: str = "2026-01-01T10:00:00Z", eid: str = "e2", cidr: str = "0.0.0.0/0",
           reach: str = "internet", caveat: str | None = None, **closed) -> dict:
    window = {"group_id": group, "cidr": cidr, "reach": reach, "opened_at": at, "opened_event_id": eid,
              "closed_at": None, "close_reason": None, "still_open": True, "open_before_evidence": False,
              "caveat": caveat}
    return {**window, **closed}


def _modify(group: str, rule_id: str, cidr: str, t: str = "2026-01-01T10:00:00Z", eid: str = "e2") -> dict:
    return row("ModifySecurityGroupRules", {"ModifySecurityGroupRulesRequest": {"GroupId": group, "SecurityGroupRule": {
        "SecurityGroupRuleId": rule_id, "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                                             "CidrIpv4": cidr}}}},
               {"ModifySecurityGroupRulesResponse": {"return": True}}, t=t, eid=eid)


def _egress(group: str, asked_port: int, t: str = "2026-01-01T09:00:00Z", eid: str = "e1") -> dict:
    """An AuthorizeSecurityGroupEgress whose response names rule sgr-1, of port 443 to 10.9.9.9/32."""
    return row("AuthorizeSecurityGroupEgress", {"groupId": group, "ipPermissions": {"items": [
        {"ipProtocol": "tcp", "fromPort": asked_port, "toPort": asked_port,
         "ipRanges": {"items": [{"cidrIp": "10.9.9.9/32"}]}}]}},
        {"_return": True, "securityGroupRuleSet": {"items": [{
            "groupId": group, "securityGroupRuleId": "sgr-1", "isEgress": True, "ipProtocol": "tcp",
            "fromPort": 443, "toPort": 443, "cidrIpv4": "10.9.9.9/32"}]}}, t=t, eid=eid)


ELSEWHERE = ("Event e2 modifies rule sgr-1, whose direction the evidence cannot decide (an earlier record "
             "placed it in another group, or contradicts itself): it was read as ingress, the reading that "
             "keeps the exposure open.")


@pytest.mark.parametrize("forged", [
    _egress("sg-2", 443),  # a rule id learnt in another group (F3)
    _egress("sg-1", 80),  # learnt in this group from a record whose response contradicts its request
])
def test_a_rule_id_learnt_from_another_group_or_a_contradicted_record_does_not_make_a_modify_egress(forged):
    # 09:00 a forged egress authorize says sgr-1 is an egress rule; 10:00 the genuine modify of sg-1
    # turns sgr-1 into tcp 22 from the internet: a window, read as ingress, and said why.
    found, rejected = exposure(forged, _modify("sg-1", "sgr-1", "0.0.0.0/0"))
    assert rejected == []
    assert found == [opened(caveat=ELSEWHERE)]


def test_a_rule_id_learnt_in_this_group_still_says_a_modify_s_direction():
    found, _ = exposure(_egress("sg-1", 443), _modify("sg-1", "sgr-1", "0.0.0.0/0"))
    assert found == []  # an egress rule opened to the internet exposes no port


def test_a_modify_in_one_group_does_not_remove_a_rule_of_another_group_by_its_id():
    # 08:00 sg-2 opens 22 to the internet as sgr-1; 09:00 a modify of sg-1 names sgr-1 and narrows it.
    authorize = row("AuthorizeSecurityGroupIngress", {**OPEN_SSH, "groupId": "sg-2"}, {"securityGroupRuleSet": {
        "items": [{"groupId": "sg-2", "securityGroupRuleId": "sgr-1", **SSH_IN, "cidrIpv4": "0.0.0.0/0"}]}},
        t="2026-01-01T08:00:00Z")
    # 10:00 another rule of sg-2 (443 from 10/8), after which sg-2's exposure is measured again.
    other = row("AuthorizeSecurityGroupIngress", {"groupId": "sg-2", "ipPermissions": {"items": [
        {**PERMISSION, "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}}]}},
        t="2026-01-01T10:00:00Z", eid="e3")
    found, _ = exposure(authorize, _modify("sg-1", "sgr-1", "10.0.0.0/8", t="2026-01-01T09:00:00Z"), other)
    assert found == [opened("sg-2", "2026-01-01T08:00:00Z", "e1")]


# F2: isEgress read strictly, and a response of the other direction is inconsistent

from audit_toolkit.analysis.security_groups import is_true  # noqa: E402


def _authorize_listed(is_egress, name: str = "AuthorizeSecurityGroupIngress") -> dict:
    return row(name, OPEN_SSH, {"_return": True, "securityGroupRuleSet": {"items": [{
        "groupId": "sg-1", "securityGroupRuleId": "sgr-1", "isEgress": is_egress, "ipProtocol": "tcp",
        "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}]}}, t="2026-01-01T10:00:00Z", eid="e2")


UNREAD_EGRESS = ("The response of event e2 says isEgress is neither true nor false: it was read as ingress, "
                 "the reading that keeps the exposure open.")
CONTRADICTS = ("The response of event e2 contradicts its request (another port, address or group): both "
               "readings were kept, the one that keeps the exposure open among them.")


@pytest.mark.parametrize("is_egress, caveat", [
    ("false", UNREAD_EGRESS), ("true", UNREAD_EGRESS), (1, UNREAD_EGRESS), (0, UNREAD_EGRESS),
    ({}, UNREAD_EGRESS), (False, None), (None, None),
    (True, CONTRADICTS),  # an Ingress call's response that says egress (F2b)
])
def test_is_egress_is_read_strictly_and_an_ingress_call_answered_egress_is_inconsistent(is_egress, caveat):
    found, rejected = exposure(_authorize_listed(is_egress))
    assert rejected == []
    assert found == [opened(caveat=caveat)]


def test_an_egress_call_answered_false_is_egress_and_inconsistent_kept_both_ways():
    found, _ = exposure(_authorize_listed(False, "AuthorizeSecurityGroupEgress"))
    assert found == [opened(caveat=CONTRADICTS)]  # its ingress reading exposes 22


def test_a_boolean_is_true_only_for_json_true():
    assert [is_true(v) for v in (True, False, "true", "false", 1, 0, None, {})] == [
        True, False, None, None, None, None, None, None]


# F4: a prefix list's entry that cannot be read, and a list created after a rule named it


def _list_created(entries, t: str = "2026-01-01T09:00:00Z", eid: str = "e1") -> dict:
    return row("CreateManagedPrefixList", {"CreateManagedPrefixListRequest": {"PrefixListName": "x", "Entry": entries}},
               {"CreateManagedPrefixListResponse": {"prefixList": {"prefixListId": "pl-1"}}}, t=t, eid=eid)


def _named(t: str = "2026-01-01T10:00:00Z", eid: str = "e2") -> dict:
    return row("AuthorizeSecurityGroupIngress", {"groupId": "sg-1", "ipPermissions": {"items": [{
        "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "prefixListIds": {"items": [{"prefixListId": "pl-1"}]}}]}},
        t=t, eid=eid)


LIST_UNKNOWN = "The rule names prefix list pl-1, whose entries the evidence does not fully hold: its reach is unknown."


@pytest.mark.parametrize("entries", [
    [{"Cidr": "000.000.000.000/0"}], [{"Cidr": "0/0"}], [{"CidrBlock": "0.0.0.0/0"}],
    {"Entry": [{"Cidr": "0.0.0.0/0"}]}, [{"Cidr": "10.0.0.0/8"}, {"Cidr": None}],
])
def test_a_prefix_list_whose_entry_cannot_be_read_has_an_unknown_reach(entries):
    found, rejected = exposure(_list_created(entries), _named())
    assert rejected == []
    assert found == [opened(cidr="pl-1", reach="unknown", caveat=LIST_UNKNOWN)]


def test_an_entry_added_that_cannot_be_read_opens_a_window_of_unknown_reach():
    grown = row("ModifyManagedPrefixList", {"ModifyManagedPrefixListRequest": {"PrefixListId": "pl-1", "AddEntry": [
        {"Cidr": "0/0"}]}}, {"ModifyManagedPrefixListResponse": {"prefixList": {"prefixListId": "pl-1"}}},
        t="2026-01-01T11:00:00Z", eid="e3")
    found, _ = exposure(_list_created([{"Cidr": "10.0.0.0/8"}]), _named(), grown)
    assert found == [opened(cidr="pl-1", reach="unknown", at="2026-01-01T11:00:00Z", eid="e3", caveat=LIST_UNKNOWN)]


def test_a_prefix_list_created_after_a_rule_named_it_closes_nothing_and_is_said():
    found, _ = exposure(_named(), _list_created([{"Cidr": "10.0.0.0/8"}], t="2026-01-01T11:00:00Z", eid="e3"))
    late = ("Prefix list pl-1 is created by event e3 after a rule named it, which AWS does not allow: which "
            "record is right cannot be decided, so its reach stays unknown.")
    assert found == [opened(cidr="pl-1", reach="unknown", caveat=f"{late} {LIST_UNKNOWN}")]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cidr=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12)
                         | st.sampled_from(["0/0", "000.000.000.000/0", "0.0.0.0/0 ", "::/0", "0.0.0.0/00"]),
                         lambda inner: st.lists(inner, max_size=2), max_leaves=3))
def test_any_entry_of_a_prefix_list_never_hides_the_rule_naming_it(cidr):
    """A list created with one entry of any JSON value, then named by a rule of 22: a window still
    open (of unknown reach where the entry cannot be read), or the create rejected with its reason
    (and the list then unknown: a window too). A CIDR that can be read decides by what it holds."""
    from audit_toolkit.analysis.security_groups import network

    if isinstance(cidr, str) and network(cidr) is not None:
        return
    frame = normalize(pd.DataFrame([_list_created([{"Cidr": cidr}]), _named()]))
    found = windows(frame)
    assert found["still_open"].tolist() == [True] and found["reach"].tolist() == ["unknown"], cidr


# F5: request members in either case; an authorize's permissions whatever else it carries


@pytest.mark.parametrize("request_", [
    {"GroupId": "sg-1", "IpPermissions": {"items": [PERMISSION]}},
    {"GroupId": "sg-1", "ipPermissions": {"items": [PERMISSION]}},
    {"GroupId": "sg-1", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"},
    {"groupId": "sg-1", "securityGroupRuleIds": {"items": [{"securityGroupRuleId": "sgr-1"}]},
     "ipPermissions": {"items": [PERMISSION]}},
])
def test_an_authorize_is_read_whatever_the_case_of_its_members_and_whatever_else_it_carries(request_):
    found, rejected = exposure(row("AuthorizeSecurityGroupIngress", request_, {"_return": True},
                                   t="2026-01-01T10:00:00Z", eid="e2"))
    assert rejected == []
    assert found == [opened()]


def test_a_member_twice_case_aside_in_a_decoded_request_is_unreadable():
    event = {**row("AuthorizeSecurityGroupIngress", None), "actor": ACTOR,
             "requestparameters": {"groupId": "sg-1", "GroupId": "sg-2", "ipPermissions": {"items": [PERMISSION]}}}
    with pytest.raises(Unreadable, match="the request holds the member GroupId, groupId twice"):
        changes_of(event, {})


# F6: what a successful call holds that the analysis cannot measure


def _opening(permission: dict, **extra) -> dict:
    return {**row("AuthorizeSecurityGroupIngress", {"groupId": "sg-1", "ipPermissions": {"items": [permission]}},
                  {"_return": True}, t="2026-01-01T10:00:00Z", eid="e2"), **extra}


def test_a_protocol_number_however_written_is_that_protocol():
    assert [protocol_name(p) for p in ("06", " 6 ", 6, "017", "0")] == ["tcp", "tcp", "tcp", "udp", "0"]
    found, _ = exposure(_opening({**PERMISSION, "ipProtocol": "06"}))
    assert found == [opened()]


@pytest.mark.parametrize("permission, why", [
    ({k: v for k, v in PERMISSION.items() if k != "ipProtocol"},
     "the successful call's protocol (missing) is not one AWS takes: which ports it opened cannot be read"),
    ({**PERMISSION, "ipProtocol": "tcp6"},
     "the successful call's protocol (tcp6) is not one AWS takes: which ports it opened cannot be read"),
    ({**PERMISSION, "ipProtocol": 300},
     "the successful call's protocol (300) is not one AWS takes: which ports it opened cannot be read"),
    ({**PERMISSION, "fromPort": 65535, "toPort": 0},
     "the successful call's port range 65535-0 ends below its start: which ports it opened cannot be read"),
])
def test_a_successful_opening_the_analysis_cannot_measure_is_rejected_with_its_reason(permission, why):
    found, rejected = exposure(_opening(permission))
    assert found == [] and rejected == [why]


@pytest.mark.parametrize("blank", [" ", "\t\n", "\u3000", "\u200b", "\ufeff", "\u2060", "\u3164", "\x00"])
def test_a_blank_error_code_is_no_answer_whether_the_call_succeeded(blank):
    # the invisible ones passed for a failed call: the opening was dropped, exit 0
    found, rejected = exposure(_opening(PERMISSION, errorcode=blank))
    assert found == [] and rejected == ["errorCode is blank: whether the call succeeded cannot be decided"]
    assert exposure(_opening(PERMISSION, errorcode=""))[0] == [opened()]  # empty: no error, documented


JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 70000) | st.floats(allow_nan=False)
                    | st.text(max_size=6) | st.sampled_from(["6", "06", "tcp", " TCP ", "-1", "all", "22", "false"]),
                    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
                    max_leaves=4)
OTHER_PROTOCOLS = {"udp", "icmp", "icmpv6"}


def _names_another_protocol(value) -> bool:
    """A value that is a protocol AWS takes other than TCP (and all): a rule of it exposes no SSH."""
    try:
        name = protocol_name(value)
    except Unreadable:
        return False
    return name in OTHER_PROTOCOLS or (name is not None and name.isdigit() and int(name) <= 255)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(member=st.sampled_from(["isEgress", "ipProtocol", "fromPort", "toPort"]), value=JSON)
def test_any_value_of_a_member_never_hides_the_opening_unless_the_call_is_reported(member, value):
    """An opening of 22 to the internet with one member replaced by any JSON value: a window still
    open, or the event rejected with its reason (counted, warned, --fail-on-open exits 4)."""
    if member == "ipProtocol" and _names_another_protocol(value):
        return
    if member == "isEgress":
        event = _authorize_listed(value)
    else:
        event = _opening({**PERMISSION, member: value})
    frame = normalize(pd.DataFrame([event]))
    found = windows(frame)
    assert len(frame.attrs["rejected"]) == 1 or found["still_open"].tolist() == [True], (member, value)


# attack16r M4: a revoke whose response says it did not succeed


REVOKE_SSH = {"groupId": "sg-1", "ipPermissions": {"items": [PERMISSION]}}
MODIFY_SSH = {"ModifySecurityGroupRulesRequest": {"GroupId": "sg-1", "SecurityGroupRule": {
    "SecurityGroupRuleId": "sgr-1", "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                                          "CidrIpv4": "10.0.0.0/8"}}}}


@pytest.mark.parametrize("name, request_, response", [
    ("RevokeSecurityGroupIngress", REVOKE_SSH, {"_return": False}),
    ("RevokeSecurityGroupIngress", REVOKE_SSH, {"_return": "true"}),
    ("RevokeSecurityGroupIngress", REVOKE_SSH, {"_return": None}),
    ("RevokeSecurityGroupIngress", REVOKE_SSH, {"_Return": 1}),
    ("DeleteSecurityGroup", {"groupId": "sg-1"}, {"_return": False}),
    ("ModifySecurityGroupRules", MODIFY_SSH, {"ModifySecurityGroupRulesResponse": {"return": False}}),
])
def test_a_removal_whose_response_says_it_did_not_succeed_closes_nothing_and_is_counted(name, request_, response):
    # it closed the window, no caveat, exit 0: AWS answers true to every such call that succeeds
    found, rejected = exposure(_opening(PERMISSION), row(name, request_, response, t="2026-01-01T11:00:00Z"))
    assert found == [opened()]
    assert rejected == ["the response's _return is not true: whether the call succeeded cannot be decided"]


def test_a_removal_whose_response_says_true_or_nothing_closes_the_window():
    closed = {"closed_at": "2026-01-01T11:00:00Z", "close_reason": "revoked", "still_open": False}
    for response in ({"_return": True}, None, {}):
        found, rejected = exposure(_opening(PERMISSION), row("RevokeSecurityGroupIngress", REVOKE_SSH, response,
                                                             t="2026-01-01T11:00:00Z"))
        assert (found, rejected) == ([opened(**closed)], [])
    failed = row("RevokeSecurityGroupIngress", REVOKE_SSH, {"_return": False}, error="Client.Unknown",
                 t="2026-01-01T11:00:00Z")
    assert exposure(_opening(PERMISSION), failed) == ([opened()], [])  # a failed call: an attempt
