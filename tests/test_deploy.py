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


def test_the_template_carries_the_same_rule_patterns(template):
    resources = template["Resources"]
    for name, file in (("SecurityGroupRule", "security-groups.json"), ("SnsChangeRule", "sns.json"), ("GuardDutyRule", "guardduty.json")):
        assert resources[name]["Properties"]["EventPattern"] == json.loads((DEPLOY / "eventbridge" / file).read_text()), name


def test_the_token_is_read_from_ssm_at_run_time_and_is_nowhere_in_the_template(template, text):
    function = template["Resources"]["AlertFunction"]["Properties"]
    env = function["Environment"]["Variables"]
    assert env["CHATWORK_TOKEN_PARAMETER"] == {"Ref": "TokenParameterName"} and "CHATWORK_API_TOKEN" not in env
    assert function["Handler"] == "audit_toolkit.alerts.handler"
    [statement] = template["Resources"]["AlertFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "ssm:GetParameter" and "${TokenParameterName}" in statement["Resource"]["Sub"]
    assert "resolve:ssm" not in text and "ChatworkToken" not in template["Parameters"]
