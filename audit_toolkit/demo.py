"""`make demo`: generate the demo evidence, investigate it, print the summary, write the results."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Callable

from . import export
from .analysis import actors
from .analysis.connections import describe
from .analysis.events import records
from .errors import OutputError
from .cli import WINDOW_DROP, table_windows  # the same columns kept longest as ssh-exposure's
from .investigation import Investigation
from .phrases import words
from .report import Audit, intake_summary, write_report
from .settings import Settings
from .synthetic import generate


WRITTEN = ".audit-toolkit-demo.json"  # what the last demo wrote in its folder, and all it may remove


def _files(out: Path) -> set[str]:
    return {str(p.relative_to(out)) for p in out.rglob("*") if not p.is_dir() or p.is_symlink()}


def _clear(out: Path) -> None:
    """Remove what an earlier demo wrote in `out`, and nothing else: a folder holding anything it
    did not write (a case's evidence, a file the user put in it) is refused, not mixed with
    synthetic evidence."""
    if not out.exists() or out.is_dir() and not any(out.iterdir()):
        return
    record = out / WRITTEN
    try:
        written = set(json.loads(record.read_text(encoding="utf-8"))) if record.is_file() else set()
    except (OSError, ValueError, TypeError):
        written = set()
    present = _files(out)
    others = sorted(present - written - {WRITTEN})
    if not out.is_dir() or not written or others:
        raise OutputError(
            f"{out} holds {others[0] if others else 'files'} that no demo wrote there: give --out a"
            " new or empty folder (the demo never writes beside other evidence), or remove this one"
            " if an earlier version's demo made it")
    for name in written & present:  # the record is a file anyone may edit: '../x' is not under out
        (out / name).unlink()
    for folder in sorted((p for p in out.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()


def run_demo(out: Path, events: int = 20_000, seed: int = 7, echo: Callable[[str], None] = print,
             tz: str | None = None) -> Investigation:
    out = Path(out)
    _clear(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / WRITTEN).write_text("[]", encoding="utf-8")  # an interrupted run leaves its files unclaimed
    settings = Settings.load(display_tz=tz)  # the terminal and the report in the language setting and zone
    say = functools.partial(words, settings.language)
    echo(say("demo.generating", events=f"{events:,}", folder=f"{out}/evidence"))
    generate(out, events=events, seed=seed)
    inv = Investigation.from_evidence(out / "evidence", settings)
    audit = Audit(inv)
    echo(say("demo.evidence", summary=intake_summary(audit)))
    changes, windows = inv.sg_changes(), inv.ssh_exposure()
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "sg_changes.json").write_text(export.to_json(changes), encoding="utf-8")
    (results / "sg_changes.csv").write_text(export.to_csv(changes), encoding="utf-8")
    (results / "ssh_exposure.json").write_text(export.to_json(windows), encoding="utf-8")
    (results / "ssh_exposure.csv").write_text(export.to_csv(windows), encoding="utf-8")
    failed = inv.failed_openings()
    echo("\n" + say("demo.changes", changes=say("demo.count.changes", n=len(changes)),
                    actors=say("demo.count.actors", n=changes["actor"].nunique()),
                    failed=say("demo.count.failed", n=len(failed))))
    echo("\n" + say("demo.windows", n=len(windows), still=int(windows["still_open"].sum())) + "\n")
    shown = table_windows(windows.assign(opened_by=windows["opened_by"].map(actors.short),
                                         closed_by=windows["closed_by"].map(actors.short)))  # whole in results/
    table = export.to_table(shown, ["account", "region", "group_id", "protocol", "ports", "cidr",
                                    "opened_at", "opened_by", "closed_at", "closed_by", "still_open"],
                            export.terminal_width(), inv.settings.display_tz, WINDOW_DROP)
    echo(table.text)
    if table.dropped:
        echo(export.fill(say("demo.left_out", columns=", ".join(table.dropped)), export.terminal_width()))
    echo(say("demo.times_in", tz=inv.settings.display_tz))  # as every command's table says its zone
    found, tied = inv.findings(), inv.correlate()
    for name, frame in (("findings", found), ("correlations", tied)):
        (results / f"{name}.json").write_text(export.to_json(frame), encoding="utf-8")
        (results / f"{name}.csv").write_text(export.to_csv(frame), encoding="utf-8")
    echo("\n" + say("demo.findings", n=len(found), tied=len(tied)) + "\n")
    echo("\n".join(f"- {s}" for s in tied["summary"]))
    came_in = inv.connections()
    (results / "connections.json").write_text(export.to_json(came_in), encoding="utf-8")
    (results / "connections.csv").write_text(export.to_csv(came_in), encoding="utf-8")
    sources = came_in[came_in["kind"] == "source"]
    echo("\n" + say("demo.flows", read=inv.flow_intake.read, rejected=inv.flow_intake.rejected,
                    sources=say("demo.sources", n=len(sources)), n=int((came_in["kind"] == "gap").sum())) + "\n")
    echo("\n".join(f"- {export.visible(describe(r, settings.language, settings.display_tz))}"
                   for r in records(came_in)))
    proof = inv.validate_logs()  # the demo key and the signatures are in the evidence folder
    echo("\n" + say("demo.proof", summary=proof.summary(settings.language)))
    written = write_report(inv, out / "report")
    (out / WRITTEN).write_text(json.dumps(sorted(_files(out) - {WRITTEN})), encoding="utf-8")
    echo("\n" + say("demo.results", folder=results, truth=out / "ground_truth.json"))
    echo(say("demo.report", html=written.html, markdown=written.markdown))
    return inv
