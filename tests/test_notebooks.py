"""The notebooks run top to bottom on the demo evidence, on DuckDB and on Athena, are stored clean, and
hold no logic of their own.

On Athena each notebook's kernel reaches moto's server on 127.0.0.1 through the environment it
inherits (fake credentials, AWS_ENDPOINT_URL, AUDIT_TOOLKIT_ATHENA_*). moto does not execute SQL: it
gives each query the next result of one queue, taken at StartQueryExecution, in order. So the queue is
DuckDB's answer to each query the same notebook ran on DuckDB, in the order it ran them: a notebook
asks the same questions in the same order on either engine, and the run checks that it did (the SQL
submitted at each place is the Athena text of the query DuckDB ran there, with the same parameters),
so every canned answer answers the query it was given to. Proved: the switch, the settings reaching
the kernel, the SQL submitted and its binding, and the same windows, actors and counts from Athena's
result format. Not proved: that Athena's own SQL engine returns those rows (tests/test_athena_sql.py
checks the translation; only a real account can check the rest).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import boto3
import nbformat
import papermill as pm
import pytest
import requests
from pyathena.formatter import DefaultParameterFormatter

from audit_toolkit.evidence.layout import NOT_EVIDENCE
from audit_toolkit.evidence.log_validation import validate_folder
from _aws import fake_aws, moto_server, set_athena_results  # noqa: F401 (fixture)
from test_athena_engine import logged_answers
from audit_toolkit.synthetic import STATE_AT

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
ALLOWED_IMPORTS = ("audit_toolkit", "pandas", "pathlib", "IPython.display")
ATHENA_OUTPUT = "s3://athena-results/notebooks/"
# Each notebook's parameters besides the engine and the evidence, given the folder it runs in.
PARAMETERS = {
    "1_incident_investigation.ipynb": lambda folder: {"outbox": str(folder / "outbox.sqlite"), "display_tz": "UTC",
                                                      "state_at": STATE_AT},
    "2_periodic_audit.ipynb": lambda folder: {"since": "2026-11-03", "until": "2026-11-04", "state_at": STATE_AT},
    "3_guardduty_triage.ipynb": lambda folder: {"display_tz": "UTC", "state_at": STATE_AT},
}


def input_files(demo: Path) -> int:
    """The demo's files the scan reads: not the digests, the keys or the signatures beside them."""
    return sum(1 for p in (demo / "evidence").rglob("*")
               if p.is_file() and "/CloudTrail-Digest/" not in p.as_posix()
               and p.name not in NOT_EVIDENCE)


def cells(nb, kind="code"):
    return [c for c in nb.cells if c.cell_type == kind]


def tagged(nb, tag: str):
    [cell] = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    return cell


def text(cell) -> str:
    parts = []
    for output in cell.outputs:
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def displayed(cell) -> list:
    """A cell's outputs as shown: the kernel may split one printed text into several stream chunks
    (it did under load), so consecutive chunks of one stream are joined."""
    shown, stream = [], None
    for output in cell.outputs:
        if output.get("output_type") == "stream" and output.get("name") == stream:
            shown[-1] += output["text"]
            continue
        stream = output.get("name") if output.get("output_type") == "stream" else None
        shown.append(output.get("data", output.get("text")))
    return shown


