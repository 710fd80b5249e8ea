"""One crafted record never stops an investigation, and never hides another (issue 16).

Property-based: hypothesis copies a record of the demo incident (a security-group call, a call a
detection reads, an instance call the findings are tied by, a GuardDuty finding) and puts a value of
any JSON type, or a NaN, a 1e400, a value nested 10,000 deep, in one place of it at any depth. The
copy is added to the evidence in an account of its own; then the whole pipeline runs (reader, engine,
normalizer, replay, detections, findings, correlation, report, chat rendering). Nothing may raise,
every file's records must add up, and every answer the evidence gave without the copy must still be
given with it.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_toolkit import report
from audit_toolkit.chatwork.share import messages_for, summary_messages
from audit_toolkit.investigation import Investigation
from audit_toolkit.evidence.reader import read_cloudtrail_file
from audit_toolkit.synthetic import generate
from util import event, write

HOSTILE_ACCOUNT = "999999999999"
# Texts json.dumps cannot write, put in place of these markers after it has written the record.
RAW = {"@nan@": "NaN", "@big@": "1e400", "@deep@": "[" * 10_000 + "]" * 10_000, "@inf@": "-Infinity"}
SCALARS = (st.none() | st.booleans() | st.integers() | st.sampled_from([10**400, -1, 0, 65536, 2**63])
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
           | st.sampled_from(["", "0.0.0.0/0", "::/0", "-1", "tcp", "22", "sg-1", "\x1b[2J\u202e", *RAW]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
SG_CALLS = ("SecurityGroup", "SecurityGroupRule")
INSTANCE_CALLS = ("RunInstances", "ModifyInstanceAttribute", "ModifyNetworkInterfaceAttribute")
DETECTED = ("StopLogging", "DeleteTrail", "PutEventSelectors", "DeleteDetector", "PutBucketPolicy",
            "CreateAccessKey", "AttachUserPolicy", "ConsoleLogin", "PutRule", "CreateTrail")


@st.composite
def mutated(draw, value, inside: bool = False):
    """`value` with one place in it (itself, or a member at any depth) replaced by any JSON value;
    `inside`: a member at some depth, never the value itself."""
    if isinstance(value, (dict, list)) and value and (inside or draw(st.integers(0, 3))):
        copy = dict(value) if isinstance(value, dict) else list(value)
        key = draw(st.sampled_from(list(copy) if isinstance(copy, dict) else range(len(copy))))
        copy[key] = draw(mutated(value[key]))
        return copy
    if isinstance(value, dict) and (inside or draw(st.booleans())):
        return {**value, draw(st.text(max_size=8)): draw(JSON)}
    return draw(JSON)


def dumps(value) -> bytes:
    text = json.dumps(value)
    for marker, raw in RAW.items():
        text = text.replace(json.dumps(marker), raw)
    return text.encode()


def _lines(path: Path) -> list[dict]:
    text = gzip.decompress(path.read_bytes()).decode()
    return json.loads(text)["Records"] if path.name.endswith(".json.gz") else [json.loads(x) for x in text.splitlines()]


@pytest.fixture(scope="session")
def base(tmp_path_factory) -> Path:
    """The demo incident without noise, packed in one file per account and region (fast to read)."""
    demo = tmp_path_factory.mktemp("hostile-demo")
    generate(demo, events=0, seed=11)
    packed: dict[Path, list] = {}
    for path in sorted((demo / "evidence").rglob("*.gz")):
        parts = path.relative_to(demo / "evidence").parts
        if "CloudTrail" not in parts and "GuardDuty" not in parts:
            continue  # digest files and their keys
        folder = Path(*parts[:parts.index("CloudTrail" if "CloudTrail" in parts else "GuardDuty") + 2])
        packed.setdefault(folder / ("f.json.gz" if "CloudTrail" in parts else "f.jsonl.gz"), []).extend(_lines(path))
    out = tmp_path_factory.mktemp("hostile-base")
    for name, records in packed.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        if name.name == "f.json.gz":
            body = json.dumps({"Records": records})
        else:
            body = "\n".join(json.dumps(r) for r in records)
        (out / name).write_bytes(gzip.compress(body.encode()))
    return out


def answers(inv: Investigation) -> dict[str, set]:
    """What the evidence says, each as a set of the identities of the rows, with everything rendered."""
    changes, windows = inv.sg_changes(), inv.ssh_exposure()
    hits, found, tied = inv.detect(), inv.findings(), inv.correlate()
    for frame, kind in ((changes, "sg-changes"), (windows, "ssh-exposure"), (hits, None), (found, None)):
        for message in messages_for(frame, kind):
            assert message.body
    assert summary_messages(changes, windows, found)
    return {
        "changes": {(r.event_id, r.group_id, r.action, r.protocol, str(r.from_port), r.peer, r.rule_id)
                    for r in changes.itertuples()},
        "windows": {(r.account, r.group_id, r.cidr, r.opened_event_id, r.closed_event_id) for r in windows.itertuples()},
        "hits": {(r.detection, r.event_id) for r in hits.itertuples()},
        "findings": set(found["id"]),
        "correlations": {(r.finding_id, r.opened_event_id) for r in tied.itertuples()},
    }


@pytest.fixture(scope="session")
def base_answers(base) -> dict[str, set]:
    inv = Investigation.from_evidence(base, workers=1)
    found = answers(inv)
    # the incident's 7 windows and the jump host's, which the logs open (only the state closes it), as the
    # ground truth says; 5 findings attacked a window
    assert (len(found["windows"]), len(found["correlations"])) == (8, 5)
    return found


def _records(base: Path, calls: tuple[str, ...]) -> list[dict]:
    return [r for path in sorted(base.rglob("f.json.gz")) for r in _lines(path)
            if any(c in r["eventName"] for c in calls)]


def _investigate(base: Path, tmp: Path, name: str, body: bytes) -> tuple[Investigation, dict[str, set]]:
    evidence = tmp / "evidence"
    shutil.rmtree(evidence, ignore_errors=True)
    shutil.copytree(base, evidence)
    (evidence / name).parent.mkdir(parents=True, exist_ok=True)
    (evidence / name).write_bytes(gzip.compress(body))
    inv = Investigation.from_evidence(evidence, workers=1)
    return inv, answers(inv)


def _nothing_lost(inv: Investigation, found: dict, before: dict, hostile: str, copies: int) -> None:
    for f in inv.intake.files + inv.findings_intake.files:
        assert f.read == f.used + f.rejected
    [held] = [f for f in inv.intake.files + inv.findings_intake.files if f.path.endswith(hostile)]
    assert (held.error, held.read) == (None, copies)
    for kind, rows in before.items():
        assert rows <= found[kind], f"{kind} lost: {sorted(rows - found[kind])[:3]}"


CLOUDTRAIL = f"AWSLogs/{HOSTILE_ACCOUNT}/CloudTrail/us-east-1/2026/11/03/hostile.json.gz"
GUARDDUTY = f"AWSLogs/{HOSTILE_ACCOUNT}/GuardDuty/us-east-1/2026/11/03/hostile.jsonl.gz"
# Each example runs the whole pipeline (~5 s here): a few examples, each with several hostile copies.
FEW = settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def hostile_records(draw, templates: list[dict], id_key: str, inside: bool = False) -> list[dict]:
    chosen = draw(st.lists(st.sampled_from(templates), min_size=1, max_size=6))
    return [draw(mutated({**t, id_key: f"hostile-{i}"}, inside)) for i, t in enumerate(chosen)]


@FEW
@given(data=st.data())
def test_hostile_cloudtrail_records_never_stop_the_pipeline_nor_hide_another(
        base, base_answers, tmp_path_factory, data):
    templates = _records(base, SG_CALLS + INSTANCE_CALLS + DETECTED)
    copies = data.draw(hostile_records(templates, "eventID"), label="hostile")
    body = dumps({"Records": copies})
    inv, found = _investigate(base, tmp_path_factory.mktemp("ct"), CLOUDTRAIL, body)
    _nothing_lost(inv, found, base_answers, "hostile.json.gz", len(copies))


@FEW
@given(data=st.data())
def test_hostile_guardduty_findings_never_stop_the_pipeline_nor_hide_another(
        base, base_answers, tmp_path_factory, data):
    templates = [r for p in sorted(base.rglob("f.jsonl.gz")) for r in _lines(p)]
    # Inside the finding: a line holding a list is several findings (or none), by the format.
    copies = data.draw(hostile_records(templates, "id", inside=True), label="hostile")
    body = b"\n".join(dumps(c) for c in copies)
    inv, found = _investigate(base, tmp_path_factory.mktemp("gd"), GUARDDUTY, body)
    _nothing_lost(inv, found, base_answers, "hostile.jsonl.gz", len(copies))


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_report_is_built_whatever_the_hostile_records_hold(base, tmp_path_factory, data):
    templates = _records(base, SG_CALLS + INSTANCE_CALLS + DETECTED)
    copies = data.draw(hostile_records(templates, "eventID"), label="hostile")
    inv, _ = _investigate(base, tmp_path_factory.mktemp("rep"), CLOUDTRAIL, dumps({"Records": copies}))
    built = report.build(inv)
    assert built.parts and any(f["path"].endswith("hostile.json.gz") for f in built.files)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), shape=st.sampled_from(["records", "array", "lines"]), zipped=st.booleans())
def test_each_record_of_a_file_is_read_on_its_own(tmp_path_factory, data, shape, zipped):
    """Hostile records anywhere in a file cost only themselves: every good record is kept, in order."""
    good = [event(i) for i in range(1, 4)]
    hostile = data.draw(st.lists(mutated({**event(9), "eventID": "hostile"}), max_size=3), label="hostile")
    texts = [json.dumps(r).encode() for r in good] + [dumps(r) for r in hostile]
    order = data.draw(st.permutations(range(len(texts))), label="order")
    texts = [texts[i] for i in order]
    joined = {"records": b'{"Records": [%s]}', "array": b"[%s]", "lines": b"%s"}[shape] % (
        (b"\n" if shape == "lines" else b", ").join(texts))
    path = tmp_path_factory.mktemp("file") / "f.json"
    write(path, joined, zipped)
    batch, file_report = read_cloudtrail_file(path)
    kept = batch.column("eventid").to_pylist()
    good_ids = [r["eventID"] for r in sorted(good, key=lambda r: texts.index(json.dumps(r).encode()))]
    assert [k for k in kept if k in good_ids] == good_ids
    assert (file_report.error, file_report.read) == (None, len(texts))
    assert file_report.read == file_report.used + file_report.rejected == len(texts)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), shape=st.sampled_from(["array", "lines"]))
def test_records_and_findings_joined_in_one_file_are_each_counted_once(tmp_path_factory, data, shape):
    """Exports joined in one JSON array or JSON-lines file: CloudTrail records, GuardDuty findings and
    hostile copies of both, in any order. Each element is read by the reader of its kind, as the
    evidence folder routes the file (layout.discover_*): every good record and finding is kept, each
    reader's counts add up, and the readers together count each element once, whatever a hostile
    copy holds (a NaN, a value 10,000 deep: an array is then split by its brackets)."""
    from datetime import datetime, timezone

    from hypothesis import assume

    from audit_toolkit.evidence.guardduty import read_findings
    from audit_toolkit.evidence.kinds import element_kinds
    from audit_toolkit.evidence.layout import discover_files, discover_findings
    from audit_toolkit.synthetic import gd_finding

    when = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)
    good = [event(i) for i in range(1, 4)]
    found = [gd_finding(f"f-{i}", "Recon:EC2/PortProbeUnprotectedPort", 2.0, "probe", "111111111111",
                        "us-east-1", first_seen=when, last_seen=when) for i in range(2)]
    hostile = data.draw(st.lists(mutated({**event(9), "eventID": "hostile"}), max_size=2), label="hostile")
    hostile += data.draw(st.lists(mutated({**found[0], "id": "hostile"}, inside=True), max_size=2),
                         label="hostile findings")
    texts = [json.dumps(r).encode() for r in good + found] + [dumps(r) for r in hostile]
    texts = [texts[i] for i in data.draw(st.permutations(range(len(texts))), label="order")]
    assume(not any({"cloudtrail", "guardduty"} <= set(element_kinds(t)) for t in texts))  # read by both
    folder = tmp_path_factory.mktemp("joined")
    path = folder / "joined.json"
    write(path, b"[%s]" % b", ".join(texts) if shape == "array" else b"\n".join(texts), False)
    reports, kept = [], []
    if discover_files(folder) == [path]:
        batch, trail = read_cloudtrail_file(path)
        reports.append(trail)
        kept += batch.column("eventid").to_pylist()
    if discover_findings(folder) == [path]:
        frame, intake = read_findings([path])
        reports += intake.files
        kept += list(frame["id"])
    assert set(kept) >= {r["eventID"] for r in good} | {f["id"] for f in found}
    assert all(r.error is None and r.read == r.used + r.rejected for r in reports)
    assert sum(r.read for r in reports) == len(texts)


def test_a_joined_export_whose_first_line_is_no_object_keeps_its_findings(tmp_path):
    """Found by the property above: JSON lines whose first line was `null` (the CloudTrail reader's
    to reject) made the findings reader refuse the whole file, and both findings were lost."""
    from datetime import datetime, timezone

    from audit_toolkit.evidence.guardduty import read_findings
    from audit_toolkit.synthetic import gd_finding

    when = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)
    found = [gd_finding(f"f-{i}", "Recon:EC2/PortProbeUnprotectedPort", 2.0, "probe", "111111111111",
                        "us-east-1", first_seen=when, last_seen=when) for i in range(2)]
    path = tmp_path / "joined.json"
    path.write_bytes(b"\n".join([b"null", json.dumps(event(1)).encode(), *(json.dumps(f).encode() for f in found)]))
    batch, trail = read_cloudtrail_file(path)
    frame, intake = read_findings([path])
    (gd,) = intake.files
    assert (trail.read, trail.used, trail.rejected) == (2, 1, 1)
    assert (gd.error, gd.read, gd.used, list(frame["id"])) == (None, 2, 2, ["f-0", "f-1"])


def test_a_finding_neither_reader_decodes_is_counted_once(tmp_path):
    """Found by the property above: a finding holding 1e400 two levels down, in an array joined
    with records, was left by the CloudTrail reader to the findings reader (its outline is a
    finding's), which could not decode it and left it back: counted by neither."""
    from datetime import datetime, timezone

    from audit_toolkit.evidence.guardduty import read_findings
    from audit_toolkit.synthetic import gd_finding

    when = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)
    found = [gd_finding(f"f-{i}", "Recon:EC2/PortProbeUnprotectedPort", 2.0, "probe", "111111111111",
                        "us-east-1", first_seen=when, last_seen=when) for i in range(2)]
    hostile = json.dumps({**found[0], "id": "hostile", "schemaVersion": [["@big@"]]})
    texts = [json.dumps(event(1)), *(json.dumps(f) for f in found), hostile.replace('"@big@"', "1e400")]
    path = tmp_path / "joined.json"
    path.write_text("[" + ", ".join(texts) + "]")
    batch, trail = read_cloudtrail_file(path)
    frame, intake = read_findings([path])
    (gd,) = intake.files
    assert (trail.read, trail.used, trail.rejected) == (1, 1, 0)
    assert (gd.error, gd.read, gd.used, gd.rejected, list(frame["id"])) == (None, 3, 2, 1, ["f-0", "f-1"])
    assert gd.rejections == ["record 2: element 4 is not JSON: Number out of range - at `$[...][0][0]`"]


