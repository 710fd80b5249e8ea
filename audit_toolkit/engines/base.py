"""The whole engine contract: a name, a SQL dialect, and `run(sql, params) -> DataFrame`."""

from __future__ import annotations

from typing import Any, Mapping, Protocol, runtime_checkable

import pandas as pd


@runtime_checkable
class Engine(Protocol):
    name: str
    dialect: str  # sqlglot dialect of the SQL that `run` takes

    def run(self, sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
        """Run SQL in this engine's dialect with its parameters bound, never formatted in."""
        ...
