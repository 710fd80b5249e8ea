"""The notebooks run top to bottom on the demo evidence, are stored clean, and hold no logic of their own."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import papermill as pm
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
ALLOWED_IMPORTS = ("audit_toolkit", "pandas", "pathlib", "IPython.display")


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


def run(path: Path, tmp_path: Path, **parameters) -> nbformat.NotebookNode:
    out = tmp_path / path.name
    pm.execute_notebook(str(path), str(out), parameters=parameters, cwd=str(tmp_path), kernel_name="python3",
                        progress_bar=False)
    return nbformat.read(out, as_version=4)


def test_incident_notebook_finds_the_longest_window_its_actor_and_the_curated_message(demo, tmp_path):
    nb = run(NOTEBOOKS[0], tmp_path, evidence=str(demo / "evidence"), outbox=str(tmp_path / "outbox.sqlite"),
             display_tz="UTC")
    assert "sg-0e000000000000005 0.0.0.0/0 opened 2026-11-03 09:30:00+00:00 by arn:aws:iam::111111111111:role/ops-admin " \
           "(session mallory) from" in text(tagged(nb, "answer-window"))
    assert "still open at the end of the evidence" in text(tagged(nb, "answer-window"))
    assert "events by arn:aws:iam::111111111111:role/ops-admin" in text(tagged(nb, "answer-activity"))
    assert "Client.UnauthorizedOperation" in text(tagged(nb, "answer-failed"))
    assert text(tagged(nb, "answer-correlated")).startswith(
        "Recon:EC2/PortProbeUnprotectedPort on i-0app000000000003 from 203.0.113.99 (Brazil, Probe Net Ltda) to port 22")
    shared = text(tagged(nb, "answer-share"))
    assert shared.count("----- 1/1 ") == 2  # the window, and the one finding that attacked it
    assert "----- 1/1 ssh-exposure " in shared and "----- 1/1 correlations " in shared and "sg-0e000000000000005" in shared
    images = [o for c in cells(nb) for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # the exposure chart and the activity heatmap
    assert (tmp_path / "out" / "incident" / "exposure.png").read_bytes().startswith(b"\x89PNG")


def test_periodic_audit_notebook_writes_the_report_for_the_range(demo, tmp_path):
    nb = run(NOTEBOOKS[1], tmp_path, evidence=str(demo / "evidence"), since="2026-11-03", until="2026-11-04")
    sections = text(tagged(nb, "answer-sections"))
    assert "6 windows in which port 22 stood open to the internet; 1 still open at the end of the range" in sections
    assert "21 security-group rule changes by 7 actors, 1 of them failed calls" in sections
    files = sum(1 for p in (demo / "evidence").rglob("*") if p.is_file())
    assert text(tagged(nb, "answer-appendix")).startswith(f"{files} input files hashed; ")
    report = tmp_path / "out" / "audit" / "report.html"
    assert "Security audit 2026-11-03 to 2026-11-04" in report.read_text(encoding="utf-8")
    images = [o for c in cells(nb) for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # changes, exposure windows, findings


def test_guardduty_triage_notebook_drills_into_the_first_attack_and_its_cloudtrail(demo, truth, tmp_path):
    nb = run(NOTEBOOKS[2], tmp_path, evidence=str(demo / "evidence"), display_tz="UTC")
    assert len(text(tagged(nb, "answer-tied")).strip().splitlines()) == len(truth["correlations"]) == 5
    assert "5e000000000000000000000000000001: UnauthorizedAccess:EC2/SSHBruteForce (severity 2.0) on i-0ba5710n000000001" \
        in text(tagged(nb, "answer-finding"))
    assert "5 CloudTrail events name the finding's instance, groups or attacker" in text(tagged(nb, "answer-events"))
    assert "arn:aws:iam::111111111111:user/alice" in text(tagged(nb, "answer-windows"))
    images = [o for c in cells(nb) for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # findings by severity, exposure windows with the attacks