def test_the_three_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["1_incident_investigation.ipynb", "2_periodic_audit.ipynb",
                                           "3_guardduty_triage.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs_with_one_parameters_cell_switching_the_engine(path):
    nb = nbformat.read(path, as_version=4)
    for cell in cells(nb):
        assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: stored with outputs"
    params = tagged(nb, "parameters")
    assert params.source.startswith('engine = "duckdb"')  # "athena" here is the one change for Athena
    assert "Investigation.open(engine," in "".join(c.source for c in cells(nb))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_display_zone_parameter_defers_to_the_setting(path, monkeypatch):
    """A default of its own hid AUDIT_TOOLKIT_DISPLAY_TZ: the notebooks showed JST whatever was set."""
    from audit_toolkit.settings import Settings

    values: dict = {}
    exec(tagged(nbformat.read(path, as_version=4), "parameters").source, {}, values)
    monkeypatch.setenv("AUDIT_TOOLKIT_DISPLAY_TZ", "Europe/Berlin")
    assert Settings.load(display_tz=values["display_tz"]).display_tz == "Europe/Berlin"


def test_the_periodic_audit_appendix_counts_in_words(capsys):
    """`(1 run)`, not `(1 runs)`: the appendix cell, run on a report of one query run once, with the
    notebook's own imports."""
    nb = nbformat.read(NOTEBOOKS[1], as_version=4)
    namespace: dict = {}
    for cell in cells(nb):
        imports = [n for n in ast.parse(cell.source).body if isinstance(n, (ast.Import, ast.ImportFrom))]
        exec(compile(ast.Module(body=imports, type_ignores=[]), "imports", "exec"), namespace)
    from types import SimpleNamespace

    from audit_toolkit.settings import Settings

    namespace["inv"] = SimpleNamespace(settings=Settings(language="en"))
    one = {"query": "sg_changes", "engine": "duckdb 1.1", "params": ["since='2026-11-03'"]}
    two = {"query": "evidence_span", "engine": "duckdb 1.1", "params": ["", "account='1'"]}
    for queries, said in (([one], "1 distinct query"), ([one, two], "2 distinct queries")):
        namespace["report"] = type("Report", (), {"inputs": "3 input files hashed", "queries": queries})
        exec(tagged(nb, "answer-appendix").source, namespace)
        printed = capsys.readouterr().out.splitlines()
        assert printed[0] == f"3 input files hashed; {said}"
    assert printed[1:] == ["sg_changes on duckdb 1.1 (1 run)", "evidence_span on duckdb 1.1 (2 runs)"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_only_the_public_api_is_called(path):
    nb = nbformat.read(path, as_version=4)
    for cell in cells(nb):
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert all(n.startswith(ALLOWED_IMPORTS) for n in names), names
                assert not any("._" in n or n.startswith("_") for n in names)
            assert not isinstance(node, (ast.FunctionDef, ast.ClassDef)), "logic belongs in the package"
            if isinstance(node, ast.Attribute):
                assert not node.attr.startswith("_"), f"{path.name} reaches into a private name: {node.attr}"


# Appended to the copy that runs (never stored): the queries the kernel ran, and Athena's ids for them.
RECORD = """import json
from pathlib import Path
written = Path("queries.json").write_text(json.dumps({"log": inv.log, "ids": [r.query_id for r in getattr(inv.engine, "reports", [])]}))"""


@dataclass
class Run:
    nb: nbformat.NotebookNode
    folder: Path
    log: list[dict]  # each query the kernel ran: name, engine, SQL, parameters
    sent: list[dict]  # on Athena: each QueryExecution as moto received it, in order


def run(path: Path, folder: Path, **parameters) -> Run:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(RECORD))
    source, out = folder / f"in-{path.name}", folder / path.name
    nbformat.write(nb, source)
    pm.execute_notebook(str(source), str(out), parameters=parameters, cwd=str(folder), kernel_name="python3",
                        progress_bar=False)
    ran = json.loads((folder / "queries.json").read_text(encoding="utf-8"))
    athena = boto3.client("athena") if ran["ids"] else None
    sent = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ran["ids"]]
    return Run(nbformat.read(out, as_version=4), folder, ran["log"], sent)


@pytest.fixture(scope="module")
def runs(demo, demo_inv, moto_server, tmp_path_factory):
    """Each notebook run once per engine, when first asked for: on DuckDB over the demo evidence; on
    Athena (moto) with no evidence on disk, answered with DuckDB's answers to its DuckDB run's queries."""
    done: dict[tuple[str, str], Run] = {}

    def get(path: Path, engine: str) -> Run:
        if (path.name, engine) in done:
            return done[path.name, engine]
        folder = tmp_path_factory.mktemp(f"{path.stem}-{engine}")
        if engine == "duckdb":
            with pytest.MonkeyPatch.context() as env:  # the answers asserted below are in English
                env.setenv("AUDIT_TOOLKIT_LANGUAGE", "en")
                done[path.name, engine] = run(path, folder, engine="duckdb", evidence=str(demo / "evidence"),
                                              **PARAMETERS[path.name](folder))
            return done[path.name, engine]
        duck = get(path, "duckdb")
        with pytest.MonkeyPatch.context() as env:  # only while the kernel starts and runs
            requests.post(f"{moto_server}/moto-api/reset", timeout=10)
            fake_aws(env, moto_server, folder)
            env.setenv("AUDIT_TOOLKIT_ATHENA_DATABASE", "forensics")
            env.setenv("AUDIT_TOOLKIT_ATHENA_WORKGROUP", "primary")
            env.setenv("AUDIT_TOOLKIT_ATHENA_OUTPUT", ATHENA_OUTPUT)
            env.setenv("AUDIT_TOOLKIT_LANGUAGE", "en")
            env.setenv("AUDIT_TOOLKIT_ATHENA_FLOW_LOGS", "1")  # as after `athena setup --flow-logs`
            set_athena_results(moto_server, logged_answers(demo_inv, duck.log))
            done[path.name, engine] = run(path, folder, engine="athena", evidence=str(folder / "no-evidence-here"),
                                          **PARAMETERS[path.name](folder))
        return done[path.name, engine]

    return get