def test_a_rule_id_copied_into_another_account_does_not_bend_a_revoke_by_id(base, base_answers, tmp_path):
    """Found by the property above: a copy of alice's authorize (rule sgr-0a000000000000011) placed
    in another account made her revoke by that id close nothing, and the window vanished."""
    opening = next(r for r in _records(base, ("AuthorizeSecurityGroupIngress",))
                   if "sgr-0a000000000000011" in json.dumps(r.get("responseElements")))
    response = json.dumps(opening["responseElements"]).replace('"toPort": 22', '"toPort": 23')
    copy = {**opening, "eventID": "hostile-0", "eventTime": "2026-11-03T09:30:00Z",
            "responseElements": json.loads(response)}
    inv, found = _investigate(base, tmp_path, CLOUDTRAIL, dumps({"Records": [copy]}))
    assert ("111111111111", "sg-0a000000000000001", "0.0.0.0/0", opening["eventID"],
            "244caf9c-4dab-b481-7253-edc618187993") in found["windows"]
    assert base_answers["windows"] <= found["windows"]


def _sg_call(i: int, name: str, request: dict, response: dict | None = None, **extra) -> dict:
    return event(i, eventName=name, eventTime=f"2026-01-01T{9 + i:02d}:00:00Z", readOnly=False,
                 requestParameters=request, responseElements=response, **extra)


