"""Actors: every kind of CloudTrail identity, named as an investigator would, with the tool used."""

from __future__ import annotations

import pytest

from audit_toolkit.analysis import actors
from audit_toolkit.analysis.actors import principal, resolve, tool_of


@pytest.mark.parametrize(
    "identity, actor, kind, arn, session",
    [
        ({"identity_type": "IAMUser", "identity_arn": "arn:aws:iam::1:user/alice"}, "arn:aws:iam::1:user/alice", "IAMUser", "arn:aws:iam::1:user/alice", None),
        ({"identity_type": "Root", "identity_arn": "arn:aws:iam::1:root", "identity_account": "1"}, "root (1)", "Root", "arn:aws:iam::1:root", None),
        ({"identity_type": "AssumedRole", "identity_arn": "arn:aws:sts::1:assumed-role/admin/bob", "issuer_arn": "arn:aws:iam::1:role/admin", "issuer_name": "admin"},
         "arn:aws:iam::1:role/admin (session bob)", "AssumedRole", "arn:aws:iam::1:role/admin", "bob"),
        ({"identity_type": "AssumedRole", "identity_arn": "arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_12/carol@x", "issuer_arn": "arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_12", "issuer_name": "AWSReservedSSO_Admin_12"},
         "carol@x (SSO via arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_12)", "SSOUser", "arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_12", "carol@x"),
        ({"identity_type": "FederatedUser", "identity_arn": "arn:aws:sts::1:federated-user/dave"}, "arn:aws:sts::1:federated-user/dave", "FederatedUser", "arn:aws:sts::1:federated-user/dave", None),
        ({"identity_type": "AWSService", "invoked_by": "cloudtrail.amazonaws.com"}, "cloudtrail.amazonaws.com", "AWSService", None, None),
        ({"identity_type": "IdentityCenterUser", "on_behalf_of": "user-123"}, "user-123", "IdentityCenterUser", None, None),
        ({"identity_type": "AWSAccount", "identity_account": "999"}, "account 999", "AWSAccount", None, None),
        ({"identity_type": None}, "unknown", None, None, None),
    ],
)
def test_identities(identity, actor, kind, arn, session):
    got = resolve(identity)
    assert (got["actor"], got["actor_type"], got["actor_arn"], got["session_name"]) == (actor, kind, arn, session)


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"access_key_id": "ASIAMALLORY000000001", "actor_arn": "arn:aws:iam::1:role/ops-admin", "actor": "x"}, "ASIAMALLORY000000001"),
        ({"access_key_id": "AKIAALICE00000000001", "actor_arn": "arn:aws:iam::1:user/alice", "actor": "x"}, "arn:aws:iam::1:user/alice"),
        ({"access_key_id": None, "actor_arn": None, "actor": "cloudformation.amazonaws.com"}, "cloudformation.amazonaws.com"),
    ],
)
def test_the_principal_to_follow_is_the_session_where_credentials_are_temporary(change, expected):
    assert principal(change) == expected


def test_a_service_acting_for_a_principal_is_named():
    got = resolve({"identity_type": "AssumedRole", "identity_arn": "arn:aws:sts::1:assumed-role/cfn/s", "issuer_arn": "arn:aws:iam::1:role/cfn",
                   "invoked_by": "cloudformation.amazonaws.com", "useragent": "cloudformation.amazonaws.com"})
    assert got["actor"] == "arn:aws:iam::1:role/cfn (session s) via cloudformation.amazonaws.com"
    assert got["tool"] == "CloudFormation"


@pytest.mark.parametrize(
    "agent, tool",
    [
        ("console.amazonaws.com", "console"),
        ("signin.amazonaws.com", "console"),
        ("aws-cli/2.17.60 md/awscrt#0.21.2 ua/2.0", "AWS CLI"),
        ("Boto3/1.34.2 md/Botocore#1.34.2", "boto3"),
        ("APN/1.0 HashiCorp/1.0 Terraform/1.1.2 terraform-provider-aws/3.76.1 aws-sdk-go/1.44.157", "Terraform"),
        ("aws-sdk-go-v2/1.25.3 os/linux", "AWS SDK (Go)"),
        ("aws-sdk-java/2.20.0 Linux", "AWS SDK (Java)"),
        ("ec2.amazonaws.com", "AWS service"),
        ("AWS Internal", "AWS internal"),
        ("stratus-red-team_2142a106", "other"),
        (None, "unknown"),
    ],
)
def test_tools(agent, tool):
    assert tool_of(agent) == tool


@pytest.mark.parametrize("actor, shown", [
    ("arn:aws:iam::333333333333:user/dave", "dave"),
    ("arn:aws:sts::333333333333:federated-user/dave", "dave (federated)"),  # anyone may mint this dave
    ("arn:aws:iam::111111111111:role/ops-admin", "ops-admin (role)"),
    ("arn:aws:iam::111111111111:role/ops-admin (session mallory)", "ops-admin / mallory"),
    ("arn:aws:iam::111111111111:user/alice via ec2.amazonaws.com", "alice via ec2.amazonaws.com"),
])
def test_the_short_form_never_makes_two_kinds_of_principal_one_name(actor, shown):
    assert actors.short(actor) == shown
