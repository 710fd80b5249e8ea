"""Demo evidence: a realistic multi-account, multi-region, multi-day CloudTrail folder in the S3
layout, mostly noise, with a scripted incident inside it, and the ground truth the investigation
must recover from it.

    truth = generate(Path("demo"), events=20_000)    # demo/evidence/AWSLogs/..., demo/ground_truth.json

The incident is a story told by `Scenario.call(...)`: each call is one CloudTrail record, and the
story says what it means (`truth`) in the words an investigator would use, independently of the
code that will analyse it. More stories (GuardDuty, detections) add themselves to `STORIES`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from isal import igzip

from .evidence.digest_chain import signing_string

ORG = "o-a1b2c3d4e5"
PROD, STAGING, SANDBOX = "111111111111", "222222222222", "333333333333"
ACCOUNTS = (PROD, STAGING, SANDBOX)
REGIONS = ("ap-northeast-1", "us-east-1", "eu-west-1")
START = datetime(2026, 11, 2, tzinfo=timezone.utc)
DAYS = 3
FILE_MINUTES = 15  # one file per account, region and quarter hour, as a busy trail delivers them

CONSOLE_UA = "console.amazonaws.com"
CLI_UA = "aws-cli/2.17.60 md/awscrt#0.21.2 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/command#ec2.authorize-security-group-ingress"
BOTO_UA = "Boto3/1.34.2 md/Botocore#1.34.2 ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.2"
TERRAFORM_UA = "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.40.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.3 os/linux lang/go#1.21.8 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.149.1"
ATTACKER_IP = "198.51.100.23"


# --- identities, as CloudTrail writes them --------------------------------------------------------

def user(account: str, name: str, key: str) -> dict:
    return {"type": "IAMUser", "principalId": f"AIDA{name.upper():0<16}"[:21], "arn": f"arn:aws:iam::{account}:user/{name}",
            "accountId": account, "accessKeyId": key, "userName": name}


def role(account: str, name: str, session: str, key: str) -> dict:
    issuer = f"arn:aws:iam::{account}:role/{name}"
    return {"type": "AssumedRole", "principalId": f"AROA{name.upper()[:12]:0<12}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}", "accountId": account, "accessKeyId": key,
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": f"AROA{name.upper()[:12]:0<12}", "arn": issuer,
                                                 "accountId": account, "userName": name},
                               "attributes": {"creationDate": "2026-11-03T08:00:00Z", "mfaAuthenticated": "false"}}}


def root(account: str) -> dict:
    return {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root", "accountId": account,
            "accessKeyId": "ASIAROOTSESSION00001"}


def federated(account: str, name: str) -> dict:
    return {"type": "FederatedUser", "principalId": f"{account}:{name}", "arn": f"arn:aws:sts::{account}:federated-user/{name}",
            "accountId": account, "accessKeyId": "ASIAFEDERATED000001",
            "sessionContext": {"sessionIssuer": {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/broker", "userName": "broker",
                                                 "accountId": account}}}


def service(name: str) -> dict:
    return {"type": "AWSService", "invokedBy": name}


@dataclass
class Scenario:
    """Events being written, and the truth about them."""

    rng: random.Random
    events: list[tuple[str, str, dict]] = field(default_factory=list)  # (account, region, record)
    truth: dict = field(default_factory=dict)
    findings: list[dict] = field(default_factory=list)  # GuardDuty findings, as the S3 export writes them
    state_files: dict[str, dict] = field(default_factory=dict)  # evidence path -> AWS Config or EC2 document
    # (account, region or None for all, start, end): no event is written there, as when logging is off.
    silent: list[tuple[str, str | None, datetime, datetime]] = field(default_factory=list)
    # VPC flow log files to write: path under evidence/ -> (header fields, record lines)
    flow_logs: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    def silenced(self, account: str, region: str, when: datetime) -> bool:
        return any(a == account and r in (None, region) and start <= when < end for a, r, start, end in self.silent)

    def call(self, when: datetime, account: str, region: str, identity: dict, name: str, request: dict | None,
             response: dict | None = None, *, source: str = "ec2.amazonaws.com", ip: str = "203.0.113.10",
             agent: str = CLI_UA, error: tuple[str, str] | None = None, read_only: bool = False,
             extra: dict | None = None) -> dict:
        record = {
            "eventVersion": "1.10",
            "userIdentity": identity,
            "eventTime": iso(when),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": agent,
            "requestParameters": request,
            "responseElements": None if error else response,
            "requestID": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "eventID": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        }
        if error:
            record["errorCode"], record["errorMessage"] = error
        record.update(extra or {})
        if "invokedBy" in identity and identity["type"] != "AWSService":
            record["sourceIPAddress"] = identity["invokedBy"]
        self.events.append((account, region, record))
        return record


def iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the scripted security-group incident ---------------------------------------------------------

def _perm(protocol: str, low: int | None, high: int | None, *, v4=(), v6=(), groups=(), prefix_lists=(), description=None) -> dict:
    p: dict = {"ipProtocol": protocol, "groups": {}, "ipRanges": {}, "ipv6Ranges": {}, "prefixListIds": {}}
    if low is not None:
        p["fromPort"], p["toPort"] = low, high
    with_desc = lambda d: {**d, "description": description} if description else d  # noqa: E731
    if v4:
        p["ipRanges"] = {"items": [with_desc({"cidrIp": c}) for c in v4]}
    if v6:
        p["ipv6Ranges"] = {"items": [with_desc({"cidrIpv6": c}) for c in v6]}
    if groups:
        p["groups"] = {"items": [{"groupId": g, "userId": PROD} for g in groups]}
    if prefix_lists:
        p["prefixListIds"] = {"items": [{"prefixListId": pl} for pl in prefix_lists]}
    return p


def _created(account: str, group: str, rule_id: str, protocol: str, low: int, high: int, *, egress=False, v4=None, v6=None) -> dict:
    rule = {"groupOwnerId": account, "groupId": group, "securityGroupRuleId": rule_id, "isEgress": egress,
            "ipProtocol": protocol, "fromPort": low, "toPort": high}
    if v4:
        rule["cidrIpv4"] = v4
    if v6:
        rule["cidrIpv6"] = v6
    return rule


def sg_incident(s: Scenario) -> None:
    """Who opened SSH to the world, in every shape CloudTrail writes, and who closed it."""
    day2 = START + timedelta(days=1)
    at = lambda h, m, sec=0, base=day2: base + timedelta(hours=h, minutes=m, seconds=sec)  # noqa: E731
    tokyo, virginia, ireland = REGIONS
    alice = user(PROD, "alice", "AKIAALICE00000000001")
    bob = user(PROD, "bob", "AKIABOB0000000000001")
    mallory = role(PROD, "ops-admin", "mallory", "ASIAMALLORY000000001")
    terraform = role(PROD, "terraform-ci", "tf-run-4711", "ASIATERRAFORM0000001")
    carol = role(STAGING, "AWSReservedSSO_AdministratorAccess_0123456789abcdef", "carol@example.com", "ASIACAROL00000000001")
    cfn = {**role(PROD, "cfn-exec", "AWSCloudFormation", "ASIACFN0000000000001"), "invokedBy": "cloudformation.amazonaws.com"}
    dave = federated(SANDBOX, "dave")
    changes, windows, failed = [], [], []

    def change(record: dict, group: str, action: str, direction=None, protocol=None, low=None, high=None, peer=None, actor=None):
        changes.append({"event_id": record["eventID"], "event_time": record["eventTime"], "account": record["recipientAccountId"],
                        "region": record["awsRegion"], "group_id": group, "action": action, "direction": direction,
                        "protocol": protocol, "from_port": low, "to_port": high, "peer": peer, "actor": actor,
                        "error_code": record.get("errorCode")})

    def window(group, account, region, protocol, low, high, cidr, opened, opened_by, closed, closed_by, reason, before=False):
        windows.append({"group_id": group, "account": account, "region": region, "direction": "ingress", "protocol": protocol,
                        "from_port": low, "to_port": high, "cidr": cidr,
                        "opened_at": opened and opened["eventTime"], "opened_by": opened_by,
                        "closed_at": closed and closed["eventTime"], "closed_by": closed_by, "close_reason": reason,
                        "still_open": closed is None, "open_before_evidence": before})

    ALICE, BOB = alice["arn"], bob["arn"]
    MALLORY = "arn:aws:iam::111111111111:role/ops-admin (session mallory)"
    TERRAFORM = "arn:aws:iam::111111111111:role/terraform-ci (session tf-run-4711)"
    CAROL = "carol@example.com (SSO via arn:aws:iam::222222222222:role/AWSReservedSSO_AdministratorAccess_0123456789abcdef)"
    CFN = "arn:aws:iam::111111111111:role/cfn-exec (session AWSCloudFormation) via cloudformation.amazonaws.com"
    DAVE = dave["arn"]
    ROOT = "root (333333333333)"

    # 1. Terraform creates a bastion group; alice opens SSH to the world on it (nested ipPermissions,
    #    the response names the rule); bob closes it by rule id two and a half hours later.
    r = s.call(at(9, 0), PROD, tokyo, terraform, "CreateSecurityGroup",
               {"groupName": "bastion-tmp", "groupDescription": "temporary bastion 踏み台", "vpcId": "vpc-0a1b2c3d"},
               {"_return": True, "groupId": "sg-0a000000000000001"}, agent=TERRAFORM_UA, ip="10.20.0.5")
    change(r, "sg-0a000000000000001", "create_group", actor=TERRAFORM)
    opened = s.call(at(9, 2), PROD, tokyo, alice, "AuthorizeSecurityGroupIngress",
                    {"groupId": "sg-0a000000000000001", "ipPermissions": {"items": [_perm("tcp", 22, 22, v4=["0.0.0.0/0"], description="temp ssh")]}},
                    {"_return": True, "securityGroupRuleSet": {"items": [_created(PROD, "sg-0a000000000000001", "sgr-0a000000000000011", "tcp", 22, 22, v4="0.0.0.0/0")]}},
                    agent=CONSOLE_UA, ip="203.0.113.50")
    change(opened, "sg-0a000000000000001", "authorize", "ingress", "tcp", 22, 22, "0.0.0.0/0", ALICE)
    closed = s.call(at(11, 32, 15), PROD, tokyo, bob, "RevokeSecurityGroupIngress",
                    {"groupId": "sg-0a000000000000001", "securityGroupRuleIds": {"items": [{"securityGroupRuleId": "sgr-0a000000000000011"}]}},
                    {"_return": True}, ip="203.0.113.61")
    change(closed, "sg-0a000000000000001", "revoke", "ingress", "tcp", 22, 22, "0.0.0.0/0", BOB)
    window("sg-0a000000000000001", PROD, tokyo, "tcp", 22, 22, "0.0.0.0/0", opened, ALICE, closed, BOB, "revoked")

    # 2. mallory, from outside, opens a port range containing 22 in the flat form; alice revokes it (flat).
    opened = s.call(at(9, 5, 41), PROD, tokyo, mallory, "AuthorizeSecurityGroupIngress",
                    {"groupId": "sg-0b000000000000002", "ipPermissions": {}, "ipProtocol": "tcp", "fromPort": 20, "toPort": 25, "cidrIp": "0.0.0.0/0"},
                    {"_return": True}, agent=BOTO_UA, ip=ATTACKER_IP)
    change(opened, "sg-0b000000000000002", "authorize", "ingress", "tcp", 20, 25, "0.0.0.0/0", MALLORY)
    closed = s.call(at(11, 40), PROD, tokyo, alice, "RevokeSecurityGroupIngress",
                    {"groupId": "sg-0b000000000000002", "ipPermissions": {}, "ipProtocol": "tcp", "fromPort": 20, "toPort": 25, "cidrIp": "0.0.0.0/0"},
                    {"_return": True}, agent=CONSOLE_UA, ip="203.0.113.50")
    change(closed, "sg-0b000000000000002", "revoke", "ingress", "tcp", 20, 25, "0.0.0.0/0", ALICE)
    window("sg-0b000000000000002", PROD, tokyo, "tcp", 20, 25, "0.0.0.0/0", opened, MALLORY, closed, ALICE, "revoked")

    # 3. mallory opens SSH to the IPv6 internet; bob narrows that rule with ModifySecurityGroupRules.
    opened = s.call(at(9, 10), PROD, tokyo, mallory, "AuthorizeSecurityGroupIngress",
                    {"groupId": "sg-0b000000000000002", "ipPermissions": {"items": [_perm("tcp", 22, 22, v6=["::/0"])]}},
                    {"_return": True, "securityGroupRuleSet": {"items": [_created(PROD, "sg-0b000000000000002", "sgr-0b000000000000031", "tcp", 22, 22, v6="::/0")]}},
                    agent=BOTO_UA, ip=ATTACKER_IP)
    change(opened, "sg-0b000000000000002", "authorize", "ingress", "tcp", 22, 22, "::/0", MALLORY)
    closed = s.call(at(12, 0), PROD, tokyo, bob, "ModifySecurityGroupRules",
                    {"ModifySecurityGroupRulesRequest": {"GroupId": "sg-0b000000000000002", "SecurityGroupRule": {
                        "SecurityGroupRuleId": "sgr-0b000000000000031", "tag": 1,
                        "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv6": "2001:db8::/32", "Description": "office v6"}}}},
                    {"ModifySecurityGroupRulesResponse": {"return": True}}, ip="203.0.113.61")
    change(closed, "sg-0b000000000000002", "modify", "ingress", "tcp", 22, 22, "2001:db8::/32", BOB)
    window("sg-0b000000000000002", PROD, tokyo, "tcp", 22, 22, "::/0", opened, MALLORY, closed, BOB, "modified")

    # 4. carol (SSO) allows all traffic from anywhere in staging; she deletes the whole group later.
    opened = s.call(at(9, 15), STAGING, virginia, carol, "AuthorizeSecurityGroupIngress",
                    {"groupId": "sg-0c000000000000003", "ipPermissions": {"items": [_perm("-1", None, None, v4=["0.0.0.0/0"])]}},
                    {"_return": True, "securityGroupRuleSet": {"items": [_created(STAGING, "sg-0c000000000000003", "sgr-0c000000000000041", "-1", -1, -1, v4="0.0.0.0/0")]}},
                    agent=CONSOLE_UA, ip="192.0.2.77")
    change(opened, "sg-0c000000000000003", "authorize", "ingress", "-1", -1, -1, "0.0.0.0/0", CAROL)
    closed = s.call(at(13, 0), STAGING, virginia, carol, "DeleteSecurityGroup", {"groupId": "sg-0c000000000000003"}, {"_return": True},
                    agent=CONSOLE_UA, ip="192.0.2.77")
    change(closed, "sg-0c000000000000003", "delete_group", actor=CAROL)
    window("sg-0c000000000000003", STAGING, virginia, "-1", -1, -1, "0.0.0.0/0", opened, CAROL, closed, CAROL, "group deleted")

    # 5. mallory tries the database group and is refused: an attempt, not a window.
    r = s.call(at(9, 20), PROD, tokyo, mallory, "AuthorizeSecurityGroupIngress",
               {"groupId": "sg-0d000000000000004", "ipPermissions": {"items": [_perm("tcp", 22, 22, v4=["0.0.0.0/0"])]}},
               agent=BOTO_UA, ip=ATTACKER_IP, error=("Client.UnauthorizedOperation", "You are not authorized to perform this operation."))
    change(r, "sg-0d000000000000004", "authorize", "ingress", "tcp", 22, 22, "0.0.0.0/0", MALLORY)
    failed.append({"event_id": r["eventID"], "group_id": "sg-0d000000000000004", "actor": MALLORY, "error_code": "Client.UnauthorizedOperation"})

    # 6. Terraform made an app rule on day 1 (the response names it); on day 2 mallory rewrites that
    #    rule into SSH from anywhere, and nobody closes it.
    r = s.call(at(7, 30, base=START), PROD, tokyo, terraform, "AuthorizeSecurityGroupIngress",
               {"groupId": "sg-0e000000000000005", "ipPermissions": {"items": [_perm("tcp", 8080, 8080, v4=["10.0.0.0/8"])]}},
               {"_return": True, "securityGroupRuleSet": {"items": [_created(PROD, "sg-0e000000000000005", "sgr-0e000000000000051", "tcp", 8080, 8080, v4="10.0.0.0/8")]}},
               agent=TERRAFORM_UA, ip="10.20.0.5")
    change(r, "sg-0e000000000000005", "authorize", "ingress", "tcp", 8080, 8080, "10.0.0.0/8", TERRAFORM)
    opened = s.call(at(9, 30), PROD, tokyo, mallory, "ModifySecurityGroupRules",
                    {"ModifySecurityGroupRulesRequest": {"GroupId": "sg-0e000000000000005", "SecurityGroupRule": [{
                        "SecurityGroupRuleId": "sgr-0e000000000000051", "tag": 1,
                        "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "0.0.0.0/0"}}]}},
                    {"ModifySecurityGroupRulesResponse": {"return": True}}, agent=BOTO_UA, ip=ATTACKER_IP)
    change(opened, "sg-0e000000000000005", "modify", "ingress", "tcp", 22, 22, "0.0.0.0/0", MALLORY)
    window("sg-0e000000000000005", PROD, tokyo, "tcp", 22, 22, "0.0.0.0/0", opened, MALLORY, None, None, None)

    # 7. In the sandbox, SSH had been open since before the evidence; the root user closes it on day 1.
    closed = s.call(at(8, 0, base=START), SANDBOX, ireland, root(SANDBOX), "RevokeSecurityGroupIngress",
                    {"groupId": "sg-0f000000000000006", "ipPermissions": {"items": [_perm("tcp", 22, 22, v4=["0.0.0.0/0"])]}},
                    {"_return": True}, agent=CONSOLE_UA, ip="192.0.2.200")
    change(closed, "sg-0f000000000000006", "revoke", "ingress", "tcp", 22, 22, "0.0.0.0/0", ROOT)
    window("sg-0f000000000000006", SANDBOX, ireland, "tcp", 22, 22, "0.0.0.0/0", None, None, closed, ROOT, "revoked", before=True)

    # 8. An anonymised CIDR whose prefix length is 0 is still the whole internet (dave, federated).
    opened = s.call(at(10, 0), SANDBOX, ireland, dave, "AuthorizeSecurityGroupIngress",
                    {"groupId": "sg-0f000000000000007", "ipPermissions": {"items": [_perm("tcp", 22, 22, v4=["203.0.113.9/0"])]}},
                    {"_return": True}, agent=CLI_UA, ip="192.0.2.201")
    change(opened, "sg-0f000000000000007", "authorize", "ingress", "tcp", 22, 22, "203.0.113.9/0", DAVE)
    closed = s.call(at(10, 45), SANDBOX, ireland, dave, "RevokeSecurityGroupIngress",
                    {"groupId": "sg-0f000000000000007", "ipPermissions": {"items": [_perm("tcp", 22, 22, v4=["203.0.113.9/0"])]}},
                    {"_return": True}, agent=CLI_UA, ip="192.0.2.201")
    change(closed, "sg-0f000000000000007", "revoke", "ingress", "tcp", 22, 22, "203.0.113.9/0", DAVE)
    window("sg-0f000000000000007", SANDBOX, ireland, "tcp", 22, 22, "203.0.113.9/0", opened, DAVE, closed, DAVE, "revoked")

    # 9. Changes that are not SSH exposure: HTTPS from anywhere (CloudFormation), SSH from the VPC,
    #    a rule naming another group and a prefix list, all egress, a description update, RDP to the world.
    r = s.call(at(8, 30), PROD, tokyo, cfn, "AuthorizeSecurityGroupIngress",
               {"groupId": "sg-0b000000000000002", "ipPermissions": {"items": [_perm("tcp", 443, 443, v4=["0.0.0.0/0"], v6=["::/0"])]}},
               {"_return": True}, agent="cloudformation.amazonaws.com")
    change(r, "sg-0b000000000000002", "authorize", "ingress", "tcp", 443, 443, "0.0.0.0/0", CFN)
    change(r, "sg-0b000000000000002", "authorize", "ingress", "tcp", 443, 443, "::/0", CFN)
    r = s.call(at(8, 45), PROD, tokyo, terraform, "AuthorizeSecurityGroupIngress",
               {"groupId": "sg-0d000000000000004", "ipPermissions": {"items": [
                   _perm("tcp", 22, 22, v4=["10.0.0.0/8"]), _perm("tcp", 5432, 5432, groups=["sg-0b000000000000002"], prefix_lists=["pl-0123456789abcdef0"])]}},
               {"_return": True}, agent=TERRAFORM_UA, ip="10.20.0.5")
    change(r, "sg-0d000000000000004", "authorize", "ingress", "tcp", 22, 22, "10.0.0.0/8", TERRAFORM)
    change(r, "sg-0d000000000000004", "authorize", "ingress", "tcp", 5432, 5432, "sg-0b000000000000002", TERRAFORM)
    change(r, "sg-0d000000000000004", "authorize", "ingress", "tcp", 5432, 5432, "pl-0123456789abcdef0", TERRAFORM)
    r = s.call(at(9, 1), PROD, tokyo, terraform, "AuthorizeSecurityGroupEgress",
               {"groupId": "sg-0a000000000000001", "ipPermissions": {"items": [_perm("-1", None, None, v4=["0.0.0.0/0"])]}},
               {"_return": True}, agent=TERRAFORM_UA, ip="10.20.0.5")
    change(r, "sg-0a000000000000001", "authorize", "egress", "-1", None, None, "0.0.0.0/0", TERRAFORM)
    r = s.call(at(10, 5), PROD, tokyo, alice, "UpdateSecurityGroupRuleDescriptionsIngress",
               {"groupId": "sg-0d000000000000004", "ipPermissions": {"items": [_perm("tcp", 22, 22, v4=["10.0.0.0/8"], description="VPC only <b>ok</b>")]}},
               {"_return": True}, agent=CONSOLE_UA, ip="203.0.113.50")
    change(r, "sg-0d000000000000004", "update_description", "ingress", "tcp", 22, 22, "10.0.0.0/8", ALICE)
    rdp = s.call(at(9, 40), PROD, tokyo, mallory, "AuthorizeSecurityGroupIngress",
                 {"groupId": "sg-0e000000000000005", "ipPermissions": {"items": [_perm("tcp", 3389, 3389, v4=["0.0.0.0/0"])]}},
                 {"_return": True}, agent=BOTO_UA, ip=ATTACKER_IP)
    change(rdp, "sg-0e000000000000005", "authorize", "ingress", "tcp", 3389, 3389, "0.0.0.0/0", MALLORY)

    s.truth.update(sg_changes=changes, windows=windows, failed_openings=failed,
                   rdp_window={"group_id": "sg-0e000000000000005", "opened_at": rdp["eventTime"], "opened_by": MALLORY},
                   attacker_ip=ATTACKER_IP, attacker=MALLORY)


# --- the detections story: every detection, done and attempted, beside decoys and a logging outage --

DETECTIONS_DAY = START + timedelta(days=2)  # day 3 holds this story, and nothing else but noise
DENIED = ("AccessDenied", "User is not authorized to perform this operation")


def detections_story(s: Scenario) -> None:
    """Each detection of the catalogue played once done and once refused (AccessDenied), with a decoy
    beside it that looks alike and is not a hit; a StopLogging that silences the production account for
    three hours until StartLogging; a region with three silent hours and no cause.

    It draws from its own random source, so the stories and noise before and after it are unchanged.
    """
    d = Scenario(random.Random("detections"), events=s.events, truth=s.truth, findings=s.findings, silent=s.silent)
    day = DETECTIONS_DAY
    at = lambda h, m, sec=0: day + timedelta(hours=h, minutes=m, seconds=sec)  # noqa: E731
    tokyo, virginia, ireland = REGIONS
    mallory = role(PROD, "ops-admin", "mallory", "ASIAMALLORY000000001")
    alice = user(PROD, "alice", "AKIAALICE00000000001")
    erin = user(STAGING, "erin", "AKIAERIN000000000001")
    hits, decoys = [], []
    minute = iter(range(0, 24 * 60))  # one call a minute from 00:00, so no two share a time

    def when() -> datetime:
        m = next(minute)
        return at(m // 60, m % 60)

    def play(detection, account, region, source, name, request, response=None, *, identity=mallory, attempt=True, **kw):
        """The call done, then (unless attempt=False) the same call refused."""
        for error in ((None, DENIED) if attempt else (None,)):
            r = d.call(when(), account, region, identity, name, request, response, source=source, ip=ATTACKER_IP,
                       agent=BOTO_UA, error=error, **kw)
            hits.append({"detection": detection, "event_id": r["eventID"], "event_name": name, "account": account,
                         "outcome": "attempt" if error else "success", "event_time": r["eventTime"]})

    def decoy(account, region, source, name, request, response=None, *, identity=alice, **kw):
        r = d.call(when(), account, region, identity, name, request, response, source=source, ip="203.0.113.50", agent=CONSOLE_UA, **kw)
        decoys.append({"event_id": r["eventID"], "event_name": name})

    SNS_, EB_, CT_, GD_, EC2_, IAM_, S3_ = ("sns.amazonaws.com", "events.amazonaws.com", "cloudtrail.amazonaws.com",
                                           "guardduty.amazonaws.com", "ec2.amazonaws.com", "iam.amazonaws.com", "s3.amazonaws.com")
    topic = f"arn:aws:sns:{tokyo}:{PROD}:security-alerts"
    # Notifications
    play("sns_subscription_changed", PROD, tokyo, SNS_, "Unsubscribe", {"subscriptionArn": f"{topic}:0f1e2d3c"})
    play("sns_subscription_changed", PROD, tokyo, SNS_, "Subscribe", {"topicArn": topic, "protocol": "https", "endpoint": "https://exfil.example/<hook>"})
    play("sns_topic_deleted", PROD, tokyo, SNS_, "DeleteTopic", {"topicArn": topic})
    play("sns_topic_policy_changed", PROD, tokyo, SNS_, "SetTopicAttributes", {"topicArn": topic, "attributeName": "Policy", "attributeValue": "{}"})
    decoy(PROD, tokyo, SNS_, "SetTopicAttributes", {"topicArn": topic, "attributeName": "DisplayName", "attributeValue": "Alerts"})
    decoy(PROD, tokyo, SNS_, "CreateTopic", {"name": "build-notices"})
    play("eventbridge_rule_disabled", PROD, tokyo, EB_, "DisableRule", {"name": "guardduty-to-sns"})
    play("eventbridge_security_rule_changed", PROD, tokyo, EB_, "PutRule",
         {"name": "guardduty-to-sns", "eventPattern": json.dumps({"source": ["aws.guardduty"], "detail": {"severity": [99]}})})
    # The same rule given a pattern that matches nothing: it delivered security events, and now cannot.
    play("eventbridge_security_rule_changed", PROD, tokyo, EB_, "PutRule",
         {"name": "guardduty-to-sns", "eventPattern": json.dumps({"source": ["aws.none"]})}, attempt=False)
    decoy(PROD, tokyo, EB_, "PutRule", {"name": "nightly-report", "scheduleExpression": "cron(0 0 * * ? *)"})
    # CloudTrail: a trail bucket learned from CreateTrail, its lifecycle shortened; the trail tampered with.
    d.call(at(0, 0, 5), PROD, virginia, alice, "CreateTrail", {"name": "org-trail", "s3BucketName": "org-trail-logs-111111111111",
                                                               "isMultiRegionTrail": True}, {"name": "org-trail"}, source=CT_, agent=CONSOLE_UA)
    play("trail_bucket_changed", PROD, virginia, S3_, "PutBucketLifecycle",
         {"bucketName": "org-trail-logs-111111111111", "LifecycleConfiguration": {"Rule": {"Status": "Enabled", "Expiration": {"Days": 1}}}})
    decoy(PROD, virginia, S3_, "PutBucketLifecycle",
          {"bucketName": "app-assets", "LifecycleConfiguration": {"Rule": {"Status": "Enabled", "Expiration": {"Days": 1}}}})
    play("cloudtrail_updated", PROD, virginia, CT_, "UpdateTrail", {"name": "org-trail", "isMultiRegionTrail": False})
    play("cloudtrail_selectors_reduced", PROD, virginia, CT_, "PutEventSelectors",
         {"trailName": "org-trail", "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": False}]})
    decoy(PROD, virginia, CT_, "PutEventSelectors",
          {"trailName": "org-trail", "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": True}]})
    play("cloudtrail_insights_disabled", PROD, virginia, CT_, "PutInsightSelectors", {"trailName": "org-trail", "insightSelectors": []})
    play("cloudtrail_deleted", STAGING, virginia, CT_, "DeleteTrail", {"name": "staging-trail"}, identity=erin)
    d.call(when(), STAGING, virginia, erin, "CreateTrail", {"name": "staging-trail", "s3BucketName": "staging-trail-logs"},
           {"name": "staging-trail"}, source=CT_, ip="192.0.2.10", agent=CLI_UA)
    restart = d.call(when(), STAGING, virginia, erin, "StartLogging", {"name": "staging-trail"}, None, source=CT_, ip="192.0.2.10", agent=CLI_UA)
    resolver = "route53resolver.amazonaws.com"
    play("dns_query_logging_removed", PROD, tokyo, resolver, "DeleteResolverQueryLogConfig",
         {"resolverQueryLogConfigId": "rqlc-0a1b2c3d4e5f6a7b"})
    decoy(PROD, tokyo, resolver, "AssociateResolverQueryLogConfig",
          {"resolverQueryLogConfigId": "rqlc-0a1b2c3d4e5f6a7b", "resourceId": "vpc-0a1"})
    # GuardDuty
    play("guardduty_detector_deleted", STAGING, tokyo, GD_, "DeleteDetector", {"detectorId": "12abc34d567e8fa901bc2d34e56789f0"})
    play("guardduty_detector_disabled", PROD, tokyo, GD_, "UpdateDetector", {"detectorId": "d0", "enable": False})
    decoy(PROD, tokyo, GD_, "UpdateDetector", {"detectorId": "d0", "findingPublishingFrequency": "FIFTEEN_MINUTES"})
    play("guardduty_trusted_ip_list", PROD, tokyo, GD_, "CreateIPSet",
         {"detectorId": "d0", "name": "ok", "format": "TXT", "location": "s3://attacker-bucket/ips.txt", "activate": True})
    play("guardduty_auto_archive_filter", PROD, tokyo, GD_, "CreateFilter",
         {"detectorId": "d0", "name": "quiet", "action": "ARCHIVE", "findingCriteria": {"criterion": {"severity": {"gte": 1}}}})
    decoy(PROD, tokyo, GD_, "CreateFilter", {"detectorId": "d0", "name": "view", "action": "NOOP"})
    play("guardduty_publishing_removed", PROD, tokyo, GD_, "DeletePublishingDestination", {"detectorId": "d0", "destinationId": "dest1"})
    play("guardduty_member_disassociated", STAGING, tokyo, GD_, "DisassociateFromAdministratorAccount", {"detectorId": "d1"}, identity=erin)
    # Lambda
    LAMBDA_ = "lambda.amazonaws.com"
    play("lambda_layer_added", PROD, tokyo, LAMBDA_, "UpdateFunctionConfiguration20150331v2",
         {"functionName": "billing", "layers": [f"arn:aws:lambda:{tokyo}:999988887777:layer:hook:3"]})
    play("lambda_code_replaced", PROD, tokyo, LAMBDA_, "UpdateFunctionCode20150331v2",
         {"functionName": "billing", "zipFile": "<sensitiveDataRemoved>"})
    play("lambda_policy_public", PROD, tokyo, LAMBDA_, "AddPermission20150331v2",
         {"functionName": "billing", "principal": "*", "action": "lambda:InvokeFunction",
          "statementId": "open"})
    decoy(PROD, tokyo, LAMBDA_, "AddPermission20150331v2",
          {"functionName": "billing", "principal": "events.amazonaws.com",
           "action": "lambda:InvokeFunction"})
    play("bedrock_unexpected_use", PROD, virginia, "bedrock.amazonaws.com", "InvokeModel",
         {"modelId": "anthropic.claude-3-sonnet-20240229-v1:0"})
    play("ec2_unusual_instances", PROD, virginia, EC2_, "RunInstances",
         {"instanceType": "p4d.24xlarge",
          "instancesSet": {"items": [{"imageId": "ami-0a1", "minCount": 1, "maxCount": 8}]}})
    play("secrets_read_burst", PROD, tokyo, "secretsmanager.amazonaws.com", "BatchGetSecretValue",
         {"secretIdList": [f"prod/service-{n}" for n in range(10)]})
    # Other ways into an instance
    for n in range(1, 6):  # five instances' passwords, each read and refused: a burst of ten calls
        play("instance_secrets_enumerated", PROD, tokyo, EC2_, "GetPasswordData",
             {"instanceId": f"i-0bbb000000000000{n}"})
    play("ec2_instance_connect_key", PROD, tokyo, "ec2-instance-connect.amazonaws.com", "SendSSHPublicKey",
         {"instanceId": "i-0aaa0000000000001", "instanceOSUser": "ec2-user", "sSHPublicKey": "ssh-ed25519 AAAA..."})
    serial = {"serialConsoleAccessEnabled": True}
    play("ec2_serial_console_enabled", PROD, tokyo, EC2_, "EnableSerialConsoleAccess", {}, serial)
    decoy(PROD, tokyo, EC2_, "GetSerialConsoleAccessStatus", {}, {"serialConsoleAccessEnabled": False})
    play("ec2_key_pair_imported", PROD, tokyo, EC2_, "ImportKeyPair", {"keyName": "backup-key"})
    play("ssm_session_started", PROD, tokyo, "ssm.amazonaws.com", "StartSession", {"target": "i-0aaa0000000000001"})
    play("ssm_command_sent", PROD, tokyo, "ssm.amazonaws.com", "SendCommand", {"documentName": "AWS-RunShellScript", "instanceIds": ["i-0aaa0000000000001"]})
    play("ec2_user_data_replaced", PROD, tokyo, EC2_, "ModifyInstanceAttribute",
         {"instanceId": "i-0aaa0000000000001", "userData": "<sensitiveDataRemoved>"})
    decoy(PROD, tokyo, EC2_, "ModifyInstanceAttribute", {"instanceId": "i-0aaa0000000000001", "instanceType": {"value": "t3.small"}})
    nacl = {"networkAclId": "acl-0a1", "ruleNumber": 90, "egress": False, "ruleAction": "allow", "aclProtocol": "6",
            "cidrBlock": "0.0.0.0/0", "portRange": {"from": 22, "to": 22}}
    play("nacl_ssh_open", PROD, tokyo, EC2_, "CreateNetworkAclEntry", nacl)
    decoy(PROD, tokyo, EC2_, "CreateNetworkAclEntry", {**nacl, "cidrBlock": "10.0.0.0/8"})
    decoy(PROD, tokyo, EC2_, "ReplaceNetworkAclEntry", {**nacl, "portRange": {"from": 443, "to": 443}})
    # Identity
    play("root_used", SANDBOX, virginia, S3_, "ListBuckets", None, identity=root(SANDBOX))
    signin = {"source": "signin.amazonaws.com"}
    play("console_login_without_mfa", STAGING, virginia, "signin.amazonaws.com", "ConsoleLogin", None, {"ConsoleLogin": "Success"},
         identity=erin, attempt=False, extra={"additionalEventData": {"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com/"}})
    decoy(STAGING, virginia, "signin.amazonaws.com", "ConsoleLogin", None, {"ConsoleLogin": "Success"}, identity=erin,
          extra={"additionalEventData": {"MFAUsed": "Yes"}})
    failed = d.call(when(), STAGING, virginia, erin, "ConsoleLogin", None, {"ConsoleLogin": "Failure"}, ip=ATTACKER_IP, agent=BOTO_UA,
                    extra={"errorMessage": "Failed authentication", "additionalEventData": {"MFAUsed": "No"}}, **signin)
    hits.append({"detection": "console_login_failed", "event_id": failed["eventID"], "event_name": "ConsoleLogin", "account": STAGING,
                 "outcome": "attempt", "event_time": failed["eventTime"]})
    play("credential_for_other_user", PROD, tokyo, IAM_, "CreateAccessKey", {"userName": "ci-bot"})
    decoy(PROD, tokyo, IAM_, "CreateAccessKey", {"userName": "alice"})
    everything = json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    play("sts_federation_token", PROD, tokyo, "sts.amazonaws.com", "GetFederationToken",
         {"name": "svc", "policy": everything}, identity=alice)
    play("roles_anywhere_trust", PROD, tokyo, "rolesanywhere.amazonaws.com", "CreateTrustAnchor",
         {"name": "partner-ca", "enabled": True, "source": {"sourceType": "CERTIFICATE_BUNDLE"}})
    play("iam_user_created", PROD, tokyo, IAM_, "CreateUser", {"userName": "svc-backup"})
    play("iam_admin_policy_attached", PROD, tokyo, IAM_, "AttachUserPolicy", {"userName": "svc-backup", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})
    decoy(PROD, tokyo, IAM_, "AttachUserPolicy", {"userName": "alice", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}]}
    play("role_trust_external", PROD, tokyo, IAM_, "UpdateAssumeRolePolicy", {"roleName": "ops-admin", "policyDocument": json.dumps(trust)})
    own = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{PROD}:root"}, "Action": "sts:AssumeRole"}]}
    decoy(PROD, tokyo, IAM_, "UpdateAssumeRolePolicy", {"roleName": "ops-admin", "policyDocument": json.dumps(own)})
    play("resource_shared_externally", PROD, tokyo, EC2_, "ModifySnapshotAttribute",
         {"snapshotId": "snap-0a1", "attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"add": {"items": [{"userId": "999988887777"}]}}})
    decoy(PROD, tokyo, EC2_, "ModifySnapshotAttribute",
          {"snapshotId": "snap-0a1", "attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"remove": {"items": [{"userId": "999988887777"}]}}})
    play("s3_public_access", PROD, tokyo, S3_, "DeleteBucketPublicAccessBlock", {"bucketName": "customer-exports", "publicAccessBlock": ""})
    play("config_recorder_stopped", PROD, tokyo, "config.amazonaws.com", "StopConfigurationRecorder", {"configurationRecorderName": "default"})
    play("kms_key_deletion", PROD, tokyo, "kms.amazonaws.com", "ScheduleKeyDeletion", {"keyId": "mrk-0a1", "pendingWindowInDays": 7})
    play("flow_logs_deleted", PROD, tokyo, EC2_, "DeleteFlowLogs", {"DeleteFlowLogsRequest": {"FlowLogId": {"tag": 1, "content": "fl-0a1"}}})
    play("organization_left", SANDBOX, virginia, "organizations.amazonaws.com", "LeaveOrganization", None, identity=root(SANDBOX))
    # The root's LeaveOrganization calls are root use too.
    hits += [{**h, "detection": "root_used"} for h in hits if h["detection"] == "organization_left"]

    # The outage: mallory's StopLogging silences the production account in every region until alice restarts it.
    d.call(at(13, 58), PROD, virginia, mallory, "StopLogging", {"name": f"arn:aws:cloudtrail:{virginia}:{PROD}:trail/org-trail"},
           source=CT_, ip=ATTACKER_IP, agent=BOTO_UA, error=DENIED)
    stop = d.call(at(13, 59), PROD, virginia, mallory, "StopLogging", {"name": f"arn:aws:cloudtrail:{virginia}:{PROD}:trail/org-trail"},
                  None, source=CT_, ip=ATTACKER_IP, agent=BOTO_UA)
    start = d.call(at(17, 0), PROD, virginia, alice, "StartLogging", {"name": "org-trail"}, None, source=CT_, agent=CONSOLE_UA)
    hits += [{"detection": "cloudtrail_stopped", "event_id": e["eventID"], "event_name": "StopLogging", "account": PROD,
              "outcome": o, "event_time": e["eventTime"]} for e, o in ((d.events[-3][2], "attempt"), (stop, "success"))]
    s.silent += [(PROD, None, at(13, 59, 1), at(17, 0)), (SANDBOX, ireland, at(3, 0), at(6, 0))]
    # A heartbeat in every account, region and hour, as AWS services keep a real trail busy.
    agent = service("cloudtrail.amazonaws.com")
    for hour in range(DAYS * 24):
        for account in ACCOUNTS:
            for region in REGIONS:
                t = START + timedelta(hours=hour, minutes=30)
                if not s.silenced(account, region, t):
                    d.call(t, account, region, agent, "GenerateDataKey", {"keySpec": "AES_256"}, None,
                           source="kms.amazonaws.com", ip="cloudtrail.amazonaws.com", agent="cloudtrail.amazonaws.com", read_only=True)

    gaps = [{"kind": "no_events", "account": PROD, "region": r, "start": iso(at(14, 0)), "end": iso(at(17, 0)), "hours": 3.0}
            for r in sorted(REGIONS)]
    gaps.append({"kind": "no_events", "account": SANDBOX, "region": ireland, "start": iso(at(3, 0)), "end": iso(at(6, 0)), "hours": 3.0})
    deleted = next(h for h in hits if h["detection"] == "cloudtrail_deleted" and h["outcome"] == "success")
    outages = [
        {"kind": "trail_deleted", "account": STAGING, "trail": "staging-trail", "start": deleted["event_time"],
         "end": restart["eventTime"], "ongoing": False, "event_id": deleted["event_id"]},
        {"kind": "logging_stopped", "account": PROD, "trail": "org-trail", "start": stop["eventTime"], "end": start["eventTime"],
         "ongoing": False, "event_id": stop["eventID"], "actor": "arn:aws:iam::111111111111:role/ops-admin (session mallory)"},
    ]
    s.truth["detections"] = {"window": [iso(day), iso(day + timedelta(days=1))], "hits": hits, "decoys": decoys,
                             "gaps": gaps, "outages": outages}


STORIES: list[Callable[[Scenario], None]] = [sg_incident, detections_story]


# --- GuardDuty findings, as the S3 export writes them ---------------------------------------------

def _remote(ip: str, country: str, org: str, asn: str) -> dict:
    return {"ipAddressV4": ip, "country": {"countryName": country}, "city": {"cityName": ""},
            "organization": {"asn": asn, "asnOrg": org, "isp": org, "org": org}, "geoLocation": {"lat": 0, "lon": 0}}


def gd_finding(finding_id: str, kind: str, severity: float, title: str, account: str, region: str, *,
               first_seen: datetime, last_seen: datetime, count: int = 1, instance: str | None = None,
               groups: tuple[tuple[str, str], ...] = (), public_ip: str | None = None, action: dict | None = None,
               resource: dict | None = None, sample: bool = False, archived: bool = False,
               updated: datetime | None = None) -> dict:
    """One GuardDuty finding in the export's shape (schemaVersion 2.0, camelCase)."""
    if resource is None:
        resource = {"resourceType": "Instance", "instanceDetails": {
            "instanceId": instance, "instanceType": "t3.micro", "instanceState": "running",
            "networkInterfaces": [{"networkInterfaceId": f"eni-{finding_id[:17]}", "privateIpAddress": "10.20.3.4",
                                   "publicIp": public_ip, "subnetId": "subnet-0a1b2c3d", "vpcId": "vpc-0a1b2c3d",
                                   "securityGroups": [{"groupId": g, "groupName": n} for g, n in groups]}],
            "tags": [{"key": "Name", "value": "bastion"}]}}
    detector = "12abc34d567e8fa901bc2d34e56789f0"
    return {
        "schemaVersion": "2.0", "accountId": account, "region": region, "partition": "aws", "id": finding_id,
        "arn": f"arn:aws:guardduty:{region}:{account}:detector/{detector}/finding/{finding_id}",
        "type": kind, "resource": resource,
        "service": {"serviceName": "guardduty", "detectorId": detector, "action": action or {},
                    "resourceRole": "TARGET", "additionalInfo": {"value": "{}", "type": "default", **({"sample": True} if sample else {})},
                    "eventFirstSeen": first_seen.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "eventLastSeen": last_seen.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "archived": archived, "count": count},
        "severity": severity,
        "createdAt": first_seen.strftime("%Y-%m-%dT%H:%M:%S.123Z"),
        "updatedAt": (updated or last_seen).strftime("%Y-%m-%dT%H:%M:%S.456Z"),
        "title": title, "description": title,
    }


