"""Query engines: DuckDB embedded on a laptop, Athena at scale. One contract, one SQL."""

from .base import Engine

__all__ = ["Engine"]
