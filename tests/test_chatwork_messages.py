"""Rendered messages against golden files (tests/golden/chatwork/*.txt), from real AWS records.

Regenerate after a deliberate wording change with UPDATE_GOLDEN=1, and read the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_toolkit import Investigation
from audit_toolkit.analysis.events import records
from audit_toolkit.chatwork import messages
from audit_toolkit.chatwork.countries import JA as COUNTRIES_JA
from audit_toolkit.chatwork.share import digest_messages, messages_for, summary_messages
from audit_toolkit.errors import ConfigError
from audit_toolkit.evidence.guardduty import findings_in
from audit_toolkit.settings import Settings
from real_data import cloudtrail_record, elastic_lines, invictus
from util import hit_evidence, stray_english

GOLDEN = Path(__file__).parent / "golden" / "chatwork"
JA = Settings(display_tz="Asia/Tokyo")
EN = Settings(language="en")


def check(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


@pytest.fixture(scope="module")
def inv():
    return Investigation.from_evidence(invictus())


@pytest.fixture(scope="module")
def changes(inv):
    return inv.sg_changes()


@pytest.fixture(scope="module")
def window(inv):
    windows = inv.ssh_exposure()
    assert len(windows) == 1
    return windows.astype(object).where(windows.notna(), None).to_dict("records")[0]


def _row(changes, event_name, **match):
    rows = changes[changes["event_name"] == event_name]
    for k, v in match.items():
        rows = rows[rows[k] == v]
    assert len(rows) == 1
    return rows.astype(object).where(rows.notna(), None).to_dict("records")[0]


@pytest.mark.parametrize("lang, settings", [("ja", JA), ("en", EN)])
def test_ssh_opening_change(changes, lang, settings):
    row = _row(changes, "AuthorizeSecurityGroupIngress", from_port=22)
    [message] = messages_for([row], "sg-changes", settings)
    title = "【高】SSH(22) をインターネットに公開" if lang == "ja" else "HIGH: SSH(22) opened to the internet"
    assert message.body.startswith(f"[info][title]{title}[/title]")
    check(f"sg_change_ssh_open_{lang}", message.body)


def test_failed_revoke_and_group_changes_ja(changes):
    failed = _row(changes, "RevokeSecurityGroupEgress", error_code="Client.InvalidPermission.NotFound")
    created = _row(changes, "CreateSecurityGroup")
    deleted = _row(changes, "DeleteSecurityGroup")
    bodies = [o.body for o in messages_for([failed, created, deleted], "sg-changes", JA)]
    assert "[title]【情報】アウトバウンドルールの削除に失敗: 全ポート[/title]" in bodies[0]
    assert "Client.InvalidPermission.NotFound" in bodies[0]
    check("sg_change_failed_created_deleted_ja", "\n\n".join(bodies))


@pytest.mark.parametrize("settings, title", [(JA, "【情報】ルール削除の指定に一致するルールがなく、何も削除されませんでした"),
                                             (EN, "INFO: Revoke matched no rule: nothing was removed")])
def test_a_revoke_that_matched_nothing_says_nothing_was_removed(changes, settings, title):
    row = {**_row(changes, "AuthorizeSecurityGroupIngress", from_port=22), "event_name": "RevokeSecurityGroupIngress",
           "action": "revoke_unmatched"}
    assert messages.sg_change(row, settings).title == title


@pytest.mark.parametrize("lang, settings", [("ja", JA), ("en", EN)])
def test_exposure_window(window, lang, settings):
    [message] = messages_for([window], "ssh-exposure", settings)
    assert ("1分49秒" if lang == "ja" else "1m 49s") in message.body  # 12:10:08 -> 12:11:57
    check(f"ssh_exposure_{lang}", message.body)


def test_still_open_window_and_missing_fields_en():
    row = {"account": "111122223333", "group_id": "sg-1", "protocol": "-1", "cidr": "::/0", "exposed_ports": "22",
           "opened_at": pd.Timestamp("2024-01-02T03:04:05Z"), "still_open": True, "duration": pd.Timedelta(days=2, seconds=7)}
    check("ssh_exposure_still_open_en", messages.exposure_window(row, EN).render())


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_window_known_only_from_state_says_so(demo_inv, lang):
    """notify --kind ssh-exposure includes windows no logged call opened, with the bound on their opening."""
    settings = Settings(language=lang)
    windows = demo_inv.ssh_exposure()
    legacy = windows[windows["group_id"] == "sg-01a0000000000000a"]
    runner = windows[windows["group_id"] == "sg-03c0000000000000c"]
    bodies = [m.body for m in messages_for(pd.concat([legacy, runner]), "ssh-exposure", settings)]
    check(f"ssh_exposure_from_state_{lang}", "\n\n".join(bodies))
    assert ("2025-03-14" in bodies[0]) and ("2026-09-01" in bodies[1] and "2026-11-02" in bodies[1])


def test_the_summary_says_a_window_no_call_opened_in_words_not_dashes(demo_inv):
    windows = demo_inv.ssh_exposure()
    bodies = {lang: summary_messages(None, windows, None, Settings(language=lang), None, None)[0].body
              for lang in ("en", "ja")}
    assert ("SSH(22) of sg-0f000000000000006 was opened to 0.0.0.0/0 before the evidence by no logged call; "
            "closed at 2026-11-02 08:00:00 UTC.") in bodies["en"]
    assert ("sg-03c0000000000000c (build-runner) の SSH(22) (0.0.0.0/0) は 2026-11-02 13:10:00 UTC に"
            "記録された操作なしに公開され、2026-11-02 17:45:00 UTC に終了しました。") in bodies["ja"]
    assert all(" at -" not in b and "- が公開" not in b and "\n- opened" not in b for b in bodies.values())


def _finding():
    [finding] = records(findings_in(elastic_lines("guardduty/test-guardduty.log")[0])[0])
    return finding


def test_guardduty_finding_from_real_sample():
    finding = _finding()
    assert finding["type"] == "Trojan:EC2/BlackholeTraffic!DNS" and finding["instance_id"] == "i-99999999"
    assert finding["severity_label"] == "Medium"
    check("guardduty_ja", messages.guardduty_finding(finding, JA).render())
    check("guardduty_en", messages.guardduty_finding(finding, EN).render())


def test_guardduty_finding_with_only_an_id():
    text = messages.guardduty_finding({"id": "abc"}, EN).render()
    assert text == ("[info][title]INFO: GuardDuty finding: -[/title]Severity: - (INFO)\nType: -\nAccount: - / -\n"
                    "Instance: -\nRemote IP: -\nPort: -\nUpdated: -\nId: abc[/info]")


def test_ssh_brute_force_correlation(window):
    finding = {"id": "f-1", "type": "UnauthorizedAccess:EC2/SSHBruteForce", "severity": 8.0, "title": "SSH brute force",
               "account": "218007301253", "region": "us-east-1", "instance_id": "i-0abc", "remote_ip": "198.51.100.7",
               "port": 22, "country": "Nowhere", "updated_at": "2023-07-10T12:11:00Z"}
    check("correlation_ja", messages.correlation(finding, window, JA).render())


def test_summary(inv, changes):
    span = inv.span()
    findings = pd.DataFrame([_finding(), {"type": "Recon:EC2/PortProbeUnprotectedPort", "severity": 2.0, "instance_id": "i-1"}])
    [message] = summary_messages(changes, inv.ssh_exposure(), findings, JA, span["first_event"], span["last_event"])
    assert "セキュリティグループの変更は 9 件 (うち失敗 1 件) で、対象のグループは 1 個、実行者は 1 人でした。" in message.body
    assert "\n- " not in message.body  # sentences, not rows of dashes
    check("summary_ja", message.body)


def test_the_english_summary_agrees_with_its_counts(inv, changes):
    span = inv.span()
    [message] = summary_messages(changes, inv.ssh_exposure(), pd.DataFrame([_finding()]), EN,
                                 span["first_event"], span["last_event"])
    assert "There were 9 security-group changes (failed: 1; groups: 1; actors: 1)." in message.body
    assert "1 exposure to the internet; 0 still open at the end of the evidence." in message.body
    assert "GuardDuty reported 1 finding." in message.body


def test_sns_subscribe_api_call():
    detail = elastic_lines("cloudtrail/test-subscribe-json.log")[0]
    check("sns_subscribe_ja", messages.api_call(detail, JA).render())


def test_hostile_values_are_shown_inert(changes):
    row = _row(changes, "AuthorizeSecurityGroupIngress", from_port=22)
    row.update(description="[toall] ssh for [To:1] [/info][info]fake", group_name="prod[/title]", actor="evil\n[/code]",
               source_ip="\u202e1.2.3.4")
    check("sg_change_hostile_en", messages.sg_change(row, EN, [22]).render())


def test_real_tcp22_record_is_the_same_change_from_the_lambda_and_the_investigation(changes):
    from audit_toolkit.alerts import boxes

    record = cloudtrail_record("AuthorizeSecurityGroupIngress", '"fromPort": 22')
    event = {"detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2", "detail": record}
    [(kind, box, identity)] = boxes(event, JA)
    # The partition account of the evidence is the trail's; the event's recipient account differs in this
    # recording, so compare the rule itself.
    row = _row(changes, "AuthorizeSecurityGroupIngress", from_port=22)
    for key in ("event_id", "group_id", "direction", "protocol", "from_port", "to_port", "peer", "rule_id", "actor"):
        assert identity[key] == row[key], key


# --- titles, actors, countries, languages ------------------------------------------------------

RULE = {"event_time": "2026-11-03T01:02:03Z", "event_id": "0f1e2d3c-0000-4000-8000-000000000001",
        "event_name": "AuthorizeSecurityGroupIngress", "account": "111122223333", "region": "ap-northeast-1",
        "group_id": "sg-0123456789abcdef0", "action": "authorize", "direction": "ingress", "protocol": "tcp",
        "from_port": 22, "to_port": 22, "peer": "0.0.0.0/0", "peer_type": "cidr_ipv4",
        "actor": "arn:aws:iam::111122223333:role/ops-admin (session mallory)", "actor_type": "AssumedRole",
        "actor_arn": "arn:aws:iam::111122223333:role/ops-admin", "tool": "AWS CLI", "source_ip": "203.0.113.5"}


@pytest.mark.parametrize("change, ja, en", [
    ({}, "【高】SSH(22) をインターネットに公開", "HIGH: SSH(22) opened to the internet"),
    ({"action": "revoke", "event_name": "RevokeSecurityGroupIngress"},
     "【低】SSH(22) のインターネット公開を終了", "LOW: SSH(22) no longer open to the internet"),
    ({"error_code": "UnauthorizedOperation"},
     "【中】SSH(22) の公開を試みて失敗", "MEDIUM: Attempt to open SSH(22) to the internet failed"),
    ({"protocol": "-1", "from_port": None, "to_port": None},
     "【高】全ポート をインターネットに公開", "HIGH: all ports opened to the internet"),
    ({"from_port": 20, "to_port": 25}, "【高】TCP 20-25 をインターネットに公開", "HIGH: TCP 20-25 opened to the internet"),
    ({"from_port": 443, "to_port": 443, "peer": "10.0.0.0/8"},
     "【情報】インバウンドルールを追加: TCP 443", "INFO: Inbound rule added: TCP 443"),
    ({"protocol": "udp", "from_port": 53, "to_port": 53, "error_code": "X"},
     "【情報】インバウンドルールの追加に失敗: UDP 53", "INFO: Adding an inbound rule failed: UDP 53"),
    # ICMP's numbers are a type and a code: echo request with any code, then with code 0
    ({"protocol": "icmp", "from_port": 8, "to_port": -1, "peer": "10.0.0.0/8"},
     "【情報】インバウンドルールを追加: ICMP 8", "INFO: Inbound rule added: ICMP 8"),
    ({"protocol": "icmp", "from_port": 8, "to_port": 0, "peer": "10.0.0.0/8"},
     "【情報】インバウンドルールを追加: ICMP 8/0", "INFO: Inbound rule added: ICMP 8/0"),
])
def test_the_title_says_severity_first_what_happened_and_the_real_ports(change, ja, en):
    row = {**RULE, **change}
    for settings, title in ((JA, ja), (EN, en)):
        [message] = messages_for([row], "sg-changes", settings)
        assert message.body.startswith(f"[info][title]{title}[/title]"), message.body


@pytest.mark.parametrize("actor, actor_type, arn, shown", [
    ("arn:aws:iam::111122223333:role/ops-admin (session mallory)", "AssumedRole",
     "arn:aws:iam::111122223333:role/ops-admin", "ops-admin / mallory"),
    ("carol@example.com (SSO via arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1)",
     "SSOUser", "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1",
     "carol@example.com (SSO)"),
    ("arn:aws:iam::111122223333:user/bert-jan", "IAMUser", "arn:aws:iam::111122223333:user/bert-jan", "bert-jan"),
    ("root (111122223333)", "Root", "arn:aws:iam::111122223333:root", "ルートユーザー (111122223333)"),
])
def test_actors_read_as_a_person_names_them_with_the_arn_on_its_own_line(actor, actor_type, arn, shown):
    body = messages.sg_change({**RULE, "actor": actor, "actor_type": actor_type, "actor_arn": arn}, JA, [22]).render()
    assert f"\n実行者: {shown}\n" in body and f"\n実行者のARN: {arn}\n" in body


def test_links_open_the_console_of_the_events_region_and_a_hostile_value_gets_none():
    body = messages.sg_change(RULE, JA, [22]).render()
    assert ("グループを開く: https://ap-northeast-1.console.aws.amazon.com/ec2/home?region=ap-northeast-1"
            "#SecurityGroup:groupId=sg-0123456789abcdef0") in body
    assert ("CloudTrail のイベント: https://ap-northeast-1.console.aws.amazon.com/cloudtrailv2/home?"
            "region=ap-northeast-1#/events/0f1e2d3c-0000-4000-8000-000000000001") in body
    hostile = messages.sg_change({**RULE, "region": "evil.example/x?", "group_id": "sg-1 x"}, JA, [22]).render()
    assert "https://" not in hostile


def _every_linked_message(region: object) -> list[str]:
    """Every kind of message that links to the console, for one event in `region`."""
    event = "0f1e2d3c-0000-4000-8000-000000000002"
    finding = {"id": "5e" + "2".rjust(30, "0"), "type": "UnauthorizedAccess:EC2/SSHBruteForce", "severity": 5.0,
               "account": "111122223333", "region": region}
    window = {**RULE, "region": region, "cidr": "0.0.0.0/0", "opened_event_id": event, "closed_event_id": event,
              "opened_at": "2026-11-03T01:02:03Z", "closed_at": "2026-11-03T02:02:03Z", "still_open": False}
    hit = {"detection": "cloudtrail_stopped", "severity": "critical", "region": region, "event_id": event,
           "event_name": "StopLogging"}
    api = {"eventName": "Subscribe", "awsRegion": region, "eventID": event, "requestParameters": {}}
    return [m.render() for settings in (JA, EN) for m in (
        messages.sg_change({**RULE, "region": region}, settings, [22]),
        messages.exposure_window(window, settings), messages.guardduty_finding(finding, settings),
        messages.correlation(finding, window, settings), messages.detection_hit(hit, settings),
        messages.api_call(api, settings))]


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-2", "ca-central-1", "me-central-1"])
def test_every_console_link_opens_the_region_of_its_event_never_a_default(region, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # a default region in the environment is not the event's
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bodies = _every_linked_message(region)
    links = [url for body in bodies for url in re.findall(r"https://\S+?(?=\[|\s|$)", body)]
    assert len(links) == 2 * (2 + 3 + 1 + 2 + 1 + 1)  # group+event, group+2 events, finding, finding+group, ...
    for url in links:
        host, _, rest = url.removeprefix("https://").partition("/")
        assert host == f"{region}.console.aws.amazon.com", url
        assert re.findall(r"region=([^#&]*)", rest) == [region], url


@pytest.mark.parametrize("region", ["us-east-1.evil.example", "evil.example/us-east-1", "eu-west-1\n[toall]",
                                    "EU-WEST-1", " eu-west-1", "eu-west-1 ", "../us-east-1", "", None, 1, ["eu-west-1"],
                                    "eu-west-1#x", "eu-west-1?region=us-east-1", "ｅｕ-west-1", "eu-west-1\n"])
def test_a_hostile_region_gets_no_console_link_at_all(region):
    for body in _every_linked_message(region):
        assert "console.aws.amazon.com" not in body and "https://" not in body, body


@given(st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_any_region_string_links_only_to_itself(region):
    for body in _every_linked_message(region)[:6]:  # the Japanese messages: the links are the same in both
        for url in re.findall(r"https://\S+?(?=\[|\s|$)", body):
            assert re.fullmatch(r"[a-z0-9-]+", region)
            assert url.startswith(_console_of(region)) and f"region={region}" in url


def _console_of(region: str) -> str:
    if region.startswith("us-gov-"):
        return "https://console.amazonaws-us-gov.com/"
    return "https://console.amazonaws.cn/" if region.startswith("cn-") else f"https://{region}.console.aws.amazon.com/"


@pytest.mark.parametrize("region, host", [("us-gov-west-1", "console.amazonaws-us-gov.com"),
                                          ("cn-north-1", "console.amazonaws.cn")])
def test_govcloud_and_china_links_open_their_partitions_console(region, host):
    """Their consoles are not under aws.amazon.com (AWS GovCloud (US) User Guide: console.amazonaws-us-gov.com)."""
    links = [url for body in _every_linked_message(region) for url in re.findall(r"https://\S+?(?=\[|\s|$)", body)]
    assert links and all(url.removeprefix("https://").partition("/")[0] == host for url in links)
    assert all(re.findall(r"region=([^#&]*)", url) == [region] for url in links)


def test_a_finding_shows_its_country_in_japanese_its_count_with_a_unit_and_its_console_link():
    finding = {"id": "5e" + "1".rjust(30, "0"), "type": "UnauthorizedAccess:EC2/SSHBruteForce", "severity": 2.0,
               "title": "SSH brute force", "account": "111122223333", "region": "eu-west-1", "remote_ip": "198.51.100.7",
               "remote_country": "Netherlands", "local_port": 22, "count": 1412}
    ja = messages.guardduty_finding(finding, JA).render()
    assert ja.startswith("[info][title]【低】GuardDuty の検出: SSH brute force[/title]")
    assert "相手IP: 198.51.100.7 (オランダ)" in ja and "回数: 1,412 回" in ja
    assert f"https://eu-west-1.console.aws.amazon.com/guardduty/home?region=eu-west-1#/findings?macros=current&fId={finding['id']}" in ja
    en = messages.guardduty_finding(finding, EN).render()
    assert "Remote IP: 198.51.100.7 (Netherlands)" in en and "Count: 1,412 times" in en
    unknown = messages.guardduty_finding({**finding, "remote_country": "Atlantis [toall]"}, JA).render()
    assert "(Atlantis ［toall］)" in unknown


def test_a_sample_finding_says_so_in_its_title():
    sample = {**_finding(), "sample": True}
    assert messages.guardduty_finding(sample, JA).title.startswith("【中】【サンプル】GuardDuty の検出: ")
    assert messages.guardduty_finding(sample, EN).title.startswith("MEDIUM: SAMPLE GuardDuty finding: ")


def test_an_unknown_language_is_an_error_not_japanese(monkeypatch):
    with pytest.raises(ConfigError, match="unknown language 'fr': use one of ja, en"):
        Settings(language="fr")
    monkeypatch.setenv("AUDIT_TOOLKIT_LANGUAGE", "jp")
    with pytest.raises(ConfigError, match="unknown language 'jp'"):
        Settings.load()


def test_country_names_are_cldrs():
    babel = pytest.importorskip("babel")
    ja, en = babel.Locale("ja"), babel.Locale("en")
    expected = {en.territories[c]: ja.territories[c] for c in en.territories
                if len(c) == 2 and c.isalpha() and c in ja.territories and c != "ZZ"}
    assert COUNTRIES_JA == expected and COUNTRIES_JA["United States"] == "アメリカ合衆国"


# --- every kind in both languages, and no stray English in Japanese ---------------------------------

def _every_kind(changes, inv, window, settings):
    """(name, body, inputs) for one message of every kind."""
    opening = _row(changes, "AuthorizeSecurityGroupIngress", from_port=22)
    failed = _row(changes, "RevokeSecurityGroupEgress", error_code="Client.InvalidPermission.NotFound")
    finding = _finding()
    brute = {"id": "f-1", "type": "UnauthorizedAccess:EC2/SSHBruteForce", "severity": 8.0, "title": "SSH brute force",
             "account": "218007301253", "region": "us-east-1", "instance_id": "i-0abc", "remote_ip": "198.51.100.7",
             "port": 22, "country": "Netherlands", "updated_at": "2023-07-10T12:11:00Z"}
    hits = inv.detect()
    hit = records(hits[hits["detection"] == "cloudtrail_stopped"])[0]
    detail = elastic_lines("cloudtrail/test-subscribe-json.log")[0]
    span = inv.span()
    [summary] = summary_messages(changes, inv.ssh_exposure(), pd.DataFrame([finding]), settings,
                                 span["first_event"], span["last_event"])
    digests = digest_messages({"sg-changes": changes, "ssh-exposure": inv.ssh_exposure(), "detections": hits,
                               "guardduty": [finding]}, settings, span["first_event"], span["last_event"])
    return [
        ("sg_change", messages_for([opening, failed], "sg-changes", settings), [opening, failed]),
        ("ssh_exposure", messages_for([window], "ssh-exposure", settings), [window]),
        ("guardduty", messages_for([finding], "guardduty", settings), [finding]),
        ("correlation", [messages.correlation(brute, window, settings).render()], [brute, window]),
        ("detection", messages_for([hit], "detections", settings), hit_evidence(hit)),
        ("api_call", [messages.api_call(detail, settings).render()], [detail]),
        ("summary", [summary], records(changes) + records(inv.ssh_exposure()) + [finding]),
        ("digest", digests, records(changes) + records(inv.ssh_exposure()) + records(hits) + [finding]),
    ]


@pytest.mark.parametrize("lang, settings", [("ja", JA), ("en", EN)])
def test_golden_messages_of_every_kind(inv, changes, window, lang, settings):
    for name, found, inputs in _every_kind(changes, inv, window, settings):
        bodies = [m if isinstance(m, str) else m.body for m in found]
        check(f"every_{name}_{lang}", "\n\n".join(bodies))
        if lang == "ja":
            assert stray_english("\n".join(bodies), *inputs) == set(), name
        else:  # English throughout: no kana or kanji of ours
            assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff\u3000-\u303f\uff01-\uff5e]", "\n".join(bodies)), name


def test_the_english_check_would_catch_a_stray_word(changes):
    opening = _row(changes, "AuthorizeSecurityGroupIngress", from_port=22)
    body = messages_for([opening], "sg-changes", JA)[0].body
    assert stray_english(body.replace("実行者", "Actor"), opening) == {"Actor"}


# --- hostile rows: any JSON value in any field renders, inert ------------------------------------

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=8)
_times = st.sampled_from(["9999-12-31T23:00:00Z", "0001-01-01T00:00:00Z", "2026-11-03T09:00:00-09:00", "", "x"])
_FIELDS = sorted({*RULE, "error_code", "error_message", "rule_id", "description", "group_name", "session_name",
                  "opened_at", "closed_at", "still_open", "cidr", "exposed_ports", "duration", "opened_by", "closed_by",
                  "id", "type", "severity", "severity_label", "title", "remote_country", "local_port", "count",
                  "sample", "detection", "outcome", "detail", "target", "technique", "updated_at",
                  "kind", "verdict", "source", "known_as", "gap", "first_seen", "last_seen", "interfaces",
                  "instances", "finding_ids", "accepted", "bytes_in"})


@settings(max_examples=150, deadline=None)
@given(row=st.fixed_dictionaries({}, optional={f: _json | _times for f in _FIELDS}),
       language=st.sampled_from(["ja", "en"]))
def test_any_values_in_any_field_render_every_kind_inert(row, language):
    s = Settings(language=language, display_tz="Asia/Tokyo")
    bodies = [o.body for kind in ("sg-changes", "ssh-exposure", "guardduty", "detections", "connections")
              for o in messages_for([row], kind, s)]
    bodies.append(messages.correlation(row, row, s).render())
    bodies += [o.body for o in digest_messages({"sg-changes": [row], "guardduty": [row]}, s, per_day=True)]
    for body in bodies:
        assert set(re.findall(r"\[/?[a-zA-Z:0-9]+\]", body)) <= {"[info]", "[/info]", "[title]", "[/title]"}


def test_a_window_of_unknown_reach_and_unproven_order_says_both():
    row = {"account": "111122223333", "group_id": "sg-1", "protocol": "tcp", "from_port": 22, "to_port": 22,
           "cidr": "pl-0abc", "exposed_ports": "22", "reach": "unknown", "ambiguous_order": True,
           "opened_at": pd.Timestamp("2024-01-02T03:04:05Z"), "still_open": True, "duration": pd.Timedelta(hours=1)}
    box = messages.exposure_window(row, EN)
    assert box.title == "HIGH: SSH(22) open to a peer of unknown reach"
    assert [line for line in box.lines if line.startswith("Uncertain: ")] == [
        "Uncertain: the evidence does not say what the peer holds (a prefix list's entries, or an address it cannot read): its reach is unknown",
        "Uncertain: the evidence does not prove the order of changes in one second: the order that keeps it open was taken"]
    assert "到達範囲不明" in messages.exposure_window(row, JA).title


@pytest.mark.parametrize("lang, settings", [("ja", JA), ("en", EN)])
def test_connections_through_a_window_in_both_languages(demo_inv, lang, settings):
    """notify --kind connections: the session nobody knows (critical), the actor's own (info), a
    gap (medium: the flow log cannot say nobody came in), a window with no interface known."""
    rows = records(demo_inv.connections())
    picked = [
        next(r for r in rows if r["source"] == "198.51.100.200"),
        next(r for r in rows if r["source"] == "203.0.113.50"),
        next(r for r in rows if r["gap"] == "NODATA"),
        next(r for r in rows if r["gap"] == "no interface" and r["group_id"] == "sg-0f000000000000007"),
    ]
    bodies = [m.body for m in messages_for(picked, "connections", settings)]
    check(f"connections_{lang}", "\n\n".join(bodies))
    titles = [b.split("[title]")[1].split("[/title]")[0] for b in bodies]
    if lang == "ja":
        assert stray_english("\n".join(bodies), *picked) == set()
        assert [t.split("】")[0] for t in titles] == ["【重大", "【情報", "【中", "【中"]
    else:
        assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff\u3000-\u303f\uff01-\uff5e]", "\n".join(bodies))
        assert titles == [
            "CRITICAL: 198.51.100.200 reached SSH(22) while open: session with data",
            "INFO: 203.0.113.50 reached SSH(22) while open: session with data",
            "MEDIUM: Flow logs cannot tell: no traffic recorded (NODATA)",
            "MEDIUM: Flow logs cannot tell: no network interface known in the group",
        ]
