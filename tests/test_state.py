"""Security-group state from AWS Config and EC2 describe output; windows from state and logs.

Fixtures follow AWS's documentation: the configuration snapshot example and delivery notifications
of the Config developer guide (S3 keys with month and day not zero-padded, `configurationItems`),
the AWS::EC2::SecurityGroup configuration (ipv4Ranges beside ipRanges), GetResourceConfigHistory
(the `configuration` a JSON string, `accountId`), and the EC2 API reference for
DescribeSecurityGroups and DescribeSecurityGroupRules.
"""

from __future__ import annotations

import gzip
from pathlib import Path
import json

import pandas as pd
import pytest

from audit_toolkit import export
from audit_toolkit.analysis import state
from audit_toolkit.analysis.exposure import windows as logged_windows
from audit_toolkit.analysis.security_groups import normalize
from audit_toolkit.engines.duckdb import DuckDBEngine
from audit_toolkit.errors import ConfigError
from audit_toolkit.evidence.layout import discover_files, discover_findings, discover_state
from audit_toolkit.evidence.state import NO_TIME, PAGE_OF_RULES, read_state
from audit_toolkit.investigation import Investigation
from audit_toolkit.queries import get
from test_security_groups import row

ACCOUNT, REGION = "123456789012", "us-east-2"
SNAPSHOT = (
    f"AWSLogs/{ACCOUNT}/Config/{REGION}/2026/9/27/ConfigSnapshot/"
    f"{ACCOUNT}_Config_{REGION}_ConfigSnapshot_20260927T183939Z_16da64e4.json.gz"
)
HISTORY = (
    f"AWSLogs/{ACCOUNT}/Config/{REGION}/2026/9/28/ConfigHistory/"
    f"{ACCOUNT}_Config_{REGION}_ConfigHistory_AWS::EC2::SecurityGroup_20260928T000000Z_20260928T060000Z_1.json.gz"
)


def permission(cidr: str, low: int = 22, high: int = 22) -> dict:
    v6 = ":" in cidr
    return {
        "fromPort": low,
        "ipProtocol": "tcp",
        "toPort": high,
        "userIdGroupPairs": [],
        "prefixListIds": [],
        "ipv4Ranges": [] if v6 else [{"cidrIp": cidr}],
        "ipRanges": [] if v6 else [cidr],
        "ipv6Ranges": [{"cidrIpv6": cidr}] if v6 else [],
    }


def item(
    group: str, captured: str, ingress: list[dict] | None, status: str = "OK", related=()
) -> dict:
    configuration = (
        None
        if ingress is None
        else {
            "groupName": f"name-{group}",
            "groupId": group,
            "vpcId": "vpc-1",
            "ownerId": ACCOUNT,
            "ipPermissions": ingress,
            "ipPermissionsEgress": [],
            "description": "d",
            "tags": [],
        }
    )
    return {
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": captured,
        "configurationStateId": 1,
        "awsAccountId": ACCOUNT,
        "configurationItemStatus": status,
        "resourceType": "AWS::EC2::SecurityGroup",
        "resourceId": group,
        "resourceName": f"name-{group}",
        "ARN": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{group}",
        "awsRegion": REGION,
        "availabilityZone": "Not Applicable",
        "relatedEvents": list(related),
        "relationships": [],
        "configuration": configuration,
        "supplementaryConfiguration": {},
        "tags": {},
    }


def write(path, document, gz: bool = True):
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document).encode()
    path.write_bytes(gzip.compress(text) if gz else text)
    return path


def state_of(*paths, state_at=None, root=None) -> tuple[pd.DataFrame, object]:
    """The rules that `sg_state` and analysis.state.rules give for these files, and the report."""
    table, report = read_state(paths, state_at, root)
    engine = DuckDBEngine()
    engine.state(table)
    every_day = {"until": None, "account": None, "region": None, "first_day": None, "days": []}
    query, values = get("sg_state").expand(every_day)
    items = engine.run(query.render("duckdb"), values)
    return state.rules(items), report


RULE_KEYS = [
    "observed_at", "group_id", "group_name", "vpc_id", "deleted", "direction", "protocol",
    "from_port", "to_port", "peer", "peer_type",
]


def rule_rows(rules: pd.DataFrame) -> list[tuple]:
    return [tuple(r[k] for k in RULE_KEYS) for r in export.to_records(rules[RULE_KEYS])]


def test_config_delivery_items_become_rules_once(tmp_path):
    snapshot = write(
        tmp_path / SNAPSHOT,
        {
            "fileVersion": "1.0",
            "configSnapshotId": "16da64e4",
            "configurationItems": [
                item(
                    "sg-1",
                    "2025-01-02T03:04:05.678Z",
                    [permission("0.0.0.0/0"), permission("::/0", 80, 80)],
                ),
                {
                    "configurationItemVersion": "1.3",
                    "configurationItemCaptureTime": "2025-01-01T00:00:00.000Z",
                    "configurationItemStatus": "OK",
                    "resourceType": "AWS::EC2::Volume",
                    "resourceId": "vol-1",
                    "configuration": {"volumeId": "vol-1"},
                },
            ],
        },
    )
    # The same item again in a history file (Config delivers both) and the group's deletion.
    history = write(
        tmp_path / HISTORY,
        {
            "fileVersion": "1.0",
            "configurationItems": [
                item(
                    "sg-1",
                    "2025-01-02T03:04:05.678Z",
                    [permission("0.0.0.0/0"), permission("::/0", 80, 80)],
                ),
                item("sg-1", "2026-09-28T01:00:00.000Z", None, status="ResourceDeleted"),
            ],
        },
    )
    assert discover_state(tmp_path) == [snapshot, history]
    assert discover_files(tmp_path) == [] and discover_findings(tmp_path) == []
    rules, report = state_of(snapshot, history)
    at = "2025-01-02T03:04:05Z"  # as export writes times
    assert rule_rows(rules) == [
        (
            at,
            "sg-1",
            "name-sg-1",
            "vpc-1",
            False,
            "ingress",
            "tcp",
            22,
            22,
            "0.0.0.0/0",
            "cidr_ipv4",
        ),
        (at, "sg-1", "name-sg-1", "vpc-1", False, "ingress", "tcp", 80, 80, "::/0", "cidr_ipv6"),
        (
            "2026-09-28T01:00:00Z",
            "sg-1",
            "name-sg-1",
            None,
            True,
            None,
            None,
            None,
            None,
            None,
            None,
        ),
    ]
    assert (report.read, report.used, report.rejected, dict(report.other_types)) == (
        3,
        3,
        0,
        {"AWS::EC2::Volume": 1},
    )
    assert set(rules["account"]) == {ACCOUNT} and set(rules["region"]) == {REGION}


def test_get_resource_config_history_output_has_its_configuration_as_json_text(tmp_path):
    api = item("sg-2", "2026-09-28T10:00:00+00:00", [permission("10.0.0.0/8")])
    api["configuration"] = json.dumps(api["configuration"])
    api["accountId"] = api.pop("awsAccountId")
    path = write(
        tmp_path / "case" / "history.json",
        {"configurationItems": [api], "nextToken": None},
        gz=False,
    )
    assert discover_state(tmp_path) == [path]
    rules, report = state_of(path)
    assert rule_rows(rules) == [
        (
            "2026-09-28T10:00:00Z",
            "sg-2",
            "name-sg-2",
            "vpc-1",
            False,
            "ingress",
            "tcp",
            22,
            22,
            "10.0.0.0/8",
            "cidr_ipv4",
        )
    ]
    assert list(rules["account"]) == [ACCOUNT] and report.rejected == 0


def history_item(group: str, configuration: str) -> dict:
    """An item as `aws configservice get-resource-config-history` prints it (the API's
    ConfigurationItem: `version`, `accountId`, `arn`, `configuration` a JSON document as text)."""
    return {
        "version": "1.3",
        "accountId": ACCOUNT,
        "configurationItemCaptureTime": "2026-09-28T10:00:00.123000+00:00",
        "configurationItemStatus": "OK",
        "configurationStateId": "1790589600123",
        "configurationItemMD5Hash": "",
        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{group}",
        "resourceType": "AWS::EC2::SecurityGroup",
        "resourceId": group,
        "resourceName": f"name-{group}",
        "awsRegion": REGION,
        "availabilityZone": "Not Applicable",
        "tags": {},
        "relatedEvents": [],
        "relationships": [{"resourceType": "AWS::EC2::VPC", "resourceId": "vpc-1", "relationshipName": "Is contained in Vpc"}],
        "configuration": configuration,
        "supplementaryConfiguration": {},
    }


def test_a_key_twice_inside_the_configuration_text_rejects_its_item_with_the_path(tmp_path):
    """Found by an attack review: get-resource-config-history's `configuration` is JSON text,
    decoded apart, and a second ipPermissions in it hid the group's open rule (the decoder keeps
    the last); a key twice anywhere else was rejected."""
    opened = json.dumps(item("sg-1", "2026-09-28T10:00:00Z", [permission("0.0.0.0/0")])["configuration"])
    hidden = opened[:-1] + ', "ipPermissions": []}'
    deeper = opened.replace('"fromPort": 22', '"fromPort": 22, "fromPort": 0')
    path = write(tmp_path / "case" / "history.json", {"configurationItems": [
        history_item("sg-1", hidden), history_item("sg-2", deeper),
        history_item("sg-3", "[" * 10_000 + "]" * 10_000),
        history_item("sg-4", opened.replace("sg-1", "sg-4"))], "nextToken": None}, gz=False)
    rules, report = state_of(path)
    assert sorted(set(rules["group_id"])) == ["sg-4"]
    (file,) = report.files
    assert (file.read, file.used, file.rejected) == (4, 1, 3)
    assert file.rejections == [
        "record 0: the key 'configuration.ipPermissions' appears twice in the item",
        "record 1: the key 'configuration.ipPermissions[].fromPort' appears twice in the item",
        "record 2: configuration is nested deeper than the decoder follows",
    ]


def test_malformed_config_items_are_rejected_with_their_reason_and_the_rest_used(tmp_path):
    bad_json = item("sg-4", "2026-09-28T10:00:00Z", [])
    bad_json["configuration"] = "{not json"
    bad_list = item("sg-5", "2026-09-28T10:00:00Z", [])
    bad_list["configuration"]["ipPermissions"] = {"fromPort": 22}
    path = write(
        tmp_path / HISTORY,
        {
            "fileVersion": "1.0",
            "configurationItems": [
                "not an item",
                item("sg-1", "yesterday", []),
                item("sg-2", "2026-09-28T10:00:00Z", [], status="Exploded"),
                item("sg-3", "2026-09-28T10:00:00Z", None, status="ResourceNotRecorded"),
                bad_json,
                bad_list,
                {**item("sg-6", "2026-09-28T10:00:00Z", []), "resourceId": None},
                item("sg-7", "2026-09-28T10:00:00Z", [permission("0.0.0.0/0")]),
            ],
        },
    )
    rules, report = state_of(path)
    assert list(rules["group_id"]) == ["sg-7"]
    (file,) = report.files
    assert (file.read, file.used, file.rejected) == (8, 1, 7)
    assert file.rejections == [
        "record 0: not an object",
        "record 1: configurationItemCaptureTime is not a time: "
        "Invalid isoformat string: 'yesterday'",
        "record 2: unknown configurationItemStatus 'Exploded'",
        "record 3: ResourceNotRecorded: the item records no configuration",
        "record 4: configuration is a string but not JSON",
        "record 5: configuration.ipPermissions is not a list",
        "record 6: no resourceId",
    ]