@pytest.fixture(params=["duckdb", "athena"])
def engine(request) -> str:
    return request.param


def test_incident_notebook_finds_the_longest_window_its_actor_and_the_curated_message(runs, engine, truth):
    ran = runs(NOTEBOOKS[0], engine)
    nb = ran.nb
    listed = re.findall(r"^\d+ +\d{12} +\S+ +(sg-[0-9a-f]+) ", text(tagged(nb, "answer-windows")), flags=re.M)
    assert sorted(listed) == sorted(w["group_id"] for w in truth["windows"])
    assert f"sg-0e000000000000005 0.0.0.0/0 opened 2026-11-03 09:30:00+00:00 by {truth['attacker']} from" \
        in text(tagged(nb, "answer-window"))
    assert "still open at the end of the evidence" in text(tagged(nb, "answer-window"))
    files, digests = truth["totals"]["files"], truth["totals"]["digests"]
    assert text(tagged(nb, "answer-proof")) == (
        f"{files:,} of {files:,} log files and {digests:,} of {digests:,} digests proven AWS-delivered and "
        "unaltered; 655 hours covered by the chain, 0 gaps\n" if engine == "duckdb"
        else "not checked: the logs are read where they are, not from a folder\n")
    assert "events by ASIAMALLORY000000001;" in text(tagged(nb, "answer-activity"))  # mallory's session, not the whole role
    assert "Client.UnauthorizedOperation" in text(tagged(nb, "answer-failed"))
    # The windows no logged call opened, and where state and logs disagree (the demo's Config story).
    state = text(tagged(nb, "answer-state"))
    assert all(name in state for name in ("legacy-bastion", "build-runner", "old-web", "closed_not_logged",
                                          "deleted_not_logged", "related_events_missing"))
    assert text(tagged(nb, "answer-correlated")).startswith(
        "Recon:EC2/PortProbeUnprotectedPort on i-0app000000000003 from 203.0.113.99 (Brazil, Probe Net Ltda) to port 22")
    shared = text(tagged(nb, "answer-share"))
    assert shared.count("----- 1/1 ") == 2  # the window, and the one finding that attacked it
    assert "----- 1/1 ssh-exposure " in shared and "----- 1/1 correlations " in shared and "sg-0e000000000000005" in shared
    images = [o for c in cells(nb) for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # the exposure chart and the activity heatmap
    assert (ran.folder / "out" / "incident" / "exposure.png").read_bytes().startswith(b"\x89PNG")


def test_periodic_audit_notebook_writes_the_report_for_the_range(runs, engine, demo):
    ran = runs(NOTEBOOKS[1], engine)
    nb = ran.nb
    sections = text(tagged(nb, "answer-sections"))
    # the demo's story of security-group state adds three windows in the range, one still open
    assert "9 windows in which port 22 stood open to the internet; 2 still open at the end of the range" in sections
    assert "22 security-group rule changes (actors: 7; failed calls: 1)" in sections
    files = input_files(demo)
    hashed = f"{files:,} input files hashed" if engine == "duckdb" else \
        "No input files hashed: the logs were read where they are in S3 (Athena database forensics), not on this machine"
    assert text(tagged(nb, "answer-appendix")).startswith(f"{hashed}; 13 distinct queries\nsg_state on {engine} ")
    html = (ran.folder / "out" / "audit" / "report.html").read_text(encoding="utf-8")
    markdown = (ran.folder / "out" / "audit" / "report.md").read_text(encoding="utf-8")
    assert "Security audit 2026-11-03 to 2026-11-04" in html
    if engine == "duckdb":
        assert f"<caption>Input files ({files})</caption>" in html and f"**Input files** ({files})" in markdown
        # state_at dates the demo's describe output, so it is read: only a flow-log line is left out
        assert "Evidence not fully used: 1 record rejected (listed under “Time range and evidence” and on " \
            "the command's stderr)\n" in sections
        assert "| security-group state |" not in markdown and "| VPC flow logs |" in markdown
    else:  # no empty table of files: the appendix says why there is none
        assert f"<p>{hashed}</p>" in html and f"\n{hashed}\n" in markdown and "Input files (" not in html + markdown
    images = [o for c in cells(nb) for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # changes, exposure windows, findings


def test_guardduty_triage_notebook_drills_into_the_first_attack_and_its_cloudtrail(runs, engine, truth, demo_inv):
    nb = runs(NOTEBOOKS[2], engine).nb
    assert text(tagged(nb, "answer-count")) == f"{len(demo_inv.findings())} GuardDuty findings in the range\n"
    assert len(text(tagged(nb, "answer-tied")).strip().splitlines()) == len(truth["correlations"]) == 5
    assert "5e000000000000000000000000000001: UnauthorizedAccess:EC2/SSHBruteForce (severity 2.0) on i-0ba5710n000000001" \
        in text(tagged(nb, "answer-finding"))
    assert "5 CloudTrail events name the finding's instance, groups or attacker" in text(tagged(nb, "answer-events"))
    assert "arn:aws:iam::111111111111:user/alice" in text(tagged(nb, "answer-windows"))
    others = text(tagged(nb, "answer-others"))
    assert others.startswith("1 other finding on i-0ba5710n000000001 while its window was open")
    assert "CryptoCurrency:EC2/BitcoinTool.B!DNS" in others
    images = [o for c in cells(nb) for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # findings by severity, exposure windows with the attacks


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_on_athena_the_kernel_submits_the_queries_of_the_duckdb_run_with_the_settings_from_the_environment(runs, path):
    duck, athena = runs(path, "duckdb"), runs(path, "athena")
    asked = lambda r: [(e["query"], e["params"]) for e in r.log]  # noqa: E731
    assert asked(athena) == asked(duck) and len(athena.sent) == len(athena.log) > 10
    assert {e["engine"] for e in athena.log} == {"athena"}
    for entry, execution in zip(athena.log, athena.sent):
        assert execution["Query"] == DefaultParameterFormatter().format(entry["sql"], entry["params"])
        assert execution["Status"]["State"] == "SUCCEEDED"
        assert execution["QueryExecutionContext"]["Database"] == "forensics" and execution["WorkGroup"] == "primary"
        assert execution["ResultConfiguration"]["OutputLocation"].startswith(ATHENA_OUTPUT)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_on_athena_every_table_chart_and_line_is_the_duckdb_runs_but_what_was_read(runs, demo, demo_inv, path):
    duck, athena = runs(path, "duckdb"), runs(path, "athena")
    read, files = demo_inv.intake.summary(), input_files(demo)
    proof = validate_folder(demo / "evidence").summary()
    on_athena = {  # what the DuckDB run says of its evidence -> what the Athena run says instead
        # The report's proof, and notebook 1's: Athena has no folder to validate.
        f"Proof of origin (CloudTrail's signed digests): {proof}":
            "Proof of origin: not checked (no evidence folder to validate against "
            "CloudTrail's digests)",
        f"{proof}\n": "not checked: the logs are read where they are, not from a folder\n",
        f"evidence {demo / 'evidence'} on duckdb": "Athena database forensics on athena",
        f"Read: {read}\n": "",  # the report's scope facts: Athena reads no files here
        # the lead's line on what the scan could not use: the demo's one malformed flow-log line
        "Evidence not fully used: 1 record rejected (listed under “Time range and evidence” and on the "
        "command's stderr)\n": "",
        f"{read}\n": "\n",  # notebook 1 prints the intake summary, or nothing
        f"{files:,} input files hashed": "No input files hashed: the logs were read where they are in S3 "
                                       "(Athena database forensics), not on this machine",
        f"on duckdb {demo_inv.engine.version}": "on athena (the workgroup's engine version)",
    }

    def expected(value):
        if isinstance(value, dict):
            return {kind: expected(v) for kind, v in value.items()}
        for old, new in on_athena.items():
            value = value.replace(old, new)
        return value

    compared = 0
    for left, right in zip(cells(duck.nb), cells(athena.nb), strict=True):
        shown = displayed(right)
        assert shown == [expected(value) for value in displayed(left)], left.source
        compared += len(shown)
    assert compared > 10  # the DataFrames, the printed answers and the charts' PNG bytes


def test_incident_notebook_says_who_came_in_through_the_window(runs, engine, truth):
    nb = runs(NOTEBOOKS[0], engine).nb
    said = text(tagged(nb, "answer-connections"))
    window = [c for c in truth["connections"] if c["group_id"] == "sg-0e000000000000005"]
    for c in window:
        assert f"{c['source']} (" in said and c["verdict"] in said
    assert said.startswith("198.51.100.200 (an address nobody knows) through sg-0e000000000000005 (tcp/22): session")
    assert "no flow log record from 2026-11-03 13:00 UTC to 2026-11-03 14:00 UTC" in said
    shared = text(tagged(nb, "answer-connections-share"))
    assert shared.count("----- 1/1 connections ") == 1 and "198.51.100.200" in shared


def test_the_incident_notebook_says_the_proof_and_who_came_in_in_the_language_setting(demo, truth, tmp_path,
                                                                                       monkeypatch):
    """In Japanese (the default) the digest chain's verdict and the connections' sentences are the
    report's Japanese, as the report says them."""
    monkeypatch.setenv("AUDIT_TOOLKIT_LANGUAGE", "ja")
    nb = run(NOTEBOOKS[0], tmp_path, engine="duckdb", evidence=str(demo / "evidence"),
             **PARAMETERS[NOTEBOOKS[0].name](tmp_path)).nb
    files, digests = truth["totals"]["files"], truth["totals"]["digests"]
    assert text(tagged(nb, "answer-proof")) == (
        f"ログファイル {files:,} 個のうち {files:,} 個、ダイジェスト {digests:,} 個のうち {digests:,} 個が AWS の配信で"
        "改変なしと証明されました。チェーンがカバーする時間 655 時間、欠落 0 件\n")
    said = text(tagged(nb, "answer-connections"))
    assert said.startswith("198.51.100.200 (誰も知らないアドレス) から sg-0e000000000000005 (tcp/22) へ: セッション、")
    assert "2026-11-03 13:00 UTC から 2026-11-03 14:00 UTC までフローログの記録がありません" in said


def test_the_readme_papermill_line_runs_as_written_from_the_repository_root(demo, tmp_path):
    """The line a user copies from the README: from the root, on `make demo`'s evidence, output under out/."""
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    (line,) = [x for x in readme.splitlines() if ".venv/bin/papermill notebooks/" in x]
    shutil.copytree(root / "notebooks", tmp_path / "notebooks")
    shutil.copytree(demo / "evidence", tmp_path / "demo" / "evidence")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))  # the README's .venv: the one running these tests
    done = subprocess.run(["bash", "-c", line], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    ran = nbformat.read(tmp_path / "out" / "2_periodic_audit.ipynb", as_version=4)
    [opened] = [c for c in cells(ran) if "write_report(" in c.source]
    assert "out/audit/report.html" in text(opened)
    # in the language setting: Japanese unless AUDIT_TOOLKIT_LANGUAGE says otherwise
    assert "セキュリティ監査 2026-11-03 〜 2026-11-04" in (tmp_path / "out/audit/report.html").read_text(encoding="utf-8")
    # the line's state_at dates the demo's describe output: no state file among those not fully used
    markdown = (tmp_path / "out/audit/report.md").read_text(encoding="utf-8")
    assert "| セキュリティグループの状態 |" not in markdown and "| VPC フローログ |" in markdown


def test_project_paths_resolve_the_same_from_the_root_and_from_notebooks(tmp_path):
    from audit_toolkit.notebook import project_path

    (tmp_path / "notebooks").mkdir()
    assert project_path("demo/evidence", tmp_path) == Path("demo/evidence")
    assert project_path("demo/evidence", tmp_path / "notebooks") == Path("../demo/evidence")
    assert (tmp_path / "notebooks" / project_path("demo/evidence", tmp_path / "notebooks")).resolve() == \
        (tmp_path / "demo/evidence").resolve()
    assert project_path("/abs/x", tmp_path / "notebooks") == Path("/abs/x") and project_path(None) is None


def test_the_periodic_audit_appendix_is_in_one_language():
    """It printed "入力ファイル 2576 個のハッシュ; 12 distinct queries": the report's phrase beside the
    notebook's own English."""
    from types import SimpleNamespace

    from audit_toolkit.notebook import appendix_lines
    from audit_toolkit.settings import Settings

    queries = [{"query": "sg_state", "engine": "duckdb", "params": [{}]},
               {"query": "sg_changes", "engine": "duckdb", "params": [{}, {}]}]
    ja = SimpleNamespace(inputs="入力ファイル 3 個のハッシュ", queries=queries)
    assert appendix_lines(ja, Settings(language="ja")) == (
        "入力ファイル 3 個のハッシュ、異なるクエリ 2 個\nsg_state (duckdb で 1 回実行)\nsg_changes (duckdb で 2 回実行)")
    en = SimpleNamespace(inputs="3 input files hashed", queries=queries[:1])
    assert appendix_lines(en, Settings(language="en")) == (
        "3 input files hashed; 1 distinct query\nsg_state on duckdb (1 run)")