def ssh_connection(ip: str, country: str, org: str, asn: str, local_port: int = 22, remote_port: int = 51234) -> dict:
    return {"actionType": "NETWORK_CONNECTION", "networkConnectionAction": {
        "connectionDirection": "INBOUND", "protocol": "TCP", "blocked": False,
        "remoteIpDetails": _remote(ip, country, org, asn),
        "remotePortDetails": {"port": remote_port, "portName": "Unknown"},
        "localPortDetails": {"port": local_port, "portName": "SSH" if local_port == 22 else "Unknown"}}}


def port_probe(ip: str, country: str, org: str, asn: str, ports: tuple[int, ...]) -> dict:
    return {"actionType": "PORT_PROBE", "portProbeAction": {"blocked": False, "portProbeDetails": [
        {"localPortDetails": {"port": p, "portName": "SSH" if p == 22 else "Unknown"}, "remoteIpDetails": _remote(ip, country, org, asn)}
        for p in ports]}}


def _instance(instance: str, eni: str, groups: list[str]) -> dict:
    """RunInstances' response for one instance: its groups, and its interface with the same groups."""
    group_set = {"items": [{"groupId": g, "groupName": g} for g in groups]}
    return {"instanceId": instance, "instanceType": "t3.micro", "groupSet": group_set,
            "networkInterfaceSet": {"items": [{"networkInterfaceId": eni, "groupSet": group_set,
                                               "attachment": {"deviceIndex": 0, "status": "attaching"}}]}}