def test_an_item_whose_account_or_region_contradicts_its_delivery_path_is_rejected(tmp_path):
    """Found by an attack review: an item of another account (or region) than the folder AWS
    delivered it to, showing the group without its rule, closed this account's window."""
    other = f"AWSLogs/999988887777/Config/{REGION}/2026/9/28/ConfigHistory/h.json.gz"
    west = f"AWSLogs/{ACCOUNT}/Config/eu-west-1/2026/9/28/ConfigHistory/h.json.gz"
    arn = item("sg-3", "2026-09-28T10:00:00Z", [])
    arn["ARN"] = f"arn:aws:ec2:{REGION}:999988887777:security-group/sg-3"
    at = "2026-09-28T10:00:00Z"
    paths = [write(tmp_path / other, {"configurationItems": [item("sg-1", at, [])]}),
             write(tmp_path / west, {"configurationItems": [item("sg-2", at, [])]}),
             write(tmp_path / HISTORY, {"configurationItems": [arn, item("sg-4", at, [])]}),
             write(tmp_path / "loose.json", {"configurationItems": [item("sg-5", at, [])]},
                   gz=False)]
    rules, report = state_of(*paths)
    assert list(rules["group_id"]) == ["sg-4", "sg-5"]  # a loose file has no path to contradict
    assert [f.rejections for f in report.files] == [
        [f"record 0: awsAccountId {ACCOUNT} is not 999988887777, the account of the folder AWS "
         "delivered it to: it is not read"],
        [f"record 0: awsRegion {REGION} is not eu-west-1, the region of the folder AWS delivered "
         "it to: it is not read"],
        ["record 0: the ARN's account 999988887777 is not 123456789012, the account of the folder "
         "AWS delivered it to: it is not read"],
        [],
    ]


def test_an_item_that_does_not_say_which_rules_the_group_holds_closes_no_window(tmp_path):
    # Config writes "ipPermissions": [] for a group with no rule; an item without the list (or a
    # describe entry without IpPermissions) read as "no rule" closed the logged window of sg-1.
    missing = item("sg-1", "2026-09-28T10:00:00Z", [])
    del missing["configuration"]["ipPermissions"]
    nothing = item("sg-1", "2026-09-28T10:00:00Z", [])
    nothing["configuration"]["ipPermissions"] = None
    path = write(tmp_path / HISTORY, {"fileVersion": "1.0", "configurationItems": [
        missing, nothing, item("sg-2", "2026-09-28T10:00:00Z", [])]})
    described = {"SecurityGroups": [{"GroupId": "sg-1", "OwnerId": ACCOUNT, "GroupName": "web",
                                     "SecurityGroupArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-1"}]}
    rules, report = state_of(path, write(tmp_path / "groups.json", described, gz=False),
                             state_at="2026-09-28T11:00:00Z", root=tmp_path)
    assert list(rules["group_id"]) == ["sg-2"]
    reason = "configuration has no ipPermissions list: it does not say which rules the group holds"
    assert [f.rejections for f in report.files] == [
        [f"record 0: {reason}", f"record 1: {reason}"],
        ["record 0: no IpPermissions list: the entry does not say which rules the group holds"]]


def test_a_group_described_twice_in_one_file_keeps_the_rules_of_both(tmp_path):
    # The later entry replaced the earlier's rules: an entry with none closed the logged window.
    (bastion,) = DESCRIBED["SecurityGroups"]
    emptied = {**bastion, "IpPermissions": []}
    path = write(tmp_path / "groups.json", {"SecurityGroups": [bastion, emptied]}, gz=False)
    rules, report = state_of(path, state_at="2026-09-30T12:00:00Z")
    assert sorted(zip(rules["direction"], rules["peer"])) == [("egress", "0.0.0.0/0"), ("ingress", "0.0.0.0/0")]
    assert report.files[0].warnings == ["record 1: sg-9 is described twice: the rules of both are read"]


def test_config_items_and_describe_output_at_implausible_times_are_rejected_with_the_reason(
        tmp_path):
    """A capture time in year 9999 (or before CloudTrail's launch) would stretch every window it
    bounds: the rule the CloudTrail intake applies to event times, applied to state times."""
    items = [item("sg-1", "9999-12-31T23:59:59Z", [permission("0.0.0.0/0")]),
             item("sg-2", "2005-01-01T00:00:00Z", [permission("0.0.0.0/0")]),
             item("sg-3", 253402300799, [permission("0.0.0.0/0")]),  # epoch seconds of year 9999
             item("sg-4", "2026-09-28T10:00:00Z", [permission("0.0.0.0/0")])]
    path = write(tmp_path / HISTORY, {"fileVersion": "1.0", "configurationItems": items})
    rules, report = state_of(path)
    assert list(rules["group_id"]) == ["sg-4"]
    (file,) = report.files
    assert [r.split(" is outside ")[0] for r in file.rejections] == [
        "record 0: configurationItemCaptureTime 9999-12-31T23:59:59.000Z",
        "record 1: configurationItemCaptureTime 2005-01-01T00:00:00.000Z",
        "record 2: configurationItemCaptureTime 9999-12-31T23:59:59.000Z"]
    assert file.rejections[0].endswith("(a day after the evidence was read)")
    groups = write(tmp_path / "describe-security-groups.json", DESCRIBED, gz=False)
    rules, report = state_of(groups, state_at="9999-01-01T00:00:00Z")
    assert rules.empty and report.files[0].error.startswith(
        "--state-at 9999-01-01T00:00:00.000Z is outside 2013-11-13 (CloudTrail's launch) .. ")


def test_an_account_region_or_name_that_is_not_text_is_no_value_never_a_python_repr(tmp_path):
    """One rule for Config items and describe output: a value that is not text is no value. The
    account and region then come from the S3 key or the ARN, a name is missing; nothing shows as
    "{'a': 1}", and the item's rules are kept."""
    odd = item("sg-1", "2026-09-28T10:00:00Z", [permission("0.0.0.0/0")])
    odd.update(awsAccountId={"a": 1}, awsRegion=["x"], resourceName=7, ARN={"b": 2})
    odd["configuration"]["groupName"] = True
    path = write(tmp_path / HISTORY, {"fileVersion": "1.0", "configurationItems": [odd]})
    described = json.loads(json.dumps(DESCRIBED))
    described["SecurityGroups"][0].update(OwnerId={"c": 3}, GroupName=["n"], VpcId=12)
    groups = write(tmp_path / "describe-security-groups.json", described, gz=False)
    rules, report = state_of(path, groups, state_at="2026-09-30T12:00:00Z")
    assert (report.rejected, len(rules)) == (0, 3)
    shown = rules[["account", "region", "group_id", "group_name", "vpc_id"]].drop_duplicates()
    assert export.to_records(shown) == [
        {"account": ACCOUNT, "region": REGION, "group_id": "sg-1", "group_name": None,
         "vpc_id": "vpc-1"},
        {"account": ACCOUNT, "region": REGION, "group_id": "sg-9", "group_name": None,
         "vpc_id": None}]


def test_a_protocol_rule_id_or_description_that_is_not_text_stops_nothing_and_hides_no_rule(
        tmp_path):
    """A protocol that is an object costs only its permission (named in a warning), a rule id or a
    description that is not text is none: the run went down on them (Unreadable, unhashable)."""
    odd = permission("0.0.0.0/0")
    odd["ipProtocol"] = {"x": 1}
    web = permission("0.0.0.0/0", 3389, 3389)
    web["ipv4Ranges"] = [{"cidrIp": "0.0.0.0/0", "description": {"d": 1}}]
    path = write(tmp_path / HISTORY, {"configurationItems": [
        item("sg-1", "2026-09-28T10:00:00Z", [odd, web])]})
    described = json.loads(json.dumps(RULES))
    first, second = described["SecurityGroupRules"]
    first.update(SecurityGroupRuleId={"a": 1}, Description=["x"])
    second["ReferencedGroupInfo"]["GroupId"] = {"b": 2}
    second["CidrIpv4"] = "0.0.0.0/0"
    rules_file = write(tmp_path / "rules.json", {"SecurityGroupRules": [
        first, second, {**second, "SecurityGroupRuleId": "sgr-3", "IpProtocol": [6]}]}, gz=False)
    rules, report = state_of(path, rules_file, state_at="2026-09-30T12:00:00Z")
    keys = ["group_id", "protocol", "from_port", "peer", "rule_id", "description"]
    assert [tuple(r.values()) for r in export.to_records(rules[keys])] == [
        ("sg-1", "tcp", 3389, "0.0.0.0/0", None, None),
        ("sg-9", "tcp", 22, "::/0", None, None),
        ("sg-9", "tcp", 5432, "0.0.0.0/0", "sgr-2", None)]
    assert [f.warnings for f in report.files] == [
        ["record 0: configuration.ipPermissions holds an ipProtocol that is not a protocol: that "
         "permission is not read, the item's others are"],
        ["record 2: an IpProtocol that is not a protocol: that rule is not read"]]
    assert report.rejected == 0
    assert len(state.held_at(rules, pd.Timestamp("2026-10-01T00:00:00Z"))) == 3


def test_an_interface_or_instance_id_that_is_not_text_is_the_items_resource_id():
    from audit_toolkit.analysis.findings import config_memberships

    eni = {"networkInterfaceId": {"a": 1}, "groups": [{"groupId": "sg-1"}],
           "attachment": {"instanceId": "i-1", "status": "attached"}}
    instance = {"instanceId": ["i"], "networkInterfaces": [],
                "securityGroups": [{"groupId": "sg-2"}]}
    items = pd.DataFrame([
        {"capture_time": "2026-09-28T10:00:00Z", "status": "OK", "account": ACCOUNT,
         "region": REGION, "resource_type": kind, "resource_id": rid,
         "configuration": json.dumps(c)}
        for kind, rid, c in (("AWS::EC2::NetworkInterface", "eni-1", eni),
                             ("AWS::EC2::Instance", "i-2", instance))])
    found = export.to_records(config_memberships(items)[["instance_id", "network_interface_id",
                                                          "group_id"]])
    assert [tuple(r.values()) for r in found] == [
        ("i-1", "eni-1", "sg-1"), ("i-2", None, "sg-2")]


DESCRIBED = {
    "SecurityGroups": [
        {
            "Description": "bastion",
            "GroupName": "bastion",
            "OwnerId": ACCOUNT,
            "GroupId": "sg-9",
            "VpcId": "vpc-9",
            "SecurityGroupArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-9",
            "IpPermissions": [
                {
                    "FromPort": 22,
                    "IpProtocol": "tcp",
                    "ToPort": 22,
                    "UserIdGroupPairs": [],
                    "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "<b>ssh</b>"}],
                    "Ipv6Ranges": [],
                    "PrefixListIds": [],
                }
            ],
            "IpPermissionsEgress": [
                {
                    "IpProtocol": "-1",
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    "Ipv6Ranges": [],
                    "PrefixListIds": [],
                    "UserIdGroupPairs": [],
                }
            ],
        }
    ]
}
RULES = {
    "SecurityGroupRules": [
        {
            "SecurityGroupRuleId": "sgr-1",
            "GroupId": "sg-9",
            "GroupOwnerId": ACCOUNT,
            "IsEgress": False,
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "CidrIpv6": "::/0",
            "SecurityGroupRuleArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group-rule/sgr-1",
            "Tags": [],
        },
        {
            "SecurityGroupRuleId": "sgr-2",
            "GroupId": "sg-9",
            "GroupOwnerId": ACCOUNT,
            "IsEgress": False,
            "IpProtocol": "tcp",
            "FromPort": 5432,
            "ToPort": 5432,
            "ReferencedGroupInfo": {"GroupId": "sg-8", "UserId": ACCOUNT},
            "SecurityGroupRuleArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group-rule/sgr-2",
            "Tags": [],
        },
    ]
}


def test_describe_output_without_a_capture_time_is_refused_saying_how_to_give_it(tmp_path):
    groups = write(tmp_path / "describe-security-groups.json", DESCRIBED, gz=False)
    rules, report = state_of(groups)
    assert rules.empty
    assert report.files[0].error.startswith(
        "describe output does not say when it was taken: give its capture time with --state-at"
    )
    rules, report = state_of(groups, state_at="2026-09-30T12:00:00Z")
    at = "2026-09-30T12:00:00Z"
    assert rule_rows(rules) == [
        (at, "sg-9", "bastion", "vpc-9", False, "ingress", "tcp", 22, 22, "0.0.0.0/0", "cidr_ipv4"),
        (
            at,
            "sg-9",
            "bastion",
            "vpc-9",
            False,
            "egress",
            "-1",
            None,
            None,
            "0.0.0.0/0",
            "cidr_ipv4",
        ),
    ]
    assert (list(rules["region"]), list(rules["account"])) == ([REGION] * 2, [ACCOUNT] * 2)


def test_describe_security_group_rules_keep_their_rule_ids(tmp_path):
    path = write(tmp_path / "rules.json", RULES, gz=False)
    rules, _ = state_of(path, state_at="2026-09-30T12:00:00Z")
    assert [
        (r["rule_id"], r["direction"], r["peer"], r["peer_type"], r["from_port"])
        for r in export.to_records(rules)
    ] == [
        ("sgr-1", "ingress", "::/0", "cidr_ipv6", 22),
        ("sgr-2", "ingress", "sg-8", "security_group", 5432),
    ]


