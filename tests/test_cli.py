"""The command line: every command has help; JSON, CSV and tables carry the documented fields."""

from __future__ import annotations

import csv
import io
import json

import click
import pytest
from click.testing import CliRunner

from audit_toolkit.cli import main

SG_FIELDS = {"event_time", "event_id", "account", "region", "group_id", "action", "direction", "protocol", "from_port",
             "to_port", "peer", "actor", "source_ip", "user_agent", "error_code"}
WINDOW_FIELDS = {"group_id", "account", "region", "direction", "protocol", "from_port", "to_port", "cidr", "opened_at",
                 "opened_by", "closed_at", "closed_by", "still_open"}


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


@pytest.mark.parametrize("path", list(_commands(main)), ids=" ".join)
def test_every_command_has_help(path):
    result = run(*path, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_ssh_exposure_json(demo, truth):
    result = run("ssh-exposure", "--evidence", str(demo / "evidence"), "--format", "json")
    assert result.exit_code == 0
    windows = json.loads(result.stdout)
    assert len(windows) == len(truth["windows"]) == 7
    assert all(WINDOW_FIELDS <= set(w) for w in windows)
    bastion = next(w for w in windows if w["group_id"] == "sg-0a000000000000001")
    assert (bastion["opened_at"], bastion["closed_at"], bastion["duration_seconds"]) == (
        "2026-11-03T09:02:00Z", "2026-11-03T11:32:15Z", 9015)
    assert "evidence:" in result.stderr  # the intake report goes to stderr, the answer to stdout


def test_sg_changes_json_and_scope(demo, truth):
    result = run("sg-changes", "--evidence", str(demo / "evidence"), "--format", "json",
                 "--account", "333333333333", "--since", "2026-11-03T00:00:00Z")
    changes = json.loads(result.stdout)
    assert all(SG_FIELDS <= set(c) for c in changes)
    assert sorted(c["event_id"] for c in changes) == sorted(
        c["event_id"] for c in truth["sg_changes"] if c["account"] == "333333333333" and c["event_time"] >= "2026-11-03")


def test_sg_changes_csv(demo, truth):
    result = run("sg-changes", "--evidence", str(demo / "evidence"), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(truth["sg_changes"])
    assert SG_FIELDS <= set(rows[0])


def test_ssh_exposure_table_and_ports(demo):
    result = run("ssh-exposure", "--evidence", str(demo / "evidence"), "--port", "3389")
    assert result.exit_code == 0
    rows = result.stdout.splitlines()[1:]
    # RDP opened by mallory, and carol's all-traffic rule, which lets 3389 in too.
    assert [r.split()[2] for r in rows] == ["sg-0c000000000000003", "sg-0e000000000000005"]
    assert [r.split()[3:6] for r in rows] == [["-1", "-1", "-1"], ["tcp", "3389", "3389"]]


def test_activity(demo):
    result = run("activity", "--evidence", str(demo / "evidence"), "--principal", "mallory", "--format", "json")
    events = json.loads(result.stdout)
    assert {e["actor"] for e in events} == {"arn:aws:iam::111111111111:role/ops-admin (session mallory)"}


def test_bad_input_is_reported_on_stderr(tmp_path):
    (tmp_path / "broken.json.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    result = run("sg-changes", "--evidence", str(tmp_path))
    assert result.exit_code == 0
    assert "broken.json.gz" in result.stderr and "gzip" in result.stderr
    assert result.stdout.strip() == "(none)"


def test_library_errors_are_clean_messages(tmp_path):
    result = CliRunner().invoke(main, ["sg-changes", "--evidence", str(tmp_path), "--since", "not-a-time"])
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit
    assert "Error: --since/--until must be an ISO 8601 time such as 2026-11-03T09:00:00Z, got 'not-a-time'" in result.output


@pytest.mark.parametrize("args, env, message", [
    (["--port", "70000"], {}, "Error: watched ports must be 1..65535, got 70000"),
    (["--port", "22", "--port", "0"], {}, "Error: watched ports must be 1..65535, got 22, 0"),
    ([], {"AUDIT_TOOLKIT_WATCHED_PORTS": "22,65536"}, "Error: watched ports must be 1..65535, got 22, 65536"),
    ([], {"AUDIT_TOOLKIT_INTERNET_PREFIX_LEN": "abc"}, "Error: AUDIT_TOOLKIT_INTERNET_PREFIX_LEN must be an integer, got 'abc'"),
    ([], {"AUDIT_TOOLKIT_INTERNET_PREFIX_LEN": "129"}, "Error: internet prefix length must be 0..128, got 129"),
])
def test_invalid_settings_are_clean_messages(tmp_path, args, env, message):
    result = CliRunner().invoke(main, ["ssh-exposure", "--evidence", str(tmp_path), *args], env=env)
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit
    assert result.output.strip() == message


def test_detect_json_only_and_severity(demo, truth):
    result = run("detect", "--evidence", str(demo / "evidence"), "--only", "cloudtrail_stopped", "--format", "json")
    rows = json.loads(result.stdout)
    stops = [h for h in truth["detections"]["hits"] if h["detection"] == "cloudtrail_stopped"]
    assert [(r["event_id"], r["outcome"]) for r in rows] == [(h["event_id"], h["outcome"]) for h in stops]
    table = run("detect", "--evidence", str(demo / "evidence"), "--min-severity", "critical").stdout
    assert "cloudtrail_stopped" in table and "sns_topic_deleted" not in table


def test_detect_catalogue_and_unknown_id(demo):
    listing = run("detect", "--catalogue", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(listing)))
    assert len(rows) == 35 and rows[0]["id"] == "sns_subscription_changed"
    result = CliRunner().invoke(main, ["detect", "--evidence", str(demo / "evidence"), "--only", "nope"])
    assert result.exit_code == 1 and "unknown detection nope" in result.output


def test_coverage_table(demo, truth):
    result = run("coverage", "--evidence", str(demo / "evidence"), "--format", "json")
    rows = json.loads(result.stdout)
    assert [r["kind"] for r in rows].count("no_events") == len(truth["detections"]["gaps"])
    assert {r["trail"] for r in rows if r["kind"] != "no_events"} == {"org-trail", "staging-trail"}


@pytest.mark.parametrize("bound", ["high", "7"])
def test_min_severity_takes_a_band_or_a_number_on_every_command(demo, truth, bound):
    """findings, correlate, detect and notify read --min-severity with one parser: high and 7 are the same bound."""
    from audit_toolkit.analysis.detections import BY_ID

    evidence = str(demo / "evidence")
    found = json.loads(run("findings", "--evidence", evidence, "--min-severity", bound, "--format", "json").stdout)
    assert [(f["id"], f["severity"]) for f in found] == [("5e000000000000000000000000000005", 8.0)]
    assert json.loads(run("correlate", "--evidence", evidence, "--min-severity", bound, "--format", "json").stdout) == []
    low = {"high": "low", "7": "1"}[bound]  # every correlated finding is Low (2.0)
    assert len(json.loads(run("correlate", "--evidence", evidence, "--min-severity", low, "--format", "json").stdout)) == 5
    hits = json.loads(run("detect", "--evidence", evidence, "--min-severity", bound, "--format", "json").stdout)
    story = [h for h in truth["detections"]["hits"] if BY_ID[h["detection"]].severity in ("high", "critical")]
    assert len(hits) == len(story) + 1 == 51  # and root's call of 11-02 (high)
    assert {h["severity"] for h in hits} == {"high", "critical"}
    sent = json.loads(run("notify", "--evidence", evidence, "--room", "42", "--kind", "detections", "--min-severity", bound,
                          "--dry-run", "--format", "json").stdout)
    assert sorted(s["fingerprint"] for s in sent) == sorted({s["fingerprint"] for s in sent}) and len(sent) == 51
    sent = json.loads(run("notify", "--evidence", evidence, "--room", "42", "--kind", "findings", "--min-severity", bound,
                          "--dry-run", "--format", "json").stdout)
    assert len(sent) == 1 and sent[0]["kind"] == "guardduty"


@pytest.mark.parametrize("command", ["findings", "correlate", "detect", "notify"])
def test_min_severity_out_of_range_is_refused_the_same_way(demo, command):
    extra = ["--room", "42", "--dry-run"] if command == "notify" else []
    for bad, reason in (("urgent", "expected low, medium, high, critical or a number from 0 to 10"),
                        ("11", "a GuardDuty severity is from 0 to 10")):
        result = CliRunner().invoke(main, [command, "--evidence", str(demo / "evidence"), *extra, "--min-severity", bad])
        assert result.exit_code == 2 and f"Invalid value for '--min-severity': '{bad}': {reason}" in result.output
