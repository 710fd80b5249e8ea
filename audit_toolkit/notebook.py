"""What the notebooks need beyond the package's answers: paths that resolve the same from the
repository's root and from `notebooks/`, and pandas showing whole values and every row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


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