def test_one_page_of_describe_security_group_rules_is_refused_as_it_would_close_windows(tmp_path):
    # A page (NextToken: --max-items) may hold one of a group's rules and not the next: read as a
    # state, every rule on another page was "closed, not logged".
    at = "2026-09-30T12:00:00Z"
    page = write(tmp_path / "rules.json", {**RULES, "NextToken": "eyJ2IjoyfQ=="}, gz=False)
    rules, report = state_of(page, state_at=at)
    assert rules.empty
    assert report.files[0].error == PAGE_OF_RULES
    # A page of describe-security-groups holds whole groups: its groups are read, its rules not.
    both = write(tmp_path / "both.json", {**DESCRIBED, **RULES, "NextToken": "x"}, gz=False)
    rules, report = state_of(both, state_at=at)
    assert (report.files[0].error, report.files[0].warnings) == (None, [PAGE_OF_RULES])
    assert sorted(rules["peer"]) == ["0.0.0.0/0", "0.0.0.0/0"]


def test_a_state_file_over_the_file_limit_is_refused_as_a_trail_file_is(tmp_path):
    # AUDIT_TOOLKIT_MAX_FILE_BYTES bounds every reader: the state reader took the default 256 MB.
    from audit_toolkit.evidence.store import ingest_evidence
    from audit_toolkit.settings import Settings

    write(tmp_path / "evidence" / SNAPSHOT, {"fileVersion": "1.0", "configurationItems": [
        item("sg-1", "2026-09-27T18:39:39.000Z", [permission("0.0.0.0/0")] * 20)]})
    small = Settings(max_file_bytes=1000)
    reason = "the file inflates to more than the limit of 1,000 bytes"
    raw = Investigation.from_evidence(tmp_path / "evidence", small).state_intake
    stored = ingest_evidence(tmp_path / "evidence", tmp_path / "store", max_file_bytes=1000)[2]
    assert [(f.read, f.error) for f in raw.files + stored.files] == [(0, reason), (0, reason)]
    assert Investigation.from_evidence(tmp_path / "evidence").state_intake.used == 1


def test_hostile_state_files_are_reported_and_the_rest_read(tmp_path):
    deep = write(tmp_path / SNAPSHOT, {}, gz=False)
    deep.write_bytes(b'{"configurationItems": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    odd = item("sg-1", "2026-09-28T10:00:00Z", [permission("0.0.0.0/0")])
    odd["resourceName"] = None
    odd["configuration"].update(groupName=["x"], vpcId={"a": 1})  # not names
    good = write(tmp_path / HISTORY, {"fileVersion": "1.0", "configurationItems": [odd]})
    loose = write(tmp_path / "loose" / "deep.json", {}, gz=False)
    loose.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    assert discover_state(tmp_path) == [deep, good]  # the deep loose file: to the CloudTrail reader
    rules, report = state_of(deep, good)
    # the deep value is the file's one item: it costs only itself (issue 16), the file is read
    deep_file = report.files[0]
    assert (deep_file.error, deep_file.read, deep_file.used, deep_file.rejected) == (None, 1, 0, 1)
    assert deep_file.rejections == [
        "record 0: nested deeper than the decoder follows (about 1,000 levels)"]
    assert rule_rows(rules) == [
        ("2026-09-28T10:00:00Z", "sg-1", None, None, False, "ingress", "tcp", 22, 22, "0.0.0.0/0",
         "cidr_ipv4")]


def test_an_item_list_after_much_whitespace_is_read_item_by_item_when_another_cannot_be(tmp_path):
    """Found by an attack review: where the file could not be decoded whole (a NaN), a list whose
    '[' came after 64 bytes of whitespace was taken for no list, and every item was lost."""
    groups, bad = json.dumps(DESCRIBED["SecurityGroups"][0]).encode(), b'{"GroupId": NaN}'
    config = write(tmp_path / SNAPSHOT, {}, gz=False)
    config.write_bytes(b'{"configurationItems":' + b" " * 100 + b"[" + json.dumps(item(
        "sg-1", "2026-09-28T10:00:00Z", [permission("0.0.0.0/0")])).encode() + b', {"a": NaN}]}')
    described = tmp_path / "describe.json"
    described.write_bytes(b'{"SecurityGroups":' + b"\n" * 80 + b"[" + groups + b", " + bad + b"]}")
    rules, report = state_of(config, described, state_at="2026-09-30T12:00:00Z")
    assert sorted(set(rules["group_id"])) == ["sg-1", "sg-9"]
    assert [(f.error, f.read, f.used, f.rejected) for f in report.files] == [(None, 2, 1, 1)] * 2


def test_a_state_file_of_no_known_structure_is_reported_with_its_top_level_keys(tmp_path):
    path = write(tmp_path / SNAPSHOT, {"hello": 1, "Items": []})
    _, report = state_of(path)
    assert (
        report.files[0].error
        == "neither AWS Config items nor EC2 describe output (top-level keys: ['Items', 'hello'])"
    )


def test_an_item_with_a_key_twice_is_rejected_never_read_as_its_last(tmp_path):
    """Found by an attack review: a decoder keeps the last of a repeated key, so a group's item
    with a second resourceType (or configuration, or IpPermissions) hid its open rule silently."""
    opened = json.dumps(item("sg-1", "2026-09-28T10:00:00Z", [permission("0.0.0.0/0")])).encode()
    config = write(tmp_path / SNAPSHOT, {}, gz=False)
    config.write_bytes(b'{"configurationItems": [' + opened[:-1] + b', "resourceType": "AWS::S3::Bucket"}]}')
    group = json.dumps(DESCRIBED["SecurityGroups"][0]).encode()
    described = tmp_path / "describe.json"
    described.write_bytes(b'{"SecurityGroups": [' + group[:-1] + b', "IpPermissions": []}]}')
    _, report = state_of(config, described, state_at="2026-09-30T12:00:00Z")
    assert [(f.read, f.used, f.rejected, f.rejections) for f in report.files] == [
        (1, 0, 1, ["record 0: the key 'resourceType' appears twice in the item"]),
        (1, 0, 1, ["record 0: the key 'IpPermissions' appears twice in the item"])]
    assert not report.other_types


def test_an_indented_item_with_an_escape_is_proven_unique_without_the_brackets(monkeypatch):
    """The brackets walk an item in Python: describe output as the CLI writes it (indented, with
    \\u00e9) took them for every entry, 1.6 s to 9.2 s for 70 MB."""
    from audit_toolkit.evidence import reader

    monkeypatch.setattr(reader, "repeated_key", lambda *a, **k: pytest.fail("the brackets"))
    assert reader.decode_element(b'{\n  "Description": "caf\\u00e9",\n  "GroupId": "sg-1"\n}') == {
        "Description": "caf\u00e9", "GroupId": "sg-1"}


def test_a_state_file_with_a_top_level_key_twice_is_refused_as_a_trail_file_is(tmp_path):
    """Found by an attack review: a second, empty configurationItems (or SecurityGroups) list hid
    the first's groups, and the file was reported read with nothing in it."""
    opened = json.dumps(item("sg-1", "2026-09-28T10:00:00Z", [permission("0.0.0.0/0")])).encode()
    config = write(tmp_path / SNAPSHOT, {}, gz=False)
    config.write_bytes(b'{"configurationItems": [' + opened + b'], "configurationItems": []}')
    group = json.dumps(DESCRIBED["SecurityGroups"][0]).encode()
    described = tmp_path / "describe.json"
    described.write_bytes(b'{"SecurityGroups": [' + group + b'], "SecurityGroups": []}')
    _, report = state_of(config, described, state_at="2026-09-30T12:00:00Z")
    assert [f.error for f in report.files] == [
        f"the file's top-level object holds the key {key!r} twice: which of its values is the "
        "evidence cannot be decided" for key in ("configurationItems", "SecurityGroups")]


def test_a_state_file_that_is_a_list_of_documents_is_reported_not_a_traceback(tmp_path):
    """Found by an attack review: a list is read as the kind of its first element, and a list
    whose first element held configurationItems stopped the whole analysis with a TypeError."""
    path = write(tmp_path / "loose" / "items.json",
                 [{"configurationItems": [item("sg-1", "2026-09-28T10:00:00Z", [])]}])
    table, report = read_state([path])
    assert (table.num_rows, report.files[0].error) == (
        0, "neither AWS Config items nor EC2 describe output (top-level keys: list)")


def test_a_file_holding_several_kinds_is_read_as_each_and_loses_neither(tmp_path):
    """Loose files are routed by every kind they hold, not by the first marker: a CloudTrail file
    with an extra "configurationItems" or "SecurityGroups" key, findings beside "Records", a
    finding with a "Records" key. A file in AWS's Config folder is read as Config only, and the
    records it also holds are named in a warning."""
    from datetime import datetime, timezone

    from audit_toolkit.synthetic import gd_finding
    from util import event

    when = datetime(2026, 9, 28, 9, 0, tzinfo=timezone.utc)
    finding = gd_finding("f-1", "Recon:EC2/PortProbeUnprotectedPort", 2.0, "probe", ACCOUNT,
                         REGION, first_seen=when, last_seen=when)
    opened = item("sg-1", "2026-09-28T10:00:00Z", [permission("0.0.0.0/0")])
    loose = tmp_path / "case"
    write(loose / "trail-and-items.json", {"Records": [event(1)], "configurationItems": [opened]})
    write(loose / "trail-and-groups.json", {"Records": [event(2), event(3)], **DESCRIBED})
    write(loose / "findings-and-records.json", {"Findings": [finding], "Records": [event(4)]})
    write(loose / "finding-with-records.json",
          {**{**finding, "id": "f-2"}, "Records": [event(5)]})
    stray = {"configurationItems": [item("sg-2", "2026-09-28T11:00:00Z", [])],
             "Records": [event(6)]}
    write(tmp_path / HISTORY, stray)
    inv = Investigation.from_evidence(tmp_path, state_at="2026-09-30T12:00:00Z")
    ids = inv.query("event_ids", since=None, until=None, since_day=None, until_day=None,
                    account=None, region=None)["eventid"]
    assert sorted(ids) == [f"00000000-0000-0000-0000-{i:012d}" for i in range(1, 6)]
    assert sorted(inv.findings()["id"]) == ["f-1", "f-2"]
    assert sorted(set(inv.state()["group_id"])) == ["sg-1", "sg-2", "sg-9"]
    rejected = (inv.intake.rejected, inv.findings_intake.rejected, inv.state_intake.rejected)
    assert rejected == (0, 0, 0)
    (config,) = [f for f in inv.state_intake.files if f.path.endswith(".json.gz")]
    assert config.warnings == ["also holds cloudtrail evidence, not read: a file in AWS's config "
                               "folder is read as config only"]
    # Config items beside describe output with no capture time: the items are read all the same
    both = write(loose / "items-and-groups.json", {"configurationItems": [opened], **DESCRIBED})
    rules, report = state_of(both)
    assert (set(rules["group_id"]), report.files[0].error) == ({"sg-1"}, None)
    assert report.files[0].warnings == [f"its describe output is not read: {NO_TIME}"]


# --- windows from state and logs together --------------------------------------------------------

SSH = {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22}


def ct(name: str, minute: int, cidr: str = "0.0.0.0/0") -> dict:
    request = {
        "groupId": "sg-1",
        "ipPermissions": {"items": [{**SSH, "ipRanges": {"items": [{"cidrIp": cidr}]}}]},
    }
    return {
        **row(name, request, None, t=f"2026-01-01T00:{minute:02d}:00Z"),
        "account": ACCOUNT,
        "region": REGION,
        "eventid": f"e{minute}",
    }


def observed(minute: int, cidrs: list[str] | None, related=()) -> dict:
    """A Config item of sg-1 at 00:MM as the sg_state query returns it (None: deleted)."""
    conf = (
        None
        if cidrs is None
        else {"groupName": "web", "vpcId": "vpc-1", "ipPermissions": [permission(c) for c in cidrs]}
    )
    return {
        "capture_time": f"2026-01-01T00:{minute:02d}:00Z",
        "status": "ResourceDeleted" if cidrs is None else "OK",
        "group_id": "sg-1",
        "group_name": "web",
        "account": ACCOUNT,
        "region": REGION,
        "related_events": ",".join(related),
        "configuration": None if conf is None else json.dumps(conf),
    }


WINDOW_KEYS = [
    "opened_how", "opened_after", "opened_at", "opened_by", "closed_after", "closed_at",
    "close_reason", "still_open", "group_name", "vpc_id",
]


def merged(events: list[dict], items: list[dict], start_minute: int = 0) -> list[tuple]:
    changes = normalize(pd.DataFrame(events)) if events else normalize(pd.DataFrame())
    rules = state.rules(pd.DataFrame(items))
    start = pd.Timestamp(f"2026-01-01T00:{start_minute:02d}:00Z")
    calls = state.related_calls(changes) if len(changes) else None
    found = state.windows(logged_windows(changes), rules, evidence_start=start, calls=calls)
    return [tuple(r[k] for k in WINDOW_KEYS) for r in export.to_records(found[WINDOW_KEYS])]


ACTOR = "arn:aws:iam::111111111111:user/a"  # test_security_groups.row's caller


def t(minute: int) -> str:
    return f"2026-01-01T00:{minute:02d}:00Z"


def test_a_rule_open_at_the_first_state_is_open_since_at_least_then():
    assert merged([], [observed(5, ["0.0.0.0/0"]), observed(30, ["0.0.0.0/0"])]) == [
        ("state", None, t(5), None, None, None, None, True, "web", "vpc-1")
    ]


def test_a_later_state_without_the_rule_closes_the_logged_window_unlogged():
    found = merged(
        [ct("AuthorizeSecurityGroupIngress", 10)], [observed(11, ["0.0.0.0/0"]), observed(40, [])]
    )
    assert found == [
        ("logged", None, t(10), ACTOR, t(11), t(40), "closed, not logged", False, "web", "vpc-1")
    ]


def test_a_state_within_the_second_of_the_logged_opening_closes_nothing():
    # CloudTrail keeps whole seconds, Config milliseconds: the call logged at 00:10:00 may have
    # come at 00:10:00.9, after an item captured at 00:10:00.5 that lacks its rule.
    within = {**observed(10, []), "capture_time": "2026-01-01T00:10:00.500Z"}
    found = merged([ct("AuthorizeSecurityGroupIngress", 10)], [within])
    assert found == [("logged", None, t(10), ACTOR, None, None, None, True, "web", "vpc-1")]
    after = {**observed(10, []), "capture_time": "2026-01-01T00:10:01.000Z"}
    assert merged([ct("AuthorizeSecurityGroupIngress", 10)], [after]) == [
        ("logged", None, t(10), ACTOR, t(10), "2026-01-01T00:10:01Z", "closed, not logged", False, "web", "vpc-1")]


def test_a_state_within_the_second_of_a_logged_close_opens_nothing():
    # The revoke logged at 00:20:00 may have come at 00:20:00.9, after an item captured at
    # 00:20:00.4 that still shows the rule: no window opened with no logged call, none still open.
    opened, closed = ct("AuthorizeSecurityGroupIngress", 10), ct("RevokeSecurityGroupIngress", 20)
    within = {**observed(20, ["0.0.0.0/0"]), "capture_time": "2026-01-01T00:20:00.400Z"}
    assert merged([opened, closed], [within]) == [
        ("logged", None, t(10), ACTOR, None, t(20), "revoked", False, "web", "vpc-1")]
    # A revoke of a rule never seen opening: the state after it is not its opening.
    assert merged([closed], [within]) == [
        (None, None, None, None, None, t(20), "revoked", False, "web", "vpc-1")]


def test_config_history_alone_gives_a_window_between_two_items():
    assert merged([], [observed(5, []), observed(20, ["::/0"]), observed(50, [])]) == [
        ("config", t(5), t(20), None, t(20), t(50), "closed, not logged", False, "web", "vpc-1")
    ]


def test_a_revoke_of_a_rule_never_seen_opening_takes_its_opening_from_the_state():
    found = merged(
        [ct("RevokeSecurityGroupIngress", 30)], [observed(2, ["0.0.0.0/0"])], start_minute=10
    )
    assert [(f[0], f[2], f[5], f[6]) for f in found] == [("state", t(2), t(30), "revoked")]


def test_a_group_deleted_in_state_closes_its_windows_unlogged():
    assert merged([], [observed(5, ["0.0.0.0/0"]), observed(9, None)]) == [
        ("state", None, t(5), None, t(5), t(9), "group deleted, not logged", False, "web", "vpc-1")
    ]


def test_a_related_event_in_the_evidence_names_who_opened_the_window():
    # The trail recorded the call, but as an event the replay does not read as this rule (another
    # CIDR): Config's relatedEvents still ties the opening to it.
    call = ct("AuthorizeSecurityGroupIngress", 19, "10.0.0.0/8")
    found = merged([call], [observed(5, []), observed(20, ["0.0.0.0/0"], related=["e19"])])
    assert [(f[0], f[1], f[2], f[3]) for f in found] == [("config", t(5), t(20), ACTOR)]


def test_a_related_event_names_the_opener_only_if_it_changed_that_group_and_succeeded():
    """Found by an attack review: relatedEvents matched any event of that id, a failed call, a
    call on another group, or the first of two records sharing the id."""
    def call(**change) -> dict:
        return {**ct("AuthorizeSecurityGroupIngress", 19, "10.0.0.0/8"), **change}

    items = [observed(5, []), observed(20, ["0.0.0.0/0"], related=["e19"])]
    other_group = call(requestparameters=json.dumps({"groupId": "sg-2", "ipPermissions": {"items": [
        {**SSH, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}}]}}))
    failed = call(errorcode="Client.UnauthorizedOperation")
    forged = call(identity_arn="arn:aws:iam::111111111111:user/b")
    for events in ([other_group], [failed], [call(), forged]):
        assert [(f[0], f[1], f[2], f[3]) for f in merged(events, items)] == [("config", t(5), t(20), None)]


