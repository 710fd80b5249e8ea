"""What the notebooks need beyond the package's answers: paths that resolve the same from the
repository's root and from `notebooks/`, pandas showing whole values and every row, and the lines
they print in the language setting (Settings.language), as the report says them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .analysis import connections
from .analysis.events import records
from .evidence.digest_chain import IntegrityReport
from .phrases import words
from .settings import Settings


def project_path(path: str | Path | None, cwd: Path | None = None) -> Path | None:
    """A notebook parameter's path: absolute as given; relative to the folder that holds `notebooks/`,
    whether the notebook runs from there (papermill from the root) or from `notebooks/` (Jupyter)."""
    if path is None:
        return None
    path, cwd = Path(path), (cwd or Path.cwd())
    if path.is_absolute() or cwd.name != "notebooks" or (cwd / "notebooks").is_dir():
        return path
    return Path("..") / path  # in notebooks/: the root is one up


def show_everything() -> None:
    """Tables show every row and whole cells: an identity cut at 50 characters loses its session name."""
    pd.set_option("display.max_rows", None)
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.width", None)


def proof_lines(proof: IntegrityReport | None, settings: Settings) -> str:
    """The digest chain's verdict, each file it did not prove and each gap, with why; None (the logs
    read where they are: Athena, a store): that nothing was checked."""
    language = settings.language
    if proof is None:
        return words(language, "proof.not_here")
    lines = [proof.summary(language)]
    lines += [f"{r['status']:18} {r['kind']:6} {r['path']}: {r['reason']}"
              for r in proof.table(language) if r["status"] != "valid"]
    lines += [gap.line(language, settings.display_tz) for gap in proof.gaps]
    return "\n".join(lines)


def connection_lines(found: pd.DataFrame, settings: Settings) -> str:
    """Each row of `Investigation.connections` in a sentence, times in the display zone."""
    return "\n".join(connections.describe(r, settings.language, settings.display_tz) for r in records(found))