SSH_WORLD = {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}
FORGED_EGRESS = _sg_call(0, "AuthorizeSecurityGroupEgress", {"groupId": "sg-0bbb", "ipPermissions": {"items": [
    {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "10.9.9.9/32"}]}}]}},
    {"_return": True, "securityGroupRuleSet": {"items": [{
        "groupId": "sg-0bbb", "securityGroupRuleId": "sgr-0real", "isEgress": True, "ipProtocol": "tcp",
        "fromPort": 443, "toPort": 443, "cidrIpv4": "10.9.9.9/32"}]}})
GENUINE_MODIFY = _sg_call(1, "ModifySecurityGroupRules", {"ModifySecurityGroupRulesRequest": {
    "GroupId": "sg-0aaa", "SecurityGroupRule": {"SecurityGroupRuleId": "sgr-0real", "SecurityGroupRule": {
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "0.0.0.0/0"}}}},
    {"ModifySecurityGroupRulesResponse": {"return": True}})
NO_PROTOCOL = _sg_call(1, "AuthorizeSecurityGroupIngress", {"groupId": "sg-0aaa", "ipPermissions": {"items": [
    {k: v for k, v in SSH_WORLD.items() if k != "ipProtocol"}]}}, {"_return": True})

SSH_OPEN = {"groupId": "sg-0aaa", "ipPermissions": {"items": [SSH_WORLD]}}
GENUINE_OPEN = _sg_call(0, "AuthorizeSecurityGroupIngress", SSH_OPEN, {"_return": True})
FORGED_NAME = ("Event 00000000-0000-0000-0000-000000000000 spells its eventName unlike AWS (in case or "
               "other characters): a forged or corrupted record, read as the call it spells, the reading "
               "that keeps the exposure open.")
