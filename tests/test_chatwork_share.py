"""share(): each finding reaches the room exactly once, across re-runs, faults and interruptions."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest
import requests
from click.testing import CliRunner

from audit_toolkit.analysis.exposure import WINDOW_COLUMNS
from audit_toolkit.chatwork.client import ChatworkClient, ChatworkError, Token
from audit_toolkit.chatwork.outbox import Outbox
from audit_toolkit.chatwork.share import messages_for, share, share_file
from audit_toolkit.cli import main
from audit_toolkit.investigation import Investigation
from audit_toolkit.settings import Settings
from fake_chatwork import TOKEN, api, clock  # noqa: F401 (api, clock: fixtures)
from real_data import invictus

SETTINGS = Settings()


def windows(n: int) -> pd.DataFrame:
    rows = [{"account": "111122223333", "region": "ap-northeast-1", "group_id": f"sg-{i:04d}", "direction": "ingress",
             "protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0", "exposed_ports": "22",
             "opened_at": pd.Timestamp("2024-05-01T00:00:00Z") + pd.Timedelta(minutes=i), "opened_by": f"user{i} [toall]",
             "opened_event_id": f"evt-{i}", "still_open": True, "open_before_evidence": False} for i in range(n)]
    return pd.DataFrame(rows, columns=WINDOW_COLUMNS)


@pytest.fixture
def client(api, clock):
    return ChatworkClient(Token(TOKEN), base_url=api.base, clock=clock, sleep=clock.sleep)


def refs(api, room="42") -> Counter:
    return Counter(body.splitlines()[-1] for body in api.bodies(room))


def test_sharing_the_same_findings_again_sends_nothing(api, client, tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite")
    first = share(windows(5), 42, client=client, outbox=box, settings=SETTINGS)
    again = share(windows(5), 42, client=client, outbox=box, settings=SETTINGS)
    more = share(windows(7), 42, client=client, outbox=box, settings=SETTINGS)
    assert (len(first.sent), len(again.sent), len(again.skipped), len(more.sent)) == (5, 0, 5, 2)
    assert len(api.bodies()) == 7 and set(refs(api).values()) == {1}
    other_room = share(windows(2), 43, client=client, outbox=box, settings=SETTINGS)
    assert len(other_room.sent) == 2 and len(api.bodies("43")) == 2
    assert box.counts() == {"sent": 9}


def test_a_window_that_closed_since_is_shared_again():
    opened = windows(1)
    closed = opened.assign(still_open=False, closed_at=pd.Timestamp("2024-05-01T01:00:00Z"), closed_event_id="evt-close")
    assert messages_for(opened, settings=SETTINGS)[0].fingerprint != messages_for(closed, settings=SETTINGS)[0].fingerprint
    # Wording, language and time zone are not part of a finding's identity.
    assert messages_for(opened, settings=SETTINGS)[0].fingerprint == messages_for(opened, settings=Settings(language="en"))[0].fingerprint


def test_no_message_lost_or_duplicated_across_faults(api, client, tmp_path):
    api.state.faults.extend(["500", "drop_before", "drop_after", "500", "drop_after", "drop_before", "drop_after"])
    report = share(windows(12), 42, client=client, outbox=tmp_path / "o.sqlite", settings=SETTINGS)
    assert len(report.sent) == 12
    expected = {o.ref for o in messages_for(windows(12), settings=SETTINGS)}
    assert set(refs(api)) == expected and set(refs(api).values()) == {1}
    assert not api.state.faults  # every fault was met


class Killed(BaseException):
    """The process dying: not an error share() could catch."""


def test_an_interrupted_batch_resumes_with_only_the_rest(api, client, clock, tmp_path):
    path = tmp_path / "o.sqlite"
    real_post = client.post_message
    posted = []

    def dies_after_the_fifth_post(room, body, self_unread=False):
        message_id = real_post(room, body, self_unread)
        posted.append(message_id)
        if len(posted) == 5:
            raise Killed()  # the post went through; the outbox never heard of it
        return message_id

    client.post_message = dies_after_the_fifth_post
    with pytest.raises(Killed):
        share(windows(10), 42, client=client, outbox=path, settings=SETTINGS)
    assert len(api.bodies()) == 5 and Outbox(path).counts() == {"sent": 4, "pending": 1}
    client.post_message = real_post
    report = share(windows(10), 42, client=client, outbox=path, settings=SETTINGS)
    assert len(report.sent) == 5 and len(report.skipped) == 5  # 4 from the outbox, 1 found by its ref
    assert len(api.bodies()) == 10 and set(refs(api).values()) == {1}
    assert Outbox(path).counts() == {"sent": 10}


def test_a_persistent_outage_says_how_far_it_got_and_a_rerun_finishes(api, client, tmp_path):
    path = tmp_path / "o.sqlite"
    share(windows(2), 42, client=client, outbox=path, settings=SETTINGS)
    api.state.faults.extend(["500"] * 6)  # every attempt of the third post fails
    with pytest.raises(ChatworkError, match=r"2 of 4 messages are in room 42; run again"):
        share(windows(4), 42, client=client, outbox=path, settings=SETTINGS)
    assert len(share(windows(4), 42, client=client, outbox=path, settings=SETTINGS).sent) == 2
    assert len(api.bodies()) == 4 and set(refs(api).values()) == {1}


def test_a_burst_of_100_findings_never_exceeds_the_room_limit(api, client, clock, tmp_path):
    start = clock()
    report = share(windows(100), 42, client=client, outbox=tmp_path / "o.sqlite", settings=SETTINGS)
    assert len(report.sent) == 100 and len(api.bodies()) == 100
    assert api.state.limit_429s == 0  # the server, which enforces the limits, never had to refuse
    assert api.max_posts_in_window() == 10
    assert clock() - start >= 90  # 10 posts per 10 s: the 100th cannot go before 90 s


def test_the_client_waits_out_a_room_429_it_did_not_foresee(api, client, clock, tmp_path):
    other = ChatworkClient(Token(TOKEN), base_url=api.base, clock=clock, sleep=clock.sleep)
    for i in range(10):  # another process fills the room's window
        other.post_message(42, f"other {i}")
    report = share(windows(3), 42, client=client, outbox=tmp_path / "o.sqlite", settings=SETTINGS)
    assert len(report.sent) == 3 and api.state.limit_429s == 1 and len(api.bodies()) == 13


def test_dry_run_needs_no_token_and_no_network_and_prints_what_would_be_sent(api, client, monkeypatch, tmp_path):
    monkeypatch.delenv("CHATWORK_API_TOKEN", raising=False)
    monkeypatch.setattr(requests.Session, "request", lambda *a, **k: pytest.fail("a dry run used the network"))
    path = tmp_path / "o.sqlite"
    report = share(windows(3), 42, dry_run=True, outbox=path, settings=SETTINGS)
    assert not path.exists()  # a preview creates nothing
    expected = messages_for(windows(3), settings=SETTINGS)
    assert report.to_send == expected
    assert report.preview().split("\n", 1)[1].startswith(expected[0].body)
    assert all(o.body in report.preview() for o in expected)


def test_dry_run_leaves_out_what_was_already_sent(api, client, tmp_path):
    path = tmp_path / "o.sqlite"
    share(windows(2), 42, client=client, outbox=path, settings=SETTINGS)
    report = share(windows(3), 42, dry_run=True, outbox=path, settings=SETTINGS)
    assert [o.fingerprint for o in report.to_send] == [messages_for(windows(3), settings=SETTINGS)[2].fingerprint]
    assert "to_send=1" in repr(report)


def test_a_chart_is_attached_once(api, client, tmp_path):
    chart = tmp_path / "exposure.png"
    chart.write_bytes(b"\x89PNG\r\n" + b"0" * 1000)
    path = tmp_path / "o.sqlite"
    assert share_file(chart, 42, "exposure windows", client=client, outbox=path) == "1"
    assert share_file(chart, 42, "exposure windows", client=client, outbox=path) is None
    assert [f["name"] for f in api.state.files["42"]] == ["exposure.png"]


def test_notify_dry_run_prints_exactly_the_messages(monkeypatch, tmp_path):
    monkeypatch.delenv("CHATWORK_API_TOKEN", raising=False)
    monkeypatch.setattr(requests.Session, "request", lambda *a, **k: pytest.fail("a dry run used the network"))
    args = ["notify", "--room", "42", "--evidence", str(invictus()), "--kind", "ssh-exposure", "--dry-run",
            "--outbox", str(tmp_path / "o.sqlite")]
    result = CliRunner().invoke(main, args + ["--format", "json"])
    assert result.exit_code == 0, result.output
    [message] = json.loads(result.stdout)
    assert message["kind"] == "ssh-exposure" and "[title]【中】SSH(22) のインターネット公開 (終了)[/title]" in message["body"]
    assert "12:10:08 UTC" in message["body"] and message["body"].endswith(f"ref: {message['fingerprint']}-1")
    table = CliRunner().invoke(main, args)
    assert table.exit_code == 0 and message["body"] in table.stdout


def test_notify_posts_through_the_api_once(api, clock, monkeypatch, tmp_path):
    monkeypatch.setenv("CHATWORK_API_TOKEN", TOKEN)
    monkeypatch.setenv("CHATWORK_API_BASE", api.base)
    args = ["notify", "--room", "42", "--evidence", str(invictus()), "--kind", "sg-changes", "--outbox", str(tmp_path / "o.sqlite")]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "posted 9 messages to room 42; 0 were already there" in first.stderr
    second = CliRunner().invoke(main, args)
    assert "posted 0 messages to room 42; 9 were already there" in second.stderr
    assert len(api.bodies()) == 9 and TOKEN not in first.output + second.output


def test_notify_without_a_token_says_how_to_give_one(monkeypatch, tmp_path):
    monkeypatch.delenv("CHATWORK_API_TOKEN", raising=False)
    monkeypatch.setenv("AUDIT_TOOLKIT_CHATWORK_TOKEN_FILE", str(tmp_path / "none"))
    result = CliRunner().invoke(main, ["notify", "--room", "42", "--evidence", str(invictus()), "--outbox", str(tmp_path / "o")])
    assert result.exit_code == 1 and "set CHATWORK_API_TOKEN" in result.output


def test_notify_has_help():
    result = CliRunner().invoke(main, ["notify", "--help"])
    assert result.exit_code == 0 and "--dry-run" in result.output and "--room" in result.output


def test_records_that_share_an_event_id_are_each_posted_and_the_dry_run_shows_what_is_sent(
        api, client, tmp_path):
    """A forged failed StopLogging under the eventID of the genuine, successful one: both are posted
    (the success is never hidden behind the attempt), and the dry run lists exactly those two."""
    def stop(when: str, error: str | None) -> dict:
        return {"eventVersion": "1.08", "eventTime": when, "eventID": "11111111-2222-3333-4444-555555555555",
                "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
                "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
                "requestParameters": {"name": "main"}, "sourceIPAddress": "198.51.100.7",
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/x",
                                 "accountId": "111122223333"}, **({"errorCode": error} if error else {})}
    (tmp_path / "t.json").write_text(json.dumps({"Records": [stop("2026-11-03T09:09:00Z", "AccessDenied"),
                                                             stop("2026-11-03T09:10:00Z", None)]}))
    hits = Investigation.from_evidence(tmp_path / "t.json").detect()
    assert sorted(zip(hits["detection"], hits["outcome"])) == [("cloudtrail_stopped", "attempt"),
                                                               ("cloudtrail_stopped", "success")]
    path = tmp_path / "o.sqlite"

    dry = share(hits, 42, kind="detections", dry_run=True, outbox=path, settings=SETTINGS)
    sent = share(hits, 42, kind="detections", client=client, outbox=path, settings=SETTINGS)

    assert (len(sent.sent), len(sent.skipped)) == (2, 0)
    titles = [b.split("[title]", 1)[1].split("[/title]", 1)[0] for b in api.bodies()]
    assert titles == ["【重大】検知 (未遂): CloudTrail ログ記録の停止", "【重大】検知: CloudTrail ログ記録の停止"]
    assert [o.body for o in dry.to_send] == api.bodies() and dry.skipped == []


def test_the_dry_run_skips_a_message_met_twice_in_the_batch_as_the_send_does(api, client, tmp_path):
    twice = pd.concat([windows(2), windows(1)], ignore_index=True)
    dry = share(twice, 42, dry_run=True, outbox=tmp_path / "o.sqlite", settings=SETTINGS)
    sent = share(twice, 42, client=client, outbox=tmp_path / "o.sqlite", settings=SETTINGS)
    assert (len(dry.to_send), len(dry.skipped)) == (len(sent.sent), len(sent.skipped)) == (2, 1)
    assert [o.body for o in dry.to_send] == api.bodies()


def test_a_finding_whose_severity_rose_and_a_finding_forged_under_its_id_are_each_posted(api, client, tmp_path):
    finding = {"id": "f1", "type": "UnauthorizedAccess:EC2/SSHBruteForce", "severity": 2.0, "account": "111122223333",
               "region": "us-east-1", "title": "SSH brute force", "updated_at": "2026-11-03T09:00:00Z"}
    rose = {**finding, "severity": 8.0, "updated_at": "2026-11-03T10:00:00Z"}
    forged = {**rose, "type": "Recon:EC2/Portscan", "severity": 1.0}
    path = tmp_path / "o.sqlite"
    first = share([finding], 42, kind="guardduty", client=client, outbox=path, settings=SETTINGS)
    later = share([rose, forged], 42, kind="guardduty", client=client, outbox=path, settings=SETTINGS)
    assert (len(first.sent), len(later.sent), len(later.skipped)) == (1, 2, 0)
    assert len(set(refs(api))) == 3
