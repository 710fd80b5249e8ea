"""The columnar store: same rows as the raw scan, incremental, safe to interrupt, keeps the intake report."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from audit_toolkit import queries
from audit_toolkit.cli import main
from audit_toolkit.engines.duckdb import DuckDBEngine
from audit_toolkit.evidence import flowlogs
from audit_toolkit.evidence import store as store_module
from audit_toolkit.evidence.layout import discover_files
from audit_toolkit.errors import EvidenceError
from audit_toolkit.evidence.store import CATALOG, TABLE, Store, ingest
from audit_toolkit.investigation import Investigation
from util import tree


def _real_data() -> Path:
    repo = Path(__file__).resolve().parents[1]
    for candidate in (repo.parent / "shared" / "data" / "real", Path("/work/shared/data/real")):
        if candidate.exists():
            return candidate
    pytest.skip("the shared real data (../shared/data/real) is not on this machine")


@pytest.fixture
def invictus(tmp_path: Path) -> Path:
    """A copy of the invictus trail (55 files), so tests can grow and damage it."""
    folder = tmp_path / "invictus"
    shutil.copytree(_real_data() / "invictus-ir-aws_dataset" / "CloudTrail", folder)
    return folder


def _event(i: int, event_id: str | None = None, name: str = "AuthorizeSecurityGroupIngress") -> dict:
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "userName": "alice",
                         "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE"},
        "eventTime": f"2024-05-01T10:{i // 60:02d}:{i % 60:02d}Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": {"groupId": "sg-0123", "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}},
        "responseElements": {"_return": True},
        "eventID": event_id or f"00000000-0000-0000-0000-{i:012d}",
        "readOnly": False,
        "recipientAccountId": "111122223333",
    }


def _write(folder: Path, name: str, records: list) -> Path:
    path = folder / "AWSLogs" / "111122223333" / "CloudTrail" / "eu-west-1" / "2024" / "05" / "01" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    return path


def _all_queries(inv: Investigation) -> dict[str, pd.DataFrame]:
    values = {"principal_events": {"principal": "arn:aws:iam::123837392027:user/benjamin"},
              "findings": {"min_severity": None}, "sg_state": {"first_day": None, "days": []},
              "interface_state": {"first_day": None, "days": []},
              # one window's flows: unbounded, SSH, every interface (evidence.flowlogs.scope)
              "connections": {**flowlogs.scope(None, None, 3600), "protocol": 6, "from_port": 22,
                              "to_port": 22, "interfaces": None, "instances": None}}
    bound = {name: {**queries.scope(), **values.get(name, {})} for name in queries.QUERIES}
    # each query takes the scope as far as it declares it (the Config queries list their days)
    return {name: inv.query(name, **{k: v for k, v in bound[name].items() if k in q.params})
            for name, q in queries.QUERIES.items()}


def _table(engine: DuckDBEngine) -> pd.DataFrame:
    return engine.run("SELECT * FROM cloudtrail ORDER BY eventid, eventtime", {})


def test_every_query_returns_the_same_rows_on_raw_evidence_and_on_the_store(invictus: Path, tmp_path: Path):
    raw = Investigation.from_evidence(invictus)
    # Built in two runs, so that the store's incremental path is what is compared.
    files = discover_files(invictus)
    ingest(files[:20], tmp_path / "store", workers=2)
    ingest(files, tmp_path / "store", workers=2)
    stored = Investigation.from_store(tmp_path / "store")
    assert raw.span()["events"] == 2900
    raw_results, store_results = _all_queries(raw), _all_queries(stored)
    assert sorted(raw_results) == sorted(queries.QUERIES) and {"sg_changes", "principal_events"} <= set(raw_results)
    for name in queries.QUERIES:
        pd.testing.assert_frame_equal(raw_results[name], store_results[name], check_exact=True)
    assert len(store_results["sg_changes"]) > 0 and len(store_results["principal_events"]) > 0
    pd.testing.assert_frame_equal(_table(raw.engine), _table(stored.engine))
    assert (stored.intake.read, stored.intake.used, stored.intake.rejected) == (2900, 2900, 0)
    assert stored.source == f"store {tmp_path / 'store'}"


def test_the_scan_keeps_every_field_of_the_real_records(invictus: Path):
    """The column-by-column build gives back what the file says, record by record."""
    engine = DuckDBEngine()
    engine.load_cloudtrail(discover_files(invictus))
    table = _table(engine).set_index("eventid")
    checked = 0
    for path in sorted(invictus.iterdir()):
        for r in json.loads(path.read_text())["Records"]:
            row = table.loc[r["eventID"]]
            assert row["eventname"] == r["eventName"] and row["eventtime"] == r["eventTime"]
            assert row["useridentity"]["arn"] == r["userIdentity"].get("arn")
            issuer = (r["userIdentity"].get("sessionContext") or {}).get("sessionIssuer") or {}
            got_issuer = (row["useridentity"]["sessioncontext"] or {}).get("sessionissuer") or {}
            assert got_issuer.get("arn") == issuer.get("arn")
            for column, key in [("requestparameters", "requestParameters"), ("responseelements", "responseElements")]:
                expected = r.get(key)
                assert (None if pd.isna(row[column]) else json.loads(row[column])) == expected
            assert (None if pd.isna(row["readonly"]) else row["readonly"]) == (
                None if "readOnly" not in r else str(r["readOnly"]).lower())
            got = None if row["resources"] is None or row["resources"] is pd.NA else [x["arn"] for x in row["resources"]]
            assert got == ([x.get("ARN") for x in r["resources"]] if "resources" in r else None)
            checked += 1
    assert checked == 2900


def test_a_grown_folder_converts_only_the_new_files(tmp_path: Path):
    evidence = tmp_path / "evidence"
    for f in range(3):
        _write(evidence, f"a{f}.json.gz", [_event(f * 10 + i) for i in range(10)])
    first = ingest(discover_files(evidence), tmp_path / "store", workers=1)
    assert (len(first.files), first.used) == (3, 30)
    again = ingest(discover_files(evidence), tmp_path / "store", workers=1)
    assert (len(again.files), again.used) == (0, 0)  # nothing new: nothing read
    _write(evidence, "b0.json.gz", [_event(100 + i) for i in range(5)])
    grown = ingest(discover_files(evidence), tmp_path / "store", workers=1)
    assert [Path(f.path).name for f in grown.files] == ["b0.json.gz"]
    assert grown.used == 5
    store = Store.open(tmp_path / "store")
    assert len(store.sources) == 4 and store.events == 35
    assert all(len(s["sha256"]) == 64 and s["size"] > 0 for s in store.sources.values())
    engine = DuckDBEngine()
    engine.attach_store(tmp_path / "store")
    assert engine.run("SELECT count(*) AS n, count(DISTINCT eventid) AS d FROM cloudtrail", {}).iloc[0].tolist() == [35, 35]


def test_an_event_is_held_once_across_files_and_runs(tmp_path: Path):
    evidence = tmp_path / "evidence"
    _write(evidence, "a.json.gz", [_event(i) for i in range(4)])
    _write(evidence, "b.json.gz", [_event(2), _event(3), _event(4)])  # 2 and 3 again, from a second trail
    first = ingest(discover_files(evidence), tmp_path / "store", workers=1)
    assert (first.used, first.duplicates) == (7, 2)
    _write(evidence, "c.json.gz", [_event(0), _event(5)])  # 0 is already in the store
    second = ingest(discover_files(evidence), tmp_path / "store", workers=1)
    assert (second.used, second.duplicates) == (2, 1)
    engine = DuckDBEngine()
    intake = engine.attach_store(tmp_path / "store")
    ids = engine.run("SELECT eventid FROM cloudtrail ORDER BY eventid", {})["eventid"].tolist()
    assert ids == [f"00000000-0000-0000-0000-{i:012d}" for i in range(6)]
    assert intake.duplicates == 3 and intake.used == 9


def test_an_interrupted_ingest_completes_on_the_next_run_without_loss_or_duplicates(tmp_path: Path, monkeypatch):
    evidence = tmp_path / "evidence"
    for f in range(6):
        _write(evidence, f"f{f}.json.gz", [_event(f * 20 + i) for i in range(20)])
    _write(evidence, "g.json.gz", [_event(0), _event(1)])  # duplicates of the first file
    files = discover_files(evidence)

    class Killed(Exception):
        pass

    calls = {"n": 0}
    convert = store_module._convert

    def dies_half_way(task):
        calls["n"] += 1
        if calls["n"] == 4:  # the first round (3 tasks) is committed; the second dies in its first task
            raise Killed()
        return convert(task)

    monkeypatch.setattr(store_module, "_convert", dies_half_way)
    # One file per task, three tasks per round, in-process so the failure is injected where it counts.
    with pytest.raises(Killed):
        ingest(files, tmp_path / "store", workers=1, task_bytes=1, round_bytes=1)
    half = Store.open(tmp_path / "store")
    assert len(half.sources) == 3 and half.events == 60
    # A part written but not committed, as a kill between rename and commit leaves it.
    stray = half.folder / "part-stray.parquet"
    shutil.copy(half.part_paths()[0], stray)
    monkeypatch.setattr(store_module, "_convert", convert)
    rest = ingest(files, tmp_path / "store", workers=1)
    assert len(rest.files) == 4 and rest.duplicates == 2
    assert not stray.exists()
    engine = DuckDBEngine()
    engine.attach_store(tmp_path / "store")
    ids = engine.run("SELECT eventid FROM cloudtrail", {})["eventid"]
    assert len(ids) == 120 and ids.is_unique
    assert set(ids) == {f"00000000-0000-0000-0000-{i:012d}" for i in range(120)}


def _row_groups_read(part: Path, where: str, tmp_path: Path) -> tuple[int, int]:
    """How many row groups of the part DuckDB reads for `where`, of how many, from its query profile."""
    profile = tmp_path / "profile.json"
    con = duckdb.connect()
    con.execute(f"SET enable_profiling = 'json'; SET profiling_output = '{profile}'")
    con.execute(f"SELECT eventid FROM read_parquet('{part}') WHERE {where}").fetchall()
    con.close()
    nodes = json.loads(profile.read_text())["operator"]
    while nodes[0]["name"] != "READ_PARQUET":
        nodes = nodes[0]["children"]
    return nodes[0]["row_groups_scanned"], nodes[0]["total_row_groups_to_scan"]


def test_a_kept_store_clusters_each_event_name_into_few_row_groups(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(store_module, "CLUSTER_ROW_GROUP", 4)
    evidence = tmp_path / "evidence"
    # 8 security-group calls among 28 other events, interleaved in time as a trail writes them.
    names = ["AuthorizeSecurityGroupIngress"] * 8 + ["DescribeInstances"] * 10 + ["DescribeVolumes"] * 10 + ["ListBuckets"] * 8
    records = []
    for i in range(36):
        event = _event(i, name=names[i * 5 % 36])
        if event["eventName"] == "ListBuckets":
            event["eventSource"] = "s3.amazonaws.com"
        records.append(event)
    _write(evidence, "a.json.gz", records)
    ingest(discover_files(evidence), tmp_path / "store", workers=1)
    [part] = Store.open(tmp_path / "store").part_paths()
    table = pq.read_table(part, columns=["eventsource", "eventname", "eventtime"]).to_pylist()
    assert [tuple(r.values()) for r in table] == sorted(tuple(r.values()) for r in table)
    # Row groups: Authorize x2, DescribeInstances x2, DescribeInstances+DescribeVolumes, DescribeVolumes x2, ListBuckets x2.
    assert _row_groups_read(part, "eventname = 'AuthorizeSecurityGroupIngress'", tmp_path) == (2, 9)
    # DescribeSnapshots falls in the min..max of the mixed Describe row group, as a name a detection asks
    # for falls in the ranges of a busy account's row groups: its Bloom filter tells that it is not there.
    asked = "eventsource = 'ec2.amazonaws.com' AND eventname IN ('AuthorizeSecurityGroupIngress', 'DescribeSnapshots')"
    assert _row_groups_read(part, asked, tmp_path) == (2, 9)
    # The scan's scratch parts are read once: written in the order of the files, not sorted.
    engine = DuckDBEngine()
    engine.load_cloudtrail(discover_files(evidence), workers=1)
    times = engine.run("SELECT eventtime FROM cloudtrail", {})["eventtime"].tolist()
    assert times == [r["eventTime"] for r in records]
    stored = Investigation.from_store(tmp_path / "store").query("sg_changes", **queries.scope())
    assert stored["eventtime"].tolist() == [r["eventTime"] for r in records if r["eventName"].startswith("Authorize")]


def test_the_store_records_what_was_rejected_and_why(tmp_path: Path):
    evidence = tmp_path / "evidence"
    bad = _event(1)
    bad["userIdentity"] = None
    _write(evidence, "mixed.json.gz", [_event(0), bad, {"eventTime": "2024-05-01T00:00:00Z"}])
    truncated = _write(evidence, "truncated.json.gz", [_event(5)])
    truncated.write_bytes(truncated.read_bytes()[:40])
    ingest(discover_files(evidence), tmp_path / "store", workers=1)
    intake = Investigation.from_store(tmp_path / "store").intake
    by_name = {Path(f.path).name: f for f in intake.files}
    mixed = by_name["mixed.json.gz"]
    assert (mixed.read, mixed.used, mixed.rejected) == (3, 1, 2)
    assert mixed.rejections == ["record 1: userIdentity is null where an object was expected",
                                "record 2: no eventName or eventSource: not a CloudTrail record"]
    assert by_name["truncated.json.gz"].error.startswith("truncated or corrupt gzip")
    assert intake.summary() == (
        "2 files, 3 events read, 1 used, 2 rejected, 1 unreadable file, 0 duplicate events counted once")


def test_cli_ingest_then_query_the_store(tmp_path: Path):
    evidence = tmp_path / "evidence"
    _write(evidence, "a.json.gz", [_event(0), _event(1, name="RevokeSecurityGroupIngress")])
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", "--evidence", str(evidence), "--store", str(tmp_path / "store"), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "store " + str(tmp_path / "store") + ": 1 source file, 2 events, 1 part, 0 findings files, 0 state files" in result.output
    result = runner.invoke(main, ["ssh-exposure", "--store", str(tmp_path / "store"), "--format", "json"])
    assert result.exit_code == 0, result.output
    windows = json.loads(result.stdout)
    assert [(w["group_id"], w["opened_at"], w["closed_at"]) for w in windows] == [
        ("sg-0123", "2024-05-01T10:00:00Z", "2024-05-01T10:00:01Z")]
    assert f"store {tmp_path / 'store'}: 1 file, 2 events read" in result.stderr
    assert runner.invoke(main, ["sg-changes"]).exit_code == 2  # neither --evidence nor --store


@pytest.mark.parametrize("layout", ["store holds the evidence", "store inside the evidence",
                                    "same folder"])
@pytest.mark.parametrize("command", ["ingest", "ssh-exposure"])
def test_a_store_that_holds_or_lies_in_the_evidence_is_refused_before_anything_is_written(
        tmp_path, layout, command):
    case = tmp_path / "case"
    _write(case / "cloudtrail", "log.json.gz", [_event(0)])
    evidence, store = {"store holds the evidence": (case / "cloudtrail", case),
                       "store inside the evidence": (case, case / "cloudtrail" / "store"),
                       "same folder": (case / "cloudtrail", case / "cloudtrail")}[layout]
    before = tree(case)

    result = CliRunner().invoke(main, [command, "--evidence", str(evidence), "--store", str(store)])

    assert result.exit_code == 1 and result.exception.__class__ is SystemExit
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert f"the store {store} " in result.output and f"the evidence {evidence}" in result.output
    assert tree(case) == before  # not one file deleted, changed or added


def test_the_store_refuses_a_folder_it_did_not_make(tmp_path: Path):
    evidence, busy = tmp_path / "evidence", tmp_path / "busy"
    _write(evidence, "a.json.gz", [_event(0)])
    busy.mkdir()
    (busy / "notes.txt").write_text("case notes")
    (busy / TABLE).mkdir()
    (busy / TABLE / "part-notes.parquet").write_bytes(b"not ours")

    with pytest.raises(EvidenceError, match="is not empty and is not a store made by audit"):
        ingest(discover_files(evidence), busy)
    assert tree(busy) == {"notes.txt": b"case notes", f"{TABLE}/part-notes.parquet": b"not ours"}


def test_the_sweep_deletes_only_the_files_the_store_names(tmp_path: Path):
    evidence, root = tmp_path / "evidence", tmp_path / "store"
    _write(evidence, "a.json.gz", [_event(0)])
    ingest(discover_files(evidence), root)
    leftovers = [root / TABLE / "part-killed.parquet", root / TABLE / "part-killed.parquet.tmp",
                 root / f".{CATALOG}.0123.tmp"]
    strangers = {f"{TABLE}/notes.json": b"{}", "notes.txt": b"mine",
                 f"{TABLE}/copy.json.gz": b"evidence?"}
    for path in leftovers:
        path.write_bytes(b"half")
    for name, data in strangers.items():
        (root / name).write_bytes(data)

    _write(evidence, "b.json.gz", [_event(1)])
    ingest(discover_files(evidence), root)

    assert not any(p.exists() for p in leftovers)
    assert {k: v for k, v in tree(root).items() if k in strangers} == strangers
    assert Store.open(root).events == 2


def test_a_store_killed_before_its_first_part_is_still_its_own(tmp_path: Path):
    root = tmp_path / "store"
    Store.open(root, create=True)  # what a run killed right after it started leaves
    (root / TABLE).mkdir()
    (root / TABLE / "part-killed.parquet.tmp").write_bytes(b"half")
    evidence = tmp_path / "evidence"
    _write(evidence, "a.json.gz", [_event(0)])
    assert ingest(discover_files(evidence), root).used == 1
    assert not (root / TABLE / "part-killed.parquet.tmp").exists()


@pytest.mark.parametrize("catalog", ['{"version": 1}',
                                     '{"version": 1, "parts": 5, "sources": {}, "duplicates": 0}'])
def test_a_damaged_catalog_is_a_one_line_error(tmp_path: Path, catalog: str):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / CATALOG).write_text(catalog)
    result = CliRunner().invoke(main, ["sg-changes", "--store", str(tmp_path / "store")])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    store = tmp_path / "store"
    assert result.output.startswith(f"Error: the catalog of the store {store} is damaged (")
def _reordered(record: dict) -> dict:
    """The same record with the keys of every object in the opposite order: still a duplicate."""
    if isinstance(record, dict):
        return {k: _reordered(v) for k, v in reversed(list(record.items()))}
    return [_reordered(v) for v in record] if isinstance(record, list) else record


def test_two_records_with_one_event_id_and_different_content_are_both_kept_and_reported(tmp_path: Path):
    evidence = tmp_path / "evidence"
    real = {**_event(1, name="RevokeSecurityGroupIngress")}
    forged = {**real, "sourceIPAddress": "203.0.113.66", "userIdentity": {**real["userIdentity"], "userName": "bob"}}
    _write(evidence, "a.json.gz", [_event(0), real])
    _write(evidence, "b.json.gz", [_reordered(real), forged, _event(2)])  # a second trail, and a forgery
    scan = Investigation.from_evidence(evidence, workers=1)
    ingest(discover_files(evidence), tmp_path / "store", workers=1)
    kept = Investigation.from_store(tmp_path / "store")
    conflict = ("eventID 00000000-0000-0000-0000-000000000001 is held by 2 records that differ in sourceipaddress, "
                "useridentity (RevokeSecurityGroupIngress at 2024-05-01T10:00:01Z)")
    for inv in (scan, kept):  # the raw scan and the store agree
        assert (inv.intake.used, inv.intake.duplicates, inv.intake.conflicts) == (5, 1, [conflict])
        events = inv.events()
        assert sorted(events["sourceipaddress"][events["eventid"].str.endswith("01")]) == ["198.51.100.7", "203.0.113.66"]
        assert sorted(inv.sg_changes()["source_ip"]) == ["198.51.100.7", "198.51.100.7", "198.51.100.7", "203.0.113.66"]
    assert Store.open(tmp_path / "store").intake().conflicts == [conflict]


def test_a_conflicting_record_found_in_a_later_run_is_kept_beside_the_stored_one(tmp_path: Path):
    evidence = tmp_path / "evidence"
    _write(evidence, "a.json.gz", [_event(0), _event(1)])
    ingest(discover_files(evidence), tmp_path / "store", workers=1)
    _write(evidence, "b.json.gz", [{**_event(1), "eventTime": "2024-05-01T11:00:00Z"}, _event(0)])
    second = ingest(discover_files(evidence), tmp_path / "store", workers=1)
    assert (second.duplicates, second.conflicts) == (1, [
        "eventID 00000000-0000-0000-0000-000000000001 is held by 2 records that differ in eventtime "
        "(AuthorizeSecurityGroupIngress at 2024-05-01T10:00:01Z)"])
    engine = DuckDBEngine()
    engine.attach_store(tmp_path / "store")
    times = engine.run("SELECT eventtime FROM cloudtrail WHERE eventid LIKE '%1' ORDER BY eventtime", {})
    assert times["eventtime"].tolist() == ["2024-05-01T10:00:01Z", "2024-05-01T11:00:00Z"]


@pytest.mark.parametrize("folder", [TABLE, "guardduty", "config"])
@pytest.mark.parametrize("command", ["ingest", "ssh-exposure"])
def test_a_store_folder_that_is_a_symbolic_link_is_refused_before_anything_is_written(
        tmp_path: Path, folder: str, command: str):
    evidence, root, elsewhere = tmp_path / "evidence", tmp_path / "store", tmp_path / "elsewhere"
    _write(evidence, "a.json.gz", [_event(0)])
    ingest(discover_files(evidence), root)
    elsewhere.mkdir()
    (elsewhere / "part-x.parquet").write_bytes(b"someone else's")  # what a sweep would delete
    if (root / folder).exists():
        shutil.rmtree(root / folder)
    (root / folder).symlink_to(elsewhere, target_is_directory=True)
    _write(evidence, "b.json.gz", [_event(1)])

    args = ["--evidence", str(evidence)] if command == "ingest" else []
    result = CliRunner().invoke(main, [command, *args, "--store", str(root)])

    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert result.output == (f"Error: the store {root} has a {folder}/ that is a symbolic link: the "
                             "store writes and deletes only in folders of its own; remove the link "
                             "or ingest into a new store\n")
    assert tree(elsewhere) == {"part-x.parquet": b"someone else's"}


@pytest.mark.parametrize("damage", ["missing", "garbage", "other columns", "symlink", "name"])
@pytest.mark.parametrize("command", ["ingest", "ssh-exposure", "detect"])
def test_a_store_whose_part_is_missing_or_damaged_is_a_one_line_error(
        tmp_path: Path, damage: str, command: str):
    evidence, root = tmp_path / "evidence", tmp_path / "store"
    _write(evidence, "a.json.gz", [_event(0)])
    ingest(discover_files(evidence), root)
    part = Store.open(root).part_paths()[0]
    if damage == "missing":
        part.unlink()
    elif damage == "garbage":
        part.write_bytes(b"PAR1 not really")
    elif damage == "other columns":
        pq.write_table(pa.table({"x": [1]}), part)
    elif damage == "symlink":
        part.rename(tmp_path / "moved.parquet")
        part.symlink_to(tmp_path / "moved.parquet")
    else:
        catalog = json.loads((root / CATALOG).read_text())
        catalog["parts"] = ["../../moved.parquet"]
        (root / CATALOG).write_text(json.dumps(catalog))
    _write(evidence, "b.json.gz", [_event(1)])  # ingest has something to add

    args = ["--evidence", str(evidence)] if command == "ingest" else []
    result = CliRunner().invoke(main, [command, *args, "--store", str(root)])

    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert result.output.startswith(f"Error: the store {root} is damaged: ")
    problem = {"missing": "is missing", "garbage": "is not a Parquet file",
               "other columns": "does not hold the columns of the cloudtrail table",
               "symlink": "is a symbolic link",
               "name": "is not a name the store gives its parts"}[damage]
    assert problem in result.output
    assert result.output.endswith("ingest the evidence into a new store (audit-toolkit ingest "
                                  "--evidence EVIDENCE --store NEW_FOLDER)\n")


@pytest.mark.parametrize("cpus", [1, 2, 3, 4, 8, 16, 64])
@pytest.mark.parametrize("limit", [1 << 20, 32 << 20, 256 << 20, 1 << 30])
def test_the_workers_of_an_ingest_stay_within_the_memory_budget_together(cpus, limit):
    workers, per_file = store_module.memory_plan(cpus, limit)
    process, factor = store_module.PROCESS_BYTES, store_module.TEXT_FACTOR
    assert 1 <= workers <= cpus and per_file <= limit
    if workers > 1:  # the parent, and every worker at the peak of a file at the parallel limit
        assert process + workers * (process + factor * per_file) <= store_module.MEMORY_BUDGET
        assert per_file >= min(limit, store_module.MIN_PARALLEL_FILE)
    else:  # alone, a file at the full limit
        assert per_file == limit
    assert store_module.memory_plan(2, 256 << 20) == (2, 58_720_256)  # 56 MB: (1024 - 192) / 2 - 192, / 4
    assert store_module.memory_plan(8, 256 << 20) == (2, 58_720_256)  # 3 would leave 21.3 MB a file


def _pid(task) -> int:
    import os
    return os.getpid()


def test_a_parallel_pass_of_one_task_runs_in_a_worker_not_in_the_parent(monkeypatch):
    """Found by an attack review: one lying gzip file (its text 238 MB, its trailer saying 2
    bytes) was given up at the parallel limit in the parent, which kept what that took while a
    process read the file again alone: 1,030 MB together, over the budget (914 MB now)."""
    import os

    monkeypatch.setattr(store_module, "_convert", _pid)
    (pid,) = store_module._run(["task"], 2)
    assert pid != os.getpid()
    assert list(store_module._run(["task"], 1)) == [os.getpid()]
    assert list(store_module._run([], 2)) == []


@pytest.fixture
def small_budget(monkeypatch) -> None:
    """A memory plan of 4,000 bytes a file for each of 2 workers."""
    monkeypatch.setattr(store_module, "PROCESS_BYTES", 0)
    monkeypatch.setattr(store_module, "TEXT_FACTOR", 1)
    monkeypatch.setattr(store_module, "MIN_PARALLEL_FILE", 1)
    monkeypatch.setattr(store_module, "MEMORY_BUDGET", 2 * 4000)  # 2 workers: 4,000 bytes a file


def test_a_file_over_the_parallel_limit_is_read_again_alone_and_a_bomb_is_rejected_once(
        tmp_path: Path, small_budget):
    evidence = tmp_path / "evidence"
    small = [_write(evidence, f"s{i}.json.gz", [_event(i)]) for i in range(4)]
    big = _write(evidence, "big.json.gz", [_event(10 + i) for i in range(8)])  # ~8,000 bytes
    bomb = evidence / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b'{"Records": [' + b" " * 50_000 + b"]}"))

    report = ingest(discover_files(evidence), tmp_path / "store", workers=2, max_file_bytes=20_000)

    by_name = {Path(f.path).name: f for f in report.files}
    assert sorted(by_name) == sorted(p.name for p in [*small, big, bomb]) and len(report.files) == 6
    assert (by_name["big.json.gz"].error, by_name["big.json.gz"].used) == (None, 8)
    assert by_name["bomb.json.gz"].error == "the file inflates to more than the limit of 20,000 bytes"
    assert Store.open(tmp_path / "store").events == 12


def test_a_file_whose_gzip_trailer_says_it_is_over_the_parallel_limit_is_never_inflated_by_a_worker(
        tmp_path: Path, small_budget):
    evidence = tmp_path / "evidence"
    small = [_write(evidence, f"s{i}.json.gz", [_event(i)]) for i in range(3)]
    big = _write(evidence, "z-big.json.gz", [_event(10 + i) for i in range(8)])  # ~8,000 bytes, last
    tasks = store_module._tasks([*small, big], tmp_path, "zstd", 1 << 20, 2, None, True, 4000,
                                alone=True)
    # each small file a task (a few a worker), the big one a task of its own, only hashed there
    assert [(t.paths, t.max_bytes) for t in tasks] == [([str(p)], 4000) for p in small] + [
        ([str(big)], 0)]
    report = ingest(discover_files(evidence), tmp_path / "store", workers=2, max_file_bytes=20_000)
    by_name = {Path(f.path).name: f for f in report.files}
    assert (by_name["z-big.json.gz"].error, by_name["z-big.json.gz"].used) == (None, 8)
    assert Store.open(tmp_path / "store").events == 11


def test_a_file_refused_for_its_size_is_read_again_under_a_larger_limit(tmp_path):
    # A store made with AUDIT_TOOLKIT_MAX_FILE_BYTES lowered kept the refusal for good: ingest
    # again with a larger limit skipped the file (same path, same size), and the SSH window in it.
    from real_data import cloudtrail_record
    from test_state import SNAPSHOT, item, permission, write

    from audit_toolkit.evidence.store import ingest_evidence

    evidence = tmp_path / "evidence"
    trail = evidence / "trail.json"
    trail.parent.mkdir()
    trail.write_text(json.dumps({"Records": [cloudtrail_record("AuthorizeSecurityGroupIngress", '"fromPort": 22')] * 3}))
    write(evidence / SNAPSHOT, {"fileVersion": "1.0", "configurationItems": [
        item("sg-1", "2026-09-27T18:39:39.000Z", [permission("0.0.0.0/0")] * 20)]})
    store = tmp_path / "store"
    first = ingest_evidence(evidence, store, max_file_bytes=1000)
    assert [f.too_large for f in first[0].files + first[2].files] == [True, True]
    same = ingest_evidence(evidence, store, max_file_bytes=1000)
    assert (same[0].files, same[2].files) == ([], [])  # the same limit: held, not read again
    larger = ingest_evidence(evidence, store)
    assert [(f.error, f.used) for f in larger[0].files + larger[2].files] == [(None, 3), (None, 1)]
    held = Investigation.from_store(store)
    assert (held.intake.used, held.state_intake.used, held.intake.bad_files, held.state_intake.bad_files) == (3, 1, [], [])


def test_reasons_read_back_from_the_store_are_said_in_the_report_language(tmp_path: Path):
    from audit_toolkit.phrases import in_language

    evidence = tmp_path / "evidence"
    bad = _event(1)
    bad["userIdentity"] = None
    _write(evidence, "mixed.json.gz", [_event(0), bad])
    truncated = _write(evidence, "truncated.json.gz", [_event(5)])
    truncated.write_bytes(truncated.read_bytes()[:40])
    ps = evidence / "AWSLogs" / "111122223333" / "CloudTrail" / "eu-west-1" / "2024" / "05" / "01" / "ps.json"
    ps.write_bytes(b"\xff\xfe" + json.dumps({"Records": [_event(7)]}).encode("utf-16-le"))
    ingest(discover_files(evidence), tmp_path / "store", workers=1)
    for intake in (Investigation.from_store(tmp_path / "store").intake, Store.open(tmp_path / "store").intake()):
        by_name = {Path(f.path).name: f for f in intake.files}
        assert by_name["mixed.json.gz"].rejections == ["record 1: userIdentity is null where an object was expected"]
        assert [in_language(r, "ja") for r in by_name["mixed.json.gz"].rejections] == [
            in_language(r, "ja") for r in _read_again(evidence / by_name["mixed.json.gz"].path)]
        assert in_language(by_name["ps.json"].warnings[0], "ja") == "UTF-16LE として読み込みました (バイトオーダーマークによる)"
        assert in_language(by_name["truncated.json.gz"].error, "ja").startswith("途中で切れているか壊れた gzip: ")


def _read_again(path: Path) -> list:
    from audit_toolkit.evidence.reader import read_cloudtrail_file

    return read_cloudtrail_file(path)[1].rejections


def test_a_catalog_reason_that_no_longer_says_its_text_is_kept_as_stored():
    from audit_toolkit.evidence.reader import file_report

    edited = {"path": "a.json", "warnings": ["as written"], "error": "cannot be read to its end: boom",
              "phrases": {"error": {"key": "not_to_end", "values": {"error": "boom"}},
                          "warnings": [{"key": "no_such_key", "values": {}}]}}
    report = file_report(edited)
    assert report.warnings == ["as written"] and type(report.warnings[0]) is str
    assert report.error == "cannot be read to its end: boom" and report.error.phrase["key"] == "not_to_end"