FORGED_REMOVAL = ("Event 00000000-0000-0000-0000-000000000001, a removal, spells its eventName unlike AWS "
                  "(in case or other characters: forged or corrupted): whether it happened cannot be "
                  "decided, so it removed nothing, the reading that keeps the exposure open.")


@pytest.mark.parametrize("records, code, still, caveat", [
    # attack16 F6e: a security-group call's name in another case, or padded, was no call at all
    *[([_sg_call(0, name, SSH_OPEN, {"_return": True})], 3, [("sg-0aaa", "2026-01-01T09:00:00Z")],
       FORGED_NAME)
      for name in ("authorizesecuritygroupingress", " AuthorizeSecurityGroupIngress",
                   "AuthorizeSecurityGroupIngress\u200b", "AUTHORIZE_SECURITY_GROUP_INGRESS")],
    # ... and a revoke so named closed the genuine opening: it removes nothing, and says why
    ([GENUINE_OPEN, _sg_call(1, "revokeSecurityGroupIngress ", SSH_OPEN, {"_return": True})], 3,
     [("sg-0aaa", "2026-01-01T09:00:00Z")], FORGED_REMOVAL),
    # attack16 F3: a forged egress rule id in sg-0bbb no longer hides the genuine modify in sg-0aaa
    ([FORGED_EGRESS, GENUINE_MODIFY], 3, [("sg-0aaa", "2026-01-01T10:00:00Z")],
     "Event 00000000-0000-0000-0000-000000000001 modifies rule sgr-0real, whose direction the evidence "
     "cannot decide (an earlier record placed it in another group, or contradicts itself): it was read as "
     "ingress, the reading that keeps the exposure open."),
    # attack16 F6b: an opening without ipProtocol is a call that could not be read: exit 4, said
    ([NO_PROTOCOL], 4, [], None),
])
def test_ssh_exposure_fails_on_a_hidden_opening(tmp_path, records, code, still, caveat):
    from click.testing import CliRunner

    from audit_toolkit.cli import main

    folder = tmp_path / "AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/01"
    write(folder / "f.json.gz", json.dumps({"Records": records}).encode(), zipped=True)
    result = CliRunner().invoke(main, ["ssh-exposure", "--evidence", str(tmp_path), "--format", "json",
                                       "--fail-on-open"], catch_exceptions=False)
    assert result.exit_code == code
    rows = json.loads(result.stdout)
    assert [(r["group_id"], r["opened_at"]) for r in rows if r["still_open"]] == still
    assert [r["caveat"] for r in rows] == ([caveat] if still else [])
    if code == 4:
        assert ("1 security-group call could not be read and may hide a window" in result.stderr
                and "the successful call's protocol (missing) is not one AWS takes" in result.stderr)
        assert ("the evidence cannot show that nothing is open: 1 security-group call could not be read"
                in result.stderr)


