"""`make demo`: generate the demo evidence, investigate it, print the summary, write the results."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from . import export
from .analysis import actors
from .investigation import Investigation
from .settings import Settings
from .report import write_report
from .synthetic import generate


def run_demo(out: Path, events: int = 20_000, seed: int = 7, echo: Callable[[str], None] = print) -> Investigation:
    out = Path(out)
    echo(f"Generating demo evidence ({events:,} events of noise and a scripted incident) in {out}/evidence ...")
    generate(out, events=events, seed=seed)
    # Settings.load: the report in the language setting (AUDIT_TOOLKIT_LANGUAGE)
    inv = Investigation.from_evidence(out / "evidence", Settings.load())
    echo(f"Evidence: {inv.intake.summary()}")
    changes, windows = inv.sg_changes(), inv.ssh_exposure()
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "sg_changes.json").write_text(export.to_json(changes), encoding="utf-8")
    (results / "sg_changes.csv").write_text(export.to_csv(changes), encoding="utf-8")
    (results / "ssh_exposure.json").write_text(export.to_json(windows), encoding="utf-8")
    (results / "ssh_exposure.csv").write_text(export.to_csv(windows), encoding="utf-8")
    failed = inv.failed_openings()
    echo(f"\n{export.plural(len(changes), 'security-group rule change')} by "
         f"{export.plural(changes['actor'].nunique(), 'actor')}; "
         f"{export.plural(len(failed), 'failed attempt')} to open a watched port.")
    echo(f"\n{export.plural(len(windows), 'SSH exposure window')} ({int(windows['still_open'].sum())} still open):\n")
    shown = windows.assign(opened_by=windows["opened_by"].map(actors.short),
                           closed_by=windows["closed_by"].map(actors.short))  # whole identities in results/
    echo(export.to_table(shown, ["account", "region", "group_id", "protocol", "from_port", "to_port", "cidr",
                                 "opened_at", "opened_by", "closed_at", "closed_by", "still_open"],
                         export.terminal_width(), inv.settings.display_tz).text)
    found, tied = inv.findings(), inv.correlate()
    for name, frame in (("findings", found), ("correlations", tied)):
        (results / f"{name}.json").write_text(export.to_json(frame), encoding="utf-8")
        (results / f"{name}.csv").write_text(export.to_csv(frame), encoding="utf-8")
    echo(f"\n{len(found)} GuardDuty findings; {len(tied)} attacked an exposure window while it was open:\n")
    echo("\n".join(f"- {s}" for s in tied["summary"]))
    came_in = inv.connections()
    (results / "connections.json").write_text(export.to_json(came_in), encoding="utf-8")
    (results / "connections.csv").write_text(export.to_csv(came_in), encoding="utf-8")
    sources = came_in[came_in["kind"] == "source"]
    gaps = int((came_in["kind"] == "gap").sum())
    echo(f"\nVPC flow logs: {inv.flow_intake.read} records read, {inv.flow_intake.rejected} rejected; "
         f"{len(sources)} public sources came through a window, {gaps} coverage gaps:\n")
    echo("\n".join(f"- {export.visible(d)}" for d in came_in["detail"]))
    proof = inv.validate_logs()  # the demo key and the signatures are in the evidence folder
    echo(f"\nProof of origin (CloudTrail's signed digests, demo key): {proof.summary()}")
    written = write_report(inv, out / "report")
    echo(f"\nResults written to {results}/ (JSON and CSV). Ground truth: {out}/ground_truth.json")
    echo(f"Audit report: {written.html} (open it in a browser) and {written.markdown}")
    return inv