def guardduty_incident(s: Scenario) -> None:
    """What GuardDuty saw while the holes of sg_incident were open, and decoys that must not be tied to them.

    Which instance sits in which group is told by CloudTrail (RunInstances, ModifyInstanceAttribute,
    ModifyNetworkInterfaceAttribute) and by the finding's own network interfaces, which show the groups
    at the finding's last update, sometimes after the instance had left the exposed group.
    """
    day1, day2 = START, START + timedelta(days=1)
    at = lambda h, m, base=day2: base + timedelta(hours=h, minutes=m)  # noqa: E731
    tokyo, virginia, ireland = REGIONS
    terraform = role(PROD, "terraform-ci", "tf-run-4711", "ASIATERRAFORM0000001")
    alice = user(PROD, "alice", "AKIAALICE00000000001")
    carol = role(STAGING, "AWSReservedSSO_AdministratorAccess_0123456789abcdef", "carol@example.com", "ASIACAROL00000000001")
    BASTION, WEB, APP, STG, SBX, DB = ("i-0ba5710n000000001", "i-0web000000000002", "i-0app000000000003",
                                       "i-0stg000000000004", "i-0sbx000000000005", "i-0db0000000000006")
    SG_A, SG_B, SG_C, SG_D, SG_E, SG_F7 = ("sg-0a000000000000001", "sg-0b000000000000002", "sg-0c000000000000003",
                                           "sg-0d000000000000004", "sg-0e000000000000005", "sg-0f000000000000007")
    SG_STG_DEFAULT = "sg-0c0000000000000aa"
    run = lambda when, account, region, who, instance, eni, groups: s.call(  # noqa: E731
        when, account, region, who, "RunInstances",
        {"instancesSet": {"items": [{"imageId": "ami-0abc", "minCount": 1, "maxCount": 1}]}, "instanceType": "t3.micro",
         "groupSet": {"items": [{"groupId": g} for g in groups]}},
        {"instancesSet": {"items": [_instance(instance, eni, groups)]}}, agent=TERRAFORM_UA, ip="10.20.0.5")
    launches = {
        BASTION: run(at(9, 1), PROD, tokyo, terraform, BASTION, "eni-0ba5710n00000001", [SG_A]),
        WEB: run(at(6, 0, day1), PROD, tokyo, terraform, WEB, "eni-0web000000000002", [SG_B]),
        APP: run(at(6, 5, day1), PROD, tokyo, terraform, APP, "eni-0app000000000003", [SG_E]),
        STG: run(at(6, 10, day1), STAGING, virginia, terraform, STG, "eni-0stg000000000004", [SG_STG_DEFAULT]),
    }
    # alice moves the web server out of the exposed group at 12:30; carol puts the staging interface into
    # the all-traffic group at 09:16 and takes it out at 12:55, before deleting the group at 13:00.
    s.call(at(12, 30), PROD, tokyo, alice, "ModifyInstanceAttribute",
           {"instanceId": WEB, "groupSet": {"items": [{"groupId": SG_D}]}}, {"_return": True}, agent=CONSOLE_UA, ip="203.0.113.50")
    stg_in = s.call(at(9, 16), STAGING, virginia, carol, "ModifyNetworkInterfaceAttribute",
                    {"networkInterfaceId": "eni-0stg000000000004", "groupSet": {"items": [{"groupId": SG_C}]}},
                    {"_return": True}, agent=CONSOLE_UA, ip="192.0.2.77")
    s.call(at(12, 55), STAGING, virginia, carol, "ModifyNetworkInterfaceAttribute",
           {"networkInterfaceId": "eni-0stg000000000004", "groupSet": {"items": [{"groupId": SG_STG_DEFAULT}]}},
           {"_return": True}, agent=CONSOLE_UA, ip="192.0.2.77")

    nl = ("198.51.100.7", "Netherlands", "Example Hosting B.V.", "64496")
    br = ("203.0.113.99", "Brazil", "Probe Net Ltda", "64500")
    de6 = {"ipAddressV6": "2001:db8:bad::7", "country": {"countryName": "Germany"}, "city": {"cityName": ""},
           "organization": {"asn": "64510", "asnOrg": "Sixnet GmbH", "isp": "Sixnet GmbH", "org": "Sixnet GmbH"}}
    ssh_v6 = ssh_connection(*nl)
    ssh_v6["networkConnectionAction"]["remoteIpDetails"] = de6
    fid = lambda n: f"5e{n:030x}"  # noqa: E731
    brute, probe, rdp = "UnauthorizedAccess:EC2/SSHBruteForce", "Recon:EC2/PortProbeUnprotectedPort", "UnauthorizedAccess:EC2/RDPBruteForce"
    add = s.findings.append
    # F1: brute force on the bastion while alice's rule was open; exported twice as GuardDuty updated it.
    early = gd_finding(fid(1), brute, 2, f"{nl[0]} is performing SSH brute force attacks against {BASTION}.", PROD, tokyo,
                       first_seen=at(9, 40), last_seen=at(9, 58), count=120, instance=BASTION, groups=((SG_A, "bastion-tmp"),),
                       public_ip="54.250.1.10", action=ssh_connection(*nl))
    add(early)
    add(gd_finding(fid(1), brute, 2, early["title"], PROD, tokyo, first_seen=at(9, 40), last_seen=at(10, 55), count=412,
                   instance=BASTION, groups=((SG_A, "bastion-tmp"),), public_ip="54.250.1.10", action=ssh_connection(*nl)))
    # F2: a probe of SSH and RDP on the app server, whose SSH mallory opened and nobody closed.
    add(gd_finding(fid(2), probe, 2, f"Unprotected port on EC2 instance {APP} is being probed.", PROD, tokyo,
                   first_seen=at(14, 10), last_seen=at(16, 20), count=37, instance=APP, groups=((SG_E, "app"),),
                   public_ip="54.250.1.11", action=port_probe(*br, ports=(22, 3389))))
    # F3: brute force over IPv6 on the web server during mallory's ::/0 rule; the finding, updated after
    #     alice moved the server, shows only the database group: CloudTrail ties it.
    add(gd_finding(fid(3), brute, 2, f"2001:db8:bad::7 is performing SSH brute force attacks against {WEB}.", PROD, tokyo,
                   first_seen=at(11, 45), last_seen=at(11, 58), count=96, instance=WEB, groups=((SG_D, "db"),),
                   public_ip="54.250.1.12", action=ssh_v6, updated=at(12, 45)))
    # F4: RDP brute force in staging while carol's all-traffic rule was open and the interface was in it.
    add(gd_finding(fid(4), rdp, 2, f"{nl[0]} is performing RDP brute force attacks against {STG}.", STAGING, virginia,
                   first_seen=at(10, 0), last_seen=at(10, 30), count=55, instance=STG, groups=((SG_STG_DEFAULT, "default"),),
                   public_ip="3.80.1.13", action=ssh_connection(*nl, local_port=3389), updated=at(13, 5)))
    # F5: a high-severity DNS finding on the bastion during the window: no port, so not tied to it.
    add(gd_finding(fid(5), "CryptoCurrency:EC2/BitcoinTool.B!DNS", 8, f"EC2 instance {BASTION} is querying a domain name associated with Bitcoin.",
                   PROD, tokyo, first_seen=at(11, 0), last_seen=at(11, 20), count=14, instance=BASTION, groups=((SG_A, "bastion-tmp"),),
                   public_ip="54.250.1.10", action={"actionType": "DNS_REQUEST", "dnsRequestAction": {"domain": "pool.example.net", "protocol": "UDP", "blocked": False}}))
    # F6: brute force in the sandbox while dave's anonymised /0 rule was open (tied by the finding alone) ...
    add(gd_finding(fid(6), brute, 2, f"{br[0]} is performing SSH brute force attacks against {SBX}.", SANDBOX, ireland,
                   first_seen=at(10, 10), last_seen=at(10, 20), count=30, instance=SBX, groups=((SG_F7, "sandbox"),),
                   public_ip="34.240.1.14", action=ssh_connection(*br)))
    # ... and decoys: the same after dave closed it; the bastion's group before it was opened (archived);
    # a probe of a port of a group never exposed; an S3 finding; a sample finding.
    add(gd_finding(fid(7), brute, 2, f"{br[0]} is performing SSH brute force attacks against {SBX}.", SANDBOX, ireland,
                   first_seen=at(11, 0), last_seen=at(11, 10), count=8, instance=SBX, groups=((SG_F7, "sandbox"),),
                   public_ip="34.240.1.14", action=ssh_connection(*br)))
    add(gd_finding(fid(8), brute, 2, f"{nl[0]} is performing SSH brute force attacks against {BASTION}.", PROD, tokyo,
                   first_seen=at(20, 0, day1), last_seen=at(20, 30, day1), count=9, instance=BASTION, groups=((SG_A, "bastion-tmp"),),
                   public_ip="54.250.1.10", action=ssh_connection(*nl), archived=True))
    add(gd_finding(fid(9), probe, 2, f"Unprotected port on EC2 instance {DB} is being probed.", PROD, tokyo,
                   first_seen=at(10, 0), last_seen=at(10, 5), count=3, instance=DB, groups=((SG_D, "db"),),
                   action=port_probe(*br, ports=(5432,))))
    add(gd_finding(fid(10), "Policy:S3/BucketBlockPublicAccessDisabled", 2, "Amazon S3 Block Public Access was disabled for S3 bucket logs-bucket.",
                   STAGING, virginia, first_seen=at(15, 0), last_seen=at(15, 0),
                   resource={"resourceType": "S3Bucket", "s3BucketDetails": [{"name": "logs-bucket", "type": "Destination"}]},
                   action={"actionType": "AWS_API_CALL", "awsApiCallAction": {"api": "PutBucketPublicAccessBlock", "serviceName": "s3.amazonaws.com",
                                                                               "remoteIpDetails": {"ipAddressV4": "192.0.2.77"}}}))
    add(gd_finding(fid(11), brute, 5, "[SAMPLE] 198.51.100.1 is performing SSH brute force attacks against i-99999999.", PROD, tokyo,
                   first_seen=at(10, 0), last_seen=at(10, 1), instance="i-99999999", groups=(("GeneratedFindingSecurityId", "x"),),
                   action=ssh_connection("198.51.100.1", "GeneratedFindingCountryName", "GeneratedFindingASNOrg", "0"), sample=True))

    windows = {(w["group_id"], w["cidr"]): w["opened_at"] for w in s.truth["windows"]}
    s.truth.update(
        findings=[{"id": f["id"], "type": f["type"], "severity": f["severity"], "account": f["accountId"], "region": f["region"],
                   "updated_at": f["updatedAt"]} for f in {f["id"]: f for f in s.findings}.values()],
        correlations=[
            {"finding_id": fid(1), "group_id": SG_A, "opened_at": windows[(SG_A, "0.0.0.0/0")], "local_port": 22,
             "tied_by": f"finding; CloudTrail RunInstances {launches[BASTION]['eventID']}"},
            {"finding_id": fid(3), "group_id": SG_B, "opened_at": windows[(SG_B, "::/0")], "local_port": 22,
             "tied_by": f"CloudTrail RunInstances {launches[WEB]['eventID']}"},
            {"finding_id": fid(4), "group_id": SG_C, "opened_at": windows[(SG_C, "0.0.0.0/0")], "local_port": 3389,
             "tied_by": f"CloudTrail ModifyNetworkInterfaceAttribute {stg_in['eventID']}"},
            {"finding_id": fid(6), "group_id": SG_F7, "opened_at": windows[(SG_F7, "203.0.113.9/0")], "local_port": 22,
             "tied_by": "finding"},
            {"finding_id": fid(2), "group_id": SG_E, "opened_at": windows[(SG_E, "0.0.0.0/0")], "local_port": 22,
             "tied_by": f"finding; CloudTrail RunInstances {launches[APP]['eventID']}"},
        ],
    )