def test_a_related_call_on_a_group_by_name_names_the_opener_of_that_group_only():
    """Found by an attack review: a call by group name (a default VPC's group) whose response
    names no id has no group id, and the check on the group lost who opened the window."""
    def by_name(name: str) -> dict:
        call = ct("AuthorizeSecurityGroupIngress", 19, "10.0.0.0/8")
        request = {**json.loads(call["requestparameters"]), "groupName": name}
        del request["groupId"]
        return {**call, "requestparameters": json.dumps(request),
                "responseelements": json.dumps({"_return": True})}

    items = [observed(5, []), observed(20, ["0.0.0.0/0"], related=["e19"])]
    assert [f[3] for f in merged([by_name("web")], items)] == [ACTOR]
    assert [f[3] for f in merged([by_name("db")], items)] == [None]


def test_a_revoke_by_name_listing_removed_and_unknown_rules_is_one_related_call_on_its_group():
    """Found by an attack review: a default VPC's revoke by name gives a row with the group id its
    response lists and one without (unknownIpPermissionSet); taken for two calls sharing an id,
    both were dropped, and the item naming it lost who closed the window."""
    revoke = ct("RevokeSecurityGroupIngress", 19)
    request = {**json.loads(revoke["requestparameters"]), "groupName": "web"}
    del request["groupId"]
    removed = {"groupId": "sg-1", "securityGroupRuleId": "sgr-4", "isEgress": False, **SSH,
               "cidrIpv4": "0.0.0.0/0"}
    unknown = {**SSH, "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}}
    revoke.update(requestparameters=json.dumps(request), responseelements=json.dumps(
        {"_return": True, "revokedSecurityGroupRuleSet": {"items": [removed]},
         "unknownIpPermissionSet": {"items": [unknown]}}))
    calls = state.related_calls(normalize(pd.DataFrame([revoke])))
    assert calls[["event_id", "group_id", "actor_arn"]].values.tolist() == [["e19", "sg-1", ACTOR]]


def test_a_rule_a_state_showed_open_that_a_logged_call_grants_again_is_one_window():
    """Config shows the rule open with no logged call; a later logged authorize of it is an event
    of that window (in its caveat), not a second window and a second chat post."""
    grant, revoke = ct("AuthorizeSecurityGroupIngress", 10), ct("RevokeSecurityGroupIngress", 15)
    assert merged([grant], [observed(5, ["0.0.0.0/0"])]) == [
        ("state", None, t(5), None, None, None, None, True, "web", "vpc-1")]
    # a later state lacking it closes the one window, known open until the logged call
    assert merged([grant], [observed(5, ["0.0.0.0/0"]), observed(20, [])]) == [
        ("state", None, t(5), None, t(10), t(20), "closed, not logged", False, "web", "vpc-1")]
    # opened between two Config items, closed by a logged revoke: the revoke closes the one window
    items = [observed(1, []), observed(5, ["0.0.0.0/0"])]
    assert merged([grant, revoke], items) == [
        ("config", t(1), t(5), None, None, t(15), "revoked", False, "web", "vpc-1")]
    changes = normalize(pd.DataFrame([grant]))
    found = state.windows(logged_windows(changes), state.rules(pd.DataFrame(items)))
    assert list(found["caveat"]) == [
        f"A logged call (e10, {ACTOR}) granted this exposure again at {t(10)} while the state "
        f"showed it open since {t(5)}: it is one window, from "
        "the state. Had the rule been removed in between, with no logged call, it was open again "
        "from that call on."]
    assert reconciled([grant, revoke], items) == [
        ("opened_not_logged", "ingress tcp port 22 from 0.0.0.0/0", t(1), t(5))]
    # the authorize first: the logged window, which the state confirms, names who opened it
    assert merged([ct("AuthorizeSecurityGroupIngress", 3)], items) == [
        ("logged", None, t(3), ACTOR, None, None, None, True, "web", "vpc-1")]
    # shown again after the logged revoke: opened again, unlogged, after the revoke
    again = merged([grant, revoke], [observed(5, ["0.0.0.0/0"]), observed(20, ["0.0.0.0/0"])])
    assert again == [
        ("state", None, t(5), None, None, t(15), "revoked", False, "web", "vpc-1"),
        ("state", t(15), t(20), None, None, None, None, True, "web", "vpc-1")]


# --- the demo's story, asserted exactly -----------------------------------------------------------

STATE_KEYS = [
    "group_id", "group_name", "vpc_id", "account", "region", "direction", "protocol", "from_port",
    "to_port", "cidr", "opened_how", "opened_after", "opened_at", "opened_by", "closed_after",
    "closed_at", "close_reason", "still_open", "open_before_evidence",
]


def test_the_demo_windows_from_state_are_recovered_exactly(demo_inv, truth):
    found = demo_inv.ssh_exposure()
    from_state = found[found["region"].eq("eu-west-1") & found["account"].eq("111111111111")]
    assert sorted(
        tuple(r[k] for k in STATE_KEYS) for r in export.to_records(from_state[STATE_KEYS])
    ) == sorted(tuple(w[k] for k in STATE_KEYS) for w in truth["state_windows"])
    assert len(found) == len(truth["windows"]) == 11
    intake = demo_inv.state_intake
    assert (
        len(intake.files),
        intake.read,
        intake.used,
        intake.rejected,
        dict(intake.other_types),
    ) == (
        truth["state_intake"]["files"],
        truth["state_intake"]["items"],
        truth["state_intake"]["items"],
        0,
        truth["state_intake"]["other_types"],
    )


def test_the_demo_disagreements_are_reconciled_exactly(demo_inv, truth):
    found = export.to_records(demo_inv.reconcile())
    keys = ["kind", "group_id", "after", "before", "related_events"]
    assert [tuple(r[k] for k in keys) for r in found] == [
        tuple(w[k] for k in keys) for w in truth["reconcile"]
    ]
    for row_, expected in zip(found, truth["reconcile"]):
        assert row_["coverage"] == expected.get("coverage", row_["coverage"])
    assert truth["deleted_log_event"] in {r["related_events"] for r in found}
    assert {r["group_name"] for r in found} == {
        "legacy-bastion",
        "old-web",
        "build-runner",
        "jump-host",
    }


def test_names_reach_every_change_of_a_group(demo_inv):
    changes = demo_inv.sg_changes()
    jump = changes[changes["group_id"].eq("sg-02b0000000000000b")]
    assert list(jump["group_name"]) == ["jump-host"] and list(jump["vpc_id"]) == [
        "vpc-0e1e2e3e4e5e6e7e8"
    ]
    bastion = changes[changes["group_id"].eq("sg-0a000000000000001")]
    assert (
        set(bastion["group_name"]) == {"bastion-tmp"} and len(bastion) == 4
    )  # create, authorize, egress, revoke


def test_without_the_capture_time_the_describe_file_is_refused_and_the_rest_read(demo):
    inv = Investigation.from_evidence(
        demo / "evidence", only=frozenset({"AuthorizeSecurityGroupIngress"})
    )
    (refused,) = inv.state_intake.bad_files
    assert refused.path.endswith("describe-security-groups.json") and "--state-at" in refused.error
    assert inv.state_intake.used == 9


def test_replaying_from_the_state_reads_only_the_days_asked_for_with_the_same_windows(
        demo_inv, monkeypatch):
    place = dict(since="2026-11-03T00:00:00Z", account="111111111111", region="eu-west-1")
    keys = ["group_id", "cidr", "opened_how", "opened_at", "opened_by", "closed_at", "close_reason"]
    full = demo_inv.ssh_exposure(**place)
    first = len(demo_inv.log)
    held_at, asked = state.held_at, []
    monkeypatch.setattr(state, "held_at", lambda *a: asked.append(a[1]) or held_at(*a))
    seeded = demo_inv.ssh_exposure(**place, from_state=True)
    assert asked == [pd.Timestamp(place["since"])]  # the state at --since is worked out once
    assert export.to_records(seeded[keys]) == export.to_records(full[keys]) and len(seeded) == 3
    read = {e["query"]: e["params"] for e in demo_inv.log[first:]}
    assert read["sg_changes"]["since_day"] == read["evidence_span"]["since_day"] == "2026/11/03"
    # Config's day folders from the day before: the snapshot of 2026/11/2 and the history since
    assert read["sg_state"]["first_day"] == "2026/11/2"
    listed = [read["sg_state"][f"days_{i}"] for i in range(3)]
    assert listed == ["2026/11/2", "2026/11/3", "2026/11/4"]
    with pytest.raises(ConfigError, match="needs --since, --account and --region"):
        demo_inv.ssh_exposure(since="2026-11-03T00:00:00Z", from_state=True)
    with pytest.raises(ConfigError, match="no AWS Config snapshot .* of 111111111111/ap-"):
        demo_inv.ssh_exposure(**{**place, "region": "ap-northeast-1"}, from_state=True)
    # From 2026-11-04 the days read (from 2026/11/3) hold history but no snapshot, and the describe
    # answer is later: the state at --since could lack a group never changed since, so refused.
    with pytest.raises(ConfigError, match="delivered on 2026/11/3 or 2026/11/4: the state at"):
        demo_inv.ssh_exposure(**{**place, "since": "2026-11-04T00:00:00Z"}, from_state=True)


# --- the store holds the state -------------------------------------------------------------------


def test_a_store_made_by_ingest_answers_every_state_question_as_the_evidence_does(
    demo, demo_inv, truth, tmp_path
):
    from click.testing import CliRunner

    from audit_toolkit.cli import main

    store = tmp_path / "store"
    args = ["ingest", "--evidence", str(demo / "evidence"), "--store", str(store)]
    result = CliRunner().invoke(main, [*args, "--state-at", truth["state_at"]])
    assert result.exit_code == 0, result.output
    assert f"{truth['state_intake']['files']} state files" in result.output
    held = Investigation.from_store(store)
    place = dict(since="2026-11-03T00:00:00Z", account="111111111111", region="eu-west-1")
    for answer in (
        lambda inv: inv.state(),
        lambda inv: inv.ssh_exposure(),
        lambda inv: inv.reconcile(),
        lambda inv: inv.ssh_exposure(**place, from_state=True),
    ):
        pd.testing.assert_frame_equal(answer(held), answer(demo_inv), check_exact=True)
    assert len(held.ssh_exposure()) == len(truth["windows"])
    intake = held.state_intake
    assert (len(intake.files), intake.used, intake.rejected, dict(intake.other_types)) == (
        truth["state_intake"]["files"],
        truth["state_intake"]["items"],
        0,
        truth["state_intake"]["other_types"],
    )


def test_a_describe_file_refused_for_want_of_a_time_is_read_when_a_later_ingest_gives_it(
    demo, truth, tmp_path
):
    from audit_toolkit.evidence.store import ingest_evidence

    store = tmp_path / "store"
    first = ingest_evidence(demo / "evidence", store)[2]
    (refused,) = first.bad_files
    assert refused.path.endswith("describe-security-groups.json") and "--state-at" in refused.error
    assert Investigation.from_store(store).state_intake.used == 9  # the rest, as from the evidence
    again = ingest_evidence(demo / "evidence", store, state_at=truth["state_at"])[2]
    assert [Path(f.path).name for f in again.files] == ["describe-security-groups.json"]
    held = Investigation.from_store(store)
    assert held.state_intake.used == truth["state_intake"]["items"]
    assert not held.state_intake.bad_files
    still_open = held.ssh_exposure().query("group_name == 'legacy-bastion'")
    assert list(still_open["still_open"]) == [True]


def test_a_revoke_by_rule_id_alone_closes_a_window_seeded_from_a_config_item():
    """Config gives the rules at the seed, describe-security-group-rules their ids; the revoke
    names only the id (its response says nothing of the rule)."""
    from audit_toolkit.analysis.exposure import RuleState, window_frame

    described = {
        **observed(1, []),
        "configuration": json.dumps({"groupId": "sg-1", "securityGroupRules": [{
            "SecurityGroupRuleId": "sgr-0123456789abcdef0", "GroupId": "sg-1", "IsEgress": False,
            "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "0.0.0.0/0",
        }]}),
    }
    rules = state.rules(pd.DataFrame([described, observed(5, ["0.0.0.0/0"])]))
    replay = RuleState()
    replay.seed(state.held_at(rules, pd.Timestamp(t(10))))
    named = {"items": [{"securityGroupRuleId": "sgr-0123456789abcdef0"}]}
    request = {"groupId": "sg-1", "securityGroupRuleIds": named}
    revoke = {**row("RevokeSecurityGroupIngress", request, {"_return": True}, t=t(20)),
              "account": ACCOUNT, "region": REGION, "eventid": "e20"}
    for change in normalize(pd.DataFrame([revoke])).to_dict("records"):
        replay.apply(change)
    found = window_frame(replay.windows(), pd.Timestamp(t(30)))
    assert [(r["cidr"], r["closed_at"], r["close_reason"], r["still_open"])
            for r in export.to_records(found)] == [("0.0.0.0/0", t(20), "revoked", False)]


def test_a_revoke_by_rule_id_alone_says_what_it_removed_from_the_rules_a_state_held():
    """sg-changes --from-state: the rule's content comes from the state's rule ids, as a full read
    would learn it from the authorize's response."""
    described = {
        **observed(1, []),
        "configuration": json.dumps({"groupId": "sg-1", "securityGroupRules": [{
            "SecurityGroupRuleId": "sgr-0123456789abcdef0", "GroupId": "sg-1", "IsEgress": False,
            "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "0.0.0.0/0",
        }]}),
    }
    rules = state.rules(pd.DataFrame([described, observed(5, ["0.0.0.0/0"])]))
    request = {"groupId": "sg-1",
               "securityGroupRuleIds": {"items": [{"securityGroupRuleId": "sgr-0123456789abcdef0"}]}}
    revoke = {**row("RevokeSecurityGroupIngress", request, {"_return": True}, t=t(20)),
              "account": ACCOUNT, "region": REGION, "eventid": "e20"}
    keys = ["action", "direction", "protocol", "from_port", "to_port", "peer", "rule_id"]
    alone = normalize(pd.DataFrame([revoke]))[keys]
    assert export.to_records(alone)[0]["peer"] is None  # nothing says what the id was
    seeded = normalize(pd.DataFrame([revoke]), state.held_at(rules, pd.Timestamp(t(10))))[keys]
    assert export.to_records(seeded) == [{"action": "revoke", "direction": "ingress", "protocol": "tcp",
                                          "from_port": 22, "to_port": 22, "peer": "0.0.0.0/0",
                                          "rule_id": "sgr-0123456789abcdef0"}]


def test_sg_changes_from_the_state_reads_only_the_days_asked_for_with_the_same_rows(demo_inv):
    place = dict(since="2026-11-03T00:00:00Z", account="111111111111", region="eu-west-1")
    full = demo_inv.sg_changes(**place)
    first = len(demo_inv.log)
    seeded = demo_inv.sg_changes(**place, from_state=True)
    assert len(full) > 0 and export.to_records(seeded) == export.to_records(full)
    read = {e["query"]: e["params"] for e in demo_inv.log[first:]}
    assert read["sg_changes"]["since_day"] == "2026/11/03"
    with pytest.raises(ConfigError, match="needs --since, --account and --region"):
        demo_inv.sg_changes(since="2026-11-03T00:00:00Z", from_state=True)


def _item(minute: int, permissions: list[dict]) -> dict:
    return {**observed(minute, []), "configuration": json.dumps(
        {"groupName": "web", "vpcId": "vpc-1", "ipPermissions": permissions})}


def test_hostile_config_permissions_neither_hide_an_opening_nor_stop_the_run():
    """Found by an attack review: an empty ipv4Ranges beside a full ipRanges hid the opening, a port
    of 10**30 stopped the run (OverflowError), a CIDR that is a list stopped describe's reading."""
    hidden = {**permission("0.0.0.0/0"), "ipv4Ranges": []}
    huge = {**permission("10.0.0.0/8"), "fromPort": 10**30, "toPort": 10**30}
    found = merged([], [_item(5, [hidden, huge])])
    assert found == [("state", None, t(5), None, None, None, None, True, "web", "vpc-1")]
    rules = state.rules(pd.DataFrame([_item(5, [huge])]))
    assert rules[["from_port", "to_port"]].isna().all().all()  # no port AWS could write: none


def test_a_describe_rule_with_a_list_for_a_cidr_or_egress_as_text_keeps_the_opening():
    described = {**observed(1, []), "configuration": json.dumps({"groupId": "sg-1", "securityGroupRules": [
        {"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-1", "IsEgress": False, "IpProtocol": "tcp",
         "FromPort": 22, "ToPort": 22, "CidrIpv4": ["0.0.0.0/0"]},
        {"SecurityGroupRuleId": "sgr-2", "GroupId": "sg-1", "IsEgress": "false", "IpProtocol": "tcp",
         "FromPort": 22, "ToPort": 22, "CidrIpv4": "0.0.0.0/0"},
    ]})}
    rules = state.rules(pd.DataFrame([described]))
    kept = export.to_records(rules[["rule_id", "direction", "peer"]])
    assert kept == [{"rule_id": "sgr-1", "direction": "ingress", "peer": None},
                    {"rule_id": "sgr-2", "direction": "ingress", "peer": "0.0.0.0/0"}]


def test_halves_of_the_internet_in_one_state_are_a_window_as_in_the_replay():
    found = merged([], [observed(5, ["0.0.0.0/1", "128.0.0.0/1"]), observed(9, ["0.0.0.0/1"])])
    assert found == [
        ("state", None, t(5), None, t(5), t(9), "closed, not logged", False, "web", "vpc-1")
    ]
    # one half, or a half and private space, is not the internet
    assert merged([], [observed(5, ["0.0.0.0/1", "10.0.0.0/8"])]) == []


def test_a_logged_union_window_is_the_one_the_state_shows_and_a_later_state_closes_it():
    opened = [ct("AuthorizeSecurityGroupIngress", 10, "0.0.0.0/1"),
              ct("AuthorizeSecurityGroupIngress", 11, "128.0.0.0/1")]
    halves = observed(12, ["0.0.0.0/1", "128.0.0.0/1"])
    found = merged(opened, [halves, observed(40, ["0.0.0.0/1"])])
    assert found == [
        ("logged", None, t(11), ACTOR, t(12), t(40), "closed, not logged", False, "web", "vpc-1")
    ]


def test_a_state_rule_over_several_watched_ports_is_one_window():
    from audit_toolkit.settings import Settings

    wide = {**observed(5, []), "configuration": json.dumps(
        {"groupName": "web", "ipPermissions": [permission("0.0.0.0/0", 0, 65535)]})}
    nothing_logged = logged_windows(normalize(pd.DataFrame()))
    found = state.windows(nothing_logged, state.rules(pd.DataFrame([wide])),
                          Settings(watched_ports=(22, 3389)))
    assert [(r["exposed_ports"], r["opened_how"], r["cidr"]) for r in export.to_records(found)] == [
        ("22,3389", "state", "0.0.0.0/0")
    ]


# --- reconcile: rules that expose no watched port -------------------------------------------------

HTTPS = {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443}


def https_call(name: str, minute: int, cidr: str) -> dict:
    request = {"groupId": "sg-1",
               "ipPermissions": {"items": [{**HTTPS, "ipRanges": {"items": [{"cidrIp": cidr}]}}]}}
    return {**row(name, request, None, t=t(minute)), "account": ACCOUNT, "region": REGION,
            "eventid": f"e{minute}"}


def with_rules(minute: int, ingress: list[dict], egress: list[dict] = ()) -> dict:
    conf = {"groupName": "web", "vpcId": "vpc-1", "ipPermissions": ingress,
            "ipPermissionsEgress": list(egress)}
    return {**observed(minute, []), "configuration": json.dumps(conf)}


def reconciled(events: list[dict], items: list[dict], start_minute: int = 0) -> list[tuple]:
    changes = normalize(pd.DataFrame(events)) if events else normalize(pd.DataFrame())
    rules = state.rules(pd.DataFrame(items))
    start = pd.Timestamp(t(start_minute))
    found = state.windows(logged_windows(changes), rules, evidence_start=start)
    silent = pd.DataFrame(columns=["kind", "account", "region", "start", "end"])
    rows = state.reconcile(found, rules, changes, set(), silent, start)
    return [tuple(r[k] for k in ("kind", "rule", "after", "before"))
            for r in export.to_records(rows)]


def test_a_rule_the_logs_revoked_that_a_later_state_shows_reopened_unlogged_after_the_revoke():
    """The interval of the unlogged opening starts at the logged revoke, not at the previous item."""
    events = [ct("AuthorizeSecurityGroupIngress", 10), ct("RevokeSecurityGroupIngress", 20)]
    items = [observed(5, []), observed(30, ["0.0.0.0/0"])]
    assert reconciled(events, items) == [
        ("opened_not_logged", "ingress tcp port 22 from 0.0.0.0/0", t(20), t(30))]
    # from a first state only (no item before), the bound is the revoke as well
    assert reconciled(events, [observed(30, ["0.0.0.0/0"])]) == [
        ("opened_not_logged", "ingress tcp port 22 from 0.0.0.0/0", t(20), t(30))]


def test_a_rule_exposing_no_watched_port_that_appears_unlogged_is_a_disagreement():
    web = {**permission("0.0.0.0/0", 443, 443)}
    assert reconciled([], [with_rules(5, []), with_rules(20, [web]), with_rules(30, [web])]) == [
        ("opened_not_logged", "ingress tcp port 443 from 0.0.0.0/0", t(5), t(20))
    ]


def test_a_logged_rule_exposing_no_watched_port_that_a_later_state_lacks_closed_unlogged():
    inside = {**permission("10.0.0.0/8", 443, 443)}
    found = reconciled([https_call("AuthorizeSecurityGroupIngress", 10, "10.0.0.0/8")],
                       [with_rules(12, [inside]), with_rules(40, []), with_rules(50, [])])
    assert found == [("closed_not_logged", "ingress tcp port 443 from 10.0.0.0/8", t(12), t(40))]


def test_rules_before_the_logs_and_a_created_groups_default_egress_are_no_disagreement():
    everything_out = {"ipProtocol": "-1", "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}],
                      "ipRanges": ["0.0.0.0/0"], "ipv6Ranges": [], "prefixListIds": [],
                      "userIdGroupPairs": []}
    create = {**row("CreateSecurityGroup", {"groupName": "web", "vpcId": "vpc-1"},
                    {"groupId": "sg-1"}, t=t(11)), "account": ACCOUNT, "region": REGION,
              "eventid": "e11"}
    old = {**permission("10.0.0.0/8", 443, 443)}
    assert reconciled([create], [with_rules(5, [old]), with_rules(12, [old], [everything_out])],
                      start_minute=10) == []


def test_sql_prints_sg_state_with_the_config_days_it_reads():
    from click.testing import CliRunner

    from audit_toolkit.cli import main

    result = CliRunner().invoke(main, ["sql", "sg_state", "--since", "2026-11-03",
                                       "--until", "2026-11-04"])
    assert result.exit_code == 0, result.output
    assert "c.day IN ('2026/11/2', '2026/11/3', '2026/11/4', '2026/11/5')" in result.output
    every = CliRunner().invoke(main, ["sql", "sg_state"])
    assert every.exit_code == 0 and "(null IS NULL OR c.day IS NULL" in every.output


def test_a_large_config_file_is_read_a_chunk_of_items_at_a_time(tmp_path, monkeypatch):
    """197 MB of Config items took 2 GB when the file was decoded whole: each item is now decoded
    as it is read, and a chunk of items at a time becomes the table's row (of the same file)."""
    import tracemalloc

    from audit_toolkit.evidence import state as evidence_state

    def item(i: int) -> dict:
        return {"configurationItemCaptureTime": "2026-11-01T00:00:00.000Z",
                "configurationItemStatus": "OK", "awsAccountId": "111122223333",
                "resourceType": "AWS::EC2::SecurityGroup", "resourceId": f"sg-{i:06d}",
                "awsRegion": "us-east-1", "configuration": {
                    "groupId": f"sg-{i:06d}", "ipPermissionsEgress": [], "ipPermissions": [
                        {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                         "ipv4Ranges": [{"cidrIp": f"10.0.{k}.0/24"} for k in range(20)]}]}}

    items = [item(i) for i in range(4000)] + [{"resourceType": "AWS::S3::Bucket"}, "NaN?"]
    text = json.dumps({"fileVersion": "1.0", "configurationItems": items}).encode()
    path = tmp_path / "snapshot.json"
    path.write_bytes(text)
    monkeypatch.setattr(evidence_state, "CHUNK_BYTES", len(text) // 10)
    tracemalloc.start()
    table, report = read_state([path])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3 * len(text), f"{peak / len(text):.1f}x the text"
    found = [i["resourceid"] for items in table.column("configurationitems").to_pylist() for i in items]
    assert found == [f"sg-{i:06d}" for i in range(4000)]
    assert table.num_rows == 10 and set(table.column("fileversion").to_pylist()) == {"1.0"}
    file = report.files[0]
    assert (file.read, file.used, report.other_types) == (4001, 4000, {"AWS::S3::Bucket": 1})
    assert (file.rejected, file.rejections) == (1, ["record 4001: not an object"])


def test_large_describe_output_keeps_its_groups_rules_as_text(tmp_path, monkeypatch):
    """152 MB of describe-security-groups took 2.1 GB as objects: entries are decoded one at a
    time and their rules kept as JSON text, a chunk of groups a row."""
    import tracemalloc

    from audit_toolkit.evidence import state as evidence_state

    groups = [{"GroupId": f"sg-{i:06d}", "GroupName": "web", "OwnerId": "111122223333",
               "SecurityGroupArn": f"arn:aws:ec2:us-east-1:111122223333:security-group/sg-{i:06d}",
               "IpPermissionsEgress": [], "IpPermissions": [
                   {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                    "IpRanges": [{"CidrIp": f"10.0.{k}.0/24"} for k in range(20)]}]}
              for i in range(4000)]
    text = json.dumps({"SecurityGroups": groups}).encode()
    path = tmp_path / "groups.json"
    path.write_bytes(text)
    monkeypatch.setattr(evidence_state, "CHUNK_BYTES", len(text) // 10)
    tracemalloc.start()
    table, report = read_state([path], state_at="2026-11-01T00:00:00Z")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3 * len(text), f"{peak / len(text):.1f}x the text"  # whole: 9.9x
    items = [i for row in table.column("configurationitems").to_pylist() for i in row]
    assert [i["resourceid"] for i in items] == [g["GroupId"] for g in groups]
    assert (table.num_rows, report.files[0].used) == (9, 4000)  # compact rules: 9 chunks
    assert json.loads(items[7]["configuration"])["ipPermissions"] == groups[7]["IpPermissions"]


def test_the_windows_of_a_large_state_hold_one_observations_rules_at_a_time(monkeypatch):
    """4 Config files of 49 MB (many groups, many rules each) took 1.95 GB for ssh-exposure: every
    rule of every item was a dict twice over, in `rules` and in `observations` (issue 16)."""
    import tracemalloc

    from audit_toolkit.settings import Settings

    monkeypatch.setattr(state, "ROWS_AT_ONCE", 500, raising=False)
    public = [f"198.51.100.{k}/32" for k in range(100)]
    items = [{**observed(minute, public + (["0.0.0.0/0"] if minute % 2 else [])),
              "group_id": f"sg-{group}"} for group in range(6) for minute in range(6)]
    text = sum(len(i["configuration"]) for i in items)
    nothing_logged = logged_windows(normalize(pd.DataFrame()))
    frame = pd.DataFrame(items)
    tracemalloc.start()
    found = state.windows(nothing_logged, state.rules(frame), Settings())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * text, f"{peak / text:.1f}x the text"  # before: 7.3x, now 2.8x
    opened = [(r["group_id"], r["opened_how"], r["opened_at"], r["closed_at"])
              for r in export.to_records(found.sort_values(["group_id", "opened_at"]))]
    assert opened == [(f"sg-{group}", "config", t(minute), t(minute + 1) if minute < 5 else None)
                      for group in range(6) for minute in (1, 3, 5)]


def test_a_state_that_later_successful_calls_prove_wrong_closes_no_window():
    """Found by an attack review: Config lacked the rule at 00:20 (or said the group deleted), but
    a successful revoke of the rule at 00:30 proves it was there until then (a successful call on
    the group, that it was there): the window read closed at 00:20, so what attacked it from
    00:20 on was not correlated. It stays open until the logged close, and says the two disagree."""
    opened, revoked = ct("AuthorizeSecurityGroupIngress", 10), ct("RevokeSecurityGroupIngress", 30)
    other_call = ct("AuthorizeSecurityGroupIngress", 30, "10.0.0.0/8")  # on sg-1 all the same

    def found(events, items):
        changes = normalize(pd.DataFrame(events))
        rules = state.rules(pd.DataFrame(items))
        start = pd.Timestamp(t(0))
        merged = state.windows(logged_windows(changes), rules, evidence_start=start,
                               calls=state.related_calls(changes))
        silent = pd.DataFrame(columns=["kind", "account", "region", "start", "end"])
        rows = state.reconcile(merged, rules, changes, set(), silent, start)
        return ([tuple(r[k] for k in [*WINDOW_KEYS, "caveat"]) for r in export.to_records(merged)],
                [tuple(r[k] for k in ("kind", "after", "before", "related_events", "detail"))
                 for r in export.to_records(rows) if r["kind"] == "state_contradicted"])

    lacking = [observed(11, ["0.0.0.0/0"]), observed(20, []), observed(25, [])]
    assert found([opened, revoked], lacking) == (
        [("logged", None, t(10), ACTOR, None, t(30), "revoked", False, "web", "vpc-1",
          f"The state at {t(20)} lacks this rule, but a successful revoke of it (e30) at {t(30)} "
          "proves it was there until then: state and logs disagree, and the window stays open "
          "until the revoke.")],
        [("state_contradicted", t(20), t(30), "e30",
          "absent from the state, but a later successful call (e30) proves it was there"),
         ("state_contradicted", t(25), t(30), "e30",
          "absent from the state, but a later successful call (e30) proves it was there")])
    deleted = [observed(11, ["0.0.0.0/0"]), observed(20, None)]
    assert found([opened, other_call], deleted) == (
        [("logged", None, t(10), ACTOR, None, None, None, True, "web", "vpc-1",
          f"AWS Config recorded the group deleted at {t(20)}, but a successful call on it (e30) "
          f"at {t(30)} proves it was there then: state and logs disagree, and the deletion "
          "closes no window.")],
        [("state_contradicted", t(20), t(30), "e30",
          "absent from the state, but a later successful call (e30) proves it was there")])
    # What the logs do not contradict still closes the window unlogged, as before.
    failed = {**other_call, "errorcode": "Client.UnauthorizedOperation"}
    assert found([opened, failed], deleted)[0] == [
        ("logged", None, t(10), ACTOR, t(11), t(20), "group deleted, not logged", False, "web",
         "vpc-1", None)]
    assert found([opened, ct("RevokeSecurityGroupIngress", 15)], lacking)[1] == []


def test_an_item_or_entry_of_millions_of_tiny_containers_is_rejected_without_decoding_it(
        tmp_path, monkeypatch):
    """A Config item or describe entry was decoded whole whatever it held: 20 million '{}' in one
    cost 1.7 GB as a record did. It is now bounded by the count of its brackets and commas as a
    record is (reader.crowded), rejected with that reason, and the rest of the file is read. (A
    smaller bound than the real one, for speed.)"""
    import tracemalloc

    from audit_toolkit.evidence import reader

    monkeypatch.setattr(reader, "MAX_RECORD_VALUES", 100_000)
    crowd = [{}] * 60_000  # 120,000 of '{', '}' and ','... of which 60,000 '{' and 59,999 ','
    crowded = item("sg-2", "2026-09-28T10:00:00Z", [{**permission("0.0.0.0/0"), "x": crowd}])
    as_text = history_item("sg-4", json.dumps({"groupId": "sg-4", "ipPermissions": crowd}))
    config = write(tmp_path / HISTORY, {"fileVersion": "1.0", "configurationItems": [
        item("sg-1", "2026-09-28T10:00:00Z", [permission("0.0.0.0/0")]), crowded,
        item("sg-3", "2026-09-28T10:00:00Z", [permission("0.0.0.0/0")]), as_text]}, gz=False)
    groups = [{"GroupId": f"sg-{i}", "OwnerId": ACCOUNT, "IpPermissionsEgress": [],
               "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                  "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "X": crowd if i == 6 else []}]}
              for i in (5, 6, 7)]
    describe = write(tmp_path / f"AWSLogs/{ACCOUNT}/EC2/{REGION}/groups.json",
                     {"SecurityGroups": groups}, gz=False)
    size = config.stat().st_size + describe.stat().st_size
    bound = ("more than 100,000 brackets and commas (a value or container each to decode): over "
             "the bound that keeps memory under 1 GB")
    read_state([config], state_at="2026-09-28T10:00:00Z")  # imports, caches
    tracemalloc.start()
    table, report = read_state([config, describe], state_at="2026-09-28T10:00:00Z")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    items = [i["resourceid"] for row in table.column("configurationitems").to_pylist() for i in row]
    assert items == ["sg-1", "sg-3", "sg-5", "sg-7"]
    assert [(f.read, f.used, f.rejected, f.rejections) for f in report.files] == [
        (4, 2, 2, [f"record 1: {bound}", f"record 3: {bound}"]), (3, 2, 1, [f"record 1: {bound}"])]
    assert peak < 4 * size, f"{peak / size:.1f}x the text"


def test_the_state_questions_read_a_dense_state_a_part_at_a_time(tmp_path, monkeypatch):
    """A dense state (many groups, 100 rules each, 40-60 bytes of text a rule) cost about 1 KB a
    rule over the base: ssh-exposure built the table of every rule of every item, so that 4 Config
    files of 49 MB took 3.2 GB (issue 16). It now reads the state's items a part at a time
    (state.State), and holds one part's rules."""
    import random
    import tracemalloc

    monkeypatch.setattr(state, "CHUNK_TEXT", 16 << 10, raising=False)
    rng = random.Random(3)

    def cidrs() -> list[str]:
        return ["0.0.0.0/0" if rng.random() < 0.01 else f"10.{rng.randrange(256)}.0.0/16"
                if rng.random() < 0.3 else f"{rng.randrange(1, 224)}.{rng.randrange(256)}."
                f"{rng.randrange(256)}.{rng.randrange(256)}/32" for _ in range(20)]

    ports = (22, 80, 443, 3389, 8080)
    for day in (1, 2):  # Config history: every group captured once a day
        items = [{"configurationItemCaptureTime": f"2026-11-0{day}T00:{g // 60:02d}:{g % 60:02d}.000Z",
                  "configurationItemStatus": "OK", "awsAccountId": ACCOUNT, "awsRegion": REGION,
                  "resourceType": "AWS::EC2::SecurityGroup", "resourceId": f"sg-{g:04d}",
                  "resourceName": "web", "relatedEvents": [],
                  "configuration": {"groupId": f"sg-{g:04d}", "groupName": "web", "vpcId": "vpc-1",
                                    "ipPermissionsEgress": [], "ipPermissions": [
                                        {"ipProtocol": "tcp", "fromPort": p, "toPort": p,
                                         "ipv4Ranges": [{"cidrIp": c} for c in cidrs()]}
                                        for p in ports]}}
                 for g in range(40)]
        (tmp_path / f"history-{day}.json").write_text(
            json.dumps({"fileVersion": "1.0", "configurationItems": items}))
    groups = [{"GroupId": f"sg-{g:04d}", "GroupName": "web", "OwnerId": ACCOUNT, "VpcId": "vpc-1",
               "SecurityGroupArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-{g:04d}",
               "IpPermissionsEgress": [], "IpPermissions": [
                   {"IpProtocol": "tcp", "FromPort": p, "ToPort": p,
                    "IpRanges": [{"CidrIp": c} for c in cidrs()]} for p in ports]}
              for g in range(40)]
    (tmp_path / "groups.json").write_text(json.dumps({"SecurityGroups": groups}))
    text = sum(p.stat().st_size for p in tmp_path.iterdir())  # 12,000 rules
    inv = Investigation.from_evidence(tmp_path, state_at="2026-11-05T00:00:00Z")
    first = inv.ssh_exposure()  # once before: what its first run imports is no part of the state
    tracemalloc.start()
    found = inv.ssh_exposure()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert export.to_records(found) == export.to_records(first) and len(found)
    assert peak < 8 * text, f"{peak / text:.1f}x the text"  # before: 36x, now 3.8x


PL_CAVEAT = ("The rule names prefix list pl-0zz, whose entries the evidence does not fully hold: "
             "its reach is unknown.")
REACH_KEYS = ["group_id", "cidr", "exposed_ports", "reach", "opened_how", "opened_at",
              "still_open", "caveat"]


def reach_windows(events: list[dict], items: list[dict]) -> list[tuple]:
    changes = normalize(pd.DataFrame(events)) if events else normalize(pd.DataFrame())
    found = state.windows(logged_windows(changes), state.rules(pd.DataFrame(items)),
                          evidence_start=pd.Timestamp(t(0)))
    return [tuple(r[k] for k in REACH_KEYS) for r in export.to_records(found[REACH_KEYS])]


def test_a_state_rule_from_a_prefix_list_is_a_window_of_unknown_reach_never_dropped():
    """A watched port from a managed prefix list, in a Config item (prefixListIds) or in
    describe-security-group-rules (PrefixListId): its entries are not in the state, so its reach
    is unknown, as the replay says of the same rule logged (F9: it was no window at all)."""
    listed = {**permission("0.0.0.0/0"), "ipv4Ranges": [], "ipRanges": [],
              "prefixListIds": [{"prefixListId": "pl-0zz"}]}
    config = {**observed(5, []), "configuration": json.dumps(
        {"groupName": "web", "vpcId": "vpc-1", "ipPermissions": [listed]})}
    assert reach_windows([], [config, {**observed(9, []), "configuration": config["configuration"]}]) == [
        ("sg-1", "pl-0zz", "22", "unknown", "state", t(5), True, PL_CAVEAT)]
    described = {**observed(5, []), "configuration": json.dumps({"groupId": "sg-1", "securityGroupRules": [
        {"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-1", "IsEgress": False, "IpProtocol": "tcp",
         "FromPort": 22, "ToPort": 22, "PrefixListId": "pl-0zz"}]})}
    assert reach_windows([], [described]) == [
        ("sg-1", "pl-0zz", "22", "unknown", "state", t(5), True, PL_CAVEAT)]
    # a later state without it closes it, unlogged; egress, or another port, exposes nothing
    assert [w[-2] for w in reach_windows([], [config, observed(9, [])])] == [False]
    out = {**observed(5, []), "configuration": json.dumps(
        {"groupName": "web", "ipPermissionsEgress": [listed],
         "ipPermissions": [{**listed, "fromPort": 443, "toPort": 443}]})}
    assert reach_windows([], [out]) == []


def test_a_prefix_list_rule_logged_and_in_the_state_is_one_window_of_unknown_reach():
    granted = ct("AuthorizeSecurityGroupIngress", 10)
    granted["requestparameters"] = json.dumps({"groupId": "sg-1", "ipPermissions": {"items": [
        {**SSH, "prefixListIds": {"items": [{"prefixListId": "pl-0zz"}]}}]}})
    listed = {**permission("0.0.0.0/0"), "ipv4Ranges": [], "ipRanges": [],
              "prefixListIds": [{"prefixListId": "pl-0zz"}]}
    config = {**observed(20, []), "configuration": json.dumps(
        {"groupName": "web", "vpcId": "vpc-1", "ipPermissions": [listed]})}
    assert reach_windows([granted], [config]) == [
        ("sg-1", "pl-0zz", "22", "unknown", "logged", t(10), True, PL_CAVEAT)]


def described_group(permission: dict) -> dict:
    return {"SecurityGroups": [{
        "GroupName": "bastion", "GroupId": "sg-0ccc", "OwnerId": ACCOUNT, "VpcId": "vpc-1",
        "SecurityGroupArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-0ccc",
        "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [],
                           "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": [],
                           **permission}],
        "IpPermissionsEgress": []}]}


