"""The scripted incident's ground truth is recovered exactly: every change, window and actor."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from audit_toolkit import export, queries
from audit_toolkit.analysis import security_groups
from audit_toolkit.errors import ConfigError
from audit_toolkit.settings import Settings
from audit_toolkit.investigation import Investigation
from audit_toolkit.synthetic import DETECTIONS_DAY
from test_reader import event

CHANGE_KEYS = ["event_id", "event_time", "account", "region", "group_id", "action", "direction", "protocol",
               "from_port", "to_port", "peer", "actor", "error_code"]
WINDOW_KEYS = ["group_id", "account", "region", "direction", "protocol", "from_port", "to_port", "cidr",
               "opened_at", "opened_by", "closed_at", "closed_by", "close_reason", "still_open", "open_before_evidence"]


def _rows(frame: pd.DataFrame, keys: list[str]) -> list[tuple]:
    return sorted(tuple(r[k] for k in keys) for r in export.to_records(frame[keys]))


def _truth_rows(items: list[dict], keys: list[str]) -> list[tuple]:
    return sorted(tuple(item[k] for k in keys) for item in items)


def test_every_security_group_change_is_recovered(demo_inv, truth):
    changes = demo_inv.sg_changes()
    assert _rows(changes, CHANGE_KEYS) == _truth_rows(truth["sg_changes"], CHANGE_KEYS)


def test_every_ssh_exposure_window_is_recovered(demo_inv, truth):
    windows = demo_inv.ssh_exposure()
    assert _rows(windows, WINDOW_KEYS) == _truth_rows(truth["windows"], WINDOW_KEYS)
    assert len(windows) == 11  # 7 from the logs, 4 from the security-group state


def test_failed_attempt_is_an_attempt_not_a_window(demo_inv, truth):
    failed = demo_inv.failed_openings()
    assert [(r["event_id"], r["group_id"], r["actor"], r["error_code"]) for r in export.to_records(failed)] == [
        (f["event_id"], f["group_id"], f["actor"], f["error_code"]) for f in truth["failed_openings"]
    ]
    assert "sg-0d000000000000004" not in set(demo_inv.ssh_exposure()["group_id"])


def test_watched_ports_are_a_setting(demo, truth):
    inv = Investigation.from_evidence(demo / "evidence", Settings(watched_ports=(22, 3389)))
    windows = inv.ssh_exposure()
    rdp = windows[(windows["from_port"] == 3389)]
    assert len(windows) == 12  # 11 SSH windows (logs and state), and the RDP one
    assert export.to_records(rdp[["group_id", "opened_at", "opened_by", "still_open", "exposed_ports"]]) == [
        {**truth["rdp_window"], "still_open": True, "exposed_ports": "3389"}
    ]
    # The all-traffic rule exposes both watched ports.
    everything = windows[windows["protocol"] == "-1"]
    assert list(everything["exposed_ports"]) == ["22,3389"]


def test_internet_prefix_length_is_a_setting_and_private_space_never_counts(demo, truth):
    # At /8 a rule letting in 1/256 of the public space is an exposure; SSH from 10.0.0.0/8 is
    # private space, which never counts (issue 16): the demo's windows stay its eleven (the build
    # runner's 10.0.0.0/8 rule, in AWS Config, neither).
    inv = Investigation.from_evidence(demo / "evidence", Settings(internet_prefix_len=8))
    windows = inv.ssh_exposure()
    assert "10.0.0.0/8" not in set(windows["cidr"])
    assert sorted(windows["group_id"]) == sorted(w["group_id"] for w in truth["windows"])


def test_duplicate_delivery_counts_once(demo_inv, truth):
    assert demo_inv.intake.duplicates == truth["totals"]["duplicates"] == 1
    # The twice-delivered record is alice's SSH opening: it is one change, not two.
    changes = demo_inv.sg_changes()
    alice = changes[(changes["group_id"] == "sg-0a000000000000001") & (changes["action"] == "authorize")
                    & (changes["direction"] == "ingress")]
    assert len(alice) == 1
    # The table holds each eventID once (as the store does), and the intake counts the one left out.
    assert demo_inv.query("sg_changes", **queries.scope())["eventid"].duplicated().sum() == 0


def test_totals_add_up(demo_inv, truth):
    intake = demo_inv.intake
    assert intake.read == truth["totals"]["events"]
    assert intake.used == intake.read and intake.rejected == 0
    assert len(intake.files) == truth["totals"]["files"]
    assert all(f.read == f.used + f.rejected for f in intake.files)


def test_scope_filters(demo_inv, truth):
    tokyo = demo_inv.sg_changes(region="ap-northeast-1")
    assert set(tokyo["region"]) == {"ap-northeast-1"}
    assert len(tokyo) == sum(1 for c in truth["sg_changes"] if c["region"] == "ap-northeast-1")
    staging = demo_inv.sg_changes(account="222222222222")
    assert set(staging["group_id"]) == {"sg-0c000000000000003"}
    morning = demo_inv.sg_changes(since="2026-11-03T09:00:00Z", until="2026-11-03T09:10:00Z")
    assert list(morning["event_time"].dt.strftime("%H:%M:%S")) == ["09:00:00", "09:01:00", "09:02:00", "09:05:41"]


def test_window_opened_before_since_keeps_its_real_opening(demo_inv):
    # Asking from 10:00 still shows who opened sg-0a... at 09:02, because rules are replayed from the start.
    windows = demo_inv.ssh_exposure(since="2026-11-03T10:00:00Z")
    bastion = windows[windows["group_id"] == "sg-0a000000000000001"].iloc[0]
    assert bastion["opened_at"] == pd.Timestamp("2026-11-03T09:02:00Z")
    assert not bastion["open_before_evidence"]
    # The sandbox window closed on day 1 is outside the scope.
    assert "sg-0f000000000000006" not in set(windows["group_id"])


def revoked_by_rule_id(folder: Path) -> Path:
    """Evidence where sgr-1 opens SSH at 09:00 (the response names it) and is revoked by its id at 10:00."""
    ssh = {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22}
    opened = event(1, eventName="AuthorizeSecurityGroupIngress", eventTime="2026-01-01T09:00:00Z",
                   requestParameters={"groupId": "sg-1", "ipPermissions": {"items": [{**ssh, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}},
                   responseElements={"securityGroupRuleSet": {"items": [{"groupId": "sg-1", "securityGroupRuleId": "sgr-1", "isEgress": False, **ssh, "cidrIpv4": "0.0.0.0/0"}]}})
    closed = event(2, eventName="RevokeSecurityGroupIngress", eventTime="2026-01-01T10:00:00Z",
                   requestParameters={"groupId": "sg-1", "securityGroupRuleIds": {"items": [{"securityGroupRuleId": "sgr-1"}]}})
    folder.mkdir()
    (folder / "trail.json").write_text(json.dumps({"Records": [opened, closed]}), encoding="utf-8")
    return folder


def test_changes_since_a_time_still_say_what_a_revoke_by_rule_id_removed(tmp_path):
    # The rule was learnt from a response before `since`: the revoke after it still names what it removed.
    inv = Investigation.from_evidence(revoked_by_rule_id(tmp_path / "evidence"))
    keys = ["event_time", "action", "protocol", "from_port", "to_port", "peer", "rule_id"]
    assert export.to_records(inv.sg_changes(since="2026-01-01T09:30:00Z")[keys]) == [
        {"event_time": "2026-01-01T10:00:00Z", "action": "revoke", "protocol": "tcp", "from_port": 22, "to_port": 22,
         "peer": "0.0.0.0/0", "rule_id": "sgr-1"}]
    assert len(inv.sg_changes(since="2026-01-01T10:00:01Z")) == 0


def test_still_open_window_lasts_until_the_end_of_the_evidence(demo_inv):
    windows = demo_inv.ssh_exposure()
    still = windows[windows["still_open"]].iloc[0]
    last = demo_inv.span()["last_event"]
    assert still["duration"] == pd.Timestamp(last) - still["opened_at"]
    until = demo_inv.ssh_exposure(until="2026-11-03T12:00:00Z")
    still = until[until["group_id"] == "sg-0e000000000000005"].iloc[0]
    assert still["duration"] == pd.Timedelta(hours=2, minutes=30)


def test_actor_activity_timeline(demo_inv, truth):
    events = demo_inv.activity("mallory")
    # The security-group incident, not the detections story of the third day (where mallory goes on).
    incident = events[(events["event_source"] == "ec2.amazonaws.com") & (events["event_time"] < DETECTIONS_DAY)]
    assert set(incident["actor"]) == {truth["attacker"]}
    assert set(incident["source_ip"]) == {truth["attacker_ip"]}
    assert list(incident["event_name"]) == ["AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupIngress",
                                            "AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules",
                                            "AuthorizeSecurityGroupIngress"]
    assert events["event_time"].is_monotonic_increasing
    by_arn = demo_inv.activity("arn:aws:iam::111111111111:role/ops-admin")
    assert set(by_arn["event_id"]) == set(events["event_id"])
    by_key = demo_inv.activity("ASIAMALLORY000000001")
    assert set(by_key["event_id"]) == set(events["event_id"])
    for shown in ("ops-admin / mallory", "ops-admin/mallory"):  # what the tables show, pasted back
        assert list(demo_inv.activity(shown)["event_id"]) == list(events["event_id"])
    assert demo_inv.activity("other-role / mallory").empty
    assert demo_inv.principals_like("MALLORY") == ["mallory"]


def test_query_log_records_what_ran(demo_inv):
    demo_inv.sg_changes(region="us-east-1")
    last = demo_inv.log[-1]
    assert last["query"] == "sg_changes" and last["engine"] == "duckdb"
    assert last["params"]["region"] == "us-east-1"
    assert "$region" in last["sql"]


@pytest.fixture(scope="module")
def focused_inv(demo) -> Investigation:
    return Investigation.from_evidence(demo / "evidence", only=security_groups.EVENT_NAMES)


def test_a_scan_for_security_groups_answers_exactly_as_a_full_scan(focused_inv, demo_inv, truth):
    assert _rows(focused_inv.sg_changes(), CHANGE_KEYS) == _truth_rows(truth["sg_changes"], CHANGE_KEYS)
    assert _rows(focused_inv.ssh_exposure(), WINDOW_KEYS) == _truth_rows(truth["windows"], WINDOW_KEYS)
    pd.testing.assert_frame_equal(focused_inv.sg_changes(), demo_inv.sg_changes())
    # Still-open windows end at the last event of the evidence, whatever its name: the spine keeps it.
    pd.testing.assert_frame_equal(focused_inv.ssh_exposure(), demo_inv.ssh_exposure())
    assert focused_inv.span() == demo_inv.span()
    # Every record was read, checked and counted, and the twice-delivered one counted once.
    assert (focused_inv.intake.read, focused_inv.intake.used, focused_inv.intake.rejected) == \
           (truth["totals"]["events"], truth["totals"]["events"], 0)
    assert focused_inv.intake.duplicates == demo_inv.intake.duplicates == 1


def test_a_scan_for_security_groups_refuses_questions_it_cannot_answer(focused_inv, demo_inv):
    with pytest.raises(ConfigError, match="'principal_events' reads events that this scan did not convert"):
        focused_inv.activity("mallory")
    with pytest.raises(ConfigError, match="did not convert"):
        focused_inv.detect()
    with pytest.raises(ConfigError, match="'trail_logging' reads events"):
        focused_inv.coverage()  # silent hours need only the spine, but logging outages need the trail calls
    hours = queries.scope()
    pd.testing.assert_frame_equal(focused_inv.query("hourly_events", **hours), demo_inv.query("hourly_events", **hours))


def test_a_raw_scan_draws_a_progress_bar_when_asked_and_is_silent_otherwise(demo, capsys):
    Investigation.from_evidence(demo / "evidence", progress=True)
    drawn = capsys.readouterr().err
    from audit_toolkit.evidence.layout import discover_files

    files = len(discover_files(demo / "evidence"))
    assert "ingest" in drawn and f"{files}/{files}" in drawn  # every file read, out of the files to read
    Investigation.from_evidence(demo / "evidence")
    assert capsys.readouterr().err == ""