def test_an_opening_rejected_at_intake_makes_fail_on_open_say_the_evidence_cannot_answer(tmp_path):
    """NaN in a member nobody reads gets the whole record rejected: with it, the opening. The cron
    audit went green on that (exit 0, "0 windows")."""
    from click.testing import CliRunner

    from audit_toolkit.cli import main

    opening = _sg_call(1, "AuthorizeSecurityGroupIngress", {"groupId": "sg-0aaa", "ipPermissions": {"items": [
        SSH_WORLD]}, "x": float("nan")}, {"_return": True})
    folder = tmp_path / "AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/01"
    write(folder / "f.json.gz", json.dumps({"Records": [event(0), opening]}).encode(), zipped=True)
    result = CliRunner().invoke(main, ["ssh-exposure", "--evidence", str(tmp_path), "--fail-on-open"])
    assert result.exit_code == 4, result.output
    assert "1 event read" not in result.stderr and "2 events read, 1 used, 1 rejected" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "the evidence cannot show that nothing is open: 1 record rejected (any may be a security-group call)")


@pytest.mark.parametrize("with_opening, code", [(True, 3), (False, 4)])
def test_a_revoke_whose_response_says_false_keeps_the_window_and_is_counted(tmp_path, with_opening, code):
    """attack16r M4: `"_return": false` closed the window, exit 0, no word. Read, the revoke alone
    was a window open before the evidence and closed: exit 0 too."""
    from click.testing import CliRunner

    from audit_toolkit.cli import main

    opening = _sg_call(0, "AuthorizeSecurityGroupIngress", {"groupId": "sg-0aaa", "ipPermissions": {"items": [
        SSH_WORLD]}}, {"_return": True})
    revoke = _sg_call(1, "RevokeSecurityGroupIngress", {"groupId": "sg-0aaa", "ipPermissions": {"items": [
        SSH_WORLD]}}, {"_return": False})
    folder = tmp_path / "AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/01"
    records = [opening, revoke] if with_opening else [revoke]
    write(folder / "f.json.gz", json.dumps({"Records": records}).encode(), zipped=True)
    result = CliRunner().invoke(main, ["ssh-exposure", "--evidence", str(tmp_path), "--format", "json",
                                       "--fail-on-open"], catch_exceptions=False)
    assert result.exit_code == code, result.output
    rows = json.loads(result.stdout)
    assert [(r["group_id"], r["opened_at"], r["still_open"], r["closed_at"]) for r in rows] == (
        [("sg-0aaa", "2026-01-01T09:00:00Z", True, None)] if with_opening else [])
    assert ("1 security-group call could not be read and may hide a window" in result.stderr
            and "the response's _return is not true: whether the call succeeded cannot be decided" in result.stderr)


def test_a_first_line_nested_too_deep_hides_no_finding_of_a_joined_file(tmp_path):
    """The file was recognised as nothing when its first line was too deep to outline, so it went to the
    CloudTrail reader alone and its findings were read by nobody (found by the property above)."""
    from datetime import datetime, timezone

    from audit_toolkit.evidence.guardduty import read_findings
    from audit_toolkit.evidence.layout import discover_files, discover_findings
    from audit_toolkit.synthetic import gd_finding

    finding = gd_finding("f-0", "Recon:EC2/PortProbeUnprotectedPort", 2.0, "probe", "111111111111", "us-east-1",
                         first_seen=datetime(2026, 1, 1, 9, tzinfo=timezone.utc),
                         last_seen=datetime(2026, 1, 1, 9, tzinfo=timezone.utc))
    path = write(tmp_path / "joined.json", b"\n".join([b'{"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
                                                         json.dumps(event(1)).encode(), json.dumps(finding).encode()]),
                 False)
    assert (discover_files(tmp_path), discover_findings(tmp_path)) == ([path], [path])
    frame, intake = read_findings([path])
    assert (list(frame["id"]), intake.used) == (["f-0"], 1)