STORIES.append(guardduty_incident)


# --- the flow logs story: who came in through the holes ----------------------------------------

FLOW_DEFAULT = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
                "bytes start end action log-status").split()
# The app subnet's flow log: a custom format in its own order, with a field not read here.
FLOW_CUSTOM = ("version account-id vpc-id instance-id interface-id flow-direction srcaddr dstaddr "
               "srcport dstport protocol packets bytes start end action log-status tcp-flags "
               "reject-reason").split()
UNKNOWN_SOURCE = "198.51.100.200"  # nobody in the organization knows it
KNOWN_NETWORKS = ("203.0.113.48/28",)  # the office: alice (.50) and bob (.61)


def flow_story(s: Scenario) -> None:
    """VPC flow logs of the production account in Tokyo, and what they must say about the windows.

    The bastion's interface (default format, daily folders): alice's own session from the office
    while her window was open, the brute force GuardDuty saw (F1) accepted but exchanging no real
    data, its scans rejected once bob closed the window, and ten minutes of NODATA. The app subnet
    (custom format, hourly folders): the prober of F2 rejected until mallory opened SSH, then let
    in; a real session from an address nobody knows to a second interface that terraform created in
    the app group and attached to a new instance; an IPv6 knock the IPv4 rule never let in; an hour
    whose files are missing; a malformed line. No flow log covers the web server, staging or the
    sandbox: those windows are gaps.
    """
    # A random of its own: the flow story leaves the rest of the evidence exactly as it was.
    rng = random.Random(22)
    own = Scenario(rng, events=s.events, truth=s.truth)
    day2 = START + timedelta(days=1)
    at = lambda h, m, sec=0: day2 + timedelta(hours=h, minutes=m, seconds=sec)  # noqa: E731
    tokyo = REGIONS[0]
    terraform = role(PROD, "terraform-ci", "tf-run-4711", "ASIATERRAFORM0000001")
    SG_A, SG_E = "sg-0a000000000000001", "sg-0e000000000000005"
    BASTION_ENI, APP_ENI = "eni-0ba5710n00000001", "eni-0app000000000003"
    APP2_ENI = "eni-0app200000000007"
    APP, APP2 = "i-0app000000000003", "i-0app200000000007"
    own.call(at(8, 0), PROD, tokyo, terraform, "CreateNetworkInterface",
                       {"subnetId": "subnet-0a1b2c3d", "description": "app second interface",
                        "groupSet": {"items": [{"groupId": SG_E}]}},
                       {"requestId": "c0ffee00-0000-4000-8000-000000000001", "networkInterface": {
                           "networkInterfaceId": APP2_ENI, "subnetId": "subnet-0a1b2c3d",
                           "vpcId": "vpc-0a1b2c3d", "privateIpAddress": "10.20.5.7",
                           "status": "pending", "interfaceType": "interface",
                           "groupSet": {"items": [{"groupId": SG_E, "groupName": "app"}]}}},
                       agent=TERRAFORM_UA, ip="10.20.0.5")
    own.call(at(8, 1), PROD, tokyo, terraform, "RunInstances",
             {"instancesSet": {"items": [{"imageId": "ami-0abc", "minCount": 1, "maxCount": 1}]},
              "instanceType": "t3.micro"},
             {"instancesSet": {"items": [{"instanceId": APP2, "instanceType": "t3.micro"}]}},
             agent=TERRAFORM_UA, ip="10.20.0.5")
    own.call(at(8, 5), PROD, tokyo, terraform, "AttachNetworkInterface",
             {"networkInterfaceId": APP2_ENI, "instanceId": APP2, "deviceIndex": 1},
             {"requestId": "c0ffee00-0000-4000-8000-000000000002",
              "attachmentId": "eni-attach-0a1b2c3d4e5f60001"},
             agent=TERRAFORM_UA, ip="10.20.0.5")

    epoch = lambda t: int(t.timestamp())  # noqa: E731
    bastion: list[tuple[datetime, str]] = []  # (start, line) of the bastion's flow log
    app: list[tuple[datetime, str]] = []

    def default(start: datetime, seconds, src, dst, sport, dport, packets, size, action="ACCEPT"):
        bastion.append((start, f"2 {PROD} {BASTION_ENI} {src} {dst} {sport} {dport} 6 {packets} "
                               f"{size} {epoch(start)} {epoch(start) + seconds} {action} OK"))

    def custom(start: datetime, seconds, eni, instance, direction, src, dst, sport, dport, packets,
               size, action="ACCEPT", flags=18):
        app.append((start, f"5 {PROD} vpc-0a1b2c3d {instance} {eni} {direction} {src} {dst} "
                           f"{sport} {dport} 6 {packets} {size} {epoch(start)} "
                           f"{epoch(start) + seconds} {action} OK {flags} -"))

    BASTION_IP, APP_IP, APP2_IP = "10.20.3.4", "10.20.5.6", "10.20.5.7"
    # Background on every hour: the VPC's own SSH (private, not the internet) and HTTPS replies.
    for hour in range(9, 18):
        default(at(hour, 0), 60, "10.20.0.5", BASTION_IP, 41000 + hour, 22, 20, 3_000)
        default(at(hour, 0), 60, "52.95.110.1", BASTION_IP, 443, 45000 + hour, 30, 40_000)
    for hour in [h for h in range(8, 18) if h != 13]:  # the app flow log's 13:00 files are missing
        for eni, instance, ip in ((APP_ENI, APP, APP_IP), (APP2_ENI, APP2, APP2_IP)):
            custom(at(hour, 1), 60, eni, instance, "ingress", "10.20.0.5", ip, 42000 + hour, 22, 20,
                   3_000)
    # alice, from the office, on the bastion she opened: a real session (she is the window's actor).
    for minute in (5, 15):
        default(at(9, minute), 600, "203.0.113.50", BASTION_IP, 50022, 22, 150, 12_000)
        default(at(9, minute), 600, BASTION_IP, "203.0.113.50", 22, 50022, 180, 105_000)
    # F1's brute force: thirty short connections, each a failed login, from 09:40 to 10:55.
    brute = "198.51.100.7"
    for n in range(30):
        start = at(9, 40) + timedelta(seconds=150 * n)
        default(start, 5, brute, BASTION_IP, 40001 + n, 22, 12, 2_400)
        default(start, 5, BASTION_IP, brute, 22, 40001 + n, 10, 2_900)
    # It keeps knocking after bob closed the window at 11:32:15: rejected.
    for n in range(6):
        default(at(11, 45) + timedelta(minutes=5 * n), 30, brute, BASTION_IP, 40100 + n, 22, 2, 120,
                "REJECT")
    quiet = f"{epoch(at(11, 10))} {epoch(at(11, 20))}"
    bastion.append((at(11, 10), f"2 {PROD} {BASTION_ENI} - - - - - - - {quiet} - NODATA"))
    # F2's prober on the app server (F9 saw it probe the database too): rejected until mallory's
    # modify at 09:30, then let in, scanning.
    prober = "203.0.113.99"
    for n in range(5):
        custom(at(9, 2) + timedelta(minutes=5 * n), 20, APP_ENI, APP, "ingress", prober, APP_IP,
               33000 + n, 22, 2, 120, "REJECT", flags=2)
    for n in range(10):
        start = at(9, 35) + timedelta(minutes=3 * n)
        custom(start, 3, APP_ENI, APP, "ingress", prober, APP_IP, 34000 + n, 22, 3, 180, flags=2)
        custom(start, 3, APP_ENI, APP, "egress", APP_IP, prober, 22, 34000 + n, 2, 120, flags=18)
    # The session nobody knows: one connection to the second interface, 10:15 to 10:55, data both
    # ways.
    for n in range(4):
        start = at(10, 15) + timedelta(minutes=10 * n)
        custom(start, 600, APP2_ENI, APP2, "ingress", UNKNOWN_SOURCE, APP2_IP, 51515, 22, 75,
               10_000, flags=27)
        custom(start, 600, APP2_ENI, APP2, "egress", APP2_IP, UNKNOWN_SOURCE, 22, 51515, 150,
               300_000, flags=27)
    # An IPv6 knock: read, and not a source of the IPv4 window.
    custom(at(11, 0), 5, APP_ENI, APP, "ingress", "2001:db8:bad::7", "2001:db8:1::6", 55000, 22, 1,
           80, "REJECT", flags=2)

    def files(lines, flow_log: str, hourly: bool, header: list[str]) -> None:
        by_hour: dict[datetime, list[str]] = {}
        for start, line in sorted(lines):
            by_hour.setdefault(start.replace(minute=0, second=0), []).append(line)
        for hour, rows in by_hour.items():
            delivered = hour + timedelta(minutes=55)
            folder = f"AWSLogs/{PROD}/vpcflowlogs/{tokyo}/{delivered:%Y/%m/%d}"
            folder += f"/{delivered:%H}" if hourly else ""
            stamp = f"{delivered:%Y%m%dT%H%MZ}_{rng.getrandbits(32):08x}"
            name = f"{PROD}_vpcflowlogs_{tokyo}_{flow_log}_{stamp}.log.gz"
            s.flow_logs[f"{folder}/{name}"] = (header, rows)

    files(bastion, "fl-0b1a2c3d4e5f60001", False, FLOW_DEFAULT)
    files(app, "fl-0a9b8c7d6e5f40002", True, FLOW_CUSTOM)
    # One line of the app flow log cut short in transit.
    broken = next(k for k in s.flow_logs if "fl-0a9b8c7d6e5f40002" in k and "T1055Z" in k)
    s.flow_logs[broken][1].append(f"5 {PROD} vpc-0a1b2c3d {APP} {APP_ENI} ingress 198.51.100.9")

    windows = {(w["group_id"], w["cidr"]): w["opened_at"] for w in s.truth["windows"]}
    a, e = windows[(SG_A, "0.0.0.0/0")], windows[(SG_E, "0.0.0.0/0")]
    fid = lambda n: f"5e{n:030x}"  # noqa: E731 - the GuardDuty story's finding ids
    keys = ("accepted", "rejected", "packets_in", "bytes_in", "packets_out", "bytes_out",
            "largest_connection_bytes", "before_rejected", "after_rejected")

    def source(when, group, ip, verdict, known, findings, eni, counts):
        return {"group_id": group, "opened_at": when, "source": ip, "verdict": verdict,
                "known_as": known, "finding_ids": findings, **dict(zip(keys, counts)),
                "interfaces": eni}

    def gap(group, when, kind, eni, first=None, last=None):
        return {"group_id": group, "opened_at": when, "gap": kind, "interfaces": eni,
                "first_seen": first, "last_seen": last}

    windows = {(w["group_id"], w["cidr"]): w["opened_at"] for w in s.truth["windows"]}
    a, e = windows[(SG_A, "0.0.0.0/0")], windows[(SG_E, "0.0.0.0/0")]
    actor = "actor: opened the window from this address"
    records = sum(len(r) for _, r in s.flow_logs.values()) - 1
    s.truth.update(
        flow_records={"files": len(s.flow_logs), "records": records, "rejected_lines": 1,
                      "nodata": 1},
        known_networks=list(KNOWN_NETWORKS),
        connections=[
            source(e, SG_E, UNKNOWN_SOURCE, "session", "", "", APP2_ENI,
                   (4, 0, 300, 40_000, 600, 1_200_000, 1_240_000, 0, 0)),
            source(a, SG_A, "203.0.113.50", "session", actor, "", BASTION_ENI,
                   (2, 0, 300, 24_000, 360, 210_000, 234_000, 0, 0)),
            source(a, SG_A, brute, "accepted, no data", "", fid(1), BASTION_ENI,
                   (30, 0, 360, 72_000, 300, 87_000, 5_300, 0, 6)),
            source(e, SG_E, prober, "accepted, no data", "", f"{fid(2)},{fid(9)}", APP_ENI,
                   (10, 0, 30, 1_800, 20, 1_200, 300, 5, 0)),
        ],
        connection_gaps=[
            gap(SG_A, a, "NODATA", BASTION_ENI, iso(at(11, 10)), iso(at(11, 20))),
            gap(SG_E, e, "missing hours", APP_ENI, iso(at(13, 0)), iso(at(14, 0))),
            gap(SG_E, e, "missing hours", APP2_ENI, iso(at(13, 0)), iso(at(14, 0))),
            *[gap(g, windows[(g, cidr)], "no records", eni) for g, cidr, eni in (
                ("sg-0b000000000000002", "0.0.0.0/0", "eni-0web000000000002"),
                ("sg-0b000000000000002", "::/0", "eni-0web000000000002"),
                ("sg-0c000000000000003", "0.0.0.0/0", "eni-0stg000000000004"))],
            # No interface is known to have been in these groups: the sandbox's, and those of the
            # windows state shows (state_story).
            *[gap(g, windows[(g, cidr)], "no interface", None) for g, cidr in (
                ("sg-0f000000000000006", "0.0.0.0/0"), ("sg-0f000000000000007", "203.0.113.9/0"),
                ("sg-01a0000000000000a", "0.0.0.0/0"), ("sg-02b0000000000000b", "0.0.0.0/0"),
                ("sg-03c0000000000000c", "0.0.0.0/0"), ("sg-04d0000000000000d", "::/0"))],
        ],
    )