def state_windows(rules: pd.DataFrame) -> list[tuple]:
    found = state.windows(logged_windows(normalize(pd.DataFrame())), rules)
    return [tuple(r[k] for k in REACH_KEYS) for r in export.to_records(found[REACH_KEYS])]


def test_ip_ranges_in_the_cloudtrail_items_shape_are_read_in_a_state(tmp_path):
    """`IpRanges: {"items": [...]}` (CloudTrail's request shape) in describe output or a Config
    item read as no peer: no window and no warning (F9). It is read as the list it holds."""
    path = write(tmp_path / "sg.json", described_group(
        {"IpRanges": {"items": [{"CidrIp": "0.0.0.0/0"}]}}), gz=False)
    rules, report = state_of(path, state_at="2026-09-30T12:00:00Z")
    assert state_windows(rules) == [
        ("sg-0ccc", "0.0.0.0/0", "22", "internet", "state",
         "2026-09-30T12:00:00Z", True, None)]
    assert report.rejected == 0 and [f.warnings for f in report.files] == [[]]
    config = {**observed(5, []), "configuration": json.dumps({"groupName": "web", "ipPermissions": [
        {**SSH, "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}}]})}
    assert state_windows(state.rules(pd.DataFrame([config]))) == [
        ("sg-1", "::/0", "22", "internet", "state", t(5), True, None)]


def test_a_reversed_tcp_port_range_in_a_state_is_named_in_a_warning_never_silent(tmp_path):
    """FromPort 65535 / ToPort 0 on a TCP rule covers no port as read: it was no window and no
    warning (F9). It is still no window (which ports it meant cannot be said), but the intake names
    it, in describe output and in a Config item alike; an ICMP type above its code is no warning."""
    path = write(tmp_path / "sg.json", described_group(
        {"FromPort": 65535, "ToPort": 0, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}), gz=False)
    icmp = write(tmp_path / "icmp.json", described_group(
        {"IpProtocol": "icmp", "FromPort": 8, "ToPort": 0, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}),
        gz=False)
    history = write(tmp_path / HISTORY, {"configurationItems": [item(
        "sg-1", "2026-09-28T10:00:00Z", [permission("0.0.0.0/0", 65535, 0)])]})
    rules, report = state_of(path, icmp, history, state_at="2026-09-30T12:00:00Z")
    assert state_windows(rules) == []
    said = ("record 0: a TCP or UDP rule whose FromPort is above its ToPort: no port range can be "
            "read, so that rule is not read (it may open a watched port)")
    assert sorted((Path(f.path).name, tuple(f.warnings)) for f in report.files) == [
        (Path(HISTORY).name, (said,)), ("icmp.json", ()), ("sg.json", (said,))]
    assert report.rejected == 0


def test_a_prefix_list_rule_on_a_watched_port_is_reconciled_as_its_window_not_as_another_rule():
    """Dropped from the windows, it was said to be `a rule exposing no watched port` (F9)."""
    listed = {**permission("0.0.0.0/0"), "ipv4Ranges": [], "ipRanges": [],
              "prefixListIds": [{"prefixListId": "pl-0zz"}]}
    config = {**observed(5, []), "configuration": json.dumps(
        {"groupName": "web", "vpcId": "vpc-1", "ipPermissions": [listed]})}
    changes = normalize(pd.DataFrame())
    rules = state.rules(pd.DataFrame([config, observed(9, [])]))
    found = state.reconcile(state.windows(logged_windows(changes), rules), rules, changes, set(),
                            pd.DataFrame(columns=["account", "region", "kind", "start", "end"]))
    assert [tuple(r) for r in found[["kind", "rule", "detail"]].itertuples(index=False)] == [
        ("opened_not_logged", "ingress tcp port 22 from pl-0zz",
         "present at the first state seen; open since at least then"),
        ("closed_not_logged", "ingress tcp port 22 from pl-0zz",
         "open in the logs, absent from a later state")]


def exposure_cli(tmp_path: Path, items: list[dict]):
    """`ssh-exposure --fail-on-open --format json` over a Config history of `items` and a trail
    of one unrelated event in the same place (so the logs are there)."""
    from click.testing import CliRunner

    from audit_toolkit.cli import main
    from util import event

    write(tmp_path / HISTORY, {"fileVersion": "1.0", "configurationItems": items})
    trail = event(1, eventTime="2026-09-28T12:00:00Z", awsRegion=REGION, recipientAccountId=ACCOUNT)
    write(tmp_path / f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/09/28/t.json.gz", {"Records": [trail]})
    return CliRunner().invoke(main, ["ssh-exposure", "--evidence", str(tmp_path), "--format", "json",
                                     "--fail-on-open"], catch_exceptions=False)


UNREAD = "1 security-group state rule could not be read and may hide a window:"
CANNOT = "the evidence cannot show that nothing is open: 1 security-group state rule could not be read"
WHERE = f"  group sg-1 ({ACCOUNT}/{REGION}) in the state at 2026-09-28T10:00:00Z: "


def test_a_reversed_tcp_range_in_a_state_cannot_prove_nothing_open_as_the_same_call_logged(tmp_path):
    """The logged path leaves such a call out as unreadable and exits 4; the state named it in a
    warning and exited 0 (issue 16). It is still no window, and now exits 4, saying which rule."""
    result = exposure_cli(tmp_path, [item("sg-1", "2026-09-28T10:00:00Z",
                                          [permission("0.0.0.0/0", 65535, 0)])])
    assert result.exit_code == 4 and json.loads(result.stdout) == []
    lines = result.stderr.splitlines()
    assert lines[lines.index(UNREAD) + 1] == WHERE + (
        "ingress tcp ports 65535-0 from 0.0.0.0/0: a TCP or UDP rule whose FromPort is above its "
        "ToPort: no port range can be read, so that rule is not read (it may open a watched port)")
    assert CANNOT in lines


ADDRESS_KEYS = ["group_id", "cidr", "exposed_ports", "reach", "opened_how", "opened_at",
                "closed_at", "close_reason", "still_open", "caveat"]


@pytest.mark.parametrize("address, shown", [("0/0", "0/0"), ("999.1.1.1/0", "999.1.1.1/0"),
                                            (5, "5"), ({"a": 1}, '{"a": 1}')])
def test_an_address_in_a_state_that_is_no_cidr_is_a_window_of_unknown_reach(tmp_path, address,
                                                                             shown):
    """`CidrIp: "0/0"` (or a number, an object) on port 22 in a Config item was skipped
    silently: no window, exit 0. It is a window of unknown reach, as the same rule logged is,
    named with its reason, and --fail-on-open cannot say that nothing is open."""
    opened = item("sg-1", "2026-09-28T10:00:00Z", [
        {**permission("0.0.0.0/0"), "ipv4Ranges": [{"cidrIp": address}], "ipRanges": []}])
    result = exposure_cli(tmp_path, [opened, item("sg-1", "2026-09-28T11:00:00Z", [])])
    caveat = (f"The state's rule names address {shown}, which is no CIDR this toolkit can read: "
              "its reach is unknown.")
    assert [tuple(w[k] for k in ADDRESS_KEYS) for w in json.loads(result.stdout)] == [
        ("sg-1", shown, "22", "unknown", "state", "2026-09-28T10:00:00Z", "2026-09-28T11:00:00Z",
         "closed, not logged", False, caveat)]
    assert result.exit_code == 4
    lines = result.stderr.splitlines()
    assert lines[lines.index(UNREAD) + 1] == WHERE + (
        f"ingress tcp port 22 from {shown}: the address {shown} is no CIDR: a rule of unknown reach")
    assert CANNOT in lines
    still = exposure_cli(tmp_path / "still", [opened])  # held at the end: a window still open
    assert still.exit_code == 3 and [w["still_open"] for w in json.loads(still.stdout)] == [True]


def test_the_sg_state_query_leaves_out_an_item_of_another_accounts_folder_as_the_intake_does():
    """On Athena there is no intake to reject an item whose account or region is not its Config
    folder's (`_in_its_folder`): the query itself leaves it out, on either engine alike."""
    import pyarrow as pa

    from audit_toolkit.evidence.state import CONFIG_SCHEMA, _config_item

    def config_row(*items: dict) -> dict:
        return {"fileversion": "1.0", "configsnapshotid": None, "account": ACCOUNT, "region": REGION,
                "day": "2026/9/28", "kind": "ConfigHistory",
                "configurationitems": [_config_item(i)[0] for i in items]}

    def other(group: str, **changed) -> dict:
        return {**item(group, "2026-09-28T10:00:00Z", [permission("0.0.0.0/0")]), **changed}

    arn = f"arn:aws:ec2:{REGION}:999999999999:security-group/sg-4"
    table = pa.Table.from_pylist([config_row(
        other("sg-1"), other("sg-2", awsAccountId="999999999999"), other("sg-3", awsRegion="eu-west-1"),
        other("sg-4", ARN=arn), other("sg-5", awsAccountId=""))], schema=CONFIG_SCHEMA)
    engine = DuckDBEngine()
    engine.state(table)
    every_day = {"until": None, "account": None, "region": None, "first_day": None, "days": []}
    query, values = get("sg_state").expand(every_day)
    found = engine.run(query.render("duckdb"), values)  # the Athena text, as sqlglot turns it
    assert sorted(found["group_id"]) == ["sg-1", "sg-5"]


def listed_call(name: str, minute: int, entries: dict) -> dict:
    """A logged Create/ModifyManagedPrefixList of pl-0zz, as CloudTrail wraps it."""
    response = {f"{name}Response": {"prefixList": {"prefixListId": "pl-0zz", "addressFamily": "IPv4"}}}
    request = {f"{name}Request": {"PrefixListId": "pl-0zz", **entries}}
    return {**row(name, request, response, t=t(minute)), "account": ACCOUNT, "region": REGION,
            "eventid": f"e{minute}"}


@pytest.mark.parametrize("logged, expected", [
    # the logged calls hold every entry: the internet, measured as the replay measures it
    ([listed_call("CreateManagedPrefixList", 1, {"Entry": [{"Cidr": "0.0.0.0/0"}]})],
     [("sg-1", "pl-0zz", "22", "internet", "state", t(5), True, None)]),
    ([listed_call("CreateManagedPrefixList", 1, {"Entry": [{"Cidr": "0.0.0.0/1"}]}),
      listed_call("ModifyManagedPrefixList", 2, {"AddEntry": [{"Cidr": "128.0.0.0/1"}]})],
     [("sg-1", "pl-0zz", "22", "internet", "state", t(5), True, None)]),
    # ... or private space only: no window
    ([listed_call("CreateManagedPrefixList", 1, {"Entry": [{"Cidr": "10.0.0.0/8"}]})], []),
    # a list changed after the state does not say what it held then; one never created whole is
    # of unknown reach still
    ([listed_call("CreateManagedPrefixList", 7, {"Entry": [{"Cidr": "10.0.0.0/8"}]})],
     [("sg-1", "pl-0zz", "22", "unknown", "state", t(5), True, PL_CAVEAT)]),
    ([listed_call("ModifyManagedPrefixList", 1, {"AddEntry": [{"Cidr": "10.0.0.0/8"}]})],
     [("sg-1", "pl-0zz", "22", "unknown", "state", t(5), True, PL_CAVEAT)]),
])
def test_a_prefix_list_a_state_names_is_resolved_from_the_logged_calls_that_hold_it(logged, expected):
    """The logged path resolves a rule's list from CreateManagedPrefixList and
    ModifyManagedPrefixList; a state's rule naming the same list was of unknown reach whatever the
    logs held (issue 16)."""
    from audit_toolkit.analysis.exposure import prefix_list_history

    listed = {**permission("0.0.0.0/0"), "ipv4Ranges": [], "ipRanges": [],
              "prefixListIds": [{"prefixListId": "pl-0zz"}]}
    config = {**observed(5, []), "configuration": json.dumps(
        {"groupName": "web", "vpcId": "vpc-1", "ipPermissions": [listed]})}
    changes = normalize(pd.DataFrame(logged))
    found = state.windows(logged_windows(changes), state.rules(pd.DataFrame([config])),
                          evidence_start=pd.Timestamp(t(0)), lists=prefix_list_history(changes))
    assert [tuple(r[k] for k in REACH_KEYS) for r in export.to_records(found[REACH_KEYS])] == expected


def test_a_resolved_prefix_list_rule_logged_and_in_the_state_is_one_window():
    from audit_toolkit.analysis.exposure import prefix_list_history

    granted = ct("AuthorizeSecurityGroupIngress", 10)
    granted["requestparameters"] = json.dumps({"groupId": "sg-1", "ipPermissions": {"items": [
        {**SSH, "prefixListIds": {"items": [{"prefixListId": "pl-0zz"}]}}]}})
    created = listed_call("CreateManagedPrefixList", 1, {"Entry": [{"Cidr": "0.0.0.0/0"}]})
    listed = {**permission("0.0.0.0/0"), "ipv4Ranges": [], "ipRanges": [],
              "prefixListIds": [{"prefixListId": "pl-0zz"}]}
    config = {**observed(20, []), "configuration": json.dumps(
        {"groupName": "web", "vpcId": "vpc-1", "ipPermissions": [listed]})}
    changes = normalize(pd.DataFrame([created, granted]))
    found = state.windows(logged_windows(changes), state.rules(pd.DataFrame([config, observed(30, [])])),
                          evidence_start=pd.Timestamp(t(0)), lists=prefix_list_history(changes))
    assert [tuple(r[k] for k in [*REACH_KEYS, "closed_at", "close_reason"])
            for r in export.to_records(found)] == [
        ("sg-1", "pl-0zz", "22", "internet", "logged", t(10), False, None, t(30), "closed, not logged")]


def test_a_config_file_of_millions_of_tiny_items_is_split_a_chunk_of_items_at_a_time(
        tmp_path, monkeypatch):
    # Its items were one msgspec.Raw each (56 bytes) all at once: 20 million `{}` (60 MB) some
    # 1.3 GB before any was read. They are now found a chunk at a time, as CloudTrail records are
    # (past reader.MAX_RAWS commas, a million: here past none, so that 300,000 items show it).
    import tracemalloc

    from audit_toolkit.evidence import reader

    monkeypatch.setattr(reader, "MAX_RAWS", 0)

    def group(i: int) -> bytes:
        return json.dumps({"configurationItemCaptureTime": "2026-11-01T00:00:00.000Z",
                           "configurationItemStatus": "OK", "awsAccountId": "111122223333",
                           "resourceType": "AWS::EC2::SecurityGroup", "resourceId": f"sg-{i}",
                           "awsRegion": "us-east-1", "configuration": {
                               "groupId": f"sg-{i}", "ipPermissions": []}}).encode()

    items = [group(1)] + [b"{}"] * 300_000 + [group(2)]
    path = tmp_path / "snapshot.json"
    path.write_bytes(b'{"fileVersion": "1.0", "configurationItems": [' + b",".join(items) + b"]}")
    read_state([path])  # imports, caches
    tracemalloc.start()
    try:
        table, report = read_state([path])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    found = [i["resourceid"] for items in table.column("configurationitems").to_pylist() for i in items]
    assert found == ["sg-1", "sg-2"]
    file = report.files[0]
    assert (file.error, file.read, file.used, file.rejected) == (None, 300_002, 2, 300_000)
    assert file.rejections[0] == "record 1: no resourceType"
    assert peak < 12 << 20, f"{peak / 2**20:.1f} MB"
