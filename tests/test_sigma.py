"""Sigma rules compiled to the registry's SQL: every modifier and condition form against events built
for it (matching and not), the community's CloudTrail rules, and hits beside the catalogue's."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from _aws import aws_env, moto_server  # noqa: F401 (fixtures)
from audit_toolkit import Investigation, sigma
from audit_toolkit.sigma import compile_rule


def _event(n: int, name: str, source: str = "iam.amazonaws.com", **extra) -> dict:
    record = {
        "eventVersion": "1.08", "eventTime": f"2026-11-03T09:{n:02d}:00Z", "eventSource": source,
        "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.1",
        "userAgent": "Boto3/1.34 Python/3.11", "eventID": f"00000000-0000-0000-0000-{n:012d}",
        "eventType": "AwsApiCall", "recipientAccountId": "111122223333",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice",
                         "accountId": "111122223333", "userName": "alice"},
        "requestParameters": None, "responseElements": None,
    }
    record.update(extra)
    return record


EVENTS = [
    _event(1, "CreateUser", requestParameters={"userName": "Backdoor-Admin"}, userAgent="aws-cli/2.13 Python/3.11"),
    _event(2, "CreateUser", requestParameters={"userName": "bob"}, userAgent="AWS-CLI/2.13 (Linux)"),
    _event(3, "DeleteUser", requestParameters={"userName": "carol"}, errorCode="AccessDenied",
           errorMessage="User is not authorized", sourceIPAddress="203.0.113.77"),
    _event(4, "AddUserToGroup", requestParameters={"groupName": "admins", "userNames": ["dave", "Eve"]}),
    _event(5, "PutBucketPolicy", "s3.amazonaws.com",
           requestParameters={"bucketName": "logs", "bucketPolicy": {"Statement": [{"Principal": "*"}]}},
           userIdentity={"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/ops/mallory",
                         "accountId": "111122223333",
                         "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "ops",
                                                              "arn": "arn:aws:iam::111122223333:role/ops"}}}),
    _event(6, "ConsoleLogin", "signin.amazonaws.com", responseElements={"ConsoleLogin": "Failure"},
           additionalEventData={"MFAUsed": "No"}, sourceIPAddress="2001:db8::7"),
]


@pytest.fixture(scope="module")
def inv(tmp_path_factory) -> Investigation:
    folder = tmp_path_factory.mktemp("sigma-evidence")
    (folder / "events.json").write_text(json.dumps({"Records": EVENTS}), encoding="utf-8")
    return Investigation.from_evidence(folder)


def _rule(detection: str, level: str = "high") -> str:
    return textwrap.dedent("""\
        title: test rule
        id: 11111111-2222-3333-4444-555555555555
        author: Test Author
        tags:
            - attack.persistence
            - attack.t1136.003
        logsource:
            product: aws
            service: cloudtrail
        detection:
        {detection}
        level: {level}
        """).format(detection=textwrap.indent(textwrap.dedent(detection), "    "), level=level)


def _hits(inv: Investigation, tmp_path: Path, detection: str) -> list[int]:
    path = tmp_path / "rule.yml"
    path.write_text(_rule(detection), encoding="utf-8")
    found = inv.detect(only=["cloudtrail_stopped"], sigma=[path])
    found = found[found["detection"] == "11111111-2222-3333-4444-555555555555"]
    return sorted(int(e[-12:]) for e in found["event_id"])


CASES = [
    ("a value is case-insensitive", "selection:\n    eventName: createuser\ncondition: selection", [1, 2]),
    ("a list of values is any of them", "selection:\n    eventName:\n        - DeleteUser\n        - ConsoleLogin\n"
     "condition: selection", [3, 6]),
    ("|contains", "selection:\n    userAgent|contains: CLI\ncondition: selection", [1, 2]),
    ("|startswith", "selection:\n    userAgent|startswith: aws-cli/2\ncondition: selection", [1, 2]),
    ("|endswith", "selection:\n    userAgent|endswith: (linux)\ncondition: selection", [2]),
    ("|contains|all", "selection:\n    userAgent|contains|all:\n        - cli\n        - python\ncondition: selection",
     [1]),
    ("wildcards * and ?", "selection:\n    eventName:\n        - 'Delete?ser'\n        - 'Put*Policy'\n"
     "condition: selection", [3, 5]),
    ("a literal % or _ is no wildcard", "selection:\n    eventName: 'Create_ser'\ncondition: selection", []),
    ("|re is case-sensitive", "selection:\n    requestParameters.userName|re: '^Back.*Admin$'\ncondition: selection",
     [1]),
    ("|re with the i flag", "selection:\n    requestParameters.userName|re|i: '^backdoor'\ncondition: selection", [1]),
    ("|cidr (IPv4)", "selection:\n    sourceIPAddress|cidr: 203.0.113.0/24\ncondition: selection", [3]),
    ("|cidr (IPv6)", "selection:\n    sourceIPAddress|cidr: '2001:db8::/32'\ncondition: selection", [6]),
    ("|exists: true", "selection:\n    errorCode|exists: true\ncondition: selection", [3]),
    ("|exists: false", "selection:\n    errorCode|exists: false\n    eventSource: iam.amazonaws.com\n"
     "condition: selection", [1, 2, 4]),
    ("null is an absent field", "selection:\n    requestParameters.userName: null\ncondition: selection", [4, 5, 6]),
    ("|cased", "selection:\n    userAgent|cased|startswith: AWS-CLI\ncondition: selection", [2]),
    ("a struct field", "selection:\n    userIdentity.sessionContext.sessionIssuer.userName: OPS\ncondition: selection",
     [5]),
    ("a JSON field nested", "selection:\n    requestParameters.bucketPolicy.Statement|contains: '\"Principal\":\"*\"'\n"
     "condition: selection", [5]),
    ("a value inside a JSON list", "selection:\n    requestParameters.userNames: eve\ncondition: selection", [4]),
    ("responseElements and additionalEventData",
     "selection:\n    responseElements.ConsoleLogin: failure\n    additionalEventData.MFAUsed: 'no'\n"
     "condition: selection", [6]),
    ("status: failure", "selection:\n    status: failure\ncondition: selection", [3]),
    ("keywords search the logged text", "keywords:\n    - backdoor\ncondition: keywords", [1]),
    ("and not", "selection:\n    eventName: CreateUser\nfilter:\n    requestParameters.userName: bob\n"
     "condition: selection and not filter", [1]),
    ("or, with brackets", "a:\n    eventName: CreateUser\nb:\n    eventName: DeleteUser\nc:\n"
     "    userAgent|contains: linux\ncondition: (a or b) and not c", [1, 3]),
    ("1 of selection_*", "selection_a:\n    eventName: AddUserToGroup\nselection_b:\n    eventName: ConsoleLogin\n"
     "condition: 1 of selection_*", [4, 6]),
    ("all of selection_*", "selection_a:\n    eventSource: iam.amazonaws.com\nselection_b:\n    errorCode: AccessDenied\n"
     "condition: all of selection_*", [3]),
    ("all of them", "s1:\n    eventSource: s3.amazonaws.com\ns2:\n    eventName: PutBucketPolicy\n"
     "condition: all of them", [5]),
    ("|fieldref", "selection:\n    userIdentity.userName|fieldref: requestParameters.userName\ncondition: selection",
     []),
    ("a list of maps is any of them", "selection:\n    - eventName: DeleteUser\n    - eventSource: signin.amazonaws.com\n"
     "condition: selection", [3, 6]),
]


@pytest.mark.parametrize("detection, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_modifier_and_condition_form_matches_exactly_its_events(inv, tmp_path, detection, expected):
    assert _hits(inv, tmp_path, detection) == expected


def test_all_the_rules_run_as_one_scan_and_each_keeps_exactly_its_events(inv, tmp_path):
    for n, (_, detection, _) in enumerate(CASES):
        text = _rule(detection).replace("555555555555", f"5555555555{n:02d}")
        (tmp_path / f"rule-{n:02d}.yml").write_text(text, encoding="utf-8")
    found = inv.detect(only=["cloudtrail_stopped"], sigma=[tmp_path])
    got = {d: sorted(int(e[-12:]) for e in rows["event_id"]) for d, rows in found.groupby("detection")}
    assert got == {f"11111111-2222-3333-4444-5555555555{n:02d}": expected
                   for n, (_, _, expected) in enumerate(CASES) if expected}
    # each rule's events counted with their first ids (the rules naming their event names, then the
    # others), then the rows of the rules that match any (27 of the 29) fetched by id in one scan
    assert [e["query"] for e in inv.log[-4:]] == [
        "union(detect_cloudtrail_stopped)", "sigma counts(7 rules)", "sigma counts(22 rules)",
        "sigma(27 rules)"]


def test_rules_are_read_once_whatever_the_number_of_scopes(inv, tmp_path, monkeypatch):
    path = tmp_path / "rule.yml"
    path.write_text(_rule("selection:\n    eventName: DeleteUser\ncondition: selection"), encoding="utf-8")
    compiled = []
    monkeypatch.setattr(sigma, "compile_rule", lambda *a: compiled.append(a) or compile_rule(*a))
    found = inv.detect(account=["111122223333", "444455556666"], region=["us-east-1", "eu-west-1"],
                       only=["cloudtrail_stopped"], sigma=[path])
    assert len(compiled) == 1 and found["event_id"].tolist() == ["00000000-0000-0000-0000-000000000003"]


def test_a_hit_carries_the_rules_id_title_level_tags_and_author(inv, tmp_path):
    path = tmp_path / "rule.yml"
    path.write_text(_rule("selection:\n    eventName: DeleteUser\ncondition: selection", level="critical"))
    found = inv.detect(only=["cloudtrail_stopped"], sigma=[path])
    [hit] = found.to_dict("records")
    assert (hit["detection"], hit["title"], hit["severity"], hit["technique"]) == (
        "11111111-2222-3333-4444-555555555555", "test rule", "critical", "T1136.003")
    assert (hit["rule_author"], hit["rule_tags"], hit["outcome"], hit["error_code"]) == (
        "Test Author", "attack.persistence, attack.t1136.003", "attempt", "AccessDenied")
    assert hit["actor"] == "arn:aws:iam::111122223333:user/alice" and hit["detail"] == "attempted: Sigma rule 'test rule' by Test Author"
    assert inv.detect(only=["cloudtrail_stopped"], sigma=[path], min_severity="critical")["detection"].tolist() == [
        "11111111-2222-3333-4444-555555555555"]


def test_a_name_prefix_is_tested_first_and_matches_exactly(inv, tmp_path):
    detection = "selection:\n    eventName|startswith: Create\ncondition: selection"
    assert compile_rule(_rule(detection)).event_names == frozenset({"create*"})
    escaped = "selection:\n    eventName: 'Create\\*'\ncondition: selection"  # a literal `*`
    assert compile_rule(_rule(escaped)).event_names is None
    assert _hits(inv, tmp_path, detection) == [1, 2]
    [counted] = [e for e in inv.log[-3:] if e["query"] == "sigma counts(1 rules)"]
    assert "lower(eventname) LIKE 'create%'" in counted["athena_sql"].split("FROM cloudtrail")[1]


def test_a_rule_matching_more_than_the_cap_keeps_exactly_its_first_events(tmp_path):
    """Counted, then fetched by its first events: a later record of the same eventID is not one of
    them. The rules with few events share a fetch; a rule with many has its own."""
    from audit_toolkit import queries

    later = _event(7, "CreateUser", eventID=EVENTS[0]["eventID"])  # one id, two records
    (tmp_path / "events.json").write_text(json.dumps({"Records": EVENTS + [later]}))
    inv = Investigation.from_evidence(tmp_path)
    rules = [compile_rule(_rule(f"selection:\n    {field}\ncondition: selection").replace(
        "555555555555", f"55555555555{n}")) for n, field in enumerate(
        ["eventSource: iam.amazonaws.com", "eventName: ConsoleLogin", "eventName: PutBucketPolicy"])]
    found = sigma.run(rules, lambda q, **v: inv.query(q, **queries.scope(), **v), limit=2, batch=3)
    got = {d: sorted(rows["event_time"].dt.minute) for d, rows in found.groupby("detection")}
    assert got == {rules[0].id: [1, 2], rules[1].id: [6], rules[2].id: [5]}
    assert found.attrs["sigma_capped"] == {rules[0].id: 5}
    assert found.attrs["sigma_counts"] == {rules[0].id: 5, rules[1].id: 1, rules[2].id: 1}
    assert [e["query"] for e in inv.log[-4:]] == [
        "sigma counts(2 rules)", "sigma counts(1 rules)", "sigma(2 rules)", "sigma(1 rules)"]


@pytest.mark.parametrize("text, reason", [
    ("title: x\nlogsource: {product: windows, service: security}\ndetection: {s: {EventID: 1}, condition: s}",
     "not a CloudTrail rule"),
    (_rule("selection:\n    nope.field: 1\ncondition: selection"), "field 'nope.field' is not a CloudTrail field"),
    (_rule("selection:\n    eventName: x\ncondition: selection | count() > 5"),
     "an aggregation in the condition ('selection | count() > 5'): not the legacy count() form "
     "with a timeframe"),
    (_rule("a:\n    eventName: x\nb:\n    eventName: y\ncondition: a | near b"),
     "the legacy near form with no timeframe"),
    ("title: c\ncorrelation: {type: event_count, rules: [x], timespan: 1h, condition: {gt: 1}}",
     "the correlation names rules not in the rule set: x"),
    ("- just a list", "not a Sigma rule"),
    ("title: [unclosed", "YAMLError" if False else "ParserError"),
])
def test_a_rule_that_cannot_be_compiled_is_listed_with_its_reason(tmp_path, text, reason):
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text(_rule("selection:\n    eventName: CreateUser\ncondition: selection"))
    bad.write_text(text)
    rules = sigma.load([tmp_path])
    assert [r.path for r in rules.rules] == [str(good)]
    [(path, why)] = rules.refused
    assert path == str(bad) and reason in why


def test_a_value_cannot_inject_sql_or_parameters(inv, tmp_path):
    detection = "selection:\n    eventName: \"x') OR 1=1 --\"\n    userAgent: ':since'\ncondition: selection"
    assert _hits(inv, tmp_path, detection) == []


def test_sigmahq_cloudtrail_rules_compile_or_are_listed_with_their_reason(real_data):
    folder = real_data / "sigmahq-rules-aws"
    rules = sigma.load([folder])
    plain = [r for r in rules.rules if r.correlation is None]
    assert len(plain) == 57 and all("/rules/" in r.path for r in plain)
    # the 8 counting rules: 7 read as the correlations they mean, one listed with its reason
    correlated = {Path(r.path).name: (c.type, c.timespan, c.group_by, c.op, c.count)
                  for r in rules.rules if (c := r.correlation)}
    assert correlated == {
        "aws_ec2_download_userdata.yml": ("event_count", "30m", (), "gt", 10),
        "aws_enum_backup.yml": ("event_count", "10m", (), "gt", 5),
        "aws_enum_listing.yml": ("event_count", "10m", (), "gt", 50),
        "aws_enum_network.yml": ("event_count", "10m", (), "gt", 5),
        "aws_enum_storage.yml": ("event_count", "10m", (), "gt", 5),
        "aws_macic_evasion.yml": ("event_count", "10m", ("sourceIPAddress",), "gt", 5),
        "aws_ses_messaging_enabled.yml": ("temporal", "5m", (), "gte", 2),
    }
    [(path, why)] = rules.refused
    assert Path(path).name == "aws_lambda_function_created_or_invoked.yml" and "no timeframe" in why
    assert all(r.author and r.author != "unknown" for r in rules.rules)


def test_sigmahq_rules_on_the_real_stratus_run(real_data):
    inv = Investigation.from_evidence(real_data / "invictus-ir-aws_dataset" / "CloudTrail")
    found = inv.detect(only=["cloudtrail_stopped"], sigma=[real_data / "sigmahq-rules-aws"])
    sigma_hits = found[found["rule_author"].notna()]
    by_title = sigma_hits.groupby("title").size().to_dict()
    # the run stopped and deleted trails and changed their selectors: SigmaHQ's CloudTrail rule sees each
    assert by_title["AWS CloudTrail Important Change"] == int(
        inv.events()["eventname"].isin(["StopLogging", "DeleteTrail", "UpdateTrail"]).sum())
    assert len(found.attrs["sigma_refused"]) == 1
    # SigmaHQ's listing burst (more than 50 list* calls in 10 minutes), against a count made here
    events = inv.events()
    listed = events[events["eventname"].str.lower().str.startswith("list")]
    times = sorted(zip(pd.to_datetime(listed["eventtime"], utc=True), listed["eventid"]))
    span = pd.Timedelta(minutes=10)
    met = [sum(1 for u, _ in times if t - span <= u <= t) > 50 for t, _ in times]
    crossed = [e for (_, e), m, before in zip(times, met, [False] + met) if m and not before]
    hits = sigma_hits[sigma_hits["title"] == "Account Enumeration on AWS"]
    assert len(crossed) == 2 and sorted(hits["event_id"]) == sorted(crossed)


def test_on_athena_the_same_sql_is_submitted_and_gives_duckdbs_hits(aws_env, real_data):
    """moto does not run SQL: each answer is canned from DuckDB's answer to the same query, so this
    proves the Athena side (the text submitted, bound by PyAthena, typed back), not Athena itself.
    The plain rules are counted and fetched in a few scans, not one per rule; each correlation is
    one more."""
    import boto3
    from pyathena.formatter import DefaultParameterFormatter

    from _aws import set_athena_results
    from test_athena_engine import OUTPUT, logged_answers
    from audit_toolkit import queries
    from audit_toolkit.engines.athena import AthenaSettings

    duck = Investigation.from_evidence(real_data / "invictus-ir-aws_dataset" / "CloudTrail")
    rules = sigma.load([real_data / "sigmahq-rules-aws"])
    values = queries.scope("2023-07-10T11:00:00Z", "2023-07-10T13:00:00Z")
    expected = duck.detect(values["since"], values["until"], only=["cloudtrail_stopped"], sigma=rules)
    asked = duck.log[-len([e for e in duck.log if e["engine"] == "duckdb"]):]
    # the rules naming their event names or a prefix of them (AWS New Lambda Layer Attached's)
    assert [e["query"] for e in asked][:3] == ["union(detect_cloudtrail_stopped)",
                                              "sigma counts(53 rules)", "sigma counts(4 rules)"]
    assert sum(e["query"].startswith("sigma_") for e in asked) == 7  # the correlations
    set_athena_results(aws_env, logged_answers(duck, asked))
    reports = []
    inv = Investigation.on_athena(AthenaSettings.load(output_location=OUTPUT, poll_interval=0.02),
                                  on_report=reports.append)
    hits = inv.detect(values["since"], values["until"], only=["cloudtrail_stopped"], sigma=rules)
    pd.testing.assert_frame_equal(hits, expected)
    assert len(hits[hits["rule_author"].notna()]) > 0
    assert [e["query"] for e in inv.log] == [e["query"] for e in asked]
    client = boto3.client("athena")
    for entry, report, duck_entry in zip(inv.log, reports, asked, strict=True):
        submitted = client.get_query_execution(QueryExecutionId=report.query_id)["QueryExecution"]["Query"]
        athena = queries.to_pyformat(duck_entry["athena_sql"])  # the one text both engines ran
        assert submitted == DefaultParameterFormatter().format(athena, entry["params"])
        assert "day >= '2023/07/10'" in submitted  # scoped to the days asked, like every query


# |cidr: the address parsed to a number (IPv4) or its 32 hex digits (IPv6), compared as a range.
ADDRESSES = ["203.0.112.255", "203.0.113.0", "203.0.113.77", "203.0.113.255", "203.0.114.0",
             "203.0.113.256", "203.0.113.evil", "203.0.113", "AWS Internal", "lambda.amazonaws.com",
             "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::", "2001:0DB8:0000::1",
             "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::", "2001:db8::1::2", "::1", "::",
             "2001:db8:g::1"]


@pytest.fixture(scope="module")
def addresses(tmp_path_factory) -> Investigation:
    folder = tmp_path_factory.mktemp("sigma-addresses")
    events = [_event(n, "GetCallerIdentity", "sts.amazonaws.com", sourceIPAddress=a)
              for n, a in enumerate(ADDRESSES, start=1)]
    (folder / "events.json").write_text(json.dumps({"Records": events}), encoding="utf-8")
    return Investigation.from_evidence(folder)


def _matched(inv: Investigation, tmp_path: Path, detection: str) -> list[str]:
    return [ADDRESSES[n - 1] for n in _hits(inv, tmp_path, detection)]


@pytest.mark.parametrize("network, inside", [
    ("203.0.113.0/24", ["203.0.113.0", "203.0.113.77", "203.0.113.255"]),
    ("203.0.113.77/32", ["203.0.113.77"]),
    ("0.0.0.0/0", ["203.0.112.255", "203.0.113.0", "203.0.113.77", "203.0.113.255", "203.0.114.0"]),
    ("2001:db8::/32",
     ["2001:db8::", "2001:0DB8:0000::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"]),
    ("::1/128", ["::1"]),
    ("::/127", ["::1", "::"]),
])
def test_cidr_matches_the_addresses_inside_the_network_to_its_edges_and_no_other_text(
        addresses, tmp_path, network, inside):
    """Edges on both sides of each network, text that only looks like an address (a prefix match
    would take '203.0.113.256' and '203.0.113.evil'), and IPv6 in any spelling."""
    got = _matched(addresses, tmp_path, f"selection:\n    sourceIPAddress|cidr: '{network}'\n"
                                        "condition: selection")
    assert got == inside


def test_not_a_network_keeps_every_other_text_and_a_list_is_any_network(addresses, tmp_path):
    got = _matched(addresses, tmp_path, "selection:\n    eventName: GetCallerIdentity\n"
                   "filter:\n    sourceIPAddress|cidr:\n        - 203.0.113.0/24\n"
                   "        - 2001:db8::/32\n"
                   "condition: selection and not filter")
    assert got == [a for a in ADDRESSES if a not in {
        "203.0.113.0", "203.0.113.77", "203.0.113.255",
        "2001:db8::", "2001:0DB8:0000::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"}]


# Correlation rules: each type against bursts built for it and near-misses (one event short, outside
# the timespan, spread over groups). An event's id ends in its number; its time is 10:MM:SS.
def _at(n: int, time: str, name: str, who: str, **extra) -> dict:
    return _event(n, name, eventTime=f"2026-11-03T{time}Z",
                  userIdentity={"type": "IAMUser", "arn": f"arn:aws:iam::111122223333:user/{who}",
                                "accountId": "111122223333", "userName": who}, **extra)


def _secret(n: int, time: str, who: str, name: str = "db") -> dict:
    return _at(n, time, "GetSecretValue", who, eventSource="secretsmanager.amazonaws.com",
               requestParameters={"secretId": name})


CORRELATED = [
    # event_count >= 3 in 10m by identity: alice's third read is exactly 10m after her first
    _secret(1, "10:00:00", "alice"), _secret(2, "10:04:00", "alice"),
    _secret(3, "10:10:00", "alice"),
    _secret(4, "10:00:00", "bob"), _secret(5, "10:05:00", "bob"),  # one short
    _secret(6, "10:00:00", "carol"), _secret(7, "10:06:00", "carol"),
    _secret(8, "10:10:01", "carol"),  # 10m01s after carol's first: two in any window
    _secret(9, "10:20:00", "dave"), _secret(10, "10:21:00", "erin"),
    _secret(11, "10:22:00", "frank"),  # three in 2m, but three identities
    # value_count of secretId >= 3 in 10m by identity (gina: three names; hank: one name, 3 times)
    _secret(12, "11:00:00", "gina", "a"), _secret(13, "11:01:00", "gina", "a"),
    _secret(14, "11:02:00", "gina", "b"), _secret(15, "11:09:59", "gina", "c"),
    _secret(16, "11:00:00", "hank", "a"), _secret(17, "11:01:00", "hank", "a"),
    _secret(18, "11:02:00", "hank", "a"),
    # temporal: CreateUser and AttachUserPolicy by one identity within 5m
    _at(19, "12:00:00", "CreateUser", "ivan"), _at(20, "12:05:00", "AttachUserPolicy", "ivan"),
    _at(21, "12:00:00", "CreateUser", "judy"), _at(22, "12:05:01", "AttachUserPolicy", "judy"),
    _at(23, "12:10:00", "CreateUser", "kim"), _at(24, "12:11:00", "AttachUserPolicy", "lee"),
    _at(25, "12:20:00", "CreateUser", "mia"), _at(26, "12:21:00", "CreateUser", "mia"),
]

_BASES = """\
title: secret read
name: secret_read
logsource: {product: aws, service: cloudtrail}
detection: {read: {eventName: GetSecretValue}, condition: read}
---
title: user created
name: user_created
logsource: {product: aws, service: cloudtrail}
detection: {s: {eventName: CreateUser}, condition: s}
---
title: policy attached
name: policy_attached
logsource: {product: aws, service: cloudtrail}
detection: {s: {eventName: AttachUserPolicy}, condition: s}
"""


def _correlation(ident: str, body: str) -> str:
    return (f"---\ntitle: correlation {ident}\nname: {ident}\nauthor: Corr Author\nlevel: high\n"
            f"tags: [attack.t1555]\ncorrelation:\n{textwrap.indent(textwrap.dedent(body), '    ')}")


CORRELATIONS = {
    "reads": """\
        type: event_count
        rules: [secret_read]
        group-by: [userIdentity.arn]
        timespan: 10m
        condition: {gte: 3}
        """,
    "names": """\
        type: value_count
        rules: secret_read
        group-by: userIdentity.arn
        timespan: 10m
        condition: {gte: 3, field: requestParameters.secretId}
        """,
    "user-and-policy": """\
        type: temporal
        rules: [user_created, policy_attached]
        group-by: [userIdentity.arn]
        timespan: 5m
        """,
}


@pytest.fixture(scope="module")
def correlated(tmp_path_factory) -> Investigation:
    folder = tmp_path_factory.mktemp("sigma-correlated")
    (folder / "events.json").write_text(json.dumps({"Records": CORRELATED}), encoding="utf-8")
    return Investigation.from_evidence(folder)


@pytest.mark.parametrize("ident, expected, alone", [
    # alice's burst; and gina's and hank's (reads of any secret by one identity)
    ("reads", [3, 14, 18], ["policy attached", "user created"]),
    # gina reads a third name at 11:09:59; hank's three reads are one name
    ("names", [15], ["policy attached", "user created"]),
    ("user-and-policy", [20], ["secret read"]),
])
def test_each_correlation_type_matches_its_burst_and_not_the_near_misses(
        correlated, tmp_path, ident, expected, alone):
    path = tmp_path / "rules.yml"
    path.write_text(_BASES + _correlation(ident, CORRELATIONS[ident]), encoding="utf-8")
    rules = sigma.load([path])
    # the rules a correlation names are not run alone; the others are
    assert rules.refused == [] and sorted(r.title for r in rules.rules if r.id != ident) == alone
    found = correlated.detect(only=["cloudtrail_stopped"], sigma=rules)
    found = found[found["detection"] == ident]
    assert sorted(int(e[-12:]) for e in found["event_id"]) == expected
    assert set(found["rule_author"]) == {"Corr Author"} and set(found["severity"]) == {"high"}
    assert set(found["technique"]) == {"T1555"}


def test_a_correlation_hit_says_the_count_the_window_and_the_group(correlated, tmp_path):
    path = tmp_path / "rules.yml"
    path.write_text(_BASES + _correlation("reads", CORRELATIONS["reads"]), encoding="utf-8")
    found = correlated.detect(only=["cloudtrail_stopped"], sigma=[path])
    found = found[found["detection"] == "reads"]
    assert found["detail"].iloc[0] == (
        "Sigma correlation rule 'correlation reads' by Corr Author: event_count 3 within 10m "
        "(userIdentity.arn=arn:aws:iam::111122223333:user/alice, from 2026-11-03T10:00:00Z)")


def test_generate_true_runs_the_named_rules_too(correlated, tmp_path):
    path = tmp_path / "rules.yml"
    body = CORRELATIONS["user-and-policy"] + "generate: true\n"
    path.write_text(_BASES + _correlation("user-and-policy", body), encoding="utf-8")
    assert sorted(r.title for r in sigma.load([path]).rules) == [
        "correlation user-and-policy", "policy attached", "secret read", "user created"]


def test_the_legacy_count_form_is_read_as_the_correlation_it_means(correlated, tmp_path):
    path = tmp_path / "legacy.yml"
    path.write_text(_rule("selection:\n    eventName: GetSecretValue\ntimeframe: 10m\n"
                          "condition: selection | count() by userIdentity.arn >= 3"),
                    encoding="utf-8")
    found = correlated.detect(only=["cloudtrail_stopped"], sigma=[path])
    assert sorted(int(e[-12:]) for e in found["event_id"]) == [3, 14, 18]
    path.write_text(_rule("selection:\n    eventName: GetSecretValue\ntimeframe: 10m\n"
                          "condition: selection | count(requestParameters.secretId) "
                          "by userIdentity.arn > 2"), encoding="utf-8")
    found = correlated.detect(only=["cloudtrail_stopped"], sigma=[path])
    assert sorted(int(e[-12:]) for e in found["event_id"]) == [15]


@pytest.mark.parametrize("body, reason", [
    ("type: value_sum\nrules: [secret_read]\ntimespan: 1h\ncondition: {gt: 1, field: x}",
     "value_sum"),
    ("type: event_count\nrules: [nowhere]\ntimespan: 1h\ncondition: {gt: 1}",
     "not in the rule set"),
    ("type: event_count\nrules: [secret_read]\ngroup-by: [nope.field]\ntimespan: 1h\n"
     "condition: {gt: 1}", "not a CloudTrail field"),
    ("type: event_count\nrules: [secret_read]\ntimespan: 1h\naliases: {a: {secret_read: x}}\n"
     "condition: {gt: 1}", "aliases"),
])
def test_a_correlation_that_cannot_be_said_in_sql_is_listed_with_its_reason(tmp_path, body, reason):
    path = tmp_path / "rules.yml"
    path.write_text(_BASES + _correlation("c", body), encoding="utf-8")
    rules = sigma.load([path])
    [(origin, why)] = rules.refused
    assert origin == f"{path}#4" and reason in why
    assert sorted(r.title for r in rules.rules) == [
        "policy attached", "secret read", "user created"]
