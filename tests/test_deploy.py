"""The deployable template: valid CloudFormation (cfn-lint), token from SSM, the same rule patterns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cfnlint.api import lint

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags kept as one-key maps: `!Ref X` loads as {"Ref": "X"}."""


_CfnLoader.add_multi_constructor("!", lambda loader, tag, node: {tag: loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else loader.construct_sequence(node)})


@pytest.fixture(scope="module")
def text():
    return (DEPLOY / "template.yaml").read_text()


@pytest.fixture(scope="module")
def template(text):
    return yaml.load(text, Loader=_CfnLoader)


def test_cfn_lint_finds_nothing(text):
    assert [str(m) for m in lint(text)] == []


def test_cfn_lint_would_catch_a_broken_template(text):
    broken = text.replace("Runtime: python3.11", "Runtime: python2.0").replace("!GetAtt AlertFunctionRole.Arn", "!GetAtt NoSuchRole.Arn")
    found = [str(m) for m in lint(broken)]
    assert any("python2.0" in m for m in found) and any("NoSuchRole" in m for m in found)


def _with_defaults(node, parameters):
    """The template with each `!Ref Parameter` replaced by the parameter's default."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and "Default" in parameters.get(node["Ref"], {}):
            return parameters[node["Ref"]]["Default"]
        return {k: _with_defaults(v, parameters) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_defaults(v, parameters) for v in node]
    return node


def test_the_template_carries_the_same_rule_patterns(template):
    resources = _with_defaults(template["Resources"], template["Parameters"])
    for name, file in (("SecurityGroupRule", "security-groups.json"), ("SnsChangeRule", "sns.json"), ("GuardDutyRule", "guardduty.json")):
        assert resources[name]["Properties"]["EventPattern"] == json.loads((DEPLOY / "eventbridge" / file).read_text()), name


def test_the_guardduty_threshold_is_the_min_severity_parameter(template):
    pattern = template["Resources"]["GuardDutyRule"]["Properties"]["EventPattern"]
    assert pattern["detail"]["severity"] == [{"numeric": [">=", {"Ref": "MinSeverity"}]}]
    env = template["Resources"]["AlertFunction"]["Properties"]["Environment"]["Variables"]
    assert env["ALERT_MIN_SEVERITY"] == {"Ref": "MinSeverity"}  # the function filters with the same number


def test_what_cannot_be_delivered_is_queued_and_alarmed(template):
    resources = template["Resources"]
    queue = {"GetAtt": "UndeliveredAlerts.Arn"}
    retries = resources["AlertFunctionRetries"]["Properties"]
    assert retries["DestinationConfig"]["OnFailure"]["Destination"] == queue
    assert resources["AlertSubscription"]["Properties"]["RedrivePolicy"] == {"deadLetterTargetArn": queue}
    rules = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    assert len(rules) == 5 and all(r["Properties"]["Targets"][0]["DeadLetterConfig"] == {"Arn": queue} for r in rules)
    alarms = {r["Properties"]["Namespace"]: r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms["AWS/Lambda"]["MetricName"] == "Errors"
    assert alarms["AWS/Lambda"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "AlertFunction"}}]
    assert alarms["AWS/SQS"]["Dimensions"] == [{"Name": "QueueName", "Value": {"GetAtt": "UndeliveredAlerts.QueueName"}}]


def test_the_function_role_is_least_privilege(template):
    role = template["Resources"]["AlertFunctionRole"]["Properties"]
    assert "ManagedPolicyArns" not in role  # AWSLambdaBasicExecutionRole may create any log group
    [policy] = role["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert {sid: s["Action"] for sid, s in statements.items()} == {
        "ReadChatworkToken": "ssm:GetParameter",
        "WriteOwnLogs": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "OnFailureDestination": "sqs:SendMessage",
    }
    assert all(s["Effect"] == "Allow" and "*" not in json.dumps(s["Resource"]) for s in statements.values())
    assert statements["WriteOwnLogs"]["Resource"] == {"GetAtt": "AlertFunctionLogs.Arn"}


def test_the_function_needs_no_layer(template):
    function = template["Resources"]["AlertFunction"]["Properties"]
    assert "Layers" not in function and "DependenciesLayerArn" not in template["Parameters"]


def test_the_token_is_read_from_ssm_at_run_time_and_is_nowhere_in_the_template(template, text):
    function = template["Resources"]["AlertFunction"]["Properties"]
    env = function["Environment"]["Variables"]
    assert env["CHATWORK_TOKEN_PARAMETER"] == {"Ref": "TokenParameterName"} and "CHATWORK_API_TOKEN" not in env
    assert function["Handler"] == "audit_toolkit.alerts.handler"
    statements = template["Resources"]["AlertFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    [statement] = [s for s in statements if s["Sid"] == "ReadChatworkToken"]
    assert statement["Action"] == "ssm:GetParameter" and "${TokenParameterName}" in statement["Resource"]["Sub"]
    assert "resolve:ssm" not in text and "ChatworkToken" not in template["Parameters"]


def test_concurrency_is_one_unless_the_account_cannot_reserve_any(template):
    function = template["Resources"]["AlertFunction"]["Properties"]
    assert function["ReservedConcurrentExecutions"] == {
        "If": ["ReservesConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    assert template["Parameters"]["ReservedConcurrency"]["Default"] == 1
    assert template["Conditions"]["ReservesConcurrency"] == {"Not": [{"Equals": [{"Ref": "ReservedConcurrency"}, 0]}]}