def write_flow_logs(s: Scenario, evidence: Path) -> int:
    """The flow logs as S3 delivers them: gzip text, a header line naming the fields.
    Returns how many files."""
    for key, (header, rows) in s.flow_logs.items():
        path = evidence / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(igzip.compress(("\n".join([" ".join(header), *rows]) + "\n").encode()))
    return len(s.flow_logs)


def write_findings(s: Scenario, evidence: Path) -> int:
    """The findings as GuardDuty's S3 export writes them: one gzipped JSON line each, foldered by account,
    region and the day of the update that exported them. Returns how many files."""
    files: dict[Path, list[dict]] = {}
    for finding in s.findings:
        updated = datetime.fromisoformat(finding["updatedAt"].replace("Z", "+00:00"))
        folder = evidence / "AWSLogs" / finding["accountId"] / "GuardDuty" / finding["region"] / f"{updated:%Y/%m/%d}"
        files.setdefault(folder / f"{uuid.UUID(int=s.rng.getrandbits(128))}.jsonl.gz", []).append(finding)
    for path, findings in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(igzip.compress(b"\n".join(msgspec.json.encode(f) for f in findings) + b"\n"))
    return len(files)


# --- noise ----------------------------------------------------------------------------------------

_NOISE = [  # (weight, source, name, read only, request)
    (30, "ec2.amazonaws.com", "DescribeInstances", True, {"instancesSet": {}, "filterSet": {}}),
    (12, "ec2.amazonaws.com", "DescribeSecurityGroups", True, {"securityGroupSet": {}, "securityGroupIdSet": {}}),
    (20, "kms.amazonaws.com", "Decrypt", True, {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
    (15, "sts.amazonaws.com", "AssumeRole", False, {"roleArn": "arn:aws:iam::111111111111:role/app", "roleSessionName": "app", "durationSeconds": 3600}),
    (10, "s3.amazonaws.com", "GetBucketAcl", True, {"bucketName": "logs-bucket", "acl": ""}),
    (8, "iam.amazonaws.com", "ListRoles", True, None),
    (8, "ssm.amazonaws.com", "GetParameter", True, {"name": "/app/config", "withDecryption": True}),
    (6, "logs.amazonaws.com", "CreateLogStream", False, {"logGroupName": "/aws/lambda/app", "logStreamName": "2026/11/02/[$LATEST]abc"}),
    (5, "secretsmanager.amazonaws.com", "GetSecretValue", True, {"secretId": "prod/db"}),
    (4, "cloudtrail.amazonaws.com", "LookupEvents", True, {"maxResults": 50}),
    (3, "ec2.amazonaws.com", "RunInstances", False, {"instanceType": "t3.micro", "minCount": 1, "maxCount": 1}),
]


def _noise_identities(account: str) -> list[tuple[dict, str, str]]:
    return [
        (role(account, "app", "i-0123456789abcdef0", "ASIAAPP0000000000001"), BOTO_UA, "10.20.1.15"),
        (role(account, "lambda-exec", "worker", "ASIALAMBDA0000000001"), BOTO_UA, "52.95.4.10"),
        (user(account, "alice", "AKIAALICE00000000001"), CONSOLE_UA, "203.0.113.50"),
        (user(account, "ci-bot", "AKIACIBOT00000000001"), CLI_UA, "198.18.0.4"),
        (service("ec2.amazonaws.com"), "ec2.amazonaws.com", "ec2.amazonaws.com"),
        (role(account, "terraform-ci", "tf-run-4711", "ASIATERRAFORM0000001"), TERRAFORM_UA, "10.20.0.5"),
    ]


def noise(s: Scenario, count: int) -> None:
    weights = [w for w, *_ in _NOISE]
    span = DAYS * 86400
    identities = {a: _noise_identities(a) for a in ACCOUNTS}
    for _ in range(count):
        _, source, name, read_only, request = s.rng.choices(_NOISE, weights)[0]
        account, region = s.rng.choice(ACCOUNTS), s.rng.choice(REGIONS)
        identity, agent, ip = s.rng.choice(identities[account])
        when = START + timedelta(seconds=s.rng.randrange(span))
        s.call(when, account, region, identity, name, request, None, source=source, ip=ip, agent=agent, read_only=read_only)
        if s.silenced(account, region, when):
            s.events.pop()  # drawn all the same, so the rest of the noise does not depend on the silences


# --- writing --------------------------------------------------------------------------------------

def _file_name(account: str, region: str, delivered: datetime, rng: random.Random) -> str:
    suffix = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", k=16))
    return f"{account}_CloudTrail_{region}_{delivered:%Y%m%dT%H%MZ}_{suffix}.json.gz"


def write(s: Scenario, evidence: Path) -> dict:
    """Write the events into trail files in the S3 layout; returns file and event counts.

    Each file holds one quarter hour of one account and region, delivered (and foldered) at the end
    of it, so a few events lie in the next day's folder. The production account's logs come through
    the organization trail (AWSLogs/<org>/<account>/...). One incident record is delivered twice,
    by a second trail, as happens when an account trail and an organization trail overlap.
    """
    buckets: dict[tuple, list[dict]] = {}
    for account, region, record in s.events:
        t = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
        slot = t.replace(minute=t.minute - t.minute % FILE_MINUTES, second=0)
        buckets.setdefault((account, region, slot), []).append(record)
    encoder = msgspec.json.Encoder()
    files = 0
    for (account, region, slot), records in sorted(buckets.items()):
        s.rng.shuffle(records)  # a trail file is not in time order
        delivered = slot + timedelta(minutes=FILE_MINUTES)
        prefix = f"AWSLogs/{ORG}/{account}" if account == PROD else f"AWSLogs/{account}"
        folder = evidence / prefix / "CloudTrail" / region / f"{delivered:%Y/%m/%d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / _file_name(account, region, delivered, s.rng)).write_bytes(
            igzip.compress(encoder.encode({"Records": records}), compresslevel=1)
        )
        files += 1
    # The second trail's copy of alice's SSH opening.
    duplicate = next(r for _, _, r in s.events if r["eventName"] == "AuthorizeSecurityGroupIngress")
    folder = evidence / "AWSLogs" / PROD / "CloudTrail" / duplicate["awsRegion"] / duplicate["eventTime"][:10].replace("-", "/")
    folder.mkdir(parents=True, exist_ok=True)
    delivered = datetime.fromisoformat(duplicate["eventTime"].replace("Z", "+00:00"))
    (folder / _file_name(PROD, duplicate["awsRegion"], delivered, s.rng)).write_bytes(
        igzip.compress(encoder.encode({"Records": [duplicate]}))
    )
    return {"files": files + 1, "events": len(s.events) + 1, "distinct_events": len(s.events), "duplicates": 1}


def generate(out: Path, events: int = 20_000, seed: int = 7) -> dict:
    """Write `out/evidence` (the S3 layout) and `out/ground_truth.json`; returns the ground truth.

    The trail is signed (write_digests) by a demo key: evidence/public-keys.json and
    evidence/digest-signatures.json are what validate-logs needs to prove it.
    """
    s = Scenario(random.Random(seed))
    for story in STORIES:
        story(s)
    noise(s, events)
    truth = {**s.truth, "totals": write(s, Path(out) / "evidence")}
    truth["totals"]["findings_files"] = write_findings(s, Path(out) / "evidence")
    write_state(s, Path(out) / "evidence")
    truth["totals"]["flow_log_files"] = write_flow_logs(s, Path(out) / "evidence")
    truth["totals"]["digests"] = sign_demo_trail(Path(out))
    (Path(out) / "ground_truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False), encoding="utf-8")
    return truth


# --- security-group state: AWS Config delivery and an EC2 describe answer beside the logs ---------
# Shapes from AWS's documentation: the configuration snapshot example (developer guide,
# example-s3-snapshot), the snapshot and history delivery notifications for the S3 keys (month and
# day not zero-padded), Config's AWS::EC2::SecurityGroup configuration (ipv4Ranges and ipRanges
# both), and the EC2 API reference for DescribeSecurityGroups (PascalCase, SecurityGroupArn).

STATE_REGION = "eu-west-1"
STATE_VPC = "vpc-0e1e2e3e4e5e6e7e8"
STATE_AT = "2026-11-04T23:30:00Z"  # when the describe answer was taken: give it with --state-at


def _config_permission(protocol: str, low: int, high: int, v4=(), v6=()) -> dict:
    return {
        "fromPort": low,
        "ipProtocol": protocol,
        "ipv6Ranges": [{"cidrIpv6": c} for c in v6],
        "prefixListIds": [],
        "toPort": high,
        "userIdGroupPairs": [],
        "ipv4Ranges": [{"cidrIp": c} for c in v4],
        "ipRanges": list(v4),
    }


def _config_item(
    group: str, name: str, captured: str, ingress: list[dict] | None, related=(), status="OK"
) -> dict:
    """A configuration item of a security group as Config delivers it to S3 (None: deleted)."""
    arn = f"arn:aws:ec2:{STATE_REGION}:{PROD}:security-group/{group}"
    configuration = (
        None
        if ingress is None
        else {
            "description": f"{name} group",
            "groupName": name,
            "ipPermissions": ingress,
            "ownerId": PROD,
            "groupId": group,
            "ipPermissionsEgress": [_config_permission("-1", -1, -1, v4=["0.0.0.0/0"])],
            "vpcId": STATE_VPC,
            "tags": [],
        }
    )
    return {
        "relatedEvents": list(related),
        "relationships": [],
        "configuration": configuration,
        "supplementaryConfiguration": {},
        "tags": {},
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": captured,
        "configurationStateId": 1762040000000 + len(related),
        "awsAccountId": PROD,
        "configurationItemStatus": status,
        "resourceType": "AWS::EC2::SecurityGroup",
        "resourceId": group,
        "resourceName": name,
        "ARN": arn,
        "awsRegion": STATE_REGION,
        "availabilityZone": "Not Applicable",
        "configurationStateMd5Hash": "",
        "resourceCreationTime": None,
    }


def _config_key(kind: str, delivered: datetime, suffix: str) -> str:
    day = f"{delivered.year}/{delivered.month}/{delivered.day}"  # Config does not pad them
    folder = f"AWSLogs/{PROD}/Config/{STATE_REGION}/{day}/{kind}"
    return f"{folder}/{PROD}_Config_{STATE_REGION}_{kind}_{suffix}.json.gz"


def state_story(s: Scenario) -> None:
    """SSH open since before the logs, a window closed with no logged call (its log file deleted), a
    window seen only in Config history, and decoys: a Volume item, a group deleted in Config."""
    # Its own random stream: the noise drawn after the stories stays the same event for event.
    main, s.rng = s.rng, random.Random("audit_toolkit state story")
    try:
        _state_story(s)
    finally:
        s.rng = main


def _state_story(s: Scenario) -> None:
    day1, day2 = START, START + timedelta(days=1)
    alice, bob = (
        user(PROD, "alice", "AKIAALICE00000000001"),
        user(PROD, "bob", "AKIABOB0000000000001"),
    )
    ssh = lambda v4=(), v6=(): _config_permission("tcp", 22, 22, v4=v4, v6=v6)  # noqa: E731
    legacy, jump, runner, web = (
        "sg-01a0000000000000a",
        "sg-02b0000000000000b",
        "sg-03c0000000000000c",
        "sg-04d0000000000000d",
    )
    # A Config history only: the changes of the runner were never in this trail (no event at all).
    runner_open, runner_closed = "2026-11-02T13:10:00.000Z", "2026-11-02T17:45:00.000Z"
    runner_events = [str(uuid.UUID(int=s.rng.getrandbits(128))) for _ in range(2)]
    web_deleted, web_event = "2026-11-03T09:30:00.000Z", str(uuid.UUID(int=s.rng.getrandbits(128)))
    opened = s.call(
        day2 + timedelta(hours=8),
        PROD,
        STATE_REGION,
        alice,
        "AuthorizeSecurityGroupIngress",
        {"groupId": jump, "ipPermissions": {"items": [_perm("tcp", 22, 22, v4=["0.0.0.0/0"])]}},
        {"_return": True},
        agent=CONSOLE_UA,
        ip="203.0.113.50",
    )
    # bob's revoke was logged, but its log file was deleted: written nowhere, named by Config.
    closed = s.call(
        day2 + timedelta(hours=15),
        PROD,
        STATE_REGION,
        bob,
        "RevokeSecurityGroupIngress",
        {"groupId": jump, "ipPermissions": {"items": [_perm("tcp", 22, 22, v4=["0.0.0.0/0"])]}},
        {"_return": True},
        ip="203.0.113.61",
    )
    s.events.pop()
    jump_open, jump_closed = "2026-11-03T08:01:10.000Z", "2026-11-03T15:01:30.000Z"
    snapshot = {
        "fileVersion": "1.0",
        "configSnapshotId": "5b3a0c42-7a7c-4d33-9c0e-2a4c1c0f7e11",
        "configurationItems": [
            _config_item(
                legacy,
                "legacy-bastion",
                "2025-03-14T08:21:07.000Z",
                [ssh(v4=["0.0.0.0/0"]), _config_permission("tcp", 443, 443, v4=["0.0.0.0/0"])],
            ),
            _config_item(jump, "jump-host", "2026-10-20T10:00:00.000Z", []),
            _config_item(
                runner, "build-runner", "2026-09-01T00:00:00.000Z", [ssh(v4=["10.0.0.0/8"])]
            ),
            _config_item(web, "old-web", "2025-11-30T12:00:00.000Z", [ssh(v6=["::/0"])]),
            {
                "relatedEvents": [],
                "relationships": [],
                "configuration": {"volumeId": "vol-0f00000000000000f", "size": 8},
                "configurationItemVersion": "1.3",
                "configurationItemCaptureTime": "2026-10-01T00:00:00.000Z",
                "awsAccountId": PROD,
                "configurationItemStatus": "OK",
                "resourceType": "AWS::EC2::Volume",
                "resourceId": "vol-0f00000000000000f",
                "awsRegion": STATE_REGION,
            },
        ],
    }
    history_day1 = {
        "fileVersion": "1.0",
        "configurationItems": [
            _config_item(
                runner,
                "build-runner",
                runner_open,
                [ssh(v4=["10.0.0.0/8"]), ssh(v4=["0.0.0.0/0"])],
                related=runner_events[:1],
            ),
            _config_item(
                runner,
                "build-runner",
                runner_closed,
                [ssh(v4=["10.0.0.0/8"])],
                related=runner_events[1:],
            ),
        ],
    }
    history_day2 = {
        "fileVersion": "1.0",
        "configurationItems": [
            _config_item(
                jump, "jump-host", jump_open, [ssh(v4=["0.0.0.0/0"])], related=[opened["eventID"]]
            ),
            _config_item(
                web, "old-web", web_deleted, None, related=[web_event], status="ResourceDeleted"
            ),
            _config_item(jump, "jump-host", jump_closed, [], related=[closed["eventID"]]),
        ],
    }
    sg = "AWS::EC2::SecurityGroup"
    s.state_files.update(
        {
            _config_key(
                "ConfigSnapshot", day1 + timedelta(minutes=20), "20261102T002000Z_5b3a0c42"
            ): snapshot,
            _config_key(
                "ConfigHistory",
                day1 + timedelta(hours=19),
                f"{sg}_20261102T120000Z_20261102T180000Z_1",
            ): history_day1,
            _config_key(
                "ConfigHistory",
                day2 + timedelta(hours=19),
                f"{sg}_20261103T060000Z_20261103T180000Z_1",
            ): history_day2,
            "ec2/describe-security-groups.json": {
                "SecurityGroups": [
                    _described(
                        legacy,
                        "legacy-bastion",
                        [
                            _ec2_ssh("0.0.0.0/0"),
                            {**_ec2_ssh("0.0.0.0/0"), "FromPort": 443, "ToPort": 443},
                        ],
                    ),
                    _described(jump, "jump-host", []),
                    _described(runner, "build-runner", [_ec2_ssh("10.0.0.0/8")]),
                ]
            },
        }
    )
    ALICE = alice["arn"]
    s.truth["sg_changes"].append(
        {
            "event_id": opened["eventID"],
            "event_time": opened["eventTime"],
            "account": PROD,
            "region": STATE_REGION,
            "group_id": jump,
            "action": "authorize",
            "direction": "ingress",
            "protocol": "tcp",
            "from_port": 22,
            "to_port": 22,
            "peer": "0.0.0.0/0",
            "actor": ALICE,
            "error_code": None,
        }
    )
    window = dict(
        account=PROD,
        region=STATE_REGION,
        direction="ingress",
        protocol="tcp",
        from_port=22,
        to_port=22,
        vpc_id=STATE_VPC,
        closed_by=None,
    )
    s.truth.update(
        state_at=STATE_AT,
        state_windows=[
            {
                **window,
                "group_id": legacy,
                "group_name": "legacy-bastion",
                "cidr": "0.0.0.0/0",
                "opened_how": "state",
                "opened_after": None,
                "opened_at": "2025-03-14T08:21:07Z",
                "opened_by": None,
                "closed_after": None,
                "closed_at": None,
                "close_reason": None,
                "still_open": True,
                "open_before_evidence": True,
            },
            {
                **window,
                "group_id": jump,
                "group_name": "jump-host",
                "cidr": "0.0.0.0/0",
                "opened_how": "logged",
                "opened_after": None,
                "opened_at": opened["eventTime"],
                "opened_by": ALICE,
                "closed_after": "2026-11-03T08:01:10Z",
                "closed_at": "2026-11-03T15:01:30Z",
                "close_reason": "closed, not logged",
                "still_open": False,
                "open_before_evidence": False,
            },
            {
                **window,
                "group_id": runner,
                "group_name": "build-runner",
                "cidr": "0.0.0.0/0",
                "opened_how": "config",
                "opened_after": "2026-09-01T00:00:00Z",
                "opened_at": "2026-11-02T13:10:00Z",
                "opened_by": None,
                "closed_after": "2026-11-02T13:10:00Z",
                "closed_at": "2026-11-02T17:45:00Z",
                "close_reason": "closed, not logged",
                "still_open": False,
                "open_before_evidence": False,
            },
            {
                **window,
                "group_id": web,
                "group_name": "old-web",
                "cidr": "::/0",
                "opened_how": "state",
                "opened_after": None,
                "opened_at": "2025-11-30T12:00:00Z",
                "opened_by": None,
                "closed_after": "2025-11-30T12:00:00Z",
                "closed_at": "2026-11-03T09:30:00Z",
                "close_reason": "group deleted, not logged",
                "still_open": False,
                "open_before_evidence": True,
            },
        ],
    )
    s.truth["windows"].extend(s.truth["state_windows"])
    s.truth.update(
        reconcile=[
            {
                "kind": "opened_not_logged",
                "group_id": legacy,
                "after": None,
                "before": "2025-03-14T08:21:07Z",
                "related_events": None,
                "coverage": "before the logs begin",
            },
            {
                "kind": "opened_not_logged",
                "group_id": web,
                "after": None,
                "before": "2025-11-30T12:00:00Z",
                "related_events": None,
                "coverage": "before the logs begin",
            },
            {
                "kind": "opened_not_logged",
                "group_id": runner,
                "after": "2026-09-01T00:00:00Z",
                "before": "2026-11-02T13:10:00Z",
                "related_events": None,
            },
            {
                "kind": "related_events_missing",
                "group_id": runner,
                "after": "2026-09-01T00:00:00Z",
                "before": "2026-11-02T13:10:00Z",
                "related_events": runner_events[0],
            },
            {
                "kind": "closed_not_logged",
                "group_id": runner,
                "after": "2026-11-02T13:10:00Z",
                "before": "2026-11-02T17:45:00Z",
                "related_events": None,
            },
            {
                "kind": "related_events_missing",
                "group_id": runner,
                "after": "2026-11-02T13:10:00Z",
                "before": "2026-11-02T17:45:00Z",
                "related_events": runner_events[1],
            },
            {
                "kind": "deleted_not_logged",
                "group_id": web,
                "after": "2025-11-30T12:00:00Z",
                "before": "2026-11-03T09:30:00Z",
                "related_events": None,
            },
            {
                "kind": "related_events_missing",
                "group_id": web,
                "after": "2025-11-30T12:00:00Z",
                "before": "2026-11-03T09:30:00Z",
                "related_events": web_event,
            },
            {
                "kind": "closed_not_logged",
                "group_id": jump,
                "after": "2026-11-03T08:01:10Z",
                "before": "2026-11-03T15:01:30Z",
                "related_events": None,
            },
            {
                "kind": "related_events_missing",
                "group_id": jump,
                "after": "2026-11-03T08:01:10Z",
                "before": "2026-11-03T15:01:30Z",
                "related_events": closed["eventID"],
            },
        ],
        state_intake={"files": 4, "items": 12, "other_types": {"AWS::EC2::Volume": 1}},
        deleted_log_event=closed["eventID"],
    )


def _ec2_ssh(cidr: str) -> dict:
    return {
        "FromPort": 22,
        "IpProtocol": "tcp",
        "IpRanges": [{"CidrIp": cidr}],
        "Ipv6Ranges": [],
        "PrefixListIds": [],
        "ToPort": 22,
        "UserIdGroupPairs": [],
    }


def _described(group: str, name: str, ingress: list[dict]) -> dict:
    """One group as `aws ec2 describe-security-groups` prints it."""
    return {
        "Description": f"{name} group",
        "GroupName": name,
        "IpPermissions": ingress,
        "OwnerId": PROD,
        "GroupId": group,
        "IpPermissionsEgress": [
            {
                "IpProtocol": "-1",
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                "Ipv6Ranges": [],
                "PrefixListIds": [],
                "UserIdGroupPairs": [],
            }
        ],
        "VpcId": STATE_VPC,
        "SecurityGroupArn": f"arn:aws:ec2:{STATE_REGION}:{PROD}:security-group/{group}",
    }


def write_state(s: Scenario, evidence: Path) -> None:
    """Config's files gzipped under their S3 keys; the describe answer as the CLI prints it."""
    for key, document in s.state_files.items():
        path = evidence / key
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(document, indent=None if key.endswith(".gz") else 4).encode()
        path.write_bytes(igzip.compress(text) if key.endswith(".gz") else text)


STORIES.append(state_story)
STORIES.append(flow_story)  # after state_story: every window, from the logs and from state, is known


# --- the signed digest chain ----------------------------------------------------------------------

DEMO_BUCKET = "demo-trail-logs"
_LOG_KEY = re.compile(r"^(?P<root>(?:.*/)?AWSLogs/(?:o-[a-z0-9]+/)?)(?P<account>\d{12})/CloudTrail/"
                      r"(?P<region>[a-z0-9-]+)/\d{4}/\d{2}/\d{2}/[^/]+\.json\.gz$")


def key_fingerprint(public_key: rsa.RSAPublicKey) -> str:
    """A 32-hex fingerprint, the form CloudTrail's have (here the MD5 of the PKCS #1 DER)."""
    return hashlib.md5(public_key.public_bytes(Encoding.DER, PublicFormat.PKCS1)).hexdigest()


def public_keys_answer(key: rsa.RSAPrivateKey, valid_from: datetime, valid_until: datetime) -> dict:
    """The key as `aws cloudtrail list-public-keys` would print it."""
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.PKCS1)
    return {"PublicKeyList": [{
        "Value": base64.b64encode(der).decode(), "ValidityStartTime": iso(valid_from),
        "ValidityEndTime": iso(valid_until), "Fingerprint": key_fingerprint(key.public_key())}]}


def write_digests(evidence: Path, key: rsa.RSAPrivateKey, bucket: str = DEMO_BUCKET,
                  prefix: str = "") -> dict[str, str]:
    """Sign the trail files under `evidence` as CloudTrail does with log file validation on: per
    account, region and trail folder, one digest an hour from the first file's hour to the last,
    each listing the files delivered in its hour (SHA-256 of the uncompressed content) and chained
    to the one before (the first names none). Keys in the digests are `prefix` + the path.
    Returns digest key -> hex signature: the S3 metadata `signature` the files do not carry."""
    chains: dict[tuple[str, str, str], list[tuple[datetime, dict]]] = {}
    for path in sorted(evidence.rglob("*.json.gz")):
        rel = path.relative_to(evidence).as_posix()
        match = _LOG_KEY.match(rel)
        if match:
            delivered = datetime.strptime(rel.rsplit("_", 2)[-2], "%Y%m%dT%H%MZ")
            delivered = delivered.replace(tzinfo=timezone.utc)
            chains.setdefault((match["root"], match["account"], match["region"]), []).append(
                (delivered, _listed(bucket, prefix + rel, igzip.decompress(path.read_bytes()))))
    fingerprint = key_fingerprint(key.public_key())
    signatures = {}
    for (root, account, region), files in sorted(chains.items()):
        trail = "org-trail" if "/o-" in f"/{root}" else "account-trail"
        hour = min(f[0] for f in files).replace(minute=0, second=0, microsecond=0)
        previous: tuple[str, str, str] | None = None  # key, SHA-256, signature
        while hour <= max(f[0] for f in files):
            end = hour + timedelta(hours=1)
            digest_key = (f"{prefix}{root}{account}/CloudTrail-Digest/{region}/{end:%Y/%m/%d}/"
                          f"{account}_CloudTrail-Digest_{region}_{trail}_{region}_"
                          f"{end:%Y%m%dT%H%M%SZ}.json.gz")
            body = {
                "awsAccountId": account, "digestStartTime": iso(hour), "digestEndTime": iso(end),
                "digestS3Bucket": bucket, "digestS3Object": digest_key,
                "digestPublicKeyFingerprint": fingerprint,
                "digestSignatureAlgorithm": "SHA256withRSA",
                "previousDigestS3Bucket": bucket if previous else None,
                "previousDigestS3Object": previous[0] if previous else None,
                "previousDigestHashValue": previous[1] if previous else None,
                "previousDigestHashAlgorithm": "SHA-256" if previous else None,
                "previousDigestSignature": previous[2] if previous else None,
                "logFiles": [listed for when, listed in files if hour <= when < end],
            }
            content = json.dumps(body).encode()
            signed = signing_string(body, content)
            signature = key.sign(signed, padding.PKCS1v15(), hashes.SHA256()).hex()
            local = evidence / digest_key.removeprefix(prefix)
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(igzip.compress(content))
            signatures[digest_key] = signature
            previous = (digest_key, hashlib.sha256(content).hexdigest(), signature)
            hour = end
    return signatures


def _listed(bucket: str, key: str, data: bytes) -> dict:
    times = [r["eventTime"] for r in json.loads(data).get("Records", [])
             if isinstance(r.get("eventTime"), str)]
    return {"s3Bucket": bucket, "s3Object": key, "hashValue": hashlib.sha256(data).hexdigest(),
            "hashAlgorithm": "SHA-256", "newestEventTime": max(times, default=None),
            "oldestEventTime": min(times, default=None)}


def sign_demo_trail(out: Path) -> int:
    """Digests over out/evidence signed by a fresh demo key; beside the logs, where validate-logs
    looks, its public key (ListPublicKeys JSON, public-keys.json) and the signatures (digest key ->
    hex, digest-signatures.json), as a folder not made by collect would hold them."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signatures = write_digests(out / "evidence", key)
    answer = public_keys_answer(key, START - timedelta(days=1), START + timedelta(days=DAYS + 2))
    for name, data in (("public-keys.json", answer), ("digest-signatures.json", signatures)):
        (out / "evidence" / name).write_text(json.dumps(data, indent=1), encoding="utf-8")
    return len(signatures)
